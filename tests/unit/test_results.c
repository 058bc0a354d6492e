/* The results record (results.h) and the metric table as data: this
 * program defines the table itself with one metric more than the library's
 * (src/metrics/table.c with W2S_METRICS_EXTRA), as a build that adds a
 * metric would. It then checks that the record, the writer and the reader
 * take the new metric from the table alone, and that a file without it
 * (written before it existed) reads with the metric reported absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit_common.h"

#define W2S_METRICS_EXTRA(X)                                                   \
  X(W2S_M_TEST_EXTRA, "test_extra", "a metric added at test-build time",       \
    "none", "nothing", "test family")
/* this program's table: the library's + 1 */
#include "metrics/table.c" // NOLINT(bugprone-suspicious-include)

#include "w2s/io.h"
#include "w2s/results.h"

enum { EXTRA = W2S_M_COUNT }; /* the added metric's index */

static w2s_ctx *local_ctx(void) {
  w2s_ctx *ctx = NULL;
  assert_int_equal(w2s_ctx_create(MPI_COMM_NULL, 0, &ctx), W2S_OK);
  return ctx;
}

static void table_has_the_added_row(void **state) {
  (void)state;
  assert_int_equal(w2s_metric_count, W2S_M_COUNT + 1);
  assert_int_equal(w2s_metric_find("test_extra"), EXTRA);
  assert_int_equal(w2s_metric_find("gain"), W2S_M_GAIN);
  assert_int_equal(w2s_metric_find("no_such_metric"), -1);
  assert_string_equal(w2s_metric_name((w2s_metric)EXTRA), "test_extra");
  assert_string_equal(w2s_metric_name((w2s_metric)(EXTRA + 1)), "?");
}

static void setters_copy_and_refuse(void **state) {
  (void)state;
  w2s_ctx *ctx = local_ctx();
  w2s_results *r = NULL;
  assert_int_equal(w2s_results_alloc(ctx, 2, 3, &r), W2S_OK);
  assert_int_equal(r->npairs, 6);
  assert_int_equal(r->pair_task[5], 1);
  assert_int_equal(r->pair_weak[5], 2);
  /* Every metric but the classification ones (the added one too) ... */
  for (int m = 0; m < w2s_metric_count; ++m)
    assert_int_equal(w2s_results_has_metric(r, m),
                     strcmp(w2s_metric_table[m].family, W2S_FAMILY_CLS) != 0);
  assert_false(w2s_results_has_metric(r, w2s_metric_count));
  /* ... which a KL record holds, and a squared one drops again. */
  assert_int_equal(w2s_results_set_loss(ctx, r, "kl", "model_first", 4),
                   W2S_OK);
  for (int m = 0; m < w2s_metric_count; ++m)
    assert_true(w2s_results_has_metric(r, m));
  assert_int_equal(w2s_results_set_loss(ctx, r, "squared", "", 0), W2S_OK);
  assert_false(w2s_results_has_metric(r, W2S_M_WEAK_ACC));
  assert_true(w2s_results_has_metric(r, W2S_M_GAIN));

  char name[32] = "setup";
  const char *names[2] = {name, "total"};
  double secs[2] = {1.5, 4.0};
  assert_int_equal(w2s_results_set_timing(ctx, r, 2, names, secs), W2S_OK);
  name[0] = 'X'; /* the record holds copies */
  secs[0] = -1.0;
  assert_int_equal(r->ntimers, 2);
  assert_string_equal(r->timer_name[0], "setup");
  assert_true(w2s_results_timing(r, "setup") == 1.5);
  assert_true(w2s_results_timing(r, "total") == 4.0);
  assert_true(w2s_results_timing(r, "absent") == 0.0);
  const char *too_long[1] = {"a_timer_name_of_more_than_31_chars"};
  assert_int_equal(w2s_results_set_timing(ctx, r, 1, too_long, secs),
                   W2S_ERR_USAGE);
  assert_int_equal(r->ntimers, 2); /* unchanged on failure */

  char config[64] = "[experiment]\ntasks = 2\n";
  w2s_provenance p = {7, 2, "auto", config, "w2s test", "in.h5", 0xabcdULL};
  assert_int_equal(w2s_results_set_provenance(ctx, r, &p), W2S_OK);
  config[0] = '#';
  assert_string_equal(r->config_text, "[experiment]\ntasks = 2\n");
  assert_string_equal(r->command_line, "w2s test");
  assert_string_equal(r->solver, "auto");
  assert_string_equal(r->input_file, "in.h5");
  assert_true(r->seed == 7 && r->mpi_ranks == 2 &&
              r->labels_checksum == 0xabcdULL);
  w2s_provenance bad = p;
  bad.solver = "a_solver_name_longer_than_the_field_allows";
  assert_int_equal(w2s_results_set_provenance(ctx, r, &bad), W2S_ERR_USAGE);
  assert_string_equal(r->solver, "auto");

  assert_int_equal(w2s_results_alloc_repr(ctx, r, 4), W2S_OK);
  assert_int_equal(r->nrepr, 4);
  assert_int_equal(r->repr[3].dim, 0);
  double curve[3] = {3, 2, 1};
  assert_int_equal(w2s_results_add_curve(ctx, r, "strong", curve, 3), W2S_OK);
  curve[0] = 0;
  assert_true(r->ncurves == 1 && r->curve_len[0] == 3 && r->curve[0][0] == 3.0);
  w2s_results_destroy(&r);
  assert_null(r);
  w2s_results_destroy(&r); /* NULL: a no-op */
  w2s_ctx_destroy(&ctx);
}

/* A record of one task and two weak models whose metrics satisfy the
 * identities the reader checks, with provenance and one representation. */
static w2s_results *consistent_record(w2s_ctx *ctx) {
  w2s_results *r = NULL;
  assert_int_equal(w2s_results_alloc(ctx, 1, 2, &r), W2S_OK);
  snprintf(r->weak_names[0], W2S_NAME_LEN, "a");
  snprintf(r->weak_names[1], W2S_NAME_LEN, "b");
  for (int64_t k = 0; k < r->npairs; ++k) {
    double **m = r->metric;
    m[W2S_M_WEAK_ERROR][k] = m[W2S_M_WEAK_ERROR_TRAIN][k] = 0.5 + (double)k;
    m[W2S_M_W2S_ERROR][k] = m[W2S_M_W2S_ERROR_TRAIN][k] = 0.25;
    m[W2S_M_MISFIT][k] = m[W2S_M_MISFIT_TRAIN][k] = 0.125;
    m[W2S_M_CEILING][k] = m[W2S_M_CEILING_TRAIN][k] = 0.0625;
    m[W2S_M_GAIN][k] = m[W2S_M_WEAK_ERROR][k] - m[W2S_M_W2S_ERROR][k];
    m[W2S_M_GAIN_TRAIN][k] = m[W2S_M_GAIN][k];
    m[W2S_M_PREDICTED][k] = m[W2S_M_WEAK_ERROR][k] - m[W2S_M_MISFIT][k];
    m[W2S_M_PGR][k] = m[W2S_M_GAIN][k] /
                      (m[W2S_M_WEAK_ERROR][k] - m[W2S_M_CEILING][k]);
    m[EXTRA][k] = 42.0 + (double)k;
  }
  assert_int_equal(w2s_results_set_loss(ctx, r, "kl", "truth_first", 3),
                   W2S_OK);
  for (int64_t k = 0; k < r->npairs; ++k)
    for (int m = W2S_M_WEAK_ACC; m <= W2S_M_PGR_ACC; ++m)
      r->metric[m][k] = 0.25 * (double)(m - W2S_M_WEAK_ACC) + (double)k;
  w2s_provenance p = {3,          1,  "auto", "[experiment]\ntasks = 1\n",
                      "w2s test", "", 0};
  assert_int_equal(w2s_results_set_provenance(ctx, r, &p), W2S_OK);
  assert_int_equal(w2s_results_alloc_repr(ctx, r, 1), W2S_OK);
  snprintf(r->repr[0].name, sizeof r->repr[0].name, "strong");
  return r;
}

static void write_read(w2s_ctx *ctx, w2s_results *r, const char *path,
                       w2s_results **back) {
  const w2s_results_output out = {.path = path,
                                  .force = 1,
                                  .config_text = r->config_text,
                                  .command_line = r->command_line};
  assert_int_equal(w2s_results_write_sweep(ctx, &r, 1, NULL, &out), W2S_OK);
  assert_int_equal(w2s_results_read(ctx, path, back), W2S_OK);
  assert_int_equal((*back)->format_version, W2S_FORMAT_VERSION);
  assert_int_equal((*back)->npairs, r->npairs);
}

static void added_metric_round_trips(void **state) {
  (void)state;
  w2s_ctx *ctx = local_ctx();
  char dir[] = "/tmp/w2s-unit-results-XXXXXX", path[64];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/with.h5", dir);
  w2s_results *r = consistent_record(ctx), *back = NULL;
  write_read(ctx, r, path, &back);
  for (int m = 0; m < w2s_metric_count; ++m) {
    assert_true(w2s_results_has_metric(back, m));
    for (int64_t k = 0; k < r->npairs; ++k)
      assert_true(back->metric[m][k] == r->metric[m][k]);
  }
  assert_string_equal(back->loss, "kl");
  assert_string_equal(back->orientation, "truth_first");
  assert_int_equal(back->classes, 3);
  w2s_results_destroy(&back);
  unlink(path);

  /* A file written before the metric existed: the record lacks it. */
  free(r->metric[EXTRA]);
  r->metric[EXTRA] = NULL;
  snprintf(path, sizeof path, "%s/without.h5", dir);
  write_read(ctx, r, path, &back);
  assert_false(w2s_results_has_metric(back, EXTRA));
  assert_null(back->metric[EXTRA]);
  for (int m = 0; m < W2S_M_COUNT; ++m) {
    assert_true(w2s_results_has_metric(back, m));
    for (int64_t k = 0; k < r->npairs; ++k)
      assert_true(back->metric[m][k] == r->metric[m][k]);
  }
  w2s_results_destroy(&back);
  w2s_results_destroy(&r);
  unlink(path);
  rmdir(dir);
  w2s_ctx_destroy(&ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(table_has_the_added_row),
      cmocka_unit_test(setters_copy_and_refuse),
      cmocka_unit_test(added_metric_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
