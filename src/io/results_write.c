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
#include "io/results_write.h"
#include "w2s/blas.h"
#include "w2s/io.h"

const char *const w2s_results_blas_attr[5] = {"blas", "blas_library",
                                              "blas_version", "blas_kernel",
                                              "blas_config"};

static hid_t group(hid_t loc, const char *name) {
  return H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}

/* One write: the points, their concatenated metrics (results_concat.c)
 * and where the file goes. */
typedef struct {
  w2s_results *const *pts;
  int64_t npts;
  const w2s_sweep_desc *sw;   /* NULL: the plain layout of one run */
  const w2s_results *merged;  /* c.merged */
  const int64_t *sweep_index; /* c.sweep_index */
  const int64_t *source;      /* c.source */
  const char *path;
} write_job;

/* /metrics: every metric the merged record holds, in table order, then
 * the pair labels and indices. */
static w2s_err write_metrics(w2s_ctx *ctx, hid_t gm, const write_job *j,
                             int coll) {
  const w2s_results *m = j->merged;
  const w2s_sweep_desc *sw = j->sw;
  const int64_t K = m->npairs;
  const hid_t i64 = H5T_NATIVE_INT64;
  w2s_err e = W2S_OK;
  for (int q = 0; q < w2s_metric_count && !e; ++q)
    if (w2s_results_has_metric(m, q))
      e = w2s_h5_write(ctx, gm,
                       &(w2s_h5_dataset){w2s_metric_table[q].name,
                                         H5T_NATIVE_DOUBLE,
                                         1,
                                         {K},
                                         m->metric[q]},
                       coll, j->path);
  if (!e)
    e = w2s_h5_write(ctx, gm,
                     &(w2s_h5_dataset){"task", i64, 1, {K}, m->pair_task}, coll,
                     j->path);
  if (!e && sw)
    e = w2s_h5_write(ctx, gm,
                     &(w2s_h5_dataset){sw->index_name ? sw->index_name
                                                      : "sweep",
                                       i64,
                                       1,
                                       {K},
                                       j->sweep_index},
                     coll, j->path);
  if (!e && sw && sw->source_files)
    e = w2s_h5_write(ctx, gm,
                     &(w2s_h5_dataset){"source_file", i64, 1, {K}, j->source},
                     coll, j->path);
  return e;
}

/* /timing: the first point's timers, each summed over the points, and the
 * largest peak resident set. */
static w2s_err write_timing(w2s_ctx *ctx, hid_t gt, const write_job *j,
                            int coll) {
  w2s_err e = W2S_OK;
  for (int t = 0; t < j->pts[0]->ntimers && !e; ++t) {
    const char *name = j->pts[0]->timer_name[t];
    double sum = 0.0;
    for (int64_t p = 0; p < j->npts; ++p)
      sum += w2s_results_timing(j->pts[p], name);
    e = w2s_h5_write(ctx, gt,
                     &(w2s_h5_dataset){name, H5T_NATIVE_DOUBLE, 1, {1}, &sum},
                     coll, j->path);
  }
  double peak = 0.0;
  for (int64_t p = 0; p < j->npts; ++p)
    if (j->pts[p]->peak_rss_mib > peak) peak = j->pts[p]->peak_rss_mib;
  if (!e && peak > 0.0)
    e = w2s_h5_write(ctx, gt,
                     &(w2s_h5_dataset){"peak_rss_mib",
                                       H5T_NATIVE_DOUBLE,
                                       1,
                                       {1},
                                       &peak},
                     coll, j->path);
  return e;
}

/* What each point owns: at the root for one run, else under
 * /sweep/point_<i> (none for a metrics-only merge). */
static w2s_err write_points(w2s_ctx *ctx, hid_t f, const write_job *j,
                            int coll) {
  if (!j->sw) return w2s_write_point(ctx, f, j->pts[0], coll, j->path);
  hid_t gs = group(f, "sweep");
  if (gs < 0)
    return W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create /sweep", j->path);
  w2s_err e = W2S_OK;
  for (int64_t p = 0; p < j->npts && !e && !j->sw->metrics_only; ++p) {
    char name[32];
    snprintf(name, sizeof name, "point_%lld",
             (long long)(j->sw->point_ids ? j->sw->point_ids[p] : p));
    hid_t gp = group(gs, name);
    e = gp < 0 ? W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create /sweep/%s",
                          j->path, name)
               : w2s_write_point(ctx, gp, j->pts[p], coll, j->path);
    if (gp >= 0) H5Gclose(gp);
  }
  H5Gclose(gs);
  return e;
}

/* The numbers and groups, into the open file f (collective when ctx has a
 * communicator; the writer calls it with a local one). */
static w2s_err write_parallel(w2s_ctx *ctx, hid_t f, const write_job *j) {
  w2s_err e = W2S_OK;
  int coll = ctx->comm != MPI_COMM_NULL;
  hid_t gm = group(f, "metrics"), gt = group(f, "timing");
  if (gm < 0 || gt < 0)
    e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create groups", j->path);
  if (!e) e = write_metrics(ctx, gm, j, coll);
  if (!e) e = write_timing(ctx, gt, j, coll);
  if (!e) e = write_points(ctx, f, j, coll);
  int64_t version = W2S_FORMAT_VERSION, ranks = j->merged->mpi_ranks;
  if (!e)
    e = w2s_h5_attr_int(ctx, f, "format_version", H5T_NATIVE_INT64, &version,
                        j->path);
  if (!e)
    e = w2s_h5_attr_int(ctx, f, "mpi_ranks", H5T_NATIVE_INT64, &ranks, j->path);
  if (!e)
    e = w2s_h5_attr_int(ctx, f, "seed", H5T_NATIVE_UINT64, &j->merged->seed,
                        j->path);
  if (gm >= 0) H5Gclose(gm);
  if (gt >= 0) H5Gclose(gt);
  return w2s_agree(ctx, e);
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
  w2s_identity id = {canon,
                     sw ? sw->nkeys : 0,
                     sw ? sw->npoints : 0,
                     sw ? sw->keys : NULL,
                     sw ? sw->values : NULL,
                     0};
  char hex[24];
  snprintf(hex, sizeof hex, "%016llx",
           (unsigned long long)w2s_identity_hash(&id));
  w2s_err e = w2s_h5_attr_str(ctx, f, "identity", canon, path);
  if (!e) e = w2s_h5_attr_str(ctx, f, "identity_hash", hex, path);
  free(canon);
  return e;
}

/* The root's string attributes. */
static w2s_err write_root_strings(w2s_ctx *ctx, hid_t f, const write_job *j) {
  const w2s_results *m = j->merged, *p0 = j->pts[0];
  char created[32];
  time_t now = time(NULL);
  strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  const char *attrs[][2] = {
      {"format", "w2s-results"},
      {"w2s_version", w2s_version()},
      {"git_revision", w2s_git_revision()},
      {"compiler", w2s_compiler()},
      {"created", created},
      {"command_line", m->command_line},
      {"solver", m->solver},
      {"config", m->config_text},
  };
  w2s_err e = W2S_OK;
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0] && !e; ++i)
    e = w2s_h5_attr_str(ctx, f, attrs[i][0], attrs[i][1], j->path);
  if (!e) e = write_blas(ctx, f, m, j->path);
  if (!e) e = write_identity(ctx, f, m->config_text, j->sw, j->path);
  if (!e && p0->input_file[0]) {
    char sum[32];
    snprintf(sum, sizeof sum, "%016llx",
             (unsigned long long)p0->labels_checksum);
    e = w2s_h5_attr_str(ctx, f, "input_file", p0->input_file, j->path);
    if (!e) e = w2s_h5_attr_str(ctx, f, "labels_checksum", sum, j->path);
  }
  return e;
}

/* Each metric dataset's table row as attributes, and the list of the
 * metrics the file holds (what the reader reads). */
static w2s_err write_metric_attrs(w2s_ctx *ctx, hid_t gm, const write_job *j) {
  char list[4096] = "";
  size_t used = 0;
  w2s_err e = W2S_OK;
  for (int q = 0; q < w2s_metric_count && !e; ++q) {
    if (!w2s_results_has_metric(j->merged, q)) continue;
    const w2s_metric_info *mi = &w2s_metric_table[q];
    int k = snprintf(list + used, sizeof list - used, "%s%s", used ? " " : "",
                     mi->name);
    if (k < 0 || (size_t)k >= sizeof list - used)
      return W2S_FAIL(ctx, W2S_ERR_USAGE, "%s: too many metrics", j->path);
    used += (size_t)k;
    hid_t d = H5Dopen2(gm, mi->name, H5P_DEFAULT);
    if (d < 0)
      return W2S_FAIL(ctx, W2S_ERR_IO, "%s: no /metrics/%s", j->path, mi->name);
    const char *units = NULL;
    const char *desc = w2s_metric_description(q, j->merged->loss,
                                              j->merged->orientation, &units);
    const char *attrs[][2] = {{"description", desc},
                              {"units", units},
                              {"checks", mi->checks},
                              {"family", mi->family}};
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0] && !e; ++i)
      e = w2s_h5_attr_str(ctx, d, attrs[i][0], attrs[i][1], j->path);
    H5Dclose(d);
  }
  if (!e) e = w2s_h5_attr_str(ctx, gm, "metric_names", list, j->path);
  /* The loss the metrics are in; KL adds its orientation and classes. */
  const w2s_results *m = j->merged;
  int kl = m->loss[0] && strcmp(m->loss, "squared") != 0;
  if (!e)
    e = w2s_h5_attr_str(ctx, gm, "loss", kl ? m->loss : "squared", j->path);
  if (!e && kl)
    e = w2s_h5_attr_str(ctx, gm, "orientation", m->orientation, j->path);
  if (!e && kl)
    e = w2s_h5_attr_int(ctx, gm, "classes", H5T_NATIVE_INT64, &m->classes,
                        j->path);
  return e;
}

/* /metrics/weak_model and the metrics' attributes. */
static w2s_err write_metric_strings(w2s_ctx *ctx, hid_t f, const write_job *j) {
  const w2s_results *m = j->merged;
  const char **names = NULL;
  W2S_CALL(W2S_ALLOC(ctx, names, m->npairs));
  for (int64_t k = 0; k < m->npairs; ++k)
    names[k] = m->weak_names[m->pair_weak[k]];
  hid_t gm = H5Gopen2(f, "metrics", H5P_DEFAULT);
  w2s_err e = w2s_h5_write_strings(ctx, gm, "weak_model", names, m->npairs,
                                   j->path);
  if (!e) e = write_metric_attrs(ctx, gm, j);
  H5Gclose(gm);
  free(names);
  return e;
}

/* Sweep files: each point's strings, the grid, a merge's input files. */
static w2s_err write_sweep_strings(w2s_ctx *ctx, hid_t f, const write_job *j) {
  const w2s_sweep_desc *sw = j->sw;
  hid_t gs = H5Gopen2(f, "sweep", H5P_DEFAULT);
  w2s_err e = W2S_OK;
  for (int64_t p = 0; p < j->npts && !e && !sw->metrics_only; ++p) {
    char name[32];
    snprintf(name, sizeof name, "point_%lld",
             (long long)(sw->point_ids ? sw->point_ids[p] : p));
    hid_t gp = H5Gopen2(gs, name, H5P_DEFAULT);
    e = w2s_write_repr_strings(ctx, gp, j->pts[p], j->path);
    if (!e)
      e = w2s_h5_attr_str(ctx, gp, "config", j->pts[p]->config_text, j->path);
    H5Gclose(gp);
  }
  const char **strs = NULL;
  int64_t nv = sw->npoints * sw->nkeys;
  if (!e) e = W2S_ALLOC(ctx, strs, nv > sw->nkeys ? nv : sw->nkeys);
  if (!e) {
    for (int i = 0; i < sw->nkeys; ++i) strs[i] = sw->keys[i];
    e = w2s_h5_write_strings(ctx, gs, "keys", strs, sw->nkeys, j->path);
  }
  if (!e) {
    for (int64_t i = 0; i < nv; ++i) strs[i] = sw->values[i];
    e = w2s_h5_write_strings_2d(ctx, gs, "values", strs, sw->npoints, sw->nkeys,
                                j->path);
  }
  free(strs);
  H5Gclose(gs);
  if (!e && sw->source_files) {
    hid_t gmg = group(f, "merge");
    e = gmg < 0 ? W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create /merge", j->path)
                : w2s_h5_write_strings(ctx, gmg, "files", sw->source_files,
                                       j->npts, j->path);
    if (gmg >= 0) H5Gclose(gmg);
  }
  return e;
}

/* The strings and string attributes, into the open file f. Local. */
static w2s_err write_strings(w2s_ctx *ctx, hid_t f, const write_job *j) {
  W2S_CALL(write_root_strings(ctx, f, j));
  W2S_CALL(write_metric_strings(ctx, f, j));
  if (!j->sw) return w2s_write_repr_strings(ctx, f, j->pts[0], j->path);
  return write_sweep_strings(ctx, f, j);
}

/* Rank 0, with a local context: the whole file in memory, returned as its
 * image (*buf, *len; the caller frees). */
static w2s_err build_image(w2s_ctx *ctx, const write_job *j, void **buf,
                           size_t *len) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_core(fapl, (size_t)1 << 20, 0 /* no backing store */);
  hid_t f = H5Fcreate(j->path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (f < 0)
    return W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create the file in memory",
                    j->path);
  w2s_err e = write_parallel(ctx, f, j);
  if (!e) e = write_strings(ctx, f, j);
  ssize_t n = -1;
  if (!e && H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0)
    n = H5Fget_file_image(f, NULL, 0);
  if (!e && n <= 0)
    e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot build the file image", j->path);
  if (!e) e = W2S_ALLOC(ctx, *(char **)buf, n);
  if (!e && H5Fget_file_image(f, *buf, (size_t)n) != n)
    e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot build the file image", j->path);
  if (H5Fclose(f) < 0 && !e) /* memory only: nothing to fail on */
    e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot close the file", j->path);
  *len = e ? 0 : (size_t)n;
  return e;
}

/* Rank 0: build the image, write it to tmp. Errors go to ctx. */
static w2s_err write_file(w2s_ctx *ctx, const write_job *j, const char *tmp) {
  w2s_ctx *local = NULL;
  void *buf = NULL;
  size_t len = 0;
  W2S_CALL(w2s_ctx_create(MPI_COMM_NULL, ctx->verbosity, &local));
  w2s_err e = build_image(local, j, &buf, &len);
  if (e) e = W2S_FAIL(ctx, e, "%s", local->msg);
  w2s_ctx_destroy(&local);
  if (!e) e = w2s_write_image(ctx, tmp, buf, len, j->path);
  free(buf);
  return e;
}

/* Every rank: write (rank 0) and publish the file, or leave nothing. A run
 * told to stop (mpirun forwards SIGTERM and SIGINT to every rank) reports
 * failure, so it must not publish; decided together, since the signal
 * reaches the ranks at different moments. */
static w2s_err write_and_publish(w2s_ctx *ctx, const write_job *j, int force) {
  char tmp[PATH_MAX + 64];
  w2s_signal_save signals;
  w2s_signals_catch(&signals);
  w2s_err e = W2S_OK;
  int written = 0;
  if (ctx->rank == 0) {
    if (w2s_partial_name(j->path, (long)getpid(), tmp, sizeof tmp) != 0)
      e = W2S_FAIL(ctx, W2S_ERR_USAGE, "output '%s' is too long", j->path);
    if (!e) e = write_file(ctx, j, tmp);
    written = !e;
  }
  e = w2s_agree(ctx, e);
  w2s_test_delay_publish();
  if (!e) {
    int sig = w2s_signal_caught();
    e = w2s_agree(ctx, sig ? W2S_FAIL(ctx, W2S_ERR_IO,
                                      "%s: interrupted by signal %d, not "
                                      "written",
                                      j->path, sig)
                           : W2S_OK);
  }
  if (!e) {
    w2s_err local = W2S_OK;
    if (ctx->rank == 0) local = w2s_publish(ctx, tmp, j->path, force);
    e = w2s_agree(ctx, local);
  }
  if (e && written) unlink(tmp);
  w2s_signals_restore(&signals);
  return e;
}

w2s_err w2s_results_write_sweep(w2s_ctx *ctx, w2s_results *const *pts,
                                int64_t npts, const w2s_sweep_desc *sw,
                                const w2s_results_output *out) {
  const char *path = out->path;
  const int force = out->force;
  w2s_h5_quiet();
  W2S_CALL(w2s_output_check(ctx, path, force));
  w2s_concat c = {NULL, NULL, NULL};
  w2s_err e = w2s_agree(ctx, w2s_results_concat(ctx, pts, npts, sw, &c));
  if (!e) {
    /* The merged record borrows the provenance strings for writing. */
    c.merged->config_text = (char *)out->config_text;
    c.merged->command_line = (char *)out->command_line;
    write_job j = {pts, npts, sw, c.merged, c.sweep_index, c.source, path};
    e = write_and_publish(ctx, &j, force);
    c.merged->config_text = NULL;
    c.merged->command_line = NULL;
  }
  w2s_concat_free(&c); /* concat may have allocated parts on failure */
  return e;
}
