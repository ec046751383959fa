#!/usr/bin/python3
"""PyTorch reference for the RealNVP benchmark (two moons, six affine couplings).

The same network as examples/realnvp/realnvp.lat (compiler/lower/flows.cpp):
points x (N x 2); six affine coupling layers c1..c6 with 0/1 masks
keep = [1,0], [0,1], [1,0], ... applied in turn to a standard normal draw
(z -> c1 -> ... -> c6 -> x). A layer's conditioner reads a = u * keep:
h = relu(W1 a + b1) (2 -> 64), h = relu(W2 h + b2) (64 -> 64),
s = tanh(WS h + bS) * (1 - keep), t = (WT h + bT) * (1 - keep) (64 -> 2 each);
forward y = u * exp(s) + t, inverse u = (y - t) * exp(-s) with log|det| = -sum(s).
log p(x) = sum of log N(z | 0, 1) + the inverse's log-determinants, z the
inverse image of x (through c6 first, back to c1). nn.Linear's initialisation
(latent's too: uniform +-1/sqrt(fan_in) for weights and biases). Loss: the
mean negative log-likelihood over the batch; Adam, lr 1e-3; batch 256;
shuffled each epoch; float32.

Data: the JSON files of examples/realnvp/make_data.py ({"N": n, "x": [[x, y], ...]}),
the ones `latent fit` reads, given by --train and --test; without them the same
points (20000 / 5000, seeds 1 and 2, rounded to 6 digits) are generated in
memory with make_data.py's `moons`. --train-rows / --test-rows keep the first
rows; --quick is 5000 / 500 rows and 2 epochs. --data-dir (a shared option,
Fashion-MNIST's) is not used.

Output (stdout), the same contract as `latent fit` / `latent eval`:
  epoch E train_nll X points_per_s R seconds S     (one line per epoch)
  test_log_likelihood X                            (exact, nats per point)
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

from torch_reference import add_common_args, finish_args, print_peak_rss, reexec_if_needed, start_torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    # "resolve": --epochs, --quick and the row options are declared again for points, not images.
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], conflict_handler="resolve")
    add_common_args(p)
    p.add_argument("--epochs", type=int, default=None, help="default 30 (2 with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke run: first 5000 training points, 2 epochs, "
                                                        "test on 500 points")
    p.add_argument("--train-rows", type=int, default=None, help="use only the first N training points")
    p.add_argument("--test-rows", type=int, default=None, help="use only the first N test points")
    p.add_argument("--train", default=None, help="training points, JSON of make_data.py (default: generated)")
    p.add_argument("--test", default=None, help="test points, JSON of make_data.py (default: generated)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=6)
    a = p.parse_args()
    if a.epochs is None:
        a.epochs = 2 if a.quick else 30   # before finish_args, whose default (10) is the image benchmarks'
    return finish_args(a)


def load_points(path, n, seed):
    """The points of a make_data.py JSON file, or, without a path, the same points made here."""
    import numpy as np
    if path is not None:
        with open(path) as f:
            return np.asarray(json.load(f)["x"], dtype=np.float64).reshape(-1, 2)
    sys.path.insert(0, os.path.join(ROOT, "examples", "realnvp"))
    from make_data import moons
    return np.round(moons(n, np.random.default_rng(seed)), 6)


def build_flow(torch, hidden, layers):
    """The flow: a list of coupling modules, c1 first (the generative order)."""
    from torch import nn
    import torch.nn.functional as F

    class AffineCoupling(nn.Module):
        def __init__(self, dim, hidden, keep):
            super().__init__()
            self.register_buffer("keep", keep)
            self.hidden1 = nn.Linear(dim, hidden)
            self.hidden2 = nn.Linear(hidden, hidden)
            self.log_scale = nn.Linear(hidden, dim)
            self.shift = nn.Linear(hidden, dim)

        def scale_and_shift(self, u):
            # Zero on the kept column, read from the kept column only: the same in both directions.
            h = F.relu(self.hidden1(u * self.keep))
            h = F.relu(self.hidden2(h))
            moved = 1 - self.keep
            return torch.tanh(self.log_scale(h)) * moved, self.shift(h) * moved

        def forward(self, u):  # generative direction; not used in training
            s, t = self.scale_and_shift(u)
            return u * torch.exp(s) + t

        def inverse(self, y):  # (u, log|det du/dy| per row)
            s, t = self.scale_and_shift(y)
            return (y - t) * torch.exp(-s), -s.sum(1)

    class Flow(nn.Module):
        def __init__(self):
            super().__init__()
            keeps = [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])]
            self.layers = nn.ModuleList(AffineCoupling(2, hidden, keeps[i % 2]) for i in range(layers))

        def log_prob(self, x):  # per row
            log_det = 0
            for c in reversed(self.layers):
                x, ld = c.inverse(x)
                log_det = log_det + ld
            return (-0.5 * x * x - 0.5 * math.log(2 * math.pi)).sum(1) + log_det

    return Flow()


def main():
    args = parse_args()
    reexec_if_needed(args, "LATENT_REALNVP_BENCH_REEXEC")

    torch = start_torch(args)
    torch.manual_seed(args.seed)
    train = torch.from_numpy(load_points(args.train, 20000, 1)[:args.train_rows]).float()
    test = torch.from_numpy(load_points(args.test, 5000, 2)[:args.test_rows]).float()
    print(f"# train points {train.shape[0]}, test points {test.shape[0]}, "
          f"{args.layers} couplings, hidden {args.hidden}")
    sys.stdout.flush()

    flow = build_flow(torch, args.hidden, args.layers)
    optimizer = torch.optim.Adam(flow.parameters(), lr=args.lr)

    n = train.shape[0]
    rates = []
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        total = 0.0
        perm = torch.randperm(n)
        for i in range(0, n, args.batch):
            x = train[perm[i:i + args.batch]]
            optimizer.zero_grad()
            loss = -flow.log_prob(x).mean()
            loss.backward()
            total += loss.item() * x.shape[0]
            optimizer.step()
        seconds = time.perf_counter() - start
        rates.append(n / seconds)
        print(f"epoch {epoch} train_nll {total / n:.4f} points_per_s {n / seconds:.1f} seconds {seconds:.3f}")
        sys.stdout.flush()

    with torch.no_grad():
        total = sum(flow.log_prob(test[i:i + 1000]).sum().item() for i in range(0, test.shape[0], 1000))
    print(f"test_log_likelihood {total / test.shape[0]:.4f}")
    later = rates[1:] if len(rates) > 1 else rates
    print(f"throughput_epochs_2_to_last {sum(later) / len(later):.1f}")
    print_peak_rss()


if __name__ == "__main__":
    main()
