/* Private to the driver: run.c (the loop, the timers, one file) and
 * rundir.c (the run-directory and resume policy). */
#ifndef W2S_RUN_IMPL_H
#define W2S_RUN_IMPL_H

#include "w2s/run.h"

/* Collective (run.c): configure, run and time point p into *out. */
w2s_err w2s_run_one(w2s_ctx *ctx, const w2s_run_plan *plan, int64_t p,
                    w2s_results **out);
/* Collective (run.c): write n points (global ids ids[0..n)) as a point
 * file of the plan's grid at path (over an existing file with the plan's
 * force or resume). */
w2s_err w2s_run_write_points(w2s_ctx *ctx, const w2s_run_plan *plan,
                             w2s_results *const *pts, const int64_t *ids,
                             int64_t n, const char *path);
/* Collective (rundir.c): the W2S_RUN_DIR destination. */
w2s_err w2s_run_dir(w2s_ctx *ctx, const w2s_run_plan *plan);

#endif
