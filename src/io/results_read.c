/* The results reader used by `w2s analyze`: serial, validating every
 * dataset it touches so that a foreign or truncated file gives one clear
 * line, never a crash. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "w2s/io.h"

static int has_checksum(hid_t d) {
  hid_t dcpl = H5Dget_create_plist(d);
  unsigned flags = 0, cd[4];
  size_t ncd = 4;
  int yes = dcpl >= 0 && H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32,
                                              &flags, &ncd, cd, 0, NULL,
                                              NULL) >= 0;
  if (dcpl >= 0) H5Pclose(dcpl);
  return yes;
}

static w2s_err read_1d(w2s_ctx *ctx, hid_t f, const char *name, hid_t mtype,
                       H5T_class_t cls, int64_t *n, void **data,
                       const char *path) {
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

/* The stored experiment identity, checked against its hash and against the
 * `config` attribute it was made from: an edited or damaged identity is
 * refused here rather than trusted by merge or --resume. */
static w2s_err read_identity(w2s_ctx *ctx, hid_t f, w2s_results *r,
                             const char *path) {
  enum { IDENTITY_MAX = 1 << 20 };
  char hex[64];
  W2S_CALL(w2s_h5_read_attr_str(ctx, f, "identity_hash", hex, sizeof hex,
                                path));
  char *end = NULL;
  r->identity_hash = strtoull(hex, &end, 16);
  if (strlen(hex) != 16 || !end || *end)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: attribute 'identity_hash' is not 16 hex digits: '%s'",
                    path, hex);
  r->identity_config = calloc(IDENTITY_MAX, 1);
  if (!r->identity_config)
    return W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory");
  W2S_CALL(w2s_h5_read_attr_str(ctx, f, "identity", r->identity_config,
                                IDENTITY_MAX, path));
  w2s_identity id = w2s_results_identity(r);
  if (w2s_identity_hash(&id) != r->identity_hash)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: attribute 'identity_hash' does not match the stored "
                    "identity and sweep grid (a damaged or edited file)",
                    path);
  char *canon = w2s_identity_config(r->config_text);
  if (!canon) return W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory");
  int same = !strcmp(canon, r->identity_config);
  free(canon);
  if (!same)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: attribute 'config' does not match attribute "
                    "'identity' (a damaged or edited file)",
                    path);
  return W2S_OK;
}

/* |gain - (weak_error - w2s_error)| <= W2S_GAIN_RTOL (weak + w2s).
 * gain is not the stored difference: it is mean(d^2 + 2 d e) accumulated
 * over the n rows of the split from the rounded d = f_w - f_sw, e = f_sw -
 * y, f_w - y (docs/DESIGN.md "Metrics"). Per row the rounding of the three
 * differences and the products leaves (f_w - y)^2 - e^2 - d^2 - 2de within
 * about 8 eps ((f_w - y)^2 + e^2) (using d^2 <= 2 (f_w - y)^2 + 2 e^2);
 * summing the four sums' n terms in any order (blocks, ranks) adds at most
 * (n - 1) u times the sum of their absolute values, <= 6 (W + S), and the
 * final divisions and this check's subtraction a few eps more: worst case
 * (3 n + 16) eps (weak + w2s). With 2^22 eps (9.3e-10) the bound is
 * rigorous for splits of up to 1.39 million rows and, since rounding errors
 * of long sums grow like sqrt(n) eps (Higham and Mary 2019), holds by
 * orders of magnitude far beyond; the largest gap measured by
 * tests/e2e/test_identity.py (up to 200000 rows) is 1.1e-15 relative. A
 * changed value above about 1e-9 relative breaks it. */
#define W2S_GAIN_RTOL (4194304.0 * 2.220446049250313e-16)

static w2s_err check_gain(w2s_ctx *ctx, const w2s_results *r, w2s_metric g,
                          w2s_metric w, w2s_metric s, const char *path) {
  for (int64_t k = 0; k < r->npairs; ++k) {
    double gain = r->metric[g][k], weak = r->metric[w][k],
           w2s = r->metric[s][k];
    /* A run that overflowed has no rounding to bound; the checksum still
     * guards its bytes. A NaN gain beside finite errors is refused. */
    if (!isfinite(weak) || !isfinite(w2s)) continue;
    double gap = fabs(gain - (weak - w2s));
    if (!(gap <= W2S_GAIN_RTOL * (fabs(weak) + fabs(w2s))))
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: /metrics/%s[%lld] = %.17g breaks %s = %s - %s "
                      "(%.17g - %.17g; allowed rounding %.3g): a damaged or "
                      "edited file",
                      path, w2s_metric_name(g), (long long)k, gain,
                      w2s_metric_name(g), w2s_metric_name(w),
                      w2s_metric_name(s), weak, w2s,
                      W2S_GAIN_RTOL * (fabs(weak) + fabs(w2s)));
  }
  return W2S_OK;
}

/* The metrics are one computation: gain (test and train) against the
 * errors, and the two columns derived from stored values by one operation
 * (w2s_metrics_finish), which must be reproduced exactly. */
static w2s_err check_identities(w2s_ctx *ctx, const w2s_results *r,
                                const char *path) {
  W2S_CALL(check_gain(ctx, r, W2S_M_GAIN, W2S_M_WEAK_ERROR, W2S_M_W2S_ERROR,
                      path));
  W2S_CALL(check_gain(ctx, r, W2S_M_GAIN_TRAIN, W2S_M_WEAK_ERROR_TRAIN,
                      W2S_M_W2S_ERROR_TRAIN, path));
  for (int64_t k = 0; k < r->npairs; ++k) {
    double weak = r->metric[W2S_M_WEAK_ERROR][k];
    double misfit = r->metric[W2S_M_MISFIT][k];
    double ceil = r->metric[W2S_M_CEILING][k];
    double pred = weak - misfit;
    double pgr = weak > ceil ? r->metric[W2S_M_GAIN][k] / (weak - ceil) : NAN;
    double got_pred = r->metric[W2S_M_PREDICTED][k];
    double got_pgr = r->metric[W2S_M_PGR][k];
    if (!(got_pred == pred || (isnan(got_pred) && isnan(pred))))
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: /metrics/predicted_w2s_error[%lld] = %.17g is not "
                      "weak_error - misfit = %.17g: a damaged or edited file",
                      path, (long long)k, got_pred, pred);
    if (!(got_pgr == pgr || (isnan(got_pgr) && isnan(pgr))))
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: /metrics/pgr[%lld] = %.17g is not gain / "
                      "(weak_error - strong_ceiling_error) = %.17g: a damaged "
                      "or edited file",
                      path, (long long)k, got_pgr, pgr);
  }
  return W2S_OK;
}

static w2s_err read_body(w2s_ctx *ctx, hid_t f, const char *path,
                         w2s_results **out) {
  char buf[256];
  W2S_CALL(w2s_h5_read_attr_str(ctx, f, "format", buf, sizeof buf, path));
  if (strcmp(buf, "w2s-results") != 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: not a w2s results file (format = '%s')", path, buf);
  int64_t version = -1;
  if (H5Aexists(f, "format_version") <= 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: attribute 'format_version' is missing", path);
  hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
  /* One integer: HDF5 would convert a float (1.5 read as 1), and an array
   * would be read past `version`. */
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
                    "integer expected, this w2s reads %d)",
                    path, W2S_FORMAT_VERSION);
  if (st < 0 || version != W2S_FORMAT_VERSION)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: format_version %lld is not supported (this w2s "
                    "reads %d%s)",
                    path, (long long)version, W2S_FORMAT_VERSION,
                    version >= 1 && version < W2S_FORMAT_VERSION
                        ? "; older files have no stored experiment identity "
                          "or checksums: re-run the experiment"
                        : "");

  int64_t K = -1;
  int64_t *task = NULL;
  w2s_err e = read_1d(ctx, f, "metrics/task", H5T_NATIVE_INT64, H5T_INTEGER,
                      &K, (void **)&task, path);
  if (e) {
    free(task); /* read_1d allocates before the read that can fail */
    return e;
  }
  hid_t vs = H5Tcopy(H5T_C_S1);
  H5Tset_size(vs, H5T_VARIABLE);
  char **names = NULL;
  e = read_1d(ctx, f, "metrics/weak_model", vs, H5T_STRING, &K,
              (void **)&names, path);
  /* Distinct weak-model names in order of first appearance. */
  w2s_results *r = NULL;
  int64_t nweak = 0, ntasks = 0;
  if (!e) {
    for (int64_t k = 0; k < K; ++k) {
      if (!names[k]) {
        e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: '/metrics/weak_model' has a "
                     "null entry", path);
        break;
      }
      if (task[k] < 0 || task[k] >= K) { /* every task has a pair */
        e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                     "%s: /metrics/task[%lld] = %lld is outside 0..%lld",
                     path, (long long)k, (long long)task[k],
                     (long long)(K - 1));
        break;
      }
      if (task[k] + 1 > ntasks) ntasks = task[k] + 1;
    }
  }
  if (!e) e = w2s_results_alloc(ctx, 0, 0, &r);
  if (!e) {
    free(r->pair_task);
    free(r->pair_weak);
    free(r->weak_names);
    free(r->coef_weak); /* coefficients are not read */
    r->coef_weak = NULL;
    r->pair_task = task;
    task = NULL;
    r->npairs = K;
    r->ntasks = ntasks;
    if ((e = W2S_ALLOC(ctx, r->pair_weak, K)) == W2S_OK)
      e = W2S_ALLOC(ctx, r->weak_names, K);
  }
  for (int64_t k = 0; !e && k < K; ++k) {
    int64_t j = 0;
    while (j < nweak && strcmp(r->weak_names[j], names[k]) != 0) ++j;
    if (j == nweak) snprintf(r->weak_names[nweak++], W2S_NAME_LEN, "%s", names[k]);
    r->pair_weak[k] = j;
  }
  if (r) r->nweak = nweak;
  if (names) {
    hsize_t dims[1] = {(hsize_t)(K > 0 ? K : 0)};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    if (K > 0) H5Dvlen_reclaim(vs, sp, H5P_DEFAULT, names);
    H5Sclose(sp);
    free(names);
  }
  H5Tclose(vs);
  free(task);
  for (int m = 0; !e && m < W2S_M_COUNT; ++m) {
    char name[96];
    snprintf(name, sizeof name, "metrics/%s", w2s_metric_name((w2s_metric)m));
    free(r->metric[m]);
    r->metric[m] = NULL;
    e = read_1d(ctx, f, name, H5T_NATIVE_DOUBLE, H5T_FLOAT, &K,
                (void **)&r->metric[m], path);
  }
  /* Sweep files: the point of each pair, and the grid. */
  const char *index = H5Lexists(f, "metrics/sweep", H5P_DEFAULT) > 0
                          ? "metrics/sweep"
                          : H5Lexists(f, "metrics/repeat", H5P_DEFAULT) > 0
                                ? "metrics/repeat"
                                : NULL;
  if (!e && index) {
    e = read_1d(ctx, f, index, H5T_NATIVE_INT64, H5T_INTEGER, &K,
                (void **)&r->pair_sweep, path);
    int64_t nk = -1, nv = -1;
    char **keys = NULL, **vals = NULL;
    hid_t vs2 = H5Tcopy(H5T_C_S1);
    H5Tset_size(vs2, H5T_VARIABLE);
    if (!e)
      e = read_1d(ctx, f, "sweep/keys", vs2, H5T_STRING, &nk, (void **)&keys,
                  path);
    if (!e && H5Lexists(f, "sweep/values", H5P_DEFAULT) > 0) {
      hid_t d = H5Dopen2(f, "sweep/values", H5P_DEFAULT);
      hid_t sp = H5Dget_space(d);
      hsize_t dims[2] = {0, 0};
      if (H5Sget_simple_extent_ndims(sp) == 2 &&
          H5Sget_simple_extent_dims(sp, dims, NULL) == 2 &&
          (int64_t)dims[1] == nk &&
          !(e = w2s_h5_check_written(ctx, d, sp, "/sweep/values", path))) {
        nv = (int64_t)(dims[0] * dims[1]);
        vals = calloc((size_t)(nv > 0 ? nv : 1), sizeof *vals);
        if (!vals || H5Dread(d, vs2, H5S_ALL, H5S_ALL, H5P_DEFAULT, vals) < 0)
          e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: cannot read /sweep/values",
                       path);
        r->sweep_npoints = (int64_t)dims[0];
      } else if (!e) {
        e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                     "%s: /sweep/values must be [points, keys] strings",
                     path);
      }
      H5Sclose(sp);
      H5Dclose(d);
    } else if (!e) {
      e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: dataset '/sweep/values' is missing",
                   path);
    }
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
    for (int64_t k = 0; !e && k < K; ++k)
      if (r->pair_sweep[k] < 0 || r->pair_sweep[k] >= r->sweep_npoints)
        e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                     "%s: /metrics/sweep[%lld] = %lld is outside the %lld "
                     "sweep points", path, (long long)k,
                     (long long)r->pair_sweep[k], (long long)r->sweep_npoints);
    for (int64_t i = 0; keys && i < nk; ++i) H5free_memory(keys[i]);
    for (int64_t i = 0; vals && i < nv; ++i) H5free_memory(vals[i]);
    free(keys);
    free(vals);
    H5Tclose(vs2);
  }
  if (!e) {
    enum { CONFIG_MAX = 1 << 20 };
    r->config_text = calloc(CONFIG_MAX, 1);
    if (!r->config_text)
      e = W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory");
    else
      e = w2s_h5_read_attr_str(ctx, f, "config", r->config_text, CONFIG_MAX,
                               path);
  }
  if (!e) e = read_identity(ctx, f, r, path);
  if (!e) e = check_identities(ctx, r, path);
  if (!e && H5Aexists(f, "solver") > 0)
    e = w2s_h5_read_attr_str(ctx, f, "solver", r->solver, sizeof r->solver,
                             path);
  for (int i = 0; i < 5 && !e; ++i)
    if (H5Aexists(f, w2s_results_blas_attr[i]) > 0)
      e = w2s_h5_read_attr_str(ctx, f, w2s_results_blas_attr[i], r->blas[i],
                               sizeof r->blas[i], path);
  if (!e && H5Aexists(f, "seed") > 0) {
    hid_t s = H5Aopen(f, "seed", H5P_DEFAULT);
    H5Aread(s, H5T_NATIVE_UINT64, &r->seed);
    H5Aclose(s);
  }
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
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: cannot open: no such file or "
                    "not readable", path);
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
