#!/usr/bin/env python3
"""The results file of the README's main job, checked against docs/FORMAT.md.

1. `bash jobs/local/realizable.sh 2 OUT` exits 0, writes OUT and prints the
   analysis table: one row per (task, weak model) pair and a Summary section.
2. With h5py: every root attribute (name, type, scalar, value: format,
   format_version 3, mpi_ranks 2, seed, solver, command_line, created as
   ISO 8601 UTC within the run's time window, config parses back as INI with
   the [strong] section and the settings of realizable.ini; identity is the
   config as FORMAT.md's "Identity" derives it and identity_hash its 64-bit
   FNV-1a, both recomputed here independently), every dataset
   under /metrics, /coefficients, /timing, /representations (name, dtype,
   shape), K = tasks * n_weak, and the pair order k = t * J + j in
   /metrics/task and /metrics/weak_model, every numeric dataset chunked
   with the Fletcher32 checksum. /representations/ridge (added
   for `w2s fit`, docs/FORMAT.md) is accepted when it is float64 [R] and
   equals fit.ridge; any other extra or missing dataset fails. /metrics
   lists its metrics (attribute metric_names, in docs/FORMAT.md's order)
   and every metric dataset carries the row of FORMAT.md's metric table
   (description, units, checks, family) as attributes: the table in the
   docs is the one the code writes.
3. The same names, types and shapes read independently from `h5dump -H`.
4. The effective config stored in the file is accepted back by
   `w2s simulate` and reproduces the same metrics.
5. `w2s analyze --format json` parses with json and holds the file's values;
   `--format csv` has a header with every metric name and one row per pair
   whose values equal the file's.
"""
import configparser
import csv
import datetime
import io
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from common import check  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

ROOT_STR_ATTRS = ["format", "w2s_version", "git_revision", "compiler",
                  "created", "command_line", "solver", "config", "blas",
                  "blas_library", "blas_version", "blas_kernel", "blas_config",
                  "identity", "identity_hash"]
ROOT_INT_ATTRS = {"format_version": np.int64, "mpi_ranks": np.int64,
                  "seed": np.uint64}
# The attributes of every /metrics dataset (format_version 3): its row of
# the metric table, the columns of docs/FORMAT.md's table in this order.
METRIC_ATTRS = ["description", "units", "checks", "family"]
REPR_STR = ["name", "role", "source"]
REPR_NUM = {"dim": np.int64, "effective_rank": np.int64,
            "condition": np.float64}
# Added after format_version 1 was first described (docs/FORMAT.md, "the
# features file"): the ridge each head was fitted with. Optional here; when
# present it must be float64 [R] and equal fit.ridge of the run.
REPR_OPTIONAL = {"ridge": np.float64}


def is_vlen_str(dtype):
    info = h5py.check_string_dtype(dtype)
    return info is not None and info.length is None


def parse_h5dump(text):
    """{'/path': {'kind': 'dataset'|'attribute'|'group', 'type': ...,
    'shape': tuple or 'scalar'}} from `h5dump -H` output, by tracking the
    nesting of its braces."""
    objs = {}
    stack = []  # (kind, path) for named blocks, ('type', None) for others
    for raw in text.splitlines():
        line = raw.strip()
        m = re.match(r'^(GROUP|DATASET|ATTRIBUTE) "([^"]*)" \{$', line)
        if m:
            kind, name = m.group(1).lower(), m.group(2)
            parent = next((p for k, p in reversed(stack) if p is not None),
                          "")
            if kind == "group" and name == "/":
                path = ""
            else:
                path = parent + "/" + name
            stack.append((kind, path))
            objs[path or "/"] = {"kind": kind}
            continue
        cur = next((p for k, p in reversed(stack) if p is not None), None)
        m = re.match(r"^DATATYPE\s+(\S+)( \{)?$", line)
        if m:
            objs[cur or "/"]["type"] = m.group(1)
            if m.group(2):
                stack.append(("type", None))
            continue
        if line.startswith("CSET ") and cur is not None:
            objs[cur]["cset"] = line.split()[1].rstrip(";")
            continue
        if line.startswith("STRSIZE ") and cur is not None:
            objs[cur]["strsize"] = line.split()[1].rstrip(";")
            continue
        m = re.match(r"^DATASPACE\s+(.*)$", line)
        if m:
            sp = m.group(1)
            if sp.startswith("SCALAR"):
                objs[cur]["shape"] = "scalar"
            else:
                d = re.match(r"SIMPLE \{ \( ([^)]*) \)", sp)
                objs[cur]["shape"] = tuple(int(x) for x in
                                           d.group(1).split(","))
            continue
        if line.endswith("{"):
            stack.append(("other", None))
        elif line == "}":
            if stack:
                stack.pop()
    return objs


def check_root_attrs(f, out, t_start, t_end, cfgfile):
    names = set(f.attrs.keys())
    want = set(ROOT_STR_ATTRS) | set(ROOT_INT_ATTRS)
    check(names == want, "root attributes: missing %s, unexpected %s"
          % (sorted(want - names), sorted(names - want)))
    for a in ROOT_STR_ATTRS:
        if a not in f.attrs:
            continue
        aid = f.attrs.get_id(a)
        check(is_vlen_str(aid.dtype), "attribute %s: want a variable-length "
              "string, got %s" % (a, aid.dtype))
        check(aid.shape == (), "attribute %s is not scalar: %s"
              % (a, aid.shape))
        v = f.attrs[a]
        check(isinstance(v, str) and v != "", "attribute %s is empty or not "
              "a str: %r" % (a, v))
    for a, t in ROOT_INT_ATTRS.items():
        if a not in f.attrs:
            continue
        aid = f.attrs.get_id(a)
        check(aid.dtype == np.dtype(t), "attribute %s: dtype %s, want %s"
              % (a, aid.dtype, np.dtype(t)))
        check(aid.shape == (), "attribute %s is not scalar" % a)
    check(f.attrs.get("format") == "w2s-results",
          "format = %r" % f.attrs.get("format"))
    check(f.attrs.get("format_version") == 3,
          "format_version = %r" % f.attrs.get("format_version"))
    check(f.attrs.get("mpi_ranks") == 2, "mpi_ranks = %r (the job runs 2 "
          "ranks)" % f.attrs.get("mpi_ranks"))
    check(f.attrs.get("seed") == 1, "seed = %r (realizable.ini: seed = 1)"
          % f.attrs.get("seed"))
    check(f.attrs.get("solver") == "auto", "solver = %r"
          % f.attrs.get("solver"))
    kernel = f.attrs.get("blas_kernel", "")
    check(kernel != "" and ("kernel %s," % kernel) in f.attrs.get("blas", ""),
          "blas %r names blas_kernel %r" % (f.attrs.get("blas"), kernel))
    cl = f.attrs.get("command_line", "")
    check("simulate" in cl and cfgfile in cl and out in cl,
          "command_line does not name simulate, the config and the output: "
          "%r" % cl)
    created = f.attrs.get("created", "")
    ok = check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created)
               is not None, "created is not ISO 8601 UTC "
               "(YYYY-MM-DDTHH:MM:SSZ): %r" % created)
    if ok:
        c = datetime.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
        check(t_start - datetime.timedelta(seconds=2) <= c <=
              t_end + datetime.timedelta(seconds=2),
              "created %s is not between the job's start %s and end %s (UTC)"
              % (created, t_start.isoformat(), t_end.isoformat()))
    # The effective configuration: INI text with every section.
    cp = configparser.ConfigParser(interpolation=None)
    try:
        cp.read_string(f.attrs.get("config", ""))
    except configparser.Error as exc:
        check(False, "config attribute does not parse as INI: %s" % exc)
        return None
    check(cp.has_section("strong") and cp.get("strong", "source",
                                              fallback=None) == "target",
          "config has no [strong] section with source = target: sections %s"
          % cp.sections())
    expect = {("experiment", "seed"): "1", ("experiment", "tasks"): "100",
              ("data", "input_dim"): "8", ("data", "n_weak_train"): "2000",
              ("data", "n_w2s_train"): "20000", ("data", "n_test"): "20000",
              ("target", "depth"): "5", ("target", "width"): "16",
              ("weak.perturb_large", "perturb_scale"): "0.3",
              ("weak.random2", "source"): "random"}
    for (s, k), v in expect.items():
        got = cp.get(s, k, fallback=None)
        check(got is not None and (got == v or _num_eq(got, v)),
              "config %s.%s = %r, realizable.ini has %r" % (s, k, got, v))
    # output.path is the -o path, not the file's default
    check(cp.get("output", "path", fallback=None) == out,
          "config output.path = %r, want %r"
          % (cp.get("output", "path", fallback=None), out))
    return cp


def canonical_config(text):
    """docs/FORMAT.md "Identity": the config without comments, blank lines,
    the [sweep] section and [output] path, one newline per line."""
    out, section = [], ""
    for line in text.split("\n"):
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("["):
            section = s
        elif section == "[output]" and s.split("=")[0].strip() == "path":
            continue
        if section != "[sweep]":
            out.append(line + "\n")
    return "".join(out)


def fnv1a64(fields):
    """FORMAT.md: 64-bit FNV-1a over the fields, each followed by a NUL."""
    h = 0xcbf29ce484222325
    for field in fields:
        for b in field.encode() + b"\0":
            h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def check_identity(f):
    """identity and identity_hash against an independent derivation."""
    canon = canonical_config(f.attrs.get("config", ""))
    check(f.attrs.get("identity") == canon,
          "identity is not the canonical config: %r" % f.attrs.get("identity"))
    keys, values = [], []
    if "sweep/keys" in f:
        keys = list(f["sweep/keys"].asstr()[()])
        values = [v for row in f["sweep/values"].asstr()[()] for v in row]
    npoints = len(values) // len(keys) if keys else 0
    want = fnv1a64(["w2s-identity format_version=3", canon,
                    "%d %d" % (len(keys), npoints)] + keys + values)
    check(f.attrs.get("identity_hash") == "%016x" % want,
          "identity_hash %r, FNV-1a of the identity is %016x"
          % (f.attrs.get("identity_hash"), want))
    check("path" not in canon.split("[output]")[-1],
          "identity keeps [output] path")


def format_md_metrics():
    """docs/FORMAT.md's metric table: [(name, {column: text})] in order."""
    path = os.path.join(C.SRC, "docs", "FORMAT.md")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    sec = text.split("### The metric table", 1)[-1].split("\n#", 1)[0]
    rows = []
    for ln in sec.splitlines():
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        if len(cells) == 1 + len(METRIC_ATTRS) and cells[0].startswith("`"):
            rows.append((cells[0].strip("`"),
                         dict(zip(METRIC_ATTRS, cells[1:]))))
    return rows


def check_metric_table(g):
    """The file's metric list and attributes against docs/FORMAT.md."""
    doc = format_md_metrics()
    check([n for n, _ in doc] == C.FLOAT_METRICS + C.CLASS_METRICS,
          "docs/FORMAT.md's metric table lists %s, want %s"
          % ([n for n, _ in doc], C.FLOAT_METRICS + C.CLASS_METRICS))
    check(g.attrs.get("loss") == "squared",
          "/metrics attribute loss = %r, want 'squared'" % g.attrs.get("loss"))
    names = g.attrs.get("metric_names", "")
    check(isinstance(names, str) and names.split() == C.FLOAT_METRICS,
          "/metrics attribute metric_names = %r" % names)
    for name, cols in doc:
        if name not in g:
            continue
        for a in METRIC_ATTRS:
            got = g[name].attrs.get(a)
            check(got == cols[a], "/metrics/%s attribute %s = %r; "
                  "docs/FORMAT.md says %r" % (name, a, got, cols[a]))


def _num_eq(a, b):
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def check_layout(f, T, weak_names, dims):
    J = len(weak_names)
    K = T * J
    # /metrics
    g = f.get("metrics")
    check(isinstance(g, h5py.Group), "/metrics is missing")
    if g is None:
        return
    want = set(C.FLOAT_METRICS) | {"task", "weak_model"}
    got = set(g.keys())
    check(got == want, "/metrics: missing %s, unexpected %s"
          % (sorted(want - got), sorted(got - want)))
    check_metric_table(g)
    for m in C.FLOAT_METRICS:
        if m in g:
            check(g[m].dtype == np.float64 and g[m].shape == (K,),
                  "/metrics/%s: %s %s, want float64 (%d,)"
                  % (m, g[m].dtype, g[m].shape, K))
            check(np.all(np.isfinite(g[m][()]) | (m == "pgr")),
                  "/metrics/%s has non-finite values" % m)
    def numeric(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "fiu":
            check(obj.fletcher32 and obj.chunks is not None,
                  "/%s is not chunked with Fletcher32" % name)
    f.visititems(numeric)
    if "task" in g:
        check(g["task"].dtype == np.int64 and g["task"].shape == (K,),
              "/metrics/task: %s %s, want int64 (%d,)"
              % (g["task"].dtype, g["task"].shape, K))
        task = g["task"][()]
        check(np.array_equal(task, np.arange(K) // J),
              "/metrics/task is not k // J (k = t * J + j)")
    if "weak_model" in g:
        wm = g["weak_model"]
        info = h5py.check_string_dtype(wm.dtype)
        check(info is not None and info.length is None and
              info.encoding == "utf-8",
              "/metrics/weak_model: want vlen utf-8 strings, got %s %s"
              % (wm.dtype, info))
        check(wm.shape == (K,), "/metrics/weak_model shape %s" % (wm.shape,))
        names = list(wm.asstr()[()])
        want_names = [weak_names[k % J] for k in range(K)]
        check(names == want_names, "/metrics/weak_model is not the config's "
              "weak models in order, k = t * J + j: first %s" % names[:J + 1])
    # /coefficients
    c = f.get("coefficients")
    check(isinstance(c, h5py.Group), "/coefficients is missing")
    if c is not None:
        check(set(c.keys()) == {"strong_ceiling", "w2s", "weak"},
              "/coefficients members: %s" % sorted(c.keys()))
        ds = dims[0] + 1
        for name, shape in (("strong_ceiling", (T, ds)), ("w2s", (K, ds))):
            if name in c:
                check(c[name].dtype == np.float64 and c[name].shape == shape,
                      "/coefficients/%s: %s %s, want float64 %s"
                      % (name, c[name].dtype, c[name].shape, shape))
                check(np.all(np.isfinite(c[name][()])),
                      "/coefficients/%s has non-finite values" % name)
        w = c.get("weak")
        if w is not None:
            check(sorted(w.keys()) == sorted(weak_names),
                  "/coefficients/weak members %s, want %s"
                  % (sorted(w.keys()), weak_names))
            for j, n in enumerate(weak_names):
                if n in w:
                    shape = (T, dims[1 + j] + 1)
                    check(w[n].dtype == np.float64 and w[n].shape == shape,
                          "/coefficients/weak/%s: %s %s, want float64 %s"
                          % (n, w[n].dtype, w[n].shape, shape))
        # realizable: the ceiling recovers the true heads, drawn uniform in
        # +-1/sqrt(width) = +-0.25 (weights and bias)
        if "strong_ceiling" in c:
            cmax = np.max(np.abs(c["strong_ceiling"][()]))
            check(cmax <= 0.25 * (1 + 1e-6), "realizable: strong ceiling "
                  "coefficients should be the true heads (|c| <= 0.25), "
                  "max %.6g" % cmax)
    # /timing
    t = f.get("timing")
    check(isinstance(t, h5py.Group), "/timing is missing")
    if t is not None:
        check(sorted(t.keys()) == sorted(C.TIMERS + ["peak_rss_mib"]),
              "/timing members %s" % sorted(t.keys()))
        if "peak_rss_mib" in t:
            # the peak resident set of a rank (MiB, max over ranks): a
            # process of this suite is between a few and a few hundred MiB
            peak = float(t["peak_rss_mib"][0])
            check(t["peak_rss_mib"].dtype == np.float64 and 1 < peak < 4096,
                  "/timing/peak_rss_mib = %r" % peak)
        vals = {}
        for n in C.TIMERS:
            if n in t:
                check(t[n].dtype == np.float64 and t[n].shape == (1,),
                      "/timing/%s: %s %s, want float64 (1,)"
                      % (n, t[n].dtype, t[n].shape))
                vals[n] = float(t[n][0])
                check(np.isfinite(vals[n]) and vals[n] >= 0,
                      "/timing/%s = %r" % (n, vals[n]))
        if "total" in vals:
            for n, v in vals.items():
                check(v <= vals["total"] + 1e-6, "/timing/%s = %g exceeds "
                      "total %g" % (n, v, vals["total"]))
            check(vals["total"] > 0, "/timing/total is 0")
    # /representations
    r = f.get("representations")
    check(isinstance(r, h5py.Group), "/representations is missing")
    if r is not None:
        R = 1 + J
        members = set(r.keys()) - set(REPR_OPTIONAL)
        check(sorted(members) == sorted(REPR_STR + list(REPR_NUM)),
              "/representations members %s" % sorted(r.keys()))
        if "ridge" in r:
            check(r["ridge"].dtype == np.float64 and r["ridge"].shape == (R,)
                  and np.all(r["ridge"][()] == 0.0),
                  "/representations/ridge: %s %s %s, want float64 (%d,) "
                  "all 0 (fit.ridge = 0)" % (r["ridge"].dtype,
                                             r["ridge"].shape,
                                             r["ridge"][()], R))
        for n in REPR_STR:
            if n in r:
                check(is_vlen_str(r[n].dtype) and r[n].shape == (R,),
                      "/representations/%s: %s %s, want vlen str (%d,)"
                      % (n, r[n].dtype, r[n].shape, R))
        for n, tp in REPR_NUM.items():
            if n in r:
                check(r[n].dtype == np.dtype(tp) and r[n].shape == (R,),
                      "/representations/%s: %s %s, want %s (%d,)"
                      % (n, r[n].dtype, r[n].shape, np.dtype(tp), R))
        if all(n in r for n in REPR_STR + list(REPR_NUM)):
            names = list(r["name"].asstr()[()])
            check(names == ["strong"] + ["weak." + n for n in weak_names],
                  "/representations/name %s" % names)
            roles = list(r["role"].asstr()[()])
            check(roles == ["strong"] + ["weak"] * J,
                  "/representations/role %s" % roles)
            srcs = list(r["source"].asstr()[()])
            check(srcs == ["target", "perturb", "perturb", "random"],
                  "/representations/source %s" % srcs)
            check(list(r["dim"][()]) == dims, "/representations/dim %s, "
                  "want %s" % (list(r["dim"][()]), dims))
            rk = r["effective_rank"][()]
            check(np.all((rk >= 1) & (rk <= np.array(dims) + 1)),
                  "/representations/effective_rank %s outside [1, dim+1]"
                  % list(rk))
            cond = r["condition"][()]
            check(np.all(cond >= 1), "/representations/condition %s < 1"
                  % list(cond))
            # the strong representation h* has full rank in the realizable
            # run (its ceiling fits the labels to rounding)
            check(rk[0] == dims[0] + 1 and np.isfinite(cond[0]),
                  "strong representation: rank %d of %d, condition %g"
                  % (rk[0], dims[0] + 1, cond[0]))


def check_h5dump(out, T, weak_names, dims):
    r = C.run_cmd(["h5dump", "-H", out], timeout=60)
    if not check(r.returncode == 0, "h5dump -H: " + r.describe()):
        return
    objs = parse_h5dump(r.stdout)
    J = len(weak_names)
    K = T * J
    ds = dims[0] + 1
    want = {}
    for a in ROOT_STR_ATTRS:
        want["/" + a] = ("attribute", "H5T_STRING", "scalar")
    want["/format_version"] = ("attribute", "H5T_STD_I64LE", "scalar")
    want["/mpi_ranks"] = ("attribute", "H5T_STD_I64LE", "scalar")
    want["/seed"] = ("attribute", "H5T_STD_U64LE", "scalar")
    for m in C.FLOAT_METRICS:
        want["/metrics/" + m] = ("dataset", "H5T_IEEE_F64LE", (K,))
        for a in METRIC_ATTRS:
            want["/metrics/%s/%s" % (m, a)] = ("attribute", "H5T_STRING",
                                               "scalar")
    want["/metrics/metric_names"] = ("attribute", "H5T_STRING", "scalar")
    want["/metrics/loss"] = ("attribute", "H5T_STRING", "scalar")
    want["/metrics/task"] = ("dataset", "H5T_STD_I64LE", (K,))
    want["/metrics/weak_model"] = ("dataset", "H5T_STRING", (K,))
    want["/coefficients/strong_ceiling"] = ("dataset", "H5T_IEEE_F64LE",
                                            (T, ds))
    want["/coefficients/w2s"] = ("dataset", "H5T_IEEE_F64LE", (K, ds))
    for j, n in enumerate(weak_names):
        want["/coefficients/weak/" + n] = ("dataset", "H5T_IEEE_F64LE",
                                           (T, dims[1 + j] + 1))
    for n in C.TIMERS + ["peak_rss_mib"]:
        want["/timing/" + n] = ("dataset", "H5T_IEEE_F64LE", (1,))
    for n in REPR_STR:
        want["/representations/" + n] = ("dataset", "H5T_STRING", (1 + J,))
    want["/representations/dim"] = ("dataset", "H5T_STD_I64LE", (1 + J,))
    want["/representations/effective_rank"] = ("dataset", "H5T_STD_I64LE",
                                               (1 + J,))
    want["/representations/condition"] = ("dataset", "H5T_IEEE_F64LE",
                                          (1 + J,))
    got = {p: (o["kind"], o.get("type"), o.get("shape"))
           for p, o in objs.items() if o["kind"] != "group"}
    for n in REPR_OPTIONAL:  # optional, but typed when present
        if "/representations/" + n in got:
            want["/representations/" + n] = ("dataset", "H5T_IEEE_F64LE",
                                             (1 + J,))
    check(set(got) == set(want), "h5dump -H: missing %s, unexpected %s"
          % (sorted(set(want) - set(got)), sorted(set(got) - set(want))))
    for p, w in want.items():
        if p in got:
            check(got[p] == w, "h5dump -H %s: %s, want %s" % (p, got[p], w))
            if w[1] == "H5T_STRING":
                check(objs[p].get("strsize") == "H5T_VARIABLE" and
                      objs[p].get("cset") == "H5T_CSET_UTF8",
                      "h5dump -H %s: strings must be variable-length UTF-8, "
                      "got STRSIZE %s CSET %s" % (p, objs[p].get("strsize"),
                                                  objs[p].get("cset")))
    groups = sorted(p for p, o in objs.items() if o["kind"] == "group")
    check(groups == sorted(["/", "/coefficients", "/coefficients/weak",
                            "/metrics", "/representations", "/timing"]),
          "h5dump -H groups: %s" % groups)


def check_analyze(out, metrics, K):
    r = C.run_w2s(["analyze", out, "--format", "json"], timeout=60)
    if check(r.returncode == 0, "analyze --format json: " + r.describe()):
        try:
            doc = json.loads(r.stdout)
        except ValueError as exc:
            doc = None
            check(False, "analyze --format json output is not JSON: %s; "
                  "starts %r" % (exc, r.stdout[:200]))
        if doc is not None:
            rows = doc.get("rows", [])
            check(len(rows) == K, "json: %d rows, want %d" % (len(rows), K))
            check(isinstance(doc.get("summary"), dict) and
                  doc["summary"].get("pairs") == K,
                  "json summary: %r" % (doc.get("summary"),))
            for k, row in enumerate(rows[:K]):
                bad = [m for m in C.FLOAT_METRICS
                       if not _same(row.get(m), metrics[m][k])]
                if bad:
                    check(False, "json row %d differs from the file in %s"
                          % (k, bad))
                    break
    r = C.run_w2s(["analyze", out, "--format", "csv"], timeout=60)
    if check(r.returncode == 0, "analyze --format csv: " + r.describe()):
        block = r.stdout.split("\n\n")[0]
        rows = list(csv.reader(io.StringIO(block)))
        header = rows[0] if rows else []
        missing = [m for m in C.FLOAT_METRICS + ["task", "weak_model"]
                   if m not in header]
        check(not missing, "csv header %s lacks %s" % (header, missing))
        body = rows[1:]
        check(len(body) == K, "csv: %d rows, want %d" % (len(body), K))
        if not missing:
            for k, row in enumerate(body[:K]):
                d = dict(zip(header, row))
                bad = [m for m in C.FLOAT_METRICS
                       if not _same(_flt(d.get(m)), metrics[m][k])]
                if int(d["task"]) != metrics["task"][k]:
                    bad.append("task")
                if d["weak_model"] != metrics["weak_model"][k]:
                    bad.append("weak_model")
                if bad:
                    check(False, "csv row %d differs from the file in %s"
                          % (k, bad))
                    break


def _flt(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def _same(v, ref):
    """Printed with 17 significant digits, so values round-trip exactly; NaN
    (PGR where undefined) appears as null / nan."""
    if isinstance(ref, float) and np.isnan(ref) or (
            isinstance(ref, np.floating) and np.isnan(ref)):
        return v is None or (isinstance(v, float) and np.isnan(v))
    return v is not None and float(v) == float(ref)


def main():
    with C.scratch("w2s-format-") as tmp:
        out = os.path.join(tmp, "realizable.h5")
        cfgfile = os.path.join(C.SRC, "data", "configs", "realizable.ini")
        job = os.path.join(C.SRC, "jobs", "local", "realizable.sh")
        t_start = datetime.datetime.now(datetime.timezone.utc).replace(
            microsecond=0)
        r = C.run_cmd(["bash", job, "2", out], timeout=300)
        t_end = datetime.datetime.now(datetime.timezone.utc)
        C.note("jobs/local/realizable.sh 2 OUT: %.1fs" % r.seconds)
        check(r.returncode == 0, "realizable.sh: " + r.describe())
        if not check(os.path.isfile(out), "realizable.sh wrote no %s" % out):
            return
        check(not C.partials(tmp), "partial files left: %s" % C.partials(tmp))
        T, weak_names = 100, ["perturb_small", "perturb_large", "random2"]
        J = len(weak_names)
        K = T * J
        lines = r.stdout.splitlines()
        check(any(re.match(r"^Summary\b", ln) for ln in lines),
              "analysis table has no Summary section: %r" % r.stdout[-500:])
        check(any("gain vs misfit" in ln for ln in lines),
              "summary lacks the gain vs misfit line")
        rows = [ln for ln in lines if re.match(r"^\s*\d+\s+\S+\s+[-0-9.]", ln)]
        check(len(rows) == K, "analysis table has %d pair rows, want %d"
              % (len(rows), K))
        hdr = [ln for ln in lines if ln.split()[:2] == ["task", "weak_model"]]
        check(len(hdr) == 1, "analysis table header row: %r" % hdr)

        dims = [16, 16, 16, 16]  # h*, two perturbed h*, random2 width 16
        with h5py.File(out, "r") as f:
            check_root_attrs(f, out, t_start, t_end, cfgfile)
            check_identity(f)
            check_layout(f, T, weak_names, dims)
            metrics = {m: f["metrics"][m][()] for m in C.FLOAT_METRICS
                       if m in f["metrics"]}
            metrics["task"] = f["metrics/task"][()]
            metrics["weak_model"] = list(f["metrics/weak_model"].asstr()[()])
            config_text = f.attrs.get("config", "")
        check_h5dump(out, T, weak_names, dims)
        if all(m in metrics for m in C.FLOAT_METRICS):
            check_analyze(out, metrics, K)

        # The stored effective configuration is a valid config that gives
        # the same run (same seed, same samples): identical metrics.
        again_cfg = C.write_file(os.path.join(tmp, "effective.ini"),
                                 config_text)
        again = os.path.join(tmp, "again.h5")
        r = C.simulate(again_cfg, again, ranks=2, timeout=300)
        if r.returncode == 0:
            m2 = C.load(again)
            for m in C.FLOAT_METRICS:
                a, b = metrics.get(m), m2.get("metrics/" + m)
                if a is None or b is None:
                    check(False, "re-run: metric %s missing" % m)
                    continue
                same = np.array_equal(a, b, equal_nan=True)
                check(same, "re-running the stored config changes %s by %.3g"
                      % (m, np.nanmax(np.abs(a - b))))


if __name__ == "__main__":
    C.main_guard(main, "test_format")
