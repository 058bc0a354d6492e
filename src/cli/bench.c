/* w2s bench: the least-squares solvers timed against each other in one run
 * (argv -> w2s_bench_opts -> w2s_bench_run -> w2s_bench_print). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "w2s/bench.h"
#include "w2s/lsq.h"

static const char *const formats[] = {"table", "csv", "json", NULL};

static const char bench_description[] =
    "Generates a distributed n x d test matrix with condition number C and "
    "K right-hand\nsides, and times every solver on it in the same run "
    "(median of R repeats, max over\nranks of the time spent in solver "
    "calls; row generation is not timed).";

static const char bench_epilogue[] =
    "columns: time_s (median seconds), gflops (flops of the algorithm that "
    "ran / time),\nratio_vs_scalapack, ratio_vs_gemm (time / n d^2 flops at "
    "the DGEMM rate measured in this\nrun: 1 = the arithmetic floor), "
    "rel_error (||X - X*|| / ||X*|| against the exact\nleast-squares "
    "solution X*), residual (||AX - B|| / ||B||), peak_rss_mib (max over "
    "ranks);\ncsv adds tsqr_rel_error (Householder QR's error: what the "
    "conditioning allows) and\nerror_bound (cond eps (1 + cond rho), rho = "
    "||B - AX*|| / (||A|| ||X*||)). The header names\nthe BLAS library and "
    "kernel that ran (OPENBLAS_CORETYPE selects OpenBLAS's).\n"
    "--list-solvers: passes, cond_max, error_order (error ~ cond^order eps), "
    "streams, flops\n(the model gflops uses, at --rows, --cols, --rhs).";

typedef struct {
  w2s_bench_opts o;
  int64_t seed;
  int fmt, list, help;
  char solvers_help[384], stream_help[256];
} bench_args;

/* The help lines that name solvers, from the table. */
static void table_help(bench_args *a) {
  char names[256], stored[128] = "";
  w2s_lsq_solver_names(names, sizeof names, ",");
  for (int s = 0; w2s_lsq_solvers[s]; ++s)
    if (!w2s_lsq_solvers[s]->streams) {
      size_t used = strlen(stored);
      snprintf(stored + used, sizeof stored - used, "%s%s", used ? ", " : "",
               w2s_lsq_solvers[s]->name);
    }
  snprintf(a->solvers_help, sizeof a->solvers_help,
           "comma-separated (default %s)", names);
  snprintf(a->stream_help, sizeof a->stream_help,
           "regenerate the rows every pass instead of storing them\n"
           "(memory independent of n%s%s%s)",
           stored[0] ? "; " : "", stored, stored[0] ? " still stores" : "");
}

static w2s_err parse(w2s_ctx *ctx, bench_args *a, int argc, char **argv) {
  const w2s_opt table[] = {
      {.name = "rows",
       .arg = "N",
       .kind = W2S_OPT_INT,
       .target = &a->o.rows,
       .lo = 1,
       .hi = 9e15,
       .help = "rows n over all ranks (default 200000)"},
      {.name = "cols",
       .arg = "D",
       .kind = W2S_OPT_INT,
       .target = &a->o.cols,
       .lo = 1,
       .hi = 46340,
       .help = "columns d (default 256)"},
      {.name = "rhs",
       .arg = "K",
       .kind = W2S_OPT_INT,
       .target = &a->o.rhs,
       .lo = 0,
       .hi = 1e6,
       .help = "right-hand sides (default 64)"},
      {.name = "cond",
       .arg = "C",
       .kind = W2S_OPT_DOUBLE,
       .target = &a->o.cond,
       .lo = 1,
       .hi = 1e308,
       .help = "condition number of the matrix (default 1e3)"},
      {.name = "solvers",
       .arg = "LIST",
       .kind = W2S_OPT_STRING,
       .target = &a->o.solvers,
       .help = a->solvers_help},
      {.name = "repeat",
       .arg = "R",
       .kind = W2S_OPT_INT,
       .target = &a->o.repeat,
       .lo = 1,
       .hi = 1000,
       .help = "repeats per solver, median reported (default 3)"},
      {.name = "block",
       .arg = "B",
       .kind = W2S_OPT_INT,
       .target = &a->o.block,
       .lo = 1,
       .hi = 1e7,
       .help = "rows per block fed to the solver (default 8192)"},
      {.name = "stream",
       .kind = W2S_OPT_FLAG,
       .target = &a->o.stream,
       .help = a->stream_help},
      {.name = "seed",
       .arg = "S",
       .kind = W2S_OPT_INT,
       .target = &a->seed,
       .lo = 0,
       .hi = 9e18,
       .help = "(default 1)"},
      {.name = "format",
       .arg = "table|csv|json",
       .kind = W2S_OPT_CHOICE,
       .target = &a->fmt,
       .choices = formats,
       .help = "(default table)"},
      {.name = "list-solvers",
       .kind = W2S_OPT_FLAG,
       .target = &a->list,
       .help = "print the solver table (CSV) and exit"},
      {.name = "quiet",
       .short_name = 'q',
       .kind = W2S_OPT_CONST,
       .target = &ctx->verbosity,
       .ival = 0,
       .help = "no warnings on stderr (the generic-BLAS-kernel one)"},
      {.name = NULL},
  };
  const w2s_opts spec = {.cmd = "bench",
                         .launch = "mpirun -n P",
                         .description = bench_description,
                         .opts = table,
                         .epilogue = bench_epilogue};
  w2s_err e = w2s_opts_parse(ctx, &spec, argc, argv, 2, &a->help);
  if (!e && a->help && ctx->rank == 0) w2s_opts_help(stdout, &spec);
  return e;
}

int w2s_cmd_bench(int argc, char **argv) {
  w2s_ctx *ctx = w2s_mpi_start(&argc, &argv, "bench");
  bench_args a = {.o = w2s_bench_defaults()};
  a.seed = (int64_t)a.o.seed;
  table_help(&a);
  w2s_err e = w2s_check_launch(ctx);
  if (!e) e = parse(ctx, &a, argc, argv);
  a.o.seed = (uint64_t)a.seed;
  if (!e && a.list && !a.help && ctx->rank == 0)
    w2s_bench_list_solvers(stdout, &a.o);
  w2s_bench_result res;
  int run = !e && !a.help && !a.list;
  if (run) e = w2s_bench_run(ctx, &a.o, &res);
  if (run && !e && ctx->rank == 0)
    w2s_bench_print(stdout, &a.o, &res, (w2s_bench_format)a.fmt);
  if (e) w2s_cli_report(ctx, "bench", e);
  return w2s_mpi_stop(&ctx, w2s_err_exit_code(e));
}
