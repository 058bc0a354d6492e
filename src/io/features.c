/* The features file reader (`w2s fit` input). Metadata is validated the same
 * way on every rank; rows are read with collective hyperslab reads, each rank
 * its own contiguous block, float32 converted to float64 by HDF5 block by
 * block. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/h5util.h"
#include "w2s/io.h"

enum { MAX_WEAK = 256 };

struct w2s_features {
  char path[1024];
  hid_t file;
  int64_t n, ds;
  hid_t labels, strong, split;
  int label_kind;     /* W2S_LABELS_* (io.h) */
  int64_t label_cols; /* C of 2-D probabilities, else 1 */
  int nweak;
  char names[MAX_WEAK][W2S_NAME_LEN];
  hid_t weak[MAX_WEAK], pred[MAX_WEAK];
  int64_t dw[MAX_WEAK];
  double *buf;
  int64_t cap;
};

/* A dataset the file must hold: its name, class and rank (1 or 2). */
typedef struct {
  const char *name;
  H5T_class_t cls;
  int rank;
} ds_spec;

/* Open dataset s and check its class and rank; dims[0] must be n (if
 * n >= 0, else f->n is set) and *cols (if not NULL) receives dims[1] for
 * 2-D, 1 for 1-D. W2S_ERR_INPUT naming f's path and the dataset. */
static w2s_err open_ds(w2s_ctx *ctx, w2s_features *f, const ds_spec *s,
                       int64_t n, int64_t *cols, hid_t *out) {
  const char *name = s->name;
  const H5T_class_t cls = s->cls;
  const int rank = s->rank;
  *out = -1;
  if (H5Lexists(f->file, name, H5P_DEFAULT) <= 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: dataset '%s' is missing", f->path,
                    name);
  hid_t d = H5Dopen2(f->file, name, H5P_DEFAULT);
  if (d < 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: '%s' is not a dataset", f->path,
                    name);
  hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
  int nd = H5Sget_simple_extent_ndims(sp);
  hsize_t dims[2] = {0, 0};
  if (nd >= 1 && nd <= 2) H5Sget_simple_extent_dims(sp, dims, NULL);
  H5T_class_t c = H5Tget_class(t);
  size_t tsize = H5Tget_size(t); /* a damaged type can claim gigabytes */
  H5Tclose(t);
  w2s_err e = W2S_OK;
  const char *want = cls == H5T_FLOAT ? "floating-point (float32 or float64)"
                                      : "integer";
  if (c != cls || tsize < 1 || tsize > 8)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: dataset '%s' must be %s", f->path,
                 name, want);
  else if (nd != rank)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                 "%s: dataset '%s' must be %d-D (%s), it is %d-D", f->path,
                 name, rank, rank == 1 ? "[n]" : "[n, d]", nd);
  else if (n >= 0 && (int64_t)dims[0] != n)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                 "%s: dataset '%s' has %llu rows, /labels has %lld", f->path,
                 name, (unsigned long long)dims[0], (long long)n);
  else if (rank == 2 && dims[1] == 0)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: dataset '%s' has no columns", f->path,
                 name);
  else
    e = w2s_h5_check_written(ctx, d, sp, name, f->path);
  H5Sclose(sp);
  if (e) {
    H5Dclose(d);
    return e;
  }
  if (cols) *cols = rank == 2 ? (int64_t)dims[1] : 1;
  if (n < 0) f->n = (int64_t)dims[0];
  *out = d;
  return W2S_OK;
}

static int valid_name(const char *s) {
  if (!*s || strlen(s) >= W2S_NAME_LEN) return 0;
  for (; *s; ++s)
    if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
      return 0;
  return 1;
}

static int find_weak(w2s_features *f, const char *name) {
  for (int j = 0; j < f->nweak; ++j)
    if (!strcmp(f->names[j], name)) return j;
  return -1;
}

/* The members of group `g` (if it exists) as weak models. */
static w2s_err scan_group(w2s_ctx *ctx, w2s_features *f, const char *g,
                          int is_pred, int *count) {
  *count = 0;
  if (H5Lexists(f->file, g, H5P_DEFAULT) <= 0) return W2S_OK;
  hid_t grp = H5Gopen2(f->file, g, H5P_DEFAULT);
  if (grp < 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: '%s' must be a group", f->path, g);
  H5G_info_t info;
  H5Gget_info(grp, &info);
  w2s_err e = W2S_OK;
  for (hsize_t i = 0; i < info.nlinks && !e; ++i) {
    char name[256], full[300];
    if (H5Lget_name_by_idx(grp, ".", H5_INDEX_NAME, H5_ITER_INC, i, name,
                           sizeof name, H5P_DEFAULT) < 0 ||
        !valid_name(name)) {
      e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                   "%s: '%s/%s': weak model names must be 1-%d letters, "
                   "digits, '_', '-' or '.'",
                   f->path, g, name, W2S_NAME_LEN - 1);
      break;
    }
    snprintf(full, sizeof full, "%s/%s", g, name);
    int j = find_weak(f, name);
    if (j < 0) {
      if (f->nweak == MAX_WEAK) {
        e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: more than %d weak models",
                     f->path, MAX_WEAK);
        break;
      }
      j = f->nweak++;
      /* valid_name() bounded it below W2S_NAME_LEN */
      memcpy(f->names[j], name, strlen(name) + 1);
      f->weak[j] = f->pred[j] = -1;
      f->dw[j] = 0;
    }
    if (is_pred)
      e = open_ds(ctx, f, &(ds_spec){full, H5T_FLOAT, 1}, f->n, NULL,
                  &f->pred[j]);
    else
      e = open_ds(ctx, f, &(ds_spec){full, H5T_FLOAT, 2}, f->n, &f->dw[j],
                  &f->weak[j]);
    ++*count;
  }
  H5Gclose(grp);
  return e;
}

/* /labels: float values [n], integer class ids [n] or float class
 * probabilities [n, C] (its class and rank say which); f->n from it. */
static w2s_err open_labels(w2s_ctx *ctx, w2s_features *f) {
  H5T_class_t c = H5T_NO_CLASS;
  int nd = 1;
  if (H5Lexists(f->file, "/labels", H5P_DEFAULT) > 0) {
    hid_t d = H5Dopen2(f->file, "/labels", H5P_DEFAULT);
    if (d >= 0) {
      hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
      c = H5Tget_class(t);
      nd = H5Sget_simple_extent_ndims(sp);
      H5Tclose(t);
      H5Sclose(sp);
      H5Dclose(d);
    }
  }
  ds_spec spec = {"/labels", H5T_FLOAT, 1};
  f->label_kind = W2S_LABELS_VALUES;
  if (c == H5T_INTEGER) {
    if (nd != 1)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: dataset '/labels' of an integer type must be 1-D "
                      "class ids [n], it is %d-D",
                      f->path, nd);
    spec.cls = H5T_INTEGER;
    f->label_kind = W2S_LABELS_CLASS_IDS;
  } else if (c == H5T_FLOAT && nd > 2) {
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: dataset '/labels' must be 1-D (values or class ids "
                    "[n]) or 2-D (class probabilities [n, C]), it is %d-D",
                    f->path, nd);
  } else if (c == H5T_FLOAT && nd == 2) {
    spec.rank = 2;
    f->label_kind = W2S_LABELS_PROBS;
  } else if (c != H5T_FLOAT && c != H5T_NO_CLASS) {
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: dataset '/labels' must be floating-point (values "
                    "[n] or class probabilities [n, C]) or integer (class "
                    "ids [n])",
                    f->path);
  }
  return open_ds(ctx, f, &spec, -1, &f->label_cols, &f->labels);
}

static w2s_err open_local(w2s_ctx *ctx, const char *path, w2s_features *f) {
  snprintf(f->path, sizeof f->path, "%s", path);
  f->labels = f->strong = f->split = -1;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (ctx->comm != MPI_COMM_NULL)
    H5Pset_fapl_mpio(fapl, ctx->comm, MPI_INFO_NULL);
  H5Pset_file_locking(fapl, 0, 1);
  f->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f->file < 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: cannot open as HDF5 (truncated or damaged file?)",
                    path);
  f->n = -1;
  W2S_CALL(open_labels(ctx, f));
  if (f->n < 1)
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: dataset '/labels' has no rows",
                    path);
  W2S_CALL(open_ds(ctx, f, &(ds_spec){"/strong", H5T_FLOAT, 2}, f->n, &f->ds,
                   &f->strong));
  int nw = 0, np = 0;
  W2S_CALL(scan_group(ctx, f, "/weak", 0, &nw));
  W2S_CALL(scan_group(ctx, f, "/weak_predictions", 1, &np));
  if (H5Lexists(f->file, "/weak", H5P_DEFAULT) > 0 && nw == 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: group '/weak' is empty", path);
  if (f->nweak == 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: no weak model: add /weak/NAME features or "
                    "/weak_predictions/NAME predictions",
                    path);
  if (H5Lexists(f->file, "/split", H5P_DEFAULT) > 0)
    W2S_CALL(open_ds(ctx, f, &(ds_spec){"/split", H5T_INTEGER, 1}, f->n, NULL,
                     &f->split));
  return W2S_OK;
}

w2s_err w2s_features_open(w2s_ctx *ctx, const char *path, w2s_features **out) {
  w2s_h5_quiet();
  w2s_err e = W2S_OK;
  if (ctx->rank == 0) {
    if (access(path, R_OK) != 0)
      e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: no such file or not readable",
                   path);
    else if (H5Fis_hdf5(path) <= 0)
      e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: not an HDF5 file", path);
  }
  W2S_CALL(w2s_agree(ctx, e));
  w2s_features *f = NULL;
  e = w2s_agree(ctx, W2S_ALLOC(ctx, f, 1));
  if (e) {
    free(f); /* allocated where another rank's allocation failed */
    return e;
  }
  e = w2s_agree(ctx, open_local(ctx, path, f));
  if (e) {
    w2s_features_close(&f);
    return e;
  }
  *out = f;
  return W2S_OK;
}

void w2s_features_close(w2s_features **fp) {
  if (!fp || !*fp) return;
  w2s_features *f = *fp;
  hid_t ds[] = {f->labels, f->strong, f->split};
  for (size_t i = 0; i < 3; ++i)
    if (ds[i] >= 0) H5Dclose(ds[i]);
  for (int j = 0; j < f->nweak; ++j) {
    if (f->weak[j] >= 0) H5Dclose(f->weak[j]);
    if (f->pred[j] >= 0) H5Dclose(f->pred[j]);
  }
  if (f->file > 0) H5Fclose(f->file);
  free(f->buf);
  free(f);
  *fp = NULL;
}

int64_t w2s_features_rows(const w2s_features *f) { return f->n; }
int64_t w2s_features_strong_dim(const w2s_features *f) { return f->ds; }
int w2s_features_nweak(const w2s_features *f) { return f->nweak; }
const char *w2s_features_weak_name(const w2s_features *f, int j) {
  return f->names[j];
}
int64_t w2s_features_weak_dim(const w2s_features *f, int j) {
  return f->weak[j] >= 0 ? f->dw[j] : 0;
}
int w2s_features_has_predictions(const w2s_features *f, int j) {
  return f->pred[j] >= 0;
}
int w2s_features_has_split(const w2s_features *f) { return f->split >= 0; }
int w2s_features_label_kind(const w2s_features *f) { return f->label_kind; }
int64_t w2s_features_label_cols(const w2s_features *f) { return f->label_cols; }
const char *w2s_features_path(const w2s_features *f) { return f->path; }

/* A dataset of the file as read_rows reads it: rank (1 or 2), columns
 * (1 for rank 1) and the memory type its values are converted to. */
typedef struct {
  hid_t d;
  int rank;
  int64_t cols;
  hid_t mem_type;
} slab;

/* Collective read of rows [row0, row0 + m) x all columns of s->d into buf
 * (row-major, as stored), converted to s->mem_type. */
static w2s_err read_rows(w2s_ctx *ctx, w2s_features *f, const slab *s,
                         int64_t row0, int64_t m, void *buf) {
  const hid_t d = s->d, mem_type = s->mem_type;
  const int rank = s->rank;
  const int64_t cols = s->cols;
  hid_t fs = H5Dget_space(d);
  hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)m, (hsize_t)cols};
  hsize_t mdims[2] = {(hsize_t)(m > 0 ? m : 1), (hsize_t)cols};
  hid_t ms = H5Screate_simple(rank, mdims, NULL);
  if (m > 0) {
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  } else {
    H5Sselect_none(fs);
    H5Sselect_none(ms);
  }
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (ctx->comm != MPI_COMM_NULL) H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  herr_t st = H5Dread(d, mem_type, ms, fs, dxpl, buf);
  H5Pclose(dxpl);
  H5Sclose(ms);
  H5Sclose(fs);
  if (st < 0) {
    char name[256] = "?";
    if (H5Iget_name(d, name, sizeof name) < 0) snprintf(name, sizeof name, "?");
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: dataset '%s': cannot read rows %lld-%lld (truncated "
                    "file?)",
                    f->path, name, (long long)row0, (long long)(row0 + m - 1));
  }
  return W2S_OK;
}

static w2s_err read_matrix(w2s_ctx *ctx, w2s_features *f, hid_t d, int64_t cols,
                           int64_t row0, int64_t m, double *out) {
  w2s_err e = W2S_OK;
  if (m * cols > f->cap) {
    free(f->buf);
    f->buf = NULL;
    f->cap = 0;
    if (!(e = W2S_ALLOC(ctx, f->buf, m * cols))) f->cap = m * cols;
  }
  /* The read is collective: without a buffer, take part selecting nothing
   * (the caller agrees on the failure after the last read). */
  double none = 0.0;
  w2s_err t = read_rows(ctx, f, &(slab){d, 2, cols, H5T_NATIVE_DOUBLE}, row0,
                        e ? 0 : m, e ? &none : f->buf);
  W2S_CALL(e);
  W2S_CALL(t);
  for (int64_t r = 0; r < m; ++r) /* row-major -> column-major */
    for (int64_t c = 0; c < cols; ++c) out[c * m + r] = f->buf[r * cols + c];
  return W2S_OK;
}

w2s_err w2s_features_read(w2s_ctx *ctx, w2s_features *f, int64_t row0,
                          int64_t m, const w2s_features_block *out) {
  double *labels = out->labels, *strong = out->strong, *pred = out->pred;
  double *probs = out->label_probs;
  double **weak = out->weak;
  int *split = out->split;
  /* Every rank makes the same calls in the same order (collective I/O);
   * a local failure is agreed on at the end. */
  w2s_err e = W2S_OK, t;
  double dummy = 0.0;
  if (labels && f->label_kind != W2S_LABELS_PROBS &&
      (t = read_rows(ctx, f, &(slab){f->labels, 1, 1, H5T_NATIVE_DOUBLE}, row0,
                     m, m > 0 ? labels : &dummy)) &&
      !e)
    e = t;
  if (probs && f->label_kind == W2S_LABELS_PROBS &&
      (t = read_matrix(ctx, f, f->labels, f->label_cols, row0, m, probs)) && !e)
    e = t;
  if (strong && (t = read_matrix(ctx, f, f->strong, f->ds, row0, m, strong)) &&
      !e)
    e = t;
  for (int j = 0; j < f->nweak; ++j) {
    if (weak && weak[j] && f->weak[j] >= 0 &&
        (t = read_matrix(ctx, f, f->weak[j], f->dw[j], row0, m, weak[j])) && !e)
      e = t;
    if (pred && f->pred[j] >= 0 &&
        (t = read_rows(ctx, f, &(slab){f->pred[j], 1, 1, H5T_NATIVE_DOUBLE},
                       row0, m, m > 0 ? pred + (int64_t)j * m : &dummy)) &&
        !e)
      e = t;
  }
  if (split && f->split >= 0) {
    int idummy = 0;
    if ((t = read_rows(ctx, f, &(slab){f->split, 1, 1, H5T_NATIVE_INT}, row0, m,
                       m > 0 ? split : &idummy)) &&
        !e)
      e = t;
  }
  return w2s_agree(ctx, e);
}
