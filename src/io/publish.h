/* Private to src/io: the temporary file of a results writer and its
 * publication under the asked-for name (publish.c). Everything here is
 * local to the calling rank; the writer agrees on the outcomes. */
#ifndef W2S_PUBLISH_H
#define W2S_PUBLISH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "w2s/core.h"

/* The temporary name of `path` for process `pid`: in the same directory
 * (so that publishing is a rename), "BASE.partial-PID" with BASE cut short
 * when the name would exceed 255 characters. Returns 0, or -1 when even a
 * 16-character BASE does not fit (in the name, or in `len`). */
int w2s_partial_name(const char *path, long pid, char *buf, size_t len);

/* Write `len` bytes to the file `tmp` (created, or truncated: it can only
 * be a killed run's partial file) and flush it to the disk; on any failure
 * remove it and report "cannot write 'PATH': REASON" (errno's text: "No
 * space left on device", ...). */
w2s_err w2s_write_image(w2s_ctx *ctx, const char *tmp, const void *buf,
                        size_t len, const char *path);

/* Rename `tmp` to `path`. Without force never over an existing file (a
 * no-replace rename, else link + unlink, else a check and a rename); with
 * force only over a regular file. */
w2s_err w2s_publish(w2s_ctx *ctx, const char *tmp, const char *path, int force);

/* SIGTERM and SIGINT are caught while a results file is written, so that
 * a run told to stop removes its temporary file instead of publishing it. */
typedef struct {
  struct sigaction term, intr;
} w2s_signal_save;
void w2s_signals_catch(w2s_signal_save *save);
void w2s_signals_restore(const w2s_signal_save *save);
/* The signal caught since w2s_signals_catch, or 0. */
int w2s_signal_caught(void);

/* Test only (docs/RELIABILITY.md): W2S_TEST_DELAY_PUBLISH_MS=N sleeps N ms
 * between writing the temporary file and deciding to publish it, so that a
 * test can signal a run at that moment. */
void w2s_test_delay_publish(void);

#endif
