#!/usr/bin/python3
"""The markdown tables of bench/compare_engines.sh, from its records.tsv.

Columns: median wall time over the repeats (the whole command, mpirun
included), the program's own total (w2s: /timing/total of rank 0; numpy:
seconds.total), the ratio to the reference path measured in the same run and
kernel (w2s direct, else w2s), peak RSS per rank (max over the repeats), the
OpenBLAS core that ran, the realizable identity check max |gain_train -
misfit_train| / misfit_train over pairs, and the largest relative difference
of the four test-metric medians from w2s's in the same configuration (zero to
rounding when the numpy programs draw w2s's samples, --rng w2s)."""
import argparse
import collections
import json
import statistics

import h5py
import numpy as np

KEYS = ("weak_error", "w2s_error", "misfit", "gain")
W2S = ("factor", "direct", "w2s")


def load(path):
    """(internal total seconds, medians of KEYS, identity check)."""
    if path.endswith(".json"):
        with open(path) as f:
            j = json.load(f)
        return (j["seconds"]["total"], j["seconds"]["generate"], {k: j["median"][k] for k in KEYS},
                j["max_rel_gain_minus_misfit_train"])
    with h5py.File(path, "r") as f:
        m = f["metrics"]
        gt, mt = m["gain_train"][()], m["misfit_train"][()]
        return (float(f["timing/total"][()][0]), None,
                {k: float(np.median(m[k][()])) for k in KEYS},
                float(np.max(np.abs(gt - mt) / mt)))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("records")
    p.add_argument("--np-threads", default="?")
    p.add_argument("--n", default="?")
    p.add_argument("--rng", default="?")
    a = p.parse_args()
    runs = collections.defaultdict(list)
    order = []
    with open(a.records) as f:
        for line in f:
            cfg, prog, core, _rep, wall, rss, blas, path = line.rstrip(
                "\n").split("\t")
            key = (cfg, core, prog)
            if key not in runs:
                order.append(key)
            runs[key].append((float(wall), [int(x) for x in rss.split(",")],
                              blas, path))
    row = {}
    for key in order:
        rs = runs[key]
        _, _, med, ident = load(rs[0][3])
        gen = [load(r[3])[1] for r in rs]
        nrank = len(rs[0][1])
        row[key] = {
            "wall": statistics.median(r[0] for r in rs),
            "inner": statistics.median(load(r[3])[0] for r in rs),
            "gen": None if gen[0] is None else statistics.median(gen),
            "rss": [max(r[1][i] for r in rs) / 1024.0 for i in range(nrank)],
            "blas": "/".join(sorted({r[2] for r in rs})),
            "med": med, "ident": ident, "repeats": len(rs)}
    names = {"factor": "w2s factor", "direct": "w2s direct", "w2s": "w2s",
             "batched": "numpy batched lstsq", "oneqr": "numpy one QR"}
    print("n = %s per split; w2s on 2 ranks (1 OpenBLAS thread each), numpy "
          "with %s OpenBLAS threads and --rng %s; wall = median over the "
          "repeats; own total (numpy: of which generating samples and "
          "features).\n" % (a.n, a.np_threads, a.rng))
    print("| config | kernel asked | core ran | program | wall s | own total s"
          " | x reference | peak RSS MiB/rank | gain_train-misfit_train "
          "(max rel) | test medians vs w2s (max rel) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key in order:
        cfg, core, prog = key
        r = row[key]
        ref = next((row[(cfg, core, q)] for q in ("direct", "w2s")
                    if (cfg, core, q) in row), None)
        w2s = next((row[(cfg, core, q)] for q in W2S
                    if (cfg, core, q) in row), None)
        ratio = "%.2f" % (r["wall"] / ref["wall"]) if ref else "-"
        diff = "-"
        if w2s is not None and prog not in W2S:
            diff = "%.1e" % max(abs(r["med"][k] - w2s["med"][k])
                                / abs(w2s["med"][k]) for k in KEYS)
        inner = "%.2f" % r["inner"]
        if r["gen"] is not None:
            inner += " (%.2f)" % r["gen"]
        print("| %s | %s | %s | %s (%d runs) | %.2f | %s | %s | %s | %.1e | %s |"
              % (cfg, core, r["blas"], names[prog], r["repeats"], r["wall"],
                 inner, ratio, " / ".join("%.0f" % x for x in r["rss"]),
                 r["ident"], diff))
    cfgs = list(dict.fromkeys(k[0] for k in order))
    if len(cfgs) == 2:
        big, small = cfgs
        print("\nScaling: wall time of %s over %s, same program and kernel."
              % (big, small))
        print("\n| kernel asked | program | %s s | %s s | ratio |" % (big, small))
        print("|---|---|---|---|---|")
        for (cfg, core, prog) in order:
            if cfg != big or (small, core, prog) not in row:
                continue
            b, s = row[(big, core, prog)]["wall"], row[(small, core, prog)]["wall"]
            print("| %s | %s | %.2f | %.2f | %.2f |" % (core, names[prog], b, s,
                                                       b / s))
    print("\nmedian test metrics (first run of each): " + "; ".join(
        "%s %s: %s" % (k[0], names[k[2]], ", ".join(
            "%s %.6g" % (q, row[k]["med"][q]) for q in KEYS))
        for k in order if k[1] == order[0][1]))


if __name__ == "__main__":
    main()
