/* w2s merge: the sweep-point files of one experiment into one file. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "w2s/analyze.h"
#include "w2s/io.h"

int w2s_cmd_merge(int argc, char **argv) {
  w2s_ctx *ctx = NULL;
  if (w2s_ctx_create(MPI_COMM_NULL, 1, &ctx) != W2S_OK) return 1;
  const char *out = NULL;
  int force = 0, help = 0;
  w2s_opt_list points = {0};
  const w2s_opt table[] = {
      {.name = "output",
       .short_name = 'o',
       .arg = "MERGED.h5",
       .kind = W2S_OPT_STRING,
       .target = &out,
       .help = "the merged results file (required)"},
      {.name = "force",
       .kind = W2S_OPT_FLAG,
       .target = &force,
       .help = "replace an existing MERGED.h5 (a regular file,\n"
               "never an input)"},
      {.name = NULL},
  };
  const w2s_opts spec = {
      .cmd = "merge",
      .usage = "w2s merge POINT.h5 [POINT.h5 ...] -o MERGED.h5 [--force]",
      .description =
          "Concatenates the metrics of results files that hold points of ONE "
          "sweep (written\nby 'w2s simulate --sweep-point I' in a job array, "
          "or a --run-dir) into one file,\nrecording each pair's sweep point "
          "(/metrics/sweep) and source file\n(/metrics/source_file, "
          "/merge/files). Refuses files whose configuration (apart\nfrom "
          "the output path), sweep grid or format version differ, and "
          "points given\ntwice. Coefficients stay in the point files. Runs "
          "alone: refused under mpirun\nor srun with several tasks.",
      .opts = table,
      .pos_name = "POINT.h5",
      .pos_min = 1,
      .pos_max = -1,
      .pos = &points,
      .pos_missing = "give the point files and -o MERGED.h5 (try 'w2s merge "
                     "--help')",
      .epilogue = "exit status: 0 success, 2 bad usage or bad input, 1 other "
                  "failures.",
  };
  w2s_err e = w2s_opts_parse(ctx, &spec, argc, argv, 2, &help);
  int copy = 0, copies = w2s_launched_copies(&copy);
  if (!e && !help && copies > 1) {
    /* N copies would race for one output: refuse, one line from copy 0. */
    e = W2S_FAIL(ctx, W2S_ERR_USAGE,
                 "merge was started as %d copies (mpirun/srun -n %d): it runs "
                 "alone, without mpirun",
                 copies, copies);
  }
  if (!e && !help && !out)
    e = W2S_FAIL(ctx, W2S_ERR_USAGE, "%s", spec.pos_missing);
  if (!e && help) {
    w2s_opts_help(stdout, &spec);
  } else if (!e) {
    char *cmd = w2s_cli_join(argc, argv);
    e = w2s_merge_files(ctx, points.items, points.n, out, force, cmd);
    free(cmd);
  }
  if (e && copy == 0) w2s_cli_report(ctx, "merge", e);
  int code = w2s_err_exit_code(e);
  w2s_opts_free(&spec);
  w2s_ctx_destroy(&ctx);
  return code;
}
