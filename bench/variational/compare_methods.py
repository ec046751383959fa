#!/usr/bin/env python3
"""Issue 15's comparison: every approximate method of latent against a long NUTS run.

For each posterior (eight schools, logistic regression with 101 parameters, a
hierarchical logistic regression, a Poisson GLM with an offset, kidiq, arK, GARCH),
runs latent's NUTS as the reference (4 chains x 5000 draws), then ADVI (mean-field
and full-rank), DADVI (mean-field with linear response, full-rank), Pathfinder and
Laplace with --seeds seeds each, and prints, per model and method:

  - the worst posterior-mean error over all output columns, in reference posterior
    sds (median over seeds), the worst seed's, and whether any seed failed;
  - the median wall time of the fit (compile included);
  - the Pareto k-hat the fit reports (median over seeds).

With --stan, also rstan's vb (meanfield and fullrank) when Rscript finds rstan
(it compiles each model once, 40-60 s). Usage:

  python3 bench/variational/compare_methods.py --latent build/latent [--seeds 3] [--stan]
"""
import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

METHODS = [
    ("advi", ["--method", "advi"]),
    ("fullrank", ["--method", "fullrank"]),
    ("dadvi", ["--method", "dadvi"]),
    ("dadvi-fullrank", ["--method", "dadvi", "--family", "fullrank"]),
    ("dadvi-fullrank+psis", ["--method", "dadvi", "--family", "fullrank", "--psis-resample"]),
    ("pathfinder", ["--method", "pathfinder"]),
    ("laplace", ["--method", "laplace"]),
    ("laplace+psis", ["--method", "laplace", "--psis-resample"]),
    ("dadvi-fullrank+psis-10k", ["--method", "dadvi", "--family", "fullrank", "--psis-resample", "--draws", "10000"]),
]


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f)


def make_data(tmp):
    """The data sets that are not examples: seeded, written to tmp."""
    rng = random.Random(15)
    # logistic regression, N = 1000, D = 100 (101 parameters)
    n, d = 1000, 100
    beta = [rng.gauss(0, 0.3) for _ in range(d)]
    X, y = [], []
    for _ in range(n):
        row = [round(rng.gauss(0, 1), 6) for _ in range(d)]
        eta = 0.5 + sum(b * v for b, v in zip(beta, row))
        X.append(row)
        y.append(1 if rng.random() < 1 / (1 + math.exp(-eta)) else 0)
    write_json(os.path.join(tmp, "logistic.json"), {"N": n, "D": d, "X": X, "y": y})
    # hierarchical logistic regression: J = 10 groups, 40 observations each
    J, per = 10, 40
    a = [rng.gauss(-0.5, 0.8) for _ in range(J)]
    g, x, y = [], [], []
    for j in range(J):
        for _ in range(per):
            xv = rng.gauss(0, 1)
            p = 1 / (1 + math.exp(-(a[j] + 0.7 * xv)))
            g.append(j + 1)
            x.append(round(xv, 6))
            y.append(1 if rng.random() < p else 0)
    write_json(os.path.join(tmp, "hier_logistic.json"), {"N": J * per, "J": J, "g": g, "x": x, "y": y})
    # Poisson regression with an exposure offset: N = 200, 3 covariates
    n = 200
    X, expo, y = [], [], []
    for _ in range(n):
        row = [round(rng.gauss(0, 1), 6) for _ in range(3)]
        e = round(math.exp(rng.uniform(0, 3)), 4)
        rate = e * math.exp(-1.0 + 0.3 * row[0] - 0.2 * row[1] + 0.1 * row[2])
        # Poisson by inversion (small rates) or a normal approximation (large ones)
        if rate < 30:
            k, p, u = 0, math.exp(-rate), rng.random()
            c = p
            while u > c:
                k += 1
                p *= rate / k
                c += p
        else:
            k = max(0, int(round(rng.gauss(rate, math.sqrt(rate)))))
        X.append(row)
        expo.append(e)
        y.append(k)
    write_json(os.path.join(tmp, "poisson.json"), {"N": n, "K": 3, "X": X, "exposure": expo, "y": y})


def models(tmp):
    ex = lambda name: (os.path.join(ROOT, "examples", name, "model.lat"),
                       os.path.join(ROOT, "examples", name, "data.json"))
    return [
        ("eight_schools", *ex("eight_schools")),
        ("logistic_101", os.path.join(ROOT, "examples", "logistic", "model.lat"), os.path.join(tmp, "logistic.json")),
        ("hier_logistic", os.path.join(HERE, "hier_logistic.lat"), os.path.join(tmp, "hier_logistic.json")),
        ("poisson_offset", os.path.join(HERE, "poisson_offset.lat"), os.path.join(tmp, "poisson.json")),
        ("kidiq", *ex("kidiq")),
        ("arK", *ex("ark")),
        ("garch", *ex("garch")),
    ]


def read_csv(path, skip_first_row):
    """Columns of a CmdStan CSV (comments skipped), without the __ ones."""
    header, rows = None, []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cells = line.strip().split(",")
            if header is None:
                header = cells
                continue
            rows.append([float(c) for c in cells])
    if skip_first_row:
        rows = rows[1:]
    cols = {}
    for i, name in enumerate(header):
        if not name.endswith("__"):
            cols[name] = [r[i] for r in rows]
    return cols


def reference(latent, model, data, tmp, name):
    out = os.path.join(tmp, name + "_nuts.csv")
    subprocess.run([latent, "fit", model, "--data", data, "--method", "nuts", "--chains", "4", "--samples", "5000",
                    "--seed", "1", "-o", out], check=True, capture_output=True, text=True)
    cols = {}
    for c in range(1, 5):
        for k, v in read_csv(out.replace(".csv", "_%d.csv" % c), False).items():
            cols.setdefault(k, []).extend(v)
    return {k: (statistics.fmean(v), statistics.pstdev(v)) for k, v in cols.items()}


def pareto_k(json_path):
    """The k-hat the fit stored (null: not computed, or -inf for an exact fit)."""
    try:
        with open(json_path) as f:
            k = json.load(f).get("pareto_k")
        return float("nan") if k is None else float(k)
    except (OSError, ValueError):
        return float("nan")


def worst_error(cols, ref):
    worst = 0.0
    for k, (mean, sd) in ref.items():
        if k not in cols or sd <= 1e-12:
            continue
        worst = max(worst, abs(statistics.fmean(cols[k]) - mean) / sd)
    return worst


def run_method(latent, model, data, args, seed, tmp, name):
    out = os.path.join(tmp, "%s_%s_%d.csv" % (name, "_".join(args[1:]), seed))
    fit_json = out.replace(".csv", ".json")
    start = time.perf_counter()
    r = subprocess.run([latent, "fit", model, "--data", data, *args, "--seed", str(seed), "-o", out, "-o", fit_json,
                        "-q"],
                       capture_output=True, text=True)
    wall = time.perf_counter() - start
    # exit 3: written, with a warning (not converged); anything else but 0 is a failure
    if r.returncode not in (0, 3) or not os.path.exists(out):
        return None, wall, float("nan"), r.stderr.strip().splitlines()[-1:] or ["?"]
    # the variational CSVs (advi, dadvi) start with the mean of the approximation
    cols = read_csv(out, args[1] in ("advi", "fullrank", "dadvi"))
    status = "not converged" if r.returncode == 3 else ""
    return cols, wall, pareto_k(fit_json), [status] if status else []


STAN_VB = r"""
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(rstan))
sm <- stan_model(args[1])
data <- jsonlite::fromJSON(args[2])
for (algorithm in c("meanfield", "fullrank")) for (seed in seq_len(as.integer(args[4]))) {
  t0 <- Sys.time()
  fit <- tryCatch(vb(sm, data = data, algorithm = algorithm, seed = seed, refresh = 0),
                  error = function(e) NULL)
  t1 <- as.numeric(Sys.time() - t0, units = "secs")
  out <- sprintf("%s/%s_%d.csv", args[3], algorithm, seed)
  if (!is.null(fit)) write.csv(as.data.frame(fit), out, row.names = FALSE)
  cat(algorithm, seed, t1, "\n")
}
"""


def stan_vb(model, data, seeds, tmp, name):
    """rstan's vb on the same model (the .lat file is Stan). {method: [(cols, wall)]}."""
    d = os.path.join(tmp, "stan_" + name)
    os.makedirs(d, exist_ok=True)
    stan_file = os.path.join(d, "model.stan")
    with open(model) as src, open(stan_file, "w") as dst:
        dst.write(src.read())
    script = os.path.join(d, "vb.R")
    with open(script, "w") as f:
        f.write(STAN_VB)
    r = subprocess.run(["Rscript", script, stan_file, data, d, str(seeds)], capture_output=True, text=True)
    results = {"stan-meanfield": [], "stan-fullrank": []}
    for line in r.stdout.splitlines():
        algorithm, seed, wall = line.split()
        path = os.path.join(d, "%s_%s.csv" % (algorithm, seed))
        cols = None
        if os.path.exists(path):
            with open(path) as f:
                header = [h.strip('"') for h in f.readline().strip().split(",")]
                rows = [[float(c) for c in line.strip().split(",")] for line in f if line.strip()]
            # rstan names x[1] as x.1.; CmdStan's as x.1 -- compare through one spelling
            cols = {h.replace("[", ".").replace("]", "").rstrip("."): [r[i] for r in rows]
                    for i, h in enumerate(header) if not h.endswith("__")}
        results["stan-" + algorithm].append((cols, float(wall)))
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latent", required=True)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--stan", action="store_true", help="also rstan's vb (needs Rscript with rstan)")
    ap.add_argument("--only", help="comma-separated model names")
    ap.add_argument("--methods", help="comma-separated method names (default: all)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="latent-vi-bench-")
    make_data(tmp)
    print("| model | method | worst mean error (sd), median over seeds | worst seed | wall (s) | k-hat | notes |")
    print("|---|---|---|---|---|---|---|")
    for name, model, data in models(tmp):
        if a.only and name not in a.only.split(","):
            continue
        ref = reference(a.latent, model, data, tmp, name)
        for method, args in METHODS:
            if a.methods and method not in a.methods.split(","):
                continue
            errors, walls, ks, notes = [], [], [], set()
            for seed in range(a.seeds):
                cols, wall, k, note = run_method(a.latent, model, data, args, seed, tmp, name)
                walls.append(wall)
                notes.update(n for n in note if n)
                if cols is None:
                    errors.append(float("inf"))
                    continue
                errors.append(worst_error(cols, ref))
                ks.append(k)
            failed = sum(1 for e in errors if math.isinf(e))
            if failed:
                notes.add("%d of %d seeds failed" % (failed, a.seeds))
            print("| %s | %s | %.2f | %.2f | %.2f | %s | %s |" % (
                name, method, statistics.median(errors), max(errors), statistics.median(walls),
                "%.2f" % statistics.median(ks) if ks else "-", "; ".join(sorted(notes))[:120]), flush=True)
        if a.stan:
            renamed = {k.replace("[", ".").replace("]", "").replace(",", "."): v for k, v in ref.items()}
            for method, runs in stan_vb(model, data, a.seeds, tmp, name).items():
                errors = [worst_error(c, renamed) if c else float("inf") for c, _ in runs]
                if errors:
                    print("| %s | %s | %.2f | %.2f | %.2f | - | rstan 2.21 vb |" % (
                        name, method, statistics.median(errors), max(errors),
                        statistics.median(w for _, w in runs)), flush=True)


if __name__ == "__main__":
    main()
