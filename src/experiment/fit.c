/* The `w2s fit` pipeline on exported representations: the same fits and
 * metrics as simulate, with rows read from a features file instead of
 * generated. Split i of row r comes from /split or from a seeded bijection
 * of the row index (a Feistel permutation with cycle walking), so it does
 * not depend on the number of ranks; every pass walks this rank's rows in
 * blocks with collective reads. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/fit_impl.h"
#include "w2s/lsq.h"
#include "w2s/metrics.h"

const char *const w2s_fit_phases[W2S_FIT_NPHASES] = {"setup", "scan",
                                                     "weak_fit", "strong_fit",
                                                     "metrics"};

w2s_err fit_read_block(w2s_ctx *ctx, fitter *s, int64_t b, int64_t *m_out,
                       int want_strong, int want_weak) {
  int64_t i0 = b * s->nb, m = 0;
  if (i0 < s->count) m = s->count - i0 < s->nb ? s->count - i0 : s->nb;
  const w2s_features_block out = {s->y,
                                  want_strong ? s->S : NULL,
                                  want_weak ? s->W : NULL,
                                  s->P,
                                  s->split,
                                  s->yp};
  W2S_CALL(w2s_features_read(ctx, s->f, s->start + i0, m, &out));
  fit_splits_of_block(s, s->start + i0, m);
  if (s->cv_mode)
    for (int64_t i = 0; i < m; ++i)
      if (fit_held_out(s, s->start + i0 + i) != (s->cv_mode == 2))
        s->split[i] = -1;
  /* Standardise (when asked) with the statistics of each fitting split. */
  if (s->o->standardize) {
    for (int r = 0; r <= s->J; ++r) {
      double *X = r == 0 ? (want_strong ? s->S : NULL)
                         : (want_weak ? s->W[r - 1] : NULL);
      int64_t d = r == 0 ? s->ds : s->dw[r - 1];
      if (!X || !s->mu[r]) continue;
      for (int64_t c = 0; c < d; ++c)
        for (int64_t i = 0; i < m; ++i)
          X[c * m + i] = (X[c * m + i] - s->mu[r][c]) * s->is[r][c];
    }
  }
  *m_out = m;
  return W2S_OK;
}

/* Rows of the block in split q, compacted: A (k x d + 1, the last column
 * the intercept's ones) from X. */
static int64_t gather(const fitter *s, int q, int64_t m, const double *X,
                      int64_t d, double *A) {
  int64_t k = 0;
  for (int64_t i = 0; i < m; ++i) k += s->split[i] == q;
  int64_t r = 0;
  for (int64_t i = 0; i < m; ++i) {
    if (s->split[i] != q) continue;
    for (int64_t c = 0; c < d; ++c) A[c * k + r] = X[c * m + i];
    A[d * k + r] = 1.0;
    ++r;
  }
  return k;
}

static void fitter_free(fitter *s) {
  for (int j = 0; j < s->J; ++j) {
    if (s->W) free(s->W[j]);
    if (s->cw) free(s->cw[j]);
  }
  for (int r = 0; r <= s->J; ++r) {
    if (s->mu) free(s->mu[r]);
    if (s->is) free(s->is[r]);
  }
  free(s->W), free(s->cw), free(s->mu), free(s->is), free(s->dw), free(s->pw);
  free(s->y), free(s->S), free(s->P), free(s->split), free(s->A), free(s->B);
  free(s->Fw), free(s->Fsw), free(s->Fs), free(s->Yc), free(s->cs);
  free(s->yp);
}

/* The per-rank memory of a file's feature widths (row blocks, one solver's
 * p x p factor per head, the coefficients), checked before allocating from
 * metadata every rank has; the message names the widest dataset. */
static w2s_err check_memory(w2s_ctx *ctx, const w2s_fit_opts *o,
                            const w2s_features *f) {
  int J = w2s_features_nweak(f);
  double widest = (double)w2s_features_strong_dim(f), cols = widest;
  char name[W2S_NAME_LEN + 16];
  snprintf(name, sizeof name, "/strong");
  for (int j = 0; j < J; ++j) {
    double d = (double)w2s_features_weak_dim(f, j);
    cols += d;
    if (d > widest) {
      widest = d;
      snprintf(name, sizeof name, "/weak/%s", w2s_features_weak_name(f, j));
    }
  }
  double p = widest + 1.0;
  double doubles = (double)o->block_rows * (2.0 * cols + 2.0 * p + 8.0 * J) +
                   2.0 * p * p + (cols + J + 1.0) * (J + 2.0);
  return w2s_check_memory(ctx, 8.0 * doubles,
                          "%s: dataset '%s' has %.0f columns: the fit", o->path,
                          name, widest);
}

static w2s_err setup(w2s_ctx *ctx, const w2s_fit_opts *o, w2s_features *f,
                     fitter *s) {
  memset(s, 0, sizeof *s);
  s->o = o;
  s->f = f;
  s->J = w2s_features_nweak(f);
  s->n = w2s_features_rows(f);
  s->ds = w2s_features_strong_dim(f);
  s->ps = s->ds + 1;
  w2s_partition(s->n, ctx->size, ctx->rank, &s->start, &s->count);
  s->nb = o->block_rows;
  int64_t maxcount = (s->n + ctx->size - 1) / ctx->size;
  s->nblocks = (maxcount + s->nb - 1) / s->nb;
  int64_t nb = s->nb, J = s->J, dmax = s->ps;
  W2S_CALL(check_memory(ctx, o, f));
  W2S_CALL(W2S_ALLOC(ctx, s->dw, J));
  W2S_CALL(W2S_ALLOC(ctx, s->pw, J));
  W2S_CALL(W2S_ALLOC(ctx, s->W, J));
  W2S_CALL(W2S_ALLOC(ctx, s->cw, J));
  W2S_CALL(W2S_ALLOC(ctx, s->mu, J + 1));
  W2S_CALL(W2S_ALLOC(ctx, s->is, J + 1));
  for (int j = 0; j < J; ++j) {
    s->dw[j] = w2s_features_weak_dim(f, j);
    s->pw[j] = s->dw[j] > 0 ? s->dw[j] + 1 : 0;
    if (s->pw[j] > dmax) dmax = s->pw[j];
    W2S_CALL(W2S_ALLOC(ctx, s->W[j], nb * (s->dw[j] > 0 ? s->dw[j] : 1)));
    W2S_CALL(W2S_ALLOC(ctx, s->cw[j], s->pw[j] > 0 ? s->pw[j] : 1));
  }
  W2S_CALL(W2S_ALLOC(ctx, s->y, nb));
  if (w2s_features_label_kind(f) == W2S_LABELS_PROBS) {
    s->yc = w2s_features_label_cols(f);
    W2S_CALL(W2S_ALLOC(ctx, s->yp, nb * s->yc));
  }
  W2S_CALL(W2S_ALLOC(ctx, s->S, nb * s->ds));
  W2S_CALL(W2S_ALLOC(ctx, s->P, nb * J));
  W2S_CALL(W2S_ALLOC(ctx, s->split, nb));
  W2S_CALL(W2S_ALLOC(ctx, s->A, nb * dmax));
  W2S_CALL(W2S_ALLOC(ctx, s->B, nb * (1 + J)));
  W2S_CALL(W2S_ALLOC(ctx, s->Fw, nb * J));
  W2S_CALL(W2S_ALLOC(ctx, s->Fsw, nb * J));
  W2S_CALL(W2S_ALLOC(ctx, s->Fs, nb));
  W2S_CALL(W2S_ALLOC(ctx, s->Yc, nb));
  W2S_CALL(W2S_ALLOC(ctx, s->cs, s->ps * (1 + J)));
  return W2S_OK;
}

/* Weak labels of the rows of split q in the block: compacted, m_q x J. */
static int64_t weak_labels(fitter *s, int q, int64_t m, double *out) {
  int64_t k = 0;
  for (int64_t i = 0; i < m; ++i) k += s->split[i] == q;
  for (int j = 0; j < s->J; ++j) {
    if (w2s_features_has_predictions(s->f, j)) {
      int64_t r = 0;
      for (int64_t i = 0; i < m; ++i)
        if (s->split[i] == q) out[j * k + r++] = s->P[j * m + i];
    } else {
      int64_t kk = gather(s, q, m, s->W[j], s->dw[j], s->A);
      if (kk > 0)
        cblas_dgemv(CblasColMajor, CblasNoTrans, (int)kk, (int)s->pw[j], 1.0,
                    s->A, (int)kk, s->cw[j], 1, 0.0, out + j * k, 1);
    }
  }
  return k;
}

/* One head to fit: weak model rep on split q, or the strong head (rep 0)
 * on split 1; its penalty mask and message label. */
typedef struct {
  int q, rep, strong;
  int *pen;
  const char *label;
} head;

static w2s_err fit_pass_loop(w2s_ctx *ctx, fitter *s, w2s_lsq *ls,
                             const head *h) {
  int q = h->q, rep = h->rep, strong = h->strong;
  const char *label = h->label;
  for (int more = 1; more;) {
    w2s_lsq_set_context(ls, label, 0);
    w2s_err e = W2S_OK;
    for (int64_t b = 0; b < s->nblocks; ++b) {
      int64_t m;
      W2S_CALL(fit_read_block(ctx, s, b, &m, strong, 1));
      if (e) continue; /* keep taking part in the collective reads */
      int64_t k;
      if (strong) {
        /* Weak labels first: they use A as scratch. */
        int64_t kk = 0;
        for (int64_t i = 0; i < m; ++i) kk += s->split[i] == q;
        weak_labels(s, q, m, s->B + kk);
        k = gather(s, q, m, s->S, s->ds, s->A);
        int64_t r = 0;
        for (int64_t i = 0; i < m; ++i)
          if (s->split[i] == q) s->B[r++] = s->y[i];
      } else {
        k = gather(s, q, m, s->W[rep], s->dw[rep], s->A);
        int64_t r = 0;
        for (int64_t i = 0; i < m; ++i)
          if (s->split[i] == q) s->B[r++] = s->y[i];
      }
      e = w2s_lsq_add_rows(ctx, ls, k, s->A, k, s->B, k);
    }
    W2S_CALL(w2s_agree(ctx, e));
    W2S_CALL(w2s_lsq_end_pass(ctx, ls, &more));
  }
  return W2S_OK;
}

/* One head (weak model rep, or the strong one) with the given ridge. */
static w2s_err fit_one(w2s_ctx *ctx, fitter *s, const head *h, double ridge,
                       double *coef, w2s_lsq_info *info) {
  int64_t p = h->strong ? s->ps : s->pw[h->rep], k = h->strong ? 1 + s->J : 1;
  w2s_lsq_opts lo = {ridge, h->pen, 0.0, h->label};
  w2s_lsq *ls = NULL;
  w2s_err e = w2s_agree(ctx,
                        w2s_lsq_create_with(ctx, s->o->solver, p, k, &lo, &ls));
  if (!e) e = fit_pass_loop(ctx, s, ls, h);
  if (!e) e = w2s_lsq_solve(ctx, ls, &lo, coef, info);
  w2s_lsq_destroy(&ls);
  return e;
}

/* With several ridge candidates: fit each on 80% of the head's split,
 * score on the held-out 20% (weak heads against the true labels, the strong
 * head against the weak labels only, so no ground truth of the weak-to-
 * strong split is used), and return the best; then the caller refits. */
static w2s_err choose_ridge(w2s_ctx *ctx, fitter *s, const head *h,
                            double *best) {
  const w2s_fit_opts *o = s->o;
  int q = h->q, rep = h->rep, strong = h->strong;
  const char *label = h->label;
  int64_t p = strong ? s->ps : s->pw[rep], k = strong ? 1 + s->J : 1;
  double *C = NULL, err[8] = {0};
  w2s_lsq_info info;
  w2s_err e = w2s_agree(ctx, W2S_ALLOC(ctx, C, p * k * o->nridge));
  if (e) {
    free(C); /* allocated where another rank's allocation failed */
    return e;
  }
  s->cv_mode = 1;
  for (int l = 0; l < o->nridge && !e; ++l)
    e = fit_one(ctx, s, h, o->ridge[l], C + l * p * k, &info);
  s->cv_mode = 2;
  double *pred = NULL;
  if (!e) e = w2s_agree(ctx, W2S_ALLOC(ctx, pred, s->nb * k));
  for (int64_t b = 0; b < s->nblocks && !e; ++b) {
    int64_t m;
    e = fit_read_block(ctx, s, b, &m, strong, 1);
    if (e) break;
    int64_t kk = 0;
    for (int64_t i = 0; i < m; ++i) kk += s->split[i] == q;
    if (kk == 0) continue;
    if (strong) weak_labels(s, q, m, s->B + kk);
    int64_t r = 0;
    for (int64_t i = 0; i < m; ++i)
      if (s->split[i] == q) s->B[r++] = s->y[i];
    gather(s, q, m, strong ? s->S : s->W[rep], strong ? s->ds : s->dw[rep],
           s->A);
    for (int l = 0; l < o->nridge; ++l) {
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)kk, (int)k,
                  (int)p, 1.0, s->A, (int)kk, C + l * p * k, (int)p, 0.0, pred,
                  (int)kk);
      for (int64_t c = strong ? 1 : 0; c < k; ++c)
        for (int64_t i = 0; i < kk; ++i) {
          double d = pred[c * kk + i] - s->B[c * kk + i];
          err[l] += d * d;
        }
    }
  }
  s->cv_mode = 0;
  if (!e) e = w2s_agree(ctx, w2s_sum(ctx, err, o->nridge));
  if (!e) {
    int bl = 0;
    for (int l = 1; l < o->nridge; ++l)
      if (err[l] < err[bl]) bl = l;
    *best = o->ridge[bl];
    w2s_log(ctx, 1, "%s: ridge %g chosen on held-out rows", label, *best);
  }
  free(pred);
  free(C);
  return e;
}

/* A head fitted on no rows (a ridge alone makes the system solvable) would
 * be all zeros and its metrics meaningless: every split that fits a head
 * needs rows, and with several ridge candidates rows in both its fitting
 * and its held-out part. Decided from global counts: the same on every
 * rank. */
static w2s_err check_rows(w2s_ctx *ctx, const fitter *s) {
  static const char *what[2] = {"split 0 (weak training)",
                                "split 1 (weak-to-strong training)"};
  int weak_fits = 0;
  for (int j = 0; j < s->J; ++j)
    weak_fits |= s->pw[j] > 0 && !w2s_features_has_predictions(s->f, j);
  for (int q = weak_fits ? 0 : 1; q < 2; ++q) {
    if (s->nsplit[q] == 0)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: %s has no rows; use another --split or /split",
                      s->o->path, what[q]);
    if (s->o->nridge > 1 && (s->ncv[q][0] == 0 || s->ncv[q][1] == 0))
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: %s has %lld rows to fit and %lld held out to "
                      "choose among the --ridge values; both need rows (use "
                      "more rows or one --ridge value)",
                      s->o->path, what[q], (long long)s->ncv[q][0],
                      (long long)s->ncv[q][1]);
  }
  return W2S_OK;
}

/* Enough rows in every split for its fits (global counts: the same
 * verdict on every rank). */
static w2s_err check_sizes(w2s_ctx *ctx, const fitter *s) {
  const w2s_fit_opts *o = s->o;
  W2S_CALL(check_rows(ctx, s));
  int exact = o->ridge[0] == 0.0 && o->nridge == 1;
  for (int j = 0; j < s->J; ++j)
    if (s->pw[j] > 0 && exact && s->nsplit[0] < s->pw[j])
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: split 0 (weak training) has %lld rows, fewer than "
                      "the %lld parameters of weak model '%s' (%lld features "
                      "+ intercept); use more rows, another split or --ridge",
                      o->path, (long long)s->nsplit[0], (long long)s->pw[j],
                      w2s_features_weak_name(s->f, j), (long long)s->dw[j]);
  if (exact && s->nsplit[1] < s->ps)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: split 1 (weak-to-strong training) has %lld rows, "
                    "fewer than the %lld parameters of the strong head; use "
                    "more rows, another split or --ridge",
                    o->path, (long long)s->nsplit[1], (long long)s->ps);
  if (s->nsplit[2] < 1)
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: split 2 (test) has no rows",
                    o->path);
  return W2S_OK;
}

/* Setup and the scan pass: the split sizes, the checks, the record. */
static w2s_err prepare(w2s_ctx *ctx, const w2s_fit_opts *o, w2s_features *f,
                       int repeat, fitter *s, w2s_fit_scan *scan_out,
                       w2s_results **res) {
  w2s_timer_start(ctx, W2S_FIT_SETUP);
  w2s_err e = w2s_agree(ctx, setup(ctx, o, f, s));
  s->repeat = (uint64_t)repeat;
  if (!e && !w2s_features_has_split(f)) {
    s->nsplit[0] = llround(o->split[0] * (double)s->n);
    s->nsplit[1] = llround(o->split[1] * (double)s->n);
    if (s->nsplit[0] + s->nsplit[1] > s->n) s->nsplit[1] = s->n - s->nsplit[0];
    s->nsplit[2] = s->n - s->nsplit[0] - s->nsplit[1];
  }
  w2s_timer_stop(ctx, W2S_FIT_SETUP);
  w2s_timer_start(ctx, W2S_FIT_SCAN);
  if (!e) e = w2s_agree(ctx, fit_scan(ctx, s, scan_out));
  w2s_timer_stop(ctx, W2S_FIT_SCAN);
  if (!e) e = check_sizes(ctx, s);
  if (!e) e = w2s_results_alloc(ctx, 1, s->J, res);
  if (!e) e = w2s_results_alloc_repr(ctx, *res, 1 + s->J);
  return w2s_agree(ctx, e);
}

/* Weak heads on split 0 (those given by predictions only are recorded,
 * not fitted). */
static w2s_err fit_weak_heads(w2s_ctx *ctx, fitter *s, int *pen,
                              w2s_results *res) {
  const w2s_fit_opts *o = s->o;
  w2s_features *f = s->f;
  char label[160];
  w2s_lsq_info info;
  w2s_err e = W2S_OK;
  for (int j = 0; j < s->J && !e; ++j) {
    if (!fit_record_weak(s, res, j)) continue;
    for (int64_t c = 0; c < s->pw[j]; ++c) pen[c] = c < s->dw[j];
    snprintf(label, sizeof label, "%s: weak model '%s'", o->path,
             w2s_features_weak_name(f, j));
    double ridge = o->ridge[0];
    head h = {0, j, 0, pen, label};
    if (o->nridge > 1) e = choose_ridge(ctx, s, &h, &ridge);
    if (!e) e = fit_one(ctx, s, &h, ridge, s->cw[j], &info);
    if (!e) fit_record_info(&res->repr[1 + j], &info, ridge);
  }
  return e;
}

int fit_record_weak(const fitter *s, w2s_results *res, int j) {
  w2s_features *f = s->f;
  w2s_repr_record *rec = &res->repr[1 + j];
  snprintf(rec->name, sizeof rec->name, "weak.%s",
           w2s_features_weak_name(f, j));
  snprintf(rec->role, sizeof rec->role, "weak");
  snprintf(rec->source, sizeof rec->source, "%s",
           s->pw[j]
               ? (w2s_features_has_predictions(f, j) ? "predictions" : "file")
               : "predictions");
  rec->dim = s->dw[j];
  snprintf(res->weak_names[j], W2S_NAME_LEN, "%s",
           w2s_features_weak_name(f, j));
  /* A model given by its predictions has no fitted head to store (even
   * when the file also holds its representation). */
  res->weak_p[j] = w2s_features_has_predictions(f, j) ? 0 : s->pw[j];
  return res->weak_p[j] != 0;
}

void fit_record_info(w2s_repr_record *rec, const w2s_lsq_info *info,
                     double ridge) {
  rec->rank = info->rank, rec->cond = info->cond, rec->ridge = ridge;
}

/* The strong head on split 1: [labels | weak labels], one factorisation. */
static w2s_err fit_strong_head(w2s_ctx *ctx, fitter *s, int *pen,
                               w2s_results *res) {
  const w2s_fit_opts *o = s->o;
  char label[160];
  w2s_lsq_info info;
  for (int64_t c = 0; c < s->ps; ++c) pen[c] = c < s->ds;
  snprintf(label, sizeof label, "%s: strong representation", o->path);
  double ridge = o->ridge[0];
  head h = {1, 0, 1, pen, label};
  if (o->nridge > 1) W2S_CALL(choose_ridge(ctx, s, &h, &ridge));
  W2S_CALL(fit_one(ctx, s, &h, ridge, s->cs, &info));
  fit_record_strong(s, res);
  fit_record_info(&res->repr[0], &info, ridge);
  return W2S_OK;
}

void fit_record_strong(const fitter *s, w2s_results *res) {
  w2s_repr_record *rec = &res->repr[0];
  snprintf(rec->name, sizeof rec->name, "strong");
  snprintf(rec->role, sizeof rec->role, "strong");
  snprintf(rec->source, sizeof rec->source, "file");
  rec->dim = s->ds;
}

/* Metrics: split 1 (train) and split 2 (test) in one pass. */
static w2s_err fit_metrics(w2s_ctx *ctx, fitter *s, w2s_results *res) {
  w2s_metric_sums sums[2] = {{0}, {0}};
  w2s_err e = w2s_agree(ctx, w2s_metric_sums_init(ctx, 1, s->J, &sums[0]));
  if (!e) e = w2s_agree(ctx, w2s_metric_sums_init(ctx, 1, s->J, &sums[1]));
  for (int64_t b = 0; b < s->nblocks && !e; ++b) {
    int64_t m;
    e = fit_read_block(ctx, s, b, &m, 1, 1);
    for (int q = 1; q <= 2 && !e; ++q) {
      int64_t k = weak_labels(s, q, m, s->Fw);
      gather(s, q, m, s->S, s->ds, s->A);
      int64_t r = 0;
      for (int64_t i = 0; i < m; ++i)
        if (s->split[i] == q) s->Yc[r++] = s->y[i];
      if (k > 0) {
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)k, s->J,
                    (int)s->ps, 1.0, s->A, (int)k, s->cs + s->ps, (int)s->ps,
                    0.0, s->Fsw, (int)k);
        cblas_dgemv(CblasColMajor, CblasNoTrans, (int)k, (int)s->ps, 1.0, s->A,
                    (int)k, s->cs, 1, 0.0, s->Fs, 1);
      }
      const w2s_pred_block pb = {k, s->Yc, k, s->Fw, k, s->Fsw, k, s->Fs, k};
      w2s_metric_sums_add(&sums[q - 1], &pb);
    }
  }
  if (!e) e = w2s_agree(ctx, w2s_metric_sums_reduce(ctx, &sums[0]));
  if (!e) e = w2s_agree(ctx, w2s_metric_sums_reduce(ctx, &sums[1]));
  if (!e) w2s_metrics_finish(&sums[1], &sums[0], 0, res->metric);
  w2s_metric_sums_free(&sums[0]);
  w2s_metric_sums_free(&sums[1]);
  return e;
}

/* The coefficients into the record (the provenance is the producer's,
 * fit_job.c). */
static w2s_err fill_results(w2s_ctx *ctx, const fitter *s, w2s_results *res) {
  res->strong_p = s->ps;
  w2s_err e = W2S_ALLOC(ctx, res->coef_ceiling, s->ps);
  if (!e) e = W2S_ALLOC(ctx, res->coef_w2s, s->ps * s->J);
  if (!e) {
    memcpy(res->coef_ceiling, s->cs, sizeof(double) * (size_t)s->ps);
    memcpy(res->coef_w2s, s->cs + s->ps,
           sizeof(double) * (size_t)(s->ps * s->J));
  }
  for (int j = 0; j < s->J && !e; ++j) {
    e = W2S_ALLOC(ctx, res->coef_weak[j], s->pw[j] > 0 ? s->pw[j] : 1);
    if (!e && s->pw[j])
      memcpy(res->coef_weak[j], s->cw[j], sizeof(double) * (size_t)s->pw[j]);
  }
  return w2s_agree(ctx, e);
}

w2s_err w2s_fit_run(w2s_ctx *ctx, const w2s_fit_opts *o, w2s_features *f,
                    int repeat, w2s_fit_scan *scan_out, w2s_results **out) {
  fitter s;
  w2s_results *res = NULL;
  int cls = o->loss == W2S_FIT_LOSS_LOGISTIC || o->loss == W2S_FIT_LOSS_SOFTMAX;
  if (!cls && w2s_features_label_kind(f) != W2S_LABELS_VALUES)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "%s: the loss of class labels is not resolved "
                    "(w2s_fit_resolve_loss)",
                    o->path);
  w2s_err e = prepare(ctx, o, f, repeat, &s, scan_out, &res);
  if (!e && cls) {
    e = fit_class_run(ctx, &s, res);
    fitter_free(&s);
    if (e) {
      w2s_results_destroy(&res);
      return e;
    }
    *out = res;
    return W2S_OK;
  }
  /* One penalty mask for every head: as long as the widest of them (a weak
   * representation may be wider than the strong one). */
  int64_t pmax = s.ps > 1 ? s.ps : 2;
  for (int j = 0; !e && j < s.J; ++j)
    if (s.pw[j] > pmax) pmax = s.pw[j];
  int *pen = NULL;
  if (!e) e = w2s_agree(ctx, W2S_ALLOC(ctx, pen, pmax));
  int factor = 0;
  if (!e) e = fit_factor_choose(ctx, &s, &factor);
  if (!e && factor) {
    e = fit_factor_run(ctx, &s, pen, res);
  } else if (!e) {
    w2s_timer_start(ctx, W2S_FIT_WEAK_FIT);
    e = fit_weak_heads(ctx, &s, pen, res);
    w2s_timer_stop(ctx, W2S_FIT_WEAK_FIT);
    w2s_timer_start(ctx, W2S_FIT_STRONG_FIT);
    if (!e) e = fit_strong_head(ctx, &s, pen, res);
    w2s_timer_stop(ctx, W2S_FIT_STRONG_FIT);
    w2s_timer_start(ctx, W2S_FIT_METRICS);
    if (!e) e = fit_metrics(ctx, &s, res);
    w2s_timer_stop(ctx, W2S_FIT_METRICS);
  }
  if (!e) e = fill_results(ctx, &s, res);
  free(pen);
  fitter_free(&s);
  if (e) {
    w2s_results_destroy(&res);
    return e;
  }
  *out = res;
  return W2S_OK;
}
