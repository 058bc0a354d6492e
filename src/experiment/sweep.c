/* Sweeps: a grid over swept keys, expanded into per-point --set lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/experiment.h"
#include "w2s/params.h"

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') ++s;
  char *e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
  return s;
}

/* Split "v1, v2, v3" into at most cap values (in place). An empty item
 * ("100,,200", a trailing comma) is -1, not skipped; too many is -2. */
static int split_values(char *list, char **out, int cap) {
  int n = 0;
  for (char *tok = list;;) {
    char *comma = strchr(tok, ',');
    if (comma) *comma = '\0';
    char *v = trim(tok);
    if (*v == '\0') return -1;
    if (n == cap) return -2;
    out[n++] = v;
    if (!comma) return n;
    tok = comma + 1;
  }
}

/* Two values that configure the same point: equal as numbers when both are
 * numbers ("100" and "1e2"), as booleans when both are ("true" and "yes"),
 * else as text. (A value that is neither for its key is refused later.) */
static int same_value(const char *a, const char *b) {
  char *ea, *eb;
  double x = strtod(a, &ea), y = strtod(b, &eb);
  if (ea != a && *ea == '\0' && eb != b && *eb == '\0') return x == y;
  int ba = w2s_parse_bool(a), bb = w2s_parse_bool(b);
  if (ba >= 0 && bb >= 0) return ba == bb;
  return strcmp(a, b) == 0;
}

w2s_err w2s_sweep_expand(w2s_ctx *ctx, const w2s_config *cfg,
                         const char *const *extra, int nextra, w2s_sweep *out) {
  memset(out, 0, sizeof *out);
  w2s_sweep_key keys[W2S_MAX_SWEEP * 2];
  int nk = 0;
  for (int i = 0; i < cfg->nsweep; ++i) keys[nk++] = cfg->sweep[i];
  for (int i = 0; i < nextra; ++i) {
    const char *eq = strchr(extra[i], '=');
    if (!eq || eq == extra[i] || nk == W2S_MAX_SWEEP)
      return W2S_FAIL(ctx, W2S_ERR_USAGE,
                      "--sweep %s: expected section.key=v1,v2,... (at most %d "
                      "swept keys)",
                      extra[i], W2S_MAX_SWEEP);
    w2s_sweep_key *k = &keys[nk++];
    snprintf(k->key, sizeof k->key, "%.*s", (int)(eq - extra[i]), extra[i]);
    snprintf(k->values, sizeof k->values, "%s", eq + 1);
    snprintf(k->where, sizeof k->where, "--sweep %s", extra[i]);
  }
  if (nk == 0) return W2S_OK;
  enum { MAXV = 256 };
  char lists[W2S_MAX_SWEEP][1024];
  char *vals[W2S_MAX_SWEEP][MAXV];
  int nv[W2S_MAX_SWEEP];
  int64_t npoints = 1;
  for (int i = 0; i < nk; ++i) {
    for (int j = 0; j < i; ++j)
      if (!strcmp(keys[i].key, keys[j].key))
        return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: key '%s' is swept twice",
                        keys[i].where, keys[i].key);
    if (!strchr(keys[i].key, '.'))
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: swept key '%s' must be section.key", keys[i].where,
                      keys[i].key);
    snprintf(lists[i], sizeof lists[i], "%s", keys[i].values);
    nv[i] = split_values(lists[i], vals[i], MAXV);
    if (nv[i] == -1)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: swept key '%s' has an empty value (two commas in "
                      "a row, or a comma at an end)",
                      keys[i].where, keys[i].key);
    if (nv[i] < 1)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: swept key '%s' needs 1-%d comma-separated "
                      "non-empty values",
                      keys[i].where, keys[i].key, MAXV);
    /* A repeated value would run (and report) the same point twice. */
    for (int a = 0; a < nv[i]; ++a)
      for (int b = 0; b < a; ++b)
        if (same_value(vals[i][a], vals[i][b]))
          return W2S_FAIL(ctx, W2S_ERR_INPUT,
                          "%s: swept key '%s' has the value '%s' twice%s%s%s",
                          keys[i].where, keys[i].key, vals[i][b],
                          strcmp(vals[i][a], vals[i][b]) ? " (as '" : "",
                          strcmp(vals[i][a], vals[i][b]) ? vals[i][a] : "",
                          strcmp(vals[i][a], vals[i][b]) ? "')" : "");
    npoints *= nv[i];
    if (npoints > 100000)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: the sweep has more than "
                      "100000 points",
                      keys[i].where);
  }
  out->nkeys = nk;
  out->npoints = npoints;
  for (int i = 0; i < nk; ++i) {
    memcpy(out->keys[i], keys[i].key, sizeof out->keys[i]);
    /* The option and its key, not its whole (possibly long) value list:
     * the message quotes the bad value. */
    if (!strncmp(keys[i].where, "--sweep", 7))
      snprintf(out->where[i], sizeof out->where[i], "--sweep %.127s",
               keys[i].key);
    else
      snprintf(out->where[i], sizeof out->where[i], "%.255s [sweep]",
               keys[i].where);
  }
  w2s_err e = W2S_ALLOC(ctx, out->values, npoints * nk);
  if (!e) e = W2S_ALLOC(ctx, out->sets, npoints * nk);
  /* Row-major grid: the last key varies fastest. */
  for (int64_t p = 0; p < npoints && !e; ++p) {
    int64_t rest = p;
    for (int i = nk - 1; i >= 0; --i) {
      const char *v = vals[i][rest % nv[i]];
      rest /= nv[i];
      snprintf(out->values[p * nk + i], 128, "%s", v);
      snprintf(out->sets[p * nk + i], 300, "%s=%s", keys[i].key, v);
    }
  }
  if (e) w2s_sweep_free(out);
  return e;
}

void w2s_sweep_free(w2s_sweep *sw) {
  free(sw->values);
  free(sw->sets);
  memset(sw, 0, sizeof *sw);
}

w2s_err w2s_sweep_point_config(w2s_ctx *ctx, const w2s_config *cfg,
                               const char *const *sets, int nsets,
                               const w2s_sweep *sw, int64_t p,
                               w2s_config **out) {
  const char **all = NULL, **wheres = NULL;
  W2S_CALL(W2S_ALLOC(ctx, all, nsets + sw->nkeys + 1));
  w2s_err e = W2S_ALLOC(ctx, wheres, nsets + sw->nkeys + 1);
  for (int i = 0; !e && i < nsets; ++i) all[i] = sets[i];
  for (int i = 0; !e && i < sw->nkeys; ++i) {
    all[nsets + i] = sw->sets[p * sw->nkeys + i];
    wheres[nsets + i] = sw->where[i];
  }
  const w2s_config_sets ov = {all, wheres, nsets + sw->nkeys};
  if (!e) e = w2s_config_parse_at(ctx, cfg->path, cfg->text, &ov, out);
  free(all);
  free(wheres);
  return e;
}

/* The sample counts of a point against its heads' parameters, which the
 * simulation would otherwise refuse only when that point's turn comes. */
static w2s_err check_samples(w2s_ctx *ctx, const w2s_config *pc,
                             const w2s_sweep *sw, int64_t p) {
  char desc[1024] = "";
  for (int i = 0; i < sw->nkeys; ++i) {
    strncat(desc, i ? " " : "", sizeof desc - strlen(desc) - 1);
    strncat(desc, sw->sets[p * sw->nkeys + i], sizeof desc - strlen(desc) - 1);
  }
  for (int j = 0; j < pc->nweak; ++j) {
    int64_t need = w2s_repr_head_params(pc, &pc->weak[j]);
    if (pc->n_weak_train < need)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: sweep point %lld (%s): data.n_weak_train = %lld is "
                      "smaller than the %lld parameters of the head of weak "
                      "model '%s'",
                      pc->path, (long long)p, desc, (long long)pc->n_weak_train,
                      (long long)need, pc->weak[j].name);
  }
  int64_t need = w2s_repr_head_params(pc, &pc->strong);
  if (pc->n_w2s_train < need)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: sweep point %lld (%s): data.n_w2s_train = %lld is "
                    "smaller than the %lld parameters of the strong head",
                    pc->path, (long long)p, desc, (long long)pc->n_w2s_train,
                    (long long)need);
  return W2S_OK;
}

w2s_err w2s_sweep_check(w2s_ctx *ctx, const w2s_config *cfg,
                        const char *const *sets, int nsets,
                        const w2s_sweep *sw) {
  for (int64_t p = 0; p < sw->npoints; ++p) {
    w2s_config *pc = NULL;
    W2S_CALL(w2s_sweep_point_config(ctx, cfg, sets, nsets, sw, p, &pc));
    w2s_err e = check_samples(ctx, pc, sw, p);
    w2s_config_destroy(&pc);
    if (e) return e;
  }
  return W2S_OK;
}
