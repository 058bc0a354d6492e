/* The simulate pipeline's setup: the target network and task heads, every
 * representation (its source may be collective: pre-training), the sample
 * counts against each head, the row-block buffers and the record's
 * shapes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/simulate_impl.h"
#include "w2s/rng.h"

/* Per-block buffers are capped at this many doubles each. */
static const int64_t block_doubles_cap = (int64_t)1 << 23; /* 64 MiB */

void sim_free(sim *s) {
  w2s_mlp_destroy(&s->target);
  if (s->rep)
    for (int r = 0; r < s->nrep; ++r) w2s_mlp_destroy(&s->rep[r]);
  if (s->F)
    for (int r = 0; r < s->nrep; ++r) free(s->F[r]);
  if (s->Cw)
    for (int j = 0; j < s->J; ++j) free(s->Cw[j]);
  free(s->rep);
  free(s->F);
  free(s->Cw);
  free(s->heads);
  free(s->p);
  free(s->row);
  free(s->X);
  free(s->Hstar);
  free(s->Y);
  free(s->A);
  free(s->B);
  free(s->Pw);
  free(s->Psw);
  free(s->Ps);
  free(s->work);
  free(s->Cceil);
  free(s->Csw);
  sim_factor_free(s);
}

/* The representation sources' hooks into files and results. */
static w2s_err hook_cache_get(void *host, w2s_ctx *ctx, const char *path,
                              const char *key, double *params, int64_t n,
                              int *found) {
  (void)host;
  return w2s_cache_get(ctx, path, key, params, n, found);
}
static w2s_err hook_cache_put(void *host, w2s_ctx *ctx, const char *path,
                              const char *key, const double *params,
                              int64_t n) {
  (void)host;
  return w2s_cache_put(ctx, path, key, params, n);
}
static w2s_err hook_curve(void *host, w2s_ctx *ctx, const char *name,
                          const double *values, int64_t n) {
  return w2s_results_add_curve(ctx, host, name, values, n);
}

/* The per-rank memory of a configuration's networks, coefficients and fits,
 * checked before allocating anything large; the message names the largest
 * network's section and shape. */
static w2s_err check_memory(w2s_ctx *ctx, const w2s_config *c) {
  double tparams = w2s_mlp_count_params(c->input_dim, c->target_width,
                                        c->target_depth);
  double doubles = tparams, biggest = tparams, pmax = (double)c->target_width;
  double stacked = 1.0 + (double)c->target_width; /* the factor engine's D */
  char what[160];
  snprintf(what, sizeof what, "[target] depth = %lld, width = %lld",
           (long long)c->target_depth, (long long)c->target_width);
  for (int r = 0; r <= c->nweak; ++r) {
    const w2s_repr_config *rc = r == 0 ? &c->strong : &c->weak[r - 1];
    double n = tparams, d = (double)c->target_width;
    if (rc->source->uses_shape) {
      n = w2s_mlp_count_params(c->input_dim, rc->width_p.i, rc->depth_p.i);
      d = (double)(rc->depth_p.i == 0 ? c->input_dim : rc->width_p.i);
    }
    doubles += n;
    stacked += d;
    if (d > pmax) pmax = d;
    if (n > biggest && rc->source->uses_shape) {
      biggest = n;
      snprintf(what, sizeof what, "[%s] depth = %lld, width = %lld",
               rc->section, (long long)rc->depth_p.i, (long long)rc->width_p.i);
    }
  }
  pmax += 1.0;
  /* Task heads, fitted coefficients of every pair and task, one solver's
   * p x p factor, and the row blocks of the widest representation. */
  double pairs = (double)c->tasks * (double)(c->nweak + 2);
  doubles += pairs * pmax + 2.0 * pmax * pmax +
             (double)c->block_rows * (4.0 * pmax + (double)c->input_dim);
  /* The factor engine: three split factors, TSQR's state and the row
   * block of D stacked columns (an upper bound: shared units count twice). */
  if (c->engine != W2S_ENGINE_DIRECT && !c->softmax)
    doubles += 5.0 * stacked * stacked + (double)c->block_rows * stacked;
  /* Softmax heads: a split's features held (h* and every representation,
   * this rank's rows), a fit's targets (capped at 2^24 doubles) and the
   * Newton state of every head of a fit (gradient, Hessian, iterates). */
  if (c->softmax) {
    double n = (double)c->n_weak_train;
    if ((double)c->n_w2s_train > n) n = (double)c->n_w2s_train;
    if ((double)c->n_test > n) n = (double)c->n_test;
    double rows = ceil(n / (double)ctx->size), C = (double)c->classes;
    double q = pmax * (C - 1.0), heads = (double)c->tasks * (c->nweak + 1);
    if (c->per_task_inputs) heads = (double)(c->nweak + 1);
    double targets = rows * C * heads;
    doubles += rows * (stacked - 1.0 + (double)(c->nweak + 1)) +
               (targets < 16777216.0 ? targets : 16777216.0) +
               heads * (3.0 * q + q * q) + 4096.0 * (q + pmax + 2.0 * C);
  }
  return w2s_check_memory(ctx, 8.0 * doubles,
                          "%s: the run (networks and fits; largest: %s; "
                          "%lld tasks)",
                          c->path, what, (long long)c->tasks);
}

w2s_err sim_setup(w2s_ctx *ctx, const w2s_config *c, sim *s, w2s_results *res) {
  W2S_CALL(check_memory(ctx, c));
  w2s_repr_hooks hooks = {res, hook_cache_get, hook_cache_put, hook_curve};
  s->cfg = c;
  s->J = c->nweak;
  s->nrep = 1 + c->nweak;
  s->tw = c->target_width;
  w2s_err e = w2s_mlp_create(ctx, c->input_dim, c->target_width,
                             c->target_depth, &s->target);
  if (!e) e = W2S_ALLOC(ctx, s->heads, (s->tw + 1) * c->tasks * c->classes);
  if (!e) e = W2S_ALLOC(ctx, s->rep, s->nrep);
  if (!e) e = W2S_ALLOC(ctx, s->p, s->nrep);
  if (!e) e = W2S_ALLOC(ctx, s->F, s->nrep);
  if (!e) e = W2S_ALLOC(ctx, s->Cw, s->J);
  /* The sources below may be collective (pre-training, its cache): every
   * rank goes on to them, or none; sim_free releases what was allocated. */
  W2S_CALL(w2s_agree(ctx, e));
  w2s_mlp_init_uniform(s->target, c->seed, W2S_STREAM_TARGET);
  double bound = 1.0 / sqrt((double)s->tw);
  /* Task t's head of class k (one class for linear heads): counter
   * (t, k, 0); class 0 of a softmax head is task t's linear head. */
  for (int64_t t = 0; t < c->tasks; ++t)
    for (int64_t k = 0; k < c->classes; ++k)
      w2s_rng_uniform(c->seed, W2S_STREAM_TASK_HEADS, (uint64_t)t, (uint64_t)k,
                      0, s->tw + 1, -bound, bound,
                      s->heads + (t * c->classes + k) * (s->tw + 1));
  int64_t wmax = c->target_width > c->input_dim ? c->target_width
                                                : c->input_dim;
  int64_t work_rows_per = 2 * wmax;
  for (int r = 0; r < s->nrep; ++r) {
    const w2s_repr_config *rc = r == 0 ? &c->strong : &c->weak[r - 1];
    w2s_repr_env env = {rc->section, c->seed,        c->input_dim,
                        s->target,   rc->depth_p.i,  rc->width_p.i,
                        rc->own,     c->input_scale, &hooks};
    /* A source that failed on one rank must stop the next source's
     * collectives on every rank. */
    W2S_CALL(w2s_agree(ctx, rc->source->create(ctx, &env, &s->rep[r])));
    s->p[r] = sim_rep_dim(s, r) + (c->intercept ? 1 : 0);
    if (s->p[r] > s->pmax) s->pmax = s->p[r];
    int64_t per = w2s_mlp_work_size(s->rep[r], 1);
    if (per > work_rows_per) work_rows_per = per;
  }
  /* Sample counts against the parameters of each fit. */
  for (int j = 0; j < s->J; ++j)
    if (c->n_weak_train < s->p[1 + j])
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: data.n_weak_train = %lld is smaller than the %lld "
                      "parameters of the head of weak model '%s'",
                      c->path, (long long)c->n_weak_train,
                      (long long)s->p[1 + j], c->weak[j].name);
  if (c->n_w2s_train < s->p[0])
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: data.n_w2s_train = %lld is smaller than the %lld "
                    "parameters of the strong head",
                    c->path, (long long)c->n_w2s_train, (long long)s->p[0]);

  if (c->softmax) {
    s->engine = W2S_ENGINE_DIRECT;
    w2s_log(ctx, 1,
            "heads: softmax over %lld classes (temperature %g, %s labels), "
            "fitted by Newton to relative gradient %g",
            (long long)c->classes, c->temperature,
            c->labels_sampled ? "sampled" : "soft", c->newton_tol);
  } else {
    W2S_CALL(sim_factor_plan(ctx, s));
  }
  int factor = s->engine == W2S_ENGINE_FACTOR;
  int64_t Tg = c->per_task_inputs ? 1 : c->tasks, Kg = Tg * s->J;
  int64_t widest = factor ? sim_factor_columns(s) : Tg + Kg;
  if (c->input_dim > widest) widest = c->input_dim;
  s->nb = c->block_rows;
  if (s->nb * widest > block_doubles_cap) s->nb = block_doubles_cap / widest;
  if (s->nb < 1) s->nb = 1;
  int64_t nb = s->nb;
  W2S_CALL(W2S_ALLOC(ctx, s->row, c->input_dim));
  W2S_CALL(W2S_ALLOC(ctx, s->X, nb * c->input_dim));
  W2S_CALL(W2S_ALLOC(ctx, s->work, nb * work_rows_per));
  for (int j = 0; j < s->J; ++j)
    W2S_CALL(W2S_ALLOC(ctx, s->Cw[j], sim_head_size(s, 1 + j) * c->tasks));
  W2S_CALL(W2S_ALLOC(ctx, s->Cceil, sim_head_size(s, 0) * c->tasks));
  W2S_CALL(W2S_ALLOC(ctx, s->Csw, sim_student_size(s) * c->tasks * s->J));
  /* The row-by-row engine's blocks: labels, features, predictions. */
  if (factor) return sim_factor_alloc(ctx, s);
  W2S_CALL(W2S_ALLOC(ctx, s->Hstar, nb * s->tw));
  W2S_CALL(W2S_ALLOC(ctx, s->Y, nb * Tg));
  W2S_CALL(W2S_ALLOC(ctx, s->A, nb * s->pmax));
  W2S_CALL(W2S_ALLOC(ctx, s->B, nb * (Tg + Kg)));
  W2S_CALL(W2S_ALLOC(ctx, s->Pw, nb * Kg));
  W2S_CALL(W2S_ALLOC(ctx, s->Psw, nb * Kg));
  W2S_CALL(W2S_ALLOC(ctx, s->Ps, nb * Tg));
  for (int r = 0; r < s->nrep; ++r)
    W2S_CALL(W2S_ALLOC(ctx, s->F[r], nb * s->p[r]));
  return W2S_OK;
}

w2s_err sim_fill_results(w2s_ctx *ctx, const sim *s, w2s_results *res) {
  const w2s_config *c = s->cfg;
  res->strong_p = sim_head_size(s, 0);
  for (int j = 0; j < s->J; ++j) {
    snprintf(res->weak_names[j], W2S_NAME_LEN, "%s", c->weak[j].name);
    res->weak_p[j] = sim_head_size(s, 1 + j);
    W2S_CALL(W2S_ALLOC(ctx, res->coef_weak[j], res->weak_p[j] * c->tasks));
  }
  W2S_CALL(W2S_ALLOC(ctx, res->coef_ceiling, res->strong_p * c->tasks));
  res->w2s_p = sim_student_size(s);
  W2S_CALL(W2S_ALLOC(ctx, res->coef_w2s, res->w2s_p * c->tasks * s->J));
  W2S_CALL(w2s_results_set_loss(ctx, res, c->softmax ? "kl" : "squared",
                                !c->softmax          ? ""
                                : c->student_reverse ? "truth_first"
                                                     : "model_first",
                                c->softmax ? c->classes : 0));
  for (int r = 0; r < s->nrep; ++r) {
    const w2s_repr_config *rc = r == 0 ? &c->strong : &c->weak[r - 1];
    w2s_repr_record *rec = &res->repr[r];
    snprintf(rec->name, sizeof rec->name, "%s", rc->section);
    snprintf(rec->role, sizeof rec->role, "%s", r == 0 ? "strong" : "weak");
    snprintf(rec->source, sizeof rec->source, "%s", rc->source->name);
    rec->dim = sim_rep_dim(s, r);
    rec->ridge = c->ridge;
  }
  w2s_provenance pv = {c->seed, ctx->size, c->solver, c->effective,
                       NULL,    NULL,      0};
  return w2s_results_set_provenance(ctx, res, &pv);
}
