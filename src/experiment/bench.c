/* The solver benchmark (see bench.h). The test matrix is A = G S V^T with G
 * uniform random rows (unit variance, nearly orthogonal columns for n >> d),
 * S log-spaced from 1 to 1/cond and V a random orthogonal matrix, so
 * cond(A) ~ cond; B = A X_true + E with E 1e-3 uniform noise. Errors are
 * measured against the exact least-squares solution X* = X_true + A^+ E =
 * X_true + V S^-1 (G^+ E): G^+ E is a least-squares solve with the factor G,
 * whose condition is ~1 + sqrt(d / n), so it is accurate to ~eps relative to
 * ||E|| / ||G||, and S^-1 amplifies that by at most cond: X* is known to
 * ~cond eps rho (rho = ||R|| / (||A|| ||X*||)), below the cond eps (1 + cond
 * rho) that any backward-stable solver can reach. Row i depends only on
 * (seed, i): any number of ranks benchmarks the same problem. Only the
 * solver calls are timed (row generation and the copies into the blocks that
 * add_rows may overwrite are not). */
#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "w2s/bench.h"
#include "w2s/blas.h"
#include "w2s/lsq.h"
#include "w2s/rng.h"

enum { STREAM_BENCH_ROWS = 101, STREAM_BENCH_SETUP = 102 };

typedef struct {
  const w2s_bench_opts *o;
  int64_t start, count; /* this rank's rows */
  double *M;            /* d x d: S V^T, so a_i = g_i M */
  double *V;            /* d x d */
  double *Xt;           /* d x k: X_true */
  double *A, *B;        /* stored rows (count x d, count x k), or NULL */
  double *Ab, *Bb, *Gb; /* block buffers */
  double *row;
  /* The solves: X* (Xs), Householder's X (Xref), a solver's X, the repeats'
   * times, the arithmetic floor and the conditioning summary. */
  double *Xs, *Xref, *X, *times;
  double floor_s;
  w2s_bench_summary *sum;
} bench;

/* Rows [i0, i0 + m) of G (m x d, into G) and of E (into B). */
static void gen_noise(const bench *b, int64_t i0, int64_t m, double *G,
                      double *B, int64_t ldb) {
  int64_t d = b->o->cols, k = b->o->rhs;
  const double r3 = sqrt(3.0);
  for (int64_t r = 0; r < m; ++r) {
    w2s_rng_uniform(b->o->seed, STREAM_BENCH_ROWS, (uint64_t)(i0 + r), 0, 0,
                    d + k, -r3, r3, b->row);
    for (int64_t j = 0; j < d; ++j) G[j * m + r] = b->row[j];
    for (int64_t j = 0; j < k; ++j) B[j * ldb + r] = 1e-3 * b->row[d + j];
  }
}

static void gen_rows(const bench *b, int64_t i0, int64_t m, double *A,
                     int64_t lda, double *B, int64_t ldb) {
  int64_t d = b->o->cols, k = b->o->rhs;
  gen_noise(b, i0, m, b->Gb, B, ldb);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)d, (int)d,
              1.0, b->Gb, (int)m, b->M, (int)d, 0.0, A, (int)lda);
  if (k > 0)
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)k,
                (int)d, 1.0, A, (int)lda, b->Xt, (int)d, 1.0, B, (int)ldb);
}

/* Rows [i, i + m) of this rank into the block buffers. */
static void block(const bench *b, int64_t i, int64_t m) {
  int64_t d = b->o->cols, k = b->o->rhs;
  if (!b->A) {
    gen_rows(b, b->start + i, m, b->Ab, m, b->Bb, m);
    return;
  }
  for (int64_t j = 0; j < d; ++j)
    memcpy(b->Ab + j * m, b->A + j * b->count + i, sizeof(double) * (size_t)m);
  for (int64_t j = 0; j < k; ++j)
    memcpy(b->Bb + j * m, b->B + j * b->count + i, sizeof(double) * (size_t)m);
}

static w2s_err setup(w2s_ctx *ctx, const w2s_bench_opts *o, bench *b) {
  int64_t d = o->cols, k = o->rhs, nb = o->block;
  b->o = o;
  w2s_partition(o->rows, ctx->size, ctx->rank, &b->start, &b->count);
  W2S_CALL(W2S_ALLOC(ctx, b->M, d * d));
  W2S_CALL(W2S_ALLOC(ctx, b->Xt, d * (k > 0 ? k : 1)));
  W2S_CALL(W2S_ALLOC(ctx, b->row, d + k));
  W2S_CALL(W2S_ALLOC(ctx, b->Ab, nb * d));
  W2S_CALL(W2S_ALLOC(ctx, b->Bb, nb * (k > 0 ? k : 1)));
  W2S_CALL(W2S_ALLOC(ctx, b->Gb, nb * d));
  /* V: Q of a random Gaussian matrix; M = S V^T. */
  double *tau = NULL;
  W2S_CALL(W2S_ALLOC(ctx, b->V, d * d));
  double *V = b->V;
  W2S_CALL(W2S_ALLOC(ctx, tau, d));
  w2s_rng_normal(o->seed, STREAM_BENCH_SETUP, 0, 0, 0, d * d, V);
  int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)d, (int)d, V, (int)d, tau);
  if (!info)
    info = LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)d, (int)d, (int)d, V, (int)d,
                          tau);
  for (int64_t i = 0; i < d; ++i) {
    double s = d > 1 ? pow(o->cond, -(double)i / (double)(d - 1)) : 1.0;
    for (int64_t j = 0; j < d; ++j) b->M[j * d + i] = s * V[i * d + j];
  }
  w2s_rng_normal(o->seed, STREAM_BENCH_SETUP, 1, 0, 0, d * k, b->Xt);
  free(tau);
  if (info) return W2S_FAIL(ctx, W2S_ERR_NUMERIC, "bench: QR of V failed");
  if (!o->stream) {
    W2S_CALL(W2S_ALLOC(ctx, b->A, b->count * d));
    W2S_CALL(W2S_ALLOC(ctx, b->B, b->count * (k > 0 ? k : 1)));
    for (int64_t i = 0; i < b->count; i += nb) {
      int64_t m = b->count - i < nb ? b->count - i : nb;
      gen_rows(b, b->start + i, m, b->Ab, m, b->Bb, m);
      for (int64_t j = 0; j < d; ++j)
        memcpy(b->A + j * b->count + i, b->Ab + j * m,
               sizeof(double) * (size_t)m);
      for (int64_t j = 0; j < k; ++j)
        memcpy(b->B + j * b->count + i, b->Bb + j * m,
               sizeof(double) * (size_t)m);
    }
  }
  return W2S_OK;
}

static void bench_free(bench *b) {
  free(b->M);
  free(b->V);
  free(b->Xt);
  free(b->A);
  free(b->B);
  free(b->Ab);
  free(b->Bb);
  free(b->Gb);
  free(b->row);
  free(b->Xs);
  free(b->Xref);
  free(b->X);
  free(b->times);
}

/* Peak resident set: reset where Linux allows (clear_refs 5), read VmHWM. */
static void peak_reset(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (f) {
    fputs("5", f);
    fclose(f);
  }
}
static double peak_mib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double kb = -1.0;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) kb = atof(line + 6);
  if (f) fclose(f);
  if (kb < 0) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    kb = (double)ru.ru_maxrss;
  }
  return kb / 1024.0;
}

/* One timed solve; *t = max over ranks of the time in solver calls. */
static w2s_err solve_once(w2s_ctx *ctx, bench *b, const char *solver, double *X,
                          w2s_lsq_info *info, double *t) {
  const w2s_bench_opts *o = b->o;
  w2s_lsq *ls = NULL;
  double spent = 0.0, t0;
  w2s_lsq_opts opts = {0.0, NULL, 0.0, "bench"};
  w2s_barrier(ctx);
  t0 = w2s_wtime();
  w2s_err e = w2s_agree(ctx, w2s_lsq_create_with(ctx, solver, o->cols, o->rhs,
                                                 &opts, &ls));
  spent += w2s_wtime() - t0;
  for (int more = 1; more && !e;) {
    w2s_lsq_set_context(ls, "bench", b->start);
    for (int64_t i = 0; i < b->count && !e; i += o->block) {
      int64_t m = b->count - i < o->block ? b->count - i : o->block;
      block(b, i, m);
      t0 = w2s_wtime();
      e = w2s_lsq_add_rows(ctx, ls, m, b->Ab, m, b->Bb, m);
      spent += w2s_wtime() - t0;
    }
    e = w2s_agree(ctx, e);
    t0 = w2s_wtime();
    if (!e) e = w2s_lsq_end_pass(ctx, ls, &more);
    spent += w2s_wtime() - t0;
  }
  t0 = w2s_wtime();
  if (!e) e = w2s_lsq_solve(ctx, ls, &opts, X, info);
  spent += w2s_wtime() - t0;
  w2s_lsq_destroy(&ls);
  *t = spent;
  if (ctx->comm != MPI_COMM_NULL) w2s_max(ctx, t, 1);
  return e;
}

/* ||A X - B||_F / ||B||_F over all rows; norms (unless NULL) = ||A||_F,
 * ||B||_F. */
static w2s_err residual(w2s_ctx *ctx, bench *b, const double *X, double *res,
                        double *norms) {
  const w2s_bench_opts *o = b->o;
  double acc[3] = {0.0, 0.0, 0.0};
  for (int64_t i = 0; i < b->count; i += o->block) {
    int64_t m = b->count - i < o->block ? b->count - i : o->block;
    block(b, i, m);
    for (int64_t j = 0; j < o->cols; ++j)
      acc[2] += cblas_ddot((int)m, b->Ab + j * m, 1, b->Ab + j * m, 1);
    for (int64_t j = 0; j < o->rhs; ++j)
      acc[1] += cblas_ddot((int)m, b->Bb + j * m, 1, b->Bb + j * m, 1);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)o->rhs,
                (int)o->cols, 1.0, b->Ab, (int)m, X, (int)o->cols, -1.0, b->Bb,
                (int)m);
    for (int64_t j = 0; j < o->rhs; ++j)
      acc[0] += cblas_ddot((int)m, b->Bb + j * m, 1, b->Bb + j * m, 1);
  }
  W2S_CALL(w2s_sum(ctx, acc, 3));
  *res = acc[1] > 0 ? sqrt(acc[0] / acc[1]) : 0.0;
  if (norms) norms[0] = sqrt(acc[2]), norms[1] = sqrt(acc[1]);
  return W2S_OK;
}

/* In-run DGEMM rate of one rank while every rank runs it. */
static double gemm_rate(w2s_ctx *ctx, const w2s_bench_opts *o) {
  int64_t m = 4096, d = o->cols;
  double *A = malloc(sizeof(double) * (size_t)(m * d));
  double *C = malloc(sizeof(double) * (size_t)(d * d));
  double rate = NAN;
  if (A && C) {
    for (int64_t i = 0; i < m * d; ++i)
      A[i] = (double)((i * 7919) % 1000) * 1e-3;
    double best = 0.0;
    for (int trial = 0; trial < 5; ++trial) {
      w2s_barrier(ctx);
      double t = w2s_wtime();
      int reps = 0;
      do {
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)d, (int)d,
                    (int)m, 1.0, A, (int)m, A, (int)m, 0.0, C, (int)d);
        ++reps;
      } while (w2s_wtime() - t < 0.1);
      double r = 2.0 * (double)m * (double)d * (double)d * reps /
                 (w2s_wtime() - t);
      if (r > best) best = r;
    }
    rate = best;
  }
  free(A);
  free(C);
  double v = rate;
  if (ctx->comm != MPI_COMM_NULL) {
    /* The slowest rank sets the pace of a collective computation. */
    v = -v;
    w2s_max(ctx, &v, 1);
    v = -v;
  }
  return v;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double rel_diff(const double *x, const double *ref, int64_t len) {
  double diff = 0.0, nr = 0.0;
  for (int64_t i = 0; i < len; ++i) {
    diff += (x[i] - ref[i]) * (x[i] - ref[i]);
    nr += ref[i] * ref[i];
  }
  return nr > 0 ? sqrt(diff / nr) : sqrt(diff);
}

/* X* = X_true + V S^-1 G^+ E (see the top of the file), untimed. */
static w2s_err exact_solution(w2s_ctx *ctx, bench *b, double *Xs) {
  const w2s_bench_opts *o = b->o;
  int64_t d = o->cols, k = o->rhs;
  w2s_lsq *ls = NULL;
  w2s_lsq_info info;
  w2s_lsq_opts opts = {0.0, NULL, 0.0, "bench reference"};
  double *Y = NULL;
  w2s_err e = W2S_ALLOC(ctx, Y, d * (k > 0 ? k : 1));
  if (!e) e = w2s_lsq_create_with(ctx, "tsqr", d, k, &opts, &ls);
  e = w2s_agree(ctx, e);
  for (int more = 1; more && !e;) {
    for (int64_t i = 0; i < b->count && !e; i += o->block) {
      int64_t m = b->count - i < o->block ? b->count - i : o->block;
      gen_noise(b, b->start + i, m, b->Ab, b->Bb, m);
      e = w2s_lsq_add_rows(ctx, ls, m, b->Ab, m, b->Bb, m);
    }
    e = w2s_agree(ctx, e);
    if (!e) e = w2s_lsq_end_pass(ctx, ls, &more);
  }
  if (!e) e = w2s_lsq_solve(ctx, ls, &opts, Y, &info);
  w2s_lsq_destroy(&ls);
  if (!e) {
    for (int64_t c = 0; c < k; ++c)
      for (int64_t i = 0; i < d; ++i)
        Y[c * d + i] /= d > 1 ? pow(o->cond, -(double)i / (double)(d - 1)) : 1;
    memcpy(Xs, b->Xt, sizeof(double) * (size_t)(d * k));
    if (k > 0)
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)k,
                  (int)d, 1.0, b->V, (int)d, Y, (int)d, 1.0, Xs, (int)d);
  }
  free(Y);
  return e;
}

/* What the conditioning allows: the Householder (tsqr) solution's error and
 * the first-order perturbation bound cond eps (1 + cond rho) of a least
 * squares solution, rho = ||R|| / (||A||_2 ||X||). ||A||_2 is estimated as
 * ||A||_F / sqrt(sum s_i^2) (exact when G^T G = n I; s_1 = 1). */
static w2s_err conditioning(w2s_ctx *ctx, bench *b, const double *Xs,
                            const double *Xtsqr, w2s_bench_summary *sum) {
  const w2s_bench_opts *o = b->o;
  int64_t d = o->cols, k = o->rhs;
  double res, norms[2], s2 = 0.0;
  W2S_CALL(w2s_agree(ctx, residual(ctx, b, Xs, &res, norms)));
  for (int64_t i = 0; i < d; ++i) {
    double s = d > 1 ? pow(o->cond, -(double)i / (double)(d - 1)) : 1.0;
    s2 += s * s;
  }
  double a2 = norms[0] / sqrt(s2), xn = cblas_dnrm2((int)(d * k), Xs, 1);
  sum->rho = a2 > 0 && xn > 0 ? res * norms[1] / (a2 * xn) : 0.0;
  sum->error_bound = o->cond * DBL_EPSILON * (1.0 + o->cond * sum->rho);
  sum->tsqr_rel_error = rel_diff(Xtsqr, Xs, d * k);
  return W2S_OK;
}

/* The named references: Householder QR (the yardstick of accuracy) and
 * the ScaLAPACK baseline of ratio_vs_scalapack. */
static const char *const householder = "tsqr", *const baseline = "scalapack";

/* What the bench allows a solver whose algorithm has this error order:
 * 10x Householder's error, or 10x cond^order eps when Householder happens
 * to be more accurate than that. */
static double allowed_error(const w2s_bench_opts *o,
                            const w2s_bench_summary *sum, int order) {
  return 10.0 *
         fmax(sum->tsqr_rel_error, pow(o->cond, (double)order) * DBL_EPSILON);
}

/* Repeats of one solver into r; a refusal (W2S_ERR_NUMERIC) is a row. */
static w2s_err bench_solver(w2s_ctx *ctx, bench *b, const w2s_lsq_solver *sv,
                            w2s_bench_row *r) {
  const w2s_bench_opts *o = b->o;
  double *X = b->X, *times = b->times;
  int64_t d = o->cols, k = o->rhs;
  w2s_lsq_info info = {0};
  w2s_err e = W2S_OK;
  memset(r, 0, sizeof *r);
  snprintf(r->solver, sizeof r->solver, "%s", sv->name);
  r->time_s = r->flops = r->gflops = r->ratio_vs_gemm = r->rel_error =
      r->residual = r->ratio_vs_scalapack = NAN;
  peak_reset();
  for (int64_t rep = 0; rep < o->repeat && !e; ++rep)
    e = solve_once(ctx, b, sv->name, X, &info, &times[rep]);
  double peak = peak_mib();
  if (ctx->comm != MPI_COMM_NULL) w2s_max(ctx, &peak, 1);
  r->peak_rss_mib = peak;
  if (e == W2S_ERR_NUMERIC) {
    /* A solver refusing its problem is a result, not the end of the
     * benchmark; memory or MPI failing is. */
    snprintf(r->note, sizeof r->note, "failed: %s", ctx->msg);
    snprintf(r->method, sizeof r->method, "%s", sv->name);
    snprintf(r->ran, sizeof r->ran, "%s", sv->name);
    ctx->err = W2S_OK;
    ctx->msg[0] = '\0';
    return W2S_OK;
  }
  if (e) return e;
  r->ok = 1;
  qsort(times, (size_t)o->repeat, sizeof *times, cmp_double);
  r->time_s = o->repeat % 2
                  ? times[o->repeat / 2]
                  : 0.5 * (times[o->repeat / 2 - 1] + times[o->repeat / 2]);
  snprintf(r->method, sizeof r->method, "%s", info.method);
  const w2s_lsq_solver *ran = info.ran ? info.ran : sv;
  snprintf(r->ran, sizeof r->ran, "%s", ran->name);
  r->passes = info.passes;
  r->flops = ran->flops((double)o->rows, (double)d, (double)k);
  r->gflops = r->flops / r->time_s * 1e-9;
  r->ratio_vs_gemm = r->time_s / b->floor_s;
  r->rel_error = rel_diff(X, b->Xs, d * k);
  W2S_CALL(w2s_agree(ctx, residual(ctx, b, X, &r->residual, NULL)));
  int order = ran->error_order;
  double allowed = allowed_error(o, b->sum, order);
  if (!isfinite(r->rel_error) || r->rel_error > allowed) {
    char bound[16] = "cond eps";
    if (order != 1) snprintf(bound, sizeof bound, "cond^%d eps", order);
    snprintf(r->note, sizeof r->note,
             "INACCURATE: error %.2g > %.2g (10x max(Householder's, %s))",
             r->rel_error, allowed, bound);
  }
  return W2S_OK;
}

w2s_bench_opts w2s_bench_defaults(void) {
  w2s_bench_opts o = {200000, 256, 64, 1e3, 3, 8192, 0, 1, NULL};
  return o;
}

static w2s_err bench_check(w2s_ctx *ctx, const w2s_bench_opts *o,
                           const w2s_lsq_solver **sv, w2s_bench_result *res) {
  memset(res, 0, sizeof *res);
  res->ranks = ctx->size;
  w2s_blas_info blas;
  w2s_blas_query(&blas);
  w2s_blas_describe(&blas, res->blas, sizeof res->blas);
  snprintf(res->blas_kernel, sizeof res->blas_kernel, "%s", blas.kernel);
  W2S_CALL(w2s_bench_solvers(ctx, o, sv, &res->nsolvers));
  if (o->rows < o->cols)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "--rows %lld < --cols %lld: the "
                    "problem is underdetermined",
                    (long long)o->rows, (long long)o->cols);
  return W2S_OK;
}

w2s_err w2s_bench_run(w2s_ctx *ctx, const w2s_bench_opts *o,
                      w2s_bench_result *res) {
  const w2s_lsq_solver *sv[W2S_BENCH_MAX_SOLVERS] = {NULL};
  W2S_CALL(bench_check(ctx, o, sv, res));
  w2s_blas_warn(ctx, "bench");
  bench b;
  memset(&b, 0, sizeof b);
  b.sum = &res->sum;
  int64_t dk = o->cols * (o->rhs > 0 ? o->rhs : 1);
  w2s_err e = setup(ctx, o, &b);
  if (!e) e = W2S_ALLOC(ctx, b.Xref, dk);
  if (!e) e = W2S_ALLOC(ctx, b.Xs, dk);
  if (!e) e = W2S_ALLOC(ctx, b.X, dk);
  if (!e) e = W2S_ALLOC(ctx, b.times, o->repeat);
  e = w2s_agree(ctx, e);
  if (e) goto done;
  double rate = gemm_rate(ctx, o);
  res->sum.gemm_gflops = rate * 1e-9;
  b.floor_s = (double)o->rows * (double)o->cols * (double)o->cols /
              (rate * ctx->size);
  w2s_lsq_info info;
  double t;
  /* Householder QR's own error on this problem, untimed. */
  e = exact_solution(ctx, &b, b.Xs);
  if (!e) e = solve_once(ctx, &b, householder, b.Xref, &info, &t);
  if (!e) e = conditioning(ctx, &b, b.Xs, b.Xref, &res->sum);
  double t_sl = NAN;
  for (int s = 0; s < res->nsolvers && sv[s] && !e; ++s) {
    e = bench_solver(ctx, &b, sv[s], &res->row[s]);
    if (!e && res->row[s].ok && !strcmp(res->row[s].solver, baseline))
      t_sl = res->row[s].time_s;
  }
  for (int s = 0; s < res->nsolvers && !e; ++s)
    if (res->row[s].ok)
      res->row[s].ratio_vs_scalapack = res->row[s].time_s / t_sl;
done:
  bench_free(&b);
  return e;
}
