#!/usr/bin/python3
"""PyTorch reference for the DDPM benchmark (two moons, T = 40 steps, exact ELBO).

The same model as examples/ddpm/ddpm.lat: beta_t = 0.001 + (t - 1)(0.2 - 0.001)/(T - 1)
for t = 1..T, alpha_bar_t = prod_{s <= t} (1 - beta_s). The guide is the fixed
forward process z_t = sqrt(1 - beta_t) z_{t-1} + sqrt(beta_t) e_t (z_0 = x, e_t
standard normal, fresh per step and point); the model is
log N(z_T | 0, I) + sum_{t=1..T} log N(z_{t-1} | m(z_t, t), beta_t I), with
m(z, t) = (z - beta_t / sqrt(1 - alpha_bar_t) eps(z, t / T)) / sqrt(1 - beta_t) and
eps a 3-128-128-2 ReLU network of [z, t / T] (nn.Linear's initialisation, which
is latent's too). A point's ELBO is the model's log density minus the guide's,
all normal densities with their constants. Loss: the mean negative ELBO over the
batch, one draw of the chain per point per step; Adam, lr 1e-3; batch 256;
shuffled each epoch; float32 (--double for float64).

The chain has no learnable parameters, so it is drawn without autograd; the
network is then called once per step (batch rows each), as the model block of
ddpm.lat is written. --steps-per-call S gives S steps to one call (S * batch rows): the same
objective and gradient, and no faster here: with 2 threads S = 1..4 train at
the same speed and S = 40 (the whole chain in one call, 10240 rows whose
activations leave the cache) at 0.5-0.8 times it.

Data: the JSON files of examples/realnvp/make_data.py ({"N": n, "x": [[x, y], ...]}),
the ones `latent fit` reads, given by --train and --test; without them the same
points (20000 / 5000, seeds 1 and 2, rounded to 6 digits) are generated in
memory. --train-rows / --test-rows keep the first rows; --quick is 4000 / 1000
rows and 2 epochs. --data-dir (a shared option, Fashion-MNIST's) is not used.

--fit FILE loads the network of a `latent fit --output FILE` (weights stored
column-major with shape [in, out], used as x * W: nn.Linear.weight is W
transposed) and, with --epochs 0, only evaluates it: the check that this
objective is latent's.

Output (stdout), the same contract as `latent fit` / `latent eval`:
  epoch E train_neg_elbo X points_per_s R seconds S   (one line per epoch)
  test_elbo X                 (mean ELBO per point, --elbo-draws chains per point)
  test_iwae10 X               (log mean_k exp(log w_k) per point, K = --iwae)
  throughput_epochs_2_to_last R
Lines starting with '#' describe the configuration.  The environment (OpenBLAS,
threads) is set as in vae_pytorch.py (torch_reference.py).
"""
import argparse
import json
import math
import os
import sys
import time

from torch_reference import add_common_args, print_peak_rss, reexec_if_needed, start_torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    # "resolve": --epochs, --quick and the row options are declared again for points, not images.
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], conflict_handler="resolve")
    add_common_args(p)
    p.add_argument("--epochs", type=int, default=None, help="default 10 (2 with --quick); 0: evaluate only")
    p.add_argument("--quick", action="store_true", help="smoke run: first 4000 training points, 2 epochs, "
                                                        "test on 1000 points")
    p.add_argument("--train-rows", type=int, default=None, help="use only the first N training points")
    p.add_argument("--test-rows", type=int, default=None, help="use only the first N test points")
    p.add_argument("--train", default=None, help="training points, JSON of make_data.py (default: generated)")
    p.add_argument("--test", default=None, help="test points, JSON of make_data.py (default: generated)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--steps", type=int, default=40, help="T, the diffusion steps")
    p.add_argument("--iwae", type=int, default=10, help="K of the importance-weighted bound")
    p.add_argument("--elbo-draws", type=int, default=1,
                   help="chains per test point for test_elbo (default 1, as latent eval)")
    p.add_argument("--fit", default=None, help="start from the network of a latent fit file (JSON)")
    p.add_argument("--double", action="store_true", help="float64 throughout (default float32)")
    p.add_argument("--steps-per-call", type=int, default=1,
                   help="steps of a batch given to one network call (default 1: a call per step, the fastest "
                        "here; 40: the whole chain in one call of 40 * batch rows)")
    a = p.parse_args()
    if a.quick:
        a.train_rows = 4000 if a.train_rows is None else a.train_rows
        a.test_rows = 1000 if a.test_rows is None else a.test_rows
    if a.epochs is None:
        a.epochs = 2 if a.quick else 10
    return a


def load_points(path, n, seed):
    """The points of a make_data.py JSON file, or, without a path, the same points made here."""
    import numpy as np
    if path is not None:
        with open(path) as f:
            return np.asarray(json.load(f)["x"], dtype=np.float64).reshape(-1, 2)
    sys.path.insert(0, os.path.join(ROOT, "examples", "realnvp"))
    from make_data import moons
    return np.round(moons(n, np.random.default_rng(seed)), 6)


def load_latent_fit(net, path):
    """Copies the tensors of a latent SVI fit (h1, h2, noise) into the network."""
    import numpy as np
    import torch
    with open(path) as f:
        fit = json.load(f)
    phi = np.asarray(fit["phi"], dtype=np.float64)
    layers = {"h1": net[0], "h2": net[2], "noise": net[4]}
    seen = set()
    for t in fit["tensors"]:
        layer, kind = t["name"].split(".")
        dims, off = t["dims"], t["offset"]
        size = int(np.prod(dims))
        values = phi[off:off + size]
        target = getattr(layers[layer], kind)
        if kind == "weight":  # column-major [in, out]: read row-major it is [out, in], nn.Linear's layout
            values = values.reshape(dims[1], dims[0])
        with torch.no_grad():
            if tuple(values.shape) != tuple(target.shape):
                raise ValueError(f"{t['name']}: shape {values.shape} in the fit, {tuple(target.shape)} here")
            target.copy_(torch.from_numpy(values))
        seen.add(t["name"])
    if len(seen) != 6:
        raise ValueError(f"{path}: expected the 6 tensors of h1, h2 and noise, found {sorted(seen)}")


def main():
    args = parse_args()
    reexec_if_needed(args, "LATENT_DDPM_BENCH_REEXEC")

    import numpy as np
    torch = start_torch(args)
    from torch import nn
    torch.manual_seed(args.seed)
    dtype = torch.float64 if args.double else torch.float32
    train = torch.from_numpy(load_points(args.train, 20000, 1)[:args.train_rows]).to(dtype)
    test = torch.from_numpy(load_points(args.test, 5000, 2)[:args.test_rows]).to(dtype)
    T, H = args.steps, args.hidden
    print(f"# train points {train.shape[0]}, test points {test.shape[0]}, T {T}, hidden {H}, "
          f"{'float64' if args.double else 'float32'}, {args.steps_per_call} step(s) per network call")
    sys.stdout.flush()

    # The schedule, in double as latent's transformed data, then as columns (T, 1, 1) to broadcast over (T, B, 2).
    t_np = np.arange(1, T + 1, dtype=np.float64)
    beta_np = 0.001 + (t_np - 1) * (0.2 - 0.001) / (T - 1)
    alpha_bar_np = np.exp(np.cumsum(np.log1p(-beta_np)))
    col = lambda a: torch.tensor(a, dtype=dtype).reshape(T, 1, 1)
    beta, sqrt_beta, keep = col(beta_np), col(np.sqrt(beta_np)), col(np.sqrt(1 - beta_np))
    eps_coef = col(beta_np / np.sqrt(1 - alpha_bar_np))            # beta_t / sqrt(1 - alpha_bar_t)
    inv_keep = col(1 / np.sqrt(1 - beta_np))                       # 1 / sqrt(1 - beta_t)
    log_norm = col(-0.5 * np.log(2 * np.pi * beta_np))             # log N's constant per coordinate, sd sqrt(beta_t)
    tau = col(t_np / T)                                            # the network's time input t / T
    half_log_2pi = 0.5 * math.log(2 * math.pi)

    net = nn.Sequential(nn.Linear(3, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU(), nn.Linear(H, 2)).to(dtype)
    if args.fit is not None:
        load_latent_fit(net, args.fit)
        print(f"# network loaded from {args.fit}")

    def elbo(x):
        """One draw of the chain per point: the ELBO per point (B,)."""
        B = x.shape[0]
        with torch.no_grad():  # the guide: no parameters, so no graph
            e = torch.randn(T, B, 2, dtype=dtype)
            z = torch.empty(T + 1, B, 2, dtype=dtype)  # z[0] = x, z[t] after t steps
            z[0] = x
            for t in range(T):
                z[t + 1] = keep[t] * z[t] + sqrt_beta[t] * e[t]
            log_q = (-0.5 * e * e).sum((0, 2)) + 2 * log_norm.sum()
        zt = z[1:]                                                    # (T, B, 2): the inputs of the reverse steps
        inp = torch.cat([zt, tau.expand(T, B, 1)], 2)                 # (T, B, 3): [z_t, t / T]
        S = args.steps_per_call
        eps = torch.cat([net(inp[a:a + S].reshape(-1, 3)) for a in range(0, T, S)]).reshape(T, B, 2)
        mean = (zt - eps_coef * eps) * inv_keep                       # m(z_t, t)
        r = z[:-1] - mean                                             # z_{t-1} - m(z_t, t), z_0 = x
        log_p = (-0.5 * r * r / beta + log_norm).sum((0, 2)) + (-0.5 * z[T] * z[T] - half_log_2pi).sum(1)
        return log_p - log_q

    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    n = train.shape[0]
    rates = []
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        total = 0.0
        perm = torch.randperm(n)
        for i in range(0, n, args.batch):
            x = train[perm[i:i + args.batch]]
            optimizer.zero_grad()
            loss = -elbo(x).mean()
            loss.backward()
            total += loss.item() * x.shape[0]
            optimizer.step()
        seconds = time.perf_counter() - start
        rates.append(n / seconds)
        print(f"epoch {epoch} train_neg_elbo {total / n:.4f} points_per_s {n / seconds:.1f} seconds {seconds:.3f}")
        sys.stdout.flush()

    start = time.perf_counter()
    with torch.no_grad():
        elbo_sum, iwae_sum, chunk = 0.0, 0.0, 1000
        for i in range(0, test.shape[0], chunk):
            x = test[i:i + chunk]
            elbo_sum += sum(elbo(x).sum().item() for _ in range(args.elbo_draws)) / args.elbo_draws
            if args.iwae > 0:
                log_w = torch.stack([elbo(x) for _ in range(args.iwae)])  # (K, B)
                iwae_sum += (torch.logsumexp(log_w, 0) - math.log(args.iwae)).sum().item()
    m = test.shape[0]
    print(f"test_elbo {elbo_sum / m:.4f}")
    if args.iwae > 0:
        print(f"test_iwae{args.iwae} {iwae_sum / m:.4f}")
    print(f"# evaluation {time.perf_counter() - start:.2f} s")
    if rates:
        later = rates[1:] if len(rates) > 1 else rates
        print(f"throughput_epochs_2_to_last {sum(later) / len(later):.1f}")
    print_peak_rss()


if __name__ == "__main__":
    main()
