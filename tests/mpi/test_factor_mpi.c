/* The stacked factor across ranks (lsq.h: w2s_lsq_copy_r after a
 * distributed tsqr pass, then w2s_lsq_subfit). Every rank builds the same
 * global Z (n x D, a ones column, correlated columns of different scales)
 * from the counter-based RNG and feeds ITS OWN rows (w2s_partition, or all
 * rows on rank 0 so the other ranks hold none) in blocks of 1, 2, 3, 5
 * rows. Then, on every rank:
 *  - copy_r gives an upper-triangular R with R^T R = Z^T Z of the WHOLE
 *    matrix (against Z^T Z in long double) to the bound of
 *    tests/unit/test_lsq_factor.c: |(R^T R - Z^T Z)_ij| <= 2 gamma ||Z_i||
 *    ||Z_j||, gamma = c D eps sqrt(b) with b the sequential Householder
 *    steps (blocks folded on the rank, plus the reduction's combines, at
 *    most b = total blocks + ranks), c = 1 allowed (c ~0.1 measured there);
 *    a lost or doubled rank's rows miss it by ~1/ranks relative, i.e. by
 *    ~1e13 in these units;
 *  - subfit on rank 0's R (broadcast, as lsq.h says callers do) agrees
 *    with the subfit on a 1-rank factor of the same Z (a local context fed
 *    all rows) and with dgelsd / dgels on Z[:, cols] to c cond eps (1 +
 *    cond rho) each (both factors are backward stable for Z; cond, rho of
 *    Z[:, cols] computed here), c = 100, and gives the same bits on every
 *    rank; a zero column's coefficient is exactly 0.
 * Measured at 1, 2, 3 ranks: Gram ratios 0.1 .. 2.3 D eps (bounds ~30);
 * subfit within 0.01 .. 0.2 (1-rank factor) and 0.01 .. 0.53 (LAPACK) x
 * cond eps (1 + cond rho), against the allowed 100.
 * Failures are reduced into the exit code; rank 0 names the failing
 * cases. */
#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/core.h"
#include "w2s/lsq.h"
#include "w2s/rng.h"
#include "../lsq_reference.h"

#define EPS DBL_EPSILON

static int rank_g, size_g;
static int case_failures; /* this rank, current case */

/* One fprintf per failure, so the lines of different ranks do not mix. */
#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      char what_[2048];                                                        \
      ++case_failures;                                                         \
      snprintf(what_, sizeof what_, __VA_ARGS__);                              \
      fprintf(stderr, "rank %d FAIL %s:%d: %s: %s\n", rank_g, __FILE__,        \
              __LINE__, #cond, what_);                                         \
    }                                                                          \
  } while (0)

static double *xcalloc(size_t n) {
  double *p = calloc(n ? n : 1, sizeof(double));
  if (!p) {
    fprintf(stderr, "rank %d: out of memory\n", rank_g);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return p;
}

/* The same Z on every rank: column 0 ones, column j > 0 = 2 + s_j N(0, 1)
 * + 0.5 Z_{j-1}, s_j = 2^((j - 6) / 2). */
static void make_Z(int64_t n, int64_t D, uint64_t seed, double *Z) {
  for (int64_t i = 0; i < n; ++i) Z[i] = 1.0;
  for (int64_t j = 1; j < D; ++j) {
    w2s_rng_normal(seed, 80, (uint64_t)j, 0, 0, n, Z + j * n);
    double s = pow(2.0, ((double)j - 6.0) / 2.0);
    for (int64_t i = 0; i < n; ++i)
      Z[j * n + i] = 2.0 + s * Z[j * n + i] +
                     (j > 1 ? 0.5 * Z[(j - 1) * n + i] : 0.0);
  }
}

enum { OWN_PARTITION, OWN_RANK0 };

/* Feed rows [lo, lo + cnt) of Z into a tsqr accumulator of ctx in blocks
 * of 1, 2, 3, 5, 1, ... rows, or of `block` rows if block > 0 (copied:
 * add_rows overwrites them), end the
 * pass (collective for a world context) and copy R into z->R (D * D,
 * allocated here). *blocks: the blocks this rank fed. */
static w2s_err stacked_rows(w2s_ctx *ctx, int64_t n, int64_t D, const double *Z,
                            int64_t lo, int64_t cnt, int64_t block,
                            w2s_lsq_stacked *z, int64_t *blocks) {
  w2s_lsq *ls = NULL;
  z->R = xcalloc((size_t)(D * D));
  *blocks = 0;
  w2s_err e = w2s_agree(ctx, w2s_lsq_create(ctx, "tsqr", D, 0, &ls));
  if (e) return e;
  double *Zb = xcalloc((size_t)((block > 5 ? block : 5) * D)), Bdummy[1] = {0};
  const int64_t sizes[4] = {1, 2, 3, 5};
  for (int64_t i = lo, s = 0; i < lo + cnt && !e; ++s) {
    int64_t want = block > 0 ? block : sizes[s % 4];
    int64_t m = want < lo + cnt - i ? want : lo + cnt - i;
    for (int64_t j = 0; j < D; ++j)
      memcpy(Zb + j * m, Z + j * n + i, sizeof(double) * (size_t)m);
    e = w2s_lsq_add_rows(ctx, ls, m, Zb, m, Bdummy, m);
    ++*blocks;
    i += m;
  }
  e = w2s_agree(ctx, e);
  int more = 0;
  if (!e) e = w2s_lsq_end_pass(ctx, ls, &more);
  if (!e) CHECK(more == 0, "tsqr wants another pass");
  if (!e) e = w2s_lsq_copy_r(ctx, ls, z);
  w2s_lsq_destroy(&ls);
  free(Zb);
  return e;
}

static double col_norm(int64_t n, const double *col) {
  long double s = 0;
  for (int64_t i = 0; i < n; ++i) s += (long double)col[i] * col[i];
  return (double)sqrtl(s);
}

/* max_ij |(R^T R - Z^T Z)_ij| / (||Z_i|| ||Z_j|| D eps), long double. */
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
      if (!(q <= worst)) worst = q;
    }
  return worst;
}

/* cond_2 of A (n x p) and rho = ||B - A X|| / (||A||_2 ||X||) of X. */
static void cond_rho(int64_t n, int64_t p, int64_t k, const double *A,
                     const double *B, const double *X, double *cond,
                     double *rho) {
  double *sv = xcalloc((size_t)p), *F = xcalloc((size_t)(n * k));
  lsq_ref_singular_values(n, p, A, sv);
  *cond = sv[p - 1] > 0 ? sv[0] / sv[p - 1] : INFINITY;
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)p,
              1.0, A, (int)n, X, (int)p, 0.0, F, (int)n);
  double r2 = 0;
  for (int64_t i = 0; i < n * k; ++i) r2 += (B[i] - F[i]) * (B[i] - F[i]);
  double xn = cblas_dnrm2((int)(p * k), X, 1);
  *rho = xn > 0 ? sqrt(r2) / (sv[0] * xn) : 0.0;
  free(sv), free(F);
}

/* X must be the same bits on every rank (rank 0's broadcast and compared
 * bytewise). */
static void check_identical(const double *X, int64_t len, const char *what) {
  double *X0 = xcalloc((size_t)len);
  memcpy(X0, X, sizeof(double) * (size_t)len);
  MPI_Bcast(X0, (int)len, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  int diff = memcmp(X0, X, sizeof(double) * (size_t)len) != 0, any = 0;
  MPI_Allreduce(&diff, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  CHECK(any == 0, "%s differs across ranks", what);
  free(X0);
}

/* One case: factor Z (rows owned as `own`), check R, then every subset fit
 * against the 1-rank factor and LAPACK. zero_col >= 0 zeroes that column
 * of Z and duplicates column 2 into column 4 (a rank-deficient subset). */
static void run_case(w2s_ctx *ctx, w2s_ctx *local, int own, int deficient) {
  const int64_t n = 601, D = 12, k = 3, p = 6;
  const int64_t cols_full[6] = {7, 0, 3, 10, 5, 1};
  const int64_t cols_def[6] = {9, 2, 0, 6, 4, 11}; /* zero, dup pair */
  const int64_t *cols = deficient ? cols_def : cols_full;
  double *Z = xcalloc((size_t)(n * D));
  make_Z(n, D, deficient ? 2 : 1, Z);
  if (deficient) {
    memset(Z + 9 * n, 0, sizeof(double) * (size_t)n);
    memcpy(Z + 4 * n, Z + 2 * n, sizeof(double) * (size_t)n);
  }
  int64_t lo = 0, cnt = 0, nb = 0, nb1 = 0;
  if (own == OWN_PARTITION) w2s_partition(n, ctx->size, ctx->rank, &lo, &cnt);
  if (own == OWN_RANK0 && ctx->rank == 0) cnt = n;
  w2s_lsq_stacked z, z1;
  w2s_err e = stacked_rows(ctx, n, D, Z, lo, cnt, 0, &z, &nb);
  CHECK(e == W2S_OK, "distributed factor: %s", ctx->msg);
  /* The 1-rank factor folds the rows in other blocks (64 rows), so that
   * it is an independent rounding of the same factor at any rank count. */
  w2s_err e1 = stacked_rows(local, n, D, Z, 0, n, 64, &z1, &nb1);
  CHECK(e1 == W2S_OK, "1-rank factor: %s", local->msg);
  if (e || e1) goto out;
  CHECK(z.D == D && z.nrows == n, "D %lld nrows %lld", (long long)z.D,
        (long long)z.nrows);
  for (int64_t j = 0; j < D; ++j)
    for (int64_t i = j + 1; i < D; ++i)
      CHECK(z.R[j * D + i] == 0.0, "R[%lld, %lld] = %g below the diagonal",
            (long long)i, (long long)j, z.R[j * D + i]);
  /* This rank's R, before any broadcast, is the whole matrix's factor. */
  long long tot = nb;
  MPI_Allreduce(MPI_IN_PLACE, &tot, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  double b = (double)tot + (double)size_g;
  double q = gram_ratio(n, D, Z, z.R);
  CHECK(q <= 2.0 * sqrt(b), "R^T R vs Z^T Z: %g D eps, bound %g", q,
        2.0 * sqrt(b));
  if (rank_g == 0)
    fprintf(stderr,
            "  Gram ratio %.3g D eps (bound %.3g; 1-rank factor "
            "%.3g)\n",
            q, 2.0 * sqrt(b), gram_ratio(n, D, Z, z1.R));
  /* lsq.h: the same bits on every rank only once broadcast. */
  e = w2s_bcast_bytes(ctx, z.R, (int64_t)(sizeof(double) * (size_t)(D * D)), 0);
  CHECK(e == W2S_OK, "broadcast: %s", ctx->msg);
  if (e) goto out;

  /* Targets Z V, V: D x k of N(0, 1). */
  double *V = xcalloc((size_t)(D * k)), *B = xcalloc((size_t)(n * k));
  double *Zs = xcalloc((size_t)(n * p));
  for (int64_t c = 0; c < k; ++c)
    w2s_rng_normal(3, 81, (uint64_t)c, 0, 0, D, V + c * D);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)D,
              1.0, Z, (int)n, V, (int)D, 0.0, B, (int)n);
  for (int64_t j = 0; j < p; ++j)
    memcpy(Zs + j * n, Z + cols[j] * n, sizeof(double) * (size_t)n);
  double *X = xcalloc((size_t)(p * k)), *X1 = xcalloc((size_t)(p * k));
  double *Xr = xcalloc((size_t)(p * k));
  const int pen[6] = {1, 0, 1, 1, 1, 1};
  for (int ridge = 0; ridge < 2; ++ridge) {
    const double lambda = ridge ? 0.05 : 0.0;
    w2s_lsq_opts opts = {lambda, ridge ? pen : NULL, 0.0, "factor mpi"};
    w2s_lsq_info info, info1;
    e = w2s_lsq_subfit(ctx, &z, cols, p, V, D, k, &opts, X, &info);
    CHECK(e == W2S_OK, "subfit: %s", ctx->msg);
    e1 = w2s_lsq_subfit(local, &z1, cols, p, V, D, k, &opts, X1, &info1);
    CHECK(e1 == W2S_OK, "1-rank subfit: %s", local->msg);
    if (e || e1) break;
    CHECK(info.rank == info1.rank, "rank %lld vs 1-rank %lld",
          (long long)info.rank, (long long)info1.rank);
    /* The reference and the problem's cond, rho: dgelsd on the
     * equilibrated Z_S (w2s's minimum norm; for full rank the plain
     * solution) with w2s's default cutoff eps max(n, p), or for ridge
     * dgels on [Z_S; sqrt(lambda n) I_pen] x = [Z V; 0]. */
    double cond = 0, rho = 0;
    if (!ridge) {
      double sv[6];
      int r = lsq_gelsd_equilibrated(n, p, k, Zs, B, EPS * (double)n, Xr, sv);
      CHECK(r == info.rank, "reference rank %d, subfit %lld", r,
            (long long)info.rank);
      CHECK(r == (deficient ? p - 2 : p), "rank %d", r);
      /* With a deficient subset, the kept part's condition (equilibrated
       * cond_kept) governs the minimum-norm solution; rho stays the raw
       * Z_S's. */
      cond_rho(n, p, k, Zs, B, Xr, &cond, &rho);
      if (deficient) cond = sv[0] / sv[r - 1];
    } else {
      int64_t m = n + p;
      double *Za = xcalloc((size_t)(m * p)), *Ba = xcalloc((size_t)(m * k));
      for (int64_t j = 0; j < p; ++j) {
        memcpy(Za + j * m, Zs + j * n, sizeof(double) * (size_t)n);
        if (pen[j]) Za[j * m + n + j] = sqrt(lambda * (double)n);
      }
      for (int64_t c = 0; c < k; ++c)
        memcpy(Ba + c * m, B + c * n, sizeof(double) * (size_t)n);
      double *Za0 = xcalloc((size_t)(m * p)), *Ba0 = xcalloc((size_t)(m * k));
      memcpy(Za0, Za, sizeof(double) * (size_t)(m * p));
      memcpy(Ba0, Ba, sizeof(double) * (size_t)(m * k));
      int info_l = LAPACKE_dgels(LAPACK_COL_MAJOR, 'N', (int)m, (int)p, (int)k,
                                 Za, (int)m, Ba, (int)m);
      CHECK(info_l == 0, "dgels info %d", info_l);
      for (int64_t c = 0; c < k; ++c)
        memcpy(Xr + c * p, Ba + c * m, sizeof(double) * (size_t)p);
      cond_rho(m, p, k, Za0, Ba0, Xr, &cond, &rho);
      free(Za), free(Ba), free(Za0), free(Ba0);
    }
    double tol = 100.0 * lsq_ref_fwd_bound(cond, rho);
    double d1 = lsq_rel_diff(X, X1, p * k), dr = lsq_rel_diff(X, Xr, p * k);
    CHECK(d1 <= tol, "ridge %g: vs the 1-rank subfit %g > %g", lambda, d1, tol);
    CHECK(dr <= tol, "ridge %g: vs LAPACK %g > %g", lambda, dr, tol);
    if (rank_g == 0)
      fprintf(stderr,
              "  ridge %g: cond %.3g rho %.3g; vs 1-rank %.3g, vs LAPACK "
              "%.3g (= %.3g, %.3g x cond eps (1 + cond rho))\n",
              lambda, cond, rho, d1, dr, d1 / lsq_ref_fwd_bound(cond, rho),
              dr / lsq_ref_fwd_bound(cond, rho));
    if (deficient && !ridge)
      for (int64_t c = 0; c < k; ++c)
        CHECK(X[c * p] == 0.0, "zero column coefficient %.17g", X[c * p]);
    check_identical(X, p * k, "subfit X");
  }
  free(V), free(B), free(Zs), free(X), free(X1), free(Xr);
out:
  free(Z), free(z.R), free(z1.R);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_g);
  MPI_Comm_size(MPI_COMM_WORLD, &size_g);
  w2s_ctx *ctx = NULL, *local = NULL;
  if (w2s_ctx_create(MPI_COMM_WORLD, 0, &ctx) != W2S_OK ||
      w2s_ctx_create(MPI_COMM_NULL, 0, &local) != W2S_OK) {
    fprintf(stderr, "rank %d: cannot create the contexts\n", rank_g);
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1; /* not reached: MPI_Abort does not return */
  }
  struct {
    const char *name;
    int own, deficient;
  } cases[] = {{"rows partitioned, full-rank subset", OWN_PARTITION, 0},
               {"rows partitioned, zero + duplicated column", OWN_PARTITION, 1},
               {"all rows on rank 0 (zero-row ranks)", OWN_RANK0, 0}};
  int total = 0;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    case_failures = 0;
    if (rank_g == 0) fprintf(stderr, "%s:\n", cases[c].name);
    run_case(ctx, local, cases[c].own, cases[c].deficient);
    int sum = 0;
    MPI_Allreduce(&case_failures, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    /* A failed case may leave a stale message in the contexts. */
    ctx->err = local->err = W2S_OK;
    ctx->msg[0] = local->msg[0] = '\0';
    if (rank_g == 0)
      fprintf(stderr, "%s: %s (%d failed checks over %d ranks)\n",
              sum ? "FAIL" : "ok", cases[c].name, sum, size_g);
    total += sum;
  }
  if (rank_g == 0)
    fprintf(stderr, "test_factor_mpi at %d ranks: %s\n", size_g,
            total ? "FAILED" : "passed");
  w2s_ctx_destroy(&local);
  w2s_ctx_destroy(&ctx);
  MPI_Finalize();
  return total ? 1 : 0;
}
