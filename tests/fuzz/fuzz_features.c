/* libFuzzer target: the features file reader (`w2s fit` input).
 * Built twice: fuzz_features (structured: the bytes are a recipe for a
 * well-formed file, see fuzz_build.h; runs in CI) and fuzz_features_raw
 * (-DW2S_FUZZ_RAW: the bytes are the file, for long manual runs). */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_verbose.h"

#include "w2s/io.h"
#ifdef W2S_FUZZ_RAW
#include "fuzz_h5.h"
#else
#include "fuzz_build.h"
static const fz_slot slots[] = {
    {"labels", FZ_F64, "N", NULL},
    {"strong", FZ_F64, "NC", NULL},
    {"weak/a", FZ_F64, "NC", NULL},
    {"weak/b-1.x", FZ_F64, "NC", NULL},
    {"weak/bad name", FZ_F64, "NC", NULL, 1},
    {"weak_predictions/a", FZ_F64, "N", NULL},
    {"weak_predictions/only", FZ_F64, "N", NULL, 1},
    {"split", FZ_I64, "N", NULL},
};
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64];
#ifdef W2S_FUZZ_RAW
  if (!fuzz_write_file(data, size, path, sizeof path)) return 0;
#else
  if (!fz_build(data, size, slots, (int)(sizeof slots / sizeof slots[0]), NULL,
                path, sizeof path))
    return 0;
#endif
  w2s_ctx *ctx = NULL;
  w2s_features *f = NULL;
  w2s_err e = w2s_ctx_create(MPI_COMM_NULL, 0, &ctx);
  if (!e) e = w2s_features_open(ctx, path, &f);
  fuzz_verbose(ctx, e);
  if (!e) {
    /* Read the first rows of everything (bounded, as a real pass would). */
    int64_t n = w2s_features_rows(f), m = n < 64 ? n : 64;
    int64_t ds = w2s_features_strong_dim(f);
    int J = w2s_features_nweak(f);
    if (ds <= 4096) {
      double *y = malloc(sizeof(double) * (size_t)m);
      double *S = malloc(sizeof(double) * (size_t)(m * ds + 1));
      double **W = calloc((size_t)J + 1, sizeof *W);
      double *P = malloc(sizeof(double) * (size_t)(m * J + 1));
      int *split = malloc(sizeof(int) * (size_t)(m + 1));
      int ok = y && S && W && P && split;
      for (int j = 0; ok && j < J; ++j) {
        int64_t d = w2s_features_weak_dim(f, j);
        if (d > 4096)
          ok = 0;
        else
          W[j] = malloc(sizeof(double) * (size_t)(m * d + 1));
      }
      if (ok)
        w2s_features_read(ctx, f, 0, m,
                          &(w2s_features_block){y, S, W, P, split});
      for (int j = 0; W && j < J; ++j) free(W[j]);
      free(y), free(S), free(W), free(P), free(split);
    }
  }
  w2s_features_close(&f);
  w2s_ctx_destroy(&ctx);
  if (!fuzz_keep(path)) unlink(path);
  return 0;
}
