/* The simulate pipeline for softmax heads ([target] head = softmax).
 *
 * Task t's target is p*(x) = softmax(g*_t(h*(x)) / temperature) over C
 * classes, g*_t a random linear head (one row per class) on h*. Per task
 * group:
 *   split 0: the weak heads, cross-entropy fits (Newton) to the true labels
 *     (p*, or one class per sample drawn from p*: data.labels);
 *   the w2s split: the strong ceiling fitted to the true labels and the
 *     students, the forward fit to each weak model's soft labels p_w;
 *   the w2s split again and split 2 (test): KL metric sums, model first.
 * Newton needs a pass over the rows per iteration, so each split's
 * features (h* and every representation, this rank's rows) are generated
 * once and held while its fits and metrics run; the targets of a fit are
 * formed per chunk of heads. Nothing depends on the number of ranks: rows
 * come from (seed, split, group, row) and the sampled labels from the
 * counter (split, group, row) of their own stream. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/simulate_impl.h"
#include "w2s/heads.h"
#include "w2s/metrics.h"
#include "w2s/rng.h"

/* Targets of one fit call are capped at this many doubles per rank. */
static const int64_t target_doubles_cap = (int64_t)1 << 24; /* 128 MiB */

/* One split's rows on this rank, and their features. */
typedef struct {
  int split;
  int64_t n, start, count;
  double *Hs; /* count x tw: h* */
  double **F; /* nrep: count x p_r, the intercept's column included */
} cache;

static void cache_free(const sim *s, cache *ch) {
  free(ch->Hs);
  if (ch->F)
    for (int r = 0; r < s->nrep; ++r) free(ch->F[r]);
  free(ch->F);
  memset(ch, 0, sizeof *ch);
}

/* Collective (agreed): generate split `split` of group g into ch. */
static w2s_err cache_load(w2s_ctx *ctx, sim *s, int split, int64_t g, int64_t n,
                          cache *ch) {
  memset(ch, 0, sizeof *ch);
  ch->split = split;
  ch->n = n;
  w2s_partition(n, ctx->size, ctx->rank, &ch->start, &ch->count);
  int64_t cnt = ch->count;
  w2s_err e = W2S_ALLOC(ctx, ch->Hs, cnt * s->tw + 1);
  if (!e) e = W2S_ALLOC(ctx, ch->F, s->nrep);
  for (int r = 0; r < s->nrep && !e; ++r)
    e = W2S_ALLOC(ctx, ch->F[r], cnt * s->p[r] + 1);
  W2S_CALL(w2s_agree(ctx, e));
  for (int64_t i = 0; i < cnt; i += s->nb) {
    int64_t m = cnt - i < s->nb ? cnt - i : s->nb;
    sim_gen_inputs(s, split, g, ch->start + i, m);
    w2s_mlp_forward(s->target, m, s->X, m, ch->Hs + i, cnt, s->work);
    for (int r = 0; r < s->nrep; ++r) {
      int64_t d = sim_rep_dim(s, r);
      w2s_mlp_forward(s->rep[r], m, s->X, m, ch->F[r] + i, cnt, s->work);
      if (d < s->p[r])
        for (int64_t k = 0; k < m; ++k) ch->F[r][d * cnt + i + k] = 1.0;
    }
  }
  return W2S_OK;
}

/* Scratch of one block of rows for one task (nb rows). */
typedef struct {
  double *Lt, *Lw, *Lsw, *Ls;
  int64_t *cls;
  double *Qb, *Wr; /* mixture students: a block's components, one head */
} scratch;

/* Local: rows [i0, i0 + b) of ch, task t: log p* into Lt (b x C, ld ldl)
 * and the true class of each row into cls (argmax p*, or the class drawn
 * from p* by the uniform of counter (split, global row, t) of stream
 * W2S_STREAM_LABELS: the first class whose cumulative probability exceeds
 * it). */
static void truth(const sim *s, const cache *ch, int64_t t, int64_t i0,
                  int64_t b, double *Lt, int64_t ldl, int64_t *cls) {
  const w2s_config *c = s->cfg;
  int64_t C = c->classes, tw = s->tw;
  const double *A = s->heads + t * C * (tw + 1);
  for (int64_t k = 0; k < C; ++k)
    for (int64_t i = 0; i < b; ++i) Lt[k * ldl + i] = A[k * (tw + 1) + tw];
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)b, (int)C,
              (int)tw, 1.0, ch->Hs + i0, (int)ch->count, A, (int)(tw + 1), 1.0,
              Lt, (int)ldl);
  double inv = 1.0 / c->temperature;
  for (int64_t i = 0; i < b; ++i) {
    double mx = -INFINITY, sum = 0.0;
    for (int64_t k = 0; k < C; ++k) {
      Lt[k * ldl + i] *= inv;
      if (Lt[k * ldl + i] > mx) mx = Lt[k * ldl + i];
    }
    for (int64_t k = 0; k < C; ++k) sum += exp(Lt[k * ldl + i] - mx);
    /* sum >= 1: the largest logit's term is exp(0). */
    // cppcheck-suppress invalidFunctionArg
    double lse = mx + log(sum);
    for (int64_t k = 0; k < C; ++k) Lt[k * ldl + i] -= lse;
    cls[i] = w2s_softmax_argmax(Lt, ldl, i, C);
    if (c->labels_sampled) {
      double u;
      w2s_rng_uniform(c->seed, W2S_STREAM_LABELS, (uint64_t)ch->split,
                      (uint64_t)(ch->start + i0 + i), (uint64_t)t, 1, 0.0, 1.0,
                      &u);
      double cum = 0.0;
      cls[i] = C - 1;
      for (int64_t k = 0; k < C; ++k) {
        cum += exp(Lt[k * ldl + i]);
        if (u < cum) {
          cls[i] = k;
          break;
        }
      }
    }
  }
}

/* What a fit's targets are: the true labels of task tl, or the soft labels
 * of weak model j on task tl. */
typedef struct {
  int weak; /* -1: the true labels */
  int64_t tl;
} target_of;

typedef struct {
  sim *s;
  const cache *ch;
  int64_t t0;
  scratch *sc;
} fit_env;

/* Local: the targets of one head on every row of ch into Y (count x C). */
static void fill_targets(const fit_env *fe, target_of to, double *Y) {
  const sim *s = fe->s;
  const cache *ch = fe->ch;
  int64_t C = s->cfg->classes, cnt = ch->count;
  if (to.weak >= 0) {
    int j = to.weak;
    int64_t q = s->p[1 + j] * (C - 1);
    w2s_softmax_logprob(cnt, s->p[1 + j], C, ch->F[1 + j], cnt,
                        s->Cw[j] + (fe->t0 + to.tl) * q, 1, Y, cnt);
    for (int64_t i = 0; i < cnt * C; ++i) Y[i] = exp(Y[i]);
    return;
  }
  for (int64_t i0 = 0; i0 < cnt; i0 += s->nb) {
    int64_t b = cnt - i0 < s->nb ? cnt - i0 : s->nb;
    truth(s, ch, fe->t0 + to.tl, i0, b, Y + i0, cnt, fe->sc->cls);
    for (int64_t k = 0; k < C; ++k)
      for (int64_t i = 0; i < b; ++i) {
        double *y = &Y[k * cnt + i0 + i];
        *y = s->cfg->labels_sampled ? (fe->sc->cls[i] == k) : exp(*y);
      }
  }
}

/* The fits' record: the smallest rank, the largest condition number, the
 * most Newton iterations and the largest final relative gradient. */
static void record_fits(w2s_ctx *ctx, w2s_results *res, int r, int64_t q,
                        const w2s_softmax_info *in, int64_t K, int first) {
  w2s_repr_record *rec = &res->repr[r];
  for (int64_t k = 0; k < K; ++k) {
    if ((first && k == 0) || in[k].rank < rec->rank) rec->rank = in[k].rank;
    if ((first && k == 0) || in[k].cond > rec->cond) rec->cond = in[k].cond;
    if (in[k].iterations > rec->newton_iterations)
      rec->newton_iterations = in[k].iterations;
    if (in[k].rel_grad > rec->newton_rel_grad)
      rec->newton_rel_grad = in[k].rel_grad;
  }
  if (first && K > 0 && rec->rank < q)
    w2s_log(ctx, 1,
            "note: the Hessian of %s's heads has rank %lld of %lld (dead "
            "units or collinear features); Newton takes minimum-norm steps",
            rec->name, (long long)rec->rank, (long long)q);
}

/* Collective: fit K heads on representation r of ch (targets[k] says
 * what head k fits) into W (q_r per head), in chunks of heads whose targets
 * fit the cap; the record of r gets the fits' summary. */
static w2s_err fit_heads(w2s_ctx *ctx, const fit_env *fe, int r,
                         const target_of *targets, int64_t K, int reverse,
                         double *W, const char *label, w2s_results *res,
                         int first, const char *unit, int64_t base) {
  sim *s = fe->s;
  const w2s_config *c = s->cfg;
  const cache *ch = fe->ch;
  int64_t C = c->classes, p = s->p[r], q = p * (C - 1), cnt = ch->count;
  /* The same chunk on every rank: from the largest share of the rows. */
  int64_t rows_max = (ch->n + ctx->size - 1) / ctx->size;
  int64_t kc = target_doubles_cap / (rows_max * C + 1);
  if (kc < 1) kc = 1;
  if (kc > K) kc = K;
  int *pen = NULL;
  double *Y = NULL;
  w2s_softmax_info *in = NULL;
  w2s_err e = W2S_ALLOC(ctx, pen, p);
  if (!e) e = W2S_ALLOC(ctx, Y, cnt * C * kc + 1);
  if (!e) e = W2S_ALLOC(ctx, in, K);
  e = w2s_agree(ctx, e);
  for (int64_t i = 0; i < p && !e; ++i) pen[i] = 1;
  if (!e && c->intercept) pen[p - 1] = 0;
  w2s_softmax_opts o = {.ridge = c->ridge,
                        .penalize = pen,
                        .tol = c->newton_tol,
                        .max_iter = c->newton_max_iter,
                        .label = label,
                        .reverse = reverse,
                        .head_unit = unit,
                        .head_base = base};
  for (int64_t k0 = 0; k0 < K && !e; k0 += kc) {
    int64_t nk = K - k0 < kc ? K - k0 : kc;
    for (int64_t k = 0; k < nk; ++k)
      fill_targets(fe, targets[k0 + k], Y + k * C * cnt);
    w2s_softmax_data d = {cnt, ch->n, p, C,   ch->F[r],
                          cnt, nk,    Y, cnt, ch->start};
    o.head_base = base + k0;
    e = w2s_softmax_fit(ctx, &d, &o, W + k0 * q, in + k0);
  }
  if (!e) {
    record_fits(ctx, res, r, q, in, K, first);
    int it_lo = K ? in[0].iterations : 0, it_hi = it_lo, passes = 0, nh = 0;
    double g_hi = 0.0;
    for (int64_t k = 0; k < K; ++k) {
      if (in[k].iterations < it_lo) it_lo = in[k].iterations;
      if (in[k].iterations > it_hi) it_hi = in[k].iterations;
      if (in[k].passes > passes) passes = in[k].passes;
      if (in[k].hessians > nh) nh = in[k].hessians;
      if (in[k].rel_grad > g_hi) g_hi = in[k].rel_grad;
    }
    w2s_log(ctx, 2,
            "%s: %lld heads, Newton iterations %d-%d, at most %d passes "
            "(%d with the Hessian), relative gradient <= %.2e",
            label, (long long)K, it_lo, it_hi, passes, nh, g_hi);
  }
  free(pen);
  free(Y);
  free(in);
  return e;
}

/* Local: the mixture components of task t on b rows of the strong
 * features F0 (ld ldf): component 0 the task's strong ceiling, component
 * j >= 1 a random softmax head on the strong features, its weights
 * uniform in +-1/sqrt(d_s) from stream W2S_STREAM_MIXTURE, counter (t, j,
 * 0). Probabilities into Q (b x (k C), ld ldq); Wr holds one head. */
static void components(const sim *s, const double *F0, int64_t ldf, int64_t b,
                       int64_t t, double *Q, int64_t ldq, double *Wr) {
  const w2s_config *c = s->cfg;
  int64_t C = c->classes, k = c->mixture, p = s->p[0], q = p * (C - 1);
  int64_t d = sim_rep_dim(s, 0);
  double bound = 1.0 / sqrt((double)(d > 0 ? d : 1));
  for (int64_t j = 0; j < k; ++j) {
    const double *W = s->Cceil + t * q;
    if (j > 0) {
      w2s_rng_uniform(c->seed, W2S_STREAM_MIXTURE, (uint64_t)t, (uint64_t)j, 0,
                      q, -bound, bound, Wr);
      W = Wr;
    }
    w2s_softmax_logprob(b, p, C, F0, ldf, W, 1, Q + j * C * ldq, ldq);
    for (int64_t cc = 0; cc < C; ++cc)
      for (int64_t i = 0; i < b; ++i)
        Q[(j * C + cc) * ldq + i] = exp(Q[(j * C + cc) * ldq + i]);
  }
}

/* One task group's state. */
typedef struct {
  int64_t g, t0, Tg;
  int first;
  scratch sc;
  target_of *targets; /* Tg + Tg J */
  char label[200];
} group;

static w2s_err weak_fits(w2s_ctx *ctx, sim *s, group *gr, const cache *ch,
                         w2s_results *res) {
  fit_env fe = {s, ch, gr->t0, &gr->sc};
  int64_t C = s->cfg->classes;
  for (int64_t t = 0; t < gr->Tg; ++t) gr->targets[t] = (target_of){-1, t};
  w2s_err e = W2S_OK;
  for (int j = 0; j < s->J && !e; ++j) {
    int64_t q = s->p[1 + j] * (C - 1);
    snprintf(gr->label, sizeof gr->label, "weak model '%s'",
             s->cfg->weak[j].name);
    e = fit_heads(ctx, &fe, 1 + j, gr->targets, gr->Tg, 0,
                  s->Cw[j] + gr->t0 * q, gr->label, res, gr->first, "task",
                  gr->t0);
  }
  return e;
}

/* The mixture students of the group: per task its components on the w2s
 * split, per weak model the simplex weights fitted to its soft labels. */
static w2s_err mixture_students(w2s_ctx *ctx, sim *s, group *gr,
                                const cache *ch) {
  const w2s_config *c = s->cfg;
  fit_env fe = {s, ch, gr->t0, &gr->sc};
  int64_t C = c->classes, k = c->mixture, cnt = ch->count, J = s->J;
  double *Q = NULL, *Y = NULL;
  w2s_err e = W2S_ALLOC(ctx, Q, cnt * k * C + 1);
  if (!e) e = W2S_ALLOC(ctx, Y, cnt * C + 1);
  e = w2s_agree(ctx, e);
  int it_hi = 0;
  double gap_hi = 0.0;
  for (int64_t tl = 0; tl < gr->Tg && !e; ++tl) {
    components(s, ch->F[0], cnt, cnt, gr->t0 + tl, Q, cnt, gr->sc.Wr);
    for (int j = 0; j < J && !e; ++j) {
      fill_targets(&fe, (target_of){j, tl}, Y);
      snprintf(gr->label, sizeof gr->label,
               "mixture student of task %lld, weak model '%s'",
               (long long)gr->t0 + (long long)tl, c->weak[j].name);
      w2s_mixture_info in;
      e = w2s_mixture_fit(ctx,
                          &(w2s_mixture_data){cnt, ch->n, C, k, Q, cnt, Y, cnt},
                          &(w2s_mixture_opts){100.0 * c->newton_tol,
                                              c->newton_max_iter, gr->label},
                          s->Csw + ((gr->t0 + tl) * J + j) * k, &in);
      if (!e && in.iterations > it_hi) it_hi = in.iterations;
      if (!e && in.gap > gap_hi) gap_hi = in.gap;
    }
  }
  if (!e)
    w2s_log(ctx, 2,
            "mixture students (task group %lld): %d components, at most %d "
            "Newton iterations, Frank-Wolfe gap <= %.2e",
            (long long)gr->g, c->mixture, it_hi, gap_hi);
  free(Q);
  free(Y);
  return e;
}

/* The ceiling (true labels) and the forward students (weak labels p_w) of
 * the group, in one batch of heads on the strong representation. */
static w2s_err strong_fits(w2s_ctx *ctx, sim *s, group *gr, const cache *ch,
                           w2s_results *res) {
  fit_env fe = {s, ch, gr->t0, &gr->sc};
  int64_t C = s->cfg->classes, Tg = gr->Tg, J = s->J, K = Tg + Tg * J;
  int64_t q = s->p[0] * (C - 1);
  for (int64_t t = 0; t < Tg; ++t) {
    gr->targets[t] = (target_of){-1, t};
    for (int j = 0; j < J; ++j) gr->targets[Tg + t * J + j] = (target_of){j, t};
  }
  double *W = NULL;
  W2S_CALL(w2s_agree(ctx, W2S_ALLOC(ctx, W, q * K)));
  /* The ceilings, then the students (reverse ones minimise another
   * objective; forward ones could share the ceilings' batch, but apart
   * the two are logged on their own). */
  snprintf(gr->label, sizeof gr->label, "strong ceiling");
  w2s_err e = fit_heads(ctx, &fe, 0, gr->targets, Tg, 0, W, gr->label, res,
                        gr->first, "task", gr->t0);
  snprintf(gr->label, sizeof gr->label,
           "%s students (pair = task x %d + weak model)",
           s->cfg->student_reverse ? "reverse" : "forward", s->J);
  if (!e && !s->cfg->mixture)
    e = fit_heads(ctx, &fe, 0, gr->targets + Tg, Tg * J,
                  s->cfg->student_reverse, W + Tg * q, gr->label, res, 0,
                  "pair", gr->t0 * J);
  if (!e && s->cfg->mixture) {
    memcpy(s->Cceil + gr->t0 * q, W, sizeof(double) * (size_t)(q * Tg));
    free(W);
    return mixture_students(ctx, s, gr, ch);
  }
  if (!e) {
    memcpy(s->Cceil + gr->t0 * q, W, sizeof(double) * (size_t)(q * Tg));
    memcpy(s->Csw + gr->t0 * J * q, W + Tg * q,
           sizeof(double) * (size_t)(q * Tg * J));
  }
  free(W);
  return e;
}

/* Local: the metric sums of ch's rows for the group's tasks. */
static void split_sums(sim *s, group *gr, const cache *ch,
                       w2s_metric_sums *ms) {
  int64_t C = s->cfg->classes, J = s->J, cnt = ch->count, nb = s->nb;
  scratch *sc = &gr->sc;
  for (int64_t i0 = 0; i0 < cnt; i0 += nb) {
    int64_t b = cnt - i0 < nb ? cnt - i0 : nb;
    for (int64_t tl = 0; tl < gr->Tg; ++tl) {
      int64_t t = gr->t0 + tl;
      truth(s, ch, t, i0, b, sc->Lt, nb, sc->cls);
      int64_t k = s->cfg->mixture;
      if (k) components(s, ch->F[0] + i0, cnt, b, t, sc->Qb, nb, sc->Wr);
      for (int j = 0; j < J; ++j) {
        int64_t qw = s->p[1 + j] * (C - 1), qs = s->p[0] * (C - 1);
        w2s_softmax_logprob(b, s->p[1 + j], C, ch->F[1 + j] + i0, cnt,
                            s->Cw[j] + t * qw, 1, sc->Lw + j * C * nb, nb);
        if (k)
          w2s_mixture_logprob(b, C, k, sc->Qb, nb, s->Csw + (t * J + j) * k,
                              sc->Lsw + j * C * nb, nb);
        else
          w2s_softmax_logprob(b, s->p[0], C, ch->F[0] + i0, cnt,
                              s->Csw + (t * J + j) * qs, 1,
                              sc->Lsw + j * C * nb, nb);
      }
      w2s_softmax_logprob(b, s->p[0], C, ch->F[0] + i0, cnt,
                          s->Cceil + t * s->p[0] * (C - 1), 1, sc->Ls, nb);
      w2s_metric_sums_add_kl(ms, tl,
                             &(w2s_kl_block){b, C, sc->Lt, nb, sc->cls, sc->Lw,
                                             nb, sc->Lsw, nb, sc->Ls, nb,
                                             s->cfg->student_reverse});
    }
  }
}

static w2s_err group_alloc(w2s_ctx *ctx, const sim *s, group *gr) {
  int64_t C = s->cfg->classes, nb = s->nb, J = s->J;
  w2s_err e = W2S_ALLOC(ctx, gr->sc.Lt, nb * C);
  if (!e) e = W2S_ALLOC(ctx, gr->sc.Lw, nb * C * J);
  if (!e) e = W2S_ALLOC(ctx, gr->sc.Lsw, nb * C * J);
  if (!e) e = W2S_ALLOC(ctx, gr->sc.Ls, nb * C);
  if (!e) e = W2S_ALLOC(ctx, gr->sc.cls, nb);
  if (!e) e = W2S_ALLOC(ctx, gr->sc.Qb, nb * C * s->cfg->mixture + 1);
  if (!e) e = W2S_ALLOC(ctx, gr->sc.Wr, s->p[0] * (C - 1));
  if (!e) e = W2S_ALLOC(ctx, gr->targets, gr->Tg + gr->Tg * J);
  return w2s_agree(ctx, e);
}

static void group_free(group *gr) {
  free(gr->sc.Lt), free(gr->sc.Lw), free(gr->sc.Lsw), free(gr->sc.Ls);
  free(gr->sc.cls), free(gr->targets), free(gr->sc.Qb), free(gr->sc.Wr);
}

w2s_err sim_class_group(w2s_ctx *ctx, sim *s, int64_t g, int64_t Tg,
                        w2s_results *res) {
  const w2s_config *c = s->cfg;
  group gr = {g, g * Tg, Tg, g == 0, {0}, NULL, ""};
  memset(&gr.sc, 0, sizeof gr.sc);
  int w2s_split = c->w2s_same_inputs ? SPLIT_WEAK : SPLIT_W2S;
  cache ch = {0};
  w2s_metric_sums sums[2] = {{0}, {0}};
  w2s_err e = group_alloc(ctx, s, &gr);
  w2s_timer_start(ctx, W2S_SIM_WEAK_FIT);
  if (!e) e = cache_load(ctx, s, SPLIT_WEAK, g, c->n_weak_train, &ch);
  if (!e) e = weak_fits(ctx, s, &gr, &ch, res);
  w2s_timer_stop(ctx, W2S_SIM_WEAK_FIT);
  w2s_timer_start(ctx, W2S_SIM_STRONG_FIT);
  if (!e && w2s_split != SPLIT_WEAK) {
    cache_free(s, &ch);
    e = cache_load(ctx, s, w2s_split, g, c->n_w2s_train, &ch);
  }
  if (!e) e = strong_fits(ctx, s, &gr, &ch, res);
  w2s_timer_stop(ctx, W2S_SIM_STRONG_FIT);
  int timers[2] = {W2S_SIM_TRAIN_METRICS, W2S_SIM_TEST_METRICS};
  for (int q = 0; q < 2 && !e; ++q) {
    w2s_timer_start(ctx, timers[q]);
    e = w2s_agree(ctx, w2s_metric_sums_init(ctx, Tg, s->J, &sums[q]));
    if (!e && q == 1) {
      cache_free(s, &ch);
      e = cache_load(ctx, s, SPLIT_TEST, g, c->n_test, &ch);
    }
    if (!e) {
      split_sums(s, &gr, &ch, &sums[q]);
      e = w2s_agree(ctx, w2s_metric_sums_reduce(ctx, &sums[q]));
    }
    sums[q].kl = 1;
    w2s_timer_stop(ctx, timers[q]);
  }
  if (!e &&
      (!w2s_metric_sums_finite(&sums[0]) || !w2s_metric_sums_finite(&sums[1])))
    e = W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                 "%s: a KL metric of task group %lld is not finite (a "
                 "probability underflowed to 0 where the other is not: "
                 "lower the logits' scale with target.temperature)",
                 c->path, (long long)g);
  if (!e) w2s_metrics_finish(&sums[1], &sums[0], gr.t0 * s->J, res->metric);
  w2s_metric_sums_free(&sums[0]);
  w2s_metric_sums_free(&sums[1]);
  cache_free(s, &ch);
  group_free(&gr);
  return e;
}
