/* The configuration as text: the effective configuration (INI text that
 * results files store and `w2s simulate` accepts back) and the table of
 * every key that --help-config prints. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/config_impl.h"
#include "w2s/lsq.h"

static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt,
                      ap);
    va_end(ap);
    if (n < 0) return;
    if (*buf && *len + (size_t)n < *cap) {
      *len += (size_t)n;
      return;
    }
    size_t ncap = (*cap ? *cap * 2 : 4096) + (size_t)n;
    char *nb = realloc(*buf, ncap);
    if (!nb) return;
    *buf = nb;
    *cap = ncap;
  }
}

static void emit_repr(char **b, size_t *len, size_t *cap,
                      const w2s_repr_config *rc) {
  append(b, len, cap, "\n[%s]\nsource = %s\n", rc->section, rc->source->name);
  if (rc->source->uses_shape)
    append(b, len, cap, "depth = %lld\nwidth = %lld\n",
           (long long)rc->depth_p.i, (long long)rc->width_p.i);
  for (int k = 0; k < rc->source->nkeys; ++k)
    append(b, len, cap, "%s = %s\n", rc->source->keys[k].name, rc->own[k].text);
}

/* Keys that must not be given in cfg's configuration are not written:
 * n_w2s_train with w2s_inputs = same (it is derived), the classification
 * keys with linear heads, the least-squares solver with softmax heads. */
static int key_applies(const w2s_config *cfg, const w2s_config_key *k) {
  static const char *const softmax_only[] = {"data.labels",
                                             "target.classes",
                                             "target.temperature",
                                             "fit.newton_tol",
                                             "fit.newton_max_iter",
                                             "fit.student",
                                             "fit.student_class"};
  char name[160];
  snprintf(name, sizeof name, "%s.%s", k->section, k->key.name);
  if (cfg->w2s_same_inputs && !strcmp(name, "data.n_w2s_train")) return 0;
  if (cfg->softmax && !strcmp(name, "fit.solver")) return 0;
  if (!cfg->mixture && !strcmp(name, "fit.mixture_components")) return 0;
  for (size_t i = 0; i < sizeof softmax_only / sizeof softmax_only[0]; ++i)
    if (!cfg->softmax && !strcmp(name, softmax_only[i])) return 0;
  return 1;
}

w2s_err w2s_config_emit(w2s_ctx *ctx, w2s_config *cfg, const w2s_param *fixed) {
  char *b = NULL;
  size_t len = 0, cap = 0;
  append(&b, &len, &cap, "# w2s effective configuration\n");
  const char *prev = "";
  for (int f = 0; f < w2s_config_nfixed; ++f) {
    if (strcmp(prev, w2s_config_fixed_keys[f].section) != 0) {
      if (strcmp(w2s_config_fixed_keys[f].section, "fit") == 0) {
        emit_repr(&b, &len, &cap, &cfg->strong);
        for (int j = 0; j < cfg->nweak; ++j)
          emit_repr(&b, &len, &cap, &cfg->weak[j]);
      }
      append(&b, &len, &cap, "%s[%s]\n", f ? "\n" : "",
             w2s_config_fixed_keys[f].section);
      prev = w2s_config_fixed_keys[f].section;
    }
    if (!key_applies(cfg, &w2s_config_fixed_keys[f])) continue;
    append(&b, &len, &cap, "%s = %s\n", w2s_config_fixed_keys[f].key.name,
           fixed[f].text);
  }
  if (cfg->nsweep > 0) {
    append(&b, &len, &cap, "\n[sweep]\n");
    for (int i = 0; i < cfg->nsweep; ++i)
      append(&b, &len, &cap, "%s = %s\n", cfg->sweep[i].key,
             cfg->sweep[i].values);
  }
  if (!b) return W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory (config text)");
  cfg->effective = b;
  return W2S_OK;
}

void w2s_config_print_help(FILE *f) {
  fprintf(f, "Configuration keys (INI sections; override any with --set "
             "section.key=value):\n\n");
  fprintf(f, "  %-28s %-6s %-12s %-22s %s\n", "key", "type", "default", "range",
          "help");
  const char *prev = "";
  for (int k = 0; k < w2s_config_nfixed; ++k) {
    if (strcmp(prev, w2s_config_fixed_keys[k].section) != 0) fprintf(f, "\n");
    prev = w2s_config_fixed_keys[k].section;
    w2s_keys_print(f, w2s_config_fixed_keys[k].section,
                   &w2s_config_fixed_keys[k].key, 1);
  }
  fprintf(f, "\n  fit.solver (also w2s fit --solver, w2s bench --solvers):\n");
  for (int s = 0; w2s_lsq_solvers[s]; ++s)
    fprintf(f, "    %-10s %s\n", w2s_lsq_solvers[s]->name,
            w2s_lsq_solvers[s]->help);
  fprintf(f, "\n  [sweep]: one line per swept key, 'section.key = v1, v2, ...' "
             "(or --sweep section.key=v1,v2,...);\n  the run covers the grid "
             "of all combinations and writes one results file.\n");
  fprintf(f, "\n  Representation sections: [strong] and one [weak.NAME] per "
             "weak model (NAME: letters, digits, _ and -).\n");
  w2s_keys_print(f, "strong|weak.NAME", w2s_config_repr_keys, w2s_config_nrepr);
  for (int s = 0; w2s_repr_sources[s]; ++s) {
    const w2s_repr_source *src = w2s_repr_sources[s];
    fprintf(f, "\n  source = %-8s %s%s\n", src->name, src->help,
            src->uses_shape ? " (uses depth, width)"
                            : " (takes [target]'s shape)");
    w2s_keys_print(f, "strong|weak.NAME", src->keys, src->nkeys);
  }
}
