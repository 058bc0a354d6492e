/* normal: one pass of normal equations (DSYRK + DGEMM, one allreduce,
 * Cholesky). The fastest; its error grows like cond(A)^2 eps, so only for
 * well-conditioned designs. */
#include "lsq/gram.h"

static w2s_err normal_end_pass(w2s_ctx *ctx, w2s_lsq *ls, int64_t nrows,
                               int *more) {
  w2s_gram_solver *st = ls->impl;
  (void)nrows;
  *more = 0;
  W2S_CALL(w2s_gram_reduce(ctx, ls, &st->g));
  double cond;
  if (w2s_gram_factor(&st->g, 0.0, &cond) != 0)
    return W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                    "%s: normal equations: the Gram matrix is not positive "
                    "definite (collinear features or cond(A)^2 beyond 1/eps); "
                    "use fit.solver = auto or tsqr",
                    ls->label);
  return W2S_OK;
}

static const w2s_lsq_ops normal_ops = {w2s_gram_solver_add_rows,
                                       normal_end_pass, w2s_gram_solver_solve,
                                       w2s_gram_solver_destroy, 1};

static w2s_err normal_create(w2s_ctx *ctx, int64_t p, int64_t k,
                             w2s_lsq **out) {
  return w2s_gram_solver_create(ctx, &normal_ops, "normal", p, k, 1, out);
}

/* DSYRK n d^2, DGEMM 2 n d k. */
static double normal_flops(double n, double d, double k) {
  return n * d * d + 2 * n * d * k;
}

const w2s_lsq_solver w2s_lsq_solver_normal = {
    .name = "normal",
    .help = "one-pass normal equations + Cholesky (well-conditioned only)",
    .create = normal_create,
    .passes_min = 1,
    .passes_max = 1,
    .cond_max = 1e6,
    .error_order = 2,
    .streams = 1,
    .flops = normal_flops,
};
