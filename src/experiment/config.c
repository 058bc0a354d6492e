/* The configuration: one table of keys (default, type, range, help), read
 * from INI text and --set overrides (config_ini.c), validated into typed
 * values with file:line:key messages, and written back as the effective
 * configuration (config_text.c). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/config_impl.h"
#include "w2s/lsq.h"

/* Fixed sections. Representation sections ([strong], [weak.NAME]) take the
 * common keys below plus their source's own keys (src/repr/source_*.c). */
static const w2s_config_key fixed_keys[] = {
    {"experiment",
     {"seed", W2S_KEY_INT, "1", 0, 9.0e18, NULL,
      "seed of every random draw (samples, weights, heads)"}},
    {"experiment",
     {"tasks", W2S_KEY_INT, "100", 1, 1e7, NULL,
      "number of fine-tuning tasks T (random heads on h*)"}},
    {"experiment",
     {"task_inputs", W2S_KEY_CHOICE, "shared", 0, 0, "shared|per_task",
      "tasks share sampled inputs, or each task draws its own"}},
    {"data",
     {"input_dim", W2S_KEY_INT, "8", 1, 1e6, NULL,
      "dimension of the inputs x"}},
    {"data",
     {"input_scale", W2S_KEY_REAL, "500", 1e-300, 1e300, NULL,
      "x ~ Normal(0, input_scale^2 I)"}},
    {"data",
     {"n_weak_train", W2S_KEY_INT, "2000", 1, 1e15, NULL,
      "samples that fit the weak heads on true labels"}},
    {"data",
     {"n_w2s_train", W2S_KEY_INT, "2000", 1, 1e15, NULL,
      "samples that fit the strong heads on weak labels"}},
    {"data",
     {"n_test", W2S_KEY_INT, "2000", 1, 1e15, NULL,
      "fresh samples on which the metrics are estimated"}},
    {"data",
     {"w2s_inputs", W2S_KEY_CHOICE, "fresh", 0, 0, "fresh|same",
      "strong heads fit weak labels on fresh x, or on the weak "
      "heads' own training x (the paper's notebook)"}},
    {"data",
     {"labels", W2S_KEY_CHOICE, "soft", 0, 0, "soft|sampled",
      "head = softmax: labels are the target's probabilities p*, or one "
      "class per sample drawn from p*"}},
    {"target",
     {"depth", W2S_KEY_INT, "5", 1, 1000, NULL,
      "layers (Linear + ReLU) of the target representation h*"}},
    {"target",
     {"width", W2S_KEY_INT, "16", 1, 1e5, NULL, "width of every layer of h*"}},
    {"target",
     {"head", W2S_KEY_CHOICE, "linear", 0, 0, "linear|softmax",
      "tasks' heads on h*: linear (squared loss) or softmax over "
      "target.classes (classification: KL gain and misfit)"}},
    {"target",
     {"classes", W2S_KEY_INT, "2", 2, 1000, NULL,
      "head = softmax: classes C (2 = logistic)"}},
    {"target",
     {"temperature", W2S_KEY_REAL, "1", 1e-6, 1e6, NULL,
      "head = softmax: the target's logits are g*(h*(x)) / temperature"}},
    {"fit",
     {"solver", W2S_KEY_STRING, "auto", 0, 0, NULL,
      "least-squares solver (one of the fit.solver list below)"}},
    {"fit",
     {"engine", W2S_KEY_CHOICE, "auto", 0, 0, "auto|factor|direct",
      "factor: every fit and metric of a split from one TSQR factor of its "
      "stacked features; direct: row-by-row fits and metric passes; auto: "
      "the cheaper by the cost model (docs/DESIGN.md); a fit.solver other "
      "than auto or tsqr means direct"}},
    {"fit",
     {"ridge", W2S_KEY_REAL, "0", 0, 1e12, NULL,
      "ridge lambda per sample, (1/n)|Ac-b|^2 + lambda |w|^2"}},
    {"fit",
     {"intercept", W2S_KEY_BOOL, "true", 0, 0, NULL,
      "heads have an (unpenalised) intercept"}},
    {"fit",
     {"rank_tol", W2S_KEY_REAL, "0", 0, 1, NULL,
      "relative singular-value cutoff; 0 = eps * max(n, p)"}},
    {"fit",
     {"block_rows", W2S_KEY_INT, "4096", 1, 1e7, NULL,
      "rows generated and folded into the fits per block"}},
    {"fit",
     {"newton_tol", W2S_KEY_REAL, "1e-12", 1e-15, 1e-2, NULL,
      "head = softmax: a Newton fit ends when |grad| <= newton_tol |grad at "
      "0|"}},
    {"fit",
     {"newton_max_iter", W2S_KEY_INT, "100", 1, 100000, NULL,
      "head = softmax: Newton iterations before a fit is refused"}},
    {"fit",
     {"student", W2S_KEY_CHOICE, "forward", 0, 0, "forward|reverse",
      "head = softmax: the student minimises mean KL(p_w || p) (forward: "
      "cross-entropy to the soft weak labels; metrics model first) or mean "
      "KL(p || p_w) (reverse, damped Gauss-Newton; metrics truth first)"}},
    {"fit",
     {"student_class", W2S_KEY_CHOICE, "linear", 0, 0, "linear|mixture",
      "head = softmax, student = reverse: softmax heads on the strong "
      "features, or mixtures of fit.mixture_components fixed ones (the "
      "task's ceiling and random heads; convex in probability space)"}},
    {"fit",
     {"mixture_components", W2S_KEY_INT, "4", 2, 64, NULL,
      "student_class = mixture: components k"}},
    {"output",
     {"path", W2S_KEY_STRING, "results.h5", 0, 0, NULL,
      "results file (-o overrides)"}},
};
enum { NFIXED = sizeof fixed_keys / sizeof fixed_keys[0] };

static const w2s_key repr_keys[] = {
    {"source", W2S_KEY_STRING, "(see help)", 0, 0, NULL,
     "where the representation comes from (default: strong=target, "
     "weak=random)"},
    {"depth", W2S_KEY_INT, "2", 0, 1000, NULL,
     "layers, for sources that build their own MLP (0 = raw inputs)"},
    {"width", W2S_KEY_INT, "16", 1, 1e5, NULL,
     "width, for sources that build their own MLP"},
};

const w2s_config_key *const w2s_config_fixed_keys = fixed_keys;
const int w2s_config_nfixed = NFIXED;
const w2s_key *const w2s_config_repr_keys = repr_keys;
const int w2s_config_nrepr = (int)(sizeof repr_keys / sizeof repr_keys[0]);

/* The last (file, then --set) value given for section.key, or NULL. */
static w2s_raw_entry *lookup(w2s_raw_list *l, const char *section,
                             const char *key) {
  w2s_raw_entry *found = NULL;
  for (int i = 0; i < l->n; ++i)
    if (strcmp(l->e[i].section, section) == 0 && strcmp(l->e[i].key, key) == 0)
      found = &l->e[i];
  return found;
}

static w2s_err parse_key(w2s_ctx *ctx, w2s_raw_list *l, const char *section,
                         const w2s_key *key, const char *def, w2s_param *out) {
  w2s_raw_entry *r = lookup(l, section, key->name);
  if (r) {
    for (int i = 0; i < l->n; ++i)
      if (strcmp(l->e[i].section, section) == 0 &&
          strcmp(l->e[i].key, key->name) == 0)
        l->e[i].used = 1;
  }
  char where[300];
  snprintf(where, sizeof where, "%s (default)", l->name);
  W2S_CALL(w2s_param_parse(ctx, key, section, r ? r->value : def,
                           r ? r->where : where, out));
  out->set = r != NULL;
  return W2S_OK;
}

/* "weak." + NAME must fit inih's section names. */
enum { MAX_WEAK_NAME = 44 };

static int valid_name(const char *s) {
  if (!*s || strlen(s) > MAX_WEAK_NAME) return 0;
  for (; *s; ++s)
    if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
  return 1;
}

/* Which representation section to read, and its default source. */
typedef struct {
  const char *section, *name, *def_source;
} repr_spec;

static w2s_err parse_repr(w2s_ctx *ctx, w2s_raw_list *l, const repr_spec *sp,
                          const w2s_config *cfg, w2s_repr_config *rc) {
  const char *section = sp->section;
  snprintf(rc->section, sizeof rc->section, "%s", section);
  snprintf(rc->name, sizeof rc->name, "%s", sp->name);
  W2S_CALL(
      parse_key(ctx, l, section, &repr_keys[0], sp->def_source, &rc->source_p));
  rc->source = w2s_repr_source_find(rc->source_p.text);
  if (!rc->source) {
    char list[256];
    w2s_repr_source_list(list, sizeof list);
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: key '%s.source' must be one of %s, got '%s'",
                    rc->source_p.where, section, list, rc->source_p.text);
  }
  W2S_CALL(parse_key(ctx, l, section, &repr_keys[1], repr_keys[1].def,
                     &rc->depth_p));
  W2S_CALL(parse_key(ctx, l, section, &repr_keys[2], repr_keys[2].def,
                     &rc->width_p));
  if (!rc->source->uses_shape) {
    const w2s_param *shape[2] = {&rc->depth_p, &rc->width_p};
    for (int s = 0; s < 2; ++s)
      if (shape[s]->set)
        return W2S_FAIL(ctx, W2S_ERR_INPUT,
                        "%s: key '%s.%s' has no effect with source = %s (it "
                        "takes [target]'s shape); remove it",
                        shape[s]->where, section, shape[s]->key->name,
                        rc->source->name);
    /* Report the shape the source really has. */
    rc->depth_p.i = cfg->target_depth;
    rc->width_p.i = cfg->target_width;
  }
  if (rc->source->nkeys > (int)(sizeof rc->own / sizeof rc->own[0]))
    return W2S_FAIL(ctx, W2S_ERR_INTERNAL, "source %s declares too many keys",
                    rc->source->name);
  for (int k = 0; k < rc->source->nkeys; ++k)
    W2S_CALL(parse_key(ctx, l, section, &rc->source->keys[k],
                       rc->source->keys[k].def, &rc->own[k]));
  if (rc->source->check)
    W2S_CALL(rc->source->check(ctx, section, rc->depth_p.i, rc->width_p.i,
                               cfg->target_width, rc->own));
  return W2S_OK;
}

static int is_fixed_section(const char *s) {
  for (int k = 0; k < NFIXED; ++k)
    if (strcmp(fixed_keys[k].section, s) == 0) return 1;
  return 0;
}

/* "unknown section [S]", with the nearest section name if one is close. */
static w2s_err unknown_section(w2s_ctx *ctx, const w2s_raw_entry *r) {
  const char *s = r->section, *dot = strchr(s, '.');
  char weak[W2S_NAME_LEN + 8];
  /* [weka.a] is most likely [weak.a]. */
  snprintf(weak, sizeof weak, "weak.%s", dot ? dot + 1 : "NAME");
  const char *const names[] = {"experiment", "data", "target", "strong",
                               weak,         "fit",  "output", "sweep"};
  int k = w2s_suggest(s, names, (int)(sizeof names / sizeof names[0]));
  if (k >= 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: unknown section [%s] (did you mean [%s]?)", r->where,
                    s, names[k]);
  return W2S_FAIL(ctx, W2S_ERR_INPUT,
                  "%s: unknown section [%s] (sections: experiment, data, "
                  "target, strong, weak.NAME, fit, output, sweep)",
                  r->where, s);
}

/* Phase 1: every section is known and every weak model's name valid;
 * unknown sections first, since they explain every key in them. Collects
 * the [sweep] lines, which the sweep module expands and validates by
 * configuring each point. */
static w2s_err check_sections(w2s_ctx *ctx, w2s_raw_list *l, w2s_config *cfg) {
  for (int i = 0; i < l->n; ++i) {
    w2s_raw_entry *r = &l->e[i];
    const char *s = r->section;
    if (s[0] == '\0')
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: key '%s' is outside any [section]", r->where,
                      r->key);
    if (!is_fixed_section(s) && strcmp(s, "strong") != 0 &&
        strncmp(s, "weak.", 5) != 0 && strcmp(s, "sweep") != 0)
      return unknown_section(ctx, r);
    if (strcmp(s, "sweep") == 0 && r->key[0]) {
      if (cfg->nsweep == W2S_MAX_SWEEP)
        return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: more than %d swept keys",
                        r->where, W2S_MAX_SWEEP);
      w2s_sweep_key *k = &cfg->sweep[cfg->nsweep++];
      snprintf(k->key, sizeof k->key, "%s", r->key);
      snprintf(k->values, sizeof k->values, "%s", r->value);
      snprintf(k->where, sizeof k->where, "%s", r->where);
      r->used = 1;
    }
    if (strncmp(s, "weak.", 5) == 0 && !valid_name(s + 5))
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: section [%s]: a weak model's name must be 1-%d "
                      "letters, digits, '_' or '-'",
                      r->where, s, MAX_WEAK_NAME);
  }
  return W2S_OK;
}

/* Phase 2b: the fixed keys' typed values, in table order, with the checks
 * that involve two keys (w2s_inputs and n_w2s_train) or another table
 * (the solver). */
static w2s_err set_fixed(w2s_ctx *ctx, const w2s_param *fixed,
                         w2s_config *cfg) {
  int k = 0;
  cfg->seed = (uint64_t)fixed[k++].i;
  cfg->tasks = fixed[k++].i;
  cfg->per_task_inputs = strcmp(fixed[k++].text, "per_task") == 0;
  cfg->input_dim = fixed[k++].i;
  cfg->input_scale = fixed[k++].r;
  cfg->n_weak_train = fixed[k++].i;
  cfg->n_w2s_train = fixed[k++].i;
  cfg->n_test = fixed[k++].i;
  const w2s_param *w2s_inputs = &fixed[k++];
  cfg->w2s_same_inputs = strcmp(w2s_inputs->text, "same") == 0;
  if (cfg->w2s_same_inputs) {
    const w2s_param *nw = &fixed[k - 3];
    if (nw->set)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: key 'data.n_w2s_train' has no effect with "
                      "data.w2s_inputs = same (the strong heads use the %lld "
                      "weak-training samples); remove it",
                      nw->where, (long long)cfg->n_weak_train);
    cfg->n_w2s_train = cfg->n_weak_train;
  }
  const w2s_param *labels = &fixed[k++];
  cfg->labels_sampled = strcmp(labels->text, "sampled") == 0;
  cfg->target_depth = fixed[k++].i;
  cfg->target_width = fixed[k++].i;
  cfg->softmax = strcmp(fixed[k++].text, "softmax") == 0;
  const w2s_param *classes = &fixed[k++], *temperature = &fixed[k++];
  cfg->classes = cfg->softmax ? classes->i : 1;
  cfg->temperature = temperature->r;
  const w2s_param *solver = &fixed[k++];
  if (strlen(solver->text) >= sizeof cfg->solver ||
      !w2s_lsq_solver_find(solver->text)) {
    char list[256];
    w2s_lsq_solver_names(list, sizeof list, "|");
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: key 'fit.solver' must be one of %s, got '%s'",
                    solver->where, list, solver->text);
  }
  memcpy(cfg->solver, solver->text, strlen(solver->text) + 1);
  const w2s_param *engine = &fixed[k++];
  cfg->engine = strcmp(engine->text, "factor") == 0   ? W2S_ENGINE_FACTOR
                : strcmp(engine->text, "direct") == 0 ? W2S_ENGINE_DIRECT
                                                      : W2S_ENGINE_AUTO;
  int any_solver = strcmp(cfg->solver, "auto") == 0 ||
                   strcmp(cfg->solver, "tsqr") == 0;
  if (cfg->engine == W2S_ENGINE_FACTOR && !any_solver)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: key 'fit.engine' = factor factors the stacked "
                    "features with tsqr; fit.solver = %s applies to "
                    "fit.engine = direct only",
                    engine->where, cfg->solver);
  /* A solver chosen by name is honoured: auto then means direct. */
  if (cfg->engine == W2S_ENGINE_AUTO && !any_solver)
    cfg->engine = W2S_ENGINE_DIRECT;
  cfg->ridge = fixed[k++].r;
  cfg->intercept = (int)fixed[k++].i;
  cfg->rank_tol = fixed[k++].r;
  cfg->block_rows = fixed[k++].i;
  const w2s_param *newton_tol = &fixed[k++], *newton_max = &fixed[k++];
  cfg->newton_tol = newton_tol->r;
  cfg->newton_max_iter = (int)newton_max->i;
  const w2s_param *student = &fixed[k++];
  cfg->student_reverse = strcmp(student->text, "reverse") == 0;
  const w2s_param *sclass = &fixed[k++], *ncomp = &fixed[k++];
  cfg->mixture = strcmp(sclass->text, "mixture") == 0 ? (int)ncomp->i : 0;
  if (cfg->mixture && !cfg->student_reverse)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: key 'fit.student_class' = mixture is the reverse "
                    "student's class (fit.student = reverse)",
                    sclass->where);
  if (!cfg->mixture && ncomp->set)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: key 'fit.mixture_components' applies to "
                    "fit.student_class = mixture only; remove it",
                    ncomp->where);
  snprintf(cfg->output_path, sizeof cfg->output_path, "%s", fixed[k++].text);
  const struct {
    const char *section;
    const w2s_param *p;
  } only_softmax[] = {{"data", labels},        {"target", classes},
                      {"target", temperature}, {"fit", newton_tol},
                      {"fit", newton_max},     {"fit", student},
                      {"fit", sclass}};
  for (size_t i = 0; i < sizeof only_softmax / sizeof only_softmax[0]; ++i)
    if (!cfg->softmax && only_softmax[i].p->set)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: key '%s.%s' applies to [target] head = softmax "
                      "only; remove it",
                      only_softmax[i].p->where, only_softmax[i].section,
                      only_softmax[i].p->key->name);
  if (cfg->softmax) {
    /* Classification heads are fitted by Newton passes over the rows. */
    if (cfg->engine == W2S_ENGINE_FACTOR)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: key 'fit.engine' = factor fits least-squares "
                      "heads; [target] head = softmax runs the direct "
                      "engine's passes (use auto or direct)",
                      engine->where);
    if (solver->set)
      return W2S_FAIL(ctx, W2S_ERR_INPUT,
                      "%s: key 'fit.solver' chooses a least-squares solver; "
                      "[target] head = softmax is fitted by Newton's method "
                      "(fit.newton_tol, fit.newton_max_iter); remove it",
                      solver->where);
    cfg->engine = W2S_ENGINE_DIRECT;
  }
  return W2S_OK;
}

/* Phase 2: every fixed key, from the file, --set or its default. */
static w2s_err read_fixed(w2s_ctx *ctx, w2s_raw_list *l, w2s_param *fixed,
                          w2s_config *cfg) {
  for (int k = 0; k < NFIXED; ++k)
    W2S_CALL(parse_key(ctx, l, fixed_keys[k].section, &fixed_keys[k].key,
                       fixed_keys[k].key.def, &fixed[k]));
  return set_fixed(ctx, fixed, cfg);
}

/* Phase 3: [strong], then each [weak.NAME] in order of first appearance. */
static w2s_err read_reprs(w2s_ctx *ctx, w2s_raw_list *l, w2s_config *cfg) {
  const repr_spec strong = {"strong", "strong", "target"};
  W2S_CALL(parse_repr(ctx, l, &strong, cfg, &cfg->strong));
  cfg->nweak = 0;
  for (int i = 0; i < l->n; ++i) {
    const char *s = l->e[i].section;
    if (strncmp(s, "weak.", 5) != 0) continue;
    int seen = 0;
    for (int j = 0; j < cfg->nweak; ++j)
      if (strcmp(cfg->weak[j].section, s) == 0) seen = 1;
    if (seen) continue;
    if (cfg->nweak == W2S_MAX_WEAK)
      return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: more than %d weak models",
                      l->e[i].where, W2S_MAX_WEAK);
    const repr_spec weak = {s, s + 5, "random"};
    W2S_CALL(parse_repr(ctx, l, &weak, cfg, &cfg->weak[cfg->nweak]));
    cfg->nweak++;
  }
  if (cfg->nweak == 0)
    return W2S_FAIL(ctx, W2S_ERR_INPUT,
                    "%s: no weak model: add at least one [weak.NAME] section",
                    l->name);
  return W2S_OK;
}

/* The representation configured by section s, or NULL (a fixed section). */
static const w2s_repr_config *repr_of(const w2s_config *cfg, const char *s) {
  if (strcmp(s, "strong") == 0) return &cfg->strong;
  for (int j = 0; j < cfg->nweak; ++j)
    if (strcmp(cfg->weak[j].section, s) == 0) return &cfg->weak[j];
  return NULL;
}

enum { MAX_KEY_NAMES = NFIXED + 3 + 8 };

/* The keys section s takes: a fixed section's, or a representation's
 * common keys and its source's own. */
static int keys_of(const w2s_repr_config *rc, const char *s,
                   const char **names) {
  int n = 0;
  if (rc) {
    for (int k = 0; k < w2s_config_nrepr; ++k) names[n++] = repr_keys[k].name;
    for (int k = 0; k < rc->source->nkeys && n < MAX_KEY_NAMES; ++k)
      names[n++] = rc->source->keys[k].name;
  }
  for (int k = 0; !rc && k < NFIXED; ++k)
    if (strcmp(fixed_keys[k].section, s) == 0)
      names[n++] = fixed_keys[k].key.name;
  return n;
}

/* "unknown key 'K' in [S]", with the source of a representation section
 * and the nearest key of the section, or else the fixed section that has
 * a key of that name. */
static w2s_err unknown_key(w2s_ctx *ctx, const w2s_config *cfg,
                           const w2s_raw_entry *r) {
  const w2s_repr_config *rc = repr_of(cfg, r->section);
  const char *names[MAX_KEY_NAMES];
  int k = w2s_suggest(r->key, names, keys_of(rc, r->section, names));
  char hint[256] = "";
  if (k >= 0) {
    snprintf(hint, sizeof hint, "did you mean %s?", names[k]);
  } else {
    for (int f = 0; f < NFIXED && !hint[0]; ++f)
      if (!strcmp(fixed_keys[f].key.name, r->key))
        snprintf(hint, sizeof hint, "it belongs in [%s]",
                 fixed_keys[f].section);
  }
  char src[64] = "";
  if (rc) snprintf(src, sizeof src, "source = %s", rc->source->name);
  return W2S_FAIL(ctx, W2S_ERR_INPUT, "%s: unknown key '%s' in [%s]%s%s%s%s%s",
                  r->where, r->key, r->section, src[0] || hint[0] ? " (" : "",
                  src, src[0] && hint[0] ? "; " : "", hint,
                  src[0] || hint[0] ? ")" : "");
}

static w2s_err build(w2s_ctx *ctx, w2s_raw_list *l, w2s_config *cfg) {
  W2S_CALL(check_sections(ctx, l, cfg));
  w2s_param fixed[NFIXED];
  W2S_CALL(read_fixed(ctx, l, fixed, cfg));
  W2S_CALL(read_reprs(ctx, l, cfg));
  /* Phase 4: every key given must have been consumed by some table. */
  for (int i = 0; i < l->n; ++i)
    if (!l->e[i].used) return unknown_key(ctx, cfg, &l->e[i]);
  return w2s_config_emit(ctx, cfg, fixed);
}

w2s_err w2s_config_parse(w2s_ctx *ctx, const char *name, const char *text,
                         const char *const *sets, int nsets, w2s_config **out) {
  const w2s_config_sets ov = {sets, NULL, nsets};
  return w2s_config_parse_at(ctx, name, text, &ov, out);
}

w2s_err w2s_config_parse_at(w2s_ctx *ctx, const char *name, const char *text,
                            const w2s_config_sets *sets, w2s_config **out) {
  /* w2s_config_load passes text on every rank (a local context is only rank
   * 0, which read it); a NULL from any caller is a clear internal error. */
  if (!text)
    return W2S_FAIL(ctx, W2S_ERR_INTERNAL, "%s: no config text to parse", name);
  w2s_raw_list l = {0};
  w2s_config *cfg = NULL;
  w2s_err e = w2s_ini_read(ctx, name, text, &l);
  if (!e) e = w2s_ini_add_sets(ctx, &l, sets);
  if (!e) e = W2S_ALLOC(ctx, cfg, 1);
  if (!e) {
    snprintf(cfg->path, sizeof cfg->path, "%s", name);
    size_t tl = strlen(text) + 1;
    e = W2S_ALLOC(ctx, cfg->text, tl);
    if (!e) {
      memcpy(cfg->text, text, tl);
      e = build(ctx, &l, cfg);
    }
  }
  free(l.e);
  if (e) {
    w2s_config_destroy(&cfg);
    return e;
  }
  *out = cfg;
  return W2S_OK;
}

w2s_err w2s_config_load(w2s_ctx *ctx, const char *path, const char *const *sets,
                        int nsets, w2s_config **out) {
  char *text = NULL;
  w2s_err e = W2S_OK;
  if (ctx->rank == 0) e = w2s_ini_read_file(ctx, path, &text);
  e = w2s_agree(ctx, e);
  if (!e && ctx->comm != MPI_COMM_NULL)
    e = w2s_agree(ctx, w2s_bcast_string(ctx, &text, 0));
  /* Every rank parses the same text, so every rank reaches the same verdict;
   * agreeing anyway keeps that true if the parser ever depends on the rank. */
  if (!e)
    e = w2s_agree(ctx, w2s_config_parse(ctx, path, text, sets, nsets, out));
  free(text);
  return e;
}

void w2s_config_destroy(w2s_config **cfg) {
  if (!cfg || !*cfg) return;
  free((*cfg)->effective);
  free((*cfg)->text);
  free(*cfg);
  *cfg = NULL;
}

int64_t w2s_repr_head_params(const w2s_config *cfg, const w2s_repr_config *rc) {
  int64_t d = rc->source->uses_shape
                  ? (rc->depth_p.i == 0 ? cfg->input_dim : rc->width_p.i)
                  : cfg->target_width;
  return d + (cfg->intercept ? 1 : 0);
}
