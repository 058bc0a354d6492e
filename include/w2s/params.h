/* params: typed option tables. Every option is declared once, in a table of
 * w2s_key (name, type, default, range, one-line help); values are parsed and
 * range-checked against that declaration. Modules that own options (the
 * experiment, each representation source) declare their own tables.
 *
 * Everything here is local (no MPI) and allocates nothing: key tables are
 * static data of the module that declares them, a w2s_param is the caller's
 * (its key pointer borrows the table entry), and strings are copied into
 * its fixed buffers. */
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
  int set;         /* given in the file or by --set (not a default) */
  char where[256]; /* "file:line" or "--set ..." for messages */
} w2s_param;

/* Local: 1 (true/yes/on/1) or 0 (false/no/off/0), any case; -1 otherwise.
 * Cannot fail. */
int w2s_parse_bool(const char *text);
/* Local. Parses text as a value of key into *out: out->key and out->where
 * (the caller's "file:line" or "--set ..." for messages) are always set,
 * out->text unless text is too long; then INT sets out->i (1e6-style
 * integers accepted) and
 * out->r = i, REAL sets out->r, BOOL sets out->i = 0 or 1 and out->r;
 * CHOICE and STRING only keep the text. out->set and the other fields are
 * left as they were (the caller marks a value given in the file). Errors:
 * W2S_ERR_INPUT, recorded as "<where>: key '<section>.<name>' ..." (not a
 * number, out of [min, max], not one of the choices, empty, or longer than
 * out->text). */
w2s_err w2s_param_parse(w2s_ctx *ctx, const w2s_key *key, const char *section,
                        const char *text, const char *where, w2s_param *out);

/* Local. The help table: one line per key to f (name as section.key,
 * type, default, range or choices, help). Cannot fail (write errors on f
 * are the caller's to check). */
void w2s_keys_print(FILE *f, const char *section, const w2s_key *keys, int n);

#endif
