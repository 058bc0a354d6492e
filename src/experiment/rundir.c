/* The run-directory and resume policy of the driver: DIR/point-NNNNN.h5
 * per point, complete files of this experiment kept with resume, a killed
 * run's partial files discarded, then the merge of every point into the
 * output. Rank 0 does the file-system work; every decision is agreed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "experiment/run_impl.h"

/* Rank 0, resume: a file under a point's final name was complete when
 * written, so it is kept only if it is this experiment's point p (same
 * stored identity: configuration, grid, format version); anything else is
 * an error, never silently merged or overwritten. */
static w2s_err keep_point(w2s_ctx *ctx, const char *name, int64_t p,
                          const w2s_identity *here, int *done) {
  w2s_ctx *local = NULL;
  w2s_results *r = NULL;
  w2s_err e = w2s_ctx_create(MPI_COMM_NULL, 0, &local);
  if (e) return W2S_FAIL(ctx, e, "--resume: cannot create a context");
  e = w2s_results_read(local, name, &r);
  if (e) {
    e = W2S_FAIL(ctx, e, "--resume: %s (remove it to run point %lld again)",
                 local->msg, (long long)p);
  } else {
    w2s_identity id = w2s_results_identity(r);
    char why[512];
    int other = 0;
    for (int64_t k = 0; r->pair_sweep && k < r->npairs; ++k)
      other |= r->pair_sweep[k] != p;
    if (w2s_identity_differs(here, &id, "in this run", "in the file", why,
                             sizeof why))
      e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                   "--resume: %s is from a different experiment (%s): use "
                   "another --run-dir, or remove it",
                   name, why);
    else if (!r->pair_sweep || other || r->npairs == 0)
      e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                   "--resume: %s does not hold exactly sweep point %lld: "
                   "remove it",
                   name, (long long)p);
    else
      *done = 1;
  }
  w2s_results_destroy(&r);
  w2s_ctx_destroy(&local);
  return e;
}

/* Collective, resume: done[p] = 1 for every point in [first, last] whose
 * file is kept (rank 0 reads them, the decision is shared); the first file
 * that may not be kept is an error on every rank. */
static w2s_err kept_points(w2s_ctx *ctx, const w2s_run_plan *plan,
                           const char *const *names, int64_t first,
                           int64_t last, int *done) {
  w2s_err e = W2S_OK;
  if (ctx->rank == 0) {
    char *canon = w2s_identity_config(plan->config_text);
    w2s_identity here = {canon,
                         plan->grid->nkeys,
                         plan->grid->npoints,
                         plan->grid->keys,
                         plan->grid->values,
                         0};
    if (!canon)
      e = W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory (identity)");
    else
      here.hash = w2s_identity_hash(&here);
    for (int64_t p = first; p <= last && !e; ++p)
      if (access(names[p], F_OK) == 0)
        e = keep_point(ctx, names[p], p, &here, &done[p]);
    free(canon);
  }
  W2S_CALL(w2s_agree(ctx, e));
  return w2s_agree(ctx,
                   w2s_bcast_bytes(ctx, done,
                                   (int64_t)sizeof *done * plan->npoints, 0));
}

/* Rank 0: a killed job's temporary files are never results; with resume
 * they are removed (without it the directory only has to be readable). */
static w2s_err discard_partials(w2s_ctx *ctx, const w2s_run_plan *plan) {
  if (ctx->rank != 0) return W2S_OK;
  DIR *d = opendir(plan->run_dir);
  if (!d)
    return W2S_FAIL(ctx, W2S_ERR_USAGE, "--run-dir %s: cannot open",
                    plan->run_dir);
  for (struct dirent *de; (de = readdir(d));)
    if (!strncmp(de->d_name, "point-", 6) && strstr(de->d_name, ".partial-")) {
      char p[4096];
      snprintf(p, sizeof p, "%s/%s", plan->run_dir, de->d_name);
      if (plan->resume) {
        unlink(p);
        w2s_log(ctx, 1, "discarded the partial file %s", p);
      }
    }
  closedir(d);
  return W2S_OK;
}

/* Collective: the directory exists (rank 0 creates it) and every point's
 * file name, names[p] = DIR/point-NNNNN.h5 (malloc'ed, freed by
 * free_names, on failure too). */
static w2s_err make_names(w2s_ctx *ctx, const w2s_run_plan *plan, char ***out) {
  w2s_err e = W2S_OK;
  if (ctx->rank == 0 && mkdir(plan->run_dir, 0777) != 0 && errno != EEXIST)
    e = W2S_FAIL(ctx, W2S_ERR_USAGE, "--run-dir %s: cannot create: %s",
                 plan->run_dir, strerror(errno));
  W2S_CALL(w2s_agree(ctx, e));
  char **names = NULL;
  e = w2s_agree(ctx, W2S_ALLOC(ctx, names, plan->npoints));
  *out = names;
  for (int64_t p = 0; p < plan->npoints && !e; ++p) {
    e = W2S_ALLOC(ctx, names[p], 4096);
    if (!e)
      snprintf(names[p], 4096, "%s/point-%05lld.h5", plan->run_dir,
               (long long)p);
  }
  return w2s_agree(ctx, e);
}

static void free_names(char **names, int64_t n) {
  for (int64_t p = 0; names && p < n; ++p) free(names[p]);
  free(names);
}

/* Collective: rank 0 merges every point file into the output. */
static w2s_err merge_points(w2s_ctx *ctx, const w2s_run_plan *plan,
                            const char *const *names) {
  w2s_err local_e = W2S_OK;
  if (ctx->rank == 0) {
    w2s_ctx *local = NULL;
    local_e = w2s_ctx_create(MPI_COMM_NULL, ctx->verbosity, &local);
    if (!local_e) {
      local_e = w2s_merge_files(local, names, (int)plan->npoints, plan->output,
                                plan->force || plan->resume,
                                plan->command_line);
      if (local_e)
        local_e = W2S_FAIL(ctx, local_e, "%s", local->msg);
      else
        w2s_log(ctx, 1, "merged %lld points into %s", (long long)plan->npoints,
                plan->output);
      w2s_ctx_destroy(&local);
    }
  }
  return w2s_agree(ctx, local_e);
}

/* Collective: run (or keep) points first..last into their files. */
static w2s_err run_points(w2s_ctx *ctx, const w2s_run_plan *plan,
                          char *const *names, const int *done, int64_t first,
                          int64_t last) {
  w2s_err e = W2S_OK;
  for (int64_t p = first; p <= last && !e; ++p) {
    if (done[p]) {
      w2s_log(ctx, 1, "point %lld is complete in %s: kept", (long long)p,
              names[p]);
      continue;
    }
    w2s_results *pt = NULL;
    e = w2s_run_one(ctx, plan, p, &pt);
    if (!e) e = w2s_run_write_points(ctx, plan, &pt, &p, 1, names[p]);
    w2s_results_destroy(&pt);
  }
  return e;
}

w2s_err w2s_run_dir(w2s_ctx *ctx, const w2s_run_plan *plan) {
  int64_t first = plan->point >= 0 ? plan->point : 0;
  int64_t last = plan->point >= 0 ? plan->point : plan->npoints - 1;
  char **names = NULL;
  int *done = NULL;
  w2s_err e = make_names(ctx, plan, &names);
  /* Every point file is judged before anything is discarded or computed:
   * a directory of another experiment is refused as it was found, and every
   * point file this run may write is checked (an existing one without
   * --resume or --force, a directory in its place, ...). */
  if (!e) e = w2s_agree(ctx, W2S_ALLOC(ctx, done, plan->npoints));
  if (!e && plan->resume)
    e = kept_points(ctx, plan, (const char *const *)names, first, last, done);
  for (int64_t p = first; p <= last && !e; ++p)
    e = w2s_output_check(ctx, names[p], plan->force || plan->resume);
  if (!e) e = w2s_agree(ctx, discard_partials(ctx, plan));
  if (!e) e = run_points(ctx, plan, names, done, first, last);
  if (!e && plan->point < 0)
    e = merge_points(ctx, plan, (const char *const *)names);
  free_names(names, plan->npoints);
  free(done);
  return e;
}
