"""Sparse input: peak memory and time of a fit against PCA on the same CSR array.

Run ``python benchmarks/sparse_input.py [n_samples] [n_features] [density] [k]
[--walkers]`` (default 100000 x 1000, density 0.002, k = 10).  BLAS runs on
one thread; times are the best of three (one for the walkers), ratios are
against ``PCA(svd_solver="arpack")`` in the same run, and the peak is what
:mod:`tracemalloc` sees numpy and scipy allocate during the fit, as a
fraction of the dense array's size.  ``--walkers`` adds the solvers that
need the kNN graph (brute-force search: keep n_samples to some 10^4).
"""

import sys
import time
import tracemalloc
import warnings

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits
from sklearn.decomposition import PCA

from slowfast_sklearn import CoupledFlowEmbedding


def sparse_data(n, d, density, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random_array((n, d), density=density, rng=rng, format="csr")
    return sp.csr_array(X @ sp.diags_array(np.linspace(3.0, 0.5, d)))


def measure(make, X, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        make().fit(X)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    try:
        make().fit(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return min(times), peak


def main(argv):
    walkers = "--walkers" in argv
    args = [a for a in argv if a != "--walkers"]
    n, d = (int(args[0]), int(args[1])) if len(args) >= 2 else (100_000, 1000)
    density = float(args[2]) if len(args) >= 3 else 0.002
    k = int(args[3]) if len(args) >= 4 else 10
    X = sparse_data(n, d, density)
    dense_bytes = n * d * 8
    stored = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20
    print(f"X: {n} x {d} CSR, density {density}, {stored:.1f} MiB stored; "
          f"dense it would take {dense_bytes / 2**20:.0f} MiB")
    rows = [
        ("PCA(svd_solver='arpack')", lambda: PCA(k, svd_solver="arpack", random_state=0), 3),
        ("PCA(svd_solver='covariance_eigh')", lambda: PCA(k, svd_solver="covariance_eigh"), 3),
        ("averaged, T=1", lambda: CoupledFlowEmbedding(k, solver="averaged"), 3),
        ("partial_fit, one batch", lambda: _Stream(k), 3),
    ]
    if walkers:
        rows += [
            ("averaged, T=0.7", lambda: CoupledFlowEmbedding(k, solver="averaged",
                                                             temperature=0.7), 1),
            ("stochastic (256 walkers, 600 updates)",
             lambda: CoupledFlowEmbedding(k, n_walkers=256, max_iter=600, random_state=0), 1),
        ]
    warnings.simplefilter("ignore")
    reference = None
    with threadpool_limits(1):
        for name, make, repeat in rows:
            seconds, peak = measure(make, X, repeat)
            reference = reference or seconds
            print(f"{name:38s} {seconds * 1e3:9.1f} ms ({seconds / reference:6.2f}x ARPACK)"
                  f"  peak {peak / 2**20:7.1f} MiB ({peak / dense_bytes:.3f} of dense X)")


class _Stream:
    """partial_fit on the whole array as one batch, with fit's signature."""

    def __init__(self, k):
        self.estimator = CoupledFlowEmbedding(k)

    def fit(self, X):
        return self.estimator.partial_fit(X)


if __name__ == "__main__":
    main(sys.argv[1:])
