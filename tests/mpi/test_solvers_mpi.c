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

/* Reference for ridge: dgelsd on [A; sqrt(ridge n) I_pen] (no penalty on
 * the ones), whose solution is not known in closed form. Returns the
 * augmented matrix's condition and rho = ||r|| / (||A_aug||_2 ||X||), for
 * the perturbation bound of the augmented problem. */
static lsq_ref_problem reference(int64_t n, int64_t p, int64_t k,
                                 const double *A, const double *B, double ridge,
                                 double *X) {
  int64_t q = p - 1, m = ridge > 0 ? n + q : n;
  double *Aa = calloc((size_t)(m * p), sizeof(double));
  double *Ba = calloc((size_t)(m * k + 1), sizeof(double));
  double *sv = calloc((size_t)p, sizeof(double));
  for (int64_t j = 0; j < p; ++j)
    memcpy(Aa + j * m, A + j * n, sizeof(double) * (size_t)n);
  for (int64_t c = 0; c < k; ++c)
    memcpy(Ba + c * m, B + c * n, sizeof(double) * (size_t)n);
  if (ridge > 0)
    for (int64_t j = 0; j < q; ++j) Aa[j * m + n + j] = sqrt(ridge * (double)n);
  lsq_gelsd(m, p, k, Aa, Ba, -1.0, X, sv);
  lsq_ref_problem pr = {sv[0] / sv[p - 1], sv[0], 0.0};
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)k, (int)p,
              -1.0, Aa, (int)m, X, (int)p, 1.0, Ba, (int)m);
  pr.rho = cblas_dnrm2((int)(m * k), Ba, 1) /
           (pr.anorm * cblas_dnrm2((int)(p * k), X, 1));
  free(Aa), free(Ba), free(sv);
  return pr;
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
  w2s_err e = w2s_agree(ctx,
                        w2s_lsq_create_with(ctx, solver, p, k, &opts, &ls));
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

/* The accuracy contract, from the solver table: the entry that ran
 * (info.ran; auto reports its choice) has an error order, 2 for the normal
 * equations, whose forward error is <= ~cond^2 eps (Higham, Accuracy and
 * Stability of Numerical Algorithms, 2nd ed., sec. 20.4), 1 for the
 * QR-type methods, <= ~cond eps (1 + cond rho) (lsq_ref_fwd_bound). The
 * constant p * LSQ_REF_THRESH is the dimension factor of the rounding
 * analysis times LAPACK's test threshold. */
static double fwd_tolerance(const w2s_lsq_solver *ran, int64_t p,
                            lsq_ref_problem pr) {
  double b = ran->error_order >= 2
                 ? pow(pr.cond, (double)ran->error_order) * DBL_EPSILON
                 : lsq_ref_fwd_bound(pr.cond, pr.rho);
  return LSQ_REF_THRESH * (double)p * b;
}

/* Beyond its cond_max a solver may refuse the problem with a clean error. */
static int may_refuse(const w2s_lsq_solver *s, double cond) {
  return cond > s->cond_max;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  w2s_ctx *ctx;
  w2s_ctx_create(MPI_COMM_WORLD, 0, &ctx);
  rank_g = ctx->rank;
  /* Every solver of the table, so that adding one makes this test test it. */
  const w2s_lsq_solver *const *solvers = w2s_lsq_solvers;
  int nsolvers = 0;
  while (solvers[nsolvers]) ++nsolvers;
  int *checked = calloc((size_t)nsolvers + 1, sizeof *checked);
  /* Full rank up to 1e10; 1e14 is beyond 1 / (max(n, p) eps), where the
   * default rank rule truncates: only the backward error is checked there. */
  const double conds[] = {1e2, 1e6, 1e10, 1e14};
  const double rhos[] = {0.0, 1e-3};
  const int64_t n = 240, p = 12;
  double worst_fwd = 0.0, worst_ref = 0.0, worst_bwd = 0.0;
  for (int ki = 0; ki < 2; ++ki) {
    int64_t k = ki == 0 ? 1 : 200;
    double *A = malloc(sizeof(double) * (size_t)(n * p));
    double *B = malloc(sizeof(double) * (size_t)(n * k));
    double *X = malloc(sizeof(double) * (size_t)(p * k));
    double *Xt = malloc(sizeof(double) * (size_t)(p * k));
    double *Xr = malloc(sizeof(double) * (size_t)(p * k));
    for (int ci = 0; ci < 4; ++ci)
      for (int ri = 0; ri < 2; ++ri)
        for (int ridge_on = 0; ridge_on < 2; ++ridge_on) {
          lsq_ref_problem pr = lsq_known_problem(n, p, k, conds[ci], rhos[ri],
                                                 1,
                                                 11 + (uint64_t)(ci * 2 + ri),
                                                 A, Xt, B);
          int full_rank = ridge_on || pr.cond < 1e12;
          if (full_rank && !lsq_ref_exact(n, p, k, A, B, Xt)) {
            if (ctx->rank == 0)
              printf("SKIP forward errors: long double is not wider than "
                     "double here\n");
            full_rank = 0;
          }
          double ridge = ridge_on ? 1e-3 : 0.0;
          /* Without ridge: dgelsd's own error on the known solution; with
           * ridge: dgelsd's solution of the augmented problem and its
           * conditioning (both solutions then lie within the bound of the
           * unknown exact one, so within twice it of each other). */
          lsq_ref_problem aug = pr;
          double ref_err = 0.0;
          if (ridge_on) {
            aug = reference(n, p, k, A, B, ridge, Xr);
          } else {
            lsq_gelsd(n, p, k, A, B, -1.0, Xr, NULL);
            ref_err = lsq_rel_diff(Xr, Xt, p * k);
          }
          for (int s = 0; s < nsolvers; ++s) {
            checked[s] = 1;
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
              w2s_err e = run(ctx, solvers[s]->name, n, p, k, A, B, lo,
                              lo + cnt, ridge, X, &info);
              if (e) {
                CHECK(e == W2S_ERR_NUMERIC &&
                          may_refuse(solvers[s], ridge_on ? aug.cond : pr.cond),
                      "%s cond %g rho %g ridge %g K %lld layout %d: failed: %s",
                      solvers[s]->name, conds[ci], rhos[ri], ridge,
                      (long long)k, layout, ctx->msg);
                continue;
              }
              const char *what = info.method;
              const w2s_lsq_solver *ran = info.ran;
              CHECK(ran && info.passes >= solvers[s]->passes_min &&
                        info.passes <= solvers[s]->passes_max,
                    "%s cond %g K %lld layout %d: %d passes, the table says "
                    "%d to %d (method %s)",
                    solvers[s]->name, conds[ci], (long long)k, layout,
                    info.passes, solvers[s]->passes_min, solvers[s]->passes_max,
                    what);
              if (!ran) continue;
              if (!ridge_on) {
                double bwd = lsq_ref_backward_ratio(n, p, k, A, B, X);
                worst_bwd = fmax(worst_bwd, bwd);
                CHECK(bwd <= LSQ_REF_THRESH,
                      "%s cond %g rho %g K %lld layout %d: backward error "
                      "%.3g max(n,p) eps > %g (method %s)",
                      solvers[s]->name, conds[ci], rhos[ri], (long long)k,
                      layout, bwd, LSQ_REF_THRESH, what);
              }
              if (!full_rank) continue;
              if (ridge_on) {
                double err = lsq_rel_diff(X, Xr, p * k);
                double tol = 2.0 * fwd_tolerance(ran, p, aug);
                CHECK(err <= tol,
                      "%s cond %g rho %g ridge %g K %lld layout %d: differs "
                      "from dgelsd by %.3g > %.3g (method %s)",
                      solvers[s]->name, conds[ci], rhos[ri], ridge,
                      (long long)k, layout, err, tol, what);
              } else {
                double err = lsq_rel_diff(X, Xt, p * k);
                double tol = fwd_tolerance(ran, p, pr);
                worst_fwd = fmax(worst_fwd, err / tol);
                CHECK(err <= tol,
                      "%s cond %g rho %g K %lld layout %d: forward error %.3g "
                      "> %.3g (method %s)",
                      solvers[s]->name, conds[ci], rhos[ri], (long long)k,
                      layout, err, tol, what);
                /* Householder QR's own error, not another solver's rounding,
                 * is the yardstick of the backward-stable methods, where the
                 * first-order analysis holds (the bound well below 1: at
                 * cond 1e10, rho 1e-3 no solver has a digit left), over
                 * K = 200 right-hand sides (one column's error is a single
                 * draw of the rounding, whose ratio to dgelsd's single draw
                 * is not concentrated; K = 1 is held to the bound only). */
                double vs = 10.0 * fmax(ref_err, pr.cond * DBL_EPSILON);
                if (ran->error_order == 1 && k > 1 &&
                    lsq_ref_fwd_bound(pr.cond, pr.rho) <= 1e-3) {
                  worst_ref = fmax(worst_ref, err / vs);
                  CHECK(err <= vs,
                        "%s cond %g rho %g K %lld layout %d: forward error "
                        "%.3g > 10x max(dgelsd's %.3g, cond eps) (method %s)",
                        solvers[s]->name, conds[ci], rhos[ri], (long long)k,
                        layout, err, ref_err, what);
                }
              }
              /* Every rank holds the same bits. */
              double *X0 = malloc(sizeof(double) * (size_t)(p * k));
              memcpy(X0, X, sizeof(double) * (size_t)(p * k));
              MPI_Bcast(X0, (int)(p * k), MPI_DOUBLE, 0, ctx->comm);
              CHECK(memcmp(X0, X, sizeof(double) * (size_t)(p * k)) == 0,
                    "%s: coefficients differ between ranks", solvers[s]->name);
              free(X0);
            }
          }
        }
    free(A), free(B), free(X), free(Xt), free(Xr);
  }
  if (ctx->rank == 0)
    printf("worst ratios to the allowed: forward %.3g, vs dgelsd %.3g, "
           "backward %.3g / %g\n",
           worst_fwd, worst_ref, worst_bwd, LSQ_REF_THRESH);

  /* Bad input: fewer rows than unknowns without ridge. */
  for (int s = 0; s < nsolvers; ++s) {
    int64_t nn = 5, k = 2;
    double A[5 * 12], B[5 * 2], X[12 * 2];
    make_problem(nn, 6, k, 10.0, 3, A, B); /* only the first 6 columns used */
    w2s_lsq_info info;
    ctx->err = W2S_OK;
    ctx->msg[0] = '\0';
    int64_t lo, cnt;
    w2s_partition(nn, ctx->size, ctx->rank, &lo, &cnt);
    w2s_err e = run(ctx, solvers[s]->name, nn, 6, k, A, B, lo, lo + cnt, 0.0, X,
                    &info);
    (void)e;
    /* make_problem with p=6 > n=5 is underdetermined. */
    CHECK(e == W2S_ERR_INPUT && strstr(ctx->msg, "underdetermined"),
          "%s: n < p: expected a clear 'underdetermined' error, got %d '%s'",
          solvers[s]->name, (int)e, ctx->msg);
  }

  /* Bad input: a NaN in one row on the last rank stops every rank with the
   * same message naming the rank and the global row. */
  for (int s = 0; s < nsolvers; ++s) {
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
    w2s_err e = run(ctx, solvers[s]->name, n, p, k, A, B, lo, lo + cnt, 0.0, X,
                    &info);
    char want[64];
    snprintf(want, sizeof want, "row %lld (rank %d)", (long long)bad_row, last);
    CHECK(e == W2S_ERR_INPUT && strstr(ctx->msg, want),
          "%s: NaN: expected every rank to report '%s', got %d '%s'",
          solvers[s]->name, want, (int)e, ctx->msg);
    free(A), free(B);
  }

  /* Which solvers the accuracy loop ran (the dummy-solver ctest reads it). */
  if (ctx->rank == 0) {
    printf("solvers checked:");
    for (int s = 0; s < nsolvers; ++s)
      if (checked[s]) printf(" %s", solvers[s]->name);
    printf("\n");
  }
  free(checked);
  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (ctx->rank == 0)
    printf("test_solvers_mpi on %d ranks: %d failures\n", ctx->size, total);
  w2s_ctx_destroy(&ctx);
  MPI_Finalize();
  return total ? 1 : 0;
}
