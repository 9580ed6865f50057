"""Fits of a dask array on a local cluster: the figures of the scale-out issue.

Run from the project root (after ``pip install ".[test]"``)::

    python benchmarks/dask_cluster.py                 # 400000 x 64, 8 chunks, k=8
    python benchmarks/dask_cluster.py --n 100000      # a quicker look

A ``LocalCluster`` of two worker processes (one thread each) bound to
127.0.0.1.  ``X`` has the spectrum ``geomspace(8, 0.2, d)`` in variance, a
random rotation and an offset of 3; its chunks are generated on the workers
and persisted there (the data live on the cluster), and a small fit of each
solver warms the workers up first.  For ``solver="averaged"`` and the
default (the decentralised agents) it prints the fit's time, the growth of
the driver's peak memory during the fit (tracemalloc) against ``X``'s size,
the largest principal angle to scikit-learn's ``PCA`` and the
captured-variance deficit ``1 - tr(V C V^T) / sum_{i<=k} lambda_i`` (``C``
the sample covariance; both references computed on the gathered array after
the fits), the consensus traffic, and the ratio of the two times; then
whether ``transform`` of the dask array is lazy and equal to the in-memory
transform.  Times depend on the machine and its load: compare the ratio.

Last, what per-chunk graphs change at ``temperature=2``: on three Gaussian
clusters (16000 x 16, weights 0.6/0.3/0.1, spreads 1/0.5/0.25), the
averaged fit of the dask array in 8 chunks (each chunk's own kNN graph,
the union of the local measures) against the in-memory fit (one graph):
the total-variation distance between the two measures and the largest
angle between the two subspaces, for chunks that are a random sample of
the rows (shuffled) and chunks that follow the clusters (sorted); the
angle of the in-memory tempered fit to PCA gives the size of the effect
being approximated.
"""

import argparse
import time
import tracemalloc

import numpy as np
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

from slowfast_sklearn import CoupledFlowEmbedding


def make_data(n, d, chunks, seed=0):
    """The rotated geomspace(8, 0.2) spectrum, generated chunk by chunk (lazily)."""
    import dask.array as da

    rotation = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))[0]
    X = da.random.default_rng(seed + 1).standard_normal((n, d), chunks=(n // chunks, d))
    return (X * np.sqrt(np.geomspace(8.0, 0.2, d))) @ rotation.T + 3.0


def timed_fit(estimator, X):
    """The fit's seconds and the driver's peak memory growth (bytes)."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    start = time.perf_counter()
    estimator.fit(X)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return seconds, peak


def main(n, d, n_chunks, k):
    import distributed

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       silence_logs=50)
    client = distributed.Client(cluster)
    try:
        X = client.persist(make_data(n, d, n_chunks))
        distributed.wait(X)
        warm = client.persist(make_data(4000, d, 2, seed=5))
        for solver in ("averaged", "auto"):
            CoupledFlowEmbedding(k, solver=solver, random_state=0).fit(warm)
        print(f"X: {n} x {d} float64 ({X.nbytes / 1e6:.0f} MB) in {n_chunks} chunks on a "
              f"2-process LocalCluster, k={k}")
        fits = {}
        for label, solver in (("averaged", "averaged"), ("default", "auto")):
            est = CoupledFlowEmbedding(k, solver=solver, random_state=0)
            fits[label] = (est, *timed_fit(est, X))
        lazy = CoupledFlowEmbedding(k, solver="averaged", random_state=0)
        lazy_seconds, _ = timed_fit(lazy, make_data(n, d, n_chunks))
        Xn = X.compute()
        pca = PCA(k, svd_solver="covariance_eigh").fit(Xn)
        C = np.cov(Xn.T)
        top = np.linalg.eigvalsh(C)[::-1][:k].sum()
        print(f"{'solver':10s} {'fit (s)':>8s} {'peak/X':>7s} {'angle to PCA':>13s} "
              f"{'deficit':>9s} {'n_iter':>6s} {'rounds':>6s} {'bytes':>9s}")
        for label, (est, seconds, peak) in fits.items():
            V = est.components_
            angle = subspace_angles(V.T, pca.components_.T).max()
            deficit = 1.0 - np.trace(V @ C @ V.T) / top
            print(f"{label:10s} {seconds:8.2f} {peak / X.nbytes:7.3f} {angle:13.2e} "
                  f"{deficit:9.1e} {est.n_iter_:6d} {est.consensus_rounds_:6d} "
                  f"{est.consensus_bytes_:9d}")
        ratio = fits["default"][1] / fits["averaged"][1]
        print(f"default / averaged time: {ratio:.1f}")
        print(f"averaged on the array not persisted (chunks generated at each pass): "
              f"{lazy_seconds:.2f} s; default / that: {fits['default'][1] / lazy_seconds:.1f}")
        est = fits["default"][0]
        Y = est.transform(X)
        difference = np.abs(Y.compute() - est.transform(Xn)).max()
        print(f"transform: {type(Y).__module__}.{type(Y).__name__}, chunks "
              f"{Y.chunks[0][0]} x {len(Y.chunks[0])} rows, max |dask - in-memory| "
              f"{difference:.1e}")
        tempered()
    finally:
        client.close()
        cluster.close()


def clusters(n=16_000, d=16, seed=3):
    """Three Gaussian clusters of unequal weight and spread, rows ordered by cluster."""
    rng = np.random.default_rng(seed)
    sizes = (np.array([0.6, 0.3, 0.1]) * n).astype(int)
    centres = rng.standard_normal((3, d)) * 3.0
    return np.concatenate([c + s * rng.standard_normal((m, d)) * np.linspace(1.5, 0.5, d)
                           for c, s, m in zip(centres, (1.0, 0.5, 0.25), sizes)])


def tempered(k=3, temperature=2.0):
    """Per-chunk graphs against one graph at ``temperature != 1`` (averaged solver)."""
    import warnings

    import dask.array as da

    X = clusters()
    pca = PCA(k).fit(X)
    print(f"temperature={temperature:g}, three clusters {X.shape[0]} x {X.shape[1]}, k={k}, "
          "8 chunks: per-chunk graphs (dask) against one graph (in memory)")
    for label, rows in (("shuffled", np.random.default_rng(0).permutation(len(X))),
                        ("sorted", np.arange(len(X)))):
        Xo = X[rows]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # few effective samples, if so
            one = CoupledFlowEmbedding(k, solver="averaged", temperature=temperature,
                                       random_state=0).fit(Xo)
            local = CoupledFlowEmbedding(k, solver="averaged", temperature=temperature,
                                         random_state=0).fit(
                da.from_array(Xo, chunks=(len(Xo) // 8, Xo.shape[1])))
        tv = 0.5 * np.abs(one.stationary_measure_ - local.stationary_measure_).sum()
        angle = subspace_angles(one.components_.T, local.components_.T).max()
        effect = subspace_angles(one.components_.T, pca.components_.T).max()
        print(f"  {label:8s} TV(measures) {tv:.3f}  angle(per-chunk, one graph) {angle:.2e} "
              f"rad  [angle(one graph, PCA) {effect:.2e} rad]")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--k", type=int, default=8)
    args = parser.parse_args()
    main(args.n, args.features, args.chunks, args.k)
