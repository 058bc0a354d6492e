/* W2S_FUZZ_VERBOSE=1: print what the reader said about each input (to see
 * how deep recipes get; e.g. run a target on one corpus file).
 * W2S_FUZZ_KEEP=1: keep the file built from the input (path printed). */
#ifndef W2S_FUZZ_VERBOSE_H
#define W2S_FUZZ_VERBOSE_H

#include <stdio.h>
#include <stdlib.h>

#include "w2s/core.h"

static inline void fuzz_verbose(const w2s_ctx *ctx, w2s_err e) {
  const char *v = getenv("W2S_FUZZ_VERBOSE");
  if (v && *v == '1')
    fprintf(stderr, "reader: %s\n", e ? (ctx ? ctx->msg : "no context") : "ok");
}

static inline int fuzz_keep(const char *path) {
  const char *v = getenv("W2S_FUZZ_KEEP");
  if (!v || *v != '1') return 0;
  fprintf(stderr, "kept: %s\n", path);
  return 1;
}

#endif
