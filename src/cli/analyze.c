/* w2s analyze: read results files (no MPI launch) and report. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "w2s/analyze.h"
#include "w2s/io.h"

typedef struct {
  int fmt, summary_only;
  const char *plot, *plot_sweep;
  w2s_opt_list files;
} analyze_args;

/* The order of w2s_format. */
static const char *const formats[] = {"table", "csv", "json", NULL};

/* Reads every file, then prints the per-pair rows, the summary, the sweep
 * statistics and the plots asked for. */
static w2s_err run(w2s_ctx *ctx, const analyze_args *a) {
  int n = a->files.n;
  w2s_results **files = NULL;
  w2s_err e = W2S_ALLOC(ctx, files, n);
  for (int i = 0; i < n && !e; ++i)
    e = w2s_results_read(ctx, a->files.items[i], &files[i]);
  w2s_summary sum;
  if (!e) e = w2s_analyze_summary(ctx, files, n, &sum);
  if (!e)
    w2s_analyze_print(stdout, files, n, &sum, (w2s_format)a->fmt,
                      !a->summary_only);
  w2s_sweep_stat *st = NULL;
  int64_t nst = 0;
  if (!e) e = w2s_analyze_sweep(ctx, files, n, &st, &nst);
  if (!e) w2s_analyze_print_sweep(stdout, st, nst, (w2s_format)a->fmt);
  if (!e && a->plot) e = w2s_plot_gain_misfit(ctx, files, n, &sum, a->plot);
  if (!e && a->plot_sweep) e = w2s_plot_sweep(ctx, st, nst, a->plot_sweep);
  free(st);
  for (int i = 0; files && i < n; ++i) w2s_results_destroy(&files[i]);
  free(files);
  return e;
}

int w2s_cmd_analyze(int argc, char **argv) {
  w2s_ctx *ctx = NULL;
  if (w2s_ctx_create(MPI_COMM_NULL, 1, &ctx) != W2S_OK) return 1;
  analyze_args a = {.fmt = W2S_FMT_TABLE};
  const w2s_opt table[] = {
      {.name = "format",
       .arg = "table|csv|json",
       .kind = W2S_OPT_CHOICE,
       .target = &a.fmt,
       .choices = formats,
       .help = "output format (default: table)"},
      {.name = "summary",
       .kind = W2S_OPT_FLAG,
       .target = &a.summary_only,
       .help = "the summary only, no per-pair rows"},
      {.name = "plot",
       .arg = "FILE.png|svg|pdf",
       .kind = W2S_OPT_STRING,
       .target = &a.plot,
       .help = "draw gain against misfit (PLplot)"},
      {.name = "plot-sweep",
       .arg = "FILE",
       .kind = W2S_OPT_STRING,
       .target = &a.plot_sweep,
       .help = "for sweep results: mean |gain - misfit| against\n"
               "the first swept value, log axes"},
      {.name = NULL},
  };
  const w2s_opts spec = {
      .cmd = "analyze",
      .description =
          "Prints, per (task, weak model), the metrics of each results file, "
          "then a summary:\nthe least-squares line of gain on misfit (test), "
          "how many pairs satisfy\ngain >= misfit on test and on train and "
          "the largest violation, the weak model\nchosen by the smallest "
          "(weak_error - misfit) against the one with the smallest\n"
          "w2s_error, and the median PGR. Needs no mpirun.",
      .opts = table,
      .pos_name = "RESULTS.h5",
      .pos_min = 1,
      .pos_max = -1,
      .pos = &a.files,
      .pos_missing = "no results file given (try 'w2s analyze --help')",
      .epilogue = "exit status: 0 success, 2 bad usage or an unreadable / "
                  "foreign file.",
  };
  int help = 0;
  w2s_err e = w2s_opts_parse(ctx, &spec, argc, argv, 2, &help);
  if (!e && help)
    w2s_opts_help(stdout, &spec);
  else if (!e)
    e = run(ctx, &a);
  if (e) w2s_cli_report(ctx, "analyze", e);
  int code = w2s_err_exit_code(e);
  w2s_opts_free(&spec);
  w2s_ctx_destroy(&ctx);
  return code;
}
