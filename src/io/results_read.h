/* Private to src/io: the phases of the results reader (results_read.c)
 * and its consistency checks (results_check.c). All local. */
#ifndef W2S_RESULTS_READ_H
#define W2S_RESULTS_READ_H

#include <hdf5.h>

#include "w2s/io.h"

/* A 1-D dataset to read: its name (relative to the file), the class it
 * must have and the memory type its values are read as. */
typedef struct {
  const char *name;
  H5T_class_t cls;
  hid_t mtype;
} w2s_read_spec;

/* Local: dataset s of f into a calloc'ed *data (the caller frees it, on
 * failure too); *n >= 0 is the length it must have, else it is set.
 * W2S_ERR_INPUT names path and the dataset; W2S_ERR_MEMORY. */
w2s_err w2s_read_1d(w2s_ctx *ctx, hid_t f, const w2s_read_spec *s, int64_t *n,
                    void **data, const char *path);

/* The stored identity against its hash (of the file's format version) and
 * against r->config_text: a damaged or edited identity is refused. */
w2s_err w2s_read_identity(w2s_ctx *ctx, hid_t f, w2s_results *r,
                          const char *path);
/* The metrics against each other (docs/FORMAT.md "Checksums and internal
 * consistency"); a check whose metrics the file does not all hold is
 * skipped. */
w2s_err w2s_check_metric_identities(w2s_ctx *ctx, const w2s_results *r,
                                    const char *path);

#endif
