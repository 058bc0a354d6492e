/* Metric sums and the derived metrics against direct computation on small
 * random data: T = 2 tasks x J = 3 weak models, pair k = t * J + j reading
 * label column t. The blocks are accumulated with leading dimensions of the
 * full arrays, in uneven pieces, and compared with one block. */
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

#include "w2s/metrics.h"
#include "w2s/rng.h"

/* Relative agreement: sums of <= 60 squares in another order differ by
 * ~n * eps ~ 1e-14 relative; 1e-12 leaves margin, and any wrong term (a
 * wrong column, a missing factor 2, a wrong divisor) is O(1). */
#define TOL 1e-12
#define ASSERT_REL(got, want) ASSERT_LE(fabs((got) - (want)), TOL *fabs(want))

enum { T = 2, J = 3, K = T * J, M = 50 };

typedef struct {
  double Y[M * T], Fw[M * K], Fsw[M * K], Fs[M * T];
} split_data;

/* Labels y, weak predictions with noise growing with j, strong ones
 * closer to y; the ceiling predictor of task 0 is much worse than every
 * weak model (PGR undefined), the one of task 1 is exactly weak model
 * (1, 0) (weak == ceiling: PGR undefined too) and better than (1, 1),
 * (1, 2). */
static void make_split(uint64_t seed, split_data *d) {
  double z[M];
  for (int t = 0; t < T; ++t)
    w2s_rng_normal(seed, 1, (uint64_t)t, 0, 0, M, d->Y + t * M);
  for (int k = 0; k < K; ++k) {
    int t = k / J, j = k % J;
    w2s_rng_normal(seed, 2, (uint64_t)k, 0, 0, M, z);
    for (int i = 0; i < M; ++i)
      d->Fw[k * M + i] = d->Y[t * M + i] + 0.5 * (j + 1) * z[i] + 0.1 * t;
    w2s_rng_normal(seed, 3, (uint64_t)k, 0, 0, M, z);
    for (int i = 0; i < M; ++i)
      d->Fsw[k * M + i] = 0.6 * d->Fw[k * M + i] + 0.4 * d->Y[t * M + i] +
                          0.2 * z[i];
  }
  w2s_rng_normal(seed, 4, 0, 0, 0, M, z);
  for (int i = 0; i < M; ++i) d->Fs[i] = d->Y[i] + 10.0 * z[i];
  for (int i = 0; i < M; ++i) d->Fs[M + i] = d->Fw[(1 * J + 0) * M + i];
}

/* Direct means over all M rows. */
typedef struct {
  double weak[K], w2s[K], misfit[K], ceil[T];
} direct;

static void direct_metrics(const split_data *d, direct *r) {
  for (int k = 0; k < K; ++k) {
    int t = k / J;
    double a = 0, b = 0, c = 0;
    for (int i = 0; i < M; ++i) {
      double y = d->Y[t * M + i], fw = d->Fw[k * M + i],
             fsw = d->Fsw[k * M + i];
      a += (fw - y) * (fw - y);
      b += (fsw - y) * (fsw - y);
      c += (fw - fsw) * (fw - fsw);
    }
    r->weak[k] = a / M, r->w2s[k] = b / M, r->misfit[k] = c / M;
  }
  for (int t = 0; t < T; ++t) {
    double a = 0;
    for (int i = 0; i < M; ++i)
      a += (d->Fs[t * M + i] - d->Y[t * M + i]) *
           (d->Fs[t * M + i] - d->Y[t * M + i]);
    r->ceil[t] = a / M;
  }
}

/* Accumulate rows in blocks of the given sizes (0 = the rest), each block
 * addressed inside the full arrays (ld = M). */
static void accumulate(w2s_metric_sums *s, const split_data *d,
                       const int *blocks, int nb, int with_ceiling) {
  for (int i = 0, b = 0; i < M; ++b) {
    int m = b < nb && blocks[b] > 0 ? blocks[b] : M - i;
    if (m > M - i) m = M - i;
    w2s_metric_sums_add(s,
                        &(w2s_pred_block){m, d->Y + i, M, d->Fw + i, M,
                                          d->Fsw + i, M,
                                          with_ceiling ? d->Fs + i : NULL, M});
    i += m;
  }
}

static w2s_ctx *new_ctx(void) {
  w2s_ctx *ctx = NULL;
  assert_int_equal(w2s_ctx_create(MPI_COMM_NULL, 0, &ctx), W2S_OK);
  return ctx;
}

static void test_metrics_direct(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  split_data *te = malloc(sizeof *te), *tr = malloc(sizeof *tr);
  assert_non_null(te);
  assert_non_null(tr);
  make_split(1, te);
  make_split(2, tr);
  direct dte, dtr;
  direct_metrics(te, &dte);
  direct_metrics(tr, &dtr);

  w2s_metric_sums ste, str;
  assert_int_equal(w2s_metric_sums_init(ctx, T, J, &ste), W2S_OK);
  assert_int_equal(w2s_metric_sums_init(ctx, T, J, &str), W2S_OK);
  const int bte[] = {7, 1, 30, 0}, btr[] = {M};
  accumulate(&ste, te, bte, 4, 1);
  /* A zero-row block changes nothing. */
  w2s_metric_sums_add(&ste, &(w2s_pred_block){0, te->Y, M, te->Fw, M, te->Fsw,
                                              M, te->Fs, M});
  accumulate(&str, tr, btr, 1, 1);
  assert_int_equal(ste.n, M);
  assert_int_equal(str.n, M);
  /* Local reduce (no MPI): the identity. */
  assert_int_equal(w2s_metric_sums_reduce(ctx, &ste), W2S_OK);
  assert_int_equal(ste.n, M);

  /* Output arrays with sentinels around the slot [k0, k0 + K). */
  enum { K0 = 2, LEN = K0 + K + 2 };
  double store[W2S_M_COUNT][LEN];
  double *out[W2S_M_COUNT];
  for (int m = 0; m < W2S_M_COUNT; ++m) {
    out[m] = store[m];
    for (int i = 0; i < LEN; ++i) store[m][i] = -999.0;
  }
  w2s_metrics_finish(&ste, &str, K0, out);
  for (int m = 0; m < W2S_M_COUNT; ++m)
    for (int i = 0; i < LEN; ++i)
      if (i < K0 || i >= K0 + K) assert_true(store[m][i] == -999.0);

  int nan_pgr = 0;
  for (int k = 0; k < K; ++k) {
    int t = k / J;
    double *o[W2S_M_COUNT];
    for (int m = 0; m < W2S_M_COUNT; ++m) o[m] = &store[m][K0 + k];
    ASSERT_REL(*o[W2S_M_WEAK_ERROR], dte.weak[k]);
    ASSERT_REL(*o[W2S_M_W2S_ERROR], dte.w2s[k]);
    ASSERT_REL(*o[W2S_M_MISFIT], dte.misfit[k]);
    ASSERT_REL(*o[W2S_M_CEILING], dte.ceil[t]);
    /* gain = weak - w2s. Computed as mean(d^2 + 2 d e) it differs from the
     * difference of the two means by rounding of those means, ~eps * weak:
     * 1e-12 relative to the weak error's scale. */
    double gain = *o[W2S_M_GAIN];
    ASSERT_LE(fabs(gain - (dte.weak[k] - dte.w2s[k])), TOL * dte.weak[k]);
    ASSERT_LE(fabs(gain - (*o[W2S_M_WEAK_ERROR] - *o[W2S_M_W2S_ERROR])),
              TOL * dte.weak[k]);
    /* predicted = weak - misfit (the theory's prediction of w2s_error). */
    ASSERT_LE(fabs(*o[W2S_M_PREDICTED] - (dte.weak[k] - dte.misfit[k])),
              TOL * dte.weak[k]);
    /* PGR = gain / (weak - ceiling), NaN where weak <= ceiling. */
    double pgr = *o[W2S_M_PGR];
    if (dte.weak[k] <= dte.ceil[t]) {
      if (!isnan(pgr)) print_error("pair %d: pgr %g, expected NaN\n", k, pgr);
      assert_true(isnan(pgr));
      ++nan_pgr;
    } else {
      /* weak - ceil is >= 0.1 * weak here (checked), so the quotient keeps
       * the 1e-12 relative accuracy up to a factor 10. */
      assert_true(dte.weak[k] - dte.ceil[t] > 0.1 * dte.weak[k]);
      ASSERT_LE(fabs(pgr -
                     (dte.weak[k] - dte.w2s[k]) / (dte.weak[k] - dte.ceil[t])),
                10 * TOL * fabs(pgr));
    }
    ASSERT_REL(*o[W2S_M_WEAK_ERROR_TRAIN], dtr.weak[k]);
    ASSERT_REL(*o[W2S_M_W2S_ERROR_TRAIN], dtr.w2s[k]);
    ASSERT_REL(*o[W2S_M_MISFIT_TRAIN], dtr.misfit[k]);
    ASSERT_REL(*o[W2S_M_CEILING_TRAIN], dtr.ceil[t]);
    ASSERT_LE(fabs(*o[W2S_M_GAIN_TRAIN] - (dtr.weak[k] - dtr.w2s[k])),
              TOL * dtr.weak[k]);
  }
  /* The data were built so that task 0 (3 pairs, bad ceiling) and pair
   * (1, 0) (weak == ceiling, to the bit) have no PGR, the other two do. */
  assert_true(dte.weak[1 * J + 0] == dte.ceil[1]);
  assert_int_equal(nan_pgr, 4);
  assert_string_equal(w2s_metric_name(W2S_M_PGR), "pgr");
  assert_string_equal(w2s_metric_name(W2S_M_GAIN), "gain");
  w2s_metric_sums_free(&ste);
  w2s_metric_sums_free(&str);
  free(te), free(tr);
  w2s_ctx_destroy(&ctx);
}

static void test_blocks_equal_one_block(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  split_data *d = malloc(sizeof *d);
  assert_non_null(d);
  make_split(3, d);
  w2s_metric_sums one, many, noceil;
  assert_int_equal(w2s_metric_sums_init(ctx, T, J, &one), W2S_OK);
  assert_int_equal(w2s_metric_sums_init(ctx, T, J, &many), W2S_OK);
  assert_int_equal(w2s_metric_sums_init(ctx, T, J, &noceil), W2S_OK);
  const int b1[] = {M}, bm[] = {1, 1, 13, 2, 20, 0};
  accumulate(&one, d, b1, 1, 1);
  accumulate(&many, d, bm, 6, 1);
  accumulate(&noceil, d, bm, 6, 0);
  assert_int_equal(one.n, M);
  assert_int_equal(many.n, M);
  for (int k = 0; k < K; ++k) {
    /* Same terms summed in another grouping: rounding only. */
    ASSERT_REL(many.weak[k], one.weak[k]);
    ASSERT_REL(many.w2s[k], one.w2s[k]);
    ASSERT_REL(many.misfit[k], one.misfit[k]);
    ASSERT_LE(fabs(many.cross[k] - one.cross[k]),
              TOL * (one.misfit[k] + one.w2s[k]));
    /* Without Fs the other sums are the same ... */
    assert_true(noceil.weak[k] == many.weak[k]);
    assert_true(noceil.cross[k] == many.cross[k]);
  }
  for (int t = 0; t < T; ++t) {
    ASSERT_REL(many.ceiling[t], one.ceiling[t]);
    assert_true(one.ceiling[t] > 0);
    /* ... and no ceiling is accumulated. */
    assert_true(noceil.ceiling[t] == 0.0);
  }
  w2s_metric_sums_free(&one);
  w2s_metric_sums_free(&many);
  w2s_metric_sums_free(&noceil);
  assert_null(one.buf);
  free(d);
  w2s_ctx_destroy(&ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_metrics_direct),
      cmocka_unit_test(test_blocks_equal_one_block),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
