"""The approximate neighbour search against an earlier version of itself and
against scikit-learn's exact search.

Run ``python benchmarks/neighbors.py`` (``--before REF`` names the git
revision to compare with, by default the one before the search was made
faster; ``--sizes 20000x64 50000x64`` changes the data; ``--repeats``).
The earlier version is ``slowfast_sklearn/_neighbors.py`` read from git at
``REF`` and imported under a private name, so both run in this process with
BLAS pinned to one thread.  Data: Gaussian samples with standard deviations
``geomspace(8, 0.2, d)`` in a random basis.  Printed per size: recall@15
(the share of the 15 exact neighbours found, sklearn's ``NearestNeighbors``
the truth, averaged over the forests drawn from seeds 0 to ``repeats - 1``,
whose spread is about 0.003 at 20000 x 64; not computed above
``--exact-up-to`` samples, where the exact search takes minutes) of each
version, the median time of each and their ratio.  ``--fit 100000x100``
also times ``CoupledFlowEmbedding(10, random_state=0).fit`` on that data in
float32 with either search in place (``--repeats`` fits each, interleaved).
"""

import argparse
import importlib.util
import pathlib
import statistics
import subprocess
import time

import numpy as np
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

import slowfast_sklearn._neighbors as neighbors
from slowfast_sklearn import CoupledFlowEmbedding
from slowfast_sklearn._neighbors import approximate_kneighbors

#: main before the search was made faster (merge of the dask branch).
BEFORE = "29fcbe0"
ROOT = pathlib.Path(__file__).parents[1]


def earlier_version(ref):
    """``approximate_kneighbors`` as it was at git revision ``ref``."""
    source = subprocess.run(["git", "show", f"{ref}:slowfast_sklearn/_neighbors.py"],
                            cwd=ROOT, check=True, capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader("slowfast_sklearn._neighbors_before", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "slowfast_sklearn"
    exec(compile(source, f"{ref}:_neighbors.py", "exec"), module.__dict__)
    return module.approximate_kneighbors


def data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return (rng.standard_normal((n, d)) * np.geomspace(8.0, 0.2, d)) @ basis.T


def recall(graphs, exact):
    """Mean over graphs of the share of exact neighbours found."""
    return np.mean([(ind[:, :, None] == exact[:, None, :]).any(axis=2).mean() for ind in graphs])


def timed(searches, X, k, repeats):
    """Each search's neighbours for seeds 0 to ``repeats - 1`` and median
    time, the searches interleaved."""
    seconds = [[] for _ in searches]
    results = [[] for _ in searches]
    for seed in range(repeats):
        for search, times, found in zip(searches, seconds, results):
            start = time.perf_counter()
            found.append(search(X, k, rng=np.random.default_rng(seed))[1])
            times.append(time.perf_counter() - start)
    return [(r, statistics.median(t)) for r, t in zip(results, seconds)]


def fit_times(searches, X, repeats):
    """Median time of the default fit with each search in place, interleaved."""
    seconds = [[] for _ in searches]
    for _ in range(repeats):
        for search, times in zip(searches, seconds):
            neighbors.approximate_kneighbors = search
            try:
                start = time.perf_counter()
                CoupledFlowEmbedding(10, random_state=0).fit(X)
                times.append(time.perf_counter() - start)
            finally:
                neighbors.approximate_kneighbors = approximate_kneighbors
    return [statistics.median(t) for t in seconds]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--sizes", nargs="*", default=["20000x64", "50000x64", "30000x100",
                                                       "100000x100"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--k", type=int, default=15)
    parser.add_argument("--exact-up-to", type=int, default=50_000)
    parser.add_argument("--fit", nargs="*", default=[])
    args = parser.parse_args()
    before = earlier_version(args.before)
    print(f"before: {args.before}, after: working tree; k={args.k}, one BLAS thread")
    print(f"{'n':>7} {'d':>4} {'recall before':>13} {'after':>6} "
          f"{'time before':>11} {'after':>6} {'ratio':>6}")
    with threadpool_limits(1):
        for search in (before, approximate_kneighbors):  # warm up (imports, caches)
            search(data(3000, 20), args.k, rng=np.random.default_rng(0), leaf_size=256)
        for size in args.sizes:
            n, d = (int(s) for s in size.split("x"))
            X = data(n, d)
            (old, old_s), (new, new_s) = timed([before, approximate_kneighbors], X, args.k,
                                               args.repeats)
            if n <= args.exact_up_to:
                exact = NearestNeighbors(n_neighbors=args.k).fit(X).kneighbors()[1]
                recalls = f"{recall(old, exact):>13.4f} {recall(new, exact):>6.4f}"
            else:
                recalls = f"{'-':>13} {'-':>6}"
            print(f"{n:>7} {d:>4} {recalls} "
                  f"{old_s:>10.3f}s {new_s:>5.3f}s {old_s / new_s:>6.2f}")
        for size in args.fit:
            n, d = (int(s) for s in size.split("x"))
            old_s, new_s = fit_times([before, approximate_kneighbors],
                                     data(n, d).astype(np.float32), args.repeats)
            print(f"fit {n} x {d} float32, k=10: before {old_s:.2f}s, after {new_s:.2f}s, "
                  f"ratio {old_s / new_s:.2f}")


if __name__ == "__main__":
    main()
