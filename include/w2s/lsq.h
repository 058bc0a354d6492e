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
 * Solvers are a table of w2s_lsq_solver entries, one file each in src/lsq/
 * plus one line in the table (src/lsq/lsq.c); each entry carries what the
 * rest of the program needs: passes, accuracy contract, memory, flop model. */
#ifndef W2S_LSQ_H
#define W2S_LSQ_H

#include <stddef.h>
#include <stdint.h>

#include "w2s/core.h"

typedef struct {
  double ridge;        /* lambda >= 0, per sample (see above) */
  const int *penalize; /* p flags: 1 = ridge applies (NULL: all columns) */
  /* Singular values of the column-equilibrated R below rank_tol * s_max are
   * treated as zero. 0 means eps * max(n, p) (numpy.linalg.lstsq's rule). */
  double rank_tol;
  const char *label; /* names the fit in messages, e.g. "weak model 'a'" */
} w2s_lsq_opts;

typedef struct {
  int64_t nrows;    /* total rows over all ranks */
  int64_t rank;     /* numerical rank of the equilibrated design */
  double cond;      /* s_max / s_min over all p singular values (inf if 0) */
  double cond_kept; /* s_max / smallest singular value kept */
  char method[32];  /* what ran: "tsqr", "cholqr2", "auto:normal", ... */
  int passes;       /* passes over the rows */
  /* The table entry whose algorithm ran: the solver itself, or for auto
   * the sub-solver it chose (auto:normal -> normal, auto:tsqr -> tsqr). Its
   * flop model and accuracy class describe this solve. Set on every rank
   * by w2s_lsq_solve (a pointer into this process' table: never send it
   * to another rank or store it). */
  const struct w2s_lsq_solver *ran;
} w2s_lsq_info;

typedef struct w2s_lsq w2s_lsq;

/* One solver: one file in src/lsq/ defines one of these, and one line in
 * the table (src/lsq/lsq.c) lists it. Everything else (fit.solver's help
 * and validation, the CLI help texts, bench's default list and flop
 * counts, the MPI and end-to-end solver tests) iterates over the table and
 * reads these fields; nothing else names a solver. */
typedef struct w2s_lsq_solver {
  const char *name; /* the fit.solver / --solvers value */
  const char *help; /* one line for help texts */
  /* Local: a fresh accumulator (see w2s_lsq_create). */
  w2s_err (*create)(w2s_ctx *ctx, int64_t p, int64_t k, w2s_lsq **out);
  /* Passes over the rows, over every design (auto: 1 when the normal
   * equations suffice, up to 4 when shifted CholeskyQR3 falls back to
   * TSQR). w2s_lsq_info.passes lies in [passes_min, passes_max]. */
  int passes_min, passes_max;
  /* The accuracy contract: for cond(A) <= cond_max (INFINITY: any) the
   * solver returns, and its forward error is at most ~c cond^error_order
   * eps (1: QR-type, backward stable: ~c cond eps (1 + cond rho); 2: the
   * normal equations, ~c cond^2 eps). Beyond cond_max it may refuse with
   * W2S_ERR_NUMERIC (or return a less accurate result). auto's entry is its
   * worst case over the sub-solvers it may pick; info.ran names the one that
   * ran. */
  double cond_max;
  int error_order;
  /* 1: memory O(p^2 + p k) per rank, independent of n (the rows are
   * streamed); 0: the rows are stored (scalapack). */
  int streams;
  /* Flop count of one solve of an n x d design with k right-hand sides
   * (leading terms): what bench divides by the time for GFLOP/s. For auto,
   * bench uses info.ran's model (auto's own is that of its costliest
   * Gram path, for estimates before a solve). Local, pure. */
  double (*flops)(double n, double d, double k);
} w2s_lsq_solver;

/* The table, NULL-terminated, in help-text order. */
extern const w2s_lsq_solver *const w2s_lsq_solvers[];
/* Local. The entry of that name (owned by the table, static), or NULL if
 * the name is unknown ("auto" is a solver of its own). */
const w2s_lsq_solver *w2s_lsq_solver_find(const char *name);
/* Local. The table's names joined by sep (e.g. "|" gives
 * "auto|cholqr2|..."), into buf (len bytes, always NUL-terminated,
 * truncated if too small; 256 bytes hold today's table). */
void w2s_lsq_solver_names(char *buf, size_t len, const char *sep);

/* Local: a new accumulator of the named solver for p columns and k
 * right-hand sides, in *out (the caller's: w2s_lsq_destroy; set only on
 * success). Every rank must create the same solver with the same shape.
 * Errors: W2S_ERR_USAGE for an unknown solver name, W2S_ERR_INPUT when
 * p^2 + p k exceeds LAPACK's 32-bit integers, W2S_ERR_INTERNAL for p < 1
 * or k < 0, W2S_ERR_MEMORY. Local errors: agree (w2s_agree) before the
 * collective calls below. */
w2s_err w2s_lsq_create(w2s_ctx *ctx, const char *solver, int64_t p, int64_t k,
                       w2s_lsq **out);
/* Local: the same, with the options known up front (preferred): the
 * Gram-based solvers then fold the ridge into their factorisations, which
 * keeps them working when A alone is too ill-conditioned, and an
 * underdetermined problem is refused after the first pass. opts is copied
 * (label, penalize); solve's opts must then carry the same ridge. Errors:
 * those of w2s_lsq_create. */
w2s_err w2s_lsq_create_with(w2s_ctx *ctx, const char *solver, int64_t p,
                            int64_t k, const w2s_lsq_opts *opts, w2s_lsq **out);
/* Local: fold m rows into the accumulator. A is m x p (lda >= m), B is
 * m x k (ldb >= m), column-major, the caller's; both may be overwritten.
 * Errors (this rank's only: agree before end_pass): W2S_ERR_INPUT for a
 * non-finite value ("<label>: non-finite value in row R (rank r) ...") or
 * for sums that overflow, and when m or a leading dimension exceeds
 * LAPACK's integers; W2S_ERR_MEMORY (scalapack stores its rows);
 * W2S_ERR_INTERNAL / W2S_ERR_NUMERIC from LAPACK. */
w2s_err w2s_lsq_add_rows(w2s_ctx *ctx, w2s_lsq *ls, int64_t m, double *A,
                         int64_t lda, double *B, int64_t ldb);
/* Local: names the fit (label is copied, up to 159 characters; NULL keeps
 * the current one) and the global index of the next row fed, so a
 * non-finite value is reported as "<label>: row R (rank r) ...". */
void w2s_lsq_set_context(w2s_lsq *ls, const char *label, int64_t row_offset);
/* Collective: end a pass over the rows; *more = 1 if the solver needs the
 * same rows again (same rows per rank). Errors, the same on every rank:
 * W2S_ERR_INPUT when, created with options and no ridge, the rows are fewer
 * than the unknowns; W2S_ERR_NUMERIC when the solver refuses the design
 * (a Cholesky breakdown beyond its cond_max; the message names the
 * solvers that can); W2S_ERR_INTERNAL when a rank fed a later pass a
 * different number of rows; W2S_ERR_MPI, W2S_ERR_MEMORY. */
w2s_err w2s_lsq_end_pass(w2s_ctx *ctx, w2s_lsq *ls, int *more);
/* Collective: the solution X (p x k, column-major, leading dimension p,
 * the caller's), the same bits on every rank, and *info (whose ran points
 * into the table). Ends the pass if the caller did not. Errors, the same on
 * every rank: W2S_ERR_INPUT for fewer rows than unknowns without ridge,
 * W2S_ERR_NUMERIC for a non-finite factor (overflowing features or
 * labels), W2S_ERR_INTERNAL when the solver still wants a pass or the
 * ridge differs from the one given at creation; those of end_pass. */
w2s_err w2s_lsq_solve(w2s_ctx *ctx, w2s_lsq *ls, const w2s_lsq_opts *opts,
                      double *X, w2s_lsq_info *info);
/* Local: frees *ls and sets it to NULL (NULL or *ls == NULL: nothing). */
void w2s_lsq_destroy(w2s_lsq **ls);

/* Stacked factors: the features of one split stacked as Z (n x D, rows over
 * the ranks) are summarised by the upper-triangular R of Z = Q R. Every
 * vector in span(Z) is Z v for a coefficient vector v (D entries), and
 *   ||Z v||^2 = ||R v||^2,
 * so fits of column subsets onto such vectors and squared distances between
 * them need R only, never the rows again nor the Gram matrix (which would
 * square the condition number). Build R by streaming the rows into a
 * w2s_lsq_create(ctx, "tsqr", D, 0, ...) accumulator and, after its
 * w2s_lsq_end_pass, w2s_lsq_copy_r. */
typedef struct {
  int64_t D;     /* columns of Z */
  int64_t nrows; /* n: rows over all ranks */
  double *R;     /* D x D, upper triangular (zeros below), leading dim D */
} w2s_lsq_stacked;

/* Local: after the pass of a tsqr accumulator has ended (w2s_lsq_end_pass,
 * collective), copy its R into z->R (ls->p x ls->p doubles, the caller's)
 * and set z->D and z->nrows. The same bits on every rank only if the
 * caller broadcasts them (w2s_bcast_bytes). Errors: W2S_ERR_INTERNAL when
 * ls is not a tsqr accumulator or its pass has not ended. */
w2s_err w2s_lsq_copy_r(w2s_ctx *ctx, const w2s_lsq *ls, w2s_lsq_stacked *z);
/* Local: U (D x k, leading dimension ldu) <- R U: coefficient vectors to
 * vectors whose squared norms and dot products are those of Z U. */
void w2s_lsq_apply_r(const double *R, int64_t D, double *U, int64_t ldu,
                     int64_t k);
/* Local: the fit of Z's columns cols[0..p) (a subset, in the head's
 * parameter order) to the k targets Z V (V: D x k, leading dimension ldv),
 *   X = argmin (1/n) ||Z[:, cols] x - Z v||^2 + ridge ||x (penalised)||^2,
 * into X (p x k, leading dimension p), with w2s_lsq_solve's rules (the
 * minimum-norm solution in column-equilibrated variables, rank_tol, n from
 * z->nrows, opts->penalize over the p columns). A target supported on cols
 * alone, with ridge 0 and a block of full numerical rank, is its own unique
 * solution and is returned exactly (so a weak model equal to the strong
 * one has misfit exactly 0). info as from w2s_lsq_solve (method "factor").
 * Cost O(D^2 (p + k)), independent of n. Errors: W2S_ERR_INPUT (fewer rows
 * than unknowns without ridge), W2S_ERR_NUMERIC (non-finite factor),
 * W2S_ERR_MEMORY, W2S_ERR_INTERNAL (cols out of range). */
w2s_err w2s_lsq_subfit(w2s_ctx *ctx, const w2s_lsq_stacked *z,
                       const int64_t *cols, int64_t p, const double *V,
                       int64_t ldv, int64_t k, const w2s_lsq_opts *opts,
                       double *X, w2s_lsq_info *info);

#endif
