/* lsq: distributed linear least squares with many right-hand sides.
 *
 *   min_X  (1/n) ||A X - B||_F^2 + ridge * ||X without its unpenalised rows||^2
 *
 * A is n x p and B is n x k, both distributed by rows over the ranks of
 * ctx->comm (any rank may hold zero rows). Rows are STREAMED: each rank feeds
 * its rows block by block with w2s_lsq_add_rows (local; the blocks are
 * overwritten) and ends the pass with w2s_lsq_end_pass (collective). Some
 * solvers need more than one pass over the same rows (CholeskyQR2 reads A
 * twice, shifted CholeskyQR3 three times, auto may fall back): while
 * end_pass says `more`, feed the same rows again (any block sizes, same
 * rows per rank). Then every rank calls w2s_lsq_solve (collective), which
 * returns the same X on every rank. Memory is O(p^2 + p k) per rank,
 * independent of n, except for `scalapack`, which materialises its rows.
 * A single-pass solver (tsqr) may skip end_pass: solve ends the pass.
 *
 * Rank-deficient A is the normal case (dead ReLU units): the solution is the
 * minimum-norm one, in column-equilibrated variables, on the numerically
 * determined column space; see w2s_lsq_opts.rank_tol.
 *
 * Solvers are a table of w2s_lsq_solver entries, one file each in src/lsq/. */
#ifndef W2S_LSQ_H
#define W2S_LSQ_H

#include <stdint.h>

#include "w2s/core.h"

typedef struct {
  double ridge;       /* lambda >= 0, per sample (see above) */
  const int *penalize; /* p flags: 1 = ridge applies (NULL: all columns) */
  /* Singular values of the column-equilibrated R below rank_tol * s_max are
   * treated as zero. 0 means eps * max(n, p) (numpy.linalg.lstsq's rule). */
  double rank_tol;
  const char *label;   /* names the fit in messages, e.g. "weak model 'a'" */
} w2s_lsq_opts;

typedef struct {
  int64_t nrows;       /* total rows over all ranks */
  int64_t rank;        /* numerical rank of the equilibrated design */
  double cond;         /* s_max / s_min over all p singular values (inf if 0) */
  double cond_kept;    /* s_max / smallest singular value kept */
  char method[32];     /* what ran: "tsqr", "cholqr2", "auto:normal", ... */
  int passes;          /* passes over the rows */
} w2s_lsq_info;

typedef struct w2s_lsq w2s_lsq;

typedef struct {
  const char *name;
  const char *help;
  w2s_err (*create)(w2s_ctx *ctx, int64_t p, int64_t k, w2s_lsq **out);
} w2s_lsq_solver;

extern const w2s_lsq_solver *const w2s_lsq_solvers[]; /* NULL-terminated */
/* NULL if the name is unknown ("auto" is a solver of its own). */
const w2s_lsq_solver *w2s_lsq_solver_find(const char *name);

/* Local: start an accumulator for p columns and k right-hand sides. */
w2s_err w2s_lsq_create(w2s_ctx *ctx, const char *solver, int64_t p, int64_t k,
                       w2s_lsq **out);
/* The same, with the options known up front (preferred): the Gram-based
 * solvers then fold the ridge into their factorisations, which keeps them
 * working when A alone is too ill-conditioned, and an underdetermined
 * problem is refused after the first pass. solve's opts must then carry the
 * same ridge. */
w2s_err w2s_lsq_create_with(w2s_ctx *ctx, const char *solver, int64_t p,
                            int64_t k, const w2s_lsq_opts *opts,
                            w2s_lsq **out);
/* Local: A is m x p (lda >= m), B is m x k (ldb >= m), column-major; both
 * are overwritten. */
w2s_err w2s_lsq_add_rows(w2s_ctx *ctx, w2s_lsq *ls, int64_t m, double *A,
                         int64_t lda, double *B, int64_t ldb);
/* Local: names the fit and the global index of the next row fed, so a
 * non-finite value is reported as "<label>: row R (rank r) ...". */
void w2s_lsq_set_context(w2s_lsq *ls, const char *label, int64_t row_offset);
/* Collective: end a pass over the rows; *more = 1 if the solver needs the
 * same rows again. */
w2s_err w2s_lsq_end_pass(w2s_ctx *ctx, w2s_lsq *ls, int *more);
/* Collective: X is p x k (column-major, leading dimension p). */
w2s_err w2s_lsq_solve(w2s_ctx *ctx, w2s_lsq *ls, const w2s_lsq_opts *opts,
                      double *X, w2s_lsq_info *info);
void w2s_lsq_destroy(w2s_lsq **ls);

#endif
