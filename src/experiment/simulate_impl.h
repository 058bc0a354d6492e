/* Private to the simulate pipeline: simulate.c (the passes) and
 * simulate_setup.c (networks, buffers, the record's shapes). */
#ifndef W2S_SIMULATE_IMPL_H
#define W2S_SIMULATE_IMPL_H

#include "w2s/experiment.h"
#include "w2s/lsq.h"

enum { SPLIT_WEAK = 0, SPLIT_W2S = 1, SPLIT_TEST = 2 };

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
  /* coefficients, column per head: weak j p_j x T, strong p_s x T and p_s x K
   */
  double **Cw, *Cceil, *Csw;
  int engine;             /* W2S_ENGINE_FACTOR or _DIRECT (auto resolved) */
  struct sim_factor *fac; /* the factor engine's layouts and buffers */
} sim;

static inline int64_t sim_rep_dim(const sim *s, int r) {
  return w2s_mlp_out_dim(s->rep[r]);
}

/* Collective: the networks, heads and buffers of configuration c (freed
 * by sim_free, on failure too); res receives the sources' curves. */
w2s_err sim_setup(w2s_ctx *ctx, const w2s_config *c, sim *s, w2s_results *res);
void sim_free(sim *s);
/* Local: names, shapes and provenance (w2s_results_set_provenance: seed,
 * ranks, solver, the effective configuration) of the record, and the
 * coefficients' storage (their values once fitted). */
w2s_err sim_fill_results(w2s_ctx *ctx, const sim *s, w2s_results *res);

/* Local: the stacked layouts of the factor engine (simulate_factor.c) and
 * the engine that runs: fit.engine, or for auto the cheaper one by the cost
 * model, logged. Called by sim_setup once the representations exist;
 * allocates s->fac (freed by sim_free). */
w2s_err sim_factor_plan(w2s_ctx *ctx, sim *s);
/* Local: allocate the factor engine's row block (s->nb rows). */
w2s_err sim_factor_alloc(w2s_ctx *ctx, sim *s);
/* Local: the widest stacked layout's columns (after sim_factor_plan). */
int64_t sim_factor_columns(const sim *s);
void sim_factor_free(sim *s);
/* Collective: task group g (tasks [g Tg, g Tg + Tg)) by the factor engine:
 * coefficients into s->Cw, s->Cceil, s->Csw and metrics into res. */
w2s_err sim_factor_group(w2s_ctx *ctx, sim *s, int64_t g, int64_t Tg,
                         w2s_results *res);

/* Collective: task group g by the softmax pipeline (simulate_class.c):
 * coefficients into s->Cw, s->Cceil, s->Csw (p_r (C - 1) per head) and
 * the KL metrics into res. */
w2s_err sim_class_group(w2s_ctx *ctx, sim *s, int64_t g, int64_t Tg,
                        w2s_results *res);
/* Coefficients per head of representation r: p_r, or p_r (C - 1) for
 * softmax heads. */
static inline int64_t sim_head_size(const sim *s, int r) {
  return s->p[r] * (s->cfg->softmax ? s->cfg->classes - 1 : 1);
}

/* Coefficients per student: the head's, or a mixture's k weights. */
static inline int64_t sim_student_size(const sim *s) {
  return s->cfg->mixture ? s->cfg->mixture : sim_head_size(s, 0);
}

/* Shared by both engines (simulate.c). */
void sim_record_fit(w2s_ctx *ctx, w2s_results *res, int r, int64_t p,
                    const w2s_lsq_info *info, int first);
typedef struct {
  w2s_ctx *ctx;
  const char *what;
  int64_t done, total, next;
} sim_progress;
void sim_tick(sim_progress *pr, int64_t m);
/* Local: rows [i0, i0 + m) of split `split`, task group `group`: inputs
 * into s->X (m x input_dim, leading dimension m). */
void sim_gen_inputs(sim *s, int split, int64_t group, int64_t i0, int64_t m);

#endif
