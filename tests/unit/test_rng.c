/* rng and the row partition: every value is a pure function of its counter,
 * so generating the rows of a split in one block or in pieces at other
 * offsets (as different rank counts do) gives the same bits; w2s_partition
 * covers [0, n) exactly once; different keys and counters give different,
 * uncorrelated values; the normal and uniform draws have the right moments.
 *
 * The statistical checks use N = 1e5 draws and a 5-sigma tolerance: a
 * correct generator passes for a random key with probability ~1 - 6e-7 per
 * check, and the keys here are fixed, so the test is deterministic. Each
 * tolerance is derived next to its check. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit_common.h"

#include "w2s/core.h"
#include "w2s/rng.h"

enum { NSTAT = 100000 };

/* Rows [i0, i0 + m) of split/group, d values each, as simulate's gen_block
 * draws them: row i from counter (split, group, i); stored into an
 * n_total x d column-major matrix at its global row. */
static void gen_rows(uint64_t seed, uint64_t split, uint64_t group, int64_t i0,
                     int64_t m, int64_t d, double *M, int64_t ld) {
  double *row = xmalloc((size_t)d);
  for (int64_t r = 0; r < m; ++r) {
    w2s_rng_normal(seed, W2S_STREAM_SAMPLES, split, group, (uint64_t)(i0 + r),
                   d, row);
    for (int64_t k = 0; k < d; ++k) M[k * ld + i0 + r] = row[k];
  }
  free(row);
}

static void test_partition_independence(void **state) {
  (void)state;
  const int64_t n = 503, d = 7; /* d not a multiple of 4: a partial block */
  double *whole = xmalloc((size_t)(n * d));
  double *pieces = xmalloc((size_t)(n * d));
  gen_rows(11, 2, 5, 0, n, d, whole, n);
  /* Pieces in the partitions of 2, 3, 7 and 64 "ranks", generated in reverse
   * order and each piece in sub-blocks of 1, 2, 3, ... rows. */
  int sizes[] = {2, 3, 7, 64};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; ++s) {
    memset(pieces, 0xff, sizeof(double) * (size_t)(n * d)); /* NaN pattern */
    for (int r = sizes[s] - 1; r >= 0; --r) {
      int64_t start, count;
      w2s_partition(n, sizes[s], r, &start, &count);
      for (int64_t i = start, b = 1; i < start + count; i += b, ++b) {
        int64_t m = b < start + count - i ? b : start + count - i;
        gen_rows(11, 2, 5, i, m, d, pieces, n);
      }
    }
    /* Bitwise: a pure function of the counter must not depend on the order
     * or grouping of the calls at all. */
    assert_memory_equal(whole, pieces, sizeof(double) * (size_t)(n * d));
  }
  /* Within a row, element k depends on k alone: a prefix of a longer draw
   * (lengths straddling the 4-value Philox blocks) is the shorter draw. */
  double longer[23], shorter[23];
  w2s_rng_normal(11, 9, 1, 2, 3, 23, longer);
  for (int64_t len = 1; len <= 23; ++len) {
    w2s_rng_normal(11, 9, 1, 2, 3, len, shorter);
    assert_memory_equal(longer, shorter, sizeof(double) * (size_t)len);
  }
  w2s_rng_uniform(11, 9, 1, 2, 3, 23, -2.0, 3.0, longer);
  for (int64_t len = 1; len <= 23; ++len) {
    w2s_rng_uniform(11, 9, 1, 2, 3, len, -2.0, 3.0, shorter);
    assert_memory_equal(longer, shorter, sizeof(double) * (size_t)len);
  }
  free(whole);
  free(pieces);
}

static void test_partition_cover(void **state) {
  (void)state;
  const int64_t ns[] = {0,  1,   2,    3,         5,
                        7,  8,   10,   63,        64,
                        65, 100, 1001, 123456789, 1000000000007LL};
  const int sizes[] = {1, 2, 3, 4, 5, 7, 8, 16, 63, 64, 100, 1000};
  for (size_t a = 0; a < sizeof ns / sizeof ns[0]; ++a)
    for (size_t b = 0; b < sizeof sizes / sizeof sizes[0]; ++b) {
      int64_t n = ns[a], next = 0;
      int size = sizes[b];
      int64_t base = n / size, extra = n % size;
      for (int r = 0; r < size; ++r) {
        int64_t start, count;
        w2s_partition(n, size, r, &start, &count);
        /* Contiguous, in rank order, no gap and no overlap: each range
         * starts where the previous one ended. */
        if (start != next || count < 0)
          print_error("n=%lld size=%d rank=%d: start %lld count %lld, "
                      "expected start %lld\n",
                      (long long)n, size, r, (long long)start, (long long)count,
                      (long long)next);
        assert_true(start == next);
        assert_true(count >= 0);
        /* Balanced as documented: the first n % size ranks hold one more. */
        assert_true(count == base + (r < extra ? 1 : 0));
        next = start + count;
      }
      /* Together the ranges are exactly [0, n). */
      assert_true(next == n);
    }
}

static void test_stream_independence(void **state) {
  (void)state;
  double *a = xmalloc(NSTAT), *b = xmalloc(NSTAT);
  /* Changing any one of seed, stream, c0, c1, c2 changes the values (a
   * dropped key or counter word would make two of these equal). */
  const uint64_t base[5] = {7, 3, 1, 2, 3};
  double ref[8], other[8];
  w2s_rng_normal(base[0], base[1], base[2], base[3], base[4], 8, ref);
  for (int w = 0; w < 5; ++w) {
    uint64_t v[5];
    memcpy(v, base, sizeof v);
    v[w] += 1;
    w2s_rng_normal(v[0], v[1], v[2], v[3], v[4], 8, other);
    for (int k = 0; k < 8; ++k) assert_true(other[k] != ref[k]);
    /* The high bits matter too (streams from w2s_rng_stream_of set bit 63). */
    memcpy(v, base, sizeof v);
    v[w] ^= 1ULL << 63;
    w2s_rng_normal(v[0], v[1], v[2], v[3], v[4], 8, other);
    for (int k = 0; k < 8; ++k) assert_true(other[k] != ref[k]);
  }
  /* w2s_rng_stream_of: deterministic, name- and salt-dependent, bit 63 set
   * (kept apart from the fixed small stream numbers). */
  assert_true(w2s_rng_stream_of("weak.a", 0) == w2s_rng_stream_of("weak.a", 0));
  assert_true(w2s_rng_stream_of("weak.a", 0) != w2s_rng_stream_of("weak.b", 0));
  assert_true(w2s_rng_stream_of("weak.a", 0) != w2s_rng_stream_of("weak.a", 1));
  assert_true(w2s_rng_stream_of("weak.a", 0) >> 63 == 1);

  /* Correlation of two streams (same counters) and of two seeds over 1e5
   * draws: for independent N(0,1) the sample correlation has sd
   * 1/sqrt(N) = 0.0032, so |rho| < 5/sqrt(N) = 0.0158. */
  const double rho_tol = 5.0 / sqrt((double)NSTAT);
  struct {
    uint64_t seed, stream;
  } pairs[3][2] = {{{5, W2S_STREAM_SAMPLES}, {5, W2S_STREAM_TARGET}},
                   {{5, W2S_STREAM_SAMPLES}, {6, W2S_STREAM_SAMPLES}},
                   {{5, W2S_STREAM_SAMPLES},
                    {5, w2s_rng_stream_of("weak.a", 0)}}};
  for (int q = 0; q < 3; ++q) {
    w2s_rng_normal(pairs[q][0].seed, pairs[q][0].stream, 0, 0, 0, NSTAT, a);
    w2s_rng_normal(pairs[q][1].seed, pairs[q][1].stream, 0, 0, 0, NSTAT, b);
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    for (int i = 0; i < NSTAT; ++i) {
      sa += a[i], sb += b[i];
      saa += a[i] * a[i], sbb += b[i] * b[i], sab += a[i] * b[i];
    }
    double N = NSTAT;
    double cov = sab / N - (sa / N) * (sb / N);
    double rho = cov / sqrt((saa / N - (sa / N) * (sa / N)) *
                            (sbb / N - (sb / N) * (sb / N)));
    ASSERT_LE(fabs(rho), rho_tol);
  }
  /* Within one stream: consecutive values (including the two halves of a
   * Box-Muller pair) are uncorrelated, same 5-sigma bound. */
  w2s_rng_normal(5, W2S_STREAM_SAMPLES, 4, 0, 0, NSTAT, a);
  double lag1 = 0, pair = 0;
  for (int i = 0; i + 1 < NSTAT; ++i) lag1 += a[i] * a[i + 1];
  for (int i = 0; i + 1 < NSTAT; i += 2) pair += a[i] * a[i + 1];
  ASSERT_LE(fabs(lag1 / (NSTAT - 1)), rho_tol);
  /* NSTAT / 2 products: sd 1/sqrt(N/2). */
  ASSERT_LE(fabs(pair / (NSTAT / 2.0)), 5.0 / sqrt(NSTAT / 2.0));
  /* Rows of a split (counter c2) are uncorrelated with each other: element
   * 0 of row i against element 0 of row i + 1. */
  for (int i = 0; i < NSTAT; ++i) {
    double z[2];
    w2s_rng_normal(5, W2S_STREAM_SAMPLES, 0, 0, (uint64_t)i, 1, z);
    b[i] = z[0];
  }
  double rows = 0;
  for (int i = 0; i + 1 < NSTAT; ++i) rows += b[i] * b[i + 1];
  ASSERT_LE(fabs(rows / (NSTAT - 1)), rho_tol);
  free(a);
  free(b);
}

static void test_normal_moments(void **state) {
  (void)state;
  double *z = xmalloc(NSTAT);
  w2s_rng_normal(123, W2S_STREAM_SAMPLES, 0, 1, 2, NSTAT, z);
  double N = NSTAT, s1 = 0, s2 = 0, s4 = 0, inside = 0;
  for (int i = 0; i < NSTAT; ++i) {
    assert_true(isfinite(z[i]));
    s1 += z[i];
    s2 += z[i] * z[i];
    s4 += z[i] * z[i] * z[i] * z[i];
    inside += fabs(z[i]) < 1.0;
  }
  double mean = s1 / N, var = s2 / N - mean * mean, m4 = s4 / N;
  /* Mean: sd 1/sqrt(N) = 0.0032; 5 sigma = 0.0158. */
  ASSERT_LE(fabs(mean), 5.0 / sqrt(N));
  /* Variance: sd sqrt(2/N) = 0.0045; 5 sigma = 0.022. */
  ASSERT_LE(fabs(var - 1.0), 5.0 * sqrt(2.0 / N));
  /* Fourth moment 3 (a scaled uniform has 1.8): sd sqrt((105 - 9)/N) =
   * 0.031; 5 sigma = 0.155. */
  ASSERT_LE(fabs(m4 - 3.0), 5.0 * sqrt(96.0 / N));
  /* P(|z| < 1) = 0.682689: binomial sd sqrt(p(1-p)/N) = 0.0015. */
  const double p1 = 0.6826894921370859;
  ASSERT_LE(fabs(inside / N - p1), 5.0 * sqrt(p1 * (1 - p1) / N));
  free(z);
}

static void test_uniform_range(void **state) {
  (void)state;
  double *u = xmalloc(NSTAT);
  const double ranges[][2] = {{0.0, 1.0},
                              {-2.5, 4.0},
                              {-1e-3, 1e-3},
                              {10.0, 10.5}};
  for (size_t q = 0; q < sizeof ranges / sizeof ranges[0]; ++q) {
    double lo = ranges[q][0], hi = ranges[q][1], w = hi - lo;
    w2s_rng_uniform(99, W2S_STREAM_TASK_HEADS, q, 0, 0, NSTAT, lo, hi, u);
    double mn = INFINITY, mx = -INFINITY, s1 = 0, s2 = 0;
    for (int i = 0; i < NSTAT; ++i) {
      assert_true(u[i] >= lo && u[i] <= hi);
      /* [0, 1) is exact: (bits >> 11) * 2^-53 < 1. */
      if (lo == 0.0 && hi == 1.0) assert_true(u[i] < 1.0);
      mn = fmin(mn, u[i]);
      mx = fmax(mx, u[i]);
      s1 += u[i];
      s2 += (u[i] - (lo + hi) / 2) * (u[i] - (lo + hi) / 2);
    }
    double N = NSTAT;
    /* The whole range is covered: P(min > lo + 1e-3 w) = (1 - 1e-3)^N =
     * e^-100. */
    ASSERT_LE(mn - lo, 1e-3 * w);
    ASSERT_LE(hi - mx, 1e-3 * w);
    /* Mean (lo+hi)/2 with sd w / sqrt(12 N); variance w^2/12 with sd
     * w^2 sqrt(1/180 / N) (uniform: mu4 - sigma^4 = w^4/80 - w^4/144). */
    ASSERT_LE(fabs(s1 / N - (lo + hi) / 2), 5.0 * w / sqrt(12.0 * N));
    ASSERT_LE(fabs(s2 / N - w * w / 12), 5.0 * w * w * sqrt(1.0 / 180 / N));
  }
  free(u);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_partition_independence),
      cmocka_unit_test(test_partition_cover),
      cmocka_unit_test(test_stream_independence),
      cmocka_unit_test(test_normal_moments),
      cmocka_unit_test(test_uniform_range),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
