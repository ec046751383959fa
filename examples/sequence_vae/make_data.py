#!/usr/bin/env python3
"""Synthetic protein-like sequences for examples/sequence_vae: a family of N
sequences of L = 20 letters over the 20 amino acids, whose letters vary
together through a hidden 2-D position u ~ N(0, I) (as sequences of a family
vary along its phylogeny): letter l is categorical with logits
base[l] + W[l] u. The family (base, W) is fixed by --family-seed; the
sequences by SEED. One-hot in latent's layout: x[n, (k - 1) * L + l] = 1 when
letter l of sequence n is the k-th letter (category-major, so that
to_matrix(x, N * L, K) has one row per letter).

Usage: make_data.py N SEED OUT.json [--family-seed 2026]
"""
import argparse
import json
import math
import random

ALPHABET = "ACDEFGHIKLMNPQRSTVWY"
L = 20


def family(seed):
    rng = random.Random(seed)
    K = len(ALPHABET)
    base = [[rng.gauss(0, 1.5) for _ in range(K)] for _ in range(L)]
    weights = [[[rng.gauss(0, 1) for _ in range(2)] for _ in range(K)] for _ in range(L)]
    return base, weights


def draw_sequence(rng, base, weights):
    u = [rng.gauss(0, 1), rng.gauss(0, 1)]
    letters = []
    for l in range(L):
        logits = [base[l][k] + weights[l][k][0] * u[0] + weights[l][k][1] * u[1] for k in range(len(ALPHABET))]
        top = max(logits)
        p = [math.exp(v - top) for v in logits]
        r, total = rng.random() * sum(p), 0.0
        for k, pk in enumerate(p):
            total += pk
            if r < total:
                break
        letters.append(k)
    return letters


def main():
    a = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    a.add_argument("n", type=int)
    a.add_argument("seed", type=int)
    a.add_argument("out")
    a.add_argument("--family-seed", type=int, default=2026)
    args = a.parse_args()
    base, weights = family(args.family_seed)
    rng = random.Random(args.seed)
    K = len(ALPHABET)
    rows = []
    for _ in range(args.n):
        row = [0] * (K * L)
        for l, k in enumerate(draw_sequence(rng, base, weights)):
            row[k * L + l] = 1
        rows.append(row)
    with open(args.out, "w") as f:
        json.dump({"N": args.n, "L": L, "K": K, "x": rows}, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
