"""Flat space ``R^d``: tangent coordinates ``z = x - b``."""

import numpy as np

from ._base import Geometry, self_kneighbors, softmax_rows

__all__ = ["EuclideanGeometry"]


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
        """The (weighted) arithmetic mean, in float64."""
        return np.average(np.asarray(X, dtype=np.float64), axis=0, weights=weights)

    def rounding_floor(self, base, dtype):
        # Relative to each column's magnitude, so the test is scale-free.
        return 4 * np.finfo(dtype).eps * np.abs(base)

    def log(self, X, base):
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
