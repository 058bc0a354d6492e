"""What both numpy baselines share: w2s's random numbers ported to numpy, the
networks and task heads, a split's features, the command line and the JSON.

The RNG is Random123's Philox4x64-10 (as src/rng/rng.c uses it): every value
is a pure function of (seed, stream, c0, c1, c2, k), element k from counter
(c0, c1, c2, k // 4), slot k % 4. With --rng w2s (the default) the programs
draw the same networks, heads and samples as `w2s simulate` with the same
seed: networks and heads bit for bit (the uniform transform is exact IEEE
arithmetic), samples up to the last-ulp differences between numpy's and the
C library's log/cos/sin. --rng numpy draws the samples with numpy's own
Generator instead (faster; the networks and heads stay w2s's), so the metrics
then agree with w2s only statistically.
"""
import argparse
import json
import resource
import time

import numpy as np

MASK64 = 0xFFFFFFFFFFFFFFFF
STREAM_SAMPLES, STREAM_TARGET, STREAM_TASK_HEADS = 1, 2, 3
SPLIT_WEAK, SPLIT_W2S, SPLIT_TEST = 0, 1, 2
# The experiment (data/configs/realizable.ini without the perturb models).
INPUT_DIM, INPUT_SCALE, TARGET_DEPTH, WIDTH, WEAK_DEPTH = 8, 500.0, 5, 16, 2

_M0, _M1 = 0xD2E7470EE14C6C93, 0xCA5A826395121157  # Philox multipliers
_W0, _W1 = 0x9E3779B97F4A7C15, 0xBB67AE8584CAA73B  # Weyl key increments
_LO32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


def _mulhilo(m, x):
    """(hi, lo) 64-bit halves of the 128-bit product of the constant m and
    the uint64 array x, from 32-bit limbs (numpy has no 128-bit integers)."""
    m0, m1 = np.uint64(m & 0xFFFFFFFF), np.uint64(m >> 32)
    x0, x1 = x & _LO32, x >> _S32
    p00, p01, p10, p11 = m0 * x0, m0 * x1, m1 * x0, m1 * x1
    mid = (p00 >> _S32) + (p01 & _LO32) + (p10 & _LO32)
    hi = p11 + (p01 >> _S32) + (p10 >> _S32) + (mid >> _S32)
    return hi, np.uint64(m) * x


def philox4x64(seed, stream, c0, c1, c2, c3):
    """Philox4x64-10 of counters (c0, c1, c2, c3) (scalars or uint64 arrays
    broadcast together) under key (seed, stream): the four output words."""
    with np.errstate(over="ignore"):
        shape = np.broadcast(c0, c1, c2, c3).shape
        v = [np.broadcast_to(np.asarray(c, dtype=np.uint64), shape).copy()
             for c in (c0, c1, c2, c3)]
        k0, k1 = seed & MASK64, stream & MASK64
        for r in range(10):
            if r:
                k0, k1 = (k0 + _W0) & MASK64, (k1 + _W1) & MASK64
            hi0, lo0 = _mulhilo(_M0, v[0])
            hi1, lo1 = _mulhilo(_M1, v[2])
            v = [hi1 ^ v[1] ^ np.uint64(k0), lo1, hi0 ^ v[3] ^ np.uint64(k1),
                 lo0]
    return v


def _unit53(bits):
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def uniform(seed, stream, c0, c1, c2, n, lo, hi):
    """w2s_rng_uniform: n values lo + (hi - lo) u, u in [0, 1) on 53 bits."""
    w = philox4x64(seed, stream, c0, c1, c2, np.arange((n + 3) // 4))
    u = np.stack([_unit53(x) for x in w], axis=1).ravel()[:n]
    return lo + (hi - lo) * u


def normal_rows(seed, stream, c0, c1, rows, d):
    """w2s_rng_normal for every row i in `rows` (c2 = i), d values each:
    Box-Muller on each counter's slot pairs (0, 1) and (2, 3)."""
    nblk = (d + 3) // 4
    w = philox4x64(seed, stream, c0, c1, rows[:, None].astype(np.uint64),
                   np.arange(nblk, dtype=np.uint64)[None, :])
    z = np.empty((len(rows), nblk, 4))
    for j in (0, 2):
        rad = np.sqrt(-2.0 * np.log(_unit53(w[j]) + 2.0 ** -53))
        ang = 2.0 * np.pi * _unit53(w[j + 1])
        z[:, :, j], z[:, :, j + 1] = rad * np.cos(ang), rad * np.sin(ang)
    return z.reshape(len(rows), 4 * nblk)[:, :d]


def stream_of(name, salt=0):
    """w2s_rng_stream_of: 64-bit FNV-1a of the section name, top bit set."""
    h = 1469598103934665603 ^ salt
    for ch in name.encode():
        h = ((h ^ ch) * 1099511628211) & MASK64
    return h | (1 << 63)


def mlp_init(seed, stream, in_dim, width, depth):
    """w2s_mlp_init_uniform: layer l's W (width x fan_in, stored column-major)
    then b, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), from counters (l, 0, 0)."""
    layers = []
    for l in range(depth):
        fan = in_dim if l == 0 else width
        b = 1.0 / np.sqrt(fan)
        p = uniform(seed, stream, l, 0, 0, width * fan + width, -b, b)
        layers.append((p[:width * fan].reshape(fan, width), p[width * fan:]))
    return layers  # each W stored as W^T (fan_in x width): h @ W^T


def mlp_forward(layers, x):
    h = x
    for wt, b in layers:
        h = np.maximum(h @ wt + b, 0.0)
    return h


def task_heads(seed, tasks):
    """[tasks, 17]: a_t (16 weights) then the intercept b_t, U(-1/4, 1/4)."""
    b = 1.0 / np.sqrt(WIDTH)
    return np.stack([uniform(seed, STREAM_TASK_HEADS, t, 0, 0, WIDTH + 1,
                             -b, b) for t in range(tasks)])


def weak_sections(k):
    """The [weak.NAME] sections the bench configs use for k weak models."""
    return ["weak.random2"] if k == 1 else ["weak.random2_%d" % j
                                            for j in range(k)]


class Experiment:
    """Networks and heads; features of any rows of any split."""

    def __init__(self, args):
        self.args = args
        s = args.seed
        self.target = mlp_init(s, STREAM_TARGET, INPUT_DIM, WIDTH,
                               TARGET_DEPTH)
        self.weak = [mlp_init(s, stream_of(name), INPUT_DIM, WIDTH,
                              WEAK_DEPTH) for name in weak_sections(args.weak)]
        self.heads = task_heads(s, args.tasks)
        self.A, self.b = self.heads[:, :WIDTH].T, self.heads[:, WIDTH]

    def inputs(self, split, i0, m):
        if self.args.rng == "w2s":
            z = normal_rows(self.args.seed, STREAM_SAMPLES, split, 0,
                            np.arange(i0, i0 + m, dtype=np.uint64), INPUT_DIM)
        else:
            g = np.random.Generator(np.random.Philox(
                key=[self.args.seed, split], counter=[0, i0, 0, 0]))
            z = g.standard_normal((m, INPUT_DIM))
        return INPUT_SCALE * z

    def features(self, split, i0, m):
        """h* (= h_s: strong source = target) and every h_w, rows i0..i0+m."""
        x = self.inputs(split, i0, m)
        return mlp_forward(self.target, x), [mlp_forward(w, x)
                                             for w in self.weak]


def parse(doc):
    p = argparse.ArgumentParser(description=doc)
    p.add_argument("--n", type=float, default=1e6, help="samples per split")
    p.add_argument("--tasks", type=int, default=100)
    p.add_argument("--weak", type=int, default=1,
                   help="random 2-layer width-16 weak models")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rng", choices=("w2s", "numpy"), default="w2s")
    p.add_argument("--block", type=int, default=100000,
                   help="rows generated (and factored) at a time")
    p.add_argument("--max-doubles", type=float, default=1.25e8,
                   help="numpy_batched: values in one n x tasks matrix")
    p.add_argument("--out", help="JSON file of times, RSS and metrics")
    p.add_argument("--coef", help="npz file of the fitted coefficients")
    a = p.parse_args()
    a.n = int(a.n)
    return a


class Timer:
    def __init__(self):
        self.t = {}

    def add(self, phase, t0):
        self.t[phase] = self.t.get(phase, 0.0) + time.perf_counter() - t0


def finish(args, program, timer, t_start, m, coef):
    """m: dict of [T, K] arrays (weak_error, w2s_error, misfit, gain on test;
    *_train on the w2s split). Writes the JSON and prints a summary line."""
    timer.t["total"] = time.perf_counter() - t_start
    ident = np.abs(m["gain_train"] - m["misfit_train"]) / m["misfit_train"]
    out = {
        "program": program, "n": args.n, "tasks": args.tasks,
        "weak": args.weak, "seed": args.seed, "rng": args.rng,
        "seconds": timer.t,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        / 1024.0,
        "median": {k: float(np.median(v)) for k, v in m.items()},
        "max_rel_gain_minus_misfit_train": float(ident.max()),
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
    if args.coef:
        np.savez(args.coef, **coef)
    print(json.dumps(out))
