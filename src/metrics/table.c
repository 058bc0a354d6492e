/* The metric table as data (metrics.h's W2S_METRICS), alone in its
 * translation unit: a test program may define w2s_metric_table and
 * w2s_metric_count itself, with extra rows, and the linker then leaves this
 * file out of the static library's link (tests/unit/test_results.c).
 * W2S_METRICS_EXTRA, when defined, appends rows in the same X format. */
#include "w2s/metrics.h"

#ifndef W2S_METRICS_EXTRA
#define W2S_METRICS_EXTRA(X)
#endif

#define W2S_X_ROW(id, name, desc, units, checks, family)                       \
  {name, desc, units, checks, family},
const w2s_metric_info w2s_metric_table[] = {W2S_METRICS(W2S_X_ROW)
                                                W2S_METRICS_EXTRA(W2S_X_ROW)};
#undef W2S_X_ROW

const int w2s_metric_count = (int)(sizeof w2s_metric_table /
                                   sizeof w2s_metric_table[0]);

_Static_assert(sizeof w2s_metric_table / sizeof w2s_metric_table[0] <=
                   W2S_M_MAX,
               "more metrics than a record has slots (W2S_M_MAX)");
