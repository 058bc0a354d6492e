/* The table-driven option parser (src/cli/opts.c): every kind of entry,
 * both spellings of a value, positionals and "--", the one-line errors
 * (unknown option with and without a suggestion, missing value, bad
 * number, bad choice, too many / too few positionals), and a help text
 * that lists every entry of the table, aligned. */
#define _GNU_SOURCE /* open_memstream */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/opts.h"

typedef struct {
  int force, verbosity, fmt, calls;
  int64_t rows;
  double cond;
  const char *out, *last_call;
  w2s_opt_list sets, pos;
} vals;

static const char *const formats[] = {"table", "csv", "json", NULL};

static w2s_err count_call(w2s_ctx *ctx, const char *opt, const char *value,
                          void *target) {
  vals *v = target;
  if (value && !strcmp(value, "bad"))
    return W2S_FAIL(ctx, W2S_ERR_USAGE, "%s: bad is refused", opt);
  v->calls++;
  v->last_call = value;
  return W2S_OK;
}

/* The table of a command "demo" writing into v; opts[] must outlive spec. */
static void make_spec(vals *v, w2s_opt *opts, w2s_opts *spec) {
  const w2s_opt table[] = {
      {.name = "output",
       .short_name = 'o',
       .arg = "PATH",
       .help = "results file",
       .kind = W2S_OPT_STRING,
       .target = &v->out},
      {.name = "force",
       .help = "overwrite",
       .kind = W2S_OPT_FLAG,
       .target = &v->force},
      {.name = "quiet",
       .short_name = 'q',
       .help = "quiet",
       .kind = W2S_OPT_CONST,
       .target = &v->verbosity,
       .ival = 0},
      {.name = "verbose",
       .short_name = 'v',
       .help = "louder",
       .kind = W2S_OPT_CONST,
       .target = &v->verbosity,
       .ival = 2},
      {.name = "rows",
       .arg = "N",
       .help = "rows\nsecond line",
       .kind = W2S_OPT_INT,
       .target = &v->rows,
       .lo = 1,
       .hi = 1e6},
      {.name = "cond",
       .arg = "C",
       .help = "condition",
       .kind = W2S_OPT_DOUBLE,
       .target = &v->cond,
       .lo = 1,
       .hi = 1e300},
      {.name = "set",
       .arg = "S.K=V",
       .help = "override (repeatable)",
       .kind = W2S_OPT_LIST,
       .target = &v->sets},
      {.name = "format",
       .arg = "table|csv|json",
       .help = "format",
       .kind = W2S_OPT_CHOICE,
       .target = &v->fmt,
       .choices = formats},
      {.name = "call",
       .short_name = 'c',
       .arg = "X",
       .help = "a handler",
       .kind = W2S_OPT_CALL,
       .target = v,
       .fn = count_call},
      {.name = NULL},
  };
  memcpy(opts, table, sizeof table);
  memset(spec, 0, sizeof *spec);
  spec->cmd = "demo";
  spec->description = "Does a demo.";
  spec->opts = opts;
  spec->pos_name = "FILE.h5";
  spec->pos_min = 1;
  spec->pos_max = 2;
  spec->pos = &v->pos;
  spec->epilogue = "exit status: 0 success, 2 bad usage.";
}

enum { NOPTS = 10 };

/* Parses the NULL-terminated words after "w2s demo"; returns the code and
 * leaves the message in msg. */
static w2s_err parse(vals *v, const char *const *words, int *help, char *msg,
                     size_t len) {
  char *argv[32] = {"w2s", "demo"};
  int argc = 2;
  for (; words[argc - 2]; ++argc) argv[argc] = (char *)words[argc - 2];
  w2s_opt opts[NOPTS];
  w2s_opts spec;
  memset(v, 0, sizeof *v);
  v->verbosity = 1;
  make_spec(v, opts, &spec);
  w2s_ctx *ctx = NULL;
  assert_int_equal(w2s_ctx_create(MPI_COMM_NULL, 0, &ctx), W2S_OK);
  w2s_err e = w2s_opts_parse(ctx, &spec, argc, argv, 2, help);
  snprintf(msg, len, "%s", ctx->msg);
  w2s_ctx_destroy(&ctx);
  return e;
}

static void free_vals(vals *v) {
  w2s_opt_list_free(&v->sets);
  w2s_opt_list_free(&v->pos);
}

static void test_values(void **state) {
  (void)state;
  vals v;
  char msg[W2S_MSG_LEN];
  int help = -1;
  const char *const w[] = {"a.h5",     "-o",         "x.h5",        "--force",
                           "-q",       "--rows=1e3", "--cond",      "2.5",
                           "--set",    "a.b=1",      "--set=c.d=2", "--format",
                           "json",     "-c",         "one",         "--",
                           "-dash.h5", NULL};
  assert_int_equal(parse(&v, w, &help, msg, sizeof msg), W2S_OK);
  assert_int_equal(help, 0);
  assert_string_equal(v.out, "x.h5");
  assert_int_equal(v.force, 1);
  assert_int_equal(v.verbosity, 0);
  assert_int_equal(v.rows, 1000);
  assert_true(v.cond == 2.5);
  assert_int_equal(v.sets.n, 2);
  assert_string_equal(v.sets.items[0], "a.b=1");
  assert_string_equal(v.sets.items[1], "c.d=2"); /* only the first '=' */
  assert_int_equal(v.fmt, 2);
  assert_int_equal(v.calls, 1);
  assert_string_equal(v.last_call, "one");
  assert_int_equal(v.pos.n, 2);
  assert_string_equal(v.pos.items[0], "a.h5");
  assert_string_equal(v.pos.items[1], "-dash.h5"); /* after "--" */
  free_vals(&v);
  /* The last of -q / -v wins; a value may start with '-'; "-" is a file. */
  const char *const w2[] = {"-q", "-v", "-", "--output", "-x", NULL};
  assert_int_equal(parse(&v, w2, &help, msg, sizeof msg), W2S_OK);
  assert_int_equal(v.verbosity, 2);
  assert_string_equal(v.out, "-x");
  assert_int_equal(v.pos.n, 1);
  assert_string_equal(v.pos.items[0], "-");
  free_vals(&v);
  /* --help: no positional needed; -h likewise. */
  const char *const w3[] = {"--help", NULL};
  assert_int_equal(parse(&v, w3, &help, msg, sizeof msg), W2S_OK);
  assert_int_equal(help, 1);
  free_vals(&v);
  const char *const w4[] = {"-q", "-h", NULL};
  assert_int_equal(parse(&v, w4, &help, msg, sizeof msg), W2S_OK);
  assert_int_equal(help, 1);
  free_vals(&v);
}

/* The parse fails with W2S_ERR_USAGE and a message equal to want. */
static void expect_msg(const char *const *words, const char *want) {
  vals v;
  char msg[W2S_MSG_LEN];
  int help;
  w2s_err e = parse(&v, words, &help, msg, sizeof msg);
  free_vals(&v);
  if (e != W2S_ERR_USAGE || strcmp(msg, want) != 0)
    print_error("expected '%s', got %s '%s'\n", want, w2s_err_name(e), msg);
  assert_int_equal(e, W2S_ERR_USAGE);
  assert_string_equal(msg, want);
}

static void test_errors(void **state) {
  (void)state;
  expect_msg((const char *const[]){"a.h5", "--outptu", "x", NULL},
             "unknown option '--outptu' (did you mean --output?); try 'w2s "
             "demo --help'");
  expect_msg((const char *const[]){"a.h5", "--frobnicate", NULL},
             "unknown option '--frobnicate' (try 'w2s demo --help')");
  expect_msg((const char *const[]){"a.h5", "--forse=1", NULL},
             "unknown option '--forse=1' (did you mean --force?); try 'w2s "
             "demo --help'");
  expect_msg((const char *const[]){"a.h5", "--hepl", NULL},
             "unknown option '--hepl' (did you mean --help?); try 'w2s demo "
             "--help'");
  expect_msg((const char *const[]){"a.h5", "-x", NULL},
             "unknown option '-x' (try 'w2s demo --help')");
  expect_msg((const char *const[]){"a.h5", "-qv", NULL},
             "unknown option '-qv' (try 'w2s demo --help')");
  expect_msg((const char *const[]){"a.h5", "-o", NULL},
             "-o needs a value (PATH)");
  expect_msg((const char *const[]){"a.h5", "--rows", NULL},
             "--rows needs a value (N)");
  expect_msg((const char *const[]){"a.h5", "--force=yes", NULL},
             "--force takes no value (got 'yes')");
  expect_msg((const char *const[]){"a.h5", "--rows", "1000.5", NULL},
             "--rows 1000.5: an integer is expected");
  expect_msg((const char *const[]){"a.h5", "--rows", "ten", NULL},
             "--rows ten: a number is expected");
  expect_msg((const char *const[]){"a.h5", "--rows=0", NULL},
             "--rows 0: out of range (1 to 1000000)");
  expect_msg((const char *const[]){"a.h5", "--cond", "nan", NULL},
             "--cond nan: a number is expected");
  expect_msg((const char *const[]){"a.h5", "--cond", "0.5", NULL},
             "--cond 0.5: out of range (1 to 1.0000000000000001e+300)");
  expect_msg((const char *const[]){"a.h5", "--format", "bogus", NULL},
             "--format must be table, csv or json, got 'bogus'");
  expect_msg((const char *const[]){"a.h5", "--format", "jsno", NULL},
             "--format must be table, csv or json, got 'jsno' (did you mean "
             "json?)");
  expect_msg((const char *const[]){"a.h5", "-c", "bad", NULL},
             "-c: bad is refused");
  expect_msg((const char *const[]){NULL},
             "missing FILE.h5 (try 'w2s demo --help')");
  expect_msg((const char *const[]){"a.h5", "b.h5", "c.h5", NULL},
             "unexpected argument 'c.h5': at most 2 FILE.h5");
  /* A bad option fails even with --help. */
  expect_msg((const char *const[]){"--help", "--outptu", NULL},
             "unknown option '--outptu' (did you mean --output?); try 'w2s "
             "demo --help'");
}

static void test_help(void **state) {
  (void)state;
  vals v;
  w2s_opt opts[NOPTS];
  w2s_opts spec;
  memset(&v, 0, sizeof v);
  make_spec(&v, opts, &spec);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  assert_non_null(f);
  w2s_opts_help(f, &spec);
  fclose(f);
  assert_non_null(strstr(text, "usage: w2s demo FILE.h5 [FILE.h5 ...] "
                               "[options]\n\nDoes a demo.\n\noptions:\n"));
  /* Every entry, its help at one column, continuation lines under it. */
  const char *const heads[] =
      {"  -o, --output PATH", "  --force",
       "  -q, --quiet",       "  -v, --verbose",
       "  --rows N",          "  --cond C",
       "  --set S.K=V",       "  --format table|csv|json",
       "  -c, --call X",      "  -h, --help"};
  const char *const helps[] = {"results file",
                               "overwrite",
                               "quiet",
                               "louder",
                               "rows",
                               "condition",
                               "override (repeatable)",
                               "format",
                               "a handler",
                               "this help"};
  long col = -1;
  for (int i = 0; i < 10; ++i) {
    char *line = strstr(text, heads[i]);
    char *h = line ? strstr(line + strlen(heads[i]), helps[i]) : NULL;
    if (!line || !h) {
      print_error("no '%s' and '%s' in\n%s", heads[i], helps[i], text);
      fail();
      continue;
    }
    char *nl = strchr(line, '\n');
    assert_true(h < nl); /* on the same line */
    if (col < 0) col = (long)(h - line);
    assert_int_equal((long)(h - line), col);
  }
  char cont[64];
  snprintf(cont, sizeof cont, "rows\n%*ssecond line\n", (int)col, "");
  assert_non_null(strstr(text, cont));
  assert_non_null(strstr(text, "\n\nexit status: 0 success, 2 bad usage.\n"));
  free(text);
  /* A given usage line and a launcher prefix. */
  spec.launch = "[mpirun -n P]";
  f = open_memstream(&text, &len);
  w2s_opts_help(f, &spec);
  fclose(f);
  assert_true(!strncmp(text, "usage: [mpirun -n P] w2s demo FILE.h5", 37));
  free(text);
  spec.usage = "w2s demo X -o Y";
  f = open_memstream(&text, &len);
  w2s_opts_help(f, &spec);
  fclose(f);
  assert_true(!strncmp(text, "usage: w2s demo X -o Y\n", 23));
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_values),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_help),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
