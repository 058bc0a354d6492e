/* tsqr: streaming Householder QR per rank, then a reduction of the stacked
 * R factors across ranks (Demmel, Grigori, Hoemmen, Langou 2012).
 *
 * Each incoming block [A_blk | B_blk] is folded into the running
 * [R | C] with LAPACK's triangular-pentagonal QR (dtpqrt / dtpmqrt), so a
 * rank never holds more than one block. Across ranks, the partial [R | C]
 * are combined by a non-commutative MPI reduction (rank order): QR of the
 * stacked pair of triangles. Stable for any conditioning: no Gram matrix is
 * ever formed. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lsq/lsq_impl.h"

typedef struct {
  int nb;       /* LAPACK blocking for T */
  double *R;    /* p x p */
  double *C;    /* p x k */
  double *T;    /* nb x p */
  double *work; /* nb * max(p, k) */
} tsqr_state;

static w2s_err tsqr_add_rows(w2s_ctx *ctx, w2s_lsq *ls, int64_t m, double *A,
                             int64_t lda, double *B, int64_t ldb) {
  tsqr_state *st = ls->impl;
  int ip = (int)ls->p, ik = (int)ls->k;
  int rc = LAPACKE_dtpqrt_work(LAPACK_COL_MAJOR, (int)m, ip, 0, st->nb, st->R,
                               ip, A, (int)lda, st->T, st->nb, st->work);
  W2S_CALL(w2s_lapack_info(ctx, rc, "dtpqrt"));
  if (ik > 0) {
    rc = LAPACKE_dtpmqrt_work(LAPACK_COL_MAJOR, 'L', 'T', (int)m, ik, ip, 0,
                              st->nb, A, (int)lda, st->T, st->nb, st->C, ip, B,
                              (int)ldb, st->work);
    W2S_CALL(w2s_lapack_info(ctx, rc, "dtpmqrt"));
  }
  return W2S_OK;
}

/* Reduction buffer: [p, k, nrows, R (p*p), C (p*k)] as doubles. */
static void tsqr_combine(void *invec, void *inoutvec, int *len,
                         MPI_Datatype *type) {
  (void)type;
  for (int item = 0; item < *len; ++item) {
    double *in = invec, *io = inoutvec;
    int p = (int)in[0], k = (int)in[1];
    size_t stride = 3 + (size_t)p * p + (size_t)p * k;
    in += item * stride;
    io += item * stride;
    /* `in` is only copied: its R and C are reached through `top`. */
    double *Rio = io + 3, *Cio = Rio + (size_t)p * p;
    int nb = p < 32 ? p : 32;
    size_t wlen = (size_t)nb * (size_t)(p > k ? p : k);
    double *top = malloc(sizeof(double) * stride);
    double *T = malloc(sizeof(double) * (size_t)nb * p);
    double *work = malloc(sizeof(double) * (wlen > 0 ? wlen : 1));
    if (!top || !T || !work) {
      /* Cannot report from inside MPI: poison the row count so the solve
       * fails loudly on every rank. */
      io[2] = -1.0;
      free(top), free(T), free(work);
      continue;
    }
    memcpy(top, in, sizeof(double) * stride);
    double *Rt = top + 3, *Ct = Rt + (size_t)p * p;
    /* [Rin; Rio]: the lower block is itself triangular (L = p). */
    int info = LAPACKE_dtpqrt_work(LAPACK_COL_MAJOR, p, p, p, nb, Rt, p, Rio, p,
                                   T, nb, work);
    if (info == 0 && k > 0)
      info = LAPACKE_dtpmqrt_work(LAPACK_COL_MAJOR, 'L', 'T', p, k, p, p, nb,
                                  Rio, p, T, nb, Ct, p, Cio, p, work);
    double nrows = (info != 0 || in[2] < 0 || io[2] < 0) ? -1.0 : in[2] + io[2];
    memcpy(Rio, Rt, sizeof(double) * (size_t)p * p);
    memcpy(Cio, Ct, sizeof(double) * (size_t)p * k);
    io[2] = nrows;
    free(top), free(T), free(work);
  }
}

/* Collective: combine the ranks' triangles (rank order) into st->R, st->C. */
static w2s_err tsqr_end_pass(w2s_ctx *ctx, w2s_lsq *ls, int64_t nrows,
                             int *more) {
  tsqr_state *st = ls->impl;
  int64_t p = ls->p, k = ls->k;
  *more = 0;
  (void)nrows;
  /* Below the diagonal of R is LAPACK's scratch: keep clean triangles. */
  for (int64_t j = 0; j < p; ++j)
    for (int64_t i = j + 1; i < p; ++i) st->R[j * p + i] = 0.0;
  if (ctx->comm == MPI_COMM_NULL || ctx->size == 1) return W2S_OK;
  size_t len = 3 + (size_t)p * p + (size_t)p * k;
  double *buf = NULL;
  w2s_err e = w2s_agree(ctx, W2S_ALLOC(ctx, buf, len));
  if (e) {
    free(buf); /* allocated where another rank's allocation failed */
    return e;
  }
  buf[0] = (double)p;
  buf[1] = (double)k;
  buf[2] = 0.0;
  memcpy(buf + 3, st->R, sizeof(double) * (size_t)(p * p));
  memcpy(buf + 3 + p * p, st->C, sizeof(double) * (size_t)(p * k));
  e = w2s_allreduce_op(ctx, buf, (int64_t)(len * sizeof(double)), tsqr_combine);
  e = w2s_agree(ctx, e);
  if (e == W2S_OK && buf[2] < 0)
    e = W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                 "the TSQR reduction failed (out of memory or a LAPACK error "
                 "while combining the ranks' factors)");
  if (e == W2S_OK) {
    memcpy(st->R, buf + 3, sizeof(double) * (size_t)(p * p));
    memcpy(st->C, buf + 3 + p * p, sizeof(double) * (size_t)(p * k));
  }
  free(buf);
  return w2s_agree(ctx, e);
}

static w2s_err tsqr_solve(w2s_ctx *ctx, w2s_lsq *ls, const w2s_lsq_opts *opts,
                          double *X, w2s_lsq_info *info) {
  tsqr_state *st = ls->impl;
  const w2s_lsq_factor f = w2s_lsq_factor_of(ls, st->R, st->C);
  return w2s_lsq_finish(ctx, &f, opts, X, info);
}

static void tsqr_destroy(w2s_lsq *ls) {
  tsqr_state *st = ls->impl;
  if (!st) return;
  free(st->R);
  free(st->C);
  free(st->T);
  free(st->work);
  free(st);
}

static const w2s_lsq_ops tsqr_ops = {tsqr_add_rows, tsqr_end_pass, tsqr_solve,
                                     tsqr_destroy, 0};

static w2s_err tsqr_create(w2s_ctx *ctx, int64_t p, int64_t k, w2s_lsq **out) {
  w2s_lsq *ls = NULL;
  tsqr_state *st = NULL;
  W2S_CALL(w2s_lsq_new(ctx, &tsqr_ops, "tsqr", p, k, &ls));
  w2s_err e = W2S_ALLOC(ctx, st, 1);
  if (e == W2S_OK) {
    ls->impl = st;
    st->nb = p < 32 ? (int)p : 32;
    if ((e = W2S_ALLOC(ctx, st->R, p * p)) == W2S_OK &&
        (e = W2S_ALLOC(ctx, st->C, p * (k > 0 ? k : 1))) == W2S_OK &&
        (e = W2S_ALLOC(ctx, st->T, (int64_t)st->nb * p)) == W2S_OK)
      e = W2S_ALLOC(ctx, st->work, (int64_t)st->nb * (p > k ? p : k));
  }
  if (e != W2S_OK) {
    w2s_lsq_destroy(&ls);
    return e;
  }
  *out = ls;
  return W2S_OK;
}

w2s_err w2s_lsq_tsqr_create(w2s_ctx *ctx, int64_t p, int64_t k, w2s_lsq **out) {
  return tsqr_create(ctx, p, k, out);
}

/* Householder QR: 2 n d^2, and 4 n d k to apply Q^T to B. */
static double tsqr_flops(double n, double d, double k) {
  return 2 * n * d * d + 4 * n * d * k;
}

const w2s_lsq_solver w2s_lsq_solver_tsqr = {
    .name = "tsqr",
    .help = "streaming Householder QR per rank + rank-ordered reduction of R",
    .create = tsqr_create,
    .passes_min = 1,
    .passes_max = 1,
    .cond_max = INFINITY,
    .error_order = 1,
    .streams = 1,
    .flops = tsqr_flops,
};

w2s_err w2s_lsq_copy_r(w2s_ctx *ctx, const w2s_lsq *ls, w2s_lsq_stacked *z) {
  if (ls->ops != &tsqr_ops || ls->passes < 1 || ls->nrows_local > 0)
    return W2S_FAIL(ctx, W2S_ERR_INTERNAL,
                    "%s: the stacked factor needs a tsqr accumulator whose "
                    "pass has ended",
                    ls->label);
  const tsqr_state *st = ls->impl;
  z->D = ls->p;
  z->nrows = ls->nrows;
  memcpy(z->R, st->R, sizeof(double) * (size_t)(ls->p * ls->p));
  return W2S_OK;
}
