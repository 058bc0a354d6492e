/* w2s: the command-line entry point. Dispatches, through the table of
 * subcommands below, to one file per subcommand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct {
  const char *name;
  const char *args;    /* the synopsis after "w2s NAME" */
  const char *summary; /* one line or two ('\n'), for the top-level usage */
  int (*run)(int argc, char **argv);
} w2s_subcommand;

static const w2s_subcommand commands[] = {
    {"simulate", "CONFIG.ini [-o RESULTS.h5] [--set section.key=value ...]",
     "run an experiment (under mpirun for several ranks)", w2s_cmd_simulate},
    {"fit", "FEATURES.h5 [-o RESULTS.h5] [--split ...] [--repeats R] ...",
     "the same analysis on representations exported from real\nmodels "
     "(under mpirun for several ranks)",
     w2s_cmd_fit},
    {"analyze", "RESULTS.h5 [...] [--format table|csv|json]",
     "gain vs misfit, checks of the theory, weak-model selection",
     w2s_cmd_analyze},
    {"merge", "POINT.h5 ... -o MERGED.h5",
     "the sweep points of one experiment (a job array) into one file",
     w2s_cmd_merge},
    {"bench", "[--rows N --cols D --rhs K --cond C --solvers LIST ...]",
     "time the least-squares solvers against each other and ScaLAPACK",
     w2s_cmd_bench},
};
enum { NCOMMANDS = (int)(sizeof commands / sizeof commands[0]) };

static void usage(FILE *f) {
  fprintf(f,
          "usage: w2s <command> [options]\n"
          "\n"
          "Simulates weak-to-strong generalization (Charikar, Pabbaraju, "
          "Shiragur, NeurIPS 2024):\nweak heads fitted on true labels, strong "
          "heads fitted on the weak labels by a distributed\nleast-squares "
          "solve across MPI ranks, and the gain / misfit metrics in an HDF5 "
          "results file.\n\ncommands:\n");
  for (int i = 0; i < NCOMMANDS; ++i) {
    fprintf(f, "  %s %s\n%22s", commands[i].name, commands[i].args, "");
    for (const char *p = commands[i].summary; *p; ++p) {
      fputc(*p, f);
      if (*p == '\n') fprintf(f, "%22s", "");
    }
    fputc('\n', f);
  }
  fprintf(f, "\n  w2s <command> --help   options of a command (or w2s help "
             "<command>)\n"
             "  w2s --version          version and git revision\n");
}

static int print_version(void) {
  w2s_blas_info blas;
  char line[256];
  w2s_blas_query(&blas);
  w2s_blas_describe(&blas, line, sizeof line);
  printf("w2s %s (git %s)\nBLAS: %s\n", w2s_version(), w2s_git_revision(),
         line);
  return 0;
}

/* One line on stderr, with the nearest command (or option) if there is
 * one. */
static int unknown_command(const char *cmd) {
  const char *names[NCOMMANDS + 2];
  int n = 0;
  if (cmd[0] == '-') {
    names[n++] = "--help";
    names[n++] = "--version";
  } else {
    for (; n < NCOMMANDS; ++n) names[n] = commands[n].name;
    names[n++] = "help";
    names[n++] = "version";
  }
  const char *what = cmd[0] == '-' ? "option" : "command";
  int k = w2s_suggest(cmd, names, n);
  if (k >= 0)
    fprintf(stderr,
            "w2s: error: unknown %s '%s' (did you mean %s?); try "
            "'w2s --help'\n",
            what, cmd, names[k]);
  else
    fprintf(stderr, "w2s: error: unknown %s '%s' (try 'w2s --help')\n", what,
            cmd);
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "help") && argc >= 3) {
    /* "w2s help CMD" is "w2s CMD --help". */
    char help[] = "--help";
    char *args[] = {argv[0], argv[2], help, NULL};
    for (int i = 0; i < NCOMMANDS; ++i)
      if (!strcmp(argv[2], commands[i].name)) return commands[i].run(3, args);
    return unknown_command(argv[2]);
  }
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "version"))
    return print_version();
  for (int i = 0; i < NCOMMANDS; ++i)
    if (!strcmp(cmd, commands[i].name)) return commands[i].run(argc, argv);
  return unknown_command(cmd);
}
