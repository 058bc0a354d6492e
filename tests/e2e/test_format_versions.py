#!/usr/bin/env python3
"""Results files of the format versions w2s documents (docs/FORMAT.md,
"Format versions"), and files that lack a metric of the table.

1. A format_version 2 file built here with h5py from FORMAT.md's version-2
   layout alone (root attributes, /metrics datasets without attributes or
   metric list, the identity hash of `format_version=2`), holding the
   metrics of a fresh run: `w2s analyze --format csv` and `--format json`
   read it and print exactly the run's values, and its summary is the run's.
   The same file with the identity hash of version 3 is refused (a v2 file's
   hash is checked with its own version).
2. format_version 4 and 1 are refused with one line naming the file and the
   version.
3. A version-3 file whose /metrics lists no `w2s_error_train` (and has no
   such dataset): analyze reads it, the CSV field of that metric is empty in
   every row (never a number), the JSON rows have no such key, every other
   value is the file's. Without `gain`, which the summary needs, analyze
   exits non-zero with one line naming the file and the metric.
4. A version-3 file that lists a metric whose dataset is missing, or has no
   metric_names attribute, is refused by name.
"""
import csv
import io
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from common import check  # noqa: E402
import test_format as TF  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

# FORMAT.md "Format versions": the metrics of version 2, in its order.
V2_METRICS = list(C.FLOAT_METRICS)


def write_v2(src, dst, hash_version=2):
    """dst: the version-2 layout (FORMAT.md) holding src's metrics."""
    with h5py.File(src, "r") as s, h5py.File(dst, "w") as d:
        config = s.attrs["config"]
        canon = TF.canonical_config(config)
        h = TF.fnv1a64(["w2s-identity format_version=%d" % hash_version,
                        canon, "0 0"])
        vstr = h5py.string_dtype("utf-8")
        for name, value in (("format", "w2s-results"), ("config", config),
                            ("identity", canon),
                            ("identity_hash", "%016x" % h),
                            ("solver", "auto"), ("command_line", "test")):
            d.attrs.create(name, value, dtype=vstr)
        d.attrs["format_version"] = np.int64(2)
        d.attrs["seed"] = np.uint64(s.attrs["seed"])
        d.attrs["mpi_ranks"] = np.int64(1)
        g = d.create_group("metrics")
        g["task"] = s["metrics/task"][()].astype(np.int64)
        g.create_dataset("weak_model", data=list(
            s["metrics/weak_model"].asstr()[()]), dtype=vstr)
        for m in V2_METRICS:
            g.create_dataset(m, data=s["metrics/" + m][()],
                             dtype=np.float64, fletcher32=True, chunks=True)


def error_line(r, label, subs):
    """r failed with exactly one stderr line holding every string of subs."""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    ok = check(r.returncode != 0, "%s: exit %s, want failure"
               % (label, r.returncode))
    ok = check(len(lines) == 1, "%s: %d stderr lines, want 1: %r"
               % (label, len(lines), r.stderr[-600:])) and ok
    for s in subs:
        ok = check(s in r.stderr, "%s: %r not in %r" % (label, s, r.stderr))\
            and ok
    return ok


def csv_rows(text):
    block = text.split("\n\n")[0]
    return list(csv.DictReader(io.StringIO(block)))


def analyze_csv(path, label):
    r = C.run_w2s(["analyze", path, "--format", "csv"], timeout=60)
    if not check(r.returncode == 0, "%s: analyze csv: %s"
                 % (label, r.describe())):
        return None, r
    return csv_rows(r.stdout), r


def analyze_json(path, label):
    r = C.run_w2s(["analyze", path, "--format", "json"], timeout=60)
    if not check(r.returncode == 0, "%s: analyze json: %s"
                 % (label, r.describe())):
        return None
    try:
        return json.loads(r.stdout)
    except ValueError as exc:
        check(False, "%s: analyze json is not JSON: %s" % (label, exc))
        return None


def check_v2(tmp, cur, ref):
    v2 = os.path.join(tmp, "v2.h5")
    write_v2(cur, v2)
    rows, r = analyze_csv(v2, "v2")
    if rows is not None:
        check(len(rows) == len(ref["metrics/task"]), "v2: %d csv rows, want "
              "%d" % (len(rows), len(ref["metrics/task"])))
        for m in V2_METRICS:
            got = np.array([float(row[m]) for row in rows])
            check(np.array_equal(got, ref["metrics/" + m], equal_nan=True),
                  "v2: csv column %s differs from the file's values" % m)
    doc = analyze_json(v2, "v2")
    doc3 = analyze_json(cur, "v3")
    if doc is not None and doc3 is not None:
        check(doc["summary"] == doc3["summary"], "v2: summary %r differs "
              "from the v3 file's %r" % (doc["summary"], doc3["summary"]))
    bad = os.path.join(tmp, "v2_hash3.h5")
    write_v2(cur, bad, hash_version=3)
    r = C.run_w2s(["analyze", bad], timeout=60)
    error_line(r, "v2 with a version-3 hash", ["v2_hash3.h5",
                                               "identity_hash"])


def check_versions(tmp, cur):
    for version, subs in ((4, ["format_version 4", "reads 2 to 3"]),
                          (1, ["format_version 1", "older files"])):
        p = os.path.join(tmp, "v%d.h5" % version)
        shutil.copy(cur, p)
        with h5py.File(p, "r+") as f:
            f.attrs["format_version"] = np.int64(version)
        r = C.run_w2s(["analyze", p], timeout=60)
        error_line(r, "format_version %d" % version, ["v%d.h5" % version]
                   + subs)


def drop_metric(src, dst, name, keep_dataset=False):
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        g = f["metrics"]
        names = [n for n in g.attrs["metric_names"].split() if n != name]
        if keep_dataset:  # listed, but the dataset is gone
            names = g.attrs["metric_names"].split()
        g.attrs.create("metric_names", " ".join(names),
                       dtype=h5py.string_dtype("utf-8"))
        del g[name]


def check_absent(tmp, cur, ref):
    p = os.path.join(tmp, "no_w2s_error_train.h5")
    drop_metric(cur, p, "w2s_error_train")
    rows, r = analyze_csv(p, "absent metric")
    if rows is not None:
        header = r.stdout.splitlines()[0].split(",")
        check(header == ["file", "task", "weak_model"] + C.FLOAT_METRICS,
              "absent metric: csv header %r keeps every table column"
              % header)
        check(all(row["w2s_error_train"] == "" for row in rows),
              "absent metric: csv field w2s_error_train is not empty: %r"
              % sorted({row["w2s_error_train"] for row in rows})[:3])
        for m in C.FLOAT_METRICS:
            if m == "w2s_error_train":
                continue
            got = np.array([float(row[m]) for row in rows])
            check(np.array_equal(got, ref["metrics/" + m], equal_nan=True),
                  "absent metric: csv column %s differs" % m)
    doc = analyze_json(p, "absent metric")
    if doc is not None:
        check(all("w2s_error_train" not in row for row in doc["rows"]) and
              all("gain" in row for row in doc["rows"]),
              "absent metric: json rows must lack w2s_error_train only")
    p = os.path.join(tmp, "no_gain.h5")
    drop_metric(cur, p, "gain")
    r = C.run_w2s(["analyze", p], timeout=60)
    error_line(r, "no gain", ["no_gain.h5", "'gain'"])
    p = os.path.join(tmp, "listed_missing.h5")
    drop_metric(cur, p, "misfit_train", keep_dataset=True)
    r = C.run_w2s(["analyze", p], timeout=60)
    error_line(r, "listed but missing", ["listed_missing.h5",
                                         "/metrics/misfit_train", "missing"])
    p = os.path.join(tmp, "no_list.h5")
    shutil.copy(cur, p)
    with h5py.File(p, "r+") as f:
        del f["metrics"].attrs["metric_names"]
    r = C.run_w2s(["analyze", p], timeout=60)
    error_line(r, "no metric_names", ["no_list.h5", "metric_names"])


def main():
    with C.scratch("w2s-versions-") as tmp:
        cfg = C.write_config(tmp, tasks=4)
        cur = os.path.join(tmp, "cur.h5")
        C.simulate(cfg, cur, ranks=1)
        if not os.path.isfile(cur):
            return
        with h5py.File(cur, "r") as f:
            check(f.attrs["format_version"] == 3, "a new file has "
                  "format_version %r, want 3" % f.attrs["format_version"])
        ref = C.load(cur)
        check_v2(tmp, cur, ref)
        check_versions(tmp, cur)
        check_absent(tmp, cur, ref)


if __name__ == "__main__":
    C.main_guard(main, "test_format_versions")
