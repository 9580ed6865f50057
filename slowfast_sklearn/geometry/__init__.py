"""Manifolds, one module each, behind the contract of :class:`~._base.Geometry`.

:data:`GEOMETRIES` is the one registry: it names the ``manifold`` strings
(and so the estimator's parameter constraint and the command line's
choices), and each adapter recognises the geomstats space objects it stands
for (:meth:`~._base.Geometry.from_space`).  A new manifold is one module
with a :class:`~._base.Geometry` subclass and one line here.
"""

from ._base import Geometry
from .euclidean import EuclideanGeometry
from .hypersphere import HypersphereGeometry
from .poincare_ball import PoincareBallGeometry
from .spd import SPDGeometry

__all__ = ["GEOMETRIES", "MANIFOLDS", "Geometry", "is_matrix_manifold", "resolve_geometry"]

GEOMETRIES = {
    cls.name: cls
    for cls in (EuclideanGeometry, HypersphereGeometry, PoincareBallGeometry, SPDGeometry)
}
MANIFOLDS = tuple(GEOMETRIES)


def _from_space(space):
    """The adapter class and ambient dimension for a geomstats space object."""
    for cls in GEOMETRIES.values():
        n_features = cls.from_space(space)
        if n_features is not None:
            return cls, n_features
    metric = getattr(space, "metric", None)
    raise ValueError(
        f"Unsupported manifold {type(space).__name__} with metric "
        f"{type(metric).__name__}: CoupledFlowEmbedding supports geomstats "
        "Euclidean, Hypersphere, PoincareBall and SPDMatrices (affine-invariant "
        "metric), or the strings " + ", ".join(repr(m) for m in MANIFOLDS) + "."
    )


def is_matrix_manifold(manifold):
    """Whether points of ``manifold`` are matrices (accepted as (n, p, p) arrays).

    Parameters
    ----------
    manifold : str or geomstats space

    Returns
    -------
    bool
    """
    if isinstance(manifold, str):
        return manifold in GEOMETRIES and GEOMETRIES[manifold].matrix_points
    return getattr(manifold, "point_ndim", 1) == 2


def resolve_geometry(manifold, n_features):
    """Build the adapter named by an estimator's ``manifold`` parameter.

    Parameters
    ----------
    manifold : str or geomstats space
        One of :data:`MANIFOLDS`, or a geomstats ``Euclidean``,
        ``Hypersphere``, ``PoincareBall`` or ``SPDMatrices`` (with its default
        affine-invariant metric) instance, which gives the same adapter as
        the matching string.
    n_features : int
        Number of input columns.

    Returns
    -------
    geometry : Geometry

    Raises
    ------
    ValueError
        If ``manifold`` is unknown, or ``n_features`` does not fit it (the
        sphere needs at least 2 columns, SPD a perfect square, a space
        object its own ambient dimension).
    """
    if isinstance(manifold, str):
        if manifold not in GEOMETRIES:
            raise ValueError(f"Unknown manifold {manifold!r}: expected one of {MANIFOLDS}.")
        return GEOMETRIES[manifold](n_features)
    cls, expected = _from_space(manifold)
    if expected != n_features:
        raise ValueError(
            f"X has {n_features} features, but the manifold {type(manifold).__name__}"
            f"(dim={manifold.dim}) has points with {expected} coordinates."
        )
    return cls(n_features)
