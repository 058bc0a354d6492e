/* io: serialisation. The results file (a w2s_results record, results.h,
 * to and from HDF5), the features file `w2s fit` reads and the
 * pre-training cache. The only module that calls HDF5. Layout:
 * docs/FORMAT.md.
 *
 * Collective functions are called by every rank of ctx->comm, which all
 * get the same status (rank 0 does the file work of the writers); local
 * ones need no MPI. Errors carry one line in ctx naming the file and the
 * dataset or attribute: W2S_ERR_INPUT for a bad input file, W2S_ERR_IO for
 * a failed write, W2S_ERR_USAGE for an output refused as asked,
 * W2S_ERR_MEMORY. */
#ifndef W2S_IO_H
#define W2S_IO_H

#include <stddef.h>
#include <stdint.h>

#include "w2s/core.h"
#include "w2s/results.h"

/* The results file's layout version (docs/FORMAT.md); the reader also
 * takes W2S_FORMAT_OLDEST .. W2S_FORMAT_VERSION - 1. */
enum { W2S_FORMAT_VERSION = 3, W2S_FORMAT_OLDEST = 2 };

/* The root attributes of w2s_results.blas, in its order (static
 * strings). */
extern const char *const w2s_results_blas_attr[5];
/* What two results files must share to hold points of one experiment: the
 * canonical configuration (w2s_identity_config), the sweep keys and grid,
 * and (in the hash) the format version. Borrowed pointers. */
typedef struct {
  const char *config;
  int nkeys;
  int64_t npoints;
  const char (*keys)[128];
  const char (*values)[128]; /* npoints x nkeys */
  uint64_t hash;             /* w2s_identity_hash */
} w2s_identity;

/* Local: the effective INI text without comments, blank lines, the
 * [sweep] section (the grid stands for it) and [output] path; malloc'ed,
 * NULL when out of memory. */
char *w2s_identity_config(const char *effective);
/* Local: 64-bit FNV-1a of the format version W2S_FORMAT_VERSION, id->config,
 * keys and grid (id->hash is not read); w2s_identity_hash_of takes the
 * version (a file of an older one). */
uint64_t w2s_identity_hash(const w2s_identity *id);
uint64_t w2s_identity_hash_of(const w2s_identity *id, int format_version);
/* Local: 0 when a and b are one experiment, else 1 and `why` names the
 * first difference, labelling each side ("experiment.seed = '9' LA, '1'
 * LB", a swept key, a grid value). */
int w2s_identity_differs(const w2s_identity *a, const w2s_identity *b,
                         const char *la, const char *lb, char *why, size_t len);
/* Local: the identity a reader stored in r (pointers into r, valid while
 * r is). Its hash is of r->format_version. */
w2s_identity w2s_results_identity(const w2s_results *r);

/* Collective (io/publish.c): refuse early (exit 2), before any compute, an
 * output that could not be written and published as asked: an empty path,
 * one of W2S_PATH_LEN characters or more, a file name over 255 characters,
 * a missing or unwritable directory, an existing file without force, and
 * with force anything but a regular file (a directory, device, FIFO,
 * socket, or a link to one). */
w2s_err w2s_output_check(w2s_ctx *ctx, const char *path, int force);
/* Local: the longest path MPI-IO can open in a job of `size` ranks. Open
 * MPI 4.1's sharedfp/lockedfile component formats PATH ".locktest." RANK
 * into 256 bytes on every open and aborts the job ("buffer overflow
 * detected") beyond: 244 characters below 10 ranks (measured: 244 opens,
 * 245 aborts). Only inputs are opened with MPI-IO (outputs are written by
 * rank 0 alone). */
size_t w2s_mpio_path_max(int size);
/* Collective: refuse (exit 2) an output that is one of the command's input
 * files under any spelling (same device and inode). */
w2s_err w2s_output_not_input(w2s_ctx *ctx, const char *path,
                             const char *const *inputs, int n);
/* A sweep's grid, for the results file: keys and npoints x nkeys values. */
typedef struct {
  int nkeys;
  int64_t npoints;
  const char (*keys)[128];
  const char (*values)[128];
  const char *index_name;          /* the /metrics dataset of the point index:
                                      "sweep" (NULL) or "repeat" */
  const int64_t *point_ids;        /* global grid index of each written point
                                      (NULL: 0, 1, ...); a point's own pair_sweep
                                      wins when it has one (merged files) */
  int metrics_only;                /* no per-point groups (w2s merge) */
  const char *const *source_files; /* merge: the file each point came from */
} w2s_sweep_desc;

/* Where a results file goes and the provenance its root carries (all
 * borrowed for the call). */
typedef struct {
  const char *path;
  int force;               /* replace an existing regular file */
  const char *config_text; /* the effective configuration */
  const char *command_line;
} w2s_results_output;

/* Collective: write the points pts[0..npts) (borrowed; every table metric
 * each holds, the timers of pts[0] summed over the points by name) to
 * out->path with out's configuration and command line as provenance, in
 * the current format version. Writes to a temporary name next to the path
 * (its disk space reserved first), then renames it to the path, never over
 * a file that appeared meanwhile unless out->force (and then only over a
 * regular file); nothing is left under either name on failure, and a
 * SIGTERM or SIGINT received while writing stops the publication. One file
 * for one run (npts = 1, sw = NULL) or for several runs (sweep points):
 * /metrics holds every point's pairs with a `sweep` index; each point's
 * coefficients and representations go under /sweep/point_<i>; /sweep/keys
 * and /sweep/values describe the grid. sw == NULL with one point is the
 * plain layout. Errors: those of w2s_output_check; W2S_ERR_IO (naming the
 * file) for a write, a full disk, a publication or a signal;
 * W2S_ERR_MEMORY. */
w2s_err w2s_results_write_sweep(w2s_ctx *ctx, w2s_results *const *pts,
                                int64_t npts, const w2s_sweep_desc *sw,
                                const w2s_results_output *out);
/* Local: read the metrics, pair labels, sweep grid, identity and
 * provenance of a results file of format version W2S_FORMAT_OLDEST ..
 * W2S_FORMAT_VERSION (coefficients, representations, curves and timings
 * are not read). A table metric the file does not hold (an older file) is
 * absent in the record (metric[m] == NULL); a metric the file holds but
 * this build's table does not know is skipped. Errors (W2S_ERR_INPUT, one
 * line naming path and the dataset or attribute): not HDF5, not a w2s
 * results file, an unsupported format version, a missing, mistyped,
 * misshapen, unwritten or checksum-damaged dataset, metrics that break
 * their identities (docs/FORMAT.md), a damaged identity; W2S_ERR_MEMORY.
 * *out is the caller's (w2s_results_destroy), NULL on failure. */
w2s_err w2s_results_read(w2s_ctx *ctx, const char *path, w2s_results **out);

/* Collective (rank 0 reads, every rank calls the writer; io/merge.c):
 * sweep-point files of ONE experiment (equal stored identities:
 * configuration without [output] path, sweep keys and grid, format
 * version; no point twice) into one results file `out`, published like
 * w2s_results_write_sweep: their metrics with the sweep point and the
 * source file of every pair (/metrics/source_file, /merge/files).
 * Coefficients stay in the point files. Runs on one rank: a communicator
 * of several ranks is W2S_ERR_USAGE. Errors: those of w2s_output_check,
 * w2s_output_not_input, w2s_results_read and w2s_results_write_sweep;
 * W2S_ERR_INPUT for a file that is not a sweep point file, files of
 * different experiments (naming the first difference) or a point held by
 * two files. */
w2s_err w2s_merge_files(w2s_ctx *ctx, const char *const *paths, int n,
                        const char *out, int force, const char *command_line);

/* Collective: a cache of named parameter vectors in an HDF5 file (rank 0
 * reads or writes it, the result is broadcast). A missing file or key is a
 * miss (*found = 0); a file that is not HDF5 is W2S_ERR_INPUT, a failed
 * write W2S_ERR_IO. params (n values) is the caller's. */
w2s_err w2s_cache_get(w2s_ctx *ctx, const char *path, const char *key,
                      double *params, int64_t n, int *found);
w2s_err w2s_cache_put(w2s_ctx *ctx, const char *path, const char *key,
                      const double *params, int64_t n);
/* A features file (`w2s fit` input, docs/FORMAT.md): /labels [n] (float
 * values, or integer class ids) or [n, C] (float class probabilities),
 * /strong [n, d_s], /weak/NAME [n, d_w], /weak_predictions/NAME [n],
 * /split [n] (int, optional). Opened collectively with parallel HDF5; every
 * rank reads only its own rows. */
typedef struct w2s_features w2s_features;

/* What /labels holds (w2s_features_label_kind): float values [n] (the
 * squared loss), integer class ids [n] or float probabilities [n, C]. */
enum { W2S_LABELS_VALUES, W2S_LABELS_CLASS_IDS, W2S_LABELS_PROBS };

/* Collective: open and validate every dataset's presence, type and shape
 * (W2S_ERR_INPUT naming the dataset). *out is the caller's
 * (w2s_features_close, collective); NULL on failure. */
w2s_err w2s_features_open(w2s_ctx *ctx, const char *path, w2s_features **out);
void w2s_features_close(w2s_features **f);
/* Local accessors; strings are owned by f. */
int64_t w2s_features_rows(const w2s_features *f);
int64_t w2s_features_strong_dim(const w2s_features *f);
int w2s_features_nweak(const w2s_features *f);
const char *w2s_features_weak_name(const w2s_features *f, int j);
/* 0 when weak model j is given by predictions only. */
int64_t w2s_features_weak_dim(const w2s_features *f, int j);
int w2s_features_has_predictions(const w2s_features *f, int j);
int w2s_features_has_split(const w2s_features *f);
const char *w2s_features_path(const w2s_features *f);
/* W2S_LABELS_*; the columns of /labels (C for probabilities, else 1). */
int w2s_features_label_kind(const w2s_features *f);
int64_t w2s_features_label_cols(const w2s_features *f);

/* Where w2s_features_read puts a block of m rows: column-major m-row
 * arrays, the caller's. Any member may be NULL (that dataset is not read). */
typedef struct {
  double *labels;      /* m: 1-D /labels (class ids converted to double, exact
                        * below 2^53); left untouched for probabilities */
  double *strong;      /* m x d_s */
  double **weak;       /* weak[j] m x d_w(j); NULL entries are not read */
  double *pred;        /* m x nweak; columns of models without predictions
                        * are left untouched */
  int *split;          /* m values */
  double *label_probs; /* m x C: 2-D /labels only (else left untouched) */
} w2s_features_block;

/* Collective (every rank calls it equally often; m may be 0): rows
 * [row0, row0 + m) into the arrays of out. W2S_ERR_INPUT naming the file,
 * dataset and rows when a read fails (agreed), W2S_ERR_MEMORY. */
w2s_err w2s_features_read(w2s_ctx *ctx, w2s_features *f, int64_t row0,
                          int64_t m, const w2s_features_block *out);

#endif
