"""Samples on every manifold of the package, with a clear spectral gap.

Each generator draws tangent vectors with a decaying spectrum at a fixed
base point and maps them to the manifold with geomstats' own exponential
map, so the data do not depend on the package's numpy formulas.  A new
manifold of the package needs an entry in :data:`DATA` and :data:`SPACES`
(``tests/test_geometry.py`` checks it has one).
"""

import warnings

import numpy as np
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.hypersphere import Hypersphere
from geomstats.geometry.poincare_ball import PoincareBall
from geomstats.geometry.spd_matrices import SPDMatrices

#: tangent standard deviations: top two well separated from the rest.
SPHERE_STD = (0.40, 0.20, 0.06, 0.04)
BALL_STD = (0.50, 0.25, 0.07, 0.05)
SPD_STD = (0.50, 0.25, 0.07, 0.06, 0.05, 0.04)
SPD_BASE = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.5]])


def _rotation(d, rng):
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def sphere_data(n=500, seed=0):
    """Points of S^4 in R^5 around a random base point."""
    rng = np.random.default_rng(seed)
    space = Hypersphere(dim=4)
    base = rng.standard_normal(5)
    base /= np.linalg.norm(base)
    frame = np.linalg.qr(np.column_stack([base, np.eye(5)]))[0][:, 1:5]
    coeffs = rng.standard_normal((n, 4)) * SPHERE_STD @ _rotation(4, rng).T
    return np.asarray(space.metric.exp(coeffs @ frame.T, base))


def ball_data(n=500, seed=0):
    """Points of the 4-dimensional Poincare ball around an off-centre base point."""
    rng = np.random.default_rng(seed)
    space = PoincareBall(dim=4)
    base = np.array([0.3, -0.2, 0.1, 0.0])
    lam = 2.0 / (1.0 - base @ base)
    coeffs = rng.standard_normal((n, 4)) * BALL_STD @ _rotation(4, rng).T
    return np.asarray(space.metric.exp(coeffs / lam, base))


def spd_data(n=500, seed=0):
    """3 x 3 SPD matrices (affine metric) around SPD_BASE, shape (n, 3, 3)."""
    rng = np.random.default_rng(seed)
    space = SPDMatrices(n=3)
    coeffs = rng.standard_normal((n, 6)) * SPD_STD @ _rotation(6, rng).T
    iu = np.triu_indices(3)
    S = np.zeros((n, 3, 3))
    vals = coeffs / np.where(iu[0] == iu[1], 1.0, np.sqrt(2.0))
    S[:, iu[0], iu[1]] = vals
    S[:, iu[1], iu[0]] = vals
    w, U = np.linalg.eigh(SPD_BASE)
    half = (U * np.sqrt(w)) @ U.T
    return np.asarray(space.metric.exp(half @ S @ half, SPD_BASE))


def flat_data(n=500, seed=0):
    """Points of R^4 around an offset, a rotated decaying spectrum."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)) * BALL_STD @ _rotation(4, rng).T + [1.0, -2.0, 0.5, 3.0]


DATA = {"euclidean": flat_data, "hypersphere": sphere_data, "poincare_ball": ball_data,
        "spd": spd_data}
SPACES = {
    "euclidean": lambda: Euclidean(dim=4),
    "hypersphere": lambda: Hypersphere(dim=4),
    "poincare_ball": lambda: PoincareBall(dim=4),
    "spd": lambda: SPDMatrices(n=3),
}


def flat(X):
    """Rows of the data (SPD matrices flattened to p * p entries)."""
    return X.reshape(X.shape[0], -1)


def fit(name, X, **params):
    """``CoupledFlowEmbedding(manifold=name, random_state=0, **params).fit(X)``."""
    from slowfast_sklearn import CoupledFlowEmbedding

    params.setdefault("random_state", 0)
    return CoupledFlowEmbedding(manifold=name, **params).fit(X)


def quick_fit(name, X, **params):
    """A fit with a small budget, for tests of the maps rather than of the
    dynamics: too short for the stopping rule, so its warning is ignored."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(name, X, **params)

