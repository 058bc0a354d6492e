/* Output paths: what is refused before any compute, the temporary file of
 * the writer, and its publication under the asked-for name. */
#define _GNU_SOURCE /* renameat2 */
#include "io/publish.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "w2s/io.h"

/* Where `path`'s last component starts. */
static const char *base_of(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* The directory part of `path` ("." when there is none). */
static void dir_of(const char *path, char *buf, size_t len) {
  const char *b = base_of(path);
  size_t n = (size_t)(b - path);
  if (n == 0) {
    snprintf(buf, len, ".");
    return;
  }
  if (n > 1) --n; /* drop the slash, but keep "/" itself */
  snprintf(buf, len, "%.*s", (int)n, path);
}

int w2s_partial_name(const char *path, long pid, char *buf, size_t len) {
  char suffix[32];
  snprintf(suffix, sizeof suffix, ".partial-%ld", pid);
  const char *b = base_of(path);
  size_t dir = (size_t)(b - path), base = strlen(b), sfx = strlen(suffix);
  /* NAME_MAX is 255 on every Linux file system; 16 characters of BASE keep
   * a run directory's "point-NNNNN.h5" whole, which --resume looks for. */
  size_t keep = base + sfx > 255 ? 255 - sfx : base;
  if (keep < base && keep < 16) return -1;
  if (dir + keep + sfx >= len) return -1;
  snprintf(buf, len, "%.*s%.*s%s", (int)dir, path, (int)keep, b, suffix);
  return 0;
}

size_t w2s_mpio_path_max(int size) {
  int digits = 1;
  for (int r = size - 1; r >= 10; r /= 10) ++digits;
  return 256 - 1 - strlen(".locktest.") - (size_t)digits;
}

static const char *kind_of(mode_t m) {
  return S_ISDIR(m)    ? "a directory"
         : S_ISFIFO(m) ? "a FIFO"
         : S_ISCHR(m)  ? "a character device"
         : S_ISBLK(m)  ? "a block device"
         : S_ISSOCK(m) ? "a socket"
                       : "not a regular file";
}

/* Rank 0's part of w2s_output_check. */
static w2s_err check_path(w2s_ctx *ctx, const char *path, int force) {
  char dir[W2S_PATH_LEN];
  size_t len = strlen(path);
  struct stat st;
  if (len == 0) return W2S_FAIL(ctx, W2S_ERR_USAGE, "output path is empty");
  if (len >= W2S_PATH_LEN)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "output path of %zu characters is too long (at most %d)",
                    len, W2S_PATH_LEN - 1);
  if (strlen(base_of(path)) > 255)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "output '%.60s...': the file name has %zu characters, "
                    "more than the 255 a file system allows",
                    path, strlen(base_of(path)));
  dir_of(path, dir, sizeof dir);
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "output '%s': directory '%s' does not exist", path, dir);
  if (access(dir, W_OK | X_OK) != 0)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "output '%s': directory '%s' is not writable", path, dir);
  if (lstat(path, &st) != 0) return W2S_OK; /* nothing there */
  int is_link = S_ISLNK(st.st_mode);
  if (is_link && stat(path, &st) != 0) /* dangling: the link is replaced */
    return force ? W2S_OK
                 : W2S_FAIL(ctx, W2S_ERR_USAGE,
                            "output '%s' exists (use --force to overwrite "
                            "it)",
                            path);
  if (S_ISDIR(st.st_mode))
    return W2S_FAIL(ctx, W2S_ERR_USAGE, "output '%s' is a directory", path);
  if (!S_ISREG(st.st_mode))
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "output '%s' is %s%s: w2s replaces only regular files, "
                    "even with --force",
                    path, is_link ? "a link to " : "", kind_of(st.st_mode));
  if (!force)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "output '%s' exists (use --force to overwrite it)", path);
  return W2S_OK;
}

w2s_err w2s_output_check(w2s_ctx *ctx, const char *path, int force) {
  w2s_err e = W2S_OK;
  if (ctx->rank == 0) e = check_path(ctx, path, force);
  return w2s_agree(ctx, e);
}

w2s_err w2s_output_not_input(w2s_ctx *ctx, const char *path,
                             const char *const *inputs, int n) {
  w2s_err e = W2S_OK;
  struct stat out, in;
  if (ctx->rank == 0 && stat(path, &out) == 0)
    for (int i = 0; i < n && !e; ++i)
      if (inputs[i] && stat(inputs[i], &in) == 0 && in.st_dev == out.st_dev &&
          in.st_ino == out.st_ino)
        e = W2S_FAIL(ctx, W2S_ERR_USAGE,
                     "output '%s' is the input '%s': write the results "
                     "elsewhere",
                     path, inputs[i]);
  return w2s_agree(ctx, e);
}

w2s_err w2s_write_image(w2s_ctx *ctx, const char *tmp, const void *buf,
                        size_t len, const char *path) {
  /* A file of this name is a partial file of a killed run with our PID
   * (PIDs repeat, in containers soon): never a result, so it is reused;
   * O_NOFOLLOW keeps a link there from redirecting the write. */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0666);
  if (fd < 0)
    return W2S_FAIL(ctx, W2S_ERR_IO,
                    "cannot write '%s': cannot create '%s': %s", path, tmp,
                    strerror(errno));
  const char *p = buf;
  int err = 0;
  for (size_t done = 0; done < len && !err;) {
    ssize_t n = write(fd, p + done, len - done);
    if (n > 0)
      done += (size_t)n;
    else if (n < 0 && errno != EINTR)
      err = errno;
    else if (n == 0)
      err = EIO;
  }
  /* A network file system may report a failed write only here. */
  if (!err && fsync(fd) != 0 && errno != EINVAL && errno != EROFS) err = errno;
  if (close(fd) != 0 && !err && errno != EINTR) err = errno;
  if (err) {
    unlink(tmp);
    return W2S_FAIL(ctx, W2S_ERR_IO, "cannot write '%s': %s", path,
                    strerror(err));
  }
  return W2S_OK;
}

w2s_err w2s_publish(w2s_ctx *ctx, const char *tmp, const char *path,
                    int force) {
  struct stat st;
  if (force) {
    /* Checked before the compute too; again in case it changed. */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
      return W2S_FAIL(ctx, W2S_ERR_IO, "output '%s' is now %s: not replaced",
                      path, kind_of(st.st_mode));
    if (rename(tmp, path) != 0)
      return W2S_FAIL(ctx, W2S_ERR_IO, "cannot rename '%s' to '%s': %s", tmp,
                      path, strerror(errno));
    return W2S_OK;
  }
  int rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
  if (rc != 0 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
    /* No RENAME_NOREPLACE here (NFS, older kernels): a hard link fails
     * on an existing name just as well. */
    rc = link(tmp, path);
    if (rc == 0) unlink(tmp);
  }
  if (rc != 0 && (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS)) {
    /* No hard links either (FAT, some FUSE mounts): look, then rename; the
     * window is one system call. */
    if (lstat(path, &st) == 0) {
      errno = EEXIST;
    } else {
      rc = rename(tmp, path);
    }
  }
  if (rc != 0 && errno == EEXIST)
    return W2S_FAIL(ctx, W2S_ERR_IO,
                    "output '%s' appeared while this run wrote it (another "
                    "run?): not replaced",
                    path);
  if (rc != 0)
    return W2S_FAIL(ctx, W2S_ERR_IO, "cannot rename '%s' to '%s': %s", tmp,
                    path, strerror(errno));
  return W2S_OK;
}

/* The one piece of static state in w2s: a signal handler can reach nothing
 * else, and a volatile sig_atomic_t is all it may safely write. */
static volatile sig_atomic_t caught_signal = 0;

static void on_signal(int sig) { caught_signal = sig; }

void w2s_signals_catch(w2s_signal_save *save) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  caught_signal = 0;
  sigaction(SIGTERM, &sa, &save->term);
  sigaction(SIGINT, &sa, &save->intr);
}

void w2s_signals_restore(const w2s_signal_save *save) {
  sigaction(SIGTERM, &save->term, NULL);
  sigaction(SIGINT, &save->intr, NULL);
}

int w2s_signal_caught(void) { return (int)caught_signal; }

void w2s_test_delay_publish(void) {
  const char *s = getenv("W2S_TEST_DELAY_PUBLISH_MS");
  long ms = s ? strtol(s, NULL, 10) : 0;
  if (ms <= 0) return;
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&t, &t) != 0 && errno == EINTR && !caught_signal) {
  }
}
