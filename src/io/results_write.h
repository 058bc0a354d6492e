/* Private to src/io: the parts of the results writer (results_write.c)
 * kept in their own files. All local to the calling rank. */
#ifndef W2S_RESULTS_WRITE_H
#define W2S_RESULTS_WRITE_H

#include <hdf5.h>

#include "w2s/io.h"

/* The metrics of every point of a write, concatenated. */
typedef struct {
  w2s_results *merged;  /* weak-model names united, pairs relabelled, the
                           metrics every point holds; no coefficients */
  int64_t *sweep_index; /* the sweep point of every merged pair */
  int64_t *source;      /* the index into pts of every merged pair */
} w2s_concat;

/* Local (results_concat.c): concatenate npts points (sw: their grid, or
 * NULL). On failure c may hold partial allocations: the caller frees them
 * with w2s_concat_free either way. */
w2s_err w2s_results_concat(w2s_ctx *ctx, w2s_results *const *pts, int64_t npts,
                           const w2s_sweep_desc *sw, w2s_concat *c);
void w2s_concat_free(w2s_concat *c);

/* Local (results_point.c): what one run (or sweep point) owns under
 * parent: coefficients, representations' numbers, pre-training curves
 * (coll: collective dataset writes), then the representations' strings. */
w2s_err w2s_write_point(w2s_ctx *ctx, hid_t parent, const w2s_results *r,
                        int coll, const char *path);
w2s_err w2s_write_repr_strings(w2s_ctx *ctx, hid_t parent, const w2s_results *r,
                               const char *path);

#endif
