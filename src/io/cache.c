/* A cache of named parameter vectors (pre-trained weights) in an HDF5 file:
 * one group per key, named by the key's 64-bit FNV-1a hash, holding the
 * vector `params` and the full key as an attribute (checked on reading, so
 * a hash collision is a miss, never wrong weights). Rank 0 does the file
 * work through the serial driver; the others get the result by broadcast.
 * An update is made in memory and replaces the file whole (io/publish.c),
 * so a full disk leaves the old cache as it was. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/h5util.h"
#include "io/publish.h"
#include "w2s/io.h"
#include "w2s/rng.h"

static void group_name(const char *key, char *out, size_t len) {
  snprintf(out, len, "k%016llx",
           (unsigned long long)w2s_rng_stream_of(key, 0x6361636865ULL));
}

static w2s_err get_local(w2s_ctx *ctx, const char *path, const char *key,
                         double *params, int64_t n, int *found) {
  *found = 0;
  if (access(path, F_OK) != 0) return W2S_OK;
  if (H5Fis_hdf5(path) <= 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "pretrain cache '%s' exists but is not an HDF5 file", path);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_file_locking(fapl, 0, 1);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f < 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "cannot open pretrain cache '%s'",
                    path);
  char g[32], stored[1024];
  group_name(key, g, sizeof g);
  w2s_err e = W2S_OK;
  if (H5Lexists(f, g, H5P_DEFAULT) > 0) {
    hid_t grp = H5Gopen2(f, g, H5P_DEFAULT);
    w2s_err ke = w2s_h5_read_attr_str(ctx, grp, "key", stored, sizeof stored,
                                      path);
    ctx->err = W2S_OK; /* a damaged entry is a miss, not a failure */
    if (!ke && strcmp(stored, key) == 0 &&
        H5Lexists(grp, "params", H5P_DEFAULT) > 0) {
      hid_t d = H5Dopen2(grp, "params", H5P_DEFAULT);
      hid_t sp = H5Dget_space(d);
      hssize_t len = H5Sget_simple_extent_npoints(sp);
      if (len == n && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL,
                              H5P_DEFAULT, params) >= 0)
        *found = 1;
      H5Sclose(sp);
      H5Dclose(d);
    }
    H5Gclose(grp);
  }
  H5Fclose(f);
  return e;
}

w2s_err w2s_cache_get(w2s_ctx *ctx, const char *path, const char *key,
                      double *params, int64_t n, int *found) {
  w2s_h5_quiet();
  w2s_err e = ctx->rank == 0 ? get_local(ctx, path, key, params, n, found)
                             : W2S_OK;
  W2S_CALL(w2s_agree(ctx, e));
  if (ctx->comm == MPI_COMM_NULL || ctx->size == 1) return W2S_OK;
  W2S_CALL(w2s_bcast_bytes(ctx, found, sizeof *found, 0));
  if (*found)
    W2S_CALL(w2s_bcast_bytes(ctx, params, (int64_t)sizeof(double) * n, 0));
  return W2S_OK;
}

/* The open in-memory file f as an image written to tmp (*written set once
 * tmp exists); f is closed either way. */
static w2s_err save_image(w2s_ctx *ctx, hid_t f, w2s_err e, const char *tmp,
                          const char *path, int *written) {
  ssize_t n = -1;
  char *buf = NULL;
  if (!e && H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0)
    n = H5Fget_file_image(f, NULL, 0);
  if (!e && n <= 0)
    e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot build the file image", path);
  if (!e) e = W2S_ALLOC(ctx, buf, n);
  if (!e && H5Fget_file_image(f, buf, (size_t)n) != n)
    e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot build the file image", path);
  if (H5Fclose(f) < 0 && !e) /* memory only */
    e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot close", path);
  if (!e) e = w2s_write_image(ctx, tmp, buf, (size_t)n, path);
  *written = !e;
  free(buf);
  return e;
}

static w2s_err put_local(w2s_ctx *ctx, const char *path, const char *key,
                         const double *params, int64_t n) {
  char tmp[PATH_MAX + 64];
  if (w2s_partial_name(path, (long)getpid(), tmp, sizeof tmp) != 0)
    return W2S_FAIL(ctx, W2S_ERR_IO, "pretrain cache '%s': path too long",
                    path);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_file_locking(fapl, 0, 1);
  /* Core driver without backing store: an existing cache is read into
   * memory and never written in place. */
  H5Pset_fapl_core(fapl, (size_t)1 << 20, 0);
  hid_t f = access(path, F_OK) == 0
                ? H5Fopen(path, H5F_ACC_RDWR, fapl)
                : H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (f < 0)
    return W2S_FAIL(ctx, W2S_ERR_IO, "cannot write pretrain cache '%s'", path);
  char g[32];
  group_name(key, g, sizeof g);
  if (H5Lexists(f, g, H5P_DEFAULT) > 0) H5Ldelete(f, g, H5P_DEFAULT);
  hid_t grp = H5Gcreate2(f, g, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  w2s_err e = grp < 0
                  ? W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create group", path)
                  : W2S_OK;
  if (!e)
    e = w2s_h5_write(ctx, grp,
                     &(w2s_h5_dataset){"params",
                                       H5T_NATIVE_DOUBLE,
                                       1,
                                       {n},
                                       params},
                     0, path);
  if (!e) e = w2s_h5_attr_str(ctx, grp, "key", key, path);
  if (grp >= 0) H5Gclose(grp);
  int written = 0;
  e = save_image(ctx, f, e, tmp, path, &written);
  /* Replacing is the point: the new image holds the old entries too. */
  if (!e) e = w2s_publish(ctx, tmp, path, 1);
  if (e && written) unlink(tmp);
  return e;
}

w2s_err w2s_cache_put(w2s_ctx *ctx, const char *path, const char *key,
                      const double *params, int64_t n) {
  w2s_h5_quiet();
  w2s_err e = ctx->rank == 0 ? put_local(ctx, path, key, params, n) : W2S_OK;
  return w2s_agree(ctx, e);
}
