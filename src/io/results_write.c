/* The results writer. Rank 0 holds every number the file stores, so it
 * builds the file in memory (HDF5's core driver, no backing store: nothing
 * HDF5 does can meet a full disk or leave a half-closed file behind), then
 * writes the image to a temporary name with plain writes, whose failures
 * carry errno, and publishes it (io/publish.c). The other ranks wait for
 * the outcome. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/h5util.h"
#include "io/publish.h"
#include "w2s/blas.h"
#include "w2s/io.h"

const char *const w2s_results_blas_attr[5] = {
    "blas", "blas_library", "blas_version", "blas_kernel", "blas_config"};

static hid_t group(hid_t loc, const char *name) {
  return H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}

/* The columns of /representations; agreed, since every rank then writes
 * them collectively (on failure the caller frees what was allocated). */
static w2s_err alloc_repr_columns(w2s_ctx *ctx, int64_t n, int64_t **dim,
                                  int64_t **rk, double **ridge, double **cond) {
  w2s_err e = W2S_ALLOC(ctx, *dim, n);
  if (!e) e = W2S_ALLOC(ctx, *rk, n);
  if (!e) e = W2S_ALLOC(ctx, *ridge, n);
  if (!e) e = W2S_ALLOC(ctx, *cond, n);
  return w2s_agree(ctx, e);
}

/* What one run (or one sweep point) owns: coefficients, representations'
 * numbers, pre-training curves, under `parent`. Collective. */
static w2s_err write_point(w2s_ctx *ctx, hid_t parent, const w2s_results *r,
                           int coll, const char *path) {
  w2s_err e = W2S_OK;
  hid_t gc = group(parent, "coefficients");
  hid_t gw = gc < 0 ? -1 : group(gc, "weak");
  hid_t gr = group(parent, "representations");
  if (gc < 0 || gw < 0 || gr < 0)
    e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create groups", path);
  int64_t dc[2] = {r->ntasks, r->strong_p}, dw[2] = {r->npairs, r->strong_p};
  if (!e)
    e = w2s_h5_write(ctx, gc, "strong_ceiling", H5T_NATIVE_DOUBLE, 2, dc,
                     r->coef_ceiling, coll, path);
  if (!e)
    e = w2s_h5_write(ctx, gc, "w2s", H5T_NATIVE_DOUBLE, 2, dw, r->coef_w2s,
                     coll, path);
  for (int64_t j = 0; j < r->nweak && !e; ++j) {
    if (r->weak_p[j] == 0) continue; /* given as predictions: no head */
    int64_t d[2] = {r->ntasks, r->weak_p[j]};
    e = w2s_h5_write(ctx, gw, r->weak_names[j], H5T_NATIVE_DOUBLE, 2, d,
                     r->coef_weak[j], coll, path);
  }
  int64_t nr[1] = {r->nrepr};
  int64_t *dim = NULL, *rk = NULL;
  double *cond = NULL, *ridge = NULL;
  if (!e &&
      (e = alloc_repr_columns(ctx, nr[0], &dim, &rk, &ridge, &cond)) == W2S_OK) {
    for (int i = 0; i < r->nrepr; ++i) {
      dim[i] = r->repr[i].dim;
      rk[i] = r->repr[i].rank;
      cond[i] = r->repr[i].cond;
      ridge[i] = r->repr[i].ridge;
    }
    e = w2s_h5_write(ctx, gr, "dim", H5T_NATIVE_INT64, 1, nr, dim, coll, path);
    if (!e)
      e = w2s_h5_write(ctx, gr, "effective_rank", H5T_NATIVE_INT64, 1, nr, rk,
                       coll, path);
    if (!e)
      e = w2s_h5_write(ctx, gr, "condition", H5T_NATIVE_DOUBLE, 1, nr, cond,
                       coll, path);
    if (!e)
      e = w2s_h5_write(ctx, gr, "ridge", H5T_NATIVE_DOUBLE, 1, nr, ridge,
                       coll, path);
  }
  free(ridge);
  free(dim);
  free(rk);
  free(cond);
  if (!e && r->ncurves > 0) {
    hid_t gp = group(parent, "pretrain");
    for (int c = 0; c < r->ncurves && !e && gp >= 0; ++c) {
      hid_t gs = group(gp, r->curve_name[c]);
      int64_t len[1] = {r->curve_len[c]};
      e = gs < 0 ? W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create /pretrain/%s",
                            path, r->curve_name[c])
                 : w2s_h5_write(ctx, gs, "loss", H5T_NATIVE_DOUBLE, 1, len,
                                r->curve[c], coll, path);
      if (gs >= 0) H5Gclose(gs);
    }
    if (gp < 0)
      e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create /pretrain", path);
    else
      H5Gclose(gp);
  }
  hid_t ids[] = {gr, gw, gc};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; ++i)
    if (ids[i] >= 0) H5Gclose(ids[i]);
  return e;
}

/* The numbers and groups, into the open file f (collective when ctx has a
 * communicator; the writer calls it with a local one). */
static w2s_err write_parallel(w2s_ctx *ctx, hid_t f,
                              const w2s_results *merged,
                              const int64_t *sweep_index, const char *index_name,
                              const int64_t *source, int metrics_only,
                              const int64_t *point_ids,
                              w2s_results *const *pts, int64_t npts,
                              const char *path) {
  w2s_err e = W2S_OK;
  int coll = ctx->comm != MPI_COMM_NULL;
  hid_t gm = group(f, "metrics"), gt = group(f, "timing");
  if (gm < 0 || gt < 0)
    e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create groups", path);
  int64_t K[1] = {merged->npairs};
  for (int m = 0; m < W2S_M_COUNT && !e; ++m)
    e = w2s_h5_write(ctx, gm, w2s_metric_name((w2s_metric)m),
                     H5T_NATIVE_DOUBLE, 1, K, merged->metric[m], coll, path);
  if (!e)
    e = w2s_h5_write(ctx, gm, "task", H5T_NATIVE_INT64, 1, K,
                     merged->pair_task, coll, path);
  if (!e && sweep_index)
    e = w2s_h5_write(ctx, gm, index_name, H5T_NATIVE_INT64, 1, K, sweep_index,
                     coll, path);
  if (!e && source)
    e = w2s_h5_write(ctx, gm, "source_file", H5T_NATIVE_INT64, 1, K, source,
                     coll, path);
  for (int t = 0; t < pts[0]->ntimers && !e; ++t) {
    int64_t one[1] = {1};
    const char *name = pts[0]->timer_name[t];
    double sum = 0.0;
    for (int64_t p = 0; p < npts; ++p) sum += w2s_results_timing(pts[p], name);
    e = w2s_h5_write(ctx, gt, name, H5T_NATIVE_DOUBLE, 1, one, &sum, coll,
                     path);
  }
  double peak = 0.0;
  for (int64_t p = 0; p < npts; ++p)
    if (pts[p]->peak_rss_mib > peak) peak = pts[p]->peak_rss_mib;
  if (!e && peak > 0.0) {
    int64_t one[1] = {1};
    e = w2s_h5_write(ctx, gt, "peak_rss_mib", H5T_NATIVE_DOUBLE, 1, one, &peak,
                     coll, path);
  }
  if (!sweep_index) {
    if (!e) e = write_point(ctx, f, pts[0], coll, path);
  } else {
    hid_t gs = group(f, "sweep");
    if (gs < 0) e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create /sweep", path);
    for (int64_t p = 0; p < npts && !e && !metrics_only; ++p) {
      char name[32];
      snprintf(name, sizeof name, "point_%lld",
               (long long)(point_ids ? point_ids[p] : p));
      hid_t gp = group(gs, name);
      e = gp < 0 ? W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create /sweep/%s",
                            path, name)
                 : write_point(ctx, gp, pts[p], coll, path);
      if (gp >= 0) H5Gclose(gp);
    }
    if (gs >= 0) H5Gclose(gs);
  }
  int64_t version = W2S_FORMAT_VERSION, ranks = merged->mpi_ranks;
  if (!e)
    e = w2s_h5_attr_int(ctx, f, "format_version", H5T_NATIVE_INT64, &version,
                        path);
  if (!e)
    e = w2s_h5_attr_int(ctx, f, "mpi_ranks", H5T_NATIVE_INT64, &ranks, path);
  if (!e)
    e = w2s_h5_attr_int(ctx, f, "seed", H5T_NATIVE_UINT64, &merged->seed,
                        path);
  if (gm >= 0) H5Gclose(gm);
  if (gt >= 0) H5Gclose(gt);
  return w2s_agree(ctx, e);
}

static w2s_err write_repr_strings(w2s_ctx *ctx, hid_t parent,
                                  const w2s_results *r, const char *path) {
  const char **names = NULL;
  W2S_CALL(W2S_ALLOC(ctx, names, r->nrepr));
  hid_t gr = H5Gopen2(parent, "representations", H5P_DEFAULT);
  w2s_err e = gr < 0 ? W2S_FAIL(ctx, W2S_ERR_IO, "%s: no /representations",
                                path)
                     : W2S_OK;
  if (!e) {
    for (int i = 0; i < r->nrepr; ++i) names[i] = r->repr[i].name;
    e = w2s_h5_write_strings(ctx, gr, "name", names, r->nrepr, path);
  }
  if (!e) {
    for (int i = 0; i < r->nrepr; ++i) names[i] = r->repr[i].role;
    e = w2s_h5_write_strings(ctx, gr, "role", names, r->nrepr, path);
  }
  if (!e) {
    for (int i = 0; i < r->nrepr; ++i) names[i] = r->repr[i].source;
    e = w2s_h5_write_strings(ctx, gr, "source", names, r->nrepr, path);
  }
  if (gr >= 0) H5Gclose(gr);
  free(names);
  return e;
}

/* Rank 0 only: the BLAS that computed the record (docs/FORMAT.md): the
 * record's own (a merge keeps its points'), else this process's. */
static w2s_err write_blas(w2s_ctx *ctx, hid_t f, const w2s_results *r,
                          const char *path) {
  w2s_blas_info b;
  char line[256];
  w2s_blas_query(&b);
  w2s_blas_describe(&b, line, sizeof line);
  const char *mine[5] = {line, b.library, b.version, b.kernel, b.config};
  int own = r->blas[0][0] != '\0';
  w2s_err e = W2S_OK;
  for (int i = 0; i < 5 && !e; ++i)
    e = w2s_h5_attr_str(ctx, f, w2s_results_blas_attr[i],
                        own ? r->blas[i] : mine[i], path);
  return e;
}

/* The experiment identity (docs/FORMAT.md): what merge and --resume
 * compare, stored rather than reconstructed by the reader. */
static w2s_err write_identity(w2s_ctx *ctx, hid_t f, const char *config_text,
                              const w2s_sweep_desc *sw, const char *path) {
  char *canon = w2s_identity_config(config_text);
  if (!canon) return W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory (identity)");
  w2s_identity id = {canon, sw ? sw->nkeys : 0, sw ? sw->npoints : 0,
                     sw ? sw->keys : NULL, sw ? sw->values : NULL, 0};
  char hex[24];
  snprintf(hex, sizeof hex, "%016llx",
           (unsigned long long)w2s_identity_hash(&id));
  w2s_err e = w2s_h5_attr_str(ctx, f, "identity", canon, path);
  if (!e) e = w2s_h5_attr_str(ctx, f, "identity_hash", hex, path);
  free(canon);
  return e;
}

/* The strings and string attributes, into the open file f. Local. */
static w2s_err write_strings(w2s_ctx *ctx, hid_t f, const w2s_results *merged,
                             w2s_results *const *pts, int64_t npts,
                             const w2s_sweep_desc *sw, const char *path) {
  char created[32];
  time_t now = time(NULL);
  strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  const char *attrs[][2] = {
      {"format", "w2s-results"},   {"w2s_version", w2s_version()},
      {"git_revision", w2s_git_revision()}, {"compiler", w2s_compiler()},
      {"created", created},        {"command_line", merged->command_line},
      {"solver", merged->solver},  {"config", merged->config_text},
  };
  w2s_err e = W2S_OK;
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0] && !e; ++i)
    e = w2s_h5_attr_str(ctx, f, attrs[i][0], attrs[i][1], path);
  if (!e) e = write_blas(ctx, f, merged, path);
  if (!e) e = write_identity(ctx, f, merged->config_text, sw, path);
  if (!e && pts[0]->input_file[0]) {
    char sum[32];
    snprintf(sum, sizeof sum, "%016llx",
             (unsigned long long)pts[0]->labels_checksum);
    e = w2s_h5_attr_str(ctx, f, "input_file", pts[0]->input_file, path);
    if (!e) e = w2s_h5_attr_str(ctx, f, "labels_checksum", sum, path);
  }
  const char **names = NULL;
  if (!e) e = W2S_ALLOC(ctx, names, merged->npairs);
  if (!e) {
    for (int64_t k = 0; k < merged->npairs; ++k)
      names[k] = merged->weak_names[merged->pair_weak[k]];
    hid_t gm = H5Gopen2(f, "metrics", H5P_DEFAULT);
    e = w2s_h5_write_strings(ctx, gm, "weak_model", names, merged->npairs,
                             path);
    H5Gclose(gm);
  }
  free(names);
  if (!sw) {
    if (!e) e = write_repr_strings(ctx, f, pts[0], path);
  } else {
    hid_t gs = H5Gopen2(f, "sweep", H5P_DEFAULT);
    for (int64_t p = 0; p < npts && !e && !sw->metrics_only; ++p) {
      char name[32];
      snprintf(name, sizeof name, "point_%lld",
               (long long)(sw->point_ids ? sw->point_ids[p] : p));
      hid_t gp = H5Gopen2(gs, name, H5P_DEFAULT);
      e = write_repr_strings(ctx, gp, pts[p], path);
      if (!e) e = w2s_h5_attr_str(ctx, gp, "config", pts[p]->config_text, path);
      H5Gclose(gp);
    }
    const char **strs = NULL;
    int64_t nv = sw->npoints * sw->nkeys;
    if (!e) e = W2S_ALLOC(ctx, strs, nv > sw->nkeys ? nv : sw->nkeys);
    if (!e) {
      for (int i = 0; i < sw->nkeys; ++i) strs[i] = sw->keys[i];
      e = w2s_h5_write_strings(ctx, gs, "keys", strs, sw->nkeys, path);
    }
    if (!e) {
      for (int64_t i = 0; i < nv; ++i) strs[i] = sw->values[i];
      e = w2s_h5_write_strings_2d(ctx, gs, "values", strs, sw->npoints,
                                  sw->nkeys, path);
    }
    free(strs);
    H5Gclose(gs);
    if (!e && sw->source_files) {
      hid_t gmg = group(f, "merge");
      e = gmg < 0 ? W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create /merge", path)
                  : w2s_h5_write_strings(ctx, gmg, "files", sw->source_files,
                                         npts, path);
      if (gmg >= 0) H5Gclose(gmg);
    }
  }
  return e;
}

/* The metrics of every point, concatenated: weak-model names united, pairs
 * relabelled, the sweep index of each pair. */
static w2s_err merge(w2s_ctx *ctx, w2s_results *const *pts, int64_t npts,
                     const w2s_sweep_desc *sw, w2s_results **out,
                     int64_t **sweep_index, int64_t **source) {
  int64_t K = 0, J = 0;
  for (int64_t p = 0; p < npts; ++p) K += pts[p]->npairs, J += pts[p]->nweak;
  w2s_results *m = NULL;
  W2S_CALL(w2s_results_alloc(ctx, 0, 0, &m));
  for (int q = 0; q < W2S_M_MAX; ++q) free(m->metric[q]), m->metric[q] = NULL;
  free(m->pair_task), free(m->pair_weak), free(m->weak_names);
  free(m->coef_weak), free(m->weak_p); /* the merged record has none */
  m->pair_task = NULL, m->pair_weak = NULL, m->weak_names = NULL;
  m->coef_weak = NULL, m->weak_p = NULL;
  w2s_err e = W2S_OK;
  for (int q = 0; q < W2S_M_COUNT && !e; ++q) e = W2S_ALLOC(ctx, m->metric[q], K);
  if (!e) e = W2S_ALLOC(ctx, m->pair_task, K);
  if (!e) e = W2S_ALLOC(ctx, m->pair_weak, K);
  if (!e) e = W2S_ALLOC(ctx, m->weak_names, J);
  if (!e) e = W2S_ALLOC(ctx, *sweep_index, K);
  if (!e) e = W2S_ALLOC(ctx, *source, K);
  int64_t k = 0, nw = 0;
  for (int64_t p = 0; p < npts && !e; ++p) {
    const w2s_results *r = pts[p];
    for (int64_t i = 0; i < r->npairs; ++i, ++k) {
      const char *wn = r->weak_names[r->pair_weak[i]];
      int64_t j = 0;
      while (j < nw && strcmp(m->weak_names[j], wn) != 0) ++j;
      if (j == nw) snprintf(m->weak_names[nw++], W2S_NAME_LEN, "%s", wn);
      m->pair_weak[k] = j;
      m->pair_task[k] = r->pair_task[i];
      (*sweep_index)[k] = r->pair_sweep ? r->pair_sweep[i]
                          : (sw && sw->point_ids) ? sw->point_ids[p]
                                                  : p;
      (*source)[k] = p;
      for (int q = 0; q < W2S_M_COUNT; ++q) m->metric[q][k] = r->metric[q][i];
    }
  }
  m->npairs = K;
  m->nweak = nw;
  m->seed = pts[0]->seed;
  m->mpi_ranks = pts[0]->mpi_ranks;
  snprintf(m->solver, sizeof m->solver, "%s", pts[0]->solver);
  memcpy(m->blas, pts[0]->blas, sizeof m->blas);
  if (e) {
    w2s_results_destroy(&m);
    return e;
  }
  *out = m;
  return W2S_OK;
}

/* Rank 0, with a local context: the whole file in memory, returned as its
 * image (*buf, *len; the caller frees). */
static w2s_err build_image(w2s_ctx *ctx, const w2s_results *merged,
                           const int64_t *sweep_index, const int64_t *source,
                           w2s_results *const *pts, int64_t npts,
                           const w2s_sweep_desc *sw, const char *path,
                           void **buf, size_t *len) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_core(fapl, (size_t)1 << 20, 0 /* no backing store */);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (f < 0)
    return W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create the file in memory",
                    path);
  w2s_err e = write_parallel(ctx, f, merged, sw ? sweep_index : NULL,
                             sw && sw->index_name ? sw->index_name : "sweep",
                             sw && sw->source_files ? source : NULL,
                             sw ? sw->metrics_only : 0,
                             sw ? sw->point_ids : NULL, pts, npts, path);
  if (!e) e = write_strings(ctx, f, merged, pts, npts, sw, path);
  ssize_t n = -1;
  if (!e && H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0)
    n = H5Fget_file_image(f, NULL, 0);
  if (!e && n <= 0)
    e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot build the file image", path);
  if (!e) e = W2S_ALLOC(ctx, *(char **)buf, n);
  if (!e && H5Fget_file_image(f, *buf, (size_t)n) != n)
    e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot build the file image", path);
  if (H5Fclose(f) < 0 && !e) /* memory only: nothing to fail on */
    e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot close the file", path);
  *len = e ? 0 : (size_t)n;
  return e;
}

/* Rank 0: build the image, write it to tmp. Errors go to ctx. */
static w2s_err write_file(w2s_ctx *ctx, const w2s_results *merged,
                          const int64_t *sweep_index, const int64_t *source,
                          w2s_results *const *pts, int64_t npts,
                          const w2s_sweep_desc *sw, const char *tmp,
                          const char *path) {
  w2s_ctx *local = NULL;
  void *buf = NULL;
  size_t len = 0;
  W2S_CALL(w2s_ctx_create(MPI_COMM_NULL, ctx->verbosity, &local));
  w2s_err e = build_image(local, merged, sweep_index, source, pts, npts, sw,
                          path, &buf, &len);
  if (e) e = W2S_FAIL(ctx, e, "%s", local->msg);
  w2s_ctx_destroy(&local);
  if (!e) e = w2s_write_image(ctx, tmp, buf, len, path);
  free(buf);
  return e;
}

w2s_err w2s_results_write_sweep(w2s_ctx *ctx, w2s_results *const *pts,
                                int64_t npts, const w2s_sweep_desc *sw,
                                const char *config_text,
                                const char *command_line, const char *path,
                                int force) {
  w2s_h5_quiet();
  W2S_CALL(w2s_output_check(ctx, path, force));
  w2s_results *merged = NULL;
  int64_t *sweep_index = NULL, *source = NULL;
  w2s_err me = w2s_agree(ctx, merge(ctx, pts, npts, sw, &merged, &sweep_index,
                                    &source));
  if (me) { /* merge may have allocated these before failing */
    w2s_results_destroy(&merged);
    free(sweep_index);
    free(source);
    return me;
  }
  /* The merged record borrows the provenance strings for writing. */
  merged->config_text = (char *)config_text;
  merged->command_line = (char *)command_line;
  char tmp[PATH_MAX + 64];
  w2s_signal_save signals;
  w2s_signals_catch(&signals);
  w2s_err e = W2S_OK;
  int written = 0;
  if (ctx->rank == 0) {
    if (w2s_partial_name(path, (long)getpid(), tmp, sizeof tmp) != 0)
      e = W2S_FAIL(ctx, W2S_ERR_USAGE, "output '%s' is too long", path);
    if (!e)
      e = write_file(ctx, merged, sweep_index, source, pts, npts, sw, tmp,
                     path);
    written = !e;
  }
  e = w2s_agree(ctx, e);
  /* A run told to stop (mpirun forwards SIGTERM and SIGINT to every rank)
   * reports failure, so it must not publish; decided together, since the
   * signal reaches the ranks at different moments. */
  w2s_test_delay_publish();
  if (!e) {
    int sig = w2s_signal_caught();
    e = w2s_agree(ctx, sig ? W2S_FAIL(ctx, W2S_ERR_IO,
                                      "%s: interrupted by signal %d, not "
                                      "written",
                                      path, sig)
                           : W2S_OK);
  }
  if (!e) {
    w2s_err local = W2S_OK;
    if (ctx->rank == 0) local = w2s_publish(ctx, tmp, path, force);
    e = w2s_agree(ctx, local);
  }
  if (e && written) unlink(tmp);
  w2s_signals_restore(&signals);
  merged->config_text = NULL;
  merged->command_line = NULL;
  w2s_results_destroy(&merged);
  free(sweep_index);
  free(source);
  return e;
}
