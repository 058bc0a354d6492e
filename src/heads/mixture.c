/* The mixture student (heads.h): weights alpha on the simplex of k fixed
 * component distributions q_j, minimising the mean reverse KL
 *     f(alpha) = (1/n) sum_i KL(p_i || y_i),   p_i = sum_j alpha_j q_ij,
 * a convex problem (KL is jointly convex and p is linear in alpha):
 *     grad_j   = (1/n) sum_i sum_c q_ijc (log p_ic - log y_ic) + 1
 *     Hess_jl  = (1/n) sum_i sum_c q_ijc q_ilc / p_ic.
 * An active-set Newton method: Newton steps on the face of the simplex
 * spanned by the support (the equality sum d = 0 by a bordered system),
 * shortened to stay feasible (a weight reaching 0 leaves the support) and
 * by an Armijo search; the component of smallest gradient enters when it
 * is below the support's. Convergence: the Frank-Wolfe gap
 *     gap = sum_j alpha_j grad_j - min_j grad_j >= f(alpha) - min f
 * at most tol. One pass over the rows and one reduction per trial point. */
#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/heads.h"

void w2s_mixture_logprob(int64_t m, int64_t C, int64_t k, const double *Q,
                         int64_t ldq, const double *alpha, double *L,
                         int64_t ldl) {
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < m; ++i) {
      double p = 0.0;
      for (int64_t j = 0; j < k; ++j) p += alpha[j] * Q[(j * C + c) * ldq + i];
      /* p = 0 (every component's probability underflowed) is log 0 =
       * -inf, which the KL sums read as a zero probability. */
      // cppcheck-suppress invalidFunctionArg
      L[c * ldl + i] = log(p);
    }
}

/* Local: f, g (k) and H (k x k) sums over this rank's rows at alpha into
 * acc = [f, g, H], summed per block of rows first (the sums' rounding then
 * grows with the number of blocks, not of rows). g omits the gradient's
 * "+ 1", which adds the same sum_c q_ijc = 1 to every component and so
 * changes neither the steps nor the gap. tmp: 1 + k + k^2 doubles. */
static void accumulate(const w2s_mixture_data *d, const double *alpha,
                       double *acc, double *tmp) {
  enum { BLOCK = 1024 };
  int64_t k = d->k, C = d->C, len = 1 + k + k * k;
  memset(acc, 0, sizeof(double) * (size_t)len);
  for (int64_t i0 = 0; i0 < d->m; i0 += BLOCK) {
    int64_t i1 = d->m - i0 < BLOCK ? d->m : i0 + BLOCK;
    double *g = tmp + 1, *H = tmp + 1 + k;
    memset(tmp, 0, sizeof(double) * (size_t)len);
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t c = 0; c < C; ++c) {
        double p = 0.0;
        for (int64_t j = 0; j < k; ++j)
          p += alpha[j] * d->Q[(j * C + c) * d->ldq + i];
        if (!(p > 0.0)) continue; /* 0 log 0 = 0 and no curvature */
        double a = log(p) - log(d->Y[c * d->ldy + i]);
        tmp[0] += p * a;
        for (int64_t j = 0; j < k; ++j) {
          double qj = d->Q[(j * C + c) * d->ldq + i];
          g[j] += qj * a;
          for (int64_t l = j; l < k; ++l)
            H[l * k + j] += qj * d->Q[(l * C + c) * d->ldq + i] / p;
        }
      }
    for (int64_t x = 0; x < len; ++x) acc[x] += tmp[x];
  }
}

static w2s_err evaluate(w2s_ctx *ctx, const w2s_mixture_data *d,
                        const double *alpha, double *acc, double *tmp) {
  int64_t k = d->k, len = 1 + k + k * k;
  accumulate(d, alpha, acc, tmp);
  if (ctx->comm != MPI_COMM_NULL && ctx->size > 1)
    W2S_CALL(w2s_sum_bcast(ctx, acc, len));
  for (int64_t i = 0; i < len; ++i) acc[i] /= (double)d->n;
  double *H = acc + 1 + k;
  for (int64_t j = 0; j < k; ++j)
    for (int64_t l = j + 1; l < k; ++l) H[j * k + l] = H[l * k + j];
  return W2S_OK;
}

/* The Frank-Wolfe gap and the component of smallest gradient. */
static double fw_gap(int64_t k, const double *alpha, const double *g,
                     int64_t *jmin) {
  double lam = 0.0;
  *jmin = 0;
  for (int64_t j = 0; j < k; ++j) {
    lam += alpha[j] * g[j];
    if (g[j] < g[*jmin]) *jmin = j;
  }
  return lam - g[*jmin];
}

/* Local: the Newton direction on the support S (in[j] = 1): minimise
 * g.d + d^T H d / 2 subject to sum d = 0, d = 0 off S, from the bordered
 * system; a singular block gets a relative 1e-12 diagonal shift. work:
 * (k + 1)^2 + (k + 1) doubles and k + 1 ints. */
static void direction(int64_t k, const double *g, const double *H,
                      const char *in, double *dir, double *work, int *piv) {
  int64_t s = 0, idx[64];
  for (int64_t j = 0; j < k; ++j)
    if (in[j]) idx[s++] = j;
  int64_t n = s + 1;
  double *A = work, *b = work + n * n, tr = 0.0;
  for (int64_t a = 0; a < s; ++a) tr += H[idx[a] * k + idx[a]];
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (int64_t a = 0; a < s; ++a) {
      for (int64_t c = 0; c < s; ++c) A[c * n + a] = H[idx[c] * k + idx[a]];
      if (attempt) A[a * n + a] += 1e-12 * tr / (double)s;
      A[s * n + a] = A[a * n + s] = 1.0;
      b[a] = -g[idx[a]];
    }
    A[s * n + s] = 0.0;
    b[s] = 0.0;
    if (LAPACKE_dgesv(LAPACK_COL_MAJOR, (int)n, 1, A, (int)n, piv, b, (int)n) ==
        0)
      break;
  }
  for (int64_t j = 0; j < k; ++j) dir[j] = 0.0;
  for (int64_t a = 0; a < s; ++a) dir[idx[a]] = b[a];
}

w2s_err w2s_mixture_fit(w2s_ctx *ctx, const w2s_mixture_data *d,
                        const w2s_mixture_opts *o, double *alpha,
                        w2s_mixture_info *info) {
  int64_t k = d->k, len = 1 + k + k * k;
  const char *label = o->label ? o->label : "mixture student";
  if (k < 1 || k > 64)
    return W2S_FAIL(ctx, W2S_ERR_USAGE, "%s: %lld components (1 to 64)", label,
                    (long long)k);
  double *acc = NULL, *trial = NULL, *work = NULL, *dir = NULL, *at = NULL;
  double *tmp = NULL;
  int *piv = NULL;
  char in[64];
  w2s_err e = W2S_ALLOC(ctx, acc, len);
  if (!e) e = W2S_ALLOC(ctx, trial, len);
  if (!e) e = W2S_ALLOC(ctx, tmp, len);
  if (!e) e = W2S_ALLOC(ctx, work, (k + 1) * (k + 1) + k + 1);
  if (!e) e = W2S_ALLOC(ctx, dir, k);
  if (!e) e = W2S_ALLOC(ctx, at, k);
  if (!e) e = W2S_ALLOC(ctx, piv, k + 1);
  e = w2s_agree(ctx, e);
  w2s_mixture_info inf = {0, 0, 0.0, 0.0, k};
  for (int64_t j = 0; j < k; ++j) alpha[j] = 1.0 / (double)k, in[j] = 1;
  if (!e) e = w2s_agree(ctx, evaluate(ctx, d, alpha, acc, tmp));
  inf.passes = 1;
  while (!e) {
    const double *g = acc + 1, *H = acc + 1 + k;
    int64_t jmin;
    double gap = fw_gap(k, alpha, g, &jmin);
    inf.objective = acc[0];
    inf.gap = gap;
    if (!isfinite(acc[0]) || !isfinite(gap)) {
      e = W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                   "%s: the objective is not finite (a target probability "
                   "is 0 where the mixture's is not)",
                   label);
      break;
    }
    if (gap <= o->tol) break;
    if (inf.iterations >= o->max_iter) {
      e = W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                   "%s: did not converge in %d iterations (Frank-Wolfe gap "
                   "%.2e > %.0e)",
                   label, o->max_iter, gap, o->tol);
      break;
    }
    /* Support: the weights > 0 and the most promising other component. */
    double lam = 0.0;
    for (int64_t j = 0; j < k; ++j) lam += alpha[j] * g[j];
    for (int64_t j = 0; j < k; ++j) in[j] = alpha[j] > 0.0;
    if (!in[jmin] && g[jmin] < lam) in[jmin] = 1;
    direction(k, g, H, in, dir, work, piv);
    double tmax = 1.0, slope = cblas_ddot((int)k, g, 1, dir, 1);
    int64_t block = -1;
    for (int64_t j = 0; j < k; ++j)
      if (dir[j] < 0.0 && alpha[j] / -dir[j] < tmax)
        tmax = alpha[j] / -dir[j], block = j;
    /* No descent on the face, or no room to move: towards the vertex of the
     * smallest gradient (a descent direction whenever gap > 0). */
    if (!(slope < 0.0) || tmax <= 0.0) {
      for (int64_t j = 0; j < k; ++j) dir[j] = (j == jmin) - alpha[j];
      slope = cblas_ddot((int)k, g, 1, dir, 1);
      tmax = 1.0, block = -1;
    }
    double t = tmax;
    for (int h = 0;; ++h) {
      for (int64_t j = 0; j < k; ++j) at[j] = alpha[j] + t * dir[j];
      if (t == tmax && block >= 0) at[block] = 0.0;
      for (int64_t j = 0; j < k; ++j)
        if (at[j] < 0.0) at[j] = 0.0;
      e = w2s_agree(ctx, evaluate(ctx, d, at, trial, tmp));
      inf.passes++;
      if (e) break;
      double ft = trial[0];
      int tiny = -slope * t <= 64.0 * DBL_EPSILON * fabs(acc[0]) &&
                 ft <= acc[0] + 64.0 * DBL_EPSILON * fabs(acc[0]);
      if (isfinite(ft) && (ft <= acc[0] + 1e-4 * t * slope || tiny)) break;
      if (h == 60) {
        e = W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                     "%s: the line search found no decrease (Frank-Wolfe "
                     "gap %.2e)",
                     label, gap);
        break;
      }
      t *= 0.5;
    }
    if (e) break;
    memcpy(alpha, at, sizeof(double) * (size_t)k);
    memcpy(acc, trial, sizeof(double) * (size_t)len);
    inf.iterations++;
  }
  inf.support = 0;
  for (int64_t j = 0; j < k; ++j) inf.support += alpha[j] > 0.0;
  if (info) *info = inf;
  free(acc), free(trial), free(tmp), free(work), free(dir), free(at);
  free(piv);
  return e;
}
