/* Reference least-squares solutions from LAPACK, shared by the solver tests
 * (tests/unit/test_lsq.c, tests/mpi/test_lsq_mpi.c, test_solvers_mpi.c).
 * Column-major; A is n x p, B n x k, X p x k. A failure of LAPACK or of an
 * allocation aborts the test program (a failed test, never a silent pass). */
#ifndef W2S_TESTS_LSQ_REFERENCE_H
#define W2S_TESTS_LSQ_REFERENCE_H

#include <cblas.h>
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

#endif
