/* `w2s fit` as a plan for the driver: the output and the features file
 * checked and opened once, the effective options as INI text, and the
 * producer whose point p is repeat p (split permutation p of the seed). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/fit.h"
#include "w2s/lsq.h"

struct w2s_fit_job {
  w2s_fit_args a;
  w2s_features *feat;
  char config[2048];   /* the effective options */
  char keys[1][128];   /* "repeat" */
  char (*values)[128]; /* repeats: "0", "1", ... */
  w2s_sweep_desc grid;
  w2s_run_plan plan;
  int64_t point; /* the configured repeat */
};

static w2s_err fit_configure(w2s_ctx *ctx, void *self, int64_t p) {
  w2s_fit_job *j = self;
  j->point = p;
  w2s_log(ctx, 1,
          "%s: %lld rows, strong %lld features, %d weak model(s), "
          "repeat %d/%d",
          j->a.o.path, (long long)w2s_features_rows(j->feat),
          (long long)w2s_features_strong_dim(j->feat),
          w2s_features_nweak(j->feat), (int)p + 1, j->a.o.repeats);
  return W2S_OK;
}

static w2s_err fit_point(w2s_ctx *ctx, void *self, w2s_results **out) {
  w2s_fit_job *j = self;
  w2s_fit_scan sc = {0};
  w2s_results *r = NULL;
  W2S_CALL(w2s_fit_run(ctx, &j->a.o, j->feat, (int)j->point, &sc, &r));
  w2s_provenance pv = {j->a.o.seed, ctx->size,   j->a.o.solver,     NULL,
                       NULL,        j->a.o.path, sc.labels_checksum};
  w2s_err e = w2s_agree(ctx, w2s_results_set_provenance(ctx, r, &pv));
  if (e) {
    w2s_results_destroy(&r);
    return e;
  }
  *out = r;
  return W2S_OK;
}

static void fit_release(void *self) { (void)self; }

static const w2s_producer fit_producer = {W2S_FIT_NPHASES, w2s_fit_phases,
                                          fit_configure, fit_point,
                                          fit_release};

/* The options every repeat ran with, as the results' `config` text. */
static void effective_options(w2s_fit_job *j) {
  const w2s_fit_opts *o = &j->a.o;
  char ridge_text[256] = "";
  for (int l = 0; l < o->nridge; ++l) {
    char one[40];
    snprintf(one, sizeof one, "%s%.17g", l ? ", " : "", o->ridge[l]);
    strncat(ridge_text, one, sizeof ridge_text - strlen(ridge_text) - 1);
  }
  const char *split = w2s_features_has_split(j->feat) ? "from /split"
                      : j->a.split_arg                ? j->a.split_arg
                                                      : "0.25,0.5,0.25";
  char classes[48] = "";
  if (o->loss != W2S_FIT_LOSS_SQUARED)
    snprintf(classes, sizeof classes, "classes = %lld\n",
             (long long)o->classes);
  snprintf(j->config, sizeof j->config,
           "# w2s fit effective options\n[fit]\ninput = %s\nsplit = %s\n"
           "seed = %llu\nrepeats = %d\nsolver = %s\nengine = %s\n"
           "ridge = %s\nstandardize = %s\nblock_rows = %lld\nloss = %s\n%s",
           o->path, split, (unsigned long long)o->seed, o->repeats, o->solver,
           w2s_engine_names[o->engine], ridge_text,
           o->standardize ? "true" : "false", (long long)o->block_rows,
           w2s_fit_loss_names[o->loss], classes);
}

/* The repeat grid (written when there are several) and the plan. */
static w2s_err make_plan(w2s_ctx *ctx, w2s_fit_job *j) {
  int R = j->a.o.repeats;
  W2S_CALL(w2s_agree(ctx, W2S_ALLOC(ctx, j->values, R)));
  snprintf(j->keys[0], sizeof j->keys[0], "repeat");
  for (int r = 0; r < R; ++r) snprintf(j->values[r], 128, "%d", r);
  j->grid = (w2s_sweep_desc){1,
                             R,
                             (const char(*)[128])j->keys,
                             (const char(*)[128])j->values,
                             "repeat",
                             NULL,
                             0,
                             NULL};
  effective_options(j);
  j->plan = (w2s_run_plan){&fit_producer,
                           j,
                           R,
                           R > 1 ? &j->grid : NULL,
                           j->config,
                           j->a.command_line,
                           j->a.output,
                           W2S_RUN_ONE_FILE,
                           -1,
                           NULL,
                           0,
                           j->a.force};
  return W2S_OK;
}

w2s_err w2s_fit_job_create(w2s_ctx *ctx, const w2s_fit_args *a,
                           w2s_fit_job **out) {
  w2s_fit_job *j = NULL;
  *out = NULL;
  /* Handed out before the agreement: where only another rank failed,
   * this rank's job is the caller's to free. */
  w2s_err e = W2S_ALLOC(ctx, j, 1);
  *out = j;
  W2S_CALL(w2s_agree(ctx, e));
  j->a = *a;
  const char *path = a->o.path;
  W2S_CALL(w2s_output_check(ctx, a->output, a->force));
  W2S_CALL(w2s_output_not_input(ctx, a->output, &path, 1));
  if (strlen(path) > w2s_mpio_path_max(ctx->size))
    return w2s_agree(ctx, W2S_FAIL(ctx, W2S_ERR_USAGE,
                                   "%s: a path of %zu characters is longer "
                                   "than the %zu that MPI-IO opens; use a "
                                   "shorter path (or a symbolic link)",
                                   path, strlen(path),
                                   w2s_mpio_path_max(ctx->size)));
  W2S_CALL(w2s_features_open(ctx, path, &j->feat));
  if (w2s_features_has_split(j->feat) && (a->split_arg || a->o.repeats > 1))
    return w2s_agree(ctx, W2S_FAIL(ctx, W2S_ERR_USAGE,
                                   "%s has /split: --split and --repeats do "
                                   "not apply (the file fixes the split)",
                                   path));
  W2S_CALL(w2s_fit_resolve_loss(ctx, &j->a.o, j->feat));
  return make_plan(ctx, j);
}

w2s_err w2s_fit_parse_split(w2s_ctx *ctx, const char *opt, const char *text,
                            double split[3]) {
  double f[3];
  char extra;
  /* !(f >= 0) also refuses NaN, which every comparison lets through. */
  if (sscanf(text, "%lf,%lf,%lf%c", &f[0], &f[1], &f[2], &extra) != 3 ||
      !isfinite(f[0]) || !isfinite(f[1]) || !isfinite(f[2]) || !(f[0] >= 0) ||
      !(f[1] >= 0) || !(f[2] >= 0) || !(fabs(f[0] + f[1] + f[2] - 1) <= 1e-9))
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "%s %s: three non-negative fractions "
                    "summing to 1 expected, e.g. 0.25,0.5,0.25",
                    opt, text);
  memcpy(split, f, sizeof f);
  return W2S_OK;
}

w2s_err w2s_fit_parse_solver(w2s_ctx *ctx, const char *opt, const char *name,
                             w2s_fit_opts *o) {
  if (!w2s_lsq_solver_find(name) || strlen(name) >= sizeof o->solver)
    return W2S_FAIL(ctx, W2S_ERR_USAGE, "%s: unknown solver '%s'", opt, name);
  snprintf(o->solver, sizeof o->solver, "%s", name);
  return W2S_OK;
}

w2s_err w2s_fit_parse_ridge(w2s_ctx *ctx, const char *opt, const char *text,
                            w2s_fit_opts *o) {
  char buf[512], *end, *save = NULL;
  snprintf(buf, sizeof buf, "%s", text);
  o->nridge = 0;
  for (char *tok = strtok_r(buf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    double x = strtod(tok, &end);
    if (o->nridge == 8 || end == tok || *end || !isfinite(x) || x < 0)
      return W2S_FAIL(ctx, W2S_ERR_USAGE,
                      "%s %s: 1 to 8 non-negative "
                      "numbers expected",
                      opt, text);
    o->ridge[o->nridge++] = x;
  }
  return o->nridge ? W2S_OK
                   : W2S_FAIL(ctx, W2S_ERR_USAGE, "%s needs a value", opt);
}

const w2s_run_plan *w2s_fit_job_plan(const w2s_fit_job *j) { return &j->plan; }

void w2s_fit_job_free(w2s_fit_job **job) {
  if (!job || !*job) return;
  w2s_features_close(&(*job)->feat);
  free((*job)->values);
  free(*job);
  *job = NULL;
}
