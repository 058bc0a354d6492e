/* Private to the command-line program: one function per subcommand. */
#ifndef W2S_CLI_H
#define W2S_CLI_H

#include "w2s/blas.h"
#include "w2s/core.h"

int w2s_cmd_simulate(int argc, char **argv);
int w2s_cmd_analyze(int argc, char **argv);
int w2s_cmd_bench(int argc, char **argv);
int w2s_cmd_fit(int argc, char **argv);
int w2s_cmd_merge(int argc, char **argv);

/* "w2s <cmd> a b c" as one string, for provenance. Caller frees. */
char *w2s_cli_join(int argc, char **argv);
/* Print "w2s <cmd>: error: <ctx->msg>" once (rank 0). */
void w2s_cli_report(const w2s_ctx *ctx, const char *cmd, w2s_err e);

#endif
