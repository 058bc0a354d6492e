/* The results writer's concatenation of points: one record of every
 * point's pairs, which /metrics then holds. Local. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/results_write.h"

void w2s_concat_free(w2s_concat *c) {
  w2s_results_destroy(&c->merged);
  free(c->sweep_index);
  free(c->source);
  c->sweep_index = NULL;
  c->source = NULL;
}

/* An empty record for K pairs of at most J weak models, with the metrics
 * every point holds (a metric absent from one point is absent here). */
static w2s_err alloc_merged(w2s_ctx *ctx, w2s_results *const *pts, int64_t npts,
                            int64_t K, int64_t J, w2s_results **out) {
  w2s_results *m = NULL;
  W2S_CALL(w2s_results_alloc(ctx, 0, 0, &m));
  *out = m;
  for (int q = 0; q < W2S_M_MAX; ++q) free(m->metric[q]), m->metric[q] = NULL;
  free(m->pair_task), free(m->pair_weak), free(m->weak_names);
  free(m->coef_weak), free(m->weak_p); /* the merged record has none */
  m->pair_task = NULL, m->pair_weak = NULL, m->weak_names = NULL;
  m->coef_weak = NULL, m->weak_p = NULL;
  for (int q = 0; q < w2s_metric_count; ++q) {
    int all = 1;
    for (int64_t p = 0; p < npts; ++p)
      all = all && w2s_results_has_metric(pts[p], q);
    if (all) W2S_CALL(W2S_ALLOC(ctx, m->metric[q], K));
  }
  W2S_CALL(W2S_ALLOC(ctx, m->pair_task, K));
  W2S_CALL(W2S_ALLOC(ctx, m->pair_weak, K));
  return W2S_ALLOC(ctx, m->weak_names, J);
}

w2s_err w2s_results_concat(w2s_ctx *ctx, w2s_results *const *pts, int64_t npts,
                           const w2s_sweep_desc *sw, w2s_concat *c) {
  int64_t K = 0, J = 0;
  for (int64_t p = 0; p < npts; ++p) K += pts[p]->npairs, J += pts[p]->nweak;
  W2S_CALL(alloc_merged(ctx, pts, npts, K, J, &c->merged));
  W2S_CALL(W2S_ALLOC(ctx, c->sweep_index, K));
  W2S_CALL(W2S_ALLOC(ctx, c->source, K));
  w2s_results *m = c->merged;
  int64_t k = 0, nw = 0;
  for (int64_t p = 0; p < npts; ++p) {
    const w2s_results *r = pts[p];
    for (int64_t i = 0; i < r->npairs; ++i, ++k) {
      const char *wn = r->weak_names[r->pair_weak[i]];
      int64_t j = 0;
      while (j < nw && strcmp(m->weak_names[j], wn) != 0) ++j;
      if (j == nw) snprintf(m->weak_names[nw++], W2S_NAME_LEN, "%s", wn);
      m->pair_weak[k] = j;
      m->pair_task[k] = r->pair_task[i];
      c->sweep_index[k] = r->pair_sweep           ? r->pair_sweep[i]
                          : (sw && sw->point_ids) ? sw->point_ids[p]
                                                  : p;
      c->source[k] = p;
      for (int q = 0; q < w2s_metric_count; ++q)
        if (m->metric[q]) m->metric[q][k] = r->metric[q][i];
    }
  }
  m->npairs = K;
  m->nweak = nw;
  m->seed = pts[0]->seed;
  m->mpi_ranks = pts[0]->mpi_ranks;
  snprintf(m->solver, sizeof m->solver, "%s", pts[0]->solver);
  /* Points of a sweep may differ in loss or orientation (a swept
   * fit.student): the merged file then says "mixed". */
  snprintf(m->loss, sizeof m->loss, "%s", pts[0]->loss);
  snprintf(m->orientation, sizeof m->orientation, "%s", pts[0]->orientation);
  m->classes = pts[0]->classes;
  for (int64_t p = 1; p < npts; ++p) {
    if (strcmp(pts[p]->loss, m->loss) != 0)
      snprintf(m->loss, sizeof m->loss, "mixed");
    if (strcmp(pts[p]->orientation, m->orientation) != 0)
      snprintf(m->orientation, sizeof m->orientation, "mixed");
    if (pts[p]->classes != m->classes) m->classes = 0;
  }
  memcpy(m->blas, pts[0]->blas, sizeof m->blas);
  return W2S_OK;
}
