/* repr: representations x -> h(x). In this suite a representation is a ReLU
 * MLP (Linear + ReLU per layer, with biases); a representation SOURCE decides
 * how its weights come about (the target's own, a perturbed copy, a fresh
 * random draw, a pre-trained network). Each source is one file in src/repr/
 * exporting one w2s_repr_source, listed once in src/repr/sources.c.
 *
 * Layout: every matrix is column-major. A block of rows X is nrows x in_dim
 * with leading dimension ldx; layer l's weight is out x in (column-major),
 * applied as H_next = relu(H W^T + 1 b^T).
 *
 * Collective or local: every w2s_mlp_* function and the source registry
 * (w2s_repr_source_find, w2s_repr_source_list) are local and never touch
 * MPI. A source's create is collective: every rank calls it with the same
 * env, because a source may train data-parallel and use the cache hooks
 * (source = pretrain reduces every step and agrees on every failure); its
 * check is local.
 *
 * Ownership: a w2s_mlp belongs to whoever created it (w2s_mlp_create,
 * w2s_mlp_clone or a source's create) and is freed with w2s_mlp_destroy.
 * Pointers into a network (w2s_mlp_weight, w2s_mlp_bias, w2s_mlp_params)
 * are borrowed: valid until it is destroyed, never freed by the caller.
 * Workspaces are the caller's, sized with the *_size functions.
 *
 * Errors: functions that return w2s_err record the message in ctx (W2S_FAIL)
 * and return the code; the others cannot fail. Shapes are not checked here,
 * nor that every dimension handed to BLAS (nrows, widths) fits in a BLAS
 * int: that is the caller's part. */
#ifndef W2S_REPR_H
#define W2S_REPR_H

#include <stddef.h>
#include <stdint.h>

#include "w2s/core.h"
#include "w2s/params.h"

typedef struct w2s_mlp w2s_mlp;

/* Local. A network in_dim -> width of `depth` layers; depth 0 is the
 * identity map (features = inputs, no parameters). Weights and biases start
 * at zero. *out is the caller's (w2s_mlp_destroy); it is set only on
 * success. Errors: W2S_ERR_MEMORY. */
w2s_err w2s_mlp_create(w2s_ctx *ctx, int64_t in_dim, int64_t width,
                       int64_t depth, w2s_mlp **out);
/* Local. Weights and biases of such a network, in double so that any
 * configured shape is counted without overflow (for memory checks before
 * creating). Cannot fail. */
double w2s_mlp_count_params(int64_t in_dim, int64_t width, int64_t depth);
/* Local. A copy of src (shape and every parameter); *out is the caller's,
 * set only on success. Errors: W2S_ERR_MEMORY. */
w2s_err w2s_mlp_clone(w2s_ctx *ctx, const w2s_mlp *src, w2s_mlp **out);
/* Local. Frees *mlp and sets it to NULL; NULL or *mlp == NULL is a no-op. */
void w2s_mlp_destroy(w2s_mlp **mlp);

/* Local. PyTorch's default Linear init: weights and biases uniform in
 * +-1/sqrt(fan_in), drawn from stream `stream` of the seed (layer l from
 * counter (l, 0, 0, ...)), so every rank draws the same network. */
void w2s_mlp_init_uniform(w2s_mlp *mlp, uint64_t seed, uint64_t stream);
/* Local. Adds N(0, (scale * rms(tensor))^2) noise to every weight matrix
 * and bias vector, rms taken over that tensor's current entries; the same
 * on every rank for the same seed and stream. */
void w2s_mlp_perturb(w2s_mlp *mlp, double scale, uint64_t seed,
                     uint64_t stream);

/* Local accessors. out_dim is the width, or in_dim when depth is 0. */
int64_t w2s_mlp_in_dim(const w2s_mlp *mlp);
int64_t w2s_mlp_out_dim(const w2s_mlp *mlp);
int64_t w2s_mlp_depth(const w2s_mlp *mlp);
/* Local. Layer l (0-based, < depth) weight (out x in, column-major; its
 * shape in *rows, *cols when they are not NULL) and bias (out entries):
 * mutable pointers into the network, borrowed (see Ownership). */
double *w2s_mlp_weight(w2s_mlp *mlp, int64_t layer, int64_t *rows,
                       int64_t *cols);
double *w2s_mlp_bias(w2s_mlp *mlp, int64_t layer);

/* Local. 1 when a and b compute the same function bit for bit (same shape
 * and weights: a clone, or h* reached by two sources), else 0. */
int w2s_mlp_same(const w2s_mlp *a, const w2s_mlp *b);

/* Local. Workspace (in doubles) that w2s_mlp_forward needs for nrows
 * rows. */
int64_t w2s_mlp_work_size(const w2s_mlp *mlp, int64_t nrows);
/* Local. out (nrows x out_dim, leading dimension ldo) = h(X), by one DGEMM
 * per layer; work holds w2s_mlp_work_size(mlp, nrows) doubles and must not
 * overlap X or out. nrows <= 0 does nothing. Cannot fail. */
void w2s_mlp_forward(const w2s_mlp *mlp, int64_t nrows, const double *X,
                     int64_t ldx, double *out, int64_t ldo, double *work);

/* Training support (all local). All parameters live in one vector (W_0,
 * b_0, W_1, ...) so an optimiser and a reduction across ranks see them as
 * one array: w2s_mlp_params is that vector (nparams doubles), borrowed. */
int64_t w2s_mlp_nparams(const w2s_mlp *mlp);
double *w2s_mlp_params(w2s_mlp *mlp);
/* Doubles of activation storage w2s_mlp_forward_train needs for nrows. */
int64_t w2s_mlp_train_size(const w2s_mlp *mlp, int64_t nrows);
/* Forward pass keeping every layer's activations in `acts`
 * (w2s_mlp_train_size doubles, for backward); returns a pointer inside acts
 * to the nrows x out_dim output (leading dimension nrows), or X itself
 * (leading dimension ldx) when depth is 0. Borrowed: valid while acts (or
 * X) is. Cannot fail. */
const double *w2s_mlp_forward_train(const w2s_mlp *mlp, int64_t nrows,
                                    const double *X, int64_t ldx, double *acts);
/* Backward pass after w2s_mlp_forward_train on the same X and acts: dOut
 * (nrows x out_dim, leading dimension nrows, overwritten) is the loss
 * gradient with respect to the output; ADDS d loss / d params to grad
 * (nparams, in the order of w2s_mlp_params). work holds 2 * nrows * width
 * doubles. Cannot fail. */
void w2s_mlp_backward(const w2s_mlp *mlp, int64_t nrows, const double *X,
                      int64_t ldx, const double *acts, double *dOut,
                      double *grad, double *work);

/* Hooks a source may use, provided by the experiment layer (a
 * representation never touches files itself). All three are collective
 * (every rank calls them with the same arguments and gets the same status
 * and data) and return a w2s_err recorded in ctx. */
typedef struct {
  void *host; /* passed back to every hook */
  /* Load params (n doubles) stored under key in the cache file at path;
   * *found = 0 when absent (not an error). Errors: W2S_ERR_INPUT (path is
   * not a readable cache), W2S_ERR_MPI. */
  w2s_err (*cache_get)(void *host, w2s_ctx *ctx, const char *path,
                       const char *key, double *params, int64_t n, int *found);
  /* Store params under key (rank 0 writes; the file is replaced whole).
   * Errors: W2S_ERR_IO, W2S_ERR_MEMORY, W2S_ERR_MPI. */
  w2s_err (*cache_put)(void *host, w2s_ctx *ctx, const char *path,
                       const char *key, const double *params, int64_t n);
  /* Keep a named curve (e.g. the loss per epoch) for the results file; the
   * values are copied. Errors: W2S_ERR_MEMORY. */
  w2s_err (*record_curve)(void *host, w2s_ctx *ctx, const char *name,
                          const double *values, int64_t n);
} w2s_repr_hooks;

/* What a source gets to build a representation from; every pointer is
 * borrowed for the duration of the call. */
typedef struct {
  const char *section; /* "strong" or "weak.NAME"; perturb and random
                        * derive their RNG stream from it */
  uint64_t seed;       /* experiment seed */
  int64_t input_dim;
  const w2s_mlp *target;       /* h*, the target's representation */
  int64_t depth, width;        /* the section's depth/width keys */
  const w2s_param *params;     /* the source's own keys, in its table's order */
  double input_scale;          /* x ~ N(0, input_scale^2 I) */
  const w2s_repr_hooks *hooks; /* may be NULL */
} w2s_repr_env;

typedef struct {
  const char *name; /* the value of `source = ...` */
  const char *help;
  int uses_shape;      /* whether the section's depth/width keys apply */
  const w2s_key *keys; /* the source's own keys */
  int nkeys;
  /* Collective (see the top of this file): build the representation into
   * *out, which the caller owns (w2s_mlp_destroy). On failure *out holds
   * nothing to free (NULL if the caller passed it NULL), and the caller
   * agrees on the code before the next collective. Errors: W2S_ERR_MEMORY
   * for every source; pretrain also W2S_ERR_NUMERIC (the loss diverged),
   * W2S_ERR_INPUT (a width other than the target's, which check refuses
   * first), W2S_ERR_MPI and the hooks' errors. */
  w2s_err (*create)(w2s_ctx *ctx, const w2s_repr_env *env, w2s_mlp **out);
  /* Optional, local: refuse settings that cannot run, at configuration
   * time, before any work (depth, width and the own keys are parsed), with
   * W2S_ERR_INPUT and a message naming the section and key. */
  w2s_err (*check)(w2s_ctx *ctx, const char *section, int64_t depth,
                   int64_t width, int64_t target_width,
                   const w2s_param *params);
} w2s_repr_source;

/* NULL-terminated list of every source (static; never freed). */
extern const w2s_repr_source *const w2s_repr_sources[];
/* Local: the source called name (an entry of w2s_repr_sources, borrowed),
 * or NULL when there is none. */
const w2s_repr_source *w2s_repr_source_find(const char *name);
/* Local: the names joined by '|' ("target|perturb|random|pretrain"), for
 * help and messages, into buf (n bytes, always terminated when n > 0;
 * cut short if it does not fit). */
void w2s_repr_source_list(char *buf, size_t n);

#endif
