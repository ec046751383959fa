#!/usr/bin/env python3
"""Source-to-callable time (issue 10): `latent grad --time`'s compile_seconds (parse,
data, transformed data, lowering, differentiation, LLVM, machine code, linking) with an
empty object cache and with a warm one, median of --reps runs each, for every example
with data and the loop programs of bench/loops: the change-point model (T = 112),
a NADE at D = 784, GARCH(1,1) at T = 1000 (also written with a counted while loop) and the logistic regression (N = 10000,
D = 100), and the whole `latent grad` process's wall time with the warm cache (start-up
included). Also each one's time per gradient, and GARCH's compile time at T = 250 ...
4000 with the slope per time step (it should not grow with T: loops are not unrolled).

Usage: bench/compile_time.py [--latent build/latent] [--reps 3]
"""
import argparse, json, os, random, statistics, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--latent", default="build/latent")
ap.add_argument("--reps", type=int, default=3)
a = ap.parse_args()
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
work = tempfile.mkdtemp(prefix="latent-compile-")


def write(name, obj):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        json.dump(obj, f)
    return path


def garch_data(T):
    rng = random.Random(2)
    return write("garch%d.json" % T, {"T": T, "r": [rng.gauss(0, 1) for _ in range(T)], "sigma1": 1.0})


def loop_programs():
    rng = random.Random(1)
    # The coal-mining disasters, 1851-1962 (the Stan User's Guide's change-point example).
    disasters = [4, 5, 4, 1, 0, 4, 3, 4, 0, 6, 3, 3, 4, 0, 2, 6, 3, 3, 5, 4, 5, 3, 1, 4, 4, 1, 5, 5, 3, 4, 2, 5, 2, 2,
                 3, 4, 2, 1, 3, 2, 1, 1, 1, 1, 1, 3, 0, 0, 1, 0, 1, 1, 0, 0, 3, 1, 0, 3, 2, 2, 0, 1, 1, 1, 0, 1, 0, 1,
                 0, 0, 0, 2, 1, 0, 0, 0, 1, 1, 0, 2, 2, 3, 1, 1, 2, 1, 1, 1, 1, 2, 4, 2, 0, 0, 0, 1, 4, 0, 0, 0, 1, 0,
                 0, 0, 0, 0, 1, 0, 0, 1, 0, 1]
    loops = os.path.join(root, "bench", "loops")
    return [
        ("change-point T=112", os.path.join(loops, "changepoint.stan"),
         write("changepoint.json", {"r_e": 1 / 3, "r_l": 1 / 3, "T": len(disasters), "D": disasters})),
        ("NADE D=784 H=20", os.path.join(loops, "nade.stan"),
         write("nade.json", {"D": 784, "H": 20, "x": [rng.randint(0, 1) for _ in range(784)]})),
        ("GARCH(1,1) T=1000", os.path.join(loops, "garch.stan"), garch_data(1000)),
        ("GARCH while T=1000", os.path.join(loops, "garch_while.stan"), garch_data(1000)),
        ("logistic N=10000 D=100", os.path.join(root, "examples", "logistic", "model.lat"), logistic_data()),
    ]


def logistic_data():
    path = os.path.join(work, "logistic.json")
    subprocess.run([sys.executable, os.path.join(root, "bench", "make_logistic_data.py"), "10000", "100", path],
                   check=True, capture_output=True)
    return path


def run(model, data, cache, timed=True):
    env = dict(os.environ, LATENT_CACHE_DIR=cache)
    start = time.perf_counter()
    r = subprocess.run([a.latent, "grad", model, "--data", data] + (["--time"] if timed else []), capture_output=True,
                       text=True, env=env, timeout=600)
    wall = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit("%s failed: %s" % (model, r.stderr.strip()))
    out = json.loads(r.stdout)
    if not timed:
        return wall
    return out["compile_seconds"], out["seconds_per_gradient"]


def measure(model, data):
    empty, warm, process, per_gradient = [], [], [], []
    for rep in range(a.reps):
        cache = tempfile.mkdtemp(prefix="cache-", dir=work)
        c, g = run(model, data, cache)  # empty cache
        empty.append(c)
        per_gradient.append(g)
        c, _ = run(model, data, cache)  # the same cache, now warm
        warm.append(c)
        process.append(run(model, data, cache, timed=False))  # the whole command, warm, no timing loop
    return (statistics.median(empty), statistics.median(warm), statistics.median(process),
            statistics.median(per_gradient))


programs = []
for name in sorted(os.listdir(os.path.join(root, "examples"))):
    model = os.path.join(root, "examples", name, "model.lat")
    data = os.path.join(root, "examples", name, "data.json")
    if os.path.exists(model) and os.path.exists(data):
        programs.append((name, model, data))
programs += loop_programs()

print("%-22s %12s %12s %14s %14s" % ("program", "empty (ms)", "warm (ms)", "process (ms)", "per gradient"))
for name, model, data in programs:
    empty, warm, process, g = measure(model, data)
    print("%-22s %12.1f %12.1f %14.1f %11.1f us" % (name, 1e3 * empty, 1e3 * warm, 1e3 * process, 1e6 * g), flush=True)

print("\nGARCH(1,1): compile time (empty cache) against T")
points = []
for T in (250, 500, 1000, 2000, 4000):
    empty, _, _, _ = measure(os.path.join(root, "bench", "loops", "garch.stan"), garch_data(T))
    points.append((T, empty))
    print("  T = %5d  %8.1f ms" % (T, 1e3 * empty), flush=True)
(t0, c0), (t1, c1) = points[0], points[-1]
print("slope: %.4f ms per time step (from T = %d to %d)" % (1e3 * (c1 - c0) / (t1 - t0), t0, t1))
