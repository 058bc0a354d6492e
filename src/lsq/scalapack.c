/* scalapack: the baseline every other solver is measured against.
 * ScaLAPACK's PDGELS steps on a P x 1 BLACS grid over the callers' own row
 * blocks: PDGEQRF (Householder QR, two latency-bound reductions per column)
 * and PDORMQR (Q^T B); the small triangular solve is the shared
 * minimum-norm one, so rank-deficient designs are handled like every other
 * solver's. Rows are materialised: each rank's rows are stored, padded with
 * zero rows to the same count MB on every rank (zero rows change no
 * least-squares solution), which is exactly ScaLAPACK's block-row layout
 * with block size MB: no redistribution. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lsq/lsq_impl.h"

/* ScaLAPACK / BLACS have no C header. Fortran integers are 32-bit; each
 * CHARACTER argument has a hidden length after the argument list. */
extern int Csys2blacs_handle(MPI_Comm comm);
extern void Cfree_blacs_system_handle(int handle);
extern void Cblacs_gridinit(int *ctxt, const char *order, int nprow, int npcol);
extern void Cblacs_gridinfo(int ctxt, int *nprow, int *npcol, int *myrow,
                            int *mycol);
extern void Cblacs_gridexit(int ctxt);
extern void descinit_(int *desc, const int *m, const int *n, const int *mb,
                      const int *nb, const int *irsrc, const int *icsrc,
                      const int *ictxt, const int *lld, int *info);
extern void pdgeqrf_(const int *m, const int *n, double *a, const int *ia,
                     const int *ja, const int *desca, double *tau, double *work,
                     const int *lwork, int *info);
extern void pdormqr_(const char *side, const char *trans, const int *m,
                     const int *n, const int *k, const double *a, const int *ia,
                     const int *ja, const int *desca, const double *tau,
                     double *c, const int *ic, const int *jc, const int *descc,
                     double *work, const int *lwork, int *info, size_t lside,
                     size_t ltrans);

/* Column block size: 16 was fastest here for PDGELS (TOOLCHAIN.md). */
static const int scalapack_nb = 16;

typedef struct {
  int64_t rows, cap; /* stored local rows */
  double *A, *B;     /* column-major, leading dimension cap */
  double *R, *C;     /* the combined factor after the pass */
} sl_state;

static w2s_err sl_grow(w2s_ctx *ctx, w2s_lsq *ls, sl_state *st, int64_t need) {
  if (need <= st->cap) return W2S_OK;
  int64_t cap = st->cap ? st->cap : 1024;
  while (cap < need) cap *= 2;
  double *A = NULL, *B = NULL;
  W2S_CALL(W2S_ALLOC(ctx, A, cap * ls->p));
  if (W2S_ALLOC(ctx, B, cap * (ls->k > 0 ? ls->k : 1))) {
    free(A);
    return W2S_ERR_MEMORY;
  }
  for (int64_t j = 0; j < ls->p && st->rows > 0; ++j)
    memcpy(A + j * cap, st->A + j * st->cap, sizeof(double) * (size_t)st->rows);
  for (int64_t j = 0; j < ls->k && st->rows > 0; ++j)
    memcpy(B + j * cap, st->B + j * st->cap, sizeof(double) * (size_t)st->rows);
  free(st->A);
  free(st->B);
  st->A = A;
  st->B = B;
  st->cap = cap;
  return W2S_OK;
}

static w2s_err sl_add_rows(w2s_ctx *ctx, w2s_lsq *ls, int64_t m, double *A,
                           int64_t lda, double *B, int64_t ldb) {
  sl_state *st = ls->impl;
  W2S_CALL(sl_grow(ctx, ls, st, st->rows + m));
  for (int64_t j = 0; j < ls->p; ++j)
    memcpy(st->A + j * st->cap + st->rows, A + j * lda,
           sizeof(double) * (size_t)m);
  for (int64_t j = 0; j < ls->k; ++j)
    memcpy(st->B + j * st->cap + st->rows, B + j * ldb,
           sizeof(double) * (size_t)m);
  st->rows += m;
  return W2S_OK;
}

static w2s_err sl_factor(w2s_ctx *ctx, w2s_lsq *ls, sl_state *st) {
  int P = ctx->size, p = (int)ls->p, k = (int)ls->k;
  if (ls->nrows < ls->p)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: %lld rows for %lld unknowns: the problem is "
                    "underdetermined and ScaLAPACK's QR needs n >= p; use "
                    "another solver with ridge > 0",
                    ls->label, (long long)ls->nrows, (long long)ls->p);
  double mb_d = (double)st->rows;
  W2S_CALL(w2s_max(ctx, &mb_d, 1));
  int64_t mb = (int64_t)mb_d;
  if (mb < 1) mb = 1;
  W2S_CALL(w2s_lapack_int_check(ctx, mb * P, "ScaLAPACK global rows"));
  W2S_CALL(w2s_lapack_int_check(ctx, mb * (ls->p > ls->k ? ls->p : ls->k),
                                "ScaLAPACK local array"));
  /* Pad to mb rows (the layout ScaLAPACK expects). */
  W2S_CALL(sl_grow(ctx, ls, st, mb));
  for (int64_t j = 0; j < ls->p; ++j)
    memset(st->A + j * st->cap + st->rows, 0,
           sizeof(double) * (size_t)(mb - st->rows));
  for (int64_t j = 0; j < ls->k; ++j)
    memset(st->B + j * st->cap + st->rows, 0,
           sizeof(double) * (size_t)(mb - st->rows));

  MPI_Comm comm = ctx->comm != MPI_COMM_NULL ? ctx->comm : MPI_COMM_SELF;
  int handle = Csys2blacs_handle(comm), ictxt = handle, nprow, npcol, myrow,
      mycol;
  Cblacs_gridinit(&ictxt, "C", P, 1);
  Cblacs_gridinfo(ictxt, &nprow, &npcol, &myrow, &mycol);
  int M = (int)(mb * P), imb = (int)mb, zero = 0, one = 1, info = 0;
  int lld = (int)st->cap, nbk = k > 0 ? k : 1;
  int descA[9], descB[9];
  descinit_(descA, &M, &p, &imb, &scalapack_nb, &zero, &zero, &ictxt, &lld,
            &info);
  if (!info)
    descinit_(descB, &M, &nbk, &imb, &scalapack_nb, &zero, &zero, &ictxt, &lld,
              &info);
  double *tau = NULL, *work = NULL, q = 0.0;
  w2s_err e = w2s_lapack_info(ctx, info, "descinit");
  if (!e) e = W2S_ALLOC(ctx, tau, p);
  /* PDGEQRF and PDORMQR are collective: a rank without its buffers must
   * not leave the others in them. */
  e = w2s_agree(ctx, e);
  int lwork = -1;
  if (!e) {
    pdgeqrf_(&M, &p, st->A, &one, &one, descA, tau, &q, &lwork, &info);
    double q2 = 0.0;
    if (k > 0)
      pdormqr_("L", "T", &M, &k, &p, st->A, &one, &one, descA, tau, st->B, &one,
               &one, descB, &q2, &lwork, &info, 1, 1);
    lwork = (int)(q > q2 ? q : q2) + 1;
    e = w2s_agree(ctx, W2S_ALLOC(ctx, work, lwork));
  }
  if (!e) {
    pdgeqrf_(&M, &p, st->A, &one, &one, descA, tau, work, &lwork, &info);
    e = w2s_lapack_info(ctx, info, "pdgeqrf");
  }
  if (!e && k > 0) {
    pdormqr_("L", "T", &M, &k, &p, st->A, &one, &one, descA, tau, st->B, &one,
             &one, descB, work, &lwork, &info, 1, 1);
    e = w2s_lapack_info(ctx, info, "pdormqr");
  }
  free(tau);
  free(work);
  Cblacs_gridexit(ictxt);
  Cfree_blacs_system_handle(handle);
  e = w2s_agree(ctx, e);
  if (e) return e;
  /* R and Q^T B are the first p global rows: rank r holds rows
   * [r mb, (r + 1) mb); gather them by a sum of disjoint pieces. */
  W2S_CALL(w2s_agree(ctx, W2S_ALLOC(ctx, st->R, ls->p * ls->p)));
  W2S_CALL(w2s_agree(ctx, W2S_ALLOC(ctx, st->C, ls->p * (k > 0 ? k : 1))));
  int64_t g0 = (int64_t)ctx->rank * mb;
  for (int64_t i = 0; i < mb; ++i) {
    int64_t gi = g0 + i;
    if (gi >= ls->p) break;
    for (int64_t j = gi; j < ls->p; ++j)
      st->R[j * ls->p + gi] = st->A[j * st->cap + i];
    for (int64_t j = 0; j < ls->k; ++j)
      st->C[j * ls->p + gi] = st->B[j * st->cap + i];
  }
  W2S_CALL(w2s_agree(ctx, w2s_sum(ctx, st->R, ls->p * ls->p)));
  W2S_CALL(w2s_agree(ctx, w2s_sum(ctx, st->C, ls->p * ls->k)));
  return W2S_OK;
}

static w2s_err sl_end_pass(w2s_ctx *ctx, w2s_lsq *ls, int64_t nrows,
                           int *more) {
  (void)nrows;
  *more = 0;
  return sl_factor(ctx, ls, ls->impl);
}

static w2s_err sl_solve(w2s_ctx *ctx, w2s_lsq *ls, const w2s_lsq_opts *opts,
                        double *X, w2s_lsq_info *info) {
  sl_state *st = ls->impl;
  const w2s_lsq_factor f = w2s_lsq_factor_of(ls, st->R, st->C);
  return w2s_lsq_finish(ctx, &f, opts, X, info);
}

static void sl_destroy(w2s_lsq *ls) {
  sl_state *st = ls->impl;
  if (!st) return;
  free(st->A);
  free(st->B);
  free(st->R);
  free(st->C);
  free(st);
}

static const w2s_lsq_ops sl_ops = {sl_add_rows, sl_end_pass, sl_solve,
                                   sl_destroy, 0};

static w2s_err sl_create(w2s_ctx *ctx, int64_t p, int64_t k, w2s_lsq **out) {
  w2s_lsq *ls = NULL;
  W2S_CALL(w2s_lsq_new(ctx, &sl_ops, "scalapack", p, k, &ls));
  sl_state *st = NULL;
  if (W2S_ALLOC(ctx, st, 1) != W2S_OK) {
    w2s_lsq_destroy(&ls);
    return W2S_ERR_MEMORY;
  }
  ls->impl = st;
  *out = ls;
  return W2S_OK;
}

/* Householder QR (PDGEQRF): 2 n d^2, and PDORMQR's 4 n d k. */
static double sl_flops(double n, double d, double k) {
  return 2 * n * d * d + 4 * n * d * k;
}

const w2s_lsq_solver w2s_lsq_solver_scalapack = {
    .name = "scalapack",
    .help = "ScaLAPACK PDGEQRF + PDORMQR on a P x 1 grid (materialises rows)",
    .create = sl_create,
    .passes_min = 1,
    .passes_max = 1,
    .cond_max = INFINITY,
    .error_order = 1,
    .streams = 0,
    .flops = sl_flops,
};
