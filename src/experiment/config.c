/* The configuration: one table of keys (default, type, range, help), an INI
 * file parsed with inih, --set overrides, validation with file:line:key
 * messages, and the effective configuration as INI text. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/experiment.h"
#include "w2s/lsq.h"

/* Fixed sections. Representation sections ([strong], [weak.NAME]) take the
 * common keys below plus their source's own keys (src/repr/source_*.c). */
typedef struct {
  const char *section;
  w2s_key key;
} w2s_config_key;

static const w2s_config_key fixed_keys[] = {
    {"experiment", {"seed", W2S_KEY_INT, "1", 0, 9.0e18, NULL,
                    "seed of every random draw (samples, weights, heads)"}},
    {"experiment", {"tasks", W2S_KEY_INT, "100", 1, 1e7, NULL,
                    "number of fine-tuning tasks T (random heads on h*)"}},
    {"experiment", {"task_inputs", W2S_KEY_CHOICE, "shared", 0, 0,
                    "shared|per_task",
                    "tasks share sampled inputs, or each task draws its own"}},
    {"data", {"input_dim", W2S_KEY_INT, "8", 1, 1e6, NULL,
              "dimension of the inputs x"}},
    {"data", {"input_scale", W2S_KEY_REAL, "500", 1e-300, 1e300, NULL,
              "x ~ Normal(0, input_scale^2 I)"}},
    {"data", {"n_weak_train", W2S_KEY_INT, "2000", 1, 1e15, NULL,
              "samples that fit the weak heads on true labels"}},
    {"data", {"n_w2s_train", W2S_KEY_INT, "2000", 1, 1e15, NULL,
              "samples that fit the strong heads on weak labels"}},
    {"data", {"n_test", W2S_KEY_INT, "2000", 1, 1e15, NULL,
              "fresh samples on which the metrics are estimated"}},
    {"data", {"w2s_inputs", W2S_KEY_CHOICE, "fresh", 0, 0, "fresh|same",
              "strong heads fit weak labels on fresh x, or on the weak "
              "heads' own training x (the paper's notebook)"}},
    {"target", {"depth", W2S_KEY_INT, "5", 1, 1000, NULL,
                "layers (Linear + ReLU) of the target representation h*"}},
    {"target", {"width", W2S_KEY_INT, "16", 1, 1e5, NULL,
                "width of every layer of h*"}},
    {"fit", {"solver", W2S_KEY_STRING, "auto", 0, 0, NULL,
             "least-squares solver (one of the fit.solver list below)"}},
    {"fit", {"ridge", W2S_KEY_REAL, "0", 0, 1e12, NULL,
             "ridge lambda per sample, (1/n)|Ac-b|^2 + lambda |w|^2"}},
    {"fit", {"intercept", W2S_KEY_BOOL, "true", 0, 0, NULL,
             "heads have an (unpenalised) intercept"}},
    {"fit", {"rank_tol", W2S_KEY_REAL, "0", 0, 1, NULL,
             "relative singular-value cutoff; 0 = eps * max(n, p)"}},
    {"fit", {"block_rows", W2S_KEY_INT, "4096", 1, 1e7, NULL,
             "rows generated and folded into the fits per block"}},
    {"output", {"path", W2S_KEY_STRING, "results.h5", 0, 0, NULL,
                "results file (-o overrides)"}},
};
enum { NFIXED = sizeof fixed_keys / sizeof fixed_keys[0] };

static const w2s_key repr_keys[] = {
    {"source", W2S_KEY_STRING, "(see help)", 0, 0, NULL,
     "where the representation comes from (default: strong=target, "
     "weak=random)"},
    {"depth", W2S_KEY_INT, "2", 0, 1000, NULL,
     "layers, for sources that build their own MLP (0 = raw inputs)"},
    {"width", W2S_KEY_INT, "16", 1, 1e5, NULL,
     "width, for sources that build their own MLP"},
};

/* One raw `key = value` from the file or from --set. */
typedef struct {
  char section[128], key[128], value[512], where[256];
  int used;
} raw_entry;

typedef struct {
  raw_entry *e;
  int n, cap;
  int lineno;
  const char *name; /* file name for messages */
  const char *pos;  /* reader position in the text */
  int overflow;
  int long_line;     /* first line longer than inih's buffer, or 0 */
  int long_section;  /* first section header longer than inih's, or 0 */
  int continuation;  /* first indented line inih would join to a value, or 0 */
  int after_key;     /* a key was read since the last section header */
} raw_list;

static int raw_push(raw_list *l, const char *section, const char *key,
                    const char *value, const char *where) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 64;
    raw_entry *e = realloc(l->e, sizeof *e * (size_t)cap);
    if (!e) return 0;
    l->e = e;
    l->cap = cap;
  }
  raw_entry *r = &l->e[l->n++];
  memset(r, 0, sizeof *r);
  if (strlen(section) >= sizeof r->section || strlen(key) >= sizeof r->key ||
      strlen(value) >= sizeof r->value)
    l->overflow = 1;
  snprintf(r->section, sizeof r->section, "%s", section);
  snprintf(r->key, sizeof r->key, "%s", key);
  snprintf(r->value, sizeof r->value, "%s", value);
  snprintf(r->where, sizeof r->where, "%s", where);
  return 1;
}

/* inih reader over an in-memory text that counts lines, so the handler
 * knows where each key came from. */
/* inih keeps at most this many characters of a section name. */
enum { INIH_MAX_SECTION = 49 };

/* inih reports keys, not section headers: note them here, so an empty
 * section ([weak.a] with all defaults, or an unknown [foo]) is seen too. */
static void note_section(raw_list *l, const char *line) {
  while (*line == ' ' || *line == '\t') ++line;
  if (*line != '[') return;
  const char *end = strchr(line, ']');
  if (!end) return;
  ++line;
  while (line < end && (*line == ' ' || *line == '\t')) ++line;
  while (end > line && (end[-1] == ' ' || end[-1] == '\t')) --end;
  size_t len = (size_t)(end - line);
  if (len > INIH_MAX_SECTION) {
    if (!l->long_section) l->long_section = l->lineno;
    return;
  }
  char name[INIH_MAX_SECTION + 1], where[256];
  memcpy(name, line, len);
  name[len] = '\0';
  snprintf(where, sizeof where, "%s:%d", l->name, l->lineno);
  if (raw_push(l, name, "", "", where)) l->e[l->n - 1].used = 1;
}

/* Whether inih would read `line` as the continuation of the previous key's
 * value: an indented line with content that is not a comment, after a key
 * of the same section. Also tracks, for the next line, whether a key was
 * read since the last section header. */
static int is_continuation(raw_list *l, const char *line) {
  const char *p = line;
  if (l->lineno == 1 && !strncmp(p, "\xEF\xBB\xBF", 3)) p += 3; /* BOM */
  const char *start = p;
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v')
    ++p;
  if (*p == '\0' || *p == '\n' || *p == ';' || *p == '#') return 0;
  if (p > start && l->after_key) return 1;
  l->after_key = *p != '[';
  return 0;
}

static char *text_reader(char *str, int num, void *stream) {
  raw_list *l = stream;
  if (!l->pos || *l->pos == '\0' || num < 2) return NULL;
  size_t len = strcspn(l->pos, "\n");
  l->lineno++;
  if (len + 1 > (size_t)num - 1) {
    /* Longer than inih's line buffer: it would split the line silently.
     * Hand it an empty line and report the line after parsing. */
    if (!l->long_line) l->long_line = l->lineno;
    l->pos += len + (l->pos[len] == '\n');
    str[0] = '\n', str[1] = '\0';
    return str;
  }
  size_t take = len + (l->pos[len] == '\n');
  memcpy(str, l->pos, take);
  str[take] = '\0';
  l->pos += take;
  if (is_continuation(l, str)) {
    /* inih (built with multi-line values) would silently replace the value
     * of the key above by this line; report it after parsing instead. */
    if (!l->continuation) l->continuation = l->lineno;
    str[0] = '\n', str[1] = '\0';
    return str;
  }
  note_section(l, str);
  return str;
}

static int on_ini_entry(void *user, const char *section, const char *name,
                       const char *value) {
  raw_list *l = user;
  char where[256];
  snprintf(where, sizeof where, "%s:%d", l->name, l->lineno);
  return raw_push(l, section, name, value, where);
}

/* The last (file, then --set) value given for section.key, or NULL. */
static raw_entry *lookup(raw_list *l, const char *section, const char *key) {
  raw_entry *found = NULL;
  for (int i = 0; i < l->n; ++i)
    if (strcmp(l->e[i].section, section) == 0 &&
        strcmp(l->e[i].key, key) == 0)
      found = &l->e[i];
  return found;
}

static w2s_err parse_key(w2s_ctx *ctx, raw_list *l, const char *section,
                         const w2s_key *key, const char *def, w2s_param *out) {
  raw_entry *r = lookup(l, section, key->name);
  if (r) {
    for (int i = 0; i < l->n; ++i)
      if (strcmp(l->e[i].section, section) == 0 &&
          strcmp(l->e[i].key, key->name) == 0)
        l->e[i].used = 1;
  }
  char where[300];
  snprintf(where, sizeof where, "%s (default)", l->name);
  W2S_CALL(w2s_param_parse(ctx, key, section, r ? r->value : def,
                           r ? r->where : where, out));
  out->set = r != NULL;
  return W2S_OK;
}

/* "weak." + NAME must fit inih's section names. */
enum { MAX_WEAK_NAME = 44 };

static int valid_name(const char *s) {
  if (!*s || strlen(s) > MAX_WEAK_NAME) return 0;
  for (; *s; ++s)
    if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
  return 1;
}

static w2s_err parse_repr(w2s_ctx *ctx, raw_list *l, const char *section,
                          const char *name, const char *def_source,
                          const w2s_config *cfg, w2s_repr_config *rc) {
  snprintf(rc->section, sizeof rc->section, "%s", section);
  snprintf(rc->name, sizeof rc->name, "%s", name);
  W2S_CALL(parse_key(ctx, l, section, &repr_keys[0], def_source, &rc->source_p));
  rc->source = w2s_repr_source_find(rc->source_p.text);
  if (!rc->source) {
    char list[256];
    w2s_repr_source_list(list, sizeof list);
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: key '%s.source' must be one of %s, got '%s'",
                    rc->source_p.where, section, list, rc->source_p.text);
  }
  W2S_CALL(parse_key(ctx, l, section, &repr_keys[1], repr_keys[1].def,
                     &rc->depth_p));
  W2S_CALL(parse_key(ctx, l, section, &repr_keys[2], repr_keys[2].def,
                     &rc->width_p));
  if (!rc->source->uses_shape) {
    const w2s_param *shape[2] = {&rc->depth_p, &rc->width_p};
    for (int s = 0; s < 2; ++s)
      if (shape[s]->set)
        return W2S_FAIL(ctx, W2S_ERR_INPUT,
                        "%s: key '%s.%s' has no effect with source = %s (it "
                        "takes [target]'s shape); remove it",
                        shape[s]->where, section, shape[s]->key->name,
                        rc->source->name);
    /* Report the shape the source really has. */
    rc->depth_p.i = cfg->target_depth;
    rc->width_p.i = cfg->target_width;
  }
  if (rc->source->nkeys > (int)(sizeof rc->own / sizeof rc->own[0]))
    return W2S_FAIL(ctx, W2S_ERR_INTERNAL, "source %s declares too many keys",
                    rc->source->name);
  for (int k = 0; k < rc->source->nkeys; ++k)
    W2S_CALL(parse_key(ctx, l, section, &rc->source->keys[k],
                       rc->source->keys[k].def, &rc->own[k]));
  if (rc->source->check)
    W2S_CALL(rc->source->check(ctx, section, rc->depth_p.i, rc->width_p.i,
                               cfg->target_width, rc->own));
  return W2S_OK;
}

static int is_fixed_section(const char *s) {
  for (int k = 0; k < NFIXED; ++k)
    if (strcmp(fixed_keys[k].section, s) == 0) return 1;
  return 0;
}

static void append(char **buf, size_t *len, size_t *cap, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));
static void append(char **buf, size_t *len, size_t *cap, const char *fmt,
                   ...) {
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

static w2s_err build(w2s_ctx *ctx, raw_list *l, w2s_config *cfg) {
  /* Unknown sections first: they explain every key in them. */
  for (int i = 0; i < l->n; ++i) {
    const char *s = l->e[i].section;
    if (s[0] == '\0')
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: key '%s' is outside any [section]", l->e[i].where,
                      l->e[i].key);
    if (!is_fixed_section(s) && strcmp(s, "strong") != 0 &&
        strncmp(s, "weak.", 5) != 0 && strcmp(s, "sweep") != 0)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: unknown section [%s] (sections: experiment, data, "
                      "target, strong, weak.NAME, fit, output, sweep)",
                      l->e[i].where, s);
    if (strcmp(s, "sweep") == 0 && l->e[i].key[0]) {
      /* section.key = v1, v2, ...: expanded by the sweep module, which
       * validates every value by configuring each point. */
      if (cfg->nsweep == W2S_MAX_SWEEP)
        return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: more than %d swept keys",
                        l->e[i].where, W2S_MAX_SWEEP);
      w2s_sweep_key *k = &cfg->sweep[cfg->nsweep++];
      snprintf(k->key, sizeof k->key, "%s", l->e[i].key);
      snprintf(k->values, sizeof k->values, "%s", l->e[i].value);
      snprintf(k->where, sizeof k->where, "%s", l->e[i].where);
      l->e[i].used = 1;
    }
    if (strncmp(s, "weak.", 5) == 0 && !valid_name(s + 5))
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: section [%s]: a weak model's name must be 1-%d "
                      "letters, digits, '_' or '-'",
                      l->e[i].where, s, MAX_WEAK_NAME);
  }
  w2s_param fixed[NFIXED];
  for (int k = 0; k < NFIXED; ++k)
    W2S_CALL(parse_key(ctx, l, fixed_keys[k].section, &fixed_keys[k].key,
                       fixed_keys[k].key.def, &fixed[k]));
  int k = 0;
  cfg->seed = (uint64_t)fixed[k++].i;
  cfg->tasks = fixed[k++].i;
  cfg->per_task_inputs = strcmp(fixed[k++].text, "per_task") == 0;
  cfg->input_dim = fixed[k++].i;
  cfg->input_scale = fixed[k++].r;
  cfg->n_weak_train = fixed[k++].i;
  cfg->n_w2s_train = fixed[k++].i;
  cfg->n_test = fixed[k++].i;
  const w2s_param *w2s_inputs = &fixed[k++];
  cfg->w2s_same_inputs = strcmp(w2s_inputs->text, "same") == 0;
  if (cfg->w2s_same_inputs) {
    const w2s_param *nw = &fixed[k - 3];
    if (nw->set)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: key 'data.n_w2s_train' has no effect with "
                      "data.w2s_inputs = same (the strong heads use the %lld "
                      "weak-training samples); remove it",
                      nw->where, (long long)cfg->n_weak_train);
    cfg->n_w2s_train = cfg->n_weak_train;
  }
  cfg->target_depth = fixed[k++].i;
  cfg->target_width = fixed[k++].i;
  const w2s_param *solver = &fixed[k++];
  if (strlen(solver->text) >= sizeof cfg->solver ||
      !w2s_lsq_solver_find(solver->text)) {
    char list[256];
    w2s_lsq_solver_names(list, sizeof list, "|");
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: key 'fit.solver' must be one of %s, got '%s'",
                    solver->where, list, solver->text);
  }
  memcpy(cfg->solver, solver->text, strlen(solver->text) + 1);
  cfg->ridge = fixed[k++].r;
  cfg->intercept = (int)fixed[k++].i;
  cfg->rank_tol = fixed[k++].r;
  cfg->block_rows = fixed[k++].i;
  snprintf(cfg->output_path, sizeof cfg->output_path, "%s", fixed[k++].text);

  W2S_CALL(parse_repr(ctx, l, "strong", "strong", "target", cfg, &cfg->strong));
  cfg->nweak = 0;
  for (int i = 0; i < l->n; ++i) {
    const char *s = l->e[i].section;
    if (strncmp(s, "weak.", 5) != 0) continue;
    int seen = 0;
    for (int j = 0; j < cfg->nweak; ++j)
      if (strcmp(cfg->weak[j].section, s) == 0) seen = 1;
    if (seen) continue;
    if (cfg->nweak == W2S_MAX_WEAK)
      return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: more than %d weak models",
                      l->e[i].where, W2S_MAX_WEAK);
    W2S_CALL(parse_repr(ctx, l, s, s + 5, "random", cfg,
                        &cfg->weak[cfg->nweak]));
    cfg->nweak++;
  }
  if (cfg->nweak == 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: no weak model: add at least one [weak.NAME] section",
                    l->name);
  /* Every key given must have been consumed by some table. */
  for (int i = 0; i < l->n; ++i)
    if (!l->e[i].used) {
      const char *s = l->e[i].section;
      const char *src = "";
      if (strcmp(s, "strong") == 0) src = cfg->strong.source->name;
      for (int j = 0; j < cfg->nweak; ++j)
        if (strcmp(cfg->weak[j].section, s) == 0)
          src = cfg->weak[j].source->name;
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: unknown key '%s' in section [%s]%s%s%s",
                      l->e[i].where, l->e[i].key, s, src[0] ? " (source = " : "",
                      src, src[0] ? ")" : "");
    }

  char *b = NULL;
  size_t len = 0, cap = 0;
  append(&b, &len, &cap, "# w2s effective configuration\n");
  const char *prev = "";
  for (int f = 0; f < NFIXED; ++f) {
    if (strcmp(prev, fixed_keys[f].section) != 0) {
      if (strcmp(fixed_keys[f].section, "fit") == 0) {
        emit_repr(&b, &len, &cap, &cfg->strong);
        for (int j = 0; j < cfg->nweak; ++j)
          emit_repr(&b, &len, &cap, &cfg->weak[j]);
      }
      append(&b, &len, &cap, "%s[%s]\n", f ? "\n" : "", fixed_keys[f].section);
      prev = fixed_keys[f].section;
    }
    /* With w2s_inputs = same the key must not be given (it is derived). */
    if (cfg->w2s_same_inputs && !strcmp(fixed_keys[f].section, "data") &&
        !strcmp(fixed_keys[f].key.name, "n_w2s_train"))
      continue;
    append(&b, &len, &cap, "%s = %s\n", fixed_keys[f].key.name, fixed[f].text);
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

/* An entry and its position in the file, for sorting. */
typedef struct {
  const raw_entry *e;
  int pos;
} ranked_entry;

static int cmp_entry(const void *a, const void *b) {
  const ranked_entry *x = a, *y = b;
  int c = strcmp(x->e->section, y->e->section);
  if (!c) c = strcmp(x->e->key, y->e->key);
  return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* A key given twice in the file, or a section header repeated, would let
 * the last value win silently: refuse it, naming both lines. Sorting keeps
 * this O(n log n) for configs with thousands of entries. */
static w2s_err check_duplicates(w2s_ctx *ctx, raw_list *l) {
  if (l->n < 2) return W2S_OK;
  ranked_entry *idx = malloc(sizeof *idx * (size_t)l->n);
  if (!idx) return W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory (config)");
  for (int i = 0; i < l->n; ++i) idx[i] = (ranked_entry){&l->e[i], i};
  qsort(idx, (size_t)l->n, sizeof *idx, cmp_entry);
  /* Runs of equal (section, key) are in file order: the second entry of a
   * run is its first repetition; report the one that comes first. */
  int dup = -1, orig = -1;
  for (int i = 0; i < l->n;) {
    int k = i + 1;
    while (k < l->n && !strcmp(idx[k].e->section, idx[i].e->section) &&
           !strcmp(idx[k].e->key, idx[i].e->key))
      ++k;
    if (k - i >= 2 && (dup < 0 || idx[i + 1].pos < dup))
      dup = idx[i + 1].pos, orig = idx[i].pos;
    i = k;
  }
  free(idx);
  if (dup < 0) return W2S_OK;
  const raw_entry *d = &l->e[dup];
  if (d->key[0] == '\0')
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: section [%s] appears twice (first at %s): merge its "
                    "keys into one section",
                    d->where, d->section, l->e[orig].where);
  return W2S_FAIL(ctx, W2S_ERR_INPUT,
                  "%s: key '%s' is given twice in section [%s] (first at %s)",
                  d->where, d->key, d->section, l->e[orig].where);
}

w2s_err w2s_config_parse(w2s_ctx *ctx, const char *name, const char *text,
                         const char *const *sets, int nsets, w2s_config **out) {
  return w2s_config_parse_at(ctx, name, text, sets, NULL, nsets, out);
}

w2s_err w2s_config_parse_at(w2s_ctx *ctx, const char *name, const char *text,
                            const char *const *sets, const char *const *wheres,
                            int nsets, w2s_config **out) {
  /* w2s_config_load passes text on every rank (a local context is only rank
   * 0, which read it); a NULL from any caller is a clear internal error. */
  if (!text)
    return W2S_FAIL(ctx, W2S_ERR_INTERNAL, "%s: no config text to parse", name);
  raw_list l = {0};
  l.name = name;
  l.pos = text;
  w2s_config *cfg = NULL;
  w2s_err e = W2S_OK;
  int rc = ini_parse_stream(text_reader, &l, on_ini_entry, &l);
  if (l.long_line)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                 "%s:%d: line longer than %d characters (the INI reader's "
                 "limit): split long lists or shorten the value",
                 name, l.long_line, INI_MAX_LINE - 2);
  else if (l.long_section)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                 "%s:%d: section name longer than %d characters", name,
                 l.long_section, INIH_MAX_SECTION);
  else if (rc > 0)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                 "%s:%d: syntax error (expected '[section]' or 'key = value')",
                 name, rc);
  else if (rc < 0)
    e = W2S_FAIL(ctx, W2S_ERR_MEMORY, "%s: out of memory while parsing", name);
  else if (l.overflow)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: a section, key or value is too long",
                 name);
  else if (l.continuation)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                 "%s:%d: indented line continues the value above (multi-line "
                 "values are not accepted): remove the indentation or join "
                 "the lines",
                 name, l.continuation);
  /* Before the --set overrides are added: only the file's entries. */
  if (!e) e = check_duplicates(ctx, &l);
  for (int i = 0; !e && i < nsets; ++i) {
    const char *eq = strchr(sets[i], '=');
    char lhs[256];
    char where[300];
    if (wheres && wheres[i])
      snprintf(where, sizeof where, "%s", wheres[i]);
    else
      snprintf(where, sizeof where, "--set %s", sets[i]);
    size_t n = eq ? (size_t)(eq - sets[i]) : 0;
    const char *dot = NULL;
    if (eq && n < sizeof lhs) {
      memcpy(lhs, sets[i], n);
      lhs[n] = '\0';
      char *d = strrchr(lhs, '.');
      if (d && d != lhs && d[1]) {
        *d = '\0';
        dot = d + 1;
      }
    }
    if (!dot) {
      e = W2S_FAIL(ctx, W2S_ERR_USAGE,
                   "%s: expected section.key=value", where);
      break;
    }
    if (!raw_push(&l, lhs, dot, eq + 1, where))
      e = W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory");
  }
  if (!e) e = W2S_ALLOC(ctx, cfg, 1);
  if (!e) {
    snprintf(cfg->path, sizeof cfg->path, "%s", name);
    size_t tl = strlen(text) + 1;
    e = W2S_ALLOC(ctx, cfg->text, tl);
    if (!e) {
      memcpy(cfg->text, text, tl);
      e = build(ctx, &l, cfg);
    }
  }
  free(l.e);
  if (e) {
    w2s_config_destroy(&cfg);
    return e;
  }
  *out = cfg;
  return W2S_OK;
}

w2s_err w2s_config_load(w2s_ctx *ctx, const char *path, const char *const *sets,
                        int nsets, w2s_config **out) {
  char *text = NULL;
  w2s_err e = W2S_OK;
  if (ctx->rank == 0) {
    FILE *f = fopen(path, "rb");
    if (!f) {
      e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: cannot read config: %s", path,
                   strerror(errno));
    } else {
      size_t cap = 4096, len = 0, got;
      text = malloc(cap);
      while (text && (got = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
          if (cap > ((size_t)16 << 20)) {
            e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                         "%s: config is larger than 16 MiB", path);
            break;
          }
          char *t = realloc(text, cap *= 2);
          if (!t) {
            e = W2S_FAIL(ctx, W2S_ERR_MEMORY, "%s: out of memory reading the "
                         "config", path);
            break;
          }
          text = t;
        }
      }
      if (!text && !e) e = W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory");
      else if (ferror(f) && !e)
        e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: cannot read config: %s", path,
                     strerror(errno));
      else if (text && !e) {
        text[len] = '\0';
        if (strlen(text) != len)
          e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: config contains a NUL byte",
                       path);
      }
      fclose(f);
    }
  }
  e = w2s_agree(ctx, e);
  if (!e && ctx->comm != MPI_COMM_NULL) e = w2s_agree(ctx, w2s_bcast_string(ctx, &text, 0));
  /* Every rank parses the same text, so every rank reaches the same verdict;
   * agreeing anyway keeps that true if the parser ever depends on the rank. */
  if (!e) e = w2s_agree(ctx, w2s_config_parse(ctx, path, text, sets, nsets, out));
  free(text);
  return e;
}

void w2s_config_destroy(w2s_config **cfg) {
  if (!cfg || !*cfg) return;
  free((*cfg)->effective);
  free((*cfg)->text);
  free(*cfg);
  *cfg = NULL;
}

int64_t w2s_repr_head_params(const w2s_config *cfg, const w2s_repr_config *rc) {
  int64_t d = rc->source->uses_shape
                  ? (rc->depth_p.i == 0 ? cfg->input_dim : rc->width_p.i)
                  : cfg->target_width;
  return d + (cfg->intercept ? 1 : 0);
}

void w2s_config_print_help(FILE *f) {
  fprintf(f, "Configuration keys (INI sections; override any with --set "
             "section.key=value):\n\n");
  fprintf(f, "  %-28s %-6s %-12s %-22s %s\n", "key", "type", "default",
          "range", "help");
  const char *prev = "";
  for (int k = 0; k < NFIXED; ++k) {
    if (strcmp(prev, fixed_keys[k].section) != 0) fprintf(f, "\n");
    prev = fixed_keys[k].section;
    w2s_keys_print(f, fixed_keys[k].section, &fixed_keys[k].key, 1);
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
  w2s_keys_print(f, "strong|weak.NAME",
                 repr_keys, (int)(sizeof repr_keys / sizeof repr_keys[0]));
  for (int s = 0; w2s_repr_sources[s]; ++s) {
    const w2s_repr_source *src = w2s_repr_sources[s];
    fprintf(f, "\n  source = %-8s %s%s\n", src->name, src->help,
            src->uses_shape ? " (uses depth, width)" : " (takes [target]'s shape)");
    w2s_keys_print(f, "strong|weak.NAME", src->keys, src->nkeys);
  }
}
