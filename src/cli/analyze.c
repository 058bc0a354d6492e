/* w2s analyze: read results files (no MPI launch) and report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "w2s/analyze.h"
#include "w2s/io.h"

static void analyze_usage(FILE *f) {
  fprintf(f,
          "usage: w2s analyze RESULTS.h5 [RESULTS.h5 ...] [options]\n"
          "\n"
          "Prints, per (task, weak model), the metrics of each results file, "
          "then a summary:\nthe least-squares line of gain on misfit (test), "
          "how many pairs satisfy\ngain >= misfit on test and on train and "
          "the largest violation, the weak model\nchosen by the smallest "
          "(weak_error - misfit) against the one with the smallest\nw2s_error, "
          "and the median PGR. Needs no mpirun.\n"
          "\n"
          "options:\n"
          "  --format table|csv|json  output format (default: table)\n"
          "  --summary                the summary only, no per-pair rows\n"
          "  --plot FILE.png|svg|pdf  draw gain against misfit (PLplot)\n"
          "  --plot-sweep FILE        for sweep results: mean |gain - misfit| "
          "against\n"
          "                           the first swept value, log axes\n"
          "  -h, --help               this help\n"
          "\n"
          "exit status: 0 success, 2 bad usage or an unreadable / foreign "
          "file.\n");
}

int w2s_cmd_analyze(int argc, char **argv) {
  w2s_ctx *ctx = NULL;
  if (w2s_ctx_create(MPI_COMM_NULL, 1, &ctx) != W2S_OK) return 1;
  w2s_format fmt = W2S_FMT_TABLE;
  int rows = 1, nfiles = 0, help = 0;
  const char *plot = NULL, *plot_sweep = NULL;
  const char **paths = calloc((size_t)argc, sizeof *paths);
  /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
  w2s_results **files = calloc((size_t)argc, sizeof *files);
  w2s_err e = (!paths || !files) ? W2S_ERR_MEMORY : W2S_OK;
  for (int i = 2; i < argc && !e; ++i) {
    const char *s = argv[i];
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      help = 1;
    } else if (!strcmp(s, "--plot")) {
      if (i + 1 >= argc)
        e = W2S_FAIL(ctx, W2S_ERR_USAGE, "--plot needs FILE.png|svg|pdf");
      else
        plot = argv[++i];
    } else if (!strcmp(s, "--plot-sweep")) {
      if (i + 1 >= argc)
        e = W2S_FAIL(ctx, W2S_ERR_USAGE, "--plot-sweep needs FILE.png|svg|pdf");
      else
        plot_sweep = argv[++i];
    } else if (!strcmp(s, "--summary")) {
      rows = 0;
    } else if (!strcmp(s, "--format") || !strncmp(s, "--format=", 9)) {
      const char *v = s[8] == '=' ? s + 9 : (i + 1 < argc ? argv[++i] : "");
      if (!strcmp(v, "table")) fmt = W2S_FMT_TABLE;
      else if (!strcmp(v, "csv")) fmt = W2S_FMT_CSV;
      else if (!strcmp(v, "json")) fmt = W2S_FMT_JSON;
      else
        e = W2S_FAIL(ctx, W2S_ERR_USAGE,
                     "--format must be table, csv or json, got '%s'", v);
    } else if (s[0] == '-' && s[1]) {
      e = W2S_FAIL(ctx, W2S_ERR_USAGE,
                   "unknown option '%s' (try 'w2s analyze --help')", s);
    } else {
      paths[nfiles++] = s;
    }
  }
  if (!e && help) {
    analyze_usage(stdout);
  } else {
    if (!e && nfiles == 0)
      e = W2S_FAIL(ctx, W2S_ERR_USAGE,
                   "no results file given (try 'w2s analyze --help')");
    for (int i = 0; i < nfiles && !e; ++i)
      e = w2s_results_read(ctx, paths[i], &files[i]);
    w2s_summary sum;
    if (!e) e = w2s_analyze_summary(ctx, files, nfiles, &sum);
    if (!e) w2s_analyze_print(stdout, files, nfiles, &sum, fmt, rows);
    w2s_sweep_stat *st = NULL;
    int64_t nst = 0;
    if (!e) e = w2s_analyze_sweep(ctx, files, nfiles, &st, &nst);
    if (!e) w2s_analyze_print_sweep(stdout, st, nst, fmt);
    if (!e && plot) e = w2s_plot_gain_misfit(ctx, files, nfiles, &sum, plot);
    if (!e && plot_sweep) e = w2s_plot_sweep(ctx, st, nst, plot_sweep);
    free(st);
  }
  if (e) w2s_cli_report(ctx, "analyze", e);
  int code = w2s_err_exit_code(e);
  for (int i = 0; i < nfiles; ++i) w2s_results_destroy(&files[i]);
  free(files);
  free(paths);
  w2s_ctx_destroy(&ctx);
  return code;
}
