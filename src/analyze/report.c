/* Presentation of analysis results: table, CSV or JSON on a FILE. */
#include <math.h>
#include <string.h>

#include "w2s/analyze.h"

/* The columns the table shows per pair, in order (CSV and JSON show every
 * metric of the table: a metric a file does not hold is an empty CSV field
 * and no JSON key, never a number). */
static const w2s_metric shown[] = {
    W2S_M_WEAK_ERROR, W2S_M_W2S_ERROR,    W2S_M_MISFIT,
    W2S_M_GAIN,       W2S_M_CEILING,      W2S_M_PGR,
    W2S_M_PREDICTED,  W2S_M_MISFIT_TRAIN, W2S_M_GAIN_TRAIN,
};
enum { NSHOWN = sizeof shown / sizeof shown[0] };

static void json_num(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, "%.17g", v);
  else
    fprintf(f, "null");
}

void w2s_json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; ++s) {
    if (*s == '"' || *s == '\\')
      fprintf(f, "\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      fprintf(f, "\\u%04x", *s);
    else
      fputc(*s, f);
  }
  fputc('"', f);
}

/* 1 when the CSV has a column for metric m: every metric of the squared
 * family (absent ones as empty fields), the classification metrics when
 * some file's loss is KL. */
static int any_has(w2s_results *const *files, int n, int m) {
  if (strcmp(w2s_metric_table[m].family, W2S_FAMILY_CLS) != 0) return 1;
  for (int i = 0; i < n; ++i)
    if (files[i]->loss[0] && strcmp(files[i]->loss, "squared") != 0) return 1;
  return 0;
}

static void print_rows(FILE *f, w2s_results *const *files, int n,
                       w2s_format fmt) {
  int multi = n > 1;
  if (fmt == W2S_FMT_TABLE) {
    if (multi) fprintf(f, "%-5s ", "file");
    fprintf(f, "%6s %-14s", "task", "weak_model");
    for (int c = 0; c < NSHOWN; ++c)
      fprintf(f, " %13.13s", w2s_metric_name(shown[c]));
    fprintf(f, "\n");
  } else if (fmt == W2S_FMT_CSV) {
    fprintf(f, "file,task,weak_model");
    for (int m = 0; m < w2s_metric_count; ++m)
      if (any_has(files, n, m)) fprintf(f, ",%s", w2s_metric_table[m].name);
    fprintf(f, "\n");
  } else {
    fprintf(f, "{\"rows\": [");
  }
  int first = 1;
  for (int fi = 0; fi < n; ++fi) {
    const w2s_results *r = files[fi];
    for (int64_t k = 0; k < r->npairs; ++k) {
      const char *wm = r->weak_names[r->pair_weak[k]];
      if (fmt == W2S_FMT_TABLE) {
        if (multi) fprintf(f, "%-5d ", fi);
        fprintf(f, "%6lld %-14.14s", (long long)r->pair_task[k], wm);
        for (int c = 0; c < NSHOWN; ++c)
          if (w2s_results_has_metric(r, shown[c]))
            fprintf(f, " %13.6g", r->metric[shown[c]][k]);
          else
            fprintf(f, " %13s", "absent");
        fprintf(f, "\n");
      } else if (fmt == W2S_FMT_CSV) {
        fprintf(f, "%s,%lld,%s", r->path, (long long)r->pair_task[k], wm);
        for (int m = 0; m < w2s_metric_count; ++m) /* absent: empty */
          if (w2s_results_has_metric(r, m))
            fprintf(f, ",%.17g", r->metric[m][k]);
          else if (any_has(files, n, m))
            fputc(',', f);
        fprintf(f, "\n");
      } else {
        fprintf(f, "%s\n  {\"file\": ", first ? "" : ",");
        w2s_json_string(f, r->path);
        fprintf(f, ", \"task\": %lld, \"weak_model\": ",
                (long long)r->pair_task[k]);
        w2s_json_string(f, wm);
        for (int m = 0; m < w2s_metric_count; ++m) {
          if (!w2s_results_has_metric(r, m)) continue; /* absent: no key */
          fprintf(f, ", \"%s\": ", w2s_metric_table[m].name);
          json_num(f, r->metric[m][k]);
        }
        fprintf(f, "}");
      }
      first = 0;
    }
  }
  if (fmt == W2S_FMT_JSON) fprintf(f, "\n], ");
}

/* The paper's selection table: per weak model (by name, over every file,
 * task and repeat) the means of weak error, misfit, their difference and
 * the true w2s error; the rule picks the smallest difference. */
static void print_selection(FILE *f, w2s_results *const *files, int n,
                            w2s_format fmt) {
  enum { MAXN = 64 };
  char names[MAXN][W2S_NAME_LEN];
  double sum[MAXN][3];
  int64_t cnt[MAXN];
  int nn = 0;
  memset(sum, 0, sizeof sum);
  memset(cnt, 0, sizeof cnt);
  for (int fi = 0; fi < n; ++fi) {
    const w2s_results *r = files[fi];
    for (int64_t k = 0; k < r->npairs; ++k) {
      const char *wn = r->weak_names[r->pair_weak[k]];
      int j = 0;
      while (j < nn && strcmp(names[j], wn) != 0) ++j;
      if (j == nn) {
        if (nn == MAXN) continue;
        snprintf(names[nn++], W2S_NAME_LEN, "%s", wn);
      }
      sum[j][0] += r->metric[W2S_M_WEAK_ERROR][k];
      sum[j][1] += r->metric[W2S_M_MISFIT][k];
      sum[j][2] += r->metric[W2S_M_W2S_ERROR][k];
      cnt[j]++;
    }
  }
  if (nn < 2) return;
  int pick = 0, best = 0;
  for (int j = 0; j < nn; ++j) {
    double d = (sum[j][0] - sum[j][1]) / cnt[j];
    if (d < (sum[pick][0] - sum[pick][1]) / cnt[pick]) pick = j;
    if (sum[j][2] / cnt[j] < sum[best][2] / cnt[best]) best = j;
  }
  if (fmt == W2S_FMT_CSV) {
    fprintf(f, "\nweak_model,pairs,weak_error,misfit,weak_error_minus_misfit,"
               "w2s_error,picked_by_rule,best_w2s_error\n");
    for (int j = 0; j < nn; ++j)
      fprintf(f, "%s,%lld,%.17g,%.17g,%.17g,%.17g,%d,%d\n", names[j],
              (long long)cnt[j], sum[j][0] / cnt[j], sum[j][1] / cnt[j],
              (sum[j][0] - sum[j][1]) / cnt[j], sum[j][2] / cnt[j], j == pick,
              j == best);
    return;
  }
  fprintf(f, "\nWeak-model selection (means over tasks and repeats)\n");
  fprintf(f, "  %-16s %6s %12s %12s %14s %12s\n", "weak_model", "pairs",
          "weak_error", "misfit", "weak - misfit", "w2s_error");
  for (int j = 0; j < nn; ++j)
    fprintf(f, "  %-16.16s %6lld %12.5g %12.5g %14.5g %12.5g%s%s\n", names[j],
            (long long)cnt[j], sum[j][0] / cnt[j], sum[j][1] / cnt[j],
            (sum[j][0] - sum[j][1]) / cnt[j], sum[j][2] / cnt[j],
            j == pick ? "  <- picked by the rule" : "",
            j == best ? "  <- smallest w2s_error" : "");
  fprintf(f, "  the rule %s the weak model with the smallest true w2s_error\n",
          pick == best ? "picks" : "does NOT pick");
}

/* The KL family's reading: which divergences, and what the theory says of
 * the forward (model first) and reverse (truth first) orientations. */
static void print_theory_kl(FILE *f, const w2s_summary *s) {
  int model_first = !strcmp(s->orientation, "model_first");
  fprintf(f, "  loss: KL divergences in nats, %s\n",
          model_first ? "model first (weak_error = KL(p_w || p*), misfit = "
                        "KL(p_w || p_sw))"
          : !strcmp(s->orientation, "truth_first")
              ? "truth first (weak_error = KL(p* || p_w), misfit = KL(p_sw "
                "|| p_w); against sampled labels: cross-entropies)"
              : "mixed orientations");
  if (!strcmp(s->orientation, "mixed"))
    fprintf(f, "  theory: the points differ in their student (forward: gain "
               "= misfit on train exactly when realizable; reverse: no "
               "identity): read the per-sweep-point table\n");
  else if (s->theory == W2S_THEORY_REALIZABLE && model_first)
    fprintf(f, "  theory: realizable (strong = h* with an intercept), "
               "forward student: gain = misfit on train exactly (the "
               "three-point identity of KL, to the Newton tolerance); on "
               "test only approximately\n");
  else if (s->theory == W2S_THEORY_REALIZABLE)
    fprintf(f, "  theory: realizable; for truth-first errors gain >= misfit "
               "follows for a student class convex in probability space, "
               "not for linear-logit students: the counts below show by "
               "how much it fails\n");
  else
    fprintf(f,
            "  theory: %s: gain = misfit has an error term; the counts "
            "below measure it\n",
            w2s_theory_name(s->theory));
}

/* Which result the numbers below should be read against. */
static void print_theory(FILE *f, const w2s_summary *s) {
  if (strcmp(s->loss, "squared") != 0) {
    print_theory_kl(f, s);
    return;
  }
  switch (s->theory) {
  case W2S_THEORY_REALIZABLE:
    fprintf(f, "  theory: realizable (strong = h* with an intercept): gain "
               ">= misfit, and gain = misfit on train up to rounding\n");
    break;
  case W2S_THEORY_NONREALIZABLE:
    fprintf(f,
            "  theory: NOT realizable (%s): gain >= misfit is not "
            "guaranteed; on train |gain - misfit| <= 2 sqrt(misfit x "
            "strong ceiling error) holds for %lld/%lld pairs\n",
            s->intercept_off ? "fit.intercept = false: the task labels' bias "
                               "is outside the strong heads"
                             : "the strong representation is not h*",
            (long long)s->ok_gap_bound, (long long)s->npairs);
    break;
  case W2S_THEORY_MIXED:
    fprintf(f, "  theory: mixed (realizable and non-realizable runs or "
               "sweep points together)\n");
    break;
  default:
    fprintf(f, "  theory: unknown (no strong source in the stored "
               "configuration, e.g. w2s fit on real features)\n");
  }
}

void w2s_analyze_print(FILE *f, w2s_results *const *files, int n,
                       const w2s_summary *s, w2s_format fmt, int rows) {
  if (rows) print_rows(f, files, n, fmt);
  if (fmt == W2S_FMT_JSON) {
    if (!rows) fprintf(f, "{");
    fprintf(f,
            "\"summary\": {\"pairs\": %lld, \"slope\": ", (long long)s->npairs);
    json_num(f, s->slope);
    fprintf(f, ", \"intercept\": ");
    json_num(f, s->intercept);
    fprintf(f, ", \"r2\": ");
    json_num(f, s->r2);
    fprintf(f,
            ", \"gain_ge_misfit_test\": %lld, \"gain_ge_misfit_train\": %lld",
            (long long)s->ok_test, (long long)s->ok_train);
    fprintf(f, ", \"largest_violation_test\": ");
    json_num(f, s->worst_test);
    fprintf(f, ", \"largest_violation_train\": ");
    json_num(f, s->worst_train);
    fprintf(f, ", \"selection_groups\": %lld, \"selection_agree\": %lld",
            (long long)s->groups, (long long)s->agree);
    fprintf(f, ", \"chosen_by_misfit\": ");
    w2s_json_string(f, s->chosen);
    fprintf(f, ", \"best_by_w2s_error\": ");
    w2s_json_string(f, s->best);
    fprintf(f, ", \"pgr_count\": %lld, \"median_pgr\": ", (long long)s->n_pgr);
    json_num(f, s->median_pgr);
    fprintf(f, ", \"theory\": ");
    w2s_json_string(f, w2s_theory_name(s->theory));
    fprintf(f, ", \"train_gap_within_bound\": %lld",
            (long long)s->ok_gap_bound);
    fprintf(f, ", \"loss\": ");
    w2s_json_string(f, s->loss);
    fprintf(f, ", \"orientation\": ");
    w2s_json_string(f, s->orientation);
    fprintf(f, ", \"pgr_accuracy_count\": %lld, \"median_pgr_accuracy\": ",
            (long long)s->n_pgr_acc);
    json_num(f, s->median_pgr_acc);
    fprintf(f, "}}\n");
    return;
  }
  if (fmt == W2S_FMT_CSV) {
    fprintf(f, "\nsummary,value\n");
    fprintf(f, "pairs,%lld\nslope,%.17g\nintercept,%.17g\nr2,%.17g\n",
            (long long)s->npairs, s->slope, s->intercept, s->r2);
    fprintf(f, "gain_ge_misfit_test,%lld\ngain_ge_misfit_train,%lld\n",
            (long long)s->ok_test, (long long)s->ok_train);
    fprintf(f, "largest_violation_test,%.17g\nlargest_violation_train,%.17g\n",
            s->worst_test, s->worst_train);
    fprintf(f, "selection_groups,%lld\nselection_agree,%lld\n",
            (long long)s->groups, (long long)s->agree);
    fprintf(f, "chosen_by_misfit,%s\nbest_by_w2s_error,%s\n", s->chosen,
            s->best);
    fprintf(f, "pgr_count,%lld\nmedian_pgr,%.17g\n", (long long)s->n_pgr,
            s->median_pgr);
    fprintf(f, "theory,%s\ntrain_gap_within_bound,%lld\n",
            w2s_theory_name(s->theory), (long long)s->ok_gap_bound);
    fprintf(f, "loss,%s\norientation,%s\n", s->loss, s->orientation);
    fprintf(f, "pgr_accuracy_count,%lld\nmedian_pgr_accuracy,%.17g\n",
            (long long)s->n_pgr_acc, s->median_pgr_acc);
    print_selection(f, files, n, fmt);
    return;
  }
  fprintf(f, "\nSummary over %lld (task, weak model) pairs\n",
          (long long)s->npairs);
  fprintf(f,
          "  gain vs misfit (test), least squares: gain = %.6g * misfit "
          "%+.6g,  R^2 = %.6g\n",
          s->slope, s->intercept, s->r2);
  print_theory(f, s);
  fprintf(f,
          "  gain >= misfit: %lld/%lld on test, %lld/%lld on train "
          "(relative slack %.0e of weak_error)\n",
          (long long)s->ok_test, (long long)s->npairs, (long long)s->ok_train,
          (long long)s->npairs, W2S_ANALYZE_SLACK);
  fprintf(f,
          "  largest violation (misfit - gain): %.6g on test, %.6g on "
          "train\n",
          s->worst_test, s->worst_train);
  fprintf(f,
          "  weak model chosen by smallest mean (weak_error - misfit): %s "
          "(%.6g); smallest mean w2s_error: %s (%.6g)\n",
          s->chosen, s->chosen_pred, s->best, s->best_true);
  if (s->groups > 0)
    fprintf(f,
            "  per task, the choice by misfit is the truly best weak model "
            "in %lld/%lld tasks\n",
            (long long)s->agree, (long long)s->groups);
  fprintf(f, "  median PGR: %.6g over %lld pairs with weak_error > ceiling\n",
          s->median_pgr, (long long)s->n_pgr);
  if (s->n_pgr_acc > 0)
    fprintf(f,
            "  median accuracy PGR (Burns et al.): %.6g over %lld pairs with "
            "ceiling_accuracy > weak_accuracy\n",
            s->median_pgr_acc, (long long)s->n_pgr_acc);
  print_selection(f, files, n, fmt);
}

void w2s_analyze_print_sweep(FILE *f, const w2s_sweep_stat *st, int64_t n,
                             w2s_format fmt) {
  if (n == 0) return;
  if (fmt == W2S_FMT_CSV) {
    fprintf(f, "\nfile,sweep,setting,pairs,mean_abs_gain_minus_misfit_test,"
               "mean_abs_gain_minus_misfit_train,slope,r2,gain_ge_misfit_test,"
               "gain_ge_misfit_train\n");
    for (int64_t i = 0; i < n; ++i)
      fprintf(f, "%d,%lld,%s,%lld,%.17g,%.17g,%.17g,%.17g,%lld,%lld\n",
              st[i].file, (long long)st[i].point, st[i].desc,
              (long long)st[i].n, st[i].mad_test, st[i].mad_train, st[i].slope,
              st[i].r2, (long long)st[i].ok_test, (long long)st[i].ok_train);
    return;
  }
  if (fmt == W2S_FMT_JSON) return; /* JSON carries it in the summary */
  fprintf(f, "\nPer sweep point\n  %5s %-36s %6s %12s %12s %9s %9s %11s\n",
          "point", "setting", "pairs", "|g-m| test", "|g-m| train", "slope",
          "R^2", "g>=m te|tr");
  for (int64_t i = 0; i < n; ++i) {
    char ok[32];
    snprintf(ok, sizeof ok, "%lld|%lld", (long long)st[i].ok_test,
             (long long)st[i].ok_train);
    fprintf(f, "  %5lld %-36.36s %6lld %12.4g %12.4g %9.4g %9.4g %11s\n",
            (long long)st[i].point, st[i].desc, (long long)st[i].n,
            st[i].mad_test, st[i].mad_train, st[i].slope, st[i].r2, ok);
  }
}
