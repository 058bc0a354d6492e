/* Pre-training with AdamW (decoupled weight decay, PyTorch's defaults),
 * mini-batches of global sample indices, MSE loss through frozen task heads,
 * one gradient reduction per step: a sum to rank 0 and a broadcast
 * (w2s_sum_bcast), so every rank applies bit-identical updates. */
#include "repr/pretrain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/rng.h"

enum { STREAM_PRE_SAMPLES = 21, STREAM_PRE_HEADS = 22, STREAM_PRE_SHUFFLE = 23 };

double w2s_pretrain_loss_grad(const w2s_mlp *net, int64_t m, const double *X,
                              const double *y, const int64_t *task,
                              const double *heads, int64_t width, double scale,
                              double *grad, double *acts, double *work) {
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

w2s_err w2s_pretrain(w2s_ctx *ctx, const w2s_pretrain_opts *o,
                     const w2s_mlp *target, w2s_mlp *net, double *loss) {
  int64_t in = w2s_mlp_in_dim(net), width = w2s_mlp_out_dim(net);
  int64_t tw = w2s_mlp_out_dim(target), n = o->tasks * o->samples;
  int64_t np = w2s_mlp_nparams(net), B = o->batch;
  double *X = NULL, *y = NULL, *heads = NULL, *Xb = NULL, *yb = NULL,
         *grad = NULL, *m1 = NULL, *m2 = NULL, *acts = NULL, *work = NULL,
         *tmp = NULL, *row = NULL;
  int64_t *perm = NULL, *task = NULL, *tb = NULL;
  w2s_err e = W2S_OK;
  if ((e = W2S_ALLOC(ctx, X, n * in)) || (e = W2S_ALLOC(ctx, y, n)) ||
      (e = W2S_ALLOC(ctx, task, n)) || (e = W2S_ALLOC(ctx, perm, n)) ||
      (e = W2S_ALLOC(ctx, heads, o->tasks * (tw + 1))) ||
      (e = W2S_ALLOC(ctx, Xb, B * in)) || (e = W2S_ALLOC(ctx, yb, B)) ||
      (e = W2S_ALLOC(ctx, tb, B)) || (e = W2S_ALLOC(ctx, grad, np + 1)) ||
      (e = W2S_ALLOC(ctx, m1, np)) || (e = W2S_ALLOC(ctx, m2, np)) ||
      (e = W2S_ALLOC(ctx, acts, w2s_mlp_train_size(net, B))) ||
      (e = W2S_ALLOC(ctx, work, 3 * B * (width > in ? width : in))) ||
      (e = W2S_ALLOC(ctx, tmp, n * (tw > in ? tw : in))) ||
      (e = W2S_ALLOC(ctx, row, in)))
    goto decide;
  /* The pre-training set: T tasks x samples, each labelled by its task's
   * frozen random head on h* (the same heads the student is trained
   * through). Every rank holds it: it is small, and any rank may need any
   * sample of a mini-batch. */
  double bound = 1.0 / sqrt((double)tw);
  for (int64_t t = 0; t < o->tasks; ++t)
    w2s_rng_uniform(o->seed, STREAM_PRE_HEADS, (uint64_t)t, 0, 0, tw + 1,
                    -bound, bound, heads + t * (tw + 1));
  for (int64_t s = 0; s < n; ++s) {
    task[s] = s / o->samples;
    w2s_rng_normal(o->seed, STREAM_PRE_SAMPLES, (uint64_t)task[s],
                   (uint64_t)(s % o->samples), 0, in, row);
    for (int64_t k = 0; k < in; ++k) X[k * n + s] = o->input_scale * row[k];
  }
  {
    double *fwork = NULL;
    if ((e = W2S_ALLOC(ctx, fwork, w2s_mlp_work_size(target, n)))) goto decide;
    w2s_mlp_forward(target, n, X, n, tmp, n, fwork);
    free(fwork);
    for (int64_t s = 0; s < n; ++s) {
      const double *a = heads + task[s] * (tw + 1);
      double v = a[tw];
      for (int64_t c = 0; c < tw; ++c) v += tmp[c * n + s] * a[c];
      y[s] = v;
    }
  }
  if (tw != width) {
    e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                 "pretrain: the network's width %lld must equal the target's "
                 "%lld (the frozen task heads act on it)",
                 (long long)width, (long long)tw);
    goto decide;
  }
decide:
  /* The training loop reduces every step: a rank that failed above must
   * not leave the others in the first reduction. */
  e = w2s_agree(ctx, e);
  if (e) goto done;
  double *params = w2s_mlp_params(net);
  int64_t step = 0, nbatches = (n + B - 1) / B;
  for (int64_t ep = 0; ep < o->epochs && !e; ++ep) {
    shuffle(perm, n, o->seed, ep);
    double ep_loss = 0.0;
    for (int64_t b = 0; b < nbatches; ++b) {
      int64_t b0 = b * B, bl = n - b0 < B ? n - b0 : B, lo, cnt;
      w2s_partition(bl, ctx->size, ctx->rank, &lo, &cnt);
      for (int64_t r = 0; r < cnt; ++r) {
        int64_t s = perm[b0 + lo + r];
        for (int64_t k = 0; k < in; ++k) Xb[k * cnt + r] = X[k * n + s];
        yb[r] = y[s];
        tb[r] = task[s];
      }
      memset(grad, 0, sizeof(double) * (size_t)(np + 1));
      grad[np] = w2s_pretrain_loss_grad(net, cnt, Xb, yb, tb, heads, width,
                                        1.0 / (double)bl, grad, acts, work);
      /* One reduction per step carries the gradient and the batch loss;
       * reduce + broadcast so every rank applies bit-identical updates. */
      if (ctx->comm != MPI_COMM_NULL && ctx->size > 1 &&
          (e = w2s_sum_bcast(ctx, grad, np + 1)))
        break;
      ep_loss += grad[np];
      ++step;
      double c1 = 1.0 - pow(o->beta1, (double)step);
      double c2 = 1.0 - pow(o->beta2, (double)step);
      for (int64_t i = 0; i < np; ++i) {
        double g = grad[i];
        m1[i] = o->beta1 * m1[i] + (1.0 - o->beta1) * g;
        m2[i] = o->beta2 * m2[i] + (1.0 - o->beta2) * g * g;
        params[i] *= 1.0 - o->lr * o->weight_decay; /* decoupled decay */
        params[i] -= o->lr * (m1[i] / c1) / (sqrt(m2[i] / c2) + o->eps);
      }
    }
    if (!isfinite(ep_loss) && !e)
      e = W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                   "pretrain: the loss diverged (non-finite) in epoch %lld; "
                   "try a smaller lr",
                   (long long)ep + 1);
    loss[ep] = ep_loss;
    w2s_progress(ctx, "pretrain", (double)(ep + 1) / (double)o->epochs);
    if ((ep + 1) % (o->epochs >= 10 ? o->epochs / 10 : 1) == 0)
      w2s_log(ctx, 1, "pretrain epoch %lld/%lld: summed loss %.6g",
              (long long)ep + 1, (long long)o->epochs, ep_loss);
  }
done:
  free(X), free(y), free(heads), free(Xb), free(yb), free(grad), free(m1);
  free(m2), free(acts), free(work), free(tmp), free(row), free(perm);
  free(task), free(tb);
  return w2s_agree(ctx, e);
}
