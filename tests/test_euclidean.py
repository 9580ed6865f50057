"""Flat space (``geometry/euclidean.py``): coordinates are differences, in C order.

References: numpy on the same arrays.
"""

import numpy as np
import pytest
from _manifold_data import DATA

from slowfast_sklearn.geometry.euclidean import EuclideanGeometry


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_is_a_c_ordered_float64_difference(dtype):
    """x - b in float64 whatever X's dtype and layout (the on-demand rows are
    C-ordered, and BLAS rounds C- and F-ordered operands apart)."""
    X = np.asfortranarray(DATA["euclidean"](50).astype(dtype))
    geometry = EuclideanGeometry(4)
    base = geometry.base_point(X)
    Z = geometry.log(X, base)
    assert Z.dtype == np.float64 and Z.flags.c_contiguous
    np.testing.assert_array_equal(Z, X.astype(np.float64) - base)
    np.testing.assert_array_equal(geometry.exp(Z, base), X.astype(np.float64))


def test_weighted_base_point_and_relative_floor():
    X = DATA["euclidean"](40, seed=1)
    w = np.random.default_rng(0).random(40)
    geometry = EuclideanGeometry(4)
    np.testing.assert_allclose(geometry.base_point(X, w / w.sum()), w @ X / w.sum(), rtol=1e-14)
    base = geometry.base_point(X)
    np.testing.assert_array_equal(geometry.rounding_floor(base, np.float32),
                                  4 * np.finfo(np.float32).eps * np.abs(base))


def test_neighbours_come_from_the_coordinates_at_any_scale():
    """Flat distances are those of the coordinates: an exact power-of-two
    scale of Z scales them exactly and keeps the neighbours."""
    X = DATA["euclidean"](200, seed=2)
    geometry = EuclideanGeometry(4)
    Z = geometry.log(X, geometry.base_point(X))
    d, idx = geometry.kneighbors(X, Z, 5)
    d_scaled, idx_scaled = geometry.kneighbors(X, np.ldexp(Z, -7), 5)
    np.testing.assert_array_equal(idx_scaled, idx)
    np.testing.assert_array_equal(d_scaled, np.ldexp(d, -7))
    full = np.linalg.norm(Z[:, None] - Z[None], axis=-1)
    np.fill_diagonal(full, np.inf)
    np.testing.assert_allclose(d, np.sort(full, axis=1)[:, :5], rtol=1e-12)


def test_sparse_points_base_point_and_neighbours():
    """Sparse rows: the mean (weighted or not) and scikit-learn's exact
    search on CSR give the dense answers (distances to rounding: the sparse
    search expands |x - y|**2)."""
    import scipy.sparse as sp
    from sklearn.neighbors import NearestNeighbors

    X = DATA["euclidean"](300, seed=3)
    X[np.random.default_rng(1).random(X.shape) < 0.2] = 0.0
    assert len(np.unique(X, axis=0)) == 300  # no tied distances to 0
    S = sp.csr_array(X)
    geometry = EuclideanGeometry(4)
    w = np.random.default_rng(2).random(300)
    np.testing.assert_allclose(geometry.base_point(S), X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(geometry.base_point(S, w), w @ X / w.sum(), rtol=1e-14)
    dist, ind = geometry.kneighbors(S, S, 7)
    expected_dist, expected_ind = NearestNeighbors(n_neighbors=8).fit(X).kneighbors()
    np.testing.assert_allclose(dist, expected_dist[:, :7], rtol=1e-10)
    # The sparse and dense searches round apart: indices may swap only
    # between neighbours at the same distance to rounding.
    clear = np.abs(np.diff(expected_dist[:, :8], axis=1)) > 1e-9 * expected_dist[:, 1:8]
    sure = clear[:, :7] & np.concatenate([np.ones((300, 1), bool), clear[:, :6]], axis=1)
    assert sure.mean() > 0.9
    np.testing.assert_array_equal(ind[sure], expected_ind[:, :7][sure])
