/* w2s_suggest: the typos it must catch (a transposition, a dropped, doubled
 * or replaced character, case), the words it must not match (too far, or
 * every character replaced), abbreviations, ties and degenerate input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "w2s/core.h"

static const char *const options[] = {"output",      "set",         "sweep",
                                      "sweep-point", "run-dir",     "resume",
                                      "force",       "help-config", "verbose",
                                      "quiet"};
static const int noptions = (int)(sizeof options / sizeof options[0]);

static void test_typos(void **state) {
  (void)state;
  assert_int_equal(w2s_suggest("outptu", options, noptions), 0);  /* swap */
  assert_int_equal(w2s_suggest("ouput", options, noptions), 0);   /* drop */
  assert_int_equal(w2s_suggest("outpput", options, noptions), 0); /* double */
  assert_int_equal(w2s_suggest("OUTPUT", options, noptions), 0);  /* case */
  assert_int_equal(w2s_suggest("forse", options, noptions), 6);   /* replace */
  assert_int_equal(w2s_suggest("sweep_point", options, noptions), 3);
  assert_int_equal(w2s_suggest("help-confg", options, noptions), 7);
  assert_int_equal(w2s_suggest("output", options, noptions), 0); /* exact */
  const char *const cmds[] = {"simulate", "fit", "analyze", "merge", "bench"};
  assert_int_equal(w2s_suggest("simulte", cmds, 5), 0);
  assert_int_equal(w2s_suggest("anlayze", cmds, 5), 2);
  assert_int_equal(w2s_suggest("bnech", cmds, 5), 4);
  const char *const keys[] = {"input_dim", "input_scale", "n_weak_train",
                              "n_w2s_train", "n_test"};
  assert_int_equal(w2s_suggest("n_tset", keys, 5), 4);
  assert_int_equal(w2s_suggest("n_weak_trian", keys, 5), 2);
}

static void test_no_match(void **state) {
  (void)state;
  assert_int_equal(w2s_suggest("frobnicate", options, noptions), -1);
  assert_int_equal(w2s_suggest("xyz", options, noptions), -1);
  /* One character replaced by another is every character: no typo. */
  const char *const shorts[] = {"o", "q"};
  assert_int_equal(w2s_suggest("x", shorts, 2), -1);
  /* Three edits on a short word are too many. */
  assert_int_equal(w2s_suggest("sxt", options, noptions), 1); /* 1 edit */
  assert_int_equal(w2s_suggest("abc", options, noptions), -1);
  assert_int_equal(w2s_suggest("", options, noptions), -1);
  assert_int_equal(w2s_suggest(NULL, options, noptions), -1);
  assert_int_equal(w2s_suggest("output", NULL, 0), -1);
  assert_int_equal(w2s_suggest("output", options, 0), -1);
}

static void test_prefix_and_ties(void **state) {
  (void)state;
  /* "sweep-p" is 4 edits from sweep-point but abbreviates only it. */
  assert_int_equal(w2s_suggest("sweep-p", options, noptions), 3);
  /* "res" abbreviates resume only ("run-dir" does not start with it). */
  assert_int_equal(w2s_suggest("resu", options, noptions), 5);
  /* An abbreviation of two names is no suggestion. */
  const char *const two[] = {"alphabet", "alphanumeric"};
  assert_int_equal(w2s_suggest("alph", two, 2), -1);
  /* A tie goes to the earlier candidate; NULL candidates are skipped. */
  const char *const tie[] = {NULL, "cat", "car"};
  assert_int_equal(w2s_suggest("cax", tie, 3), 1);
  /* Words too long to compare are not suggested (and do not crash). */
  char long_word[200], long_cand[200];
  for (int i = 0; i < 199; ++i) long_word[i] = long_cand[i] = 'a';
  long_word[199] = long_cand[199] = '\0';
  long_cand[198] = 'b';
  const char *const lw[] = {long_cand};
  assert_int_equal(w2s_suggest(long_word, lw, 1), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_typos),
      cmocka_unit_test(test_no_match),
      cmocka_unit_test(test_prefix_and_ties),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
