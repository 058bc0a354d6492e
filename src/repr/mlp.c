/* ReLU MLP with batched forward passes through BLAS. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/repr.h"
#include "w2s/rng.h"

struct w2s_mlp {
  int64_t in_dim, width, depth;
  int64_t nparams;
  double *params;  /* all layers: W_0, b_0, W_1, b_1, ... */
  int64_t *offset; /* depth + 1 entries: start of W_l; b_l follows W_l */
};

static int64_t layer_in(const w2s_mlp *m, int64_t l) {
  return l == 0 ? m->in_dim : m->width;
}

double w2s_mlp_count_params(int64_t in_dim, int64_t width, int64_t depth) {
  if (depth <= 0) return 0.0;
  return (double)width * ((double)in_dim + 1.0) +
         (double)(depth - 1) * (double)width * ((double)width + 1.0);
}

w2s_err w2s_mlp_create(w2s_ctx *ctx, int64_t in_dim, int64_t width,
                       int64_t depth, w2s_mlp **out) {
  w2s_mlp *m;
  W2S_CALL(W2S_ALLOC(ctx, m, 1));
  m->in_dim = in_dim;
  m->width = width;
  m->depth = depth;
  if (W2S_ALLOC(ctx, m->offset, depth + 1) != W2S_OK) {
    free(m);
    return W2S_ERR_MEMORY;
  }
  int64_t n = 0;
  for (int64_t l = 0; l < depth; ++l) {
    m->offset[l] = n;
    n += width * layer_in(m, l) + width;
  }
  m->offset[depth] = n;
  m->nparams = n;
  if (W2S_ALLOC(ctx, m->params, n) != W2S_OK) {
    free(m->offset);
    free(m);
    return W2S_ERR_MEMORY;
  }
  *out = m;
  return W2S_OK;
}

w2s_err w2s_mlp_clone(w2s_ctx *ctx, const w2s_mlp *src, w2s_mlp **out) {
  W2S_CALL(w2s_mlp_create(ctx, src->in_dim, src->width, src->depth, out));
  memcpy((*out)->params, src->params, sizeof(double) * (size_t)src->nparams);
  return W2S_OK;
}

void w2s_mlp_destroy(w2s_mlp **mlp) {
  if (!mlp || !*mlp) return;
  free((*mlp)->params);
  free((*mlp)->offset);
  free(*mlp);
  *mlp = NULL;
}

int64_t w2s_mlp_in_dim(const w2s_mlp *m) { return m->in_dim; }
int64_t w2s_mlp_out_dim(const w2s_mlp *m) {
  return m->depth == 0 ? m->in_dim : m->width;
}
int64_t w2s_mlp_depth(const w2s_mlp *m) { return m->depth; }

double *w2s_mlp_weight(w2s_mlp *m, int64_t l, int64_t *rows, int64_t *cols) {
  if (rows) *rows = m->width;
  if (cols) *cols = layer_in(m, l);
  return m->params + m->offset[l];
}
double *w2s_mlp_bias(w2s_mlp *m, int64_t l) {
  return m->params + m->offset[l] + m->width * layer_in(m, l);
}

void w2s_mlp_init_uniform(w2s_mlp *m, uint64_t seed, uint64_t stream) {
  for (int64_t l = 0; l < m->depth; ++l) {
    double bound = 1.0 / sqrt((double)layer_in(m, l));
    int64_t n = m->offset[l + 1] - m->offset[l]; /* W_l then b_l */
    w2s_rng_uniform(seed, stream, (uint64_t)l, 0, 0, n, -bound, bound,
                    m->params + m->offset[l]);
  }
}

static void perturb_tensor(double *v, int64_t n, double scale, uint64_t seed,
                           uint64_t stream, uint64_t l, uint64_t which) {
  double ss = 0.0;
  for (int64_t k = 0; k < n; ++k) ss += v[k] * v[k];
  double sd = scale * sqrt(ss / (double)(n > 0 ? n : 1));
  double z[256];
  for (int64_t k0 = 0; k0 < n; k0 += 256) {
    int64_t len = n - k0 < 256 ? n - k0 : 256;
    w2s_rng_normal(seed, stream, l, which, (uint64_t)k0, len, z);
    for (int64_t k = 0; k < len; ++k) v[k0 + k] += sd * z[k];
  }
}

void w2s_mlp_perturb(w2s_mlp *m, double scale, uint64_t seed, uint64_t stream) {
  for (int64_t l = 0; l < m->depth; ++l) {
    int64_t nw = m->width * layer_in(m, l);
    perturb_tensor(m->params + m->offset[l], nw, scale, seed, stream,
                   (uint64_t)l, 0);
    perturb_tensor(m->params + m->offset[l] + nw, m->width, scale, seed, stream,
                   (uint64_t)l, 1);
  }
}

int64_t w2s_mlp_work_size(const w2s_mlp *m, int64_t nrows) {
  return 2 * nrows * (m->width > 0 ? m->width : 1);
}

void w2s_mlp_forward(const w2s_mlp *m, int64_t nrows, const double *X,
                     int64_t ldx, double *out, int64_t ldo, double *work) {
  if (nrows <= 0) return;
  if (m->depth == 0) {
    for (int64_t c = 0; c < m->in_dim; ++c)
      memcpy(out + c * ldo, X + c * ldx, sizeof(double) * (size_t)nrows);
    return;
  }
  const double *h = X;
  int64_t ldh = ldx;
  for (int64_t l = 0; l < m->depth; ++l) {
    int last = (l == m->depth - 1);
    double *dst = last ? out : work + (l % 2) * nrows * m->width;
    int64_t ldd = last ? ldo : nrows;
    const double *W = m->params + m->offset[l];
    const double *b = W + m->width * layer_in(m, l);
    /* bias first, then dst += H W^T, then ReLU */
    for (int64_t c = 0; c < m->width; ++c) {
      double *col = dst + c * ldd;
      for (int64_t r = 0; r < nrows; ++r) col[r] = b[c];
    }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)nrows,
                (int)m->width, (int)layer_in(m, l), 1.0, h, (int)ldh, W,
                (int)m->width, 1.0, dst, (int)ldd);
    for (int64_t c = 0; c < m->width; ++c) {
      double *col = dst + c * ldd;
      for (int64_t r = 0; r < nrows; ++r) col[r] = col[r] > 0.0 ? col[r] : 0.0;
    }
    h = dst;
    ldh = ldd;
  }
}

int64_t w2s_mlp_nparams(const w2s_mlp *m) { return m->nparams; }
double *w2s_mlp_params(w2s_mlp *m) { return m->params; }

int64_t w2s_mlp_train_size(const w2s_mlp *m, int64_t nrows) {
  return nrows * m->width * (m->depth > 0 ? m->depth : 1);
}

/* acts holds H_1 .. H_depth (post-ReLU), each nrows x width. The ReLU mask
 * of layer l is H_l > 0, so pre-activations need not be kept. */
const double *w2s_mlp_forward_train(const w2s_mlp *m, int64_t nrows,
                                    const double *X, int64_t ldx,
                                    double *acts) {
  if (m->depth == 0) return X;
  const double *h = X;
  int64_t ldh = ldx;
  for (int64_t l = 0; l < m->depth; ++l) {
    double *dst = acts + l * nrows * m->width;
    const double *W = m->params + m->offset[l];
    const double *b = W + m->width * layer_in(m, l);
    for (int64_t c = 0; c < m->width; ++c)
      for (int64_t r = 0; r < nrows; ++r) dst[c * nrows + r] = b[c];
    if (nrows > 0)
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)nrows,
                  (int)m->width, (int)layer_in(m, l), 1.0, h, (int)ldh, W,
                  (int)m->width, 1.0, dst, (int)nrows);
    for (int64_t i = 0; i < nrows * m->width; ++i)
      dst[i] = dst[i] > 0.0 ? dst[i] : 0.0;
    h = dst;
    ldh = nrows;
  }
  return h;
}

void w2s_mlp_backward(const w2s_mlp *m, int64_t nrows, const double *X,
                      int64_t ldx, const double *acts, double *dOut,
                      double *grad, double *work) {
  if (m->depth == 0 || nrows <= 0) return;
  double *dH = dOut; /* gradient w.r.t. H_l, nrows x width */
  for (int64_t l = m->depth - 1; l >= 0; --l) {
    const double *H = acts + l * nrows * m->width;
    /* dZ = dH * relu'(Z) = dH where H > 0 */
    for (int64_t i = 0; i < nrows * m->width; ++i)
      if (!(H[i] > 0.0)) dH[i] = 0.0;
    const double *Hin = l == 0 ? X : acts + (l - 1) * nrows * m->width;
    int64_t ldin = l == 0 ? ldx : nrows, fan_in = layer_in(m, l);
    double *gW = grad + m->offset[l], *gb = gW + m->width * fan_in;
    /* dW (width x fan_in) += dZ^T Hin ; db += column sums of dZ */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)m->width,
                (int)fan_in, (int)nrows, 1.0, dH, (int)nrows, Hin, (int)ldin,
                1.0, gW, (int)m->width);
    for (int64_t c = 0; c < m->width; ++c) {
      double acc = 0.0;
      for (int64_t r = 0; r < nrows; ++r) acc += dH[c * nrows + r];
      gb[c] += acc;
    }
    if (l == 0) break;
    /* dH_prev (nrows x fan_in) = dZ W */
    double *next = work + (l % 2) * nrows * m->width;
    const double *W = m->params + m->offset[l];
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)nrows,
                (int)fan_in, (int)m->width, 1.0, dH, (int)nrows, W,
                (int)m->width, 0.0, next, (int)nrows);
    dH = next;
  }
}

int w2s_mlp_same(const w2s_mlp *a, const w2s_mlp *b) {
  if (a->in_dim != b->in_dim || a->depth != b->depth) return 0;
  if (w2s_mlp_out_dim(a) != w2s_mlp_out_dim(b)) return 0;
  if (a->depth > 0 && a->width != b->width) return 0;
  return memcmp(a->params, b->params, sizeof(double) * (size_t)a->nparams) == 0;
}
