/* `w2s simulate` as a plan for the driver: the configuration and its
 * sweep grid loaded and checked before the first point, and the producer
 * that configures point p (the base text with the point's values as extra
 * overrides) and runs w2s_simulate on it. */
#include <stdlib.h>
#include <string.h>

#include "w2s/analyze.h"
#include "w2s/experiment.h"

struct w2s_simulate_job {
  w2s_simulate_args a;
  w2s_config *cfg;
  w2s_sweep sw;
  w2s_sweep_desc grid;
  w2s_run_plan plan;
  w2s_config *pc;          /* the configured point (a sweep's) */
  const w2s_config *point; /* pc, or cfg without a sweep */
};

/* source = target without an intercept looks realizable but is not (the
 * task labels carry a bias the strong heads cannot fit): say so up front,
 * on rank 0 even with -q, since the analysis reads differently. */
static void warn_theory(w2s_ctx *ctx, const w2s_config *c, const char *desc) {
  if (!strcmp(c->strong.source->name, "target") &&
      w2s_theory_of(c->strong.source->name, c->intercept) !=
          W2S_THEORY_REALIZABLE)
    w2s_log(ctx, 0,
            "warning:%s strong source = target with fit.intercept = false is "
            "not realizable (the task labels have a bias); the run is "
            "recorded and analyzed as non-realizable",
            desc);
}

static w2s_err sim_configure(w2s_ctx *ctx, void *self, int64_t p) {
  w2s_simulate_job *j = self;
  const w2s_sweep *sw = &j->sw;
  if (sw->npoints == 0) {
    j->point = j->cfg;
    warn_theory(ctx, j->cfg, "");
    return W2S_OK;
  }
  char desc[1024] = "";
  for (int i = 0; i < sw->nkeys; ++i) {
    strncat(desc, " ", sizeof desc - strlen(desc) - 1);
    strncat(desc, sw->sets[p * sw->nkeys + i], sizeof desc - strlen(desc) - 1);
  }
  W2S_CALL(w2s_agree(ctx, w2s_sweep_point_config(ctx, j->cfg, j->a.sets,
                                                 j->a.nsets, sw, p, &j->pc)));
  j->point = j->pc;
  w2s_log(ctx, 1, "sweep point %lld/%lld:%s", (long long)p + 1,
          (long long)sw->npoints, desc);
  warn_theory(ctx, j->pc, desc);
  return W2S_OK;
}

static w2s_err sim_run(w2s_ctx *ctx, void *self, w2s_results **out) {
  w2s_simulate_job *j = self;
  return w2s_simulate(ctx, j->point, out);
}

static void sim_release(void *self) {
  w2s_simulate_job *j = self;
  w2s_config_destroy(&j->pc);
  j->point = NULL;
}

static const w2s_producer simulate_producer = {W2S_SIM_NPHASES,
                                               w2s_simulate_phases,
                                               sim_configure, sim_run,
                                               sim_release};

/* The checks of the options against the loaded sweep, then the plan. */
static w2s_err make_plan(w2s_ctx *ctx, w2s_simulate_job *j) {
  const w2s_simulate_args *a = &j->a;
  const w2s_sweep *sw = &j->sw;
  if ((a->sweep_point >= 0 || a->run_dir) && sw->npoints == 0)
    return w2s_agree(ctx, W2S_FAIL(ctx, W2S_ERR_USAGE,
                                   "--sweep-point and --run-dir need a sweep "
                                   "([sweep] or --sweep)"));
  if (a->sweep_point >= sw->npoints && sw->npoints > 0)
    return w2s_agree(ctx,
                     W2S_FAIL(ctx, W2S_ERR_USAGE,
                              "--sweep-point %lld: the sweep has %lld "
                              "points (0-%lld)",
                              (long long)a->sweep_point, (long long)sw->npoints,
                              (long long)sw->npoints - 1));
  j->grid = (w2s_sweep_desc){sw->nkeys,
                             sw->npoints,
                             (const char(*)[128])sw->keys,
                             (const char(*)[128])sw->values,
                             "sweep",
                             NULL,
                             0,
                             NULL};
  w2s_run_plan *pl = &j->plan;
  pl->producer = &simulate_producer;
  pl->self = j;
  pl->npoints = sw->npoints ? sw->npoints : 1;
  pl->grid = sw->npoints ? &j->grid : NULL;
  pl->config_text = j->cfg->effective;
  pl->command_line = a->command_line;
  pl->output = j->cfg->output_path;
  pl->dest = a->run_dir            ? W2S_RUN_DIR
             : a->sweep_point >= 0 ? W2S_RUN_POINT
                                   : W2S_RUN_ONE_FILE;
  pl->point = a->sweep_point;
  pl->run_dir = a->run_dir;
  pl->resume = a->resume;
  pl->force = a->force;
  return W2S_OK;
}

w2s_err w2s_simulate_job_create(w2s_ctx *ctx, const w2s_simulate_args *a,
                                w2s_simulate_job **out) {
  w2s_simulate_job *j = NULL;
  *out = NULL;
  /* Handed out before the agreement: where only another rank failed,
   * this rank's job is the caller's to free. */
  w2s_err e = W2S_ALLOC(ctx, j, 1);
  *out = j;
  W2S_CALL(w2s_agree(ctx, e));
  j->a = *a;
  /* Before anything is read or computed: --resume keeps files of a run
   * directory, without one it would silently be a fresh run. */
  if (a->resume && !a->run_dir)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "--resume needs --run-dir DIR (the directory of the run "
                    "to continue)");
  W2S_CALL(w2s_config_load(ctx, a->config, a->sets, a->nsets, &j->cfg));
  const w2s_config *cfg = j->cfg;
  W2S_CALL(w2s_agree(ctx, w2s_sweep_expand(ctx, cfg, a->sweeps, a->nsweeps,
                                           &j->sw)));
  /* Every point's values, before the first point runs. */
  W2S_CALL(
      w2s_agree(ctx, w2s_sweep_check(ctx, cfg, a->sets, a->nsets, &j->sw)));
  W2S_CALL(w2s_output_check(ctx, cfg->output_path, a->force || a->resume));
  W2S_CALL(w2s_output_not_input(ctx, cfg->output_path, &a->config, 1));
  w2s_log(ctx, 1, "config %s -> %s%s", a->config, cfg->output_path,
          j->sw.npoints ? " (sweep)" : "");
  w2s_log(ctx, 2, "effective configuration:\n%s", cfg->effective);
  return make_plan(ctx, j);
}

const w2s_run_plan *w2s_simulate_job_plan(const w2s_simulate_job *j) {
  return &j->plan;
}

void w2s_simulate_job_free(w2s_simulate_job **job) {
  if (!job || !*job) return;
  w2s_simulate_job *j = *job;
  w2s_config_destroy(&j->pc);
  w2s_sweep_free(&j->sw);
  w2s_config_destroy(&j->cfg);
  free(j);
  *job = NULL;
}
