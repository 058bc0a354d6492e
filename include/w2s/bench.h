/* bench: times the least-squares solvers on one distributed test matrix
 * with a chosen condition number, in the same run, against each other, the
 * ScaLAPACK baseline and the in-run DGEMM rate. Every rank gets the same
 * rows. The solvers, their flop counts (GFLOP/s) and their accuracy classes
 * (the INACCURATE note) come from the solver table, w2s_lsq_solvers[]. */
#ifndef W2S_BENCH_H
#define W2S_BENCH_H

#include <stdint.h>
#include <stdio.h>

#include "w2s/core.h"
#include "w2s/lsq.h"

enum { W2S_BENCH_MAX_SOLVERS = 16 };

typedef enum {
  W2S_BENCH_TABLE,
  W2S_BENCH_CSV,
  W2S_BENCH_JSON
} w2s_bench_format;

typedef struct {
  int64_t rows, cols, rhs;
  double cond;
  int64_t repeat;
  int64_t block; /* rows per add_rows call */
  int stream;    /* regenerate rows every pass instead of storing them */
  uint64_t seed;
  /* Comma-separated solver names (at most 511 characters; not owned);
   * NULL: the whole table, in its order. */
  const char *solvers;
} w2s_bench_opts;

/* The defaults of `w2s bench` (n = 200000, d = 256, K = 64, cond 1e3, 3
 * repeats, blocks of 8192, stored rows, seed 1, every solver). */
w2s_bench_opts w2s_bench_defaults(void);

typedef struct {
  char solver[32];
  char method[32]; /* what ran (auto reports its choice) */
  char ran[32];    /* the table entry whose model applies (info.ran) */
  int ok;          /* 0: the solver failed; note says why */
  char note[1100];
  int passes;
  double time_s;             /* median over repeats of the max over ranks */
  double flops;              /* ran's flop model at (rows, cols, rhs) */
  double gflops;             /* flops / time_s * 1e-9 */
  double ratio_vs_scalapack; /* time_s / scalapack's (NaN without it) */
  double ratio_vs_gemm; /* time_s / (n d^2 flops at the in-run DGEMM rate) */
  double rel_error;     /* ||X - X*||_F / ||X*||_F (X*: the exact solution) */
  double residual;      /* ||A X - B||_F / ||B||_F */
  double peak_rss_mib;  /* max over ranks of the peak resident set */
} w2s_bench_row;

typedef struct {
  double gemm_gflops;    /* in-run DGEMM rate per rank */
  double tsqr_rel_error; /* Householder QR's error: what the problem allows */
  double error_bound;    /* cond eps (1 + cond rho): first-order LS bound */
  double rho;            /* ||R|| / (||A||_2 ||X*||) */
} w2s_bench_summary;

/* Everything a report prints. */
typedef struct {
  int nsolvers;
  w2s_bench_row row[W2S_BENCH_MAX_SOLVERS]; /* row[i] for the i-th name */
  w2s_bench_summary sum;
  int ranks;
  char blas[256];       /* w2s_blas_describe's line */
  char blas_kernel[64]; /* the BLAS kernel that ran */
} w2s_bench_result;

/* Collective. Validates o (W2S_ERR_USAGE, naming the option: an empty or
 * unknown name in --solvers, more than W2S_BENCH_MAX_SOLVERS of them,
 * rows < cols), then runs every solver; res is filled on every rank. A
 * solver refusing its problem (W2S_ERR_NUMERIC) is a row with ok = 0 and
 * the reason in note, not an error; memory or MPI failures are returned
 * (W2S_ERR_MEMORY, W2S_ERR_MPI) on every rank. */
w2s_err w2s_bench_run(w2s_ctx *ctx, const w2s_bench_opts *o,
                      w2s_bench_result *res);

/* Local. o->solvers resolved into table entries (out: room for
 * W2S_BENCH_MAX_SOLVERS, owned by the table), *n of them; W2S_ERR_USAGE
 * naming --solvers for an empty or unknown name (with the nearest one), a
 * list too long or with too many names. */
w2s_err w2s_bench_solvers(w2s_ctx *ctx, const w2s_bench_opts *o,
                          const w2s_lsq_solver **out, int *n);

/* Local (call on one rank). The result as a fixed-width table (with a
 * header naming the sizes, the DGEMM rate, the BLAS and the bounds), as
 * CSV (solver,time_s,gflops,ratio_vs_scalapack,ratio_vs_gemm,rel_error,
 * residual,peak_rss_mib,tsqr_rel_error,error_bound) or as one JSON
 * object. */
void w2s_bench_print(FILE *f, const w2s_bench_opts *o,
                     const w2s_bench_result *res, w2s_bench_format fmt);

/* Local. The solver table as CSV, one row per solver: solver, passes_min,
 * passes_max, cond_max, error_order, streams, flops (its model at o's
 * rows, cols, rhs), help (quoted). */
void w2s_bench_list_solvers(FILE *f, const w2s_bench_opts *o);

#endif
