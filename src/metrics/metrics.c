/* Accumulation of squared distances and the derived metrics. */
#include "w2s/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *w2s_metric_name(w2s_metric m) {
  return ((int)m >= 0 && (int)m < w2s_metric_count) ? w2s_metric_table[m].name
                                                    : "?";
}

int w2s_metric_find(const char *name) {
  for (int m = 0; name && m < w2s_metric_count; ++m)
    if (strcmp(w2s_metric_table[m].name, name) == 0) return m;
  return -1;
}

/* Doubles in a sums buffer: 4 K + T distances, 2 K + T accuracies. */
static int64_t sums_length(const w2s_metric_sums *s) {
  return 6 * s->T * s->J + 2 * s->T;
}

w2s_err w2s_metric_sums_init(w2s_ctx *ctx, int64_t T, int64_t J,
                             w2s_metric_sums *s) {
  int64_t K = T * J;
  s->T = T;
  s->J = J;
  s->n = 0;
  s->kl = 0;
  W2S_CALL(W2S_ALLOC(ctx, s->buf, sums_length(s)));
  s->weak = s->buf;
  s->w2s = s->weak + K;
  s->misfit = s->w2s + K;
  s->cross = s->misfit + K;
  s->ceiling = s->cross + K;
  s->acc_weak = s->ceiling + T;
  s->acc_w2s = s->acc_weak + K;
  s->acc_ceiling = s->acc_w2s + K;
  return W2S_OK;
}

void w2s_metric_sums_free(w2s_metric_sums *s) {
  free(s->buf);
  s->buf = NULL;
}

void w2s_metric_sums_add(w2s_metric_sums *s, const w2s_pred_block *b) {
  const int64_t m = b->m;
  const double *Y = b->Y, *Fw = b->Fw, *Fsw = b->Fsw, *Fs = b->Fs;
  const int64_t ldy = b->ldy, ldw = b->ldw, ldsw = b->ldsw, lds = b->lds;
  if (m <= 0) return;
  s->n += m;
  for (int64_t t = 0; t < s->T; ++t) {
    const double *y = Y + t * ldy;
    if (Fs) {
      const double *fs = Fs + t * lds;
      double acc = 0.0;
      for (int64_t i = 0; i < m; ++i) acc += (fs[i] - y[i]) * (fs[i] - y[i]);
      s->ceiling[t] += acc;
    }
    for (int64_t j = 0; j < s->J; ++j) {
      int64_t k = t * s->J + j;
      const double *fw = Fw + k * ldw, *fsw = Fsw + k * ldsw;
      double aw = 0.0, asw = 0.0, am = 0.0, ac = 0.0;
      for (int64_t i = 0; i < m; ++i) {
        double d = fw[i] - fsw[i], e = fsw[i] - y[i], ew = fw[i] - y[i];
        aw += ew * ew;
        asw += e * e;
        am += d * d;
        ac += d * e;
      }
      s->weak[k] += aw;
      s->w2s[k] += asw;
      s->misfit[k] += am;
      s->cross[k] += ac;
    }
  }
}

void w2s_metric_sums_set_pair(w2s_metric_sums *s, int64_t k, const double *Rd,
                              const double *Re, int64_t D) {
  double aw = 0.0, asw = 0.0, am = 0.0, ac = 0.0;
  for (int64_t i = 0; i < D; ++i) {
    double ew = Rd[i] + Re[i];
    aw += ew * ew;
    asw += Re[i] * Re[i];
    am += Rd[i] * Rd[i];
    ac += Rd[i] * Re[i];
  }
  s->weak[k] = aw;
  s->w2s[k] = asw;
  s->misfit[k] = am;
  s->cross[k] = ac;
}

int w2s_metric_sums_finite(const w2s_metric_sums *s) {
  for (int64_t i = 0; i < sums_length(s); ++i)
    if (!isfinite(s->buf[i])) return 0;
  return 1;
}

w2s_err w2s_metric_sums_reduce(w2s_ctx *ctx, w2s_metric_sums *s) {
  double n = (double)s->n;
  if (ctx->comm != MPI_COMM_NULL && ctx->size > 1) {
    W2S_CALL(w2s_sum(ctx, s->buf, sums_length(s)));
    W2S_CALL(w2s_sum(ctx, &n, 1));
  }
  s->n = (int64_t)n;
  return W2S_OK;
}

void w2s_metrics_finish(const w2s_metric_sums *test,
                        const w2s_metric_sums *train, int64_t k0,
                        double *const out[W2S_M_COUNT]) {
  int64_t K = test->T * test->J;
  double nt = (double)test->n, nr = (double)train->n;
  for (int64_t k = 0; k < K; ++k) {
    int64_t t = k / test->J;
    double weak = test->weak[k] / nt, w2s = test->w2s[k] / nt;
    double misfit = test->misfit[k] / nt;
    double cw = test->kl ? 1.0 : 2.0; /* gain = misfit + cw cross */
    double gain = (test->misfit[k] + cw * test->cross[k]) / nt;
    double ceil = test->ceiling[t] / nt;
    double *o[W2S_M_COUNT], skip = 0.0;
    for (int m = 0; m < W2S_M_COUNT; ++m)
      o[m] = out[m] ? out[m] + k0 + k : &skip;
    *o[W2S_M_WEAK_ERROR] = weak;
    *o[W2S_M_W2S_ERROR] = w2s;
    *o[W2S_M_MISFIT] = misfit;
    *o[W2S_M_GAIN] = gain;
    *o[W2S_M_CEILING] = ceil;
    *o[W2S_M_PGR] = weak > ceil ? gain / (weak - ceil) : NAN;
    *o[W2S_M_PREDICTED] = weak - misfit;
    *o[W2S_M_WEAK_ERROR_TRAIN] = train->weak[k] / nr;
    *o[W2S_M_W2S_ERROR_TRAIN] = train->w2s[k] / nr;
    *o[W2S_M_MISFIT_TRAIN] = train->misfit[k] / nr;
    *o[W2S_M_GAIN_TRAIN] = (train->misfit[k] + cw * train->cross[k]) / nr;
    *o[W2S_M_CEILING_TRAIN] = train->ceiling[t] / nr;
    double aw = test->acc_weak[k] / nt, asw = test->acc_w2s[k] / nt;
    double as = test->acc_ceiling[t] / nt;
    *o[W2S_M_WEAK_ACC] = aw;
    *o[W2S_M_W2S_ACC] = asw;
    *o[W2S_M_CEILING_ACC] = as;
    *o[W2S_M_PGR_ACC] = as > aw ? (asw - aw) / (as - aw) : NAN;
  }
}
