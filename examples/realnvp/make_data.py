"""Two moons (as scikit-learn's make_moons, with Gaussian noise of sd 0.05):
train.json (20 000 points) and test.json (5 000), from fixed seeds.

    python3 make_data.py [--train N] [--test N] [--out DIR]
"""
import argparse
import json
import os

import numpy as np


def moons(n, rng, noise=0.05):
    t = rng.uniform(0, np.pi, n)
    upper = rng.uniform(size=n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    return np.stack([x, y], 1) + noise * rng.normal(size=(n, 2))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=int, default=20000)
    p.add_argument("--test", type=int, default=5000)
    p.add_argument("--out", default=".")
    a = p.parse_args()
    for name, n, seed in (("train", a.train, 1), ("test", a.test, 2)):
        points = moons(n, np.random.default_rng(seed))
        with open(os.path.join(a.out, name + ".json"), "w") as f:
            json.dump({"N": n, "x": np.round(points, 6).tolist()}, f)


if __name__ == "__main__":
    main()
