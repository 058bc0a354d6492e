/* The factor engine of simulate (fit.engine = factor).
 *
 * Every label, weak prediction, weak-to-strong prediction and ceiling of a
 * split is Z v for the split's stacked features Z = [1, units...] and a
 * small coefficient vector v, where the units are the distinct networks
 * among h* and the representations (a representation equal to h*, or to
 * another, shares its columns). So each split is streamed ONCE, running
 * each of its networks once per row block, into one TSQR factor R (D x D,
 * reduced across ranks once); then, independently of n:
 *   split 0: each weak head is the fit of its columns to the labels Z g_t;
 *   split 1: the ceiling and every w2s head, one fit of the strong columns
 *            to [Z g_t | Z v_w] (the weak heads embedded in Z's columns);
 *   splits 1 and 2: every metric from ||R u||^2 and (R d).(R e), with
 *            d = v_w - v_sw and e = v_sw - g formed in coefficient space,
 *            so gain = ||Rd||^2 + 2 (Rd).(Re) keeps its digits as the
 *            row-by-row sum does.
 * Split 0 leaves out units only the strong head uses; with
 * data.w2s_inputs = same, split 1's factor is split 0's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/simulate_impl.h"
#include "w2s/metrics.h"

enum { MAX_UNITS = 2 + W2S_MAX_WEAK };

/* Which columns of Z a split holds: unit u at [off[u], off[u] + dim[u]),
 * off[u] = -1 when the split does not need it; column 0 is the ones. */
typedef struct {
  int64_t D;
  int64_t off[MAX_UNITS];
} layout;

struct sim_factor {
  int nunit;
  const w2s_mlp *net[MAX_UNITS]; /* unit 0 is h* */
  int64_t dim[MAX_UNITS];
  int unit_of[1 + W2S_MAX_WEAK]; /* representation r -> its unit */
  layout L[3];                   /* per split */
  int64_t Dmax;
  double *Z;      /* nb x Dmax row block */
  double cost[3]; /* flops per group: [W2S_ENGINE_FACTOR], [_DIRECT] */
};

static double mlp_flops(const w2s_mlp *m) {
  return 2.0 * (double)w2s_mlp_nparams(m);
}

static void make_layout(struct sim_factor *f, const int *need, layout *L) {
  L->D = 1;
  for (int u = 0; u < f->nunit; ++u) {
    L->off[u] = need[u] ? L->D : -1;
    if (need[u]) L->D += f->dim[u];
  }
}

/* The written cost model (docs/DESIGN.md), leading flop terms per task
 * group of Tg tasks and K = Tg J pairs. Factor: per split, the networks it
 * needs and 2 n D^2 for TSQR; then O(D^2 (T + K)) small solves and metric
 * products. Direct: every pass runs every network; the fits cost
 * 2 n p^2 + 4 n p k (Householder) and every metric pass forms the
 * predictions of every head, 2 n p per column. */
static void cost_model(const sim *s, struct sim_factor *f) {
  const w2s_config *c = s->cfg;
  double Tg = c->per_task_inputs ? 1.0 : (double)c->tasks, K = Tg * s->J;
  double n0 = (double)c->n_weak_train, n1 = (double)c->n_w2s_train;
  double n2 = (double)c->n_test, nets_all = mlp_flops(s->target);
  for (int r = 0; r < s->nrep; ++r) nets_all += mlp_flops(s->rep[r]);
  const double ns[3] = {n0, c->w2s_same_inputs ? 0.0 : n1, n2};
  double fac = 0.0;
  for (int q = 0; q < 3; ++q) {
    double D = (double)f->L[q].D, nets = 0.0;
    for (int u = 0; u < f->nunit; ++u)
      if (f->L[q].off[u] >= 0) nets += mlp_flops(f->net[u]);
    fac += ns[q] * (nets + 2.0 * D * D);
  }
  double D1 = (double)f->L[1].D;
  fac += D1 * D1 * (Tg + K) + 2.0 * D1 * D1 * (2.0 * K + Tg);
  double ps = (double)s->p[0], sump = 0.0, fits = 0.0;
  for (int j = 0; j < s->J; ++j) {
    double pj = (double)s->p[1 + j];
    sump += pj;
    fits += n0 * (2.0 * pj * pj + 4.0 * pj * Tg);
  }
  fits += n1 * (2.0 * ps * ps + 4.0 * ps * (Tg + K) + 2.0 * sump * Tg);
  double metric = (n1 + n2) *
                  (2.0 * sump * Tg + 2.0 * ps * (K + Tg) + 8.0 * K + 3.0 * Tg);
  double dir = (2.0 * n0 + 2.0 * n1 + n2) * nets_all + fits + metric;
  f->cost[W2S_ENGINE_FACTOR] = fac;
  f->cost[W2S_ENGINE_DIRECT] = dir;
}

w2s_err sim_factor_plan(w2s_ctx *ctx, sim *s) {
  const w2s_config *c = s->cfg;
  struct sim_factor *f = NULL;
  W2S_CALL(W2S_ALLOC(ctx, f, 1));
  s->fac = f;
  f->net[0] = s->target;
  f->dim[0] = s->tw;
  f->nunit = 1;
  for (int r = 0; r < s->nrep; ++r) {
    int u = 0;
    while (u < f->nunit && !w2s_mlp_same(s->rep[r], f->net[u])) ++u;
    if (u == f->nunit) {
      f->net[u] = s->rep[r];
      f->dim[u] = sim_rep_dim(s, r);
      f->nunit++;
    }
    f->unit_of[r] = u;
  }
  int need0[MAX_UNITS] = {0}, need1[MAX_UNITS];
  need0[0] = 1;
  for (int j = 0; j < s->J; ++j) need0[f->unit_of[1 + j]] = 1;
  for (int u = 0; u < f->nunit; ++u) need1[u] = 1;
  make_layout(f, c->w2s_same_inputs ? need1 : need0, &f->L[0]);
  make_layout(f, need1, &f->L[1]);
  make_layout(f, need1, &f->L[2]);
  f->Dmax = f->L[1].D;
  cost_model(s, f);
  s->engine = c->engine;
  if (s->engine == W2S_ENGINE_AUTO)
    s->engine = f->cost[W2S_ENGINE_FACTOR] <= f->cost[W2S_ENGINE_DIRECT]
                    ? W2S_ENGINE_FACTOR
                    : W2S_ENGINE_DIRECT;
  w2s_log(ctx, 1,
          "engine: %s (fit.engine = %s; cost model per task group: factor "
          "%.3g, direct %.3g GFLOP; %lld stacked columns)",
          w2s_engine_names[s->engine], w2s_engine_names[c->engine],
          f->cost[W2S_ENGINE_FACTOR] * 1e-9, f->cost[W2S_ENGINE_DIRECT] * 1e-9,
          (long long)f->Dmax);
  return W2S_OK;
}

w2s_err sim_factor_alloc(w2s_ctx *ctx, sim *s) {
  return W2S_ALLOC(ctx, s->fac->Z, s->nb * s->fac->Dmax);
}

void sim_factor_free(sim *s) {
  if (!s->fac) return;
  free(s->fac->Z);
  free(s->fac);
  s->fac = NULL;
}

/* Rows [i0, i0 + m) of split q into the row block Z (m x L.D). */
static void gen_rows(sim *s, int q, int split, int64_t group, int64_t i0,
                     int64_t m) {
  struct sim_factor *f = s->fac;
  const layout *L = &f->L[q];
  double *Z = f->Z;
  sim_gen_inputs(s, split, group, i0, m);
  for (int64_t i = 0; i < m; ++i) Z[i] = 1.0;
  for (int u = 0; u < f->nunit; ++u)
    if (L->off[u] >= 0)
      w2s_mlp_forward(f->net[u], m, s->X, m, Z + L->off[u] * m, m, s->work);
}

/* Collective: split q's factor (n rows of split `split`) into z->R. */
static w2s_err factor_split(w2s_ctx *ctx, sim *s, int q, int split,
                            int64_t group, int64_t n, w2s_lsq_stacked *z) {
  const layout *L = &s->fac->L[q];
  int64_t start, count;
  w2s_partition(n, ctx->size, ctx->rank, &start, &count);
  w2s_lsq *ls = NULL;
  w2s_err e = w2s_agree(ctx, w2s_lsq_create(ctx, "tsqr", L->D, 0, &ls));
  static const char *const what[3] = {"weak-training split",
                                      "w2s-training split", "test split"};
  char label[96];
  snprintf(label, sizeof label, "stacked features of the %s", what[split]);
  if (!e) w2s_lsq_set_context(ls, label, start);
  sim_progress pr = {ctx, what[split], 0, count, 0};
  for (int64_t i = 0; i < count && !e; i += s->nb) {
    int64_t m = count - i < s->nb ? count - i : s->nb;
    gen_rows(s, q, split, group, start + i, m);
    e = w2s_lsq_add_rows(ctx, ls, m, s->fac->Z, m, s->fac->Z, m);
    sim_tick(&pr, m);
  }
  e = w2s_agree(ctx, e);
  int more = 0;
  if (!e) e = w2s_lsq_end_pass(ctx, ls, &more);
  if (!e) e = w2s_agree(ctx, w2s_lsq_copy_r(ctx, ls, z));
  /* Every rank continues from rank 0's bits. */
  if (!e && ctx->comm != MPI_COMM_NULL && ctx->size > 1)
    e = w2s_agree(ctx,
                  w2s_bcast_bytes(ctx, z->R,
                                  (int64_t)sizeof(double) * L->D * L->D, 0));
  w2s_lsq_destroy(&ls);
  return e;
}

/* The columns of representation r in layout L, in its head's order
 * (features, then the intercept's column 0). */
static int64_t rep_cols(const sim *s, const layout *L, int r, int64_t *cols) {
  int64_t d = sim_rep_dim(s, r), off = L->off[s->fac->unit_of[r]];
  for (int64_t i = 0; i < d; ++i) cols[i] = off + i;
  if (s->p[r] > d) cols[d] = 0;
  return s->p[r];
}

/* v (L.D) += representation r's head coefficients c (p_r) * sign. */
static void embed(const sim *s, const layout *L, int r, const double *c,
                  double sign, double *v) {
  int64_t d = sim_rep_dim(s, r), off = L->off[s->fac->unit_of[r]];
  for (int64_t i = 0; i < d; ++i) v[off + i] += sign * c[i];
  if (s->p[r] > d) v[0] += sign * c[d];
}

/* v (L.D) += task t's labels' coefficients * sign: a_t on h*, b_t on 1. */
static void embed_task(const sim *s, const layout *L, int64_t t, double sign,
                       double *v) {
  const double *h = s->heads + t * (s->tw + 1);
  for (int64_t i = 0; i < s->tw; ++i) v[L->off[0] + i] += sign * h[i];
  v[0] += sign * h[s->tw];
}

/* One group's scratch: a factor per split and the fit options. */
typedef struct {
  int64_t g, t0, Tg;
  int first;
  w2s_lsq_stacked z[3];
  int64_t *cols;
  int *pen;
  double *V, *X; /* chunk buffers */
  int64_t chunk; /* tasks per chunk */
  char label[160];
} fgroup;

static w2s_lsq_opts head_opts(const sim *s, fgroup *gr, int r) {
  const w2s_config *c = s->cfg;
  for (int64_t i = 0; i < s->p[r]; ++i) gr->pen[i] = 1;
  if (c->intercept) gr->pen[s->p[r] - 1] = 0;
  return (w2s_lsq_opts){c->ridge, gr->pen, c->rank_tol, gr->label};
}

/* Split 0: weak head j of every task of the group. */
static w2s_err weak_fits(w2s_ctx *ctx, sim *s, fgroup *gr, w2s_results *res) {
  const layout *L = &s->fac->L[0];
  int64_t D = L->D;
  w2s_err e = W2S_OK;
  for (int j = 0; j < s->J && !e; ++j) {
    int r = 1 + j;
    int64_t pj = rep_cols(s, L, r, gr->cols);
    snprintf(gr->label, sizeof gr->label, "weak model '%s' (task group %lld)",
             s->cfg->weak[j].name, (long long)gr->g);
    w2s_lsq_opts o = head_opts(s, gr, r);
    for (int64_t t0 = 0; t0 < gr->Tg && !e; t0 += gr->chunk) {
      int64_t tc = gr->Tg - t0 < gr->chunk ? gr->Tg - t0 : gr->chunk;
      memset(gr->V, 0, sizeof(double) * (size_t)(D * tc));
      for (int64_t t = 0; t < tc; ++t)
        embed_task(s, L, gr->t0 + t0 + t, 1.0, gr->V + t * D);
      w2s_lsq_info info;
      e = w2s_lsq_subfit(ctx, &gr->z[0], gr->cols, pj, gr->V, D, tc, &o,
                         s->Cw[j] + (gr->t0 + t0) * pj, &info);
      if (!e && t0 == 0) sim_record_fit(ctx, res, r, pj, &info, gr->first);
    }
  }
  return w2s_agree(ctx, e);
}

/* Split 1: the ceiling and the w2s heads, chunk by chunk of tasks. */
static w2s_err strong_fits(w2s_ctx *ctx, sim *s, fgroup *gr, w2s_results *res) {
  const layout *L = &s->fac->L[1];
  const int64_t D = L->D, J = s->J;
  int64_t ps = rep_cols(s, L, 0, gr->cols);
  snprintf(gr->label, sizeof gr->label,
           "strong representation (task group %lld)", (long long)gr->g);
  w2s_lsq_opts o = head_opts(s, gr, 0);
  w2s_err e = W2S_OK;
  for (int64_t t0 = 0; t0 < gr->Tg && !e; t0 += gr->chunk) {
    int64_t tc = gr->Tg - t0 < gr->chunk ? gr->Tg - t0 : gr->chunk;
    int64_t T = gr->t0 + t0, k = tc * (1 + J);
    memset(gr->V, 0, sizeof(double) * (size_t)(D * k));
    for (int64_t t = 0; t < tc; ++t) {
      embed_task(s, L, T + t, 1.0, gr->V + t * D);
      for (int j = 0; j < J; ++j)
        embed(s, L, 1 + j, s->Cw[j] + (T + t) * s->p[1 + j], 1.0,
              gr->V + (tc + t * J + j) * D);
    }
    w2s_lsq_info info;
    e = w2s_lsq_subfit(ctx, &gr->z[1], gr->cols, ps, gr->V, D, k, &o, gr->X,
                       &info);
    if (e) break;
    if (t0 == 0) sim_record_fit(ctx, res, 0, ps, &info, gr->first);
    memcpy(s->Cceil + T * ps, gr->X, sizeof(double) * (size_t)(ps * tc));
    memcpy(s->Csw + T * J * ps, gr->X + tc * ps,
           sizeof(double) * (size_t)(ps * tc * J));
  }
  return w2s_agree(ctx, e);
}

/* The metric sums of split q from its factor (sums over rows, as the
 * row-by-row pass accumulates them). */
static void factor_sums(sim *s, fgroup *gr, int q, w2s_metric_sums *ms) {
  const layout *L = &s->fac->L[q];
  const w2s_lsq_stacked *z = &gr->z[q];
  const int64_t D = L->D, J = s->J, ps = s->p[0];
  ms->n = z->nrows;
  for (int64_t t0 = 0; t0 < gr->Tg; t0 += gr->chunk) {
    int64_t tc = gr->Tg - t0 < gr->chunk ? gr->Tg - t0 : gr->chunk;
    int64_t T = gr->t0 + t0, k = tc * (1 + 2 * J);
    double *V = gr->V;
    memset(V, 0, sizeof(double) * (size_t)(D * k));
    for (int64_t t = 0; t < tc; ++t) {
      double *c = V + t * D; /* ceiling - labels */
      embed(s, L, 0, s->Cceil + (T + t) * ps, 1.0, c);
      embed_task(s, L, T + t, -1.0, c);
      for (int j = 0; j < J; ++j) {
        int64_t pr = (T + t) * J + j;
        double *d = V + (tc + 2 * (t * J + j)) * D, *e = d + D;
        embed(s, L, 1 + j, s->Cw[j] + (T + t) * s->p[1 + j], 1.0, d);
        embed(s, L, 0, s->Csw + pr * ps, -1.0, d); /* d = v_w - v_sw */
        embed(s, L, 0, s->Csw + pr * ps, 1.0, e);
        embed_task(s, L, T + t, -1.0, e); /* e = v_sw - g */
      }
    }
    w2s_lsq_apply_r(z->R, D, V, D, k);
    for (int64_t t = 0; t < tc; ++t) {
      const double *c = V + t * D;
      double acc = 0.0;
      for (int64_t i = 0; i < D; ++i) acc += c[i] * c[i];
      ms->ceiling[t0 + t] = acc;
      for (int j = 0; j < J; ++j) {
        int64_t kk = (t0 + t) * J + j;
        const double *d = V + (tc + 2 * (t * J + j)) * D, *e = d + D;
        w2s_metric_sums_set_pair(ms, kk, d, e, D);
      }
    }
  }
}

static w2s_err group_alloc(w2s_ctx *ctx, const sim *s, fgroup *gr) {
  const struct sim_factor *f = s->fac;
  int64_t D = f->Dmax, per = 1 + 2 * (int64_t)s->J;
  /* Chunks of tasks bound the coefficient buffers to ~2^20 doubles. */
  gr->chunk = ((int64_t)1 << 20) / (D * per);
  if (gr->chunk < 1) gr->chunk = 1;
  if (gr->chunk > gr->Tg) gr->chunk = gr->Tg;
  w2s_err e = W2S_OK;
  for (int q = 0; q < 3 && !e; ++q)
    e = W2S_ALLOC(ctx, gr->z[q].R, f->L[q].D * f->L[q].D);
  if (!e) e = W2S_ALLOC(ctx, gr->cols, s->pmax);
  if (!e) e = W2S_ALLOC(ctx, gr->pen, s->pmax);
  if (!e) e = W2S_ALLOC(ctx, gr->V, D * gr->chunk * per);
  if (!e) e = W2S_ALLOC(ctx, gr->X, s->p[0] * gr->chunk * per);
  return e;
}

static void group_free(fgroup *gr) {
  for (int q = 0; q < 3; ++q) free(gr->z[q].R);
  free(gr->cols);
  free(gr->pen);
  free(gr->V);
  free(gr->X);
}

/* Overflowing features or labels (beyond ~1e154) leave R finite but their
 * squared norms infinite: refuse, as the row-by-row sums do. The same
 * verdict on every rank (the same R and coefficients). */
static w2s_err sums_check(w2s_ctx *ctx, const w2s_metric_sums *ms,
                          const char *split) {
  if (w2s_metric_sums_finite(ms)) return W2S_OK;
  return W2S_FAIL(ctx, W2S_ERR_INPUT,
                  "the metrics of the %s overflow the double range (features "
                  "or labels beyond ~1e154; try a smaller data.input_scale)",
                  split);
}

/* Split 1's and 2's metrics; split 2's factor is streamed here. */
static w2s_err group_metrics(w2s_ctx *ctx, sim *s, fgroup *gr,
                             w2s_results *res) {
  const w2s_config *c = s->cfg;
  w2s_metric_sums sums[2] = {{0}, {0}};
  w2s_timer_start(ctx, W2S_SIM_TRAIN_METRICS);
  w2s_err e = w2s_agree(ctx, w2s_metric_sums_init(ctx, gr->Tg, s->J, &sums[0]));
  if (!e) {
    factor_sums(s, gr, 1, &sums[0]);
    e = sums_check(ctx, &sums[0], "w2s-training split");
  }
  w2s_timer_stop(ctx, W2S_SIM_TRAIN_METRICS);
  w2s_timer_start(ctx, W2S_SIM_TEST_METRICS);
  if (!e) e = w2s_agree(ctx, w2s_metric_sums_init(ctx, gr->Tg, s->J, &sums[1]));
  if (!e) e = factor_split(ctx, s, 2, SPLIT_TEST, gr->g, c->n_test, &gr->z[2]);
  if (!e) {
    factor_sums(s, gr, 2, &sums[1]);
    e = sums_check(ctx, &sums[1], "test split");
  }
  w2s_timer_stop(ctx, W2S_SIM_TEST_METRICS);
  if (!e) w2s_metrics_finish(&sums[1], &sums[0], gr->t0 * s->J, res->metric);
  w2s_metric_sums_free(&sums[0]);
  w2s_metric_sums_free(&sums[1]);
  return e;
}

w2s_err sim_factor_group(w2s_ctx *ctx, sim *s, int64_t g, int64_t Tg,
                         w2s_results *res) {
  const w2s_config *c = s->cfg;
  fgroup gr;
  memset(&gr, 0, sizeof gr);
  gr.g = g;
  gr.t0 = g * Tg;
  gr.Tg = Tg;
  gr.first = g == 0;
  w2s_err e = w2s_agree(ctx, group_alloc(ctx, s, &gr));
  w2s_timer_start(ctx, W2S_SIM_WEAK_FIT);
  if (!e) e = factor_split(ctx, s, 0, SPLIT_WEAK, g, c->n_weak_train, &gr.z[0]);
  if (!e) e = weak_fits(ctx, s, &gr, res);
  w2s_timer_stop(ctx, W2S_SIM_WEAK_FIT);
  w2s_timer_start(ctx, W2S_SIM_STRONG_FIT);
  if (!e && c->w2s_same_inputs) {
    gr.z[1].D = gr.z[0].D;
    gr.z[1].nrows = gr.z[0].nrows;
    memcpy(gr.z[1].R, gr.z[0].R,
           sizeof(double) * (size_t)(gr.z[0].D * gr.z[0].D));
  } else if (!e) {
    e = factor_split(ctx, s, 1, SPLIT_W2S, g, c->n_w2s_train, &gr.z[1]);
  }
  if (!e) e = strong_fits(ctx, s, &gr, res);
  w2s_timer_stop(ctx, W2S_SIM_STRONG_FIT);
  if (!e) e = group_metrics(ctx, s, &gr, res);
  group_free(&gr);
  return e;
}

int64_t sim_factor_columns(const sim *s) { return s->fac->Dmax; }
