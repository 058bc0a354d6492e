/* `w2s fit` on class labels (--loss logistic|softmax): multinomial logistic
 * heads fitted by Newton's method (w2s_softmax_fit, heads.h) and KL metrics
 * (w2s_metric_sums_add_kl, metrics.h).
 *
 * Newton needs a pass over a head's rows per iteration, so after the scan
 * pass (fit_scan.c: finite values, split counts, standardisation moments)
 * each rank reads its rows of the three splits into memory once, every
 * split in the order [fitting part | part held out to choose a --ridge].
 * Then:
 *   split 0: each weak head, a cross-entropy fit to the true labels (one-hot
 *     class ids, or the probabilities);
 *   split 1: the weak soft labels p_w, then the strong ceiling (true labels)
 *     and the forward students (cross-entropy to each p_w) in one batch;
 *   splits 1 (train) and 2 (test): KL sums. Class ids are truth first with
 *     the one-hot truth (log-probabilities 0 on the class, -inf elsewhere),
 *     so the errors are cross-entropies against the labels; probabilities
 *     are model first (exact KL: on realizable labels the forward student
 *     has gain_train = misfit_train).
 * Several --ridge values: every candidate is fitted on the fitting 80% of
 * the head's split and scored by held-out cross-entropy, the weak heads
 * against the true labels and the students against their weak labels (the
 * w2s split's truth is never used; the ceiling takes the students'
 * choice): the squared path's scheme (fit.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/fit_impl.h"
#include "w2s/heads.h"
#include "w2s/metrics.h"

const char *const w2s_fit_loss_names[] = {"auto", "squared", "logistic",
                                          "softmax", NULL};

/* simulate's defaults of fit.newton_tol and fit.newton_max_iter. */
static const double newton_tol = 1e-12;
static const int newton_max_iter = 100;
/* Newton state of one w2s_softmax_fit call (Hessians and gradients), and
 * the label values a block of the check pass reads, in doubles. */
static const int64_t newton_doubles_cap = (int64_t)1 << 25; /* 256 MiB */
static const int64_t block_doubles_cap = (int64_t)1 << 22;  /* 32 MiB */
enum { MAX_CLASSES = 1000000 };

static const char *kind_text(int kind) {
  return kind == W2S_LABELS_VALUES      ? "float values [n]"
         : kind == W2S_LABELS_CLASS_IDS ? "integer class ids [n]"
                                        : "class probabilities [n, C]";
}

/* A probability row must sum to 1 within 8 C 2^-24: a float32 export
 * rounds each of the C entries (relative error 2^-24, at most 2^-24 on the
 * sum), and a softmax computed in float32 adds its normalising sum's
 * rounding ((C - 1) 2^-24) and a few units of exp and division; 8 C covers
 * (C + 3) 2^-24 twice over for every C >= 2. float64 rows are far inside. */
static double sum_tol(int64_t C) { return 8.0 * (double)C * 0x1p-24; }

/* ---- The check of class labels (w2s_fit_resolve_loss) ---- */

/* What can be wrong with a row of class labels, in the order a row's
 * message prefers. */
enum { BAD_NEG_ID, BAD_BIG_ID, BAD_NONFINITE, BAD_NEG_P, BAD_ZERO_P, BAD_SUM };
enum { NBAD = 6 };

/* The first bad row of each kind on this rank, with its class and value. */
typedef struct {
  int64_t row[NBAD], cls[NBAD];
  double val[NBAD];
  double max_id;
} label_check;

static void note_bad(label_check *lc, int k, int64_t g, int64_t c, double v) {
  if (g < lc->row[k]) lc->row[k] = g, lc->cls[k] = c, lc->val[k] = v;
}

/* Local: m rows from global row g0: ids y (P NULL) or probabilities P
 * (m x C). cfix: the classes when fixed (--classes, logistic), else 0. */
static void check_block(label_check *lc, const double *y, const double *P,
                        int64_t m, int64_t C, int64_t cfix, int64_t g0) {
  for (int64_t i = 0; i < m; ++i) {
    int64_t g = g0 + i;
    if (!P) {
      double v = y[i];
      if (v < 0) {
        note_bad(lc, BAD_NEG_ID, g, 0, v);
      } else {
        if (v > lc->max_id) lc->max_id = v;
        if (cfix > 0 && v >= (double)cfix) note_bad(lc, BAD_BIG_ID, g, 0, v);
      }
      continue;
    }
    double sum = 0.0;
    int ok = 1;
    for (int64_t c = 0; c < C; ++c) {
      double v = P[c * m + i];
      int k = !isfinite(v) ? BAD_NONFINITE
              : v < 0      ? BAD_NEG_P
              : v == 0     ? BAD_ZERO_P
                           : -1;
      if (k >= 0) note_bad(lc, k, g, c, v);
      ok &= k != BAD_NONFINITE && k != BAD_NEG_P;
      sum += v;
    }
    if (ok && fabs(sum - 1.0) > sum_tol(C)) note_bad(lc, BAD_SUM, g, 0, sum);
  }
}

/* Local: the message of bad row kind k (this rank holds its detail). */
static w2s_err bad_label(w2s_ctx *ctx, const w2s_fit_opts *o,
                         const label_check *lc, int k, int64_t cfix,
                         int given) {
  const char *p = o->path;
  long long row = (long long)lc->row[k], c = (long long)lc->cls[k];
  double v = lc->val[k];
  switch (k) {
  case BAD_NEG_ID:
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: dataset '/labels' has class id %.0f at row %lld; "
                    "class ids are 0..C-1",
                    p, v, row);
  case BAD_BIG_ID:
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: dataset '/labels' has class id %.0f at row %lld, "
                    "outside 0..%lld (%s)",
                    p, v, row, (long long)cfix - 1,
                    given ? "--classes" : "--loss logistic: 2 classes");
  case BAD_NONFINITE:
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: dataset '/labels' has a non-finite probability (NaN "
                    "or Inf) at row %lld, class %lld",
                    p, row, c);
  case BAD_NEG_P:
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: dataset '/labels' has a negative probability %g at "
                    "row %lld, class %lld",
                    p, v, row, c);
  case BAD_ZERO_P:
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: dataset '/labels' has probability 0 at row %lld, "
                    "class %lld: KL(model || labels) is infinite there; "
                    "probabilities must be > 0 (give one-hot labels as "
                    "integer class ids [n])",
                    p, row, c);
  default:
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: dataset '/labels': the probabilities of row %lld "
                    "sum to %.17g, not to 1 within %.3g (8 C 2^-24: float32 "
                    "rounding of C = %lld entries); renormalise the rows",
                    p, row, v, sum_tol(o->classes), (long long)o->classes);
  }
}

/* Collective: one pass over /labels (every rank its rows) checking class
 * ids against cfix (0: none; given: by --classes) or probability rows; the
 * first bad row over ranks is reported by the rank that holds it (the
 * others agree on its message). *max_id: the largest id. */
static w2s_err check_labels(w2s_ctx *ctx, const w2s_fit_opts *o,
                            w2s_features *f, int64_t cfix, int given,
                            double *max_id) {
  int probs = w2s_features_label_kind(f) == W2S_LABELS_PROBS;
  int64_t C = probs ? w2s_features_label_cols(f) : 1, n = w2s_features_rows(f);
  int64_t start, count, nb = o->block_rows;
  if (nb * C > block_doubles_cap) nb = block_doubles_cap / C;
  if (nb < 1) nb = 1;
  w2s_partition(n, ctx->size, ctx->rank, &start, &count);
  int64_t nblocks = ((n + ctx->size - 1) / ctx->size + nb - 1) / nb;
  label_check lc = {.max_id = -1.0};
  for (int k = 0; k < NBAD; ++k) lc.row[k] = INT64_MAX;
  double *buf = NULL;
  w2s_err e = w2s_agree(ctx, W2S_ALLOC(ctx, buf, nb * C));
  for (int64_t b = 0; b < nblocks && !e; ++b) {
    int64_t i0 = b * nb, m = 0;
    if (i0 < count) m = count - i0 < nb ? count - i0 : nb;
    w2s_features_block blk = {probs ? NULL : buf, NULL, NULL, NULL, NULL,
                              probs ? buf : NULL};
    e = w2s_features_read(ctx, f, start + i0, m, &blk);
    if (!e)
      check_block(&lc, probs ? NULL : buf, probs ? buf : NULL, m, C, cfix,
                  start + i0);
  }
  free(buf);
  int64_t first[NBAD];
  memcpy(first, lc.row, sizeof first);
  if (!e) e = w2s_agree(ctx, w2s_min_i64(ctx, first, NBAD));
  if (!e) e = w2s_agree(ctx, w2s_max(ctx, &lc.max_id, 1));
  if (e) return e;
  int k = -1;
  for (int i = 0; i < NBAD; ++i)
    if (first[i] != INT64_MAX && (k < 0 || first[i] < first[k])) k = i;
  if (k >= 0 && lc.row[k] == first[k])
    e = bad_label(ctx, o, &lc, k, cfix, given);
  *max_id = lc.max_id;
  return k >= 0 ? w2s_agree(ctx, e) : W2S_OK;
}

/* Local: what a class loss does not take (the same verdict on every rank). */
static w2s_err class_options(w2s_ctx *ctx, const w2s_fit_opts *o,
                             const w2s_features *f) {
  const char *loss = w2s_fit_loss_names[o->loss];
  if (o->engine == W2S_ENGINE_FACTOR)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "--engine factor fits least-squares heads from one TSQR "
                    "factor; --loss %s heads are fitted by Newton's method, "
                    "which needs a pass over the rows per step (use --engine "
                    "direct or auto)",
                    loss);
  if (strcmp(o->solver, "auto") != 0)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "--solver %s chooses a least-squares solver; --loss %s "
                    "heads are fitted by Newton's method (remove --solver)",
                    o->solver, loss);
  for (int j = 0; j < w2s_features_nweak(f); ++j)
    if (w2s_features_has_predictions(f, j))
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: dataset '/weak_predictions/%s': weak predictions "
                      "are not taken with --loss %s (a weak model's class "
                      "predictions would be [n, C] probabilities); give its "
                      "features as /weak/%s",
                      o->path, w2s_features_weak_name(f, j), loss,
                      w2s_features_weak_name(f, j));
  return W2S_OK;
}

/* Local: the classes fixed before reading (--classes, logistic, the width
 * of probabilities), or 0. */
static w2s_err fixed_classes(w2s_ctx *ctx, const w2s_fit_opts *o,
                             const w2s_features *f, int64_t *cfix) {
  int64_t c = o->classes;
  if (o->loss == W2S_FIT_LOSS_LOGISTIC) {
    if (c && c != 2)
      return W2S_FAIL(ctx, W2S_ERR_USAGE,
                      "--loss logistic has 2 classes, not --classes %lld "
                      "(use --loss softmax)",
                      (long long)c);
    c = 2;
  }
  if (w2s_features_label_kind(f) == W2S_LABELS_PROBS) {
    int64_t w = w2s_features_label_cols(f);
    if (w < 2)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: dataset '/labels' has 1 column: class "
                      "probabilities [n, C] need C >= 2 classes",
                      o->path);
    if (c && c != w)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: dataset '/labels' has %lld columns (class "
                      "probabilities), not the %lld classes of %s",
                      o->path, (long long)w, (long long)c,
                      o->classes ? "--classes" : "--loss logistic");
    c = w;
  }
  *cfix = c;
  return W2S_OK;
}

w2s_err w2s_fit_resolve_loss(w2s_ctx *ctx, w2s_fit_opts *o, w2s_features *f) {
  int kind = w2s_features_label_kind(f), inferred = o->loss == 0;
  if (inferred)
    o->loss = kind == W2S_LABELS_VALUES ? W2S_FIT_LOSS_SQUARED
                                        : W2S_FIT_LOSS_SOFTMAX;
  const char *loss = w2s_fit_loss_names[o->loss];
  if ((kind == W2S_LABELS_VALUES) != (o->loss == W2S_FIT_LOSS_SQUARED))
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: dataset '/labels' holds %s, which --loss %s does "
                    "not take (%s)",
                    o->path, kind_text(kind), loss,
                    kind == W2S_LABELS_VALUES
                        ? "class losses need integer class ids [n] or class "
                          "probabilities [n, C]"
                        : "the squared loss needs float values [n]");
  if (o->loss == W2S_FIT_LOSS_SQUARED) {
    if (o->classes)
      return W2S_FAIL(ctx, W2S_ERR_USAGE,
                      "--classes applies to class labels; %s: dataset "
                      "'/labels' holds float values [n] (the squared loss)",
                      o->path);
    w2s_log(ctx, 2, "loss: squared (%s; %s: dataset '/labels' holds %s)",
            inferred ? "inferred" : "as --loss asked", o->path,
            kind_text(kind));
    return W2S_OK;
  }
  int64_t cfix = 0;
  int given = o->classes > 0;
  double max_id = -1.0;
  W2S_CALL(class_options(ctx, o, f));
  W2S_CALL(fixed_classes(ctx, o, f, &cfix));
  o->classes = cfix;
  W2S_CALL(check_labels(ctx, o, f, cfix, given, &max_id));
  if (!cfix) {
    if (max_id + 1.0 > MAX_CLASSES)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: dataset '/labels' has class ids up to %.0f: more "
                      "than the %d classes w2s fit takes",
                      o->path, max_id, MAX_CLASSES);
    o->classes = (int64_t)max_id + 1;
    if (o->classes < 2)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: dataset '/labels' has class id 0 only: C = 1 "
                      "class, at least 2 needed (--classes C if the other "
                      "classes have no rows)",
                      o->path);
  }
  if (inferred && o->classes == 2) o->loss = W2S_FIT_LOSS_LOGISTIC;
  w2s_log(ctx, 2,
          "loss: %s over %lld classes (%s; %s: dataset '/labels' holds "
          "%s); Newton fits to relative gradient %g, KL metrics %s",
          w2s_fit_loss_names[o->loss], (long long)o->classes,
          inferred ? "inferred" : "as --loss asked", o->path, kind_text(kind),
          newton_tol,
          kind == W2S_LABELS_CLASS_IDS
              ? "truth first (cross-entropies against the labels)"
              : "model first");
  return W2S_OK;
}

/* ---- The pipeline (fit_class_run) ---- */

/* One split's rows on this rank, in file order, or while a --ridge is
 * chosen with the fitting part first (its first mfit rows; pos: each row's
 * place in file order). row0: the global index of this rank's first row
 * among the split's rows [1] or its fitting rows [0] in file order, which
 * does not depend on the rank count (heads.h: the Hessian's row sample). */
typedef struct {
  int64_t m, mfit, row0[2];
  int64_t *pos;
  double *S;    /* m x ps, the intercept's column last (splits 1 and 2) */
  double **W;   /* J: m x pw_j, the same */
  double *T;    /* m x nt C: columns [0, C) the true labels as probabilities
                   (one-hot for ids); split 1 then each weak model's soft
                   labels p_w */
  int64_t *cls; /* the true class: the id, or the most probable class */
} part;

typedef struct {
  fitter *s;
  int64_t C, qs, *qw; /* classes; parameters per strong and weak head */
  int ids;            /* class ids (truth first), else probabilities */
  part pt[3];
  double **cw, *cs;       /* weak heads; strong: the ceiling, then J students */
  int *pen;               /* the widest head's penalty mask */
  w2s_softmax_info *info; /* 1 + J */
  int64_t *rows_of;       /* 2 x C: rows of each class in splits 0, 1 */
  double *L;              /* nl x (2 J + 2) C log-probabilities */
  int64_t nl;
  double *tmp;   /* max m: a column being put back in order */
  int64_t *itmp; /* max m: the same for the classes */
  char label[W2S_PATH_LEN + 96];
} cfit;

static void cfit_free(cfit *cf) {
  int J = cf->s->J;
  for (int q = 0; q < 3; ++q) {
    part *pt = &cf->pt[q];
    for (int j = 0; pt->W && j < J; ++j) free(pt->W[j]);
    free(pt->S), free(pt->W), free(pt->T), free(pt->cls), free(pt->pos);
  }
  for (int j = 0; cf->cw && j < J; ++j) free(cf->cw[j]);
  free(cf->qw), free(cf->cw), free(cf->cs), free(cf->pen), free(cf->info);
  free(cf->rows_of), free(cf->L), free(cf->tmp), free(cf->itmp);
}

/* Collective: this rank's rows of split q in its fitting [0] and held-out
 * [1] part (every rank reads /split equally often). */
static w2s_err count_rows(w2s_ctx *ctx, fitter *s, int64_t cnt[3][2]) {
  memset(cnt, 0, sizeof(int64_t) * 6);
  for (int64_t b = 0; b < s->nblocks; ++b) {
    int64_t i0 = b * s->nb, m = 0;
    if (i0 < s->count) m = s->count - i0 < s->nb ? s->count - i0 : s->nb;
    if (w2s_features_has_split(s->f))
      W2S_CALL(w2s_features_read(ctx, s->f, s->start + i0, m,
                                 &(w2s_features_block){NULL, NULL, NULL, NULL,
                                                       s->split, NULL}));
    else
      fit_splits_of_block(s, s->start + i0, m);
    for (int64_t i = 0; i < m; ++i) {
      int q = s->split[i];
      int held = s->o->nridge > 1 && q < 2 &&
                 fit_held_out(s, s->start + i0 + i);
      cnt[q][held]++;
    }
  }
  return W2S_OK;
}

/* Collective: refuse, before allocating, rows and Newton state beyond the
 * smallest node's memory; the message names the widest head's dataset. */
static w2s_err check_memory(w2s_ctx *ctx, const cfit *cf, int64_t cnt[3][2]) {
  const fitter *s = cf->s;
  int64_t C = cf->C, J = s->J, q = cf->qs, sum_pw = 0, pmax = s->ps;
  char name[W2S_NAME_LEN + 16] = "/strong";
  for (int j = 0; j < J; ++j) {
    sum_pw += s->pw[j];
    if (s->pw[j] > pmax) pmax = s->pw[j];
    if (cf->qw[j] > q) {
      q = cf->qw[j];
      snprintf(name, sizeof name, "/weak/%s", w2s_features_weak_name(s->f, j));
    }
  }
  double rows = 0.0;
  for (int k = 0; k < 3; ++k)
    rows += (double)(cnt[k][0] + cnt[k][1]) *
            (double)(sum_pw + (k ? s->ps : 0) + C * (k == 1 ? 1 + J : 1) + 1);
  /* w2s_softmax_fit: per head its sums and latest Hessian (2 q^2 + 3 q +
   * 1), then a Newton solve's 2 q^2 + q and block scratch (at most 4096
   * rows of 3 C + p values, 2^21 of the q-wide block, p q). */
  double dq = (double)q, per_head = 2.0 * dq * dq + 3.0 * dq + 1.0;
  double kc = floor((double)newton_doubles_cap / per_head);
  if (kc < 1.0) kc = 1.0;
  if (kc > (double)(1 + J)) kc = (double)(1 + J);
  double state = kc * per_head + 2.0 * dq * dq + dq +
                 4096.0 * (3.0 * (double)C + (double)pmax) + 0x1p21 +
                 (double)pmax * dq;
  double scratch = (double)s->o->block_rows * (double)(2 * J + 2) * (double)C +
                   (double)s->o->nridge * (double)(1 + J) * dq;
  return w2s_check_memory(ctx, 8.0 * (rows + state + scratch),
                          "%s: dataset '%s' with %lld classes: the Newton fit "
                          "(the rows in memory, a %lld x %lld Hessian per "
                          "head)",
                          s->o->path, name, (long long)C, (long long)q,
                          (long long)q);
}

static w2s_err alloc_parts(w2s_ctx *ctx, cfit *cf, int64_t cnt[3][2]) {
  const fitter *s = cf->s;
  int64_t C = cf->C, J = s->J;
  for (int q = 0; q < 3; ++q) {
    part *pt = &cf->pt[q];
    pt->m = cnt[q][0] + cnt[q][1];
    pt->mfit = cnt[q][0];
    int64_t m = pt->m;
    if (q > 0) W2S_CALL(W2S_ALLOC(ctx, pt->S, m * s->ps + 1));
    W2S_CALL(W2S_ALLOC(ctx, pt->W, J));
    for (int j = 0; j < J; ++j)
      W2S_CALL(W2S_ALLOC(ctx, pt->W[j], m * s->pw[j] + 1));
    W2S_CALL(W2S_ALLOC(ctx, pt->T, m * C * (q == 1 ? 1 + J : 1) + 1));
    W2S_CALL(W2S_ALLOC(ctx, pt->cls, m + 1));
    W2S_CALL(W2S_ALLOC(ctx, pt->pos, m + 1));
  }
  int64_t mmax = cf->pt[0].m > cf->pt[1].m ? cf->pt[0].m : cf->pt[1].m;
  W2S_CALL(W2S_ALLOC(ctx, cf->tmp, mmax + 1));
  W2S_CALL(W2S_ALLOC(ctx, cf->itmp, mmax + 1));
  W2S_CALL(W2S_ALLOC(ctx, cf->cw, J));
  for (int j = 0; j < J; ++j) W2S_CALL(W2S_ALLOC(ctx, cf->cw[j], cf->qw[j]));
  W2S_CALL(W2S_ALLOC(ctx, cf->cs, cf->qs * (1 + J)));
  W2S_CALL(W2S_ALLOC(ctx, cf->info, 1 + J));
  W2S_CALL(W2S_ALLOC(ctx, cf->rows_of, 2 * C));
  cf->nl = s->nb;
  if (cf->nl * (2 * J + 2) * C > block_doubles_cap)
    cf->nl = block_doubles_cap / ((2 * J + 2) * C);
  if (cf->nl < 1) cf->nl = 1;
  W2S_CALL(W2S_ALLOC(ctx, cf->L, cf->nl * (2 * J + 2) * C));
  return W2S_OK;
}

/* Local: d features of block row i (ld m) into row r of X (ld M), then the
 * intercept's 1. */
static void put_row(double *X, int64_t M, int64_t r, const double *B, int64_t m,
                    int64_t i, int64_t d) {
  for (int64_t c = 0; c < d; ++c) X[c * M + r] = B[c * m + i];
  X[d * M + r] = 1.0;
}

/* Collective: every block of this rank's rows (standardised when asked)
 * into the parts, fitting rows first. */
static w2s_err load_rows(w2s_ctx *ctx, cfit *cf) {
  fitter *s = cf->s;
  int64_t C = cf->C, cur[3][2], next[3] = {0, 0, 0};
  for (int q = 0; q < 3; ++q) cur[q][0] = 0, cur[q][1] = cf->pt[q].mfit;
  for (int64_t b = 0; b < s->nblocks; ++b) {
    int64_t m;
    W2S_CALL(fit_read_block(ctx, s, b, &m, 1, 1));
    for (int64_t i = 0; i < m; ++i) {
      int64_t g = s->start + b * s->nb + i;
      int q = s->split[i];
      int held = s->o->nridge > 1 && q < 2 && fit_held_out(s, g);
      part *pt = &cf->pt[q];
      int64_t r = cur[q][held]++, M = pt->m;
      pt->pos[r] = next[q]++;
      if (q > 0) put_row(pt->S, M, r, s->S, m, i, s->ds);
      for (int j = 0; j < s->J; ++j)
        put_row(pt->W[j], M, r, s->W[j], m, i, s->dw[j]);
      int64_t best = 0;
      for (int64_t c = 0; c < C; ++c) {
        double y = cf->ids ? (double)((int64_t)s->y[i] == c) : s->yp[c * m + i];
        pt->T[c * M + r] = y;
        if (y > pt->T[best * M + r]) best = c;
      }
      pt->cls[r] = best;
    }
  }
  return W2S_OK;
}

/* Collective: each part's row0 (exclusive prefix sums of the counts over
 * ranks, from one sum of a table with a slot per rank). */
static w2s_err set_row0(w2s_ctx *ctx, cfit *cf) {
  int64_t P = ctx->size, *tab = NULL;
  W2S_CALL(w2s_agree(ctx, W2S_ALLOC(ctx, tab, 6 * P)));
  for (int q = 0; q < 3; ++q) {
    tab[(2 * q) * P + ctx->rank] = cf->pt[q].mfit;
    tab[(2 * q + 1) * P + ctx->rank] = cf->pt[q].m;
  }
  w2s_err e = w2s_agree(ctx, w2s_sum_i64(ctx, tab, 6 * P));
  for (int q = 0; q < 3 && !e; ++q)
    for (int k = 0; k < 2; ++k) {
      cf->pt[q].row0[k] = 0;
      for (int r = 0; r < ctx->rank; ++r)
        cf->pt[q].row0[k] += tab[(2 * q + k) * P + r];
    }
  free(tab);
  return e;
}

/* Local: split q's rows back in file order (after its --ridge choice), so
 * that the final fits see the rows as every rank count does. */
static void file_order(cfit *cf, int q) {
  const fitter *s = cf->s;
  part *pt = &cf->pt[q];
  int64_t M = pt->m, C = cf->C, *cls = cf->itmp;
  double *t = cf->tmp;
  int64_t ncols[3] = {q > 0 ? s->ps : 0, C * (q == 1 ? 1 + s->J : 1), 0};
  double *mats[2] = {pt->S, pt->T};
  for (int k = 0; k < 2 + s->J; ++k) {
    double *X = k < 2 ? mats[k] : pt->W[k - 2];
    int64_t nc = k < 2 ? ncols[k] : s->pw[k - 2];
    for (int64_t c = 0; c < nc; ++c) {
      for (int64_t r = 0; r < M; ++r) t[pt->pos[r]] = X[c * M + r];
      memcpy(X + c * M, t, sizeof(double) * (size_t)M);
    }
  }
  for (int64_t r = 0; r < M; ++r) cls[pt->pos[r]] = pt->cls[r];
  memcpy(pt->cls, cls, sizeof(int64_t) * (size_t)M);
  for (int64_t r = 0; r < M; ++r) pt->pos[r] = r;
}

/* Class ids that the features separate have no finite optimum without a
 * ridge, yet Newton meets its gradient test there: the gradient decays
 * like the residuals, exp(-margin ||W||), so after ~log(1/tol) steps the
 * relative gradient is below tol with ||W|| ~ 30 / margin and every
 * training row fitted with probability ~1 - tol (measured: 30 iterations,
 * mean cross-entropy 1e-11). A finite optimum of one-hot targets keeps the
 * cross-entropy of the rows where the classes overlap; below this
 * fraction of its value at W = 0 (log C) the fit is taken as separated. */
static const double separated_ratio = 1e-6;

/* Collective: K heads of d (features d->H, targets d->Y) with ridge into W
 * (p (C - 1) each) and info (K), in chunks that bound the Newton state.
 * The first `onehot` heads (0 or 1: a weak head or the ceiling) fit
 * one-hot targets, the class ids: without a ridge, a fit separated by its
 * features (above) is W2S_ERR_NUMERIC. The message of a fit that does not
 * converge, or of a separated one, names --ridge. */
static w2s_err newton(w2s_ctx *ctx, cfit *cf, const w2s_softmax_data *d,
                      double ridge, int64_t onehot, const char *label,
                      double *W, w2s_softmax_info *info) {
  int64_t p = d->p, q = p * (cf->C - 1);
  for (int64_t i = 0; i < p; ++i) cf->pen[i] = i < p - 1;
  int64_t kc = newton_doubles_cap / (2 * q * q + 3 * q + 1); /* see above */
  if (kc < 1) kc = 1;
  w2s_softmax_opts o = {.ridge = ridge,
                        .penalize = cf->pen,
                        .tol = newton_tol,
                        .max_iter = newton_max_iter,
                        .label = label,
                        .reverse = 0};
  for (int64_t k0 = 0; k0 < d->K; k0 += kc) {
    w2s_softmax_data c = *d;
    c.K = d->K - k0 < kc ? d->K - k0 : kc;
    c.Y = d->Y + k0 * cf->C * d->ldy;
    w2s_err e = w2s_softmax_fit(ctx, &c, &o, W + k0 * q, info + k0);
    if (e == W2S_ERR_NUMERIC && ridge == 0.0) {
      size_t len = strlen(ctx->msg);
      snprintf(ctx->msg + len, sizeof ctx->msg - len,
               "; give w2s fit --ridge (e.g. --ridge 1e-4)");
    }
    W2S_CALL(e);
  }
  double at_zero = log((double)cf->C);
  for (int64_t k = 0; k < onehot && ridge == 0.0; ++k)
    if (info[k].objective <= separated_ratio * at_zero)
      /* info holds the reduced objective: the same verdict on every rank */
      return W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                      "%s%s: the class ids are separated by its features: "
                      "Newton's mean cross-entropy reached %.3g (%.3g at "
                      "zero) after %d iterations, with no finite optimum; "
                      "give w2s fit --ridge > 0 (e.g. --ridge 1e-4)",
                      label, d->K > 1 ? ", the ceiling" : "", info[k].objective,
                      at_zero, info[k].iterations);
  return W2S_OK;
}

/* Local: sum over rows [0, m) of -sum_c y_c log q_c, for K heads W on
 * features H (ld ldh) against targets Y (ld ldy, head k at columns k C). */
static double cross_entropy(const cfit *cf, const double *H, int64_t ldh,
                            int64_t p, int64_t m, const double *W, int64_t K,
                            const double *Y, int64_t ldy) {
  int64_t C = cf->C, nl = cf->nl * (2 * cf->s->J + 2) / (K > 0 ? K : 1);
  double acc = 0.0;
  if (nl < 1) nl = 1;
  for (int64_t i0 = 0; i0 < m; i0 += nl) {
    int64_t b = m - i0 < nl ? m - i0 : nl;
    w2s_softmax_logprob(b, p, C, H + i0, ldh, W, K, cf->L, b);
    for (int64_t c = 0; c < K * C; ++c)
      for (int64_t i = 0; i < b; ++i) {
        double y = Y[c * ldy + i0 + i];
        if (y != 0.0) acc -= y * cf->L[c * b + i];
      }
  }
  return acc;
}

/* Collective: with several --ridge values, fit d's heads with each on the
 * fitting part (mfit rows here, nfit over all ranks), score the held-out
 * rows' cross-entropy and return the best (the first of equal scores). */
static w2s_err choose_ridge(w2s_ctx *ctx, cfit *cf, const w2s_softmax_data *d,
                            int64_t mfit, int64_t nfit, int64_t row0,
                            const char *label, double *best) {
  const w2s_fit_opts *o = cf->s->o;
  int64_t q = d->p * (cf->C - 1);
  double err[8] = {0}, *Wc = NULL;
  w2s_softmax_info *in = NULL;
  w2s_err e = W2S_ALLOC(ctx, Wc, q * d->K);
  if (!e) e = W2S_ALLOC(ctx, in, d->K);
  e = w2s_agree(ctx, e);
  w2s_softmax_data fit = *d;
  fit.m = mfit;
  fit.n = nfit;
  fit.row0 = row0;
  for (int l = 0; l < o->nridge && !e; ++l) {
    e = newton(ctx, cf, &fit, o->ridge[l], 0, label, Wc, in);
    if (!e)
      err[l] = cross_entropy(cf, d->H + mfit, d->ldh, d->p, d->m - mfit, Wc,
                             d->K, d->Y + mfit, d->ldy);
  }
  /* Sum to rank 0 and broadcast: every rank compares the same bits. */
  if (!e) e = w2s_agree(ctx, w2s_sum_bcast(ctx, err, o->nridge));
  if (!e) {
    int bl = 0;
    for (int l = 1; l < o->nridge; ++l)
      if (err[l] < err[bl]) bl = l;
    *best = o->ridge[bl];
    w2s_log(ctx, 1, "%s: ridge %g chosen on held-out rows (cross-entropy)",
            label, *best);
  }
  free(Wc);
  free(in);
  return e;
}

/* Local: a representation's record from the fits of its K heads. */
static void record_fits(w2s_ctx *ctx, w2s_repr_record *rec,
                        const w2s_softmax_info *in, int64_t K, int64_t q,
                        double ridge) {
  rec->ridge = ridge;
  for (int64_t k = 0; k < K; ++k) {
    if (k == 0 || in[k].rank < rec->rank) rec->rank = in[k].rank;
    if (k == 0 || in[k].cond > rec->cond) rec->cond = in[k].cond;
    if (in[k].iterations > rec->newton_iterations)
      rec->newton_iterations = in[k].iterations;
    if (in[k].rel_grad > rec->newton_rel_grad)
      rec->newton_rel_grad = in[k].rel_grad;
  }
  w2s_log(ctx, 2,
          "%s: %lld head(s) by Newton: at most %lld iterations, relative "
          "gradient <= %.2e, Hessian rank >= %lld of %lld, condition <= %.3g, "
          "objective %.6g",
          rec->name, (long long)K, (long long)rec->newton_iterations,
          rec->newton_rel_grad, (long long)rec->rank, (long long)q, rec->cond,
          in[0].objective);
  if (rec->rank == q && rec->cond > 1e10 && ridge == 0.0)
    w2s_log(ctx, 1,
            "note: the Newton Hessian of %s's heads has condition %.3g at "
            "the solution: collinear features, or labels that the features "
            "partly separate (coefficients diverging to infinity); a --ridge "
            "> 0 bounds them",
            rec->name, rec->cond);
  if (rec->rank < q)
    w2s_log(ctx, 1,
            "note: the Hessian of %s's heads has rank %lld of %lld (dead or "
            "collinear features, or a class without rows); Newton takes "
            "minimum-norm steps",
            rec->name, (long long)rec->rank, (long long)q);
}

/* Collective verdict (global counts): without a ridge, a class that has no
 * rows in split q cannot be fitted to class ids (its logit's optimum is at
 * -infinity). */
static w2s_err check_classes(w2s_ctx *ctx, const cfit *cf, int q,
                             double ridge) {
  static const char *what[2] = {"split 0 (weak training)",
                                "split 1 (weak-to-strong training)"};
  if (!cf->ids || ridge > 0.0) return W2S_OK;
  for (int64_t c = 0; c < cf->C; ++c)
    if (cf->rows_of[q * cf->C + c] == 0)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: dataset '/labels' has no row of class %lld in %s: "
                      "its heads have no finite optimum without a ridge; "
                      "give --ridge > 0 (e.g. --ridge 1e-4), another split "
                      "or fewer --classes",
                      cf->s->o->path, (long long)c, what[q]);
  return W2S_OK;
}

/* Collective: the weak heads on split 0 (true labels): with several --ridge
 * values every head's choice first, then the fits on every row. */
static w2s_err weak_heads(w2s_ctx *ctx, cfit *cf, w2s_results *res) {
  fitter *s = cf->s;
  const part *pt = &cf->pt[0];
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1 && s->o->nridge > 1) file_order(cf, 0);
    for (int j = 0; j < s->J; ++j) {
      snprintf(cf->label, sizeof cf->label, "%s: weak model '%s'", s->o->path,
               w2s_features_weak_name(s->f, j));
      w2s_softmax_data d = {.m = pt->m,
                            .n = s->nsplit[0],
                            .p = s->pw[j],
                            .C = cf->C,
                            .H = pt->W[j],
                            .ldh = pt->m,
                            .K = 1,
                            .Y = pt->T,
                            .ldy = pt->m,
                            .row0 = pt->row0[1]};
      double *ridge = &res->repr[1 + j].ridge; /* chosen in pass 0 */
      if (pass == 0) {
        *ridge = s->o->ridge[0];
        if (s->o->nridge > 1)
          W2S_CALL(choose_ridge(ctx, cf, &d, pt->mfit, s->ncv[0][0],
                                pt->row0[0], cf->label, ridge));
        continue;
      }
      fit_record_weak(s, res, j);
      res->weak_p[j] = cf->qw[j];
      W2S_CALL(check_classes(ctx, cf, 0, *ridge));
      W2S_CALL(
          newton(ctx, cf, &d, *ridge, cf->ids, cf->label, cf->cw[j], cf->info));
      record_fits(ctx, &res->repr[1 + j], cf->info, 1, cf->qw[j], *ridge);
    }
  }
  return W2S_OK;
}

/* Collective: the weak soft labels on split 1, then the ceiling and the
 * students as one batch of heads on the strong features. */
static w2s_err strong_heads(w2s_ctx *ctx, cfit *cf, w2s_results *res) {
  fitter *s = cf->s;
  part *pt = &cf->pt[1];
  int64_t C = cf->C, M = pt->m, J = s->J;
  for (int j = 0; j < J; ++j) {
    double *P = pt->T + (1 + j) * C * M;
    w2s_softmax_logprob(M, s->pw[j], C, pt->W[j], M, cf->cw[j], 1, P, M);
    for (int64_t i = 0; i < M * C; ++i) P[i] = exp(P[i]);
  }
  snprintf(cf->label, sizeof cf->label,
           "%s: strong representation (heads: 0 the ceiling, then a student "
           "per weak model)",
           s->o->path);
  w2s_softmax_data all = {.m = M,
                          .n = s->nsplit[1],
                          .p = s->ps,
                          .C = C,
                          .H = pt->S,
                          .ldh = M,
                          .K = 1 + J,
                          .Y = pt->T,
                          .ldy = M,
                          .row0 = pt->row0[1]};
  double ridge = s->o->ridge[0];
  if (s->o->nridge > 1) {
    w2s_softmax_data students = all;
    students.K = J;
    students.Y = pt->T + C * M;
    W2S_CALL(choose_ridge(ctx, cf, &students, pt->mfit, s->ncv[1][0],
                          pt->row0[0], cf->label, &ridge));
    file_order(cf, 1);
  }
  W2S_CALL(check_classes(ctx, cf, 1, ridge));
  W2S_CALL(newton(ctx, cf, &all, ridge, cf->ids, cf->label, cf->cs, cf->info));
  fit_record_strong(s, res);
  record_fits(ctx, &res->repr[0], cf->info, 1 + J, cf->qs, ridge);
  return W2S_OK;
}

/* Local: the KL sums of split q's rows. */
static void split_sums(cfit *cf, int q, w2s_metric_sums *ms) {
  const fitter *s = cf->s;
  const part *pt = &cf->pt[q];
  int64_t C = cf->C, J = s->J, M = pt->m, nl = cf->nl;
  double *Lt = cf->L, *Lw = Lt + C * nl, *Lsw = Lw + J * C * nl;
  double *Ls = Lsw + J * C * nl;
  for (int64_t i0 = 0; i0 < M; i0 += nl) {
    int64_t b = M - i0 < nl ? M - i0 : nl;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < b; ++i)
        Lt[c * nl + i] = cf->ids ? (pt->cls[i0 + i] == c ? 0.0 : -INFINITY)
                                 : log(pt->T[c * M + i0 + i]);
    for (int j = 0; j < J; ++j)
      w2s_softmax_logprob(b, s->pw[j], C, pt->W[j] + i0, M, cf->cw[j], 1,
                          Lw + j * C * nl, nl);
    w2s_softmax_logprob(b, s->ps, C, pt->S + i0, M, cf->cs + cf->qs, J, Lsw,
                        nl);
    w2s_softmax_logprob(b, s->ps, C, pt->S + i0, M, cf->cs, 1, Ls, nl);
    w2s_metric_sums_add_kl(ms, 0,
                           &(w2s_kl_block){b, C, Lt, nl, pt->cls + i0, Lw, nl,
                                           Lsw, nl, Ls, nl, cf->ids});
  }
}

/* Collective: train (split 1) and test (split 2) metrics. */
static w2s_err class_metrics(w2s_ctx *ctx, cfit *cf, w2s_results *res) {
  w2s_metric_sums sums[2] = {{0}, {0}};
  w2s_err e = w2s_agree(ctx, w2s_metric_sums_init(ctx, 1, cf->s->J, &sums[0]));
  if (!e) e = w2s_agree(ctx, w2s_metric_sums_init(ctx, 1, cf->s->J, &sums[1]));
  for (int q = 1; q <= 2 && !e; ++q) {
    split_sums(cf, q, &sums[q - 1]);
    e = w2s_agree(ctx, w2s_metric_sums_reduce(ctx, &sums[q - 1]));
    sums[q - 1].kl = 1; /* also where this rank had no rows */
  }
  if (!e &&
      (!w2s_metric_sums_finite(&sums[0]) || !w2s_metric_sums_finite(&sums[1])))
    e = W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                 "%s: a KL metric is not finite (a model's probability "
                 "underflowed to 0 where the labels' is not: try "
                 "--standardize or --ridge)",
                 cf->s->o->path);
  if (!e) w2s_metrics_finish(&sums[1], &sums[0], 0, res->metric);
  w2s_metric_sums_free(&sums[0]);
  w2s_metric_sums_free(&sums[1]);
  return e;
}

/* Collective: the coefficients into the record, each head p x (C - 1) as
 * FORMAT.md lays out softmax heads. */
static w2s_err fill_coefficients(w2s_ctx *ctx, const cfit *cf,
                                 w2s_results *res) {
  int64_t J = cf->s->J, qs = cf->qs;
  res->strong_p = qs;
  w2s_err e = W2S_ALLOC(ctx, res->coef_ceiling, qs);
  if (!e) e = W2S_ALLOC(ctx, res->coef_w2s, qs * J);
  if (!e) {
    memcpy(res->coef_ceiling, cf->cs, sizeof(double) * (size_t)qs);
    memcpy(res->coef_w2s, cf->cs + qs, sizeof(double) * (size_t)(qs * J));
  }
  for (int j = 0; j < J && !e; ++j) {
    e = W2S_ALLOC(ctx, res->coef_weak[j], cf->qw[j]);
    if (!e)
      memcpy(res->coef_weak[j], cf->cw[j], sizeof(double) * (size_t)cf->qw[j]);
  }
  return w2s_agree(ctx, e);
}

/* Collective: sizes, the memory check, the rows into memory. */
static w2s_err class_setup(w2s_ctx *ctx, cfit *cf, w2s_results *res) {
  fitter *s = cf->s;
  int64_t cnt[3][2], pmax = s->ps;
  cf->C = s->o->classes;
  cf->ids = w2s_features_label_kind(s->f) == W2S_LABELS_CLASS_IDS;
  cf->qs = s->ps * (cf->C - 1);
  w2s_err e = w2s_agree(ctx, W2S_ALLOC(ctx, cf->qw, s->J));
  for (int j = 0; j < s->J && !e; ++j) {
    cf->qw[j] = s->pw[j] * (cf->C - 1);
    if (s->pw[j] > pmax) pmax = s->pw[j];
  }
  if (!e) e = w2s_agree(ctx, W2S_ALLOC(ctx, cf->pen, pmax));
  if (!e)
    e = w2s_agree(ctx,
                  w2s_results_set_loss(ctx, res, "kl",
                                       cf->ids ? "truth_first" : "model_first",
                                       cf->C));
  if (!e) e = count_rows(ctx, s, cnt);
  if (!e) e = check_memory(ctx, cf, cnt);
  if (!e) e = w2s_agree(ctx, alloc_parts(ctx, cf, cnt));
  if (!e) e = load_rows(ctx, cf);
  if (!e) e = set_row0(ctx, cf);
  for (int q = 0; q < 2 && !e; ++q)
    for (int64_t i = 0; i < cf->pt[q].m; ++i)
      cf->rows_of[q * cf->C + cf->pt[q].cls[i]]++;
  if (!e) e = w2s_agree(ctx, w2s_sum_i64(ctx, cf->rows_of, 2 * cf->C));
  return e;
}

w2s_err fit_class_run(w2s_ctx *ctx, fitter *s, w2s_results *res) {
  cfit cf;
  memset(&cf, 0, sizeof cf);
  cf.s = s;
  w2s_timer_start(ctx, W2S_FIT_WEAK_FIT);
  w2s_err e = class_setup(ctx, &cf, res);
  if (!e) e = weak_heads(ctx, &cf, res);
  w2s_timer_stop(ctx, W2S_FIT_WEAK_FIT);
  w2s_timer_start(ctx, W2S_FIT_STRONG_FIT);
  if (!e) e = strong_heads(ctx, &cf, res);
  w2s_timer_stop(ctx, W2S_FIT_STRONG_FIT);
  w2s_timer_start(ctx, W2S_FIT_METRICS);
  if (!e) e = class_metrics(ctx, &cf, res);
  w2s_timer_stop(ctx, W2S_FIT_METRICS);
  if (!e) e = fill_coefficients(ctx, &cf, res);
  cfit_free(&cf);
  return e;
}
