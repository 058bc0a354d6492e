/* results: the record of what one run (or one sweep point) produced, the
 * data every layer writes into and io serialises (docs/FORMAT.md).
 *
 * Every function here is local (no MPI) and leaves the record valid on
 * failure. Errors: W2S_ERR_MEMORY when an allocation fails, W2S_ERR_USAGE
 * for an argument out of range (a name too long for its field); the message
 * is in ctx. The record owns everything its pointers point to;
 * w2s_results_destroy frees it all. */
#ifndef W2S_RESULTS_H
#define W2S_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "w2s/core.h"
#include "w2s/metrics.h"

/* W2S_PATH_LEN bounds every file name w2s keeps (results' path, the
 * config's output path), with its terminating NUL. A timer's name is
 * bounded by core's W2S_TIMER_NAME_LEN, with its NUL. */
enum { W2S_NAME_LEN = 64, W2S_PATH_LEN = 1024 };

/* One fitted representation: what its fit saw of it. */
typedef struct {
  char name[W2S_NAME_LEN + 8]; /* config section: "strong", "weak.NAME" */
  char role[8];                /* "strong" or "weak" */
  char source[16];
  int64_t dim;  /* features (without the intercept) */
  int64_t rank; /* smallest numerical rank over task groups */
  double cond;  /* largest condition number of the equilibrated design */
  double ridge; /* the ridge its head was fitted with */
  /* softmax heads: the most Newton iterations of a fit and the largest
   * final relative gradient norm (0 for least-squares heads) */
  int64_t newton_iterations;
  double newton_rel_grad;
} w2s_repr_record;

/* Where a record came from: what the file's root attributes say about the
 * run. Borrowed strings (NULL reads as ""); w2s_results_set_provenance
 * copies them. */
typedef struct {
  uint64_t seed;
  int mpi_ranks;
  const char *solver;       /* fit.solver as configured */
  const char *config_text;  /* the effective configuration (INI text) */
  const char *command_line; /* the command that ran */
  const char *input_file;   /* `w2s fit`: the features file ("" otherwise) */
  uint64_t labels_checksum; /* `w2s fit`: of the labels read */
} w2s_provenance;

/* Everything a run produced (plain data, owned by the struct).
 *
 * metric[m] holds npairs values of metric m of the metric table
 * (w2s_metric_table, metrics.h) for m < w2s_metric_count; NULL means the
 * metric is absent (a file written before the metric existed): readers of
 * the record test w2s_results_has_metric first. */
typedef struct {
  int64_t ntasks, nweak, npairs;
  char (*weak_names)[W2S_NAME_LEN]; /* nweak */
  int64_t *pair_task;               /* npairs */
  int64_t *pair_weak;               /* npairs, index into weak_names */
  double *metric[W2S_M_MAX];        /* npairs each, NULL: absent */
  int64_t strong_p;                 /* coefficients per strong head */
  double *coef_ceiling;             /* ntasks x strong_p, row-major */
  double *coef_w2s;                 /* npairs x w2s_p */
  int64_t w2s_p;      /* coefficients per w2s head: strong_p, or the k weights
                         of a mixture student (0 reads as strong_p) */
  int64_t *weak_p;    /* nweak */
  double **coef_weak; /* nweak x (ntasks x weak_p[j]) */
  int nrepr;
  w2s_repr_record *repr;
  /* Named phase timings, seconds (maximum over ranks), written under
   * /timing in this order (w2s_results_set_timing). */
  int ntimers;
  char (*timer_name)[W2S_TIMER_NAME_LEN];
  double *timing;
  double
      peak_rss_mib; /* max over ranks of the peak resident set (0: unknown) */
  /* named curves (pre-training loss per epoch), written under /pretrain */
  int ncurves;
  char (*curve_name)[W2S_NAME_LEN + 8];
  double **curve;
  int64_t *curve_len;
  /* The loss of the metrics: "squared" or "kl"; for kl the orientation
   * ("model_first": KL(model || truth), "truth_first") and the classes
   * (docs/FORMAT.md). A zeroed record reads as squared. */
  char loss[16];
  char orientation[16];
  int64_t classes;
  /* provenance (w2s_results_set_provenance) */
  uint64_t seed;
  int mpi_ranks;
  char solver[32];
  /* The BLAS that computed the record, as the attributes blas,
   * blas_library, blas_version, blas_kernel, blas_config (docs/FORMAT.md);
   * all empty: the writer records its own. */
  char blas[5][256];
  char *config_text;
  char *command_line;
  char path[W2S_PATH_LEN]; /* set by the reader */
  /* `w2s fit` provenance (written when input_file is not empty) */
  char input_file[W2S_PATH_LEN];
  uint64_t labels_checksum;
  /* set by the reader for sweep files (else NULL / 0) */
  int64_t *pair_sweep; /* npairs */
  int sweep_nkeys;
  int64_t sweep_npoints;
  char (*sweep_keys)[128];
  char (*sweep_values)[128]; /* npoints x nkeys */
  /* set by the reader: the stored experiment identity (docs/FORMAT.md) and
   * the file's format version (0 for a record not read from a file) */
  char *identity_config;
  uint64_t identity_hash;
  int format_version;
} w2s_results;

/* Local: a record of ntasks x nweak pairs (pair k is task k / nweak, weak
 * model k % nweak), every table metric allocated (zeros) but the
 * classification ones (w2s_results_set_loss), no timers, no
 * representations, no curves. *out is the caller's (w2s_results_destroy);
 * NULL on failure. */
w2s_err w2s_results_alloc(w2s_ctx *ctx, int64_t ntasks, int64_t nweak,
                          w2s_results **out);
/* Local: free everything the record owns and set *res to NULL (a NULL
 * *res is a no-op). */
void w2s_results_destroy(w2s_results **res);

/* Local: the loss r's metrics are in ("squared" or "kl"), their
 * orientation ("" or "model_first" / "truth_first") and the classes. A
 * record holds the classification metrics (accuracies) with "kl" only:
 * they are allocated here (zeros), and dropped for "squared". */
w2s_err w2s_results_set_loss(w2s_ctx *ctx, w2s_results *r, const char *loss,
                             const char *orientation, int64_t classes);

/* Local: 1 when r holds metric m (an index into w2s_metric_table). */
int w2s_results_has_metric(const w2s_results *r, int m);

/* Local: replace r's timers with copies of n names (each shorter than
 * W2S_TIMER_NAME_LEN, else W2S_ERR_USAGE) and their seconds. On failure r
 * keeps its old timers. */
w2s_err w2s_results_set_timing(w2s_ctx *ctx, w2s_results *r, int n,
                               const char *const *names, const double *secs);
/* Local: the seconds of the timer called name, or 0 when r has none. */
double w2s_results_timing(const w2s_results *r, const char *name);

/* Local: copy p into r (the strings too; solver longer than r->solver or
 * input_file longer than r->input_file is W2S_ERR_USAGE). On failure r
 * keeps its old provenance. */
w2s_err w2s_results_set_provenance(w2s_ctx *ctx, w2s_results *r,
                                   const w2s_provenance *p);

/* Local: n zeroed representation records in r->repr (replacing any),
 * which the producer fills (strong first, then the weak models). */
w2s_err w2s_results_alloc_repr(w2s_ctx *ctx, w2s_results *r, int n);

/* Local: append a copy of a curve (n values) named name (truncated to the
 * field) to r. */
w2s_err w2s_results_add_curve(w2s_ctx *ctx, w2s_results *r, const char *name,
                              const double *values, int64_t n);

#endif
