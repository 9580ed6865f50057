"""The Poincare ball (curvature -1): ``z = lambda_b Log_b x``, ``lambda_b = 2 / (1 - |b|**2)``."""

import numpy as np

from ._base import FRECHET_EPSILON, FRECHET_MAX_ITER, Geometry, softmax_rows

__all__ = ["PoincareBallGeometry", "BALL_MARGIN", "BOUNDARY_TOL"]

#: Poincare points are kept at norm <= 1 - BALL_MARGIN after an exp step.
BALL_MARGIN = 1e-6
#: Input of norm >= 1 - BOUNDARY_TOL counts as on the ball's boundary (the
#: rounding of a boundary point may leave it just inside).
BOUNDARY_TOL = 1e-9


def conformal_factor(x):
    """``lambda_x = 2 / (1 - |x|**2)``: the metric at ``x`` is ``lambda_x**2 I``.

    Parameters
    ----------
    x : ndarray of shape (d,) or (n, d)

    Returns
    -------
    lam : float or ndarray of shape (n,)
    """
    return 2.0 / (1.0 - (x @ x if x.ndim == 1 else np.einsum("ij,ij->i", x, x)))


def _clip(X):
    X = np.asarray(X, dtype=np.float64)
    norm = np.linalg.norm(X, axis=-1, keepdims=True)
    limit = 1.0 - BALL_MARGIN
    return np.where(norm > limit, X * (limit / np.where(norm > 0, norm, 1.0)), X)


def _log_pairs(xy, nx, ny):
    """For ``Log_x y``: coefficients (on x, on y) and the distance, from inner products."""
    den = 1.0 - 2.0 * xy + nx * ny
    cx = -(1.0 - 2.0 * xy + ny) / den
    cy = (1.0 - nx) / den
    m2 = np.maximum(cx * cx * nx + 2.0 * cx * cy * xy + cy * cy * ny, 0.0)
    m = np.sqrt(m2)
    mc = np.minimum(m, 1.0 - 1e-16)
    # artanh(m) / m -> 1 at 0.
    ratio = np.where(m > 1e-12, np.arctanh(mc) / np.where(m > 1e-12, m, 1.0), 1.0)
    coef = (1.0 - nx) * ratio
    return coef * cx, coef * cy, 2.0 * np.arctanh(mc)


def _log_ambient(X, base):
    """``Log_b x`` in ambient coordinates for every row of ``X``."""
    X = _clip(X)
    base = np.broadcast_to(base, X.shape)
    xy = np.einsum("ij,ij->i", base, X)
    nb = np.einsum("ij,ij->i", base, base)
    nx = np.einsum("ij,ij->i", X, X)
    a, c, _ = _log_pairs(xy, nb, nx)
    return a[:, None] * base + c[:, None] * X


class PoincareBallGeometry(Geometry):
    """The Poincare ball model of hyperbolic space, curvature -1.

    Metric ``g_x = lambda_x**2 I`` with ``lambda_x = 2 / (1 - |x|**2)``, as in
    geomstats' ``PoincareBall``.

    Parameters
    ----------
    n_features : int
        Dimension ``d``.
    """

    name = "poincare_ball"

    @classmethod
    def from_space(cls, space):
        from geomstats.geometry.poincare_ball import PoincareBall

        metric = getattr(space, "metric", None)
        if isinstance(space, PoincareBall) and type(metric).__name__ == "PoincareBallMetric":
            return space.dim
        return None

    def check_points(self, X):
        """Refuse rows of norm ``1 - BOUNDARY_TOL`` or more (on or outside the boundary)."""
        norm = np.linalg.norm(np.asarray(X, dtype=np.float64), axis=1)
        worst = float(norm.max()) if norm.size else 0.0
        if not worst < 1.0 - BOUNDARY_TOL:
            raise ValueError(
                f"X is not on the manifold 'poincare_ball' (open unit ball): the "
                f"largest norm is {worst:.6g} (row {int(norm.argmax())}), the "
                f"largest deviation beyond the boundary {worst - 1.0:.3g} (points "
                f"need norm < 1 - {BOUNDARY_TOL:g}). Scale X so that every row's "
                "norm is below 1, or choose another manifold."
            )

    def base_point(self, X, weights=None):
        """Frechet mean (unique, the ball is Hadamard), by the Karcher flow.

        Steps ``b <- Exp_b(t mean_i Log_b x_i)`` from the extrinsic mean with
        the closed forms of this class; ``t`` starts at 1 and is halved until
        the Frechet function (geodesically convex) decreases.  Stops as
        geomstats' ``FrechetMean`` with the tightened optimiser: squared norm
        of the tangent mean at most ``FRECHET_EPSILON * dim``.  (geomstats'
        fixed step overshoots towards the boundary when samples near it are
        far apart, and its log then returns NaN.)
        """
        X = _clip(X)
        b = X.mean(axis=0)

        def frechet(point):
            return np.mean(self.pair_dist(X, point) ** 2)

        value, step = frechet(b), 1.0
        for _ in range(FRECHET_MAX_ITER):
            g = _log_ambient(X, b).mean(axis=0)
            if conformal_factor(b) ** 2 * (g @ g) <= FRECHET_EPSILON * self.dim:
                break
            while step > 1e-12:
                candidate = self.exp_at(step * g[None, :], b[None, :])[0]
                candidate_value = frechet(candidate)
                if candidate_value <= value:
                    break
                step /= 2.0
            else:
                break
            b, value, step = candidate, candidate_value, min(1.0, 2.0 * step)
        return b

    def rounding_floor(self, base, dtype):
        # The rounding of a point near b, |b| eps, in tangent units
        # (lambda_b times ambient): relative, as in flat space, so that a
        # small cloud near the origin is not taken for identical samples.
        return 64 * np.finfo(dtype).eps * np.linalg.norm(base) * conformal_factor(base)

    def log(self, X, base, cut_direction=None):
        """Frame coordinates ``lambda_b Log_b x``."""
        return conformal_factor(base) * _log_ambient(X, base)

    def exp_at(self, V, X):
        X = np.asarray(X, dtype=np.float64)
        nx = np.einsum("ij,ij->i", X, X)
        nv = np.linalg.norm(V, axis=1)
        # Exp_x v = x (+) tanh(lambda_x |v| / 2) v / |v|.
        t = np.tanh(nv / (1.0 - nx))
        safe = np.where(nv > 0, nv, 1.0)
        U = (t / safe)[:, None] * V
        xu = np.einsum("ij,ij->i", X, U)
        nu = np.einsum("ij,ij->i", U, U)
        num = (1.0 + 2.0 * xu + nu)[:, None] * X + (1.0 - nx)[:, None] * U
        return _clip(num / (1.0 + 2.0 * xu + nx * nu)[:, None])

    def exp(self, V, base):
        V = np.asarray(V, dtype=np.float64)
        return self.exp_at(V / conformal_factor(base), np.broadcast_to(base, V.shape))

    def to_ambient(self, W, base):
        return W.T / conformal_factor(base)

    def from_ambient(self, V, base):
        return np.asarray(V, dtype=np.float64) * conformal_factor(base)

    def pair_dist(self, A, B):
        """Geodesic distances between matching rows (broadcasting).

        Parameters
        ----------
        A, B : ndarray of shape (..., d)

        Returns
        -------
        dist : ndarray of shape (...)
        """
        na = np.einsum("...j,...j->...", A, A)
        nb = np.einsum("...j,...j->...", B, B)
        diff = A - B
        q = np.einsum("...j,...j->...", diff, diff) / ((1.0 - na) * (1.0 - nb))
        # arccosh(1 + 2q) written to keep precision for close points.
        return 2.0 * np.arcsinh(np.sqrt(q))

    def kneighbors(self, X, Z, n_neighbors, progress=None):
        """Candidates in tangent coordinates, ranked by the exact hyperbolic distance."""
        return self._reranked_kneighbors(_clip(X), Z, n_neighbors, progress)

    def tangent_noise(self, X, rng):
        return rng.standard_normal(X.shape) / conformal_factor(X)[:, None]

    def mean_shift(self, X, anchors, sigma2):
        xy = X @ anchors.T
        nx = np.einsum("ij,ij->i", X, X)[:, None]
        na = np.einsum("ij,ij->i", anchors, anchors)[None, :]
        a, c, dist = _log_pairs(xy, nx, na)
        w = softmax_rows(-(dist**2) / (2.0 * sigma2))
        return np.sum(w * a, axis=1)[:, None] * X + (w * c) @ anchors
