/* The simulate pipeline. For each group of tasks that share inputs (all
 * tasks, or one task each with experiment.task_inputs = per_task):
 *   split 0 (weak-training): weak heads fitted on true labels, all tasks of
 *     one weak representation sharing one factorisation;
 *   split 1 (weak-to-strong training): the strong heads fitted, in ONE solve,
 *     on the true labels (the ceiling) and on every (task, weak) weak-label
 *     vector;
 *   split 1 again, and split 2 (test): predictions and metric sums.
 * Every pass walks this rank's contiguous rows in blocks, generating inputs
 * from (seed, split, group, global row) so nothing depends on the number of
 * ranks, and nothing the size of a split is ever held. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "w2s/experiment.h"
#include "w2s/lsq.h"
#include "w2s/metrics.h"
#include "w2s/rng.h"

enum { SPLIT_WEAK = 0, SPLIT_W2S = 1, SPLIT_TEST = 2 };
/* Per-block buffers are capped at this many doubles each. */
static const int64_t block_doubles_cap = (int64_t)1 << 23; /* 64 MiB */

typedef struct {
  const w2s_config *cfg;
  int J;    /* weak models */
  int nrep; /* 1 + J: rep 0 is strong, rep 1 + j is weak model j */
  w2s_mlp *target;
  w2s_mlp **rep;
  int64_t tw;    /* target width */
  double *heads; /* (tw + 1) x T: column t = [a_t; b_t] */
  int64_t *p;    /* head parameters per rep (features [+ intercept]) */
  int64_t pmax;
  int64_t nb; /* rows per block */
  /* per-block buffers, leading dimension = rows in the block */
  double *row, *X, *Hstar, *Y, **F, *A, *B, *Pw, *Psw, *Ps, *work;
  /* coefficients, column per head: weak j p_j x T, strong p_s x T and p_s x K */
  double **Cw, *Cceil, *Csw;
} sim;

static int64_t rep_dim(const sim *s, int r) { return w2s_mlp_out_dim(s->rep[r]); }

static void sim_free(sim *s) {
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
}

/* Inputs, target labels for tasks [t0, t0 + Tg), and the features (with the
 * intercept column) of every representation, for global rows [i0, i0 + m)
 * of split/group. */
static void gen_block(sim *s, int split, int64_t group, int64_t i0, int64_t m,
                      int64_t t0, int64_t Tg) {
  const w2s_config *c = s->cfg;
  for (int64_t r = 0; r < m; ++r) {
    w2s_rng_normal(c->seed, W2S_STREAM_SAMPLES, (uint64_t)split,
                   (uint64_t)group, (uint64_t)(i0 + r), c->input_dim, s->row);
    for (int64_t k = 0; k < c->input_dim; ++k)
      s->X[k * m + r] = c->input_scale * s->row[k];
  }
  w2s_mlp_forward(s->target, m, s->X, m, s->Hstar, m, s->work);
  /* Y = Hstar a_t + b_t */
  for (int64_t t = 0; t < Tg; ++t) {
    double b = s->heads[(t0 + t) * (s->tw + 1) + s->tw];
    for (int64_t r = 0; r < m; ++r) s->Y[t * m + r] = b;
  }
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)Tg,
              (int)s->tw, 1.0, s->Hstar, (int)m, s->heads + t0 * (s->tw + 1),
              (int)(s->tw + 1), 1.0, s->Y, (int)m);
  for (int r = 0; r < s->nrep; ++r) {
    int64_t d = rep_dim(s, r);
    w2s_mlp_forward(s->rep[r], m, s->X, m, s->F[r], m, s->work);
    if (d < s->p[r])
      for (int64_t i = 0; i < m; ++i) s->F[r][d * m + i] = 1.0;
  }
}

/* out (m x Tg, column stride ldo, first column at out) = F_r C[:, t0..t0+Tg) */
static void predict(const sim *s, int r, const double *C, int64_t t0,
                    int64_t Tg, int64_t m, double *out, int64_t ldo) {
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)Tg,
              (int)s->p[r], 1.0, s->F[r], (int)m, C + t0 * s->p[r],
              (int)s->p[r], 0.0, out, (int)ldo);
}

/* Weak labels of every (task, weak) pair of the group, pair order
 * (t - t0) * J + j, into P (m x Tg*J, leading dimension m). */
static void weak_labels(const sim *s, int64_t t0, int64_t Tg, int64_t m,
                        double *P) {
  for (int j = 0; j < s->J; ++j)
    predict(s, 1 + j, s->Cw[j], t0, Tg, m, P + (int64_t)j * m,
            (int64_t)s->J * m);
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
  return w2s_check_memory(ctx, 8.0 * doubles,
                          "%s: the run (networks and fits; largest: %s; "
                          "%lld tasks)",
                          c->path, what, (long long)c->tasks);
}

static w2s_err setup(w2s_ctx *ctx, const w2s_config *c, sim *s,
                     w2s_results *res) {
  W2S_CALL(check_memory(ctx, c));
  w2s_repr_hooks hooks = {res, hook_cache_get, hook_cache_put, hook_curve};
  s->cfg = c;
  s->J = c->nweak;
  s->nrep = 1 + c->nweak;
  s->tw = c->target_width;
  w2s_err e = w2s_mlp_create(ctx, c->input_dim, c->target_width,
                             c->target_depth, &s->target);
  if (!e) e = W2S_ALLOC(ctx, s->heads, (s->tw + 1) * c->tasks);
  if (!e) e = W2S_ALLOC(ctx, s->rep, s->nrep);
  if (!e) e = W2S_ALLOC(ctx, s->p, s->nrep);
  if (!e) e = W2S_ALLOC(ctx, s->F, s->nrep);
  if (!e) e = W2S_ALLOC(ctx, s->Cw, s->J);
  /* The sources below may be collective (pre-training, its cache): every
   * rank goes on to them, or none; sim_free releases what was allocated. */
  W2S_CALL(w2s_agree(ctx, e));
  w2s_mlp_init_uniform(s->target, c->seed, W2S_STREAM_TARGET);
  double bound = 1.0 / sqrt((double)s->tw);
  for (int64_t t = 0; t < c->tasks; ++t)
    w2s_rng_uniform(c->seed, W2S_STREAM_TASK_HEADS, (uint64_t)t, 0, 0,
                    s->tw + 1, -bound, bound, s->heads + t * (s->tw + 1));
  int64_t wmax = c->target_width > c->input_dim ? c->target_width : c->input_dim;
  int64_t work_rows_per = 2 * wmax;
  for (int r = 0; r < s->nrep; ++r) {
    const w2s_repr_config *rc = r == 0 ? &c->strong : &c->weak[r - 1];
    w2s_repr_env env = {rc->section,   c->seed,       c->input_dim,
                        s->target,     rc->depth_p.i, rc->width_p.i,
                        rc->own,       c->input_scale, &hooks};
    /* A source that failed on one rank must stop the next source's
     * collectives on every rank. */
    W2S_CALL(w2s_agree(ctx, rc->source->create(ctx, &env, &s->rep[r])));
    s->p[r] = rep_dim(s, r) + (c->intercept ? 1 : 0);
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

  int64_t Tg = c->per_task_inputs ? 1 : c->tasks, Kg = Tg * s->J;
  int64_t widest = Tg + Kg;
  if (c->input_dim > widest) widest = c->input_dim;
  s->nb = c->block_rows;
  if (s->nb * widest > block_doubles_cap) s->nb = block_doubles_cap / widest;
  if (s->nb < 1) s->nb = 1;
  int64_t nb = s->nb;
  W2S_CALL(W2S_ALLOC(ctx, s->row, c->input_dim));
  W2S_CALL(W2S_ALLOC(ctx, s->X, nb * c->input_dim));
  W2S_CALL(W2S_ALLOC(ctx, s->Hstar, nb * s->tw));
  W2S_CALL(W2S_ALLOC(ctx, s->Y, nb * Tg));
  W2S_CALL(W2S_ALLOC(ctx, s->A, nb * s->pmax));
  W2S_CALL(W2S_ALLOC(ctx, s->B, nb * (Tg + Kg)));
  W2S_CALL(W2S_ALLOC(ctx, s->Pw, nb * Kg));
  W2S_CALL(W2S_ALLOC(ctx, s->Psw, nb * Kg));
  W2S_CALL(W2S_ALLOC(ctx, s->Ps, nb * Tg));
  W2S_CALL(W2S_ALLOC(ctx, s->work, nb * work_rows_per));
  for (int r = 0; r < s->nrep; ++r)
    W2S_CALL(W2S_ALLOC(ctx, s->F[r], nb * s->p[r]));
  for (int j = 0; j < s->J; ++j)
    W2S_CALL(W2S_ALLOC(ctx, s->Cw[j], s->p[1 + j] * c->tasks));
  W2S_CALL(W2S_ALLOC(ctx, s->Cceil, s->p[0] * c->tasks));
  W2S_CALL(W2S_ALLOC(ctx, s->Csw, s->p[0] * c->tasks * s->J));
  return W2S_OK;
}

static void copy_cols(double *dst, const double *src, int64_t m, int64_t ncol) {
  memcpy(dst, src, sizeof(double) * (size_t)(m * ncol));
}

static void record_fit(w2s_ctx *ctx, w2s_results *res, int r, int64_t p,
                       const w2s_lsq_info *info, int first) {
  w2s_repr_record *rec = &res->repr[r];
  if (first && info->rank < p)
    w2s_log(ctx, 1,
            "note: %s has numerical rank %lld of %lld columns (dead units or "
            "collinear features); using the minimum-norm solution",
            rec->name, (long long)info->rank, (long long)p);
  if (first || info->rank < rec->rank) rec->rank = info->rank;
  if (first || info->cond > rec->cond || isnan(info->cond))
    rec->cond = info->cond;
}

typedef struct {
  w2s_ctx *ctx;
  const char *what;
  int64_t done, total, next;
} progress;

static void tick(progress *pr, int64_t m) {
  pr->done += m;
  if (pr->done >= pr->next) {
    w2s_progress(pr->ctx, pr->what,
                 pr->total ? (double)pr->done / (double)pr->total : 1.0);
    pr->next = pr->done + pr->total / 50 + 1;
  }
}

/* One task group: fits and metric sums. */
static w2s_err run_group(w2s_ctx *ctx, sim *s, int64_t g, int64_t t0,
                         int64_t Tg, w2s_results *res, int first) {
  const w2s_config *c = s->cfg;
  int J = s->J;
  int64_t Kg = Tg * J, nb = s->nb, start, count;
  /* data.w2s_inputs = same: weak labels on the weak heads' own inputs. */
  int w2s_split = c->w2s_same_inputs ? SPLIT_WEAK : SPLIT_W2S;
  w2s_lsq_opts opts = {c->ridge, NULL, c->rank_tol, NULL};
  char label[160];
  label[0] = '\0';
  int *pen = NULL;
  /* Agreed before the first collective below; freed on every rank. */
  w2s_err e = w2s_agree(ctx, W2S_ALLOC(ctx, pen, s->pmax));
  if (e) goto done;
  for (int64_t i = 0; i < s->pmax; ++i) pen[i] = 1;
  opts.penalize = pen;

  /* Split 0: weak heads on true labels. */
  w2s_timer_start(ctx, W2S_T_WEAK_FIT);
  w2s_lsq **lw = NULL;
  e = W2S_ALLOC(ctx, lw, J);
  for (int j = 0; j < J && !e; ++j) {
    int64_t pj = s->p[1 + j];
    pen[pj - 1] = !c->intercept; /* the intercept is never penalised */
    e = w2s_lsq_create_with(ctx, c->solver, pj, Tg, &opts, &lw[j]);
    pen[pj - 1] = 1;
  }
  e = w2s_agree(ctx, e);
  w2s_partition(c->n_weak_train, ctx->size, ctx->rank, &start, &count);
  /* Some solvers read the rows more than once: regenerate them per pass. */
  int *more = NULL;
  if (!e) e = w2s_agree(ctx, W2S_ALLOC(ctx, more, J));
  for (int j = 0; j < J && !e; ++j) more[j] = 1;
  for (int pass = 0, any = 1; any && !e; ++pass) {
    for (int j = 0; j < J; ++j) {
      snprintf(label, sizeof label, "weak model '%s'", c->weak[j].name);
      if (more[j]) w2s_lsq_set_context(lw[j], label, start);
    }
    progress pr = {ctx, "weak fit", 0, count, 0};
    for (int64_t i = 0; i < count && !e; i += nb) {
      int64_t m = count - i < nb ? count - i : nb;
      gen_block(s, SPLIT_WEAK, g, start + i, m, t0, Tg);
      for (int j = 0; j < J && !e; ++j) {
        if (!more[j]) continue;
        copy_cols(s->A, s->F[1 + j], m, s->p[1 + j]);
        copy_cols(s->B, s->Y, m, Tg);
        e = w2s_lsq_add_rows(ctx, lw[j], m, s->A, m, s->B, m);
      }
      tick(&pr, m);
    }
    e = w2s_agree(ctx, e);
    any = 0;
    for (int j = 0; j < J && !e; ++j)
      if (more[j]) {
        e = w2s_lsq_end_pass(ctx, lw[j], &more[j]);
        any |= more[j];
      }
  }
  free(more);
  for (int j = 0; j < J && !e; ++j) {
    w2s_lsq_info info;
    int64_t pj = s->p[1 + j];
    pen[pj - 1] = !c->intercept;
    snprintf(label, sizeof label, "weak model '%s' (task group %lld)",
             c->weak[j].name, (long long)g);
    opts.label = label;
    e = w2s_lsq_solve(ctx, lw[j], &opts, s->Cw[j] + t0 * pj, &info);
    pen[pj - 1] = 1;
    if (!e) record_fit(ctx, res, 1 + j, pj, &info, first);
  }
  for (int j = 0; lw && j < J; ++j) w2s_lsq_destroy(&lw[j]);
  free(lw);
  w2s_timer_stop(ctx, W2S_T_WEAK_FIT);
  if (e) goto done;

  /* Split 1: the strong head on [true labels | every weak label]. */
  w2s_timer_start(ctx, W2S_T_STRONG_FIT);
  w2s_lsq *ls = NULL;
  pen[s->p[0] - 1] = !c->intercept;
  e = w2s_agree(ctx, w2s_lsq_create_with(ctx, c->solver, s->p[0], Tg + Kg,
                                         &opts, &ls));
  pen[s->p[0] - 1] = 1;
  w2s_partition(c->n_w2s_train, ctx->size, ctx->rank, &start, &count);
  for (int more1 = 1; more1 && !e;) {
    w2s_lsq_set_context(ls, "strong representation", start);
    progress pr = {ctx, "strong fit", 0, count, 0};
    for (int64_t i = 0; i < count && !e; i += nb) {
      int64_t m = count - i < nb ? count - i : nb;
      gen_block(s, w2s_split, g, start + i, m, t0, Tg);
      copy_cols(s->B, s->Y, m, Tg);
      weak_labels(s, t0, Tg, m, s->B + Tg * m);
      copy_cols(s->A, s->F[0], m, s->p[0]);
      e = w2s_lsq_add_rows(ctx, ls, m, s->A, m, s->B, m);
      tick(&pr, m);
    }
    e = w2s_agree(ctx, e);
    if (!e) e = w2s_lsq_end_pass(ctx, ls, &more1);
  }
  double *Xs = NULL;
  if (!e) e = w2s_agree(ctx, W2S_ALLOC(ctx, Xs, s->p[0] * (Tg + Kg)));
  if (!e) {
    w2s_lsq_info info;
    pen[s->p[0] - 1] = !c->intercept;
    snprintf(label, sizeof label, "strong representation (task group %lld)",
             (long long)g);
    opts.label = label;
    e = w2s_lsq_solve(ctx, ls, &opts, Xs, &info);
    pen[s->p[0] - 1] = 1;
    if (!e) {
      record_fit(ctx, res, 0, s->p[0], &info, first);
      copy_cols(s->Cceil + t0 * s->p[0], Xs, s->p[0], Tg);
      copy_cols(s->Csw + t0 * J * s->p[0], Xs + Tg * s->p[0], s->p[0], Kg);
    }
  }
  free(Xs);
  w2s_lsq_destroy(&ls);
  w2s_timer_stop(ctx, W2S_T_STRONG_FIT);
  if (e) goto done;

  /* Split 1 again (train metrics) and split 2 (test metrics). */
  w2s_metric_sums sums[2] = {{0}, {0}};
  int splits[2] = {w2s_split, SPLIT_TEST};
  int64_t ns[2] = {c->n_w2s_train, c->n_test};
  w2s_timer timers[2] = {W2S_T_TRAIN_METRICS, W2S_T_TEST_METRICS};
  for (int q = 0; q < 2 && !e; ++q) {
    w2s_timer_start(ctx, timers[q]);
    e = w2s_agree(ctx, w2s_metric_sums_init(ctx, Tg, J, &sums[q]));
    w2s_partition(ns[q], ctx->size, ctx->rank, &start, &count);
    progress pr = {ctx, q ? "test metrics" : "train metrics", 0, count, 0};
    for (int64_t i = 0; i < count && !e; i += nb) {
      int64_t m = count - i < nb ? count - i : nb;
      gen_block(s, splits[q], g, start + i, m, t0, Tg);
      weak_labels(s, t0, Tg, m, s->Pw);
      predict(s, 0, s->Csw, t0 * J, Kg, m, s->Psw, m);
      predict(s, 0, s->Cceil, t0, Tg, m, s->Ps, m);
      w2s_metric_sums_add(&sums[q], m, s->Y, m, s->Pw, m, s->Psw, m, s->Ps, m);
      tick(&pr, m);
    }
    if (!e) e = w2s_agree(ctx, w2s_metric_sums_reduce(ctx, &sums[q]));
    w2s_timer_stop(ctx, timers[q]);
  }
  if (!e) w2s_metrics_finish(&sums[1], &sums[0], t0 * J, res->metric);
  w2s_metric_sums_free(&sums[0]);
  w2s_metric_sums_free(&sums[1]);
done:
  free(pen);
  return e;
}

static w2s_err fill_results(w2s_ctx *ctx, const sim *s, w2s_results *res) {
  const w2s_config *c = s->cfg;
  res->strong_p = s->p[0];
  res->seed = c->seed;
  res->mpi_ranks = ctx->size;
  snprintf(res->solver, sizeof res->solver, "%s", c->solver);
  for (int j = 0; j < s->J; ++j) {
    snprintf(res->weak_names[j], W2S_NAME_LEN, "%s", c->weak[j].name);
    res->weak_p[j] = s->p[1 + j];
    W2S_CALL(W2S_ALLOC(ctx, res->coef_weak[j], s->p[1 + j] * c->tasks));
  }
  W2S_CALL(W2S_ALLOC(ctx, res->coef_ceiling, s->p[0] * c->tasks));
  W2S_CALL(W2S_ALLOC(ctx, res->coef_w2s, s->p[0] * c->tasks * s->J));
  for (int r = 0; r < s->nrep; ++r) {
    const w2s_repr_config *rc = r == 0 ? &c->strong : &c->weak[r - 1];
    w2s_repr_record *rec = &res->repr[r];
    snprintf(rec->name, sizeof rec->name, "%s", rc->section);
    snprintf(rec->role, sizeof rec->role, "%s", r == 0 ? "strong" : "weak");
    snprintf(rec->source, sizeof rec->source, "%s", rc->source->name);
    rec->dim = rep_dim(s, r);
    rec->ridge = c->ridge;
  }
  size_t len = strlen(c->effective) + 1;
  W2S_CALL(W2S_ALLOC(ctx, res->config_text, len));
  memcpy(res->config_text, c->effective, len);
  return W2S_OK;
}

w2s_err w2s_simulate(w2s_ctx *ctx, const w2s_config *c, w2s_results **out) {
  sim s;
  memset(&s, 0, sizeof s);
  w2s_results *res = NULL;
  w2s_timer_start(ctx, W2S_T_SETUP);
  w2s_err e = w2s_results_alloc(ctx, c->tasks, c->nweak, &res);
  if (!e) {
    res->nrepr = 1 + c->nweak;
    e = W2S_ALLOC(ctx, res->repr, res->nrepr);
  }
  e = w2s_agree(ctx, e); /* setup is collective: all ranks enter it or none */
  if (!e) e = setup(ctx, c, &s, res);
  if (!e) e = fill_results(ctx, &s, res); /* names and shapes; the
                                             coefficients once fitted */
  e = w2s_agree(ctx, e);
  w2s_timer_stop(ctx, W2S_T_SETUP);
  if (!e)
    w2s_log(ctx, 1,
            "setup: %d ranks, %lld tasks x %d weak models, strong '%s' "
            "(%lld features), rows per block %lld",
            ctx->size, (long long)c->tasks, c->nweak, c->strong.source->name,
            (long long)(s.p[0] - (c->intercept ? 1 : 0)), (long long)s.nb);
  int64_t ngroups = c->per_task_inputs ? c->tasks : 1;
  int64_t Tg = c->per_task_inputs ? 1 : c->tasks;
  for (int64_t g = 0; g < ngroups && !e; ++g)
    e = run_group(ctx, &s, g, g * Tg, Tg, res, g == 0);
  if (!e) {
    copy_cols(res->coef_ceiling, s.Cceil, s.p[0], c->tasks);
    copy_cols(res->coef_w2s, s.Csw, s.p[0], c->tasks * s.J);
    for (int j = 0; j < s.J; ++j)
      copy_cols(res->coef_weak[j], s.Cw[j], s.p[1 + j], c->tasks);
    w2s_log(ctx, 1, "fits and metrics done (weak %.2fs, strong %.2fs, "
                    "metrics %.2fs on rank 0)",
            ctx->timer_acc[W2S_T_WEAK_FIT], ctx->timer_acc[W2S_T_STRONG_FIT],
            ctx->timer_acc[W2S_T_TRAIN_METRICS] +
                ctx->timer_acc[W2S_T_TEST_METRICS]);
  }
  sim_free(&s);
  if (!e) {
    /* Peak resident set, max over ranks (getrusage: KiB on Linux). */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    res->peak_rss_mib = (double)ru.ru_maxrss / 1024.0;
    e = w2s_agree(ctx, w2s_max(ctx, &res->peak_rss_mib, 1));
  }
  if (e) {
    w2s_results_destroy(&res);
    return e;
  }
  *out = res;
  return W2S_OK;
}
