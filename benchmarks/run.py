"""Benchmark CoupledFlowEmbedding's solvers against scikit-learn's decompositions.

Run from the project root (after ``pip install ".[test]"``)::

    python benchmarks/run.py            # full suite, about 5-8 minutes
    python benchmarks/run.py --quick    # small sizes, a smoke test

Every figure comes from one process with BLAS pinned to one thread
(threadpoolctl): medians over repeats, each ratio against
``PCA(svd_solver="covariance_eigh")`` measured in the same run.  For each
method the table gives the fit time, the largest principal angle (rad) of its
subspace to the exact top-k eigenvectors of the sample covariance, the
orthogonality defect and the extra peak memory (tracemalloc, one separate
untimed fit) over the input's size.  Iterative methods are run twice, with
their tolerance set for 1e-2 and for 1e-3 rad; "time to 1e-2 / 1e-3" is the
fit time of the first setting that reaches that angle ("n/r": not reached).
Writes ``benchmarks/results.md`` and ``benchmarks/results.json``.
"""

import argparse
import json
import pathlib
import statistics
import sys
import time
import tracemalloc
import warnings

import numpy as np
from scipy.linalg import eigh, subspace_angles
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA, FastICA, IncrementalPCA
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from slowfast_sklearn import CoupledFlowEmbedding

HERE = pathlib.Path(__file__).parent


def synthetic(n, d, seed):
    """Gaussian sample with population eigenvalues 0.8^i + 0.01, random basis."""
    rng = np.random.default_rng(seed)
    lam = 0.8 ** np.arange(d) + 0.01
    basis = np.linalg.qr(rng.standard_normal((d, d)))[0]
    X = rng.standard_normal((n, d))
    X *= np.sqrt(lam)
    return X @ basis.T


def sphere(n, seed):
    """Concentrated cloud on S^9 (about e_0, spread ~ 1/sqrt(20)), squashed
    anisotropically so that a top-k tangent subspace is well defined
    (the construction of performance.md, with numpy's generator)."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 10))
    X[:, 0] = 1.0
    X[:, 1:] += rng.standard_normal((n, 9)) / np.sqrt(20.0)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    X *= np.concatenate([[1.0], 0.6 ** np.arange(9)])
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def datasets(quick):
    digits = load_digits().data
    if quick:
        return [
            ("digits", digits, 2),
            ("synth", synthetic(4000, 50, 1), 5),
            ("wide", synthetic(2000, 400, 3), 8),
            ("sphere", sphere(1000, 4), 3),
        ]
    return [
        ("digits", digits, 2),
        ("digits", digits, 10),
        ("synth", synthetic(20000, 100, 1), 10),
        ("large", synthetic(200000, 256, 2), 16),
        ("wide", synthetic(20000, 2048, 3), 16),
        ("sphere", sphere(5000, 4), 3),
    ]


def exact_subspace(name, X, k):
    """Top-k eigenvectors of the (tangent) covariance, in ambient coordinates."""
    if name == "sphere":
        from slowfast_sklearn.geometry import resolve_geometry

        geometry = resolve_geometry("hypersphere", X.shape[1])
        base = geometry.base_point(X)  # geomstats FrechetMean, tightened
        Z = geometry.log(X, base)  # coordinates in an orthonormal frame of T_b
        V = eigh(Z.T @ Z)[1][:, ::-1][:, :k]
        return geometry.to_ambient(V, base).T
    Z = X - X.mean(axis=0)
    return eigh(Z.T @ Z)[1][:, ::-1][:, :k]


def gha_minibatch(X, k, epochs, batch=256, seed=0):
    """What a user would write: mini-batch GHA, trace-scaled decaying step."""
    rng = np.random.default_rng(seed)
    mean = X.mean(axis=0)
    W = np.linalg.qr(rng.standard_normal((X.shape[1], k)))[0]
    trace = float(np.mean(np.sum((X - mean) ** 2, axis=1)))
    for epoch in range(epochs):
        eta = 1.0 / trace / (1 + epoch / 10)
        for start in range(0, len(X), batch):
            Xb = X[start : start + batch] - mean
            Y = Xb @ W
            W += eta / len(Xb) * (Xb.T @ Y - W @ np.triu(Y.T @ Y))
    return np.linalg.qr(W)[0]


def oja_per_sample_to(X, k, V, target, max_epochs=100, seed=0):
    """A per-sample Python Oja subspace loop (c=0.1, tau=3, as in performance.md).

    Returns (seconds to reach ``target`` rad, epochs, angle): epochs counted
    with an untimed per-epoch check, time = epochs x the timed epoch cost.
    """
    rng = np.random.default_rng(seed)
    Xc = X - X.mean(axis=0)
    trace = float(np.mean(np.sum(Xc**2, axis=1)))
    W = np.linalg.qr(rng.standard_normal((X.shape[1], k)))[0]
    epoch_times, angle = [], np.pi / 2
    for epoch in range(1, max_epochs + 1):
        eta = 0.1 / trace / (1 + epoch / 3)
        order = rng.permutation(len(Xc))
        start = time.perf_counter()
        for i in order:
            x = Xc[i]
            y = x @ W
            W += eta * (np.outer(x, y) - W @ np.outer(y, y))
        epoch_times.append(time.perf_counter() - start)
        angle = float(np.max(subspace_angles(np.linalg.qr(W)[0], V)))
        if angle <= target:
            break
    return statistics.median(epoch_times) * epoch, epoch, angle


def methods(name, X, k):
    """(label, target angle or None, factory returning the fitted basis d x k)."""
    n, d = X.shape

    def sk(est):
        def run():
            est.fit(X)
            return est.components_.T

        return run

    manifold = "hypersphere" if name == "sphere" else "euclidean"

    def flow(solver, tol, **kw):
        def run():
            est = CoupledFlowEmbedding(
                k, manifold=manifold, solver=solver, tol=tol, random_state=0, **kw
            ).fit(X)
            return est.components_.T

        return run

    out = [
        ("PCA(covariance_eigh)", None, sk(PCA(k, svd_solver="covariance_eigh"))),
        ("PCA(full)", None, sk(PCA(k, svd_solver="full"))),
        ("PCA(randomized)", None, sk(PCA(k, svd_solver="randomized", random_state=0))),
        ("IncrementalPCA", None, sk(IncrementalPCA(k))),
    ]
    if name == "digits":

        def ica():
            # scikit-learn 1.9.1's own whitening returns perfectly correlated
            # sources on digits; PCA-whitening first is the same model.
            pca = PCA(k, whiten=True).fit(X)
            ica = FastICA(whiten=False, random_state=0).fit(pca.transform(X))
            unmixing = ica.components_ @ (pca.components_ / np.sqrt(pca.explained_variance_)[:, None])
            return unmixing.T

        out.append(("FastICA (PCA-whitened)", None, ica))
    if name == "sphere":

        def tangent_pca():
            from geomstats.geometry.hypersphere import Hypersphere
            from geomstats.learning.pca import TangentPCA

            est = TangentPCA(Hypersphere(dim=d - 1), n_components=k)
            est.fit(X)
            return est.components_.T

        out.append(("geomstats TangentPCA (default FrechetMean)", None, tangent_pca))
    for target in (1e-2, 1e-3):
        out.append(("averaged", target, flow("averaged", target)))
    if n * d <= 5e6:
        # What a user meets: only n_components set (the variance-reduced walkers).
        def default():
            return CoupledFlowEmbedding(k, manifold=manifold, random_state=0).fit(X).components_.T

        out.append(("default (solver='auto', tol 1e-3 deficit)", None, default))
    # The walkers need the kNN graph: O(n^2 d) brute force, affordable up to
    # n ~ 2e4 here; larger sets use the averaged solver.
    if n * n * d <= 4.1e10:
        for target in (1e-2, 1e-3):
            out.append(("mean_field", target, flow("mean_field", target / 30, max_iter=20000)))
        out.append(("stochastic", 1e-2, flow("stochastic", 1e-2, max_iter=12000)))
    epochs = {"digits": 300, "synth": 40, "sphere": 40}.get(name, 5)
    out.append((f"numpy GHA mini-batch ({epochs} ep)", None, lambda: gha_minibatch(X, k, epochs)))
    return out


def measure(factory, repeats):
    times, basis = [], None
    for _ in range(repeats):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            basis = factory()
            times.append(time.perf_counter() - start)
    return statistics.median(times), basis


def peak_memory(factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tracemalloc.start()
        factory()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def run(quick):
    rows = []
    for name, X, k in datasets(quick):
        X = np.ascontiguousarray(X, dtype=np.float64)
        V = exact_subspace(name, X, k)
        repeats = 1 if X.nbytes > 2e8 else 3
        reference = None
        print(f"\n{name} {X.shape[0]}x{X.shape[1]} k={k}", flush=True)
        for label, target, factory in methods(name, X, k):
            # The warm-up (imports, caches) doubles as the only measurement
            # of slow methods.
            warm, basis = measure(factory, 1)
            if warm < 2.0:
                seconds, basis = measure(factory, repeats)
            else:
                seconds = warm
            if basis.shape[1] == k and not np.allclose(basis.T @ basis, np.eye(k), atol=1e-6):
                defect = float(np.linalg.norm(basis.T @ basis - np.eye(k)))
                basis = np.linalg.qr(basis)[0]
            else:
                defect = float(np.linalg.norm(basis.T @ basis - np.eye(k)))
            angle = float(np.max(subspace_angles(basis, V)))
            memory = peak_memory(factory) / X.nbytes
            if label == "PCA(covariance_eigh)":
                reference = seconds
            row = {
                "data": f"{name} {X.shape[0]}x{X.shape[1]} k={k}",
                "method": label if target is None else f"{label} (tol for {target:g})",
                "seconds": seconds,
                "ratio": seconds / reference,
                "angle": angle,
                "orthogonality_defect": defect,
                "extra_memory_over_input": memory,
                "target": target,
                "reached": None if target is None else bool(angle <= target),
            }
            rows.append(row)
            print(
                f"  {row['method']:<42} {seconds * 1e3:10.1f} ms  x{row['ratio']:7.2f}"
                f"  angle {angle:8.1e}  defect {defect:7.1e}  mem {memory:5.2f}x",
                flush=True,
            )
        if name == "digits" and k == 10 and not quick:
            seconds, epochs, angle = oja_per_sample_to(X, k, V, 1e-2)
            rows.append({
                "data": f"{name} {X.shape[0]}x{X.shape[1]} k={k}",
                "method": f"per-sample Python Oja loop (tol for 0.01; {epochs} epochs, derived)",
                "seconds": seconds, "ratio": seconds / reference, "angle": angle,
                "orthogonality_defect": float("nan"), "extra_memory_over_input": float("nan"),
                "target": 1e-2, "reached": bool(angle <= 1e-2),
            })
            print(f"  per-sample Oja: {seconds:.2f} s, {epochs} epochs, angle {angle:.1e}", flush=True)
    return rows


def markdown(rows):
    lines = [
        "| data | method | time (ms) | x PCA(covariance_eigh) | max angle (rad) | reached target | ||W^T W - I||_F | extra peak memory / input |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        reached = "" if r["reached"] is None else ("yes" if r["reached"] else "n/r")
        lines.append(
            f"| {r['data']} | {r['method']} | {r['seconds'] * 1e3:.1f} | {r['ratio']:.2f} | "
            f"{r['angle']:.1e} | {reached} | {r['orthogonality_defect']:.1e} | "
            f"{r['extra_memory_over_input']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--out", default=str(HERE / "results"), help="output path stem")
    args = parser.parse_args(argv)
    with threadpool_limits(1):
        start = time.perf_counter()
        rows = run(args.quick)
        total = time.perf_counter() - start
    table = markdown(rows)
    print("\n" + table)
    print(f"total {total:.0f} s, BLAS threads pinned to 1")
    pathlib.Path(args.out + ".md").write_text(table)
    pathlib.Path(args.out + ".json").write_text(json.dumps({"rows": rows, "seconds": total}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
