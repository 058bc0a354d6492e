/* HDF5 helpers shared by the results writer and reader. */
#include "io/h5util.h"

#include <stdlib.h>
#include <string.h>

void w2s_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* Numbers are stored in chunks with HDF5's Fletcher32 checksum, which
 * HDF5 verifies on every read: a flipped bit in a results file is a read
 * error, not a silently changed number. Chunks are at most 1 MiB (whole
 * rows), so a reader never needs more for one element. Strings (their heap
 * is not covered by the filter) and empty datasets (no chunk to check) stay
 * contiguous. Filters in parallel HDF5 (>= 1.10.2) need collective writes,
 * which w2s_h5_write does. Returns H5P_DEFAULT or a list to close. */
static hid_t checksum_dcpl(hid_t type, int rank, const hsize_t *hd) {
  if (H5Tget_class(type) == H5T_STRING) return H5P_DEFAULT;
  hsize_t chunk[2] = {hd[0], rank > 1 ? hd[1] : 1};
  if (chunk[0] == 0 || chunk[1] == 0) return H5P_DEFAULT;
  double row = (double)H5Tget_size(type) * (double)chunk[1];
  double rows = (1048576.0 / row) < 1.0 ? 1.0 : 1048576.0 / row;
  if ((double)chunk[0] > rows) chunk[0] = (hsize_t)rows;
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (dcpl < 0 || H5Pset_chunk(dcpl, rank, chunk) < 0 ||
      H5Pset_fletcher32(dcpl) < 0) {
    if (dcpl >= 0) H5Pclose(dcpl);
    return -1;
  }
  return dcpl;
}

w2s_err w2s_h5_write(w2s_ctx *ctx, hid_t loc, const w2s_h5_dataset *d,
                     int collective, const char *path) {
  const char *name = d->name;
  const hid_t type = d->type;
  const int rank = d->rank;
  const int64_t *dims = d->dims;
  const void *data = d->data;
  hsize_t hd[2] = {(hsize_t)dims[0], rank > 1 ? (hsize_t)dims[1] : 1};
  hid_t space = H5Screate_simple(rank, hd, NULL);
  hid_t dcpl = checksum_dcpl(type, rank, hd);
  hid_t dset = space < 0 || dcpl < 0
                   ? -1
                   : H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl,
                                H5P_DEFAULT);
  if (dcpl >= 0 && dcpl != H5P_DEFAULT) H5Pclose(dcpl);
  herr_t st = -1;
  if (dset >= 0) {
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    hid_t fsel = H5Scopy(space), msel = H5Scopy(space);
    if (collective) {
      H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
      if (ctx->rank != 0) {
        H5Sselect_none(fsel);
        H5Sselect_none(msel);
      }
    }
    st = H5Dwrite(dset, type, msel, fsel, dxpl, data);
    H5Sclose(fsel);
    H5Sclose(msel);
    H5Pclose(dxpl);
    H5Dclose(dset);
  }
  if (space >= 0) H5Sclose(space);
  if (st < 0)
    return W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot write dataset '%s'", path,
                    name);
  return W2S_OK;
}

w2s_err w2s_h5_attr_int(w2s_ctx *ctx, hid_t loc, const char *name, hid_t type,
                        const void *value, const char *path) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = attr < 0 ? -1 : H5Awrite(attr, type, value);
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space);
  if (st < 0)
    return W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot write attribute '%s'", path,
                    name);
  return W2S_OK;
}

static hid_t vlen_utf8(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

w2s_err w2s_h5_attr_str(w2s_ctx *ctx, hid_t loc, const char *name,
                        const char *value, const char *path) {
  hid_t t = vlen_utf8(), space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT);
  const char *v = value ? value : "";
  herr_t st = attr < 0 ? -1 : H5Awrite(attr, t, &v);
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(t);
  if (st < 0)
    return W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot write attribute '%s'", path,
                    name);
  return W2S_OK;
}

w2s_err w2s_h5_write_strings(w2s_ctx *ctx, hid_t loc, const char *name,
                             const char *const *strs, int64_t n,
                             const char *path) {
  hid_t t = vlen_utf8();
  w2s_err e = w2s_h5_write(ctx, loc, &(w2s_h5_dataset){name, t, 1, {n}, strs},
                           0, path);
  H5Tclose(t);
  return e;
}

w2s_err w2s_h5_write_strings_2d(w2s_ctx *ctx, hid_t loc, const char *name,
                                const char *const *strs, int64_t rows,
                                int64_t cols, const char *path) {
  hid_t t = vlen_utf8();
  w2s_err e = w2s_h5_write(ctx, loc,
                           &(w2s_h5_dataset){name, t, 2, {rows, cols}, strs}, 0,
                           path);
  H5Tclose(t);
  return e;
}

w2s_err w2s_h5_read_attr_str(w2s_ctx *ctx, hid_t loc, const char *name,
                             char *buf, size_t len, const char *path) {
  buf[0] = '\0';
  if (H5Aexists(loc, name) <= 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: attribute '%s' is missing", path,
                    name);
  hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
  hid_t ft = attr < 0 ? -1 : H5Aget_type(attr);
  herr_t st = -1;
  if (ft >= 0 && H5Tget_class(ft) == H5T_STRING) {
    if (H5Tis_variable_str(ft) > 0) {
      hid_t mt = vlen_utf8();
      char *v = NULL;
      st = H5Aread(attr, mt, &v);
      if (st >= 0 && v) {
        snprintf(buf, len, "%s", v);
        H5free_memory(v);
      }
      H5Tclose(mt);
    } else {
      size_t sz = H5Tget_size(ft);
      char *tmp = calloc(sz + 1, 1);
      hid_t mt = H5Tcopy(H5T_C_S1);
      H5Tset_size(mt, sz);
      st = tmp ? H5Aread(attr, mt, tmp) : -1;
      if (st >= 0) snprintf(buf, len, "%s", tmp);
      H5Tclose(mt);
      free(tmp);
    }
  }
  if (ft >= 0) H5Tclose(ft);
  if (attr >= 0) H5Aclose(attr);
  if (st < 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: attribute '%s' is not a string",
                    path, name);
  return W2S_OK;
}

/* Storage is checked by layout. A chunked dataset must have every chunk of
 * its extent: compressed chunks are smaller than their data, so the space
 * status alone would call a complete gzip'd dataset partly allocated.
 * (HDF5 1.10.8 refuses H5S_ALL in H5Dget_num_chunks; `space` is the
 * dataset's own dataspace, everything selected.) */
w2s_err w2s_h5_check_written(w2s_ctx *ctx, hid_t d, hid_t space,
                             const char *name, const char *path) {
  if (H5Sget_simple_extent_npoints(space) <= 0) return W2S_OK;
  hid_t dcpl = H5Dget_create_plist(d);
  H5D_layout_t layout = dcpl < 0 ? H5D_LAYOUT_ERROR : H5Pget_layout(dcpl);
  double expect = 1.0, have = -1.0;
  H5D_space_status_t st = H5D_SPACE_STATUS_ERROR;
  double chunk_bytes = 0.0;
  if (layout == H5D_CHUNKED) {
    hsize_t dims[H5S_MAX_RANK], chunk[H5S_MAX_RANK], n = 0;
    int nd = H5Sget_simple_extent_dims(space, dims, NULL);
    if (nd > 0 && H5Pget_chunk(dcpl, nd, chunk) == nd &&
        H5Dget_num_chunks(d, space, &n) >= 0) {
      hid_t t = H5Dget_type(d);
      chunk_bytes = t < 0 ? 0.0 : (double)H5Tget_size(t);
      if (t >= 0) H5Tclose(t);
      for (int i = 0; i < nd; ++i) chunk_bytes *= (double)chunk[i];
      for (int i = 0; i < nd; ++i) {
        hsize_t per_dim = chunk[i] ? (dims[i] + chunk[i] - 1) / chunk[i] : 0;
        expect *= (double)per_dim;
      }
      have = (double)n;
    }
  } else if (H5Dget_space_status(d, &st) >= 0 && st != H5D_SPACE_STATUS_ERROR) {
    have = st == H5D_SPACE_STATUS_ALLOCATED       ? 1.0
           : st == H5D_SPACE_STATUS_NOT_ALLOCATED ? 0.0
                                                  : 0.5;
  }
  if (dcpl >= 0) H5Pclose(dcpl);
  if (have < 0.0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: cannot query dataset '%s'", path,
                    name);
  /* HDF5 reads a chunk whole: a damaged or odd file with giant chunks
   * would have every rank allocate and clear them for a few rows. */
  if (chunk_bytes > W2S_H5_MAX_CHUNK)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: dataset '%s' has chunks of %.3g MiB; w2s reads chunks "
                    "of at most %.0f MiB (rechunk it, e.g. h5repack -l "
                    "CHUNK=1024x64)",
                    path, name, chunk_bytes / 1048576.0,
                    W2S_H5_MAX_CHUNK / 1048576.0);
  if (have < expect)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: dataset '%s' is %s written (%s): an interrupted "
                    "writer, or a shape declared without data",
                    path, name, have > 0.0 ? "only partly" : "not",
                    have > 0.0 ? "some of its storage is not allocated"
                               : "its storage is not allocated");
  return W2S_OK;
}
