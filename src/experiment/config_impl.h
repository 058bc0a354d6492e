/* Private to the configuration (config.c, config_ini.c, config_text.c):
 * the raw entries read from the INI text and --set, and the key table. */
#ifndef W2S_CONFIG_IMPL_H
#define W2S_CONFIG_IMPL_H

#include "w2s/experiment.h"

/* One raw `key = value` from the file or from --set; a section header is
 * an entry with an empty key. */
typedef struct {
  char section[128], key[128], value[512], where[256];
  int used;
} w2s_raw_entry;

typedef struct {
  w2s_raw_entry *e;
  int n, cap;
  int lineno;
  const char *name; /* file name for messages */
  const char *pos;  /* reader position in the text */
  int overflow;
  int long_line;    /* first line longer than inih's buffer, or 0 */
  int long_section; /* first section header longer than inih's, or 0 */
  int continuation; /* first indented line inih would join to a value, or 0 */
  int after_key;    /* a key was read since the last section header */
} w2s_raw_list;

/* config_ini.c. Local. Reads the INI text into l (l->name names it in
 * messages): syntax, over-long lines and section names, continuation lines
 * and keys or sections given twice are W2S_ERR_INPUT "name:LINE: ...". */
w2s_err w2s_ini_read(w2s_ctx *ctx, const char *name, const char *text,
                     w2s_raw_list *l);
/* Appends the overrides ("section.key=value"; W2S_ERR_USAGE if not). */
w2s_err w2s_ini_add_sets(w2s_ctx *ctx, w2s_raw_list *l,
                         const w2s_config_sets *sets);
/* Rank-local: the whole file as a NUL-terminated string (*text malloc'ed,
 * the caller frees); W2S_ERR_INPUT for an unreadable, over-16-MiB or
 * NUL-containing file. */
w2s_err w2s_ini_read_file(w2s_ctx *ctx, const char *path, char **text);

/* The fixed sections' keys (config.c), in the order of the effective text. */
typedef struct {
  const char *section;
  w2s_key key;
} w2s_config_key;
extern const w2s_config_key *const w2s_config_fixed_keys;
extern const int w2s_config_nfixed;
/* The keys every representation section takes (source, depth, width). */
extern const w2s_key *const w2s_config_repr_keys;
extern const int w2s_config_nrepr;

/* config_text.c. Local. cfg->effective from the parsed fixed values
 * (w2s_config_nfixed of them, in table order) and cfg's representations
 * and sweep; W2S_ERR_MEMORY if it cannot be built. */
w2s_err w2s_config_emit(w2s_ctx *ctx, w2s_config *cfg, const w2s_param *fixed);

#endif
