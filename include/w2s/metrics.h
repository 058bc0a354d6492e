/* metrics: the quantities of the weak-to-strong theory, accumulated from
 * blocks of predictions and reduced across ranks.
 *
 * Per (task t, weak model j) pair k = t * J + j, with y the true labels, f_w
 * the weak model's predictions, f_sw the weak-to-strong model's and f_s the
 * strong ceiling's, all on the same samples:
 *   weak_error = mean (f_w - y)^2       w2s_error = mean (f_sw - y)^2
 *   misfit     = mean (f_w - f_sw)^2    gain      = weak_error - w2s_error
 * gain is accumulated directly as mean(d^2 + 2 d e) with d = f_w - f_sw and
 * e = f_sw - y, never as a difference of two large means, so gain - misfit
 * (= 2 mean(d e), zero when the theory's identity holds) keeps its digits.
 * The metrics written to the results file, with what each checks, are the
 * table below (W2S_METRICS; docs/FORMAT.md lists it).
 * Only w2s_metric_sums_reduce is collective. */
#ifndef W2S_METRICS_H
#define W2S_METRICS_H

#include <stdint.h>

#include "w2s/core.h"

/* The metric table: one line per metric, in file and report order.
 * Columns: index constant (for the numerical code), name (the /metrics
 * dataset and the report column), description, units, what of the theory
 * it checks, family (the kind of head and loss it belongs to). Adding a
 * metric is one line here plus the code that computes it; docs/FORMAT.md
 * lists the table (tests/e2e/test_format.py checks it does). */
#define W2S_FAMILY_SQ "squared-loss regression"
#define W2S_FAMILY_CLS "classification"
#define W2S_METRICS(X)                                                         \
  X(W2S_M_WEAK_ERROR, "weak_error", "test: mean (f_w - f*)^2",                 \
    "squared label units", "the weak model's error", W2S_FAMILY_SQ)            \
  X(W2S_M_W2S_ERROR, "w2s_error", "test: mean (f_sw - f*)^2",                  \
    "squared label units", "the weak-to-strong error", W2S_FAMILY_SQ)          \
  X(W2S_M_MISFIT, "misfit", "test: mean (f_sw - f_w)^2",                       \
    "squared label units", "gain >= misfit (test, realizable)", W2S_FAMILY_SQ) \
  X(W2S_M_GAIN, "gain", "test: weak_error - w2s_error (accumulated directly)", \
    "squared label units", "gain >= misfit (test, realizable)", W2S_FAMILY_SQ) \
  X(W2S_M_CEILING, "strong_ceiling_error",                                     \
    "test: mean (f_s - f*)^2, f_s fitted on true labels of the w2s split",     \
    "squared label units", "the strong ceiling of pgr", W2S_FAMILY_SQ)         \
  X(W2S_M_PGR, "pgr",                                                          \
    "gain / (weak_error - strong_ceiling_error); NaN where weak_error <= "     \
    "ceiling",                                                                 \
    "ratio", "performance gap recovered", W2S_FAMILY_SQ)                       \
  X(W2S_M_PREDICTED, "predicted_w2s_error", "weak_error - misfit",             \
    "squared label units", "weak-model selection by misfit", W2S_FAMILY_SQ)    \
  X(W2S_M_WEAK_ERROR_TRAIN, "weak_error_train",                                \
    "w2s training split: mean (f_w - f*)^2", "squared label units",            \
    "the weak model's error (train)", W2S_FAMILY_SQ)                           \
  X(W2S_M_W2S_ERROR_TRAIN, "w2s_error_train",                                  \
    "w2s training split: mean (f_sw - f*)^2", "squared label units",           \
    "the weak-to-strong error (train)", W2S_FAMILY_SQ)                         \
  X(W2S_M_MISFIT_TRAIN, "misfit_train",                                        \
    "w2s training split: mean (f_sw - f_w)^2", "squared label units",          \
    "gain = misfit (train, realizable)", W2S_FAMILY_SQ)                        \
  X(W2S_M_GAIN_TRAIN, "gain_train",                                            \
    "w2s training split: weak_error_train - w2s_error_train",                  \
    "squared label units", "gain = misfit (train, realizable)", W2S_FAMILY_SQ) \
  X(W2S_M_CEILING_TRAIN, "strong_ceiling_error_train",                         \
    "w2s training split: the strong ceiling's residual (eps of the bound)",    \
    "squared label units",                                                     \
    "gain - misfit within 2 sqrt(misfit eps) (train, non-realizable)",         \
    W2S_FAMILY_SQ)                                                             \
  X(W2S_M_WEAK_ACC, "weak_accuracy",                                           \
    "test: fraction of samples whose most probable class under p_w is the "    \
    "true class (argmax p*, or the sampled label)",                            \
    "fraction", "the weak model's accuracy", W2S_FAMILY_CLS)                   \
  X(W2S_M_W2S_ACC, "w2s_accuracy",                                             \
    "test: the same for the weak-to-strong model p_sw", "fraction",            \
    "the weak-to-strong accuracy", W2S_FAMILY_CLS)                             \
  X(W2S_M_CEILING_ACC, "ceiling_accuracy",                                     \
    "test: the same for the strong ceiling p_s", "fraction",                   \
    "the strong ceiling of pgr_accuracy", W2S_FAMILY_CLS)                      \
  X(W2S_M_PGR_ACC, "pgr_accuracy",                                             \
    "(w2s_accuracy - weak_accuracy) / (ceiling_accuracy - weak_accuracy); "    \
    "NaN where ceiling_accuracy <= weak_accuracy",                             \
    "ratio", "performance gap recovered in accuracy (Burns et al.)",           \
    W2S_FAMILY_CLS)

typedef enum {
#define W2S_X_METRIC(id, name, desc, units, checks, family) id,
  W2S_METRICS(W2S_X_METRIC)
#undef W2S_X_METRIC
      W2S_M_COUNT, /* the metrics this build computes */
  W2S_M_MAX = 64   /* capacity of a record's metric slots */
} w2s_metric;

/* One row of the metric table. */
typedef struct {
  const char *name;        /* /metrics dataset, report column */
  const char *description; /* what it is (the dataset's attribute) */
  const char *units;
  const char *checks; /* which statement of the theory it checks */
  const char *family; /* e.g. "squared-loss regression" */
} w2s_metric_info;

/* The table (src/metrics/table.c) and its length (W2S_M_COUNT in this
 * build; a test build may append rows). Readers, writers and reports
 * iterate it. */
extern const w2s_metric_info w2s_metric_table[];
extern const int w2s_metric_count;

/* Local: metric m's description for a record whose loss is `loss`
 * ("squared", "kl") and orientation ("model_first", "truth_first"); *units
 * its units ("nats" for the KL divergences). */
const char *w2s_metric_description(int m, const char *loss,
                                   const char *orientation, const char **units);
/* Local: metric m's name, "?" outside the table. */
const char *w2s_metric_name(w2s_metric m);
/* Local: the table index of the metric called name, -1 when none. */
int w2s_metric_find(const char *name);

/* Running sums for T tasks x J weak models on one split. With the squared
 * loss, gain = misfit + 2 cross; with KL (w2s_metric_sums_add_kl),
 * gain = misfit + cross. */
typedef struct {
  int64_t T, J;
  int64_t n;   /* rows accumulated (global after reduce) */
  int kl;      /* the sums are KL divergences (set by w2s_metric_sums_add_kl) */
  double *buf; /* one allocation: the arrays below */
  double *weak, *w2s, *misfit, *cross; /* K = T * J each */
  double *ceiling;                     /* T */
  double *acc_weak, *acc_w2s;          /* K: correct classifications */
  double *acc_ceiling;                 /* T */
} w2s_metric_sums;

/* Local: zeroed sums for T tasks x J weak models in s (one allocation,
 * owned by s: w2s_metric_sums_free, also after a failure).
 * W2S_ERR_MEMORY. */
w2s_err w2s_metric_sums_init(w2s_ctx *ctx, int64_t T, int64_t J,
                             w2s_metric_sums *s);
/* Local: free s's buffer (s may be zeroed or freed already). */
void w2s_metric_sums_free(w2s_metric_sums *s);
/* A block of predictions on m rows of one split, column-major with leading
 * dimensions: Y m x T (true labels), Fw and Fsw m x (T*J) in pair order (weak
 * and weak-to-strong predictions), Fs m x T (strong ceiling; NULL: no ceiling
 * on this split). The caller owns the arrays; the block only points at them.
 * Every metric family accumulates from this same block. */
typedef struct {
  int64_t m; /* rows (0: an empty block) */
  const double *Y;
  int64_t ldy;
  const double *Fw;
  int64_t ldw;
  const double *Fsw;
  int64_t ldsw;
  const double *Fs; /* may be NULL */
  int64_t lds;
} w2s_pred_block;

/* Local: add block b's m rows to s (T and J from s). Cannot fail; b's arrays
 * are only read. */
void w2s_metric_sums_add(w2s_metric_sums *s, const w2s_pred_block *b);
/* One task's log-probabilities on m rows, classes C, column-major with
 * leading dimensions: Lt m x C the truth (p*, or a one-hot label: -inf off
 * its class), Lw and Lsw m x (J C) the task's J pairs (pair j in columns
 * [j C, j C + C)), Ls m x C the strong ceiling; cls the true class of each
 * row (for the accuracies). truth_first chooses the orientation:
 *   model first (0): weak = KL(p_w || p*), w2s = KL(p_sw || p*),
 *                    misfit = KL(p_w || p_sw), ceiling = KL(p_s || p*)
 *   truth first (1): weak = KL(p* || p_w), w2s = KL(p* || p_sw),
 *                    misfit = KL(p_sw || p_w), ceiling = KL(p* || p_s)
 * and cross = sum_c (a_c - b_c)(log b_c - log c_c) with (a, b, c) = (p_w,
 * p_sw, p*) or (p*, p_sw, p_w), so that weak - w2s = misfit + cross exactly
 * in exact arithmetic (the three-point identity of KL). */
typedef struct {
  int64_t m, C;
  const double *Lt;
  int64_t ldt;
  const int64_t *cls;
  const double *Lw;
  int64_t ldw;
  const double *Lsw;
  int64_t ldsw;
  const double *Ls;
  int64_t lds;
  int truth_first;
} w2s_kl_block;

/* Local: add task t's block (its pairs t J .. t J + J - 1) to s, marking s
 * as KL sums. Cannot fail. The row count s->n grows by b->m once per
 * block of task 0 (call it for every task of s on the same rows). */
void w2s_metric_sums_add_kl(w2s_metric_sums *s, int64_t t,
                            const w2s_kl_block *b);

/* Local: pair k's sums in s from R d and R e (D entries each; R the
 * triangular factor of the split's stacked features, d = v_w - v_sw and
 * e = v_sw - g in coefficient space): ||R d||^2, ||R e||^2, ||R (d + e)||^2
 * and (R d).(R e) are the row sums of misfit, w2s error, weak error and the
 * cross term. The factor engines' counterpart of w2s_metric_sums_add. */
void w2s_metric_sums_set_pair(w2s_metric_sums *s, int64_t k, const double *Rd,
                              const double *Re, int64_t D);
/* Local: 1 when every sum of s is finite (0: the squares overflowed the
 * double range, or a NaN reached them). */
int w2s_metric_sums_finite(const w2s_metric_sums *s);
/* Collective: sum over ranks (every rank then holds the global sums and
 * row count). Errors: those of w2s_sum (MPI). */
w2s_err w2s_metric_sums_reduce(w2s_ctx *ctx, w2s_metric_sums *s);

/* Local: metrics for pairs [k0, k0 + T*J) of out[W2S_M_COUNT][*] from the
 * reduced test and train sums. PGR is NaN where weak_error <= ceiling. A
 * NULL out[m] is a metric the record does not hold (the accuracies of a
 * squared-loss run): it is skipped. */
void w2s_metrics_finish(const w2s_metric_sums *test,
                        const w2s_metric_sums *train, int64_t k0,
                        double *const out[W2S_M_COUNT]);

#endif
