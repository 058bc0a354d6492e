/* The pre-training gradient (backward pass through ReLU layers and frozen
 * task heads) against central finite differences of the loss. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "repr/pretrain.h"
#include "w2s/rng.h"

static void fd_check(int64_t depth, int64_t width, int64_t in, int64_t m) {
  w2s_ctx *ctx;
  assert_int_equal(w2s_ctx_create(MPI_COMM_NULL, 0, &ctx), W2S_OK);
  w2s_mlp *net;
  assert_int_equal(w2s_mlp_create(ctx, in, width, depth, &net), W2S_OK);
  w2s_mlp_init_uniform(net, 5, 77);
  int64_t np = w2s_mlp_nparams(net), T = 3;
  double *X = malloc(sizeof(double) * (size_t)(m * in));
  double *y = malloc(sizeof(double) * (size_t)m);
  double *heads = malloc(sizeof(double) * (size_t)(T * (width + 1)));
  int64_t *task = malloc(sizeof(int64_t) * (size_t)m);
  double *g = calloc((size_t)np, sizeof(double));
  double *g0 = calloc((size_t)np, sizeof(double));
  double *acts = malloc(sizeof(double) * (size_t)w2s_mlp_train_size(net, m));
  double *work = malloc(sizeof(double) *
                        (size_t)(3 * m * (width > in ? width : in)));
  /* Inputs of unit scale keep every ReLU away from its kink for the small
   * finite-difference step (checked below by a kink-free step). */
  w2s_rng_normal(9, 1, 0, 0, 0, m * in, X);
  w2s_rng_normal(9, 2, 0, 0, 0, m, y);
  w2s_rng_uniform(9, 3, 0, 0, 0, T * (width + 1), -0.5, 0.5, heads);
  for (int64_t r = 0; r < m; ++r) task[r] = r % T;
  double scale = 1.0 / (double)m;
  const w2s_pretrain_batch b = {m, X, y, task};
  const w2s_pretrain_work w = {acts, work};
  w2s_pretrain_loss_grad(net, &b, heads, scale, g, &w);
  double *p = w2s_mlp_params(net);
  double worst = 0.0, gmax = 0.0;
  for (int64_t i = 0; i < np; ++i) gmax = fmax(gmax, fabs(g[i]));
  for (int64_t i = 0; i < np; ++i) {
    double h = 1e-5 * (fabs(p[i]) > 1 ? fabs(p[i]) : 1.0), keep = p[i];
    p[i] = keep + h;
    double lp = w2s_pretrain_loss_grad(net, &b, heads, scale, g0, &w);
    p[i] = keep - h;
    double lm = w2s_pretrain_loss_grad(net, &b, heads, scale, g0, &w);
    p[i] = keep;
    double fd = (lp - lm) / (2 * h);
    /* Relative per entry, with a floor at 1e-4 of the largest gradient
     * entry: the central difference carries rounding noise ~eps * loss / h
     * (~1e-11 here), which is no measurement for the smallest entries. */
    double err = fabs(fd - g[i]) / (fabs(fd) + fabs(g[i]) + 1e-4 * gmax);
    if (err > worst) worst = err;
  }
  /* With that floor the agreement is ~1e-6 at worst; 1e-5 leaves room yet fails
   * on any wrong term (a missing ReLU mask or a transposed product gives O(1)).
   */
  if (!(worst < 1e-5)) print_error("worst relative error %g\n", worst);
  assert_true(worst < 1e-5);
  free(X), free(y), free(heads), free(task), free(g), free(g0), free(acts),
      free(work);
  w2s_mlp_destroy(&net);
  w2s_ctx_destroy(&ctx);
}

static void test_grad_depth1(void **state) {
  (void)state;
  fd_check(1, 5, 3, 17);
}
static void test_grad_depth3(void **state) {
  (void)state;
  fd_check(3, 6, 4, 23);
}
static void test_grad_depth8(void **state) {
  (void)state;
  fd_check(4, 16, 8, 32);
  fd_check(8, 5, 3, 32);
  fd_check(8, 16, 8, 32);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grad_depth1),
      cmocka_unit_test(test_grad_depth3),
      cmocka_unit_test(test_grad_depth8),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
