#!/usr/bin/env python3
"""Runs `latent grad` on every posterior of a posteriordb checkout and tallies the
first error of each failure (issue 13's measure: how many posteriors compile and
evaluate). Usage: check_all.py --latent build/latent --posteriordb DIR [--show]
DIR holds posterior_database/{posteriors,models/stan,data/data} with the data
unzipped (see bench/posteriordb/README.md)."""
import argparse, collections, json, os, re, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument("--latent", required=True)
ap.add_argument("--posteriordb", required=True)
ap.add_argument("--show", action="store_true", help="print each posterior's result")
ap.add_argument("--timeout", type=float, default=60)
a = ap.parse_args()
root = os.path.join(a.posteriordb, "posterior_database")
passed, reasons = [], collections.Counter()
examples = {}
for name in sorted(os.listdir(os.path.join(root, "posteriors"))):
    post = json.load(open(os.path.join(root, "posteriors", name)))
    model = os.path.join(root, "models", "stan", post["model_name"] + ".stan")
    data = os.path.join(root, "data", "data", post["data_name"] + ".json")
    if not os.path.exists(data):
        reasons["data file missing"] += 1
        continue
    try:
        r = subprocess.run([a.latent, "grad", model, "--data", data], capture_output=True, text=True,
                           timeout=a.timeout)
        ok = r.returncode == 0
        err = r.stderr
    except subprocess.TimeoutExpired:
        ok, err = False, "timeout after %g s" % a.timeout
    if ok:
        passed.append(name)
    else:
        line = next((l for l in err.splitlines() if "error" in l or "timeout" in l), err.splitlines()[0] if err else "?")
        line = re.sub(r"^.*?error: ", "", line)
        reason = re.sub(r"'[^']*'", "'…'", line)[:90] if not re.search("unknown (function|distribution)|is not supported", line) else line[:90]
        reasons[reason] += 1
        examples.setdefault(reason, name)
    if a.show:
        print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + line), flush=True)
total = len(os.listdir(os.path.join(root, "posteriors")))
print("%d of %d posteriors compile and evaluate (latent grad)" % (len(passed), total))
for reason, n in reasons.most_common():
    print("%4d  %s   (e.g. %s)" % (n, reason, examples.get(reason, "")))
