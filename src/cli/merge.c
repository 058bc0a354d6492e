/* w2s merge: the sweep-point files of one experiment into one file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "w2s/analyze.h"
#include "w2s/io.h"

static void merge_usage(FILE *f) {
  fprintf(f,
          "usage: w2s merge POINT.h5 [POINT.h5 ...] -o MERGED.h5 [--force]\n"
          "\n"
          "Concatenates the metrics of results files that hold points of ONE "
          "sweep (written\nby 'w2s simulate --sweep-point I' in a job array, "
          "or a --run-dir) into one file,\nrecording each pair's sweep point "
          "(/metrics/sweep) and source file\n(/metrics/source_file, "
          "/merge/files). Refuses files whose configuration (apart\nfrom "
          "the output path), sweep grid or format version differ, and "
          "points given\ntwice. Coefficients stay in the point files. "
          "--force replaces an existing\nMERGED.h5 (a regular file, never "
          "an input). Runs alone: refused under mpirun\nor srun with "
          "several tasks.\n");
}

int w2s_cmd_merge(int argc, char **argv) {
  w2s_ctx *ctx = NULL;
  if (w2s_ctx_create(MPI_COMM_NULL, 1, &ctx) != W2S_OK) return 1;
  const char **paths = calloc((size_t)argc, sizeof *paths);
  const char *out = NULL;
  int n = 0, force = 0, help = 0;
  w2s_err e = paths ? W2S_OK : W2S_ERR_MEMORY;
  for (int i = 2; i < argc && !e; ++i) {
    const char *s = argv[i];
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) help = 1;
    else if (!strcmp(s, "--force")) force = 1;
    else if (!strcmp(s, "-o") || !strcmp(s, "--output")) {
      if (i + 1 >= argc) e = W2S_FAIL(ctx, W2S_ERR_USAGE, "-o needs a file");
      else out = argv[++i];
    } else if (s[0] == '-' && s[1]) {
      e = W2S_FAIL(ctx, W2S_ERR_USAGE,
                   "unknown option '%s' (try 'w2s merge --help')", s);
    } else {
      paths[n++] = s;
    }
  }
  int copy = 0, copies = w2s_launched_copies(&copy);
  if (!e && !help && copies > 1) {
    /* N copies would race for one output: refuse, one line from copy 0. */
    e = W2S_FAIL(ctx, W2S_ERR_USAGE,
                 "merge was started as %d copies (mpirun/srun -n %d): it runs "
                 "alone, without mpirun",
                 copies, copies);
  }
  if (!e && help) {
    merge_usage(stdout);
  } else {
    if (!e && (!out || n == 0))
      e = W2S_FAIL(ctx, W2S_ERR_USAGE,
                   "give the point files and -o MERGED.h5 (try 'w2s merge "
                   "--help')");
    char *cmd = w2s_cli_join(argc, argv);
    if (!e) e = w2s_merge_files(ctx, paths, n, out, force, cmd);
    free(cmd);
  }
  if (e && copy == 0) w2s_cli_report(ctx, "merge", e);
  int code = w2s_err_exit_code(e);
  free(paths);
  w2s_ctx_destroy(&ctx);
  return code;
}
