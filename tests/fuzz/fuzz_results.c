/* libFuzzer target: the results file reader (`w2s analyze` / `merge`) and
 * the summaries computed from what it read. Built twice, like
 * fuzz_features.c: structured recipes (CI) and raw files (-DW2S_FUZZ_RAW). */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_verbose.h"

#include "w2s/analyze.h"
#ifdef W2S_FUZZ_RAW
#include "fuzz_h5.h"
#else
#include "fuzz_build.h"
#include "w2s/metrics.h"

static void attrs(fz_bytes *b, hid_t f) {
  fz_write_attr(b, f, "format", FZ_STR, "w2s-results", 0);
  fz_write_attr(b, f, "format_version", FZ_I64, "", W2S_FORMAT_VERSION);
  fz_write_attr(b, f, "config", FZ_STR, "[experiment]\ntasks = 2\n", 0);
  fz_write_attr(b, f, "solver", FZ_STR, "auto", 0);
  fz_write_attr(b, f, "seed", FZ_I64, "", 1);
}

/* metrics/task and weak_model, every metric, then the sweep index and grid
 * (the index slot is metrics/sweep or metrics/repeat, the recipe's choice). */
static int results_slots(fz_slot *s, uint8_t which) {
  int n = 0;
  s[n++] = (fz_slot){"metrics/task", FZ_I64, "N", NULL, 0};
  s[n++] = (fz_slot){"metrics/weak_model", FZ_STR, "N", "weak-a", 0};
  for (int m = 0; m < W2S_M_COUNT; ++m) {
    static char names[W2S_M_COUNT][96];
    snprintf(names[m], sizeof names[m], "metrics/%s",
             w2s_metric_name((w2s_metric)m));
    s[n++] = (fz_slot){names[m], FZ_F64, "N", NULL, 0};
  }
  s[n++] = (fz_slot){which & 1 ? "metrics/repeat" : "metrics/sweep", FZ_I64,
                     "N", NULL, 0};
  s[n++] = (fz_slot){"sweep/keys", FZ_STR, "C", "data.n_test", 0};
  s[n++] = (fz_slot){"sweep/values", FZ_STR, "PC", "100", 0};
  return n;
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64];
#ifdef W2S_FUZZ_RAW
  if (!fuzz_write_file(data, size, path, sizeof path)) return 0;
#else
  fz_slot slots[W2S_M_COUNT + 8];
  if (size < 1) return 0;
  int n = results_slots(slots, data[0]);
  if (!fz_build(data + 1, size - 1, slots, n, attrs, path, sizeof path))
    return 0;
#endif
  w2s_ctx *ctx = NULL;
  w2s_results *r = NULL;
  w2s_err e = w2s_ctx_create(MPI_COMM_NULL, 0, &ctx);
  if (!e) e = w2s_results_read(ctx, path, &r);
  fuzz_verbose(ctx, e);
  if (!e) {
    w2s_summary s;
    w2s_sweep_stat *st = NULL;
    int64_t nst = 0;
    w2s_analyze_summary(ctx, &r, 1, &s);
    if (w2s_analyze_sweep(ctx, &r, 1, &st, &nst) == W2S_OK) free(st);
  }
  w2s_results_destroy(&r);
  w2s_ctx_destroy(&ctx);
  if (!fuzz_keep(path)) unlink(path);
  return 0;
}
