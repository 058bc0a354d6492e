/* core: the nearest of a list of names to a misspelt one, for the
 * "did you mean ...?" of unknown options, commands, config keys and
 * sections. */
#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include "w2s/core.h"

enum { SUGGEST_MAX_LEN = 64 };

/* Optimal string alignment distance (Levenshtein plus the transposition of
 * two adjacent characters, the commonest typo), case-insensitive. Words
 * longer than SUGGEST_MAX_LEN are not compared (returns a large value). */
static int osa_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > SUGGEST_MAX_LEN || m > SUGGEST_MAX_LEN) return 1 << 20;
  int d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];
  for (size_t i = 0; i <= n; ++i) d[i][0] = (int)i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = (int)j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      int ca = tolower((unsigned char)a[i - 1]);
      int cb = tolower((unsigned char)b[j - 1]);
      int best = d[i - 1][j - 1] + (ca != cb);
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  }
  return d[n][m];
}

/* How many edits still read as a typo of a word of len characters. */
static int allowed_edits(size_t len) { return len <= 4 ? 1 : len <= 8 ? 2 : 3; }

static int is_prefix_ci(const char *p, const char *s) {
  for (; *p; ++p, ++s)
    if (tolower((unsigned char)*p) != tolower((unsigned char)*s)) return 0;
  return 1;
}

int w2s_suggest(const char *word, const char *const *cands, int n) {
  if (!word || !cands || !word[0]) return -1;
  size_t len = strlen(word);
  int best = -1, best_d = allowed_edits(len) + 1;
  for (int i = 0; i < n; ++i) {
    if (!cands[i] || !cands[i][0]) continue;
    int d = osa_distance(word, cands[i]);
    /* Replacing every character is no typo ("x" is not "-o"). */
    if (d < best_d && (size_t)d < len && (size_t)d < strlen(cands[i])) {
      best = i;
      best_d = d;
    }
  }
  if (best_d <= 1 || len < 3) return best;
  /* An abbreviation of exactly one name ("sweep-p" for sweep-point) wins
   * over a match of two or more edits ("sweep"). */
  int prefix = -1;
  for (int i = 0; i < n; ++i) {
    if (!cands[i] || !is_prefix_ci(word, cands[i])) continue;
    if (prefix >= 0) return best;
    prefix = i;
  }
  return prefix >= 0 ? prefix : best;
}
