/* The in-memory results record: construction, destruction, setters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/results.h"

static int is_class_metric(int m) {
  return strcmp(w2s_metric_table[m].family, W2S_FAMILY_CLS) == 0;
}

w2s_err w2s_results_alloc(w2s_ctx *ctx, int64_t ntasks, int64_t nweak,
                          w2s_results **out) {
  *out = NULL;
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
  /* The classification metrics come with w2s_results_set_loss. */
  for (int m = 0; m < w2s_metric_count; ++m)
    if (!is_class_metric(m) && (e = W2S_ALLOC(ctx, r->metric[m], r->npairs)))
      goto fail;
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
  for (int m = 0; m < W2S_M_MAX; ++m) free(r->metric[m]);
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
  free(r->timer_name);
  free(r->timing);
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

w2s_err w2s_results_set_loss(w2s_ctx *ctx, w2s_results *r, const char *loss,
                             const char *orientation, int64_t classes) {
  snprintf(r->loss, sizeof r->loss, "%s", loss);
  snprintf(r->orientation, sizeof r->orientation, "%s", orientation);
  r->classes = classes;
  int cls = strcmp(loss, "kl") == 0;
  for (int m = 0; m < w2s_metric_count; ++m) {
    if (!is_class_metric(m)) continue;
    free(r->metric[m]);
    r->metric[m] = NULL;
    if (cls) W2S_CALL(W2S_ALLOC(ctx, r->metric[m], r->npairs));
  }
  return W2S_OK;
}

int w2s_results_has_metric(const w2s_results *r, int m) {
  return r && m >= 0 && m < w2s_metric_count && r->metric[m] != NULL;
}

w2s_err w2s_results_set_timing(w2s_ctx *ctx, w2s_results *r, int n,
                               const char *const *names, const double *secs) {
  if (n < 0) return W2S_FAIL(ctx, W2S_ERR_USAGE, "timers: count %d < 0", n);
  for (int t = 0; t < n; ++t)
    if (!names[t] || strlen(names[t]) >= W2S_TIMER_NAME_LEN)
      return W2S_FAIL(ctx, W2S_ERR_USAGE,
                      "timer name '%s' is empty or over %d characters",
                      names[t] ? names[t] : "", W2S_TIMER_NAME_LEN - 1);
  char(*nm)[W2S_TIMER_NAME_LEN] = NULL;
  double *s = NULL;
  W2S_CALL(W2S_ALLOC(ctx, nm, n > 0 ? n : 1));
  w2s_err e = W2S_ALLOC(ctx, s, n > 0 ? n : 1);
  if (e) {
    free(nm);
    return e;
  }
  for (int t = 0; t < n; ++t) {
    snprintf(nm[t], sizeof nm[t], "%s", names[t]);
    s[t] = secs[t];
  }
  free(r->timer_name);
  free(r->timing);
  r->timer_name = nm;
  r->timing = s;
  r->ntimers = n;
  return W2S_OK;
}

double w2s_results_timing(const w2s_results *r, const char *name) {
  for (int t = 0; t < r->ntimers; ++t)
    if (strcmp(r->timer_name[t], name) == 0) return r->timing[t];
  return 0.0;
}

/* A malloc'ed copy of s ("" for NULL) into *out. */
static w2s_err dup_string(w2s_ctx *ctx, const char *s, char **out) {
  size_t len = strlen(s ? s : "") + 1;
  W2S_CALL(W2S_ALLOC(ctx, *out, len));
  memcpy(*out, s ? s : "", len);
  return W2S_OK;
}

w2s_err w2s_results_set_provenance(w2s_ctx *ctx, w2s_results *r,
                                   const w2s_provenance *p) {
  const char *solver = p->solver ? p->solver : "";
  const char *input = p->input_file ? p->input_file : "";
  if (strlen(solver) >= sizeof r->solver)
    return W2S_FAIL(ctx, W2S_ERR_USAGE, "solver name '%s' is too long", solver);
  if (strlen(input) >= sizeof r->input_file)
    return W2S_FAIL(ctx, W2S_ERR_USAGE, "input file name '%s' is too long",
                    input);
  char *config = NULL, *command = NULL;
  W2S_CALL(dup_string(ctx, p->config_text, &config));
  w2s_err e = dup_string(ctx, p->command_line, &command);
  if (e) {
    free(config);
    return e;
  }
  free(r->config_text);
  free(r->command_line);
  r->config_text = config;
  r->command_line = command;
  r->seed = p->seed;
  r->mpi_ranks = p->mpi_ranks;
  snprintf(r->solver, sizeof r->solver, "%s", solver);
  snprintf(r->input_file, sizeof r->input_file, "%s", input);
  r->labels_checksum = p->labels_checksum;
  return W2S_OK;
}

w2s_err w2s_results_alloc_repr(w2s_ctx *ctx, w2s_results *r, int n) {
  w2s_repr_record *rec = NULL;
  W2S_CALL(W2S_ALLOC(ctx, rec, n > 0 ? n : 1));
  free(r->repr);
  r->repr = rec;
  r->nrepr = n;
  return W2S_OK;
}

w2s_err w2s_results_add_curve(w2s_ctx *ctx, w2s_results *r, const char *name,
                              const double *values, int64_t n) {
  int c = r->ncurves;
  void *a = realloc(r->curve, sizeof *r->curve * (size_t)(c + 1));
  if (a) r->curve = a;
  void *b = realloc(r->curve_name, sizeof *r->curve_name * (size_t)(c + 1));
  if (b) r->curve_name = b;
  void *d = realloc(r->curve_len, sizeof *r->curve_len * (size_t)(c + 1));
  if (d) r->curve_len = d;
  if (!a || !b || !d)
    return W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory (curves)");
  r->curve[c] = NULL;
  W2S_CALL(W2S_ALLOC(ctx, r->curve[c], n));
  memcpy(r->curve[c], values, sizeof(double) * (size_t)n);
  snprintf(r->curve_name[c], sizeof r->curve_name[c], "%s", name);
  r->curve_len[c] = n;
  r->ncurves = c + 1;
  return W2S_OK;
}
