/* The solver table: every entry's metadata (which bench, the help texts
 * and the solver tests read) and what info.ran reports. The solvers'
 * numerics are test_lsq.c's. */
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
#include "w2s/lsq.h"
#include "w2s/rng.h"

static w2s_ctx *new_ctx(void) {
  w2s_ctx *ctx = NULL;
  assert_int_equal(w2s_ctx_create(MPI_COMM_NULL, 0, &ctx), W2S_OK);
  return ctx;
}

/* The table's metadata is complete and consistent (bench, the help texts
 * and the solver tests rely on every field), the names are unique and
 * found, and w2s_lsq_solver_names joins them, truncating safely. */
static void test_solver_table(void **state) {
  (void)state;
  char all[512] = "", buf[512];
  int n = 0;
  for (; w2s_lsq_solvers[n]; ++n) {
    const w2s_lsq_solver *s = w2s_lsq_solvers[n];
    assert_non_null(s->name);
    assert_true(s->name[0] != '\0' && strlen(s->name) < 32);
    assert_true(strchr(s->name, ',') == NULL && strchr(s->name, '|') == NULL);
    assert_non_null(s->help);
    assert_non_null(s->create);
    assert_non_null(s->flops);
    assert_true(s->passes_min >= 1 && s->passes_min <= s->passes_max);
    assert_true(s->error_order == 1 || s->error_order == 2);
    assert_true(s->cond_max >= 1.0);
    assert_true(s->streams == 0 || s->streams == 1);
    /* A flop count grows with every size and is at least the n d^2 of one
     * Gram matrix. */
    double f = s->flops(1000, 10, 2);
    assert_true(f >= 1000.0 * 10 * 10);
    assert_true(s->flops(2000, 10, 2) > f && s->flops(1000, 20, 2) > f &&
                s->flops(1000, 10, 4) > f);
    assert_ptr_equal(w2s_lsq_solver_find(s->name), s);
    for (int j = 0; j < n; ++j)
      assert_string_not_equal(w2s_lsq_solvers[j]->name, s->name);
    snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", n ? "|" : "",
             s->name);
  }
  assert_true(n >= 1);
  assert_null(w2s_lsq_solver_find("no such solver"));
  w2s_lsq_solver_names(buf, sizeof buf, "|");
  assert_string_equal(buf, all);
  char small[5];
  w2s_lsq_solver_names(small, sizeof small, "|");
  assert_int_equal(strlen(small), 4);
  assert_int_equal(strncmp(small, all, 4), 0);
  w2s_lsq_solver_names(small, 0, "|"); /* writes nothing */
}

/* auto reports the sub-solver that ran as info.ran (its flop model and
 * accuracy class), every other solver itself. */
static void test_info_ran(void **state) {
  (void)state;
  w2s_ctx *ctx = new_ctx();
  const int64_t n = 200, p = 4, k = 1;
  double *A = malloc(sizeof(double) * n * p), *B = malloc(sizeof(double) * n);
  double X[4];
  for (int si = 0; w2s_lsq_solvers[si]; ++si) {
    const w2s_lsq_solver *s = w2s_lsq_solvers[si];
    w2s_lsq *ls = NULL;
    w2s_lsq_info info;
    assert_int_equal(w2s_lsq_create(ctx, s->name, p, k, &ls), W2S_OK);
    for (int more = 1; more;) {
      w2s_rng_normal(3, 9, 0, 0, 0, n * p, A); /* cond ~1: every solver */
      w2s_rng_normal(3, 9, 1, 0, 0, n, B);
      assert_int_equal(w2s_lsq_add_rows(ctx, ls, n, A, n, B, n), W2S_OK);
      assert_int_equal(w2s_lsq_end_pass(ctx, ls, &more), W2S_OK);
    }
    w2s_lsq_opts opts = {0.0, NULL, 0.0, NULL};
    assert_int_equal(w2s_lsq_solve(ctx, ls, &opts, X, &info), W2S_OK);
    assert_non_null(info.ran);
    if (strncmp(info.method, "auto:", 5) == 0)
      assert_string_equal(info.ran->name, info.method + 5);
    else
      assert_ptr_equal(info.ran, s);
    assert_ptr_equal(w2s_lsq_solver_find(info.ran->name), info.ran);
    assert_true(info.passes >= s->passes_min && info.passes <= s->passes_max);
    w2s_lsq_destroy(&ls);
    assert_null(ls);
  }
  free(A);
  free(B);
  w2s_ctx_destroy(&ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_solver_table),
      cmocka_unit_test(test_info_ran),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
