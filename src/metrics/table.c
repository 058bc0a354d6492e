/* The metric table as data (metrics.h's W2S_METRICS), alone in its
 * translation unit: a test program may define w2s_metric_table and
 * w2s_metric_count itself, with extra rows, and the linker then leaves this
 * file out of the static library's link (tests/unit/test_results.c).
 * W2S_METRICS_EXTRA, when defined, appends rows in the same X format. */
#include <string.h>

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

/* The squared-loss rows' meaning when the record's loss is KL, model first
 * (KL(model || truth)) and truth first (KL(truth || model)). */
static const char *const kl_desc[][2] = {
    [W2S_M_WEAK_ERROR] = {"test: mean KL(p_w || p*)",
                          "test: mean KL(p* || p_w)"},
    [W2S_M_W2S_ERROR] = {"test: mean KL(p_sw || p*)",
                         "test: mean KL(p* || p_sw)"},
    [W2S_M_MISFIT] = {"test: mean KL(p_w || p_sw)",
                      "test: mean KL(p_sw || p_w)"},
    [W2S_M_GAIN] = {"test: weak_error - w2s_error (misfit + the three-point "
                    "cross term, accumulated directly)",
                    "test: weak_error - w2s_error (misfit + the three-point "
                    "cross term, accumulated directly)"},
    [W2S_M_CEILING] = {"test: mean KL(p_s || p*), p_s fitted on true labels "
                       "of the w2s split",
                       "test: mean KL(p* || p_s), p_s fitted on true labels "
                       "of the w2s split"},
    [W2S_M_PGR] = {"gain / (weak_error - strong_ceiling_error); NaN where "
                   "weak_error <= ceiling",
                   "gain / (weak_error - strong_ceiling_error); NaN where "
                   "weak_error <= ceiling"},
    [W2S_M_PREDICTED] = {"weak_error - misfit", "weak_error - misfit"},
    [W2S_M_WEAK_ERROR_TRAIN] = {"w2s training split: mean KL(p_w || p*)",
                                "w2s training split: mean KL(p* || p_w)"},
    [W2S_M_W2S_ERROR_TRAIN] = {"w2s training split: mean KL(p_sw || p*)",
                               "w2s training split: mean KL(p* || p_sw)"},
    [W2S_M_MISFIT_TRAIN] = {"w2s training split: mean KL(p_w || p_sw)",
                            "w2s training split: mean KL(p_sw || p_w)"},
    [W2S_M_GAIN_TRAIN] = {"w2s training split: weak_error_train - "
                          "w2s_error_train (= misfit_train for the forward "
                          "student, realizable)",
                          "w2s training split: weak_error_train - "
                          "w2s_error_train"},
    [W2S_M_CEILING_TRAIN] = {"w2s training split: mean KL(p_s || p*)",
                             "w2s training split: mean KL(p* || p_s)"},
};

const char *w2s_metric_description(int m, const char *loss,
                                   const char *orientation,
                                   const char **units) {
  const w2s_metric_info *mi = &w2s_metric_table[m];
  *units = mi->units;
  if (!loss || strcmp(loss, "kl") != 0 ||
      m >= (int)(sizeof kl_desc / sizeof kl_desc[0]) || !kl_desc[m][0])
    return mi->description;
  if (strcmp(mi->units, "ratio") != 0) *units = "nats";
  return kl_desc[m][orientation && !strcmp(orientation, "truth_first")];
}
