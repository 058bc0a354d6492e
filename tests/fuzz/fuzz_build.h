/* Structured HDF5 fuzzing, shared by fuzz_features.c and fuzz_results.c.
 *
 * The fuzzer's bytes are not an HDF5 file but a recipe for one: for every
 * dataset and attribute the reader looks for (a "slot"), the bytes choose
 * whether it is there, its type (the expected one or a wrong one), its rank,
 * its shape (consistent with the others, a different small size, or a huge
 * declared size with nothing written) and its values (ordinary numbers, 0,
 * -1, NaN, +-Inf, extremes, raw bit patterns; strings of arbitrary bytes).
 * The file is then written with HDF5's own API, so HDF5 only ever parses
 * well-formed files and what is explored is w2s's validation and reading.
 * Mutated raw files (which mostly exercise HDF5's own parser) are the _raw
 * targets' job; see docs/RELIABILITY.md.
 *
 * An all-zero recipe is a valid file: every slot present with the expected
 * type, rank and consistent shape, so the fuzzer starts deep in the reader. */
#ifndef W2S_FUZZ_BUILD_H
#define W2S_FUZZ_BUILD_H

#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  const uint8_t *p;
  size_t n, i;
} fz_bytes;

static uint8_t fz_u8(fz_bytes *b) { return b->i < b->n ? b->p[b->i++] : 0; }

static uint64_t fz_u64(fz_bytes *b) {
  uint64_t v = 0;
  for (int k = 0; k < 8; ++k) v = v << 8 | fz_u8(b);
  return v;
}

static double fz_double(fz_bytes *b) {
  switch (fz_u8(b) % 16) {
  case 8: return NAN;
  case 9: return INFINITY;
  case 10: return -INFINITY;
  case 11: return 1e308;
  case 12: return -1.0;
  case 13: return 5e-324;
  case 14: {
    uint64_t u = fz_u64(b);
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
  }
  case 15: return -1e300;
  default: return (double)(int8_t)fz_u8(b) / 16.0;
  }
}

static int64_t fz_int(fz_bytes *b) {
  switch (fz_u8(b) % 16) {
  case 8: return -1;
  case 9: return INT64_MAX;
  case 10: return INT64_MIN;
  case 11: return (int64_t)INT32_MAX + 1;
  case 12: return (int64_t)fz_u64(b);
  default: return fz_u8(b) % 4;
  }
}

/* A string of 0-31 arbitrary non-NUL bytes (vlen strings end at a NUL). */
static void fz_string(fz_bytes *b, char *out, const char *usual) {
  uint8_t len = fz_u8(b);
  if (len < 128) { /* mostly the expected text */
    snprintf(out, 64, "%s", usual);
    return;
  }
  len %= 32;
  for (uint8_t k = 0; k < len; ++k) {
    uint8_t c = fz_u8(b);
    out[k] = (char)(c ? c : 'x');
  }
  out[len] = '\0';
}

enum { FZ_F64, FZ_I64, FZ_STR };

/* One dataset the reader looks for: its path, expected element kind and
 * shape in symbols: 'N' rows, 'C' columns, 'P' points (sizes drawn once per
 * file so that slots agree), '1' a single element. */
typedef struct {
  const char *name;
  int kind;
  const char *shape;
  const char *usual; /* FZ_STR: the expected text of its entries */
  int rare;          /* absent unless the recipe asks (a slot that is bad
                        whenever present, e.g. an invalid name) */
} fz_slot;

static hsize_t fz_huge(fz_bytes *b) {
  static const hsize_t h[] = {(hsize_t)INT32_MAX, (hsize_t)INT32_MAX + 2,
                              (hsize_t)UINT32_MAX + 2, (hsize_t)1 << 40,
                              (hsize_t)1 << 62};
  return h[fz_u8(b) % 5];
}

static hid_t fz_type(int kind) {
  if (kind == FZ_F64) return H5Tcopy(H5T_NATIVE_DOUBLE);
  if (kind == FZ_I64) return H5Tcopy(H5T_NATIVE_INT64);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

/* Write one slot into file f as the recipe says. */
static void fz_write_slot(fz_bytes *b, hid_t f, hid_t lcpl, const fz_slot *s,
                          const hsize_t sym[3]) {
  uint8_t mode = fz_u8(b) % 10;
  if (s->rare) mode = mode == 7 ? 0 : mode < 7 ? 7 : mode;
  if (mode == 7) return; /* absent */
  if (mode == 8) {       /* a group where a dataset belongs */
    hid_t g = H5Gcreate2(f, s->name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (g >= 0) H5Gclose(g);
    return;
  }
  int kind = s->kind;
  if (mode == 9) kind = (kind + 1 + fz_u8(b) % 2) % 3; /* the wrong kind */
  int rank = (int)strlen(s->shape);
  uint8_t rk = fz_u8(b) % 12;
  if (rk == 10) rank = rank - 1;
  if (rk == 11) rank = rank + 1;
  hsize_t dims[4] = {1, 1, 1, 1};
  int huge = 0;
  for (int k = 0; k < rank; ++k) {
    char c = k < (int)strlen(s->shape) ? s->shape[k] : '1';
    hsize_t usual = c == 'N'   ? sym[0]
                    : c == 'C' ? sym[1]
                    : c == 'P' ? sym[2]
                               : 1;
    uint8_t d = fz_u8(b);
    if (d < 200)
      dims[k] = usual;
    else if (d < 240)
      dims[k] = d % 6;
    else
      dims[k] = fz_huge(b), huge = 1;
  }
  hsize_t n = 1;
  for (int k = 0; k < rank; ++k)
    n = dims[k] && n > UINT64_MAX / dims[k] ? UINT64_MAX : n * dims[k];
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  if (sp < 0) return;
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (huge && rank > 0) { /* declared, not written: chunked, unallocated */
    hsize_t ch[4];
    for (int k = 0; k < rank; ++k)
      ch[k] = dims[k] < 64 && dims[k] ? dims[k] : 64;
    H5Pset_chunk(dcpl, rank, ch);
  }
  hid_t t = fz_type(kind);
  hid_t d = H5Dcreate2(f, s->name, t, sp, lcpl, dcpl, H5P_DEFAULT);
  if (d >= 0 && !huge && n > 0 && n <= 4096) {
    size_t sz = kind == FZ_STR ? sizeof(char *) : 8;
    void *buf = calloc((size_t)n, sz);
    char(*text)[64] = kind == FZ_STR ? calloc((size_t)n, 64) : NULL;
    if (buf && (kind != FZ_STR || text)) {
      for (hsize_t i = 0; i < n; ++i) {
        if (kind == FZ_F64)
          ((double *)buf)[i] = fz_double(b);
        else if (kind == FZ_I64)
          ((int64_t *)buf)[i] = fz_int(b);
        else {
          fz_string(b, text[i], s->usual ? s->usual : "a");
          ((char **)buf)[i] = text[i];
        }
      }
      H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    }
    free(buf);
    free(text);
  }
  if (d >= 0) H5Dclose(d);
  H5Tclose(t);
  H5Pclose(dcpl);
  H5Sclose(sp);
}

/* One attribute of the root group: expected kind or a wrong one, or absent. */
static void fz_write_attr(fz_bytes *b, hid_t f, const char *name, int kind,
                          const char *usual, int64_t usual_int) {
  uint8_t mode = fz_u8(b) % 8;
  if (mode == 6) return;
  if (mode == 7) kind = (kind + 1 + fz_u8(b) % 2) % 3;
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t t = fz_type(kind);
  hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) {
    if (kind == FZ_STR) {
      char text[64];
      fz_string(b, text, usual);
      const char *p = text;
      H5Awrite(a, t, &p);
    } else if (kind == FZ_I64) {
      int64_t v = mode < 4 ? usual_int : fz_int(b);
      H5Awrite(a, t, &v);
    } else {
      double v = fz_double(b);
      H5Awrite(a, t, &v);
    }
    H5Aclose(a);
  }
  H5Tclose(t);
  H5Sclose(sp);
}

/* Build the file the recipe describes at a per-process path; returns 0 if
 * HDF5 could not create it. Sizes: N 1-23 rows (12 for a zero byte, 0 for
 * 255), C 1-5 columns, P 1-4 points. */
static int fz_build(const uint8_t *data, size_t size, const fz_slot *slots,
                    int nslots, void (*attrs)(fz_bytes *b, hid_t f), char *path,
                    size_t len) {
  fz_bytes b = {data, size, 0};
  snprintf(path, len, "/tmp/w2s-fuzz-%d.h5", (int)getpid());
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) return 0;
  hsize_t sym[3];
  uint8_t n = fz_u8(&b);
  sym[0] = n == 255 ? 0 : 1 + (hsize_t)(n + 11) % 23;
  sym[1] = 1 + fz_u8(&b) % 5;
  sym[2] = 1 + fz_u8(&b) % 4;
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  for (int i = 0; i < nslots; ++i) fz_write_slot(&b, f, lcpl, &slots[i], sym);
  if (attrs) attrs(&b, f);
  H5Pclose(lcpl);
  H5Fclose(f);
  return 1;
}

#endif
