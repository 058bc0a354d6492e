/* Philox-backed uniform and normal draws. Random123's C API gives the
 * bits; its Box-Muller and uniform helpers are C++ only, so the two
 * transforms are spelled out here. */
#include "w2s/rng.h"

#include <Random123/philox.h>
#include <math.h>

uint64_t w2s_rng_stream_of(const char *name, uint64_t salt) {
  /* FNV-1a: stable across platforms and runs; the top bit keeps these
   * streams apart from the fixed small stream numbers. */
  uint64_t h = 1469598103934665603ULL ^ salt;
  for (const unsigned char *p = (const unsigned char *)name; *p; ++p) {
    h ^= *p;
    h *= 1099511628211ULL;
  }
  return h | (1ULL << 63);
}

static philox4x64_ctr_t block(uint64_t seed, uint64_t stream, uint64_t c0,
                              uint64_t c1, uint64_t c2, uint64_t c3) {
  philox4x64_ctr_t ctr = {{c0, c1, c2, c3}};
  philox4x64_key_t key = {{seed, stream}};
  return philox4x64(ctr, key);
}

/* (0, 1]: never 0, so log() in Box-Muller is finite. */
static double open_unit(uint64_t bits) {
  return ((double)(bits >> 11) + 1.0) * 0x1.0p-53;
}

void w2s_rng_uniform(uint64_t seed, uint64_t stream, uint64_t c0, uint64_t c1,
                     uint64_t c2, int64_t n, double lo, double hi,
                     double *out) {
  for (int64_t k = 0; k < n; k += 4) {
    philox4x64_ctr_t r = block(seed, stream, c0, c1, c2, (uint64_t)(k / 4));
    for (int j = 0; j < 4 && k + j < n; ++j)
      out[k + j] = lo + (hi - lo) * ((double)(r.v[j] >> 11) * 0x1.0p-53);
  }
}

void w2s_rng_normal(uint64_t seed, uint64_t stream, uint64_t c0, uint64_t c1,
                    uint64_t c2, int64_t n, double *out) {
  const double two_pi = 6.283185307179586476925286766559;
  for (int64_t k = 0; k < n; k += 4) {
    philox4x64_ctr_t r = block(seed, stream, c0, c1, c2, (uint64_t)(k / 4));
    double z[4];
    for (int j = 0; j < 4; j += 2) {
      double rad = sqrt(-2.0 * log(open_unit(r.v[j])));
      double ang = two_pi * ((double)(r.v[j + 1] >> 11) * 0x1.0p-53);
      z[j] = rad * cos(ang);
      z[j + 1] = rad * sin(ang);
    }
    for (int j = 0; j < 4 && k + j < n; ++j) out[k + j] = z[j];
  }
}
