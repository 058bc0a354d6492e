/* Data-parallel pre-training: the weights after a few epochs on P ranks
 * equal those of one rank alone (to 1e-9 relative: the gradient sums are
 * associated differently), and every rank holds bit-identical weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repr/pretrain.h"
#include "w2s/rng.h"

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  w2s_ctx *ctx, *solo;
  w2s_ctx_create(MPI_COMM_WORLD, 0, &ctx);
  w2s_ctx_create(MPI_COMM_SELF, 0, &solo);
  int failures = 0;
  w2s_mlp *target, *net, *ref;
  w2s_mlp_create(ctx, 8, 16, 5, &target);
  w2s_mlp_init_uniform(target, 3, W2S_STREAM_TARGET);
  w2s_pretrain_opts o = {3, 4, 100, 3, 32, 1e-3, 0.01, 0.9, 0.999, 1e-8, 500.0};
  double loss[3], loss_ref[3];
  for (int depth = 2; depth <= 8; depth += 6) {
    w2s_mlp_create(ctx, 8, 16, depth, &net);
    w2s_mlp_init_uniform(net, 3, 99);
    w2s_mlp_clone(ctx, net, &ref);
    w2s_err e = w2s_pretrain(ctx, &o, target, net, loss);
    e |= w2s_pretrain(solo, &o, target, ref, loss_ref);
    if (e) {
      fprintf(stderr, "rank %d: pretrain failed: %s\n", ctx->rank, ctx->msg);
      ++failures;
    }
    int64_t np = w2s_mlp_nparams(net);
    double *p = w2s_mlp_params(net), *q = w2s_mlp_params(ref), d = 0, s = 0;
    for (int64_t i = 0; i < np; ++i) {
      d = fmax(d, fabs(p[i] - q[i]));
      s = fmax(s, fabs(q[i]));
    }
    if (!(d <= 1e-9 * s)) {
      fprintf(stderr,
              "rank %d depth %d: weights differ from 1 rank by %.3g "
              "(max |w| %.3g)\n",
              ctx->rank, depth, d, s);
      ++failures;
    }
    if (!(fabs(loss[2] - loss_ref[2]) <= 1e-9 * fabs(loss_ref[2]))) {
      fprintf(stderr, "rank %d: epoch loss %.17g vs %.17g\n", ctx->rank,
              loss[2], loss_ref[2]);
      ++failures;
    }
    if (!(loss[2] < loss[0])) {
      fprintf(stderr,
              "rank %d depth %d: the loss did not decrease (%g -> "
              "%g)\n",
              ctx->rank, depth, loss[0], loss[2]);
      ++failures;
    }
    double *p0 = malloc(sizeof(double) * (size_t)np);
    memcpy(p0, p, sizeof(double) * (size_t)np);
    MPI_Bcast(p0, (int)np, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (memcmp(p0, p, sizeof(double) * (size_t)np) != 0) {
      fprintf(stderr, "rank %d: weights differ from rank 0's\n", ctx->rank);
      ++failures;
    }
    free(p0);
    w2s_mlp_destroy(&net);
    w2s_mlp_destroy(&ref);
  }
  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (ctx->rank == 0)
    printf("test_pretrain_mpi on %d ranks: %d failures\n", ctx->size, total);
  w2s_mlp_destroy(&target);
  w2s_ctx_destroy(&solo);
  w2s_ctx_destroy(&ctx);
  MPI_Finalize();
  return total ? 1 : 0;
}
