/* blas: which BLAS this process runs, for provenance and for the warning
 * about generic kernels. OpenBLAS built with DYNAMIC_ARCH picks its kernels
 * at start-up from the CPU it recognises; on a CPU it does not know it falls
 * back to generic SSE3 kernels ("Prescott"), several times slower and with
 * different rounding. Everything here is local (no MPI) and cannot fail:
 * nothing allocates, every result goes into the caller's struct or buffer
 * (strings cut short to fit, always terminated). The library's functions
 * are looked up at run time, so another BLAS reports "unknown". */
#ifndef W2S_BLAS_H
#define W2S_BLAS_H

#include <stddef.h>

#include "w2s/core.h"

typedef struct {
  char library[32]; /* "OpenBLAS", or "unknown" */
  char version[32]; /* e.g. "0.3.21"; "" when unknown */
  char kernel[32];  /* OpenBLAS's core name, e.g. "Haswell"; "" when unknown */
  char config[256]; /* openblas_get_config(): build options */
  int threads;      /* BLAS threads of this process; -1 when unknown */
  char cpu[16];     /* widest vector ISA the CPU has: avx512, avx2, avx, sse */
} w2s_blas_info;

/* Local. Fills *out for this process (the library, its version, kernel,
 * build configuration and thread count, and the CPU's widest vector ISA);
 * fields it cannot learn are "unknown", "" or -1 as above. */
void w2s_blas_query(w2s_blas_info *out);

/* Local: one line into buf (len bytes), e.g. "OpenBLAS 0.3.21, kernel
 * Haswell, 1 thread, CPU avx512" (the `blas` attribute of results files and
 * the BLAS line of `w2s --version`). */
void w2s_blas_describe(const w2s_blas_info *b, char *buf, size_t len);

/* Local: 1 (and the advice, one sentence naming the OPENBLAS_CORETYPE to
 * set, in buf of len bytes) when OpenBLAS runs a generic kernel on a CPU
 * that has AVX2 or AVX-512; 0 otherwise, buf untouched. */
int w2s_blas_generic_kernel(const w2s_blas_info *b, char *buf, size_t len);

/* Local, and harmless to call on every rank: only rank 0 of ctx, at
 * verbosity >= 1, prints the generic-kernel warning, if any, as
 * "w2s CMD: warning: ..." on stderr (ctx NULL prints nothing). Call once
 * per command. */
void w2s_blas_warn(const w2s_ctx *ctx, const char *cmd);

#endif
