/* Private to src/io: small HDF5 helpers. */
#ifndef W2S_H5UTIL_H
#define W2S_H5UTIL_H

#include <hdf5.h>
#include <stdint.h>

#include "w2s/core.h"

/* Silence HDF5's own error stack printing: we report one line instead. */
void w2s_h5_quiet(void);

/* One dataset to write: its name under the location, element type, rank
 * (1 or 2), shape (dims[1] only for rank 2, row-major) and the data (the
 * caller's, only read). */
typedef struct {
  const char *name;
  hid_t type;
  int rank;
  int64_t dims[2];
  const void *data;
} w2s_h5_dataset;

/* Create dataset d under loc and write it (numbers chunked with checksums).
 * In parallel (collective == 1) every rank calls this with the same
 * arguments and rank 0 provides the data; other ranks select nothing.
 * W2S_ERR_IO naming path and d->name. */
w2s_err w2s_h5_write(w2s_ctx *ctx, hid_t loc, const w2s_h5_dataset *d,
                     int collective, const char *path);
w2s_err w2s_h5_attr_int(w2s_ctx *ctx, hid_t loc, const char *name, hid_t type,
                        const void *value, const char *path);
/* Variable-length UTF-8 string attribute (serial files only). */
w2s_err w2s_h5_attr_str(w2s_ctx *ctx, hid_t loc, const char *name,
                        const char *value, const char *path);
/* Variable-length UTF-8 string dataset (serial files only). */
w2s_err w2s_h5_write_strings(w2s_ctx *ctx, hid_t loc, const char *name,
                             const char *const *strs, int64_t n,
                             const char *path);
/* The same, rows x cols (row-major). */
w2s_err w2s_h5_write_strings_2d(w2s_ctx *ctx, hid_t loc, const char *name,
                                const char *const *strs, int64_t rows,
                                int64_t cols, const char *path);
/* Chunks larger than this (bytes) are refused by w2s_h5_check_written:
 * HDF5 reads and clears whole chunks, h5py's automatic chunks are <= 1 MiB. */
#define W2S_H5_MAX_CHUNK (256.0 * 1048576.0)
/* A dataset with elements whose storage is not (fully) allocated was
 * declared but not (completely) written: reading it would return fill values
 * as if they were data, or spend hours on a huge declared shape. Refused,
 * as are chunks over W2S_H5_MAX_CHUNK. */
w2s_err w2s_h5_check_written(w2s_ctx *ctx, hid_t d, hid_t space,
                             const char *name, const char *path);
/* Read a string attribute (fixed or variable length) into buf. */
w2s_err w2s_h5_read_attr_str(w2s_ctx *ctx, hid_t loc, const char *name,
                             char *buf, size_t len, const char *path);

#endif
