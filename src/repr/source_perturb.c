/* source = perturb: h*'s weights plus Gaussian noise of a relative scale. */
#include "w2s/repr.h"
#include "w2s/rng.h"

static const w2s_key perturb_keys[] = {
    {"perturb_scale", W2S_KEY_REAL, "0.1", 0.0, 1e6, NULL,
     "noise std relative to each weight tensor's RMS"},
};

static w2s_err create_perturb(w2s_ctx *ctx, const w2s_repr_env *env,
                              w2s_mlp **out) {
  W2S_CALL(w2s_mlp_clone(ctx, env->target, out));
  w2s_mlp_perturb(*out, env->params[0].r, env->seed,
                  w2s_rng_stream_of(env->section, 0x70657274u));
  return W2S_OK;
}

const w2s_repr_source w2s_repr_source_perturb = {
    .name = "perturb",
    .help = "h*'s weights plus N(0, (perturb_scale * rms)^2) noise per tensor",
    .uses_shape = 0,
    .keys = perturb_keys,
    .nkeys = (int)(sizeof perturb_keys / sizeof perturb_keys[0]),
    .create = create_perturb,
};
