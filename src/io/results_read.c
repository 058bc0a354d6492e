/* The results reader used by `w2s analyze`, `w2s merge` and --resume:
 * serial, validating every dataset it touches so that a foreign or
 * truncated file gives one clear line, never a crash. It reads in phases:
 * the format and its version, the pairs, the metrics the file lists, the
 * sweep grid, the provenance, then the checks of results_check.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "io/results_read.h"

static int has_checksum(hid_t d) {
  hid_t dcpl = H5Dget_create_plist(d);
  unsigned flags = 0, cd[4];
  size_t ncd = 4;
  int yes = dcpl >= 0 &&
            H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, &flags, &ncd, cd,
                                 0, NULL, NULL) >= 0;
  if (dcpl >= 0) H5Pclose(dcpl);
  return yes;
}

w2s_err w2s_read_1d(w2s_ctx *ctx, hid_t f, const w2s_read_spec *s, int64_t *n,
                    void **data, const char *path) {
  const char *name = s->name;
  const H5T_class_t cls = s->cls;
  const hid_t mtype = s->mtype;
  if (H5Lexists(f, name, H5P_DEFAULT) <= 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: dataset '/%s' is missing", path,
                    name);
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  hid_t sp = d < 0 ? -1 : H5Dget_space(d);
  hid_t ft = d < 0 ? -1 : H5Dget_type(d);
  w2s_err e = W2S_OK;
  if (d < 0 || sp < 0 || ft < 0)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: cannot open dataset '/%s'", path,
                 name);
  else if (H5Sget_simple_extent_ndims(sp) != 1)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: dataset '/%s' is not 1-D", path,
                 name);
  else if (H5Tget_class(ft) != cls ||
           (cls != H5T_STRING && (H5Tget_size(ft) < 1 || H5Tget_size(ft) > 8)))
    e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: dataset '/%s' has the wrong type",
                 path, name);
  else {
    char full[128];
    snprintf(full, sizeof full, "/%s", name);
    e = w2s_h5_check_written(ctx, d, sp, full, path);
  }
  if (!e) {
    hsize_t len;
    H5Sget_simple_extent_dims(sp, &len, NULL);
    if (*n >= 0 && (int64_t)len != *n)
      e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                   "%s: dataset '/%s' has %llu entries, expected %lld", path,
                   name, (unsigned long long)len, (long long)*n);
    else {
      *n = (int64_t)len;
      size_t sz = H5Tget_size(mtype);
      *data = calloc(len > 0 ? len : 1, sz);
      if (!*data)
        e = W2S_FAIL(ctx, W2S_ERR_MEMORY, "%s: out of memory reading '/%s'",
                     path, name);
      else if (len > 0 &&
               H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) < 0)
        e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: cannot read dataset '/%s' (%s)",
                     path, name,
                     has_checksum(d) ? "its Fletcher32 checksum does not "
                                       "match: a damaged or truncated file"
                                     : "truncated file?");
    }
  }
  if (ft >= 0) H5Tclose(ft);
  if (sp >= 0) H5Sclose(sp);
  if (d >= 0) H5Dclose(d);
  return e;
}

/* The metrics of the version-2 layout, which did not list them: the
 * frozen table of that version (docs/FORMAT.md). */
static const char *const v2_metrics =
    "weak_error w2s_error misfit gain strong_ceiling_error pgr "
    "predicted_w2s_error weak_error_train w2s_error_train misfit_train "
    "gain_train strong_ceiling_error_train";

/* The `format` attribute and a supported `format_version` (one integer:
 * HDF5 would convert a float, 1.5 read as 1, and an array would be read
 * past `version`). */
static w2s_err read_version(w2s_ctx *ctx, hid_t f, const char *path, int *out) {
  char buf[256];
  W2S_CALL(w2s_h5_read_attr_str(ctx, f, "format", buf, sizeof buf, path));
  if (strcmp(buf, "w2s-results") != 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: not a w2s results file (format = '%s')", path, buf);
  if (H5Aexists(f, "format_version") <= 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: attribute 'format_version' is missing", path);
  int64_t version = -1;
  hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
  hid_t at = a < 0 ? -1 : H5Aget_type(a), as = a < 0 ? -1 : H5Aget_space(a);
  int is_int = at >= 0 && as >= 0 && H5Tget_class(at) == H5T_INTEGER &&
               H5Sget_simple_extent_npoints(as) == 1;
  herr_t st = is_int ? H5Aread(a, H5T_NATIVE_INT64, &version) : -1;
  if (at >= 0) H5Tclose(at);
  if (as >= 0) H5Sclose(as);
  if (a >= 0) H5Aclose(a);
  if (!is_int)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: attribute 'format_version' is not an integer (one "
                    "integer expected, this w2s reads %d to %d)",
                    path, W2S_FORMAT_OLDEST, W2S_FORMAT_VERSION);
  if (st < 0 || version < W2S_FORMAT_OLDEST || version > W2S_FORMAT_VERSION)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: format_version %lld is not supported (this w2s "
                    "reads %d to %d%s)",
                    path, (long long)version, W2S_FORMAT_OLDEST,
                    W2S_FORMAT_VERSION,
                    version >= 1 && version < W2S_FORMAT_OLDEST
                        ? "; older files have no stored experiment identity "
                          "or checksums: re-run the experiment"
                        : "");
  *out = (int)version;
  return W2S_OK;
}

/* Distinct weak-model names in order of first appearance, and each pair's
 * index into them; every task index within 0..K-1 (each task has a pair). */
static w2s_err label_pairs(w2s_ctx *ctx, w2s_results *r, char **names,
                           const char *path) {
  int64_t nweak = 0, ntasks = 0;
  for (int64_t k = 0; k < r->npairs; ++k) {
    if (!names[k])
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: '/metrics/weak_model' has a null entry", path);
    int64_t t = r->pair_task[k];
    if (t < 0 || t >= r->npairs)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: /metrics/task[%lld] = %lld is outside 0..%lld", path,
                      (long long)k, (long long)t, (long long)(r->npairs - 1));
    if (t + 1 > ntasks) ntasks = t + 1;
    int64_t j = 0;
    while (j < nweak && strcmp(r->weak_names[j], names[k]) != 0) ++j;
    if (j == nweak)
      snprintf(r->weak_names[nweak++], W2S_NAME_LEN, "%s", names[k]);
    r->pair_weak[k] = j;
  }
  r->ntasks = ntasks;
  r->nweak = nweak;
  return W2S_OK;
}

/* /metrics/task and /metrics/weak_model into r, an empty record (made
 * one of K pairs without metrics; the caller destroys it, on failure too). */
static w2s_err read_pairs(w2s_ctx *ctx, hid_t f, const char *path,
                          w2s_results *r) {
  for (int m = 0; m < W2S_M_MAX; ++m) free(r->metric[m]), r->metric[m] = NULL;
  free(r->pair_task), free(r->pair_weak), free(r->weak_names);
  free(r->coef_weak), free(r->weak_p); /* coefficients are not read */
  r->pair_task = NULL, r->pair_weak = NULL, r->weak_names = NULL;
  r->coef_weak = NULL, r->weak_p = NULL;
  int64_t K = -1;
  W2S_CALL(w2s_read_1d(ctx, f,
                       &(w2s_read_spec){"metrics/task", H5T_INTEGER,
                                        H5T_NATIVE_INT64},
                       &K, (void **)&r->pair_task, path));
  r->npairs = K;
  hid_t vs = H5Tcopy(H5T_C_S1);
  H5Tset_size(vs, H5T_VARIABLE);
  char **names = NULL;
  w2s_err e = w2s_read_1d(ctx, f,
                          &(w2s_read_spec){"metrics/weak_model", H5T_STRING,
                                           vs},
                          &K, (void **)&names, path);
  if (!e) e = W2S_ALLOC(ctx, r->pair_weak, K);
  if (!e) e = W2S_ALLOC(ctx, r->weak_names, K);
  if (!e) e = label_pairs(ctx, r, names, path);
  if (names) {
    hsize_t dims[1] = {(hsize_t)(K > 0 ? K : 0)};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    if (K > 0) H5Dvlen_reclaim(vs, sp, H5P_DEFAULT, names);
    H5Sclose(sp);
    free(names);
  }
  H5Tclose(vs);
  return e;
}

/* 1 when the space-separated list holds word. */
static int listed(const char *list, const char *word) {
  size_t n = strlen(word);
  for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
    if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
  return 0;
}

/* /metrics' loss, orientation and classes (absent: squared loss). */
static w2s_err read_loss(w2s_ctx *ctx, hid_t gm, w2s_results *r,
                         const char *path) {
  snprintf(r->loss, sizeof r->loss, "squared");
  if (H5Aexists(gm, "loss") > 0)
    W2S_CALL(
        w2s_h5_read_attr_str(ctx, gm, "loss", r->loss, sizeof r->loss, path));
  if (strcmp(r->loss, "squared") != 0 && strcmp(r->loss, "kl") != 0 &&
      strcmp(r->loss, "mixed") != 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: attribute '/metrics/loss' is '%s' (squared, kl or "
                    "mixed)",
                    path, r->loss);
  if (H5Aexists(gm, "orientation") > 0)
    W2S_CALL(w2s_h5_read_attr_str(ctx, gm, "orientation", r->orientation,
                                  sizeof r->orientation, path));
  if (H5Aexists(gm, "classes") > 0) {
    hid_t a = H5Aopen(gm, "classes", H5P_DEFAULT);
    if (a < 0 || H5Aread(a, H5T_NATIVE_INT64, &r->classes) < 0) {
      if (a >= 0) H5Aclose(a);
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: attribute '/metrics/classes' is unreadable", path);
    }
    H5Aclose(a);
  }
  return W2S_OK;
}

/* Every table metric the file lists (version 2: the frozen v2 list;
 * version 3: /metrics' attribute metric_names). A listed metric must be
 * there; one the file does not list stays absent (NULL). */
static w2s_err read_metrics(w2s_ctx *ctx, hid_t f, w2s_results *r,
                            const char *path) {
  enum { LIST_MAX = 1 << 16 };
  char *list = NULL;
  W2S_CALL(W2S_ALLOC(ctx, list, LIST_MAX));
  w2s_err e = W2S_OK;
  if (r->format_version == 2) {
    snprintf(list, LIST_MAX, "%s", v2_metrics);
  } else {
    hid_t gm = H5Gopen2(f, "metrics", H5P_DEFAULT);
    if (gm < 0 || H5Aexists(gm, "metric_names") <= 0)
      e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                   "%s: attribute '/metrics/metric_names' is missing (a "
                   "format_version %d file lists its metrics there)",
                   path, r->format_version);
    else
      e = w2s_h5_read_attr_str(ctx, gm, "metric_names", list, LIST_MAX, path);
    if (!e) e = read_loss(ctx, gm, r, path);
    if (gm >= 0) H5Gclose(gm);
  }
  int64_t K = r->npairs;
  for (int m = 0; !e && m < w2s_metric_count; ++m) {
    if (!listed(list, w2s_metric_table[m].name)) {
      w2s_log(ctx, 2, "%s: no metric '%s' (absent)", path,
              w2s_metric_table[m].name);
      continue;
    }
    char name[96];
    snprintf(name, sizeof name, "metrics/%s", w2s_metric_table[m].name);
    e = w2s_read_1d(ctx, f,
                    &(w2s_read_spec){name, H5T_FLOAT, H5T_NATIVE_DOUBLE}, &K,
                    (void **)&r->metric[m], path);
  }
  free(list);
  return e;
}

/* /sweep/values as read: nv strings [npoints, keys] in a calloc'ed vals. */
typedef struct {
  char **vals;
  int64_t nv, npoints;
} grid_values;

/* /sweep/values (nk keys, strings read as vs) into g: g->vals of g->nv
 * entries (the caller frees them with H5free_memory, on failure too). */
static w2s_err read_grid_values(w2s_ctx *ctx, hid_t f, hid_t vs, int64_t nk,
                                grid_values *g, const char *path) {
  if (H5Lexists(f, "sweep/values", H5P_DEFAULT) <= 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: dataset '/sweep/values' is missing", path);
  hid_t d = H5Dopen2(f, "sweep/values", H5P_DEFAULT);
  hid_t sp = H5Dget_space(d);
  hsize_t dims[2] = {0, 0};
  w2s_err e = W2S_OK;
  if (H5Sget_simple_extent_ndims(sp) == 2 &&
      H5Sget_simple_extent_dims(sp, dims, NULL) == 2 &&
      (int64_t)dims[1] == nk &&
      !(e = w2s_h5_check_written(ctx, d, sp, "/sweep/values", path))) {
    g->nv = (int64_t)(dims[0] * dims[1]);
    g->vals = calloc((size_t)(g->nv > 0 ? g->nv : 1), sizeof *g->vals);
    if (!g->vals || H5Dread(d, vs, H5S_ALL, H5S_ALL, H5P_DEFAULT, g->vals) < 0)
      e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: cannot read /sweep/values", path);
    g->npoints = (int64_t)dims[0];
  } else if (!e) {
    e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                 "%s: /sweep/values must be [points, keys] strings", path);
  }
  H5Sclose(sp);
  H5Dclose(d);
  return e;
}

/* /sweep/keys and /sweep/values into r. */
static w2s_err read_grid(w2s_ctx *ctx, hid_t f, w2s_results *r,
                         const char *path) {
  int64_t nk = -1;
  char **keys = NULL;
  hid_t vs = H5Tcopy(H5T_C_S1);
  H5Tset_size(vs, H5T_VARIABLE);
  w2s_err e = w2s_read_1d(ctx, f,
                          &(w2s_read_spec){"sweep/keys", H5T_STRING, vs}, &nk,
                          (void **)&keys, path);
  grid_values g = {NULL, -1, r->sweep_npoints};
  if (!e) e = read_grid_values(ctx, f, vs, nk, &g, path);
  r->sweep_npoints = g.npoints;
  char **vals = g.vals;
  const int64_t nv = g.nv;
  if (!e && nk > 0 && nk <= 64) {
    r->sweep_nkeys = (int)nk;
    if ((e = W2S_ALLOC(ctx, r->sweep_keys, nk)) == W2S_OK &&
        (e = W2S_ALLOC(ctx, r->sweep_values, nv)) == W2S_OK) {
      for (int64_t i = 0; i < nk; ++i)
        snprintf(r->sweep_keys[i], 128, "%s", keys[i] ? keys[i] : "");
      for (int64_t i = 0; i < nv; ++i)
        snprintf(r->sweep_values[i], 128, "%s", vals[i] ? vals[i] : "");
    }
  }
  for (int64_t i = 0; keys && i < nk; ++i) H5free_memory(keys[i]);
  for (int64_t i = 0; vals && i < nv; ++i) H5free_memory(vals[i]);
  free(keys);
  free(vals);
  H5Tclose(vs);
  return e;
}

/* Sweep files: the point of each pair (/metrics/sweep or /metrics/repeat)
 * and the grid; nothing for a single run. */
static w2s_err read_sweep(w2s_ctx *ctx, hid_t f, w2s_results *r,
                          const char *path) {
  const char *index = H5Lexists(f, "metrics/sweep", H5P_DEFAULT) > 0
                          ? "metrics/sweep"
                      : H5Lexists(f, "metrics/repeat", H5P_DEFAULT) > 0
                          ? "metrics/repeat"
                          : NULL;
  if (!index) return W2S_OK;
  int64_t K = r->npairs;
  W2S_CALL(w2s_read_1d(ctx, f,
                       &(w2s_read_spec){index, H5T_INTEGER, H5T_NATIVE_INT64},
                       &K, (void **)&r->pair_sweep, path));
  W2S_CALL(read_grid(ctx, f, r, path));
  for (int64_t k = 0; k < K; ++k)
    if (r->pair_sweep[k] < 0 || r->pair_sweep[k] >= r->sweep_npoints)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: /metrics/sweep[%lld] = %lld is outside the %lld "
                      "sweep points",
                      path, (long long)k, (long long)r->pair_sweep[k],
                      (long long)r->sweep_npoints);
  return W2S_OK;
}

/* The effective configuration (required), then what the file says of its
 * run when it says it: solver, BLAS, seed. */
static w2s_err read_provenance(w2s_ctx *ctx, hid_t f, w2s_results *r,
                               const char *path) {
  enum { CONFIG_MAX = 1 << 20 };
  W2S_CALL(W2S_ALLOC(ctx, r->config_text, CONFIG_MAX));
  W2S_CALL(
      w2s_h5_read_attr_str(ctx, f, "config", r->config_text, CONFIG_MAX, path));
  if (H5Aexists(f, "solver") > 0)
    W2S_CALL(w2s_h5_read_attr_str(ctx, f, "solver", r->solver, sizeof r->solver,
                                  path));
  for (int i = 0; i < 5; ++i)
    if (H5Aexists(f, w2s_results_blas_attr[i]) > 0)
      W2S_CALL(w2s_h5_read_attr_str(ctx, f, w2s_results_blas_attr[i],
                                    r->blas[i], sizeof r->blas[i], path));
  if (H5Aexists(f, "seed") > 0) {
    hid_t s = H5Aopen(f, "seed", H5P_DEFAULT);
    H5Aread(s, H5T_NATIVE_UINT64, &r->seed);
    H5Aclose(s);
  }
  return W2S_OK;
}

static w2s_err read_body(w2s_ctx *ctx, hid_t f, const char *path,
                         w2s_results **out) {
  int version = 0;
  W2S_CALL(read_version(ctx, f, path, &version));
  w2s_results *r = NULL;
  W2S_CALL(w2s_results_alloc(ctx, 0, 0, &r));
  r->format_version = version;
  w2s_err e = read_pairs(ctx, f, path, r);
  if (!e) e = read_metrics(ctx, f, r, path);
  if (!e) e = read_sweep(ctx, f, r, path);
  if (!e) e = read_provenance(ctx, f, r, path);
  if (!e) e = w2s_read_identity(ctx, f, r, path);
  if (!e) e = w2s_check_metric_identities(ctx, r, path);
  if (e) {
    w2s_results_destroy(&r);
    return e;
  }
  snprintf(r->path, sizeof r->path, "%s", path);
  *out = r;
  return W2S_OK;
}

w2s_err w2s_results_read(w2s_ctx *ctx, const char *path, w2s_results **out) {
  w2s_h5_quiet();
  FILE *probe = fopen(path, "rb");
  if (!probe)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: cannot open: no such file or "
                    "not readable",
                    path);
  fclose(probe);
  if (H5Fis_hdf5(path) <= 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: not an HDF5 file", path);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_file_locking(fapl, 0, 1);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f < 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: cannot open as HDF5 (truncated or damaged file?)",
                    path);
  w2s_err e = read_body(ctx, f, path, out);
  H5Fclose(f);
  return e;
}
