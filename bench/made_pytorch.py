#!/usr/bin/python3
"""PyTorch reference for the MADE benchmark (binarised Fashion-MNIST, 784-500-784).

The same network as examples/made/made.lat: pixels in row-major order; hidden
unit j (1..500) has degree 1 + (j - 1)(D - 1) // 500 and reads pixels up to its
degree; output d reads hidden units of degree < d; ReLU; Bernoulli logits;
nn.Linear's initialisation, the weights multiplied by their 0/1 masks. Loss:
binary cross-entropy with logits, summed over the batch; Adam, lr 1e-3; batch
100; shuffled each epoch. Pixels are binarised at intensity 0.5 (byte >= 128),
as latent's `x_binary` field.

Output (stdout), the same contract as `latent fit` / `latent eval`:
  epoch E train_nll X images_per_s R seconds S     (one line per epoch)
  test_log_likelihood X                            (exact, nats per image)
  throughput_epochs_2_to_last R
Lines starting with '#' describe the configuration.  The environment (OpenBLAS,
threads) is set as in vae_pytorch.py (torch_reference.py).
"""
import argparse
import sys
import time

from torch_reference import (add_common_args, fashion_mnist, finish_args, print_peak_rss, reexec_if_needed,
                             start_torch)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(p)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, default=500)
    return finish_args(p.parse_args())


def main():
    args = parse_args()
    reexec_if_needed(args, "LATENT_MADE_BENCH_REEXEC")

    import numpy as np
    torch = start_torch(args)
    from torch import nn
    import torch.nn.functional as F

    torch.manual_seed(args.seed)
    train, test = fashion_mnist(args)
    train = torch.from_numpy((train >= 128).astype(np.float32))
    test = torch.from_numpy((test >= 128).astype(np.float32))
    D, H = train.shape[1], args.hidden
    print(f"# train images {train.shape[0]}, test images {test.shape[0]}, hidden {H}")
    sys.stdout.flush()

    order = torch.arange(1, D + 1)
    degree = 1 + (torch.arange(H) * (D - 1)) // H
    hidden_mask = (order[None, :] <= degree[:, None]).float()   # (out H, in D), nn.Linear's layout
    output_mask = (degree[None, :] < order[:, None]).float()    # (out D, in H)

    class MaskedLinear(nn.Linear):
        def __init__(self, n_in, n_out, mask):
            super().__init__(n_in, n_out)
            self.register_buffer("mask", mask)

        def forward(self, x):
            return F.linear(x, self.weight * self.mask, self.bias)

    model = nn.Sequential(MaskedLinear(D, H, hidden_mask), nn.ReLU(), MaskedLinear(H, D, output_mask))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    def neg_log_likelihood(x):  # summed over the images of x
        return F.binary_cross_entropy_with_logits(model(x), x, reduction="sum")

    n = train.shape[0]
    rates = []
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        total = 0.0
        perm = torch.randperm(n)
        for i in range(0, n, args.batch):
            x = train[perm[i:i + args.batch]]
            optimizer.zero_grad()
            loss = neg_log_likelihood(x)
            loss.backward()
            total += loss.item()
            optimizer.step()
        seconds = time.perf_counter() - start
        rates.append(n / seconds)
        print(f"epoch {epoch} train_nll {total / n:.4f} images_per_s {n / seconds:.1f} seconds {seconds:.3f}")
        sys.stdout.flush()

    with torch.no_grad():
        total = sum(neg_log_likelihood(test[i:i + 1000]).item() for i in range(0, test.shape[0], 1000))
    print(f"test_log_likelihood {-total / test.shape[0]:.4f}")
    later = rates[1:] if len(rates) > 1 else rates
    print(f"throughput_epochs_2_to_last {sum(later) / len(later):.1f}")
    print_peak_rss()


if __name__ == "__main__":
    main()
