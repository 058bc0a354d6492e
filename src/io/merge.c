/* Merging the results files of one experiment's sweep points (a Slurm job
 * array, or a restarted run directory) into one file: read (rank 0),
 * checked, written by w2s_results_write_sweep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/io.h"

typedef struct {
  int64_t point;
  int file;
} point_owner;

static int cmp_owner(const void *a, const void *b) {
  const point_owner *x = a, *y = b;
  if (x->point != y->point)
    return (x->point > y->point) - (x->point < y->point);
  return (x->file > y->file) - (x->file < y->file);
}

/* No sweep point in two files: every pair's (point, file), sorted, so a
 * point held by two files shows as neighbours: O(K log K) in all pairs. */
static w2s_err check_duplicates(w2s_ctx *ctx, w2s_results *const *r, int n) {
  int64_t K = 0;
  for (int i = 0; i < n; ++i) K += r[i]->npairs;
  point_owner *o = NULL;
  W2S_CALL(W2S_ALLOC(ctx, o, K));
  int64_t k = 0;
  for (int i = 0; i < n; ++i)
    for (int64_t a = 0; a < r[i]->npairs; ++a)
      o[k++] = (point_owner){r[i]->pair_sweep[a], i};
  qsort(o, (size_t)K, sizeof *o, cmp_owner);
  w2s_err e = W2S_OK;
  for (int64_t a = 1; a < K && !e; ++a)
    if (o[a].point == o[a - 1].point && o[a].file != o[a - 1].file)
      e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s and %s both hold sweep point %lld",
                   r[o[a - 1].file]->path, r[o[a].file]->path,
                   (long long)o[a].point);
  free(o);
  return e;
}

/* One experiment: the identity every file stores (configuration without
 * [output] path, sweep keys and grid, format version; the reader has
 * checked each against its hash), then no point twice. */
static w2s_err check_files(w2s_ctx *ctx, w2s_results *const *r, int n) {
  w2s_identity ref = w2s_results_identity(r[0]);
  for (int i = 0; i < n; ++i) {
    if (!r[i]->pair_sweep)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: not a sweep point file (no /metrics/sweep): merge "
                      "takes the points of one sweep",
                      r[i]->path);
    if (r[i]->format_version != r[0]->format_version)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: from a different experiment than %s "
                      "(format_version %d here, %d there)",
                      r[i]->path, r[0]->path, r[i]->format_version,
                      r[0]->format_version);
    w2s_identity id = w2s_results_identity(r[i]);
    char why[512];
    if (w2s_identity_differs(&id, &ref, "here", "there", why, sizeof why))
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: from a different experiment than %s (%s)",
                      r[i]->path, r[0]->path, why);
  }
  return check_duplicates(ctx, r, n);
}

w2s_err w2s_merge_files(w2s_ctx *ctx, const char *const *paths, int n,
                        const char *out, int force, const char *command_line) {
  w2s_results **r = NULL;
  w2s_err e = W2S_OK;
  if (n < 1) return W2S_FAIL(ctx, W2S_ERR_USAGE, "merge: no input files");
  /* Refused before anything is read: --force would replace an input. */
  W2S_CALL(w2s_output_check(ctx, out, force));
  W2S_CALL(w2s_output_not_input(ctx, out, paths, n));
  W2S_CALL(w2s_agree(ctx, W2S_ALLOC(ctx, r, n)));
  if (ctx->rank == 0) {
    for (int i = 0; i < n && !e; ++i)
      e = w2s_results_read(ctx, paths[i], &r[i]);
    if (!e) e = check_files(ctx, r, n);
  }
  e = w2s_agree(ctx, e);
  /* Every rank needs the same data for the collective write. */
  if (!e && ctx->comm != MPI_COMM_NULL && ctx->size > 1)
    e = w2s_agree(ctx, W2S_FAIL(ctx, W2S_ERR_USAGE,
                                "merge runs on one rank (no mpirun needed)"));
  if (!e) {
    w2s_sweep_desc d = {r[0]->sweep_nkeys,
                        r[0]->sweep_npoints,
                        (const char(*)[128])r[0]->sweep_keys,
                        (const char(*)[128])r[0]->sweep_values,
                        "sweep",
                        NULL,
                        1,
                        paths};
    const w2s_results_output o = {.path = out,
                                  .force = force,
                                  .config_text = r[0]->config_text,
                                  .command_line = command_line};
    e = w2s_results_write_sweep(ctx, r, n, &d, &o);
  }
  for (int i = 0; i < n; ++i) w2s_results_destroy(&r[i]);
  free(r);
  return e;
}
