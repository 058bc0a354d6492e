/* The softmax Newton solver (heads.h: w2s_softmax_fit, w2s_softmax_logprob,
 * w2s_softmax_argmax) on a local context, against references computed here
 * independently of src/heads/softmax.c:
 *  - the objective L, its gradient and Hessian recomputed row by row in long
 *    double (eval_ld) from the stated problem (heads.h),
 *  - a plain-loop IRLS logistic regression (C = 2),
 *  - the true head of realizable soft labels,
 *  - a naive log-softmax,
 *  - and (tests/ref/softmax_ref.py, through `test_softmax --dump FILE`) an
 *    independent numpy Newton solver.
 *
 * Error bounds (eps = DBL_EPSILON):
 *  KKT. At the returned W the solver claims ||g^(W)|| <= tol ||g^(0)||, g^
 *    its own gradient in double. The exact gradient g (long double here,
 *    whose own rounding, ~1e-19 relative, is negligible) differs from g^ by
 *    at most the first-order rounding bound r(W) eval_ld gives, so we
 *    require ||g(W)|| <= tol ||g(0)|| + 2 (r(W) + tol r(0)) (the 2 for
 *    the norms of the per-entry bounds).
 *  Distance to the optimum. L is strongly convex near W* with modulus
 *    lambda_min of its Hessian, so ||W - W*|| <= ||g(W)|| / lambda_min to
 *    first order; 2 ||g(W)|| / lambda_min(W) also covers the change of the
 *    Hessian over the (1e-10-sized) segment. Two approximations a, b of the
 *    same W* are then within 2 (||g(a)|| + ||g(b)||) / lambda_min. For the
 *    true head of realizable soft labels, W_true is itself such an
 *    approximation: its gradient is not 0 only because Y was rounded to
 *    double, and eval_ld measures exactly that.
 *  Minimality. A +-1e-4 unit step d from the optimum changes L by
 *    +-1e-4 g.d + 0.5e-8 d^T Hess d (the third-order term is below 1e-4
 *    x 2 max_i ||h_i|| ~1e-3 of the second: log-sum-exp's third derivative
 *    along d is at most twice its second times the logits' spread); the test
 *    checks that the curvature term, >= 0.5e-8 lambda_min, is at least 10
 *    times 1e-4 ||g|| plus the long-double rounding of L (m eps_ld L), so
 *    any decrease means a wrong optimum (a W off by more than ~1e-5 fails).
 *  logprob. z = H w by a DGEMM has |dz| <= gamma_p sum_j |h_j w_j| =: a,
 *    gamma_p = p eps / (1 - p eps); the shift by the log-sum-exp adds at
 *    most a + (C + 4) eps (1 + |lse|); we allow twice that sum.
 * Measured (OpenBLAS Prescott and Haswell kernels, one thread): the exact
 * gradient at the fit is 5e-5 .. 0.4 of tol ||g(0)|| (Newton's last step
 * usually overshoots tol by orders of magnitude); distances to the true head,
 * to IRLS and to the reduced problems are 1e-17 .. 1.5e-12, 6 to 700 times
 * inside their bounds. */
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit_common.h"

#include "w2s/core.h"
#include "w2s/heads.h"
#include "w2s/rng.h"

#define EPS DBL_EPSILON

enum { SOFT, ONEHOT, SEPARABLE };
enum { STREAM_H = 90, STREAM_W = 91, STREAM_LABEL = 92, STREAM_DIR = 93 };
static const double TOL = 1e-12;

static w2s_ctx *new_ctx(void) {
  w2s_ctx *ctx = NULL;
  assert_int_equal(w2s_ctx_create(MPI_COMM_NULL, 0, &ctx), W2S_OK);
  return ctx;
}

/* n zeroed long doubles (at least one), or the test fails. */
static long double *ldmalloc(size_t n) {
  long double *p = calloc(n ? n : 1, sizeof(long double));
  assert_non_null(p);
  return p;
}

/* K heads on one H: m x p (ld ldh >= m, padding NaN so that a read past
 * the rows poisons the fit), Y m x K C (ld ldy, NaN padding), the true heads
 * Wt (p x (C - 1) each) the labels were drawn from. */
typedef struct {
  int64_t m, p, C, K, ldh, ldy;
  double *H, *Y, *Wt;
} problem;

/* H: columns 0 .. p - 2 are 0.5 + s_j N(0, 1) + 0.4 H_{j-1} (scales s_j =
 * 0.6 .. 1.6, correlated neighbours), column p - 1 is the intercept's 1.
 * Head k's true W: scale N(0, 1) (0.7 by make_problem). Labels per kind: SOFT,
 * the head's softmax probabilities; ONEHOT, one class drawn from them;
 * SEPARABLE, the class of largest probability (linearly separable: no finite
 * optimum). */
static void make_problem_scaled(uint64_t seed, int64_t m, int64_t p, int64_t C,
                                int64_t K, int kind, double scale,
                                problem *pr) {
  int64_t q = p * (C - 1);
  *pr = (problem){m, p, C, K, m + 3, m + 2, NULL, NULL, NULL};
  pr->H = xmalloc((size_t)(pr->ldh * p));
  pr->Y = xmalloc((size_t)(pr->ldy * K * C));
  pr->Wt = xmalloc((size_t)(q * K));
  for (int64_t i = 0; i < pr->ldh * p; ++i) pr->H[i] = NAN;
  for (int64_t i = 0; i < pr->ldy * K * C; ++i) pr->Y[i] = NAN;
  for (int64_t j = 0; j < p; ++j) {
    double *h = pr->H + j * pr->ldh;
    if (j == p - 1) {
      for (int64_t i = 0; i < m; ++i) h[i] = 1.0;
      continue;
    }
    w2s_rng_normal(seed, STREAM_H, (uint64_t)j, 0, 0, m, h);
    double s = 0.6 + (double)j / (double)(p > 2 ? p - 2 : 1);
    for (int64_t i = 0; i < m; ++i)
      h[i] = 0.5 + s * h[i] + (j > 0 ? 0.4 * h[i - pr->ldh] : 0.0);
  }
  w2s_rng_normal(seed, STREAM_W, 0, 0, 0, q * K, pr->Wt);
  for (int64_t a = 0; a < q * K; ++a) pr->Wt[a] *= scale;
  double *u = xmalloc((size_t)m);
  long double *z = ldmalloc((size_t)C);
  for (int64_t k = 0; k < K; ++k) {
    w2s_rng_uniform(seed, STREAM_LABEL, (uint64_t)k, 0, 0, m, 0.0, 1.0, u);
    const double *w = pr->Wt + k * q;
    double *Y = pr->Y + k * C * pr->ldy;
    for (int64_t i = 0; i < m; ++i) {
      long double mx = 0.0L, s = 0.0L;
      int64_t best = 0;
      z[0] = 0.0L;
      for (int64_t c = 1; c < C; ++c) {
        z[c] = 0.0L;
        for (int64_t j = 0; j < p; ++j)
          z[c] += (long double)pr->H[j * pr->ldh + i] * w[(c - 1) * p + j];
        if (z[c] > mx) mx = z[c];
        if (z[c] > z[best]) best = c;
      }
      for (int64_t c = 0; c < C; ++c) s += expl(z[c] - mx);
      long double cum = 0.0L;
      int64_t drawn = C - 1;
      for (int64_t c = 0; c < C; ++c) {
        long double pc = expl(z[c] - mx) / s;
        cum += pc;
        if (drawn == C - 1 && u[i] < cum) drawn = c;
        Y[c * pr->ldy + i] = kind == SOFT ? (double)pc : 0.0;
      }
      if (kind == ONEHOT) Y[drawn * pr->ldy + i] = 1.0;
      if (kind == SEPARABLE) Y[best * pr->ldy + i] = 1.0;
    }
  }
  free(u);
  free(z);
}

static void make_problem(uint64_t seed, int64_t m, int64_t p, int64_t C,
                         int64_t K, int kind, problem *pr) {
  make_problem_scaled(seed, m, p, C, K, kind, 0.7, pr);
}

static void free_problem(problem *pr) {
  free(pr->H);
  free(pr->Y);
  free(pr->Wt);
}

static w2s_softmax_data data_of(const problem *pr) {
  return (w2s_softmax_data){pr->m,   pr->m, pr->p, pr->C,   pr->H,
                            pr->ldh, pr->K, pr->Y, pr->ldy, 0};
}

static w2s_softmax_opts opts_of(double ridge, const int *pen, int max_iter,
                                const char *label) {
  return (w2s_softmax_opts){.ridge = ridge,
                            .penalize = pen,
                            .tol = TOL,
                            .max_iter = max_iter,
                            .label = label};
}

/* The stated problem (heads.h) in long double, for head k at w: returns L;
 * G (q, or NULL) its gradient, Hs (q x q, or NULL) its Hessian, gr (q, or
 * NULL) the first-order bound on each entry of the gradient as the solver
 * computes it in double (see the top): with a_i = max_c sum_j |h_ij w_jc|,
 * |dp_c| <= p_c d_i, d_i = 2 gamma_p a_i + (C + 4) eps (1 + |lse_i|), and
 * the sum over the rows (a DGEMM) adds gamma_m (1/n) sum |h_ij| (s p_c +
 * y_c). fr (or NULL): the same bound for L, whose terms -y_c log p_c are
 * all >= 0: gamma_m L + max_i s_i d_i. */
static long double eval_ld(const problem *pr, int64_t k, const double *w,
                           double ridge, const int *pen, long double *G,
                           long double *Hs, double *gr, double *fr) {
  int64_t m = pr->m, p = pr->p, C = pr->C, q = p * (C - 1);
  const double *Y = pr->Y + k * C * pr->ldy;
  long double f = 0.0L, z[8], pc[8];
  double dmax = 0.0;
  double gp = (double)p * EPS / (1.0 - (double)p * EPS);
  double gm = (double)m * EPS / (1.0 - (double)m * EPS);
  assert_true(C <= 8);
  if (G) memset(G, 0, sizeof(long double) * (size_t)q);
  if (Hs) memset(Hs, 0, sizeof(long double) * (size_t)(q * q));
  if (gr) memset(gr, 0, sizeof(double) * (size_t)q);
  for (int64_t i = 0; i < m; ++i) {
    long double mx = 0.0L, se = 0.0L, s = 0.0L, a = 0.0L;
    z[0] = 0.0L;
    for (int64_t c = 1; c < C; ++c) {
      long double ac = 0.0L;
      z[c] = 0.0L;
      for (int64_t j = 0; j < p; ++j) {
        long double t = (long double)pr->H[j * pr->ldh + i] *
                        w[(c - 1) * p + j];
        z[c] += t;
        ac += fabsl(t);
      }
      if (z[c] > mx) mx = z[c];
      if (ac > a) a = ac;
    }
    for (int64_t c = 0; c < C; ++c) se += expl(z[c] - mx);
    long double lse = mx + logl(se);
    for (int64_t c = 0; c < C; ++c) {
      long double y = Y[c * pr->ldy + i];
      pc[c] = expl(z[c] - lse);
      s += y;
      f -= y * (z[c] - lse);
    }
    double dp = 2.0 * gp * (double)a +
                (double)(C + 4) * EPS * (1.0 + fabs((double)lse));
    if ((double)s * dp > dmax) dmax = (double)s * dp;
    for (int64_t c = 1; c < C; ++c) {
      long double r = s * pc[c] - Y[c * pr->ldy + i];
      for (int64_t j = 0; j < p; ++j) {
        long double h = pr->H[j * pr->ldh + i];
        if (G) G[(c - 1) * p + j] += h * r;
        if (gr)
          gr[(c - 1) * p + j] += fabs((double)h) *
                                 ((double)pc[c] * dp +
                                  gm *
                                      (double)(s * pc[c] + Y[c * pr->ldy + i]));
        if (!Hs) continue;
        for (int64_t e = 1; e < C; ++e) {
          long double wgt = s * pc[c] * ((c == e ? 1.0L : 0.0L) - pc[e]);
          for (int64_t l = 0; l < p; ++l)
            Hs[((e - 1) * p + l) * q + (c - 1) * p + j] +=
                wgt * h * pr->H[l * pr->ldh + i];
        }
      }
    }
  }
  long double inv = 1.0L / (long double)m;
  f *= inv;
  if (fr) *fr = gm * (double)f + dmax;
  for (int64_t a = 0; a < q; ++a) {
    if (G) G[a] *= inv;
    if (gr) gr[a] /= (double)m;
    if (Hs)
      for (int64_t b = 0; b < q; ++b) Hs[b * q + a] *= inv;
  }
  for (int64_t c = 0; c < C - 1 && ridge > 0.0; ++c)
    for (int64_t j = 0; j < p; ++j) {
      if (pen && !pen[j]) continue;
      int64_t a = c * p + j;
      f += (long double)ridge * w[a] * w[a];
      if (G) G[a] += 2.0L * ridge * w[a];
      if (Hs) Hs[a * q + a] += 2.0L * ridge;
    }
  return f;
}

static double norm_ld(int64_t n, const long double *x) {
  long double s = 0.0L;
  for (int64_t i = 0; i < n; ++i) s += x[i] * x[i];
  return (double)sqrtl(s);
}

static double norm_d(int64_t n, const double *x) {
  long double s = 0.0L;
  for (int64_t i = 0; i < n; ++i) s += (long double)x[i] * x[i];
  return (double)sqrtl(s);
}

static double diff_norm(int64_t n, const double *x, const double *y) {
  long double s = 0.0L;
  for (int64_t i = 0; i < n; ++i) {
    long double t = (long double)x[i] - y[i];
    s += t * t;
  }
  return (double)sqrtl(s);
}

/* ||exact gradient|| at w, and its rounding bound's norm (*round). */
static double grad_norm_ld(const problem *pr, int64_t k, const double *w,
                           double ridge, const int *pen, double *round) {
  int64_t q = pr->p * (pr->C - 1);
  long double *G = ldmalloc((size_t)q);
  double *gr = xmalloc((size_t)q);
  eval_ld(pr, k, w, ridge, pen, G, NULL, gr, NULL);
  double g = norm_ld(q, G);
  if (round) *round = norm_d(q, gr);
  free(G);
  free(gr);
  return g;
}

/* Smallest eigenvalue of the exact Hessian at w (LAPACK on its double
 * rounding: an error of ~eps ||Hess||, far below what is used here). */
static double lambda_min(const problem *pr, int64_t k, const double *w,
                         double ridge, const int *pen) {
  int64_t q = pr->p * (pr->C - 1);
  long double *Hs = ldmalloc((size_t)(q * q));
  double *A = xmalloc((size_t)(q * q)), *ev = xmalloc((size_t)q);
  eval_ld(pr, k, w, ridge, pen, NULL, Hs, NULL, NULL);
  for (int64_t i = 0; i < q * q; ++i) A[i] = (double)Hs[i];
  assert_int_equal(LAPACKE_dsyev(LAPACK_COL_MAJOR, 'N', 'U', (int)q, A, (int)q,
                                 ev),
                   0);
  double lm = ev[0];
  free(Hs);
  free(A);
  free(ev);
  return lm;
}

/* (a): the exact gradient at the fit is within the claimed tolerance; the
 * solver's info agrees with the exact objective and gradient. Returns
 * ||g(W)|| / (tol ||g(0)||) for the report. */
static double check_kkt(const problem *pr, int64_t k, const double *W,
                        double ridge, const int *pen,
                        const w2s_softmax_info *in) {
  int64_t q = pr->p * (pr->C - 1);
  double *zero = xmalloc((size_t)q), r0 = 0.0, r = 0.0;
  double g0 = grad_norm_ld(pr, k, zero, ridge, pen, &r0);
  double g = grad_norm_ld(pr, k, W, ridge, pen, &r);
  ASSERT_LE(g, TOL * g0 + 2.0 * (r + TOL * r0));
  double fr = 0.0;
  long double f = eval_ld(pr, k, W, ridge, pen, NULL, NULL, NULL, &fr);
  /* The ridge term adds a few eps of itself: within 2 fr. */
  ASSERT_LE(fabs(in->objective - (double)f), 2.0 * fr);
  ASSERT_LE(in->rel_grad, TOL);
  ASSERT_LE(fabs(in->grad_norm - g), 2.0 * r);
  assert_true(in->iterations >= 1);
  assert_true(in->passes >= in->iterations + 1);
  free(zero);
  return g / (TOL * g0);
}

/* (b): +-1e-4 along 16 random unit directions never lowers L. */
static void check_minimal(const problem *pr, int64_t k, const double *W,
                          double ridge, const int *pen, uint64_t seed) {
  int64_t q = pr->p * (pr->C - 1);
  double *d = xmalloc((size_t)q), *Wp = xmalloc((size_t)q);
  long double f = eval_ld(pr, k, W, ridge, pen, NULL, NULL, NULL, NULL);
  ASSERT_LE(10.0 * (1e-4 * grad_norm_ld(pr, k, W, ridge, pen, NULL) +
                    (double)pr->m * LDBL_EPSILON * (double)f),
            0.5e-8 * lambda_min(pr, k, W, ridge, pen));
  for (uint64_t t = 0; t < 16; ++t) {
    w2s_rng_normal(seed, STREAM_DIR, t, (uint64_t)k, 0, q, d);
    double dn = norm_d(q, d);
    for (int sgn = -1; sgn <= 1; sgn += 2) {
      for (int64_t a = 0; a < q; ++a) Wp[a] = W[a] + sgn * 1e-4 * d[a] / dn;
      long double fp = eval_ld(pr, k, Wp, ridge, pen, NULL, NULL, NULL, NULL);
      if (!(fp > f)) {
        print_error("direction %d sign %d: L %.20Lg -> %.20Lg\n", (int)t, sgn,
                    f, fp);
        fail();
      }
    }
  }
  free(d);
  free(Wp);
}

static w2s_err fit(w2s_ctx *ctx, const problem *pr, const w2s_softmax_opts *o,
                   double *W, w2s_softmax_info *info) {
  w2s_softmax_data d = data_of(pr);
  return w2s_softmax_fit(ctx, &d, o, W, info);
}

/* (a), (b) for C = 2, 3, 5, soft and one-hot labels, ridge 0; and the
 * objective decreasing from L(0) = log C. */
static void test_kkt_minimal(void **state) {
  (void)state;
  const int64_t Cs[3] = {2, 3, 5};
  for (int kind = SOFT; kind <= ONEHOT; ++kind)
    for (int t = 0; t < 3; ++t) {
      problem pr;
      make_problem(11 + (uint64_t)t, 500, 6, Cs[t], 1, kind, &pr);
      int64_t q = pr.p * (pr.C - 1);
      double *W = xmalloc((size_t)q);
      w2s_softmax_info in;
      w2s_ctx *ctx = new_ctx();
      w2s_softmax_opts o = opts_of(0.0, NULL, 50, "kkt");
      assert_int_equal(fit(ctx, &pr, &o, W, &in), W2S_OK);
      double ratio = check_kkt(&pr, 0, W, 0.0, NULL, &in);
      check_minimal(&pr, 0, W, 0.0, NULL, 7);
      assert_true(in.objective < log((double)pr.C));
      assert_int_equal(in.rank, q);
      assert_true(isfinite(in.cond) && in.cond >= 1.0);
      print_message("C=%d %s: %d iterations, %d passes, |g|/(tol |g0|) = "
                    "%.2e, cond %.1e\n",
                    (int)pr.C, kind == SOFT ? "soft" : "one-hot", in.iterations,
                    in.passes, ratio, in.cond);
      w2s_ctx_destroy(&ctx);
      free(W);
      free_problem(&pr);
    }
}

/* (c): soft labels from W_true: the optimum is W_true (KL 0) up to Y's
 * rounding, within 2 (||g(W)|| + ||g(W_true)||) / lambda_min. */
static void test_realizable(void **state) {
  (void)state;
  const int64_t Cs[3] = {2, 3, 5};
  for (int t = 0; t < 3; ++t) {
    problem pr;
    make_problem(21 + (uint64_t)t, 500, 6, Cs[t], 1, SOFT, &pr);
    int64_t q = pr.p * (pr.C - 1);
    double *W = xmalloc((size_t)q);
    w2s_softmax_info in;
    w2s_ctx *ctx = new_ctx();
    w2s_softmax_opts o = opts_of(0.0, NULL, 50, "realizable");
    assert_int_equal(fit(ctx, &pr, &o, W, &in), W2S_OK);
    double lm = lambda_min(&pr, 0, pr.Wt, 0.0, NULL);
    double gw = grad_norm_ld(&pr, 0, W, 0.0, NULL, NULL);
    double gt = grad_norm_ld(&pr, 0, pr.Wt, 0.0, NULL, NULL);
    double bound = 2.0 * (gw + gt) / lm, err = diff_norm(q, W, pr.Wt);
    ASSERT_LE(err, bound);
    /* Not vacuous: the bound is at the level of tol x condition. */
    ASSERT_LE(bound, 1e-9 * norm_d(q, pr.Wt));
    print_message("C=%d realizable: |W - W_true| = %.2e (bound %.2e, "
                  "lambda_min %.2e, |W_true| %.2f)\n",
                  (int)pr.C, err, bound, lm, norm_d(q, pr.Wt));
    w2s_ctx_destroy(&ctx);
    free(W);
    free_problem(&pr);
  }
}

/* Plain-loop IRLS for C = 2 (labels y = Y[:, 1] / s): w += (H^T S H)^-1
 * H^T (y s - s p), S = diag(s p (1 - p)), long double, Cholesky by hand,
 * full steps from 0, until the step is below 1e-16 relative. */
static int irls(const problem *pr, long double *w) {
  int64_t m = pr->m, p = pr->p;
  long double A[64], b[8];
  assert_true(p <= 8);
  memset(w, 0, sizeof(long double) * (size_t)p);
  for (int it = 0; it < 100; ++it) {
    memset(A, 0, sizeof A);
    memset(b, 0, sizeof b);
    for (int64_t i = 0; i < m; ++i) {
      long double z = 0.0L;
      for (int64_t j = 0; j < p; ++j) z += pr->H[j * pr->ldh + i] * w[j];
      long double pr1 = 1.0L / (1.0L + expl(-z));
      long double y0 = pr->Y[i], y1 = pr->Y[pr->ldy + i], s = y0 + y1;
      for (int64_t j = 0; j < p; ++j) {
        long double hj = pr->H[j * pr->ldh + i];
        b[j] += hj * (y1 - s * pr1);
        for (int64_t l = 0; l < p; ++l)
          A[j * p + l] += hj * s * pr1 * (1.0L - pr1) * pr->H[l * pr->ldh + i];
      }
    }
    /* A = L L^T in place (lower), then solve. */
    for (int64_t j = 0; j < p; ++j) {
      for (int64_t l = 0; l < j; ++l)
        A[j * p + j] -= A[l * p + j] * A[l * p + j];
      if (!(A[j * p + j] > 0.0L)) return -1;
      A[j * p + j] = sqrtl(A[j * p + j]);
      for (int64_t r = j + 1; r < p; ++r) {
        for (int64_t l = 0; l < j; ++l)
          A[j * p + r] -= A[l * p + r] * A[l * p + j];
        A[j * p + r] /= A[j * p + j];
      }
    }
    for (int64_t j = 0; j < p; ++j) {
      for (int64_t l = 0; l < j; ++l) b[j] -= A[l * p + j] * b[l];
      b[j] /= A[j * p + j];
    }
    for (int64_t j = p - 1; j >= 0; --j) {
      for (int64_t l = j + 1; l < p; ++l) b[j] -= A[j * p + l] * b[l];
      b[j] /= A[j * p + j];
    }
    long double dn = 0.0L, wn = 0.0L;
    for (int64_t j = 0; j < p; ++j) {
      w[j] += b[j];
      dn += b[j] * b[j];
      wn += w[j] * w[j];
    }
    if (dn <= 1e-32L * wn) return it + 1;
  }
  return -1;
}

/* (d): C = 2 against IRLS, soft and one-hot labels. */
static void test_logistic_irls(void **state) {
  (void)state;
  for (int kind = SOFT; kind <= ONEHOT; ++kind) {
    problem pr;
    make_problem(31, 500, 6, 2, 1, kind, &pr);
    int64_t p = pr.p;
    double *W = xmalloc((size_t)p), *Wi = xmalloc((size_t)p);
    long double wi[8];
    w2s_softmax_info in;
    w2s_ctx *ctx = new_ctx();
    w2s_softmax_opts o = opts_of(0.0, NULL, 50, "logistic");
    assert_int_equal(fit(ctx, &pr, &o, W, &in), W2S_OK);
    int its = irls(&pr, wi);
    assert_true(its > 0);
    for (int64_t j = 0; j < p; ++j) Wi[j] = (double)wi[j];
    double lm = lambda_min(&pr, 0, Wi, 0.0, NULL);
    double bound = 2.0 *
                   (grad_norm_ld(&pr, 0, W, 0.0, NULL, NULL) +
                    grad_norm_ld(&pr, 0, Wi, 0.0, NULL, NULL)) /
                   lm;
    double err = diff_norm(p, W, Wi);
    ASSERT_LE(err, bound);
    ASSERT_LE(bound, 1e-9 * norm_d(p, Wi));
    print_message("C=2 %s vs IRLS (%d steps): |dW| = %.2e (bound %.2e)\n",
                  kind == SOFT ? "soft" : "one-hot", its, err, bound);
    w2s_ctx_destroy(&ctx);
    free(W);
    free(Wi);
    free_problem(&pr);
  }
}

/* (e): ridge with the intercept (last column) unpenalised, and with every
 * row penalised (penalize NULL), one-hot labels and separable ones (a
 * ridge > 0 gives them a finite optimum). The KKT check includes 2 ridge
 * W_pen, so penalising the intercept (or not penalising a row) fails it by
 * 2 ridge |w| ~ 1e-2. */
static void test_ridge(void **state) {
  (void)state;
  const int pen[6] = {1, 1, 1, 1, 1, 0};
  for (int kind = ONEHOT; kind <= SEPARABLE; ++kind)
    for (int all = 0; all <= 1; ++all) {
      problem pr;
      make_problem(41, 500, 6, 3, 1, kind, &pr);
      int64_t q = pr.p * (pr.C - 1);
      double *W = xmalloc((size_t)q);
      const int *pf = all ? NULL : pen;
      w2s_softmax_info in;
      w2s_ctx *ctx = new_ctx();
      w2s_softmax_opts o = opts_of(0.03, pf, 50, "ridge");
      assert_int_equal(fit(ctx, &pr, &o, W, &in), W2S_OK);
      double ratio = check_kkt(&pr, 0, W, 0.03, pf, &in);
      check_minimal(&pr, 0, W, 0.03, pf, 8);
      /* The unpenalised intercept is not shrunk to 0. */
      if (!all) assert_true(fabs(W[pr.p - 1]) + fabs(W[2 * pr.p - 1]) > 1e-2);
      print_message("ridge %s, %s: %d iterations, |g|/(tol |g0|) = %.2e\n",
                    kind == ONEHOT ? "one-hot" : "separable",
                    all ? "all penalised" : "intercept free", in.iterations,
                    ratio);
      w2s_ctx_destroy(&ctx);
      free(W);
      free_problem(&pr);
    }
}

/* The Armijo line search: sharp one-hot labels (a true head 4 N(0, 1))
 * of C = 5 classes on m = 100 rows, where full Newton steps from 0
 * overshoot (found by trying seeds and scales; most problems never need
 * a shorter step: Newton from 0 is cautious on these losses).
 * The fit must shorten steps (more passes than iterations + 1) and still
 * reach the optimum. */
static void test_line_search(void **state) {
  (void)state;
  problem pr;
  make_problem_scaled(18, 100, 3, 5, 1, ONEHOT, 4.0, &pr);
  int64_t q = pr.p * (pr.C - 1);
  double *W = xmalloc((size_t)q);
  w2s_softmax_info in;
  w2s_ctx *ctx = new_ctx();
  w2s_softmax_opts o = opts_of(1e-4, NULL, 50, "line search");
  assert_int_equal(fit(ctx, &pr, &o, W, &in), W2S_OK);
  assert_true(in.passes > in.iterations + 1);
  double ratio = check_kkt(&pr, 0, W, 1e-4, NULL, &in);
  check_minimal(&pr, 0, W, 1e-4, NULL, 9);
  print_message("line search: %d iterations, %d passes, |g|/(tol |g0|) = "
                "%.2e\n",
                in.iterations, in.passes, ratio);
  w2s_ctx_destroy(&ctx);
  free(W);
  free_problem(&pr);
}

/* Copy of pr with column `col` of H replaced: mode 0 all zeros, mode 1 a
 * duplicate of column dup. */
static void set_column(problem *pr, int64_t col, int mode, int64_t dup) {
  for (int64_t i = 0; i < pr->m; ++i)
    pr->H[col * pr->ldh + i] = mode == 0 ? 0.0 : pr->H[dup * pr->ldh + i];
}

/* Problem pr without column col (same labels). */
static void drop_column(const problem *pr, int64_t col, problem *out) {
  *out = *pr;
  out->p = pr->p - 1;
  out->H = xmalloc((size_t)(pr->ldh * out->p));
  for (int64_t j = 0, o = 0; j < pr->p; ++j) {
    if (j == col) continue;
    memcpy(out->H + o * pr->ldh, pr->H + j * pr->ldh,
           sizeof(double) * (size_t)pr->ldh);
    ++o;
  }
}

/* (f): a dead column (all zeros) leaves the Hessian singular: the fit
 * converges through minimum-norm steps, the column's weights are exactly 0
 * (its gradient and Hessian rows are exactly 0, so no step touches it), the
 * rank is q - (C - 1), and the other weights are the fit without the
 * column (within the distance bound of that full-rank problem). With a
 * ridge the Hessian is definite again and the weights are still exactly 0.
 * A duplicated column: the minimum-norm optimum splits the weight equally
 * between the two copies; the fit equals the fit without the copy with
 * that column's weight halved. */
static void test_singular(void **state) {
  (void)state;
  for (int mode = 0; mode <= 1; ++mode)
    for (int r = 0; r <= 1; ++r) {
      double ridge = r ? 0.02 : 0.0;
      problem pr, red;
      make_problem(51, 500, 6, 3, 1, ONEHOT, &pr);
      const int64_t col = 2, dup = 1;
      set_column(&pr, col, mode, dup);
      int64_t p = pr.p, C = pr.C, q = p * (C - 1), qr = (p - 1) * (C - 1);
      double *W = xmalloc((size_t)q), *Wr = xmalloc((size_t)qr);
      double *We = xmalloc((size_t)q);
      w2s_softmax_info in, inr;
      w2s_ctx *ctx = new_ctx();
      w2s_softmax_opts o = opts_of(ridge, NULL, 50, "singular");
      assert_int_equal(fit(ctx, &pr, &o, W, &in), W2S_OK);
      if (mode == 0)
        for (int64_t c = 0; c < C - 1; ++c) assert_true(W[c * p + col] == 0.0);
      if (!r) {
        assert_int_equal(in.rank, q - (C - 1));
        assert_true(isinf(in.cond));
      }
      /* The reference: the fit without the column (a duplicate's weight
       * halved, since ridge ||w||^2 of two equal copies is half that of
       * one, the reduced problem's ridge on that row is halved, and the
       * optimum's weight is split: w_dup = w_col = w_red / 2). */
      drop_column(&pr, col, &red);
      w2s_ctx *ctx2 = new_ctx();
      w2s_softmax_opts o2 = opts_of(ridge, NULL, 50, "reduced");
      if (mode == 1 && r) {
        /* ridge (a^2 + a^2) = (ridge / 2) (2a)^2: the reduced problem
         * penalises 2a with ridge / 2, which the solver's single ridge
         * cannot express; compare through KKT, and the two copies: the
         * (unique, the ridge makes L strictly convex) optimum is symmetric
         * in them, so |a - b| <= |a - a*| + |b - b*| <= sqrt 2 x the
         * distance bound. */
        double ratio = check_kkt(&pr, 0, W, ridge, NULL, &in);
        double split = 2.0 * sqrt(2.0) *
                       grad_norm_ld(&pr, 0, W, ridge, NULL, NULL) /
                       lambda_min(&pr, 0, W, ridge, NULL);
        for (int64_t c = 0; c < C - 1; ++c)
          ASSERT_LE(fabs(W[c * p + col] - W[c * p + dup]), split);
        print_message("duplicate column, ridge: |g|/(tol |g0|) = %.2e\n",
                      ratio);
      } else {
        assert_int_equal(fit(ctx2, &red, &o2, Wr, &inr), W2S_OK);
        /* Expand the reduced fit to p rows. */
        for (int64_t c = 0; c < C - 1; ++c)
          for (int64_t j = 0, jr = 0; j < p; ++j) {
            if (j == col) {
              We[c * p + j] = mode == 0 ? 0.0 : 0.5 * Wr[c * (p - 1) + dup];
              continue;
            }
            double v = Wr[c * (p - 1) + jr++];
            We[c * p + j] = mode == 1 && j == dup ? 0.5 * v : v;
          }
        double lm = lambda_min(&red, 0, Wr, ridge, NULL);
        double bound = 2.0 *
                       (grad_norm_ld(&red, 0, Wr, ridge, NULL, NULL) +
                        grad_norm_ld(&pr, 0, W, ridge, NULL, NULL)) /
                       lm;
        /* The gradient does not see a step along the null direction of a
         * duplicate (e_col - e_dup): only rounding puts one there, each
         * step's eigenvectors orthogonal to it to ~q eps (dsyevd is
         * backward stable), so at most q eps ||step|| per iteration, and
         * the steps from 0 are at most ~2 ||W|| each; twice that. */
        bound += 2.0 * in.iterations * (double)q * EPS * 2.0 * norm_d(q, W);
        double err = diff_norm(q, W, We);
        ASSERT_LE(err, bound);
        print_message("%s column, ridge %g: rank %d of %d, %d iterations, "
                      "|W - W_reduced| = %.2e (bound %.2e)\n",
                      mode == 0 ? "dead" : "duplicate", ridge, (int)in.rank,
                      (int)q, in.iterations, err, bound);
      }
      w2s_ctx_destroy(&ctx);
      w2s_ctx_destroy(&ctx2);
      free(W);
      free(Wr);
      free(We);
      free(red.H);
      free_problem(&pr);
    }
}

/* (g): failures are W2S_ERR_NUMERIC with the label and the head. */
static void expect_failure(problem *pr, double ridge, int max_iter,
                           const char *label, const char *what) {
  int64_t q = pr->p * (pr->C - 1);
  double *W = xmalloc((size_t)(q * pr->K));
  w2s_ctx *ctx = new_ctx();
  w2s_softmax_opts o = opts_of(ridge, NULL, max_iter, label);
  assert_int_equal(fit(ctx, pr, &o, W, NULL), W2S_ERR_NUMERIC);
  print_message("%s\n", ctx->msg);
  assert_non_null(strstr(ctx->msg, label));
  assert_non_null(strstr(ctx->msg, what));
  w2s_ctx_destroy(&ctx);
  free(W);
}

static void test_failures(void **state) {
  (void)state;
  problem pr;
  make_problem(61, 500, 6, 3, 2, ONEHOT, &pr);
  double keep = pr.H[pr.ldh + 17];
  pr.H[pr.ldh + 17] = NAN;
  expect_failure(&pr, 0.0, 50, "weak model 'nan'", "not finite");
  pr.H[pr.ldh + 17] = INFINITY;
  expect_failure(&pr, 0.0, 50, "weak model 'inf'", "not finite");
  pr.H[pr.ldh + 17] = keep;
  /* A NaN label of head 1 only: the message names head 1. */
  pr.Y[pr.ldy * (pr.C + 1) + 3] = NAN;
  expect_failure(&pr, 0.0, 50, "weak model 'label'", "head 1 of 2");
  free_problem(&pr);
  /* Separable labels, no ridge: W grows without bound. */
  make_problem(62, 500, 6, 3, 1, SEPARABLE, &pr);
  expect_failure(&pr, 0.0, 8, "strong model", "did not converge");
  free_problem(&pr);
}

/* K heads fitted together give the same bits as each fitted alone. */
static void test_heads_independent(void **state) {
  (void)state;
  problem pr;
  make_problem(71, 500, 6, 3, 3, ONEHOT, &pr);
  int64_t q = pr.p * (pr.C - 1);
  double *W = xmalloc((size_t)(3 * q)), *W1 = xmalloc((size_t)q);
  w2s_softmax_info in[3], in1;
  w2s_ctx *ctx = new_ctx();
  w2s_softmax_opts o = opts_of(0.01, NULL, 50, "heads");
  assert_int_equal(fit(ctx, &pr, &o, W, in), W2S_OK);
  for (int64_t k = 0; k < 3; ++k) {
    problem one = pr;
    one.K = 1;
    one.Y = pr.Y + k * pr.C * pr.ldy;
    assert_int_equal(fit(ctx, &one, &o, W1, &in1), W2S_OK);
    assert_memory_equal(W + k * q, W1, sizeof(double) * (size_t)q);
    assert_memory_equal(&in[k], &in1, sizeof in1);
    check_kkt(&one, 0, W1, 0.01, NULL, &in1);
  }
  /* K = 0: nothing to do. */
  pr.K = 0;
  assert_int_equal(fit(ctx, &pr, &o, W, NULL), W2S_OK);
  w2s_ctx_destroy(&ctx);
  free(W);
  free(W1);
  free_problem(&pr);
}

/* (h): log-probabilities of 2 heads (ld ldh > m, ldl > m), against a naive
 * log-softmax in long double; rows logsumexp to 0; huge logits stay finite;
 * argmax takes the first of equal classes. */
static void test_logprob(void **state) {
  (void)state;
  const int64_t m = 40, p = 6, C = 4, k = 2, ldl = m + 5;
  problem pr;
  make_problem(81, m, p, C, 1, SOFT, &pr);
  int64_t q = p * (C - 1);
  double *W = xmalloc((size_t)(k * q)), *L = xmalloc((size_t)(ldl * k * C));
  w2s_rng_normal(81, STREAM_W, 1, 0, 0, k * q, W);
  for (int64_t a = 0; a < q; ++a) W[q + a] *= 3.0;
  for (int64_t i = 0; i < ldl * k * C; ++i) L[i] = NAN;
  w2s_softmax_logprob(m, p, C, pr.H, pr.ldh, W, k, L, ldl);
  double gp = (double)p * EPS / (1.0 - (double)p * EPS);
  for (int64_t j = 0; j < k; ++j)
    for (int64_t i = 0; i < m; ++i) {
      long double z[4] = {0.0L}, se = 0.0L, a = 0.0L, lsum = 0.0L;
      for (int64_t c = 1; c < C; ++c) {
        long double ac = 0.0L;
        for (int64_t l = 0; l < p; ++l) {
          long double t = (long double)pr.H[l * pr.ldh + i] *
                          W[j * q + (c - 1) * p + l];
          z[c] += t;
          ac += fabsl(t);
        }
        if (ac > a) a = ac;
      }
      for (int64_t c = 0; c < C; ++c) se += expl(z[c]);
      long double lse = logl(se);
      double tol = 2.0 * (2.0 * gp * (double)a +
                          (double)(C + 4) * EPS * (1.0 + fabs((double)lse)));
      for (int64_t c = 0; c < C; ++c) {
        double v = L[(j * C + c) * ldl + i];
        ASSERT_LE(fabs(v - (double)(z[c] - lse)), tol);
        lsum += expl((long double)v);
      }
      /* sum exp(L) = 1: each exp(L_c) carries its error tol relatively. */
      ASSERT_LE(fabs((double)logl(lsum)), tol);
    }
  /* Rows past m, and the padding, are untouched. */
  for (int64_t j = 0; j < k * C; ++j)
    for (int64_t i = m; i < ldl; ++i) assert_true(isnan(L[j * ldl + i]));
  /* Logits 0, 1000, 999: naive exp overflows; log p is exact to eps. */
  double h1[2] = {1.0, 0.0}, w3[6] = {1000.0, 0.0, 999.0, 0.0, -1e6, 0.0};
  double L3[4];
  w2s_softmax_logprob(1, 2, 4, h1, 1, w3, 1, L3, 1);
  long double lse3 = 1000.0L + logl(1.0L + expl(-1.0L) + expl(-1000.0L));
  const long double z3[4] = {0.0L, 1000.0L, 999.0L, -1e6L};
  for (int c = 0; c < 4; ++c) {
    assert_true(isfinite(L3[c]));
    ASSERT_LE(fabs(L3[c] - (double)(z3[c] - lse3)),
              8.0 * EPS * fabs((double)(z3[c] - lse3)) + 8.0 * EPS * 1000.0);
  }
  assert_int_equal(w2s_softmax_argmax(L3, 1, 0, 4), 1);
  /* W = 0: every class has log p = -log C exactly the same: class 0. */
  memset(W, 0, sizeof(double) * (size_t)(k * q));
  w2s_softmax_logprob(m, p, C, pr.H, pr.ldh, W, 1, L, ldl);
  for (int64_t i = 0; i < m; ++i) {
    assert_int_equal(w2s_softmax_argmax(L, ldl, i, C), 0);
    ASSERT_LE(fabs(L[i] + log((double)C)), 4.0 * EPS);
  }
  /* Ties between later classes go to the first of them (rows of a 2 x 3
   * matrix, ld 2: (-2, -0.5, -0.5) and (-1, -0.7, -0.9)). */
  const double T[6] = {-2.0, -1.0, -0.5, -0.7, -0.5, -0.9};
  assert_int_equal(w2s_softmax_argmax(T, 2, 0, 3), 1);
  assert_int_equal(w2s_softmax_argmax(T, 2, 1, 3), 1);
  const double T3[3] = {-0.5, -0.5, -0.5};
  assert_int_equal(w2s_softmax_argmax(T3, 1, 0, 3), 0);
  /* m = 0 writes nothing. */
  double none = NAN;
  w2s_softmax_logprob(0, p, C, pr.H, pr.ldh, W, 1, &none, 1);
  assert_true(isnan(none));
  free(W);
  free(L);
  free_problem(&pr);
}

/* `test_softmax --dump FILE`: fits the problems tests/ref/softmax_ref.py
 * solves again in numpy and writes, per problem (native doubles and int64):
 * m p C, ridge tol, the p penalize flags, H (m x p), Y (m x C), the fit W
 * (p x (C - 1)), after a leading count of problems. */
static int dump(const char *path) {
  struct {
    uint64_t seed;
    int64_t C;
    double ridge;
    int kind, free_intercept;
  } cases[] = {{91, 3, 0.0, SOFT, 0},
               {92, 5, 0.0, ONEHOT, 0},
               {93, 3, 0.05, SEPARABLE, 1},
               {94, 2, 0.01, ONEHOT, 0}};
  const int64_t ncases = (int64_t)(sizeof cases / sizeof cases[0]);
  FILE *f = fopen(path, "wb");
  if (!f) return 2;
  int bad = fwrite(&ncases, sizeof ncases, 1, f) != 1;
  for (int64_t t = 0; t < ncases && !bad; ++t) {
    problem pr;
    make_problem(cases[t].seed, 300, 5, cases[t].C, 1, cases[t].kind, &pr);
    int64_t m = pr.m, p = pr.p, C = pr.C, q = p * (C - 1);
    int pen[5];
    int64_t pen64[5];
    for (int64_t j = 0; j < p; ++j) {
      pen[j] = !(cases[t].free_intercept && j == p - 1);
      pen64[j] = pen[j];
    }
    double *W = xmalloc((size_t)q), *Hc = xmalloc((size_t)(m * p));
    double *Yc = xmalloc((size_t)(m * C));
    for (int64_t j = 0; j < p; ++j)
      memcpy(Hc + j * m, pr.H + j * pr.ldh, sizeof(double) * (size_t)m);
    for (int64_t c = 0; c < C; ++c)
      memcpy(Yc + c * m, pr.Y + c * pr.ldy, sizeof(double) * (size_t)m);
    w2s_ctx *ctx = NULL;
    w2s_softmax_opts o = opts_of(cases[t].ridge, pen, 50, "dump");
    w2s_softmax_data d = data_of(&pr);
    if (w2s_ctx_create(MPI_COMM_NULL, 0, &ctx) ||
        w2s_softmax_fit(ctx, &d, &o, W, NULL)) {
      fprintf(stderr, "dump: case %d: %s\n", (int)t, ctx ? ctx->msg : "ctx");
      bad = 1;
    }
    const int64_t dims[3] = {m, p, C};
    const double rt[2] = {cases[t].ridge, TOL};
    bad = bad || fwrite(dims, sizeof dims, 1, f) != 1 ||
          fwrite(rt, sizeof rt, 1, f) != 1 ||
          fwrite(pen64, sizeof(int64_t), (size_t)p, f) != (size_t)p ||
          fwrite(Hc, sizeof(double), (size_t)(m * p), f) != (size_t)(m * p) ||
          fwrite(Yc, sizeof(double), (size_t)(m * C), f) != (size_t)(m * C) ||
          fwrite(W, sizeof(double), (size_t)q, f) != (size_t)q;
    w2s_ctx_destroy(&ctx);
    free(W);
    free(Hc);
    free(Yc);
    free_problem(&pr);
  }
  if (fclose(f) != 0) bad = 1;
  return bad ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--dump")) return dump(argv[2]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kkt_minimal),
      cmocka_unit_test(test_realizable),
      cmocka_unit_test(test_logistic_irls),
      cmocka_unit_test(test_ridge),
      cmocka_unit_test(test_line_search),
      cmocka_unit_test(test_singular),
      cmocka_unit_test(test_failures),
      cmocka_unit_test(test_heads_independent),
      cmocka_unit_test(test_logprob),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
