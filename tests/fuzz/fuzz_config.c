/* libFuzzer target: the INI parser and validator on arbitrary text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/experiment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  w2s_ctx *ctx = NULL;
  if (w2s_ctx_create(MPI_COMM_NULL, 0, &ctx) == W2S_OK) {
    w2s_config *cfg = NULL;
    const char *sets[] = {"data.n_test=5"};
    if (w2s_config_parse(ctx, "fuzz.ini", text, sets, (int)(size % 2), &cfg) ==
        W2S_OK) {
      /* What parsed must print and parse back. */
      w2s_config *again = NULL;
      w2s_ctx *c2 = NULL;
      if (w2s_ctx_create(MPI_COMM_NULL, 0, &c2) == W2S_OK) {
        if (w2s_config_parse(c2, "effective", cfg->effective, NULL, 0,
                             &again) != W2S_OK)
          abort();
        w2s_config_destroy(&again);
        w2s_ctx_destroy(&c2);
      }
    }
    w2s_config_destroy(&cfg);
    w2s_ctx_destroy(&ctx);
  }
  free(text);
  return 0;
}
