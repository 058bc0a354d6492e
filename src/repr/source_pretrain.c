/* source = pretrain: an MLP of the section's depth x width trained on
 * pretrain_tasks tasks (random frozen heads on h*) with AdamW, as in the
 * paper's synthetic experiments. With `cache = FILE.h5` the trained weights
 * are stored under a key made of every setting that affects them and reused
 * by later runs (a sweep trains each representation once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repr/pretrain.h"
#include "w2s/repr.h"
#include "w2s/rng.h"

enum { K_TASKS, K_SAMPLES, K_EPOCHS, K_BATCH, K_LR, K_WD, K_CACHE, K_COUNT };

static const w2s_key pretrain_keys[K_COUNT] = {
    {"pretrain_tasks", W2S_KEY_INT, "10", 1, 1e6, NULL,
     "pre-training tasks (random frozen heads on h*)"},
    {"pretrain_samples", W2S_KEY_INT, "2000", 1, 1e9, NULL,
     "pre-training samples per task"},
    {"epochs", W2S_KEY_INT, "1000", 1, 1e7, NULL, "pre-training epochs"},
    {"batch", W2S_KEY_INT, "32", 1, 1e9, NULL,
     "mini-batch size (split across ranks)"},
    {"lr", W2S_KEY_REAL, "1e-3", 1e-12, 10, NULL, "AdamW learning rate"},
    {"weight_decay", W2S_KEY_REAL, "0.01", 0, 10, NULL,
     "AdamW decoupled weight decay"},
    {"cache", W2S_KEY_STRING, "none", 0, 0, NULL,
     "HDF5 file of trained weights reused across runs ('none': no cache)"},
};

static w2s_err pretrain_check(w2s_ctx *ctx, const char *section, int64_t depth,
                              int64_t width, int64_t target_width,
                              const w2s_param *p) {
  if (depth < 1)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "[%s]: source = pretrain needs depth >= 1 (got %lld): "
                    "there is nothing to train",
                    section, (long long)depth);
  if (width != target_width)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "[%s]: source = pretrain needs width = target.width = %lld "
                    "(the frozen task heads act on it), got %lld",
                    section, (long long)target_width, (long long)width);
  int64_t n = p[K_TASKS].i * p[K_SAMPLES].i;
  if (p[K_BATCH].i > n)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: key '%s.batch' = %lld is larger than the %lld "
                    "pre-training samples (pretrain_tasks x pretrain_samples)",
                    p[K_BATCH].where, section, (long long)p[K_BATCH].i,
                    (long long)n);
  return W2S_OK;
}

static w2s_err create_pretrain(w2s_ctx *ctx, const w2s_repr_env *env,
                               w2s_mlp **out) {
  const w2s_param *p = env->params;
  char settings[480], key[512];
  /* Everything the trained weights depend on (the target is made from the
   * seed and its shape, which the seed and input settings pin down). */
  snprintf(settings, sizeof settings,
           "seed=%llu in=%lld scale=%.17g target=%lldx%lld "
           "depth=%lld width=%lld tasks=%lld samples=%lld epochs=%lld "
           "batch=%lld lr=%.17g wd=%.17g",
           (unsigned long long)env->seed, (long long)env->input_dim,
           env->input_scale, (long long)w2s_mlp_depth(env->target),
           (long long)w2s_mlp_out_dim(env->target), (long long)env->depth,
           (long long)env->width, (long long)p[K_TASKS].i,
           (long long)p[K_SAMPLES].i, (long long)p[K_EPOCHS].i,
           (long long)p[K_BATCH].i, p[K_LR].r, p[K_WD].r);
  /* The cache key names the entry layout version too; the network's
   * initialisation depends on the settings alone. */
  snprintf(key, sizeof key, "w2s-pretrain-v2 %s", settings);
  int64_t epochs = p[K_EPOCHS].i, np = 0;
  /* The cache entry is [weights | loss per epoch], so a reused network
   * still reports its training curve. */
  double *entry = NULL, *loss;
  w2s_err e = w2s_mlp_create(ctx, env->input_dim, env->width, env->depth, out);
  if (!e) {
    np = w2s_mlp_nparams(*out);
    e = W2S_ALLOC(ctx, entry, np + epochs);
  }
  /* The cache and the training are collective: every rank goes on, or none. */
  e = w2s_agree(ctx, e);
  if (e) {
    free(entry);
    w2s_mlp_destroy(out);
    return e;
  }
  /* The initial weights depend on the settings, not the section's name, so
   * the same settings give the same network wherever they appear. */
  w2s_mlp_init_uniform(*out, env->seed, w2s_rng_stream_of(settings, 0));
  const char *cache = p[K_CACHE].text;
  int use_cache = strcmp(cache, "none") != 0 && env->hooks &&
                  env->hooks->cache_get;
  int found = 0;
  loss = entry + np;
  if (use_cache)
    e = env->hooks->cache_get(env->hooks->host, ctx, cache, key, entry,
                              np + epochs, &found);
  if (!e && found) {
    memcpy(w2s_mlp_params(*out), entry, sizeof(double) * (size_t)np);
    w2s_log(ctx, 1,
            "[%s] pre-trained weights reused from %s (final summed "
            "loss %.6g)",
            env->section, cache, loss[epochs - 1]);
  } else if (!e) {
    w2s_pretrain_opts o = {env->seed,    p[K_TASKS].i, p[K_SAMPLES].i,  epochs,
                           p[K_BATCH].i, p[K_LR].r,    p[K_WD].r,       0.9,
                           0.999,        1e-8,         env->input_scale};
    w2s_log(ctx, 1,
            "[%s] pre-training %lld x %lld on %lld tasks x %lld "
            "samples for %lld epochs",
            env->section, (long long)env->depth, (long long)env->width,
            (long long)o.tasks, (long long)o.samples, (long long)epochs);
    e = w2s_pretrain(ctx, &o, env->target, *out, loss);
    if (!e) memcpy(entry, w2s_mlp_params(*out), sizeof(double) * (size_t)np);
    if (!e && use_cache)
      e = env->hooks->cache_put(env->hooks->host, ctx, cache, key, entry,
                                np + epochs);
  }
  if (!e && env->hooks && env->hooks->record_curve)
    e = env->hooks->record_curve(env->hooks->host, ctx, env->section, loss,
                                 epochs);
  free(entry);
  if (e) w2s_mlp_destroy(out);
  return e;
}

const w2s_repr_source w2s_repr_source_pretrain = {
    .name = "pretrain",
    .help = "an MLP of depth x width pre-trained with AdamW on random tasks "
            "on h* (the paper's)",
    .uses_shape = 1,
    .keys = pretrain_keys,
    .nkeys = K_COUNT,
    .create = create_pretrain,
    .check = pretrain_check,
};
