/* w2s fit: argv -> the fit job's plan -> the driver -> report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "w2s/fit.h"
#include "w2s/lsq.h"

typedef struct {
  w2s_fit_args a;
  int64_t seed, repeats, block_rows;
  w2s_opt_list pos;
  int verbosity;
  int64_t classes;
} fit_cli;

static w2s_err set_output(w2s_ctx *ctx, const char *opt, const char *v,
                          void *target) {
  struct stat st;
  if (!v[0] || v[strlen(v) - 1] == '/' ||
      (stat(v, &st) == 0 && S_ISDIR(st.st_mode)))
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "%s %s: a results file name is "
                    "expected, not a directory",
                    opt, v);
  ((fit_cli *)target)->a.output = v;
  return W2S_OK;
}

static w2s_err set_split(w2s_ctx *ctx, const char *opt, const char *v,
                         void *target) {
  w2s_fit_args *a = &((fit_cli *)target)->a;
  W2S_CALL(w2s_fit_parse_split(ctx, opt, v, a->o.split));
  a->split_arg = v;
  return W2S_OK;
}

static w2s_err set_solver(w2s_ctx *ctx, const char *opt, const char *v,
                          void *target) {
  return w2s_fit_parse_solver(ctx, opt, v, &((fit_cli *)target)->a.o);
}

static w2s_err set_ridge(w2s_ctx *ctx, const char *opt, const char *v,
                         void *target) {
  return w2s_fit_parse_ridge(ctx, opt, v, &((fit_cli *)target)->a.o);
}

/* The table; help receives the --solver line (the solver table's names). */
static w2s_opts fit_spec(fit_cli *c, w2s_opt *t, char *help, size_t len) {
  char names[768];
  w2s_lsq_solver_names(names, sizeof names, "|");
  snprintf(help, len, "%s (default auto)", names);
  const w2s_opt table[] =
      {{"output", 'o', "PATH", "results file (default fit-results.h5)",
        W2S_OPT_CALL, c, set_output, 0, 0, 0, NULL},
       {"split", 0, "F0,F1,F2",
        "fractions of rows for splits 0, 1, 2 when "
        "the file has no\n/split (default 0.25,0.5,0.25)",
        W2S_OPT_CALL, c, set_split, 0, 0, 0, NULL},
       {"seed", 0, "S", "seed of the split permutation (default 1)",
        W2S_OPT_INT, &c->seed, NULL, 0, 0, 9.0e18, NULL},
       {"repeats", 0, "R",
        "repeat over R different splits (default 1); "
        "results carry\na /metrics/repeat index",
        W2S_OPT_INT, &c->repeats, NULL, 0, 1, 1000, NULL},
       {"solver", 0, "NAME", help, W2S_OPT_CALL, c, set_solver, 0, 0, 0, NULL},
       {"engine", 0, "auto|factor|direct",
        "factor: one read of the file into a TSQR factor of each\nsplit's "
        "stacked columns, every fit and metric from it;\ndirect: one read per "
        "head; auto (default): the cheaper by the\ncost model "
        "(docs/DESIGN.md); a --solver other than auto or\ntsqr means direct",
        W2S_OPT_CHOICE, &c->a.o.engine, NULL, 0, 0, 0, w2s_engine_names},
       {"ridge", 0, "L[,L2,...]",
        "ridge lambda per sample (default 0); with "
        "several values each\nhead takes the one with the smallest error on "
        "20% of its\nfitting split held out (weak heads: true labels; strong:"
        "\nthe weak labels), then refits on all of it",
        W2S_OPT_CALL, c, set_ridge, 0, 0, 0, NULL},
       {"loss", 0, "auto|squared|logistic|softmax",
        "the heads' loss: squared (least squares), or cross-entropy\n"
        "fits by Newton's method with KL metrics: softmax, logistic\n"
        "(= softmax, 2 classes); auto (default): squared for float\n"
        "/labels [n], softmax for integer class ids [n] or class\n"
        "probabilities [n, C] (docs/FORMAT.md)",
        W2S_OPT_CHOICE, &c->a.o.loss, NULL, 0, 0, 0, w2s_fit_loss_names},
       {"classes", 0, "C",
        "classes of class-id labels (default: the largest id + 1;\n"
        "logistic: 2); probability labels have their width",
        W2S_OPT_INT, &c->classes, NULL, 0, 2, 1e6, NULL},
       {"standardize", 0, NULL,
        "scale each representation's columns to zero "
        "mean, unit\nvariance (statistics of the split that fits its head)",
        W2S_OPT_FLAG, &c->a.o.standardize, NULL, 0, 0, 0, NULL},
       {"block-rows", 0, "B", "rows read per block (default 4096)", W2S_OPT_INT,
        &c->block_rows, NULL, 0, 1, 1e7, NULL},
       {"force", 0, NULL,
        "overwrite an existing results file (a regular\n"
        "file, never one of the inputs)",
        W2S_OPT_FLAG, &c->a.force, NULL, 0, 0, 0, NULL},
       {"quiet", 'q', NULL, "no progress lines", W2S_OPT_CONST, &c->verbosity,
        NULL, 0, 0, 0, NULL},
       {"verbose", 'v', NULL, "more log lines", W2S_OPT_CONST, &c->verbosity,
        NULL, 2, 0, 0, NULL},
       {NULL, 0, NULL, NULL, 0, NULL, NULL, 0, 0, 0, NULL}};
  memcpy(t, table, sizeof table);
  return (w2s_opts){"fit",
                    NULL,
                    "[mpirun -n P]",
                    "Fits weak heads on split 0 against /labels, the strong "
                    "head on the weak labels of\nsplit 1 (or on "
                    "/weak_predictions/NAME), and reports the metrics on "
                    "split 2 (test)\nand split 1 (train), into the same "
                    "results layout as 'w2s simulate' (docs/FORMAT.md\n"
                    "describes the features file). Every rank reads only its "
                    "own rows.",
                    t,
                    "FEATURES.h5",
                    1,
                    1,
                    &c->pos,
                    NULL,
                    "exit status: 0 success, 2 bad usage or bad input, 1 "
                    "other failures."};
}

int w2s_cmd_fit(int argc, char **argv) {
  w2s_ctx *ctx = w2s_mpi_start(&argc, &argv, "fit");
  fit_cli c = {{{NULL,
                 {0.25, 0.5, 0.25},
                 1,
                 1,
                 "auto",
                 {0.0},
                 1,
                 0,
                 4096,
                 W2S_ENGINE_AUTO,
                 W2S_FIT_LOSS_AUTO,
                 0},
                NULL,
                "fit-results.h5",
                0,
                NULL},
               1,
               1,
               4096,
               {0},
               1,
               0};
  w2s_opt table[15];
  char solver_help[1024];
  w2s_opts spec = fit_spec(&c, table, solver_help, sizeof solver_help);
  int help = 0;
  w2s_err e = w2s_check_launch(ctx);
  if (!e) e = w2s_opts_parse(ctx, &spec, argc, argv, 2, &help);
  ctx->verbosity = c.verbosity;
  char *cmdline = w2s_cli_join(argc, argv);
  if (!e && help) {
    if (ctx->rank == 0) w2s_opts_help(stdout, &spec);
  } else if (!e) {
    w2s_blas_warn(ctx, "fit");
    c.a.o.path = c.pos.items[0];
    c.a.o.seed = (uint64_t)c.seed;
    c.a.o.repeats = (int)c.repeats;
    c.a.o.block_rows = c.block_rows;
    c.a.o.classes = c.classes;
    c.a.command_line = cmdline;
    w2s_fit_job *job = NULL;
    e = w2s_fit_job_create(ctx, &c.a, &job);
    if (!e) e = w2s_run(ctx, w2s_fit_job_plan(job));
    w2s_fit_job_free(&job);
  }
  if (e) w2s_cli_report(ctx, "fit", e);
  free(cmdline);
  w2s_opts_free(&spec);
  return w2s_mpi_stop(&ctx, w2s_err_exit_code(e));
}
