/* The stacked-factor functions (lsq.h: w2s_lsq_copy_r, w2s_lsq_apply_r,
 * w2s_lsq_subfit) and w2s_mlp_same, local context, against independent
 * references:
 *  - copy_r: R^T R against Z^T Z accumulated in long double, R upper
 *    triangular with exact zeros below; refusals of other solvers and of a
 *    pass that has not ended;
 *  - subfit: LAPACK on the explicitly formed Z[:, cols] and Z V (dgelsd;
 *    dgels on the augmented system for ridge; dgelsd on the equilibrated
 *    columns for the minimum-norm rank-deficient solution), the exact copy
 *    of a target supported on cols, the underdetermined refusal;
 *  - apply_r: ||R u|| and (R u).(R w) against Z u accumulated in long
 *    double row by row;
 *  - w2s_mlp_same: clones, one-ulp changes, shapes with the same number of
 *    parameters.
 *
 * Error bounds (used throughout; eps = DBL_EPSILON):
 *  Householder QR, and TSQR (a Householder QR in another order), is
 *  columnwise backward stable: R = Q^T (Z + dZ) with Q exactly orthogonal
 *  and ||dZ_j|| <= gamma ||Z_j|| for every column j (Higham, Accuracy and
 *  Stability of Numerical Algorithms, 2nd ed., Thm 19.4). The worst case
 *  there is gamma ~ n D eps; rounding errors add up like a random walk
 *  (Higham 3.6), and streaming folds the rows in b blocks one after the
 *  other (each fold a Householder QR of the (D + m) x D stack of R and the
 *  block), so in practice gamma ~ c D eps sqrt(b) with c of order one.
 *  Measured for n = 1000, D = 12: c = 0.04 .. 0.25 for block sizes 1, 2,
 *  3, 7, 20, 100 and 1000 (all rows at once), under the three OpenBLAS
 *  kernels; the tolerances below allow c = 1. Then
 *    R^T R - Z^T Z = dZ^T (Z + dZ) + Z^T dZ, so
 *    |(R^T R - Z^T Z)_ij| <= (2 gamma + gamma^2) ||Z_i|| ||Z_j||,
 *    | ||R u|| - ||Z u|| | <= ||dZ u|| <= gamma sum_j |u_j| ||Z_j||.
 *  A wrong factor (a lost or doubled block, a transposed or permuted R)
 *  misses these by O(1), i.e. by ~10^13 in these units. */
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
#include "w2s/repr.h"
#include "w2s/rng.h"

#define EPS DBL_EPSILON

static w2s_ctx *new_ctx(void) {
  w2s_ctx *ctx = NULL;
  assert_int_equal(w2s_ctx_create(MPI_COMM_NULL, 0, &ctx), W2S_OK);
  return ctx;
}

/* Stacked features like simulate's: Z (n x D), column 0 all ones (the
 * intercept), column j > 0 = 2 + s_j N(0, 1) + 0.5 Z_{j-1} (means, scales
 * s_j = 2^((j - 6) / 2) spanning ~1e2, and correlated neighbours), from the
 * seed's stream. */
static void make_Z(int64_t n, int64_t D, uint64_t seed, double *Z) {
  for (int64_t i = 0; i < n; ++i) Z[i] = 1.0;
  for (int64_t j = 1; j < D; ++j) {
    w2s_rng_normal(seed, 50, (uint64_t)j, 0, 0, n, Z + j * n);
    double s = pow(2.0, ((double)j - 6.0) / 2.0);
    for (int64_t i = 0; i < n; ++i)
      Z[j * n + i] = 2.0 + s * Z[j * n + i] +
                     (j > 1 ? 0.5 * Z[(j - 1) * n + i] : 0.0);
  }
}

/* Feed the n rows of Z into a fresh tsqr accumulator (D columns, k = 0) in
 * blocks of the given sizes (0: the rest), each copied into a buffer with
 * leading dimension m + 3 and NaN padding (a read past the block poisons
 * R), end the pass and copy R into z (z->R: D * D doubles, allocated
 * here). Returns the number of blocks fed. */
static int64_t stacked_of(w2s_ctx *ctx, int64_t n, int64_t D, const double *Z,
                          const int64_t *blocks, int nblocks,
                          w2s_lsq_stacked *z) {
  w2s_lsq *ls = NULL;
  assert_int_equal(w2s_lsq_create(ctx, "tsqr", D, 0, &ls), W2S_OK);
  double *Zb = xmalloc((size_t)((n + 3) * D)), Bdummy[1] = {0};
  int64_t b = 0;
  for (int64_t i = 0; i < n; ++b) {
    int64_t m = b < nblocks && blocks[b] > 0 ? blocks[b] : n - i;
    if (m > n - i) m = n - i;
    int64_t ld = m + 3;
    for (int64_t t = 0; t < ld * D; ++t) Zb[t] = NAN;
    for (int64_t j = 0; j < D; ++j)
      memcpy(Zb + j * ld, Z + j * n + i, sizeof(double) * (size_t)m);
    assert_int_equal(w2s_lsq_add_rows(ctx, ls, m, Zb, ld, Bdummy, ld), W2S_OK);
    i += m;
  }
  int more = -1;
  assert_int_equal(w2s_lsq_end_pass(ctx, ls, &more), W2S_OK);
  assert_int_equal(more, 0);
  z->R = xmalloc((size_t)(D * D));
  for (int64_t t = 0; t < D * D; ++t) z->R[t] = NAN; /* all overwritten */
  z->D = -1;
  z->nrows = -1;
  assert_int_equal(w2s_lsq_copy_r(ctx, ls, z), W2S_OK);
  w2s_lsq_destroy(&ls);
  free(Zb);
  return b;
}

static double col_norm(int64_t n, const double *col) {
  long double s = 0;
  for (int64_t i = 0; i < n; ++i) s += (long double)col[i] * col[i];
  return (double)sqrtl(s);
}

/* max_ij |(R^T R - Z^T Z)_ij| / (||Z_i|| ||Z_j|| D eps), both products in
 * long double (their own rounding ~n eps_ld, 2000x below the QR's). */
static double gram_ratio(int64_t n, int64_t D, const double *Z,
                         const double *R) {
  double worst = 0;
  for (int64_t i = 0; i < D; ++i)
    for (int64_t j = 0; j < D; ++j) {
      long double g = 0, h = 0;
      for (int64_t r = 0; r < n; ++r)
        g += (long double)Z[i * n + r] * Z[j * n + r];
      for (int64_t r = 0; r < D; ++r)
        h += (long double)R[i * D + r] * R[j * D + r];
      double scale = col_norm(n, Z + i * n) * col_norm(n, Z + j * n);
      double q = (double)fabsl(h - g) / (scale * (double)D * EPS);
      if (!(q <= worst)) worst = q; /* NaN propagates */
    }
  return worst;
}

/* Z[:, cols] (n x p). */
static void gather(int64_t n, const double *Z, const int64_t *cols, int64_t p,
                   double *Zs) {
  for (int64_t j = 0; j < p; ++j)
    memcpy(Zs + j * n, Z + cols[j] * n, sizeof(double) * (size_t)n);
}

/* B (n x k) = Z V, V with leading dimension ldv. */
static void targets(int64_t n, int64_t D, int64_t k, const double *Z,
                    const double *V, int64_t ldv, double *B) {
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)D,
              1.0, Z, (int)n, V, (int)ldv, 0.0, B, (int)n);
}

/* cond_2 of A (n x p, n >= p) and rho = ||B - A X||_F / (||A||_2 ||X||_F)
 * for the solution X: the two numbers of the least-squares perturbation
 * bound cond eps (1 + cond rho) (lsq_ref_fwd_bound). */
static double cond2(int64_t n, int64_t p, const double *A) {
  double *sv = xmalloc((size_t)p);
  lsq_ref_singular_values(n, p, A, sv);
  double c = sv[p - 1] > 0 ? sv[0] / sv[p - 1] : INFINITY;
  free(sv);
  return c;
}
static double rho_of(int64_t n, int64_t p, int64_t k, const double *A,
                     const double *B, const double *X) {
  double *sv = xmalloc((size_t)p), *F = xmalloc((size_t)(n * k));
  lsq_ref_singular_values(n, p, A, sv);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)p,
              1.0, A, (int)n, X, (int)p, 0.0, F, (int)n);
  double r2 = 0;
  for (int64_t i = 0; i < n * k; ++i) r2 += (B[i] - F[i]) * (B[i] - F[i]);
  double xn = cblas_dnrm2((int)(p * k), X, 1);
  double rho = xn > 0 ? sqrt(r2) / (sv[0] * xn) : 0.0;
  free(sv), free(F);
  return rho;
}

/* ---- copy_r ------------------------------------------------------------ */

static void test_copy_r_gram(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t n = 1000, D = 12;
  double *Z = xmalloc((size_t)(n * D));
  make_Z(n, D, 1, Z);
  int64_t sevens[200], ones[1000];
  for (int i = 0; i < 200; ++i) sevens[i] = 7;
  for (int i = 0; i < 1000; ++i) ones[i] = 1;
  const int64_t uneven[] = {1, 37, 200, 0}, all[] = {0};
  struct {
    const int64_t *b;
    int nb;
  } layouts[] = {{uneven, 4}, {all, 1}, {sevens, 200}, {ones, 1000}};
  for (size_t L = 0; L < sizeof layouts / sizeof layouts[0]; ++L) {
    w2s_lsq_stacked z;
    int64_t nb = stacked_of(ctx, n, D, Z, layouts[L].b, layouts[L].nb, &z);
    assert_int_equal(z.D, D);
    assert_int_equal(z.nrows, n);
    /* Upper triangular, exactly zero below the diagonal (LAPACK keeps its
     * reflectors there; the documented R must not). */
    for (int64_t j = 0; j < D; ++j)
      for (int64_t i = j + 1; i < D; ++i) assert_true(z.R[j * D + i] == 0.0);
    for (int64_t t = 0; t < D * D; ++t) assert_true(isfinite(z.R[t]));
    /* |(R^T R - Z^T Z)_ij| <= (2 gamma + gamma^2) ||Z_i|| ||Z_j|| with
     * gamma = c D eps sqrt(b) (header): 2 sqrt(b) D eps is c = 1; measured
     * 0.26-0.50 (b = 1), 0.32-0.39 (4), 1.3-1.6 (143), 2.3 (1000) in units
     * of D eps over the three OpenBLAS kernels. */
    double q = gram_ratio(n, D, Z, z.R);
    print_message("copy_r, %lld blocks: Gram ratio %.3g (units of D eps)\n",
                  (long long)nb, q);
    ASSERT_LE(q, 2.0 * sqrt((double)nb));
    free(z.R);
  }
  /* Not vacuous: the check sees a lost row (its Gram entries move by
   * ~1/n relative, ~1e12 in the units above). */
  double *Zm = xmalloc((size_t)((n - 1) * D));
  for (int64_t j = 0; j < D; ++j)
    memcpy(Zm + j * (n - 1), Z + j * n, sizeof(double) * (size_t)(n - 1));
  w2s_lsq_stacked z;
  stacked_of(ctx, n - 1, D, Zm, all, 1, &z);
  assert_true(gram_ratio(n, D, Z, z.R) > 1e6);
  free(z.R), free(Zm), free(Z);
  w2s_ctx_destroy(&ctx);
}

/* copy_r refuses every other solver of the table (after its passes ended)
 * and a tsqr accumulator whose pass has not ended (none yet, or rows fed
 * after end_pass), with W2S_ERR_INTERNAL. */
static void test_copy_r_refusals(void **state) {
  (void)state;
  const int64_t n = 60, D = 4;
  double *Z = xmalloc((size_t)(n * D)), *Zc = xmalloc((size_t)(n * D));
  double *B = xmalloc((size_t)n), *Bc = xmalloc((size_t)n);
  make_Z(n, D, 2, Z);
  w2s_rng_normal(2, 51, 0, 0, 0, n, B);
  double R[16];
  int refused = 0;
  for (int s = 0; w2s_lsq_solvers[s]; ++s) {
    const char *name = w2s_lsq_solvers[s]->name;
    if (strcmp(name, "tsqr") == 0) continue;
    w2s_ctx *ctx = new_ctx();
    w2s_lsq *ls = NULL;
    if (w2s_lsq_create(ctx, name, D, 1, &ls) != W2S_OK) {
      /* A solver that cannot run here (none today) is not a tsqr one. */
      print_message("copy_r refusal: '%s' not creatable: %s\n", name, ctx->msg);
      w2s_ctx_destroy(&ctx);
      continue;
    }
    int more = 1;
    for (int pass = 0; more && pass < 8; ++pass) {
      memcpy(Zc, Z, sizeof(double) * (size_t)(n * D));
      memcpy(Bc, B, sizeof(double) * (size_t)n);
      assert_int_equal(w2s_lsq_add_rows(ctx, ls, n, Zc, n, Bc, n), W2S_OK);
      assert_int_equal(w2s_lsq_end_pass(ctx, ls, &more), W2S_OK);
    }
    assert_int_equal(more, 0);
    w2s_lsq_stacked z = {0, 0, R};
    if (w2s_lsq_copy_r(ctx, ls, &z) != W2S_ERR_INTERNAL)
      print_error("copy_r accepted solver '%s'\n", name);
    assert_int_equal(ctx->err, W2S_ERR_INTERNAL);
    assert_non_null(strstr(ctx->msg, "tsqr"));
    ++refused;
    w2s_lsq_destroy(&ls);
    w2s_ctx_destroy(&ctx);
  }
  assert_true(refused >= 4); /* auto, cholqr2, scholqr3, normal, ... */

  /* tsqr: no pass ended yet (with and without rows), then rows fed after
   * end_pass (a second pass begun). */
  for (int variant = 0; variant < 3; ++variant) {
    w2s_ctx *ctx = new_ctx();
    w2s_lsq *ls = NULL;
    assert_int_equal(w2s_lsq_create(ctx, "tsqr", D, 0, &ls), W2S_OK);
    memcpy(Zc, Z, sizeof(double) * (size_t)(n * D));
    if (variant >= 1)
      assert_int_equal(w2s_lsq_add_rows(ctx, ls, n, Zc, n, Bc, n), W2S_OK);
    if (variant == 2) {
      int more = -1;
      assert_int_equal(w2s_lsq_end_pass(ctx, ls, &more), W2S_OK);
      w2s_lsq_stacked ok = {0, 0, R};
      assert_int_equal(w2s_lsq_copy_r(ctx, ls, &ok), W2S_OK); /* ended */
      memcpy(Zc, Z, sizeof(double) * (size_t)(n * D));
      assert_int_equal(w2s_lsq_add_rows(ctx, ls, 5, Zc, n, Bc, n), W2S_OK);
    }
    w2s_lsq_stacked z = {0, 0, R};
    if (w2s_lsq_copy_r(ctx, ls, &z) != W2S_ERR_INTERNAL)
      print_error("copy_r accepted a tsqr pass not ended (variant %d)\n",
                  variant);
    assert_int_equal(ctx->err, W2S_ERR_INTERNAL);
    w2s_lsq_destroy(&ls);
    w2s_ctx_destroy(&ctx);
  }
  free(Z), free(Zc), free(B), free(Bc);
}

/* ---- subfit -------------------------------------------------------------- */

/* V (D x k, leading dimension ldv = D + 2, NaN in the two padding rows:
 * subfit must read D rows only) of N(0, 1). */
static double *make_V(int64_t D, int64_t k, int64_t ldv, uint64_t seed) {
  double *V = xmalloc((size_t)(ldv * k));
  for (int64_t c = 0; c < k; ++c) {
    w2s_rng_normal(seed, 60, (uint64_t)c, 0, 0, D, V + c * ldv);
    for (int64_t i = D; i < ldv; ++i) V[c * ldv + i] = NAN;
  }
  return V;
}

static const int64_t uneven_blocks[] = {1, 37, 200, 0};

/* Full rank, no ridge: X against dgelsd on Z[:, cols] and Z V formed
 * explicitly. The columns are neither contiguous nor sorted and include the
 * ones column. */
static void test_subfit_full_rank(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t n = 500, D = 12, k = 3, ldv = D + 2, p = 5;
  const int64_t cols[5] = {7, 0, 3, 10, 5};
  double *Z = xmalloc((size_t)(n * D));
  make_Z(n, D, 3, Z);
  w2s_lsq_stacked z;
  stacked_of(ctx, n, D, Z, uneven_blocks, 4, &z);
  double *V = make_V(D, k, ldv, 3);
  double *Zs = xmalloc((size_t)(n * p)), *B = xmalloc((size_t)(n * k));
  gather(n, Z, cols, p, Zs);
  targets(n, D, k, Z, V, ldv, B);
  double *X = xmalloc((size_t)(p * k)), *Xr = xmalloc((size_t)(p * k));
  w2s_lsq_opts opts = {0.0, NULL, 0.0, "subfit"};
  w2s_lsq_info info;
  assert_int_equal(w2s_lsq_subfit(ctx, &z, cols, p, V, ldv, k, &opts, X, &info),
                   W2S_OK);
  assert_int_equal(lsq_gelsd(n, p, k, Zs, B, -1.0, Xr, NULL), p);
  assert_int_equal(info.rank, p);
  assert_int_equal(info.nrows, n);
  assert_string_equal(info.method, "factor");
  /* Both are backward stable for the same problem (subfit's perturbation
   * is that of the factor, ~gamma per column of Z, header, then a QR of the
   * D x p block): forward error <= ~c cond eps (1 + cond rho) each
   * (lsq_ref_fwd_bound), cond = cond(Z[:, cols]) = 83 here, rho = 0.08.
   * c = 100; measured c = 0.013. */
  double cond = cond2(n, p, Zs), rho = rho_of(n, p, k, Zs, B, Xr);
  print_message("subfit full rank: cond %.3g rho %.3g\n", cond, rho);
  double tol = 100.0 * lsq_ref_fwd_bound(cond, rho);
  print_message("  |X - X_lapack| / |X| = %.3g = %.3g x cond eps (1 + cond "
                "rho)\n",
                lsq_rel_diff(X, Xr, p * k),
                lsq_rel_diff(X, Xr, p * k) / lsq_ref_fwd_bound(cond, rho));
  ASSERT_LE(lsq_rel_diff(X, Xr, p * k), tol);
  /* Per right-hand side too (a swapped pair of columns of X would pass the
   * Frobenius check only if the columns were close: they are not). */
  for (int64_t c = 0; c < k; ++c)
    ASSERT_LE(lsq_rel_diff(X + c * p, Xr + c * p, p), tol);
  /* The fit is not trivial: the targets are not in span(Z[:, cols]). */
  assert_true(rho > 1e-3);
  /* k = 0 still factors (and reports the rank); X untouched. */
  double Xd[1] = {-7.0};
  assert_int_equal(w2s_lsq_subfit(ctx, &z, cols, p, V, ldv, 0, &opts, Xd,
                                  &info),
                   W2S_OK);
  assert_int_equal(info.rank, p);
  assert_true(Xd[0] == -7.0);
  free(Z), free(z.R), free(V), free(Zs), free(B), free(X), free(Xr);
  w2s_ctx_destroy(&ctx);
}

/* Ridge with a penalize mask (the ones column unpenalised): against dgels
 * on the augmented [Z_S; sqrt(ridge n) I_pen] x = [Z V; 0]. */
static void test_subfit_ridge(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t n = 500, D = 12, k = 3, ldv = D + 2, p = 5;
  const int64_t cols[5] = {7, 0, 3, 10, 5};
  const int pen[5] = {1, 0, 1, 1, 1};
  const double lambda = 0.05;
  double *Z = xmalloc((size_t)(n * D));
  make_Z(n, D, 4, Z);
  w2s_lsq_stacked z;
  stacked_of(ctx, n, D, Z, uneven_blocks, 4, &z);
  double *V = make_V(D, k, ldv, 4);
  int64_t m = n + p;
  double *Za = xmalloc((size_t)(m * p)), *Ba = xmalloc((size_t)(m * k));
  double *B = xmalloc((size_t)(n * k));
  targets(n, D, k, Z, V, ldv, B);
  for (int64_t j = 0; j < p; ++j) {
    memcpy(Za + j * m, Z + cols[j] * n, sizeof(double) * (size_t)n);
    if (pen[j]) Za[j * m + n + j] = sqrt(lambda * (double)n);
  }
  for (int64_t c = 0; c < k; ++c)
    memcpy(Ba + c * m, B + c * n, sizeof(double) * (size_t)n);
  /* cond and rho of the augmented problem, before dgels overwrites it. */
  double *Za0 = xmalloc((size_t)(m * p)), *Ba0 = xmalloc((size_t)(m * k));
  memcpy(Za0, Za, sizeof(double) * (size_t)(m * p));
  memcpy(Ba0, Ba, sizeof(double) * (size_t)(m * k));
  assert_int_equal(LAPACKE_dgels(LAPACK_COL_MAJOR, 'N', (int)m, (int)p, (int)k,
                                 Za, (int)m, Ba, (int)m),
                   0);
  double *Xr = xmalloc((size_t)(p * k)), *X = xmalloc((size_t)(p * k));
  for (int64_t c = 0; c < k; ++c)
    memcpy(Xr + c * p, Ba + c * m, sizeof(double) * (size_t)p);
  w2s_lsq_opts opts = {lambda, pen, 0.0, "subfit ridge"};
  w2s_lsq_info info;
  assert_int_equal(w2s_lsq_subfit(ctx, &z, cols, p, V, ldv, k, &opts, X, &info),
                   W2S_OK);
  assert_int_equal(info.rank, p);
  /* The augmented system is a least-squares problem like any other: both
   * solutions within c cond_aug eps (1 + cond_aug rho_aug), c = 100
   * (cond_aug = 75, rho_aug = 0.12; measured c = 0.012). */
  double cond = cond2(m, p, Za0), rho = rho_of(m, p, k, Za0, Ba0, Xr);
  print_message("subfit ridge: augmented cond %.3g rho %.3g\n", cond, rho);
  print_message("  |X - X_lapack| / |X| = %.3g = %.3g x cond eps (1 + cond "
                "rho)\n",
                lsq_rel_diff(X, Xr, p * k),
                lsq_rel_diff(X, Xr, p * k) / lsq_ref_fwd_bound(cond, rho));
  ASSERT_LE(lsq_rel_diff(X, Xr, p * k), 100.0 * lsq_ref_fwd_bound(cond, rho));
  /* Not vacuous: against the unpenalised fit, and against penalising the
   * ones column too, the ridge solution differs visibly. */
  w2s_lsq_opts ols = {0.0, NULL, 0.0, "ols"}, all = {lambda, NULL, 0.0, "all"};
  double *X0 = xmalloc((size_t)(p * k));
  assert_int_equal(w2s_lsq_subfit(ctx, &z, cols, p, V, ldv, k, &ols, X0, &info),
                   W2S_OK);
  assert_true(lsq_rel_diff(X, X0, p * k) > 1e-3);
  assert_int_equal(w2s_lsq_subfit(ctx, &z, cols, p, V, ldv, k, &all, X0, &info),
                   W2S_OK);
  assert_true(lsq_rel_diff(X, X0, p * k) > 1e-3);
  free(Z), free(z.R), free(V), free(Za), free(Ba), free(B), free(Za0),
      free(Ba0), free(Xr), free(X), free(X0);
  w2s_ctx_destroy(&ctx);
}

/* A subset with an exactly zero column and a duplicated pair (column 4 =
 * 3 x column 2: a scaled copy, so that the minimum norm in equilibrated
 * variables, w2s's rule, differs from the raw one): the minimum-norm
 * solution in column-equilibrated variables,
 * against dgelsd on the equilibrated Z[:, cols] with the same relative
 * cutoff eps max(n, p); fitted values against dgelsd on Z[:, cols] itself;
 * the zero column's coefficient exactly 0. */
static void test_subfit_rank_deficient(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t n = 500, D = 12, k = 3, ldv = D + 2, p = 6;
  const int64_t zero = 9, dup_of = 2, dup = 4;
  const int64_t cols[6] = {9, 2, 0, 6, 4, 11}; /* zero, dup_of, 1, ., dup, . */
  double *Z = xmalloc((size_t)(n * D));
  make_Z(n, D, 5, Z);
  memset(Z + zero * n, 0, sizeof(double) * (size_t)n);
  for (int64_t i = 0; i < n; ++i) Z[dup * n + i] = 3.0 * Z[dup_of * n + i];
  w2s_lsq_stacked z;
  stacked_of(ctx, n, D, Z, uneven_blocks, 4, &z);
  double *V = make_V(D, k, ldv, 5);
  double *Zs = xmalloc((size_t)(n * p)), *B = xmalloc((size_t)(n * k));
  gather(n, Z, cols, p, Zs);
  targets(n, D, k, Z, V, ldv, B);
  double *X = xmalloc((size_t)(p * k)), *Xr = xmalloc((size_t)(p * k));
  double *Xa = xmalloc((size_t)(p * k)), sv[6];
  w2s_lsq_opts opts = {0.0, NULL, 0.0, "subfit deficient"};
  w2s_lsq_info info;
  assert_int_equal(w2s_lsq_subfit(ctx, &z, cols, p, V, ldv, k, &opts, X, &info),
                   W2S_OK);
  assert_int_equal(info.rank, p - 2);
  /* The same cutoff as w2s's default rank_tol (eps max(n, p), relative to
   * the largest equilibrated singular value), and a clean gap around it:
   * kept values >= 1e3 x the cutoff, dropped ones < 0.1 x (the scaled
   * copy's is ~eps: 3 x rounds; a zero column's exactly 0), so both make
   * the same decision. */
  const double rcond = EPS * (double)n;
  int r = lsq_gelsd_equilibrated(n, p, k, Zs, B, rcond, Xr, sv);
  assert_int_equal(r, p - 2);
  assert_true(sv[p - 3] > 1e3 * rcond * sv[0]);
  assert_true(sv[p - 2] < 0.1 * rcond * sv[0]);
  /* The minimum-norm solution on the kept subspace is as well-conditioned
   * as cond_kept = s_0 / s_{r-1} of the equilibrated design: forward error
   * ~c cond_kept eps (1 + cond_kept rho), c = 100 as above (cond_kept =
   * 30, rho = 0.11; measured c = 0.16 .. 0.28 over the kernels). */
  double cond_kept = sv[0] / sv[p - 3];
  double rho = rho_of(n, p, k, Zs, B, Xr);
  print_message("subfit deficient: cond_kept %.3g rho %.3g\n", cond_kept, rho);
  double tol = 100.0 * lsq_ref_fwd_bound(cond_kept, rho);
  print_message("  |X - X_lapack| / |X| = %.3g = %.3g x cond_kept eps (1 + "
                "cond_kept rho)\n",
                lsq_rel_diff(X, Xr, p * k),
                lsq_rel_diff(X, Xr, p * k) / lsq_ref_fwd_bound(cond_kept, rho));
  ASSERT_LE(lsq_rel_diff(X, Xr, p * k), tol);
  ASSERT_LE(fabs(info.cond_kept / cond_kept - 1.0), tol);
  /* Fitted values are unique whatever the scaling: against dgelsd on Z_S
   * itself (raw column norms span ~1e2: rcond 1e-10 sits in the same gap)
   * to c cond_kept eps ||b|| (Wedin), c = 100 (measured 0.08 .. 0.16). */
  assert_int_equal(lsq_gelsd(n, p, k, Zs, B, 1e-10, Xa, NULL), p - 2);
  double *F = xmalloc((size_t)(n * k)), *Fa = xmalloc((size_t)(n * k));
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)p,
              1.0, Zs, (int)n, X, (int)p, 0.0, F, (int)n);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)p,
              1.0, Zs, (int)n, Xa, (int)p, 0.0, Fa, (int)n);
  print_message("  fitted values: %.3g = %.3g x cond_kept eps\n",
                lsq_rel_diff(F, Fa, n * k),
                lsq_rel_diff(F, Fa, n * k) / (cond_kept * EPS));
  ASSERT_LE(lsq_rel_diff(F, Fa, n * k), 100.0 * cond_kept * EPS);
  for (int64_t c = 0; c < k; ++c) {
    /* The copies share the weight equally in equilibrated variables:
     * x_dup 3 ||z|| = x_of ||z||, i.e. 3 x_dup = x_of (the raw minimum
     * norm would split it as x_dup = 3 x_of: off by a factor 9). */
    ASSERT_LE(fabs(3.0 * X[c * p + 4] - X[c * p + 1]),
              tol * fabs(X[c * p + 1]));
    assert_true(X[c * p + 1] != 0.0);
    /* A zero column carries no information: exactly 0, not rounding. */
    if (X[c * p + 0] != 0.0)
      print_error("zero column coefficient, rhs %lld: %.17g\n", (long long)c,
                  X[c * p + 0]);
    assert_true(X[c * p + 0] == 0.0);
  }
  free(Z), free(z.R), free(V), free(Zs), free(B), free(X), free(Xr), free(Xa),
      free(F), free(Fa);
  w2s_ctx_destroy(&ctx);
}

/* A target supported on cols alone (ridge 0, full rank) is returned
 * exactly: V[cols] bit for bit; a zero target gives exactly 0; a general
 * target beside them is still fitted. With ridge, no such shortcut. */
static void test_subfit_exact(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t n = 500, D = 12, k = 3, ldv = D + 2, p = 5;
  const int64_t cols[5] = {7, 0, 3, 10, 5};
  double *Z = xmalloc((size_t)(n * D));
  make_Z(n, D, 6, Z);
  w2s_lsq_stacked z;
  stacked_of(ctx, n, D, Z, uneven_blocks, 4, &z);
  double *V = make_V(D, k, ldv, 6);
  /* Column 0: supported on cols (values not representable in few bits, so
   * a computed solution would differ in the last bits); column 1: zero;
   * column 2: general. */
  for (int64_t i = 0; i < D; ++i) V[i] = 0.0, V[ldv + i] = 0.0;
  for (int64_t j = 0; j < p; ++j) V[cols[j]] = 1.0 / 3.0 + 0.1 * (double)j;
  double *X = xmalloc((size_t)(p * k)), *Xr = xmalloc((size_t)(p * k));
  w2s_lsq_opts opts = {0.0, NULL, 0.0, "subfit exact"};
  w2s_lsq_info info;
  assert_int_equal(w2s_lsq_subfit(ctx, &z, cols, p, V, ldv, k, &opts, X, &info),
                   W2S_OK);
  assert_int_equal(info.rank, p);
  for (int64_t j = 0; j < p; ++j) {
    /* Bit for bit: equal non-NaN values with the same sign bit. */
    int same = X[j] == V[cols[j]] && !signbit(X[j]) == !signbit(V[cols[j]]);
    if (!same)
      print_error("x[%lld] = %.17g, v[cols] = %.17g\n", (long long)j, X[j],
                  V[cols[j]]);
    assert_true(same);
    assert_true(X[p + j] == 0.0 && !signbit(X[p + j]));
  }
  /* The general column: against dgelsd as in test_subfit_full_rank. */
  double *Zs = xmalloc((size_t)(n * p)), *B = xmalloc((size_t)n);
  gather(n, Z, cols, p, Zs);
  targets(n, D, 1, Z, V + 2 * ldv, ldv, B);
  assert_int_equal(lsq_gelsd(n, p, 1, Zs, B, -1.0, Xr, NULL), p);
  double cond = cond2(n, p, Zs), rho = rho_of(n, p, 1, Zs, B, Xr);
  ASSERT_LE(lsq_rel_diff(X + 2 * p, Xr, p),
            100.0 * lsq_ref_fwd_bound(cond, rho));
  /* With ridge the supported target is shrunk, not copied. */
  w2s_lsq_opts ridge = {0.05, NULL, 0.0, "subfit exact, ridge"};
  assert_int_equal(w2s_lsq_subfit(ctx, &z, cols, p, V, ldv, 1, &ridge, X,
                                  &info),
                   W2S_OK);
  double vs[5];
  for (int64_t j = 0; j < p; ++j) vs[j] = V[cols[j]];
  assert_true(lsq_rel_diff(X, vs, p) > 1e-3);
  free(Z), free(z.R), free(V), free(X), free(Xr), free(Zs), free(B);
  w2s_ctx_destroy(&ctx);
}

/* Fewer rows than unknowns: W2S_ERR_INPUT without ridge (named as
 * underdetermined), the augmented ridge solution with. */
static void test_subfit_underdetermined(void **state) {
  (void)state;
  const int64_t n = 4, D = 8, k = 2, ldv = D + 2;
  double *Z = xmalloc((size_t)(n * D));
  make_Z(n, D, 7, Z);
  w2s_ctx *ctx = new_ctx();
  w2s_lsq_stacked z;
  const int64_t all[] = {0};
  stacked_of(ctx, n, D, Z, all, 1, &z);
  assert_int_equal(z.nrows, n);
  double *V = make_V(D, k, ldv, 7), X[12];
  const int64_t cols[6] = {5, 0, 1, 7, 3, 2};
  w2s_lsq_opts ols = {0.0, NULL, 0.0, "subfit few rows"};
  w2s_lsq_info info;
  w2s_ctx *c2 = new_ctx();
  assert_int_equal(w2s_lsq_subfit(c2, &z, cols, 6, V, ldv, k, &ols, X, &info),
                   W2S_ERR_INPUT);
  assert_non_null(strstr(c2->msg, "underdetermined"));
  assert_non_null(strstr(c2->msg, "subfit few rows"));
  w2s_ctx_destroy(&c2);
  c2 = new_ctx(); /* p = n + 1: still refused */
  assert_int_equal(w2s_lsq_subfit(c2, &z, cols, n + 1, V, ldv, k, &ols, X,
                                  &info),
                   W2S_ERR_INPUT);
  w2s_ctx_destroy(&c2);
  /* p = n unknowns: solvable (4 generic rows, full rank). */
  assert_int_equal(w2s_lsq_subfit(ctx, &z, cols, n, V, ldv, k, &ols, X, &info),
                   W2S_OK);
  assert_int_equal(info.rank, n);
  /* With ridge: [Z_S; sqrt(lambda n) I] x = [Z V; 0] by dgels (cond of the
   * augmented system ~10: 1e-12 relative is ~1e3 cond eps). */
  const double lambda = 0.1;
  const int64_t p = 6, m = n + p;
  w2s_lsq_opts rid = {lambda, NULL, 0.0, "subfit few rows, ridge"};
  assert_int_equal(w2s_lsq_subfit(ctx, &z, cols, p, V, ldv, k, &rid, X, &info),
                   W2S_OK);
  double *B = xmalloc((size_t)(n * k)), *Za = xmalloc((size_t)(m * p));
  double *Ba = xmalloc((size_t)(m * k)), Xr[12];
  targets(n, D, k, Z, V, ldv, B);
  for (int64_t j = 0; j < p; ++j) {
    memcpy(Za + j * m, Z + cols[j] * n, sizeof(double) * (size_t)n);
    Za[j * m + n + j] = sqrt(lambda * (double)n);
  }
  for (int64_t c = 0; c < k; ++c)
    memcpy(Ba + c * m, B + c * n, sizeof(double) * (size_t)n);
  double cond = cond2(m, p, Za);
  assert_int_equal(LAPACKE_dgels(LAPACK_COL_MAJOR, 'N', (int)m, (int)p, (int)k,
                                 Za, (int)m, Ba, (int)m),
                   0);
  for (int64_t c = 0; c < k; ++c)
    memcpy(Xr + c * p, Ba + c * m, sizeof(double) * (size_t)p);
  print_message("subfit underdetermined ridge: augmented cond %.3g, "
                "|X - X_lapack| / |X| = %.3g\n",
                cond, lsq_rel_diff(X, Xr, p * k));
  ASSERT_LE(lsq_rel_diff(X, Xr, p * k), 1e3 * cond * EPS);
  free(Z), free(z.R), free(V), free(B), free(Za), free(Ba);
  w2s_ctx_destroy(&ctx);
}

/* cols out of range: W2S_ERR_INTERNAL (lsq.h), before any column is read.
 * R gets a padding column of NaN, so that a subfit that reads column D
 * reads this test's memory; index D comes first, -1 (which would write
 * before the library's own buffer) only once D is refused. */
static void test_subfit_bad_cols(void **state) {
  (void)state;
  const int64_t n = 40, D = 6, ldv = D;
  double *Z = xmalloc((size_t)(n * D));
  make_Z(n, D, 8, Z);
  w2s_ctx *ctx = new_ctx();
  w2s_lsq_stacked z;
  const int64_t all[] = {0};
  stacked_of(ctx, n, D, Z, all, 1, &z);
  w2s_ctx_destroy(&ctx);
  double *Rp = xmalloc((size_t)(D * (D + 1)));
  memcpy(Rp, z.R, sizeof(double) * (size_t)(D * D));
  for (int64_t t = D * D; t < D * (D + 1); ++t) Rp[t] = NAN;
  free(z.R);
  z.R = Rp;
  double V[6] = {1, 2, 3, 4, 5, 6}, X[3];
  w2s_lsq_opts opts = {0.0, NULL, 0.0, "bad cols"};
  w2s_lsq_info info;
  /* p out of range: 0 columns, more than D. */
  const int64_t cols[7] = {0, 1, 2, 3, 4, 5, 0};
  for (int64_t p = 0; p <= 7; p += 7) {
    ctx = new_ctx();
    assert_int_equal(w2s_lsq_subfit(ctx, &z, cols, p, V, ldv, 1, &opts, X,
                                    &info),
                     W2S_ERR_INTERNAL);
    w2s_ctx_destroy(&ctx);
  }
  const int64_t bad[2][3] = {{0, 2, 6}, {1, -1, 3}};
  for (int b = 0; b < 2; ++b) {
    ctx = new_ctx();
    w2s_err e = w2s_lsq_subfit(ctx, &z, bad[b], 3, V, ldv, 1, &opts, X, &info);
    if (e != W2S_ERR_INTERNAL)
      print_error("cols {%lld, %lld, %lld} of D = %lld: error %d, expected "
                  "W2S_ERR_INTERNAL\n",
                  (long long)bad[b][0], (long long)bad[b][1],
                  (long long)bad[b][2], (long long)D, (int)e);
    assert_int_equal(e, W2S_ERR_INTERNAL);
    w2s_ctx_destroy(&ctx);
  }
  free(Z), free(z.R);
}

/* ---- apply_r ------------------------------------------------------------- */

/* ||R u||^2 against ||Z u||^2 = sum_i (Z u)_i^2 accumulated in long double
 * row by row, and dot products (R u).(R w) against (Z u).(Z w), for random
 * u, the ones direction, and u = e_2 - e_4 with column 4 a copy of column 2
 * (Z u = 0 exactly: ||R u|| must be rounding-small). */
static void test_apply_r(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t n = 700, D = 10, k = 5, ldu = D + 3;
  double *Z = xmalloc((size_t)(n * D));
  make_Z(n, D, 9, Z);
  memcpy(Z + 4 * n, Z + 2 * n, sizeof(double) * (size_t)n);
  w2s_lsq_stacked z;
  stacked_of(ctx, n, D, Z, uneven_blocks, 4, &z);
  double *U = xmalloc((size_t)(ldu * k)), *U0 = xmalloc((size_t)(ldu * k));
  for (int64_t c = 0; c < k; ++c) {
    w2s_rng_normal(9, 70, (uint64_t)c, 0, 0, D, U + c * ldu);
    for (int64_t i = D; i < ldu; ++i) U[c * ldu + i] = NAN;
  }
  for (int64_t i = 0; i < D; ++i) U[3 * ldu + i] = i == 0; /* ones column */
  for (int64_t i = 0; i < D; ++i) U[4 * ldu + i] = 0.0;
  U[4 * ldu + 2] = 1.0, U[4 * ldu + 4] = -1.0;
  for (int64_t i = 0; i < D; ++i) U[1 * ldu + i] *= 1e-3; /* small u */
  memcpy(U0, U, sizeof(double) * (size_t)(ldu * k));
  /* k = 0 and D = 0 are no-ops. */
  w2s_lsq_apply_r(z.R, D, U, ldu, 0);
  w2s_lsq_apply_r(z.R, 0, U, ldu, k);
  assert_memory_equal(U, U0, sizeof(double) * (size_t)(ldu * k));
  w2s_lsq_apply_r(z.R, D, U, ldu, k);
  /* The padding rows of U (beyond D) are not touched. */
  for (int64_t c = 0; c < k; ++c)
    for (int64_t i = D; i < ldu; ++i) assert_true(isnan(U[c * ldu + i]));
  /* Z u per row in long double, and w_c = sum_j |u_j| ||Z_j||. */
  long double *Zu = calloc((size_t)(n * k), sizeof(long double));
  assert_non_null(Zu);
  double w[5];
  for (int64_t c = 0; c < k; ++c) {
    w[c] = 0;
    for (int64_t j = 0; j < D; ++j)
      w[c] += fabs(U0[c * ldu + j]) * col_norm(n, Z + j * n);
    for (int64_t i = 0; i < n; ++i) {
      long double s = 0;
      for (int64_t j = 0; j < D; ++j)
        s += (long double)Z[j * n + i] * U0[c * ldu + j];
      Zu[c * n + i] = s;
    }
  }
  double worst = 0;
  for (int64_t c = 0; c < k; ++c)
    for (int64_t d = c; d < k; ++d) {
      long double g = 0, h = 0, nc = 0, nd = 0;
      for (int64_t i = 0; i < n; ++i) {
        g += Zu[c * n + i] * Zu[d * n + i];
        nc += Zu[c * n + i] * Zu[c * n + i];
        nd += Zu[d * n + i] * Zu[d * n + i];
      }
      for (int64_t i = 0; i < D; ++i)
        h += (long double)U[c * ldu + i] * U[d * ldu + i];
      /* R u = Q^T (Z + dZ) u + (dtrmm's error, <= D eps |R| |u|, ~D eps
       * w) so ||R u - Q^T Z u|| <= (gamma + D eps) w and
       *   |(Ru).(Rw) - (Zu).(Zw)| <= (gamma + D eps)(w_c ||Z w|| + w_d
       *   ||Z u||) + O(eps^2),
       * the squared norm being the case u = w. In units of D eps, the
       * ratio is <= c sqrt(b) + 1 with gamma = c D eps sqrt(b), b = 4
       * blocks: 4 allows c = 1.5 (measured: 0.05 at most). */
      double scale = w[c] * (double)sqrtl(nd) + w[d] * (double)sqrtl(nc) +
                     w[c] * w[d] * (double)D * EPS;
      double q = (double)fabsl(h - g) / (scale * (double)D * EPS);
      if (!(q <= 4.0))
        print_error("apply_r: (%lld, %lld): |%.17Lg - %.17Lg| ratio %g\n",
                    (long long)c, (long long)d, h, g, q);
      if (!(q <= worst)) worst = q;
    }
  print_message("apply_r: worst ratio %.3g (units of D eps)\n", worst);
  ASSERT_LE(worst, 4.0);
  /* The ones direction: ||Z e_0||^2 = n exactly. */
  long double h3 = 0;
  for (int64_t i = 0; i < D; ++i)
    h3 += (long double)U[3 * ldu + i] * U[3 * ldu + i];
  ASSERT_LE(fabs((double)h3 / (double)n - 1.0), 4.0 * 2.0 * (double)D * EPS);
  free(Zu), free(Z), free(z.R), free(U), free(U0);
  w2s_ctx_destroy(&ctx);
}

/* ---- w2s_mlp_same -------------------------------------------------------- */

static void test_mlp_same(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  w2s_mlp *a = NULL, *b = NULL, *c = NULL, *d = NULL;
  assert_int_equal(w2s_mlp_create(ctx, 5, 4, 3, &a), W2S_OK);
  w2s_mlp_init_uniform(a, 11, 1);
  assert_int_equal(w2s_mlp_clone(ctx, a, &b), W2S_OK);
  assert_int_equal(w2s_mlp_same(a, a), 1);
  assert_int_equal(w2s_mlp_same(a, b), 1);
  assert_int_equal(w2s_mlp_same(b, a), 1);
  /* One weight of the last layer, then one bias of the first, one ulp
   * away: not the same; restored: the same again. */
  double *W = w2s_mlp_weight(b, 2, NULL, NULL);
  double keep = W[5];
  W[5] = nextafter(W[5], INFINITY);
  assert_true(W[5] != keep);
  assert_int_equal(w2s_mlp_same(a, b), 0);
  assert_int_equal(w2s_mlp_same(b, a), 0);
  W[5] = keep;
  assert_int_equal(w2s_mlp_same(a, b), 1);
  double *bias = w2s_mlp_bias(b, 0);
  keep = bias[3];
  bias[3] = nextafter(bias[3], -INFINITY);
  assert_int_equal(w2s_mlp_same(a, b), 0);
  bias[3] = keep;
  assert_int_equal(w2s_mlp_same(a, b), 1);
  /* Another draw of the same shape. */
  w2s_mlp_init_uniform(b, 12, 1);
  assert_int_equal(w2s_mlp_same(a, b), 0);
  w2s_mlp_destroy(&b);
  /* Different shapes, each from the same init (so a shape check, not the
   * parameters, must tell them apart): width, depth, input dimension. */
  const int64_t shapes[3][3] = {{5, 3, 3}, {5, 4, 2}, {6, 4, 3}};
  for (int s = 0; s < 3; ++s) {
    assert_int_equal(w2s_mlp_create(ctx, shapes[s][0], shapes[s][1],
                                    shapes[s][2], &b),
                     W2S_OK);
    w2s_mlp_init_uniform(b, 11, 1);
    assert_int_equal(w2s_mlp_same(a, b), 0);
    assert_int_equal(w2s_mlp_same(b, a), 0);
    w2s_mlp_destroy(&b);
  }
  /* Equal parameter counts and equal (zero) parameters, different shapes:
   * 6 -> 2 in one layer and 3 -> 2 -> 2 both have 14 parameters. */
  assert_int_equal(w2s_mlp_create(ctx, 6, 2, 1, &c), W2S_OK);
  assert_int_equal(w2s_mlp_create(ctx, 3, 2, 2, &d), W2S_OK);
  assert_int_equal(w2s_mlp_nparams(c), w2s_mlp_nparams(d));
  assert_int_equal(w2s_mlp_same(c, d), 0);
  assert_int_equal(w2s_mlp_same(d, c), 0);
  w2s_mlp_destroy(&c);
  w2s_mlp_destroy(&d);
  /* Depth 0 (the identity map, no parameters): the same for the same input
   * dimension whatever the width key, not for another dimension nor
   * against a network of that output size. */
  assert_int_equal(w2s_mlp_create(ctx, 4, 7, 0, &c), W2S_OK);
  assert_int_equal(w2s_mlp_create(ctx, 4, 9, 0, &d), W2S_OK);
  assert_int_equal(w2s_mlp_same(c, d), 1);
  w2s_mlp_destroy(&d);
  assert_int_equal(w2s_mlp_create(ctx, 5, 7, 0, &d), W2S_OK);
  assert_int_equal(w2s_mlp_same(c, d), 0);
  w2s_mlp_destroy(&d);
  assert_int_equal(w2s_mlp_create(ctx, 4, 4, 1, &d), W2S_OK);
  assert_int_equal(w2s_mlp_same(c, d), 0);
  assert_int_equal(w2s_mlp_same(d, c), 0);
  w2s_mlp_destroy(&c);
  w2s_mlp_destroy(&d);
  w2s_mlp_destroy(&a);
  w2s_ctx_destroy(&ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_copy_r_gram),
      cmocka_unit_test(test_copy_r_refusals),
      cmocka_unit_test(test_subfit_full_rank),
      cmocka_unit_test(test_subfit_ridge),
      cmocka_unit_test(test_subfit_rank_deficient),
      cmocka_unit_test(test_subfit_exact),
      cmocka_unit_test(test_subfit_underdetermined),
      cmocka_unit_test(test_apply_r),
      cmocka_unit_test(test_mlp_same),
      /* Last: an unchecked index would write out of bounds. */
      cmocka_unit_test(test_subfit_bad_cols),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
