/* The factor engine of `w2s fit` (--engine factor).
 *
 * The file is read ONCE. Each split's rows, stacked as
 *   Z = [1, strong features, per weak model its features (or its one
 *        column of predictions), labels],
 * are folded into one TSQR factor R per split (with several --ridge values,
 * also one per part of splits 0 and 1: the 80% that fits and the 20% held
 * out). The labels, the weak labels and every head's predictions are then
 * Z v for small coefficient vectors v, so every fit is a small solve on R
 * (w2s_lsq_subfit) and every metric a norm ||R u||^2 (see lsq.h): the same
 * fits and metrics as the row-by-row engine (fit.c), from one read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/fit_impl.h"
#include "w2s/metrics.h"

enum { PARTS = 3 }; /* 0: every row of the split; 1: fitting; 2: held out */

typedef struct {
  int64_t D, off_y;
  int64_t *off_w; /* per weak model: first column (features or predictions) */
  int *fitted;    /* per weak model: 1 = a head on its features */
  int nparts;     /* 1, or PARTS with several ridge values */
  w2s_lsq *acc[3][PARTS];
  w2s_lsq_stacked z[3][PARTS];
  double *Z;         /* row block, nb x D */
  int64_t *cols;     /* a head's columns */
  double *V, *X, *U; /* targets (D x (1 + J)), solutions, residuals */
} ffit;

static int predictions_only(const fitter *s, int j) {
  return s->pw[j] == 0 || w2s_features_has_predictions(s->f, j);
}

static void layout(const fitter *s, ffit *f) {
  int64_t D = 1 + s->ds;
  for (int j = 0; j < s->J; ++j) {
    f->fitted[j] = !predictions_only(s, j);
    f->off_w[j] = D;
    D += f->fitted[j] ? s->dw[j] : 1;
  }
  f->off_y = D;
  f->D = D + 1;
}

/* The written cost model (docs/DESIGN.md), in flop equivalents: a value
 * read from the file counts READ_COST. Factor: one read, 2 n D^2 per TSQR
 * row. Direct: one read per head and ridge candidate (plus the hold-out
 * scoring and the metric pass), Householder fits 2 n p^2 + 4 n p k. */
static const double READ_COST = 20.0;

static void costs(const fitter *s, double *fac, double *dir, int64_t *Dout) {
  const w2s_fit_opts *o = s->o;
  int64_t Di = 2 + s->ds;
  for (int j = 0; j < s->J; ++j) Di += predictions_only(s, j) ? 1 : s->dw[j];
  *Dout = Di;
  double n = (double)s->n, n0 = (double)s->nsplit[0];
  double n1 = (double)s->nsplit[1], n2 = (double)s->nsplit[2];
  double width = (double)(Di - 1), D = (double)Di;
  double cv = o->nridge > 1 ? 1.0 : 0.0, per_head = o->nridge + cv + 1.0;
  *fac = n * width * READ_COST + 2.0 * D * D * (n + cv * (n0 + n1));
  double reads = 1.0 + per_head, fits = 0.0, ps = (double)s->ps;
  for (int j = 0; j < s->J; ++j) {
    if (predictions_only(s, j)) continue;
    double pw = (double)s->pw[j];
    reads += per_head;
    fits += per_head * n0 * (2.0 * pw * pw + 4.0 * pw);
  }
  double k = 1.0 + s->J;
  fits += per_head * n1 * (2.0 * ps * ps + 4.0 * ps * k);
  fits += (n1 + n2) * 2.0 * ps * (k + (double)s->J);
  *dir = reads * n * width * READ_COST + fits;
}

w2s_err fit_factor_choose(w2s_ctx *ctx, const fitter *s, int *use) {
  const w2s_fit_opts *o = s->o;
  int any = strcmp(o->solver, "auto") == 0 || strcmp(o->solver, "tsqr") == 0;
  int engine = o->engine;
  *use = 0;
  if (!any && engine == W2S_ENGINE_FACTOR)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "--engine factor factors the stacked columns with tsqr; "
                    "--solver %s applies to --engine direct only",
                    o->solver);
  if (!any) engine = W2S_ENGINE_DIRECT; /* the named solver is honoured */
  double fac, dir;
  int64_t D;
  costs(s, &fac, &dir, &D);
  if (engine == W2S_ENGINE_AUTO)
    engine = fac <= dir ? W2S_ENGINE_FACTOR : W2S_ENGINE_DIRECT;
  w2s_log(ctx, 1,
          "engine: %s (--engine %s%s; cost model: factor %.3g, direct %.3g "
          "GFLOP-equivalents; %lld stacked columns)",
          w2s_engine_names[engine], w2s_engine_names[o->engine],
          any ? "" : ", named solver", fac * 1e-9, dir * 1e-9, (long long)D);
  *use = engine == W2S_ENGINE_FACTOR;
  return W2S_OK;
}

static void ffit_free(ffit *f) {
  for (int q = 0; q < 3; ++q)
    for (int p = 0; p < PARTS; ++p) {
      w2s_lsq_destroy(&f->acc[q][p]);
      free(f->z[q][p].R);
    }
  free(f->off_w), free(f->fitted), free(f->Z), free(f->cols);
  free(f->V), free(f->X), free(f->U);
}

static int nparts_of(const ffit *f, int q) { return q < 2 ? f->nparts : 1; }

static w2s_err ffit_alloc(w2s_ctx *ctx, const fitter *s, ffit *f) {
  int64_t J = s->J, pmax = s->ps;
  for (int j = 0; j < J; ++j)
    if (s->pw[j] > pmax) pmax = s->pw[j];
  W2S_CALL(W2S_ALLOC(ctx, f->off_w, J + 1));
  W2S_CALL(W2S_ALLOC(ctx, f->fitted, J + 1));
  layout(s, f);
  f->nparts = s->o->nridge > 1 ? PARTS : 1;
  int64_t D = f->D;
  W2S_CALL(W2S_ALLOC(ctx, f->Z, s->nb * D));
  W2S_CALL(W2S_ALLOC(ctx, f->cols, pmax));
  W2S_CALL(W2S_ALLOC(ctx, f->V, D * (1 + 2 * J)));
  W2S_CALL(W2S_ALLOC(ctx, f->X, pmax * (1 + J)));
  W2S_CALL(W2S_ALLOC(ctx, f->U, D * (1 + 2 * J)));
  for (int q = 0; q < 3; ++q)
    for (int p = 0; p < nparts_of(f, q); ++p) {
      W2S_CALL(W2S_ALLOC(ctx, f->z[q][p].R, D * D));
      W2S_CALL(w2s_lsq_create(ctx, "tsqr", D, 0, &f->acc[q][p]));
    }
  return W2S_OK;
}

/* Rows i of the block in split q (and part p), stacked into f->Z. */
static int64_t stack_rows(const fitter *s, ffit *f, int q, int p, int64_t g0,
                          int64_t m) {
  int64_t k = 0;
  for (int64_t i = 0; i < m; ++i)
    k += s->split[i] == q && (p == 0 || fit_held_out(s, g0 + i) == (p == 2));
  double *Z = f->Z;
  int64_t r = 0;
  for (int64_t i = 0; i < m; ++i) {
    if (s->split[i] != q || (p != 0 && fit_held_out(s, g0 + i) != (p == 2)))
      continue;
    Z[r] = 1.0;
    for (int64_t c = 0; c < s->ds; ++c) Z[(1 + c) * k + r] = s->S[c * m + i];
    for (int j = 0; j < s->J; ++j) {
      int64_t o = f->off_w[j];
      if (f->fitted[j])
        for (int64_t c = 0; c < s->dw[j]; ++c)
          Z[(o + c) * k + r] = s->W[j][c * m + i];
      else
        Z[o * k + r] = s->P[j * m + i];
    }
    Z[f->off_y * k + r] = s->y[i];
    ++r;
  }
  return k;
}

/* Collective: the one read of the file into every factor. */
static w2s_err read_factors(w2s_ctx *ctx, fitter *s, ffit *f) {
  w2s_err e = W2S_OK;
  for (int64_t b = 0; b < s->nblocks; ++b) {
    int64_t m;
    W2S_CALL(fit_read_block(ctx, s, b, &m, 1, 1));
    int64_t g0 = s->start + b * s->nb;
    for (int q = 0; q < 3 && !e; ++q)
      for (int p = 0; p < nparts_of(f, q) && !e; ++p) {
        int64_t k = stack_rows(s, f, q, p, g0, m);
        e = w2s_lsq_add_rows(ctx, f->acc[q][p], k, f->Z, k > 0 ? k : 1, f->Z,
                             k > 0 ? k : 1);
      }
    if ((b + 1) % (s->nblocks / 50 + 1) == 0 || b + 1 == s->nblocks)
      w2s_progress(ctx, "reading", (double)(b + 1) / (double)s->nblocks);
  }
  W2S_CALL(w2s_agree(ctx, e));
  for (int q = 0; q < 3; ++q)
    for (int p = 0; p < nparts_of(f, q); ++p) {
      int more = 0;
      W2S_CALL(w2s_lsq_end_pass(ctx, f->acc[q][p], &more));
      w2s_lsq_stacked *z = &f->z[q][p];
      W2S_CALL(w2s_agree(ctx, w2s_lsq_copy_r(ctx, f->acc[q][p], z)));
      if (ctx->comm != MPI_COMM_NULL && ctx->size > 1)
        W2S_CALL(w2s_agree(ctx, w2s_bcast_bytes(ctx, z->R,
                                                (int64_t)sizeof(double) * z->D *
                                                    z->D,
                                                0)));
    }
  return W2S_OK;
}

/* v (D) += sign * the coefficients c of a head on columns cols[0..p). */
static void embed(const int64_t *cols, int64_t p, const double *c, double sign,
                  double *v) {
  for (int64_t i = 0; i < p; ++i) v[cols[i]] += sign * c[i];
}

/* Sum over targets [c0, k) of ||R (Z-coefficients of X - V)||^2 on the
 * held-out factor: the hold-out error of one ridge candidate. */
static double held_error(const ffit *f, const w2s_lsq_stacked *z,
                         const int64_t *cols, int64_t p, const double *X,
                         int64_t c0, int64_t k) {
  int64_t D = f->D;
  double err = 0.0;
  for (int64_t c = c0; c < k; ++c) {
    double *u = f->U;
    for (int64_t i = 0; i < D; ++i) u[i] = -f->V[c * D + i];
    embed(cols, p, X + c * p, 1.0, u);
    w2s_lsq_apply_r(z->R, D, u, D, 1);
    for (int64_t i = 0; i < D; ++i) err += u[i] * u[i];
  }
  return err;
}

/* One head: columns cols[0..p) of split q's factor to the k targets f->V,
 * choosing the ridge on the held-out part when there are several. */
static w2s_err fit_head(w2s_ctx *ctx, const fitter *s, ffit *f, int q,
                        int64_t p, int64_t k, int *pen, const char *label,
                        double *X, w2s_lsq_info *info, double *ridge) {
  const w2s_fit_opts *o = s->o;
  *ridge = o->ridge[0];
  if (o->nridge > 1) {
    double best = INFINITY;
    int64_t c0 = q == 1 ? 1 : 0; /* strong: scored on the weak labels */
    for (int l = 0; l < o->nridge; ++l) {
      w2s_lsq_opts lo = {o->ridge[l], pen, 0.0, label};
      W2S_CALL(w2s_lsq_subfit(ctx, &f->z[q][1], f->cols, p, f->V, f->D, k, &lo,
                              X, info));
      double err = held_error(f, &f->z[q][2], f->cols, p, X, c0, k);
      if (err < best) best = err, *ridge = o->ridge[l];
    }
    w2s_log(ctx, 1, "%s: ridge %g chosen on held-out rows", label, *ridge);
  }
  w2s_lsq_opts lo = {*ridge, pen, 0.0, label};
  return w2s_lsq_subfit(ctx, &f->z[q][0], f->cols, p, f->V, f->D, k, &lo, X,
                        info);
}

static int64_t head_cols(int64_t off, int64_t d, int64_t *cols, int *pen) {
  for (int64_t c = 0; c < d; ++c) cols[c] = off + c, pen[c] = 1;
  cols[d] = 0, pen[d] = 0;
  return d + 1;
}

static w2s_err weak_heads(w2s_ctx *ctx, fitter *s, ffit *f, int *pen,
                          w2s_results *res) {
  char label[160];
  for (int j = 0; j < s->J; ++j) {
    if (!fit_record_weak(s, res, j)) continue;
    int64_t p = head_cols(f->off_w[j], s->dw[j], f->cols, pen);
    memset(f->V, 0, sizeof(double) * (size_t)f->D);
    f->V[f->off_y] = 1.0;
    snprintf(label, sizeof label, "%s: weak model '%s'", s->o->path,
             w2s_features_weak_name(s->f, j));
    w2s_lsq_info info;
    double ridge;
    W2S_CALL(w2s_agree(ctx, fit_head(ctx, s, f, 0, p, 1, pen, label, s->cw[j],
                                     &info, &ridge)));
    fit_record_info(&res->repr[1 + j], &info, ridge);
  }
  return W2S_OK;
}

/* The Z-coefficients of weak model j's labels, added into v. */
static void weak_label(const fitter *s, const ffit *f, int j, double *v) {
  if (!f->fitted[j]) {
    v[f->off_w[j]] += 1.0;
    return;
  }
  for (int64_t c = 0; c < s->dw[j]; ++c) v[f->off_w[j] + c] += s->cw[j][c];
  v[0] += s->cw[j][s->dw[j]];
}

static w2s_err strong_head(w2s_ctx *ctx, fitter *s, ffit *f, int *pen,
                           w2s_results *res) {
  int64_t D = f->D, J = s->J, p = head_cols(1, s->ds, f->cols, pen);
  memset(f->V, 0, sizeof(double) * (size_t)(D * (1 + J)));
  f->V[f->off_y] = 1.0;
  for (int j = 0; j < J; ++j) weak_label(s, f, j, f->V + (1 + j) * D);
  char label[160];
  snprintf(label, sizeof label, "%s: strong representation", s->o->path);
  w2s_lsq_info info;
  double ridge;
  W2S_CALL(w2s_agree(ctx, fit_head(ctx, s, f, 1, p, 1 + J, pen, label, s->cs,
                                   &info, &ridge)));
  fit_record_strong(s, res);
  fit_record_info(&res->repr[0], &info, ridge);
  return W2S_OK;
}

/* Split q's metric sums from its factor: ceiling, then per weak model
 * d = v_w - v_sw and e = v_sw - y in coefficient space. */
static void factor_sums(const fitter *s, ffit *f, int q, w2s_metric_sums *ms) {
  const w2s_lsq_stacked *z = &f->z[q][0];
  int64_t D = f->D, J = s->J, p = s->ps;
  double *U = f->U;
  memset(U, 0, sizeof(double) * (size_t)(D * (1 + 2 * J)));
  embed(f->cols, p, s->cs, 1.0, U);
  U[f->off_y] -= 1.0;
  for (int j = 0; j < J; ++j) {
    double *d = U + (1 + 2 * j) * D, *e = d + D;
    const double *csw = s->cs + (1 + j) * p;
    weak_label(s, f, j, d);
    embed(f->cols, p, csw, -1.0, d);
    embed(f->cols, p, csw, 1.0, e);
    e[f->off_y] -= 1.0;
  }
  w2s_lsq_apply_r(z->R, D, U, D, 1 + 2 * J);
  ms->n = z->nrows;
  ms->ceiling[0] = 0.0;
  for (int64_t i = 0; i < D; ++i) ms->ceiling[0] += U[i] * U[i];
  for (int j = 0; j < J; ++j) {
    const double *d = U + (1 + 2 * j) * D, *e = d + D;
    w2s_metric_sums_set_pair(ms, j, d, e, D);
  }
}

static w2s_err metrics(w2s_ctx *ctx, fitter *s, ffit *f, int *pen,
                       w2s_results *res) {
  w2s_metric_sums sums[2] = {{0}, {0}};
  head_cols(1, s->ds, f->cols, pen); /* the strong head's columns */
  w2s_err e = w2s_agree(ctx, w2s_metric_sums_init(ctx, 1, s->J, &sums[0]));
  if (!e) e = w2s_agree(ctx, w2s_metric_sums_init(ctx, 1, s->J, &sums[1]));
  if (!e) {
    factor_sums(s, f, 1, &sums[0]);
    factor_sums(s, f, 2, &sums[1]);
    /* Values beyond ~1e154 leave R finite but their squares infinite. */
    if (!w2s_metric_sums_finite(&sums[0]) || !w2s_metric_sums_finite(&sums[1]))
      e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                   "%s: the metrics overflow the double range (features or "
                   "labels beyond ~1e154; rescale them or use --standardize)",
                   s->o->path);
  }
  if (!e) w2s_metrics_finish(&sums[1], &sums[0], 0, res->metric);
  w2s_metric_sums_free(&sums[0]);
  w2s_metric_sums_free(&sums[1]);
  return e;
}

w2s_err fit_factor_run(w2s_ctx *ctx, fitter *s, int *pen, w2s_results *res) {
  ffit f;
  memset(&f, 0, sizeof f);
  w2s_timer_start(ctx, W2S_FIT_WEAK_FIT);
  w2s_err e = w2s_agree(ctx, ffit_alloc(ctx, s, &f));
  if (!e) e = read_factors(ctx, s, &f);
  if (!e) e = weak_heads(ctx, s, &f, pen, res);
  w2s_timer_stop(ctx, W2S_FIT_WEAK_FIT);
  w2s_timer_start(ctx, W2S_FIT_STRONG_FIT);
  if (!e) e = strong_head(ctx, s, &f, pen, res);
  w2s_timer_stop(ctx, W2S_FIT_STRONG_FIT);
  w2s_timer_start(ctx, W2S_FIT_METRICS);
  if (!e) e = metrics(ctx, s, &f, pen, res);
  w2s_timer_stop(ctx, W2S_FIT_METRICS);
  ffit_free(&f);
  return e;
}
