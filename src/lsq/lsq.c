/* Solver dispatch and the shared triangular minimum-norm solve. */
#include <float.h>
#include <lapacke.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "lsq/lsq_impl.h"

extern const w2s_lsq_solver w2s_lsq_solver_auto;
extern const w2s_lsq_solver w2s_lsq_solver_scalapack;

/* A test build appends one solver through the compile definition
 * W2S_LSQ_EXTRA_SOLVER=<its w2s_lsq_solver's name> (tests/lsq_dummy_solver.c):
 * the table line is all a solver needs. */
#ifdef W2S_LSQ_EXTRA_SOLVER
extern const w2s_lsq_solver W2S_LSQ_EXTRA_SOLVER;
#endif

/* The table: one line per solver, in help-text order. */
const w2s_lsq_solver *const w2s_lsq_solvers[] = {
    &w2s_lsq_solver_auto,
    &w2s_lsq_solver_cholqr2,
    &w2s_lsq_solver_scholqr3,
    &w2s_lsq_solver_tsqr,
    &w2s_lsq_solver_normal,
    &w2s_lsq_solver_scalapack,
#ifdef W2S_LSQ_EXTRA_SOLVER
    &W2S_LSQ_EXTRA_SOLVER,
#endif
    NULL,
};

void w2s_lsq_solver_names(char *buf, size_t len, const char *sep) {
  if (len == 0) return;
  buf[0] = '\0';
  for (int k = 0; w2s_lsq_solvers[k]; ++k) {
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", k ? sep : "",
             w2s_lsq_solvers[k]->name);
  }
}

const w2s_lsq_solver *w2s_lsq_solver_find(const char *name) {
  for (int k = 0; w2s_lsq_solvers[k]; ++k)
    if (strcmp(w2s_lsq_solvers[k]->name, name) == 0) return w2s_lsq_solvers[k];
  return NULL;
}

w2s_err w2s_lsq_create(w2s_ctx *ctx, const char *solver, int64_t p, int64_t k,
                       w2s_lsq **out) {
  const w2s_lsq_solver *s = w2s_lsq_solver_find(solver);
  if (!s)
    return W2S_FAIL(ctx, W2S_ERR_USAGE, "unknown least-squares solver '%s'",
                    solver);
  if (p < 1 || k < 0)
    return W2S_FAIL(ctx, W2S_ERR_INTERNAL, "lsq: bad shape p=%lld k=%lld",
                    (long long)p, (long long)k);
  W2S_CALL(
      w2s_lapack_int_check(ctx, p * p + p * k, "least-squares factor size"));
  W2S_CALL(s->create(ctx, p, k, out));
  (*out)->ran = s;
  return W2S_OK;
}

w2s_err w2s_lsq_create_with(w2s_ctx *ctx, const char *solver, int64_t p,
                            int64_t k, const w2s_lsq_opts *opts,
                            w2s_lsq **out) {
  W2S_CALL(w2s_lsq_create(ctx, solver, p, k, out));
  w2s_lsq *ls = *out;
  ls->opts_known = 1;
  ls->ridge = opts->ridge;
  if (opts->label) snprintf(ls->label, sizeof ls->label, "%s", opts->label);
  w2s_err e = W2S_ALLOC(ctx, ls->penalize, p);
  for (int64_t j = 0; !e && j < p; ++j)
    ls->penalize[j] = opts->penalize ? opts->penalize[j] : 1;
  if (e) w2s_lsq_destroy(out);
  return e;
}

w2s_err w2s_lsq_new(w2s_ctx *ctx, const w2s_lsq_ops *ops, const char *method,
                    int64_t p, int64_t k, w2s_lsq **out) {
  W2S_CALL(W2S_ALLOC(ctx, *out, 1));
  (*out)->ops = ops;
  (*out)->p = p;
  (*out)->k = k;
  (*out)->nrows_first = -1;
  snprintf((*out)->method, sizeof(*out)->method, "%s", method);
  snprintf((*out)->label, sizeof(*out)->label, "least-squares fit");
  return W2S_OK;
}

void w2s_lsq_set_context(w2s_lsq *ls, const char *label, int64_t row_offset) {
  if (label) snprintf(ls->label, sizeof ls->label, "%s", label);
  ls->row_offset = row_offset;
}

/* The first non-finite entry of an m x n block, as (row, column), or -1. */
static int64_t first_bad(int64_t m, int64_t n, const double *X, int64_t ld,
                         int64_t *col) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i)
      if (!isfinite(X[j * ld + i])) {
        *col = j;
        return i;
      }
  return -1;
}

static w2s_err report_nonfinite(w2s_ctx *ctx, const w2s_lsq *ls, int64_t m,
                                const double *A, int64_t lda, const double *B,
                                int64_t ldb, int *found) {
  int64_t col, row = first_bad(m, ls->p, A, lda, &col);
  *found = 1;
  if (row >= 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: non-finite value in row %lld (rank %d), feature "
                    "column %lld",
                    ls->label, (long long)(ls->row_offset + row), ctx->rank,
                    (long long)col);
  row = first_bad(m, ls->k, B, ldb, &col);
  if (row >= 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: non-finite value in row %lld (rank %d), right-hand "
                    "side %lld",
                    ls->label, (long long)(ls->row_offset + row), ctx->rank,
                    (long long)col);
  *found = 0;
  return W2S_OK;
}

w2s_err w2s_lsq_add_rows(w2s_ctx *ctx, w2s_lsq *ls, int64_t m, double *A,
                         int64_t lda, double *B, int64_t ldb) {
  if (m <= 0) return W2S_OK;
  W2S_CALL(w2s_lapack_int_check(ctx, m, "rows per block"));
  W2S_CALL(
      w2s_lapack_int_check(ctx, lda > ldb ? lda : ldb, "leading dimension"));
  int found = 0;
  w2s_err e = W2S_OK;
  /* Solvers that overwrite the block need the scan first; the Gram solvers
   * notice a poisoned sum and the block is scanned only then. */
  if (!ls->ops->self_checks) {
    e = report_nonfinite(ctx, ls, m, A, lda, B, ldb, &found);
    if (found) return e;
  }
  e = ls->ops->add_rows(ctx, ls, m, A, lda, B, ldb);
  if (!e && ls->saw_nonfinite) {
    e = report_nonfinite(ctx, ls, m, A, lda, B, ldb, &found);
    if (!found)
      e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                   "%s: the sums of squares of rows %lld-%lld (rank %d) "
                   "overflow the double range (values beyond ~1e154)",
                   ls->label, (long long)ls->row_offset,
                   (long long)(ls->row_offset + m - 1), ctx->rank);
  }
  ls->nrows_local += m;
  ls->row_offset += m;
  return e;
}

w2s_err w2s_lsq_end_pass(w2s_ctx *ctx, w2s_lsq *ls, int *more) {
  *more = 0;
  w2s_err e = W2S_OK;
  if (ls->passes == 0) {
    double n = (double)ls->nrows_local;
    if (ctx->comm != MPI_COMM_NULL && ctx->size > 1) e = w2s_sum(ctx, &n, 1);
    ls->nrows = (int64_t)n;
    ls->nrows_first = ls->nrows_local;
    if (!e && ls->opts_known && ls->ridge == 0.0 && ls->nrows < ls->p)
      e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                   "%s: %lld rows for %lld unknowns: the problem is "
                   "underdetermined; add rows or use ridge > 0",
                   ls->label, (long long)ls->nrows, (long long)ls->p);
  } else if (ls->nrows_local != ls->nrows_first) {
    e = W2S_FAIL(ctx, W2S_ERR_INTERNAL,
                 "%s: pass %d fed %lld rows on rank %d, the first pass %lld",
                 ls->label, ls->passes + 1, (long long)ls->nrows_local,
                 ctx->rank, (long long)ls->nrows_first);
  }
  e = w2s_agree(ctx, e);
  if (!e && ls->ops->end_pass)
    e = w2s_agree(ctx, ls->ops->end_pass(ctx, ls, ls->nrows, &ls->more));
  else
    ls->more = 0;
  ls->passes++;
  ls->nrows_local = 0;
  *more = ls->more;
  return e;
}

w2s_err w2s_lsq_solve(w2s_ctx *ctx, w2s_lsq *ls, const w2s_lsq_opts *opts,
                      double *X, w2s_lsq_info *info) {
  if (ls->passes == 0 || ls->nrows_local > 0) {
    int more = 0;
    W2S_CALL(w2s_lsq_end_pass(ctx, ls, &more));
  }
  if (ls->more)
    return W2S_FAIL(ctx, W2S_ERR_INTERNAL,
                    "%s: solver '%s' needs another pass over the rows "
                    "(call w2s_lsq_end_pass until it says no more)",
                    ls->label, ls->method);
  if (ls->opts_known && opts->ridge != ls->ridge)
    return W2S_FAIL(ctx, W2S_ERR_INTERNAL,
                    "%s: solve's ridge %g differs from creation's %g",
                    ls->label, opts->ridge, ls->ridge);
  if (opts->ridge == 0.0 && ls->nrows < ls->p)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: %lld rows for %lld unknowns: the problem is "
                    "underdetermined; add rows or use ridge > 0",
                    ls->label, (long long)ls->nrows, (long long)ls->p);
  memset(info, 0, sizeof *info);
  w2s_err e = w2s_agree(ctx, ls->ops->solve(ctx, ls, opts, X, info));
  snprintf(info->method, sizeof info->method, "%s", ls->method);
  info->passes = ls->passes;
  info->ran = ls->ran;
  return e;
}

void w2s_lsq_destroy(w2s_lsq **ls) {
  if (!ls || !*ls) return;
  (*ls)->ops->destroy(*ls);
  free((*ls)->penalize);
  free(*ls);
  *ls = NULL;
}

w2s_err w2s_lapack_int_check(w2s_ctx *ctx, int64_t v, const char *what) {
  if (v < 0 || v > INT_MAX)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s = %lld does not fit LAPACK's 32-bit integers", what,
                    (long long)v);
  return W2S_OK;
}

w2s_err w2s_lapack_info(w2s_ctx *ctx, int info, const char *routine) {
  if (info == 0) return W2S_OK;
  if (info < 0)
    return W2S_FAIL(ctx, W2S_ERR_INTERNAL, "%s: argument %d is invalid",
                    routine, -info);
  return W2S_FAIL(ctx, W2S_ERR_NUMERIC, "%s failed to converge (info = %d)",
                  routine, info);
}

/* The triangular solve's problem, shared by its phases. */
typedef struct {
  int64_t p, k, nrows;
  double *R, *C; /* p x p and p x k, overwritten */
  double *s;     /* p column norms of R (equilibration) */
  double tol;    /* the relative singular-value cutoff */
  double *X;     /* p x k, the answer */
  w2s_lsq_info *info;
} tri_problem;

/* Ridge: stack sqrt(ridge * n) * I (penalised columns) under R, refactor. */
static w2s_err tri_ridge(w2s_ctx *ctx, tri_problem *t,
                         const w2s_lsq_opts *opts) {
  const int ip = (int)t->p, ik = (int)t->k;
  int64_t p = t->p, k = t->k;
  int q = 0, nb = ip < 32 ? ip : 32;
  for (int j = 0; j < ip; ++j) q += (!opts->penalize || opts->penalize[j]);
  if (q == 0) return W2S_OK;
  double *pen = NULL, *penB = NULL, *T = NULL, *work = NULL;
  w2s_err e;
  if ((e = W2S_ALLOC(ctx, pen, (size_t)q * p)) ||
      (e = W2S_ALLOC(ctx, penB, (size_t)q * (k > 0 ? k : 1))) ||
      (e = W2S_ALLOC(ctx, T, (size_t)nb * p)) ||
      (e = W2S_ALLOC(ctx, work, (size_t)nb * (p > k ? p : k))))
    goto done;
  double lam = sqrt(opts->ridge * (double)t->nrows);
  for (int j = 0, r = 0; j < ip; ++j)
    if (!opts->penalize || opts->penalize[j]) pen[(size_t)j * q + r++] = lam;
  int rc = LAPACKE_dtpqrt_work(LAPACK_COL_MAJOR, q, ip, 0, nb, t->R, ip, pen, q,
                               T, nb, work);
  if ((e = w2s_lapack_info(ctx, rc, "dtpqrt (ridge)"))) goto done;
  if (k > 0) {
    rc = LAPACKE_dtpmqrt_work(LAPACK_COL_MAJOR, 'L', 'T', q, ik, ip, 0, nb, pen,
                              q, T, nb, t->C, ip, penB, q, work);
    e = w2s_lapack_info(ctx, rc, "dtpmqrt (ridge)");
  }
done:
  free(pen);
  free(penB);
  free(T);
  free(work);
  return e;
}

/* Column equilibration: unit column norms make the rank decision (and the
 * minimum norm) independent of each feature's scale. */
static void tri_equilibrate(tri_problem *t) {
  const int ip = (int)t->p;
  for (int j = 0; j < ip; ++j) {
    double *col = t->R + (size_t)j * t->p;
    for (int i = j + 1; i < ip; ++i) col[i] = 0.0;
    double nrm = cblas_dnrm2(j + 1, col, 1);
    t->s[j] = nrm > 0.0 ? nrm : 1.0;
    cblas_dscal(j + 1, 1.0 / t->s[j], col, 1);
  }
}

/* Large factors that are safely full rank skip the O(p^3) SVD: LAPACK's
 * 1-norm estimate is within a factor p of the 2-norm condition number, so
 * cond1 * p * 10 < 1 / tol means no singular value can fall below the
 * cutoff, and the triangular solve gives the same (unique) solution.
 * Returns 1 when it solved. */
static int tri_full_rank(tri_problem *t) {
  const int ip = (int)t->p, ik = (int)t->k;
  if (ip <= 512) return 0;
  double rcond = 0.0;
  int rc = LAPACKE_dtrcon(LAPACK_COL_MAJOR, '1', 'U', 'N', ip, t->R, ip,
                          &rcond);
  if (rc != 0 || rcond <= 0.0 || (1.0 / rcond) * t->p * 10.0 >= 1.0 / t->tol)
    return 0;
  memcpy(t->X, t->C, sizeof(double) * (size_t)t->p * (size_t)t->k);
  if (ik > 0)
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasUpper, CblasNoTrans,
                CblasNonUnit, ip, ik, 1.0, t->R, ip, t->X, ip);
  for (int c = 0; c < ik; ++c)
    for (int j = 0; j < ip; ++j) t->X[(size_t)c * t->p + j] /= t->s[j];
  t->info->nrows = t->nrows;
  t->info->rank = t->p;
  t->info->cond = t->info->cond_kept = 1.0 / rcond; /* the 1-norm estimate */
  return 1;
}

/* The minimum-norm solution from the economy SVD of R[:, live]. Exactly
 * zero columns (dead units) are left out of the SVD, so their coefficients
 * are exactly 0 rather than rounding noise mixed in by the singular
 * vectors. Divide and conquer (dgesdd: several times faster than dgesvd
 * for large p). */
static w2s_err tri_svd(w2s_ctx *ctx, tri_problem *t) {
  const int ip = (int)t->p, ik = (int)t->k;
  int64_t p = t->p, k = t->k;
  double *R = t->R, *U = NULL, *VT = NULL, *sv = NULL, *W = NULL, *Xl = NULL;
  int *live_idx = NULL;
  w2s_err e;
  if ((e = W2S_ALLOC(ctx, U, (size_t)p * p)) ||
      (e = W2S_ALLOC(ctx, VT, (size_t)p * p)) || (e = W2S_ALLOC(ctx, sv, p)) ||
      (e = W2S_ALLOC(ctx, live_idx, p)))
    goto done;
  int pl = 0;
  for (int j = 0; j < ip; ++j)
    if (t->s[j] != 1.0 || cblas_dnrm2(j + 1, R + (size_t)j * p, 1) > 0.0) {
      if (pl != j)
        memcpy(R + (size_t)pl * p, R + (size_t)j * p,
               sizeof(double) * (size_t)p);
      live_idx[pl++] = j;
    }
  memset(t->X, 0, sizeof(double) * (size_t)p * (size_t)k);
  w2s_lsq_info *info = t->info;
  info->nrows = t->nrows;
  info->rank = 0;
  info->cond = info->cond_kept = INFINITY;
  if (pl == 0) goto done;
  int rc = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', ip, pl, R, ip, sv, U, ip, VT,
                          pl);
  if ((e = w2s_lapack_info(ctx, rc, "dgesdd"))) goto done;
  int r = 0;
  while (r < pl && sv[0] > 0.0 && sv[r] > t->tol * sv[0]) ++r;
  info->rank = r;
  info->cond = (pl == ip && sv[pl - 1] > 0.0) ? sv[0] / sv[pl - 1] : INFINITY;
  info->cond_kept = r > 0 ? sv[0] / sv[r - 1] : INFINITY;
  if (r == 0 || k == 0) goto done;
  if ((e = W2S_ALLOC(ctx, W, (size_t)r * k)) ||
      (e = W2S_ALLOC(ctx, Xl, (size_t)pl * k)))
    goto done;
  /* W = Sigma_r^-1 U_r^T C ; X_live = S^-1 V_r W */
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, r, ik, ip, 1.0, U, ip,
              t->C, ip, 0.0, W, r);
  for (int c = 0; c < ik; ++c)
    for (int i = 0; i < r; ++i) W[(size_t)c * r + i] /= sv[i];
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, pl, ik, r, 1.0, VT, pl,
              W, r, 0.0, Xl, pl);
  for (int c = 0; c < ik; ++c)
    for (int j = 0; j < pl; ++j)
      t->X[(size_t)c * p + live_idx[j]] = Xl[(size_t)c * pl + j] /
                                          t->s[live_idx[j]];
done:
  free(live_idx);
  free(Xl);
  free(U);
  free(VT);
  free(sv);
  free(W);
  return e;
}

w2s_err w2s_lsq_solve_triangular(w2s_ctx *ctx, const w2s_lsq_factor *f,
                                 const w2s_lsq_opts *opts, double *X,
                                 w2s_lsq_info *info) {
  const int64_t p = f->p, k = f->k, nrows = f->nrows;
  double *R = f->R, *C = f->C;
  const char *label = opts->label ? opts->label : "least-squares fit";
  /* Overflowing features or labels poison the factor: say so, never return
   * garbage coefficients. */
  for (int64_t i = 0; i < p * p; ++i)
    if (!isfinite(R[i]))
      return W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                      "%s: the features contain non-finite values (overflow? "
                      "try a smaller data.input_scale)",
                      label);
  for (int64_t i = 0; i < p * k; ++i)
    if (!isfinite(C[i]))
      return W2S_FAIL(ctx, W2S_ERR_NUMERIC,
                      "%s: the labels contain non-finite values", label);
  tri_problem t = {p, k, nrows, R, C, NULL, 0.0, X, info};
  t.tol = opts->rank_tol > 0.0 ? opts->rank_tol
                               : DBL_EPSILON * (double)(nrows > p ? nrows : p);
  if (opts->ridge > 0.0 && !f->ridge_absorbed)
    W2S_CALL(tri_ridge(ctx, &t, opts));
  W2S_CALL(W2S_ALLOC(ctx, t.s, p));
  tri_equilibrate(&t);
  w2s_err e = tri_full_rank(&t) ? W2S_OK : tri_svd(ctx, &t);
  free(t.s);
  return e;
}

/* Every rank solves the same small problem; rank 0's answer is broadcast so
 * all ranks agree to the bit. Shared with the other R-based solvers. */
w2s_err w2s_lsq_finish(w2s_ctx *ctx, const w2s_lsq_factor *f,
                       const w2s_lsq_opts *opts, double *X,
                       w2s_lsq_info *info) {
  w2s_err e = w2s_lsq_solve_triangular(ctx, f, opts, X, info);
  e = w2s_agree(ctx, e);
  if (e == W2S_OK && ctx->comm != MPI_COMM_NULL && ctx->size > 1) {
    e = w2s_bcast_bytes(ctx, X,
                        (int64_t)(sizeof(double) * (size_t)(f->p * f->k)), 0);
    if (e == W2S_OK) e = w2s_bcast_bytes(ctx, info, sizeof *info, 0);
  }
  return e;
}
