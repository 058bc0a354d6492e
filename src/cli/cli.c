/* Helpers shared by the subcommands (cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

char *w2s_cli_join(int argc, char **argv) {
  size_t len = 1;
  for (int i = 0; i < argc; ++i) len += strlen(argv[i]) + 1;
  char *s = calloc(len, 1), *p = s;
  if (!s) return NULL;
  for (int i = 0; i < argc; ++i) {
    size_t n = strlen(argv[i]);
    if (i) *p++ = ' ';
    memcpy(p, argv[i], n);
    p += n;
  }
  return s;
}

void w2s_cli_report(const w2s_ctx *ctx, const char *cmd, w2s_err e) {
  if (ctx && ctx->rank != 0) return;
  const char *msg = (ctx && ctx->msg[0]) ? ctx->msg : w2s_err_text(e);
  fprintf(stderr, "%sw2s %s: error: %s\n",
          (ctx && ctx->stderr_tty) ? "\r\033[K" : "", cmd, msg);
  if (ctx && ctx->verbosity >= 2 && ctx->err_file)
    fprintf(stderr, "w2s %s: (raised at %s:%d, %s)\n", cmd, ctx->err_file,
            ctx->err_line, w2s_err_name(e));
}
