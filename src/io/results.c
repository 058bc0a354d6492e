/* The in-memory results record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/io.h"

const char *const w2s_results_blas_attr[5] = {
    "blas", "blas_library", "blas_version", "blas_kernel", "blas_config"};

w2s_err w2s_results_alloc(w2s_ctx *ctx, int64_t ntasks, int64_t nweak,
                          w2s_results **out) {
  w2s_results *r = NULL;
  W2S_CALL(W2S_ALLOC(ctx, r, 1));
  r->ntasks = ntasks;
  r->nweak = nweak;
  r->npairs = ntasks * nweak;
  w2s_err e = W2S_OK;
  if ((e = W2S_ALLOC(ctx, r->weak_names, nweak)) ||
      (e = W2S_ALLOC(ctx, r->pair_task, r->npairs)) ||
      (e = W2S_ALLOC(ctx, r->pair_weak, r->npairs)) ||
      (e = W2S_ALLOC(ctx, r->weak_p, nweak)) ||
      (e = W2S_ALLOC(ctx, r->coef_weak, nweak)))
    goto fail;
  for (int m = 0; m < W2S_M_COUNT; ++m)
    if ((e = W2S_ALLOC(ctx, r->metric[m], r->npairs))) goto fail;
  for (int64_t k = 0; k < r->npairs; ++k) {
    r->pair_task[k] = k / (nweak > 0 ? nweak : 1);
    r->pair_weak[k] = k % (nweak > 0 ? nweak : 1);
  }
  *out = r;
  return W2S_OK;
fail:
  w2s_results_destroy(&r);
  return e;
}

void w2s_results_destroy(w2s_results **res) {
  if (!res || !*res) return;
  w2s_results *r = *res;
  for (int m = 0; m < W2S_M_COUNT; ++m) free(r->metric[m]);
  if (r->coef_weak)
    for (int64_t j = 0; j < r->nweak; ++j) free(r->coef_weak[j]);
  free(r->coef_weak);
  free(r->weak_p);
  free(r->weak_names);
  free(r->pair_task);
  free(r->pair_weak);
  free(r->coef_ceiling);
  free(r->coef_w2s);
  free(r->repr);
  for (int c = 0; c < r->ncurves; ++c) free(r->curve[c]);
  free(r->curve);
  free(r->curve_name);
  free(r->curve_len);
  free(r->pair_sweep);
  free(r->sweep_keys);
  free(r->sweep_values);
  free(r->config_text);
  free(r->identity_config);
  free(r->command_line);
  free(r);
  *res = NULL;
}

w2s_err w2s_results_add_curve(w2s_ctx *ctx, w2s_results *res, const char *name,
                              const double *values, int64_t n) {
  int c = res->ncurves;
  void *a = realloc(res->curve, sizeof *res->curve * (size_t)(c + 1));
  if (a) res->curve = a;
  void *b = realloc(res->curve_name, sizeof *res->curve_name * (size_t)(c + 1));
  if (b) res->curve_name = b;
  void *d = realloc(res->curve_len, sizeof *res->curve_len * (size_t)(c + 1));
  if (d) res->curve_len = d;
  if (!a || !b || !d)
    return W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory (curves)");
  res->curve[c] = NULL;
  W2S_CALL(W2S_ALLOC(ctx, res->curve[c], n));
  memcpy(res->curve[c], values, sizeof(double) * (size_t)n);
  snprintf(res->curve_name[c], sizeof res->curve_name[c], "%s", name);
  res->curve_len[c] = n;
  res->ncurves = c + 1;
  return W2S_OK;
}
