/* experiment: the configuration table, the simulate pipeline and its
 * producer for the driver (w2s/run.h).
 *
 * w2s_config_load, w2s_simulate and w2s_simulate_job_create are
 * collective: every rank calls them with the same arguments; failures are
 * agreed on, so every rank returns the same code and ctx->msg. The rest is
 * local. */
#ifndef W2S_EXPERIMENT_H
#define W2S_EXPERIMENT_H

#include <stdint.h>
#include <stdio.h>

#include "w2s/core.h"
#include "w2s/io.h"
#include "w2s/params.h"
#include "w2s/repr.h"
#include "w2s/run.h"

enum { W2S_MAX_WEAK = 256, W2S_MAX_SWEEP = 8 };

/* One swept key of a [sweep] section or --sweep: its values as text. */
typedef struct {
  char key[128];     /* "section.key" */
  char values[1024]; /* "v1, v2, ..." */
  char where[256];   /* "file:line" or "--sweep" */
} w2s_sweep_key;

typedef struct {
  char section[W2S_NAME_LEN + 8]; /* "strong" or "weak.NAME" */
  char name[W2S_NAME_LEN];        /* "strong" or NAME */
  const w2s_repr_source *source;
  w2s_param source_p, depth_p, width_p;
  w2s_param own[8]; /* the source's own keys, in its table's order */
} w2s_repr_config;

typedef struct w2s_config {
  char path[1024]; /* the INI file ("" when built from text) */
  /* Typed values, after defaults, --set overrides and validation. */
  uint64_t seed;
  int64_t tasks;
  int per_task_inputs; /* experiment.task_inputs = per_task */
  int64_t input_dim;
  double input_scale;
  int64_t n_weak_train, n_w2s_train, n_test;
  int w2s_same_inputs; /* data.w2s_inputs = same: n_w2s_train = n_weak_train */
  int labels_sampled;  /* data.labels = sampled (head = softmax) */
  int64_t target_depth, target_width;
  int softmax;        /* target.head = softmax: classification */
  int64_t classes;    /* target.classes (1 for linear heads) */
  double temperature; /* target.temperature */
  w2s_repr_config strong;
  int nweak;
  w2s_repr_config weak[W2S_MAX_WEAK];
  char solver[32];
  int engine; /* fit.engine: W2S_ENGINE_AUTO, _FACTOR or _DIRECT */
  double ridge, rank_tol;
  int intercept;
  int64_t block_rows;
  double newton_tol;   /* fit.newton_tol (softmax heads) */
  int newton_max_iter; /* fit.newton_max_iter */
  int student_reverse; /* fit.student = reverse (softmax heads) */
  int mixture; /* fit.student_class = mixture: its components k (else 0) */
  char output_path[1024];
  /* The full effective configuration as INI text (malloc'ed). */
  char *effective;
  char *text; /* the INI text it was parsed from (for sweep points) */
  int nsweep;
  w2s_sweep_key sweep[W2S_MAX_SWEEP];
} w2s_config;

/* A sweep expanded into points: point i is the base configuration with
 * sets[i * nkeys .. + nkeys) applied ("section.key=value"). */
typedef struct {
  int nkeys;
  int64_t npoints;
  char keys[W2S_MAX_SWEEP][128];
  char (*values)[128];            /* npoints x nkeys, the value of each key */
  char (*sets)[300];              /* npoints x nkeys, "section.key=value" */
  char where[W2S_MAX_SWEEP][300]; /* each key's origin for messages:
                                     "--sweep KEY" or "file:line [sweep]" */
} w2s_sweep;

/* Local: the grid of cfg's [sweep] keys plus extra "section.key=v1,v2"
 * specs (--sweep, borrowed), into *out (caller-owned: w2s_sweep_free, also
 * after a failure, which leaves it empty). A run without swept keys has
 * npoints = 0 and allocates nothing. The values are only split here, not
 * validated (w2s_sweep_check does that). Errors: W2S_ERR_USAGE (a --sweep
 * without '=' or beyond W2S_MAX_SWEEP keys), W2S_ERR_INPUT (a key swept
 * twice or not section.key, an empty or repeated value, more than 256
 * values or 100000 points; naming the --sweep or the [sweep] line),
 * W2S_ERR_MEMORY. */
w2s_err w2s_sweep_expand(w2s_ctx *ctx, const w2s_config *cfg,
                         const char *const *extra, int nextra, w2s_sweep *out);
/* Local: frees sw's arrays and zeroes it (safe on a zeroed sweep). */
void w2s_sweep_free(w2s_sweep *sw);
/* Local: point p's configuration, the base text with `sets` and then the
 * point's values applied, into *out (caller-owned: w2s_config_destroy;
 * NULL on failure). Errors: those of w2s_config_parse, a bad value's
 * message naming its --sweep option or [sweep] line (an unknown swept key
 * or section with the nearest known one). */
w2s_err w2s_sweep_point_config(w2s_ctx *ctx, const w2s_config *cfg,
                               const char *const *sets, int nsets,
                               const w2s_sweep *sw, int64_t p,
                               w2s_config **out);
/* Local: configure every point (and discard it) and check its sample counts
 * against its heads' parameters, so that a bad value is refused before the
 * first point runs. Allocates nothing that outlives the call. Errors: those
 * of w2s_sweep_point_config; W2S_ERR_INPUT "sweep point P (KEY=V ...):
 * data.n_weak_train = N is smaller than ..." for a point with too few
 * samples. */
w2s_err w2s_sweep_check(w2s_ctx *ctx, const w2s_config *cfg,
                        const char *const *sets, int nsets,
                        const w2s_sweep *sw);

/* Collective. Rank 0 reads `path`, every rank gets its text and parses it
 * with the "section.key=value" overrides `sets` (borrowed) applied after
 * the file, into *out (caller-owned on every rank: w2s_config_destroy;
 * untouched on failure). Every rank returns the same code and ctx->msg.
 * Errors: W2S_ERR_INPUT (an unreadable file, over 16 MiB, with a NUL byte,
 * and every error of w2s_config_parse), W2S_ERR_USAGE, W2S_ERR_MEMORY,
 * W2S_ERR_MPI. */
w2s_err w2s_config_load(w2s_ctx *ctx, const char *path, const char *const *sets,
                        int nsets, w2s_config **out);
/* Local: parse INI text (for tests and fuzzing); `name` appears in messages
 * as "name:LINE". *out is caller-owned (w2s_config_destroy) and untouched on
 * failure; the config keeps copies of the text and of every value.
 * Errors, each one line naming name:LINE (or the --set) and the key:
 * W2S_ERR_INPUT for a syntax error, an over-long line, section name or
 * value, an indented continuation line, a key or section given twice, a
 * key outside any section, an unknown section or key (with the nearest
 * known one: "unknown key 'n_tset' in [data] (did you mean n_test?)"), a
 * value of the wrong type or out of range, an unknown source or solver, a
 * key that has no effect, no [weak.NAME] section; W2S_ERR_USAGE for a
 * --set that is not section.key=value; W2S_ERR_MEMORY. */
w2s_err w2s_config_parse(w2s_ctx *ctx, const char *name, const char *text,
                         const char *const *sets, int nsets, w2s_config **out);
/* Overrides applied after the file: n "section.key=value" texts and, for
 * messages, where each came from (wheres NULL, or a NULL entry: "--set
 * SETS[i]"). The strings are the caller's. */
typedef struct {
  const char *const *sets;
  const char *const *wheres;
  int n;
} w2s_config_sets;
/* Local: the same as w2s_config_parse with the overrides' origins
 * (sets may be NULL: none). */
w2s_err w2s_config_parse_at(w2s_ctx *ctx, const char *name, const char *text,
                            const w2s_config_sets *sets, w2s_config **out);
/* Local: frees *cfg and sets it to NULL (safe on NULL). */
void w2s_config_destroy(w2s_config **cfg);
/* Local: prints the table of every key (section, type, default, range,
 * help; the representation sources' own keys) to f. */
void w2s_config_print_help(FILE *f);

/* Local: number of parameters of a representation's head (its feature
 * width, input_dim for depth 0, + 1 with an intercept). */
int64_t w2s_repr_head_params(const w2s_config *cfg, const w2s_repr_config *rc);

/* The phases w2s_simulate times (w2s_timers_define with
 * w2s_simulate_phases; the names are the /timing datasets). */
enum {
  W2S_SIM_SETUP,
  W2S_SIM_WEAK_FIT,
  W2S_SIM_STRONG_FIT,
  W2S_SIM_TRAIN_METRICS,
  W2S_SIM_TEST_METRICS,
  W2S_SIM_NPHASES
};
extern const char *const w2s_simulate_phases[W2S_SIM_NPHASES];

/* Collective: run the experiment of cfg; every rank gets the same results
 * (*out, caller-owned, w2s_results_destroy; untouched on failure) with the
 * provenance of the run (seed, ranks, solver, configuration). Times its
 * phases in the context's timers W2S_SIM_* when the driver defined them
 * (ignored otherwise). Errors: W2S_ERR_INPUT (sample counts against head
 * sizes, memory beyond the smallest node), W2S_ERR_MEMORY,
 * W2S_ERR_NUMERIC (a fit), the representation sources'. */
w2s_err w2s_simulate(w2s_ctx *ctx, const w2s_config *cfg, w2s_results **out);

/* What `w2s simulate` was asked (borrowed strings). */
typedef struct {
  const char *config;      /* CONFIG.ini */
  const char *const *sets; /* "section.key=value" overrides */
  int nsets;
  const char *const *sweeps; /* "section.key=v1,v2,..." (--sweep) */
  int nsweeps;
  int64_t sweep_point; /* -1: every point */
  const char *run_dir; /* NULL: no run directory */
  int resume, force;
  const char *command_line; /* provenance */
} w2s_simulate_args;

/* A simulate run ready for the driver: the loaded configuration, its sweep
 * grid and the plan (w2s/run.h) whose producer is w2s_simulate. */
typedef struct w2s_simulate_job w2s_simulate_job;

/* Collective: load and check everything a run needs before the first
 * point (the configuration and --set overrides, every sweep point's
 * values, the output path, the run directory options), log the run, and
 * make the job (*out, freed with w2s_simulate_job_free, also on failure).
 * Errors: W2S_ERR_USAGE (options that do not go together, an output that
 * cannot be written), W2S_ERR_INPUT (the configuration), W2S_ERR_MEMORY. */
w2s_err w2s_simulate_job_create(w2s_ctx *ctx, const w2s_simulate_args *a,
                                w2s_simulate_job **out);
/* Local: the job's plan (owned by the job). */
const w2s_run_plan *w2s_simulate_job_plan(const w2s_simulate_job *j);
void w2s_simulate_job_free(w2s_simulate_job **job);

#endif
