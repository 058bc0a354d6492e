/* The option parser of every subcommand, driven by one table per command:
 * the same table parses argv, names a missing value, suggests the nearest
 * option for a misspelt one, and prints the --help text.
 *
 * A command describes itself in a w2s_opts: its name, a description, the
 * option table (w2s_opt entries ended by one whose name is NULL), its
 * positional arguments (a name and a count range) and an epilogue (e.g.
 * the exit statuses). `-h` and `--help` are built in; `--` ends the
 * options (what follows is positional); a lone `-` is positional.
 *
 * Accepted spellings: `--name VALUE`, `--name=VALUE`, `-x VALUE` (a value
 * is the next argument even if it starts with '-', so `--seed -1` reaches
 * the range check). A flag given a value (`--force=1`) is refused.
 *
 * Every function here is local (no MPI). Under mpirun every rank parses
 * the same argv and so reaches the same verdict; callers print help and
 * errors on rank 0 only. Failures are recorded with W2S_FAIL in ctx as ONE
 * line naming the option as the user spelt it, e.g.
 *   unknown option '--outptu' (did you mean --output?); try 'w2s simulate
 * --help'
 *   --output needs a value (PATH)
 *   --rows 1000.5: an integer is expected
 * and are W2S_ERR_USAGE (W2S_ERR_MEMORY if a list cannot grow; a handler
 * may return any code). */
#ifndef W2S_CLI_OPTS_H
#define W2S_CLI_OPTS_H

#include <stdint.h>
#include <stdio.h>

#include "w2s/core.h"

typedef enum {
  W2S_OPT_FLAG,   /* no value; int *target = 1 */
  W2S_OPT_CONST,  /* no value; int *target = ival (e.g. -q: verbosity 0) */
  W2S_OPT_INT,    /* int64_t *target; an integer in [lo, hi] (strtod syntax,
                     so 1e6 is accepted; 1.5 is not) */
  W2S_OPT_DOUBLE, /* double *target; finite, in [lo, hi] */
  W2S_OPT_STRING, /* const char **target = the value (points into argv) */
  W2S_OPT_LIST,   /* w2s_opt_list *target; repeatable, each value appended */
  W2S_OPT_CHOICE, /* int *target = index of the value in choices[] */
  W2S_OPT_CALL    /* fn(ctx, spelling, value, target); value NULL when arg
                     is NULL (a flag handled by a function) */
} w2s_opt_kind;

/* A growable list of values (pointers into argv, not copies). Freed by
 * w2s_opt_list_free or, for every list a table names, w2s_opts_free. */
typedef struct {
  const char **items;
  int n, cap;
} w2s_opt_list;

/* A handler: `opt` is the option as the user spelt it ("-o", "--output"),
 * for messages; `value` is the argument (NULL for a flag); `target` is the
 * entry's target. Returns W2S_OK or a code recorded with W2S_FAIL. */
typedef w2s_err (*w2s_opt_fn)(w2s_ctx *ctx, const char *opt, const char *value,
                              void *target);

/* The fields in the order a table row reads (positional initialisers stay
 * readable), not the tightest packing. */
/* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding) */
typedef struct {
  const char *name; /* long name without "--" ("output"); NULL ends */
  char short_name;  /* 'o' for -o, or 0 */
  const char *arg;  /* the value's name in help ("PATH"); NULL: no value */
  const char *help; /* help text; '\n' starts an aligned continuation line */
  w2s_opt_kind kind;
  void *target;  /* see w2s_opt_kind */
  w2s_opt_fn fn; /* W2S_OPT_CALL only */
  int ival;      /* W2S_OPT_CONST only */
  double lo, hi; /* W2S_OPT_INT / DOUBLE range; lo == hi == 0: none */
  const char *const *choices; /* W2S_OPT_CHOICE: NULL-terminated */
} w2s_opt;

typedef struct {
  const char *cmd;         /* "simulate": messages say 'w2s simulate --help' */
  const char *usage;       /* the usage line after "usage: "; NULL: made of
                              launch, cmd, the positionals and "[options]" */
  const char *launch;      /* optional prefix of the made usage line,
                              e.g. "[mpirun -n P]" */
  const char *description; /* the paragraph(s) after the usage line */
  const w2s_opt *opts;     /* the table, ended by {NULL} */
  const char *pos_name;    /* "CONFIG.ini"; NULL: no positional arguments */
  int pos_min, pos_max;    /* count range; pos_max < 0: no upper bound */
  w2s_opt_list *pos;       /* where positionals go (NULL iff pos_name NULL) */
  const char *pos_missing; /* message when fewer than pos_min are given;
                              NULL: "missing NAME (try 'w2s CMD --help')" */
  const char *epilogue;    /* printed after the option list, or NULL */
} w2s_opts;

/* Local. Parses argv[first..argc-1] (first = 2 for "w2s CMD ..."): every
 * option into its target, positionals into spec->pos. *help is set to 1
 * when -h/--help was given (then the positional count is not checked, but
 * a bad option still fails). On failure, parsing stops at the offending
 * argument; targets already set keep their values and lists hold what was
 * appended (free them with w2s_opts_free either way). Errors: see above. */
w2s_err w2s_opts_parse(w2s_ctx *ctx, const w2s_opts *spec, int argc,
                       char **argv, int first, int *help);

/* Local. Prints the help of the table to f: "usage: ..." line, the
 * description, "options:" with every entry aligned (-x, --name ARG  help),
 * -h/--help last, then the epilogue. */
void w2s_opts_help(FILE *f, const w2s_opts *spec);

/* Local. Appends value to l (W2S_ERR_MEMORY recorded in ctx if it cannot
 * grow). */
w2s_err w2s_opt_list_add(w2s_ctx *ctx, w2s_opt_list *l, const char *value);
/* Local. Frees l's array (not the strings) and zeroes l. */
void w2s_opt_list_free(w2s_opt_list *l);
/* Local. Frees the list of every W2S_OPT_LIST entry of spec->opts and
 * spec->pos. */
void w2s_opts_free(const w2s_opts *spec);

#endif
