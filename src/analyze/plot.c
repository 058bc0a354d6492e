/* Figures with PLplot (cairo driver): the only file that calls PLplot.
 * Without PLplot at build time the functions say so and fail cleanly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/analyze.h"

static const char *device_for(const char *path) {
  const char *dot = strrchr(path, '.');
  if (!dot) return NULL;
  if (!strcmp(dot, ".png")) return "pngcairo";
  if (!strcmp(dot, ".svg")) return "svgcairo";
  if (!strcmp(dot, ".pdf")) return "pdfcairo";
  return NULL;
}

#ifdef W2S_HAVE_PLPLOT
#include <plplot.h>

/* Distinct, readable colours for up to 8 weak models (cmap0 1..8). */
static const int palette[8][3] = {{31, 119, 180},  {255, 127, 14},
                                  {44, 160, 44},   {214, 39, 40},
                                  {148, 103, 189}, {140, 86, 75},
                                  {227, 119, 194}, {127, 127, 127}};

/* Check the file can be written, then start a 900 x height page on a white
 * background with the palette in cmap0 1..8 and black in 15. */
static w2s_err begin(w2s_ctx *ctx, const char *opt, const char *path,
                     const char *dev, int height) {
  FILE *probe = fopen(path, "wb");
  if (!probe)
    return W2S_FAIL(ctx, W2S_ERR_USAGE, "%s %s: cannot write the file", opt,
                    path);
  fclose(probe);
  plsdev(dev);
  plsfnam(path);
  plspage(0, 0, 900, height, 0, 0);
  plscolbg(255, 255, 255);
  plscol0(15, 0, 0, 0);
  for (int c = 0; c < 8; ++c)
    plscol0(1 + c, palette[c][0], palette[c][1], palette[c][2]);
  plinit();
  plcol0(15);
  return W2S_OK;
}

w2s_err w2s_plot_gain_misfit(w2s_ctx *ctx, w2s_results *const *files, int n,
                             const w2s_summary *s, const char *path) {
  const char *dev = device_for(path);
  if (!dev)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "--plot %s: the file name must end in .png, .svg or .pdf",
                    path);
  double lo = INFINITY, hi = -INFINITY;
  for (int f = 0; f < n; ++f)
    for (int64_t k = 0; k < files[f]->npairs; ++k) {
      double g = files[f]->metric[W2S_M_GAIN][k],
             m = files[f]->metric[W2S_M_MISFIT][k];
      if (isfinite(g) && isfinite(m)) {
        lo = fmin(lo, fmin(g, m));
        hi = fmax(hi, fmax(g, m));
      }
    }
  if (!(hi >= lo))
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "--plot: no finite (gain, misfit) pair");
  double pad = 0.05 * (hi - lo > 0 ? hi - lo : 1.0);
  lo -= pad, hi += pad;
  W2S_CALL(begin(ctx, "--plot", path, dev, 750));
  plenv(lo, hi, lo, hi, 1, 0);
  pllab("gain = weak_error - w2s_error (test)", "misfit (test)",
        "weak-to-strong: gain against misfit");
  /* Lines first, points on top. */
  double lx[2] = {lo, hi}, ly[2] = {lo, hi};
  plcol0(15);
  pllsty(2);
  plline(2, lx, ly);
  pllsty(1);
  /* The summary's fit gain = a misfit + b, i.e. misfit = (gain - b) / a. */
  int have_fit = isfinite(s->slope) && s->slope != 0.0;
  if (have_fit) {
    double fy[2] = {(lo - s->intercept) / s->slope,
                    (hi - s->intercept) / s->slope};
    plcol0(4);
    plwidth(2.0);
    plline(2, lx, fy);
    plwidth(1.0);
  }
  /* One colour per weak-model name across files. */
  char names[8][W2S_NAME_LEN];
  int nnames = 0;
  for (int f = 0; f < n; ++f) {
    const w2s_results *r = files[f];
    for (int64_t j = 0; j < r->nweak; ++j) {
      int c = 0;
      while (c < nnames && strcmp(names[c], r->weak_names[j]) != 0) ++c;
      if (c == nnames && nnames < 8)
        snprintf(names[nnames++], W2S_NAME_LEN, "%s", r->weak_names[j]);
    }
  }
  for (int f = 0; f < n; ++f) {
    const w2s_results *r = files[f];
    for (int64_t k = 0; k < r->npairs; ++k) {
      int c = 0;
      while (c < nnames &&
             strcmp(names[c], r->weak_names[r->pair_weak[k]]) != 0)
        ++c;
      double x = r->metric[W2S_M_GAIN][k], y = r->metric[W2S_M_MISFIT][k];
      plcol0(1 + (c % 8));
      plssym(0.0, 1.6);
      plpoin(1, &x, &y, 17); /* filled circle */
    }
  }
  /* Legend: the weak models, y = x, the fit. */
  int nl = nnames + 1 + have_fit;
  int opt[10], tcol[10], lcol[10], lsty[10], scol[10], snum[10];
  double lw[10], ssc[10];
  const char *text[10], *sym[10];
  char fit_text[128], name_text[8][W2S_NAME_LEN + 8];
  for (int c = 0; c < nl; ++c) {
    tcol[c] = 15, lsty[c] = 1, lw[c] = 1.0, ssc[c] = 1.6, snum[c] = 1;
    sym[c] = "#(850)"; /* filled circle, as plpoin code 17 */
  }
  for (int c = 0; c < nnames; ++c) {
    opt[c] = PL_LEGEND_SYMBOL;
    scol[c] = lcol[c] = 1 + c;
    snprintf(name_text[c], sizeof name_text[c], "%s", names[c]);
    text[c] = name_text[c];
  }
  opt[nnames] = PL_LEGEND_LINE, lcol[nnames] = 15, lsty[nnames] = 2;
  scol[nnames] = 15, text[nnames] = "y = x";
  if (have_fit) {
    snprintf(fit_text, sizeof fit_text, "fit: slope %.3f, R#u2#d %.3f",
             s->slope, s->r2);
    opt[nnames + 1] = PL_LEGEND_LINE, lcol[nnames + 1] = 4,
                 lsty[nnames + 1] = 1, lw[nnames + 1] = 2.0;
    scol[nnames + 1] = 4, text[nnames + 1] = fit_text;
  }
  double lwidth, lheight;
  pllegend(&lwidth, &lheight, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
           PL_POSITION_TOP | PL_POSITION_LEFT | PL_POSITION_INSIDE, 0.02, 0.02,
           0.08, 0, 15, 1, 0, 0, nl, opt, 1.0, 0.8, 2.0, 0.0, tcol, text, NULL,
           NULL, NULL, NULL, lcol, lsty, lw, scol, ssc, snum, sym);
  plend();
  return W2S_OK;
}

w2s_err w2s_plot_sweep(w2s_ctx *ctx, const w2s_sweep_stat *st, int64_t n,
                       const char *path) {
  const char *dev = device_for(path);
  if (!dev)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "--plot-sweep %s: the file name must end in .png, .svg "
                    "or .pdf",
                    path);
  if (n == 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "--plot-sweep: the results hold no sweep (run simulate "
                    "with --sweep or a [sweep] section)");
  double xl = INFINITY, xh = -INFINITY, yl = INFINITY, yh = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    if (!(st[i].x > 0))
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "--plot-sweep: the first swept key must take positive "
                      "numeric values for log axes (point %lld: %s)",
                      (long long)st[i].point, st[i].desc);
    double ys[2] = {st[i].mad_test, st[i].mad_train};
    xl = fmin(xl, log10(st[i].x)), xh = fmax(xh, log10(st[i].x));
    for (int q = 0; q < 2; ++q)
      if (ys[q] > 0) yl = fmin(yl, log10(ys[q])), yh = fmax(yh, log10(ys[q]));
  }
  if (!(yh >= yl)) yl = -1, yh = 0;
  if (xh - xl < 1e-9) xl -= 0.5, xh += 0.5;
  W2S_CALL(begin(ctx, "--plot-sweep", path, dev, 650));
  plenv(xl - 0.1, xh + 0.1, yl - 0.3, yh + 0.3, 0, 30); /* log x and y */
  pllab("swept value (first sweep key)", "mean |gain - misfit|",
        "finite-sample error of gain = misfit");
  double *x = malloc(sizeof(double) * (size_t)n);
  double *y = malloc(sizeof(double) * (size_t)n);
  for (int q = 0; q < 2 && x && y; ++q) {
    int64_t m = 0;
    for (int64_t i = 0; i < n; ++i) {
      double v = q == 0 ? st[i].mad_test : st[i].mad_train;
      if (v > 0) x[m] = log10(st[i].x), y[m] = log10(v), ++m;
    }
    plcol0(q == 0 ? 1 : 2);
    plssym(0.0, 1.4);
    plpoin((int)m, x, y, q == 0 ? 17 : 16);
  }
  free(x);
  free(y);
  int opt[2] = {PL_LEGEND_SYMBOL, PL_LEGEND_SYMBOL}, tcol[2] = {15, 15};
  int scol[2] = {1, 2}, snum[2] = {1, 1}, lcol[2] = {1, 2}, lsty[2] = {1, 1};
  double ssc[2] = {1.4, 1.4}, lw[2] = {1, 1}, lwidth, lheight;
  const char *text[2] = {"test (fresh samples)", "train (the fitted sample)"};
  const char *sym[2] = {"#(850)", "#(851)"};
  pllegend(&lwidth, &lheight, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
           PL_POSITION_LEFT | PL_POSITION_INSIDE, 0.02, 0.02, 0.08, 0, 15, 1, 0,
           0, 2, opt, 1.0, 0.8, 2.0, 0.0, tcol, text, NULL, NULL, NULL, NULL,
           lcol, lsty, lw, scol, ssc, snum, sym);
  plend();
  return W2S_OK;
}

#else

w2s_err w2s_plot_gain_misfit(w2s_ctx *ctx, w2s_results *const *files, int n,
                             const w2s_summary *s, const char *path) {
  (void)files, (void)n, (void)s, (void)device_for;
  return W2S_FAIL(ctx, W2S_ERR_USAGE,
                  "--plot %s: plotting was not built (PLplot was not found "
                  "when w2s was configured; install libplplot-dev and "
                  "plplot-driver-cairo and rebuild)",
                  path);
}

w2s_err w2s_plot_sweep(w2s_ctx *ctx, const w2s_sweep_stat *st, int64_t n,
                       const char *path) {
  (void)st, (void)n;
  return W2S_FAIL(ctx, W2S_ERR_USAGE,
                  "--plot-sweep %s: plotting was not built (PLplot was not "
                  "found when w2s was configured)",
                  path);
}

#endif
