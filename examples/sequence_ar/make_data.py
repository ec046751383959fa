#!/usr/bin/env python3
"""Synthetic sequences for examples/sequence_ar: N sequences of L letters of the
alphabet ACGT from a first-order Markov chain (a fixed start distribution and
transition matrix), one-hot in latent's layout: x[n, (k - 1) * L + l] = 1 when
letter l of sequence n is the k-th letter of the alphabet (category-major, so
that to_matrix(x, N * L, K) has one row per letter).

Usage: make_data.py N SEED OUT.json
"""
import json
import random
import sys

ALPHABET = "ACGT"
START = [0.4, 0.1, 0.2, 0.3]
TRANSITION = [  # row: previous letter, column: next letter
    [0.70, 0.10, 0.10, 0.10],
    [0.05, 0.05, 0.45, 0.45],
    [0.25, 0.25, 0.25, 0.25],
    [0.10, 0.60, 0.20, 0.10],
]
L = 8


def draw(rng, probabilities):
    u, total = rng.random(), 0.0
    for k, p in enumerate(probabilities):
        total += p
        if u < total:
            return k
    return len(probabilities) - 1


def main():
    n, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = random.Random(seed)
    K = len(ALPHABET)
    rows = []
    for _ in range(n):
        letters = [draw(rng, START)]
        while len(letters) < L:
            letters.append(draw(rng, TRANSITION[letters[-1]]))
        row = [0] * (K * L)
        for l, k in enumerate(letters):
            row[k * L + l] = 1
        rows.append(row)
    with open(out, "w") as f:
        json.dump({"N": n, "L": L, "K": K, "x": rows}, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
