/* core: the run context, error codes, logging, timers, the row partition and
 * the collective helpers. This is the only module that calls MPI; every
 * other module calls the helpers below.
 *
 * Collective (every rank of ctx->comm must call): w2s_ctx_create,
 * w2s_ctx_destroy, w2s_agree, w2s_agree_all, w2s_check_launch,
 * w2s_check_memory, w2s_sum, w2s_max, w2s_min_i64, w2s_sum_i64,
 * w2s_sum_u64, w2s_sum_bcast, w2s_bcast_*, w2s_allreduce_op, w2s_barrier,
 * w2s_timers_max, w2s_mpi_start/stop. On a local context (MPI_COMM_NULL)
 * w2s_agree, the reductions and w2s_barrier act on the one rank; the
 * broadcasts and w2s_allreduce_op need a communicator. Everything else is
 * local. */
#ifndef W2S_CORE_H
#define W2S_CORE_H

#include <mpi.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* One list makes the enum, the process exit code and the description, so
 * they cannot drift apart. Exit 2 = the user's input or usage; 1 = anything
 * else. */
#define W2S_ERRORS(X)                                                          \
  X(W2S_OK, 0, "success")                                                      \
  X(W2S_ERR_USAGE, 2, "bad usage")                                             \
  X(W2S_ERR_INPUT, 2, "bad input")                                             \
  X(W2S_ERR_IO, 1, "input/output failure")                                     \
  X(W2S_ERR_NUMERIC, 1, "numerical failure")                                   \
  X(W2S_ERR_MEMORY, 1, "out of memory")                                        \
  X(W2S_ERR_MPI, 1, "MPI failure")                                             \
  X(W2S_ERR_INTERNAL, 1, "internal error")

typedef enum {
#define W2S_X_ENUM(name, code, text) name,
  W2S_ERRORS(W2S_X_ENUM)
#undef W2S_X_ENUM
      W2S_ERR_COUNT
} w2s_err;

int w2s_err_exit_code(w2s_err e);
const char *w2s_err_name(w2s_err e);
const char *w2s_err_text(w2s_err e);

/* The build: PROJECT_VERSION of CMakeLists.txt, the short git revision of
 * the source tree at configure time ("unknown" outside git), the compiler. */
const char *w2s_version(void);
const char *w2s_git_revision(void);
const char *w2s_compiler(void);

/* Named timers. Core knows no phase names: the experiment defines its
 * phase list (w2s_timers_define), then times phases by index; the driver
 * (w2s/run.h) resets them per point and reads them with w2s_timers_max.
 * W2S_TIMERS_MAX phases of names shorter than W2S_TIMER_NAME_LEN. */
enum { W2S_TIMERS_MAX = 16, W2S_TIMER_NAME_LEN = 32 };

typedef struct {
  int n; /* defined timers: index 0 .. n-1 */
  char name[W2S_TIMERS_MAX][W2S_TIMER_NAME_LEN];
  double acc[W2S_TIMERS_MAX];   /* accumulated seconds on this rank */
  double start[W2S_TIMERS_MAX]; /* w2s_wtime() of the running start */
} w2s_timers;

enum { W2S_MSG_LEN = 1024 };

typedef struct w2s_ctx {
  MPI_Comm comm;
  int rank, size;
  int verbosity;     /* 0 quiet, 1 phases, 2 debug */
  int stderr_tty;    /* live progress only on a terminal */
  double t0;         /* w2s_wtime() at creation */
  w2s_timers timers; /* the current phase list (w2s_timers_define) */
  /* The first failure recorded on this rank (and, after w2s_agree, the one
   * every rank reports). */
  w2s_err err;
  char msg[W2S_MSG_LEN];
  const char *err_file;
  int err_line;
  /* Allocation fault injection (a testing aid, docs/RELIABILITY.md): the
   * count of w2s_alloc_at calls made with this context, and the call that
   * W2S_FAIL_ALLOC="N@R" makes fail (fail_alloc_at = N, 0 for none) on rank
   * fail_alloc_rank (-1: every rank). Kept here, not in static state, so
   * that every context counts on its own; W2S_FAIL_ALLOC_COUNT=1 makes
   * w2s_ctx_destroy print the count, =2 also prints every call's site. */
  int64_t alloc_calls;
  int64_t fail_alloc_at;
  int fail_alloc_rank;
  int print_alloc_count;
} w2s_ctx;

/* Collective. Duplicates comm so that library traffic cannot mix with the
 * caller's. MPI_COMM_NULL makes a local context (rank 0 of 1) for commands
 * that never start MPI, such as `w2s analyze`. */
w2s_err w2s_ctx_create(MPI_Comm comm, int verbosity, w2s_ctx **out);
void w2s_ctx_destroy(w2s_ctx **ctx);

/* Record a failure (the first one wins) and return its code. Use W2S_FAIL,
 * which yields `code` itself (pass a constant or a variable: it is evaluated
 * twice), so that static analysis, which sees one file at a time, knows that
 * a failure never reads as W2S_OK. */
w2s_err w2s_fail_at(w2s_ctx *ctx, w2s_err code, const char *file, int line,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define W2S_FAIL(ctx, code, ...)                                               \
  (w2s_fail_at((ctx), (code), __FILE__, __LINE__, __VA_ARGS__), (code))

/* The one error-propagation macro: return early with the callee's code. */
#define W2S_CALL(expr)                                                         \
  do {                                                                         \
    w2s_err w2s_call_e_ = (expr);                                              \
    if (w2s_call_e_ != W2S_OK) return w2s_call_e_;                             \
  } while (0)

/* Allocation that records a clear failure. The element size is sizeof(*(ptr))
 * by construction, so it cannot be wrong; for an array of struct pointers
 * bugprone-sizeof-expression takes it for sizeof(A*) on an aggregate.
 * Every call counts in ctx->alloc_calls; the call W2S_FAIL_ALLOC names fails
 * as if memory had run out (testing the error paths). Local. */
void *w2s_alloc_at(w2s_ctx *ctx, size_t count, size_t elem, const char *file,
                   int line);
/* The suppression brackets the whole definition, so that it holds however
 * the lines are broken (clang-tidy looks at the macro's spelling lines). */
/* NOLINTBEGIN(bugprone-sizeof-expression) */
#define W2S_ALLOC(ctx, ptr, count)                                             \
  (((ptr) = w2s_alloc_at((ctx), (size_t)(count), sizeof(*(ptr)), __FILE__,     \
                         __LINE__)) == NULL                                    \
       ? W2S_ERR_MEMORY                                                        \
       : W2S_OK)
/* NOLINTEND(bugprone-sizeof-expression) */

/* Collective failure decision: every rank passes its local status; every rank
 * gets the same code back, and the message of the lowest failing rank is
 * copied into every rank's ctx->msg so rank 0 can print it. A failing local
 * status never comes back as W2S_OK: w2s_agree_all guarantees it, and the
 * inline w2s_agree states it where static analysis (one file at a time) sees
 * it. */
w2s_err w2s_agree_all(w2s_ctx *ctx, w2s_err local);
static inline w2s_err w2s_agree(w2s_ctx *ctx, w2s_err local) {
  w2s_err e = w2s_agree_all(ctx, local);
  return (local != W2S_OK && e == W2S_OK) ? local : e;
}

/* Collective: refuse a mis-launched job. Inside a Slurm step of N > 1 tasks
 * (SLURM_STEP_NUM_TASKS, else SLURM_NTASKS) a world of ONE rank means N
 * independent singletons (srun without --mpi=pmix, or no launcher at all)
 * that would each redo the whole run. W2S_ALLOW_SINGLETON=1 allows it. */
w2s_err w2s_check_launch(w2s_ctx *ctx);
/* Local, for commands that never start MPI (`w2s merge`): how many copies
 * of this process a launcher started (mpirun -n N, srun -n N: N; 1 when
 * not launched), and which one this is (*rank). Read from the launchers'
 * environment variables, without MPI. */
int w2s_launched_copies(int *rank);

/* Collective: refuse, before allocating, a run whose estimated need of
 * `bytes` per rank exceeds the physical memory of the smallest node of the
 * job (the largest estimate over ranks counts): one message, "WHAT needs
 * about X GiB per rank, more than the Y GiB of memory of the smallest node",
 * WHAT formatted from fmt (the file and the key or dataset responsible).
 * Every rank gets the same verdict. */
w2s_err w2s_check_memory(w2s_ctx *ctx, double bytes, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Monotonic wall clock in seconds (works without MPI). */
double w2s_wtime(void);

/* Logging: rank 0 only, to stderr. */
void w2s_log(const w2s_ctx *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Live progress on a terminal (rank 0); a no-op elsewhere. frac in [0,1]. */
void w2s_progress(const w2s_ctx *ctx, const char *what, double frac);

/* Local: make `names` (n of them) the phase list, timer i = names[i],
 * every accumulator 0 (the names are copied). Errors: W2S_ERR_INTERNAL
 * when n exceeds W2S_TIMERS_MAX or a name is empty or W2S_TIMER_NAME_LEN
 * characters or longer (a programming error; the table is left as it
 * was). */
w2s_err w2s_timers_define(w2s_ctx *ctx, int n, const char *const *names);
/* Local: append timer `name` (accumulator 0) and return its index; an
 * existing name returns its index unchanged; -1 when the table is full or
 * the name is empty or too long. */
int w2s_timer_add(w2s_ctx *ctx, const char *name);
/* Local: the index of timer `name`, or -1 when it is not defined. */
int w2s_timer_find(const w2s_ctx *ctx, const char *name);
/* Local: every accumulator back to 0; the names stay (one point's phases
 * start from zero). */
void w2s_timers_reset(w2s_ctx *ctx);
/* Local: start / stop (accumulate) timer t; an index that is not defined
 * (-1 from w2s_timer_find) is ignored. */
void w2s_timer_start(w2s_ctx *ctx, int t);
void w2s_timer_stop(w2s_ctx *ctx, int t);
/* Local: this rank's accumulated seconds of timer t (0 when undefined). */
double w2s_timer_seconds(const w2s_ctx *ctx, int t);
/* Collective: *out = the names and the max over ranks of every defined
 * timer (out is caller-owned plain data; its start[] is unused). Errors:
 * W2S_ERR_MPI from the reduction. */
w2s_err w2s_timers_max(w2s_ctx *ctx, w2s_timers *out);

/* Contiguous block partition of n rows over size ranks; the first n % size
 * ranks hold one row more. */
void w2s_partition(int64_t n, int size, int rank, int64_t *start,
                   int64_t *count);

/* Collective reductions and broadcasts (chunked for counts beyond 2^31). */
w2s_err w2s_sum(w2s_ctx *ctx, double *buf, int64_t n);
w2s_err w2s_max(w2s_ctx *ctx, double *buf, int64_t n);
/* Collective: minimum / sum of int64 values over ranks, in place. */
w2s_err w2s_min_i64(w2s_ctx *ctx, int64_t *buf, int64_t n);
w2s_err w2s_sum_i64(w2s_ctx *ctx, int64_t *buf, int64_t n);
/* Sum modulo 2^64 (checksums). */
w2s_err w2s_sum_u64(w2s_ctx *ctx, uint64_t *buf, int64_t n);
/* Collective: sum to rank 0, then broadcast: every rank gets the same bits
 * (an allreduce need not guarantee that), for state every rank updates. */
w2s_err w2s_sum_bcast(w2s_ctx *ctx, double *buf, int64_t n);
w2s_err w2s_bcast_bytes(w2s_ctx *ctx, void *buf, int64_t n, int root);
/* Rank root's string is copied to every rank (malloc'ed, caller frees, on
 * failure too). */
w2s_err w2s_bcast_string(w2s_ctx *ctx, char **str, int root);
/* Allreduce with a user reduction that is associative but not commutative;
 * applied in rank order. */
w2s_err w2s_allreduce_op(w2s_ctx *ctx, void *buf, int64_t nbytes,
                         MPI_User_function *fn);
/* Collective: wait for every rank (a no-op on a local context). */
w2s_err w2s_barrier(w2s_ctx *ctx);

/* The MPI life cycle of a command that runs under mpirun, so that no file
 * outside core calls MPI: w2s_mpi_start initialises MPI and returns a
 * context on MPI_COMM_WORLD (verbosity 1), aborting the job with one line
 * naming `cmd` if it cannot; w2s_mpi_stop destroys the context, finalises
 * MPI and returns `code` (for `return w2s_mpi_stop(&ctx, code);`).
 * Both collective. */
w2s_ctx *w2s_mpi_start(int *argc, char ***argv, const char *cmd);
int w2s_mpi_stop(w2s_ctx **ctx, int code);

/* "Did you mean ...?": the index of the candidate nearest to word (the
 * fewest edits: insert, delete, replace or swap two adjacent characters,
 * case-insensitive), provided it is within a typo's reach of word (1 edit
 * for words of up to 4 characters, 2 up to 8, 3 beyond, and never every
 * character); the one candidate that word abbreviates (word of 3 or more
 * characters, a prefix of exactly one candidate) wins over a match of two
 * or more edits; else -1.
 * Ties go to the earlier candidate; NULL candidates are skipped. Local,
 * allocates nothing, raises no error. */
int w2s_suggest(const char *word, const char *const *cands, int n);

#endif
