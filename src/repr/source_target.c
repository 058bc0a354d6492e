/* source = target: the strong representation is h* itself (realizable). */
#include "w2s/repr.h"

static w2s_err create_target(w2s_ctx *ctx, const w2s_repr_env *env,
                             w2s_mlp **out) {
  return w2s_mlp_clone(ctx, env->target, out);
}

const w2s_repr_source w2s_repr_source_target = {
    .name = "target",
    .help = "h* itself, the target's representation (realizable)",
    .uses_shape = 0,
    .keys = NULL,
    .nkeys = 0,
    .create = create_target,
};
