"""partial_fit against IncrementalPCA: time per batch and angle to the full-data PCA.

Run ``python benchmarks/partial_fit.py`` (``--batches``, ``--batch-size``,
``--features``, ``--components``, ``--repeats`` change the setting).  Both
estimators learn the same stream (by default 200 batches of 1000 x 50
Gaussian samples with population eigenvalues ``0.8**i + 0.01``, k = 10) in
one process with BLAS pinned to one thread (threadpoolctl).  Printed: the
median over repeats of each one's total time, their ratio, the number of
iterations ours took per batch, and the largest principal angle (rad) of
each final subspace to that of ``PCA`` fitted on all the samples.
"""

import argparse
import statistics
import time

import numpy as np
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA, IncrementalPCA
from threadpoolctl import threadpool_limits

from slowfast_sklearn import CoupledFlowEmbedding


def stream(n_batches, batch_size, d, seed=0):
    """Gaussian batches with population eigenvalues 0.8**i + 0.01, random basis."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((d, d)))[0]
    scale = np.sqrt(0.8 ** np.arange(d) + 0.01)
    return [(rng.standard_normal((batch_size, d)) * scale) @ basis.T + 5.0
            for _ in range(n_batches)]


def run(make, batches):
    est = make()
    iterations = []
    start = time.perf_counter()
    for batch in batches:
        est.partial_fit(batch)
        iterations.append(getattr(est, "n_iter_", 0))
    return time.perf_counter() - start, est, iterations


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--components", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = parser.parse_args(argv)
    k = args.components
    batches = stream(args.batches, args.batch_size, args.features)
    makers = {
        "IncrementalPCA": lambda: IncrementalPCA(n_components=k),
        "CoupledFlowEmbedding": lambda: CoupledFlowEmbedding(n_components=k, random_state=0),
    }
    times = {name: [] for name in makers}
    with threadpool_limits(args.threads):
        reference = PCA(n_components=k).fit(np.vstack(batches)).components_.T
        for _ in range(args.repeats):
            for name, make in makers.items():  # interleaved: the same machine load
                seconds, est, iterations = run(make, batches)
                times[name].append(seconds)
                if name == "CoupledFlowEmbedding":
                    ours_iterations = iterations
                angles = subspace_angles(est.components_.T, reference)
                times[f"{name} angle"] = float(np.max(angles))
    print(f"{args.batches} batches of {args.batch_size} x {args.features}, k = {k}, "
          f"{args.threads} BLAS thread(s), median of {args.repeats}")
    for name in makers:
        total = statistics.median(times[name])
        print(f"{name:22s} {total * 1e3:8.1f} ms ({total / args.batches * 1e3:.2f} ms per batch)"
              f"  angle to full PCA {times[f'{name} angle']:.1e} rad")
    ratio = statistics.median(times["CoupledFlowEmbedding"]) / statistics.median(
        times["IncrementalPCA"])
    print(f"ratio CoupledFlowEmbedding / IncrementalPCA: {ratio:.2f}")
    counts = np.asarray(ours_iterations)
    print(f"iterations per batch: first {counts[0]}, later median {np.median(counts[1:]):.0f}, "
          f"max {counts[1:].max()}")


if __name__ == "__main__":
    main()
