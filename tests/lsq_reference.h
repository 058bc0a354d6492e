/* Reference least-squares solutions from LAPACK, shared by the solver tests
 * (tests/unit/test_lsq.c, tests/mpi/test_lsq_mpi.c, test_solvers_mpi.c).
 * Column-major; A is n x p, B n x k, X p x k. A failure of LAPACK or of an
 * allocation aborts the test program (a failed test, never a silent pass). */
#ifndef W2S_TESTS_LSQ_REFERENCE_H
#define W2S_TESTS_LSQ_REFERENCE_H

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline double *lsq_ref_alloc(int64_t n) {
  double *p = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
  if (!p) {
    fprintf(stderr, "lsq_reference: out of memory\n");
    abort();
  }
  return p;
}

/* ||a - b||_F / ||b||_F over len entries (||b|| = 0 counts as 1). */
static inline double lsq_rel_diff(const double *a, const double *b,
                                  int64_t len) {
  double d = 0.0, nb = 0.0;
  for (int64_t i = 0; i < len; ++i) {
    d += (a[i] - b[i]) * (a[i] - b[i]);
    nb += b[i] * b[i];
  }
  return sqrt(d) / (nb > 0 ? sqrt(nb) : 1.0);
}

/* Column norms, 1 for a zero column: the solvers' equilibration. */
static inline void lsq_col_scales(int64_t n, int64_t p, const double *A,
                                  double *D) {
  for (int64_t j = 0; j < p; ++j) {
    double nrm = cblas_dnrm2((int)n, A + j * n, 1);
    D[j] = nrm > 0 ? nrm : 1.0;
  }
}

/* dgelsd on copies: the min-norm solution with singular values at most
 * rcond * s_max dropped (rcond < 0: machine precision). Returns the rank;
 * the singular values go to sv (length p) unless it is NULL. */
static inline int lsq_gelsd(int64_t n, int64_t p, int64_t k, const double *A,
                            const double *B, double rcond, double *X,
                            double *sv) {
  int64_t ldb = n > p ? n : p;
  double *Ac = lsq_ref_alloc(n * p), *Bc = lsq_ref_alloc(ldb * k);
  double *s = lsq_ref_alloc(p);
  memcpy(Ac, A, sizeof(double) * (size_t)(n * p));
  for (int64_t c = 0; c < k; ++c)
    memcpy(Bc + c * ldb, B + c * n, sizeof(double) * (size_t)n);
  int rank = -1;
  int info = LAPACKE_dgelsd(LAPACK_COL_MAJOR, (int)n, (int)p, (int)k, Ac,
                            (int)n, Bc, (int)ldb, s, rcond, &rank);
  if (info != 0) {
    fprintf(stderr, "lsq_reference: dgelsd info %d\n", info);
    abort();
  }
  for (int64_t c = 0; c < k; ++c)
    memcpy(X + c * p, Bc + c * ldb, sizeof(double) * (size_t)p);
  if (sv) memcpy(sv, s, sizeof(double) * (size_t)p);
  free(Ac), free(Bc), free(s);
  return rank;
}

/* The solvers' documented solution: min-norm in equilibrated variables,
 * dgelsd on A D^-1 (D = lsq_col_scales), scaled back. sv: the equilibrated
 * matrix's singular values, unless NULL. */
static inline int lsq_gelsd_equilibrated(int64_t n, int64_t p, int64_t k,
                                         const double *A, const double *B,
                                         double rcond, double *X, double *sv) {
  double *D = lsq_ref_alloc(p), *Ae = lsq_ref_alloc(n * p);
  lsq_col_scales(n, p, A, D);
  for (int64_t j = 0; j < p; ++j)
    for (int64_t i = 0; i < n; ++i) Ae[j * n + i] = A[j * n + i] / D[j];
  int rank = lsq_gelsd(n, p, k, Ae, B, rcond, X, sv);
  for (int64_t c = 0; c < k; ++c)
    for (int64_t j = 0; j < p; ++j) X[c * p + j] /= D[j];
  free(D), free(Ae);
  return rank;
}

/* --- Problems whose solution is known by construction ------------------ */

/* The threshold of LAPACK's own test suite for ratios normalised by the
 * dimension and eps (xQRT17 and friends flag a ratio above 30). */
#define LSQ_REF_THRESH 30.0

/* A generator independent of the code under test (splitmix64 and
 * Box-Muller), so a bug in w2s's RNG cannot hide in the reference. */
static inline double lsq_ref_normal(uint64_t *state) {
  double u[2];
  for (int t = 0; t < 2; ++t) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    u[t] = ((double)(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  }
  return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* Singular values of A (n x p, n >= p) into sv, largest first. */
static inline void lsq_ref_singular_values(int64_t n, int64_t p,
                                           const double *A, double *sv) {
  double *Ac = lsq_ref_alloc(n * p), *sup = lsq_ref_alloc(p);
  memcpy(Ac, A, sizeof(double) * (size_t)(n * p));
  int info = LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'N', 'N', (int)n, (int)p, Ac,
                            (int)n, sv, NULL, 1, NULL, 1, sup);
  if (info != 0) {
    fprintf(stderr, "lsq_reference: dgesvd info %d\n", info);
    abort();
  }
  free(Ac), free(sup);
}

typedef struct {
  double cond;  /* 2-norm condition number of A (from its SVD) */
  double anorm; /* ||A||_2 */
  double rho;   /* ||R||_F / (||A||_2 ||X||_F) */
} lsq_ref_problem;

/* A known least-squares problem, column-major, n >= p. The first q columns
 * of A are sqrt(n) U diag(s) W^T (U n x q and W q x q with orthonormal
 * columns, s log-spaced from 1 to 1/cond); with `ones` the last column is
 * all ones (q = p - 1; the condition of A then differs from `cond`, and the
 * returned one is A's own). X (p x k) is N(0, 1); B = A X + R with R =
 * Q_perp Z orthogonal to range(A) (Z random, Q_perp from A's Householder
 * QR), scaled to ||R||_F = rho ||A||_2 ||X||_F. Rounding leaves R orthogonal
 * only to ~eps ||A|| ||R||, which moves the least-squares solution by ~cond^2
 * eps rho ||X||, and LAPACK's dgeqrf (used here and inside dgelsd) would
 * cancel that rounding: the exact solution of the stored (A, B) is therefore
 * computed in extended precision by lsq_ref_exact, X only starts it. */
static inline lsq_ref_problem
lsq_known_problem(int64_t n, int64_t p, int64_t k, double cond, double rho,
                  int ones, uint64_t seed, double *A, double *X, double *B) {
  int64_t q = ones ? p - 1 : p;
  uint64_t st = seed * 0x2545f4914f6cdd1dULL + 1;
  double *U = lsq_ref_alloc(n * q), *W = lsq_ref_alloc(q * q);
  double *tau = lsq_ref_alloc(p), *sv = lsq_ref_alloc(p);
  for (int64_t i = 0; i < n * q; ++i) U[i] = lsq_ref_normal(&st);
  for (int64_t i = 0; i < q * q; ++i) W[i] = lsq_ref_normal(&st);
  int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)n, (int)q, U, (int)n, tau);
  if (!info)
    info = LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)n, (int)q, (int)q, U, (int)n,
                          tau);
  if (!info)
    info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)q, (int)q, W, (int)q, tau);
  if (!info)
    info = LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)q, (int)q, (int)q, W, (int)q,
                          tau);
  for (int64_t i = 0; i < q; ++i) { /* U diag(s) sqrt(n) */
    double s = q > 1 ? pow(cond, -(double)i / (double)(q - 1)) : 1.0;
    cblas_dscal((int)n, s * sqrt((double)n), U + i * n, 1);
  }
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)n, (int)q, (int)q,
              1.0, U, (int)n, W, (int)q, 0.0, A, (int)n);
  if (ones)
    for (int64_t r = 0; r < n; ++r) A[q * n + r] = 1.0;
  for (int64_t i = 0; i < p * k; ++i) X[i] = lsq_ref_normal(&st);
  /* R = Q [0; Z2]: zero in range(A)'s coordinates, random outside. */
  double *Qa = lsq_ref_alloc(n * p), *R = lsq_ref_alloc(n * k);
  memcpy(Qa, A, sizeof(double) * (size_t)(n * p));
  if (!info)
    info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)n, (int)p, Qa, (int)n, tau);
  for (int64_t c = 0; c < k; ++c)
    for (int64_t r = p; r < n; ++r) R[c * n + r] = lsq_ref_normal(&st);
  if (!info && k > 0)
    info = LAPACKE_dormqr(LAPACK_COL_MAJOR, 'L', 'N', (int)n, (int)k, (int)p,
                          Qa, (int)n, tau, R, (int)n);
  if (info != 0) {
    fprintf(stderr, "lsq_reference: QR for the known problem, info %d\n", info);
    abort();
  }
  lsq_ref_singular_values(n, p, A, sv);
  lsq_ref_problem pr = {sv[p - 1] > 0 ? sv[0] / sv[p - 1] : INFINITY, sv[0],
                        rho};
  double rn = cblas_dnrm2((int)(n * k), R, 1);
  double xn = cblas_dnrm2((int)(p * k), X, 1);
  double scale = rn > 0 ? rho * pr.anorm * xn / rn : 0.0;
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)p,
              1.0, A, (int)n, X, (int)p, 0.0, B, (int)n);
  cblas_daxpy((int)(n * k), scale, R, 1, B, 1);
  free(U), free(W), free(tau), free(sv), free(Qa), free(R);
  return pr;
}

/* The least-squares solution of the stored A (n x p, full rank, n >= p) and
 * B, by Householder QR in long double: forward error ~cond eps_ld (1 + cond
 * rho) with eps_ld = LDBL_EPSILON (2^-64 on x86-64, 2^-113 where long double
 * is quad), i.e. >= 2000x below what any double-precision solver can reach.
 * Independent of LAPACK and of w2s. Returns 0 when long double is no wider
 * than double (then there is no more accurate reference). */
static inline int lsq_ref_exact(int64_t n, int64_t p, int64_t k,
                                const double *A, const double *B, double *X) {
  if (LDBL_EPSILON * 1000 > DBL_EPSILON) return 0;
  long double *Q = calloc((size_t)(n * p), sizeof(long double));
  long double *C = calloc((size_t)(n * (k > 0 ? k : 1)), sizeof(long double));
  if (!Q || !C) abort();
  for (int64_t i = 0; i < n * p; ++i) Q[i] = A[i];
  for (int64_t i = 0; i < n * k; ++i) C[i] = B[i];
  for (int64_t j = 0; j < p; ++j) {
    long double *v = Q + j * n, nrm = 0;
    for (int64_t i = j; i < n; ++i) nrm += v[i] * v[i];
    nrm = sqrtl(nrm);
    if (nrm == 0) abort(); /* rank-deficient: not a problem for this helper */
    long double alpha = v[j] > 0 ? -nrm : nrm; /* no cancellation */
    v[j] -= alpha; /* v = x - alpha e_1; H = I - 2 v v^T / v^T v */
    long double vv = 0;
    for (int64_t i = j; i < n; ++i) vv += v[i] * v[i];
    for (int64_t c = j + 1; c < p + k; ++c) {
      long double *y = c < p ? Q + c * n : C + (c - p) * n, d = 0;
      for (int64_t i = j; i < n; ++i) d += v[i] * y[i];
      d = 2 * d / vv;
      for (int64_t i = j; i < n; ++i) y[i] -= d * v[i];
    }
    v[j] = alpha; /* R's diagonal; the rest of the column is not needed */
  }
  for (int64_t c = 0; c < k; ++c) /* back substitution R x = (Q^T b)_1:p */
    for (int64_t j = p - 1; j >= 0; --j) {
      long double acc = C[c * n + j];
      for (int64_t l = j + 1; l < p; ++l) acc -= Q[l * n + j] * C[c * n + l];
      C[c * n + j] = acc / Q[j * n + j];
    }
  for (int64_t c = 0; c < k; ++c)
    for (int64_t j = 0; j < p; ++j) X[c * p + j] = (double)C[c * n + j];
  free(Q), free(C);
  return 1;
}

/* The first-order perturbation bound of the least-squares solution (Wedin;
 * Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., Thm
 * 20.1): a solution backward stable to relative perturbations eps of A and
 * b has forward error <= ~cond eps (1 + cond rho), up to a constant that
 * grows with the dimension. */
static inline double lsq_ref_fwd_bound(double cond, double rho) {
  return cond * DBL_EPSILON * (1.0 + cond * rho);
}

/* Normwise backward error of X in units of max(n, p) eps:
 * ||A^T (B - A X)||_F / (||A||_F (||A||_F ||X||_F + ||B - A X||_F)) /
 * (max(n, p) eps). The residual and the products are accumulated in long
 * double, so the check's own rounding is negligible. A backward-stable
 * solution (Householder QR, CholeskyQR2 while it succeeds) and the normal
 * equations (A^T r = E X - f with ||E|| <= ~n eps ||A||^2) both stay below
 * LSQ_REF_THRESH; a wrong solution gives O(1 / (n eps)). */
static inline double lsq_ref_backward_ratio(int64_t n, int64_t p, int64_t k,
                                            const double *A, const double *B,
                                            const double *X) {
  long double an2 = 0, xn2 = 0, rn2 = 0, g2 = 0;
  long double *r = calloc((size_t)(n > 0 ? n : 1), sizeof(long double));
  if (!r) abort();
  for (int64_t i = 0; i < n * p; ++i) an2 += (long double)A[i] * A[i];
  for (int64_t i = 0; i < p * k; ++i) xn2 += (long double)X[i] * X[i];
  for (int64_t c = 0; c < k; ++c) {
    for (int64_t i = 0; i < n; ++i) {
      long double acc = B[c * n + i];
      for (int64_t j = 0; j < p; ++j)
        acc -= (long double)A[j * n + i] * X[c * p + j];
      r[i] = acc;
      rn2 += acc * acc;
    }
    for (int64_t j = 0; j < p; ++j) {
      long double g = 0;
      for (int64_t i = 0; i < n; ++i) g += (long double)A[j * n + i] * r[i];
      g2 += g * g;
    }
  }
  free(r);
  long double an = sqrtl(an2);
  long double den = an * (an * sqrtl(xn2) + sqrtl(rn2));
  double dim = (double)(n > p ? n : p);
  return den > 0 ? (double)(sqrtl(g2) / den) / (dim * DBL_EPSILON) : 0.0;
}

#endif
