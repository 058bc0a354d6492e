/* Private to src/lsq: what every solver implements, and the shared final
 * step that turns a triangular factor into the minimum-norm solution. */
#ifndef W2S_LSQ_IMPL_H
#define W2S_LSQ_IMPL_H

#include <limits.h>

#include "w2s/lsq.h"

typedef struct {
  w2s_err (*add_rows)(w2s_ctx *ctx, w2s_lsq *ls, int64_t m, double *A,
                      int64_t lda, double *B, int64_t ldb);
  /* Collective; NULL for single-pass solvers. nrows = total over ranks. */
  w2s_err (*end_pass)(w2s_ctx *ctx, w2s_lsq *ls, int64_t nrows, int *more);
  w2s_err (*solve)(w2s_ctx *ctx, w2s_lsq *ls, const w2s_lsq_opts *opts,
                   double *X, w2s_lsq_info *info);
  void (*destroy)(w2s_lsq *ls);
  /* 1: add_rows leaves A and B intact and sets ls->saw_nonfinite when a
   * non-finite value reached its sums, so the block need not be scanned up
   * front (the Gram solvers: a NaN or Inf anywhere in a row poisons the
   * diagonal of the Gram matrix or the first row of A^T B). */
  int self_checks;
} w2s_lsq_ops;

struct w2s_lsq {
  const w2s_lsq_ops *ops;
  int64_t p, k;
  int64_t nrows_local; /* rows fed in the current pass */
  int64_t nrows_first; /* rows fed in the first pass */
  int64_t nrows;       /* total over ranks, known after the first pass */
  int64_t row_offset;  /* global index of the next row, for messages */
  int passes;          /* passes ended */
  int more;            /* the solver wants another pass */
  int opts_known;      /* created with options */
  double ridge;        /* the ridge given at creation */
  int *penalize;       /* p flags given at creation (all 1 if NULL given) */
  int ridge_absorbed;  /* the solver's factor already includes the ridge */
  int saw_nonfinite;   /* set by self-checking solvers' add_rows */
  char label[160];
  char method[32];           /* reported in w2s_lsq_info.method */
  const w2s_lsq_solver *ran; /* reported in w2s_lsq_info.ran: the table
                              * entry that created it, or auto's choice */
  void *impl;
};

/* Single-pass solvers' creation helper: a w2s_lsq with these ops. */
w2s_err w2s_lsq_new(w2s_ctx *ctx, const w2s_lsq_ops *ops, const char *method,
                    int64_t p, int64_t k, w2s_lsq **out);

/* LAPACK integers are 32-bit: refuse anything that would not fit. */
w2s_err w2s_lapack_int_check(w2s_ctx *ctx, int64_t v, const char *what);
/* Decode a LAPACK info: negative = bad argument (our bug), positive =
 * numerical failure in `routine`. */
w2s_err w2s_lapack_info(w2s_ctx *ctx, int info, const char *routine);

/* The combined factor of the whole design, as the R-based solvers end:
 * upper-triangular R (p x p) and C = Q^T B (p x k), column-major with
 * leading dimension p, over nrows rows in total (all ranks). The arrays
 * belong to the solver that built them; the solve overwrites both. */
typedef struct {
  int64_t p, k, nrows;
  double *R, *C;
  int ridge_absorbed; /* R and C already include the ridge rows */
} w2s_lsq_factor;

/* Local: solver ls's factor with arrays R and C (p, k, nrows and whether
 * the ridge is absorbed come from ls). */
static inline w2s_lsq_factor w2s_lsq_factor_of(const w2s_lsq *ls, double *R,
                                               double *C) {
  return (w2s_lsq_factor){ls->p, ls->k, ls->nrows, R, C, ls->ridge_absorbed};
}

/* Local: apply opts' ridge (unless f->ridge_absorbed) and return in X
 * (p x k, caller's) the minimum-norm solution of the factor, solved in
 * column-equilibrated variables (see lsq.h); info receives rank and
 * condition. f's R and C are overwritten. Errors: W2S_ERR_NUMERIC
 * (non-finite R or C, naming opts->label), W2S_ERR_MEMORY, LAPACK failures. */
w2s_err w2s_lsq_solve_triangular(w2s_ctx *ctx, const w2s_lsq_factor *f,
                                 const w2s_lsq_opts *opts, double *X,
                                 w2s_lsq_info *info);

/* Collective: w2s_lsq_solve_triangular on every rank, the failure agreed,
 * then rank 0's X and info broadcast so every rank holds the same bits.
 * Errors: those of the solve (agreed) and of the broadcast. */
w2s_err w2s_lsq_finish(w2s_ctx *ctx, const w2s_lsq_factor *f,
                       const w2s_lsq_opts *opts, double *X, w2s_lsq_info *info);
/* The table entries (auto reports its choice through them). */
extern const w2s_lsq_solver w2s_lsq_solver_normal, w2s_lsq_solver_cholqr2,
    w2s_lsq_solver_scholqr3, w2s_lsq_solver_tsqr;
/* The stable fallback of the Gram solvers. */
w2s_err w2s_lsq_tsqr_create(w2s_ctx *ctx, int64_t p, int64_t k, w2s_lsq **out);

#endif
