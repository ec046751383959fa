#!/usr/bin/env python3
"""Golden tests of latent's error messages and of the IR it prints.

Each case is a bad program bad/<category>/<name>.lat, or a good one
ir/<name>.lat whose compiler stages are printed (`latent ir`, through its .cmd),
with its expected output <name>.expected beside it. The command run for a case is, with
the working directory tests/golden (so that paths in messages are relative):

  - <name>.cmd exists:  latent ARGS, where ARGS is the file's first line split
    like a shell would (shlex), with {model} and {data} replaced by the paths
    of <name>.lat and <name>.json;
  - <name>.json exists: latent grad <name>.lat --data <name>.json --seed 1
    (data reader, lowering and the run-time checks at a seeded random point);
  - otherwise:          latent check <name>.lat

The expected file holds exactly the bytes the command wrote to stdout, then
the bytes it wrote to stderr, then the line "exit: N" (N the exit status). If
the output is not empty and does not end with a newline, one "\n" is added
before the exit line. Comparison is byte for byte.

A bad program must fail cleanly: exit status 1 (a user error); an ir/ case
must succeed (status 0). Any other status, an internal error (status 2), a
crash (a signal) or a run longer than the timeout fails the case and is never written as expected output, also with
--update (list such inputs in KNOWN_DEFECTS.md instead). --update runs every
case twice and refuses to write output that differs between the runs.

Usage: run.py --latent PATH/TO/latent [--update] [--filter SUBSTRING] [--jobs N]
"""

import argparse
import concurrent.futures
import difflib
import os
import shlex
import subprocess
import sys

TIMEOUT_SECONDS = 60
HERE = os.path.dirname(os.path.abspath(__file__))


CASE_DIRECTORIES = ("bad", "ir")


def walk_cases():
    for top in CASE_DIRECTORIES:
        yield from os.walk(top)


def find_cases(filter_text):
    cases = []
    for root, _, files in walk_cases():
        for f in files:
            if f.endswith(".lat"):
                path = os.path.join(root, f)[: -len(".lat")].replace(os.sep, "/")
                if filter_text is None or filter_text in path:
                    cases.append(path)
    return sorted(cases)


def orphan_expected(filter_text):
    """Expected files without their program (a case that was renamed or deleted)."""
    out = []
    for root, _, files in walk_cases():
        for f in files:
            if f.endswith(".expected"):
                base = os.path.join(root, f)[: -len(".expected")].replace(os.sep, "/")
                if (filter_text is None or filter_text in base) and not os.path.exists(base + ".lat"):
                    out.append(base + ".expected")
    return sorted(out)


def command(latent, case):
    model, data = case + ".lat", case + ".json"
    if os.path.exists(case + ".cmd"):
        with open(case + ".cmd", encoding="utf-8") as f:
            line = f.readline().strip()
        args = [a.replace("{model}", model).replace("{data}", data) for a in shlex.split(line)]
        return [latent] + args
    if os.path.exists(data):
        return [latent, "grad", model, "--data", data, "--seed", "1"]
    return [latent, "check", model]


def run_case(latent, case):
    """Returns (output bytes in the expected-file format, problem or None)."""
    env = dict(os.environ, LATENT_CACHE="off")
    try:
        p = subprocess.run(command(latent, case), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT_SECONDS, env=env)
    except subprocess.TimeoutExpired:
        return b"", "timed out after %d s" % TIMEOUT_SECONDS
    out = p.stdout + p.stderr
    if out and not out.endswith(b"\n"):
        out += b"\n"
    out += b"exit: %d\n" % p.returncode
    problem = None
    must_succeed = case.startswith("ir/")
    if must_succeed:
        if p.returncode != 0:
            problem = "exit status %d: this case must succeed" % p.returncode
    elif p.returncode == 0:
        problem = "exit status 0: a bad program must fail"
    elif p.returncode < 0:
        problem = "killed by signal %d" % -p.returncode
    elif p.returncode != 1:
        problem = "exit status %d (an internal error, not a user error)" % p.returncode
    elif b"internal error" in out:
        problem = "the output reports an internal error"
    return out, problem


def show(data):
    return data.decode("utf-8", errors="backslashreplace").splitlines(keepends=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--latent", required=True, help="the latent binary")
    ap.add_argument("--update", action="store_true", help="(re)write the expected files")
    ap.add_argument("--filter", help="only the cases whose path contains this text")
    ap.add_argument("--exclude", help="leave out the cases whose path contains this text")
    ap.add_argument("--jobs", type=int, default=1, help="cases run at once (default 1)")
    args = ap.parse_args()
    latent = os.path.abspath(args.latent)
    os.chdir(HERE)

    cases = [c for c in find_cases(args.filter) if not (args.exclude and args.exclude in c)]
    if not cases:
        print("golden: no cases" + (" match '%s'" % args.filter if args.filter else ""))
        return 1

    def work(case):
        out, problem = run_case(latent, case)
        if args.update and problem is None:
            again, problem = run_case(latent, case)
            if problem is None and again != out:
                problem = "the output differs between two runs (not deterministic)"
        return case, out, problem

    passed, failed, written = 0, [], 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for case, out, problem in pool.map(work, cases):
            expected_path = case + ".expected"
            if problem is not None:
                failed.append(case)
                print("FAIL %s: %s" % (case, problem))
                sys.stdout.writelines("  | " + l for l in show(out))
                continue
            if args.update:
                old = None
                if os.path.exists(expected_path):
                    with open(expected_path, "rb") as f:
                        old = f.read()
                if old != out:
                    with open(expected_path, "wb") as f:
                        f.write(out)
                    written += 1
                    print("wrote %s" % expected_path)
                passed += 1
                continue
            if not os.path.exists(expected_path):
                failed.append(case)
                print("FAIL %s: %s is missing (run with --update, then review it)" % (case, expected_path))
                continue
            with open(expected_path, "rb") as f:
                expected = f.read()
            if expected == out:
                passed += 1
                continue
            failed.append(case)
            print("FAIL %s" % case)
            sys.stdout.writelines(difflib.unified_diff(show(expected), show(out), expected_path, "actual output"))

    orphans = orphan_expected(args.filter)
    for o in orphans:
        print("FAIL %s: no program %s beside it" % (o, o[: -len(".expected")] + ".lat"))
    summary = "golden: %d passed, %d failed" % (passed, len(failed) + len(orphans))
    if args.update:
        summary += ", %d expected files written" % written
    print(summary)
    return 1 if failed or orphans else 0


if __name__ == "__main__":
    sys.exit(main())
