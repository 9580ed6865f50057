"""Flat space ``R^d``: tangent coordinates ``z = x - b``."""

import numpy as np
import scipy.sparse as sp
from sklearn import config_context

from ._base import Geometry, self_kneighbors, softmax_rows

__all__ = ["APPROXIMATE_FROM", "EuclideanGeometry"]

#: From this many samples (with more than :data:`TREE_DIMENSIONS` features)
#: the walkers' graph comes from the approximate search of
#: :mod:`~slowfast_sklearn._neighbors`: the exact one costs O(n**2 d) once
#: space-partitioning trees no longer help, 6 s at 20,000 x 100 and about
#: two minutes at 100,000 x 100 on one core.  Read at each fit (tests may
#: lower it).
APPROXIMATE_FROM = 20_000
#: Up to this many features scikit-learn's kd-tree finds the exact
#: neighbours in O(n log n).
TREE_DIMENSIONS = 15


class EuclideanGeometry(Geometry):
    """Flat space ``R^d`` with its standard metric.

    Parameters
    ----------
    n_features : int
        Ambient (and intrinsic) dimension ``d``.
    """

    name = "euclidean"
    flat = True

    @classmethod
    def from_space(cls, space):
        from geomstats.geometry.euclidean import Euclidean

        return space.dim if isinstance(space, Euclidean) else None

    @property
    def dims_label(self):
        return "n_features"

    def check_points(self, X):
        """Every finite point of ``R^d`` belongs; nothing to check."""

    def base_point(self, X, weights=None):
        """The (weighted) arithmetic mean, in float64 (of a scipy.sparse ``X`` too)."""
        if sp.issparse(X):
            if weights is None:
                return np.asarray(X.mean(axis=0, dtype=np.float64)).ravel()
            return (X.T @ np.asarray(weights, dtype=np.float64)) / np.sum(weights)
        return np.average(np.asarray(X, dtype=np.float64), axis=0, weights=weights)

    def rounding_floor(self, base, dtype):
        # Relative to each column's magnitude, so the test is scale-free.
        return 4 * np.finfo(dtype).eps * np.abs(base)

    def log(self, X, base, cut_direction=None):
        """``Log_b x = x - b``."""
        # One float64 result, no upcast copy first (memory on large input);
        # C order whatever X's, since BLAS rounds C- and F-ordered operands
        # differently and the walkers' on-demand rows are C-ordered.
        return np.subtract(X, base, dtype=np.float64, order="C")

    def exp(self, V, base):
        return V + base

    def to_ambient(self, W, base):
        return np.array(W.T)

    def from_ambient(self, V, base):
        return np.asarray(V, dtype=np.float64)

    def kneighbors(self, X, Z, n_neighbors, progress=None):
        """Exact neighbours, or approximate ones for many samples in many dimensions.

        The approximate graph is a function of the data alone (a fixed seed
        draws its trees): the walk's stationary law is exact on whichever
        graph is built.
        """
        if sp.issparse(Z):
            # Sparse rows: scikit-learn's exact (brute-force) search takes
            # CSR as it is, kept apart from the dense search.  Its distance
            # blocks are bounded at 16 MiB: on 6000 queries of a 20000 x 500
            # CSR array the default 1 GiB peaked at 553 MiB, 16 MiB at 36 MiB
            # and ran 2.8x faster (cache).
            with config_context(working_memory=16):
                return self_kneighbors(Z, n_neighbors, progress=progress)
        n, d = Z.shape
        if n >= APPROXIMATE_FROM and d > TREE_DIMENSIONS:
            from .._neighbors import approximate_kneighbors

            distances, indices = approximate_kneighbors(
                Z, n_neighbors, rng=np.random.default_rng(0), progress=progress)
            return distances, indices.astype(np.int32 if n < 2**31 else np.intp, copy=False)
        return self_kneighbors(Z, n_neighbors, progress=progress)

    def exp_at(self, V, X):
        return X + V

    def tangent_noise(self, X, rng):
        return rng.standard_normal(X.shape)

    def mean_shift(self, X, anchors, sigma2):
        sq = (
            np.einsum("ij,ij->i", X, X)[:, None]
            - 2.0 * X @ anchors.T
            + np.einsum("ij,ij->i", anchors, anchors)[None, :]
        )
        w = softmax_rows(-np.maximum(sq, 0.0) / (2.0 * sigma2))
        return w @ anchors - X
