/* Shared by the HDF5 fuzz targets: the input bytes as a file on disk. */
#ifndef W2S_FUZZ_H5_H
#define W2S_FUZZ_H5_H

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static inline int fuzz_write_file(const uint8_t *data, size_t size, char *path,
                                  size_t len) {
  snprintf(path, len, "/tmp/w2s-fuzz-%d.h5", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  return 1;
}

#endif
