#!/usr/bin/env python3
"""Writes a logistic-regression data set (CmdStan JSON) for the benchmarks:
N rows, D standard-normal covariates, outcomes drawn from the model. Seeded."""
import json
import math
import random
import sys

def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    d = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    out = sys.argv[3] if len(sys.argv) > 3 else "logistic_data.json"
    rng = random.Random(42)
    beta = [rng.gauss(0, 0.3) for _ in range(d)]
    alpha = 0.5
    X, y = [], []
    for _ in range(n):
        row = [round(rng.gauss(0, 1), 6) for _ in range(d)]
        eta = alpha + sum(b * x for b, x in zip(beta, row))
        X.append(row)
        y.append(1 if rng.random() < 1 / (1 + math.exp(-eta)) else 0)
    with open(out, "w") as f:
        json.dump({"N": n, "D": d, "X": X, "y": y}, f)

if __name__ == "__main__":
    main()
