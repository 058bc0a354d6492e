/* Private to src/repr: data-parallel pre-training of an MLP on T tasks with
 * frozen task heads (the paper's representations). */
#ifndef W2S_PRETRAIN_H
#define W2S_PRETRAIN_H

#include "w2s/repr.h"

typedef struct {
  uint64_t seed;
  int64_t tasks;   /* pre-training tasks */
  int64_t samples; /* per task */
  int64_t epochs, batch;
  double lr, weight_decay, beta1, beta2, eps;
  double input_scale;
} w2s_pretrain_opts;

/* Collective. Trains net in place; loss (epochs) receives each epoch's sum
 * of mini-batch mean squared errors (the notebook's "summed epoch loss").
 * Every rank computes the gradient of its share of each mini-batch;
 * mini-batches are formed from global sample indices, so the trained
 * weights do not depend on the number of ranks (beyond rounding). */
w2s_err w2s_pretrain(w2s_ctx *ctx, const w2s_pretrain_opts *o,
                     const w2s_mlp *target, w2s_mlp *net, double *loss);

/* m rows of one mini-batch: inputs X (m x in, column-major, leading
 * dimension m), labels y (m) and each row's task (its row of the heads).
 * The caller owns the arrays. */
typedef struct {
  int64_t m;
  const double *X, *y;
  const int64_t *task;
} w2s_pretrain_batch;

/* Scratch for w2s_pretrain_loss_grad on up to B rows, owned by the caller:
 * acts w2s_mlp_train_size(net, B) doubles, work 3 * B * max(width, in). */
typedef struct {
  double *acts, *work;
} w2s_pretrain_work;

/* Local, for tests: loss (sum of squared errors over the batch's rows, times
 * `scale`) and its gradient (added to grad, w2s_mlp_nparams(net) entries)
 * through the frozen heads (one row of width + 1 per task, width =
 * w2s_mlp_out_dim(net), bias last). Cannot fail; returns 0 for m <= 0. */
double w2s_pretrain_loss_grad(const w2s_mlp *net, const w2s_pretrain_batch *b,
                              const double *heads, double scale, double *grad,
                              const w2s_pretrain_work *w);

#endif
