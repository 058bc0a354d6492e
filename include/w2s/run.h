/* run: the experiment driver. A plan is the list of points an experiment
 * runs (the sweep grid of `w2s simulate`, the repeats of `w2s fit`) plus
 * where each goes (one file, a run directory with resume, one point of a
 * job array). The driver owns the loop over points, the run-directory and
 * resume policy, merge-on-completion and the timers; a producer (simulate,
 * fit) configures and runs one point at a time into a w2s_results.
 *
 * Data flow of one point: plan -> producer->configure(p) -> timers defined
 * from producer->phases and reset, "total" started -> producer->run ->
 * timers' max over ranks into the record (w2s_results_set_timing) -> the
 * record is written (one file, DIR/point-NNNNN.h5) or kept for the one
 * file of every point. */
#ifndef W2S_RUN_H
#define W2S_RUN_H

#include <stdint.h>

#include "w2s/core.h"
#include "w2s/io.h"

/* One kind of experiment point. Every callback is collective (every rank
 * calls it with the same arguments and gets the same status). */
typedef struct {
  /* The phase timers of a point, index = the producer's phase id (the
   * driver adds "total", the whole point). */
  int nphases;
  const char *const *phases;
  /* Prepare point p (0 .. plan->npoints - 1): its configuration, its log
   * line. Errors: those of the configuration (W2S_ERR_INPUT, ...). */
  w2s_err (*configure)(w2s_ctx *ctx, void *self, int64_t p);
  /* Run the configured point; *out (caller-owned, freed with
   * w2s_results_destroy) holds everything it produced, with its
   * provenance set through w2s_results_set_provenance (the driver adds
   * the timings). On failure *out is untouched. */
  w2s_err (*run)(w2s_ctx *ctx, void *self, w2s_results **out);
  /* Release what configure made (also after a failure). Local. */
  void (*release)(void *self);
} w2s_producer;

/* Where the points go. */
typedef enum {
  W2S_RUN_ONE_FILE, /* every point into plan->output */
  W2S_RUN_POINT,    /* only plan->point, a point file at plan->output */
  W2S_RUN_DIR       /* DIR/point-NNNNN.h5 each, then merged into output */
} w2s_run_dest;

typedef struct {
  const w2s_producer *producer;
  void *self;      /* the producer's state, passed to its callbacks */
  int64_t npoints; /* points of the experiment (>= 1) */
  /* The grid as the results file describes it (keys, values, index
   * name); NULL: a single point in the plain layout (W2S_RUN_ONE_FILE
   * only). Its point_ids are set by the driver. */
  const w2s_sweep_desc *grid;
  /* The base effective configuration (root `config`, and the identity a
   * resumed point must share) and the command line, for provenance. */
  const char *config_text;
  const char *command_line;
  const char *output; /* the results file */
  w2s_run_dest dest;
  int64_t point;       /* W2S_RUN_POINT, or W2S_RUN_DIR with one point:
                          that point; -1 every point */
  const char *run_dir; /* W2S_RUN_DIR */
  int resume;          /* W2S_RUN_DIR: keep complete point files */
  int force;           /* overwrite existing results files */
} w2s_run_plan;

/* Collective: run the plan. Every point the destination asks for is
 * configured, run, timed and written; with W2S_RUN_DIR, point files are
 * judged before anything runs (with resume: a complete file of this
 * experiment is kept, one of another experiment is an error, a killed
 * run's DIR/point-*.partial-* files are removed), and without a single
 * point the points are merged into plan->output. Errors: W2S_ERR_USAGE
 * (an unusable run directory or output), W2S_ERR_INPUT (a point file of
 * another experiment), the producer's, io's; every rank returns the same
 * code and ctx->msg. The plan and everything it points to stay the
 * caller's. */
w2s_err w2s_run(w2s_ctx *ctx, const w2s_run_plan *plan);

/* How a producer computes its linear fits and metrics (simulate's
 * fit.engine, fit's --engine): from one TSQR factor of each split's stacked
 * features (factor), row by row (direct), or the cheaper of the two by the
 * cost model of docs/DESIGN.md (auto). The values index the choice list
 * "auto|factor|direct". */
enum { W2S_ENGINE_AUTO = 0, W2S_ENGINE_FACTOR = 1, W2S_ENGINE_DIRECT = 2 };
extern const char *const w2s_engine_names[]; /* NULL-terminated */

#endif
