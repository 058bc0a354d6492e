/* cholqr2: CholeskyQR2. Pass 1: Gram of A, Cholesky -> R1. Pass 2: Gram of
 * Q1 = A R1^-1 (computed block by block, never stored) and Q1^T B,
 * Cholesky -> R2; R = R2 R1. Orthogonality to ~eps while cond(A) < ~1e8. */
#include "lsq/gram.h"

static w2s_err cholqr2_end_pass(w2s_ctx *ctx, w2s_lsq *ls, int64_t nrows,
                                int *more) {
  w2s_gram_solver *st = ls->impl;
  (void)nrows;
  W2S_CALL(w2s_gram_reduce(ctx, ls, &st->g));
  double cond;
  if (w2s_gram_factor(&st->g, 0.0, &cond) != 0)
    return W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                    "%s: CholeskyQR2: the Cholesky factorisation of pass %d "
                    "failed (collinear features or cond(A) > ~1e8); use "
                    "fit.solver = auto, scholqr3 or tsqr",
                    ls->label, st->stage + 1);
  *more = st->stage == 0;
  if (*more) w2s_gram_next_pass(&st->g, 1);
  st->stage++;
  return W2S_OK;
}

static const w2s_lsq_ops cholqr2_ops = {w2s_gram_solver_add_rows,
                                        cholqr2_end_pass, w2s_gram_solver_solve,
                                        w2s_gram_solver_destroy, 1};

static w2s_err cholqr2_create(w2s_ctx *ctx, int64_t p, int64_t k,
                              w2s_lsq **out) {
  return w2s_gram_solver_create(ctx, &cholqr2_ops, "cholqr2", p, k, 0, out);
}

/* Two DSYRKs (2 n d^2), the DTRSM forming Q1 (n d^2), one DGEMM 2 n d k. */
static double cholqr2_flops(double n, double d, double k) {
  return 3 * n * d * d + 2 * n * d * k;
}

const w2s_lsq_solver w2s_lsq_solver_cholqr2 = {
    .name = "cholqr2",
    .help = "CholeskyQR2: two Gram passes (cond(A) below ~1e8)",
    .create = cholqr2_create,
    .passes_min = 2,
    .passes_max = 2,
    .cond_max = 1e7,
    .error_order = 1,
    .streams = 1,
    .flops = cholqr2_flops,
};
