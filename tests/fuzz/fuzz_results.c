/* libFuzzer target: the results file reader (`w2s analyze` / `merge`). */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_h5.h"
#include "w2s/analyze.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64];
  if (!fuzz_write_file(data, size, path, sizeof path)) return 0;
  w2s_ctx *ctx = NULL;
  w2s_results *r = NULL;
  if (w2s_ctx_create(MPI_COMM_NULL, 0, &ctx) == W2S_OK &&
      w2s_results_read(ctx, path, &r) == W2S_OK) {
    w2s_summary s;
    w2s_sweep_stat *st = NULL;
    int64_t nst = 0;
    w2s_analyze_summary(ctx, &r, 1, &s);
    if (w2s_analyze_sweep(ctx, &r, 1, &st, &nst) == W2S_OK) free(st);
  }
  w2s_results_destroy(&r);
  w2s_ctx_destroy(&ctx);
  unlink(path);
  return 0;
}
