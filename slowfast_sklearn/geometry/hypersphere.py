"""The unit sphere ``S^d`` in ``R^(d+1)``: ``z = E_b Log_b x``, ``E_b`` a basis of ``b^perp``."""

import warnings

import numpy as np

from ._base import MEMBERSHIP_TOL, Geometry, frechet_mean, self_kneighbors, softmax_rows

__all__ = ["HypersphereGeometry", "CUT_LOCUS_MARGIN"]

#: Distance (rad) from the antipode of the base point, its cut locus, within
#: which a point counts as on it: walkers there leave the Hebbian batch
#: (theory.md section 8), a sample there makes fit refuse the data, and
#: log warns (the log map jumps there; geomstats 2.8 returns 0 at -b).
CUT_LOCUS_MARGIN = 1e-3
#: Norm of the tangent part of a point below which its direction from the
#: base point is rounding (the antipode itself, in float64).
_NO_DIRECTION = 16 * np.finfo(np.float64).eps


def _project(X):
    X = np.asarray(X, dtype=np.float64)
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def _log_ambient(X, base):
    """``Log_b x`` in ambient coordinates and the angles, for rows of X (b per row or shared)."""
    c = np.einsum("...j,...j->...", X, np.broadcast_to(base, X.shape))
    u = X - c[..., None] * base
    s = np.linalg.norm(u, axis=-1)
    theta = np.arctan2(s, c)
    # theta / sin(theta) -> 1 at 0; u = sin(theta) * direction.
    coef = np.where(s > 1e-300, theta / np.where(s > 1e-300, s, 1.0), 1.0)
    return coef[..., None] * u, theta


def frame(base):
    """Orthonormal basis ``E_b`` of ``b^perp``, one row per vector.

    Parameters
    ----------
    base : ndarray of shape (d + 1,)

    Returns
    -------
    E : ndarray of shape (d, d + 1)
    """
    D = base.shape[0]
    Q, _ = np.linalg.qr(np.column_stack([base, np.eye(D)]))
    E = Q[:, 1:D].T
    # Remove the rounding component along b (QR leaves about 1e-16).
    return E - np.outer(E @ base, base)


class HypersphereGeometry(Geometry):
    """The unit sphere ``S^d`` in ``R^(d+1)`` with the round metric.

    Parameters
    ----------
    n_features : int
        Ambient dimension ``d + 1`` (at least 2).
    """

    name = "hypersphere"

    def __init__(self, n_features):
        if n_features < 2:
            raise ValueError(
                f"manifold='hypersphere' needs points of R^(d+1) with d >= 1: "
                f"X has {n_features} feature(s)."
            )
        self.n_features = n_features
        self.dim = n_features - 1

    @classmethod
    def from_space(cls, space):
        from geomstats.geometry.hypersphere import Hypersphere

        metric = getattr(space, "metric", None)
        if isinstance(space, Hypersphere) and type(metric).__name__ == "HypersphereMetric":
            return space.dim + 1
        return None

    def space(self):
        """The geomstats space (imported lazily)."""
        from geomstats.geometry.hypersphere import Hypersphere

        return Hypersphere(dim=self.dim)

    def check_points(self, X):
        """Refuse rows whose norm differs from 1 by more than rounding."""
        dev = np.abs(np.linalg.norm(np.asarray(X, dtype=np.float64), axis=1) - 1.0)
        worst = float(dev.max()) if dev.size else 0.0
        if not worst <= MEMBERSHIP_TOL:
            raise ValueError(
                f"X is not on the manifold 'hypersphere' (unit vectors): the largest "
                f"deviation | |x| - 1 | is {worst:.3g} (row {int(dev.argmax())}), "
                f"above the tolerance {MEMBERSHIP_TOL:g}. Normalise the rows first."
            )

    def base_point(self, X, weights=None):
        """Frechet mean (geomstats ``FrechetMean``), with a uniqueness check.

        Raises
        ------
        ValueError
            If the samples' extrinsic mean vanishes (e.g. an antipodally
            symmetric cloud) or a sample lies at the antipode of the mean,
            where the log map is undefined.

        Warns
        -----
        UserWarning
            If a sample lies farther than ``pi / 2`` from the mean: the data
            are not in an open hemisphere around it, so the Frechet mean need
            not be unique (Afsari 2011) and tangent PCA depends on which one
            the optimiser found.
        """
        X = _project(X)
        extrinsic = X.mean(axis=0)
        norm = np.linalg.norm(extrinsic)
        if norm < 1e-8:
            raise ValueError(
                "The Frechet mean on 'hypersphere' is not unique: the samples' "
                "extrinsic mean is 0 (an antipodally symmetric cloud). Tangent "
                "PCA needs data in an open hemisphere."
            )
        base = _project(frechet_mean(self.space(), X, extrinsic / norm))
        angle = np.arccos(np.clip(X @ base, -1.0, 1.0))
        if angle.max() > np.pi - CUT_LOCUS_MARGIN:
            raise ValueError(
                f"A sample lies at the antipode of the Frechet mean on 'hypersphere' "
                f"(distance {angle.max():.4f} rad, pi = {np.pi:.4f}): the log map is "
                "undefined there and the mean is not unique."
            )
        if angle.max() >= np.pi / 2:
            warnings.warn(
                f"The samples are not within an open hemisphere around their "
                f"Frechet mean on 'hypersphere' (largest distance "
                f"{angle.max():.3f} rad >= pi/2): the mean need not be unique and "
                "tangent coordinates are strongly distorted.",
                UserWarning,
            )
        return base

    def rounding_floor(self, base, dtype):
        return 64 * np.finfo(dtype).eps

    def log(self, X, base, cut_direction=None):
        """Frame coordinates ``E_b Log_b x``, defined on the whole sphere.

        At the antipode ``-b`` (the cut locus) every direction is a shortest
        geodesic: the coordinates there are ``pi * cut_direction`` (default
        the frame's first axis).  Near it they are the log map's own, of norm
        close to ``pi`` and continuous in ``x`` as long as the point's offset
        from the antipode exceeds rounding; a warning says how many points
        lie within ``CUT_LOCUS_MARGIN`` of it, where the map jumps.
        """
        X = _project(X)
        V, theta = _log_ambient(X, base)
        E = frame(base)
        Z = V @ E.T
        near = theta > np.pi - CUT_LOCUS_MARGIN
        if near.any():
            Z[near] = self._cut_locus_log(X[near], base, E, cut_direction)
            warnings.warn(
                f"{int(near.sum())} point(s) lie within {CUT_LOCUS_MARGIN:g} rad of the cut "
                "locus of the base point on 'hypersphere' (its antipode), where the log map "
                "jumps: their tangent coordinates have norm close to pi and swing round "
                "with tiny moves of the point; at the antipode itself they point along "
                "a fixed direction (for transform, the first principal axis).",
                UserWarning,
            )
        return Z

    def _cut_locus_log(self, X, base, E, cut_direction):
        """The log of points near ``-b``, from their offset's frame coordinates.

        The tangent part is read in the frame (exactly orthogonal to ``b``)
        about the normalised base point, so that the rounding of a float32
        ``mean_`` does not pass for a direction; where it is rounding itself
        (the antipode), the coordinates are ``pi * cut_direction``.
        """
        unit = base / np.linalg.norm(base)
        c = X @ unit
        W = (X - c[:, None] * unit) @ E.T
        s = np.linalg.norm(W, axis=1)
        theta = np.arctan2(s, c)
        direction = np.eye(self.dim)[0] if cut_direction is None else cut_direction
        direction = np.asarray(direction, dtype=np.float64) / np.linalg.norm(direction)
        defined = s > _NO_DIRECTION
        out = theta[:, None] * direction
        out[defined] = (theta[defined] / s[defined])[:, None] * W[defined]
        return out

    def walker_log(self, X, base):
        V, theta = _log_ambient(_project(X), base)
        return V @ frame(base).T, theta <= np.pi - CUT_LOCUS_MARGIN

    def exp_at(self, V, X):
        norm = np.linalg.norm(V, axis=-1, keepdims=True)
        safe = np.where(norm > 0, norm, 1.0)
        Y = np.cos(norm) * X + np.sin(norm) * (V / safe)
        return _project(Y)

    def exp(self, V, base):
        return self.exp_at(V @ frame(base), base)

    def to_ambient(self, W, base):
        return W.T @ frame(base)

    def from_ambient(self, V, base):
        return np.asarray(V, dtype=np.float64) @ frame(base).T

    def kneighbors(self, X, Z, n_neighbors, progress=None):
        """Geodesic neighbours: chordal search, then ``2 arcsin(chord / 2)``.

        The geodesic distance is an increasing function of the chord, so the
        chordal neighbours are the geodesic ones.
        """
        chord, idx = self_kneighbors(X, n_neighbors, progress=progress)
        return 2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0)), idx

    def tangent_noise(self, X, rng):
        xi = rng.standard_normal(X.shape)
        return xi - np.einsum("ij,ij->i", xi, X)[:, None] * X

    def mean_shift(self, X, anchors, sigma2):
        c = np.clip(X @ anchors.T, -1.0, 1.0)
        theta = np.arccos(c)
        # KDE terms at the cut locus of a walker are dropped (theory.md section 8).
        keep = theta < np.pi - CUT_LOCUS_MARGIN
        w = softmax_rows(-(theta**2) / (2.0 * sigma2), keep)
        s = np.sqrt(np.maximum(1.0 - c * c, 0.0))
        ratio = np.where(s > 1e-12, theta / np.where(s > 1e-12, s, 1.0), 1.0)
        a = w * ratio
        # Log_x(y) = theta / sin(theta) * (y - cos(theta) x), summed linearly.
        return a @ anchors - np.sum(a * c, axis=1)[:, None] * X
