/* repr: representations x -> h(x). In this suite a representation is a ReLU
 * MLP (Linear + ReLU per layer, with biases); a representation SOURCE decides
 * how its weights come about (the target's own, a perturbed copy, a fresh
 * random draw, ...). Each source is one file in src/repr/ exporting one
 * w2s_repr_source, listed once in src/repr/sources.c.
 *
 * Layout: every matrix is column-major. A block of rows X is nrows x in_dim
 * with leading dimension ldx; layer l's weight is out x in (column-major),
 * applied as H_next = relu(H W^T + 1 b^T). All calls are local. */
#ifndef W2S_REPR_H
#define W2S_REPR_H

#include <stddef.h>
#include <stdint.h>

#include "w2s/core.h"
#include "w2s/params.h"

typedef struct w2s_mlp w2s_mlp;

/* depth 0 is the identity map (features = inputs). Weights start at zero. */
w2s_err w2s_mlp_create(w2s_ctx *ctx, int64_t in_dim, int64_t width,
                       int64_t depth, w2s_mlp **out);
/* Weights and biases of such a network, in double so that any configured
 * shape is counted without overflow (for memory checks before creating). */
double w2s_mlp_count_params(int64_t in_dim, int64_t width, int64_t depth);
w2s_err w2s_mlp_clone(w2s_ctx *ctx, const w2s_mlp *src, w2s_mlp **out);
void w2s_mlp_destroy(w2s_mlp **mlp);

/* PyTorch's default Linear init: weights and biases uniform in
 * +-1/sqrt(fan_in), drawn from stream `stream` of the seed. */
void w2s_mlp_init_uniform(w2s_mlp *mlp, uint64_t seed, uint64_t stream);
/* Adds N(0, (scale * rms(tensor))^2) noise to every weight matrix and bias
 * vector, rms taken over that tensor's current entries. */
void w2s_mlp_perturb(w2s_mlp *mlp, double scale, uint64_t seed,
                     uint64_t stream);

int64_t w2s_mlp_in_dim(const w2s_mlp *mlp);
int64_t w2s_mlp_out_dim(const w2s_mlp *mlp);
int64_t w2s_mlp_depth(const w2s_mlp *mlp);
/* Layer l (0-based) weight (out x in, column-major) and bias; mutable. */
double *w2s_mlp_weight(w2s_mlp *mlp, int64_t layer, int64_t *rows,
                       int64_t *cols);
double *w2s_mlp_bias(w2s_mlp *mlp, int64_t layer);

/* Workspace (in doubles) that w2s_mlp_forward needs for nrows rows. */
int64_t w2s_mlp_work_size(const w2s_mlp *mlp, int64_t nrows);
/* out (nrows x out_dim, leading dimension ldo) = h(X). Batched DGEMMs. */
void w2s_mlp_forward(const w2s_mlp *mlp, int64_t nrows, const double *X,
                     int64_t ldx, double *out, int64_t ldo, double *work);

/* Training support. All parameters live in one vector (W_0, b_0, W_1, ...)
 * so an optimiser and an allreduce see them as one array. */
int64_t w2s_mlp_nparams(const w2s_mlp *mlp);
double *w2s_mlp_params(w2s_mlp *mlp);
/* Doubles of activation storage w2s_mlp_forward_train needs for nrows. */
int64_t w2s_mlp_train_size(const w2s_mlp *mlp, int64_t nrows);
/* Forward pass keeping every layer's activations in `acts` (for backward);
 * returns a pointer (inside acts) to the nrows x out_dim output. */
const double *w2s_mlp_forward_train(const w2s_mlp *mlp, int64_t nrows,
                                    const double *X, int64_t ldx,
                                    double *acts);
/* Backward pass: dOut (nrows x out_dim, overwritten) is the loss gradient
 * with respect to the output; ADDS d loss / d params to grad (nparams).
 * work holds 2 * nrows * width doubles. */
void w2s_mlp_backward(const w2s_mlp *mlp, int64_t nrows, const double *X,
                      int64_t ldx, const double *acts, double *dOut,
                      double *grad, double *work);

/* Hooks a source may use, provided by the experiment layer (a
 * representation never touches files itself). */
typedef struct {
  void *host;
  /* Load params (n doubles) stored under key; *found = 0 when absent. */
  w2s_err (*cache_get)(void *host, w2s_ctx *ctx, const char *path,
                       const char *key, double *params, int64_t n,
                       int *found);
  w2s_err (*cache_put)(void *host, w2s_ctx *ctx, const char *path,
                       const char *key, const double *params, int64_t n);
  /* Keep a named curve (e.g. the loss per epoch) for the results file. */
  w2s_err (*record_curve)(void *host, w2s_ctx *ctx, const char *name,
                          const double *values, int64_t n);
} w2s_repr_hooks;

/* What a source gets to build a representation from. */
typedef struct {
  const char *section;    /* "strong" or "weak.NAME": names the RNG stream */
  uint64_t seed;          /* experiment seed */
  int64_t input_dim;
  const w2s_mlp *target;  /* h*, the target's representation */
  int64_t depth, width;   /* the section's depth/width keys */
  const w2s_param *params; /* the source's own keys, in its table's order */
  double input_scale;     /* x ~ N(0, input_scale^2 I) */
  const w2s_repr_hooks *hooks; /* may be NULL */
} w2s_repr_env;

typedef struct {
  const char *name; /* the value of `source = ...` */
  const char *help;
  int uses_shape;   /* whether the section's depth/width keys apply */
  const w2s_key *keys; /* the source's own keys */
  int nkeys;
  w2s_err (*create)(w2s_ctx *ctx, const w2s_repr_env *env, w2s_mlp **out);
  /* Optional: refuse settings that cannot run, at configuration time,
   * before any work (depth, width and the own keys are parsed). */
  w2s_err (*check)(w2s_ctx *ctx, const char *section, int64_t depth,
                   int64_t width, int64_t target_width,
                   const w2s_param *params);
} w2s_repr_source;

/* NULL-terminated list of every source. */
extern const w2s_repr_source *const w2s_repr_sources[];
const w2s_repr_source *w2s_repr_source_find(const char *name);
/* "target|perturb|random", for help and messages. */
void w2s_repr_source_list(char *buf, size_t n);

#endif
