"""SPD matrices (``geometry/spd.py``): matrix and row layouts, 1 x 1 matrices,
the affine-invariant distance, square roots kept per base point.

References: scipy's matrix functions and numpy.
"""

import numpy as np
from _manifold_data import DATA, flat, quick_fit
from scipy import linalg

from slowfast_sklearn.geometry.spd import SPDGeometry


def test_pair_dist_is_the_affine_invariant_distance():
    """d(a, b) = ||logm(a^-1/2 b a^-1/2)||_F (scipy), batched."""
    M = DATA["spd"](5, seed=1)
    geometry = SPDGeometry(9)
    d = geometry.pair_dist(M[:, None], M[None, :])
    for i in range(5):
        inv_half = linalg.inv(linalg.sqrtm(M[i]).real)
        for j in range(5):
            expected = np.linalg.norm(linalg.logm(inv_half @ M[j] @ inv_half).real)
            assert abs(d[i, j] - expected) < 1e-10


def test_square_roots_are_kept_for_the_base_point_only():
    """log/exp at one base reuse its square roots; another base gets its own."""
    X = flat(DATA["spd"](20, seed=2))
    geometry = SPDGeometry(9)
    a, b = X[0], X[1]
    Za = geometry.log(X, a)
    Zb = geometry.log(X, b)
    np.testing.assert_allclose(geometry.exp(Za, a), X, atol=1e-10)
    np.testing.assert_allclose(SPDGeometry(9).log(X, b), Zb, rtol=0, atol=0)
    half = linalg.sqrtm(b.reshape(3, 3)).real
    np.testing.assert_allclose(geometry._roots(b)[0], half, atol=1e-12)


def test_spd_accepts_matrices_and_rows():
    """(n, p, p) and flattened (n, p*p) input give the same fit and features."""
    X = DATA["spd"](200, seed=2)
    a = quick_fit("spd", X, max_iter=300, n_walkers=128, tol=1.0)
    b = quick_fit("spd", flat(X), max_iter=300, n_walkers=128, tol=1.0)
    np.testing.assert_array_equal(a.components_, b.components_)
    np.testing.assert_array_equal(a.transform(X), b.transform(flat(X)))
    assert a.n_features_in_ == 9


def test_one_by_one_spd_is_the_positive_half_line():
    """p = 1: positive numbers with d(a, b) = |log(a / b)|.  The mean is the
    geometric mean, transform the log-ratio to it (geomstats' SPDMatrices(n=1)
    fails inside its eigh, so the fit raised a numpy matmul ValueError)."""
    X = np.array([[1.21632], [0.36787945], [2.0], [0.5]])
    emb = quick_fit("spd", X, n_components=1, max_iter=20, n_neighbors=2)
    np.testing.assert_allclose(emb.mean_, [np.exp(np.log(X).mean())], rtol=1e-14)
    np.testing.assert_allclose(
        np.abs(emb.transform(X)[:, 0]), np.abs(np.log(X[:, 0] / emb.mean_[0])), atol=1e-12
    )
