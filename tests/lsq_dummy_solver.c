/* A test-only least-squares solver, to show that a solver is one file plus
 * one table line: compiling src/lsq/lsq.c with
 * -DW2S_LSQ_EXTRA_SOLVER=w2s_lsq_solver_dummy appends it to the table
 * (tests/mpi/solvers.cmake builds that second table into w2s_dummy and
 * test_solvers_mpi_dummy). It solves by the normal equations under its own
 * name and with a flop model of its own, 7 n d^2 + 3 n d k, which no real
 * solver has: bench's GFLOP/s column then shows whose model it used. */
#include <stdio.h>

#include "lsq/lsq_impl.h"

static double dummy_flops(double n, double d, double k) {
  return 7 * n * d * d + 3 * n * d * k;
}

static w2s_err dummy_create(w2s_ctx *ctx, int64_t p, int64_t k, w2s_lsq **out) {
  W2S_CALL(w2s_lsq_solver_normal.create(ctx, p, k, out));
  snprintf((*out)->method, sizeof(*out)->method, "dummy");
  return W2S_OK;
}

const w2s_lsq_solver w2s_lsq_solver_dummy = {
    .name = "dummy",
    .help = "test only: the normal equations under another name",
    .create = dummy_create,
    .passes_min = 1,
    .passes_max = 1,
    .cond_max = 1e6,
    .error_order = 2,
    .streams = 1,
    .flops = dummy_flops,
};
