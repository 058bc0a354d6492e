/* The results reader's consistency checks: the stored experiment identity
 * and the identities the metrics satisfy by construction. Local. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "io/results_read.h"

/* The stored experiment identity, checked against its hash and against the
 * `config` attribute it was made from: an edited or damaged identity is
 * refused here rather than trusted by merge or --resume. */
w2s_err w2s_read_identity(w2s_ctx *ctx, hid_t f, w2s_results *r,
                          const char *path) {
  enum { IDENTITY_MAX = 1 << 20 };
  char hex[64];
  W2S_CALL(
      w2s_h5_read_attr_str(ctx, f, "identity_hash", hex, sizeof hex, path));
  char *end = NULL;
  r->identity_hash = strtoull(hex, &end, 16);
  if (strlen(hex) != 16 || !end || *end)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: attribute 'identity_hash' is not 16 hex digits: '%s'",
                    path, hex);
  r->identity_config = calloc(IDENTITY_MAX, 1);
  if (!r->identity_config)
    return W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory");
  W2S_CALL(w2s_h5_read_attr_str(ctx, f, "identity", r->identity_config,
                                IDENTITY_MAX, path));
  w2s_identity id = w2s_results_identity(r);
  if (w2s_identity_hash_of(&id, r->format_version) != r->identity_hash)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: attribute 'identity_hash' does not match the stored "
                    "identity and sweep grid (a damaged or edited file)",
                    path);
  char *canon = w2s_identity_config(r->config_text);
  if (!canon) return W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory");
  int same = !strcmp(canon, r->identity_config);
  free(canon);
  if (!same)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: attribute 'config' does not match attribute "
                    "'identity' (a damaged or edited file)",
                    path);
  return W2S_OK;
}

/* |gain - (weak_error - w2s_error)| <= W2S_GAIN_RTOL (weak + w2s).
 * gain is not the stored difference: it is mean(d^2 + 2 d e) accumulated
 * over the n rows of the split from the rounded d = f_w - f_sw, e = f_sw -
 * y, f_w - y (docs/DESIGN.md "Metrics"). Per row the rounding of the three
 * differences and the products leaves (f_w - y)^2 - e^2 - d^2 - 2de within
 * about 8 eps ((f_w - y)^2 + e^2) (using d^2 <= 2 (f_w - y)^2 + 2 e^2);
 * summing the four sums' n terms in any order (blocks, ranks) adds at most
 * (n - 1) u times the sum of their absolute values, <= 6 (W + S), and the
 * final divisions and this check's subtraction a few eps more: worst case
 * (3 n + 16) eps (weak + w2s). With 2^22 eps (9.3e-10) the bound is
 * rigorous for splits of up to 1.39 million rows and, since rounding errors
 * of long sums grow like sqrt(n) eps (Higham and Mary 2019), holds by
 * orders of magnitude far beyond; the largest gap measured by
 * tests/e2e/test_identity.py (up to 200000 rows) is 1.1e-15 relative. A
 * changed value above about 1e-9 relative breaks it. */
#define W2S_GAIN_RTOL (4194304.0 * 2.220446049250313e-16)

static w2s_err check_gain(w2s_ctx *ctx, const w2s_results *r, w2s_metric g,
                          w2s_metric w, w2s_metric s, const char *path) {
  for (int64_t k = 0; k < r->npairs; ++k) {
    double gain = r->metric[g][k], weak = r->metric[w][k],
           w2s = r->metric[s][k];
    /* A run that overflowed has no rounding to bound; the checksum still
     * guards its bytes. A NaN gain beside finite errors is refused. */
    if (!isfinite(weak) || !isfinite(w2s)) continue;
    double gap = fabs(gain - (weak - w2s));
    if (!(gap <= W2S_GAIN_RTOL * (fabs(weak) + fabs(w2s))))
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: /metrics/%s[%lld] = %.17g breaks %s = %s - %s "
                      "(%.17g - %.17g; allowed rounding %.3g): a damaged or "
                      "edited file",
                      path, w2s_metric_name(g), (long long)k, gain,
                      w2s_metric_name(g), w2s_metric_name(w),
                      w2s_metric_name(s), weak, w2s,
                      W2S_GAIN_RTOL * (fabs(weak) + fabs(w2s)));
  }
  return W2S_OK;
}

/* 1 when r holds every metric of the list (-1 ends it). */
static int holds(const w2s_results *r, const int *m) {
  for (; *m >= 0; ++m)
    if (!w2s_results_has_metric(r, *m)) return 0;
  return 1;
}

/* The two columns derived from stored values by one operation
 * (w2s_metrics_finish), reproduced exactly. */
static w2s_err check_derived(w2s_ctx *ctx, const w2s_results *r,
                             const char *path) {
  static const int need_pred[] = {W2S_M_PREDICTED, W2S_M_WEAK_ERROR,
                                  W2S_M_MISFIT, -1};
  static const int need_pgr[] = {W2S_M_PGR, W2S_M_GAIN, W2S_M_WEAK_ERROR,
                                 W2S_M_CEILING, -1};
  int do_pred = holds(r, need_pred), do_pgr = holds(r, need_pgr);
  for (int64_t k = 0; k < r->npairs; ++k) {
    double weak = r->metric[W2S_M_WEAK_ERROR][k];
    if (do_pred) {
      double pred = weak - r->metric[W2S_M_MISFIT][k];
      double got = r->metric[W2S_M_PREDICTED][k];
      if (!(got == pred || (isnan(got) && isnan(pred))))
        return W2S_FAIL(ctx, W2S_ERR_INPUT,
                        "%s: /metrics/predicted_w2s_error[%lld] = %.17g is "
                        "not weak_error - misfit = %.17g: a damaged or "
                        "edited file",
                        path, (long long)k, got, pred);
    }
    if (do_pgr) {
      double ceil = r->metric[W2S_M_CEILING][k];
      double pgr = weak > ceil ? r->metric[W2S_M_GAIN][k] / (weak - ceil) : NAN;
      double got = r->metric[W2S_M_PGR][k];
      if (!(got == pgr || (isnan(got) && isnan(pgr))))
        return W2S_FAIL(ctx, W2S_ERR_INPUT,
                        "%s: /metrics/pgr[%lld] = %.17g is not gain / "
                        "(weak_error - strong_ceiling_error) = %.17g: a "
                        "damaged or edited file",
                        path, (long long)k, got, pgr);
    }
  }
  return W2S_OK;
}

w2s_err w2s_check_metric_identities(w2s_ctx *ctx, const w2s_results *r,
                                    const char *path) {
  static const int test[] = {W2S_M_GAIN, W2S_M_WEAK_ERROR, W2S_M_W2S_ERROR, -1};
  static const int train[] = {W2S_M_GAIN_TRAIN, W2S_M_WEAK_ERROR_TRAIN,
                              W2S_M_W2S_ERROR_TRAIN, -1};
  if (holds(r, test))
    W2S_CALL(check_gain(ctx, r, W2S_M_GAIN, W2S_M_WEAK_ERROR, W2S_M_W2S_ERROR,
                        path));
  if (holds(r, train))
    W2S_CALL(check_gain(ctx, r, W2S_M_GAIN_TRAIN, W2S_M_WEAK_ERROR_TRAIN,
                        W2S_M_W2S_ERROR_TRAIN, path));
  return check_derived(ctx, r, path);
}
