/* rng: counter-based random streams (Random123 Philox4x64-10).
 *
 * Every random number is a pure function of (seed, stream, c0, c1, c2, k):
 * no state, no sequence. Sample i of split s for task group g is drawn from
 * counter (s, g, i, k/4), so any rank can generate exactly its own rows and
 * the same run on 1 or 64 ranks simulates the same samples.
 *
 * All local: no MPI, no context, no allocation; nothing here can fail, and
 * every output goes into a buffer the caller owns. The same arguments give
 * the same bits on every rank and every run. */
#ifndef W2S_RNG_H
#define W2S_RNG_H

#include <stdint.h>

/* Streams: fixed ones below, and per-representation streams made from the
 * representation's config section name (w2s_rng_stream_of). */
enum {
  W2S_STREAM_SAMPLES = 1,
  W2S_STREAM_TARGET = 2,
  W2S_STREAM_TASK_HEADS = 3,
  W2S_STREAM_LABELS = 4, /* sampled class labels (head = softmax) */
  W2S_STREAM_MIXTURE = 5 /* the mixture student's random components */
};

/* Local. A stream number derived from a NUL-terminated name and a salt
 * (64-bit FNV-1a, stable across platforms and runs), with the top bit set
 * so that it never equals one of the small fixed streams above. */
uint64_t w2s_rng_stream_of(const char *name, uint64_t salt);

/* Local. n values into out[0..n) (the caller's buffer; n <= 0 writes
 * nothing), element k drawn from counter (c0, c1, c2, k/4), slot k%4.
 * w2s_rng_uniform gives lo + (hi - lo) u, u uniform in [0, 1) on 53 bits;
 * w2s_rng_normal gives standard normals (Box-Muller on the counter's two
 * pairs of slots). A prefix of a longer draw is the shorter draw. */
void w2s_rng_uniform(uint64_t seed, uint64_t stream, uint64_t c0, uint64_t c1,
                     uint64_t c2, int64_t n, double lo, double hi, double *out);
void w2s_rng_normal(uint64_t seed, uint64_t stream, uint64_t c0, uint64_t c1,
                    uint64_t c2, int64_t n, double *out);

#endif
