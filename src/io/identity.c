/* The identity of an experiment: what two results files must share to hold
 * points of the same experiment (docs/FORMAT.md, "Identity"). Stored in
 * every file when it is written, so merge and --resume compare what the
 * writer meant, not a reconstruction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/io.h"

/* One line of INI text: its start and length (without the newline). */
static size_t line_len(const char *p) { return strcspn(p, "\n"); }

static int is_blank_or_comment(const char *p, size_t l) {
  size_t i = 0;
  while (i < l && (p[i] == ' ' || p[i] == '\t')) ++i;
  return i == l || p[i] == '#' || p[i] == ';';
}

/* "path = x" or "path=x": the key of a `key = value` line is `path`. */
static int key_is(const char *p, size_t l, const char *key) {
  size_t n = strlen(key);
  if (l < n || strncmp(p, key, n) != 0) return 0;
  while (n < l && (p[n] == ' ' || p[n] == '\t')) ++n;
  return n < l && p[n] == '=';
}

char *w2s_identity_config(const char *effective) {
  const char *cfg = effective ? effective : "";
  /* + 2: a last line without its newline gets one, then the NUL. */
  char *out = malloc(strlen(cfg) + 2), *o = out;
  if (!out) return NULL;
  /* [output] path: the points of one experiment go to different files.
   * [sweep]: the grid (keys and values, also from --sweep) stands for it. */
  int skip_section = 0, in_output = 0;
  for (const char *p = cfg; *p;) {
    size_t l = line_len(p);
    int keep = !is_blank_or_comment(p, l);
    if (keep && p[0] == '[') {
      in_output = l == 8 && !strncmp(p, "[output]", 8);
      skip_section = l == 7 && !strncmp(p, "[sweep]", 7);
    } else if (keep && in_output && key_is(p, l, "path")) {
      keep = 0;
    }
    if (keep && !skip_section) {
      memcpy(o, p, l);
      o += l;
      *o++ = '\n';
    }
    p += l + (p[l] == '\n');
  }
  *o = '\0';
  return out;
}

/* 64-bit FNV-1a: this detects accidental mismatches and damage, not an
 * adversary (who could rewrite the stored identity as easily), so a
 * cryptographic hash would buy nothing; the full texts are compared too. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
  const unsigned char *b = data;
  for (size_t i = 0; i < n; ++i) {
    h ^= b[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

static uint64_t fnv_str(uint64_t h, const char *s) {
  return fnv1a(h, s, strlen(s) + 1); /* the NUL separates fields */
}

uint64_t w2s_identity_hash(const w2s_identity *id) {
  return w2s_identity_hash_of(id, W2S_FORMAT_VERSION);
}

uint64_t w2s_identity_hash_of(const w2s_identity *id, int format_version) {
  char head[64];
  snprintf(head, sizeof head, "w2s-identity format_version=%d", format_version);
  uint64_t h = fnv_str(0xcbf29ce484222325ULL, head);
  h = fnv_str(h, id->config ? id->config : "");
  char counts[64];
  snprintf(counts, sizeof counts, "%d %lld", id->nkeys, (long long)id->npoints);
  h = fnv_str(h, counts);
  for (int i = 0; i < id->nkeys; ++i) h = fnv_str(h, id->keys[i]);
  for (int64_t i = 0; i < id->npoints * id->nkeys; ++i)
    h = fnv_str(h, id->values[i]);
  return h;
}

/* The first differing line of two canonical configs, named by its key. */
static void config_difference(const char *a, const char *b, const char *la_,
                              const char *lb_, char *why, size_t len) {
  char section[128] = "";
  while (*a || *b) {
    size_t la = line_len(a), lb = line_len(b);
    if (la != lb || strncmp(a, b, la) != 0) {
      size_t ka = strcspn(a, "=\n"), kb = strcspn(b, "=\n");
      while (ka > 0 && a[ka - 1] == ' ') --ka;
      while (kb > 0 && b[kb - 1] == ' ') --kb;
      if (a[0] != '[' && ka == kb && ka < la && !strncmp(a, b, ka)) {
        const char *va = a + ka, *vb = b + kb;
        while (*va == ' ' || *va == '=') ++va;
        while (*vb == ' ' || *vb == '=') ++vb;
        snprintf(why, len, "%s.%.*s = '%.*s' %s, '%.*s' %s", section, (int)ka,
                 a, (int)(la - (size_t)(va - a)), va, la_,
                 (int)(lb - (size_t)(vb - b)), vb, lb_);
      } else {
        snprintf(why, len, "in [%s]: '%.*s' %s, '%.*s' %s", section,
                 (int)(la > 80 ? 80 : la), a, la_, (int)(lb > 80 ? 80 : lb), b,
                 lb_);
      }
      return;
    }
    if (a[0] == '[' && la >= 2)
      snprintf(section, sizeof section, "%.*s", (int)(la - 2), a + 1);
    a += la + (a[la] == '\n');
    b += lb + (b[lb] == '\n');
  }
  snprintf(why, len, "the configuration");
}

int w2s_identity_differs(const w2s_identity *a, const w2s_identity *b,
                         const char *la, const char *lb, char *why,
                         size_t len) {
  const char *ca = a->config ? a->config : "", *cb = b->config ? b->config : "";
  if (strcmp(ca, cb) != 0) {
    config_difference(ca, cb, la, lb, why, len);
    return 1;
  }
  if (a->nkeys != b->nkeys) {
    snprintf(why, len, "%d swept key(s) %s, %d %s", a->nkeys, la, b->nkeys, lb);
    return 1;
  }
  for (int i = 0; i < a->nkeys; ++i)
    if (strcmp(a->keys[i], b->keys[i]) != 0) {
      snprintf(why, len, "swept key %d is '%s' %s, '%s' %s", i + 1, a->keys[i],
               la, b->keys[i], lb);
      return 1;
    }
  if (a->npoints != b->npoints) {
    snprintf(why, len, "the sweep grid has %lld points %s, %lld %s",
             (long long)a->npoints, la, (long long)b->npoints, lb);
    return 1;
  }
  for (int64_t i = 0; i < a->npoints * a->nkeys; ++i)
    if (strcmp(a->values[i], b->values[i]) != 0) {
      snprintf(why, len, "sweep point %lld: %s = '%s' %s, '%s' %s",
               (long long)(i / a->nkeys), a->keys[i % a->nkeys], a->values[i],
               la, b->values[i], lb);
      return 1;
    }
  if (a->hash != b->hash) {
    snprintf(why, len, "identity_hash %016llx %s, %016llx %s",
             (unsigned long long)a->hash, la, (unsigned long long)b->hash, lb);
    return 1;
  }
  return 0;
}

w2s_identity w2s_results_identity(const w2s_results *r) {
  w2s_identity id = {r->identity_config,
                     r->sweep_nkeys,
                     r->sweep_npoints,
                     (const char(*)[128])r->sweep_keys,
                     (const char(*)[128])r->sweep_values,
                     r->identity_hash};
  return id;
}
