/* Which split each row is in (from /split, or a seeded bijection of the
 * row index: a Feistel permutation with cycle walking, so it does not
 * depend on the number of ranks), and the scan pass over every row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "experiment/fit_impl.h"
#include "w2s/rng.h"

enum { STREAM_SPLIT = 31 };

/* A bijection of [0, n): 4 Feistel rounds on the smallest even number of
 * bits covering n, walking the cycle until the value falls inside. */
static int64_t permute(int64_t i, int64_t n, uint64_t seed, uint64_t repeat) {
  int bits = 2;
  while (bits < 62 && ((int64_t)1 << bits) < n) bits += 2;
  int half = bits / 2;
  uint64_t mask = ((uint64_t)1 << half) - 1, x = (uint64_t)i;
  do {
    uint64_t L = x >> half, R = x & mask;
    for (int r = 0; r < 4; ++r) {
      double u;
      w2s_rng_uniform(seed, STREAM_SPLIT, repeat, (uint64_t)r, R, 1, 0.0, 1.0,
                      &u);
      uint64_t F = (uint64_t)(u * 9007199254740992.0) & mask;
      uint64_t t = R;
      R = L ^ F;
      L = t;
    }
    x = (L << half) | R;
  } while (x >= (uint64_t)n);
  return (int64_t)x;
}

int fit_held_out(const fitter *s, int64_t g) {
  double u;
  w2s_rng_uniform(s->o->seed, STREAM_SPLIT + 1, s->repeat, (uint64_t)g, 0, 1,
                  0.0, 1.0, &u);
  return u < 0.2;
}

void fit_splits_of_block(fitter *s, int64_t row0, int64_t m) {
  if (w2s_features_has_split(s->f)) return; /* read from the file */
  for (int64_t r = 0; r < m; ++r) {
    int64_t pos = permute(row0 + r, s->n, s->o->seed, s->repeat);
    s->split[r] = pos < s->nsplit[0]                  ? 0
                  : pos < s->nsplit[0] + s->nsplit[1] ? 1
                                                      : 2;
  }
}

static int64_t bad_min(const int64_t *v, int64_t n) {
  int64_t m = INT64_MAX;
  for (int64_t i = 0; i < n; ++i)
    if (v[i] < m) m = v[i];
  return m;
}

/* What the scan pass accumulates on this rank. */
typedef struct {
  /* First bad row of each dataset: labels, strong, /split, then weak j
   * (3 + j) and predictions j (3 + J + j), so the message can name it. */
  int64_t nbad, *bad;
  int64_t counts[3];
  uint64_t sum; /* modulo 2^64: unsigned wrap-around is defined */
  int64_t nmom;
  double *mom; /* per rep: sum, sum of squares, then the count */
} scan_acc;

/* The rows of one block: non-finite values, /split values and counts, the
 * label checksum. */
static void scan_rows(const fitter *s, scan_acc *a, int64_t row0, int64_t m) {
  int has_split = w2s_features_has_split(s->f);
  int64_t *bad = a->bad;
  const double *yp = s->yp; /* class probabilities: yc columns */
  const int64_t yc = yp ? s->yc : 0;
  for (int64_t i = 0; i < m; ++i) {
    int64_t g = row0 + i;
    if (!yp && !isfinite(s->y[i]) && g < bad[0]) bad[0] = g;
    for (int64_t c = 0; c < yc; ++c)
      if (!isfinite(yp[c * m + i]) && g < bad[0]) bad[0] = g;
    for (int64_t c = 0; c < s->ds; ++c)
      if (!isfinite(s->S[c * m + i]) && g < bad[1]) bad[1] = g;
    for (int j = 0; j < s->J; ++j) {
      for (int64_t c = 0; c < s->dw[j]; ++c)
        if (!isfinite(s->W[j][c * m + i]) && g < bad[3 + j]) bad[3 + j] = g;
      if (w2s_features_has_predictions(s->f, j) && !isfinite(s->P[j * m + i]) &&
          g < bad[3 + s->J + j])
        bad[3 + s->J + j] = g;
    }
    if (has_split) {
      if (s->split[i] < 0 || s->split[i] > 2) {
        if (g < bad[2]) bad[2] = g;
      } else {
        a->counts[s->split[i]]++;
      }
    }
    /* An order-independent checksum: a sum of per-row hashes (per entry
     * for class probabilities). */
    char buf[80];
    if (!yp) {
      snprintf(buf, sizeof buf, "%lld:%.17g", (long long)g, s->y[i]);
      a->sum += w2s_rng_stream_of(buf, 0);
    }
    for (int64_t c = 0; c < yc; ++c) {
      snprintf(buf, sizeof buf, "%lld:%lld:%.17g", (long long)g, (long long)c,
               yp[c * m + i]);
      a->sum += w2s_rng_stream_of(buf, 0);
    }
  }
}

/* Standardisation moments of the rows of each head's fitting split. */
static void scan_moments(const fitter *s, scan_acc *a, int64_t m) {
  int64_t off = 0;
  for (int r = 0; r <= s->J; ++r) {
    const double *X = r == 0 ? s->S : s->W[r - 1];
    int64_t d = r == 0 ? s->ds : s->dw[r - 1];
    int q = r == 0 ? 1 : 0; /* the split that fits this head */
    for (int64_t i = 0; i < m; ++i) {
      if (s->split[i] != q) continue;
      for (int64_t c = 0; c < d; ++c) {
        double v = X[c * m + i];
        a->mom[2 * (off + c)] += v;
        a->mom[2 * (off + c) + 1] += v * v;
      }
      a->mom[2 * a->nmom + r] += 1.0;
    }
    off += d;
  }
}

/* Collective: every block read (every rank takes part in every read). */
static w2s_err scan_blocks(w2s_ctx *ctx, fitter *s, scan_acc *a) {
  for (int64_t b = 0; b < s->nblocks; ++b) {
    int64_t i0 = b * s->nb;
    int64_t m = i0 < s->count ? (s->count - i0 < s->nb ? s->count - i0 : s->nb)
                              : 0;
    W2S_CALL(w2s_features_read(ctx, s->f, s->start + i0, m,
                               &(w2s_features_block){s->y, s->S, s->W, s->P,
                                                     s->split, s->yp}));
    scan_rows(s, a, s->start + i0, m);
    if (!w2s_features_has_split(s->f)) fit_splits_of_block(s, s->start + i0, m);
    if (s->o->nridge > 1)
      for (int64_t i = 0; i < m; ++i)
        if (s->split[i] == 0 || s->split[i] == 1)
          s->ncv[s->split[i]][fit_held_out(s, s->start + i0 + i)]++;
    if (s->o->standardize) scan_moments(s, a, m);
  }
  return W2S_OK;
}

/* The first bad value over ranks, by dataset: labels, strong, split, then
 * the weak dataset with the first bad row. */
static w2s_err scan_verdict(w2s_ctx *ctx, const fitter *s, const int64_t *bad,
                            int64_t nbad) {
  int64_t k = -1, first_weak = bad_min(bad + 3, nbad - 3);
  for (int64_t c = 0; c < 3 && k < 0; ++c)
    if (bad[c] != INT64_MAX) k = c;
  for (int64_t c = 3; c < nbad && k < 0 && first_weak != INT64_MAX; ++c)
    if (bad[c] == first_weak) k = c;
  if (k < 0) return W2S_OK;
  char name[W2S_NAME_LEN + 32];
  int64_t row = bad[k];
  if (k < 3)
    snprintf(name, sizeof name, "%s",
             k == 0   ? "/labels"
             : k == 1 ? "/strong"
                      : "/split");
  else
    snprintf(name, sizeof name, "/%s/%s",
             k < 3 + s->J ? "weak" : "weak_predictions",
             w2s_features_weak_name(s->f, (int)((k - 3) % s->J)));
  if (k == 2)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: dataset '/split' has a value outside 0..2 at row "
                    "%lld",
                    s->o->path, (long long)row);
  return W2S_FAIL(ctx, W2S_ERR_INPUT,
                  "%s: dataset '%s' has a non-finite value (NaN or Inf) at "
                  "row %lld",
                  s->o->path, name, (long long)row);
}

/* Mean and 1/std per column of every representation from the moments. */
static w2s_err scan_standardize(w2s_ctx *ctx, fitter *s, const scan_acc *a) {
  int64_t off = 0, nmom = a->nmom;
  for (int r = 0; r <= s->J && off <= nmom; ++r) {
    int64_t d = r == 0 ? s->ds : s->dw[r - 1];
    double cnt = a->mom[2 * nmom + r];
    if (d > 0 && cnt > 0) {
      if (W2S_ALLOC(ctx, s->mu[r], d) || W2S_ALLOC(ctx, s->is[r], d))
        return W2S_ERR_MEMORY;
      for (int64_t c = 0; c < d; ++c) {
        double mean = a->mom[2 * (off + c)] / cnt;
        double var = a->mom[2 * (off + c) + 1] / cnt - mean * mean;
        s->mu[r][c] = mean;
        s->is[r][c] = var > 0 ? 1.0 / sqrt(var) : 1.0;
      }
    }
    off += d;
  }
  return W2S_OK;
}

w2s_err fit_scan(w2s_ctx *ctx, fitter *s, w2s_fit_scan *out) {
  scan_acc a = {3 + 2 * (int64_t)s->J, NULL, {0, 0, 0}, 0, s->ds, NULL};
  for (int j = 0; j < s->J; ++j) a.nmom += s->dw[j];
  int R = s->J + 1;
  /* Both agreed; on failure freed on the ranks whose own allocation
   * worked. */
  w2s_err e = w2s_agree(ctx, W2S_ALLOC(ctx, a.bad, a.nbad));
  if (!e) e = w2s_agree(ctx, W2S_ALLOC(ctx, a.mom, 2 * a.nmom + R));
  for (int64_t k = 0; !e && k < a.nbad; ++k) a.bad[k] = INT64_MAX;
  if (!e) e = scan_blocks(ctx, s, &a);
  if (!e) e = w2s_min_i64(ctx, a.bad, (int)a.nbad);
  if (!e) e = w2s_sum_i64(ctx, a.counts, 3);
  if (!e) e = w2s_sum_u64(ctx, &a.sum, 1);
  if (!e) e = w2s_sum_i64(ctx, &s->ncv[0][0], 4);
  if (!e && s->o->standardize) e = w2s_sum(ctx, a.mom, 2 * a.nmom + R);
  if (!e) e = scan_verdict(ctx, s, a.bad, a.nbad);
  if (!e && w2s_features_has_split(s->f))
    for (int q = 0; q < 3; ++q) s->nsplit[q] = a.counts[q];
  if (!e) out->labels_checksum = a.sum;
  if (!e && s->o->standardize) e = scan_standardize(ctx, s, &a);
  free(a.bad);
  free(a.mom);
  return e;
}
