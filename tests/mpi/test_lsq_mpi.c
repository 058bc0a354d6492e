/* The tsqr least-squares solve across ranks against LAPACK on the full
 * matrix. Every rank builds the same global A (n x p) and B (n x k) from
 * the counter-based RNG, feeds ITS OWN rows (w2s_partition, or a skewed
 * ownership where some ranks hold no rows) in blocks of a few rows, and
 * solves collectively; every rank then compares the common X with its own
 * local LAPACK reference, and X must be bitwise identical on every rank.
 * Cases: well-conditioned; rank-deficient (a zero, a duplicated and a
 * scaled duplicated column);
 * ridge > 0; all rows on rank 0; all rows on the last rank. Failures are
 * reduced into the exit code; rank 0 names the failing cases. */
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

/* Ridge reference: dgels on [A; sqrt(lambda n) I] x = [B; 0]. */
static void ridge_reference(int64_t n, int64_t p, int64_t k, const double *A,
                            const double *B, double lambda, double *X) {
  int64_t m = n + p;
  double *Aa = xcalloc((size_t)(m * p)), *Ba = xcalloc((size_t)(m * k));
  for (int64_t j = 0; j < p; ++j) {
    memcpy(Aa + j * m, A + j * n, sizeof(double) * (size_t)n);
    Aa[j * m + n + j] = sqrt(lambda * (double)n);
  }
  for (int64_t c = 0; c < k; ++c)
    memcpy(Ba + c * m, B + c * n, sizeof(double) * (size_t)n);
  int info = LAPACKE_dgels(LAPACK_COL_MAJOR, 'N', (int)m, (int)p, (int)k, Aa,
                           (int)m, Ba, (int)m);
  CHECK(info == 0, "dgels info %d", info);
  for (int64_t c = 0; c < k; ++c)
    memcpy(X + c * p, Ba + c * m, sizeof(double) * (size_t)p);
  free(Aa), free(Ba);
}

/* The same global problem on every rank: column j of A from counter
 * (j, 0, 0) of the stream, with a per-column scale; B = A W + noise. */
static void make_problem(int64_t n, int64_t p, int64_t k, uint64_t seed,
                         double *A, double *B) {
  for (int64_t j = 0; j < p; ++j) {
    w2s_rng_normal(seed, 100, (uint64_t)j, 0, 0, n, A + j * n);
    for (int64_t i = 0; i < n; ++i) A[j * n + i] *= 1.0 + 0.5 * (double)j;
  }
  for (int64_t c = 0; c < k; ++c)
    w2s_rng_normal(seed, 101, (uint64_t)c, 0, 0, n, B + c * n);
  for (int64_t c = 0; c < k; ++c)
    for (int64_t j = 0; j < p; ++j)
      for (int64_t i = 0; i < n; ++i)
        B[c * n + i] += 0.25 * (double)((c + j) % 4) * A[j * n + i];
}

enum { OWN_PARTITION, OWN_RANK0, OWN_LAST };

/* Feed this rank's rows [lo, hi) in blocks of 1, 2, 3, 5, 1, 2, ... rows
 * (copied, as add_rows overwrites them) and solve collectively. */
static w2s_err solve_mpi(w2s_ctx *ctx, int64_t n, int64_t p, int64_t k,
                         const double *A, const double *B, int own,
                         const w2s_lsq_opts *opts, double *X,
                         w2s_lsq_info *info) {
  int64_t lo = 0, cnt = 0;
  if (own == OWN_PARTITION) w2s_partition(n, ctx->size, ctx->rank, &lo, &cnt);
  if (own == OWN_RANK0 && ctx->rank == 0) cnt = n;
  if (own == OWN_LAST && ctx->rank == ctx->size - 1) cnt = n;
  w2s_lsq *ls = NULL;
  w2s_err e = w2s_agree(ctx, w2s_lsq_create(ctx, "tsqr", p, k, &ls));
  if (e) return e;
  w2s_lsq_set_context(ls, opts->label, lo);
  double *Ab = xcalloc((size_t)(8 * p)), *Bb = xcalloc((size_t)(8 * k));
  const int64_t sizes[4] = {1, 2, 3, 5};
  for (int64_t i = lo, s = 0; i < lo + cnt && !e; ++s) {
    int64_t m = sizes[s % 4] < lo + cnt - i ? sizes[s % 4] : lo + cnt - i;
    for (int64_t j = 0; j < p; ++j)
      memcpy(Ab + j * m, A + j * n + i, sizeof(double) * (size_t)m);
    for (int64_t c = 0; c < k; ++c)
      memcpy(Bb + c * m, B + c * n + i, sizeof(double) * (size_t)m);
    e = w2s_lsq_add_rows(ctx, ls, m, Ab, m, Bb, m);
    i += m;
  }
  e = w2s_agree(ctx, e);
  if (!e) e = w2s_lsq_solve(ctx, ls, opts, X, info);
  w2s_lsq_destroy(&ls);
  free(Ab), free(Bb);
  return e;
}

/* X (and the rank) must be the same bits on every rank: rank 0's copy is
 * broadcast and the largest difference reduced; it must be exactly 0. */
static void check_identical(const double *X, int64_t len,
                            const w2s_lsq_info *info) {
  double *X0 = xcalloc((size_t)len);
  memcpy(X0, X, sizeof(double) * (size_t)len);
  MPI_Bcast(X0, (int)len, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  double d = 0;
  for (int64_t i = 0; i < len; ++i) {
    double t = fabs(X[i] - X0[i]);
    if (t > d || isnan(t)) d = isnan(t) ? INFINITY : t;
  }
  double dmax = 0;
  MPI_Allreduce(&d, &dmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  CHECK(dmax == 0.0, "X differs across ranks by %g", dmax);
  long long r = info->rank, r0 = r;
  MPI_Bcast(&r0, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  CHECK(r == r0, "rank %lld here, %lld on rank 0", r, r0);
  free(X0);
}

/* Fitted values A X against A Xr, relative. */
static double fitted_diff(int64_t n, int64_t p, int64_t k, const double *A,
                          const double *X, const double *Xr) {
  double *F = xcalloc((size_t)(n * k)), *Fr = xcalloc((size_t)(n * k));
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)p,
              1.0, A, (int)n, X, (int)p, 0.0, F, (int)n);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)p,
              1.0, A, (int)n, Xr, (int)p, 0.0, Fr, (int)n);
  double r = lsq_rel_diff(F, Fr, n * k);
  free(F), free(Fr);
  return r;
}

/* Tolerance for every comparison with LAPACK: the designs here have
 * cond <= ~20 (Gaussian 203 x 6 with column scales 1..3.5, ridge makes it
 * better), so both backward-stable solutions agree to ~cond * eps ~ 1e-14;
 * 1e-10 relative is the stated contract and fails on any wrong term,
 * a lost or double-counted row block, or a rank that is combined twice. */
#define TOL 1e-10

static void case_full_rank(w2s_ctx *ctx, int own) {
  const int64_t n = 203, p = 6, k = 3;
  double *A = xcalloc((size_t)(n * p)), *B = xcalloc((size_t)(n * k));
  double *X = xcalloc((size_t)(p * k)), *Xr = xcalloc((size_t)(p * k));
  make_problem(n, p, k, 1, A, B);
  w2s_lsq_opts opts = {0.0, NULL, 0.0, "full rank"};
  w2s_lsq_info info;
  w2s_err e = solve_mpi(ctx, n, p, k, A, B, own, &opts, X, &info);
  CHECK(e == W2S_OK, "solve: %s", ctx->msg);
  if (e == W2S_OK) {
    int r = lsq_gelsd(n, p, k, A, B, -1.0, Xr, NULL);
    CHECK(r == p, "reference rank %d", r);
    double d = lsq_rel_diff(X, Xr, p * k);
    CHECK(d <= TOL, "X vs dgelsd: relative difference %g", d);
    CHECK(info.rank == p, "rank %lld", (long long)info.rank);
    CHECK(info.nrows == n, "nrows %lld", (long long)info.nrows);
    check_identical(X, p * k, &info);
  }
  free(A), free(B), free(X), free(Xr);
}

static void case_rank_deficient(w2s_ctx *ctx) {
  const int64_t n = 203, p = 7, k = 2, zero = 2, dup_of = 0, dup = 5;
  const int64_t scaled_of = 1, scaled = 6;
  double *A = xcalloc((size_t)(n * p)), *B = xcalloc((size_t)(n * k));
  double *X = xcalloc((size_t)(p * k)), *Xr = xcalloc((size_t)(p * k));
  double *Xa = xcalloc((size_t)(p * k));
  make_problem(n, p, k, 2, A, B);
  memset(A + zero * n, 0, sizeof(double) * (size_t)n);
  memcpy(A + dup * n, A + dup_of * n, sizeof(double) * (size_t)n);
  /* A scaled copy: its minimum-norm split depends on the equilibration
   * (equal in equilibrated variables, not in raw ones). */
  for (int64_t i = 0; i < n; ++i)
    A[scaled * n + i] = 3.0 * A[scaled_of * n + i];
  w2s_lsq_opts opts = {0.0, NULL, 0.0, "rank-deficient"};
  w2s_lsq_info info;
  w2s_err e = solve_mpi(ctx, n, p, k, A, B, OWN_PARTITION, &opts, X, &info);
  CHECK(e == W2S_OK, "solve: %s", ctx->msg);
  if (e == W2S_OK) {
    CHECK(info.rank == p - 3, "rank %lld, expected %lld", (long long)info.rank,
          (long long)(p - 3));
    /* The dropped equilibrated singular values are ~1e-16 relative, the
     * kept ones O(0.1) (both checked): the solver's default cutoff eps * n
     * and the references' rcond (eps * n; 1e-10 on the raw A, whose column
     * scales span < 10) all sit in that gap. */
    double sv[7];
    const double rcond = DBL_EPSILON * (double)n;
    int r = lsq_gelsd_equilibrated(n, p, k, A, B, rcond, Xr, sv);
    CHECK(r == p - 3, "equilibrated reference rank %d", r);
    CHECK(sv[p - 4] > 1e-2 * sv[0] && sv[p - 3] < 0.1 * rcond * sv[0],
          "no clear gap: %g %g", sv[p - 4] / sv[0], sv[p - 3] / sv[0]);
    double d = lsq_rel_diff(X, Xr, p * k);
    CHECK(d <= TOL, "X vs equilibrated min-norm dgelsd: %g", d);
    r = lsq_gelsd(n, p, k, A, B, 1e-10, Xa, NULL);
    CHECK(r == p - 3, "reference rank %d", r);
    d = fitted_diff(n, p, k, A, X, Xa);
    CHECK(d <= TOL, "fitted values vs dgelsd: %g", d);
    for (int64_t c = 0; c < k; ++c) {
      /* A zero column carries no information: exactly zero (the minimum
       * norm in any scaling), not rounding noise. */
      CHECK(X[c * p + zero] == 0.0, "zero column coefficient %.17g",
            X[c * p + zero]);
      CHECK(fabs(X[c * p + dup] - X[c * p + dup_of]) <=
                TOL * fabs(X[c * p + dup_of]),
            "duplicate columns: %.17g vs %.17g", X[c * p + dup],
            X[c * p + dup_of]);
      /* Equal in equilibrated variables: x_scaled * 3 ||a|| = x_of ||a||. */
      CHECK(fabs(3.0 * X[c * p + scaled] - X[c * p + scaled_of]) <=
                TOL * fabs(X[c * p + scaled_of]),
            "scaled duplicate: 3 * %.17g vs %.17g", X[c * p + scaled],
            X[c * p + scaled_of]);
    }
    check_identical(X, p * k, &info);
  }
  free(A), free(B), free(X), free(Xr), free(Xa);
}

static void case_ridge(w2s_ctx *ctx) {
  const int64_t n = 203, p = 6, k = 3;
  const double lambda = 0.3;
  double *A = xcalloc((size_t)(n * p)), *B = xcalloc((size_t)(n * k));
  double *X = xcalloc((size_t)(p * k)), *Xr = xcalloc((size_t)(p * k));
  double *X0 = xcalloc((size_t)(p * k));
  make_problem(n, p, k, 3, A, B);
  w2s_lsq_opts opts = {lambda, NULL, 0.0, "ridge"};
  w2s_lsq_info info;
  w2s_err e = solve_mpi(ctx, n, p, k, A, B, OWN_PARTITION, &opts, X, &info);
  CHECK(e == W2S_OK, "solve: %s", ctx->msg);
  if (e == W2S_OK) {
    ridge_reference(n, p, k, A, B, lambda, Xr);
    double d = lsq_rel_diff(X, Xr, p * k);
    CHECK(d <= TOL, "X vs augmented dgels: %g", d);
    /* Not vacuous: the ridge solution is far from least squares. */
    lsq_gelsd(n, p, k, A, B, -1.0, X0, NULL);
    CHECK(lsq_rel_diff(X, X0, p * k) > 1e-2, "ridge had no visible effect");
    check_identical(X, p * k, &info);
  }
  free(A), free(B), free(X), free(Xr), free(X0);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_g);
  MPI_Comm_size(MPI_COMM_WORLD, &size_g);
  w2s_ctx *ctx = NULL;
  if (w2s_ctx_create(MPI_COMM_WORLD, 0, &ctx) != W2S_OK) {
    fprintf(stderr, "rank %d: cannot create the context\n", rank_g);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  struct {
    const char *name;
    int id;
  } cases[] = {{"well-conditioned (own rows)", 0},
               {"rank-deficient (zero + duplicate + scaled duplicate)", 1},
               {"ridge", 2},
               {"all rows on rank 0 (zero-row ranks)", 3},
               {"all rows on the last rank", 4}};
  int total = 0;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    case_failures = 0;
    switch (cases[c].id) {
    case 0: case_full_rank(ctx, OWN_PARTITION); break;
    case 1: case_rank_deficient(ctx); break;
    case 2: case_ridge(ctx); break;
    case 3: case_full_rank(ctx, OWN_RANK0); break;
    case 4: case_full_rank(ctx, OWN_LAST); break;
    }
    int sum = 0;
    MPI_Allreduce(&case_failures, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    /* A failed case may leave a stale message in the context. */
    ctx->err = W2S_OK;
    ctx->msg[0] = '\0';
    if (rank_g == 0)
      fprintf(stderr, "%s: %s (%d failed checks over %d ranks)\n",
              sum ? "FAIL" : "ok", cases[c].name, sum, size_g);
    total += sum;
  }
  if (rank_g == 0)
    fprintf(stderr, "test_lsq_mpi at %d ranks: %s\n", size_g,
            total ? "FAILED" : "passed");
  w2s_ctx_destroy(&ctx);
  MPI_Finalize();
  return total ? 1 : 0;
}
