/* Private to src/repr: data-parallel pre-training of an MLP on T tasks with
 * frozen task heads (the paper's representations). */
#ifndef W2S_PRETRAIN_H
#define W2S_PRETRAIN_H

#include "w2s/repr.h"

typedef struct {
  uint64_t seed;
  int64_t tasks;        /* pre-training tasks */
  int64_t samples;      /* per task */
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

/* Local, for tests: loss (sum of squared errors over the rows, times
 * `scale`) and its gradient (added to grad) for rows with given tasks. */
double w2s_pretrain_loss_grad(const w2s_mlp *net, int64_t m, const double *X,
                              const double *y, const int64_t *task,
                              const double *heads, int64_t width, double scale,
                              double *grad, double *acts, double *work);

#endif
