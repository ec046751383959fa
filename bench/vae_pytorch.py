#!/usr/bin/python3
"""PyTorch reference for the VAE benchmark (Fashion-MNIST, 784-400-20).

The canonical VAE of pytorch/examples (vae/main.py): encoder 784-400 ReLU with
heads 400-20 for the mean and the log variance; decoder 20-400 ReLU -400-784
sigmoid; loss = binary cross-entropy (summed) on the intensities in [0, 1] plus
the analytic KL divergence to N(0, I); Adam, lr 1e-3; batch 128; shuffled each
epoch.  The data are read from the IDX files directly (gzip + numpy).

Output (stdout), the same contract as `latent fit` / `latent eval`:
  epoch E train_neg_elbo X images_per_s R seconds S     (one line per epoch)
  test_neg_elbo X                                      (per image, one draw from q)
  test_iwae_ll K X                                     (log-likelihood estimate per image)
  throughput_epochs_2_to_last R                        (mean images/s over epochs 2..last)
Lines starting with '#' describe the configuration (BLAS in effect, threads...).

PyTorch from Debian links libblas.so.3.  If OpenBLAS (pthread flavour) is
installed the script re-executes itself with it first on LD_LIBRARY_PATH and
with OPENBLAS_NUM_THREADS = --threads, so the comparison is always against
PyTorch with OpenBLAS (pass --blas system to keep whatever libblas.so.3 is).
It also sets OMP_WAIT_POLICY=PASSIVE (--omp-wait default to leave it): with the
stock spinning OpenMP workers, 2 threads on 2 cores ran at half the speed of 1.

Must run under an interpreter that has torch: Debian's /usr/bin/python3 with
python3-torch (apt-get install python3-torch libopenblas0-pthread
dataset-fashion-mnist).
"""
import argparse
import math
import sys
import time

from torch_reference import (add_common_args, fashion_mnist, finish_args, print_peak_rss, reexec_if_needed,
                             start_torch)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(p)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--iwae", type=int, default=100, metavar="K",
                   help="importance samples per test image for the IWAE estimate (0: skip)")
    return finish_args(p.parse_args())


def main():
    args = parse_args()
    reexec_if_needed(args, "LATENT_VAE_BENCH_REEXEC")

    import numpy as np
    torch = start_torch(args)
    from torch import nn
    import torch.nn.functional as F

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    train, test = fashion_mnist(args)
    train = torch.from_numpy(train.astype(np.float32) / 255.0)
    test = torch.from_numpy(test.astype(np.float32) / 255.0)
    print(f"# train images {train.shape[0]}, test images {test.shape[0]}")
    sys.stdout.flush()

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 400)
            self.fc21 = nn.Linear(400, 20)
            self.fc22 = nn.Linear(400, 20)
            self.fc3 = nn.Linear(20, 400)
            self.fc4 = nn.Linear(400, 784)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar):
            std = torch.exp(0.5 * logvar)
            eps = torch.randn_like(std)
            return mu + eps * std

        def decode(self, z):
            h3 = F.relu(self.fc3(z))
            return torch.sigmoid(self.fc4(h3))

        def forward(self, x):
            mu, logvar = self.encode(x)
            z = self.reparameterize(mu, logvar)
            return self.decode(z), mu, logvar

    def loss_function(recon_x, x, mu, logvar):
        bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return bce + kld

    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    n = train.shape[0]
    rates = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        start = time.perf_counter()
        total = 0.0
        perm = torch.randperm(n)
        for i in range(0, n, args.batch):
            x = train[perm[i:i + args.batch]]
            optimizer.zero_grad()
            recon, mu, logvar = model(x)
            loss = loss_function(recon, x, mu, logvar)
            loss.backward()
            total += loss.item()
            optimizer.step()
        seconds = time.perf_counter() - start
        rate = n / seconds
        rates.append(rate)
        print(f"epoch {epoch} train_neg_elbo {total / n:.4f} images_per_s {rate:.1f} seconds {seconds:.3f}")
        sys.stdout.flush()

    model.eval()
    with torch.no_grad():
        # The reference's test loop: batches of 128, one draw from q per image.
        total = 0.0
        for i in range(0, test.shape[0], args.batch):
            x = test[i:i + args.batch]
            recon, mu, logvar = model(x)
            total += loss_function(recon, x, mu, logvar).item()
        print(f"test_neg_elbo {total / test.shape[0]:.4f}")
        sys.stdout.flush()

        if args.iwae > 0:
            # log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K,
            # z_k ~ q(z|x); batches of images so that images * K stays about 5000 rows.
            K = args.iwae
            per = max(1, 5000 // K)
            half_log_2pi = 0.5 * math.log(2 * math.pi)
            total = 0.0
            for i in range(0, test.shape[0], per):
                x = test[i:i + per]
                b = x.shape[0]
                mu, logvar = model.encode(x)
                std = torch.exp(0.5 * logvar)
                eps = torch.randn(K, b, mu.shape[1])
                z = mu + eps * std                                          # K x b x 20
                recon = model.decode(z.reshape(K * b, -1)).reshape(K, b, -1)
                log_px_z = -F.binary_cross_entropy(recon, x.expand(K, b, -1), reduction="none").sum(-1)
                log_pz = (-0.5 * z.pow(2) - half_log_2pi).sum(-1)
                log_qz = (-0.5 * eps.pow(2) - half_log_2pi - 0.5 * logvar).sum(-1)
                log_w = (log_px_z + log_pz - log_qz).double()
                total += (torch.logsumexp(log_w, 0) - math.log(K)).sum().item()
            print(f"test_iwae_ll {K} {total / test.shape[0]:.4f}")

    later = rates[1:] if len(rates) > 1 else rates
    print(f"throughput_epochs_2_to_last {sum(later) / len(later):.1f}")
    print_peak_rss()


if __name__ == "__main__":
    main()
