/* Every least-squares solver against LAPACK's dgelsd on the same global
 * problem, fed by this rank's rows (or by rank 0 alone), at several
 * condition numbers, with an intercept column, with ridge (against the
 * augmented problem), K = 1 and K = 200 right-hand sides; plus the bad-input
 * contract: n < p without ridge and a NaN on one rank give every rank the
 * same clear error. Failures are reduced into the exit code. */
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

static int failures = 0;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      ++failures;                                                              \
      fprintf(stderr, "rank %d FAIL %s:%d: ", rank_g, __FILE__, __LINE__);     \
      fprintf(stderr, __VA_ARGS__);                                            \
      fprintf(stderr, "\n");                                                   \
    }                                                                          \
  } while (0)

static int rank_g;

/* A (n x p, column-major): p - 1 columns U S V^T with cond(S) = cond, then a
 * column of ones; B (n x k) = A X + noise. Same on every rank. */
static void make_problem(int64_t n, int64_t p, int64_t k, double cond,
                         uint64_t seed, double *A, double *B) {
  int64_t q = p - 1;
  double *U = malloc(sizeof(double) * (size_t)(n * q));
  double *V = malloc(sizeof(double) * (size_t)(q * q));
  double *tau = malloc(sizeof(double) * (size_t)(q > 0 ? q : 1));
  double *X = malloc(sizeof(double) * (size_t)(p * k + 1));
  w2s_rng_normal(seed, 7, 0, 0, 0, n * q, U);
  w2s_rng_normal(seed, 7, 1, 0, 0, q * q, V);
  LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)n, (int)q, U, (int)n, tau);
  LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)n, (int)q, (int)q, U, (int)n, tau);
  LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)q, (int)q, V, (int)q, tau);
  LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)q, (int)q, (int)q, V, (int)q, tau);
  /* A[:, j] = sum_i U[:, i] s_i V[j, i] * sqrt(n) (rows of unit scale) */
  for (int64_t j = 0; j < q; ++j)
    for (int64_t r = 0; r < n; ++r) {
      double acc = 0.0;
      for (int64_t i = 0; i < q; ++i) {
        double s = q > 1 ? pow(cond, -(double)i / (double)(q - 1)) : 1.0;
        acc += U[i * n + r] * s * V[i * q + j];
      }
      A[j * n + r] = acc * sqrt((double)n);
    }
  for (int64_t r = 0; r < n; ++r) A[q * n + r] = 1.0;
  w2s_rng_normal(seed, 7, 2, 0, 0, p * k, X);
  double *noise = malloc(sizeof(double) * (size_t)(n * k + 1));
  w2s_rng_normal(seed, 7, 3, 0, 0, n * k, noise);
  for (int64_t c = 0; c < k; ++c)
    for (int64_t r = 0; r < n; ++r) {
      double acc = 0.0;
      for (int64_t j = 0; j < p; ++j) acc += A[j * n + r] * X[c * p + j];
      B[c * n + r] = acc + 1e-2 * noise[c * n + r];
    }
  free(U), free(V), free(tau), free(X), free(noise);
}

/* Reference: dgelsd on [A; sqrt(ridge n) I_pen] (no penalty on the ones). */
static void reference(int64_t n, int64_t p, int64_t k, const double *A,
                      const double *B, double ridge, double *X) {
  int64_t q = p - 1, m = ridge > 0 ? n + q : n;
  double *Aa = calloc((size_t)(m * p), sizeof(double));
  double *Ba = calloc((size_t)(m * k + 1), sizeof(double));
  for (int64_t j = 0; j < p; ++j)
    memcpy(Aa + j * m, A + j * n, sizeof(double) * (size_t)n);
  for (int64_t c = 0; c < k; ++c)
    memcpy(Ba + c * m, B + c * n, sizeof(double) * (size_t)n);
  if (ridge > 0)
    for (int64_t j = 0; j < q; ++j) Aa[j * m + n + j] = sqrt(ridge * (double)n);
  lsq_gelsd(m, p, k, Aa, Ba, -1.0, X, NULL);
  free(Aa), free(Ba);
}

/* Feed rows [lo, hi) of the global problem in uneven blocks, all passes. */
static w2s_err run(w2s_ctx *ctx, const char *solver, int64_t n, int64_t p,
                   int64_t k, const double *A, const double *B, int64_t lo,
                   int64_t hi, double ridge, double *X, w2s_lsq_info *info) {
  w2s_lsq *ls = NULL;
  double *Ab = malloc(sizeof(double) * (size_t)(n * p + 1));
  double *Bb = malloc(sizeof(double) * (size_t)(n * k + 1));
  int *pen = malloc(sizeof(int) * (size_t)p);
  for (int64_t j = 0; j < p; ++j) pen[j] = j < p - 1;
  w2s_lsq_opts opts = {ridge, pen, 0.0, solver};
  w2s_err e =
      w2s_agree(ctx, w2s_lsq_create_with(ctx, solver, p, k, &opts, &ls));
  for (int more = 1; more && !e;) {
    w2s_lsq_set_context(ls, solver, lo);
    int64_t sizes[] = {1, 7, 3, 50, 1000000};
    for (int64_t i = lo, s = 0; i < hi && !e; ++s) {
      int64_t m = sizes[s % 5] < hi - i ? sizes[s % 5] : hi - i;
      for (int64_t j = 0; j < p; ++j)
        memcpy(Ab + j * m, A + j * n + i, sizeof(double) * (size_t)m);
      for (int64_t c = 0; c < k; ++c)
        memcpy(Bb + c * m, B + c * n + i, sizeof(double) * (size_t)m);
      e = w2s_lsq_add_rows(ctx, ls, m, Ab, m, Bb, m);
      i += m;
    }
    e = w2s_agree(ctx, e);
    if (!e) e = w2s_lsq_end_pass(ctx, ls, &more);
  }
  if (!e) e = w2s_lsq_solve(ctx, ls, &opts, X, info);
  w2s_lsq_destroy(&ls);
  free(Ab), free(Bb), free(pen);
  return e;
}

/* Accuracy model: Householder-class solvers move coefficients by
 * ~cond * eps (cond^2 * eps * residual for the LS term, small here), the
 * normal equations by ~cond^2 * eps. The factor 1e3 covers the constants
 * (p, sqrt(n), the condition estimate). */
static double tolerance(const char *solver, double cond) {
  double c = (!strcmp(solver, "normal")) ? cond * cond : cond;
  return 1e3 * c * DBL_EPSILON + 1e-12;
}

/* Whether the solver may refuse this conditioning with a clean error. */
static int may_refuse(const char *solver, double cond) {
  if (!strcmp(solver, "normal")) return cond > 1e6;
  if (!strcmp(solver, "cholqr2")) return cond > 1e7;
  return 0;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  w2s_ctx *ctx;
  w2s_ctx_create(MPI_COMM_WORLD, 0, &ctx);
  rank_g = ctx->rank;
  const char *solvers[] = {"tsqr", "auto", "cholqr2", "scholqr3", "normal",
                           "scalapack"};
  const double conds[] = {1e2, 1e6, 1e10, 1e14};
  const int64_t n = 240, p = 12;
  for (int ki = 0; ki < 2; ++ki) {
    int64_t k = ki == 0 ? 1 : 200;
    double *A = malloc(sizeof(double) * (size_t)(n * p));
    double *B = malloc(sizeof(double) * (size_t)(n * k));
    double *X = malloc(sizeof(double) * (size_t)(p * k));
    double *Xr = malloc(sizeof(double) * (size_t)(p * k));
    for (int ci = 0; ci < 4; ++ci) {
      make_problem(n, p, k, conds[ci], 11 + (uint64_t)ci, A, B);
      for (int ridge_on = 0; ridge_on < 2; ++ridge_on) {
        double ridge = ridge_on ? 1e-3 : 0.0;
        reference(n, p, k, A, B, ridge, Xr);
        for (size_t s = 0; s < sizeof solvers / sizeof *solvers; ++s) {
          /* 1e14 is beyond every Gram solver but scholqr3 and auto. */
          if (conds[ci] > 1e10 && !ridge_on &&
              (!strcmp(solvers[s], "normal") || !strcmp(solvers[s], "cholqr2")))
            continue;
          for (int layout = 0; layout < 2; ++layout) {
            int64_t lo, cnt;
            w2s_partition(n, ctx->size, ctx->rank, &lo, &cnt);
            if (layout == 1) { /* rank 0 owns every row */
              lo = 0;
              cnt = ctx->rank == 0 ? n : 0;
            }
            w2s_lsq_info info;
            ctx->err = W2S_OK;
            ctx->msg[0] = '\0';
            w2s_err e = run(ctx, solvers[s], n, p, k, A, B, lo, lo + cnt,
                            ridge, X, &info);
            /* With ridge the problem is well conditioned whatever A is. */
            double effcond = ridge_on ? fmin(conds[ci], 1e4) : conds[ci];
            if (e) {
              CHECK(e == W2S_ERR_NUMERIC && may_refuse(solvers[s], effcond),
                    "%s cond %g ridge %g K %lld layout %d: failed: %s",
                    solvers[s], conds[ci], ridge, (long long)k, layout,
                    ctx->msg);
              continue;
            }
            double err = lsq_rel_diff(X, Xr, p * k);
            CHECK(err <= tolerance(solvers[s], effcond) ||
                      may_refuse(solvers[s], effcond),
                  "%s cond %g ridge %g K %lld layout %d: rel error %.3g > %.3g "
                  "(method %s)",
                  solvers[s], conds[ci], ridge, (long long)k, layout, err,
                  tolerance(solvers[s], effcond), info.method);
            /* Every rank holds the same bits. */
            double *X0 = malloc(sizeof(double) * (size_t)(p * k));
            memcpy(X0, X, sizeof(double) * (size_t)(p * k));
            MPI_Bcast(X0, (int)(p * k), MPI_DOUBLE, 0, ctx->comm);
            CHECK(memcmp(X0, X, sizeof(double) * (size_t)(p * k)) == 0,
                  "%s: coefficients differ between ranks", solvers[s]);
            free(X0);
          }
        }
      }
    }
    free(A), free(B), free(X), free(Xr);
  }

  /* Bad input: fewer rows than unknowns without ridge. */
  for (size_t s = 0; s < sizeof solvers / sizeof *solvers; ++s) {
    int64_t nn = 5, k = 2;
    double A[5 * 12], B[5 * 2], X[12 * 2];
    make_problem(nn, 6, k, 10.0, 3, A, B); /* only the first 6 columns used */
    w2s_lsq_info info;
    ctx->err = W2S_OK;
    ctx->msg[0] = '\0';
    int64_t lo, cnt;
    w2s_partition(nn, ctx->size, ctx->rank, &lo, &cnt);
    w2s_err e = run(ctx, solvers[s], nn, 6, k, A, B, lo, lo + cnt, 0.0, X, &info);
    (void)e;
    /* make_problem with p=6 > n=5 is underdetermined. */
    CHECK(e == W2S_ERR_INPUT && strstr(ctx->msg, "underdetermined"),
          "%s: n < p: expected a clear 'underdetermined' error, got %d '%s'",
          solvers[s], (int)e, ctx->msg);
  }

  /* Bad input: a NaN in one row on the last rank stops every rank with the
   * same message naming the rank and the global row. */
  for (size_t s = 0; s < sizeof solvers / sizeof *solvers; ++s) {
    int64_t k = 3;
    double *A = malloc(sizeof(double) * (size_t)(n * p));
    double *B = malloc(sizeof(double) * (size_t)(n * k));
    double X[12 * 3];
    make_problem(n, p, k, 10.0, 5, A, B);
    int64_t lo, cnt;
    w2s_partition(n, ctx->size, ctx->rank, &lo, &cnt);
    int last = ctx->size - 1;
    int64_t bad_row = n - 3; /* on the last rank */
    A[2 * n + bad_row] = NAN;
    w2s_lsq_info info;
    ctx->err = W2S_OK;
    ctx->msg[0] = '\0';
    w2s_err e = run(ctx, solvers[s], n, p, k, A, B, lo, lo + cnt, 0.0, X, &info);
    char want[64];
    snprintf(want, sizeof want, "row %lld (rank %d)", (long long)bad_row, last);
    CHECK(e == W2S_ERR_INPUT && strstr(ctx->msg, want),
          "%s: NaN: expected every rank to report '%s', got %d '%s'",
          solvers[s], want, (int)e, ctx->msg);
    free(A), free(B);
  }

  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (ctx->rank == 0)
    printf("test_solvers_mpi on %d ranks: %d failures\n", ctx->size, total);
  w2s_ctx_destroy(&ctx);
  MPI_Finalize();
  return total ? 1 : 0;
}
