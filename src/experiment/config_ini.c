/* The configuration's INI reader: inih over an in-memory text that counts
 * lines (so every key knows its file:line), the checks inih itself does
 * not make (over-long lines, continuation lines, keys and sections given
 * twice), the --set overrides, and reading the file. */
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/config_impl.h"

static int raw_push(w2s_raw_list *l, const char *section, const char *key,
                    const char *value, const char *where) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 64;
    w2s_raw_entry *e = realloc(l->e, sizeof *e * (size_t)cap);
    if (!e) return 0;
    l->e = e;
    l->cap = cap;
  }
  w2s_raw_entry *r = &l->e[l->n++];
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
static void note_section(w2s_raw_list *l, const char *line) {
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
static int is_continuation(w2s_raw_list *l, const char *line) {
  const char *p = line;
  if (l->lineno == 1 && !strncmp(p, "\xEF\xBB\xBF", 3)) p += 3; /* BOM */
  const char *start = p;
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v') ++p;
  if (*p == '\0' || *p == '\n' || *p == ';' || *p == '#') return 0;
  if (p > start && l->after_key) return 1;
  l->after_key = *p != '[';
  return 0;
}

static char *text_reader(char *str, int num, void *stream) {
  w2s_raw_list *l = stream;
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
  w2s_raw_list *l = user;
  char where[256];
  snprintf(where, sizeof where, "%s:%d", l->name, l->lineno);
  return raw_push(l, section, name, value, where);
}

/* An entry and its position in the file, for sorting. */
typedef struct {
  const w2s_raw_entry *e;
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
static w2s_err check_duplicates(w2s_ctx *ctx, w2s_raw_list *l) {
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
  const w2s_raw_entry *d = &l->e[dup];
  if (d->key[0] == '\0')
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: section [%s] appears twice (first at %s): merge its "
                    "keys into one section",
                    d->where, d->section, l->e[orig].where);
  return W2S_FAIL(ctx, W2S_ERR_INPUT,
                  "%s: key '%s' is given twice in section [%s] (first at %s)",
                  d->where, d->key, d->section, l->e[orig].where);
}

w2s_err w2s_ini_read(w2s_ctx *ctx, const char *name, const char *text,
                     w2s_raw_list *l) {
  l->name = name;
  l->pos = text;
  w2s_err e = W2S_OK;
  int rc = ini_parse_stream(text_reader, l, on_ini_entry, l);
  if (l->long_line)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                 "%s:%d: line longer than %d characters (the INI reader's "
                 "limit): split long lists or shorten the value",
                 name, l->long_line, INI_MAX_LINE - 2);
  else if (l->long_section)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                 "%s:%d: section name longer than %d characters", name,
                 l->long_section, INIH_MAX_SECTION);
  else if (rc > 0)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                 "%s:%d: syntax error (expected '[section]' or 'key = value')",
                 name, rc);
  else if (rc < 0)
    e = W2S_FAIL(ctx, W2S_ERR_MEMORY, "%s: out of memory while parsing", name);
  else if (l->overflow)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: a section, key or value is too long",
                 name);
  else if (l->continuation)
    e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                 "%s:%d: indented line continues the value above (multi-line "
                 "values are not accepted): remove the indentation or join "
                 "the lines",
                 name, l->continuation);
  /* Before the --set overrides are added: only the file's entries. */
  if (!e) e = check_duplicates(ctx, l);
  return e;
}

w2s_err w2s_ini_add_sets(w2s_ctx *ctx, w2s_raw_list *l,
                         const w2s_config_sets *ov) {
  w2s_err e = W2S_OK;
  const char *const *sets = ov ? ov->sets : NULL;
  const char *const *wheres = ov ? ov->wheres : NULL;
  int nsets = ov ? ov->n : 0;
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
      e = W2S_FAIL(ctx, W2S_ERR_USAGE, "%s: expected section.key=value", where);
      break;
    }
    if (!raw_push(l, lhs, dot, eq + 1, where))
      e = W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory");
  }
  return e;
}

/* Reads f to the end into a growing buffer (at most 16 MiB). */
static w2s_err read_all(w2s_ctx *ctx, const char *path, FILE *f, char **text) {
  size_t cap = 4096, len = 0, got;
  char *t = malloc(cap);
  if (!t) return W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory");
  *text = t;
  while ((got = fread(t + len, 1, cap - len - 1, f)) > 0) {
    len += got;
    if (len + 1 < cap) continue;
    if (cap > ((size_t)16 << 20))
      return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: config is larger than 16 MiB",
                      path);
    t = realloc(*text, cap *= 2);
    if (!t)
      return W2S_FAIL(ctx, W2S_ERR_MEMORY,
                      "%s: out of memory reading the config", path);
    *text = t;
  }
  if (ferror(f))
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: cannot read config: %s", path,
                    strerror(errno));
  t[len] = '\0';
  if (strlen(t) != len)
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: config contains a NUL byte", path);
  return W2S_OK;
}

w2s_err w2s_ini_read_file(w2s_ctx *ctx, const char *path, char **out) {
  char *text = NULL;
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: cannot read config: %s", path,
                    strerror(errno));
  w2s_err e = read_all(ctx, path, f, &text);
  fclose(f);
  if (e) {
    free(text);
    return e;
  }
  *out = text;
  return W2S_OK;
}
