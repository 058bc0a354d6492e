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

#include "experiment/simulate_impl.h"
#include "w2s/metrics.h"
#include "w2s/rng.h"

const char *const w2s_simulate_phases[W2S_SIM_NPHASES] = {"setup", "weak_fit",
                                                          "strong_fit",
                                                          "train_metrics",
                                                          "test_metrics"};

/* A block of rows: global rows [i0, i0 + m) of split `split` of task
 * group `group`, whose tasks are [t0, t0 + Tg). */
typedef struct {
  int split;
  int64_t group, t0, Tg, i0, m;
} block;

/* Inputs, target labels for the block's tasks, and the features (with the
 * intercept column) of every representation, for the block's rows. */
void sim_gen_inputs(sim *s, int split, int64_t group, int64_t i0, int64_t m) {
  const w2s_config *c = s->cfg;
  for (int64_t r = 0; r < m; ++r) {
    w2s_rng_normal(c->seed, W2S_STREAM_SAMPLES, (uint64_t)split,
                   (uint64_t)group, (uint64_t)(i0 + r), c->input_dim, s->row);
    for (int64_t k = 0; k < c->input_dim; ++k)
      s->X[k * m + r] = c->input_scale * s->row[k];
  }
}

static void gen_block(sim *s, const block *bk) {
  int64_t m = bk->m, t0 = bk->t0, Tg = bk->Tg;
  sim_gen_inputs(s, bk->split, bk->group, bk->i0, m);
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
    int64_t d = sim_rep_dim(s, r);
    w2s_mlp_forward(s->rep[r], m, s->X, m, s->F[r], m, s->work);
    if (d < s->p[r])
      for (int64_t i = 0; i < m; ++i) s->F[r][d * m + i] = 1.0;
  }
}

/* Columns [t0, t0 + Tg) of a coefficient matrix C (p_r x ...). */
typedef struct {
  const double *C;
  int64_t t0, Tg;
} cols;

/* out (m x Tg, column stride ldo, first column at out) = F_r C[:, t0..t0+Tg) */
static void predict(const sim *s, int r, cols cc, int64_t m, double *out,
                    int64_t ldo) {
  const double *C = cc.C;
  int64_t t0 = cc.t0, Tg = cc.Tg;
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)Tg,
              (int)s->p[r], 1.0, s->F[r], (int)m, C + t0 * s->p[r],
              (int)s->p[r], 0.0, out, (int)ldo);
}

/* Weak labels of every (task, weak) pair of the group, pair order
 * (t - t0) * J + j, into P (m x Tg*J, leading dimension m). */
static void weak_labels(const sim *s, int64_t t0, int64_t Tg, int64_t m,
                        double *P) {
  for (int j = 0; j < s->J; ++j)
    predict(s, 1 + j, (cols){s->Cw[j], t0, Tg}, m, P + (int64_t)j * m,
            (int64_t)s->J * m);
}

static void copy_cols(double *dst, const double *src, int64_t m, int64_t ncol) {
  memcpy(dst, src, sizeof(double) * (size_t)(m * ncol));
}

void sim_record_fit(w2s_ctx *ctx, w2s_results *res, int r, int64_t p,
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

void sim_tick(sim_progress *pr, int64_t m) {
  pr->done += m;
  if (pr->done >= pr->next) {
    w2s_progress(pr->ctx, pr->what,
                 pr->total ? (double)pr->done / (double)pr->total : 1.0);
    pr->next = pr->done + pr->total / 50 + 1;
  }
}

/* One task group's fixed quantities and the scratch its fits share. */
typedef struct {
  int64_t g, t0, Tg, Kg;
  int w2s_split; /* data.w2s_inputs = same: weak labels on the weak inputs */
  int first;     /* the first group: fit notes are logged once */
  w2s_lsq_opts opts;
  int *pen; /* s->pmax ones; the intercept entry set per head */
  char label[160];
} group;

/* Split 0, every pass: the rows of every weak head still reading. Some
 * solvers read the rows more than once: they are regenerated per pass. */
static w2s_err weak_passes(w2s_ctx *ctx, sim *s, group *gr, w2s_lsq **lw) {
  const w2s_config *c = s->cfg;
  int J = s->J;
  int64_t start, count, nb = s->nb;
  w2s_partition(c->n_weak_train, ctx->size, ctx->rank, &start, &count);
  int *more = NULL;
  w2s_err e = w2s_agree(ctx, W2S_ALLOC(ctx, more, J));
  for (int j = 0; j < J && !e; ++j) more[j] = 1;
  for (int pass = 0, any = 1; any && !e; ++pass) {
    for (int j = 0; j < J; ++j) {
      snprintf(gr->label, sizeof gr->label, "weak model '%s'", c->weak[j].name);
      if (more[j]) w2s_lsq_set_context(lw[j], gr->label, start);
    }
    sim_progress pr = {ctx, "weak fit", 0, count, 0};
    for (int64_t i = 0; i < count && !e; i += nb) {
      int64_t m = count - i < nb ? count - i : nb;
      gen_block(s, &(block){SPLIT_WEAK, gr->g, gr->t0, gr->Tg, start + i, m});
      for (int j = 0; j < J && !e; ++j) {
        if (!more[j]) continue;
        copy_cols(s->A, s->F[1 + j], m, s->p[1 + j]);
        copy_cols(s->B, s->Y, m, gr->Tg);
        e = w2s_lsq_add_rows(ctx, lw[j], m, s->A, m, s->B, m);
      }
      sim_tick(&pr, m);
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
  return e;
}

/* Split 0: weak heads on true labels, all tasks of one weak representation
 * sharing one factorisation. */
static w2s_err weak_fit(w2s_ctx *ctx, sim *s, group *gr, w2s_results *res) {
  const w2s_config *c = s->cfg;
  int J = s->J;
  int *pen = gr->pen;
  w2s_lsq **lw = NULL;
  w2s_err e = W2S_ALLOC(ctx, lw, J);
  for (int j = 0; j < J && !e; ++j) {
    int64_t pj = s->p[1 + j];
    pen[pj - 1] = !c->intercept; /* the intercept is never penalised */
    e = w2s_lsq_create_with(ctx, c->solver, pj, gr->Tg, &gr->opts, &lw[j]);
    pen[pj - 1] = 1;
  }
  e = w2s_agree(ctx, e);
  if (!e) e = weak_passes(ctx, s, gr, lw);
  for (int j = 0; j < J && !e; ++j) {
    w2s_lsq_info info;
    int64_t pj = s->p[1 + j];
    pen[pj - 1] = !c->intercept;
    snprintf(gr->label, sizeof gr->label, "weak model '%s' (task group %lld)",
             c->weak[j].name, (long long)gr->g);
    gr->opts.label = gr->label;
    e = w2s_lsq_solve(ctx, lw[j], &gr->opts, s->Cw[j] + gr->t0 * pj, &info);
    pen[pj - 1] = 1;
    if (!e) sim_record_fit(ctx, res, 1 + j, pj, &info, gr->first);
  }
  for (int j = 0; lw && j < J; ++j) w2s_lsq_destroy(&lw[j]);
  free(lw);
  return e;
}

/* Split 1: the strong head on [true labels | every weak label], in ONE
 * solve. */
static w2s_err strong_fit(w2s_ctx *ctx, sim *s, group *gr, w2s_results *res) {
  const w2s_config *c = s->cfg;
  int64_t Tg = gr->Tg, Kg = gr->Kg, t0 = gr->t0, nb = s->nb, start, count;
  int *pen = gr->pen;
  w2s_lsq *ls = NULL;
  pen[s->p[0] - 1] = !c->intercept;
  w2s_err e = w2s_agree(ctx, w2s_lsq_create_with(ctx, c->solver, s->p[0],
                                                 Tg + Kg, &gr->opts, &ls));
  pen[s->p[0] - 1] = 1;
  w2s_partition(c->n_w2s_train, ctx->size, ctx->rank, &start, &count);
  for (int more1 = 1; more1 && !e;) {
    w2s_lsq_set_context(ls, "strong representation", start);
    sim_progress pr = {ctx, "strong fit", 0, count, 0};
    for (int64_t i = 0; i < count && !e; i += nb) {
      int64_t m = count - i < nb ? count - i : nb;
      gen_block(s, &(block){gr->w2s_split, gr->g, t0, Tg, start + i, m});
      copy_cols(s->B, s->Y, m, Tg);
      weak_labels(s, t0, Tg, m, s->B + Tg * m);
      copy_cols(s->A, s->F[0], m, s->p[0]);
      e = w2s_lsq_add_rows(ctx, ls, m, s->A, m, s->B, m);
      sim_tick(&pr, m);
    }
    e = w2s_agree(ctx, e);
    if (!e) e = w2s_lsq_end_pass(ctx, ls, &more1);
  }
  double *Xs = NULL;
  if (!e) e = w2s_agree(ctx, W2S_ALLOC(ctx, Xs, s->p[0] * (Tg + Kg)));
  if (!e) {
    w2s_lsq_info info;
    pen[s->p[0] - 1] = !c->intercept;
    snprintf(gr->label, sizeof gr->label,
             "strong representation (task group %lld)", (long long)gr->g);
    gr->opts.label = gr->label;
    e = w2s_lsq_solve(ctx, ls, &gr->opts, Xs, &info);
    pen[s->p[0] - 1] = 1;
    if (!e) {
      sim_record_fit(ctx, res, 0, s->p[0], &info, gr->first);
      copy_cols(s->Cceil + t0 * s->p[0], Xs, s->p[0], Tg);
      copy_cols(s->Csw + t0 * s->J * s->p[0], Xs + Tg * s->p[0], s->p[0], Kg);
    }
  }
  free(Xs);
  w2s_lsq_destroy(&ls);
  return e;
}

/* Split 1 again (train metrics) and split 2 (test metrics). */
static w2s_err group_metrics(w2s_ctx *ctx, sim *s, const group *gr,
                             w2s_results *res) {
  const w2s_config *c = s->cfg;
  int J = s->J;
  int64_t Tg = gr->Tg, Kg = gr->Kg, t0 = gr->t0, nb = s->nb, start, count;
  w2s_metric_sums sums[2] = {{0}, {0}};
  int splits[2] = {gr->w2s_split, SPLIT_TEST};
  int64_t ns[2] = {c->n_w2s_train, c->n_test};
  int timers[2] = {W2S_SIM_TRAIN_METRICS, W2S_SIM_TEST_METRICS};
  w2s_err e = W2S_OK;
  for (int q = 0; q < 2 && !e; ++q) {
    w2s_timer_start(ctx, timers[q]);
    e = w2s_agree(ctx, w2s_metric_sums_init(ctx, Tg, J, &sums[q]));
    w2s_partition(ns[q], ctx->size, ctx->rank, &start, &count);
    sim_progress pr = {ctx, q ? "test metrics" : "train metrics", 0, count, 0};
    for (int64_t i = 0; i < count && !e; i += nb) {
      int64_t m = count - i < nb ? count - i : nb;
      gen_block(s, &(block){splits[q], gr->g, t0, Tg, start + i, m});
      weak_labels(s, t0, Tg, m, s->Pw);
      predict(s, 0, (cols){s->Csw, t0 * J, Kg}, m, s->Psw, m);
      predict(s, 0, (cols){s->Cceil, t0, Tg}, m, s->Ps, m);
      w2s_metric_sums_add(&sums[q], &(w2s_pred_block){m, s->Y, m, s->Pw, m,
                                                      s->Psw, m, s->Ps, m});
      sim_tick(&pr, m);
    }
    if (!e) e = w2s_agree(ctx, w2s_metric_sums_reduce(ctx, &sums[q]));
    w2s_timer_stop(ctx, timers[q]);
  }
  if (!e) w2s_metrics_finish(&sums[1], &sums[0], t0 * J, res->metric);
  w2s_metric_sums_free(&sums[0]);
  w2s_metric_sums_free(&sums[1]);
  return e;
}

/* One task group: fits and metric sums. */
static w2s_err run_group(w2s_ctx *ctx, sim *s, int64_t g, int64_t Tg,
                         w2s_results *res) {
  const w2s_config *c = s->cfg;
  group gr = {g,
              g * Tg,
              Tg,
              Tg * s->J,
              c->w2s_same_inputs ? SPLIT_WEAK : SPLIT_W2S,
              g == 0,
              {c->ridge, NULL, c->rank_tol, NULL},
              NULL,
              ""};
  /* Agreed before the first collective below; freed on every rank. */
  w2s_err e = w2s_agree(ctx, W2S_ALLOC(ctx, gr.pen, s->pmax));
  if (!e) {
    for (int64_t i = 0; i < s->pmax; ++i) gr.pen[i] = 1;
    gr.opts.penalize = gr.pen;
    w2s_timer_start(ctx, W2S_SIM_WEAK_FIT);
    e = weak_fit(ctx, s, &gr, res);
    w2s_timer_stop(ctx, W2S_SIM_WEAK_FIT);
  }
  if (!e) {
    w2s_timer_start(ctx, W2S_SIM_STRONG_FIT);
    e = strong_fit(ctx, s, &gr, res);
    w2s_timer_stop(ctx, W2S_SIM_STRONG_FIT);
  }
  if (!e) e = group_metrics(ctx, s, &gr, res);
  free(gr.pen);
  return e;
}

static w2s_err run_group_with(w2s_ctx *ctx, sim *s, int64_t g, int64_t Tg,
                              w2s_results *res) {
  if (s->cfg->softmax) return sim_class_group(ctx, s, g, Tg, res);
  if (s->engine == W2S_ENGINE_FACTOR)
    return sim_factor_group(ctx, s, g, Tg, res);
  return run_group(ctx, s, g, Tg, res);
}
w2s_err w2s_simulate(w2s_ctx *ctx, const w2s_config *c, w2s_results **out) {
  sim s;
  memset(&s, 0, sizeof s);
  w2s_results *res = NULL;
  w2s_timer_start(ctx, W2S_SIM_SETUP);
  w2s_err e = w2s_results_alloc(ctx, c->tasks, c->nweak, &res);
  if (!e) {
    res->nrepr = 1 + c->nweak;
    e = W2S_ALLOC(ctx, res->repr, res->nrepr);
  }
  e = w2s_agree(ctx, e); /* setup is collective: all ranks enter it or none */
  if (!e) e = sim_setup(ctx, c, &s, res);
  if (!e)
    e = sim_fill_results(ctx, &s, res); /* names and shapes; the
                                       coefficients once fitted */
  e = w2s_agree(ctx, e);
  w2s_timer_stop(ctx, W2S_SIM_SETUP);
  if (!e)
    w2s_log(ctx, 1,
            "setup: %d ranks, %lld tasks x %d weak models, strong '%s' "
            "(%lld features), rows per block %lld",
            ctx->size, (long long)c->tasks, c->nweak, c->strong.source->name,
            (long long)(s.p[0] - (c->intercept ? 1 : 0)), (long long)s.nb);
  int64_t ngroups = c->per_task_inputs ? c->tasks : 1;
  int64_t Tg = c->per_task_inputs ? 1 : c->tasks;
  for (int64_t g = 0; g < ngroups && !e; ++g)
    e = run_group_with(ctx, &s, g, Tg, res);
  if (!e) {
    copy_cols(res->coef_ceiling, s.Cceil, res->strong_p, c->tasks);
    copy_cols(res->coef_w2s, s.Csw, res->w2s_p, c->tasks * s.J);
    for (int j = 0; j < s.J; ++j)
      copy_cols(res->coef_weak[j], s.Cw[j], res->weak_p[j], c->tasks);
    w2s_log(ctx, 1,
            "fits and metrics done (weak %.2fs, strong %.2fs, "
            "metrics %.2fs on rank 0)",
            w2s_timer_seconds(ctx, W2S_SIM_WEAK_FIT),
            w2s_timer_seconds(ctx, W2S_SIM_STRONG_FIT),
            w2s_timer_seconds(ctx, W2S_SIM_TRAIN_METRICS) +
                w2s_timer_seconds(ctx, W2S_SIM_TEST_METRICS));
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
