/* auto: the fastest solver that is accurate for the design at hand.
 * Pass 1 accumulates the Gram matrix and A^T B; the Cholesky factor's
 * condition estimate (LAPACK dtrcon) then decides:
 *   cond <= 1e4   finish as normal equations (1 pass in all),
 *   cond <= 1e7   CholeskyQR2's second pass (2 passes),
 *   otherwise     shifted CholeskyQR3 (3 passes),
 * and any Cholesky breakdown or an unexpectedly ill-conditioned later factor
 * (numerically rank-deficient features) falls back to one TSQR pass, whose
 * minimum-norm solve handles any rank. */
#include <stdio.h>

#include "lsq/gram.h"

enum { FIRST, CHOLQR2, SHIFTED2, SHIFTED3, TSQR };
/* A later factor should be close to orthogonal's (cond ~1); beyond this the
 * Q of the previous pass had lost its rank: fall back. */
static const double later_cond_max = 1e2, shifted_q_cond_max = 1e9;

static w2s_err fall_back(w2s_ctx *ctx, w2s_lsq *ls, int *more) {
  w2s_gram_solver *st = ls->impl;
  snprintf(ls->method, sizeof ls->method, "auto:tsqr");
  st->stage = TSQR;
  *more = 1;
  return w2s_gram_solver_fall_back(ctx, ls);
}

static w2s_err auto_end_pass(w2s_ctx *ctx, w2s_lsq *ls, int64_t nrows,
                             int *more) {
  w2s_gram_solver *st = ls->impl;
  w2s_gram *g = &st->g;
  double cond = 0.0;
  *more = 0;
  if (st->stage == TSQR) {
    int m = 0;
    return st->fallback->ops->end_pass(ctx, st->fallback, nrows, &m);
  }
  W2S_CALL(w2s_gram_reduce(ctx, ls, g));
  int info;
  switch (st->stage) {
  case FIRST:
    info = w2s_gram_factor(g, 0.0, &cond);
    if (info == 0 && cond <= W2S_COND_NORMAL) {
      snprintf(ls->method, sizeof ls->method, "auto:normal");
      return W2S_OK;
    }
    if (info == 0 && cond <= W2S_COND_CHOLQR2) {
      snprintf(ls->method, sizeof ls->method, "auto:cholqr2");
      w2s_gram_next_pass(g, 1);
      st->stage = CHOLQR2;
      *more = 1;
      return W2S_OK;
    }
    w2s_gram_restore(g);
    if (w2s_gram_factor(g, w2s_gram_shift(g, nrows), &cond) != 0)
      return fall_back(ctx, ls, more);
    snprintf(ls->method, sizeof ls->method, "auto:scholqr3");
    w2s_gram_next_pass(g, 0);
    st->stage = SHIFTED2;
    *more = 1;
    return W2S_OK;
  case SHIFTED2:
    if (w2s_gram_factor(g, 0.0, &cond) != 0 || cond > shifted_q_cond_max)
      return fall_back(ctx, ls, more);
    w2s_gram_next_pass(g, 1);
    st->stage = SHIFTED3;
    *more = 1;
    return W2S_OK;
  default: /* CHOLQR2 or SHIFTED3: the last Gram pass */
    if (w2s_gram_factor(g, 0.0, &cond) != 0 || cond > later_cond_max)
      return fall_back(ctx, ls, more);
    return W2S_OK;
  }
}

static const w2s_lsq_ops auto_ops = {w2s_gram_solver_add_rows, auto_end_pass,
                                     w2s_gram_solver_solve,
                                     w2s_gram_solver_destroy, 1};

static w2s_err auto_create(w2s_ctx *ctx, int64_t p, int64_t k, w2s_lsq **out) {
  return w2s_gram_solver_create(ctx, &auto_ops, "auto", p, k, 1, out);
}

const w2s_lsq_solver w2s_lsq_solver_auto = {
    .name = "auto",
    .help = "normal / cholqr2 / scholqr3 by estimated conditioning, TSQR "
            "fallback",
    .create = auto_create,
};
