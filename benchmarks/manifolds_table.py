"""Per manifold: principal angle to exact tangent PCA, orthogonality defect, fit time.

Usage::

    python benchmarks/manifolds_table.py [--n-samples 2000] [--langevin]

Each manifold gets a 2000-point sample with a clear spectral gap (the test
generators, built with geomstats' exp map) and is fitted with the default
settings, BLAS pinned to one thread (threadpoolctl).  The reference is exact
tangent PCA at the fitted base point: geomstats' log, then numpy's eigh in an
orthonormal basis of the metric.  The orthogonality defect is
``||G - I||_F`` with ``G`` the Gram matrix of ``components_`` under
geomstats' inner product at ``mean_``.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from scipy.linalg import subspace_angles
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from _manifold_data import DATA, SPACES  # noqa: E402
from test_manifolds import orthonormal_coordinates, tangent_pca  # noqa: E402

from slowfast_sklearn import CoupledFlowEmbedding  # noqa: E402


def row(name, X, **params):
    emb = CoupledFlowEmbedding(manifold=name, random_state=0, **params)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        emb.fit(X)
    seconds = time.perf_counter() - start
    base = emb.mean_.astype(np.float64)
    V, _, _ = tangent_pca(name, X, base, emb.n_components_)
    ours = orthonormal_coordinates(name, emb.components_, base).T
    angle = float(np.max(subspace_angles(ours, V)))
    space = SPACES[name]()
    shape = (emb.n_components_, 3, 3) if name == "spd" else (emb.n_components_, -1)
    C = emb.components_.astype(np.float64).reshape(shape)
    B = base.reshape(3, 3) if name == "spd" else base
    gram = np.array([[float(space.metric.inner_product(a, b, B)) for b in C] for a in C])
    defect = float(np.linalg.norm(gram - np.eye(len(C))))
    warned = sorted({type(w.message).__name__ for w in caught if not issubclass(w.category, ImportWarning)})
    return angle, defect, seconds, emb.n_iter_, emb.converged_, ",".join(warned) or "-"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument(
        "--langevin", action="store_true",
        help="also time kernel='langevin' (n_walkers=256; slow on SPD)",
    )
    args = parser.parse_args(argv)
    runs = [(name, "graph", {}) for name in DATA]
    if args.langevin:
        runs += [(name, "langevin", dict(kernel="langevin", n_walkers=256)) for name in DATA]
    print(f"n_samples={args.n_samples}, n_components=2, BLAS threads=1, random_state=0")
    header = f"{'manifold':<14} {'kernel':<9} {'angle (rad)':>11} {'orth. defect':>12} {'fit (s)':>8} {'n_iter':>6} {'conv.':>5}  warnings"
    print(header)
    print("-" * len(header))
    with threadpool_limits(limits=1):
        for name, kernel, params in runs:
            X = DATA[name](args.n_samples, seed=0)
            angle, defect, seconds, n_iter, converged, warned = row(name, X, **params)
            print(
                f"{name:<14} {kernel:<9} {angle:>11.2e} {defect:>12.1e} {seconds:>8.2f} "
                f"{n_iter:>6d} {str(converged):>5}  {warned}"
            )


if __name__ == "__main__":
    main()
