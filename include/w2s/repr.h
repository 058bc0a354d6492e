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

/* What a source gets to build a representation from. */
typedef struct {
  const char *section;    /* "strong" or "weak.NAME": names the RNG stream */
  uint64_t seed;          /* experiment seed */
  int64_t input_dim;
  const w2s_mlp *target;  /* h*, the target's representation */
  int64_t depth, width;   /* the section's depth/width keys */
  const w2s_param *params; /* the source's own keys, in its table's order */
} w2s_repr_env;

typedef struct {
  const char *name; /* the value of `source = ...` */
  const char *help;
  int uses_shape;   /* whether the section's depth/width keys apply */
  const w2s_key *keys; /* the source's own keys */
  int nkeys;
  w2s_err (*create)(w2s_ctx *ctx, const w2s_repr_env *env, w2s_mlp **out);
} w2s_repr_source;

/* NULL-terminated list of every source. */
extern const w2s_repr_source *const w2s_repr_sources[];
const w2s_repr_source *w2s_repr_source_find(const char *name);
/* "target|perturb|random", for help and messages. */
void w2s_repr_source_list(char *buf, size_t n);

#endif
