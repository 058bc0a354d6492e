/* Which BLAS runs (see blas.h). OpenBLAS's query functions are found with
 * dlsym so that a build against another BLAS still links and reports
 * "unknown" instead of failing. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "w2s/blas.h"

typedef char *(*str_fn)(void);
typedef int (*int_fn)(void);

static void *lookup(const char *name) { return dlsym(RTLD_DEFAULT, name); }

static void cpu_isa(char *out, size_t len) {
  __builtin_cpu_init();
  const char *isa = "sse";
  if (__builtin_cpu_supports("avx512f"))
    isa = "avx512";
  else if (__builtin_cpu_supports("avx2"))
    isa = "avx2";
  else if (__builtin_cpu_supports("avx"))
    isa = "avx";
  snprintf(out, len, "%s", isa);
}

void w2s_blas_query(w2s_blas_info *b) {
  memset(b, 0, sizeof *b);
  b->threads = -1;
  cpu_isa(b->cpu, sizeof b->cpu);
  snprintf(b->library, sizeof b->library, "unknown");
  /* Object pointers to function pointers: the POSIX dlsym idiom. */
  str_fn corename = NULL, config = NULL;
  int_fn nthreads = NULL;
  void *p = lookup("openblas_get_corename");
  memcpy(&corename, &p, sizeof p);
  p = lookup("openblas_get_config");
  memcpy(&config, &p, sizeof p);
  p = lookup("openblas_get_num_threads");
  memcpy(&nthreads, &p, sizeof p);
  if (!corename) return;
  snprintf(b->library, sizeof b->library, "OpenBLAS");
  const char *core = corename();
  snprintf(b->kernel, sizeof b->kernel, "%s", core ? core : "");
  if (config) {
    const char *c = config();
    snprintf(b->config, sizeof b->config, "%s", c ? c : "");
    /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ...": the version is the second word. */
    const char *v = strchr(b->config, ' ');
    if (v) {
      size_t n = strcspn(v + 1, " ");
      if (n >= sizeof b->version) n = sizeof b->version - 1;
      memcpy(b->version, v + 1, n);
      b->version[n] = '\0';
    }
  }
  if (nthreads) b->threads = nthreads();
}

void w2s_blas_describe(const w2s_blas_info *b, char *buf, size_t len) {
  char thr[32] = "threads unknown";
  if (b->threads >= 0)
    snprintf(thr, sizeof thr, "%d thread%s", b->threads,
             b->threads == 1 ? "" : "s");
  snprintf(buf, len, "%s%s%s, kernel %s, %s, CPU %s", b->library,
           b->version[0] ? " " : "", b->version,
           b->kernel[0] ? b->kernel : "unknown", thr, b->cpu);
}

/* OpenBLAS's generic x86 cores: SSE2/SSE3 kernels without AVX. */
static int is_generic(const char *kernel) {
  static const char *const generic[] = {"Prescott",   "Core2",      "Penryn",
                                        "Dunnington", "Nehalem",    "Atom",
                                        "Katmai",     "Coppermine", "Northwood",
                                        "Banias",     "Opteron",    "Barcelona",
                                        "Generic"};
  for (size_t i = 0; i < sizeof generic / sizeof *generic; ++i)
    if (!strcasecmp(kernel, generic[i])) return 1;
  return 0;
}

int w2s_blas_generic_kernel(const w2s_blas_info *b, char *buf, size_t len) {
  if (strcmp(b->library, "OpenBLAS") != 0 || !is_generic(b->kernel)) return 0;
  /* The slow-downs measured in docs/BENCHMARKS.md (DGEMM per core). */
  const char *fix = NULL, *slower = NULL;
  if (!strcmp(b->cpu, "avx512"))
    fix = "SkylakeX", slower = "4-7x";
  else if (!strcmp(b->cpu, "avx2"))
    fix = "Haswell", slower = "~4x";
  if (!fix) return 0;
  snprintf(buf, len,
           "OpenBLAS %s runs its generic '%s' kernels on this %s CPU (it did "
           "not recognise the CPU, or OPENBLAS_CORETYPE asked for them): "
           "DGEMM measured %s slower than with OPENBLAS_CORETYPE=%s; set "
           "OPENBLAS_CORETYPE=%s in the job's environment",
           b->version, b->kernel, b->cpu, slower, fix, fix);
  return 1;
}

void w2s_blas_warn(const w2s_ctx *ctx, const char *cmd) {
  if (!ctx || ctx->rank != 0 || ctx->verbosity < 1) return;
  w2s_blas_info b;
  char msg[512];
  w2s_blas_query(&b);
  if (w2s_blas_generic_kernel(&b, msg, sizeof msg))
    fprintf(stderr, "w2s %s: warning: %s\n", cmd, msg);
}
