/* fit: the weak-to-strong pipeline on representations exported from real
 * models (a features file, docs/FORMAT.md), and its producer for the
 * driver (w2s/run.h): one point per repeat. Every function is collective
 * unless it says local; failures are agreed on (every rank returns the same
 * code and ctx->msg). */
#ifndef W2S_FIT_H
#define W2S_FIT_H

#include <stdint.h>

#include "w2s/core.h"
#include "w2s/io.h"
#include "w2s/run.h"

/* The heads' loss (--loss; w2s_fit_loss_names). AUTO is resolved from
 * /labels by w2s_fit_resolve_loss: float values [n] -> squared, class ids
 * or probabilities -> softmax (logistic with 2 classes). LOGISTIC is
 * SOFTMAX with C = 2. */
enum {
  W2S_FIT_LOSS_AUTO,
  W2S_FIT_LOSS_SQUARED,
  W2S_FIT_LOSS_LOGISTIC,
  W2S_FIT_LOSS_SOFTMAX
};
extern const char *const w2s_fit_loss_names[]; /* NULL-terminated */

typedef struct {
  const char *path; /* the features file */
  double split[3];  /* fractions of rows for splits 0, 1, 2 without /split */
  uint64_t seed;    /* of the split permutation */
  int repeats;
  char solver[32];
  double ridge[8]; /* one value, or candidates chosen by hold-out */
  int nridge;
  int standardize; /* scale each representation's columns (see DESIGN) */
  int64_t block_rows;
  int engine; /* W2S_ENGINE_* (run.h); a solver other than auto/tsqr: direct */
  int loss;   /* W2S_FIT_LOSS_* */
  int64_t classes; /* C of a class loss (0: from /labels until resolved) */
} w2s_fit_opts;

typedef struct {
  uint64_t labels_checksum; /* sum over rows of hash(row, label): rank-free */
} w2s_fit_scan;

/* The phases w2s_fit_run times (w2s_fit_phases names them, the /timing
 * datasets of a fit results file). */
enum {
  W2S_FIT_SETUP,      /* buffers */
  W2S_FIT_SCAN,       /* the pass that checks values, counts splits */
  W2S_FIT_WEAK_FIT,   /* weak heads (with ridge selection) */
  W2S_FIT_STRONG_FIT, /* the strong head */
  W2S_FIT_METRICS,    /* train and test metrics, one pass */
  W2S_FIT_NPHASES
};
extern const char *const w2s_fit_phases[W2S_FIT_NPHASES];

/* Collective: settle o->loss and o->classes for the features file f:
 * AUTO from the kind of /labels (logged in one line); a loss the labels do
 * not fit, --classes with the squared loss, or with a class loss
 * --engine factor, a --solver other than auto or a /weak_predictions
 * dataset is refused (W2S_ERR_USAGE / W2S_ERR_INPUT naming the file and
 * the dataset). Class labels are read once and checked: ids in 0..C-1
 * (C = o->classes, else the largest id + 1; 2 for logistic),
 * probabilities finite, positive and summing to 1 per row within
 * 8 C 2^-24; C >= 2. Errors: W2S_ERR_USAGE, W2S_ERR_INPUT, W2S_ERR_MEMORY.
 * fit_class.c. */
w2s_err w2s_fit_resolve_loss(w2s_ctx *ctx, w2s_fit_opts *o, w2s_features *f);

/* Collective: one repeat (split permutation `repeat` of the seed) of the
 * features file f (open, borrowed), with o->loss resolved
 * (w2s_fit_resolve_loss; AUTO runs the squared loss on float values and
 * is W2S_ERR_USAGE on class labels). *out (caller-owned,
 * untouched on failure) holds the metrics, coefficients and
 * representations; scan receives the label checksum. Errors: W2S_ERR_INPUT
 * (non-finite values, a split without rows or with fewer rows than a
 * head's parameters, memory beyond the smallest node), W2S_ERR_IO (a
 * read), W2S_ERR_NUMERIC (a Newton fit that does not converge),
 * W2S_ERR_MEMORY. */
w2s_err w2s_fit_run(w2s_ctx *ctx, const w2s_fit_opts *o, w2s_features *f,
                    int repeat, w2s_fit_scan *scan, w2s_results **out);

/* Local: "F0,F1,F2", three non-negative finite fractions summing to 1,
 * into split; W2S_ERR_USAGE naming `opt` and the text otherwise. */
w2s_err w2s_fit_parse_split(w2s_ctx *ctx, const char *opt, const char *text,
                            double split[3]);
/* Local: "L[,L2,...]", 1 to 8 non-negative finite ridge values, into
 * o->ridge and o->nridge; W2S_ERR_USAGE naming `opt` otherwise. */
w2s_err w2s_fit_parse_ridge(w2s_ctx *ctx, const char *opt, const char *text,
                            w2s_fit_opts *o);

/* Local: a name of the solver table (lsq.h) into o->solver;
 * W2S_ERR_USAGE "OPT: unknown solver 'NAME'" otherwise. */
w2s_err w2s_fit_parse_solver(w2s_ctx *ctx, const char *opt, const char *name,
                             w2s_fit_opts *o);

/* What `w2s fit` was asked. */
typedef struct {
  w2s_fit_opts o;
  const char *split_arg; /* --split as given (NULL: the default) */
  const char *output;    /* the results file */
  int force;
  const char *command_line; /* provenance */
} w2s_fit_args;

/* A fit run ready for the driver: the open features file, the effective
 * options as INI text (the results' `config`), the repeat grid and the
 * plan. */
typedef struct w2s_fit_job w2s_fit_job;

/* Collective: check the output against the input, open the features file
 * (a copy of a is kept; its strings are borrowed), refuse --split and
 * --repeats for a file with /split, and make the job (*out, freed with
 * w2s_fit_job_free, also on failure). Errors: W2S_ERR_USAGE (the output,
 * a path MPI-IO cannot open, options the file does not take),
 * W2S_ERR_INPUT / W2S_ERR_IO (the features file), W2S_ERR_MEMORY. */
w2s_err w2s_fit_job_create(w2s_ctx *ctx, const w2s_fit_args *a,
                           w2s_fit_job **out);
/* Local: the job's plan (owned by the job). */
const w2s_run_plan *w2s_fit_job_plan(const w2s_fit_job *j);
/* Collective (closes the features file). */
void w2s_fit_job_free(w2s_fit_job **job);

#endif
