/* The `w2s fit` pipeline on exported representations: the same fits and
 * metrics as simulate, with rows read from a features file instead of
 * generated. Split i of row r comes from /split or from a seeded bijection
 * of the row index (a Feistel permutation with cycle walking), so it does
 * not depend on the number of ranks; every pass walks this rank's rows in
 * blocks with collective reads. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/fit.h"
#include "w2s/lsq.h"
#include "w2s/metrics.h"
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

typedef struct {
  const w2s_fit_opts *o;
  w2s_features *f;
  int J;
  int64_t n, ds, nb, start, count, nblocks;
  int64_t nsplit[3];
  uint64_t repeat;
  int64_t *dw, *pw; /* weak dims and head sizes (0: predictions only) */
  int64_t ps;
  /* block buffers */
  double *y, *S, **W, *P;
  int *split;
  double *A, *B, *Fw, *Fsw, *Fs, *Yc;
  /* standardisation (mean, 1/std) per representation, rep 0 = strong */
  double **mu, **is;
  /* coefficients: weak j p_j x 1; strong p_s x (1 + J) */
  double **cw, *cs;
  /* ridge selection: 0 all rows, 1 the 80% training part of the split,
   * 2 the 20% held out (rows by a seeded hash of the global index) */
  int cv_mode;
  /* with several ridge candidates: rows of splits 0 and 1 in the fitting
   * [0] and the held-out [1] part */
  int64_t ncv[2][2];
} fitter;

static int held_out(const fitter *s, int64_t g) {
  double u;
  w2s_rng_uniform(s->o->seed, STREAM_SPLIT + 1, s->repeat, (uint64_t)g, 0, 1,
                  0.0, 1.0, &u);
  return u < 0.2;
}

static void splits_of_block(fitter *s, int64_t row0, int64_t m) {
  if (w2s_features_has_split(s->f)) return; /* read from the file */
  for (int64_t r = 0; r < m; ++r) {
    int64_t pos = permute(row0 + r, s->n, s->o->seed, s->repeat);
    s->split[r] = pos < s->nsplit[0] ? 0 : pos < s->nsplit[0] + s->nsplit[1] ? 1 : 2;
  }
}

static w2s_err read_block(w2s_ctx *ctx, fitter *s, int64_t b, int64_t *m_out,
                          int want_strong, int want_weak) {
  int64_t i0 = b * s->nb, m = 0;
  if (i0 < s->count) m = s->count - i0 < s->nb ? s->count - i0 : s->nb;
  double **W = want_weak ? s->W : NULL;
  W2S_CALL(w2s_features_read(ctx, s->f, s->start + i0, m, s->y,
                             want_strong ? s->S : NULL, W, s->P, s->split));
  splits_of_block(s, s->start + i0, m);
  if (s->cv_mode)
    for (int64_t i = 0; i < m; ++i)
      if (held_out(s, s->start + i0 + i) != (s->cv_mode == 2)) s->split[i] = -1;
  /* Standardise (when asked) with the statistics of each fitting split. */
  if (s->o->standardize) {
    for (int r = 0; r <= s->J; ++r) {
      double *X = r == 0 ? (want_strong ? s->S : NULL)
                         : (want_weak ? s->W[r - 1] : NULL);
      int64_t d = r == 0 ? s->ds : s->dw[r - 1];
      if (!X || !s->mu[r]) continue;
      for (int64_t c = 0; c < d; ++c)
        for (int64_t i = 0; i < m; ++i)
          X[c * m + i] = (X[c * m + i] - s->mu[r][c]) * s->is[r][c];
    }
  }
  *m_out = m;
  return W2S_OK;
}

/* Rows of the block in split q, compacted: A (k x d [+1]) from X. */
static int64_t gather(const fitter *s, int q, int64_t m, const double *X,
                      int64_t d, int intercept, double *A) {
  int64_t k = 0;
  for (int64_t i = 0; i < m; ++i) k += s->split[i] == q;
  int64_t r = 0;
  for (int64_t i = 0; i < m; ++i) {
    if (s->split[i] != q) continue;
    for (int64_t c = 0; c < d; ++c) A[c * k + r] = X[c * m + i];
    if (intercept) A[d * k + r] = 1.0;
    ++r;
  }
  return k;
}

static int64_t bad_min(const int64_t *v, int64_t n) {
  int64_t m = INT64_MAX;
  for (int64_t i = 0; i < n; ++i)
    if (v[i] < m) m = v[i];
  return m;
}

/* Scan pass: finite values, split counts (from /split), label checksum,
 * standardisation moments. */
static w2s_err scan(w2s_ctx *ctx, fitter *s, w2s_fit_scan *out) {
  /* First bad row of each dataset: labels, strong, /split, then weak j
   * (3 + j) and predictions j (3 + J + j), so the message can name it. */
  int64_t nbad = 3 + 2 * (int64_t)s->J, *bad = NULL;
  w2s_err eb = w2s_agree(ctx, W2S_ALLOC(ctx, bad, nbad));
  if (eb) { /* on the ranks whose own allocation worked */
    free(bad);
    return eb;
  }
  for (int64_t k = 0; k < nbad; ++k) bad[k] = INT64_MAX;
  int64_t counts[3] = {0, 0, 0};
  uint64_t sum = 0; /* modulo 2^64: unsigned wrap-around is defined */
  int R = s->J + 1;
  int64_t nmom = s->ds;
  for (int j = 0; j < s->J; ++j) nmom += s->dw[j];
  double *mom = NULL; /* per rep: sum, sum of squares, then the count */
  w2s_err ea = w2s_agree(ctx, W2S_ALLOC(ctx, mom, 2 * nmom + R));
  if (ea) { /* mom too: on the ranks whose own allocation worked */
    free(bad);
    free(mom);
    return ea;
  }
  for (int64_t b = 0; b < s->nblocks; ++b) {
    int64_t m;
    int64_t i0 = b * s->nb;
    double **W = s->W;
    int64_t mm = i0 < s->count ? (s->count - i0 < s->nb ? s->count - i0 : s->nb) : 0;
    w2s_err er = w2s_features_read(ctx, s->f, s->start + i0, mm, s->y, s->S,
                                   W, s->P, s->split);
    if (er) {
      free(bad);
      free(mom);
      return er;
    }
    m = mm;
    int has_split = w2s_features_has_split(s->f);
    for (int64_t i = 0; i < m; ++i) {
      int64_t g = s->start + i0 + i;
      if (!isfinite(s->y[i]) && g < bad[0]) bad[0] = g;
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
          counts[s->split[i]]++;
        }
      }
      /* An order-independent checksum: a sum of per-row hashes. */
      char buf[64];
      snprintf(buf, sizeof buf, "%lld:%.17g", (long long)g, s->y[i]);
      sum += w2s_rng_stream_of(buf, 0);
    }
    if (!has_split) splits_of_block(s, s->start + i0, m);
    if (s->o->nridge > 1)
      for (int64_t i = 0; i < m; ++i)
        if (s->split[i] == 0 || s->split[i] == 1)
          s->ncv[s->split[i]][held_out(s, s->start + i0 + i)]++;
    if (s->o->standardize) {
      int64_t off = 0;
      for (int r = 0; r < R; ++r) {
        const double *X = r == 0 ? s->S : s->W[r - 1];
        int64_t d = r == 0 ? s->ds : s->dw[r - 1];
        int q = r == 0 ? 1 : 0; /* the split that fits this head */
        for (int64_t i = 0; i < m; ++i) {
          if (s->split[i] != q) continue;
          for (int64_t c = 0; c < d; ++c) {
            double v = X[c * m + i];
            mom[2 * (off + c)] += v;
            mom[2 * (off + c) + 1] += v * v;
          }
          mom[2 * nmom + r] += 1.0;
        }
        off += d;
      }
    }
  }
  w2s_err er = w2s_min_i64(ctx, bad, (int)nbad);
  if (!er) er = w2s_sum_i64(ctx, counts, 3);
  if (!er) er = w2s_sum_u64(ctx, &sum, 1);
  if (!er) er = w2s_sum_i64(ctx, &s->ncv[0][0], 4);
  if (!er && s->o->standardize) er = w2s_sum(ctx, mom, 2 * nmom + R);
  if (er) {
    free(bad);
    free(mom);
    return er;
  }
  /* Labels, strong, split, then the weak dataset with the first bad row. */
  int64_t k = -1, first_weak = bad_min(bad + 3, nbad - 3);
  for (int64_t c = 0; c < 3 && k < 0; ++c)
    if (bad[c] != INT64_MAX) k = c;
  for (int64_t c = 3; c < nbad && k < 0 && first_weak != INT64_MAX; ++c)
    if (bad[c] == first_weak) k = c;
  if (k >= 0) {
    char name[W2S_NAME_LEN + 32];
    int64_t row = bad[k];
    if (k < 3)
      snprintf(name, sizeof name, "%s",
               k == 0 ? "/labels" : k == 1 ? "/strong" : "/split");
    else
      snprintf(name, sizeof name, "/%s/%s",
               k < 3 + s->J ? "weak" : "weak_predictions",
               w2s_features_weak_name(s->f, (int)((k - 3) % s->J)));
    free(bad);
    free(mom);
    if (k == 2)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: dataset '/split' has a value outside 0..2 at row "
                      "%lld", s->o->path, (long long)row);
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: dataset '%s' has a non-finite value (NaN or Inf) at "
                    "row %lld",
                    s->o->path, name, (long long)row);
  }
  free(bad);
  if (w2s_features_has_split(s->f))
    for (int q = 0; q < 3; ++q) s->nsplit[q] = counts[q];
  out->labels_checksum = sum;
  if (s->o->standardize) {
    int64_t off = 0;
    for (int r = 0; r < R && off <= nmom; ++r) {
      int64_t d = r == 0 ? s->ds : s->dw[r - 1];
      double cnt = mom[2 * nmom + r];
      if (d > 0 && cnt > 0) {
        if (W2S_ALLOC(ctx, s->mu[r], d) || W2S_ALLOC(ctx, s->is[r], d)) {
          free(mom);
          return W2S_ERR_MEMORY;
        }
        for (int64_t c = 0; c < d; ++c) {
          double mean = mom[2 * (off + c)] / cnt;
          double var = mom[2 * (off + c) + 1] / cnt - mean * mean;
          s->mu[r][c] = mean;
          s->is[r][c] = var > 0 ? 1.0 / sqrt(var) : 1.0;
        }
      }
      off += d;
    }
  }
  free(mom);
  return W2S_OK;
}

static void fitter_free(fitter *s) {
  for (int j = 0; j < s->J; ++j) {
    if (s->W) free(s->W[j]);
    if (s->cw) free(s->cw[j]);
  }
  for (int r = 0; r <= s->J; ++r) {
    if (s->mu) free(s->mu[r]);
    if (s->is) free(s->is[r]);
  }
  free(s->W), free(s->cw), free(s->mu), free(s->is), free(s->dw), free(s->pw);
  free(s->y), free(s->S), free(s->P), free(s->split), free(s->A), free(s->B);
  free(s->Fw), free(s->Fsw), free(s->Fs), free(s->Yc), free(s->cs);
}

/* The per-rank memory of a file's feature widths (row blocks, one solver's
 * p x p factor per head, the coefficients), checked before allocating from
 * metadata every rank has; the message names the widest dataset. */
static w2s_err check_memory(w2s_ctx *ctx, const w2s_fit_opts *o,
                            const w2s_features *f) {
  int J = w2s_features_nweak(f);
  double widest = (double)w2s_features_strong_dim(f), cols = widest;
  char name[W2S_NAME_LEN + 16];
  snprintf(name, sizeof name, "/strong");
  for (int j = 0; j < J; ++j) {
    double d = (double)w2s_features_weak_dim(f, j);
    cols += d;
    if (d > widest) {
      widest = d;
      snprintf(name, sizeof name, "/weak/%s", w2s_features_weak_name(f, j));
    }
  }
  double p = widest + 1.0;
  double doubles = (double)o->block_rows * (2.0 * cols + 2.0 * p + 8.0 * J) +
                   2.0 * p * p + (cols + J + 1.0) * (J + 2.0);
  return w2s_check_memory(ctx, 8.0 * doubles,
                          "%s: dataset '%s' has %.0f columns: the fit", o->path,
                          name, widest);
}

static w2s_err setup(w2s_ctx *ctx, const w2s_fit_opts *o, w2s_features *f,
                     fitter *s) {
  memset(s, 0, sizeof *s);
  s->o = o;
  s->f = f;
  s->J = w2s_features_nweak(f);
  s->n = w2s_features_rows(f);
  s->ds = w2s_features_strong_dim(f);
  s->ps = s->ds + 1;
  w2s_partition(s->n, ctx->size, ctx->rank, &s->start, &s->count);
  s->nb = o->block_rows;
  int64_t maxcount = (s->n + ctx->size - 1) / ctx->size;
  s->nblocks = (maxcount + s->nb - 1) / s->nb;
  int64_t nb = s->nb, J = s->J, dmax = s->ps;
  W2S_CALL(check_memory(ctx, o, f));
  W2S_CALL(W2S_ALLOC(ctx, s->dw, J));
  W2S_CALL(W2S_ALLOC(ctx, s->pw, J));
  W2S_CALL(W2S_ALLOC(ctx, s->W, J));
  W2S_CALL(W2S_ALLOC(ctx, s->cw, J));
  W2S_CALL(W2S_ALLOC(ctx, s->mu, J + 1));
  W2S_CALL(W2S_ALLOC(ctx, s->is, J + 1));
  for (int j = 0; j < J; ++j) {
    s->dw[j] = w2s_features_weak_dim(f, j);
    s->pw[j] = s->dw[j] > 0 ? s->dw[j] + 1 : 0;
    if (s->pw[j] > dmax) dmax = s->pw[j];
    W2S_CALL(W2S_ALLOC(ctx, s->W[j], nb * (s->dw[j] > 0 ? s->dw[j] : 1)));
    W2S_CALL(W2S_ALLOC(ctx, s->cw[j], s->pw[j] > 0 ? s->pw[j] : 1));
  }
  W2S_CALL(W2S_ALLOC(ctx, s->y, nb));
  W2S_CALL(W2S_ALLOC(ctx, s->S, nb * s->ds));
  W2S_CALL(W2S_ALLOC(ctx, s->P, nb * J));
  W2S_CALL(W2S_ALLOC(ctx, s->split, nb));
  W2S_CALL(W2S_ALLOC(ctx, s->A, nb * dmax));
  W2S_CALL(W2S_ALLOC(ctx, s->B, nb * (1 + J)));
  W2S_CALL(W2S_ALLOC(ctx, s->Fw, nb * J));
  W2S_CALL(W2S_ALLOC(ctx, s->Fsw, nb * J));
  W2S_CALL(W2S_ALLOC(ctx, s->Fs, nb));
  W2S_CALL(W2S_ALLOC(ctx, s->Yc, nb));
  W2S_CALL(W2S_ALLOC(ctx, s->cs, s->ps * (1 + J)));
  return W2S_OK;
}

/* Weak labels of the rows of split q in the block: compacted, m_q x J. */
static int64_t weak_labels(fitter *s, int q, int64_t m, double *out) {
  int64_t k = 0;
  for (int64_t i = 0; i < m; ++i) k += s->split[i] == q;
  for (int j = 0; j < s->J; ++j) {
    if (w2s_features_has_predictions(s->f, j)) {
      int64_t r = 0;
      for (int64_t i = 0; i < m; ++i)
        if (s->split[i] == q) out[j * k + r++] = s->P[j * m + i];
    } else {
      int64_t kk = gather(s, q, m, s->W[j], s->dw[j], 1, s->A);
      if (kk > 0)
        cblas_dgemv(CblasColMajor, CblasNoTrans, (int)kk, (int)s->pw[j], 1.0,
                    s->A, (int)kk, s->cw[j], 1, 0.0, out + j * k, 1);
    }
  }
  return k;
}

static w2s_err fit_pass_loop(w2s_ctx *ctx, fitter *s, w2s_lsq *ls, int q,
                             int rep, int strong, const char *label) {
  for (int more = 1; more;) {
    w2s_lsq_set_context(ls, label, 0);
    w2s_err e = W2S_OK;
    for (int64_t b = 0; b < s->nblocks; ++b) {
      int64_t m;
      W2S_CALL(read_block(ctx, s, b, &m, strong, 1));
      if (e) continue; /* keep taking part in the collective reads */
      int64_t k;
      if (strong) {
        /* Weak labels first: they use A as scratch. */
        int64_t kk = 0;
        for (int64_t i = 0; i < m; ++i) kk += s->split[i] == q;
        weak_labels(s, q, m, s->B + kk);
        k = gather(s, q, m, s->S, s->ds, 1, s->A);
        int64_t r = 0;
        for (int64_t i = 0; i < m; ++i)
          if (s->split[i] == q) s->B[r++] = s->y[i];
      } else {
        k = gather(s, q, m, s->W[rep], s->dw[rep], 1, s->A);
        int64_t r = 0;
        for (int64_t i = 0; i < m; ++i)
          if (s->split[i] == q) s->B[r++] = s->y[i];
      }
      e = w2s_lsq_add_rows(ctx, ls, k, s->A, k, s->B, k);
    }
    W2S_CALL(w2s_agree(ctx, e));
    W2S_CALL(w2s_lsq_end_pass(ctx, ls, &more));
  }
  return W2S_OK;
}

/* One head (weak model rep, or the strong one) with the given ridge. */
static w2s_err fit_one(w2s_ctx *ctx, fitter *s, int q, int rep, int strong,
                       double ridge, int *pen, const char *label, double *coef,
                       w2s_lsq_info *info) {
  int64_t p = strong ? s->ps : s->pw[rep], k = strong ? 1 + s->J : 1;
  w2s_lsq_opts lo = {ridge, pen, 0.0, label};
  w2s_lsq *ls = NULL;
  w2s_err e =
      w2s_agree(ctx, w2s_lsq_create_with(ctx, s->o->solver, p, k, &lo, &ls));
  if (!e) e = fit_pass_loop(ctx, s, ls, q, rep, strong, label);
  if (!e) e = w2s_lsq_solve(ctx, ls, &lo, coef, info);
  w2s_lsq_destroy(&ls);
  return e;
}

/* With several ridge candidates: fit each on 80% of the head's split,
 * score on the held-out 20% (weak heads against the true labels, the strong
 * head against the weak labels only, so no ground truth of the weak-to-
 * strong split is used), and return the best; then the caller refits. */
static w2s_err choose_ridge(w2s_ctx *ctx, fitter *s, int q, int rep,
                            int strong, int *pen, const char *label,
                            double *best) {
  const w2s_fit_opts *o = s->o;
  int64_t p = strong ? s->ps : s->pw[rep], k = strong ? 1 + s->J : 1;
  double *C = NULL, err[8] = {0};
  w2s_lsq_info info;
  w2s_err e = w2s_agree(ctx, W2S_ALLOC(ctx, C, p * k * o->nridge));
  if (e) {
    free(C); /* allocated where another rank's allocation failed */
    return e;
  }
  s->cv_mode = 1;
  for (int l = 0; l < o->nridge && !e; ++l)
    e = fit_one(ctx, s, q, rep, strong, o->ridge[l], pen, label, C + l * p * k,
                &info);
  s->cv_mode = 2;
  double *pred = NULL;
  if (!e) e = w2s_agree(ctx, W2S_ALLOC(ctx, pred, s->nb * k));
  for (int64_t b = 0; b < s->nblocks && !e; ++b) {
    int64_t m;
    e = read_block(ctx, s, b, &m, strong, 1);
    if (e) break;
    int64_t kk = 0;
    for (int64_t i = 0; i < m; ++i) kk += s->split[i] == q;
    if (kk == 0) continue;
    if (strong) weak_labels(s, q, m, s->B + kk);
    int64_t r = 0;
    for (int64_t i = 0; i < m; ++i)
      if (s->split[i] == q) s->B[r++] = s->y[i];
    gather(s, q, m, strong ? s->S : s->W[rep], strong ? s->ds : s->dw[rep], 1,
           s->A);
    for (int l = 0; l < o->nridge; ++l) {
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)kk, (int)k,
                  (int)p, 1.0, s->A, (int)kk, C + l * p * k, (int)p, 0.0, pred,
                  (int)kk);
      for (int64_t c = strong ? 1 : 0; c < k; ++c)
        for (int64_t i = 0; i < kk; ++i) {
          double d = pred[c * kk + i] - s->B[c * kk + i];
          err[l] += d * d;
        }
    }
  }
  s->cv_mode = 0;
  if (!e) e = w2s_agree(ctx, w2s_sum(ctx, err, o->nridge));
  if (!e) {
    int bl = 0;
    for (int l = 1; l < o->nridge; ++l)
      if (err[l] < err[bl]) bl = l;
    *best = o->ridge[bl];
    w2s_log(ctx, 1, "%s: ridge %g chosen on held-out rows", label, *best);
  }
  free(pred);
  free(C);
  return e;
}

/* A head fitted on no rows (a ridge alone makes the system solvable) would
 * be all zeros and its metrics meaningless: every split that fits a head
 * needs rows, and with several ridge candidates rows in both its fitting
 * and its held-out part. Decided from global counts: the same on every
 * rank. */
static w2s_err check_rows(w2s_ctx *ctx, const fitter *s) {
  static const char *what[2] = {"split 0 (weak training)",
                                "split 1 (weak-to-strong training)"};
  int weak_fits = 0;
  for (int j = 0; j < s->J; ++j)
    weak_fits |= s->pw[j] > 0 && !w2s_features_has_predictions(s->f, j);
  for (int q = weak_fits ? 0 : 1; q < 2; ++q) {
    if (s->nsplit[q] == 0)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: %s has no rows; use another --split or /split",
                      s->o->path, what[q]);
    if (s->o->nridge > 1 && (s->ncv[q][0] == 0 || s->ncv[q][1] == 0))
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: %s has %lld rows to fit and %lld held out to "
                      "choose among the --ridge values; both need rows (use "
                      "more rows or one --ridge value)",
                      s->o->path, what[q], (long long)s->ncv[q][0],
                      (long long)s->ncv[q][1]);
  }
  return W2S_OK;
}

w2s_err w2s_fit_run(w2s_ctx *ctx, const w2s_fit_opts *o, w2s_features *f,
                    int repeat, w2s_fit_scan *scan_out, w2s_results **out) {
  fitter s;
  w2s_results *res = NULL;
  w2s_err e = w2s_agree(ctx, setup(ctx, o, f, &s));
  s.repeat = (uint64_t)repeat;
  if (!e && !w2s_features_has_split(f)) {
    s.nsplit[0] = llround(o->split[0] * (double)s.n);
    s.nsplit[1] = llround(o->split[1] * (double)s.n);
    if (s.nsplit[0] + s.nsplit[1] > s.n) s.nsplit[1] = s.n - s.nsplit[0];
    s.nsplit[2] = s.n - s.nsplit[0] - s.nsplit[1];
  }
  if (!e) e = w2s_agree(ctx, scan(ctx, &s, scan_out));
  if (!e) e = check_rows(ctx, &s);
  /* Enough rows in every split for its fits. */
  for (int j = 0; j < s.J && !e; ++j)
    if (s.pw[j] > 0 && o->ridge[0] == 0.0 && o->nridge == 1 &&
        s.nsplit[0] < s.pw[j])
      e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                   "%s: split 0 (weak training) has %lld rows, fewer than the "
                   "%lld parameters of weak model '%s' (%lld features + "
                   "intercept); use more rows, another split or --ridge",
                   o->path, (long long)s.nsplit[0], (long long)s.pw[j],
                   w2s_features_weak_name(f, j), (long long)s.dw[j]);
  if (!e && o->ridge[0] == 0.0 && o->nridge == 1 && s.nsplit[1] < s.ps)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                 "%s: split 1 (weak-to-strong training) has %lld rows, fewer "
                 "than the %lld parameters of the strong head; use more rows, "
                 "another split or --ridge",
                 o->path, (long long)s.nsplit[1], (long long)s.ps);
  if (!e && s.nsplit[2] < 1)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: split 2 (test) has no rows",
                 o->path);
  if (!e) e = w2s_results_alloc(ctx, 1, s.J, &res);
  if (!e) {
    res->nrepr = 1 + s.J;
    e = W2S_ALLOC(ctx, res->repr, res->nrepr);
  }
  e = w2s_agree(ctx, e);
  /* One penalty mask for every head: as long as the widest of them (a weak
   * representation may be wider than the strong one). */
  int64_t pmax = s.ps > 1 ? s.ps : 2;
  for (int j = 0; !e && j < s.J; ++j)
    if (s.pw[j] > pmax) pmax = s.pw[j];
  int *pen = NULL;
  if (!e) e = w2s_agree(ctx, W2S_ALLOC(ctx, pen, pmax));
  char label[160];
  w2s_lsq_info info;
  /* Weak heads on split 0. */
  for (int j = 0; j < s.J && !e; ++j) {
    w2s_repr_record *rec = &res->repr[1 + j];
    snprintf(rec->name, sizeof rec->name, "weak.%s", w2s_features_weak_name(f, j));
    snprintf(rec->role, sizeof rec->role, "weak");
    snprintf(rec->source, sizeof rec->source, "%s",
             s.pw[j] ? (w2s_features_has_predictions(f, j) ? "predictions"
                                                           : "file")
                     : "predictions");
    rec->dim = s.dw[j];
    snprintf(res->weak_names[j], W2S_NAME_LEN, "%s", w2s_features_weak_name(f, j));
    res->weak_p[j] = s.pw[j];
    if (!s.pw[j] || w2s_features_has_predictions(f, j)) continue;
    for (int64_t c = 0; c < s.pw[j]; ++c) pen[c] = c < s.dw[j];
    snprintf(label, sizeof label, "%s: weak model '%s'", o->path,
             w2s_features_weak_name(f, j));
    double ridge = o->ridge[0];
    if (o->nridge > 1) e = choose_ridge(ctx, &s, 0, j, 0, pen, label, &ridge);
    if (!e) e = fit_one(ctx, &s, 0, j, 0, ridge, pen, label, s.cw[j], &info);
    if (!e) rec->rank = info.rank, rec->cond = info.cond, rec->ridge = ridge;
  }
  /* The strong head on split 1: [labels | weak labels], one factorisation. */
  if (!e) {
    for (int64_t c = 0; c < s.ps; ++c) pen[c] = c < s.ds;
    snprintf(label, sizeof label, "%s: strong representation", o->path);
    double ridge = o->ridge[0];
    if (o->nridge > 1) e = choose_ridge(ctx, &s, 1, 0, 1, pen, label, &ridge);
    if (!e) e = fit_one(ctx, &s, 1, 0, 1, ridge, pen, label, s.cs, &info);
    if (!e) {
      w2s_repr_record *rec = &res->repr[0];
      snprintf(rec->name, sizeof rec->name, "strong");
      snprintf(rec->role, sizeof rec->role, "strong");
      snprintf(rec->source, sizeof rec->source, "file");
      rec->dim = s.ds, rec->rank = info.rank, rec->cond = info.cond;
      rec->ridge = ridge;
    }
  }
  /* Metrics: split 1 (train) and split 2 (test) in one pass. */
  w2s_metric_sums sums[2] = {{0}, {0}};
  if (!e) e = w2s_agree(ctx, w2s_metric_sums_init(ctx, 1, s.J, &sums[0]));
  if (!e) e = w2s_agree(ctx, w2s_metric_sums_init(ctx, 1, s.J, &sums[1]));
  for (int64_t b = 0; b < s.nblocks && !e; ++b) {
    int64_t m;
    e = read_block(ctx, &s, b, &m, 1, 1);
    for (int q = 1; q <= 2 && !e; ++q) {
      int64_t k = weak_labels(&s, q, m, s.Fw);
      gather(&s, q, m, s.S, s.ds, 1, s.A);
      int64_t r = 0;
      for (int64_t i = 0; i < m; ++i)
        if (s.split[i] == q) s.Yc[r++] = s.y[i];
      if (k > 0) {
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)k, s.J,
                    (int)s.ps, 1.0, s.A, (int)k, s.cs + s.ps, (int)s.ps, 0.0,
                    s.Fsw, (int)k);
        cblas_dgemv(CblasColMajor, CblasNoTrans, (int)k, (int)s.ps, 1.0, s.A,
                    (int)k, s.cs, 1, 0.0, s.Fs, 1);
      }
      w2s_metric_sums_add(&sums[q - 1], k, s.Yc, k, s.Fw, k, s.Fsw, k, s.Fs, k);
    }
  }
  if (!e) e = w2s_agree(ctx, w2s_metric_sums_reduce(ctx, &sums[0]));
  if (!e) e = w2s_agree(ctx, w2s_metric_sums_reduce(ctx, &sums[1]));
  if (!e) w2s_metrics_finish(&sums[1], &sums[0], 0, res->metric);
  w2s_metric_sums_free(&sums[0]);
  w2s_metric_sums_free(&sums[1]);
  if (!e) {
    res->strong_p = s.ps;
    res->seed = o->seed;
    res->mpi_ranks = ctx->size;
    snprintf(res->solver, sizeof res->solver, "%s", o->solver);
    e = W2S_ALLOC(ctx, res->coef_ceiling, s.ps);
    if (!e) e = W2S_ALLOC(ctx, res->coef_w2s, s.ps * s.J);
    if (!e) {
      memcpy(res->coef_ceiling, s.cs, sizeof(double) * (size_t)s.ps);
      memcpy(res->coef_w2s, s.cs + s.ps, sizeof(double) * (size_t)(s.ps * s.J));
    }
    for (int j = 0; j < s.J && !e; ++j) {
      e = W2S_ALLOC(ctx, res->coef_weak[j], s.pw[j] > 0 ? s.pw[j] : 1);
      if (!e && s.pw[j])
        memcpy(res->coef_weak[j], s.cw[j], sizeof(double) * (size_t)s.pw[j]);
    }
    e = w2s_agree(ctx, e);
  }
  free(pen);
  fitter_free(&s);
  if (e) {
    w2s_results_destroy(&res);
    return e;
  }
  *out = res;
  return W2S_OK;
}
