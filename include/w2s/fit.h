/* fit: the weak-to-strong pipeline on representations exported from real
 * models (a features file, docs/FORMAT.md). Collective. */
#ifndef W2S_FIT_H
#define W2S_FIT_H

#include <stdint.h>

#include "w2s/core.h"
#include "w2s/io.h"

typedef struct {
  const char *path;   /* the features file */
  double split[3];    /* fractions of rows for splits 0, 1, 2 without /split */
  uint64_t seed;      /* of the split permutation */
  int repeats;
  char solver[32];
  double ridge[8];    /* one value, or candidates chosen by hold-out */
  int nridge;
  int standardize;    /* scale each representation's columns (see DESIGN) */
  int64_t block_rows;
} w2s_fit_opts;

typedef struct {
  uint64_t labels_checksum; /* sum over rows of hash(row, label): rank-free */
} w2s_fit_scan;

/* Collective: one repeat (split permutation `repeat` of the seed). */
w2s_err w2s_fit_run(w2s_ctx *ctx, const w2s_fit_opts *o, w2s_features *f,
                    int repeat, w2s_fit_scan *scan, w2s_results **out);

#endif
