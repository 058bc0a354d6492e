/* The configuration parser on in-memory texts: typed values and defaults,
 * --set overrides, every class of error (code, "name:LINE" and the key in
 * ctx->msg; a fresh context per case because the first failure message
 * wins), and the round trip of the effective text (which results files
 * store and `w2s simulate` must accept back, docs/FORMAT.md). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "w2s/experiment.h"

#define NAME "t.ini"

static w2s_ctx *new_ctx(void) {
  w2s_ctx *ctx = NULL;
  assert_int_equal(w2s_ctx_create(MPI_COMM_NULL, 0, &ctx), W2S_OK);
  return ctx;
}

/* Parse; fail the test (printing the message) unless it succeeds. */
static w2s_config *parse_ok(const char *text, const char *const *sets,
                            int nsets) {
  w2s_ctx *ctx = new_ctx();
  w2s_config *cfg = NULL;
  w2s_err e = w2s_config_parse(ctx, NAME, text, sets, nsets, &cfg);
  if (e != W2S_OK)
    print_error("unexpected failure %s: %s\n--- text ---\n%s\n",
                w2s_err_name(e), ctx->msg, text);
  assert_int_equal(e, W2S_OK);
  assert_non_null(cfg);
  assert_non_null(cfg->effective);
  w2s_ctx_destroy(&ctx);
  return cfg;
}

/* Parse; require `code` and that ctx->msg contains every non-NULL needle. */
static void expect_error(const char *text, const char *const *sets, int nsets,
                         w2s_err code, const char *n1, const char *n2,
                         const char *n3) {
  w2s_ctx *ctx = new_ctx();
  w2s_config *cfg = NULL;
  w2s_err e = w2s_config_parse(ctx, NAME, text, sets, nsets, &cfg);
  const char *needles[3] = {n1, n2, n3};
  int ok = e == code && cfg == NULL;
  for (int i = 0; i < 3; ++i)
    if (needles[i] && !strstr(ctx->msg, needles[i])) ok = 0;
  if (!ok)
    print_error("expected %s with '%s' '%s' '%s'; got %s: '%s'\n--- text "
                "---\n%s\n",
                w2s_err_name(code), n1 ? n1 : "", n2 ? n2 : "", n3 ? n3 : "",
                w2s_err_name(e), ctx->msg, text);
  assert_int_equal(e, code);
  assert_null(cfg);
  for (int i = 0; i < 3; ++i)
    if (needles[i]) assert_non_null(strstr(ctx->msg, needles[i]));
  w2s_config_destroy(&cfg);
  w2s_ctx_destroy(&ctx);
}

static const char good_text[] = "# a comment line\n"              /* 1 */
                                "[experiment]\n"                  /* 2 */
                                "seed = 42\n"                     /* 3 */
                                "tasks = 12\n"                    /* 4 */
                                "task_inputs = per_task\n"        /* 5 */
                                "\n"                              /* 6 */
                                "[data]\n"                        /* 7 */
                                "input_dim = 4\n"                 /* 8 */
                                "input_scale = 2.5\n"             /* 9 */
                                "n_weak_train = 1e3\n"            /* 10 */
                                "n_test = 300 ; inline comment\n" /* 11 */
                                "\n"                              /* 12 */
                                "[target]\n"                      /* 13 */
                                "depth = 3\n"                     /* 14 */
                                "width = 8\n"                     /* 15 */
                                "\n"                              /* 16 */
                                "[strong]\n"                      /* 17 */
                                "source = target\n"               /* 18 */
                                "\n"                              /* 19 */
                                "[weak.a]\n"                      /* 20 */
                                "source = random\n"               /* 21 */
                                "depth = 1\n"                     /* 22 */
                                "width = 5\n"                     /* 23 */
                                "\n"                              /* 24 */
                                "[weak.b-2_X]\n"                  /* 25 */
                                "source = perturb\n"              /* 26 */
                                "perturb_scale = 0.25\n"          /* 27 */
                                "\n"                              /* 28 */
                                "[fit]\n"                         /* 29 */
                                "solver = tsqr\n"                 /* 30 */
                                "ridge = 0.01\n"                  /* 31 */
                                "intercept = no\n"                /* 32 */
                                "rank_tol = 1e-9\n"               /* 33 */
                                "\n"                              /* 34 */
                                "[output]\n"                      /* 35 */
                                "path = out.h5\n";                /* 36 */

static void test_good_config(void **state) {
  (void)state;
  w2s_config *cfg = parse_ok(good_text, NULL, 0);
  /* Given values, typed. */
  assert_true(cfg->seed == 42);
  assert_int_equal(cfg->tasks, 12);
  assert_int_equal(cfg->per_task_inputs, 1);
  assert_int_equal(cfg->input_dim, 4);
  assert_true(cfg->input_scale == 2.5);
  assert_int_equal(cfg->n_weak_train, 1000); /* 1e3 accepted as an integer */
  assert_int_equal(cfg->n_test, 300);        /* the ';' comment stripped */
  assert_int_equal(cfg->target_depth, 3);
  assert_int_equal(cfg->target_width, 8);
  assert_string_equal(cfg->solver, "tsqr");
  assert_true(cfg->ridge == 0.01);
  assert_int_equal(cfg->intercept, 0);
  assert_true(cfg->rank_tol == 1e-9);
  assert_string_equal(cfg->output_path, "out.h5");
  /* Defaults of the keys not given. */
  assert_int_equal(cfg->n_w2s_train, 2000);
  assert_int_equal(cfg->w2s_same_inputs, 0);
  assert_int_equal(cfg->block_rows, 4096);
  /* Representations: strong = the target (its shape reported), two weak
   * models in file order. */
  assert_string_equal(cfg->strong.source->name, "target");
  assert_int_equal(cfg->strong.depth_p.i, 3);
  assert_int_equal(cfg->strong.width_p.i, 8);
  assert_int_equal(cfg->nweak, 2);
  assert_string_equal(cfg->weak[0].name, "a");
  assert_string_equal(cfg->weak[0].section, "weak.a");
  assert_string_equal(cfg->weak[0].source->name, "random");
  assert_int_equal(cfg->weak[0].depth_p.i, 1);
  assert_int_equal(cfg->weak[0].width_p.i, 5);
  assert_int_equal(cfg->weak[0].depth_p.set, 1);
  assert_string_equal(cfg->weak[0].depth_p.where, NAME ":22");
  assert_string_equal(cfg->weak[1].name, "b-2_X");
  assert_string_equal(cfg->weak[1].source->name, "perturb");
  assert_true(cfg->weak[1].own[0].r == 0.25);
  assert_int_equal(cfg->weak[1].depth_p.i, 3); /* the target's shape */
  assert_int_equal(cfg->weak[1].width_p.i, 8);
  /* Head parameters: width + intercept (intercept off here). */
  assert_int_equal(w2s_repr_head_params(cfg, &cfg->weak[0]), 5);
  assert_int_equal(w2s_repr_head_params(cfg, &cfg->strong), 8);
  assert_int_equal(cfg->nsweep, 0);
  assert_string_equal(cfg->text, good_text);
  w2s_config_destroy(&cfg);
  assert_null(cfg);
}

static void test_defaults(void **state) {
  (void)state;
  w2s_config *cfg = parse_ok("[weak.w]\nsource = random\n", NULL, 0);
  assert_true(cfg->seed == 1);
  assert_int_equal(cfg->tasks, 100);
  assert_int_equal(cfg->per_task_inputs, 0);
  assert_int_equal(cfg->input_dim, 8);
  assert_true(cfg->input_scale == 500.0);
  assert_int_equal(cfg->n_weak_train, 2000);
  assert_int_equal(cfg->n_w2s_train, 2000);
  assert_int_equal(cfg->n_test, 2000);
  assert_int_equal(cfg->target_depth, 5);
  assert_int_equal(cfg->target_width, 16);
  assert_string_equal(cfg->solver, "auto");
  assert_true(cfg->ridge == 0.0);
  assert_int_equal(cfg->intercept, 1);
  assert_true(cfg->rank_tol == 0.0);
  assert_string_equal(cfg->output_path, "results.h5");
  assert_string_equal(cfg->strong.source->name, "target");
  assert_int_equal(cfg->nweak, 1);
  assert_int_equal(cfg->weak[0].depth_p.i, 2);
  assert_int_equal(cfg->weak[0].width_p.i, 16);
  assert_int_equal(cfg->weak[0].depth_p.set, 0);
  /* 16 + intercept */
  assert_int_equal(w2s_repr_head_params(cfg, &cfg->weak[0]), 17);
  w2s_config_destroy(&cfg);
  /* A weak section with depth 0 is the raw inputs: input_dim + 1 head. */
  cfg = parse_ok("[weak.raw]\ndepth = 0\n", NULL, 0);
  assert_string_equal(cfg->weak[0].source->name, "random");
  assert_int_equal(w2s_repr_head_params(cfg, &cfg->weak[0]), 9);
  w2s_config_destroy(&cfg);
  /* A bool accepts yes/no/on/off/1/0 in any case (repeated keys are
   * errors: test_duplicates). */
  cfg = parse_ok("[weak.w]\nsource = random\n[data]\nn_test = 6\n"
                 "[fit]\nintercept = OFF\n",
                 NULL, 0);
  assert_int_equal(cfg->n_test, 6);
  assert_int_equal(cfg->intercept, 0);
  w2s_config_destroy(&cfg);
}

/* A [weak.NAME] section with no keys is a weak model with every default:
 * the file has one, so "no weak model: add at least one [weak.NAME]
 * section" would be wrong. */
static void test_empty_weak_section(void **state) {
  (void)state;
  w2s_config *cfg = parse_ok("[weak.a]\n", NULL, 0);
  assert_int_equal(cfg->nweak, 1);
  assert_string_equal(cfg->weak[0].name, "a");
  assert_string_equal(cfg->weak[0].source->name, "random");
  w2s_config_destroy(&cfg);
}

static void test_set_overrides(void **state) {
  (void)state;
  const char *sets[] = {"data.n_test=77",    "weak.a.depth=3",
                        "experiment.seed=9", "weak.new.width=4",
                        "fit.solver=normal", "weak.b-2_X.perturb_scale=0.5"};
  w2s_config *cfg = parse_ok(good_text, sets, 6);
  assert_int_equal(cfg->n_test, 77);
  assert_int_equal(cfg->weak[0].depth_p.i, 3);
  assert_int_equal(cfg->weak[0].depth_p.set, 1);
  assert_string_equal(cfg->weak[0].depth_p.where, "--set weak.a.depth=3");
  assert_int_equal(cfg->weak[0].width_p.i, 5); /* untouched */
  assert_true(cfg->seed == 9);
  assert_string_equal(cfg->solver, "normal");
  assert_true(cfg->weak[1].own[0].r == 0.5);
  /* --set can add a weak model: after the file's, with defaults. */
  assert_int_equal(cfg->nweak, 3);
  assert_string_equal(cfg->weak[2].name, "new");
  assert_string_equal(cfg->weak[2].source->name, "random");
  assert_int_equal(cfg->weak[2].width_p.i, 4);
  assert_int_equal(cfg->weak[2].depth_p.i, 2);
  /* The rest as in the file. */
  assert_int_equal(cfg->tasks, 12);
  assert_int_equal(cfg->input_dim, 4);
  /* The effective text carries the overrides. */
  assert_non_null(strstr(cfg->effective, "n_test = 77\n"));
  assert_non_null(strstr(cfg->effective, "[weak.new]\n"));
  w2s_config_destroy(&cfg);
}

static const char weak_a[] = "[weak.a]\nsource = random\n";

static void test_errors(void **state) {
  (void)state;
  /* Unknown key (line 4), in a fixed and in a representation section. */
  expect_error("[weak.a]\nsource = random\n[data]\nn_tset = 5\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":4", "'n_tset'", "[data]");
  expect_error("[weak.a]\nsource = random\nwdith = 5\n", NULL, 0, W2S_ERR_INPUT,
               NAME ":3", "'wdith'", "[weak.a]");
  /* Unknown section, reported at its first key's line. */
  expect_error("[weak.a]\nsource = random\n[dta]\nn_test = 5\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":3", "[dta]", NULL);
  /* An unknown section is an error even without keys. */
  expect_error("[weak.a]\n[dta]\n", NULL, 0, W2S_ERR_INPUT, NAME ":2", "[dta]",
               NULL);
  /* Wrong type: int, real, choice. */
  expect_error("[weak.a]\n[experiment]\ntasks = many\n", NULL, 0, W2S_ERR_INPUT,
               NAME ":3", "experiment.tasks", "integer");
  expect_error("[experiment]\ntasks = 1.5\n[weak.a]\nsource=random\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":2", "experiment.tasks", "integer");
  expect_error("[data]\ninput_scale = big\n[weak.a]\nsource=random\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":2", "data.input_scale", "number");
  expect_error("[experiment]\ntask_inputs = some\n[weak.a]\nsource=random\n",
               NULL, 0, W2S_ERR_INPUT, NAME ":2", "experiment.task_inputs",
               "shared|per_task");
  /* Out of range: int, real, a representation key. */
  expect_error("[weak.a]\nsource = random\n[data]\ninput_dim = 0\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":4", "data.input_dim", "out of range");
  expect_error("[fit]\nrank_tol = 2\n[weak.a]\nsource=random\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":2", "fit.rank_tol", "out of range");
  expect_error("[weak.a]\nsource = random\nwidth = 0\n", NULL, 0, W2S_ERR_INPUT,
               NAME ":3", "weak.a.width", "out of range");
  /* A negative count. */
  expect_error("[weak.a]\nsource = random\n[data]\n\nn_test = -5\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":5", "data.n_test", "out of range");
  /* A bad bool. */
  expect_error("[weak.a]\nsource = random\n[fit]\nintercept = maybe\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":4", "fit.intercept", "true or false");
  /* Syntax errors: a line that is neither, an unclosed section. */
  expect_error("[weak.a]\nsource = random\n[data]\nn_test = 5\nno equals "
               "sign here\n",
               NULL, 0, W2S_ERR_INPUT, NAME ":5", "syntax error", NULL);
  expect_error("[weak.a]\nsource = random\n[data\nn_test = 5\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":3", "syntax error", NULL);
  /* Weak model names: letters, digits, '_' and '-' (lengths: see
   * test_long_weak_names). */
  expect_error("[weak.a/b]\nsource = random\n", NULL, 0, W2S_ERR_INPUT,
               NAME ":1", "[weak.a/b]", "name");
  expect_error("[weak.a b]\nsource = random\n", NULL, 0, W2S_ERR_INPUT,
               NAME ":1", "[weak.a b]", "name");
  expect_error("[weak.]\nsource = random\n", NULL, 0, W2S_ERR_INPUT, NAME ":1",
               "[weak.]", "name");
  /* depth or width with a source that takes the target's shape. */
  expect_error("[weak.a]\nsource = target\ndepth = 3\n", NULL, 0, W2S_ERR_INPUT,
               NAME ":3", "weak.a.depth", "no effect");
  expect_error("[weak.a]\nsource = random\n[strong]\nsource = perturb\n"
               "width = 4\n",
               NULL, 0, W2S_ERR_INPUT, NAME ":5", "strong.width", "no effect");
  /* Unknown source. */
  expect_error("[weak.a]\nsource = magic\n", NULL, 0, W2S_ERR_INPUT, NAME ":2",
               "weak.a.source", "'magic'");
  /* Unknown solver. */
  expect_error("[weak.a]\nsource = random\n[fit]\nsolver = qr\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":4", "fit.solver", "'qr'");
  /* No weak model. */
  expect_error("[data]\nn_test = 5\n", NULL, 0, W2S_ERR_INPUT, NAME ":",
               "no weak model", NULL);
  /* A key before any section. */
  expect_error("seed = 3\n[weak.a]\nsource = random\n", NULL, 0, W2S_ERR_INPUT,
               NAME ":1", "'seed'", "outside");
  /* n_w2s_train given with w2s_inputs = same. */
  expect_error("[weak.a]\nsource = random\n[data]\nw2s_inputs = same\n"
               "n_w2s_train = 10\n",
               NULL, 0, W2S_ERR_INPUT, NAME ":5", "data.n_w2s_train",
               "no effect");
}

static void test_set_errors(void **state) {
  (void)state;
  /* Bad --set syntax: a usage error naming the --set. */
  const char *bad[] = {"data.n_test", "n_test=5", ".n_test=5", "data.=5", "=5"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    char where[64];
    snprintf(where, sizeof where, "--set %s", bad[i]);
    expect_error(weak_a, &bad[i], 1, W2S_ERR_USAGE, where, "section.key=value",
                 NULL);
  }
  /* Good syntax, bad value or key: an input error naming the --set. */
  const char *badval[] = {"data.n_test=abc"};
  expect_error(weak_a, badval, 1, W2S_ERR_INPUT, "--set data.n_test=abc",
               "data.n_test", "integer");
  const char *badkey[] = {"data.bogus=1"};
  expect_error(weak_a, badkey, 1, W2S_ERR_INPUT, "--set data.bogus=1",
               "'bogus'", "[data]");
  const char *badsec[] = {"dat.n_test=1"};
  expect_error(weak_a, badsec, 1, W2S_ERR_INPUT, "--set dat.n_test=1", "[dat]",
               NULL);
  const char *neg[] = {"data.n_test=5", "data.n_test=-1"};
  expect_error(weak_a, neg, 2, W2S_ERR_INPUT, "--set data.n_test=-1",
               "out of range", NULL);
}

/* A key or a section given twice would let the last value win silently:
 * both are refused, naming the repetition's line and the first one. */
static void test_duplicates(void **state) {
  (void)state;
  expect_error("[weak.a]\n[data]\nn_test = 5\nn_test = 6\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":4: key 'n_test'", "[data]",
               "first at " NAME ":3");
  /* In two copies of a section, the section is reported first. */
  expect_error("[weak.a]\n[data]\nn_test = 5\n[fit]\n[data]\nn_test = 6\n",
               NULL, 0, W2S_ERR_INPUT, NAME ":5: section [data]", "twice",
               "first at " NAME ":2");
  expect_error("[weak.a]\nsource = random\n\n[weak.a]\nwidth = 3\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":4: section [weak.a]",
               "first at " NAME ":1", NULL);
  /* The same swept key twice in [sweep]. */
  expect_error("[weak.a]\n[sweep]\ndata.n_test = 5, 6\ndata.n_test = 7\n", NULL,
               0, W2S_ERR_INPUT, NAME ":4", "'data.n_test'", "twice");
  /* The first repetition in the file is the one reported. */
  expect_error("[weak.a]\n[data]\nn_test = 5\ninput_dim = 3\ninput_dim = 4\n"
               "n_test = 6\n",
               NULL, 0, W2S_ERR_INPUT, NAME ":5", "'input_dim'", NULL);
  /* --set may override a file's key, and a later --set an earlier one. */
  const char *sets[] = {"data.n_test=7", "data.n_test=8"};
  w2s_config *cfg = parse_ok("[weak.a]\n[data]\nn_test = 5\n", sets, 2);
  assert_int_equal(cfg->n_test, 8);
  w2s_config_destroy(&cfg);
}

/* An indented line after a key is, for inih built with multi-line values,
 * a new value of that key ("n_test = 200" then "    300" ran with 300):
 * refused by the reader whatever inih's build. */
static void test_continuation_lines(void **state) {
  (void)state;
  expect_error("[weak.a]\n[data]\nn_test = 200\n    300\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":4", "indented", NULL);
  /* Tabs, and after a blank line or a comment: still a continuation. */
  expect_error("[weak.a]\n[data]\nn_test = 200\n\n; note\n\t300\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":6", "indented", NULL);
  /* An indented key or section header after a key, too. */
  expect_error("[weak.a]\nsource = random\n  width = 3\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":3", "indented", NULL);
  expect_error("[weak.a]\nsource = random\n  [data]\nn_test = 3\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":3", "indented", NULL);
  /* Indented comments and blank lines, and an indented key right after a
   * section header (no value to continue), are fine. */
  w2s_config *cfg =
      parse_ok("[weak.a]\nsource = random\n   ; a comment\n  \t \n"
               "[data]\n  n_test = 9\n",
               NULL, 0);
  assert_int_equal(cfg->n_test, 9);
  w2s_config_destroy(&cfg);
}

/* Every typed value of two configurations is the same. */
static void assert_same_config(const w2s_config *a, const w2s_config *b) {
  assert_true(a->seed == b->seed);
  assert_int_equal(a->tasks, b->tasks);
  assert_int_equal(a->per_task_inputs, b->per_task_inputs);
  assert_int_equal(a->input_dim, b->input_dim);
  assert_true(a->input_scale == b->input_scale);
  assert_int_equal(a->n_weak_train, b->n_weak_train);
  assert_int_equal(a->n_w2s_train, b->n_w2s_train);
  assert_int_equal(a->n_test, b->n_test);
  assert_int_equal(a->w2s_same_inputs, b->w2s_same_inputs);
  assert_int_equal(a->target_depth, b->target_depth);
  assert_int_equal(a->target_width, b->target_width);
  assert_string_equal(a->solver, b->solver);
  assert_true(a->ridge == b->ridge);
  assert_true(a->rank_tol == b->rank_tol);
  assert_int_equal(a->intercept, b->intercept);
  assert_int_equal(a->block_rows, b->block_rows);
  assert_string_equal(a->output_path, b->output_path);
  assert_int_equal(a->nweak, b->nweak);
  for (int r = -1; r < a->nweak; ++r) {
    const w2s_repr_config *x = r < 0 ? &a->strong : &a->weak[r];
    const w2s_repr_config *y = r < 0 ? &b->strong : &b->weak[r];
    assert_string_equal(x->section, y->section);
    assert_string_equal(x->name, y->name);
    assert_ptr_equal(x->source, y->source);
    assert_int_equal(x->depth_p.i, y->depth_p.i);
    assert_int_equal(x->width_p.i, y->width_p.i);
    for (int k = 0; k < x->source->nkeys; ++k) {
      assert_string_equal(x->own[k].text, y->own[k].text);
      assert_true(x->own[k].i == y->own[k].i);
      assert_true(x->own[k].r == y->own[k].r);
    }
  }
  assert_int_equal(a->nsweep, b->nsweep);
  for (int s = 0; s < a->nsweep; ++s) {
    assert_string_equal(a->sweep[s].key, b->sweep[s].key);
    assert_string_equal(a->sweep[s].values, b->sweep[s].values);
  }
}

static void round_trip(const char *text, const char *const *sets, int nsets) {
  w2s_config *a = parse_ok(text, sets, nsets);
  w2s_config *b = parse_ok(a->effective, NULL, 0);
  assert_same_config(a, b);
  /* A fixed point: the effective text of the effective text is itself. */
  assert_string_equal(a->effective, b->effective);
  w2s_config_destroy(&a);
  w2s_config_destroy(&b);
}

static void test_round_trip(void **state) {
  (void)state;
  round_trip(good_text, NULL, 0);
  const char *sets[] = {"weak.a.depth=3", "fit.intercept=yes",
                        "experiment.task_inputs=shared"};
  round_trip(good_text, sets, 3);
  round_trip(weak_a, NULL, 0);
  /* Pretrain's own keys, a perturbed strong model and a sweep. */
  round_trip("[target]\nwidth = 6\n[strong]\nsource = perturb\n"
             "perturb_scale = 0.05\n[weak.p]\nsource = pretrain\ndepth = 2\n"
             "width = 6\nepochs = 3\nlr = 0.01\n[sweep]\ndata.n_test = 10, "
             "20\nweak.p.epochs = 1, 2\n",
             NULL, 0);
}

/* The paper's configurations fit the strong heads on the weak heads' own
 * inputs (data.w2s_inputs = same), which forbids data.n_w2s_train. */
static void test_round_trip_same_inputs(void **state) {
  (void)state;
  round_trip("[data]\nn_weak_train = 500\nw2s_inputs = same\n[weak.a]\n"
             "source = random\n",
             NULL, 0);
}

/* The message promises names of 1-63 characters (W2S_NAME_LEN - 1): a
 * 63-character name is kept whole, a 64-character one is refused, and two
 * different long names stay two weak models. */
/* The INI reader (inih) keeps 49 characters of a section name and 198 of a
 * line: longer ones must be refused with a clear error naming the line,
 * never truncated or split silently (two long weak names sharing a prefix
 * used to merge; a long comment used to become a syntax error elsewhere). */
static void test_long_weak_names(void **state) {
  (void)state;
  char text[400], name[70];
  memset(name, 'n', 44); /* "weak." + 44 = 49 characters: the longest */
  name[44] = '\0';
  snprintf(text, sizeof text, "[weak.%s]\nsource = random\n", name);
  w2s_config *cfg = parse_ok(text, NULL, 0);
  assert_int_equal(cfg->nweak, 1);
  assert_string_equal(cfg->weak[0].name, name);
  w2s_config_destroy(&cfg);
  memset(name, 'n', 45);
  name[45] = '\0';
  snprintf(text, sizeof text, "[weak.a]\n[weak.%s]\nsource = random\n", name);
  expect_error(text, NULL, 0, W2S_ERR_INPUT, NAME ":2", "section name", "49");
}

static void test_long_lines(void **state) {
  (void)state;
  char text[2048], comment[301], values[400];
  memset(comment, '-', 300);
  comment[0] = '#';
  comment[300] = '\0';
  /* line 1: [weak.a], 2: the long comment */
  snprintf(text, sizeof text, "[weak.a]\n%s\n[data]\nn_test = 5\n", comment);
  expect_error(text, NULL, 0, W2S_ERR_INPUT, NAME ":2", "longer than", "198");
  /* A sweep list of 60 values (~300 characters) on one line. */
  size_t len = 0;
  for (int v = 0; v < 60; ++v)
    len += (size_t)snprintf(values + len, sizeof values - len, "%s%d",
                            v ? ", " : "", 1000 + v);
  snprintf(text, sizeof text,
           "[weak.a]\nsource = random\n[sweep]\ndata.n_test = %s\n", values);
  expect_error(text, NULL, 0, W2S_ERR_INPUT, NAME ":4", "longer than", NULL);
  /* Just under the limit parses, and later line numbers stay right. */
  memset(comment, '-', 198);
  comment[0] = '#';
  comment[198] = '\0';
  snprintf(text, sizeof text, "%s\n[weak.a]\n[data]\nn_tset = 5\n", comment);
  expect_error(text, NULL, 0, W2S_ERR_INPUT, NAME ":4", "'n_tset'", NULL);
}

/* An unknown key or section names the nearest known one; a key of another
 * fixed section names that section; --set and --sweep keys likewise. */
static void test_suggestions(void **state) {
  (void)state;
  expect_error("[weak.a]\n[data]\nn_tset = 5\n", NULL, 0, W2S_ERR_INPUT,
               NAME ":3", "unknown key 'n_tset' in [data]",
               "(did you mean n_test?)");
  expect_error("[weak.a]\nwdith = 5\n", NULL, 0, W2S_ERR_INPUT, NAME ":2",
               "in [weak.a] (source = random;", "did you mean width?)");
  /* A source's own key is a candidate in its sections. */
  expect_error("[weak.a]\nsource = perturb\nperturb_scael = 0.1\n", NULL, 0,
               W2S_ERR_INPUT, NAME ":3", "'perturb_scael'",
               "did you mean perturb_scale?");
  expect_error("[weak.a]\n[fit]\nn_test = 5\n", NULL, 0, W2S_ERR_INPUT,
               NAME ":3", "'n_test' in [fit]", "(it belongs in [data])");
  /* Nothing close: no suggestion. */
  expect_error("[weak.a]\n[data]\nfrobnicate = 5\n", NULL, 0, W2S_ERR_INPUT,
               NAME ":3", "unknown key 'frobnicate' in [data]", NULL);
  expect_error("[weak.a]\n[dta]\n", NULL, 0, W2S_ERR_INPUT, NAME ":2",
               "unknown section [dta]", "(did you mean [data]?)");
  expect_error("[weka.small]\n", NULL, 0, W2S_ERR_INPUT, NAME ":1",
               "unknown section [weka.small]", "(did you mean [weak.small]?)");
  expect_error("[weak.a]\n[bogus]\n", NULL, 0, W2S_ERR_INPUT, NAME ":2",
               "unknown section [bogus] (sections: experiment,", NULL);
  const char *set[] = {"data.n_tset=5"};
  expect_error(weak_a, set, 1, W2S_ERR_INPUT, "--set data.n_tset=5",
               "unknown key 'n_tset' in [data]", "did you mean n_test?");
  const char *sec[] = {"experimnet.tasks=5"};
  expect_error(weak_a, sec, 1, W2S_ERR_INPUT, "--set experimnet.tasks=5",
               "unknown section [experimnet]", "did you mean [experiment]?");
  /* A swept key reaches the parser as an override naming its --sweep. */
  w2s_ctx *ctx = new_ctx();
  w2s_config *cfg = parse_ok(weak_a, NULL, 0);
  w2s_sweep sw;
  const char *sweep[] = {"data.n_tset=5,6"};
  assert_int_equal(w2s_sweep_expand(ctx, cfg, sweep, 1, &sw), W2S_OK);
  w2s_config *pc = NULL;
  assert_int_equal(w2s_sweep_point_config(ctx, cfg, NULL, 0, &sw, 0, &pc),
                   W2S_ERR_INPUT);
  assert_null(pc);
  assert_non_null(strstr(ctx->msg, "--sweep data.n_tset: unknown key "
                                   "'n_tset' in [data] (did you mean "
                                   "n_test?)"));
  w2s_sweep_free(&sw);
  w2s_config_destroy(&cfg);
  w2s_ctx_destroy(&ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_config),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_empty_weak_section),
      cmocka_unit_test(test_set_overrides),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_set_errors),
      cmocka_unit_test(test_suggestions),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_round_trip_same_inputs),
      cmocka_unit_test(test_long_weak_names),
      cmocka_unit_test(test_long_lines),
      cmocka_unit_test(test_duplicates),
      cmocka_unit_test(test_continuation_lines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
