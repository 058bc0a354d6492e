#!/usr/bin/env python3
"""The command line's option tables, seen from outside.

1. `w2s --help` lists the subcommands (from main.c's table); each one's
   `--help` exits 0 with a "usage: ... w2s CMD" line, an "options:" list
   whose every entry has a help text, -h/--help last, aligned: the help
   texts of one command start in one column.
2. Help and parser are one table: for every long option that a command's
   --help lists, a misspelling (two adjacent characters swapped, chosen so
   that no other option of the command is as close) is refused with exit 2
   and exactly one stderr line, "w2s CMD: error: unknown option '--TYPO'
   (did you mean --NAME?); try 'w2s CMD --help'"; an option that takes a
   value, given last without one, is refused naming it ("--NAME needs a
   value"); a word close to no option gets no suggestion.
3. Unknown subcommands: `w2s simulte` suggests simulate, `w2s frobnicate`
   suggests nothing, both exit 2 with one line; `w2s help merge` is
   `w2s merge --help`.
4. Unknown config keys and sections name file:line and the nearest key or
   section ("unknown key 'n_tset' in [data] (did you mean n_test?)"); so
   do --set and --sweep.
MPI commands (simulate, fit, bench) run as one process without mpirun (a
singleton), which every MPI this project supports allows.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from common import check  # noqa: E402

TIMEOUT = 60


def osa(a, b):
    """Optimal string alignment distance (the measure w2s_suggest uses),
    to choose typos that only one option is near."""
    a, b = a.lower(), b.lower()
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if (i > 1 and j > 1 and a[i - 1] == b[j - 2] and
                    a[i - 2] == b[j - 1]):
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def commands():
    """The subcommands `w2s --help` lists."""
    r = C.run_w2s(["--help"], timeout=TIMEOUT)
    check(r.returncode == 0, "w2s --help: " + r.describe())
    text = r.stdout.split("commands:\n", 1)
    check(len(text) == 2, "w2s --help has no 'commands:' list")
    names = re.findall(r"^  ([a-z]+) ", text[-1], re.M)
    for want in ("simulate", "fit", "analyze", "merge", "bench"):
        check(want in names, "w2s --help does not list %s: %r" % (want, names))
    return names


def parse_help(cmd, text):
    """[(long name, takes a value, help column)] of a --help text."""
    check(re.search(r"^usage: .*w2s %s\b" % cmd, text, re.M) is not None,
          "%s --help: no 'usage: ... w2s %s' line" % (cmd, cmd))
    body = text.split("\noptions:\n", 1)
    if not check(len(body) == 2, "%s --help: no 'options:' list" % cmd):
        return []
    entries = []
    lines = body[1].split("\n\n", 1)[0].splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^  (?:-(\w), )?--([a-z0-9-]+)( \S+)?( +)(\S.*)?$",
                     line + " ")
        if not m:
            continue
        help_text, col = m.group(5), len(line) - len(m.group(5) or "")
        if help_text is None and i + 1 < len(lines):
            # A long head: its help starts on the next line.
            nxt = lines[i + 1]
            help_text = nxt.strip() or None
            col = len(nxt) - len(nxt.lstrip()) + 100  # not compared
        check(help_text is not None,
              "%s --help: --%s has no help text" % (cmd, m.group(2)))
        entries.append((m.group(2), m.group(3) is not None, col))
    check(bool(entries) and entries[-1][0] == "help",
          "%s --help: -h, --help is not the last entry" % cmd)
    short = [e for e in entries if e[2] < 100]
    check(len({e[2] for e in short}) == 1,
          "%s --help: help texts start in columns %s" %
          (cmd, sorted({e[2] for e in short})))
    return entries


def one_error(what, r, cmd, want=None, lacks=None):
    """Exit 2 and exactly one stderr line 'w2s CMD: error: ...'."""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    ok = check(r.returncode == 2 and len(lines) == 1,
               "%s: want exit 2 and one line, got %s" % (what, r.describe()))
    if not ok:
        return ""
    line = lines[0]
    prefix = "w2s %s: error: " % cmd if cmd else "w2s: error: "
    check(line.startswith(prefix), "%s: %r does not start with %r"
          % (what, line, prefix))
    if want:
        check(want in line, "%s: %r lacks %r" % (what, line, want))
    if lacks:
        check(lacks not in line, "%s: %r has %r" % (what, line, lacks))
    return line


def typo(name, others):
    """name with two adjacent characters swapped, nearer to name than to
    any other option (None if no swap is)."""
    for i in range(1, len(name) - 1):
        t = name[:i] + name[i + 1] + name[i] + name[i + 2:]
        if t == name or t in others:
            continue
        if all(osa(t, o) > 1 for o in others if o != name):
            return t
    return None


def options_of(cmd):
    r = C.run_w2s([cmd, "--help"], timeout=TIMEOUT)
    check(r.returncode == 0 and r.stderr.strip() == "",
          "%s --help: %s" % (cmd, r.describe()))
    entries = parse_help(cmd, r.stdout)
    C.note("%-9s --help: %d options" % (cmd, len(entries)))
    names = [e[0] for e in entries]
    tried = 0
    for name, takes_value, _ in entries:
        if name == "help":
            continue
        t = typo(name, names)
        if t is not None:
            tried += 1
            r = C.run_w2s([cmd, "--" + t], timeout=TIMEOUT)
            one_error("%s --%s" % (cmd, t), r, cmd,
                      "unknown option '--%s' (did you mean --%s?); try "
                      "'w2s %s --help'" % (t, name, cmd))
        if takes_value:
            r = C.run_w2s([cmd, "--" + name], timeout=TIMEOUT)
            one_error("%s --%s without a value" % (cmd, name), r, cmd,
                      "--%s needs a value" % name)
    check(tried >= 1, "%s: no option to misspell" % cmd)
    r = C.run_w2s([cmd, "--frobnicate"], timeout=TIMEOUT)
    one_error("%s --frobnicate" % cmd, r, cmd,
              "unknown option '--frobnicate'", lacks="did you mean")


def subcommands():
    a = C.run_w2s(["help", "merge"], timeout=TIMEOUT)
    b = C.run_w2s(["merge", "--help"], timeout=TIMEOUT)
    check(a.returncode == 0 and a.stdout == b.stdout and a.stdout,
          "w2s help merge differs from w2s merge --help: " + a.describe())
    r = C.run_w2s(["help", "mrege"], timeout=TIMEOUT)
    one_error("w2s help mrege", r, None,
              "unknown command 'mrege' (did you mean merge?)")
    r = C.run_w2s(["simulte"], timeout=TIMEOUT)
    one_error("w2s simulte", r, None,
              "unknown command 'simulte' (did you mean simulate?)")
    r = C.run_w2s(["frobnicate"], timeout=TIMEOUT)
    one_error("w2s frobnicate", r, None, "unknown command 'frobnicate'",
              lacks="did you mean")
    r = C.run_w2s(["--verison"], timeout=TIMEOUT)
    one_error("w2s --verison", r, None,
              "unknown option '--verison' (did you mean --version?)")


def config_keys(tmp):
    good = C.quick_config(tasks=2, n_weak_train=100, n_w2s_train=100,
                          n_test=100)
    lines = good.split("\n")
    at = lines.index("[data]") + 1
    bad = "\n".join(lines[:at] + ["n_tset = 100"] + lines[at:])
    path = C.write_file(os.path.join(tmp, "typo.ini"), bad)
    out = os.path.join(tmp, "out.h5")
    r = C.run_w2s(["simulate", path, "-q", "-o", out], timeout=TIMEOUT)
    one_error("config key typo", r, "simulate",
              "typo.ini:%d: unknown key 'n_tset' in [data] (did you mean "
              "n_test?)" % (at + 1))
    bad = good.replace("[data]", "[dtaa]", 1)
    path = C.write_file(os.path.join(tmp, "section.ini"), bad)
    r = C.run_w2s(["simulate", path, "-q", "-o", out], timeout=TIMEOUT)
    one_error("config section typo", r, "simulate",
              "section.ini:%d: unknown section [dtaa] (did you mean [data]?)"
              % at)
    path = C.write_file(os.path.join(tmp, "good.ini"), good)
    r = C.run_w2s(["simulate", path, "-q", "-o", out, "--set",
                   "data.n_tset=5"], timeout=TIMEOUT)
    one_error("--set key typo", r, "simulate",
              "--set data.n_tset=5: unknown key 'n_tset' in [data] (did you "
              "mean n_test?)")
    r = C.run_w2s(["simulate", path, "-q", "-o", out, "--sweep",
                   "dat.n_test=100,200"], timeout=TIMEOUT)
    one_error("--sweep section typo", r, "simulate",
              "unknown section [dat] (did you mean [data]?)")
    check(not os.path.exists(out), "a results file after the failures")


def main():
    with C.scratch("w2s-cli-opts-") as tmp:
        for cmd in commands():
            options_of(cmd)
        subcommands()
        config_keys(tmp)


if __name__ == "__main__":
    C.main_guard(main, "test_cli_opts")
