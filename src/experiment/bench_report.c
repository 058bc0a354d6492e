/* The solver benchmark's reports (see bench.h): table, CSV, JSON, and the
 * solver table itself (selecting from it, listing it). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "w2s/analyze.h"
#include "w2s/bench.h"
#include "w2s/lsq.h"

static w2s_err unknown_solver(w2s_ctx *ctx, const char *name) {
  const char *names[W2S_BENCH_MAX_SOLVERS];
  int n = 0;
  while (n < W2S_BENCH_MAX_SOLVERS && w2s_lsq_solvers[n])
    names[n] = w2s_lsq_solvers[n]->name, ++n;
  int k = w2s_suggest(name, names, n);
  if (k >= 0)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "--solvers: unknown solver '%s' "
                    "(did you mean %s?)",
                    name, names[k]);
  return W2S_FAIL(ctx, W2S_ERR_USAGE, "--solvers: unknown solver '%s'", name);
}

/* Split by hand: strtok would skip empty items, and an empty list would
 * run nothing and print an empty table. */
w2s_err w2s_bench_solvers(w2s_ctx *ctx, const w2s_bench_opts *o,
                          const w2s_lsq_solver **out, int *n) {
  *n = 0;
  if (!o->solvers) {
    for (int s = 0; w2s_lsq_solvers[s] && *n < W2S_BENCH_MAX_SOLVERS; ++s)
      out[(*n)++] = w2s_lsq_solvers[s];
    return W2S_OK;
  }
  char buf[512];
  if (strlen(o->solvers) >= sizeof buf)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "--solvers: the list is longer than "
                    "%zu characters",
                    sizeof buf - 1);
  memcpy(buf, o->solvers, strlen(o->solvers) + 1);
  for (char *tok = buf; tok;) {
    char *comma = strchr(tok, ',');
    if (comma) *comma = '\0';
    const w2s_lsq_solver *s = w2s_lsq_solver_find(tok);
    if (!*tok)
      return W2S_FAIL(ctx, W2S_ERR_USAGE,
                      "--solvers: empty solver name (a "
                      "list like auto,tsqr expected)");
    if (*n == W2S_BENCH_MAX_SOLVERS)
      return W2S_FAIL(ctx, W2S_ERR_USAGE, "--solvers: more than %d solvers",
                      W2S_BENCH_MAX_SOLVERS);
    if (!s) return unknown_solver(ctx, tok);
    out[(*n)++] = s;
    tok = comma ? comma + 1 : NULL;
  }
  return W2S_OK;
}

static void print_num(FILE *f, double v, const char *fmt) {
  if (isfinite(v))
    fprintf(f, fmt, v);
  else
    fprintf(f, "nan");
}

static void print_csv(FILE *f, const w2s_bench_result *res) {
  const w2s_bench_summary *sum = &res->sum;
  fprintf(f, "solver,time_s,gflops,ratio_vs_scalapack,ratio_vs_gemm,"
             "rel_error,residual,peak_rss_mib,tsqr_rel_error,error_bound\n");
  for (int s = 0; s < res->nsolvers; ++s) {
    const w2s_bench_row *r = &res->row[s];
    fprintf(f, "%s,", r->solver);
    print_num(f, r->time_s, "%.6g"), fputc(',', f);
    print_num(f, r->gflops, "%.6g"), fputc(',', f);
    print_num(f, r->ratio_vs_scalapack, "%.6g"), fputc(',', f);
    print_num(f, r->ratio_vs_gemm, "%.6g"), fputc(',', f);
    print_num(f, r->rel_error, "%.3e"), fputc(',', f);
    print_num(f, r->residual, "%.6e"), fputc(',', f);
    print_num(f, r->peak_rss_mib, "%.1f"), fputc(',', f);
    print_num(f, sum->tsqr_rel_error, "%.3e"), fputc(',', f);
    print_num(f, sum->error_bound, "%.3e"), fputc('\n', f);
  }
}

static void json_row(FILE *f, const w2s_bench_row *r) {
  double v[9] = {r->time_s,        r->gflops,         r->ratio_vs_scalapack,
                 r->ratio_vs_gemm, r->rel_error,      r->residual,
                 r->peak_rss_mib,  (double)r->passes, r->flops};
  const char *k[9] = {"time_s",        "gflops",    "ratio_vs_scalapack",
                      "ratio_vs_gemm", "rel_error", "residual",
                      "peak_rss_mib",  "passes",    "flops"};
  fprintf(f,
          "{\"solver\": \"%s\", \"method\": \"%s\", \"ran\": \"%s\", "
          "\"ok\": %s",
          r->solver, r->method, r->ran, r->ok ? "true" : "false");
  for (int j = 0; j < 9; ++j) {
    fprintf(f, ", \"%s\": ", k[j]);
    if (isfinite(v[j]))
      fprintf(f, "%.6g", v[j]);
    else
      fprintf(f, "null");
  }
  fprintf(f, ", \"note\": ");
  w2s_json_string(f, r->note);
  fprintf(f, "}");
}

static void print_json(FILE *f, const w2s_bench_opts *o,
                       const w2s_bench_result *res) {
  const w2s_bench_summary *sum = &res->sum;
  fprintf(f,
          "{\"rows\": %lld, \"cols\": %lld, \"rhs\": %lld, \"cond\": "
          "%g, \"ranks\": %d, \"gemm_gflops_per_rank\": %.4g, "
          "\"tsqr_rel_error\": %.6g, \"error_bound\": %.6g, "
          "\"blas\": ",
          (long long)o->rows, (long long)o->cols, (long long)o->rhs, o->cond,
          res->ranks, sum->gemm_gflops, sum->tsqr_rel_error, sum->error_bound);
  w2s_json_string(f, res->blas);
  fprintf(f, ", \"blas_kernel\": ");
  w2s_json_string(f, res->blas_kernel);
  fprintf(f, ", \"solvers\": [");
  for (int s = 0; s < res->nsolvers; ++s) {
    fprintf(f, "%s\n  ", s ? "," : "");
    json_row(f, &res->row[s]);
  }
  fprintf(f, "\n]}\n");
}

static void print_table(FILE *f, const w2s_bench_opts *o,
                        const w2s_bench_result *res) {
  const w2s_bench_summary *sum = &res->sum;
  fprintf(f,
          "w2s bench: n = %lld, d = %lld, K = %lld, cond = %g, %d "
          "ranks, DGEMM %.1f GFLOP/s per rank in this run%s\n"
          "BLAS: %s\n"
          "rel_error is against the exact solution; Householder QR "
          "(tsqr) reaches %.2e here,\nthe perturbation bound cond eps "
          "(1 + cond rho) is %.2e (rho = %.2g)\n\n",
          (long long)o->rows, (long long)o->cols, (long long)o->rhs, o->cond,
          res->ranks, sum->gemm_gflops, o->stream ? ", streamed" : "",
          res->blas, sum->tsqr_rel_error, sum->error_bound, sum->rho);
  fprintf(f, "%-10s %-14s %6s %10s %8s %9s %9s %10s %12s %9s  %s\n", "solver",
          "method", "passes", "time_s", "gflops", "vs_scal", "vs_gemm",
          "rel_error", "residual", "peak_MiB", "note");
  for (int s = 0; s < res->nsolvers; ++s) {
    const w2s_bench_row *r = &res->row[s];
    fprintf(f,
            "%-10s %-14s %6d %10.4g %8.3g %9.3g %9.3g %10.2e %12.4e "
            "%9.1f  %s\n",
            r->solver, r->method, r->passes, r->time_s, r->gflops,
            r->ratio_vs_scalapack, r->ratio_vs_gemm, r->rel_error, r->residual,
            r->peak_rss_mib, r->note);
  }
}

void w2s_bench_print(FILE *f, const w2s_bench_opts *o,
                     const w2s_bench_result *res, w2s_bench_format fmt) {
  if (fmt == W2S_BENCH_CSV)
    print_csv(f, res);
  else if (fmt == W2S_BENCH_JSON)
    print_json(f, o, res);
  else
    print_table(f, o, res);
}

void w2s_bench_list_solvers(FILE *f, const w2s_bench_opts *o) {
  fprintf(f, "solver,passes_min,passes_max,cond_max,error_order,streams,"
             "flops,help\n");
  for (int s = 0; w2s_lsq_solvers[s]; ++s) {
    const w2s_lsq_solver *sv = w2s_lsq_solvers[s];
    fprintf(f, "%s,%d,%d,%g,%d,%d,%.17g,\"", sv->name, sv->passes_min,
            sv->passes_max, sv->cond_max, sv->error_order, sv->streams,
            sv->flops((double)o->rows, (double)o->cols, (double)o->rhs));
    for (const char *c = sv->help; *c; ++c) {
      if (*c == '"') fputc('"', f);
      fputc(*c, f);
    }
    fprintf(f, "\"\n");
  }
}
