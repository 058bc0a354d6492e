/* The softmax Newton solver across ranks (heads.h: w2s_softmax_fit). Every
 * rank builds the same global problem (n rows of H, an intercept column, and
 * K = 3 heads' labels: soft, one-hot, one-hot) from the counter-based RNG and
 * passes ITS OWN rows: w2s_partition's blocks, all rows on the last rank
 * (every other rank, rank 0 included, holds none), or n = 2 rows (at 3
 * ranks one rank holds none). Then, on every rank:
 *  - W equals the fit of the whole problem on a local context: bit for bit
 *    at 1 rank (the same sums in the same order), and otherwise within
 *    2 (||g(W)|| + ||g(W_local)||) / lambda_min, g the exact gradient and
 *    lambda_min the Hessian's smallest eigenvalue, both in long double here
 *    (L is strongly convex: a point with gradient g is within ~||g|| /
 *    lambda_min of the optimum; the 2 covers the Hessian's change over the
 *    1e-12-sized segment). The reduction only reorders the sums, so both
 *    fits stop at tol = 1e-12 relative gradient plus rounding, and that
 *    bound is below 1e-10 ||W||, which is required as well (the brief's
 *    figure: rounding of reordered sums times the condition);
 *  - every rank holds the same bits of W and the same info;
 *  - a NaN in a row of the last rank only makes every rank return
 *    W2S_ERR_NUMERIC with the same message naming the label.
 * Measured at 1, 2, 3 ranks: |W - W_local| / |W| = 0 at 1 rank and when one
 * rank holds every row, at most 1.2e-15 otherwise, against bounds of up to
 * 1.6e-11 relative (1.2e-5 of the 1e-10 required).
 * Failures are reduced into the exit code; rank 0 names the failing cases. */
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/core.h"
#include "w2s/heads.h"
#include "w2s/rng.h"

#define EPS DBL_EPSILON

static int rank_g, size_g;
static int case_failures; /* this rank, current case */

/* One fprintf per failure, so the lines of different ranks do not mix. */
#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      char what_[2048];                                                        \
      ++case_failures;                                                         \
      snprintf(what_, sizeof what_, __VA_ARGS__);                              \
      fprintf(stderr, "rank %d FAIL %s:%d: %s: %s\n", rank_g, __FILE__,        \
              __LINE__, #cond, what_);                                         \
    }                                                                          \
  } while (0)

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p) {
    fprintf(stderr, "rank %d: out of memory\n", rank_g);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return p;
}

enum { P = 5, C = 4, K = 3, Q = P * (C - 1) };

/* The global problem: H n x P (ld n; columns 0.5 + s_j N(0, 1) + 0.4
 * H_{j-1}, the last one the intercept's 1), Y n x K C (ld n): head 0 the
 * softmax probabilities of a random head 0.7 N(0, 1), heads 1 and 2 one
 * class drawn from theirs. */
static void make_problem(uint64_t seed, int64_t n, double *H, double *Y) {
  double Wt[K * Q], *u = xcalloc((size_t)n, sizeof(double));
  for (int64_t j = 0; j < P; ++j) {
    double *h = H + j * n;
    if (j == P - 1) {
      for (int64_t i = 0; i < n; ++i) h[i] = 1.0;
      continue;
    }
    w2s_rng_normal(seed, 95, (uint64_t)j, 0, 0, n, h);
    double s = 0.6 + (double)j / (P - 2);
    for (int64_t i = 0; i < n; ++i)
      h[i] = 0.5 + s * h[i] + (j > 0 ? 0.4 * h[i - n] : 0.0);
  }
  w2s_rng_normal(seed, 96, 0, 0, 0, K * Q, Wt);
  for (int64_t k = 0; k < K; ++k) {
    w2s_rng_uniform(seed, 97, (uint64_t)k, 0, 0, n, 0.0, 1.0, u);
    double *Yk = Y + k * C * n;
    for (int64_t i = 0; i < n; ++i) {
      long double z[C] = {0.0L}, mx = 0.0L, s = 0.0L, cum = 0.0L;
      for (int64_t c = 1; c < C; ++c) {
        for (int64_t j = 0; j < P; ++j)
          z[c] += (long double)H[j * n + i] * 0.7 * Wt[k * Q + (c - 1) * P + j];
        if (z[c] > mx) mx = z[c];
      }
      for (int64_t c = 0; c < C; ++c) s += expl(z[c] - mx);
      int64_t drawn = C - 1;
      for (int64_t c = 0; c < C; ++c) {
        long double pc = expl(z[c] - mx) / s;
        cum += pc;
        if (drawn == C - 1 && u[i] < cum) drawn = c;
        Yk[c * n + i] = k == 0 ? (double)pc : 0.0;
      }
      if (k > 0) Yk[drawn * n + i] = 1.0;
    }
  }
  free(u);
}

/* Head k's exact gradient G (Q) and Hessian Hs (Q x Q, or NULL) at w, long
 * double, straight from heads.h's statement of the problem. */
static void exact(int64_t n, const double *H, const double *Y, int64_t k,
                  const double *w, double ridge, const int *pen, long double *G,
                  long double *Hs) {
  const double *Yk = Y + k * C * n;
  memset(G, 0, sizeof(long double) * Q);
  if (Hs) memset(Hs, 0, sizeof(long double) * Q * Q);
  for (int64_t i = 0; i < n; ++i) {
    long double z[C] = {0.0L}, pc[C], mx = 0.0L, se = 0.0L, s = 0.0L;
    for (int64_t c = 1; c < C; ++c) {
      for (int64_t j = 0; j < P; ++j)
        z[c] += (long double)H[j * n + i] * w[(c - 1) * P + j];
      if (z[c] > mx) mx = z[c];
    }
    for (int64_t c = 0; c < C; ++c) se += expl(z[c] - mx);
    for (int64_t c = 0; c < C; ++c) {
      pc[c] = expl(z[c] - mx) / se;
      s += Yk[c * n + i];
    }
    for (int64_t c = 1; c < C; ++c)
      for (int64_t j = 0; j < P; ++j) {
        long double h = H[j * n + i];
        G[(c - 1) * P + j] += h * (s * pc[c] - Yk[c * n + i]);
        if (!Hs) continue;
        for (int64_t e = 1; e < C; ++e)
          for (int64_t l = 0; l < P; ++l)
            Hs[((e - 1) * P + l) * Q + (c - 1) * P + j] +=
                s * pc[c] * ((c == e ? 1.0L : 0.0L) - pc[e]) * h * H[l * n + i];
      }
  }
  for (int64_t a = 0; a < Q; ++a) {
    int penalised = ridge > 0.0 && (!pen || pen[a % P]);
    G[a] = G[a] / (long double)n + (penalised ? 2.0L * ridge * w[a] : 0.0L);
    if (!Hs) continue;
    for (int64_t b = 0; b < Q; ++b) Hs[b * Q + a] /= (long double)n;
    if (penalised) Hs[a * Q + a] += 2.0L * ridge;
  }
}

static double grad_norm(int64_t n, const double *H, const double *Y, int64_t k,
                        const double *w, double ridge, const int *pen) {
  long double G[Q], s = 0.0L;
  exact(n, H, Y, k, w, ridge, pen, G, NULL);
  for (int64_t a = 0; a < Q; ++a) s += G[a] * G[a];
  return (double)sqrtl(s);
}

static double lambda_min(int64_t n, const double *H, const double *Y, int64_t k,
                         const double *w, double ridge, const int *pen) {
  long double G[Q], *Hs = xcalloc(Q * Q, sizeof(long double));
  double A[Q * Q], ev[Q];
  exact(n, H, Y, k, w, ridge, pen, G, Hs);
  for (int64_t i = 0; i < Q * Q; ++i) A[i] = (double)Hs[i];
  free(Hs);
  if (LAPACKE_dsyev(LAPACK_COL_MAJOR, 'N', 'U', Q, A, Q, ev) != 0) return NAN;
  return ev[0];
}

static double diff_norm(int64_t len, const double *x, const double *y,
                        double *xnorm) {
  long double s = 0.0L, t = 0.0L;
  for (int64_t i = 0; i < len; ++i) {
    long double d = (long double)x[i] - y[i];
    s += d * d;
    t += (long double)y[i] * y[i];
  }
  *xnorm = (double)sqrtl(t);
  return (double)sqrtl(s);
}

enum { OWN_PARTITION, OWN_LAST };

/* 1 when every rank holds rank 0's bits of len bytes at buf. */
static int same_bits(const void *buf, int len) {
  char *b0 = xcalloc((size_t)len, 1);
  memcpy(b0, buf, (size_t)len);
  MPI_Bcast(b0, len, MPI_BYTE, 0, MPI_COMM_WORLD);
  int diff = memcmp(b0, buf, (size_t)len) != 0, any = 0;
  MPI_Allreduce(&diff, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  free(b0);
  return !any;
}

static void run_case(w2s_ctx *ctx, w2s_ctx *local, const char *name, int64_t n,
                     int own, double ridge, const int *pen, double *worst) {
  double *H = xcalloc((size_t)(n * P), sizeof(double));
  double *Y = xcalloc((size_t)(n * K * C), sizeof(double));
  double W[K * Q], Wl[K * Q];
  w2s_softmax_info in[K], inl[K];
  make_problem(2024 + (uint64_t)n, n, H, Y);
  int64_t lo = 0, cnt = 0;
  if (own == OWN_PARTITION) w2s_partition(n, ctx->size, ctx->rank, &lo, &cnt);
  if (own == OWN_LAST && ctx->rank == ctx->size - 1) cnt = n;
  const w2s_softmax_opts o = {.ridge = ridge,
                              .penalize = pen,
                              .tol = 1e-12,
                              .max_iter = 50,
                              .label = name};
  const w2s_softmax_data d = {cnt, n, P, C, H + lo, n, K, Y + lo, n, lo};
  const w2s_softmax_data dl = {n, n, P, C, H, n, K, Y, n, 0};
  w2s_err e = w2s_softmax_fit(ctx, &d, &o, W, in);
  CHECK(e == W2S_OK, "%s: distributed fit failed: %s", name, ctx->msg);
  w2s_err el = w2s_softmax_fit(local, &dl, &o, Wl, inl);
  CHECK(el == W2S_OK, "%s: local fit failed: %s", name, local->msg);
  if (e == W2S_OK && el == W2S_OK) {
    CHECK(same_bits(W, (int)sizeof W), "%s: ranks hold different W", name);
    CHECK(same_bits(in, (int)sizeof in), "%s: ranks hold different info", name);
    int differ = 0; /* bit for bit: no NaN here, and no -0 vs 0 */
    for (int64_t a = 0; a < K * Q; ++a) differ |= W[a] != Wl[a];
    if (ctx->size == 1) CHECK(!differ, "%s: 1 rank differs from local", name);
    for (int64_t k = 0; k < K; ++k) {
      double wn = 0.0, err = diff_norm(Q, W + k * Q, Wl + k * Q, &wn);
      double lm = lambda_min(n, H, Y, k, Wl + k * Q, ridge, pen);
      double bound = 2.0 *
                     (grad_norm(n, H, Y, k, W + k * Q, ridge, pen) +
                      grad_norm(n, H, Y, k, Wl + k * Q, ridge, pen)) /
                     lm;
      CHECK(err <= bound, "%s head %d: |W - W_local| = %.3g > bound %.3g", name,
            (int)k, err, bound);
      CHECK(err <= 1e-10 * wn,
            "%s head %d: |W - W_local| = %.3g > 1e-10 x %.3g", name, (int)k,
            err, wn);
      if (wn > 0 && err / (1e-10 * wn) > *worst) *worst = err / (1e-10 * wn);
      if (ctx->rank == 0)
        printf("%s head %d (%d ranks): %d iterations, |dW|/|W| = %.2e, "
               "bound %.2e, lambda_min %.2e\n",
               name, (int)k, ctx->size, in[k].iterations, err / wn, bound / wn,
               lm);
    }
  }
  free(H);
  free(Y);
}

/* A NaN in the last global row (the last rank's, under both ownerships):
 * every rank returns W2S_ERR_NUMERIC with the same message. */
static void run_nan_case(int own) {
  const int64_t n = 31;
  w2s_ctx *ctx = NULL;
  if (w2s_ctx_create(MPI_COMM_WORLD, 0, &ctx) != W2S_OK) {
    CHECK(0, "context");
    return;
  }
  double *H = xcalloc((size_t)(n * P), sizeof(double));
  double *Y = xcalloc((size_t)(n * K * C), sizeof(double));
  double W[K * Q];
  make_problem(7, n, H, Y);
  H[2 * n + n - 1] = NAN;
  int64_t lo = 0, cnt = 0;
  if (own == OWN_PARTITION) w2s_partition(n, ctx->size, ctx->rank, &lo, &cnt);
  if (own == OWN_LAST && ctx->rank == ctx->size - 1) cnt = n;
  const w2s_softmax_opts o = {.tol = 1e-12,
                              .max_iter = 50,
                              .label = "weak model 'nan'"};
  const w2s_softmax_data d = {cnt, n, P, C, H + lo, n, K, Y + lo, n, lo};
  w2s_err e = w2s_softmax_fit(ctx, &d, &o, W, NULL);
  CHECK(e == W2S_ERR_NUMERIC, "NaN: got error %d", (int)e);
  CHECK(strstr(ctx->msg, "weak model 'nan'") != NULL, "NaN: message '%s'",
        ctx->msg);
  char msg[W2S_MSG_LEN];
  memcpy(msg, ctx->msg, sizeof msg);
  CHECK(same_bits(msg, (int)sizeof msg),
        "NaN: ranks report different "
        "messages ('%s' here)",
        msg);
  free(H);
  free(Y);
  w2s_ctx_destroy(&ctx);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_g);
  MPI_Comm_size(MPI_COMM_WORLD, &size_g);
  w2s_ctx *ctx = NULL, *local = NULL;
  if (w2s_ctx_create(MPI_COMM_WORLD, 0, &ctx) != W2S_OK ||
      w2s_ctx_create(MPI_COMM_NULL, 0, &local) != W2S_OK) {
    fprintf(stderr, "rank %d: cannot create the contexts\n", rank_g);
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1; /* not reached: MPI_Abort does not return */
  }
  const int free_intercept[P] = {1, 1, 1, 1, 0};
  const struct {
    const char *name;
    int64_t n;
    int own;
    double ridge;
    const int *pen;
  } cases[] = {
      {"n=301 partitioned", 301, OWN_PARTITION, 0.0, NULL},
      {"n=301 partitioned, ridge, free intercept", 301, OWN_PARTITION, 0.01,
       free_intercept},
      {"n=301 all on the last rank", 301, OWN_LAST, 0.0, NULL},
      {"n=2 partitioned, ridge", 2, OWN_PARTITION, 0.05, NULL},
  };
  int total = 0;
  double worst = 0.0;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    case_failures = 0;
    run_case(ctx, local, cases[c].name, cases[c].n, cases[c].own,
             cases[c].ridge, cases[c].pen, &worst);
    int sum = 0;
    MPI_Allreduce(&case_failures, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (sum && rank_g == 0) fprintf(stderr, "FAILED: %s\n", cases[c].name);
    total += sum;
  }
  for (int own = OWN_PARTITION; own <= OWN_LAST; ++own) {
    case_failures = 0;
    run_nan_case(own);
    int sum = 0;
    MPI_Allreduce(&case_failures, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (sum && rank_g == 0) fprintf(stderr, "FAILED: NaN case %d\n", own);
    total += sum;
  }
  MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  if (rank_g == 0)
    printf("%s at %d ranks: worst |dW| / (1e-10 |W|) = %.2e\n",
           total ? "FAILED" : "passed", size_g, worst);
  w2s_ctx_destroy(&local);
  w2s_ctx_destroy(&ctx);
  MPI_Finalize();
  return total ? 1 : 0;
}
