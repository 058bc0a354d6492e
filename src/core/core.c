/* Context, errors, logging and timers. */
#include "w2s/core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct {
  int code;
  const char *name, *text;
} w2s_err_table[] = {
#define W2S_X_ROW(name, code, text) {code, #name, text},
    W2S_ERRORS(W2S_X_ROW)
#undef W2S_X_ROW
};

/* This rank's physical memory in bytes (0: unknown). W2S_TEST_NODE_MEMORY=
 * "GIB@R" makes rank R report GIB GiB instead: a testing aid to stand for
 * one small node in a mixed allocation (docs/RELIABILITY.md). */
static double node_memory(const w2s_ctx *ctx) {
  const char *fake = getenv("W2S_TEST_NODE_MEMORY");
  if (fake && *fake) {
    char *end = NULL;
    double gib = strtod(fake, &end);
    if (end != fake && *end == '@' && strtol(end + 1, NULL, 10) == ctx->rank &&
        gib > 0.0)
      return gib * 1073741824.0;
  }
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? (double)pages * (double)size : 0.0;
}

w2s_err w2s_check_memory(w2s_ctx *ctx, double bytes, const char *fmt, ...) {
  /* The largest estimate against the smallest node, over all ranks, so that
   * every rank refuses or none does (ranks on nodes of different sizes
   * would otherwise split: some refuse, the others enter a collective). */
  double node = node_memory(ctx);
  double v[2] = {bytes, node > 0.0 ? -node : -HUGE_VAL};
  W2S_CALL(w2s_max(ctx, v, 2));
  bytes = v[0];
  node = -v[1];
  if (!(node < HUGE_VAL) || bytes <= node) return W2S_OK;
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return W2S_FAIL(ctx, W2S_ERR_INPUT,
                  "%s needs about %.3g GiB per rank, more than the %.3g GiB "
                  "of memory of the smallest node",
                  what, bytes / 1073741824.0, node / 1073741824.0);
}

int w2s_err_exit_code(w2s_err e) {
  return (e >= 0 && e < W2S_ERR_COUNT) ? w2s_err_table[e].code : 1;
}
const char *w2s_err_name(w2s_err e) {
  return (e >= 0 && e < W2S_ERR_COUNT) ? w2s_err_table[e].name : "?";
}
const char *w2s_err_text(w2s_err e) {
  return (e >= 0 && e < W2S_ERR_COUNT) ? w2s_err_table[e].text : "?";
}

double w2s_wtime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* W2S_FAIL_ALLOC="N" or "N@R" (testing aid, docs/RELIABILITY.md): the Nth
 * w2s_alloc_at call with this context fails, on rank R only or on every
 * rank; anything else leaves allocation alone. */
static void parse_fail_alloc(w2s_ctx *ctx) {
  ctx->fail_alloc_rank = -1;
  const char *v = getenv("W2S_FAIL_ALLOC"), *c = getenv("W2S_FAIL_ALLOC_COUNT");
  if (c && (!strcmp(c, "1") || !strcmp(c, "2")))
    ctx->print_alloc_count = c[0] - '0';
  if (!v || !*v) return;
  char *end = NULL;
  long long n = strtoll(v, &end, 10);
  long r = -1;
  if (*end == '@') r = strtol(end + 1, &end, 10);
  if (*end || n < 1) return;
  ctx->fail_alloc_at = n;
  ctx->fail_alloc_rank = (int)r;
}

w2s_err w2s_ctx_create(MPI_Comm comm, int verbosity, w2s_ctx **out) {
  w2s_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return W2S_ERR_MEMORY;
  ctx->comm = MPI_COMM_NULL;
  ctx->size = 1;
  if (comm != MPI_COMM_NULL) {
    if (MPI_Comm_dup(comm, &ctx->comm) != MPI_SUCCESS) {
      free(ctx);
      return W2S_ERR_MPI;
    }
    MPI_Comm_rank(ctx->comm, &ctx->rank);
    MPI_Comm_size(ctx->comm, &ctx->size);
  }
  ctx->verbosity = verbosity;
  ctx->stderr_tty = isatty(STDERR_FILENO);
  parse_fail_alloc(ctx);
  ctx->t0 = w2s_wtime();
  *out = ctx;
  return W2S_OK;
}

void w2s_ctx_destroy(w2s_ctx **ctx) {
  if (!ctx || !*ctx) return;
  if ((*ctx)->print_alloc_count)
    fprintf(stderr, "w2s: rank %d made %lld allocations\n", (*ctx)->rank,
            (long long)(*ctx)->alloc_calls);
  if ((*ctx)->comm != MPI_COMM_NULL) MPI_Comm_free(&(*ctx)->comm);
  free(*ctx);
  *ctx = NULL;
}

w2s_err w2s_fail_at(w2s_ctx *ctx, w2s_err code, const char *file, int line,
                    const char *fmt, ...) {
  if (ctx && ctx->err == W2S_OK) {
    ctx->err = code;
    ctx->err_file = file;
    ctx->err_line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

void *w2s_alloc_at(w2s_ctx *ctx, size_t count, size_t elem, const char *file,
                   int line) {
  if (count == 0) count = 1;
  if (elem == 0) elem = 1;
  if (count > SIZE_MAX / elem) {
    w2s_fail_at(ctx, W2S_ERR_MEMORY, file, line,
                "allocation of %zu x %zu bytes overflows", count, elem);
    return NULL;
  }
  /* An injected failure looks exactly like calloc returning NULL. */
  int inject = 0;
  if (ctx) {
    ++ctx->alloc_calls;
    if (ctx->print_alloc_count == 2) /* every call's site, for a test's sweep */
      fprintf(stderr, "w2s: rank %d allocation %lld at %s:%d\n", ctx->rank,
              (long long)ctx->alloc_calls, file, line);
    inject = ctx->alloc_calls == ctx->fail_alloc_at &&
             (ctx->fail_alloc_rank < 0 || ctx->fail_alloc_rank == ctx->rank);
  }
  void *p = inject ? NULL : calloc(count, elem);
  if (!p)
    w2s_fail_at(ctx, W2S_ERR_MEMORY, file, line,
                "out of memory allocating %.3g MiB on rank %d",
                (double)count * (double)elem / 1048576.0, ctx ? ctx->rank : -1);
  return p;
}

w2s_err w2s_agree_all(w2s_ctx *ctx, w2s_err local) {
  if (local != W2S_OK && ctx->err == W2S_OK) {
    ctx->err = local;
    snprintf(ctx->msg, sizeof ctx->msg, "%s", w2s_err_text(local));
  }
  if (ctx->comm == MPI_COMM_NULL) return local;
  /* Lowest failing rank wins, so every rank reports the same message. */
  int mine = (local != W2S_OK) ? ctx->rank : ctx->size, first = ctx->size;
  if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, ctx->comm) !=
      MPI_SUCCESS)
    return W2S_ERR_MPI;
  if (first == ctx->size) return W2S_OK;
  int code = (int)local;
  MPI_Bcast(&code, 1, MPI_INT, first, ctx->comm);
  MPI_Bcast(ctx->msg, W2S_MSG_LEN, MPI_CHAR, first, ctx->comm);
  ctx->msg[W2S_MSG_LEN - 1] = '\0';
  ctx->err = (w2s_err)code;
  return (w2s_err)code;
}

void w2s_log(const w2s_ctx *ctx, int level, const char *fmt, ...) {
  if (!ctx || ctx->rank != 0 || ctx->verbosity < level) return;
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s[w2s %8.2fs] %s\n", ctx->stderr_tty ? "\r\033[K" : "",
          w2s_wtime() - ctx->t0, line);
  fflush(stderr);
}

void w2s_progress(const w2s_ctx *ctx, const char *what, double frac) {
  if (!ctx || ctx->rank != 0 || !ctx->stderr_tty || ctx->verbosity < 1) return;
  fprintf(stderr, "\r\033[K[w2s %8.2fs] %s %5.1f%%", w2s_wtime() - ctx->t0,
          what, 100.0 * frac);
  fflush(stderr);
}

int w2s_timer_find(const w2s_ctx *ctx, const char *name) {
  for (int t = 0; t < ctx->timers.n; ++t)
    if (!strcmp(ctx->timers.name[t], name)) return t;
  return -1;
}
w2s_err w2s_timers_define(w2s_ctx *ctx, int n, const char *const *names) {
  if (n < 0 || n > W2S_TIMERS_MAX)
    return W2S_FAIL(ctx, W2S_ERR_INTERNAL, "%d timers: at most %d", n,
                    W2S_TIMERS_MAX);
  for (int i = 0; i < n; ++i)
    if (!names[i] || !names[i][0] || strlen(names[i]) >= W2S_TIMER_NAME_LEN)
      return W2S_FAIL(ctx, W2S_ERR_INTERNAL,
                      "timer name '%s': empty or too "
                      "long",
                      names[i] ? names[i] : "");
  memset(&ctx->timers, 0, sizeof ctx->timers);
  for (int i = 0; i < n; ++i)
    snprintf(ctx->timers.name[i], W2S_TIMER_NAME_LEN, "%s", names[i]);
  ctx->timers.n = n;
  return W2S_OK;
}
int w2s_timer_add(w2s_ctx *ctx, const char *name) {
  int t = w2s_timer_find(ctx, name);
  if (t >= 0 || ctx->timers.n == W2S_TIMERS_MAX || !name[0] ||
      strlen(name) >= W2S_TIMER_NAME_LEN)
    return t;
  t = ctx->timers.n++;
  snprintf(ctx->timers.name[t], W2S_TIMER_NAME_LEN, "%s", name);
  ctx->timers.acc[t] = ctx->timers.start[t] = 0.0;
  return t;
}
void w2s_timers_reset(w2s_ctx *ctx) {
  memset(ctx->timers.acc, 0, sizeof ctx->timers.acc);
  memset(ctx->timers.start, 0, sizeof ctx->timers.start);
}
void w2s_timer_start(w2s_ctx *ctx, int t) {
  if (t >= 0 && t < ctx->timers.n) ctx->timers.start[t] = w2s_wtime();
}
void w2s_timer_stop(w2s_ctx *ctx, int t) {
  if (t >= 0 && t < ctx->timers.n)
    ctx->timers.acc[t] += w2s_wtime() - ctx->timers.start[t];
}
double w2s_timer_seconds(const w2s_ctx *ctx, int t) {
  return t >= 0 && t < ctx->timers.n ? ctx->timers.acc[t] : 0.0;
}
w2s_err w2s_timers_max(w2s_ctx *ctx, w2s_timers *out) {
  *out = ctx->timers;
  return w2s_max(ctx, out->acc, out->n);
}
