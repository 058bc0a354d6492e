/* scholqr3: shifted CholeskyQR3 (Fukaya, Nakatsukasa, Yanagisawa, Yamamoto,
 * SIAM J. Sci. Comput. 2020). Pass 1: Gram of A, Cholesky of G + s I with
 * the paper's shift s, so Q1 = A R1^-1 has cond <= ~1e8 even when A's is
 * ~1e15; passes 2 and 3 are CholeskyQR2 on Q1. */
#include "lsq/gram.h"

static w2s_err scholqr3_end_pass(w2s_ctx *ctx, w2s_lsq *ls, int64_t nrows,
                                 int *more) {
  w2s_gram_solver *st = ls->impl;
  W2S_CALL(w2s_gram_reduce(ctx, ls, &st->g));
  double cond;
  double shift = st->stage == 0 ? w2s_gram_shift(&st->g, nrows) : 0.0;
  if (w2s_gram_factor(&st->g, shift, &cond) != 0)
    return W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                    "%s: shifted CholeskyQR3: the Cholesky factorisation of "
                    "pass %d failed (numerically rank-deficient features); "
                    "use fit.solver = auto or tsqr",
                    ls->label, st->stage + 1);
  *more = st->stage < 2;
  if (*more) w2s_gram_next_pass(&st->g, st->stage == 1);
  st->stage++;
  return W2S_OK;
}

static const w2s_lsq_ops scholqr3_ops = {w2s_gram_solver_add_rows,
                                         scholqr3_end_pass,
                                         w2s_gram_solver_solve,
                                         w2s_gram_solver_destroy, 1};

static w2s_err scholqr3_create(w2s_ctx *ctx, int64_t p, int64_t k,
                               w2s_lsq **out) {
  return w2s_gram_solver_create(ctx, &scholqr3_ops, "scholqr3", p, k, 0, out);
}

/* Three DSYRKs (3 n d^2), two DTRSMs (2 n d^2), one DGEMM 2 n d k. */
static double scholqr3_flops(double n, double d, double k) {
  return 5 * n * d * d + 2 * n * d * k;
}

const w2s_lsq_solver w2s_lsq_solver_scholqr3 = {
    .name = "scholqr3",
    .help = "shifted CholeskyQR3: three Gram passes (cond(A) up to ~1e15)",
    .create = scholqr3_create,
    .passes_min = 3,
    .passes_max = 3,
    .cond_max = 1e15,
    .error_order = 1,
    .streams = 1,
    .flops = scholqr3_flops,
};
