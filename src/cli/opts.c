/* The table-driven option parser of every subcommand (opts.h). */
#include "cli/opts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_MAX = 128 }; /* entries of one table, for the suggestion list */

w2s_err w2s_opt_list_add(w2s_ctx *ctx, w2s_opt_list *l, const char *value) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 8;
    const char **items = realloc(l->items, sizeof *items * (size_t)cap);
    if (!items)
      return W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory (argument list)");
    l->items = items;
    l->cap = cap;
  }
  l->items[l->n++] = value;
  return W2S_OK;
}

void w2s_opt_list_free(w2s_opt_list *l) {
  if (!l) return;
  free(l->items);
  l->items = NULL;
  l->n = l->cap = 0;
}

void w2s_opts_free(const w2s_opts *spec) {
  for (const w2s_opt *o = spec->opts; o && o->name; ++o)
    if (o->kind == W2S_OPT_LIST) w2s_opt_list_free(o->target);
  w2s_opt_list_free(spec->pos);
}

/* ---- finding the entry ---------------------------------------------- */

/* The entry whose long name is the len characters at name, or NULL. */
static const w2s_opt *find_long(const w2s_opts *spec, const char *name,
                                size_t len) {
  for (const w2s_opt *o = spec->opts; o && o->name; ++o)
    if (strlen(o->name) == len && !strncmp(o->name, name, len)) return o;
  return NULL;
}

static const w2s_opt *find_short(const w2s_opts *spec, char c) {
  for (const w2s_opt *o = spec->opts; o && o->name; ++o)
    if (o->short_name && o->short_name == c) return o;
  return NULL;
}

/* "unknown option 'S' (did you mean --X?); try 'w2s CMD --help'", the
 * suggestion made from the long names (and "help"). */
static w2s_err unknown_option(w2s_ctx *ctx, const w2s_opts *spec,
                              const char *s) {
  const char *names[OPT_MAX + 1];
  int n = 0;
  for (const w2s_opt *o = spec->opts; o && o->name && n < OPT_MAX; ++o)
    names[n++] = o->name;
  names[n++] = "help";
  int k = -1;
  if (s[0] == '-' && s[1] == '-') {
    char word[64];
    size_t len = strcspn(s + 2, "=");
    if (len < sizeof word) {
      memcpy(word, s + 2, len);
      word[len] = '\0';
      k = w2s_suggest(word, names, n);
    }
  }
  if (k < 0)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "unknown option '%s' (try 'w2s %s --help')", s, spec->cmd);
  return W2S_FAIL(ctx, W2S_ERR_USAGE,
                  "unknown option '%s' (did you mean --%s?); try 'w2s %s "
                  "--help'",
                  s, names[k], spec->cmd);
}

/* ---- storing a value ------------------------------------------------ */

static int has_range(const w2s_opt *o) { return o->lo != 0 || o->hi != 0; }

static w2s_err store_number(w2s_ctx *ctx, const w2s_opt *o, const char *opt,
                            const char *v) {
  char *end = NULL;
  double x = strtod(v, &end);
  if (end == v || *end != '\0' || !isfinite(x))
    return W2S_FAIL(ctx, W2S_ERR_USAGE, "%s %s: a number is expected", opt, v);
  if (o->kind == W2S_OPT_INT && x != floor(x))
    return W2S_FAIL(ctx, W2S_ERR_USAGE, "%s %s: an integer is expected", opt,
                    v);
  /* Without a stated range an integer must still fit an int64_t. */
  double lo = has_range(o) ? o->lo
                           : (o->kind == W2S_OPT_INT ? -9.2e18 : -HUGE_VAL);
  double hi = has_range(o) ? o->hi
                           : (o->kind == W2S_OPT_INT ? 9.2e18 : HUGE_VAL);
  if (!(x >= lo && x <= hi))
    return W2S_FAIL(ctx, W2S_ERR_USAGE, "%s %s: out of range (%.17g to %.17g)",
                    opt, v, lo, hi);
  if (o->kind == W2S_OPT_INT)
    *(int64_t *)o->target = (int64_t)x;
  else
    *(double *)o->target = x;
  return W2S_OK;
}

static w2s_err store_choice(w2s_ctx *ctx, const w2s_opt *o, const char *opt,
                            const char *v) {
  int n = 0;
  char list[256] = "";
  for (; o->choices[n]; ++n) {
    if (!strcmp(o->choices[n], v)) {
      *(int *)o->target = n;
      return W2S_OK;
    }
  }
  for (int i = 0; i < n; ++i) {
    size_t used = strlen(list);
    snprintf(list + used, sizeof list - used, "%s%s",
             i == 0 ? "" : (i + 1 == n ? " or " : ", "), o->choices[i]);
  }
  int k = w2s_suggest(v, o->choices, n);
  if (k >= 0)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "%s must be %s, got '%s' (did you mean %s?)", opt, list, v,
                    o->choices[k]);
  return W2S_FAIL(ctx, W2S_ERR_USAGE, "%s must be %s, got '%s'", opt, list, v);
}

/* Applies entry o, spelt opt, with value v (NULL for a flag). */
static w2s_err store(w2s_ctx *ctx, const w2s_opt *o, const char *opt,
                     const char *v) {
  int flag = o->kind == W2S_OPT_FLAG || o->kind == W2S_OPT_CONST;
  if (!v && !flag && o->kind != W2S_OPT_CALL)
    return W2S_FAIL(ctx, W2S_ERR_INTERNAL,
                    "option %s takes a value but its table entry names none",
                    opt);
  switch (o->kind) {
  case W2S_OPT_FLAG: *(int *)o->target = 1; return W2S_OK;
  case W2S_OPT_CONST: *(int *)o->target = o->ival; return W2S_OK;
  case W2S_OPT_INT:
  case W2S_OPT_DOUBLE: return store_number(ctx, o, opt, v);
  case W2S_OPT_STRING: *(const char **)o->target = v; return W2S_OK;
  case W2S_OPT_LIST: return w2s_opt_list_add(ctx, o->target, v);
  case W2S_OPT_CHOICE: return store_choice(ctx, o, opt, v);
  case W2S_OPT_CALL: return o->fn(ctx, opt, v, o->target);
  }
  return W2S_FAIL(ctx, W2S_ERR_INTERNAL, "option %s: unknown kind %d", opt,
                  (int)o->kind);
}

/* ---- the parse ------------------------------------------------------ */

static w2s_err add_positional(w2s_ctx *ctx, const w2s_opts *spec,
                              const char *s) {
  if (!spec->pos_name)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "unexpected argument '%s' (try 'w2s %s --help')", s,
                    spec->cmd);
  if (spec->pos_max >= 0 && spec->pos->n >= spec->pos_max) {
    if (spec->pos_max == 1)
      return W2S_FAIL(ctx, W2S_ERR_USAGE,
                      "unexpected argument '%s': one %s only", s,
                      spec->pos_name);
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "unexpected argument '%s': at most %d %s", s, spec->pos_max,
                    spec->pos_name);
  }
  return w2s_opt_list_add(ctx, spec->pos, s);
}

/* One option argument argv[*i] (it starts with '-'); consumes its value. */
static w2s_err parse_option(w2s_ctx *ctx, const w2s_opts *spec, int argc,
                            char **argv, int *i, int *help) {
  const char *s = argv[*i], *value = NULL;
  const w2s_opt *o = NULL;
  char opt[64];
  if (s[1] == '-') {
    size_t len = strcspn(s + 2, "=");
    o = find_long(spec, s + 2, len);
    if (s[2 + len] == '=') value = s + 3 + len;
    if (!o && len == 4 && !strncmp(s + 2, "help", 4) && !value) {
      *help = 1;
      return W2S_OK;
    }
    snprintf(opt, sizeof opt, "--%.*s", (int)(len < 60 ? len : 60), s + 2);
  } else {
    if (s[2] == '\0') o = find_short(spec, s[1]);
    if (!o && !strcmp(s, "-h")) {
      *help = 1;
      return W2S_OK;
    }
    snprintf(opt, sizeof opt, "%s", s);
  }
  if (!o) return unknown_option(ctx, spec, s);
  if (!o->arg) {
    if (value)
      return W2S_FAIL(ctx, W2S_ERR_USAGE, "%s takes no value (got '%s')", opt,
                      value);
    return store(ctx, o, opt, NULL);
  }
  if (!value) {
    if (*i + 1 >= argc)
      return W2S_FAIL(ctx, W2S_ERR_USAGE, "%s needs a value (%s)", opt, o->arg);
    value = argv[++*i];
  }
  return store(ctx, o, opt, value);
}

w2s_err w2s_opts_parse(w2s_ctx *ctx, const w2s_opts *spec, int argc,
                       char **argv, int first, int *help) {
  int only_pos = 0;
  *help = 0;
  for (int i = first; i < argc; ++i) {
    const char *s = argv[i];
    w2s_err e;
    if (only_pos || s[0] != '-' || s[1] == '\0') {
      e = add_positional(ctx, spec, s);
    } else if (!strcmp(s, "--")) {
      only_pos = 1;
      e = W2S_OK;
    } else {
      e = parse_option(ctx, spec, argc, argv, &i, help);
    }
    if (e) return e;
  }
  if (*help || !spec->pos_name || spec->pos->n >= spec->pos_min) return W2S_OK;
  if (spec->pos_missing)
    return W2S_FAIL(ctx, W2S_ERR_USAGE, "%s", spec->pos_missing);
  return W2S_FAIL(ctx, W2S_ERR_USAGE, "missing %s (try 'w2s %s --help')",
                  spec->pos_name, spec->cmd);
}

/* ---- help ----------------------------------------------------------- */

enum { HELP_MAX_COL = 30 }; /* help text column, at most */

/* "-o, --output PATH" of o into buf. */
static void entry_head(const w2s_opt *o, char *buf, size_t len) {
  const char *arg = o->arg ? o->arg : "";
  if (o->short_name)
    snprintf(buf, len, "-%c, --%s%s%s", o->short_name, o->name,
             o->arg ? " " : "", arg);
  else
    snprintf(buf, len, "--%s%s%s", o->name, o->arg ? " " : "", arg);
}

/* head at two spaces, then text from column col, '\n' continuing there. */
static void print_entry(FILE *f, const char *head, const char *text, int col) {
  int w = fprintf(f, "  %s", head);
  if (w + 2 > col) {
    fputc('\n', f);
    w = 0;
  }
  fprintf(f, "%*s", col - w, "");
  for (const char *p = text ? text : ""; *p; ++p) {
    fputc(*p, f);
    if (*p == '\n' && p[1]) fprintf(f, "%*s", col, "");
  }
  fputc('\n', f);
}

static void print_usage_line(FILE *f, const w2s_opts *spec) {
  if (spec->usage) {
    fprintf(f, "usage: %s\n", spec->usage);
    return;
  }
  fprintf(f, "usage: %s%sw2s %s", spec->launch ? spec->launch : "",
          spec->launch ? " " : "", spec->cmd);
  if (spec->pos_name) {
    const char *p = spec->pos_name;
    if (spec->pos_min == 0)
      fprintf(f, " [%s]", p);
    else
      fprintf(f, " %s", p);
    if (spec->pos_max < 0 || spec->pos_max > 1) fprintf(f, " [%s ...]", p);
  }
  fprintf(f, " [options]\n");
}

void w2s_opts_help(FILE *f, const w2s_opts *spec) {
  char head[128];
  int col = 0;
  print_usage_line(f, spec);
  if (spec->description) fprintf(f, "\n%s\n", spec->description);
  for (const w2s_opt *o = spec->opts; o && o->name; ++o) {
    entry_head(o, head, sizeof head);
    int w = (int)strlen(head) + 4;
    if (w > col && w <= HELP_MAX_COL) col = w;
  }
  if (col < 16) col = 16;
  fprintf(f, "\noptions:\n");
  for (const w2s_opt *o = spec->opts; o && o->name; ++o) {
    entry_head(o, head, sizeof head);
    print_entry(f, head, o->help, col);
  }
  print_entry(f, "-h, --help", "this help", col);
  if (spec->epilogue) fprintf(f, "\n%s\n", spec->epilogue);
}
