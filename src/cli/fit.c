/* w2s fit: the weak-to-strong analysis on representations exported from
 * real models. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "w2s/fit.h"
#include "w2s/io.h"
#include "w2s/lsq.h"

/* The context's timers, max over ranks, as r's named timings. Collective. */
static w2s_err store_timers(w2s_ctx *ctx, w2s_results *r) {
  double secs[W2S_T_COUNT];
  const char *names[W2S_T_COUNT];
  for (int t = 0; t < W2S_T_COUNT; ++t) names[t] = w2s_timer_name((w2s_timer)t);
  W2S_CALL(w2s_timers_max(ctx, secs));
  return w2s_agree(ctx,
                   w2s_results_set_timing(ctx, r, W2S_T_COUNT, names, secs));
}

static void fit_usage(FILE *f) {
  fprintf(f,
          "usage: [mpirun -n P] w2s fit FEATURES.h5 [options]\n"
          "\n"
          "Fits weak heads on split 0 against /labels, the strong head on the "
          "weak labels of\nsplit 1 (or on /weak_predictions/NAME), and reports "
          "the metrics on split 2 (test)\nand split 1 (train), into the same "
          "results layout as 'w2s simulate' (docs/FORMAT.md\ndescribes the "
          "features file). Every rank reads only its own rows.\n"
          "\n"
          "options:\n"
          "  -o, --output PATH     results file (default fit-results.h5)\n"
          "  --split F0,F1,F2      fractions of rows for splits 0, 1, 2 when "
          "the file has no\n"
          "                        /split (default 0.25,0.5,0.25)\n"
          "  --seed S              seed of the split permutation (default 1)\n"
          "  --repeats R           repeat over R different splits (default "
          "1); results carry\n"
          "                        a /metrics/repeat index\n"
          "  --solver NAME         auto|cholqr2|scholqr3|tsqr|normal|scalapack "
          "(default auto)\n"
          "  --ridge L[,L2,...]    ridge lambda per sample (default 0); with "
          "several values each\n"
          "                        head takes the one with the smallest error "
          "on 20%% of its\n"
          "                        fitting split held out (weak heads: true "
          "labels; strong:\n"
          "                        the weak labels), then refits on all of it\n"
          "  --standardize         scale each representation's columns to "
          "zero mean, unit\n"
          "                        variance (statistics of the split that "
          "fits its head)\n"
          "  --block-rows B        rows read per block (default 4096)\n"
          "  --force               overwrite an existing results file (a regular\n"
          "                        file, never one of the inputs)\n"
          "  -q, --quiet / -v, --verbose\n"
          "  -h, --help\n"
          "\n"
          "exit status: 0 success, 2 bad usage or bad input, 1 other "
          "failures.\n");
}

static int is_directory(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int parse_double(const char *s, double *v) {
  char *end;
  *v = strtod(s, &end);
  return end != s && *end == '\0' && isfinite(*v);
}

int w2s_cmd_fit(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  w2s_ctx *ctx = NULL;
  if (w2s_ctx_create(MPI_COMM_WORLD, 1, &ctx) != W2S_OK)
    MPI_Abort(MPI_COMM_WORLD, 1);
  w2s_fit_opts o = {NULL, {0.25, 0.5, 0.25}, 1, 1, "auto", {0.0}, 1, 0, 4096};
  const char *out = "fit-results.h5", *split_arg = NULL;
  int force = 0, help = 0;
  w2s_err e = w2s_check_launch(ctx);
  for (int i = 2; i < argc && !e; ++i) {
    const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    double x;
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) help = 1;
    else if (!strcmp(s, "--force")) force = 1;
    else if (!strcmp(s, "--standardize")) o.standardize = 1;
    else if (!strcmp(s, "-q") || !strcmp(s, "--quiet")) ctx->verbosity = 0;
    else if (!strcmp(s, "-v") || !strcmp(s, "--verbose")) ctx->verbosity = 2;
    else if (s[0] != '-' || !s[1]) {
      if (!o.path)
        o.path = s;
      else
        e = W2S_FAIL(ctx, W2S_ERR_USAGE, "unexpected argument '%s': one "
                     "FEATURES.h5 only", s);
    } else if (!v)
      e = W2S_FAIL(ctx, W2S_ERR_USAGE, "%s needs a value (or is unknown; try "
                   "'w2s fit --help')", s);
    else if (!strcmp(s, "-o") || !strcmp(s, "--output")) {
      if (!v[0] || v[strlen(v) - 1] == '/' || is_directory(v))
        e = W2S_FAIL(ctx, W2S_ERR_USAGE, "%s %s: a results file name is "
                     "expected, not a directory", s, v);
      out = v, ++i;
    } else if (!strcmp(s, "--split")) {
      split_arg = v, ++i;
    } else if (!strcmp(s, "--solver")) {
      if (!w2s_lsq_solver_find(v) || strlen(v) >= sizeof o.solver)
        e = W2S_FAIL(ctx, W2S_ERR_USAGE, "--solver: unknown solver '%s'", v);
      else snprintf(o.solver, sizeof o.solver, "%s", v);
      ++i;
    } else if (!strcmp(s, "--ridge")) {
      char buf[512];
      snprintf(buf, sizeof buf, "%s", v);
      o.nridge = 0;
      for (char *tok = strtok(buf, ","); tok && !e; tok = strtok(NULL, ",")) {
        if (o.nridge == 8 || !parse_double(tok, &x) || x < 0)
          e = W2S_FAIL(ctx, W2S_ERR_USAGE, "--ridge %s: 1 to 8 non-negative "
                       "numbers expected", v);
        else
          o.ridge[o.nridge++] = x;
      }
      if (!e && o.nridge == 0)
        e = W2S_FAIL(ctx, W2S_ERR_USAGE, "--ridge needs a value");
      ++i;
    } else if (!strcmp(s, "--seed") || !strcmp(s, "--repeats") ||
               !strcmp(s, "--block-rows")) {
      if (!parse_double(v, &x))
        e = W2S_FAIL(ctx, W2S_ERR_USAGE, "%s needs a number, got '%s'", s, v);
      /* The same range as experiment.seed; beyond 2^64 the conversion to
       * an integer would be undefined. */
      else if (!strcmp(s, "--seed") && x >= 0 && x <= 9.0e18 && x == floor(x))
        o.seed = (uint64_t)x;
      else if (!strcmp(s, "--repeats") && x >= 1 && x <= 1000 && x == floor(x))
        o.repeats = (int)x;
      else if (!strcmp(s, "--block-rows") && x >= 1 && x <= 1e7) o.block_rows = (int64_t)x;
      else
        e = W2S_FAIL(ctx, W2S_ERR_USAGE, "%s %s: out of range", s, v);
      ++i;
    } else {
      e = W2S_FAIL(ctx, W2S_ERR_USAGE, "unknown option '%s' (try 'w2s fit "
                   "--help')", s);
    }
  }
  if (!e && split_arg) {
    double f[3];
    char extra;
    /* !(f >= 0) also refuses NaN, which every comparison lets through. */
    if (sscanf(split_arg, "%lf,%lf,%lf%c", &f[0], &f[1], &f[2], &extra) != 3 ||
        !isfinite(f[0]) || !isfinite(f[1]) || !isfinite(f[2]) ||
        !(f[0] >= 0) || !(f[1] >= 0) || !(f[2] >= 0) ||
        !(fabs(f[0] + f[1] + f[2] - 1) <= 1e-9))
      e = W2S_FAIL(ctx, W2S_ERR_USAGE,
                   "--split %s: three non-negative fractions summing to 1 "
                   "expected, e.g. 0.25,0.5,0.25", split_arg);
    else
      memcpy(o.split, f, sizeof f);
  }
  if (!e && !help && !o.path)
    e = W2S_FAIL(ctx, W2S_ERR_USAGE, "missing FEATURES.h5 (try 'w2s fit --help')");
  w2s_features *feat = NULL;
  w2s_results **pts = NULL;
  char *cmdline = w2s_cli_join(argc, argv);
  if (!e && help) {
    if (ctx->rank == 0) fit_usage(stdout);
  } else if (!e) {
    w2s_blas_warn(ctx, "fit");
    w2s_timer_start(ctx, W2S_T_TOTAL);
    e = w2s_output_check(ctx, out, force);
    if (!e) e = w2s_output_not_input(ctx, out, &o.path, 1);
    if (!e && strlen(o.path) > w2s_mpio_path_max(ctx->size))
      e = w2s_agree(ctx, W2S_FAIL(ctx, W2S_ERR_USAGE,
                                  "%s: a path of %zu characters is longer "
                                  "than the %zu that MPI-IO opens; use a "
                                  "shorter path (or a symbolic link)",
                                  o.path, strlen(o.path),
                                  w2s_mpio_path_max(ctx->size)));
    if (!e) e = w2s_features_open(ctx, o.path, &feat);
    if (!e && w2s_features_has_split(feat) && (split_arg || o.repeats > 1))
      e = w2s_agree(ctx, W2S_FAIL(ctx, W2S_ERR_USAGE,
                                  "%s has /split: --split and --repeats do "
                                  "not apply (the file fixes the split)",
                                  o.path));
    if (!e) e = w2s_agree(ctx, W2S_ALLOC(ctx, pts, o.repeats));
    w2s_fit_scan sc = {0};
    for (int r = 0; r < o.repeats && !e; ++r) {
      w2s_log(ctx, 1, "%s: %lld rows, strong %lld features, %d weak "
              "model(s), repeat %d/%d", o.path,
              (long long)w2s_features_rows(feat),
              (long long)w2s_features_strong_dim(feat),
              w2s_features_nweak(feat), r + 1, o.repeats);
      e = w2s_fit_run(ctx, &o, feat, r, &sc, &pts[r]);
      if (!e) {
        snprintf(pts[r]->input_file, sizeof pts[r]->input_file, "%s", o.path);
        pts[r]->labels_checksum = sc.labels_checksum;
      }
    }
    if (!e) {
      w2s_timer_stop(ctx, W2S_T_TOTAL);
      e = store_timers(ctx, pts[0]);
    }
    if (!e) {
      char cfg[2048], ridge_text[256] = "";
      for (int l = 0; l < o.nridge; ++l) {
        char one[40];
        snprintf(one, sizeof one, "%s%.17g", l ? ", " : "", o.ridge[l]);
        strncat(ridge_text, one, sizeof ridge_text - strlen(ridge_text) - 1);
      }
      snprintf(cfg, sizeof cfg,
               "# w2s fit effective options\n[fit]\ninput = %s\nsplit = %s\n"
               "seed = %llu\nrepeats = %d\nsolver = %s\nridge = %s\n"
               "standardize = %s\nblock_rows = %lld\n",
               o.path,
               w2s_features_has_split(feat) ? "from /split" : (split_arg ? split_arg : "0.25,0.5,0.25"),
               (unsigned long long)o.seed, o.repeats, o.solver, ridge_text,
               o.standardize ? "true" : "false", (long long)o.block_rows);
      char keys[1][128] = {"repeat"};
      char (*vals)[128] = calloc((size_t)o.repeats, sizeof *vals);
      for (int r = 0; vals && r < o.repeats; ++r) snprintf(vals[r], 128, "%d", r);
      w2s_sweep_desc d = {1, o.repeats, (const char(*)[128])keys,
                          (const char(*)[128])vals, "repeat", NULL, 0, NULL};
      e = w2s_results_write_sweep(ctx, pts, o.repeats, o.repeats > 1 ? &d : NULL,
                                  cfg, cmdline, out, force);
      free(vals);
      if (!e) w2s_log(ctx, 1, "wrote %s", out);
    }
  }
  if (e) w2s_cli_report(ctx, "fit", e);
  int code = w2s_err_exit_code(e);
  for (int r = 0; pts && r < o.repeats; ++r) w2s_results_destroy(&pts[r]);
  free(pts);
  free(cmdline);
  w2s_features_close(&feat);
  w2s_ctx_destroy(&ctx);
  MPI_Finalize();
  return code;
}
