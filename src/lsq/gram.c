/* The Gram engine (see gram.h). */
#include "lsq/gram.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

w2s_err w2s_gram_init(w2s_ctx *ctx, int64_t p, int64_t k, w2s_gram *g) {
  memset(g, 0, sizeof *g);
  g->p = p;
  g->k = k;
  g->pl = p;
  W2S_CALL(W2S_ALLOC(ctx, g->live, p));
  W2S_CALL(W2S_ALLOC(ctx, g->D, p));
  W2S_CALL(W2S_ALLOC(ctx, g->R, p * p));
  W2S_CALL(W2S_ALLOC(ctx, g->G, p * p));
  W2S_CALL(W2S_ALLOC(ctx, g->G0, p * p));
  W2S_CALL(W2S_ALLOC(ctx, g->C, p * (k > 0 ? k : 1)));
  for (int64_t j = 0; j < p; ++j) {
    g->live[j] = j;
    g->D[j] = 1.0;
  }
  return W2S_OK;
}

void w2s_gram_free(w2s_gram *g) {
  free(g->live);
  free(g->D);
  free(g->R);
  free(g->G);
  free(g->G0);
  free(g->C);
  free(g->blk);
  memset(g, 0, sizeof *g);
}

w2s_err w2s_gram_add(w2s_ctx *ctx, w2s_gram *g, int64_t m, const double *A,
                     int64_t lda, const double *B, int64_t ldb, int *poisoned) {
  const double *Z = A;
  int64_t ldz = lda, n = g->on_q ? g->pl : g->p;
  if (g->on_q) {
    if (m * g->pl > g->blk_cap) {
      free(g->blk);
      g->blk = NULL;
      g->blk_cap = m * g->pl;
      W2S_CALL(W2S_ALLOC(ctx, g->blk, g->blk_cap));
    }
    /* Q block = A_live D^-1 R^-1 */
    for (int64_t j = 0; j < g->pl; ++j) {
      const double *src = A + g->live[j] * lda;
      double *dst = g->blk + j * m, s = 1.0 / g->D[j];
      for (int64_t i = 0; i < m; ++i) dst[i] = src[i] * s;
    }
    if (g->have_r)
      cblas_dtrsm(CblasColMajor, CblasRight, CblasUpper, CblasNoTrans,
                  CblasNonUnit, (int)m, (int)g->pl, 1.0, g->R, (int)g->pl,
                  g->blk, (int)m);
    Z = g->blk;
    ldz = m;
  }
  cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, (int)n, (int)m, 1.0, Z,
              (int)ldz, 1.0, g->G, (int)n);
  if (g->want_c && g->k > 0)
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)n, (int)g->k,
                (int)m, 1.0, Z, (int)ldz, B, (int)ldb, 1.0, g->C, (int)n);
  /* NaN and Inf propagate through the sums (0 * Inf is NaN too): the
   * diagonal sees every entry of A, the first row of C every entry of B. */
  *poisoned = 0;
  for (int64_t j = 0; j < n; ++j) *poisoned |= !isfinite(g->G[j * n + j]);
  if (g->want_c)
    for (int64_t c = 0; c < g->k; ++c) *poisoned |= !isfinite(g->C[c * n]);
  return W2S_OK;
}

/* G += W^T W with W = S R^-1, S = diag(sqrt(lam_n) pen_j / D_j): the Gram
 * of the augmented rows sqrt(lam_n) P D^-1 R^-1 of Q. */
static w2s_err add_ridge_rows(w2s_ctx *ctx, w2s_gram *g) {
  int64_t pl = g->pl;
  double *W = NULL;
  W2S_CALL(W2S_ALLOC(ctx, W, pl * pl));
  for (int64_t j = 0; j < pl; ++j)
    W[j * pl + j] = g->pen[g->live[j]] ? sqrt(g->lam_n) / g->D[j] : 0.0;
  if (g->have_r)
    cblas_dtrsm(CblasColMajor, CblasRight, CblasUpper, CblasNoTrans,
                CblasNonUnit, (int)pl, (int)pl, 1.0, g->R, (int)pl, W, (int)pl);
  cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, (int)pl, (int)pl, 1.0, W,
              (int)pl, 1.0, g->G, (int)pl);
  free(W);
  return W2S_OK;
}

w2s_err w2s_gram_reduce(w2s_ctx *ctx, w2s_lsq *ls, w2s_gram *g) {
  int64_t n = g->on_q ? g->pl : g->p;
  if (ctx->comm != MPI_COMM_NULL && ctx->size > 1) {
    W2S_CALL(w2s_sum(ctx, g->G, n * n));
    if (g->want_c && g->k > 0) W2S_CALL(w2s_sum(ctx, g->C, n * g->k));
  }
  if (g->on_q) return g->lam_n > 0.0 ? add_ridge_rows(ctx, g) : W2S_OK;
  if (ls->opts_known && ls->ridge > 0.0) {
    /* Fold the ridge in now: the factor is then the augmented problem's. */
    g->lam_n = ls->ridge * (double)ls->nrows;
    g->pen = ls->penalize;
    ls->ridge_absorbed = 1;
    for (int64_t j = 0; j < g->p; ++j)
      if (g->pen[j]) g->G[j * g->p + j] += g->lam_n;
  }
  /* First pass: live columns, unit scaling, compress G and C in place. */
  int64_t pl = 0;
  for (int64_t j = 0; j < g->p; ++j)
    if (g->G[j * g->p + j] > 0.0) {
      g->live[pl] = j;
      g->D[pl] = sqrt(g->G[j * g->p + j]);
      ++pl;
    }
  for (int64_t b = 0; b < pl; ++b)
    for (int64_t a = 0; a <= b; ++a) {
      int64_t ia = g->live[a], ib = g->live[b];
      g->G[b * pl + a] = g->G[ib * g->p + ia] / (g->D[a] * g->D[b]);
    }
  if (g->want_c)
    for (int64_t c = 0; c < g->k; ++c)
      for (int64_t a = 0; a < pl; ++a)
        g->C[c * pl + a] = g->C[c * g->p + g->live[a]] / g->D[a];
  g->pl = pl;
  memcpy(g->G0, g->G, sizeof(double) * (size_t)(pl * pl));
  for (int64_t j = 0; j < pl * pl; ++j) g->R[j] = 0.0;
  g->have_r = 0;
  return W2S_OK;
}

double w2s_gram_shift(const w2s_gram *g, int64_t nrows) {
  double pl = (double)g->pl, trace = 0.0;
  for (int64_t j = 0; j < g->pl; ++j) trace += g->G0[j * g->pl + j];
  return 11.0 * ((double)nrows * pl + pl * (pl + 1.0)) * DBL_EPSILON * trace;
}

/* 2-norm condition number of an upper triangle: exact from its singular
 * values up to p = 1024 (O(p^3), small next to the passes), LAPACK's 1-norm
 * estimate beyond (which can overstate it by up to ~p: auto then picks a
 * more careful solver than needed, never a less accurate one). */
static double factor_cond(const double *R, int p) {
  double cond = INFINITY;
  if (p <= 1024) {
    double *T = malloc(sizeof(double) * (size_t)p * (size_t)p);
    double *sv = malloc(sizeof(double) * (size_t)p);
    double *sb = malloc(sizeof(double) * (size_t)p);
    if (T && sv && sb) {
      memcpy(T, R, sizeof(double) * (size_t)p * (size_t)p);
      if (LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'N', 'N', p, p, T, p, sv, NULL, 1,
                         NULL, 1, sb) == 0 &&
          sv[p - 1] > 0.0)
        cond = sv[0] / sv[p - 1];
      free(T), free(sv), free(sb);
      return cond;
    }
    free(T), free(sv), free(sb);
  }
  double rcond = 0.0;
  if (LAPACKE_dtrcon(LAPACK_COL_MAJOR, '1', 'U', 'N', p, R, p, &rcond) == 0 &&
      rcond > 0.0)
    cond = 1.0 / rcond;
  return cond;
}

int w2s_gram_factor(w2s_gram *g, double shift, double *cond) {
  int pl = (int)g->pl;
  *cond = INFINITY;
  if (pl == 0) return 0;
  for (int j = 0; j < pl; ++j) g->G[(size_t)j * pl + j] += shift;
  int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', pl, g->G, pl);
  if (info != 0) return info > 0 ? info : 1;
  for (int j = 0; j < pl; ++j)
    for (int i = j + 1; i < pl; ++i) g->G[(size_t)j * pl + i] = 0.0;
  *cond = factor_cond(g->G, pl);
  if (g->want_c && g->k > 0)
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasUpper, CblasTrans, CblasNonUnit,
                pl, (int)g->k, 1.0, g->G, pl, g->C, pl);
  if (g->have_r) /* R = R_new R */
    cblas_dtrmm(CblasColMajor, CblasLeft, CblasUpper, CblasNoTrans,
                CblasNonUnit, pl, pl, 1.0, g->G, pl, g->R, pl);
  else
    memcpy(g->R, g->G, sizeof(double) * (size_t)pl * (size_t)pl);
  g->have_r = 1;
  return 0;
}

void w2s_gram_next_pass(w2s_gram *g, int want_c) {
  int64_t pl = g->pl;
  g->on_q = 1;
  g->want_c = want_c;
  memset(g->G, 0, sizeof(double) * (size_t)(pl * pl));
  if (want_c) memset(g->C, 0, sizeof(double) * (size_t)(pl * g->k));
}

void w2s_gram_restore(w2s_gram *g) {
  memcpy(g->G, g->G0, sizeof(double) * (size_t)(g->pl * g->pl));
  g->have_r = 0;
  g->want_c = 0;
}

w2s_err w2s_gram_finish(w2s_ctx *ctx, w2s_lsq *ls, w2s_gram *g,
                        const w2s_lsq_opts *opts, double *X,
                        w2s_lsq_info *info) {
  int64_t p = g->p, k = g->k, pl = g->pl;
  double *R = NULL, *C = NULL;
  w2s_err e = W2S_ALLOC(ctx, R, p * p);
  if (!e) e = W2S_ALLOC(ctx, C, p * (k > 0 ? k : 1));
  if (!e) {
    /* A_live = Q R D: column b of R D scaled by D[b]; dead columns stay 0. */
    for (int64_t b = 0; b < pl; ++b)
      for (int64_t a = 0; a <= b; ++a)
        R[g->live[b] * p + g->live[a]] = g->R[b * pl + a] * g->D[b];
    for (int64_t c = 0; c < k; ++c)
      for (int64_t a = 0; a < pl; ++a) C[c * p + g->live[a]] = g->C[c * pl + a];
  }
  e = w2s_agree(ctx, e);
  if (!e) {
    const w2s_lsq_factor f = w2s_lsq_factor_of(ls, R, C);
    e = w2s_lsq_finish(ctx, &f, opts, X, info);
  }
  free(R);
  free(C);
  return e;
}

w2s_err w2s_gram_solver_create(w2s_ctx *ctx, const w2s_lsq_ops *ops,
                               const char *method, int64_t p, int64_t k,
                               int want_c_first, w2s_lsq **out) {
  w2s_lsq *ls = NULL;
  w2s_gram_solver *st = NULL;
  W2S_CALL(w2s_lsq_new(ctx, ops, method, p, k, &ls));
  w2s_err e = W2S_ALLOC(ctx, st, 1);
  if (!e) {
    ls->impl = st;
    e = w2s_gram_init(ctx, p, k, &st->g);
    st->g.want_c = want_c_first;
  }
  if (e) {
    w2s_lsq_destroy(&ls);
    return e;
  }
  *out = ls;
  return W2S_OK;
}

w2s_err w2s_gram_solver_add_rows(w2s_ctx *ctx, w2s_lsq *ls, int64_t m,
                                 double *A, int64_t lda, double *B,
                                 int64_t ldb) {
  w2s_gram_solver *st = ls->impl;
  if (st->fallback) {
    int found = 0;
    for (int64_t j = 0; j < ls->p && !found; ++j)
      for (int64_t i = 0; i < m; ++i)
        if (!isfinite(A[j * lda + i])) found = 1;
    for (int64_t c = 0; c < ls->k && !found; ++c)
      for (int64_t i = 0; i < m; ++i)
        if (!isfinite(B[c * ldb + i])) found = 1;
    ls->saw_nonfinite = found;
    if (found) return W2S_OK; /* reported by the caller with the row */
    return st->fallback->ops->add_rows(ctx, st->fallback, m, A, lda, B, ldb);
  }
  w2s_err e = w2s_gram_add(ctx, &st->g, m, A, lda, B, ldb, &ls->saw_nonfinite);
  /* B only reaches the sums in C-accumulating passes: check it here. */
  if (!e && !st->g.want_c)
    for (int64_t c = 0; c < ls->k && !ls->saw_nonfinite; ++c)
      for (int64_t i = 0; i < m; ++i)
        if (!isfinite(B[c * ldb + i])) {
          ls->saw_nonfinite = 1;
          break;
        }
  return e;
}

w2s_err w2s_gram_solver_solve(w2s_ctx *ctx, w2s_lsq *ls,
                              const w2s_lsq_opts *opts, double *X,
                              w2s_lsq_info *info) {
  w2s_gram_solver *st = ls->impl;
  if (st->fallback) {
    st->fallback->nrows = ls->nrows;
    return st->fallback->ops->solve(ctx, st->fallback, opts, X, info);
  }
  return w2s_gram_finish(ctx, ls, &st->g, opts, X, info);
}

void w2s_gram_solver_destroy(w2s_lsq *ls) {
  w2s_gram_solver *st = ls->impl;
  if (!st) return;
  w2s_gram_free(&st->g);
  w2s_lsq_destroy(&st->fallback);
  free(st);
}

w2s_err w2s_gram_solver_fall_back(w2s_ctx *ctx, w2s_lsq *ls) {
  w2s_gram_solver *st = ls->impl;
  return w2s_lsq_tsqr_create(ctx, ls->p, ls->k, &st->fallback);
}
