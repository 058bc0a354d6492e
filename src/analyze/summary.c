/* The theory's checks over a set of results. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "w2s/analyze.h"
#include "w2s/params.h"

w2s_theory w2s_theory_of(const char *strong_source, int intercept) {
  if (!strong_source || !strong_source[0]) return W2S_THEORY_UNKNOWN;
  return strcmp(strong_source, "target") == 0 && intercept
             ? W2S_THEORY_REALIZABLE
             : W2S_THEORY_NONREALIZABLE;
}

const char *w2s_theory_name(w2s_theory t) {
  switch (t) {
  case W2S_THEORY_REALIZABLE: return "realizable";
  case W2S_THEORY_NONREALIZABLE: return "non-realizable";
  case W2S_THEORY_MIXED: return "mixed";
  default: return "unknown";
  }
}

typedef struct {
  char source[64];
  int intercept; /* -1: not given */
} theory_keys;

static int on_theory_key(void *user, const char *section, const char *name,
                         const char *value) {
  theory_keys *k = user;
  if (!strcmp(section, "strong") && !strcmp(name, "source"))
    snprintf(k->source, sizeof k->source, "%s", value);
  if (!strcmp(section, "fit") && !strcmp(name, "intercept"))
    k->intercept = w2s_parse_bool(value);
  return 1;
}

static theory_keys read_theory_keys(const char *config_text) {
  theory_keys k = {"", -1};
  if (config_text) ini_parse_string(config_text, on_theory_key, &k);
  return k;
}

w2s_theory w2s_theory_of_config(const char *config_text) {
  theory_keys k = read_theory_keys(config_text);
  /* The effective configuration always states both keys. */
  return w2s_theory_of(k.source, k.intercept != 0);
}

/* A file's theory: its configuration's, unless a sweep varies the keys
 * that decide it (then its points differ). */
static w2s_theory file_theory(const w2s_results *r, int *intercept_off) {
  theory_keys k = read_theory_keys(r->config_text);
  w2s_theory t = w2s_theory_of(k.source, k.intercept != 0);
  for (int i = 0; r->sweep_keys && i < r->sweep_nkeys; ++i)
    if (!strcmp(r->sweep_keys[i], "strong.source") ||
        !strcmp(r->sweep_keys[i], "fit.intercept"))
      t = W2S_THEORY_MIXED;
  if (t == W2S_THEORY_NONREALIZABLE && k.intercept == 0) *intercept_off = 1;
  return t;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of metric m's finite values over the files that hold it (NaN
 * when none; *count of them). */
static double median_of(w2s_ctx *ctx, w2s_results *const *files, int n, int m,
                        int64_t *count) {
  int64_t total = 0, c = 0;
  *count = 0;
  for (int f = 0; f < n; ++f)
    if (w2s_results_has_metric(files[f], m)) total += files[f]->npairs;
  double *v = NULL;
  if (total == 0 || W2S_ALLOC(ctx, v, total)) return NAN;
  for (int f = 0; f < n; ++f)
    for (int64_t k = 0;
         w2s_results_has_metric(files[f], m) && k < files[f]->npairs; ++k)
      if (isfinite(files[f]->metric[m][k])) v[c++] = files[f]->metric[m][k];
  double med = NAN;
  if (c > 0) {
    qsort(v, (size_t)c, sizeof *v, cmp_double);
    med = c % 2 ? v[c / 2] : 0.5 * (v[c / 2 - 1] + v[c / 2]);
  }
  free(v);
  *count = c;
  return med;
}

typedef struct {
  int64_t sp, t, k;
} group_key;

static int cmp_group(const void *a, const void *b) {
  const group_key *x = a, *y = b;
  if (x->sp != y->sp) return (x->sp > y->sp) - (x->sp < y->sp);
  if (x->t != y->t) return (x->t > y->t) - (x->t < y->t);
  return (x->k > y->k) - (x->k < y->k);
}

/* Weak-model selection per (file, task), and by means over every pair of
 * a model. */
static w2s_err summarize_selection(w2s_ctx *ctx, w2s_results *const *files,
                                   int n, w2s_summary *s) {
  s->chosen_pred = s->best_true = INFINITY;
  for (int f = 0; f < n; ++f) {
    const w2s_results *r = files[f];
    if (r->nweak < 1) continue;
    double *pred = NULL, *tru = NULL;
    int64_t *cnt = NULL;
    if (W2S_ALLOC(ctx, pred, r->nweak) || W2S_ALLOC(ctx, tru, r->nweak) ||
        W2S_ALLOC(ctx, cnt, r->nweak)) {
      free(pred), free(tru), free(cnt);
      return W2S_ERR_MEMORY;
    }
    /* Pairs grouped by (sweep point, task) by sorting: O(K log K) for any
     * number of tasks or points. */
    group_key *gk = NULL;
    if (W2S_ALLOC(ctx, gk, r->npairs)) {
      free(pred), free(tru), free(cnt);
      return W2S_ERR_MEMORY;
    }
    for (int64_t k = 0; k < r->npairs; ++k)
      gk[k] = (group_key){r->pair_sweep ? r->pair_sweep[k] : 0, r->pair_task[k],
                          k};
    qsort(gk, (size_t)r->npairs, sizeof *gk, cmp_group);
    for (int64_t a = 0; a < r->npairs;) {
      int64_t b = a, bp = gk[a].k;
      int64_t bt = bp;
      while (b < r->npairs && gk[b].sp == gk[a].sp && gk[b].t == gk[a].t) {
        int64_t k = gk[b++].k;
        if (r->metric[W2S_M_PREDICTED][k] < r->metric[W2S_M_PREDICTED][bp])
          bp = k;
        if (r->metric[W2S_M_W2S_ERROR][k] < r->metric[W2S_M_W2S_ERROR][bt])
          bt = k;
      }
      if (b - a >= 2) {
        s->groups++;
        s->agree += r->pair_weak[bp] == r->pair_weak[bt];
      }
      a = b;
    }
    free(gk);
    for (int64_t k = 0; k < r->npairs; ++k) {
      pred[r->pair_weak[k]] += r->metric[W2S_M_PREDICTED][k];
      tru[r->pair_weak[k]] += r->metric[W2S_M_W2S_ERROR][k];
      cnt[r->pair_weak[k]]++;
    }
    for (int64_t j = 0; j < r->nweak; ++j) {
      if (!cnt[j]) continue;
      double mp = pred[j] / (double)cnt[j], mt = tru[j] / (double)cnt[j];
      if (mp < s->chosen_pred) {
        s->chosen_pred = mp;
        snprintf(s->chosen, sizeof s->chosen, "%s", r->weak_names[j]);
      }
      if (mt < s->best_true) {
        s->best_true = mt;
        snprintf(s->best, sizeof s->best, "%s", r->weak_names[j]);
      }
    }
    free(pred), free(tru), free(cnt);
  }
  return W2S_OK;
}

/* The metrics the summary and the sweep statistics read: a file without
 * one (written before it existed) cannot be summarised. */
static const int needed[] = {W2S_M_WEAK_ERROR,
                             W2S_M_W2S_ERROR,
                             W2S_M_MISFIT,
                             W2S_M_GAIN,
                             W2S_M_PGR,
                             W2S_M_PREDICTED,
                             W2S_M_WEAK_ERROR_TRAIN,
                             W2S_M_MISFIT_TRAIN,
                             W2S_M_GAIN_TRAIN,
                             W2S_M_CEILING_TRAIN};

static w2s_err require_metrics(w2s_ctx *ctx, w2s_results *const *files, int n) {
  for (int f = 0; f < n; ++f)
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; ++i)
      if (!w2s_results_has_metric(files[f], needed[i]))
        return W2S_FAIL(ctx, W2S_ERR_INPUT,
                        "%s: has no metric '%s' (format_version %d), which "
                        "the analysis needs",
                        files[f]->path, w2s_metric_name((w2s_metric)needed[i]),
                        files[f]->format_version);
  return W2S_OK;
}

w2s_err w2s_analyze_summary(w2s_ctx *ctx, w2s_results *const *files, int n,
                            w2s_summary *s) {
  memset(s, 0, sizeof *s);
  W2S_CALL(require_metrics(ctx, files, n));
  s->worst_test = s->worst_train = -INFINITY;
  double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
  int64_t total = 0;
  for (int f = 0; f < n; ++f) total += files[f]->npairs;
  double *pgr = NULL;
  W2S_CALL(W2S_ALLOC(ctx, pgr, total));
  for (int f = 0; f < n; ++f) {
    const w2s_results *r = files[f];
    for (int64_t k = 0; k < r->npairs; ++k) {
      double x = r->metric[W2S_M_MISFIT][k], y = r->metric[W2S_M_GAIN][k];
      double slack = W2S_ANALYZE_SLACK * fabs(r->metric[W2S_M_WEAK_ERROR][k]);
      double mt = r->metric[W2S_M_MISFIT_TRAIN][k];
      double gt = r->metric[W2S_M_GAIN_TRAIN][k];
      double slack_t = W2S_ANALYZE_SLACK *
                       fabs(r->metric[W2S_M_WEAK_ERROR_TRAIN][k]);
      s->npairs++;
      sx += x, sy += y, sxx += x * x, sxy += x * y, syy += y * y;
      s->ok_test += (y >= x - slack);
      s->ok_train += (gt >= mt - slack_t);
      if (x - y > s->worst_test) s->worst_test = x - y;
      if (mt - gt > s->worst_train) s->worst_train = mt - gt;
      double ct = r->metric[W2S_M_CEILING_TRAIN][k];
      s->ok_gap_bound += fabs(gt - mt) <= 2.0 * sqrt(fabs(mt * ct)) + slack_t;
      double p = r->metric[W2S_M_PGR][k];
      if (isfinite(p)) pgr[s->n_pgr++] = p;
    }
  }
  for (int f = 0; f < n; ++f) {
    w2s_theory t = file_theory(files[f], &s->intercept_off);
    s->theory = f == 0 || t == s->theory ? t : W2S_THEORY_MIXED;
    const char *loss = files[f]->loss[0] ? files[f]->loss : "squared";
    if (f == 0) {
      snprintf(s->loss, sizeof s->loss, "%s", loss);
      snprintf(s->orientation, sizeof s->orientation, "%s",
               files[f]->orientation);
    }
    if (strcmp(s->loss, loss) != 0) snprintf(s->loss, sizeof s->loss, "mixed");
    if (strcmp(s->orientation, files[f]->orientation) != 0)
      snprintf(s->orientation, sizeof s->orientation, "mixed");
  }
  s->median_pgr_acc = median_of(ctx, files, n, W2S_M_PGR_ACC, &s->n_pgr_acc);
  double nn = (double)s->npairs;
  double vx = sxx - sx * sx / nn, vy = syy - sy * sy / nn,
         cxy = sxy - sx * sy / nn;
  s->slope = vx > 0 ? cxy / vx : NAN;
  s->intercept = vx > 0 ? (sy - s->slope * sx) / nn : NAN;
  s->r2 = (vx > 0 && vy > 0) ? cxy * cxy / (vx * vy) : NAN;
  if (s->n_pgr > 0) {
    qsort(pgr, (size_t)s->n_pgr, sizeof *pgr, cmp_double);
    s->median_pgr = s->n_pgr % 2
                        ? pgr[s->n_pgr / 2]
                        : 0.5 * (pgr[s->n_pgr / 2 - 1] + pgr[s->n_pgr / 2]);
  } else {
    s->median_pgr = NAN;
  }
  free(pgr);

  return summarize_selection(ctx, files, n, s);
}

w2s_err w2s_analyze_sweep(w2s_ctx *ctx, w2s_results *const *files, int n,
                          w2s_sweep_stat **out, int64_t *nout) {
  int64_t total = 0;
  for (int f = 0; f < n; ++f)
    if (files[f]->pair_sweep) total += files[f]->sweep_npoints;
  *out = NULL;
  *nout = 0;
  if (total == 0) return W2S_OK;
  W2S_CALL(require_metrics(ctx, files, n));
  W2S_CALL(W2S_ALLOC(ctx, *out, total));
  int64_t o = 0;
  for (int f = 0; f < n; ++f) {
    const w2s_results *r = files[f];
    if (!r->pair_sweep) continue;
    for (int64_t p = 0; p < r->sweep_npoints; ++p) {
      w2s_sweep_stat *st = &(*out)[o];
      memset(st, 0, sizeof *st);
      st->file = f;
      st->point = p;
      for (int i = 0; i < r->sweep_nkeys; ++i) {
        char kv[300];
        snprintf(kv, sizeof kv, "%s%s=%s", i ? " " : "", r->sweep_keys[i],
                 r->sweep_values[p * r->sweep_nkeys + i]);
        strncat(st->desc, kv, sizeof st->desc - strlen(st->desc) - 1);
      }
      st->x = r->sweep_nkeys ? atof(r->sweep_values[p * r->sweep_nkeys]) : NAN;
      double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
      for (int64_t k = 0; k < r->npairs; ++k) {
        if (r->pair_sweep[k] != p) continue;
        double x = r->metric[W2S_M_MISFIT][k], y = r->metric[W2S_M_GAIN][k];
        double mt = r->metric[W2S_M_MISFIT_TRAIN][k];
        double gt = r->metric[W2S_M_GAIN_TRAIN][k];
        st->n++;
        st->mad_test += fabs(y - x);
        st->mad_train += fabs(gt - mt);
        st->ok_test += y >= x - W2S_ANALYZE_SLACK *
                                    fabs(r->metric[W2S_M_WEAK_ERROR][k]);
        st->ok_train += gt >=
                        mt - W2S_ANALYZE_SLACK *
                                 fabs(r->metric[W2S_M_WEAK_ERROR_TRAIN][k]);
        sx += x, sy += y, sxx += x * x, sxy += x * y, syy += y * y;
      }
      double nn = (double)st->n;
      double vx = sxx - sx * sx / nn, vy = syy - sy * sy / nn,
             cxy = sxy - sx * sy / nn;
      st->mad_test /= nn;
      st->mad_train /= nn;
      st->slope = vx > 0 ? cxy / vx : NAN;
      st->r2 = (vx > 0 && vy > 0) ? cxy * cxy / (vx * vy) : NAN;
      if (st->n > 0) ++o; /* points held by other files are not listed */
    }
  }
  *nout = o;
  return W2S_OK;
}
