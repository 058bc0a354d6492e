/* Multinomial logistic regression by a distributed Newton method (heads.h).
 *
 * Every pass evaluates, at each running head's trial point, the objective,
 * the gradient G = (1/n) H^T (s P - Y) (classes 1..C-1; s = the row's target
 * mass) and the Hessian, whose block (c, d) is
 *     (1/n) H^T diag(s p_c (delta_cd - p_d)) H:
 * the block-diagonal part from one DGEMM of sqrt(s) H against
 * M = [sqrt(s) H p_1, ..., sqrt(s) H p_{C-1}] (row-scaled copies) and the
 * rest, -M^T M, from one DSYRK: two large BLAS calls per block of rows
 * rather than one small one per pair of classes. A trial point the line search
 * accepts is the next iterate, with its gradient and Hessian already in hand:
 * one pass per Newton step unless the step is shortened. */
#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/heads.h"

/* Rows per block of a pass: 4096, fewer when a head has so many parameters
 * that the M block (rows x q) would pass 16 MiB. */
enum { ROWS_MAX = 4096, ROWS_MIN = 64 };
static int64_t block_rows(int64_t q) {
  int64_t r = ((int64_t)1 << 21) / (q > 0 ? q : 1);
  return r > ROWS_MAX ? ROWS_MAX : r < ROWS_MIN ? ROWS_MIN : r;
}
enum { MAX_HALVINGS = 60 }; /* line-search step halvings before giving up */
static const double armijo = 1e-4;
static const double lag_ratio = 0.1;

void w2s_softmax_logprob(int64_t m, int64_t p, int64_t C, const double *H,
                         int64_t ldh, const double *W, int64_t k, double *L,
                         int64_t ldl) {
  if (m <= 0) return;
  for (int64_t j = 0; j < k; ++j) {
    double *Lj = L + j * C * ldl;
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)(C - 1),
                (int)p, 1.0, H, (int)ldh, W + j * p * (C - 1), (int)p, 0.0,
                Lj + ldl, (int)ldl);
    for (int64_t i = 0; i < m; ++i) {
      double mx = 0.0, s = 0.0;
      for (int64_t c = 1; c < C; ++c)
        if (Lj[c * ldl + i] > mx) mx = Lj[c * ldl + i];
      s = exp(-mx);
      for (int64_t c = 1; c < C; ++c) s += exp(Lj[c * ldl + i] - mx);
      double lse = mx + log(s);
      Lj[i] = -lse;
      for (int64_t c = 1; c < C; ++c) Lj[c * ldl + i] -= lse;
    }
  }
}

int64_t w2s_softmax_argmax(const double *L, int64_t ldl, int64_t i, int64_t C) {
  int64_t best = 0;
  for (int64_t c = 1; c < C; ++c)
    if (L[c * ldl + i] > L[best * ldl + i]) best = c;
  return best;
}

/* The Hessian is a mean over rows; from W2S_HESSIAN_ROWS rows on it is
 * estimated from every hstride-th row of the global order (at least that
 * many rows; the same rows on any number of ranks). The gradient always
 * takes every row, so the fit converges to the same optimum: the steps are
 * then those of an inexact Newton method, converging linearly at a rate of
 * about the estimate's relative error, sqrt(q / rows) (docs/DESIGN.md). */
enum { W2S_HESSIAN_ROWS = 1 << 16 };
static int64_t hessian_stride(int64_t n) {
  int64_t st = n / W2S_HESSIAN_ROWS;
  return st < 1 ? 1 : st;
}

/* One head's state between passes. */
typedef struct {
  double *W, *Wt, *dir; /* iterate, trial point, Newton direction: q each */
  double *Hl;           /* the latest Hessian (q x q) */
  double f, gdir, t;    /* objective at W, grad . dir, step length */
  double g0, gprev;     /* ||grad L(0)||, ||grad L(W)|| */
  int have, done, halvings;
  int hess;  /* the next pass evaluates the Hessian at the trial point */
  int stall; /* consecutive steps that cut the gradient by under 10% */
} head;

typedef struct {
  const w2s_softmax_data *d;
  const w2s_softmax_opts *o;
  int64_t q, stride; /* parameters per head; per-head accumulator doubles */
  int64_t rows;      /* rows per block */
  int64_t hstride;   /* the Hessian's rows: global index % hstride == 0 */
  int64_t *idx;      /* a block's Hessian rows */
  double *Z, *R, *S; /* block scratch: rows x C, rows x (C-1), rows x p */
  double *P;         /* rows x C: the probabilities of Z's log p */
  double *M, *D;     /* rows x q, p x q */
} fitter;

/* Local: log p into Z and p into P (b x C, ld rows) for b rows of H at
 * head w: one DGEMM for the logits, then per row C exponentials and one
 * logarithm. */
static void logits_probs(const fitter *F, int64_t b, const double *H,
                         int64_t ldh, const double *w) {
  const int64_t C = F->d->C, p = F->d->p, rows = F->rows;
  double *Z = F->Z, *P = F->P;
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)b, (int)(C - 1),
              (int)p, 1.0, H, (int)ldh, w, (int)p, 0.0, Z + rows, (int)rows);
  for (int64_t i = 0; i < b; ++i) Z[i] = 0.0;
  for (int64_t i = 0; i < b; ++i) {
    double mx = 0.0, sum = 0.0;
    for (int64_t c = 1; c < C; ++c)
      if (Z[c * rows + i] > mx) mx = Z[c * rows + i];
    for (int64_t c = 0; c < C; ++c) {
      double e = exp(Z[c * rows + i] - mx);
      P[c * rows + i] = e;
      sum += e;
    }
    /* sum >= 1: the largest logit's term is exp(0). */
    // cppcheck-suppress invalidFunctionArg
    double inv = 1.0 / sum, ls = mx + log(sum);
    for (int64_t c = 0; c < C; ++c) {
      P[c * rows + i] *= inv;
      Z[c * rows + i] -= ls;
    }
  }
}

/* Local: the forward fit's rows, Z holding log p (b x C, ld rows): returns
 * sum_i CE(y_i, p_i) = -sum y log p; leaves the residuals s p_c - y_c
 * (classes 1..C-1, s = the row's target mass) in R, p_c in Z's columns
 * 1..C-1 and s in its column 0 (the Hessian's row weight). */
static double rows_forward(const fitter *F, int64_t b, const double *Y,
                           int64_t ldy) {
  const int64_t C = F->d->C, rows = F->rows;
  double f = 0.0;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < b; ++i) {
      double y = Y[c * ldy + i];
      if (y != 0.0) f -= y * F->Z[c * rows + i];
    }
  for (int64_t i = 0; i < b; ++i) {
    double s = 0.0;
    for (int64_t c = 0; c < C; ++c) s += Y[c * ldy + i];
    F->Z[i] = s; /* the row's mass replaces log p_0, unused below */
  }
  for (int64_t c = 1; c < C; ++c)
    for (int64_t i = 0; i < b; ++i) {
      double pc = F->P[c * rows + i];
      F->Z[c * rows + i] = pc;
      F->R[(c - 1) * rows + i] = F->Z[i] * pc - Y[c * ldy + i];
    }
  return f;
}

/* Local: the reverse fit's rows (objective KL(p || y), y the target
 * probabilities): returns sum_i KL(p_i || y_i); its gradient in the logit
 * z_c is p_c (log p_c - log y_c - KL_i), left in R; p_c in Z, row weight 1
 * (the Gauss-Newton matrix of KL(p || y) in z is diag(p) - p p^T, the
 * forward fit's Hessian). */
static double rows_reverse(const fitter *F, int64_t b, const double *Y,
                           int64_t ldy) {
  const int64_t C = F->d->C, rows = F->rows;
  double f = 0.0;
  for (int64_t i = 0; i < b; ++i) {
    double kl = 0.0;
    for (int64_t c = 0; c < C; ++c) {
      double lp = F->Z[c * rows + i], pc = F->P[c * rows + i];
      if (pc > 0.0) kl += pc * (lp - log(Y[c * ldy + i]));
    }
    f += kl;
    for (int64_t c = 1; c < C; ++c) {
      double lp = F->Z[c * rows + i], pc = F->P[c * rows + i];
      F->R[(c - 1) * rows + i] = pc > 0.0 ? pc * (lp - log(Y[c * ldy + i]) - kl)
                                          : 0.0;
      F->Z[c * rows + i] = pc;
    }
    F->Z[i] = 1.0;
  }
  return f;
}

/* Local: head k's objective sum, gradient and Hessian (accumulator acc:
 * [f, G (q), Hess (q x q, upper blocks)]) at point w over this rank's rows. */
static void accumulate(const fitter *F, int64_t k, const double *w, double *acc,
                       int hess, int at_zero) {
  const w2s_softmax_data *d = F->d;
  int64_t p = d->p, C = d->C, q = F->q;
  const int64_t rows = F->rows;
  double *G = acc + 1, *Hs = acc + 1 + q;
  for (int64_t i0 = 0; i0 < d->m; i0 += rows) {
    int64_t b = d->m - i0 < rows ? d->m - i0 : rows;
    const double *H = d->H + i0;
    const double *Y = d->Y + k * C * d->ldy + i0;
    if (at_zero) /* the features' mean square, the gradient floor's scale */
      for (int64_t j = 0; j < p; ++j)
        for (int64_t i = 0; i < b; ++i)
          acc[F->stride - 1] += H[j * d->ldh + i] * H[j * d->ldh + i];
    logits_probs(F, b, H, d->ldh, w);
    acc[0] += F->o->reverse ? rows_reverse(F, b, Y, d->ldy)
                            : rows_forward(F, b, Y, d->ldy);
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)p, (int)(C - 1),
                (int)b, 1.0, H, (int)d->ldh, F->R, rows, 1.0, G, (int)p);
    if (!hess) continue;
    /* Hess += H^T diag(s p_c) H on the diagonal blocks, -= M^T M with
     * M = [sqrt(s) H p_1, ..., sqrt(s) H p_{C-1}] (row-scaled copies), over
     * the block's Hessian rows (global index a multiple of hstride). */
    int64_t nh = 0,
            first = (F->hstride - (d->row0 + i0) % F->hstride) % F->hstride;
    for (int64_t i = first; i < b; i += F->hstride) F->idx[nh++] = i;
    for (int64_t r = 0; r < nh; ++r) F->R[r] = sqrt(F->Z[F->idx[r]]);
    for (int64_t j = 0; j < p; ++j)
      for (int64_t r = 0; r < nh; ++r)
        F->S[j * rows + r] = F->R[r] * H[j * d->ldh + F->idx[r]];
    for (int64_t c = 1; c < C; ++c)
      for (int64_t j = 0; j < p; ++j) {
        const double *pc = F->Z + c * rows, *sj = F->S + j * rows;
        double *mj = F->M + ((c - 1) * p + j) * rows;
        for (int64_t r = 0; r < nh; ++r) mj[r] = sj[r] * pc[F->idx[r]];
      }
    if (nh == 0) continue;
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)p, (int)q,
                (int)nh, 1.0, F->S, rows, F->M, rows, 0.0, F->D, (int)p);
    for (int64_t c = 0; c < C - 1; ++c)
      for (int64_t j = 0; j < p; ++j)
        for (int64_t i = 0; i <= j; ++i)
          Hs[(c * p + j) * q + c * p + i] += F->D[(c * p + j) * p + i];
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, (int)q, (int)nh, -1.0,
                F->M, rows, 1.0, Hs, (int)q);
  }
}

/* Local: after the reduction, the mean, the ridge, and the Hessian made
 * symmetric (the passes filled its upper triangle). */
static void finish_acc(const fitter *F, const double *w, double *acc,
                       int hess) {
  const w2s_softmax_data *d = F->d;
  int64_t p = d->p, C = d->C, q = F->q;
  double inv = 1.0 / (double)d->n, lam = F->o->ridge;
  for (int64_t i = 0; i < F->stride; ++i) acc[i] *= inv;
  double *G = acc + 1, *Hs = acc + 1 + q;
  /* The Hessian's mean is over its rows: n / hstride, rounded up. */
  int64_t nrows = (d->n - 1) / F->hstride + 1;
  double hscale = (double)d->n / (double)nrows;
  for (int64_t j = 0; hess && j < q; ++j) {
    for (int64_t i = 0; i <= j; ++i) Hs[j * q + i] *= hscale;
    for (int64_t i = j + 1; i < q; ++i) Hs[j * q + i] = Hs[i * q + j];
  }
  if (lam > 0.0)
    for (int64_t c = 0; c < C - 1; ++c)
      for (int64_t j = 0; j < p; ++j) {
        if (F->o->penalize && !F->o->penalize[j]) continue;
        int64_t a = c * p + j;
        acc[0] += lam * w[a] * w[a];
        G[a] += 2.0 * lam * w[a];
        if (hess) Hs[a * q + a] += 2.0 * lam;
      }
}

/* Local: dir = -Hess^+ g. Cholesky when Hess is positive definite and its
 * reciprocal condition above q eps, else the eigen-decomposition with
 * eigenvalues at most q eps max dropped (the minimum-norm step). rank and
 * cond describe the equilibrated Hessian. work: 2 q^2 + 2 q. */
static int newton_dir(int64_t q, const double *Hs, const double *g, double *dir,
                      double *work, int64_t *rank, double *cond) {
  double *A = work, *V = work + q * q, *ev = work + 2 * q * q;
  double *sc = ev + q;
  /* Equilibrated: A = S Hess S with S = diag(Hess)^(-1/2) (0 for a zero
   * diagonal), the step dir = S y from A y = -S g. Features of different
   * scales (unnormalised network units) otherwise square their
   * conditioning into the Hessian's. */
  for (int64_t i = 0; i < q; ++i)
    sc[i] = Hs[i * q + i] > 0.0 ? 1.0 / sqrt(Hs[i * q + i]) : 0.0;
  for (int64_t j = 0; j < q; ++j)
    for (int64_t i = 0; i < q; ++i)
      A[j * q + i] = sc[i] * Hs[j * q + i] * sc[j];
  memcpy(V, A, sizeof(double) * (size_t)(q * q));
  double anorm = LAPACKE_dlansy(LAPACK_COL_MAJOR, '1', 'U', (int)q, A, (int)q);
  double rcond = 0.0;
  /* A singular Hessian rounded to a definite one (collinear features: its
   * null directions get eigenvalues of rounding size, either sign) can pass
   * the Cholesky factorisation; its step along them, rounding over
   * rounding, would be arbitrary. */
  int definite = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', (int)q, A, (int)q) == 0;
  if (definite)
    LAPACKE_dpocon(LAPACK_COL_MAJOR, 'U', (int)q, A, (int)q, anorm, &rcond);
  if (definite && rcond > (double)q * DBL_EPSILON) {
    for (int64_t i = 0; i < q; ++i) dir[i] = -sc[i] * g[i];
    LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', (int)q, 1, A, (int)q, dir, (int)q);
    for (int64_t i = 0; i < q; ++i) dir[i] *= sc[i];
    *rank = q;
    *cond = 1.0 / rcond;
    return 0;
  }
  if (LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', (int)q, V, (int)q, ev) != 0)
    return -1;
  double cut = (double)q * DBL_EPSILON * ev[q - 1];
  int64_t r = 0;
  for (int64_t i = 0; i < q; ++i) dir[i] = 0.0, A[i] = sc[i] * g[i];
  for (int64_t k = 0; k < q; ++k) {
    if (!(ev[k] > cut)) continue;
    ++r;
    double a = -cblas_ddot((int)q, V + k * q, 1, A, 1) / ev[k];
    cblas_daxpy((int)q, a, V + k * q, 1, dir, 1);
  }
  /* A parameter whose Hessian row is exactly 0 (a dead feature: its scale
   * is 0) spans part of the null space, which the minimum-norm step does
   * not touch: it stays exactly 0. */
  for (int64_t i = 0; i < q; ++i) dir[i] *= sc[i];
  *rank = r;
  *cond = r < q ? INFINITY : ev[q - 1] / ev[0];
  return 0;
}

/* Collective: one pass over the rows at the trial points of the running
 * heads (acc: one stride per head, zeroed here), reduced to every rank. */
static w2s_err pass(w2s_ctx *ctx, const fitter *F, head *hd, double *acc) {
  int64_t K = F->d->K;
  memset(acc, 0, sizeof(double) * (size_t)(K * F->stride));
  for (int64_t k = 0; k < K; ++k)
    if (!hd[k].done)
      accumulate(F, k, hd[k].Wt, acc + k * F->stride, hd[k].hess, !hd[k].have);
  if (ctx->comm != MPI_COMM_NULL && ctx->size > 1)
    W2S_CALL(w2s_sum_bcast(ctx, acc, K * F->stride));
  for (int64_t k = 0; k < K; ++k)
    if (!hd[k].done) finish_acc(F, hd[k].Wt, acc + k * F->stride, hd[k].hess);
  return W2S_OK;
}

static int finite_all(const double *x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!isfinite(x[i])) return 0;
  return 1;
}

/* Local: how messages name head k of K: "task 12" from the caller's unit
 * and base, else "head 3 of 20". */
static const char *head_name(const w2s_softmax_opts *o, int64_t k, int64_t K,
                             char *buf, size_t len) {
  if (o->head_unit)
    snprintf(buf, len, "%s %lld", o->head_unit,
             (long long)o->head_base + (long long)k);
  else
    snprintf(buf, len, "head %lld of %lld", (long long)k, (long long)K);
  return buf;
}

/* Local: head k's decision after a pass: accept the trial point (and test
 * convergence, or take the next direction), or shorten the step. */
static w2s_err decide(w2s_ctx *ctx, const fitter *F, int64_t k, head *h,
                      const double *acc, double *work, w2s_softmax_info *in) {
  const w2s_softmax_opts *o = F->o;
  int64_t q = F->q;
  double ft = acc[0];
  char who[96];
  const char *label = o->label ? o->label : "softmax head";
  const double *G = acc + 1, *Hs = acc + 1 + q;
  double gn = cblas_dnrm2((int)q, G, 1);
  in->passes++;
  in->hessians += h->hess;
  if (h->have) {
    double dec = -h->gdir; /* Newton decrement squared, >= 0 */
    int ok = isfinite(ft) && ft <= h->f + armijo * h->t * h->gdir;
    /* Near the optimum the decrease is below what f can resolve. */
    if (!ok && h->t == 1.0 && isfinite(ft) &&
        dec <= 64.0 * DBL_EPSILON * fabs(h->f) &&
        ft <= h->f + 64.0 * DBL_EPSILON * fabs(h->f))
      ok = 1;
    if (!ok) {
      if (++h->halvings > MAX_HALVINGS)
        return W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                        "%s (%s): the Newton line search "
                        "found no decrease after %d halvings (relative "
                        "gradient %.2e)",
                        label, head_name(o, k, F->d->K, who, sizeof who),
                        MAX_HALVINGS, h->g0 > 0 ? in->grad_norm / h->g0 : 0.0);
      h->t *= 0.5;
      for (int64_t i = 0; i < q; ++i) h->Wt[i] = h->W[i] + h->t * h->dir[i];
      return W2S_OK;
    }
    in->iterations++;
  } else { /* the first pass, at W = 0: the relative gradient's scale */
    /* Targets within 1e-8 of uniform make the gradient at 0 itself
     * rounding: then the scale is 1e-8 of the features' RMS. */
    double floor = 1e-8 * sqrt(acc[F->stride - 1]);
    h->g0 = gn > floor ? gn : floor;
  }
  if (!isfinite(ft) || !finite_all(G, q))
    return W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                    "%s (%s): the objective or its gradient "
                    "is not finite (NaN or infinite features or labels)",
                    label, head_name(o, k, F->d->K, who, sizeof who));
  memcpy(h->W, h->Wt, sizeof(double) * (size_t)q);
  if (h->hess) memcpy(h->Hl, Hs, sizeof(double) * (size_t)(q * q));
  /* A step that cut the gradient tenfold or more is in Newton's fast
   * phase: the next steps reuse this Hessian (a pass then costs a
   * gradient, not a Hessian) until one is slower. */
  int had = h->have;
  h->stall = had && gn > 0.9 * h->gprev ? h->stall + 1 : 0;
  h->hess = !had || !(gn <= lag_ratio * h->gprev);
  h->gprev = gn;
  h->f = ft;
  h->have = 1;
  h->halvings = 0;
  in->objective = ft;
  in->grad_norm = gn;
  in->rel_grad = h->g0 > 0.0 ? gn / h->g0 : 0.0;
  if (newton_dir(q, h->Hl, G, h->dir, work, &in->rank, &in->cond) != 0)
    return W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                    "%s (%s): the Hessian's eigen-"
                    "decomposition failed",
                    label, head_name(o, k, F->d->K, who, sizeof who));
  /* Converged: the relative gradient at most tol, or within 10 tol and no
   * longer falling (three steps cut it by under 10%): what is left lies
   * along directions of no curvature, where nearly separable rows push
   * the optimum to infinity. rel_grad records which. */
  if (in->rel_grad <= o->tol ||
      (h->stall >= 3 && in->rel_grad <= 10.0 * o->tol)) {
    h->done = 1;
    return W2S_OK;
  }
  if (in->iterations >= o->max_iter)
    return W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                    "%s (%s): Newton did not converge in %d "
                    "iteration%s (relative gradient %.2e > %.0e)%s",
                    label, head_name(o, k, F->d->K, who, sizeof who),
                    o->max_iter, o->max_iter == 1 ? "" : "s", in->rel_grad,
                    o->tol,
                    o->reverse ? ""
                               : "; separable labels have no finite optimum "
                                 "(a ridge > 0 gives one)");
  h->gdir = cblas_ddot((int)q, G, 1, h->dir, 1);
  h->t = 1.0;
  for (int64_t i = 0; i < q; ++i) h->Wt[i] = h->W[i] + h->dir[i];
  return W2S_OK;
}

w2s_err w2s_softmax_fit(w2s_ctx *ctx, const w2s_softmax_data *d,
                        const w2s_softmax_opts *opts, double *W,
                        w2s_softmax_info *info) {
  int64_t K = d->K, q = d->p * (d->C - 1);
  fitter F = {.d = d,
              .o = opts,
              .q = q,
              .stride = 2 + q + q * q,
              .rows = block_rows(q),
              .hstride = hessian_stride(d->n)};
  const int64_t rows = F.rows;
  head *hd = NULL;
  double *acc = NULL, *state = NULL, *work = NULL;
  w2s_softmax_info *in = NULL;
  w2s_err e = W2S_ALLOC(ctx, F.Z, (int64_t)rows * d->C);
  if (!e) e = W2S_ALLOC(ctx, F.R, (int64_t)rows * (d->C - 1));
  if (!e) e = W2S_ALLOC(ctx, F.S, (int64_t)rows * d->p);
  if (!e) e = W2S_ALLOC(ctx, F.M, (int64_t)rows * q);
  if (!e) e = W2S_ALLOC(ctx, F.D, d->p * q);
  if (!e) e = W2S_ALLOC(ctx, F.P, rows * d->C);
  if (!e) e = W2S_ALLOC(ctx, F.idx, rows);
  if (!e) e = W2S_ALLOC(ctx, hd, K);
  if (!e) e = W2S_ALLOC(ctx, in, K);
  if (!e) e = W2S_ALLOC(ctx, acc, K * F.stride);
  if (!e) e = W2S_ALLOC(ctx, state, 2 * K * q + K * q * q);
  if (!e) e = W2S_ALLOC(ctx, work, 2 * q * q + 2 * q);
  e = w2s_agree(ctx, e);
  for (int64_t k = 0; k < K && !e; ++k) {
    memset(&in[k], 0, sizeof in[k]);
    hd[k] = (head){.W = W + k * q,
                   .Wt = state + 2 * k * q,
                   .dir = state + (2 * k + 1) * q,
                   .Hl = state + 2 * K * q + k * q * q,
                   .t = 1.0,
                   .hess = 1};
    memset(hd[k].Wt, 0, sizeof(double) * (size_t)q);
  }
  for (int running = K > 0; running && !e;) {
    e = w2s_agree(ctx, pass(ctx, &F, hd, acc));
    running = 0;
    /* Every rank holds the same reduced bits: the decisions agree. */
    for (int64_t k = 0; k < K && !e; ++k) {
      if (hd[k].done) continue;
      e = decide(ctx, &F, k, &hd[k], acc + k * F.stride, work, &in[k]);
      running |= !hd[k].done;
    }
    e = w2s_agree(ctx, e);
  }
  if (!e && info) memcpy(info, in, sizeof(*in) * (size_t)K);
  free(F.Z), free(F.R), free(F.S), free(F.M), free(F.D), free(F.idx);
  free(F.P);
  free(hd), free(in);
  free(acc), free(state);
  free(work);
  return e;
}
