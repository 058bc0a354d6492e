/* Parsing and range-checking of declared options. */
#include "w2s/params.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int choice_ok(const char *choices, const char *text) {
  size_t n = strlen(text);
  for (const char *p = choices; *p;) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && strncmp(p, text, n) == 0) return 1;
    if (!bar) break;
    p = bar + 1;
  }
  return 0;
}

int w2s_parse_bool(const char *text) {
  static const char *yes[] = {"true", "yes", "on", "1"};
  static const char *no[] = {"false", "no", "off", "0"};
  for (int k = 0; k < 4; ++k) {
    if (strcasecmp(text, yes[k]) == 0) return 1;
    if (strcasecmp(text, no[k]) == 0) return 0;
  }
  return -1;
}

w2s_err w2s_param_parse(w2s_ctx *ctx, const w2s_key *key, const char *section,
                        const char *text, const char *where, w2s_param *out) {
  out->key = key;
  snprintf(out->where, sizeof out->where, "%s", where);
  if (strlen(text) >= sizeof out->text)
    return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: key '%s.%s': value is too long",
                    where, section, key->name);
  snprintf(out->text, sizeof out->text, "%s", text);
  char *end = NULL;
  errno = 0;
  switch (key->type) {
  case W2S_KEY_INT: {
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE) {
      /* Allow 1e6-style integers, which sweeps and papers use. */
      double d = strtod(text, &end);
      if (end == text || *end != '\0' || !isfinite(d) || d != floor(d) ||
          fabs(d) > 9.0e18)
        return W2S_FAIL(ctx, W2S_ERR_INPUT,
                        "%s: key '%s.%s' must be an integer, got '%s'", where,
                        section, key->name, text);
      v = (long long)d;
    }
    if ((double)v < key->min || (double)v > key->max)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: key '%s.%s' = %lld is out of range [%.15g, %.15g]",
                      where, section, key->name, v, key->min, key->max);
    out->i = v;
    out->r = (double)v;
    break;
  }
  case W2S_KEY_REAL: {
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(v))
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: key '%s.%s' must be a finite number, got '%s'",
                      where, section, key->name, text);
    if (v < key->min || v > key->max)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: key '%s.%s' = %g is out of range [%g, %g]", where,
                      section, key->name, v, key->min, key->max);
    out->r = v;
    break;
  }
  case W2S_KEY_BOOL: {
    int b = w2s_parse_bool(text);
    if (b >= 0) out->i = b;
    if (b < 0)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: key '%s.%s' must be true or false, got '%s'", where,
                      section, key->name, text);
    out->r = (double)out->i;
    break;
  }
  case W2S_KEY_CHOICE:
    if (!choice_ok(key->choices, text))
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: key '%s.%s' must be one of %s, got '%s'", where,
                      section, key->name, key->choices, text);
    break;
  case W2S_KEY_STRING:
    if (text[0] == '\0')
      return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: key '%s.%s' must not be empty",
                      where, section, key->name);
    break;
  }
  return W2S_OK;
}

static const char *type_name(const w2s_key *k) {
  switch (k->type) {
  case W2S_KEY_INT: return "int";
  case W2S_KEY_REAL: return "real";
  case W2S_KEY_BOOL: return "bool";
  case W2S_KEY_CHOICE: return "choice";
  default: return "string";
  }
}

void w2s_keys_print(FILE *f, const char *section, const w2s_key *keys, int n) {
  for (int k = 0; k < n; ++k) {
    const w2s_key *key = &keys[k];
    char range[96] = "";
    if (key->type == W2S_KEY_INT || key->type == W2S_KEY_REAL)
      snprintf(range, sizeof range, "[%.6g, %.6g]", key->min, key->max);
    else if (key->type == W2S_KEY_CHOICE)
      snprintf(range, sizeof range, "%s", key->choices);
    char name[128];
    snprintf(name, sizeof name, "%s.%s", section, key->name);
    fprintf(f, "  %-28s %-6s %-12s %-22s %s\n", name, type_name(key), key->def,
            range, key->help);
  }
}
