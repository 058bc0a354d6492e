/* source = random: a fresh randomly initialised MLP of the given shape. */
#include "w2s/repr.h"
#include "w2s/rng.h"

static w2s_err create_random(w2s_ctx *ctx, const w2s_repr_env *env,
                             w2s_mlp **out) {
  W2S_CALL(w2s_mlp_create(ctx, env->input_dim, env->width, env->depth, out));
  w2s_mlp_init_uniform(*out, env->seed, w2s_rng_stream_of(env->section, 0));
  return W2S_OK;
}

const w2s_repr_source w2s_repr_source_random = {
    .name = "random",
    .help = "a fresh random ReLU MLP of depth x width (PyTorch-style init)",
    .uses_shape = 1,
    .keys = NULL,
    .nkeys = 0,
    .create = create_random,
};
