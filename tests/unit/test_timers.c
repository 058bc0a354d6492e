/* Core's named timers and the driver's timing of one point: the phase list
 * the experiment defines (indices = positions, names copied), the driver's
 * "total" appended, accumulation across start/stop, reset keeping names,
 * refusal of a list that does not fit (the table unchanged), undefined
 * indices ignored; and w2s_run_one: a producer's phases are zero when its
 * point starts, whatever the previous point accumulated, and the record
 * carries the phase names and then "total" with their seconds. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "experiment/run_impl.h"
#include "w2s/core.h"
#include "w2s/results.h"

static void sleep_ms(long ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

static void test_define_add_find(void **state) {
  (void)state;
  w2s_ctx *ctx = NULL;
  assert_int_equal(w2s_ctx_create(MPI_COMM_NULL, 0, &ctx), W2S_OK);
  assert_int_equal(ctx->timers.n, 0); /* core names nothing */
  const char *const phases[] = {"setup", "scan", "fit"};
  assert_int_equal(w2s_timers_define(ctx, 3, phases), W2S_OK);
  assert_int_equal(w2s_timer_find(ctx, "scan"), 1);
  assert_int_equal(w2s_timer_find(ctx, "total"), -1);
  assert_int_equal(w2s_timer_add(ctx, "total"), 3);
  assert_int_equal(w2s_timer_add(ctx, "total"), 3); /* existing: same index */
  assert_int_equal(w2s_timer_add(ctx, "scan"), 1);
  assert_int_equal(ctx->timers.n, 4);
  assert_string_equal(ctx->timers.name[2], "fit");
  /* Redefinition replaces the list. */
  const char *const other[] = {"a"};
  assert_int_equal(w2s_timers_define(ctx, 1, other), W2S_OK);
  assert_int_equal(ctx->timers.n, 1);
  assert_int_equal(w2s_timer_find(ctx, "fit"), -1);
  w2s_ctx_destroy(&ctx);
}

static void test_accumulate_reset(void **state) {
  (void)state;
  w2s_ctx *ctx = NULL;
  assert_int_equal(w2s_ctx_create(MPI_COMM_NULL, 0, &ctx), W2S_OK);
  const char *const phases[] = {"one", "two"};
  assert_int_equal(w2s_timers_define(ctx, 2, phases), W2S_OK);
  for (int k = 0; k < 2; ++k) { /* two intervals of >= 20 ms add up */
    w2s_timer_start(ctx, 0);
    sleep_ms(20);
    w2s_timer_stop(ctx, 0);
  }
  w2s_timer_start(ctx, 7); /* undefined: ignored, no write out of bounds */
  w2s_timer_stop(ctx, -1);
  assert_true(w2s_timer_seconds(ctx, 0) >= 0.039);
  assert_true(w2s_timer_seconds(ctx, 0) < 10.0);
  assert_true(w2s_timer_seconds(ctx, 1) == 0.0);
  assert_true(w2s_timer_seconds(ctx, 7) == 0.0);
  w2s_timers t;
  assert_int_equal(w2s_timers_max(ctx, &t), W2S_OK); /* local: a copy */
  assert_int_equal(t.n, 2);
  assert_string_equal(t.name[1], "two");
  assert_true(t.acc[0] == w2s_timer_seconds(ctx, 0));
  w2s_timers_reset(ctx);
  assert_int_equal(ctx->timers.n, 2);
  assert_string_equal(ctx->timers.name[0], "one");
  assert_true(w2s_timer_seconds(ctx, 0) == 0.0);
  w2s_ctx_destroy(&ctx);
}

static void test_refused(void **state) {
  (void)state;
  w2s_ctx *ctx = NULL;
  assert_int_equal(w2s_ctx_create(MPI_COMM_NULL, 0, &ctx), W2S_OK);
  const char *const ok[] = {"kept"};
  assert_int_equal(w2s_timers_define(ctx, 1, ok), W2S_OK);
  const char *many[W2S_TIMERS_MAX + 1];
  for (int i = 0; i <= W2S_TIMERS_MAX; ++i) many[i] = "x";
  assert_int_equal(w2s_timers_define(ctx, W2S_TIMERS_MAX + 1, many),
                   W2S_ERR_INTERNAL);
  char longname[W2S_TIMER_NAME_LEN + 1];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  const char *const bad[] = {"fine", longname};
  assert_int_equal(w2s_timers_define(ctx, 2, bad), W2S_ERR_INTERNAL);
  const char *const empty[] = {""};
  assert_int_equal(w2s_timers_define(ctx, 1, empty), W2S_ERR_INTERNAL);
  assert_int_equal(ctx->timers.n, 1); /* unchanged by the refusals */
  assert_string_equal(ctx->timers.name[0], "kept");
  assert_int_equal(w2s_timer_add(ctx, longname), -1);
  assert_int_equal(w2s_timers_define(ctx, W2S_TIMERS_MAX, many), W2S_OK);
  assert_int_equal(w2s_timer_add(ctx, "total"), -1); /* full */
  w2s_ctx_destroy(&ctx);
}

/* A producer that times its one phase for 10 ms (20 ms for point 1) and
 * records what the timers held when its point started. */
typedef struct {
  int64_t configured;
  double acc_at_start[W2S_TIMERS_MAX];
  int n_at_start, released;
} fake;

static const char *const fake_phases[] = {"work", "idle"};

static w2s_err fake_configure(w2s_ctx *ctx, void *self, int64_t p) {
  fake *f = self;
  f->configured = p;
  f->n_at_start = ctx->timers.n;
  memcpy(f->acc_at_start, ctx->timers.acc, sizeof f->acc_at_start);
  return W2S_OK;
}

static w2s_err fake_run(w2s_ctx *ctx, void *self, w2s_results **out) {
  fake *f = self;
  w2s_timer_start(ctx, 0);
  sleep_ms(f->configured == 1 ? 20 : 10);
  w2s_timer_stop(ctx, 0);
  return w2s_results_alloc(ctx, 1, 1, out);
}

static void fake_release(void *self) { ((fake *)self)->released++; }

static void test_run_one(void **state) {
  (void)state;
  w2s_ctx *ctx = NULL;
  assert_int_equal(w2s_ctx_create(MPI_COMM_NULL, 0, &ctx), W2S_OK);
  static const w2s_producer prod = {2, fake_phases, fake_configure, fake_run,
                                    fake_release};
  fake f = {0};
  w2s_run_plan plan = {&prod, &f,   2,           NULL,
                       "",    "",   "unused.h5", W2S_RUN_ONE_FILE,
                       -1,    NULL, 0,           0};
  for (int64_t p = 0; p < 2; ++p) {
    w2s_results *r = NULL;
    assert_int_equal(w2s_run_one(ctx, &plan, p, &r), W2S_OK);
    assert_non_null(r);
    assert_int_equal(f.configured, p);
    assert_int_equal(f.released, (int)p + 1);
    /* Every phase starts from zero: point 1 does not see point 0's 10 ms. */
    assert_int_equal(f.n_at_start, 3);
    for (int t = 0; t < 3; ++t) assert_true(f.acc_at_start[t] == 0.0);
    assert_int_equal(r->ntimers, 3);
    assert_string_equal(r->timer_name[0], "work");
    assert_string_equal(r->timer_name[1], "idle");
    assert_string_equal(r->timer_name[2], "total");
    double work = w2s_results_timing(r, "work");
    assert_true(work >= (p == 1 ? 0.019 : 0.009));
    assert_true(work < (p == 1 ? 0.019 : 0.009) + 5.0);
    assert_true(w2s_results_timing(r, "idle") == 0.0);
    assert_true(w2s_results_timing(r, "total") >= work);
    w2s_results_destroy(&r);
  }
  w2s_ctx_destroy(&ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_define_add_find),
      cmocka_unit_test(test_accumulate_reset),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_run_one),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
