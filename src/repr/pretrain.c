/* Pre-training with AdamW (decoupled weight decay, PyTorch's defaults),
 * mini-batches of global sample indices, MSE loss through frozen task heads,
 * one gradient reduction per step: a sum to rank 0 and a broadcast
 * (w2s_sum_bcast), so every rank applies bit-identical updates. */
#include "repr/pretrain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/rng.h"

enum {
  STREAM_PRE_SAMPLES = 21,
  STREAM_PRE_HEADS = 22,
  STREAM_PRE_SHUFFLE = 23
};

double w2s_pretrain_loss_grad(const w2s_mlp *net, const w2s_pretrain_batch *b,
                              const double *heads, double scale, double *grad,
                              const w2s_pretrain_work *w) {
  const int64_t m = b->m, width = w2s_mlp_out_dim(net);
  const double *X = b->X, *y = b->y;
  const int64_t *task = b->task;
  double *acts = w->acts, *work = w->work;
  if (m <= 0) return 0.0;
  const double *H = w2s_mlp_forward_train(net, m, X, m, acts);
  double *dH = work, *bw = work + m * width, loss = 0.0;
  for (int64_t r = 0; r < m; ++r) {
    const double *a = heads + task[r] * (width + 1);
    double pred = a[width];
    for (int64_t c = 0; c < width; ++c) pred += H[c * m + r] * a[c];
    double d = pred - y[r];
    loss += d * d;
    for (int64_t c = 0; c < width; ++c) dH[c * m + r] = 2.0 * scale * d * a[c];
  }
  w2s_mlp_backward(net, m, X, m, acts, dH, grad, bw);
  return scale * loss;
}

/* Fisher-Yates with counter-based draws: the same order on every rank. */
static void shuffle(int64_t *perm, int64_t n, uint64_t seed, int64_t epoch) {
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  double u[4];
  for (int64_t i = n - 1; i > 0; --i) {
    if ((n - 1 - i) % 4 == 0)
      w2s_rng_uniform(seed, STREAM_PRE_SHUFFLE, (uint64_t)epoch,
                      (uint64_t)(n - 1 - i), 0, 4, 0.0, 1.0, u);
    int64_t j = (int64_t)(u[(n - 1 - i) % 4] * (double)(i + 1));
    if (j > i) j = i;
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

/* Everything one pre-training run holds: the data set (every rank holds
 * all of it), the mini-batch, and AdamW's state. */
typedef struct {
  int64_t in, width, tw, n, np, B;
  double *X, *y, *heads, *Xb, *yb, *grad, *m1, *m2, *acts, *work, *tmp, *row;
  int64_t *perm, *task, *tb;
} pt_state;

static w2s_err pt_alloc(w2s_ctx *ctx, const w2s_pretrain_opts *o,
                        const w2s_mlp *target, const w2s_mlp *net,
                        pt_state *p) {
  p->in = w2s_mlp_in_dim(net), p->width = w2s_mlp_out_dim(net);
  p->tw = w2s_mlp_out_dim(target), p->n = o->tasks * o->samples;
  p->np = w2s_mlp_nparams(net), p->B = o->batch;
  int64_t in = p->in, width = p->width, tw = p->tw, n = p->n, B = p->B;
  w2s_err e = W2S_OK;
  if ((e = W2S_ALLOC(ctx, p->X, n * in)) || (e = W2S_ALLOC(ctx, p->y, n)) ||
      (e = W2S_ALLOC(ctx, p->task, n)) || (e = W2S_ALLOC(ctx, p->perm, n)) ||
      (e = W2S_ALLOC(ctx, p->heads, o->tasks * (tw + 1))) ||
      (e = W2S_ALLOC(ctx, p->Xb, B * in)) || (e = W2S_ALLOC(ctx, p->yb, B)) ||
      (e = W2S_ALLOC(ctx, p->tb, B)) ||
      (e = W2S_ALLOC(ctx, p->grad, p->np + 1)) ||
      (e = W2S_ALLOC(ctx, p->m1, p->np)) ||
      (e = W2S_ALLOC(ctx, p->m2, p->np)) ||
      (e = W2S_ALLOC(ctx, p->acts, w2s_mlp_train_size(net, B))) ||
      (e = W2S_ALLOC(ctx, p->work, 3 * B * (width > in ? width : in))) ||
      (e = W2S_ALLOC(ctx, p->tmp, n * (tw > in ? tw : in))) ||
      (e = W2S_ALLOC(ctx, p->row, in)))
    return e;
  return W2S_OK;
}

static void pt_free(pt_state *p) {
  free(p->X), free(p->y), free(p->heads), free(p->Xb), free(p->yb);
  free(p->grad), free(p->m1), free(p->m2), free(p->acts), free(p->work);
  free(p->tmp), free(p->row), free(p->perm), free(p->task), free(p->tb);
}

/* The pre-training set: T tasks x samples, each labelled by its task's
 * frozen random head on h* (the same heads the student is trained
 * through). Every rank holds it: it is small, and any rank may need any
 * sample of a mini-batch. */
static w2s_err pt_make_data(w2s_ctx *ctx, const w2s_pretrain_opts *o,
                            const w2s_mlp *target, pt_state *p) {
  int64_t in = p->in, tw = p->tw, n = p->n;
  double bound = 1.0 / sqrt((double)tw);
  for (int64_t t = 0; t < o->tasks; ++t)
    w2s_rng_uniform(o->seed, STREAM_PRE_HEADS, (uint64_t)t, 0, 0, tw + 1,
                    -bound, bound, p->heads + t * (tw + 1));
  for (int64_t s = 0; s < n; ++s) {
    p->task[s] = s / o->samples;
    w2s_rng_normal(o->seed, STREAM_PRE_SAMPLES, (uint64_t)p->task[s],
                   (uint64_t)(s % o->samples), 0, in, p->row);
    for (int64_t k = 0; k < in; ++k)
      p->X[k * n + s] = o->input_scale * p->row[k];
  }
  double *fwork = NULL;
  W2S_CALL(W2S_ALLOC(ctx, fwork, w2s_mlp_work_size(target, n)));
  w2s_mlp_forward(target, n, p->X, n, p->tmp, n, fwork);
  free(fwork);
  for (int64_t s = 0; s < n; ++s) {
    const double *a = p->heads + p->task[s] * (tw + 1);
    double v = a[tw];
    for (int64_t c = 0; c < tw; ++c) v += p->tmp[c * n + s] * a[c];
    p->y[s] = v;
  }
  if (tw != p->width)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "pretrain: the network's width %lld must equal the "
                    "target's %lld (the frozen task heads act on it)",
                    (long long)p->width, (long long)tw);
  return W2S_OK;
}

/* One mini-batch b of the permuted samples: this rank's share of the
 * gradient, one reduction (gradient and batch loss; reduce + broadcast so
 * every rank applies bit-identical updates), one AdamW step. The batch's
 * summed loss goes to *batch_loss. */
static w2s_err pt_step(w2s_ctx *ctx, const w2s_pretrain_opts *o, w2s_mlp *net,
                       pt_state *p, int64_t b, int64_t step,
                       double *batch_loss) {
  int64_t in = p->in, n = p->n, np = p->np, B = p->B;
  int64_t b0 = b * B, bl = n - b0 < B ? n - b0 : B, lo, cnt;
  w2s_partition(bl, ctx->size, ctx->rank, &lo, &cnt);
  for (int64_t r = 0; r < cnt; ++r) {
    int64_t s = p->perm[b0 + lo + r];
    for (int64_t k = 0; k < in; ++k) p->Xb[k * cnt + r] = p->X[k * n + s];
    p->yb[r] = p->y[s];
    p->tb[r] = p->task[s];
  }
  memset(p->grad, 0, sizeof(double) * (size_t)(np + 1));
  /* p->width is the net's output width (pt_alloc), as the call assumes. */
  p->grad[np] = w2s_pretrain_loss_grad(net,
                                       &(w2s_pretrain_batch){cnt, p->Xb, p->yb,
                                                             p->tb},
                                       p->heads, 1.0 / (double)bl, p->grad,
                                       &(w2s_pretrain_work){p->acts, p->work});
  if (ctx->comm != MPI_COMM_NULL && ctx->size > 1)
    W2S_CALL(w2s_sum_bcast(ctx, p->grad, np + 1));
  *batch_loss = p->grad[np];
  double *params = w2s_mlp_params(net);
  double c1 = 1.0 - pow(o->beta1, (double)step);
  double c2 = 1.0 - pow(o->beta2, (double)step);
  for (int64_t i = 0; i < np; ++i) {
    double g = p->grad[i];
    p->m1[i] = o->beta1 * p->m1[i] + (1.0 - o->beta1) * g;
    p->m2[i] = o->beta2 * p->m2[i] + (1.0 - o->beta2) * g * g;
    params[i] *= 1.0 - o->lr * o->weight_decay; /* decoupled decay */
    params[i] -= o->lr * (p->m1[i] / c1) / (sqrt(p->m2[i] / c2) + o->eps);
  }
  return W2S_OK;
}

static w2s_err pt_train(w2s_ctx *ctx, const w2s_pretrain_opts *o, w2s_mlp *net,
                        pt_state *p, double *loss) {
  int64_t step = 0, nbatches = (p->n + p->B - 1) / p->B;
  for (int64_t ep = 0; ep < o->epochs; ++ep) {
    shuffle(p->perm, p->n, o->seed, ep);
    double ep_loss = 0.0, bloss = 0.0;
    for (int64_t b = 0; b < nbatches; ++b) {
      W2S_CALL(pt_step(ctx, o, net, p, b, ++step, &bloss));
      ep_loss += bloss;
    }
    loss[ep] = ep_loss;
    if (!isfinite(ep_loss))
      return W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                      "pretrain: the loss diverged (non-finite) in epoch "
                      "%lld; try a smaller lr",
                      (long long)ep + 1);
    w2s_progress(ctx, "pretrain", (double)(ep + 1) / (double)o->epochs);
    if ((ep + 1) % (o->epochs >= 10 ? o->epochs / 10 : 1) == 0)
      w2s_log(ctx, 1, "pretrain epoch %lld/%lld: summed loss %.6g",
              (long long)ep + 1, (long long)o->epochs, ep_loss);
  }
  return W2S_OK;
}

w2s_err w2s_pretrain(w2s_ctx *ctx, const w2s_pretrain_opts *o,
                     const w2s_mlp *target, w2s_mlp *net, double *loss) {
  pt_state p = {0};
  w2s_err e = pt_alloc(ctx, o, target, net, &p);
  if (!e) e = pt_make_data(ctx, o, target, &p);
  /* The training loop reduces every step: a rank that failed above must
   * not leave the others in the first reduction. */
  e = w2s_agree(ctx, e);
  if (!e) e = pt_train(ctx, o, net, &p, loss);
  pt_free(&p);
  return w2s_agree(ctx, e);
}
