#!/usr/bin/env python3
"""NUTS against Stan, per model, in one run (bench/run_nuts_benchmark.sh).

For each posteriordb model (the same program text for both systems: bench/stan/*.stan,
which latent also reads), 4 chains x (1000 warm-up + 1000 draws), adapt_delta 0.8, diag_e:

  latent: `latent fit --method nuts` as a whole process with an empty compile cache;
          its own report of compile and sampling (warm-up + draws, all chains) wall
          time; the minimum bulk ESS over parameters and transformed parameters from
          `latent summary --json`.
  Stan:   rstan 2.21 (bench/nuts_stan.R): stan_model() time; sampling() wall time with
          cores = 1 and cores = 2, the faster one counted; rstan's ess_bulk(). Also
          Stan's chains' own elapsed time (no R overhead) spread over 2 cores, as a
          bound on what CmdStan could do on this machine.

Prints per model the medians over --reps repetitions (seeds 1, 2, ...) and the ratios
of minimum bulk ESS per second, latent / Stan, excluding and including compilation.
"""
import argparse, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

MODELS = ["eight_schools", "kidiq", "ark", "garch", "mixture", "linear_regression"]


def data_of(root, model):
    return f"{root}/examples/{model}/data.json"


def run_latent(latent, root, model, seed, work):
    cache = tempfile.mkdtemp(prefix="latent-cache-", dir=work)  # empty: compile time is real
    out = f"{work}/{model}_{seed}.csv"
    cmd = [latent, "fit", f"{root}/bench/stan/{model}.stan", "--data", data_of(root, model), "--method", "nuts",
           "--chains", "4", "--warmup", "1000", "--samples", "1000", "--seed", str(seed), "-o", out]
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, LATENT_CACHE_DIR=cache))
    wall = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"latent failed on {model}:\n{p.stderr}")
    m = re.search(r"compiled in ([0-9.]+) s; .* in ([0-9.]+) s \(warm-up and sampling\)", p.stderr)
    summary = json.loads(subprocess.run([latent, "summary", out, "--json"], capture_output=True, text=True,
                                        check=True).stdout)
    columns = [v for v in summary["variables"] if v["variable"] != "lp__"]
    low = min(columns, key=lambda v: v["ess_bulk"])
    shutil.rmtree(cache, ignore_errors=True)
    return {"wall": wall, "compile": float(m.group(1)), "sampling": float(m.group(2)), "ess": low["ess_bulk"],
            "ess_column": low["variable"], "rhat": max(v["rhat"] for v in columns),
            "divergences": summary["divergences"]}


def run_stan(root, model, reps, work):
    out = f"{work}/{model}_stan.json"
    p = subprocess.run(["Rscript", f"{root}/bench/nuts_stan.R", f"{root}/bench/stan/{model}.stan",
                        data_of(root, model), str(reps), "1", out], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"rstan failed on {model}:\n{p.stderr[-3000:]}")
    return json.load(open(out))


def have_rstan():
    if shutil.which("Rscript") is None:
        return False
    return subprocess.run(["Rscript", "-e", "suppressMessages(library(rstan))"], capture_output=True).returncode == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=None)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--no-stan", action="store_true")
    ap.add_argument("--json", help="also write every measurement to this file")
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    latent = os.path.join(a.build or f"{root}/build", "latent")
    stan = not a.no_stan and have_rstan()
    if not stan:
        print("(Stan skipped: no Rscript with rstan; apt-get install r-base-core r-cran-rstan)")
    work = tempfile.mkdtemp(prefix="nuts-bench-")
    results = {}
    med = statistics.median
    header = (f"{'model':18s} {'latent wall':>11s} {'compile':>8s} {'sampling':>9s} {'min ESS':>8s} "
              f"{'ESS/s samp':>10s} {'ESS/s all':>10s}")
    if stan:
        header += (f" | {'Stan comp':>9s} {'sampling':>9s} {'min ESS':>8s} {'ESS/s samp':>10s} {'ESS/s all':>9s}"
                   f" {'chains/2':>8s} | {'ratio samp':>10s} {'ratio all':>9s} {'vs chains':>9s}")
    print(header)
    try:
        for model in a.models.split(","):
            lat = [run_latent(latent, root, model, seed, work) for seed in range(1, a.reps + 1)]
            r = {"latent": lat}
            line = (f"{model:18s} {med(x['wall'] for x in lat):11.2f} {med(x['compile'] for x in lat):8.3f} "
                    f"{med(x['sampling'] for x in lat):9.2f} {med(x['ess'] for x in lat):8.0f} "
                    f"{med(x['ess'] / x['sampling'] for x in lat):10.0f} {med(x['ess'] / x['wall'] for x in lat):10.0f}")
            if stan:
                s = run_stan(root, model, a.reps, work)
                r["stan"] = s
                best = []  # per repetition: the faster of cores = 1 and cores = 2
                for rep in range(a.reps):
                    pair = [x for x in s["runs"] if x["seed"] == rep + 1]
                    best.append(min(pair, key=lambda x: x["wall_seconds"]))
                comp = s["compile_seconds"]
                samp_rate = med(b["min_ess_bulk"] / b["wall_seconds"] for b in best)
                all_rate = med(b["min_ess_bulk"] / (comp + b["wall_seconds"]) for b in best)
                chain_rate = med(x["min_ess_bulk"] / (sum(x["chain_seconds"]) / 2) for x in s["runs"])
                lat_samp = med(x["ess"] / x["sampling"] for x in lat)
                lat_all = med(x["ess"] / x["wall"] for x in lat)
                line += (f" | {comp:9.1f} {med(b['wall_seconds'] for b in best):9.2f} "
                         f"{med(b['min_ess_bulk'] for b in best):8.0f} {samp_rate:10.0f} {all_rate:9.1f} "
                         f"{chain_rate:8.0f} | {lat_samp / samp_rate:10.1f} {lat_all / all_rate:9.0f} "
                         f"{lat_samp / chain_rate:9.1f}")
            print(line, flush=True)
            results[model] = r
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if a.json:
        json.dump(results, open(a.json, "w"), indent=1)
    print("\nlatent wall: the whole process (empty compile cache); sampling: warm-up and draws of all chains, wall;")
    print("ESS/s samp: minimum bulk ESS per second of sampling; ESS/s all: per second including compilation.")
    if stan:
        print("Stan sampling: rstan's sampling() wall, the faster of cores = 1 and cores = 2; chains/2: ESS per")
        print("second of Stan's chains' own elapsed time spread over 2 cores (no R overhead). Ratios: latent / Stan;")
        print("'vs chains' compares latent's sampling with Stan's chains/2.")


if __name__ == "__main__":
    main()
