/* w2s: the command-line entry point. Dispatches to one file per subcommand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: w2s <command> [options]\n"
          "\n"
          "Simulates weak-to-strong generalization (Charikar, Pabbaraju, "
          "Shiragur, NeurIPS 2024):\n"
          "weak heads fitted on true labels, strong heads fitted on the weak "
          "labels by a distributed\nleast-squares solve across MPI ranks, and "
          "the gain / misfit metrics in an HDF5 results file.\n"
          "\n"
          "commands:\n"
          "  simulate CONFIG.ini [-o RESULTS.h5] [--set section.key=value ...]\n"
          "                      run an experiment (under mpirun for several "
          "ranks)\n"
          "  fit FEATURES.h5 [-o RESULTS.h5] [--split ...] [--repeats R] ...\n"
          "                      the same analysis on representations exported "
          "from real\n"
          "                      models (under mpirun for several ranks)\n"
          "  analyze RESULTS.h5 [...] [--format table|csv|json]\n"
          "                      gain vs misfit, checks of the theory, weak-model "
          "selection\n"
          "  merge POINT.h5 ... -o MERGED.h5\n"
          "                      the sweep points of one experiment (a job "
          "array) into one file\n"
          "  bench [--rows N --cols D --rhs K --cond C --solvers LIST ...]\n"
          "                      time the least-squares solvers against each "
          "other and ScaLAPACK\n"
          "\n"
          "  w2s <command> --help   options of a command\n"
          "  w2s --version          version and git revision\n");
}

char *w2s_cli_join(int argc, char **argv) {
  size_t len = 1;
  for (int i = 0; i < argc; ++i) len += strlen(argv[i]) + 1;
  char *s = calloc(len, 1), *p = s;
  if (!s) return NULL;
  for (int i = 0; i < argc; ++i) {
    size_t n = strlen(argv[i]);
    if (i) *p++ = ' ';
    memcpy(p, argv[i], n);
    p += n;
  }
  return s;
}

void w2s_cli_report(const w2s_ctx *ctx, const char *cmd, w2s_err e) {
  if (ctx && ctx->rank != 0) return;
  const char *msg = (ctx && ctx->msg[0]) ? ctx->msg : w2s_err_text(e);
  fprintf(stderr, "%sw2s %s: error: %s\n",
          (ctx && ctx->stderr_tty) ? "\r\033[K" : "", cmd, msg);
  if (ctx && ctx->verbosity >= 2 && ctx->err_file)
    fprintf(stderr, "w2s %s: (raised at %s:%d, %s)\n", cmd, ctx->err_file,
            ctx->err_line, w2s_err_name(e));
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
    w2s_blas_info blas;
    char line[256];
    w2s_blas_query(&blas);
    w2s_blas_describe(&blas, line, sizeof line);
    printf("w2s %s (git %s)\nBLAS: %s\n", w2s_version(), w2s_git_revision(),
           line);
    return 0;
  }
  if (!strcmp(cmd, "simulate")) return w2s_cmd_simulate(argc, argv);
  if (!strcmp(cmd, "analyze")) return w2s_cmd_analyze(argc, argv);
  if (!strcmp(cmd, "bench")) return w2s_cmd_bench(argc, argv);
  if (!strcmp(cmd, "fit")) return w2s_cmd_fit(argc, argv);
  if (!strcmp(cmd, "merge")) return w2s_cmd_merge(argc, argv);
  fprintf(stderr, "w2s: error: unknown command '%s' (try 'w2s --help')\n", cmd);
  return 2;
}
