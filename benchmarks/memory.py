"""Peak memory and time of ``CoupledFlowEmbedding.fit`` on a large input.

Run ``python benchmarks/memory.py [n_samples] [n_features]`` (default
200000 x 64 float64).  Peak memory is what :mod:`tracemalloc` sees numpy
and scipy allocate during ``fit``, above what was allocated before it (the
input itself); the issue's bar is 3 times the input's size.
"""

import sys
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from slowfast_sklearn import CoupledFlowEmbedding


def measure(n_samples=200_000, n_features=64, **params):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_samples, n_features)) * np.linspace(3.0, 0.5, n_features)
    est = CoupledFlowEmbedding(n_components=2, random_state=0, **params)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    start = time.perf_counter()
    with warnings.catch_warnings():
        # Large isotropic-tailed data may legitimately need more updates.
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return peak, X.nbytes, seconds, est


if __name__ == "__main__":
    n, d = (int(a) for a in (sys.argv[1:3] if len(sys.argv) > 2 else (200_000, 64)))
    peak, size, seconds, est = measure(n, d)
    print(
        f"fit on {n} x {d} float64 ({size / 1e6:.1f} MB): peak {peak / 1e6:.1f} MB "
        f"= {peak / size:.2f} x input, {seconds:.1f} s, n_iter_={est.n_iter_}"
    )
