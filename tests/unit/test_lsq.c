/* The streaming least-squares solve (tsqr, local context) against LAPACK as
 * the independent reference:
 *  - full rank (well- and ill-conditioned): dgelsd on the whole matrix;
 *  - rank-deficient: the documented solution is the minimum-norm one in
 *    column-equilibrated variables, i.e. dgelsd on A D^-1 (D = column norms,
 *    1 for zero columns) scaled back x = D^-1 z, with a matching rcond; the
 *    fitted values A X are unique and compared with dgelsd's on A itself;
 *  - ridge: dgels on the augmented [A; sqrt(lambda n) I_pen] x = [b; 0].
 * Rows are fed in uneven blocks, each copied into a buffer with a leading
 * dimension larger than the block and NaN in the padding, so a solver that
 * reads past m rows poisons its result. */
#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit_common.h"

#include "../lsq_reference.h"
#include "w2s/core.h"
#include "w2s/lsq.h"
#include "w2s/rng.h"

static w2s_ctx *new_ctx(void) {
  w2s_ctx *ctx = NULL;
  assert_int_equal(w2s_ctx_create(MPI_COMM_NULL, 0, &ctx), W2S_OK);
  return ctx;
}

/* n x cols of N(0, 1), column j from counter (j, 0, 0) of the stream. */
static void fill_normal(double *M, int64_t n, int64_t cols, uint64_t seed,
                        uint64_t stream) {
  for (int64_t j = 0; j < cols; ++j)
    w2s_rng_normal(seed, stream, (uint64_t)j, 0, 0, n, M + j * n);
}

static double fro(const double *a, int64_t len) {
  double s = 0;
  for (int64_t i = 0; i < len; ++i) s += a[i] * a[i];
  return sqrt(s);
}

/* F (n x k) = A X. */
static void fitted(int64_t n, int64_t p, int64_t k, const double *A,
                   const double *X, double *F) {
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)p,
              1.0, A, (int)n, X, (int)p, 0.0, F, (int)n);
}

/* Feed all n rows of (A, B) through tsqr in blocks of the given sizes (a
 * size of 0 means "the rest"), then solve. A and B are not modified: each
 * block is copied into a buffer with ld = m + 3 and NaN padding. */
static w2s_err solve_blocks(w2s_ctx *ctx, int64_t n, int64_t p, int64_t k,
                            const double *A, const double *B,
                            const int64_t *blocks, int nblocks,
                            const w2s_lsq_opts *opts, int with_opts, double *X,
                            w2s_lsq_info *info) {
  w2s_lsq *ls = NULL;
  w2s_err e = with_opts ? w2s_lsq_create_with(ctx, "tsqr", p, k, opts, &ls)
                        : w2s_lsq_create(ctx, "tsqr", p, k, &ls);
  if (e) return e;
  double *Ab = xmalloc((size_t)((n + 3) * p));
  double *Bb = xmalloc((size_t)((n + 3) * (k > 0 ? k : 1)));
  for (int64_t i = 0, b = 0; i < n && !e; ++b) {
    int64_t m = b < nblocks && blocks[b] > 0 ? blocks[b] : n - i;
    if (m > n - i) m = n - i;
    int64_t ld = m + 3;
    for (int64_t t = 0; t < ld * p; ++t) Ab[t] = NAN;
    for (int64_t t = 0; t < ld * k; ++t) Bb[t] = NAN;
    for (int64_t j = 0; j < p; ++j)
      memcpy(Ab + j * ld, A + j * n + i, sizeof(double) * (size_t)m);
    for (int64_t c = 0; c < k; ++c)
      memcpy(Bb + c * ld, B + c * n + i, sizeof(double) * (size_t)m);
    e = w2s_lsq_add_rows(ctx, ls, m, Ab, ld, Bb, ld);
    i += m;
  }
  if (!e) e = w2s_lsq_solve(ctx, ls, opts, X, info);
  w2s_lsq_destroy(&ls);
  assert_null(ls);
  free(Ab);
  free(Bb);
  return e;
}

/* Singular values (descending) of the equilibrated A. */
static void equilibrated_sv(int64_t n, int64_t p, const double *A, double *sv) {
  double *D = xmalloc((size_t)p), *Ae = xmalloc((size_t)(n * p));
  double *superb = xmalloc((size_t)p);
  lsq_col_scales(n, p, A, D);
  for (int64_t j = 0; j < p; ++j)
    for (int64_t i = 0; i < n; ++i) Ae[j * n + i] = A[j * n + i] / D[j];
  int info = LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'N', 'N', (int)n, (int)p, Ae,
                            (int)n, sv, NULL, 1, NULL, 1, superb);
  assert_int_equal(info, 0);
  free(D), free(Ae), free(superb);
}

/* n x p with orthonormal columns from the QR of a Gaussian matrix. */
static void orthonormal(int64_t n, int64_t p, uint64_t seed, uint64_t stream,
                        double *Q) {
  double *tau = xmalloc((size_t)p);
  fill_normal(Q, n, p, seed, stream);
  assert_int_equal(LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)n, (int)p, Q, (int)n,
                                  tau),
                   0);
  assert_int_equal(LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)n, (int)p, (int)p, Q,
                                  (int)n, tau),
                   0);
  free(tau);
}

/* A = U diag(s) V^T with s_i = 10^(-i * decades / (p - 1)); the
 * orthonormal basis U of its range is copied to Uout if not NULL. */
static void make_svd_matrix(int64_t n, int64_t p, double decades, uint64_t seed,
                            double *A, double *Uout) {
  double *U = xmalloc((size_t)(n * p)), *V = xmalloc((size_t)(p * p));
  orthonormal(n, p, seed, 1, U);
  orthonormal(p, p, seed, 2, V);
  if (Uout) memcpy(Uout, U, sizeof(double) * (size_t)(n * p));
  for (int64_t i = 0; i < p; ++i) {
    double s = pow(10.0, -(double)i * decades / (double)(p - 1));
    for (int64_t r = 0; r < n; ++r) U[i * n + r] *= s;
  }
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)n, (int)p, (int)p,
              1.0, U, (int)n, V, (int)p, 0.0, A, (int)n);
  free(U), free(V);
}

static void test_well_conditioned(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t n = 500, p = 10, k = 7;
  double *A = xmalloc((size_t)(n * p)), *B = xmalloc((size_t)(n * k));
  fill_normal(A, n, p, 1, 10);
  fill_normal(B, n, k, 1, 11);
  /* Give B a real signal plus noise, and the columns distinct scales. */
  for (int64_t j = 0; j < p; ++j)
    for (int64_t i = 0; i < n; ++i) A[j * n + i] *= (double)(j + 1);
  for (int64_t c = 0; c < k; ++c)
    for (int64_t i = 0; i < n; ++i) B[c * n + i] += A[(c % p) * n + i];
  double *X = xmalloc((size_t)(p * k)), *Xr = xmalloc((size_t)(p * k));
  w2s_lsq_opts opts = {0.0, NULL, 0.0, "well-conditioned"};
  w2s_lsq_info info;
  const int64_t blocks[] = {1, 37, 200, 0};
  assert_int_equal(solve_blocks(ctx, n, p, k, A, B, blocks, 4, &opts, 0, X,
                                &info),
                   W2S_OK);
  assert_int_equal(lsq_gelsd(n, p, k, A, B, -1.0, Xr, NULL), p);
  /* cond(A) ~ 10 (column scales 1..10 over a Gaussian block of cond 1.3):
   * both solutions are backward stable with forward error ~ cond * eps
   * ~ 1e-15; 1e-12 leaves a factor 1000 and fails on any wrong term. */
  ASSERT_LE(lsq_rel_diff(X, Xr, p * k), 1e-12);
  assert_int_equal(info.rank, p);
  assert_int_equal(info.nrows, n);
  assert_string_equal(info.method, "tsqr");
  assert_int_equal(info.passes, 1);
  /* info.cond is s_max / s_min of the equilibrated design: against the SVD
   * of A D^-1 computed here (well-conditioned singular values, 1e-10). */
  double sv[10];
  equilibrated_sv(n, p, A, sv);
  ASSERT_LE(fabs(info.cond / (sv[0] / sv[p - 1]) - 1.0), 1e-10);
  ASSERT_LE(fabs(info.cond_kept / (sv[0] / sv[p - 1]) - 1.0), 1e-10);
  /* One block of all rows, and blocks of 1 row: the same answer to the
   * same tolerance. */
  const int64_t all[] = {0};
  assert_int_equal(solve_blocks(ctx, n, p, k, A, B, all, 1, &opts, 0, X, &info),
                   W2S_OK);
  ASSERT_LE(lsq_rel_diff(X, Xr, p * k), 1e-12);
  int64_t many[600];
  for (int i = 0; i < 600; ++i) many[i] = 1;
  assert_int_equal(solve_blocks(ctx, n, p, k, A, B, many, 600, &opts, 0, X,
                                &info),
                   W2S_OK);
  ASSERT_LE(lsq_rel_diff(X, Xr, p * k), 1e-12);
  free(A), free(B), free(X), free(Xr);
  w2s_ctx_destroy(&ctx);
}

static void test_ill_conditioned(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t n = 400, p = 8, k = 3;
  const double cond = 1e10;
  double *A = xmalloc((size_t)(n * p)), *B = xmalloc((size_t)(n * k));
  double *U = xmalloc((size_t)(n * p));
  make_svd_matrix(n, p, log10(cond), 3, A, U);
  /* Column 0 of B is consistent (b = A x_true): its solution is determined
   * to ~cond * eps. Column 1 adds noise of relative size 1e-3, column 2 a
   * residual r_perp orthogonal to range(A) (projected out with the basis U)
   * as large as A x_true, so its least-squares residual norm is known
   * exactly: ||r_perp||. Their solutions are cond^2-sensitive, so only
   * fitted values and the residual norm are compared for them. */
  double *xt = xmalloc((size_t)p), *noise = xmalloc((size_t)n);
  double *utz = xmalloc((size_t)p);
  w2s_rng_normal(3, 4, 0, 0, 0, p, xt);
  fitted(n, p, 1, A, xt, B);
  double bn = fro(B, n);
  w2s_rng_normal(3, 5, 0, 0, 0, n, noise);
  for (int64_t i = 0; i < n; ++i)
    B[n + i] = B[i] + 1e-3 * bn / sqrt((double)n) * noise[i];
  w2s_rng_normal(3, 6, 0, 0, 0, n, noise);
  for (int pass = 0; pass < 2; ++pass) { /* twice: orthogonal to ~eps */
    cblas_dgemv(CblasColMajor, CblasTrans, (int)n, (int)p, 1.0, U, (int)n,
                noise, 1, 0.0, utz, 1);
    cblas_dgemv(CblasColMajor, CblasNoTrans, (int)n, (int)p, -1.0, U, (int)n,
                utz, 1, 1.0, noise, 1);
  }
  double rn = fro(noise, n);
  for (int64_t i = 0; i < n; ++i) B[2 * n + i] = B[i] + bn / rn * noise[i];
  const double rperp = bn; /* ||r_perp|| after the scaling */

  double *X = xmalloc((size_t)(p * k)), *Xr = xmalloc((size_t)(p * k));
  w2s_lsq_opts opts = {0.0, NULL, 0.0, "ill-conditioned"};
  w2s_lsq_info info;
  const int64_t blocks[] = {1, 37, 200, 0};
  assert_int_equal(solve_blocks(ctx, n, p, k, A, B, blocks, 4, &opts, 0, X,
                                &info),
                   W2S_OK);
  assert_int_equal(lsq_gelsd(n, p, k, A, B, -1.0, Xr, NULL), p);
  /* 1/cond = 1e-10 is far above the default cutoff eps * n = 9e-14: every
   * direction is kept. */
  assert_int_equal(info.rank, p);
  /* Both forward errors are <= c * cond * eps with c a modest constant
   * (QR-based, consistent system); 100 * cond * eps = 2.2e-4 allows
   * c = 50 for each, while a method that squares the condition number
   * (cond^2 * eps >> 1) fails completely. */
  const double tol = 100.0 * cond * DBL_EPSILON;
  ASSERT_LE(lsq_rel_diff(X, Xr, p), tol);
  ASSERT_LE(lsq_rel_diff(X, xt, p), tol);
  /* info.cond against the SVD of the equilibrated A (its smallest singular
   * value is known to ~cond * eps relative). */
  double sv[8];
  equilibrated_sv(n, p, A, sv);
  ASSERT_LE(fabs(info.cond / (sv[0] / sv[p - 1]) - 1.0), tol);
  /* Fitted values (the projection of b) move by <= ~c * cond * eps * ||b||
   * (Wedin's bound), every column. */
  double *F = xmalloc((size_t)(n * k)), *Fr = xmalloc((size_t)(n * k));
  fitted(n, p, k, A, X, F);
  fitted(n, p, k, A, Xr, Fr);
  for (int64_t c = 0; c < k; ++c)
    ASSERT_LE(lsq_rel_diff(F + c * n, Fr + c * n, n), tol);
  /* Residual norm of column 2 against the exact ||r_perp|| and against
   * dgelsd's: ||b - A x||^2 = ||r_perp||^2 + ||A dx||^2 with ||A dx|| <=
   * c * cond * eps * ||b||, so the norm is off by ~(c * 2.2e-6)^2, plus
   * the rounding of b - A x (~eps * ||A|| ||x|| / ||r||). 1e-9 relative
   * allows c ~ 15; a solution that is not the least-squares one (||A dx||
   * a fraction of ||r||) fails by orders of magnitude. */
  double r = 0, rr = 0;
  for (int64_t i = 2 * n; i < 3 * n; ++i) {
    r += (B[i] - F[i]) * (B[i] - F[i]);
    rr += (B[i] - Fr[i]) * (B[i] - Fr[i]);
  }
  ASSERT_LE(fabs(sqrt(r) / rperp - 1.0), 1e-9);
  ASSERT_LE(fabs(sqrt(r) / sqrt(rr) - 1.0), 1e-9);
  free(A), free(B), free(U), free(xt), free(noise), free(utz), free(X),
      free(Xr), free(F), free(Fr);
  w2s_ctx_destroy(&ctx);
}

/* Deficiency variants of a 300 x 9 design whose columns have scales
 * 10^((j - 4) / 2) (so equilibration matters for the minimum norm). */
enum {
  DEF_ZERO = 1,
  DEF_DUP = 2,
  DEF_COMBO = 4,
  DEF_ZERO_FIRST = 8,
  DEF_ZERO_LAST = 16
};

static void rank_deficient_case(int flags, int expect_rank) {
  w2s_ctx *ctx = new_ctx();
  const int64_t n = 300, p = 9, k = 3;
  double *A = xmalloc((size_t)(n * p)), *B = xmalloc((size_t)(n * k));
  fill_normal(A, n, p, 5, 20);
  fill_normal(B, n, k, 5, 21);
  for (int64_t j = 0; j < p; ++j)
    for (int64_t i = 0; i < n; ++i)
      A[j * n + i] *= pow(10.0, ((double)j - 4.0) / 2.0);
  int zero_col = -1;
  if (flags & DEF_ZERO) zero_col = 2;
  if (flags & DEF_ZERO_FIRST) zero_col = 0;
  if (flags & DEF_ZERO_LAST) zero_col = (int)p - 1;
  if (flags & DEF_DUP) /* column 5 = column 1 */
    memcpy(A + 5 * n, A + 1 * n, sizeof(double) * (size_t)n);
  if (flags & DEF_COMBO) /* column 7 = 2 col 4 - 0.5 col 3 */
    for (int64_t i = 0; i < n; ++i)
      A[7 * n + i] = 2.0 * A[4 * n + i] - 0.5 * A[3 * n + i];
  if (zero_col >= 0) memset(A + zero_col * n, 0, sizeof(double) * (size_t)n);
  /* A signal in B, so the fit is not just noise. */
  for (int64_t c = 0; c < k; ++c)
    for (int64_t j = 0; j < p; ++j)
      for (int64_t i = 0; i < n; ++i)
        B[c * n + i] += 0.3 * (double)(c + j % 3) * A[j * n + i];

  double *X = xmalloc((size_t)(p * k)), *Xr = xmalloc((size_t)(p * k));
  w2s_lsq_opts opts = {0.0, NULL, 0.0, "rank-deficient"};
  w2s_lsq_info info;
  const int64_t blocks[] = {1, 37, 200, 0};
  assert_int_equal(solve_blocks(ctx, n, p, k, A, B, blocks, 4, &opts, 0, X,
                                &info),
                   W2S_OK);
  if (info.rank != expect_rank)
    print_error("flags %d: rank %lld, expected %d\n", flags,
                (long long)info.rank, expect_rank);
  assert_int_equal(info.rank, expect_rank);

  /* The equilibrated singular values separate cleanly: the kept ones are
   * >= ~0.5 of the largest, the dropped ones ~1e-16 (checked: below a tenth
   * of the cutoff). Both the solver's default cutoff (eps * max(n, p) =
   * 6.7e-14) and the reference's rcond sit in that gap, so they make the
   * same decision. */
  double sv[9];
  equilibrated_sv(n, p, A, sv);
  const double rcond = DBL_EPSILON * (double)n;
  assert_true(sv[expect_rank - 1] > 1e3 * rcond * sv[0]);
  if (expect_rank < p) assert_true(sv[expect_rank] < 0.1 * rcond * sv[0]);
  int rr = lsq_gelsd_equilibrated(n, p, k, A, B, rcond, Xr, NULL);
  assert_int_equal(rr, expect_rank);
  /* The minimum-norm solution on the kept subspace is as well-conditioned
   * as cond_kept (< 1e3 here): 1e-10 relative is ~1e3 * cond_kept * eps. */
  ASSERT_LE(lsq_rel_diff(X, Xr, p * k), 1e-10);
  ASSERT_LE(fabs(info.cond_kept / (sv[0] / sv[expect_rank - 1]) - 1.0), 1e-10);
  if (expect_rank < p) assert_true(isinf(info.cond) || info.cond > 1e12);

  /* Fitted values are unique: against dgelsd on A itself. Its raw column
   * scales span 1e4, the kept part has cond ~1e5, the dropped directions
   * are ~1e-16 relative; rcond = 1e-10 sits in the gap. */
  double *Xa = xmalloc((size_t)(p * k));
  assert_int_equal(lsq_gelsd(n, p, k, A, B, 1e-10, Xa, NULL), expect_rank);
  double *F = xmalloc((size_t)(n * k)), *Fr = xmalloc((size_t)(n * k));
  fitted(n, p, k, A, X, F);
  fitted(n, p, k, A, Xa, Fr);
  ASSERT_LE(lsq_rel_diff(F, Fr, n * k), 1e-10);

  if (flags & DEF_DUP)
    for (int64_t c = 0; c < k; ++c) {
      /* Identical columns (hence identical scales) share the weight equally
       * in the minimum-norm solution. */
      ASSERT_LE(fabs(X[c * p + 1] - X[c * p + 5]),
                1e-10 * fabs(X[c * p + 1] + X[c * p + 5]));
      assert_true(X[c * p + 1] != 0.0);
    }
  /* Last, so that the checks above run whatever this one says. */
  if (zero_col >= 0)
    for (int64_t c = 0; c < k; ++c) {
      /* At the very least rounding-level: 1e-10 of the largest entry of the
       * reference (this is implied by the 1e-10 solution check above). */
      ASSERT_LE(fabs(X[c * p + zero_col]), 1e-10 * fro(Xr, p * k));
      /* A zero column carries no information: its coefficient is exactly
       * zero (the minimum norm in any scaling), not rounding noise. */
      if (X[c * p + zero_col] != 0.0)
        print_error("flags %d: coefficient of the zero column %d, rhs %lld "
                    "= %.17g (expected exactly 0)\n",
                    flags, zero_col, (long long)c, X[c * p + zero_col]);
      assert_true(X[c * p + zero_col] == 0.0);
    }
  free(A), free(B), free(X), free(Xr), free(Xa), free(F), free(Fr);
  w2s_ctx_destroy(&ctx);
}

static void test_rank_deficient_zero(void **state) {
  (void)state;
  rank_deficient_case(DEF_ZERO, 8);
}
static void test_rank_deficient_zero_first(void **state) {
  (void)state;
  rank_deficient_case(DEF_ZERO_FIRST, 8);
}
static void test_rank_deficient_zero_last(void **state) {
  (void)state;
  rank_deficient_case(DEF_ZERO_LAST, 8);
}
static void test_rank_deficient_dup(void **state) {
  (void)state;
  rank_deficient_case(DEF_DUP, 8);
}
static void test_rank_deficient_combo(void **state) {
  (void)state;
  rank_deficient_case(DEF_COMBO, 8);
}
static void test_rank_deficient_all(void **state) {
  (void)state;
  rank_deficient_case(DEF_ZERO | DEF_DUP | DEF_COMBO, 6);
}

/* Reference ridge: dgels on [A; sqrt(lambda n) I_pen] x = [B; 0]. */
static void ridge_reference(int64_t n, int64_t p, int64_t k, const double *A,
                            const double *B, double lambda, const int *pen,
                            double *X) {
  int64_t q = 0;
  for (int64_t j = 0; j < p; ++j) q += !pen || pen[j];
  int64_t m = n + q;
  double *Aa = xmalloc((size_t)(m * p)), *Ba = xmalloc((size_t)(m * k));
  for (int64_t j = 0; j < p; ++j)
    memcpy(Aa + j * m, A + j * n, sizeof(double) * (size_t)n);
  for (int64_t c = 0; c < k; ++c)
    memcpy(Ba + c * m, B + c * n, sizeof(double) * (size_t)n);
  for (int64_t j = 0, r = 0; j < p; ++j)
    if (!pen || pen[j]) Aa[j * m + n + r++] = sqrt(lambda * (double)n);
  assert_int_equal(LAPACKE_dgels(LAPACK_COL_MAJOR, 'N', (int)m, (int)p, (int)k,
                                 Aa, (int)m, Ba, (int)m),
                   0);
  for (int64_t c = 0; c < k; ++c)
    memcpy(X + c * p, Ba + c * m, sizeof(double) * (size_t)p);
  free(Aa), free(Ba);
}

static void test_ridge(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t n = 300, p = 8, k = 4;
  double *A = xmalloc((size_t)(n * p)), *B = xmalloc((size_t)(n * k));
  fill_normal(A, n, p, 7, 30);
  fill_normal(B, n, k, 7, 31);
  for (int64_t i = 0; i < n; ++i) A[i] = 1.0; /* unpenalised intercept */
  for (int64_t c = 0; c < k; ++c)
    for (int64_t i = 0; i < n; ++i)
      B[c * n + i] += 2.0 + A[(1 + c) * n + i] - 0.5 * A[(5 + c % 3) * n + i];
  int pen[8] = {0, 1, 1, 1, 1, 1, 1, 1};
  const double lambda = 0.05;
  double *X = xmalloc((size_t)(p * k)), *Xr = xmalloc((size_t)(p * k));
  double *X0 = xmalloc((size_t)(p * k));
  w2s_lsq_info info;
  const int64_t blocks[] = {1, 37, 200, 0};
  for (int variant = 0; variant < 3; ++variant) {
    /* 0: intercept unpenalised, options at solve only; 1: the same with
     * the options known at creation; 2: every column penalised. */
    const int *pp = variant == 2 ? NULL : pen;
    w2s_lsq_opts opts = {lambda, pp, 0.0, "ridge"};
    assert_int_equal(solve_blocks(ctx, n, p, k, A, B, blocks, 4, &opts,
                                  variant == 1, X, &info),
                     W2S_OK);
    ridge_reference(n, p, k, A, B, lambda, pp, Xr);
    /* The augmented problem has cond ~ a few: 1e-11 relative leaves ~1e4
     * ulps for the different factorisation orders. */
    ASSERT_LE(lsq_rel_diff(X, Xr, p * k), 1e-11);
    assert_int_equal(info.rank, p);
  }
  /* The test is not vacuous: lambda shrinks the solution visibly. */
  w2s_lsq_opts ols = {0.0, NULL, 0.0, "ols"};
  assert_int_equal(solve_blocks(ctx, n, p, k, A, B, blocks, 4, &ols, 0, X0,
                                &info),
                   W2S_OK);
  assert_true(lsq_rel_diff(X, X0, p * k) > 1e-2);

  /* Ridge makes a rank-deficient design (a zero and a duplicated column,
   * all penalised) uniquely solvable: against the augmented dgels, and the
   * duplicates share the weight. */
  memset(A + 3 * n, 0, sizeof(double) * (size_t)n);
  memcpy(A + 6 * n, A + 2 * n, sizeof(double) * (size_t)n);
  w2s_lsq_opts all = {lambda, NULL, 0.0, "ridge, deficient"};
  assert_int_equal(solve_blocks(ctx, n, p, k, A, B, blocks, 4, &all, 0, X,
                                &info),
                   W2S_OK);
  ridge_reference(n, p, k, A, B, lambda, NULL, Xr);
  ASSERT_LE(lsq_rel_diff(X, Xr, p * k), 1e-11);
  for (int64_t c = 0; c < k; ++c) {
    ASSERT_LE(fabs(X[c * p + 3]), 1e-12 * fro(Xr, p * k));
    ASSERT_LE(fabs(X[c * p + 2] - X[c * p + 6]), 1e-11 * fro(Xr, p * k));
  }

  /* Fewer rows than unknowns: an error without ridge, a solution with. */
  const int64_t ns = 5;
  double *As = xmalloc((size_t)(ns * p)), *Bs = xmalloc((size_t)(ns * k));
  fill_normal(As, ns, p, 8, 1);
  fill_normal(Bs, ns, k, 8, 2);
  w2s_ctx *c2 = new_ctx();
  assert_int_equal(solve_blocks(c2, ns, p, k, As, Bs, blocks, 4, &ols, 0, X,
                                &info),
                   W2S_ERR_INPUT);
  assert_non_null(strstr(c2->msg, "underdetermined"));
  w2s_ctx_destroy(&c2);
  assert_int_equal(solve_blocks(ctx, ns, p, k, As, Bs, blocks, 4, &all, 0, X,
                                &info),
                   W2S_OK);
  ridge_reference(ns, p, k, As, Bs, lambda, NULL, Xr);
  ASSERT_LE(lsq_rel_diff(X, Xr, p * k), 1e-11);

  /* Options given at creation must match at solve. */
  c2 = new_ctx();
  w2s_lsq *ls = NULL;
  assert_int_equal(w2s_lsq_create_with(c2, "tsqr", p, k, &all, &ls), W2S_OK);
  double *Ac = xmalloc((size_t)(n * p)), *Bc = xmalloc((size_t)(n * k));
  memcpy(Ac, A, sizeof(double) * (size_t)(n * p));
  memcpy(Bc, B, sizeof(double) * (size_t)(n * k));
  assert_int_equal(w2s_lsq_add_rows(c2, ls, n, Ac, n, Bc, n), W2S_OK);
  w2s_lsq_opts other = all;
  other.ridge = 2 * lambda;
  assert_int_equal(w2s_lsq_solve(c2, ls, &other, X, &info), W2S_ERR_INTERNAL);
  w2s_lsq_destroy(&ls);
  w2s_ctx_destroy(&c2);
  free(A), free(B), free(X), free(Xr), free(X0), free(As), free(Bs), free(Ac),
      free(Bc);
  w2s_ctx_destroy(&ctx);
}

static void test_intercept(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t n = 250, p = 6, k = 3;
  double *A = xmalloc((size_t)(n * p)), *B = xmalloc((size_t)(n * k));
  fill_normal(A, n, p, 9, 40);
  fill_normal(B, n, k, 9, 41);
  /* Features with large means (nearly collinear with the ones column,
   * cond ~ 100) and a ones column in the middle. */
  for (int64_t j = 0; j < p; ++j)
    for (int64_t i = 0; i < n; ++i) A[j * n + i] = 30.0 + A[j * n + i];
  for (int64_t i = 0; i < n; ++i) A[2 * n + i] = 1.0;
  for (int64_t c = 0; c < k; ++c)
    for (int64_t i = 0; i < n; ++i) B[c * n + i] += 5.0 * (double)c + 1.0;
  double *X = xmalloc((size_t)(p * k)), *Xr = xmalloc((size_t)(p * k));
  w2s_lsq_opts opts = {0.0, NULL, 0.0, "intercept"};
  w2s_lsq_info info;
  const int64_t blocks[] = {3, 100, 0};
  assert_int_equal(solve_blocks(ctx, n, p, k, A, B, blocks, 3, &opts, 0, X,
                                &info),
                   W2S_OK);
  assert_int_equal(lsq_gelsd(n, p, k, A, B, -1.0, Xr, NULL), p);
  /* cond ~ 1e2 (offset 30 over unit noise): forward error ~ 1e-14;
   * 1e-11 relative. */
  ASSERT_LE(lsq_rel_diff(X, Xr, p * k), 1e-11);
  assert_int_equal(info.rank, p);
  /* With a ones column the residuals sum to zero (normal equation of the
   * intercept): |sum r| <= ~n * eps * max|B| per column; 1e-10 * sum|b|. */
  double *F = xmalloc((size_t)(n * k));
  fitted(n, p, k, A, X, F);
  for (int64_t c = 0; c < k; ++c) {
    double s = 0, sb = 0;
    for (int64_t i = 0; i < n; ++i) {
      s += B[c * n + i] - F[c * n + i];
      sb += fabs(B[c * n + i]);
    }
    ASSERT_LE(fabs(s), 1e-10 * sb);
  }
  free(A), free(B), free(X), free(Xr), free(F);
  w2s_ctx_destroy(&ctx);
}

static void test_k0(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t n = 40, p = 5;
  double *A = xmalloc((size_t)(n * p));
  fill_normal(A, n, p, 10, 1);
  double Bdummy[1] = {0}, Xdummy[1] = {-1.0};
  w2s_lsq *ls = NULL;
  assert_int_equal(w2s_lsq_create(ctx, "tsqr", p, 0, &ls), W2S_OK);
  assert_int_equal(w2s_lsq_add_rows(ctx, ls, 13, A, n, Bdummy, 1), W2S_OK);
  assert_int_equal(w2s_lsq_add_rows(ctx, ls, n - 13, A + 13, n, Bdummy, 1),
                   W2S_OK);
  w2s_lsq_opts opts = {0.0, NULL, 0.0, "k = 0"};
  w2s_lsq_info info;
  assert_int_equal(w2s_lsq_solve(ctx, ls, &opts, Xdummy, &info), W2S_OK);
  /* The factorisation still ran: full rank, all rows counted; X (0
   * entries) untouched. */
  assert_int_equal(info.rank, p);
  assert_int_equal(info.nrows, n);
  assert_true(Xdummy[0] == -1.0);
  w2s_lsq_destroy(&ls);
  free(A);
  w2s_ctx_destroy(&ctx);
}

static void test_rank_tol(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t n = 200, p = 7, k = 2;
  double *A = xmalloc((size_t)(n * p)), *B = xmalloc((size_t)(n * k));
  make_svd_matrix(n, p, 6.0, 11, A, NULL); /* spectrum 1 .. 1e-6 */
  fill_normal(B, n, k, 11, 3);
  double sv[7];
  equilibrated_sv(n, p, A, sv);
  double *X = xmalloc((size_t)(p * k)), *Xr = xmalloc((size_t)(p * k));
  w2s_lsq_info info = {0};
  const int64_t blocks[] = {50, 0};
  for (int64_t r = 1; r <= p; ++r) {
    /* A cutoff halfway (geometrically) between the r-th and (r+1)-th
     * equilibrated singular values must keep exactly r of them. */
    double tol = r < p ? sqrt(sv[r - 1] * sv[r]) / sv[0]
                       : 0.5 * sv[p - 1] / sv[0];
    assert_true(r == p || sv[r - 1] / sv[r] > 1.5); /* a clear gap */
    w2s_lsq_opts opts = {0.0, NULL, tol, "rank_tol"};
    assert_int_equal(solve_blocks(ctx, n, p, k, A, B, blocks, 2, &opts, 0, X,
                                  &info),
                     W2S_OK);
    if (info.rank != r)
      print_error("rank_tol %g: rank %lld, expected %lld\n", tol,
                  (long long)info.rank, (long long)r);
    assert_int_equal(info.rank, r);
    assert_int_equal(lsq_gelsd_equilibrated(n, p, k, A, B, tol, Xr, NULL), r);
    /* The truncated solution (and the kept singular values) carry errors
     * ~eps * cond_kept, cond_kept = s_0 / s_{r-1} of the equilibrated
     * design (1 .. ~2e6 here; observed: 400 * eps * cond_kept at most):
     * 1e3 * eps * cond_kept per r; the same for info.cond with the full
     * condition number. */
    const double tol_r = 1e3 * DBL_EPSILON * (sv[0] / sv[r - 1]);
    ASSERT_LE(lsq_rel_diff(X, Xr, p * k), tol_r);
    ASSERT_LE(fabs(info.cond_kept / (sv[0] / sv[r - 1]) - 1.0), tol_r);
    ASSERT_LE(fabs(info.cond / (sv[0] / sv[p - 1]) - 1.0),
              1e3 * DBL_EPSILON * (sv[0] / sv[p - 1]));
  }
  /* rank_tol = 1 keeps nothing: rank 0 and X = 0. */
  w2s_lsq_opts opts = {0.0, NULL, 1.0, "rank_tol 1"};
  for (int64_t i = 0; i < p * k; ++i) X[i] = 5.0;
  assert_int_equal(solve_blocks(ctx, n, p, k, A, B, blocks, 2, &opts, 0, X,
                                &info),
                   W2S_OK);
  assert_int_equal(info.rank, 0);
  for (int64_t i = 0; i < p * k; ++i) assert_true(X[i] == 0.0);
  free(A), free(B), free(X), free(Xr);
  w2s_ctx_destroy(&ctx);
}

/* A non-finite value is refused with the global row named. */
static void test_nonfinite(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t n = 60, p = 3, k = 1;
  double *A = xmalloc((size_t)(n * p)), *B = xmalloc((size_t)(n * k));
  fill_normal(A, n, p, 12, 1);
  fill_normal(B, n, k, 12, 2);
  A[1 * n + 41] = INFINITY;
  w2s_lsq *ls = NULL;
  assert_int_equal(w2s_lsq_create(ctx, "tsqr", p, k, &ls), W2S_OK);
  w2s_lsq_set_context(ls, "nan fit", 1000);
  assert_int_equal(w2s_lsq_add_rows(ctx, ls, 20, A, n, B, n), W2S_OK);
  assert_int_equal(w2s_lsq_add_rows(ctx, ls, n - 20, A + 20, n, B + 20, n),
                   W2S_ERR_INPUT);
  /* Row 41 of the fit, whose first row is global row 1000. */
  if (!strstr(ctx->msg, "row 1041")) print_error("msg: %s\n", ctx->msg);
  assert_non_null(strstr(ctx->msg, "row 1041"));
  assert_non_null(strstr(ctx->msg, "nan fit"));
  w2s_lsq_destroy(&ls);
  free(A), free(B);
  w2s_ctx_destroy(&ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_well_conditioned),
      cmocka_unit_test(test_ill_conditioned),
      cmocka_unit_test(test_rank_deficient_zero),
      cmocka_unit_test(test_rank_deficient_zero_first),
      cmocka_unit_test(test_rank_deficient_zero_last),
      cmocka_unit_test(test_rank_deficient_dup),
      cmocka_unit_test(test_rank_deficient_combo),
      cmocka_unit_test(test_rank_deficient_all),
      cmocka_unit_test(test_ridge),
      cmocka_unit_test(test_intercept),
      cmocka_unit_test(test_k0),
      cmocka_unit_test(test_rank_tol),
      cmocka_unit_test(test_nonfinite),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
