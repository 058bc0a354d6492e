/* params: typed option tables. Every option is declared once, in a table of
 * w2s_key (name, type, default, range, one-line help); values are parsed and
 * range-checked against that declaration. Modules that own options (the
 * experiment, each representation source) declare their own tables. Local. */
#ifndef W2S_PARAMS_H
#define W2S_PARAMS_H

#include <stdint.h>
#include <stdio.h>

#include "w2s/core.h"

typedef enum {
  W2S_KEY_INT,    /* int64, range [min, max] */
  W2S_KEY_REAL,   /* finite double, range [min, max] */
  W2S_KEY_BOOL,   /* true/false/yes/no/on/off/1/0 */
  W2S_KEY_CHOICE, /* one of the '|'-separated words in choices */
  W2S_KEY_STRING  /* any non-empty text */
} w2s_key_type;

typedef struct {
  const char *name;
  w2s_key_type type;
  const char *def; /* default, as text */
  double min, max; /* INT and REAL only */
  const char *choices;
  const char *help;
} w2s_key;

/* A key's value once parsed. */
typedef struct {
  const w2s_key *key;
  char text[512];
  int64_t i;
  double r;
  int set;          /* given in the file or by --set (not a default) */
  char where[256];  /* "file:line" or "--set ..." for messages */
} w2s_param;

/* Parse text for key; on failure records "<where>: key '<section>.<name>' ..."
 * and returns W2S_ERR_INPUT. */
/* Local: 1 (true/yes/on/1) or 0 (false/no/off/0), any case; -1 otherwise. */
int w2s_parse_bool(const char *text);
w2s_err w2s_param_parse(w2s_ctx *ctx, const w2s_key *key, const char *section,
                        const char *text, const char *where, w2s_param *out);

/* The help table: one line per key. */
void w2s_keys_print(FILE *f, const char *section, const w2s_key *keys, int n);

#endif
