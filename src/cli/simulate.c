/* w2s simulate: MPI run of one experiment into one results file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "w2s/analyze.h"
#include "w2s/experiment.h"
#include "w2s/io.h"

/* The context's timers, max over ranks, as r's named timings. Collective. */
static w2s_err store_timers(w2s_ctx *ctx, w2s_results *r) {
  double secs[W2S_T_COUNT];
  const char *names[W2S_T_COUNT];
  for (int t = 0; t < W2S_T_COUNT; ++t) names[t] = w2s_timer_name((w2s_timer)t);
  W2S_CALL(w2s_timers_max(ctx, secs));
  return w2s_agree(ctx,
                   w2s_results_set_timing(ctx, r, W2S_T_COUNT, names, secs));
}

static void simulate_usage(FILE *f) {
  fprintf(f,
          "usage: [mpirun -n P] w2s simulate CONFIG.ini [options]\n"
          "\n"
          "Runs the experiment described by CONFIG.ini on every MPI rank and "
          "writes one HDF5\nresults file (layout: docs/FORMAT.md). Read it "
          "with 'w2s analyze' or h5py.\n"
          "\n"
          "options:\n"
          "  -o, --output PATH        results file (default: [output] path)\n"
          "  --set SECTION.KEY=VALUE  override a config key (repeatable), e.g.\n"
          "                           --set data.n_test=100000 --set "
          "weak.small.depth=1\n"
          "  --sweep SECTION.KEY=V1,V2,...\n"
          "                           run the grid of all swept values (repeatable;\n"
          "                           also a [sweep] section) into one file\n"
          "  --sweep-point I          run only point I (0-based) of the sweep "
          "grid (a job\n"
          "                           array task); merge the points with 'w2s "
          "merge'\n"
          "  --run-dir DIR            write every sweep point to "
          "DIR/point-NNNNN.h5, then\n"
          "                           merge them into the output\n"
          "  --resume                 with --run-dir: keep the points already "
          "complete,\n"
          "                           discard partial files of killed runs, "
          "run the rest\n"
          "                           (a point file of another experiment is "
          "an error)\n"
          "  --force                  overwrite an existing results file (a regular\n"
          "                           file, never the config)\n"
          "  --help-config            print every config key: type, default, "
          "range, help\n"
          "  -v, --verbose            more log lines (effective config, "
          "error origins)\n"
          "  -q, --quiet              no progress lines on stderr\n"
          "  -h, --help               this help\n"
          "\n"
          "exit status: 0 success, 2 bad usage or bad input, 1 other "
          "failures.\n");
}

typedef struct {
  const char *config;
  const char **sets;
  int nsets;
  const char **sweeps;
  int nsweeps;
  long sweep_point; /* -1: every point */
  const char *run_dir;
  int resume;
  int force, verbosity, help, help_config;
  char *output_set; /* "output.path=..." from -o */
} sim_args;

static w2s_err parse_args(w2s_ctx *ctx, int argc, char **argv, sim_args *a) {
  a->verbosity = 1;
  a->sweep_point = -1;
  for (int i = 2; i < argc; ++i) {
    const char *s = argv[i];
    const char *val = NULL;
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      a->help = 1;
    } else if (!strcmp(s, "--help-config")) {
      a->help_config = 1;
    } else if (!strcmp(s, "--force")) {
      a->force = 1;
    } else if (!strcmp(s, "--resume")) {
      a->resume = 1;
    } else if (!strcmp(s, "--run-dir")) {
      if (i + 1 >= argc)
        return W2S_FAIL(ctx, W2S_ERR_USAGE, "--run-dir needs a directory");
      a->run_dir = argv[++i];
    } else if (!strcmp(s, "--sweep-point")) {
      char *end = NULL;
      a->sweep_point = i + 1 < argc ? strtol(argv[++i], &end, 10) : -1;
      if (!end || *end || a->sweep_point < 0)
        return W2S_FAIL(ctx, W2S_ERR_USAGE,
                        "--sweep-point needs a point index >= 0");
    } else if (!strcmp(s, "-v") || !strcmp(s, "--verbose")) {
      a->verbosity = 2;
    } else if (!strcmp(s, "-q") || !strcmp(s, "--quiet")) {
      a->verbosity = 0;
    } else if (!strcmp(s, "-o") || !strcmp(s, "--output") ||
               !strncmp(s, "--output=", 9)) {
      val = !strncmp(s, "--output=", 9) ? s + 9 : (i + 1 < argc ? argv[++i] : NULL);
      if (!val || !*val)
        return W2S_FAIL(ctx, W2S_ERR_USAGE, "%s needs a file name", s);
      /* It travels as a config value, which holds fewer characters: refuse
       * rather than write a truncated name. */
      if (strlen(val) >= sizeof(((w2s_param *)0)->text))
        return W2S_FAIL(ctx, W2S_ERR_USAGE,
                        "%s: a path of %zu characters is too long (at most "
                        "%zu)",
                        s, strlen(val), sizeof(((w2s_param *)0)->text) - 1);
      free(a->output_set);
      size_t n = strlen(val) + 16;
      a->output_set = malloc(n);
      if (!a->output_set) return W2S_ERR_MEMORY;
      snprintf(a->output_set, n, "output.path=%s", val);
    } else if (!strcmp(s, "--sweep") || !strncmp(s, "--sweep=", 8)) {
      val = !strncmp(s, "--sweep=", 8) ? s + 8
                                       : (i + 1 < argc ? argv[++i] : NULL);
      if (!val)
        return W2S_FAIL(ctx, W2S_ERR_USAGE,
                        "--sweep needs section.key=v1,v2,...");
      const char **ns =
          realloc(a->sweeps, sizeof *ns * (size_t)(a->nsweeps + 1));
      if (!ns) return W2S_ERR_MEMORY;
      a->sweeps = ns;
      a->sweeps[a->nsweeps++] = val;
    } else if (!strcmp(s, "--set") || !strncmp(s, "--set=", 6)) {
      val = !strncmp(s, "--set=", 6) ? s + 6 : (i + 1 < argc ? argv[++i] : NULL);
      if (!val)
        return W2S_FAIL(ctx, W2S_ERR_USAGE, "--set needs section.key=value");
      const char **ns = realloc(a->sets, sizeof *ns * (size_t)(a->nsets + 2));
      if (!ns) return W2S_ERR_MEMORY;
      a->sets = ns;
      a->sets[a->nsets++] = val;
    } else if (s[0] == '-' && s[1] != '\0') {
      return W2S_FAIL(ctx, W2S_ERR_USAGE,
                      "unknown option '%s' (try 'w2s simulate --help')", s);
    } else if (!a->config) {
      a->config = s;
    } else {
      return W2S_FAIL(ctx, W2S_ERR_USAGE,
                      "unexpected argument '%s': one CONFIG.ini only", s);
    }
  }
  if (a->output_set) {
    const char **ns = realloc(a->sets, sizeof *ns * (size_t)(a->nsets + 1));
    if (!ns) return W2S_ERR_MEMORY;
    a->sets = ns;
    a->sets[a->nsets++] = a->output_set;
  }
  if (!a->config && !a->help && !a->help_config)
    return W2S_FAIL(ctx, W2S_ERR_USAGE,
                    "missing CONFIG.ini (try 'w2s simulate --help')");
  return W2S_OK;
}

/* source = target without an intercept looks realizable but is not (the
 * task labels carry a bias the strong heads cannot fit): say so up front,
 * on rank 0 even with -q, since the analysis reads differently. */
static void warn_theory(w2s_ctx *ctx, const w2s_config *c, const char *desc) {
  if (!strcmp(c->strong.source->name, "target") &&
      w2s_theory_of(c->strong.source->name, c->intercept) !=
          W2S_THEORY_REALIZABLE)
    w2s_log(ctx, 0,
            "warning:%s strong source = target with fit.intercept = false is "
            "not realizable (the task labels have a bias); the run is "
            "recorded and analyzed as non-realizable",
            desc);
}

/* Simulate the given points of the sweep (ids into the grid): the base
 * configuration re-parsed with each point's values as extra --set
 * overrides, simulated in turn. */
static w2s_err run_points(w2s_ctx *ctx, const sim_args *a,
                          const w2s_config *cfg, const w2s_sweep *sw,
                          const int64_t *ids, int64_t n, w2s_results **pts) {
  w2s_err e = W2S_OK;
  for (int64_t q = 0; q < n && !e; ++q) {
    int64_t p = ids[q];
    char desc[1024] = "";
    for (int i = 0; i < sw->nkeys; ++i) {
      strncat(desc, " ", sizeof desc - strlen(desc) - 1);
      strncat(desc, sw->sets[p * sw->nkeys + i], sizeof desc - strlen(desc) - 1);
    }
    w2s_config *pc = NULL;
    e = w2s_agree(ctx, w2s_sweep_point_config(ctx, cfg, a->sets, a->nsets, sw,
                                              p, &pc));
    if (e) break;
    w2s_log(ctx, 1, "sweep point %lld/%lld:%s", (long long)p + 1,
            (long long)sw->npoints, desc);
    warn_theory(ctx, pc, desc);
    e = w2s_simulate(ctx, pc, &pts[q]);
    if (!e) e = store_timers(ctx, pts[q]);
    memset(ctx->timer_acc, 0, sizeof ctx->timer_acc);
    w2s_config_destroy(&pc);
  }
  return e;
}

/* Points written as files that `w2s merge` (and --resume) can take: the
 * base configuration (with its sweep) and the full grid, this point's id. */
static w2s_err write_points(w2s_ctx *ctx, const w2s_config *cfg,
                            const w2s_sweep *sw, w2s_results **pts,
                            const int64_t *ids, int64_t n, const char *cmdline,
                            const char *path, int force) {
  w2s_sweep_desc desc = {sw->nkeys, sw->npoints,
                         (const char(*)[128])sw->keys,
                         (const char(*)[128])sw->values, "sweep", ids, 0, NULL};
  return w2s_results_write_sweep(ctx, pts, n, &desc, cfg->effective, cmdline,
                                 path, force);
}

/* Rank 0, --resume: a file under a point's final name was complete when
 * written, so it is kept only if it is this experiment's point p (same
 * stored identity: configuration, grid, format version); anything else is
 * an error, never silently merged or overwritten. */
static w2s_err keep_point(w2s_ctx *ctx, const char *name, int64_t p,
                          const w2s_identity *here, int *done) {
  w2s_ctx *local = NULL;
  w2s_results *r = NULL;
  w2s_err e = w2s_ctx_create(MPI_COMM_NULL, 0, &local);
  if (e) return W2S_FAIL(ctx, e, "--resume: cannot create a context");
  e = w2s_results_read(local, name, &r);
  if (e) {
    e = W2S_FAIL(ctx, e, "--resume: %s (remove it to run point %lld again)",
                 local->msg, (long long)p);
  } else {
    w2s_identity id = w2s_results_identity(r);
    char why[512];
    int other = 0;
    for (int64_t k = 0; r->pair_sweep && k < r->npairs; ++k)
      other |= r->pair_sweep[k] != p;
    if (w2s_identity_differs(here, &id, "in this run", "in the file", why,
                             sizeof why))
      e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                   "--resume: %s is from a different experiment (%s): use "
                   "another --run-dir, or remove it",
                   name, why);
    else if (!r->pair_sweep || other || r->npairs == 0)
      e = W2S_FAIL(ctx, W2S_ERR_INPUT,
                   "--resume: %s does not hold exactly sweep point %lld: "
                   "remove it",
                   name, (long long)p);
    else
      *done = 1;
  }
  w2s_results_destroy(&r);
  w2s_ctx_destroy(&local);
  return e;
}

/* Collective, --resume: done[p] = 1 for every point in [first, last]
 * whose file is kept (rank 0 reads them, the decision is shared); the
 * first file that may not be kept is an error on every rank. */
static w2s_err kept_points(w2s_ctx *ctx, const w2s_config *cfg,
                           const w2s_sweep *sw, const char *const *names,
                           int64_t first, int64_t last, int *done) {
  w2s_err e = W2S_OK;
  if (ctx->rank == 0) {
    char *canon = w2s_identity_config(cfg->effective);
    w2s_identity here = {canon, sw->nkeys, sw->npoints,
                         (const char(*)[128])sw->keys,
                         (const char(*)[128])sw->values, 0};
    if (!canon) e = W2S_FAIL(ctx, W2S_ERR_MEMORY, "out of memory (identity)");
    else here.hash = w2s_identity_hash(&here);
    for (int64_t p = first; p <= last && !e; ++p)
      if (access(names[p], F_OK) == 0)
        e = keep_point(ctx, names[p], p, &here, &done[p]);
    free(canon);
  }
  W2S_CALL(w2s_agree(ctx, e));
  return w2s_agree(ctx, w2s_bcast_bytes(ctx, done, (int64_t)sizeof *done *
                                                       sw->npoints, 0));
}

/* Rank 0, --resume: a killed job's temporary files are never results. */
static w2s_err discard_partials(w2s_ctx *ctx, const sim_args *a) {
  if (ctx->rank != 0) return W2S_OK;
  DIR *d = opendir(a->run_dir);
  if (!d)
    return W2S_FAIL(ctx, W2S_ERR_USAGE, "--run-dir %s: cannot open",
                    a->run_dir);
  for (struct dirent *de; (de = readdir(d));)
    if (!strncmp(de->d_name, "point-", 6) && strstr(de->d_name, ".partial-")) {
      char p[4096];
      snprintf(p, sizeof p, "%s/%s", a->run_dir, de->d_name);
      if (a->resume) {
        unlink(p);
        w2s_log(ctx, 1, "discarded the partial file %s", p);
      }
    }
  closedir(d);
  return W2S_OK;
}

/* --run-dir: one file per point, complete ones kept with --resume, then
 * (without --sweep-point) the merge of all points into the output. */
static w2s_err run_dir_points(w2s_ctx *ctx, const sim_args *a,
                              const w2s_config *cfg, const w2s_sweep *sw,
                              const char *cmdline) {
  w2s_err e = W2S_OK;
  if (ctx->rank == 0 && mkdir(a->run_dir, 0777) != 0 && errno != EEXIST)
    e = W2S_FAIL(ctx, W2S_ERR_USAGE, "--run-dir %s: cannot create: %s",
                 a->run_dir, strerror(errno));
  W2S_CALL(w2s_agree(ctx, e));
  int64_t first = a->sweep_point >= 0 ? a->sweep_point : 0;
  int64_t last = a->sweep_point >= 0 ? a->sweep_point : sw->npoints - 1;
  char **names = NULL;
  e = w2s_agree(ctx, W2S_ALLOC(ctx, names, sw->npoints)); /* freed below */
  for (int64_t p = 0; p < sw->npoints && !e; ++p) {
    e = W2S_ALLOC(ctx, names[p], 4096);
    if (!e) snprintf(names[p], 4096, "%s/point-%05lld.h5", a->run_dir, (long long)p);
  }
  e = w2s_agree(ctx, e);
  /* Every point file is judged before anything is discarded or computed:
   * a directory of another experiment is refused as it was found, and every
   * point file this run may write is checked (an existing one without
   * --resume or --force, a directory in its place, ...). */
  int *done = NULL;
  if (!e) e = w2s_agree(ctx, W2S_ALLOC(ctx, done, sw->npoints));
  if (!e && a->resume)
    e = kept_points(ctx, cfg, sw, (const char *const *)names, first, last,
                    done);
  for (int64_t p = first; p <= last && !e; ++p)
    e = w2s_output_check(ctx, names[p], a->force || a->resume);
  if (!e) e = w2s_agree(ctx, discard_partials(ctx, a));
  for (int64_t p = first; p <= last && !e; ++p) {
    if (done[p]) {
      w2s_log(ctx, 1, "point %lld is complete in %s: kept", (long long)p,
              names[p]);
      continue;
    }
    w2s_results *pt = NULL;
    e = run_points(ctx, a, cfg, sw, &p, 1, &pt);
    if (!e) e = write_points(ctx, cfg, sw, &pt, &p, 1, cmdline, names[p],
                             a->force || a->resume);
    w2s_results_destroy(&pt);
  }
  if (!e && a->sweep_point < 0) {
    w2s_err local_e = W2S_OK;
    if (ctx->rank == 0) {
      w2s_ctx *local = NULL;
      local_e = w2s_ctx_create(MPI_COMM_NULL, ctx->verbosity, &local);
      if (!local_e) {
        local_e = w2s_merge_files(local, (const char *const *)names,
                                  (int)sw->npoints, cfg->output_path,
                                  a->force || a->resume, cmdline);
        if (local_e)
          local_e = W2S_FAIL(ctx, local_e, "%s", local->msg);
        else
          w2s_log(ctx, 1, "merged %lld points into %s", (long long)sw->npoints,
                  cfg->output_path);
        w2s_ctx_destroy(&local);
      }
    }
    e = w2s_agree(ctx, local_e);
  }
  for (int64_t p = 0; names && p < sw->npoints; ++p) free(names[p]);
  free(names);
  free(done);
  return e;
}

static w2s_err run(w2s_ctx *ctx, int argc, char **argv, const sim_args *a) {
  w2s_config *cfg = NULL;
  w2s_results **pts = NULL;
  w2s_sweep sw;
  memset(&sw, 0, sizeof sw);
  int64_t npts = 0;
  char *cmdline = w2s_cli_join(argc, argv);
  w2s_timer_start(ctx, W2S_T_TOTAL);
  /* Before anything is read or computed: --resume keeps files of a run
   * directory, without one it would silently be a fresh run. */
  w2s_err e = a->resume && !a->run_dir
                  ? W2S_FAIL(ctx, W2S_ERR_USAGE,
                             "--resume needs --run-dir DIR (the directory "
                             "of the run to continue)")
                  : W2S_OK;
  if (!e) e = w2s_config_load(ctx, a->config, a->sets, a->nsets, &cfg);
  if (!e) e = w2s_agree(ctx, w2s_sweep_expand(ctx, cfg, a->sweeps, a->nsweeps, &sw));
  /* Every point's values, before the first point runs. */
  if (!e) e = w2s_agree(ctx, w2s_sweep_check(ctx, cfg, a->sets, a->nsets, &sw));
  if (!e) e = w2s_output_check(ctx, cfg->output_path, a->force || a->resume);
  if (!e) e = w2s_output_not_input(ctx, cfg->output_path, &a->config, 1);
  if (!e) {
    w2s_log(ctx, 1, "config %s -> %s%s", a->config, cfg->output_path,
            sw.npoints ? " (sweep)" : "");
    w2s_log(ctx, 2, "effective configuration:\n%s", cfg->effective);
    npts = sw.npoints ? sw.npoints : 1;
    e = w2s_agree(ctx, W2S_ALLOC(ctx, pts, npts));
  }
  if (!e && (a->sweep_point >= 0 || a->run_dir) && sw.npoints == 0)
    e = w2s_agree(ctx, W2S_FAIL(ctx, W2S_ERR_USAGE,
                                "--sweep-point and --run-dir need a sweep "
                                "([sweep] or --sweep)"));
  if (!e && a->sweep_point >= sw.npoints && sw.npoints > 0)
    e = w2s_agree(ctx, W2S_FAIL(ctx, W2S_ERR_USAGE,
                                "--sweep-point %ld: the sweep has %lld points "
                                "(0-%lld)",
                                a->sweep_point, (long long)sw.npoints,
                                (long long)sw.npoints - 1));
  if (!e && a->run_dir) {
    e = run_dir_points(ctx, a, cfg, &sw, cmdline);
  } else if (!e && a->sweep_point >= 0) {
    int64_t id = a->sweep_point;
    e = run_points(ctx, a, cfg, &sw, &id, 1, pts);
    if (!e) e = write_points(ctx, cfg, &sw, pts, &id, 1, cmdline,
                             cfg->output_path, a->force);
  } else if (!e && sw.npoints) {
    int64_t *ids = NULL;
    e = w2s_agree(ctx, W2S_ALLOC(ctx, ids, sw.npoints));
    for (int64_t p = 0; !e && p < sw.npoints; ++p) ids[p] = p;
    if (!e) e = run_points(ctx, a, cfg, &sw, ids, sw.npoints, pts);
    free(ids);
  } else if (!e) {
    warn_theory(ctx, cfg, "");
    e = w2s_simulate(ctx, cfg, &pts[0]);
    w2s_timer_stop(ctx, W2S_T_TOTAL);
    if (!e) e = store_timers(ctx, pts[0]);
  }
  if (!e && !a->run_dir && a->sweep_point < 0) {
    double t = w2s_wtime();
    w2s_sweep_desc desc = {sw.nkeys, sw.npoints,
                           (const char(*)[128])sw.keys,
                           (const char(*)[128])sw.values, "sweep", NULL, 0, NULL};
    e = w2s_results_write_sweep(ctx, pts, npts, sw.npoints ? &desc : NULL,
                                cfg->effective, cmdline, cfg->output_path,
                                a->force);
    if (!e)
      w2s_log(ctx, 1, "wrote %s (%lld point%s) in %.2fs", cfg->output_path,
              (long long)npts, npts > 1 ? "s" : "", w2s_wtime() - t);
  }
  for (int64_t p = 0; pts && p < npts; ++p) w2s_results_destroy(&pts[p]);
  free(pts);
  free(cmdline);
  w2s_sweep_free(&sw);
  w2s_config_destroy(&cfg);
  return e;
}

int w2s_cmd_simulate(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  w2s_ctx *ctx = NULL;
  int code = 1;
  if (w2s_ctx_create(MPI_COMM_WORLD, 1, &ctx) != W2S_OK) {
    fprintf(stderr, "w2s simulate: error: cannot create the MPI context\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  sim_args a = {0};
  w2s_err e = w2s_check_launch(ctx);
  if (!e) e = parse_args(ctx, argc, argv, &a);
  ctx->verbosity = a.verbosity;
  if (e) {
    w2s_cli_report(ctx, "simulate", e);
    code = w2s_err_exit_code(e);
  } else if (a.help || a.help_config) {
    if (ctx->rank == 0) {
      if (a.help) simulate_usage(stdout);
      if (a.help_config) w2s_config_print_help(stdout);
    }
    code = 0;
  } else {
    w2s_blas_warn(ctx, "simulate");
    e = run(ctx, argc, argv, &a);
    if (e) w2s_cli_report(ctx, "simulate", e);
    code = w2s_err_exit_code(e);
  }
  free(a.sets);
  free(a.sweeps);
  free(a.output_set);
  w2s_ctx_destroy(&ctx);
  MPI_Finalize();
  return code;
}
