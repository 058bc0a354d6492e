/* The row partition and the collective helpers: the one place that spells
 * out MPI reductions and broadcasts for the numerical code. */
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "w2s/core.h"

void w2s_partition(int64_t n, int size, int rank, int64_t *start,
                   int64_t *count) {
  int64_t base = n / size, extra = n % size;
  *count = base + (rank < extra ? 1 : 0);
  *start = (int64_t)rank * base + (rank < extra ? rank : extra);
}

/* MPI counts are int: larger buffers go in chunks. */
static const int64_t w2s_chunk = INT_MAX / 8;

/* In-place allreduce of n elements of `type` (elem bytes each), in chunks;
 * a local context (no communicator) has nothing to reduce. */
static w2s_err allreduce(w2s_ctx *ctx, void *buf, int64_t n, MPI_Datatype type,
                         size_t elem, MPI_Op op) {
  if (ctx->comm == MPI_COMM_NULL) return W2S_OK;
  for (int64_t off = 0; off < n; off += w2s_chunk) {
    int64_t len = n - off < w2s_chunk ? n - off : w2s_chunk;
    if (MPI_Allreduce(MPI_IN_PLACE, (char *)buf + (size_t)off * elem, (int)len,
                      type, op, ctx->comm) != MPI_SUCCESS)
      return W2S_FAIL(ctx, W2S_ERR_MPI, "MPI_Allreduce failed");
  }
  return W2S_OK;
}

w2s_err w2s_sum(w2s_ctx *ctx, double *buf, int64_t n) {
  return allreduce(ctx, buf, n, MPI_DOUBLE, sizeof *buf, MPI_SUM);
}
w2s_err w2s_max(w2s_ctx *ctx, double *buf, int64_t n) {
  return allreduce(ctx, buf, n, MPI_DOUBLE, sizeof *buf, MPI_MAX);
}
w2s_err w2s_min_i64(w2s_ctx *ctx, int64_t *buf, int64_t n) {
  return allreduce(ctx, buf, n, MPI_INT64_T, sizeof *buf, MPI_MIN);
}
w2s_err w2s_sum_i64(w2s_ctx *ctx, int64_t *buf, int64_t n) {
  return allreduce(ctx, buf, n, MPI_INT64_T, sizeof *buf, MPI_SUM);
}
w2s_err w2s_sum_u64(w2s_ctx *ctx, uint64_t *buf, int64_t n) {
  return allreduce(ctx, buf, n, MPI_UINT64_T, sizeof *buf, MPI_SUM);
}

w2s_err w2s_sum_bcast(w2s_ctx *ctx, double *buf, int64_t n) {
  for (int64_t off = 0; off < n; off += w2s_chunk) {
    int64_t len = n - off < w2s_chunk ? n - off : w2s_chunk;
    int rc = MPI_Reduce(ctx->rank == 0 ? MPI_IN_PLACE : buf + off, buf + off,
                        (int)len, MPI_DOUBLE, MPI_SUM, 0, ctx->comm);
    if (rc == MPI_SUCCESS)
      rc = MPI_Bcast(buf + off, (int)len, MPI_DOUBLE, 0, ctx->comm);
    if (rc != MPI_SUCCESS)
      return W2S_FAIL(ctx, W2S_ERR_MPI, "MPI_Reduce/MPI_Bcast failed");
  }
  return W2S_OK;
}

w2s_err w2s_bcast_bytes(w2s_ctx *ctx, void *buf, int64_t n, int root) {
  char *p = buf;
  for (int64_t off = 0; off < n; off += w2s_chunk) {
    int64_t len = n - off < w2s_chunk ? n - off : w2s_chunk;
    if (MPI_Bcast(p + off, (int)len, MPI_BYTE, root, ctx->comm) != MPI_SUCCESS)
      return W2S_FAIL(ctx, W2S_ERR_MPI, "MPI_Bcast failed");
  }
  return W2S_OK;
}

w2s_err w2s_bcast_string(w2s_ctx *ctx, char **str, int root) {
  int64_t len = (ctx->rank == root && *str) ? (int64_t)strlen(*str) : 0;
  W2S_CALL(w2s_bcast_bytes(ctx, &len, sizeof len, root));
  w2s_err e = W2S_OK;
  if (ctx->rank != root || !*str) { /* the root may broadcast "nothing" */
    if (ctx->rank != root) free(*str);
    e = W2S_ALLOC(ctx, *str, len + 1);
  }
  /* A rank without its buffer must not leave the others in the broadcast. */
  W2S_CALL(w2s_agree(ctx, e));
  W2S_CALL(w2s_bcast_bytes(ctx, *str, len, root));
  (*str)[len] = '\0';
  return W2S_OK;
}

w2s_err w2s_allreduce_op(w2s_ctx *ctx, void *buf, int64_t nbytes,
                         MPI_User_function *fn) {
  if (nbytes > INT_MAX)
    return W2S_FAIL(ctx, W2S_ERR_INTERNAL,
                    "reduction buffer of %lld bytes exceeds MPI's int count",
                    (long long)nbytes);
  MPI_Datatype type;
  MPI_Op op;
  MPI_Type_contiguous((int)nbytes, MPI_BYTE, &type);
  MPI_Type_commit(&type);
  MPI_Op_create(fn, 0 /* not commutative: rank order */, &op);
  int rc = MPI_Allreduce(MPI_IN_PLACE, buf, 1, type, op, ctx->comm);
  MPI_Op_free(&op);
  MPI_Type_free(&type);
  if (rc != MPI_SUCCESS)
    return W2S_FAIL(ctx, W2S_ERR_MPI, "MPI_Allreduce (user op) failed");
  return W2S_OK;
}

w2s_err w2s_check_launch(w2s_ctx *ctx) {
  const char *n = getenv("SLURM_STEP_NUM_TASKS");
  if (!n || !*n) n = getenv("SLURM_NTASKS");
  const char *allow = getenv("W2S_ALLOW_SINGLETON");
  long tasks = n ? strtol(n, NULL, 10) : 0;
  if (ctx->size == 1 && tasks > 1 && !(allow && !strcmp(allow, "1")))
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "Slurm runs %ld tasks but MPI sees 1 rank: each task would "
                    "run the whole job alone. Launch with 'srun --mpi=pmix' or "
                    "'mpirun' (or set W2S_ALLOW_SINGLETON=1 to run one rank on "
                    "purpose)",
                    tasks);
  return W2S_OK;
}

/* A variable a launcher sets, as a number (-1 when absent). */
static long env_number(const char *name) {
  const char *v = getenv(name);
  char *end = NULL;
  long n = v && *v ? strtol(v, &end, 10) : -1;
  return end && *end == '\0' ? n : -1;
}

int w2s_launched_copies(int *rank) {
  /* Open MPI's mpirun, then MPICH/Hydra and Slurm's PMI, then an srun step
   * (SLURM_STEP_ID is a step's number; the batch script, the extern and
   * interactive steps have none, or ids from 0xfffffff0 up). */
  static const char *const vars[][2] = {
      {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"},
      {"PMI_SIZE", "PMI_RANK"},
      {"SLURM_STEP_NUM_TASKS", "SLURM_PROCID"},
  };
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; ++i) {
    long n = env_number(vars[i][0]);
    long step = env_number("SLURM_STEP_ID");
    if (i == 2 && (step < 0 || step >= 0xfffffff0L)) n = -1;
    if (n > 1) {
      long r = env_number(vars[i][1]);
      *rank = r > 0 ? (int)r : 0;
      return (int)n;
    }
  }
  *rank = 0;
  return 1;
}

w2s_err w2s_barrier(w2s_ctx *ctx) {
  if (ctx->comm == MPI_COMM_NULL) return W2S_OK;
  if (MPI_Barrier(ctx->comm) != MPI_SUCCESS)
    return W2S_FAIL(ctx, W2S_ERR_MPI, "MPI_Barrier failed");
  return W2S_OK;
}

w2s_ctx *w2s_mpi_start(int *argc, char ***argv, const char *cmd) {
  MPI_Init(argc, argv);
  w2s_ctx *ctx = NULL;
  if (w2s_ctx_create(MPI_COMM_WORLD, 1, &ctx) != W2S_OK) {
    fprintf(stderr, "w2s %s: error: cannot create the MPI context\n", cmd);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return ctx;
}

int w2s_mpi_stop(w2s_ctx **ctx, int code) {
  w2s_ctx_destroy(ctx);
  MPI_Finalize();
  return code;
}
