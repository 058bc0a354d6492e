/* Fits and distances from the triangular factor of stacked features.
 *
 * With Z = Q R (n x D, R upper triangular, from TSQR), every vector of
 * span(Z) is Z v for a coefficient vector v, ||Z v||^2 = ||R v||^2, and the
 * least-squares fit of a subset S of Z's columns to Z v is the fit of R[:, S]
 * to R v: a D-row problem whatever n is. Its QR gives the p x p factor of
 * Z[:, S] (up to signs) and Q^T R v, which the shared triangular solve turns
 * into the minimum-norm solution exactly as a streamed solver would. */
#include <cblas.h>
#include <lapacke.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsq/lsq_impl.h"

void w2s_lsq_apply_r(const double *R, int64_t D, double *U, int64_t ldu,
                     int64_t k) {
  if (D < 1 || k < 1) return;
  cblas_dtrmm(CblasColMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit,
              (int)D, (int)k, 1.0, R, (int)D, U, (int)ldu);
}

/* Columns of V supported on cols alone (zero everywhere else) are their own
 * solution when the block has full rank and no ridge: copy them exactly. */
static void exact_columns(int64_t D, const int64_t *cols, int64_t p,
                          const double *V, int64_t ldv, int64_t k,
                          const char *in, double *X) {
  for (int64_t c = 0; c < k; ++c) {
    const double *v = V + c * ldv;
    int64_t i = 0;
    while (i < D && (in[i] || v[i] == 0.0)) ++i;
    if (i < D) continue;
    for (int64_t j = 0; j < p; ++j) X[c * p + j] = v[cols[j]];
  }
}

w2s_err w2s_lsq_subfit(w2s_ctx *ctx, const w2s_lsq_stacked *z,
                       const int64_t *cols, int64_t p, const double *V,
                       int64_t ldv, int64_t k, const w2s_lsq_opts *opts,
                       double *X, w2s_lsq_info *info) {
  const int64_t D = z->D;
  const char *label = opts->label ? opts->label : "least-squares fit";
  if (p < 1 || p > D || k < 0)
    return W2S_FAIL(ctx, W2S_ERR_INTERNAL,
                    "%s: sub-fit of %lld of %lld columns", label, (long long)p,
                    (long long)D);
  if (opts->ridge == 0.0 && z->nrows < p)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: %lld rows for %lld unknowns: the problem is "
                    "underdetermined; add rows or use ridge > 0",
                    label, (long long)z->nrows, (long long)p);
  for (int64_t j = 0; j < p; ++j)
    if (cols[j] < 0 || cols[j] >= D)
      return W2S_FAIL(ctx, W2S_ERR_INTERNAL,
                      "%s: sub-fit column %lld outside the %lld stacked "
                      "columns",
                      label, (long long)cols[j], (long long)D);
  double *M = NULL, *RV = NULL, *tau = NULL, *Rs = NULL, *Cs = NULL;
  char *in = NULL;
  w2s_err e;
  if ((e = W2S_ALLOC(ctx, M, D * p)) ||
      (e = W2S_ALLOC(ctx, RV, D * (k > 0 ? k : 1))) ||
      (e = W2S_ALLOC(ctx, tau, p)) || (e = W2S_ALLOC(ctx, Rs, p * p)) ||
      (e = W2S_ALLOC(ctx, Cs, p * (k > 0 ? k : 1))) ||
      (e = W2S_ALLOC(ctx, in, D)))
    goto done;
  for (int64_t j = 0; j < p; ++j) {
    memcpy(M + j * D, z->R + cols[j] * D, sizeof(double) * (size_t)D);
    in[cols[j]] = 1;
  }
  for (int64_t c = 0; c < k; ++c)
    memcpy(RV + c * D, V + c * ldv, sizeof(double) * (size_t)D);
  w2s_lsq_apply_r(z->R, D, RV, D, k);
  int rc = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)D, (int)p, M, (int)D, tau);
  if ((e = w2s_lapack_info(ctx, rc, "dgeqrf (sub-fit)"))) goto done;
  if (k > 0) {
    rc = LAPACKE_dormqr(LAPACK_COL_MAJOR, 'L', 'T', (int)D, (int)k, (int)p, M,
                        (int)D, tau, RV, (int)D);
    if ((e = w2s_lapack_info(ctx, rc, "dormqr (sub-fit)"))) goto done;
  }
  for (int64_t j = 0; j < p; ++j)
    for (int64_t i = 0; i < p; ++i) Rs[j * p + i] = i <= j ? M[j * D + i] : 0.0;
  for (int64_t c = 0; c < k; ++c)
    memcpy(Cs + c * p, RV + c * D, sizeof(double) * (size_t)p);
  const w2s_lsq_factor f = {p, k, z->nrows, Rs, Cs, 0};
  e = w2s_lsq_solve_triangular(ctx, &f, opts, X, info);
  if (!e) {
    snprintf(info->method, sizeof info->method, "factor");
    info->passes = 1;
    info->ran = &w2s_lsq_solver_tsqr;
    if (opts->ridge == 0.0 && info->rank == p)
      exact_columns(D, cols, p, V, ldv, k, in, X);
  }
done:
  free(M);
  free(RV);
  free(tau);
  free(Rs);
  free(Cs);
  free(in);
  return e;
}
