/* w2s bench: the least-squares solvers timed against each other in one run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "w2s/bench.h"
#include "w2s/lsq.h"

static void bench_usage(FILE *f) {
  fprintf(f,
          "usage: mpirun -n P w2s bench [options]\n"
          "\n"
          "Generates a distributed n x d test matrix with condition number C "
          "and K right-hand\nsides, and times every solver on it in the same "
          "run (median of R repeats, max over\nranks of the time spent in "
          "solver calls; row generation is not timed).\n"
          "\n"
          "options:\n"
          "  --rows N        rows n over all ranks (default 200000)\n"
          "  --cols D        columns d (default 256)\n"
          "  --rhs K         right-hand sides (default 64)\n"
          "  --cond C        condition number of the matrix (default 1e3)\n"
          "  --solvers LIST  comma-separated (default "
          "auto,cholqr2,scholqr3,tsqr,normal,scalapack)\n"
          "  --repeat R      repeats per solver, median reported (default 3)\n"
          "  --block B       rows per block fed to the solver (default 8192)\n"
          "  --stream        regenerate the rows every pass instead of storing "
          "them\n                  (memory independent of n; scalapack still "
          "stores)\n"
          "  --seed S        (default 1)\n"
          "  --format table|csv|json   (default table)\n"
          "  -q, --quiet     no warnings on stderr (the generic-BLAS-kernel "
          "one)\n"
          "  -h, --help\n"
          "\n"
          "columns: time_s (median seconds), gflops (flops of the algorithm "
          "that ran / time),\nratio_vs_scalapack, ratio_vs_gemm (time / n d^2 "
          "flops at the DGEMM rate measured in this\nrun: 1 = the arithmetic "
          "floor), rel_error (||X - X*|| / ||X*|| against the exact\n"
          "least-squares solution X*), residual (||AX - B|| / ||B||), "
          "peak_rss_mib (max over ranks);\ncsv adds tsqr_rel_error "
          "(Householder QR's error: what the conditioning allows) and\n"
          "error_bound (cond eps (1 + cond rho), rho = ||B - AX*|| / (||A|| "
          "||X*||)). The header names\nthe BLAS library and kernel that ran "
          "(OPENBLAS_CORETYPE selects OpenBLAS's).\n");
}

static int parse_num(const char *s, double *v) {
  char *end;
  *v = strtod(s, &end);
  return end != s && *end == '\0' && isfinite(*v);
}

static void print_num(FILE *f, double v, const char *fmt) {
  if (isfinite(v))
    fprintf(f, fmt, v);
  else
    fprintf(f, "nan");
}

int w2s_cmd_bench(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  w2s_ctx *ctx = NULL;
  if (w2s_ctx_create(MPI_COMM_WORLD, 1, &ctx) != W2S_OK)
    MPI_Abort(MPI_COMM_WORLD, 1);
  w2s_bench_opts o = {200000, 256, 64, 1e3, 3, 8192, 0, 1};
  char solvers_buf[512] = "auto,cholqr2,scholqr3,tsqr,normal,scalapack";
  int fmt = 0, help = 0;
  w2s_err e = w2s_check_launch(ctx);
  for (int i = 2; i < argc && !e; ++i) {
    const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    double x;
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      help = 1;
    } else if (!strcmp(s, "--stream")) {
      o.stream = 1;
    } else if (!strcmp(s, "-q") || !strcmp(s, "--quiet")) {
      ctx->verbosity = 0;
    } else if (!v) {
      e = W2S_FAIL(ctx, W2S_ERR_USAGE, "unknown option or missing value: '%s' "
                   "(try 'w2s bench --help')", s);
    } else if (!strcmp(s, "--solvers")) {
      snprintf(solvers_buf, sizeof solvers_buf, "%s", v), ++i;
    } else if (!strcmp(s, "--format")) {
      fmt = !strcmp(v, "table") ? 0 : !strcmp(v, "csv") ? 1
            : !strcmp(v, "json") ? 2 : -1;
      if (fmt < 0)
        e = W2S_FAIL(ctx, W2S_ERR_USAGE,
                     "--format must be table, csv or json, got '%s'", v);
      ++i;
    } else if (!parse_num(v, &x)) {
      e = W2S_FAIL(ctx, W2S_ERR_USAGE, "%s needs a number, got '%s'", s, v);
    } else if (strcmp(s, "--cond") != 0 && x != floor(x)) {
      /* Every option but --cond counts something: 1.5 rows is a typo. */
      e = W2S_FAIL(ctx, W2S_ERR_USAGE, "%s needs an integer, got '%s'", s, v);
    } else {
      ++i;
      if (!strcmp(s, "--rows") && x >= 1 && x <= 9e15) o.rows = (int64_t)x;
      else if (!strcmp(s, "--cols") && x >= 1 && x <= 46340) o.cols = (int64_t)x;
      else if (!strcmp(s, "--rhs") && x >= 0 && x <= 1e6) o.rhs = (int64_t)x;
      else if (!strcmp(s, "--cond") && x >= 1) o.cond = x;
      else if (!strcmp(s, "--repeat") && x >= 1 && x <= 1000) o.repeat = (int)x;
      else if (!strcmp(s, "--block") && x >= 1 && x <= 1e7) o.block = (int64_t)x;
      else if (!strcmp(s, "--seed") && x >= 0 && x <= 9e18) o.seed = (uint64_t)x;
      else
        e = W2S_FAIL(ctx, W2S_ERR_USAGE, "%s %s: unknown option or out of "
                     "range (try 'w2s bench --help')", s, v);
    }
  }
  const char *names[16];
  int n = 0;
  /* Split by hand: strtok would skip empty items, and an empty list would
   * run nothing and print an empty table. */
  for (char *tok = solvers_buf; tok && !e;) {
    char *comma = strchr(tok, ',');
    if (comma) *comma = '\0';
    if (!*tok)
      e = W2S_FAIL(ctx, W2S_ERR_USAGE, "--solvers: empty solver name (a list "
                   "like auto,tsqr expected)");
    else if (n == 16 || !w2s_lsq_solver_find(tok))
      e = W2S_FAIL(ctx, W2S_ERR_USAGE, "--solvers: unknown solver '%s'", tok);
    else
      names[n++] = tok;
    tok = comma ? comma + 1 : NULL;
  }
  if (!e && !help && o.rows < o.cols)
    e = W2S_FAIL(ctx, W2S_ERR_USAGE, "--rows %lld < --cols %lld: the problem "
                 "is underdetermined", (long long)o.rows, (long long)o.cols);
  w2s_bench_row rows[16];
  w2s_bench_summary sum = {0};
  w2s_blas_info blas;
  char blas_line[256];
  w2s_blas_query(&blas);
  w2s_blas_describe(&blas, blas_line, sizeof blas_line);
  if (!e && help) {
    if (ctx->rank == 0) bench_usage(stdout);
  } else if (!e) {
    w2s_blas_warn(ctx, "bench");
    e = w2s_bench_run(ctx, &o, names, n, rows, &sum);
  }
  if (!e && !help && ctx->rank == 0) {
    FILE *f = stdout;
    if (fmt == 1) {
      fprintf(f, "solver,time_s,gflops,ratio_vs_scalapack,ratio_vs_gemm,"
                 "rel_error,residual,peak_rss_mib,tsqr_rel_error,"
                 "error_bound\n");
      for (int s = 0; s < n; ++s) {
        fprintf(f, "%s,", rows[s].solver);
        print_num(f, rows[s].time_s, "%.6g"), fputc(',', f);
        print_num(f, rows[s].gflops, "%.6g"), fputc(',', f);
        print_num(f, rows[s].ratio_vs_scalapack, "%.6g"), fputc(',', f);
        print_num(f, rows[s].ratio_vs_gemm, "%.6g"), fputc(',', f);
        print_num(f, rows[s].rel_error, "%.3e"), fputc(',', f);
        print_num(f, rows[s].residual, "%.6e"), fputc(',', f);
        print_num(f, rows[s].peak_rss_mib, "%.1f"), fputc(',', f);
        print_num(f, sum.tsqr_rel_error, "%.3e"), fputc(',', f);
        print_num(f, sum.error_bound, "%.3e"), fputc('\n', f);
      }
    } else if (fmt == 2) {
      fprintf(f, "{\"rows\": %lld, \"cols\": %lld, \"rhs\": %lld, \"cond\": "
                 "%g, \"ranks\": %d, \"gemm_gflops_per_rank\": %.4g, "
                 "\"tsqr_rel_error\": %.6g, \"error_bound\": %.6g, "
                 "\"blas\": \"%s\", \"blas_kernel\": \"%s\", \"solvers\": [",
              (long long)o.rows, (long long)o.cols, (long long)o.rhs, o.cond,
              ctx->size, sum.gemm_gflops, sum.tsqr_rel_error, sum.error_bound,
              blas_line, blas.kernel);
      for (int s = 0; s < n; ++s) {
        const w2s_bench_row *r = &rows[s];
        double v[8] = {r->time_s, r->gflops, r->ratio_vs_scalapack,
                       r->ratio_vs_gemm, r->rel_error, r->residual,
                       r->peak_rss_mib, (double)r->passes};
        const char *k[8] = {"time_s", "gflops", "ratio_vs_scalapack",
                            "ratio_vs_gemm", "rel_error", "residual",
                            "peak_rss_mib", "passes"};
        fprintf(f, "%s\n  {\"solver\": \"%s\", \"method\": \"%s\", \"ok\": %s",
                s ? "," : "", r->solver, r->method, r->ok ? "true" : "false");
        for (int j = 0; j < 8; ++j) {
          fprintf(f, ", \"%s\": ", k[j]);
          if (isfinite(v[j])) fprintf(f, "%.6g", v[j]);
          else fprintf(f, "null");
        }
        fprintf(f, ", \"note\": \"");
        for (const char *c = r->note; *c; ++c)
          if (*c == '"' || *c == '\\') fprintf(f, "\\%c", *c);
          else if ((unsigned char)*c >= 0x20) fputc(*c, f);
        fprintf(f, "\"}");
      }
      fprintf(f, "\n]}\n");
    } else {
      fprintf(f, "w2s bench: n = %lld, d = %lld, K = %lld, cond = %g, %d "
                 "ranks, DGEMM %.1f GFLOP/s per rank in this run%s\n"
                 "BLAS: %s\n"
                 "rel_error is against the exact solution; Householder QR "
                 "(tsqr) reaches %.2e here,\nthe perturbation bound cond eps "
                 "(1 + cond rho) is %.2e (rho = %.2g)\n\n",
              (long long)o.rows, (long long)o.cols, (long long)o.rhs, o.cond,
              ctx->size, sum.gemm_gflops, o.stream ? ", streamed" : "",
              blas_line, sum.tsqr_rel_error, sum.error_bound, sum.rho);
      fprintf(f, "%-10s %-14s %6s %10s %8s %9s %9s %10s %12s %9s  %s\n",
              "solver", "method", "passes", "time_s", "gflops", "vs_scal",
              "vs_gemm", "rel_error", "residual", "peak_MiB", "note");
      for (int s = 0; s < n; ++s) {
        const w2s_bench_row *r = &rows[s];
        fprintf(f, "%-10s %-14s %6d %10.4g %8.3g %9.3g %9.3g %10.2e %12.4e "
                   "%9.1f  %s\n",
                r->solver, r->method, r->passes, r->time_s, r->gflops,
                r->ratio_vs_scalapack, r->ratio_vs_gemm, r->rel_error,
                r->residual, r->peak_rss_mib, r->note);
      }
    }
  }
  if (e) w2s_cli_report(ctx, "bench", e);
  int code = w2s_err_exit_code(e);
  w2s_ctx_destroy(&ctx);
  MPI_Finalize();
  return code;
}
