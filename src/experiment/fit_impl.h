/* Private to the fit pipeline: fit.c (setup, fits, metrics), fit_scan.c
 * (the split of each row and the scan pass), fit_factor.c (the factor
 * engine) and fit_class.c (class labels). */
#ifndef W2S_FIT_IMPL_H
#define W2S_FIT_IMPL_H

#include "w2s/fit.h"
#include "w2s/lsq.h"
#include "w2s/results.h"

typedef struct {
  const w2s_fit_opts *o;
  w2s_features *f;
  int J;
  int64_t n, ds, nb, start, count, nblocks;
  int64_t nsplit[3];
  uint64_t repeat;
  int64_t *dw, *pw; /* weak dims and head sizes (0: predictions only) */
  int64_t ps;
  /* block buffers (yp: nb x C class probabilities, 2-D /labels only) */
  double *y, *S, **W, *P, *yp;
  int64_t yc; /* columns of yp (0: none) */
  int *split;
  double *A, *B, *Fw, *Fsw, *Fs, *Yc;
  /* standardisation (mean, 1/std) per representation, rep 0 = strong */
  double **mu, **is;
  /* coefficients: weak j p_j x 1; strong p_s x (1 + J) */
  double **cw, *cs;
  /* ridge selection: 0 all rows, 1 the 80% training part of the split,
   * 2 the 20% held out (rows by a seeded hash of the global index) */
  int cv_mode;
  /* with several ridge candidates: rows of splits 0 and 1 in the fitting
   * [0] and the held-out [1] part */
  int64_t ncv[2][2];
} fitter;

/* Local: 1 when global row g is in the 20% held out to choose a ridge. */
int fit_held_out(const fitter *s, int64_t g);
/* Local: s->split[0..m) of global rows row0.. (without /split). */
void fit_splits_of_block(fitter *s, int64_t row0, int64_t m);
/* Collective: the scan pass (finite values, split counts from /split,
 * label checksum, ridge hold-out counts, standardisation moments). */
w2s_err fit_scan(w2s_ctx *ctx, fitter *s, w2s_fit_scan *out);

/* Collective: block b of this rank's rows into the block buffers (y, S when
 * want_strong, W when want_weak, P, split; standardised when asked), its
 * row count in *m_out. fit.c. */
w2s_err fit_read_block(w2s_ctx *ctx, fitter *s, int64_t b, int64_t *m_out,
                       int want_strong, int want_weak);
/* Local: weak model j's and the strong head's entries of the record
 * (names, roles, sources, dims); fit_record_weak returns 1 when j has a
 * head to fit. fit_record_info: a fit's rank, condition and ridge. */
int fit_record_weak(const fitter *s, w2s_results *res, int j);
void fit_record_strong(const fitter *s, w2s_results *res);
void fit_record_info(w2s_repr_record *rec, const w2s_lsq_info *info,
                     double ridge);
/* Local: *use = 1 when the factor engine runs (--engine, or auto's cost
 * model), logged; W2S_ERR_USAGE for --engine factor with a named solver
 * other than tsqr (the same verdict on every rank). fit_factor.c. */
w2s_err fit_factor_choose(w2s_ctx *ctx, const fitter *s, int *use);
/* Collective: weak heads, strong head and metrics by the factor engine
 * (one read of the file), with the phase timers. pen: a mask as long as
 * the widest head. */
w2s_err fit_factor_run(w2s_ctx *ctx, fitter *s, int *pen, w2s_results *res);

/* Collective: the class-loss pipeline (--loss logistic|softmax,
 * fit_class.c) after the scan: weak heads, strong heads and KL metrics
 * by Newton fits on rows held in memory, with the phase timers; fills
 * res (loss, metrics, coefficients, representations). */
w2s_err fit_class_run(w2s_ctx *ctx, fitter *s, w2s_results *res);

#endif
