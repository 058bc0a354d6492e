/* heads: classification heads, multinomial logistic regression (softmax;
 * C = 2 is logistic regression) on features h, fitted by a distributed
 * Newton method.
 *
 * A head W is p x (C - 1): class 0 is the pinned reference (logit 0), class
 * c >= 1 has logit z_c = h . W[:, c - 1] (h's last column is the intercept's
 * 1 when the head has one). p(z) = softmax(0, z_1, ..., z_{C-1}). A fit
 * minimises over W
 *     L(W) = (1/n) sum_i CE(y_i, p(z_i)) + ridge * ||W without its
 *            unpenalised rows||_F^2,     CE(y, q) = -sum_c y_c log q_c,
 * for target rows y_i that are probabilities (soft labels, or one-hot for
 * class ids); the minimiser is also the KL fit, mean KL(y_i || p(z_i)).
 * Every Newton iteration is one pass over this rank's rows accumulating the
 * objective, the gradient and the (p (C - 1))^2 Hessian of every head still
 * running, one reduction (sum to rank 0, broadcast: every rank holds the
 * same bits and takes the same decisions) and a step with a backtracking
 * (Armijo) line search on the reduced objective. Convergence: the gradient's
 * 2-norm at most tol times its norm at W = 0 (or times 1e-8 of the
 * features' root mean square when that is larger: targets within rounding
 * of uniform), or within 10 tol when three steps in a row cut it by
 * under 10% (a stall along directions without curvature: nearly
 * separable rows) (docs/DESIGN.md "Classification heads"). Separable
 * hard labels have no finite optimum: the iterates grow until the relative
 * gradient falls below tol (then the fit returns them) or max_iter is reached
 * (an error); a ridge > 0 gives a finite optimum.
 *
 * w2s_softmax_fit is collective; the rest is local. */
#ifndef W2S_HEADS_H
#define W2S_HEADS_H

#include <stdint.h>

#include "w2s/core.h"

/* K heads on one feature matrix: this rank's rows of it and of the targets.
 * Column-major; the caller owns everything. */
typedef struct {
  int64_t m;       /* this rank's rows (0 allowed) */
  int64_t n;       /* rows over all ranks: the mean's denominator (> 0) */
  int64_t p;       /* columns of H, the intercept's included */
  int64_t C;       /* classes, >= 2 */
  const double *H; /* m x p, leading dimension ldh */
  int64_t ldh;
  int64_t K;       /* heads */
  const double *Y; /* m x (K C): head k's target probabilities in columns
                      [k C, k C + C) (rows summing to 1), leading dim ldy */
  int64_t ldy;
  int64_t row0; /* the global index of this rank's first row (the Hessian's
                   row sample is chosen by global index) */
} w2s_softmax_data;

typedef struct {
  double ridge;        /* lambda >= 0 (see above) */
  const int *penalize; /* p flags, 1 = the ridge applies (NULL: all) */
  double tol;          /* relative gradient norm that ends a fit (> 0) */
  int max_iter;        /* Newton iterations before giving up */
  const char *label;   /* the fit, named in messages ("weak model 'a'") */
  int reverse; /* 1: minimise mean KL(p(z_i) || y_i) instead (the reverse
                  student; y_i > 0), by damped Gauss-Newton: the same
                  matrix, linear convergence, a stationary point */
  const char *head_unit; /* messages name head k "UNIT base+k" ("task 7");
                            NULL: "head k of K" */
  int64_t head_base;
} w2s_softmax_opts;

/* What one head's fit did. */
typedef struct {
  int iterations;   /* Newton steps taken */
  int passes;       /* passes over the rows (line-search trials included) */
  int hessians;     /* of them, passes that evaluated the Hessian */
  double objective; /* L at the solution */
  double grad_norm; /* ||grad L|| at the solution */
  double rel_grad;  /* grad_norm / ||grad L(0)|| (0 when that is 0) */
  int64_t rank;     /* numerical rank of the final Hessian */
  double cond;      /* its condition number estimate (inf: singular) */
} w2s_softmax_info;

/* Collective: fit d's K heads into W (p x (C - 1) per head, head k at
 * W + k p (C - 1), column c - 1 for class c), starting from zero. info: K
 * entries (NULL: not reported). Every rank passes the same p, C, K, n and
 * opts. A singular Hessian (dead or collinear features) takes the
 * minimum-norm step (eigenvalues below q eps max are dropped), so the fit
 * converges to the minimum-norm optimum. Errors: W2S_ERR_NUMERIC naming
 * opts->label and the head when a fit has not converged after max_iter
 * iterations (separable labels have no finite optimum: a ridge > 0 gives
 * one), or when the objective or gradient is not finite; W2S_ERR_MEMORY;
 * W2S_ERR_MPI. */
w2s_err w2s_softmax_fit(w2s_ctx *ctx, const w2s_softmax_data *d,
                        const w2s_softmax_opts *opts, double *W,
                        w2s_softmax_info *info);

/* Local: log-probabilities of k heads W (p x (C - 1) each, consecutive) on
 * m rows of H (ld ldh) into L (m x (k C), head j in columns [j C, j C + C),
 * leading dimension ldl). z = H W is computed by one DGEMM into L's class
 * columns, then each row is shifted by its log-sum-exp. */
void w2s_softmax_logprob(int64_t m, int64_t p, int64_t C, const double *H,
                         int64_t ldh, const double *W, int64_t k, double *L,
                         int64_t ldl);

/* Local: the class of largest probability in row i of log-probabilities L
 * (m x C, ld ldl; the first one on ties). */
int64_t w2s_softmax_argmax(const double *L, int64_t ldl, int64_t i, int64_t C);

/* The mixture student: weights alpha on the simplex of k fixed component
 * distributions, p_i = sum_j alpha_j q_ij, minimising the mean reverse KL
 * (1/n) sum_i KL(p_i || y_i) (src/heads/mixture.c). Convex: the fit is the
 * global optimum, to a Frank-Wolfe gap of tol (an upper bound on the
 * objective's distance to its minimum). Column-major; the caller owns it. */
typedef struct {
  int64_t m, n;    /* this rank's rows; rows over all ranks (> 0) */
  int64_t C, k;    /* classes; components (1 to 64) */
  const double *Q; /* m x (k C): component j's probabilities in columns
                      [j C, j C + C), leading dimension ldq */
  int64_t ldq;
  const double *Y; /* m x C target probabilities (> 0), ld ldy */
  int64_t ldy;
} w2s_mixture_data;

typedef struct {
  double tol;        /* Frank-Wolfe gap that ends the fit (> 0) */
  int max_iter;      /* Newton iterations before the fit is refused */
  const char *label; /* named in messages */
} w2s_mixture_opts;

typedef struct {
  int iterations, passes;
  double objective; /* at the solution */
  double gap;       /* its Frank-Wolfe gap */
  int64_t support;  /* components with a weight > 0 */
} w2s_mixture_info;

/* Collective: alpha (k) from uniform weights. Every rank passes the same
 * n, C, k and opts. Errors: W2S_ERR_NUMERIC naming opts->label (no
 * convergence in max_iter iterations, a non-finite objective),
 * W2S_ERR_USAGE (k outside 1..64), W2S_ERR_MEMORY, W2S_ERR_MPI. */
w2s_err w2s_mixture_fit(w2s_ctx *ctx, const w2s_mixture_data *d,
                        const w2s_mixture_opts *opts, double *alpha,
                        w2s_mixture_info *info);

/* Local: log sum_j alpha_j q_ij on m rows of Q (as in w2s_mixture_data)
 * into L (m x C, ld ldl). */
void w2s_mixture_logprob(int64_t m, int64_t C, int64_t k, const double *Q,
                         int64_t ldq, const double *alpha, double *L,
                         int64_t ldl);

#endif
