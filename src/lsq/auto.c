/* auto: the fastest solver that is accurate for the design at hand.
 * Pass 1 accumulates the Gram matrix and A^T B of the unit-column design;
 * the Cholesky factor's 2-norm condition number (exact, from its singular
 * values by LAPACK dgesvd, up to p = 1024; LAPACK dtrcon's 1-norm estimate
 * beyond, which may overstate it by ~p: a more careful choice, never a less
 * accurate one) then decides:
 *   cond <= 1e4   finish as normal equations (1 pass in all),
 *   cond <= 1e7   CholeskyQR2's second pass (2 passes),
 *   otherwise     shifted CholeskyQR3 (3 passes),
 * and any Cholesky breakdown or an unexpectedly ill-conditioned later factor
 * (numerically rank-deficient features) falls back to one TSQR pass, whose
 * minimum-norm solve handles any rank. The choice is reported as the
 * method "auto:<name>" and as w2s_lsq_info.ran, the table entry whose flop
 * model and accuracy class then apply. */
#include <math.h>
#include <stdio.h>

#include "lsq/gram.h"

enum { FIRST, CHOLQR2, SHIFTED2, SHIFTED3, TSQR };
/* A later factor should be close to orthogonal's (cond ~1); beyond this the
 * Q of the previous pass had lost its rank: fall back. */
static const double later_cond_max = 1e2, shifted_q_cond_max = 1e9;

/* Reported as method "auto:<name>" and info.ran = the entry. */
static void choose(w2s_lsq *ls, const w2s_lsq_solver *s) {
  snprintf(ls->method, sizeof ls->method, "auto:%s", s->name);
  ls->ran = s;
}

static w2s_err fall_back(w2s_ctx *ctx, w2s_lsq *ls, int *more) {
  w2s_gram_solver *st = ls->impl;
  choose(ls, &w2s_lsq_solver_tsqr);
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
      choose(ls, &w2s_lsq_solver_normal);
      return W2S_OK;
    }
    if (info == 0 && cond <= W2S_COND_CHOLQR2) {
      choose(ls, &w2s_lsq_solver_cholqr2);
      w2s_gram_next_pass(g, 1);
      st->stage = CHOLQR2;
      *more = 1;
      return W2S_OK;
    }
    w2s_gram_restore(g);
    if (w2s_gram_factor(g, w2s_gram_shift(g, nrows), &cond) != 0)
      return fall_back(ctx, ls, more);
    choose(ls, &w2s_lsq_solver_scholqr3);
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

/* Its costliest Gram path (shifted CholeskyQR3); bench counts what ran
 * (w2s_lsq_info.ran). */
static double auto_flops(double n, double d, double k) {
  return w2s_lsq_solver_scholqr3.flops(n, d, k);
}

const w2s_lsq_solver w2s_lsq_solver_auto = {
    .name = "auto",
    .help = "normal / cholqr2 / scholqr3 by estimated conditioning, TSQR "
            "fallback",
    .create = auto_create,
    /* 1: the normal equations; 4: shifted CholeskyQR3's three passes, then
     * the TSQR fallback. Never refuses; the normal equations only below
     * W2S_COND_NORMAL, so its error is within cond^2 eps everywhere. */
    .passes_min = 1,
    .passes_max = 4,
    .cond_max = INFINITY,
    .error_order = 2,
    .streams = 1,
    .flops = auto_flops,
};
