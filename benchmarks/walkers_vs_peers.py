"""The default solver (the walkers) against the Hebbian loops a user would write.

Run from the project root (after ``pip install ".[test]"``)::

    python benchmarks/walkers_vs_peers.py           # five data sets, the CV
                                                    # pipeline, 100000 x 100
    python benchmarks/walkers_vs_peers.py --quick   # the four small sets only

One process, BLAS pinned to one thread (threadpoolctl).  Accuracy is the
captured-variance deficit ``1 - tr(Q^T C Q) / sum_{i<=k} lambda_i`` of the
orthonormalised weights ``Q`` (``C`` the sample covariance; for the
estimator, ``Q = components_.T``), and, where the relative gap at ``k``
``(lambda_k - lambda_{k+1}) / lambda_1`` is at least 5%, the largest
principal angle to the exact top-k eigenvectors.

The peers, written here as a user would write them (20 lines each, numpy):

- ``gha_full``: full-batch GHA (Sanger 1989) with step ``1 / lambda_1``
  (``lambda_1`` by 30 power iterations, not timed);
- ``gha_minibatch``: GHA on reshuffled minibatches of 256 rows with step
  ``1 / trace(C) / (1 + epoch / 10)``;
- ``vr_pca``: Shamir's VR-PCA (ICML 2015; the block form of Shamir 2016):
  minibatches of 64, a full-gradient anchor per epoch, a QR retraction per
  step; its step is the best of ``c / (r sqrt(n / 64))`` for ``c`` in 0.5,
  1, 2, 4 (``r`` the mean squared row norm), chosen per data set.

Each peer is first run with the deficit monitored after every epoch
(untimed) to find the epochs it needs for the estimator's deficit (at least
1e-3), then timed (best of 3) for exactly that many epochs.  The estimator is
timed with its defaults (only ``n_components`` set), median of 5 fits.  The
neighbour search added to the best peer is scikit-learn's exact
``NearestNeighbors(n_neighbors=15).fit(X).kneighbors()`` of the same data
(best of 3).  The ratio printed is the estimator's time over (best peer +
neighbour search): the bar of the walker-speed issue is 2.
"""

import argparse
import statistics
import sys
import time
import warnings

import numpy as np
from scipy.linalg import eigh, subspace_angles
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from slowfast_sklearn import CoupledFlowEmbedding

#: Relative gap at k from which the principal angle is also reported (and required).
WELL_SEPARATED = 0.05


def gaussian(n, d, seed):
    """Gaussian sample with population eigenvalues 0.8^i + 0.01 in a random basis."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return (rng.standard_normal((n, d)) * np.sqrt(0.8 ** np.arange(d) + 0.01)) @ basis.T


def datasets(quick=False):
    digits = load_digits().data
    sets = [
        ("digits", digits, 10),
        ("digits, standardised", StandardScaler().fit_transform(digits), 10),
        ("breast_cancer, standardised",
         StandardScaler().fit_transform(load_breast_cancer().data), 5),
        ("wine, standardised", StandardScaler().fit_transform(load_wine().data), 5),
    ]
    if not quick:
        sets.append(("gaussian 20000 x 100", gaussian(20000, 100, 1), 10))
    return sets


# -- the peers ----------------------------------------------------------------


def gha_full(Xc, k, rng, epochs, monitor=None):
    n, d = Xc.shape
    W = np.linalg.qr(rng.standard_normal((d, k)))[0]
    eta = 1.0 / _top_eigenvalue(Xc, rng)
    for epoch in range(epochs):
        Y = Xc @ W
        W = W + eta * (Xc.T @ Y / n - W @ np.triu(Y.T @ Y / n))
        if monitor is not None and monitor(epoch + 1, W):
            break
    return W


def gha_minibatch(Xc, k, rng, epochs, monitor=None, batch=256):
    n, d = Xc.shape
    W = np.linalg.qr(rng.standard_normal((d, k)))[0]
    trace = np.mean(np.einsum("ij,ij->i", Xc, Xc))
    for epoch in range(epochs):
        eta = 1.0 / trace / (1.0 + epoch / 10.0)
        shuffled = Xc[rng.permutation(n)]
        for start in range(0, n, batch):
            B = shuffled[start:start + batch]
            Y = B @ W
            W = W + eta / len(B) * (B.T @ Y - W @ np.triu(Y.T @ Y))
        if monitor is not None and monitor(epoch + 1, W):
            break
    return W


def vr_pca(Xc, k, rng, epochs, monitor=None, batch=64, c=1.0):
    n, d = Xc.shape
    W = np.linalg.qr(rng.standard_normal((d, k)))[0]
    r = np.mean(np.einsum("ij,ij->i", Xc, Xc))
    eta = c / (r * np.sqrt(n / batch))
    for epoch in range(epochs):
        anchor = W
        U = Xc.T @ (Xc @ anchor) / n
        shuffled = Xc[rng.permutation(n)]
        for start in range(0, n, batch):
            B = shuffled[start:start + batch]
            align = anchor.T @ W
            G = B.T @ (B @ W - (B @ anchor) @ align) / len(B) + U @ align
            W = np.linalg.qr(W + eta * G)[0]
        if monitor is not None and monitor(epoch + 1, W):
            break
    return W


def _top_eigenvalue(Xc, rng, n_iter=30):
    v = rng.standard_normal(Xc.shape[1])
    for _ in range(n_iter):
        v = Xc.T @ (Xc @ v) / len(Xc)
        lam = np.linalg.norm(v)
        v /= lam
    return lam


# -- measurement ----------------------------------------------------------------


class Spectrum:
    """Exact covariance, its top-k eigenpairs and the two accuracy measures."""

    def __init__(self, X, k):
        Xc = X - X.mean(axis=0)
        self.C = Xc.T @ Xc / len(X)
        values, vectors = eigh(self.C)
        self.values, self.vectors = values[::-1], vectors[:, ::-1]
        self.k = k
        self.top = self.values[:k].sum()
        gap = self.values[k - 1] - self.values[k] if k < len(values) else self.values[k - 1]
        self.separated = gap >= WELL_SEPARATED * self.values[0]

    def deficit(self, W):
        Q = np.linalg.qr(W)[0]
        return max(1.0 - np.trace(Q.T @ self.C @ Q) / self.top, 0.0)

    def angle(self, W):
        return float(np.max(subspace_angles(W, self.vectors[:, :self.k])))


def _best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def peer_time(peer, Xc, spectrum, target, cap, **kwargs):
    """Epochs a peer needs to reach ``target`` (monitored run), then the time of
    exactly that many epochs (best of 3); None if ``cap`` epochs do not reach it."""
    reached = {}

    def monitor(epoch, W):
        if spectrum.deficit(W) <= target:
            reached["epochs"] = epoch
            return True
        return False

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a diverging setting
        peer(Xc, spectrum.k, np.random.default_rng(0), cap, monitor, **kwargs)
    if "epochs" not in reached:
        return None
    epochs = reached["epochs"]
    seconds, W = _best_of(lambda: peer(Xc, spectrum.k, np.random.default_rng(0), epochs, **kwargs))
    return seconds, epochs, spectrum.deficit(W)


def fit_default(X, k, repeats=5):
    """Median fit time of the default estimator, its deficit and its warnings."""
    times, caught = [], []
    for seed in range(repeats):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            start = time.perf_counter()
            est = CoupledFlowEmbedding(n_components=k, random_state=seed).fit(X)
            times.append(time.perf_counter() - start)
        caught += [w for w in record if issubclass(w.category, ConvergenceWarning)]
    return statistics.median(times), est, len(caught)


def compare(name, X, k, out):
    spectrum = Spectrum(X, k)
    Xc = X - X.mean(axis=0)
    seconds, est, n_warn = fit_default(X, k)
    ours = spectrum.deficit(est.components_.T.astype(np.float64))
    target = max(ours, 1e-3)
    cap = 300 if len(X) > 5000 else 2000
    peers = {
        "gha_full": peer_time(gha_full, Xc, spectrum, target, cap),
        "gha_minibatch": peer_time(gha_minibatch, Xc, spectrum, target, cap),
    }
    vr = [peer_time(vr_pca, Xc, spectrum, target, cap, c=c) for c in (0.5, 1.0, 2.0, 4.0)]
    vr = [r for r in vr if r is not None]
    peers["vr_pca"] = min(vr) if vr else None
    knn, _ = _best_of(lambda: NearestNeighbors(n_neighbors=15).fit(X).kneighbors())
    reached = {p: r for p, r in peers.items() if r is not None}
    best = min(reached, key=lambda p: reached[p][0])
    budget = reached[best][0] + knn
    angle = f"{spectrum.angle(est.components_.T.astype(np.float64)):.1e}" if spectrum.separated else "-"
    cells = " | ".join(
        f"{1e3 * r[0]:.1f} ({r[1]} ep)" if r is not None else "n/r" for r in peers.values()
    )
    print(
        f"| {name} | {k} | {1e3 * seconds:.1f} | {ours:.1e} | {angle} | {n_warn} | "
        f"{cells} | {1e3 * knn:.1f} | {seconds / budget:.2f} |",
        file=out, flush=True,
    )


def cv_pipeline(out, folds=5):
    """5-fold CV of StandardScaler -> embedding -> LogisticRegression against
    the same pipeline with PCA: accuracy, warnings and the embedding's fit time."""
    sets = [("digits", load_digits(return_X_y=True), 10),
            ("breast_cancer", load_breast_cancer(return_X_y=True), 10),
            ("wine", load_wine(return_X_y=True), 5)]
    print("\n| data | k | PCA acc | ours acc | ConvergenceWarnings | PCA fit (ms) "
          "| ours fit (ms) | x PCA |", file=out)
    print("|---|---|---|---|---|---|---|---|", file=out)
    for name, (X, y), k in sets:
        acc = {"pca": [], "ours": []}
        fit = {"pca": 0.0, "ours": 0.0}
        n_warn = 0
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y):
            scaler = StandardScaler().fit(X[train])
            Xtr, Xte = scaler.transform(X[train]), scaler.transform(X[test])
            for key, make in (("pca", lambda: PCA(k)),
                              ("ours", lambda: CoupledFlowEmbedding(k, random_state=0))):
                with warnings.catch_warnings(record=True) as record:
                    warnings.simplefilter("always")
                    start = time.perf_counter()
                    emb = make().fit(Xtr)
                    fit[key] += time.perf_counter() - start
                n_warn += key == "ours" and any(
                    issubclass(w.category, ConvergenceWarning) for w in record)
                clf = LogisticRegression(max_iter=5000).fit(emb.transform(Xtr), y[train])
                acc[key].append(clf.score(emb.transform(Xte), y[test]))
        print(f"| {name} | {k} | {np.mean(acc['pca']):.3f} | {np.mean(acc['ours']):.3f} | "
              f"{n_warn} of {folds} | {1e3 * fit['pca']:.1f} | {1e3 * fit['ours']:.1f} | "
              f"{fit['ours'] / fit['pca']:.1f} |", file=out, flush=True)


def large(out, n=100_000, d=100, k=10):
    """The 100000 x 100 float32 default fit: time, deficit, first progress line."""
    X = gaussian(n, d, 7).astype(np.float32)
    spectrum = Spectrum(X.astype(np.float64), k)
    start = time.perf_counter()
    est = CoupledFlowEmbedding(n_components=k, random_state=0).fit(X)
    seconds = time.perf_counter() - start
    print(f"\n{n} x {d} float32, k={k}, defaults: {seconds:.1f} s, deficit "
          f"{spectrum.deficit(est.components_.T.astype(np.float64)):.1e}, "
          f"converged={est.converged_}", file=out, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the four small data sets only")
    args = parser.parse_args(argv)
    out = sys.stdout
    with threadpool_limits(1, user_api="blas"):
        print("| data | k | ours (ms) | ours deficit | angle | ConvergenceWarnings "
              "| gha_full (ms) | gha_minibatch (ms) | vr_pca (ms) | 15-NN search (ms) "
              "| ours / (best peer + search) |", file=out)
        print("|---|---|---|---|---|---|---|---|---|---|---|", file=out)
        for name, X, k in datasets(args.quick):
            compare(name, X, k, out)
        if not args.quick:
            cv_pipeline(out)
            large(out)


if __name__ == "__main__":
    main()
