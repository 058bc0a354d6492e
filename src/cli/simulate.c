/* w2s simulate: argv -> the simulate job's plan -> the driver -> report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "w2s/experiment.h"

typedef struct {
  w2s_opt_list pos, sets, sweeps;
  int64_t sweep_point; /* -1: every point */
  const char *run_dir;
  int resume, force, verbosity, help_config;
  /* "output.path=PATH" from -o: it travels as the last config override */
  char output_set[sizeof(((w2s_param *)0)->text) + 16];
} sim_args;

/* -o PATH: refused rather than truncated when the config value cannot
 * hold it. */
static w2s_err set_output(w2s_ctx *ctx, const char *opt, const char *val,
                          void *target) {
  sim_args *a = target;
  size_t cap = sizeof(((w2s_param *)0)->text);
  if (!*val) return W2S_FAIL(ctx, W2S_ERR_USAGE, "%s needs a file name", opt);
  if (strlen(val) >= cap)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "%s: a path of %zu characters is too long (at most %zu)",
                    opt, strlen(val), cap - 1);
  snprintf(a->output_set, sizeof a->output_set, "output.path=%s", val);
  return W2S_OK;
}

static w2s_opts simulate_spec(sim_args *a, w2s_opt *t) {
  const w2s_opt table[] =
      {{"output", 'o', "PATH", "results file (default: [output] path)",
        W2S_OPT_CALL, a, set_output, 0, 0, 0, NULL},
       {"set", 0, "SECTION.KEY=VALUE",
        "override a config key (repeatable), "
        "e.g.\n--set data.n_test=100000 --set weak.small.depth=1",
        W2S_OPT_LIST, &a->sets, NULL, 0, 0, 0, NULL},
       {"sweep", 0, "SECTION.KEY=V1,V2,...",
        "run the grid of all swept "
        "values (repeatable;\nalso a [sweep] section) into one file",
        W2S_OPT_LIST, &a->sweeps, NULL, 0, 0, 0, NULL},
       {"sweep-point", 0, "I",
        "run only point I (0-based) of the sweep grid "
        "(a job\narray task); merge the points with 'w2s merge'",
        W2S_OPT_INT, &a->sweep_point, NULL, 0, 0, 9.2e18, NULL},
       {"run-dir", 0, "DIR",
        "write every sweep point to DIR/point-NNNNN.h5, "
        "then\nmerge them into the output",
        W2S_OPT_STRING, &a->run_dir, NULL, 0, 0, 0, NULL},
       {"resume", 0, NULL,
        "with --run-dir: keep the points already complete,"
        "\ndiscard partial files of killed runs, run the rest\n(a point file "
        "of another experiment is an error)",
        W2S_OPT_FLAG, &a->resume, NULL, 0, 0, 0, NULL},
       {"force", 0, NULL,
        "overwrite an existing results file (a regular\n"
        "file, never the config)",
        W2S_OPT_FLAG, &a->force, NULL, 0, 0, 0, NULL},
       {"help-config", 0, NULL,
        "print every config key: type, default, range,"
        " help",
        W2S_OPT_FLAG, &a->help_config, NULL, 0, 0, 0, NULL},
       {"verbose", 'v', NULL,
        "more log lines (effective config, error "
        "origins)",
        W2S_OPT_CONST, &a->verbosity, NULL, 2, 0, 0, NULL},
       {"quiet", 'q', NULL, "no progress lines on stderr", W2S_OPT_CONST,
        &a->verbosity, NULL, 0, 0, 0, NULL},
       {NULL, 0, NULL, NULL, 0, NULL, NULL, 0, 0, 0, NULL}};
  memcpy(t, table, sizeof table);
  return (w2s_opts){"simulate",
                    "[mpirun -n P] w2s simulate CONFIG.ini [options]",
                    NULL,
                    "Runs the experiment described by CONFIG.ini on every MPI "
                    "rank and writes one HDF5\nresults file (layout: "
                    "docs/FORMAT.md). Read it with 'w2s analyze' or h5py.",
                    t,
                    "CONFIG.ini",
                    0,
                    1,
                    &a->pos,
                    NULL,
                    "exit status: 0 success, 2 bad usage or bad input, 1 "
                    "other failures."};
}

/* The options as the job's arguments (-o's override last), then the run. */
static w2s_err run(w2s_ctx *ctx, sim_args *a, const char *cmdline) {
  if (a->output_set[0])
    W2S_CALL(w2s_opt_list_add(ctx, &a->sets, a->output_set));
  w2s_simulate_args sa = {a->pos.items[0], a->sets.items, a->sets.n,
                          a->sweeps.items, a->sweeps.n,   a->sweep_point,
                          a->run_dir,      a->resume,     a->force,
                          cmdline};
  w2s_simulate_job *job = NULL;
  w2s_err e = w2s_simulate_job_create(ctx, &sa, &job);
  if (!e) e = w2s_run(ctx, w2s_simulate_job_plan(job));
  w2s_simulate_job_free(&job);
  return e;
}

int w2s_cmd_simulate(int argc, char **argv) {
  w2s_ctx *ctx = w2s_mpi_start(&argc, &argv, "simulate");
  sim_args a = {.sweep_point = -1, .verbosity = 1};
  w2s_opt table[12];
  w2s_opts spec = simulate_spec(&a, table);
  int help = 0;
  w2s_err e = w2s_check_launch(ctx);
  if (!e) e = w2s_opts_parse(ctx, &spec, argc, argv, 2, &help);
  /* --help-config alone needs no CONFIG.ini. */
  if (!e && !help && !a.help_config && a.pos.n == 0)
    e = W2S_FAIL(ctx, W2S_ERR_USAGE,
                 "missing CONFIG.ini (try 'w2s simulate --help')");
  ctx->verbosity = a.verbosity;
  if (!e && (help || a.help_config)) {
    if (ctx->rank == 0 && help) w2s_opts_help(stdout, &spec);
    if (ctx->rank == 0 && a.help_config) w2s_config_print_help(stdout);
  } else if (!e) {
    w2s_blas_warn(ctx, "simulate");
    char *cmdline = w2s_cli_join(argc, argv);
    e = run(ctx, &a, cmdline);
    free(cmdline);
  }
  if (e) w2s_cli_report(ctx, "simulate", e);
  w2s_opts_free(&spec);
  return w2s_mpi_stop(&ctx, w2s_err_exit_code(e));
}
