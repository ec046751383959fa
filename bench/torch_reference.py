"""What the PyTorch references of bench/ share: the environment PyTorch must
start in (OpenBLAS first, its threads, passive OpenMP waiting), the report of
the BLAS in effect, the common options and the IDX reader for Fashion-MNIST.
Imported by vae_pytorch.py and made_pytorch.py."""
import gzip
import os
import sys

OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-pthread"
DATA_DIR = "/usr/share/datasets/fashion-mnist"


def add_common_args(p):
    """The options every reference has: epochs, --quick, threads, BLAS, OpenMP waiting, malloc, data."""
    p.add_argument("--epochs", type=int, default=None, help="default 10 (2 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: first 5000 training images, 2 epochs, test on 500 images")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads and OpenBLAS threads")
    p.add_argument("--blas-threads", type=int, default=None, help="OpenBLAS threads (default: --threads)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-rows", type=int, default=None, help="use only the first N training images")
    p.add_argument("--test-rows", type=int, default=None, help="use only the first N test images")
    p.add_argument("--data-dir", default=DATA_DIR)
    p.add_argument("--blas", choices=["openblas", "system"], default="openblas",
                   help="openblas (default): put OpenBLAS first if installed; system: libblas.so.3 as resolved")
    p.add_argument("--omp-wait", choices=["passive", "default"], default="passive",
                   help="passive (default): OMP_WAIT_POLICY=PASSIVE, so that idle OpenMP workers sleep "
                        "instead of spinning against OpenBLAS's threads (with 2 threads on 2 cores the "
                        "stock spinning halves throughput); default: leave the environment as it is")
    p.add_argument("--no-malloc-trim", action="store_true",
                   help="tune glibc malloc (no trimming, no mmap for blocks < 32 MiB); default: stock malloc")


def finish_args(a):
    """--quick's defaults, and the default epochs."""
    if a.quick:
        a.train_rows = 5000 if a.train_rows is None else a.train_rows
        a.test_rows = 500 if a.test_rows is None else a.test_rows
    if a.epochs is None:
        a.epochs = 2 if a.quick else 10
    return a


def reexec_if_needed(args, mark):
    """Re-execute with the environment that must be set before torch/OpenBLAS load."""
    if os.environ.get(mark) == "1":
        return
    env = dict(os.environ)
    env[mark] = "1"
    n = str(args.threads)
    env["OMP_NUM_THREADS"] = n
    env["OPENBLAS_NUM_THREADS"] = str(args.blas_threads if args.blas_threads is not None else args.threads)
    env["MKL_NUM_THREADS"] = n
    if args.omp_wait == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    if args.blas == "openblas" and os.path.exists(os.path.join(OPENBLAS_DIR, "libblas.so.3")):
        old = env.get("LD_LIBRARY_PATH", "")
        env["LD_LIBRARY_PATH"] = OPENBLAS_DIR + (":" + old if old else "")
    if args.no_malloc_trim:
        env["MALLOC_TRIM_THRESHOLD_"] = str(1 << 40)
        env["MALLOC_TOP_PAD_"] = str(256 << 20)
        env["MALLOC_MMAP_THRESHOLD_"] = str(32 << 20)
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def blas_in_effect():
    """The libblas actually mapped into this process, and OpenBLAS's own report."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and ("libblas" in parts[5] or "libopenblas" in parts[5]):
                libs.add(parts[5])
    desc = ", ".join(sorted(libs)) or "none mapped"
    blas = next((l for l in sorted(libs) if "libblas.so" in l), None)
    extra = ""
    if blas is not None:
        import ctypes
        try:
            lib = ctypes.CDLL(blas)  # already loaded: same handle
            lib.openblas_get_config.restype = ctypes.c_char_p
            extra = " | openblas %s, %d threads" % (lib.openblas_get_config().decode(),
                                                   lib.openblas_get_num_threads())
        except (AttributeError, OSError):
            extra = " | not OpenBLAS (reference BLAS?)"
    kind = "openblas" if "openblas" in (blas or "") else ("reference" if blas and "/blas/" in blas else "other")
    return kind, desc + extra


def read_idx_images(path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in range(0, 16, 4))
    if magic != 2051:
        raise ValueError(f"{path}: not an IDX image file (magic {magic})")
    a = np.frombuffer(raw, dtype=np.uint8, offset=16)
    return a.reshape(n, rows * cols)


def start_torch(args):
    """Imports torch with the configured threads and prints the configuration lines."""
    import torch
    torch.set_num_threads(args.threads)
    kind, desc = blas_in_effect()
    print(f"# torch {torch.__version__}, python {sys.executable}, threads {torch.get_num_threads()}")
    print(f"# blas {kind}: {desc}")
    if kind != "openblas" and args.blas == "openblas":
        print("# warning: OpenBLAS is not in effect (apt-get install libopenblas0-pthread): "
              "figures are not comparable with the reference")
    malloc = "tuned (no trimming)" if args.no_malloc_trim else "stock glibc"
    knobs = " ".join(f"{k}={os.environ[k]}" for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_PROC_BIND")
                     if k in os.environ)
    if knobs:
        print(f"# environment: {knobs}")
    print(f"# malloc {malloc}; seed {args.seed}; batch {args.batch}; lr {args.lr}; epochs {args.epochs}")
    return torch


def fashion_mnist(args):
    """The training and test images (uint8 rows of 784), cut to --train-rows / --test-rows."""
    train = read_idx_images(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz"))
    test = read_idx_images(os.path.join(args.data_dir, "t10k-images-idx3-ubyte.gz"))
    if args.train_rows is not None:
        train = train[:args.train_rows]
    if args.test_rows is not None:
        test = test[:args.test_rows]
    return train, test


def print_peak_rss():
    import resource
    print(f"# peak rss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
