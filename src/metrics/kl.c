/* KL sums of classification heads from log-probabilities (metrics.h:
 * w2s_kl_block). Terms with a zero probability in the first argument of a
 * KL contribute 0 (0 log 0 = 0), so a one-hot truth (log-probabilities
 * -inf off its class) gives the cross-entropies against the label. */
#include <math.h>

#include "w2s/metrics.h"

/* sum_c a_c (la_c - lb_c) over the classes with a_c > 0. */
static double kl_row(const double *la, int64_t lda, const double *lb,
                     int64_t ldb, int64_t i, int64_t C) {
  double acc = 0.0;
  for (int64_t c = 0; c < C; ++c) {
    double a = exp(la[c * lda + i]);
    if (a > 0.0) acc += a * (la[c * lda + i] - lb[c * ldb + i]);
  }
  return acc;
}

/* sum_c (a_c - b_c)(lb_c - lc_c); a class where b and c are both -inf (a
 * one-hot truth in the role of c cannot be: c is a model there) adds 0. */
static double cross_row(const double *la, int64_t lda, const double *lb,
                        int64_t ldb, const double *lc, int64_t ldc, int64_t i,
                        int64_t C) {
  double acc = 0.0;
  for (int64_t c = 0; c < C; ++c) {
    double d = exp(la[c * lda + i]) - exp(lb[c * ldb + i]);
    if (d != 0.0) acc += d * (lb[c * ldb + i] - lc[c * ldc + i]);
  }
  return acc;
}

static int64_t argmax_row(const double *L, int64_t ld, int64_t i, int64_t C) {
  int64_t best = 0;
  for (int64_t c = 1; c < C; ++c)
    if (L[c * ld + i] > L[best * ld + i]) best = c;
  return best;
}

void w2s_metric_sums_add_kl(w2s_metric_sums *s, int64_t t,
                            const w2s_kl_block *b) {
  const int64_t m = b->m, C = b->C, J = s->J;
  s->kl = 1;
  if (m <= 0) return;
  if (t == 0) s->n += m;
  const double *Lt = b->Lt, *Ls = b->Ls;
  double ceil = 0.0, acc_s = 0.0;
  for (int64_t i = 0; i < m; ++i) {
    if (Ls) {
      ceil += b->truth_first ? kl_row(Lt, b->ldt, Ls, b->lds, i, C)
                             : kl_row(Ls, b->lds, Lt, b->ldt, i, C);
      acc_s += argmax_row(Ls, b->lds, i, C) == b->cls[i];
    }
  }
  s->ceiling[t] += ceil;
  s->acc_ceiling[t] += acc_s;
  for (int64_t j = 0; j < J; ++j) {
    const double *Lw = b->Lw + j * C * b->ldw, *Lsw = b->Lsw + j * C * b->ldsw;
    double weak = 0.0, w2s = 0.0, mis = 0.0, cr = 0.0, aw = 0.0, asw = 0.0;
    for (int64_t i = 0; i < m; ++i) {
      if (b->truth_first) {
        weak += kl_row(Lt, b->ldt, Lw, b->ldw, i, C);
        w2s += kl_row(Lt, b->ldt, Lsw, b->ldsw, i, C);
        mis += kl_row(Lsw, b->ldsw, Lw, b->ldw, i, C);
        cr += cross_row(Lt, b->ldt, Lsw, b->ldsw, Lw, b->ldw, i, C);
      } else {
        weak += kl_row(Lw, b->ldw, Lt, b->ldt, i, C);
        w2s += kl_row(Lsw, b->ldsw, Lt, b->ldt, i, C);
        mis += kl_row(Lw, b->ldw, Lsw, b->ldsw, i, C);
        cr += cross_row(Lw, b->ldw, Lsw, b->ldsw, Lt, b->ldt, i, C);
      }
      aw += argmax_row(Lw, b->ldw, i, C) == b->cls[i];
      asw += argmax_row(Lsw, b->ldsw, i, C) == b->cls[i];
    }
    int64_t k = t * J + j;
    s->weak[k] += weak;
    s->w2s[k] += w2s;
    s->misfit[k] += mis;
    s->cross[k] += cr;
    s->acc_weak[k] += aw;
    s->acc_w2s[k] += asw;
  }
}
