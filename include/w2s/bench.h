/* bench: times the least-squares solvers on one distributed test matrix
 * with a chosen condition number, in the same run, against each other, the
 * ScaLAPACK baseline and the in-run DGEMM rate. w2s_bench_run is
 * collective; every rank gets the same rows. */
#ifndef W2S_BENCH_H
#define W2S_BENCH_H

#include <stdint.h>

#include "w2s/core.h"

typedef struct {
  int64_t rows, cols, rhs;
  double cond;
  int repeat;
  int64_t block;  /* rows per add_rows call */
  int stream;     /* regenerate rows every pass instead of storing them */
  uint64_t seed;
} w2s_bench_opts;

typedef struct {
  char solver[32];
  char method[32]; /* what ran (auto reports its choice) */
  int ok;          /* 0: the solver failed; note says why */
  char note[1100];
  int passes;
  double time_s;   /* median over repeats of the max over ranks */
  double gflops;   /* flop count of the algorithm that ran / time_s */
  double ratio_vs_scalapack; /* time_s / scalapack's (NaN without it) */
  double ratio_vs_gemm; /* time_s / (n d^2 flops at the in-run DGEMM rate) */
  double rel_error;  /* ||X - X_true||_F / ||X_true||_F (the exact solution) */
  double residual;   /* ||A X - B||_F / ||B||_F */
  double peak_rss_mib; /* max over ranks of the peak resident set */
} w2s_bench_row;

typedef struct {
  double gemm_gflops;    /* in-run DGEMM rate per rank */
  double tsqr_rel_error; /* Householder QR's error: what the problem allows */
  double error_bound;    /* cond eps (1 + cond rho): first-order LS bound */
  double rho;            /* ||R|| / (||A||_2 ||X_true||) */
} w2s_bench_summary;

/* Collective. rows[i] for solvers[i]. */
w2s_err w2s_bench_run(w2s_ctx *ctx, const w2s_bench_opts *o,
                      const char *const *solvers, int nsolvers,
                      w2s_bench_row *rows, w2s_bench_summary *sum);

#endif
