"""Geometry adapters: the one seam between the dynamics and the manifold.

An adapter turns points of a manifold into tangent coordinates at a base
point and back, and finds the nearest neighbours the spatial kernel needs.
Everything it returns is a plain float64 array; adapters hold no fitted
state, so estimators rebuild them from their ``manifold`` parameter and
store arrays only (geomstats estimator objects do not pickle).

The Euclidean adapter uses the closed forms of geomstats' ``Euclidean``
metric (``Log_b x = x - b``, ``Exp_b v = b + v``, Frechet mean = arithmetic
mean) so that flat data does not pay geomstats' import time.
"""

import numpy as np
from sklearn.neighbors import NearestNeighbors

__all__ = ["MANIFOLDS", "EuclideanGeometry", "resolve_geometry"]

MANIFOLDS = ("euclidean",)


class EuclideanGeometry:
    """Flat space ``R^d`` with its standard metric.

    Parameters
    ----------
    n_features : int
        Ambient (and intrinsic) dimension ``d``.
    """

    name = "euclidean"

    def __init__(self, n_features):
        self.n_features = n_features
        self.dim = n_features

    def check_points(self, X):
        """Every finite point of ``R^d`` belongs; nothing to check.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        """

    def base_point(self, X, weights=None):
        """Frechet mean, the (weighted) arithmetic mean, in float64.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        weights : ndarray of shape (n_samples,), default=None
            Probability weights; uniform when None.

        Returns
        -------
        base : ndarray of shape (n_features,)
        """
        return np.average(np.asarray(X, dtype=np.float64), axis=0, weights=weights)

    def log(self, X, base):
        """Tangent coordinates ``Log_b x = x - b`` (float64, orthonormal frame).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        base : ndarray of shape (n_features,)

        Returns
        -------
        Z : ndarray of shape (n_samples, dim)
        """
        return np.asarray(X, dtype=np.float64) - base

    def exp(self, V, base):
        """Points ``Exp_b v = b + v`` from tangent coordinates.

        Parameters
        ----------
        V : ndarray of shape (n_samples, dim)
        base : ndarray of shape (n_features,)

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        """
        return V + base

    def to_ambient(self, W, base):
        """Tangent vectors at ``base`` in ambient coordinates.

        Parameters
        ----------
        W : ndarray of shape (dim, n_components)
            Vectors in the orthonormal tangent frame, one per column.
        base : ndarray of shape (n_features,)

        Returns
        -------
        V : ndarray of shape (n_components, n_features)
        """
        return W.T

    def kneighbors(self, X, Z, n_neighbors):
        """Geodesic nearest neighbours of every sample (self excluded).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The points.
        Z : ndarray of shape (n_samples, dim)
            Their tangent coordinates; for flat space distances are the same.
        n_neighbors : int

        Returns
        -------
        distances, indices : ndarray of shape (n_samples, n_neighbors)
        """
        return NearestNeighbors(n_neighbors=n_neighbors).fit(Z).kneighbors()


def resolve_geometry(manifold, n_features):
    """Build the adapter named by an estimator's ``manifold`` parameter.

    Parameters
    ----------
    manifold : str
        One of :data:`MANIFOLDS`.
    n_features : int
        Number of input columns.

    Returns
    -------
    geometry : EuclideanGeometry

    Raises
    ------
    ValueError
        If ``manifold`` is not a known manifold name.
    """
    if manifold == "euclidean":
        return EuclideanGeometry(n_features)
    raise ValueError(
        f"Unknown manifold {manifold!r}: expected one of {MANIFOLDS}."
    )
