/* The experiment driver: the loop over a plan's points, each point's
 * timers, and the one-file and single-point destinations (the run
 * directory is rundir.c). */
#include <stdlib.h>
#include <string.h>

#include "experiment/run_impl.h"

/* The record takes the names and the max over ranks of every timer. */
static w2s_err record_timing(w2s_ctx *ctx, w2s_results *r) {
  w2s_timers t;
  W2S_CALL(w2s_timers_max(ctx, &t));
  const char *names[W2S_TIMERS_MAX];
  for (int i = 0; i < t.n; ++i) names[i] = t.name[i];
  return w2s_results_set_timing(ctx, r, t.n, names, t.acc);
}

w2s_err w2s_run_one(w2s_ctx *ctx, const w2s_run_plan *plan, int64_t p,
                    w2s_results **out) {
  const w2s_producer *pr = plan->producer;
  /* The producer's phases, zeroed: every point is timed on its own. */
  W2S_CALL(w2s_timers_define(ctx, pr->nphases, pr->phases));
  int total = w2s_timer_add(ctx, "total");
  w2s_timer_start(ctx, total);
  w2s_err e = pr->configure(ctx, plan->self, p);
  if (!e) e = pr->run(ctx, plan->self, out);
  w2s_timer_stop(ctx, total);
  if (!e) e = w2s_agree(ctx, record_timing(ctx, *out));
  pr->release(plan->self);
  if (e && *out) w2s_results_destroy(out);
  return e;
}

w2s_err w2s_run_write_points(w2s_ctx *ctx, const w2s_run_plan *plan,
                             w2s_results *const *pts, const int64_t *ids,
                             int64_t n, const char *path) {
  w2s_sweep_desc d = *plan->grid;
  d.point_ids = ids;
  const w2s_results_output out = {.path = path,
                                  .force = plan->force || plan->resume,
                                  .config_text = plan->config_text,
                                  .command_line = plan->command_line};
  return w2s_results_write_sweep(ctx, pts, n, &d, &out);
}

/* Every point (or plan->point alone) into one file. */
static w2s_err run_file(w2s_ctx *ctx, const w2s_run_plan *plan) {
  int single = plan->dest == W2S_RUN_POINT;
  int64_t n = single ? 1 : plan->npoints;
  w2s_results **pts = NULL;
  w2s_err e = w2s_agree(ctx, W2S_ALLOC(ctx, pts, n));
  for (int64_t q = 0; q < n && !e; ++q)
    e = w2s_run_one(ctx, plan, single ? plan->point : q, &pts[q]);
  if (!e && single) {
    e = w2s_run_write_points(ctx, plan, pts, &plan->point, 1, plan->output);
  } else if (!e) {
    double t = w2s_wtime();
    const w2s_results_output out = {.path = plan->output,
                                    .force = plan->force,
                                    .config_text = plan->config_text,
                                    .command_line = plan->command_line};
    e = w2s_results_write_sweep(ctx, pts, n, plan->grid, &out);
    if (!e)
      w2s_log(ctx, 1, "wrote %s (%lld point%s) in %.2fs", plan->output,
              (long long)n, n > 1 ? "s" : "", w2s_wtime() - t);
  }
  for (int64_t q = 0; pts && q < n; ++q) w2s_results_destroy(&pts[q]);
  free(pts);
  return e;
}

w2s_err w2s_run(w2s_ctx *ctx, const w2s_run_plan *plan) {
  if (plan->npoints < 1 || (plan->dest != W2S_RUN_ONE_FILE && !plan->grid))
    return W2S_FAIL(ctx, W2S_ERR_INTERNAL, "w2s_run: a plan of %lld points%s",
                    (long long)plan->npoints,
                    plan->grid ? "" : " without a grid");
  if (plan->dest == W2S_RUN_DIR) return w2s_run_dir(ctx, plan);
  return run_file(ctx, plan);
}

const char *const w2s_engine_names[] = {"auto", "factor", "direct", NULL};
