/* Merging the results files of one experiment's sweep points (a Slurm job
 * array, or a restarted run directory) into one file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/analyze.h"

/* The first differing line of two configs, for the message. */
static void first_difference(const char *a, const char *b, char *out,
                             size_t len) {
  const char *la = a, *lb = b;
  int line = 1;
  while (*a && *a == *b) {
    if (*a == '\n') ++line, la = a + 1, lb = b + 1;
    ++a, ++b;
  }
  size_t na = strcspn(la, "\n"), nb = strcspn(lb, "\n");
  snprintf(out, len, "line %d: '%.*s' vs '%.*s'", line,
           (int)(na > 60 ? 60 : na), la, (int)(nb > 60 ? 60 : nb), lb);
}

/* The configuration without its [output] path: array tasks write their
 * points to different files of the same experiment. Caller frees. */
static char *normalized(const char *cfg) {
  size_t len = strlen(cfg);
  char *out = malloc(len + 1), *o = out;
  if (!out) return NULL;
  int in_output = 0;
  for (const char *p = cfg; *p;) {
    size_t l = strcspn(p, "\n");
    int keep = 1;
    if (p[0] == '[') in_output = !strncmp(p, "[output]", 8);
    else if (in_output && !strncmp(p, "path", 4)) keep = 0;
    if (keep) {
      memcpy(o, p, l);
      o += l;
      *o++ = '\n';
    }
    p += l + (p[l] == '\n');
  }
  *o = '\0';
  return out;
}

static w2s_err check_files(w2s_ctx *ctx, w2s_results *const *r, int n) {
  for (int i = 0; i < n; ++i) {
    if (!r[i]->pair_sweep)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: not a sweep point file (no /metrics/sweep): merge "
                      "takes the points of one sweep",
                      r[i]->path);
    if (!r[i]->config_text || !r[0]->config_text)
      return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: attribute 'config' is missing",
                      r[i]->path);
    char *a = normalized(r[0]->config_text), *b = normalized(r[i]->config_text);
    w2s_err e = W2S_OK;
    if (!a || !b) {
      e = W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory");
    } else if (strcmp(a, b) != 0) {
      char diff[200];
      first_difference(a, b, diff, sizeof diff);
      e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                   "%s: from a different experiment than %s (its config "
                   "differs, apart from [output] path, at %s)",
                   r[i]->path, r[0]->path, diff);
    }
    free(a);
    free(b);
    if (e) return e;
    for (int j = 0; j < i; ++j)
      for (int64_t ka = 0; ka < r[i]->npairs; ++ka)
        for (int64_t kb = 0; kb < r[j]->npairs; ++kb)
          if (r[i]->pair_sweep[ka] == r[j]->pair_sweep[kb])
            return W2S_FAIL(ctx, W2S_ERR_INPUT,
                            "%s and %s both hold sweep point %lld",
                            r[j]->path, r[i]->path,
                            (long long)r[i]->pair_sweep[ka]);
  }
  return W2S_OK;
}

w2s_err w2s_merge_files(w2s_ctx *ctx, const char *const *paths, int n,
                        const char *out, int force, const char *command_line) {
  w2s_results **r = NULL;
  w2s_err e = W2S_OK;
  if (n < 1) return W2S_FAIL(ctx, W2S_ERR_USAGE, "merge: no input files");
  /* Refused before anything is read: --force would replace an input. */
  W2S_CALL(w2s_output_check(ctx, out, force));
  W2S_CALL(w2s_output_not_input(ctx, out, paths, n));
  W2S_CALL(w2s_agree(ctx, W2S_ALLOC(ctx, r, n)));
  if (ctx->rank == 0) {
    for (int i = 0; i < n && !e; ++i) e = w2s_results_read(ctx, paths[i], &r[i]);
    if (!e) e = check_files(ctx, r, n);
  }
  e = w2s_agree(ctx, e);
  /* Every rank needs the same data for the collective write. */
  if (!e && ctx->comm != MPI_COMM_NULL && ctx->size > 1)
    e = w2s_agree(ctx, W2S_FAIL(ctx, W2S_ERR_USAGE,
                                "merge runs on one rank (no mpirun needed)"));
  if (!e) {
    w2s_sweep_desc d = {r[0]->sweep_nkeys,
                        r[0]->sweep_npoints,
                        (const char(*)[128])r[0]->sweep_keys,
                        (const char(*)[128])r[0]->sweep_values,
                        "sweep",
                        NULL,
                        1,
                        paths};
    e = w2s_results_write_sweep(ctx, r, n, &d, r[0]->config_text, command_line,
                                out, force);
  }
  for (int i = 0; i < n; ++i) w2s_results_destroy(&r[i]);
  free(r);
  return e;
}
