/* The results writer's per-point part: what one run (or one sweep point)
 * owns, coefficients, representations and pre-training curves. */
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "io/results_write.h"

static hid_t group(hid_t loc, const char *name) {
  return H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}

/* The columns of /representations; agreed, since every rank then writes
 * them collectively (on failure the caller frees what was allocated). */
typedef struct {
  int64_t *dim, *rk, *iters;
  double *ridge, *cond, *grad;
} repr_columns;

static w2s_err alloc_repr_columns(w2s_ctx *ctx, int64_t n, repr_columns *c) {
  w2s_err e = W2S_ALLOC(ctx, c->dim, n);
  if (!e) e = W2S_ALLOC(ctx, c->rk, n);
  if (!e) e = W2S_ALLOC(ctx, c->iters, n);
  if (!e) e = W2S_ALLOC(ctx, c->ridge, n);
  if (!e) e = W2S_ALLOC(ctx, c->cond, n);
  if (!e) e = W2S_ALLOC(ctx, c->grad, n);
  return w2s_agree(ctx, e);
}

/* What one run (or one sweep point) owns: coefficients, representations'
 * numbers, pre-training curves, under `parent`. Collective. */
w2s_err w2s_write_point(w2s_ctx *ctx, hid_t parent, const w2s_results *r,
                        int coll, const char *path) {
  w2s_err e = W2S_OK;
  hid_t gc = group(parent, "coefficients");
  hid_t gw = gc < 0 ? -1 : group(gc, "weak");
  hid_t gr = group(parent, "representations");
  if (gc < 0 || gw < 0 || gr < 0)
    e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create groups", path);
  const hid_t dbl = H5T_NATIVE_DOUBLE, i64 = H5T_NATIVE_INT64;
  const int64_t sp = r->strong_p;
  if (!e)
    e = w2s_h5_write(ctx, gc,
                     &(w2s_h5_dataset){"strong_ceiling",
                                       dbl,
                                       2,
                                       {r->ntasks, sp},
                                       r->coef_ceiling},
                     coll, path);
  if (!e)
    e = w2s_h5_write(ctx, gc,
                     &(w2s_h5_dataset){"w2s",
                                       dbl,
                                       2,
                                       {r->npairs, r->w2s_p ? r->w2s_p : sp},
                                       r->coef_w2s},
                     coll, path);
  for (int64_t j = 0; j < r->nweak && !e; ++j) {
    if (r->weak_p[j] == 0) continue; /* given as predictions: no head */
    e = w2s_h5_write(ctx, gw,
                     &(w2s_h5_dataset){r->weak_names[j],
                                       dbl,
                                       2,
                                       {r->ntasks, r->weak_p[j]},
                                       r->coef_weak[j]},
                     coll, path);
  }
  const int64_t nr = r->nrepr;
  repr_columns rc = {0};
  if (!e && (e = alloc_repr_columns(ctx, nr, &rc)) == W2S_OK) {
    for (int i = 0; i < r->nrepr; ++i) {
      rc.dim[i] = r->repr[i].dim;
      rc.rk[i] = r->repr[i].rank;
      rc.cond[i] = r->repr[i].cond;
      rc.ridge[i] = r->repr[i].ridge;
      rc.iters[i] = r->repr[i].newton_iterations;
      rc.grad[i] = r->repr[i].newton_rel_grad;
    }
    /* Softmax heads (loss kl) add their Newton fits' summary. */
    int ncols = strcmp(r->loss, "kl") == 0 ? 6 : 4;
    const w2s_h5_dataset cols[] = {
        {"dim", i64, 1, {nr}, rc.dim},
        {"effective_rank", i64, 1, {nr}, rc.rk},
        {"condition", dbl, 1, {nr}, rc.cond},
        {"ridge", dbl, 1, {nr}, rc.ridge},
        {"newton_iterations", i64, 1, {nr}, rc.iters},
        {"newton_rel_grad", dbl, 1, {nr}, rc.grad},
    };
    for (int c = 0; c < ncols && !e; ++c)
      e = w2s_h5_write(ctx, gr, &cols[c], coll, path);
  }
  free(rc.dim), free(rc.rk), free(rc.iters);
  free(rc.ridge), free(rc.cond), free(rc.grad);
  if (!e && r->ncurves > 0) {
    hid_t gp = group(parent, "pretrain");
    for (int c = 0; c < r->ncurves && !e && gp >= 0; ++c) {
      hid_t gs = group(gp, r->curve_name[c]);
      const w2s_h5_dataset loss = {"loss",
                                   dbl,
                                   1,
                                   {r->curve_len[c]},
                                   r->curve[c]};
      e = gs < 0 ? W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create /pretrain/%s",
                            path, r->curve_name[c])
                 : w2s_h5_write(ctx, gs, &loss, coll, path);
      if (gs >= 0) H5Gclose(gs);
    }
    if (gp < 0)
      e = W2S_FAIL(ctx, W2S_ERR_IO, "%s: cannot create /pretrain", path);
    else
      H5Gclose(gp);
  }
  hid_t ids[] = {gr, gw, gc};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; ++i)
    if (ids[i] >= 0) H5Gclose(ids[i]);
  return e;
}

w2s_err w2s_write_repr_strings(w2s_ctx *ctx, hid_t parent, const w2s_results *r,
                               const char *path) {
  const char **names = NULL;
  W2S_CALL(W2S_ALLOC(ctx, names, r->nrepr));
  hid_t gr = H5Gopen2(parent, "representations", H5P_DEFAULT);
  w2s_err e = gr < 0
                  ? W2S_FAIL(ctx, W2S_ERR_IO, "%s: no /representations", path)
                  : W2S_OK;
  if (!e) {
    for (int i = 0; i < r->nrepr; ++i) names[i] = r->repr[i].name;
    e = w2s_h5_write_strings(ctx, gr, "name", names, r->nrepr, path);
  }
  if (!e) {
    for (int i = 0; i < r->nrepr; ++i) names[i] = r->repr[i].role;
    e = w2s_h5_write_strings(ctx, gr, "role", names, r->nrepr, path);
  }
  if (!e) {
    for (int i = 0; i < r->nrepr; ++i) names[i] = r->repr[i].source;
    e = w2s_h5_write_strings(ctx, gr, "source", names, r->nrepr, path);
  }
  if (gr >= 0) H5Gclose(gr);
  free(names);
  return e;
}
