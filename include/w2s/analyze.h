/* analyze: what the theory says about a set of results: the least-squares
 * line of gain on misfit, how often gain >= misfit holds (test and train),
 * which weak model the misfit would choose against the truly best one, and
 * the median PGR. Every function is local (no MPI); the results records
 * are borrowed (io.h's reader makes them). Metrics are read by their
 * indices in the metric table (metrics.h); the CSV and JSON rows print
 * every metric of the table. Errors carry one line in ctx. */
#ifndef W2S_ANALYZE_H
#define W2S_ANALYZE_H

#include <stdio.h>

#include "w2s/io.h"

/* Relative slack under which gain >= misfit still counts as satisfied (the
 * train identity holds to rounding, so an exact comparison would flip on
 * the last bit). Relative to the pair's weak_error. */
#define W2S_ANALYZE_SLACK 1e-9

/* Which of the paper's results applies to a run. Realizable: the strong
 * representation is h* itself (source = target) and its heads have an
 * intercept; the task labels are g*.h*(x) + b, so without an intercept the
 * bias is outside the strong class and gain = misfit on the training split
 * no longer holds. */
typedef enum {
  W2S_THEORY_UNKNOWN, /* no strong source in the configuration (fit) */
  W2S_THEORY_REALIZABLE,
  W2S_THEORY_NONREALIZABLE,
  W2S_THEORY_MIXED /* files or sweep points of both kinds */
} w2s_theory;

/* Local: the theory of a strong source and fit.intercept; the one place
 * this is decided (w2s simulate warns with it, w2s analyze reports it). */
w2s_theory w2s_theory_of(const char *strong_source, int intercept);
/* Local: the same from a run's effective configuration text (the results
 * file's `config`); UNKNOWN without a [strong] source. */
w2s_theory w2s_theory_of_config(const char *config_text);
const char *w2s_theory_name(w2s_theory t);

typedef struct {
  int64_t npairs;
  double slope, intercept, r2;    /* gain = slope * misfit + intercept (test) */
  int64_t ok_test, ok_train;      /* pairs with gain >= misfit (within slack) */
  double worst_test, worst_train; /* max over pairs of misfit - gain */
  /* Weak-model selection, per (file, task) with at least two weak models. */
  int64_t groups, agree;
  /* Over all pairs: the weak model with the smallest mean predicted error
   * (weak_error - misfit) and the one with the smallest mean w2s_error. */
  char chosen[W2S_NAME_LEN], best[W2S_NAME_LEN];
  double chosen_pred, best_true;
  int64_t n_pgr;
  double median_pgr;
  w2s_theory theory;
  int intercept_off; /* a non-realizable file has fit.intercept = false */
  /* The files' loss ("squared", "kl", or "mixed") and KL orientation
   * ("model_first", "truth_first", "mixed"; "" for squared). */
  char loss[16], orientation[16];
  int64_t n_pgr_acc; /* pairs with ceiling_accuracy > weak_accuracy */
  double median_pgr_acc;
  /* pairs whose train gap |gain - misfit| is within its bound without
   * realizability, 2 sqrt(misfit_train x strong_ceiling_error_train) (the
   * weak-to-strong residual times the labels' part outside the strong
   * class, Cauchy-Schwarz) */
  int64_t ok_gap_bound;
} w2s_summary;

/* Local: the summary of n files' pairs into *out. Errors: W2S_ERR_INPUT
 * (naming the file and metric) for a file without a metric the summary
 * reads (a file of a version that predates it); W2S_ERR_MEMORY. */
w2s_err w2s_analyze_summary(w2s_ctx *ctx, w2s_results *const *files, int n,
                            w2s_summary *out);

/* Per sweep point (files written by a sweep): how the theory's error terms
 * behave as the swept setting changes. */
typedef struct {
  int file;
  int64_t point;
  char desc[512]; /* "key=value key=value" */
  double x;       /* the first swept key's value as a number (NaN if not) */
  int64_t n;
  double mad_test, mad_train; /* mean |gain - misfit| */
  double slope, r2;           /* gain on misfit, test */
  int64_t ok_test, ok_train;  /* pairs with gain >= misfit */
} w2s_sweep_stat;

/* Local: one w2s_sweep_stat per sweep point of the sweep files among
 * files (*out malloc'ed, the caller frees it; NULL and *nout = 0 without
 * sweep files). Errors: as w2s_analyze_summary. */
w2s_err w2s_analyze_sweep(w2s_ctx *ctx, w2s_results *const *files, int n,
                          w2s_sweep_stat **out, int64_t *nout);

typedef enum { W2S_FMT_TABLE, W2S_FMT_CSV, W2S_FMT_JSON } w2s_format;

/* Local: rows (one per pair; rows == 0: none) then the summary, in the
 * chosen format. A metric a file does not hold is an empty CSV field, no
 * JSON key and "absent" in the table. */
void w2s_analyze_print(FILE *f, w2s_results *const *files, int n,
                       const w2s_summary *s, w2s_format fmt, int rows);

/* Local: gain (x) against misfit (y), one point per pair coloured by weak
 * model, the line y = x and the summary's fitted line, into a .png, .svg or
 * .pdf file (PLplot's cairo driver). Errors: W2S_ERR_USAGE for a file
 * that cannot be written or a build without PLplot, W2S_ERR_INPUT when no
 * pair is finite. */
w2s_err w2s_plot_gain_misfit(w2s_ctx *ctx, w2s_results *const *files, int n,
                             const w2s_summary *s, const char *path);
/* Local: mean |gain - misfit| (test and train) against the first swept
 * key's value, log axes. Errors: as w2s_plot_gain_misfit. */
w2s_err w2s_plot_sweep(w2s_ctx *ctx, const w2s_sweep_stat *st, int64_t n,
                       const char *path);
/* Local: the sweep statistics in the chosen format. */
void w2s_analyze_print_sweep(FILE *f, const w2s_sweep_stat *st, int64_t n,
                             w2s_format fmt);
/* Local: s as a JSON string, quotes included (quote and backslash escaped,
 * control characters as \u00XX); the one JSON string writer of w2s's
 * reports (analyze's and bench's). */
void w2s_json_string(FILE *f, const char *s);
#endif
