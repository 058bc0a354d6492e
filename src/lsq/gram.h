/* Private to src/lsq: the Gram engine shared by normal, cholqr2, scholqr3
 * and auto. A pass accumulates G = Z^T Z (DSYRK) and optionally C = Z^T B
 * (DGEMM) over row blocks, where Z is either the design A itself (the first
 * pass) or Q = A D^-1 R^-1 for the current factor R (later passes, computed
 * block by block with DTRSM and never stored).
 *
 * After the first pass, exactly zero columns (dead ReLU units) are set
 * aside (their coefficients are 0) and the rest are scaled to unit norm
 * (D = sqrt(diag G)), which makes the Cholesky factorisations as well
 * conditioned as the columns' directions allow. */
#ifndef W2S_GRAM_H
#define W2S_GRAM_H

#include "lsq/lsq_impl.h"

typedef struct {
  int64_t p, k;
  int64_t pl;    /* live (non-zero) columns, known after the first pass */
  int64_t *live; /* their indices */
  double *D;     /* their norms */
  double *R;     /* pl x pl: current factor (identity before any) */
  double *G;     /* first pass p x p, later pl x pl */
  double *C;     /* first pass p x k, later pl x k */
  double *G0;    /* copy of the scaled first-pass Gram, for a retry */
  double *blk;   /* block workspace m x pl */
  int64_t blk_cap;
  int on_q;       /* this pass accumulates on Q (1) or on A (0) */
  int want_c;     /* this pass accumulates C */
  int have_r;     /* R holds a factor */
  double lam_n;   /* ridge * n folded into the factor (0: none) */
  const int *pen; /* p flags: which columns the ridge applies to */
} w2s_gram;

w2s_err w2s_gram_init(w2s_ctx *ctx, int64_t p, int64_t k, w2s_gram *g);
void w2s_gram_free(w2s_gram *g);
/* Local: fold a block into G (and C). A and B are left intact; returns 1 in
 * *poisoned when a non-finite value reached G's diagonal or C's first row. */
w2s_err w2s_gram_add(w2s_ctx *ctx, w2s_gram *g, int64_t m, const double *A,
                     int64_t lda, const double *B, int64_t ldb, int *poisoned);
/* Collective: sum G (and C) over ranks; after the first pass also find the
 * live columns and scale. Leaves G, C ready for w2s_gram_factor. With a
 * ridge, G is the Gram of the augmented [Z; sqrt(ridge n) P] (the extra
 * rows have zero right-hand sides, so C is unchanged). */
w2s_err w2s_gram_reduce(w2s_ctx *ctx, w2s_lsq *ls, w2s_gram *g);
/* Local: R_new = chol(G + shift * I); R = R_new * R; C = R_new^-T C when
 * C was accumulated. Returns 0 on success, or LAPACK's positive info when
 * the Cholesky breaks down (G is then restored from G0 if this was the
 * first pass' Gram). *cond = 1-norm condition estimate of R_new. */
int w2s_gram_factor(w2s_gram *g, double shift, double *cond);
/* Local: the shifted-CholeskyQR shift for the first-pass Gram (Fukaya et
 * al. 2020): 11 (n p + p (p + 1)) u ||A D^-1||_F^2. */
double w2s_gram_shift(const w2s_gram *g, int64_t nrows);
/* Start another pass: on Q (on_q) and whether to accumulate C. */
void w2s_gram_next_pass(w2s_gram *g, int want_c);
/* Restore the first-pass scaled Gram (and C) for a second attempt. */
void w2s_gram_restore(w2s_gram *g);
/* Collective: R (p x p, dead columns zero) and C = Q^T B (p x k) of the
 * whole design, then the shared minimum-norm solve. */
w2s_err w2s_gram_finish(w2s_ctx *ctx, w2s_lsq *ls, w2s_gram *g,
                        const w2s_lsq_opts *opts, double *X,
                        w2s_lsq_info *info);

/* What every Gram-based solver holds: the engine, its stage, and (auto
 * only) a TSQR accumulator it falls back on. */
typedef struct {
  w2s_gram g;
  int stage;
  w2s_lsq *fallback;
} w2s_gram_solver;

/* Shared ops of the Gram-based solvers; each solver file only adds its
 * end_pass (the decisions between passes). */
w2s_err w2s_gram_solver_create(w2s_ctx *ctx, const w2s_lsq_ops *ops,
                               const char *method, int64_t p, int64_t k,
                               int want_c_first, w2s_lsq **out);
w2s_err w2s_gram_solver_add_rows(w2s_ctx *ctx, w2s_lsq *ls, int64_t m,
                                 double *A, int64_t lda, double *B,
                                 int64_t ldb);
w2s_err w2s_gram_solver_solve(w2s_ctx *ctx, w2s_lsq *ls,
                              const w2s_lsq_opts *opts, double *X,
                              w2s_lsq_info *info);
void w2s_gram_solver_destroy(w2s_lsq *ls);
/* Start feeding the next pass to a TSQR accumulator instead. */
w2s_err w2s_gram_solver_fall_back(w2s_ctx *ctx, w2s_lsq *ls);

/* Thresholds of auto, on the condition number of the unit-column design. */
#define W2S_COND_NORMAL 1e4  /* normal equations: error ~ cond^2 eps < 1e-8 */
#define W2S_COND_CHOLQR2 1e7 /* CholeskyQR2 keeps orthogonality to ~eps */

#endif
