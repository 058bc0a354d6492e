/* The ReLU MLP: the forward pass against numbers computed by hand, depth 0
 * as the identity, leading dimensions respected, PyTorch-style uniform
 * initialisation (bounds, determinism), perturbation (scale 0 is a no-op,
 * scale s adds noise of s times each tensor's own RMS), and batching that
 * does not change the result. */
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

#include "w2s/repr.h"
#include "w2s/rng.h"

static w2s_ctx *new_ctx(void) {
  w2s_ctx *ctx = NULL;
  assert_int_equal(w2s_ctx_create(MPI_COMM_NULL, 0, &ctx), W2S_OK);
  return ctx;
}

/* Reference forward pass by plain loops, one row at a time:
 * h_{l+1}[o] = relu(b_l[o] + sum_i W_l[o, i] h_l[i]). */
static void naive_forward(w2s_mlp *m, int64_t nrows, const double *X,
                          int64_t ldx, double *out, int64_t ldo) {
  int64_t in = w2s_mlp_in_dim(m), depth = w2s_mlp_depth(m);
  int64_t wmax = in > w2s_mlp_out_dim(m) ? in : w2s_mlp_out_dim(m);
  double *h = xmalloc((size_t)wmax), *g = xmalloc((size_t)wmax);
  for (int64_t r = 0; r < nrows; ++r) {
    int64_t cur = in;
    for (int64_t i = 0; i < in; ++i) h[i] = X[i * ldx + r];
    for (int64_t l = 0; l < depth; ++l) {
      int64_t rows, cols;
      const double *W = w2s_mlp_weight(m, l, &rows, &cols);
      const double *b = w2s_mlp_bias(m, l);
      assert_true(cols == cur);
      for (int64_t o = 0; o < rows; ++o) {
        double acc = b[o];
        for (int64_t i = 0; i < cols; ++i) acc += W[i * rows + o] * h[i];
        g[o] = acc > 0.0 ? acc : 0.0;
      }
      memcpy(h, g, sizeof(double) * (size_t)rows);
      cur = rows;
    }
    for (int64_t c = 0; c < cur; ++c) out[c * ldo + r] = h[c];
  }
  free(h);
  free(g);
}

/* in_dim 2, width 2, depth 2, three rows; every number is a short binary
 * fraction, so every sum is exact and the comparison is exact.
 *   W0 = [1 -2; 0.5 3], b0 = [0.5, -1];  W1 = [2 1; 1 0.25], b1 = [1, -3]
 *   x = ( 1,  2): z0 = [1-4+0.5, 0.5+6-1] = [-2.5, 5.5] -> h = [0, 5.5]
 *                 z1 = [0+5.5+1, 0+1.375-3] = [6.5, -1.625] -> [6.5, 0]
 *   x = (-1, .5): z0 = [-1-1+0.5, -0.5+1.5-1] = [-1.5, 0] -> h = [0, 0]
 *                 z1 = [1, -3] -> [1, 0]
 *   x = ( 3, -1): z0 = [3+2+0.5, 1.5-3-1] = [5.5, -2.5] -> h = [5.5, 0]
 *                 z1 = [11+0+1, 5.5+0-3] = [12, 2.5] -> [12, 2.5]
 * Both layers clip something, in different units and rows. */
static void test_forward_by_hand(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  w2s_mlp *m = NULL;
  assert_int_equal(w2s_mlp_create(ctx, 2, 2, 2, &m), W2S_OK);
  assert_int_equal(w2s_mlp_in_dim(m), 2);
  assert_int_equal(w2s_mlp_out_dim(m), 2);
  assert_int_equal(w2s_mlp_depth(m), 2);
  assert_int_equal(w2s_mlp_nparams(m), 2 * (2 * 2 + 2));
  int64_t rows = -1, cols = -1;
  double *W0 = w2s_mlp_weight(m, 0, &rows, &cols);
  assert_int_equal(rows, 2);
  assert_int_equal(cols, 2);
  double *W1 = w2s_mlp_weight(m, 1, &rows, &cols);
  double *b0 = w2s_mlp_bias(m, 0), *b1 = w2s_mlp_bias(m, 1);
  /* Column-major out x in: W[o + i * out]. */
  W0[0] = 1.0, W0[2] = -2.0; /* row 0 */
  W0[1] = 0.5, W0[3] = 3.0;  /* row 1 */
  b0[0] = 0.5, b0[1] = -1.0;
  W1[0] = 2.0, W1[2] = 1.0;
  W1[1] = 1.0, W1[3] = 0.25;
  b1[0] = 1.0, b1[1] = -3.0;
  /* X (3 x 2) stored with ldx = 5; out with ldo = 4 and a sentinel in the
   * rows beyond nrows, which the pass must not touch. */
  double X[10] = {1, -1, 3, 99, 99, 2, 0.5, -1, 99, 99};
  double out[8];
  for (int i = 0; i < 8; ++i) out[i] = -7.0;
  double *work = xmalloc((size_t)w2s_mlp_work_size(m, 3));
  w2s_mlp_forward(m, 3, X, 5, out, 4, work);
  const double expect[2][3] = {{6.5, 1.0, 12.0}, {0.0, 0.0, 2.5}};
  for (int c = 0; c < 2; ++c) {
    for (int r = 0; r < 3; ++r) {
      if (out[c * 4 + r] != expect[c][r])
        print_error("out[%d][%d] = %.17g, expected %.17g\n", r, c,
                    out[c * 4 + r], expect[c][r]);
      assert_true(out[c * 4 + r] == expect[c][r]);
    }
    assert_true(out[c * 4 + 3] == -7.0); /* padding row untouched */
  }
  /* The training forward pass keeps the same output and the hidden layer. */
  double *acts = xmalloc((size_t)w2s_mlp_train_size(m, 3));
  const double *o2 = w2s_mlp_forward_train(m, 3, X, 5, acts);
  for (int c = 0; c < 2; ++c)
    for (int r = 0; r < 3; ++r) assert_true(o2[c * 3 + r] == expect[c][r]);
  const double hidden[2][3] = {{0.0, 0.0, 5.5}, {5.5, 0.0, 0.0}};
  for (int c = 0; c < 2; ++c)
    for (int r = 0; r < 3; ++r) assert_true(acts[c * 3 + r] == hidden[c][r]);
  free(acts);
  free(work);
  w2s_mlp_destroy(&m);
  assert_null(m);
  w2s_ctx_destroy(&ctx);
}

/* in_dim != width, so a transposed weight or a wrong fan-in would not even
 * line up: random weights against the plain-loop reference. */
static void test_forward_random_vs_loops(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t in = 3, width = 5, depth = 3, n = 17;
  w2s_mlp *m = NULL;
  assert_int_equal(w2s_mlp_create(ctx, in, width, depth, &m), W2S_OK);
  w2s_mlp_init_uniform(m, 4, 8);
  double *X = xmalloc((size_t)(n * in));
  w2s_rng_normal(4, 9, 0, 0, 0, n * in, X);
  double *out = xmalloc((size_t)(n * width)),
         *ref = xmalloc((size_t)(n * width));
  double *work = xmalloc((size_t)w2s_mlp_work_size(m, n));
  w2s_mlp_forward(m, n, X, n, out, n, work);
  naive_forward(m, n, X, n, ref, n);
  double err = 0, mag = 0;
  int positive = 0;
  for (int64_t i = 0; i < n * width; ++i) {
    err = fmax(err, fabs(out[i] - ref[i]));
    mag = fmax(mag, fabs(ref[i]));
    positive += ref[i] > 0;
  }
  /* Not a vacuous comparison of zeros: some units are alive. */
  assert_true(positive > 0 && positive < n * width);
  /* The two differ only in summation order over <= 5 terms: a few ulps of
   * the output scale; 1e-13 relative is ~500 ulps and far below any wrong
   * weight, bias or mask (O(1)). */
  ASSERT_LE(err, 1e-13 * mag);
  free(X), free(out), free(ref), free(work);
  w2s_mlp_destroy(&m);
  w2s_ctx_destroy(&ctx);
}

static void test_depth0_identity(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  w2s_mlp *m = NULL;
  assert_int_equal(w2s_mlp_create(ctx, 4, 16, 0, &m), W2S_OK);
  assert_int_equal(w2s_mlp_out_dim(m), 4);
  assert_int_equal(w2s_mlp_nparams(m), 0);
  const int64_t n = 6, ldx = 9, ldo = 7;
  double X[4 * 9], out[4 * 7];
  w2s_rng_normal(1, 2, 3, 4, 5, 4 * ldx, X);
  for (int i = 0; i < 4 * ldo; ++i) out[i] = -3.0;
  double work[2 * 6 * 16];
  w2s_mlp_forward(m, n, X, ldx, out, ldo, work);
  for (int64_t c = 0; c < 4; ++c) {
    /* Exactly the inputs (a copy, no arithmetic), in the first n rows. */
    assert_memory_equal(out + c * ldo, X + c * ldx, sizeof(double) * (size_t)n);
    for (int64_t r = n; r < ldo; ++r) assert_true(out[c * ldo + r] == -3.0);
  }
  w2s_mlp_destroy(&m);
  w2s_ctx_destroy(&ctx);
}

static void test_init_uniform(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t in = 20, width = 30, depth = 3;
  w2s_mlp *a = NULL, *b = NULL;
  assert_int_equal(w2s_mlp_create(ctx, in, width, depth, &a), W2S_OK);
  assert_int_equal(w2s_mlp_create(ctx, in, width, depth, &b), W2S_OK);
  /* Weights start at zero. */
  for (int64_t i = 0; i < w2s_mlp_nparams(a); ++i)
    assert_true(w2s_mlp_params(a)[i] == 0.0);
  w2s_mlp_init_uniform(a, 17, 5);
  for (int64_t l = 0; l < depth; ++l) {
    int64_t rows, cols;
    const double *W = w2s_mlp_weight(a, l, &rows, &cols);
    const double *bias = w2s_mlp_bias(a, l);
    assert_int_equal(rows, width);
    assert_int_equal(cols, l == 0 ? in : width);
    double bound = 1.0 / sqrt((double)cols); /* fan_in, for W and b alike */
    double wmax = 0, bmax = 0, s1 = 0, s2 = 0;
    int64_t nw = rows * cols;
    for (int64_t i = 0; i < nw; ++i) {
      assert_true(fabs(W[i]) <= bound);
      wmax = fmax(wmax, fabs(W[i]));
      s1 += W[i];
      s2 += W[i] * W[i];
    }
    for (int64_t i = 0; i < rows; ++i) {
      assert_true(fabs(bias[i]) <= bound);
      bmax = fmax(bmax, fabs(bias[i]));
    }
    /* The draws fill the range: P(all |w| < 0.95 bound) = 0.95^600 ~ 4e-14
     * for the weights, P(all |b| < 0.5 bound) = 0.5^30 ~ 1e-9 for the
     * biases (a too-small bound, e.g. 1/fan_in, fails). */
    ASSERT_LE(0.95 * bound, wmax);
    ASSERT_LE(0.5 * bound, bmax);
    /* Symmetric with variance bound^2/3: mean sd bound/sqrt(3 nw), sample
     * second moment relative sd sqrt(0.8/nw) (<= 0.037), 5 sigma each. */
    ASSERT_LE(fabs(s1 / (double)nw), 5.0 * bound / sqrt(3.0 * (double)nw));
    ASSERT_LE(fabs(s2 / (double)nw / (bound * bound / 3.0) - 1.0),
              5.0 * sqrt(0.8 / (double)nw));
  }
  /* Deterministic given (seed, stream), whatever the previous contents. */
  for (int64_t i = 0; i < w2s_mlp_nparams(b); ++i) w2s_mlp_params(b)[i] = 42.0;
  w2s_mlp_init_uniform(b, 17, 5);
  assert_memory_equal(w2s_mlp_params(a), w2s_mlp_params(b),
                      sizeof(double) * (size_t)w2s_mlp_nparams(a));
  /* Another stream or seed gives other weights (every entry differs). */
  w2s_mlp_init_uniform(b, 17, 6);
  for (int64_t i = 0; i < w2s_mlp_nparams(a); ++i)
    assert_true(w2s_mlp_params(a)[i] != w2s_mlp_params(b)[i]);
  w2s_mlp_init_uniform(b, 18, 5);
  for (int64_t i = 0; i < w2s_mlp_nparams(a); ++i)
    assert_true(w2s_mlp_params(a)[i] != w2s_mlp_params(b)[i]);
  /* Layers are not copies of each other (per-layer counters): the first
   * entries of W_1 and W_2 (same shape) differ. */
  assert_true(w2s_mlp_weight(a, 1, NULL, NULL)[0] !=
              w2s_mlp_weight(a, 2, NULL, NULL)[0]);
  w2s_mlp_destroy(&a);
  w2s_mlp_destroy(&b);
  w2s_ctx_destroy(&ctx);
}

static double rms(const double *v, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += v[i] * v[i];
  return sqrt(s / (double)n);
}

static void test_perturb(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t in = 100, width = 200, depth = 2;
  w2s_mlp *m = NULL, *c = NULL;
  assert_int_equal(w2s_mlp_create(ctx, in, width, depth, &m), W2S_OK);
  w2s_mlp_init_uniform(m, 3, 1);
  /* Give the tensors very different RMS, so noise scaled by a global RMS
   * (or another tensor's) would be off by orders of magnitude. */
  double *W1 = w2s_mlp_weight(m, 1, NULL, NULL);
  for (int64_t i = 0; i < width * width; ++i) W1[i] *= 100.0;
  double *b0 = w2s_mlp_bias(m, 0);
  for (int64_t i = 0; i < width; ++i) b0[i] *= 0.01;
  size_t bytes = sizeof(double) * (size_t)w2s_mlp_nparams(m);

  /* Scale 0: nothing changes, to the bit. */
  assert_int_equal(w2s_mlp_clone(ctx, m, &c), W2S_OK);
  w2s_mlp_perturb(c, 0.0, 9, 9);
  assert_memory_equal(w2s_mlp_params(m), w2s_mlp_params(c), bytes);
  w2s_mlp_destroy(&c);

  const double s = 0.1;
  assert_int_equal(w2s_mlp_clone(ctx, m, &c), W2S_OK);
  w2s_mlp_perturb(c, s, 9, 9);
  for (int64_t l = 0; l < depth; ++l)
    for (int t = 0; t < 2; ++t) {
      int64_t rows, cols;
      double *v0 = w2s_mlp_weight(m, l, &rows, &cols);
      double *v1 = w2s_mlp_weight(c, l, NULL, NULL);
      if (t) v0 = w2s_mlp_bias(m, l), v1 = w2s_mlp_bias(c, l);
      int64_t n = t ? rows : rows * cols;
      double *d = xmalloc((size_t)n);
      double dm = 0;
      int changed = 0;
      for (int64_t i = 0; i < n; ++i) {
        d[i] = v1[i] - v0[i];
        dm += d[i];
        changed += d[i] != 0.0;
      }
      double want = s * rms(v0, n);
      /* Every entry moves. */
      assert_int_equal(changed, n);
      /* RMS of the noise = s * rms(tensor): the sample RMS of n normals has
       * relative sd 1/sqrt(2n) (0.05 for the 200 biases, <= 0.005 for the
       * weights); 5 sigma. */
      ASSERT_LE(fabs(rms(d, n) / want - 1.0), 5.0 / sqrt(2.0 * (double)n));
      /* Zero-mean noise: the mean has sd want / sqrt(n). */
      ASSERT_LE(fabs(dm / (double)n), 5.0 * want / sqrt((double)n));
      free(d);
    }
  /* Deterministic given (seed, stream); another stream differs. */
  w2s_mlp *c2 = NULL;
  assert_int_equal(w2s_mlp_clone(ctx, m, &c2), W2S_OK);
  w2s_mlp_perturb(c2, s, 9, 9);
  assert_memory_equal(w2s_mlp_params(c), w2s_mlp_params(c2), bytes);
  memcpy(w2s_mlp_params(c2), w2s_mlp_params(m), bytes);
  w2s_mlp_perturb(c2, s, 9, 10);
  assert_memory_not_equal(w2s_mlp_params(c), w2s_mlp_params(c2), bytes);
  /* The noise of W_0 and W_1 is not the same draw rescaled: the
   * normalised deltas of their first entries differ. */
  double *W0m = w2s_mlp_weight(m, 0, NULL, NULL);
  double *W0c = w2s_mlp_weight(c, 0, NULL, NULL);
  double *W1c = w2s_mlp_weight(c, 1, NULL, NULL);
  double r0 = s * rms(W0m, width * in), r1 = s * rms(W1, width * width);
  int same = 1;
  for (int i = 0; i < 4; ++i)
    same &= fabs((W0c[i] - W0m[i]) / r0 - (W1c[i] - W1[i]) / r1) < 1e-9;
  assert_false(same);
  w2s_mlp_destroy(&c);
  w2s_mlp_destroy(&c2);
  w2s_mlp_destroy(&m);
  w2s_ctx_destroy(&ctx);
}

static void test_batching(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t in = 6, width = 24, depth = 4, n = 37;
  w2s_mlp *m = NULL;
  assert_int_equal(w2s_mlp_create(ctx, in, width, depth, &m), W2S_OK);
  w2s_mlp_init_uniform(m, 21, 3);
  double *X = xmalloc((size_t)(n * in));
  w2s_rng_normal(21, 4, 0, 0, 0, n * in, X);
  double *blk = xmalloc((size_t)(n * width)),
         *one = xmalloc((size_t)(n * width));
  double *work = xmalloc((size_t)w2s_mlp_work_size(m, n));
  w2s_mlp_forward(m, n, X, n, blk, n, work);
  /* Row by row (nrows = 1, leading dimensions of the block), and in uneven
   * sub-blocks of 1, 2, 3, ... rows. */
  for (int64_t r = 0; r < n; ++r)
    w2s_mlp_forward(m, 1, X + r, n, one + r, n, work);
  double err = 0, mag = 0;
  int alive = 0;
  for (int64_t i = 0; i < n * width; ++i) {
    err = fmax(err, fabs(blk[i] - one[i]));
    mag = fmax(mag, fabs(blk[i]));
    alive += blk[i] > 0;
  }
  assert_true(alive > 0);
  /* BLAS may sum in another order for m = 1 than for a block: ulps of the
   * output scale; 1e-13 relative to the largest output. */
  ASSERT_LE(err, 1e-13 * mag);
  for (int64_t r = 0, b = 1; r < n; r += b, ++b) {
    int64_t len = b < n - r ? b : n - r;
    w2s_mlp_forward(m, len, X + r, n, one + r, n, work);
  }
  err = 0;
  for (int64_t i = 0; i < n * width; ++i)
    err = fmax(err, fabs(blk[i] - one[i]));
  ASSERT_LE(err, 1e-13 * mag);
  free(X), free(blk), free(one), free(work);
  w2s_mlp_destroy(&m);
  w2s_ctx_destroy(&ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_by_hand),
      cmocka_unit_test(test_forward_random_vs_loops),
      cmocka_unit_test(test_depth0_identity),
      cmocka_unit_test(test_init_uniform),
      cmocka_unit_test(test_perturb),
      cmocka_unit_test(test_batching),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
