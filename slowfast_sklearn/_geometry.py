"""Geometry adapters: the one seam between the dynamics and the manifold.

An adapter turns points of a manifold into tangent coordinates at a base
point and back, and finds the nearest neighbours the spatial kernel needs.
Everything it returns is a plain float64 array; adapters hold no fitted
state, so estimators rebuild them from their ``manifold`` parameter and
store arrays only (geomstats estimator objects do not pickle).

Tangent coordinates are taken in an orthonormal frame of the metric at the
base point ``b`` (``theory.md`` section 1):

* ``"euclidean"``: ``z = x - b``;
* ``"hypersphere"`` (unit vectors of ``R^(d+1)``): ``z = E_b Log_b x`` with
  ``E_b`` an orthonormal basis of ``b^perp``;
* ``"poincare_ball"`` (points of norm < 1, curvature -1): ``z = lambda_b Log_b x``
  with ``lambda_b = 2 / (1 - |b|**2)``;
* ``"spd"`` (affine-invariant metric): ``z = vecs(b^-1/2 Log_b(x) b^-1/2)``,
  off-diagonal entries times ``sqrt(2)``, ``d = p (p + 1) / 2``.

The closed forms of geomstats 2.8's metrics are evaluated in numpy, batched
over all points at once (geomstats' calls cost about 3x more and return 0 at
the sphere's cut locus); the tests compare every one with geomstats.  Only
the Frechet mean calls geomstats (on the sphere and SPD; the ball runs its
own Karcher flow), imported lazily so that ``import slowfast_sklearn`` stays
fast.
"""

import numpy as np
from sklearn.neighbors import NearestNeighbors

__all__ = [
    "MANIFOLDS",
    "EuclideanGeometry",
    "HypersphereGeometry",
    "PoincareBallGeometry",
    "SPDGeometry",
    "resolve_geometry",
    "is_matrix_manifold",
]

MANIFOLDS = ("euclidean", "hypersphere", "poincare_ball", "spd")

#: Membership tolerance: float32 rounding of a normalised or symmetrised
#: point (about 1e-7 relative) passes, a real departure does not.
MEMBERSHIP_TOL = 1e-5
#: Fréchet mean optimiser (theory.md section 1: geomstats' defaults leave a
#: tangent mean of 8e-3).
FRECHET_MAX_ITER = 1000
FRECHET_EPSILON = 1e-12
#: Distance from the antipode of the base point below which the sphere's log
#: map is refused (it is undefined there; geomstats 2.8 returns 0).
CUT_LOCUS_MARGIN = 1e-3
#: Poincare points are kept at norm <= 1 - BALL_MARGIN after an exp step.
BALL_MARGIN = 1e-6
#: Input of norm >= 1 - BOUNDARY_TOL counts as on the ball's boundary (the
#: rounding of a boundary point may leave it just inside).
BOUNDARY_TOL = 1e-9
#: KDE anchors kept per walker on the SPD manifold (nearest in tangent
#: coordinates at the base point); the Gaussian weights of the rest vanish.
SPD_SCORE_NEIGHBORS = 64


def _frechet_mean(space, X, init_point):
    """geomstats ``FrechetMean`` with the tightened optimiser of theory.md section 1."""
    from geomstats.learning.frechet_mean import FrechetMean

    estimator = FrechetMean(space)
    # On the circle S^1 geomstats returns its exact CircleMean (Hotz and
    # Huckemann 2015), which has no optimiser to set.
    if hasattr(estimator, "set"):
        estimator.set(max_iter=FRECHET_MAX_ITER, epsilon=FRECHET_EPSILON, init_point=init_point)
    return np.asarray(estimator.fit(X).estimate_, dtype=np.float64)


#: Query rows per kNN chunk times (n_neighbors + 1).
_KNN_CHUNK_ENTRIES = 2**18


def _self_kneighbors(points, n_neighbors):
    """Every sample's ``n_neighbors`` nearest other samples, Euclidean.

    What ``NearestNeighbors(n_neighbors).fit(points).kneighbors()`` returns
    (the sample itself left out; with more duplicates than neighbours the
    first duplicate stands for it, as in scikit-learn), but queried in row
    chunks written into preallocated outputs with 32-bit indices: peak
    memory is the result plus one chunk, not three result-sized arrays.
    The distances are the same; where several samples tie for the last
    place, which of them is listed may differ (scikit-learn's own choice
    depends on how it splits the work, hence on chunk and thread counts).

    Returns
    -------
    distances : ndarray of shape (n_samples, n_neighbors), float64
    indices : ndarray of shape (n_samples, n_neighbors), int32 (intp beyond 2**31 samples)
    """
    n = points.shape[0]
    nn = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(points)
    distances = np.empty((n, n_neighbors))
    indices = np.empty((n, n_neighbors), dtype=np.int32 if n < 2**31 else np.intp)
    chunk = max(1, _KNN_CHUNK_ENTRIES // (n_neighbors + 1))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        dist, ind = nn.kneighbors(points[start:stop])
        keep = ind != np.arange(start, stop)[:, None]
        keep[keep.all(axis=1), 0] = False
        distances[start:stop] = dist[keep].reshape(-1, n_neighbors)
        indices[start:stop] = ind[keep].reshape(-1, n_neighbors)
    return distances, indices


def _rerank(candidates, pair_dist, n_neighbors):
    """Keep the ``n_neighbors`` candidates nearest by the exact distance.

    ``candidates`` (n, m) indices, ``pair_dist`` (n, m) exact distances.
    """
    order = np.argsort(pair_dist, axis=1, kind="stable")[:, :n_neighbors]
    return (
        np.take_along_axis(pair_dist, order, axis=1),
        np.take_along_axis(candidates, order, axis=1),
    )


def _softmax_rows(logits, mask=None):
    """Row-wise softmax; entries with ``mask`` False get weight 0."""
    if mask is not None:
        logits = np.where(mask, logits, -np.inf)
    logits = logits - logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    return w / w.sum(axis=1, keepdims=True)


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

    def rounding_floor(self, base, dtype):
        """Spread of a coordinate below which it counts as constant.

        Parameters
        ----------
        base : ndarray of shape (n_features,)
        dtype : numpy dtype
            Dtype of the input.

        Returns
        -------
        floor : ndarray of shape (dim,) or float
        """
        # Relative to each column's magnitude, so the test is scale-free.
        return 4 * np.finfo(dtype).eps * np.abs(base)

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
        # One float64 result, no upcast copy first (memory on large input);
        # C order whatever X's, since BLAS rounds C- and F-ordered operands
        # differently and the walkers' on-demand rows are C-ordered.
        return np.subtract(X, base, dtype=np.float64, order="C")

    def walker_log(self, X, base):
        """Coordinates of walkers and which of them may enter the batch.

        Parameters
        ----------
        X : ndarray of shape (n_walkers, n_features)
        base : ndarray of shape (n_features,)

        Returns
        -------
        Z : ndarray of shape (n_walkers, dim)
        keep : ndarray of bool, shape (n_walkers,)
            False where the log map is undefined (the sphere's cut locus).
        """
        return self.log(X, base), np.ones(X.shape[0], dtype=bool)

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
        return np.array(W.T)

    def from_ambient(self, V, base):
        """Frame coordinates of tangent vectors at ``base`` (inverse of :meth:`to_ambient`).

        Parameters
        ----------
        V : ndarray of shape (n_vectors, n_features)
        base : ndarray of shape (n_features,)

        Returns
        -------
        W : ndarray of shape (n_vectors, dim)
        """
        return np.asarray(V, dtype=np.float64)

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
        return _self_kneighbors(Z, n_neighbors)

    # -- kernel B (Riemannian Langevin) -----------------------------------

    def exp_at(self, V, X):
        """``Exp_x v`` row by row (each row its own base point).

        Parameters
        ----------
        V : ndarray of shape (n, n_features)
            Ambient tangent vectors, ``V[i]`` tangent at ``X[i]``.
        X : ndarray of shape (n, n_features)

        Returns
        -------
        Y : ndarray of shape (n, n_features)
        """
        return X + V

    def tangent_noise(self, X, rng):
        """Draws of ``N(0, g_x^-1)`` in the tangent space at each row of ``X``.

        Parameters
        ----------
        X : ndarray of shape (n, n_features)
        rng : numpy.random.Generator

        Returns
        -------
        xi : ndarray of shape (n, n_features)
        """
        return rng.standard_normal(X.shape)

    def mean_shift(self, X, anchors, sigma2):
        """``sum_i w_i(x) Log_x(a_i)``, ``w = softmax(-dist(x, a_i)**2 / (2 sigma2))``.

        ``sigma2**-1`` times this is the score ``grad log p_sigma`` of the
        Gaussian kernel density of the anchors (theory.md section 2, kernel B).

        Parameters
        ----------
        X : ndarray of shape (n, n_features)
            Walkers.
        anchors : ndarray of shape (n_anchors, n_features)
        sigma2 : float
            Kernel variance.

        Returns
        -------
        shift : ndarray of shape (n, n_features)
            Tangent vectors at the rows of ``X``, ambient coordinates.
        """
        sq = (
            np.einsum("ij,ij->i", X, X)[:, None]
            - 2.0 * X @ anchors.T
            + np.einsum("ij,ij->i", anchors, anchors)[None, :]
        )
        w = _softmax_rows(-np.maximum(sq, 0.0) / (2.0 * sigma2))
        return w @ anchors - X


class HypersphereGeometry(EuclideanGeometry):
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

    def space(self):
        """The geomstats space (imported lazily)."""
        from geomstats.geometry.hypersphere import Hypersphere

        return Hypersphere(dim=self.dim)

    def check_points(self, X):
        """Refuse rows whose norm differs from 1 by more than rounding.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)

        Raises
        ------
        ValueError
            Naming the largest deviation ``| |x| - 1 |``.
        """
        dev = np.abs(np.linalg.norm(np.asarray(X, dtype=np.float64), axis=1) - 1.0)
        worst = float(dev.max()) if dev.size else 0.0
        if not worst <= MEMBERSHIP_TOL:
            raise ValueError(
                f"X is not on the manifold 'hypersphere' (unit vectors): the largest "
                f"deviation | |x| - 1 | is {worst:.3g} (row {int(dev.argmax())}), "
                f"above the tolerance {MEMBERSHIP_TOL:g}. Normalise the rows first."
            )

    @staticmethod
    def _project(X):
        X = np.asarray(X, dtype=np.float64)
        return X / np.linalg.norm(X, axis=-1, keepdims=True)

    def base_point(self, X, weights=None):
        """Frechet mean (geomstats ``FrechetMean``), with a uniqueness check.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        weights : None
            Only uniform weights are supported.

        Returns
        -------
        base : ndarray of shape (n_features,)

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
        X = self._project(X)
        extrinsic = X.mean(axis=0)
        norm = np.linalg.norm(extrinsic)
        if norm < 1e-8:
            raise ValueError(
                "The Frechet mean on 'hypersphere' is not unique: the samples' "
                "extrinsic mean is 0 (an antipodally symmetric cloud). Tangent "
                "PCA needs data in an open hemisphere."
            )
        base = self._project(_frechet_mean(self.space(), X, extrinsic / norm))
        angle = np.arccos(np.clip(X @ base, -1.0, 1.0))
        if angle.max() > np.pi - CUT_LOCUS_MARGIN:
            raise ValueError(
                f"A sample lies at the antipode of the Frechet mean on 'hypersphere' "
                f"(distance {angle.max():.4f} rad, pi = {np.pi:.4f}): the log map is "
                "undefined there and the mean is not unique."
            )
        if angle.max() >= np.pi / 2:
            import warnings

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

    @staticmethod
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

    @staticmethod
    def _log_ambient(X, base):
        """``Log_b x`` in ambient coordinates and the angles, for rows of X (b per row or shared)."""
        c = np.einsum("...j,...j->...", X, np.broadcast_to(base, X.shape))
        u = X - c[..., None] * base
        s = np.linalg.norm(u, axis=-1)
        theta = np.arctan2(s, c)
        # theta / sin(theta) -> 1 at 0; u = sin(theta) * direction.
        coef = np.where(s > 1e-300, theta / np.where(s > 1e-300, s, 1.0), 1.0)
        return coef[..., None] * u, theta

    def _log_checked(self, X, base):
        X = self._project(X)
        V, theta = self._log_ambient(X, base)
        if theta.size and theta.max() > np.pi - CUT_LOCUS_MARGIN:
            raise ValueError(
                f"A point lies at the cut locus of the base point on 'hypersphere' "
                f"(distance {theta.max():.4f} rad from it, the antipode is at pi): "
                "the log map is undefined there."
            )
        return V

    def log(self, X, base):
        """Frame coordinates ``E_b Log_b x``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, d + 1)
        base : ndarray of shape (d + 1,)

        Returns
        -------
        Z : ndarray of shape (n_samples, d)

        Raises
        ------
        ValueError
            If a point is within ``CUT_LOCUS_MARGIN`` of ``-b``.
        """
        return self._log_checked(X, base) @ self.frame(base).T

    def walker_log(self, X, base):
        V, theta = self._log_ambient(self._project(X), base)
        return V @ self.frame(base).T, theta <= np.pi - CUT_LOCUS_MARGIN

    def exp_at(self, V, X):
        norm = np.linalg.norm(V, axis=-1, keepdims=True)
        safe = np.where(norm > 0, norm, 1.0)
        Y = np.cos(norm) * X + np.sin(norm) * (V / safe)
        return self._project(Y)

    def exp(self, V, base):
        """Points ``Exp_b(E_b^T z)`` from frame coordinates.

        Parameters
        ----------
        V : ndarray of shape (n_samples, d)
        base : ndarray of shape (d + 1,)

        Returns
        -------
        X : ndarray of shape (n_samples, d + 1)
        """
        return self.exp_at(V @ self.frame(base), base)

    def to_ambient(self, W, base):
        return W.T @ self.frame(base)

    def from_ambient(self, V, base):
        return np.asarray(V, dtype=np.float64) @ self.frame(base).T

    def kneighbors(self, X, Z, n_neighbors):
        """Geodesic neighbours: chordal search, then ``2 arcsin(chord / 2)``.

        The geodesic distance is an increasing function of the chord, so the
        chordal neighbours are the geodesic ones.
        """
        chord, idx = _self_kneighbors(X, n_neighbors)
        return 2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0)), idx

    def tangent_noise(self, X, rng):
        xi = rng.standard_normal(X.shape)
        return xi - np.einsum("ij,ij->i", xi, X)[:, None] * X

    def mean_shift(self, X, anchors, sigma2):
        c = np.clip(X @ anchors.T, -1.0, 1.0)
        theta = np.arccos(c)
        # KDE terms at the cut locus of a walker are dropped (theory.md section 8).
        keep = theta < np.pi - CUT_LOCUS_MARGIN
        w = _softmax_rows(-(theta**2) / (2.0 * sigma2), keep)
        s = np.sqrt(np.maximum(1.0 - c * c, 0.0))
        ratio = np.where(s > 1e-12, theta / np.where(s > 1e-12, s, 1.0), 1.0)
        a = w * ratio
        # Log_x(y) = theta / sin(theta) * (y - cos(theta) x), summed linearly.
        return a @ anchors - np.sum(a * c, axis=1)[:, None] * X


class PoincareBallGeometry(EuclideanGeometry):
    """The Poincare ball model of hyperbolic space, curvature -1.

    Metric ``g_x = lambda_x**2 I`` with ``lambda_x = 2 / (1 - |x|**2)``, as in
    geomstats' ``PoincareBall``.

    Parameters
    ----------
    n_features : int
        Dimension ``d``.
    """

    name = "poincare_ball"

    def space(self):
        """The geomstats space (imported lazily)."""
        from geomstats.geometry.poincare_ball import PoincareBall

        return PoincareBall(dim=self.dim)

    def check_points(self, X):
        """Refuse rows of norm ``1 - BOUNDARY_TOL`` or more (on or outside the boundary).

        Raises
        ------
        ValueError
            Naming the largest norm.
        """
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

    @staticmethod
    def _clip(X):
        X = np.asarray(X, dtype=np.float64)
        norm = np.linalg.norm(X, axis=-1, keepdims=True)
        limit = 1.0 - BALL_MARGIN
        return np.where(norm > limit, X * (limit / np.where(norm > 0, norm, 1.0)), X)

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
        X = self._clip(X)
        b = X.mean(axis=0)

        def frechet(point):
            return np.mean(self.pair_dist(X, point) ** 2)

        value, step = frechet(b), 1.0
        for _ in range(FRECHET_MAX_ITER):
            g = self._log_ambient(X, b).mean(axis=0)
            if (2.0 / (1.0 - b @ b)) ** 2 * (g @ g) <= FRECHET_EPSILON * self.dim:
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
        return 64 * np.finfo(dtype).eps * np.linalg.norm(base) * 2.0 / (1.0 - base @ base)

    @staticmethod
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

    def _log_ambient(self, X, base):
        X = self._clip(X)
        base = np.broadcast_to(base, X.shape)
        xy = np.einsum("ij,ij->i", base, X)
        nb = np.einsum("ij,ij->i", base, base)
        nx = np.einsum("ij,ij->i", X, X)
        a, c, _ = self._log_pairs(xy, nb, nx)
        return a[:, None] * base + c[:, None] * X

    def log(self, X, base):
        """Frame coordinates ``lambda_b Log_b x``."""
        lam = 2.0 / (1.0 - base @ base)
        return lam * self._log_ambient(X, base)

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
        return self._clip(num / (1.0 + 2.0 * xu + nx * nu)[:, None])

    def exp(self, V, base):
        lam = 2.0 / (1.0 - base @ base)
        V = np.asarray(V, dtype=np.float64)
        return self.exp_at(V / lam, np.broadcast_to(base, V.shape))

    def to_ambient(self, W, base):
        return W.T * ((1.0 - base @ base) / 2.0)

    def from_ambient(self, V, base):
        return np.asarray(V, dtype=np.float64) * (2.0 / (1.0 - base @ base))

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

    def kneighbors(self, X, Z, n_neighbors):
        """Geodesic neighbours: candidates in tangent coordinates, exact re-ranking.

        ``2 * n_neighbors`` candidates come from a Euclidean search in the
        coordinates at the base point; the exact hyperbolic distances rank them.
        """
        X = self._clip(X)
        m = min(2 * n_neighbors, X.shape[0] - 1)
        _, cand = _self_kneighbors(Z, m)
        return _rerank(cand, self.pair_dist(X[:, None, :], X[cand]), n_neighbors)

    def tangent_noise(self, X, rng):
        lam = 2.0 / (1.0 - np.einsum("ij,ij->i", X, X))
        return rng.standard_normal(X.shape) / lam[:, None]

    def mean_shift(self, X, anchors, sigma2):
        xy = X @ anchors.T
        nx = np.einsum("ij,ij->i", X, X)[:, None]
        na = np.einsum("ij,ij->i", anchors, anchors)[None, :]
        a, c, dist = self._log_pairs(xy, nx, na)
        w = _softmax_rows(-(dist**2) / (2.0 * sigma2))
        return np.sum(w * a, axis=1)[:, None] * X + (w * c) @ anchors


def _sym_eig(M):
    """Batched eigendecomposition of symmetric matrices (symmetrised first)."""
    return np.linalg.eigh(0.5 * (M + np.swapaxes(M, -1, -2)))


def _sym_fun(M, fun):
    w, U = _sym_eig(M)
    return (U * fun(w)[..., None, :]) @ np.swapaxes(U, -1, -2)


class SPDGeometry(EuclideanGeometry):
    """Symmetric positive definite ``p x p`` matrices, affine-invariant metric.

    Points are rows of ``p * p`` entries (row-major flattened matrices);
    :func:`is_matrix_manifold` tells the estimator to flatten ``(n, p, p)``
    input.  Tangent coordinates are ``vecs(b^-1/2 Log_b(x) b^-1/2)`` with
    off-diagonal entries times ``sqrt(2)``, orthonormal for the metric
    ``<u, v>_b = tr(b^-1 u b^-1 v)``.

    Parameters
    ----------
    n_features : int
        ``p * p``.
    """

    name = "spd"

    def __init__(self, n_features):
        p = int(round(np.sqrt(n_features)))
        if p * p != n_features:
            raise ValueError(
                f"manifold='spd' needs p x p matrices flattened to p * p columns "
                f"(or an array of shape (n, p, p)): X has {n_features} features, "
                "not a perfect square."
            )
        self.n_features = n_features
        self.p = p
        self.dim = p * (p + 1) // 2
        iu = np.triu_indices(p)
        self._iu = iu
        self._weights = np.where(iu[0] == iu[1], 1.0, np.sqrt(2.0))

    def space(self):
        """The geomstats space with its default affine-invariant metric."""
        from geomstats.geometry.spd_matrices import SPDMatrices

        return SPDMatrices(n=self.p)

    def _mat(self, X):
        return np.asarray(X, dtype=np.float64).reshape(-1, self.p, self.p)

    def check_points(self, X):
        """Refuse non-symmetric or not positive definite matrices.

        Raises
        ------
        ValueError
            Naming the largest relative asymmetry or the most negative
            relative eigenvalue ``lambda_min / max |lambda|``.
        """
        M = self._mat(X)
        if M.shape[0] == 0:
            return
        scale = np.maximum(np.abs(M).max(axis=(1, 2)), np.finfo(np.float64).tiny)
        asym = np.abs(M - np.swapaxes(M, 1, 2)).max(axis=(1, 2)) / scale
        if not asym.max() <= MEMBERSHIP_TOL:
            raise ValueError(
                f"X is not on the manifold 'spd': matrix {int(asym.argmax())} is not "
                f"symmetric (largest deviation |x - x^T| / max|x| = {asym.max():.3g}, "
                f"tolerance {MEMBERSHIP_TOL:g})."
            )
        w = np.linalg.eigvalsh(0.5 * (M + np.swapaxes(M, 1, 2)))
        rel = w[:, 0] / np.maximum(np.abs(w).max(axis=1), np.finfo(np.float64).tiny)
        # Rounding leaves a singular matrix with eigenvalues of order p * eps.
        if not rel.min() > self.p * MEMBERSHIP_TOL * 1e-3:
            raise ValueError(
                f"X is not on the manifold 'spd': matrix {int(rel.argmin())} is not "
                f"positive definite (smallest eigenvalue / largest |eigenvalue| = "
                f"{rel.min():.3g})."
            )

    def base_point(self, X, weights=None):
        """Frechet mean (geomstats ``FrechetMean``; unique, SPD is Hadamard)."""
        M = self._mat(X)
        M = 0.5 * (M + np.swapaxes(M, 1, 2))
        # Start at the log-Euclidean mean: close, so few iterations.
        init = _sym_fun(_sym_fun(M, np.log).mean(axis=0), np.exp)
        if self.p == 1:
            # 1 x 1 matrices commute: the log-Euclidean mean (the geometric
            # mean) is the Frechet mean; geomstats' SPDMatrices(n=1) fails.
            return init.ravel()
        b = _frechet_mean(self.space(), M, init)
        return (0.5 * (b + b.T)).ravel()

    def rounding_floor(self, base, dtype):
        return 64 * np.finfo(dtype).eps

    def _vecs(self, S):
        return S[..., self._iu[0], self._iu[1]] * self._weights

    def _unvecs(self, z):
        z = np.asarray(z, dtype=np.float64)
        S = np.zeros(z.shape[:-1] + (self.p, self.p))
        vals = z / self._weights
        S[..., self._iu[0], self._iu[1]] = vals
        S[..., self._iu[1], self._iu[0]] = vals
        return S

    def _roots(self, base):
        w, U = _sym_eig(self._mat(base)[0])
        w = np.maximum(w, 1e-300)
        return (U * np.sqrt(w)) @ U.T, (U / np.sqrt(w)) @ U.T

    def _whitened_log(self, X, base):
        """``logm(b^-1/2 x b^-1/2)`` for every row."""
        _, inv_half = self._roots(base)
        return _sym_fun(inv_half @ self._mat(X) @ inv_half, lambda w: np.log(np.maximum(w, 1e-300)))

    def log(self, X, base):
        """Frame coordinates ``vecs(logm(b^-1/2 x b^-1/2))`` = ``vecs(b^-1/2 Log_b(x) b^-1/2)``."""
        return self._vecs(self._whitened_log(X, base))

    def exp(self, V, base):
        half, _ = self._roots(base)
        E = _sym_fun(self._unvecs(V), np.exp)
        return (half @ E @ half).reshape(-1, self.n_features)

    def to_ambient(self, W, base):
        half, _ = self._roots(base)
        return (half @ self._unvecs(W.T) @ half).reshape(-1, self.n_features)

    def from_ambient(self, V, base):
        _, inv_half = self._roots(base)
        return self._vecs(inv_half @ self._mat(V) @ inv_half)

    @staticmethod
    def _inv_chol(M):
        """``L^-1`` with ``M = L L^T``, batched."""
        L = np.linalg.cholesky(0.5 * (M + np.swapaxes(M, -1, -2)))
        eye = np.broadcast_to(np.eye(M.shape[-1]), L.shape)
        return np.linalg.solve(L, eye)

    def pair_dist(self, A, B):
        """Affine-invariant distances ``|log eig(a^-1 b)|`` between matching matrices.

        Parameters
        ----------
        A, B : ndarray of shape (..., p, p)
            Broadcasting batches of SPD matrices.

        Returns
        -------
        dist : ndarray of shape (...)
        """
        Li = self._inv_chol(A)
        M = Li @ B @ np.swapaxes(Li, -1, -2)
        w = np.linalg.eigvalsh(0.5 * (M + np.swapaxes(M, -1, -2)))
        return np.sqrt(np.sum(np.log(np.maximum(w, 1e-300)) ** 2, axis=-1))

    def kneighbors(self, X, Z, n_neighbors):
        """Geodesic neighbours: candidates in tangent coordinates, exact re-ranking.

        ``2 * n_neighbors`` candidates from a Euclidean search in the frame
        coordinates at the base point, ranked by the exact affine-invariant
        distance computed in one batched eigenvalue call.
        """
        M = self._mat(X)
        m = min(2 * n_neighbors, M.shape[0] - 1)
        _, cand = _self_kneighbors(Z, m)
        return _rerank(cand, self.pair_dist(M[:, None], M[cand]), n_neighbors)

    def exp_at(self, V, X):
        M = self._mat(X)
        w, U = _sym_eig(M)
        w = np.maximum(w, 1e-300)
        half = (U * np.sqrt(w)[:, None, :]) @ np.swapaxes(U, 1, 2)
        inv_half = (U / np.sqrt(w)[:, None, :]) @ np.swapaxes(U, 1, 2)
        E = _sym_fun(inv_half @ self._mat(V) @ inv_half, np.exp)
        Y = half @ E @ half
        # Symmetrise and floor the eigenvalues (theory.md section 8 guard).
        Y = _sym_fun(Y, lambda v: np.maximum(v, 1e-12))
        return Y.reshape(-1, self.n_features)

    def tangent_noise(self, X, rng):
        M = self._mat(X)
        n = M.shape[0]
        G = rng.standard_normal((n, self.p, self.p))
        # S_ii ~ N(0, 1), S_ij ~ N(0, 1/2): the standard Gaussian of the
        # metric at the identity.
        S = 0.5 * (G + np.swapaxes(G, 1, 2))
        w, U = _sym_eig(M)
        half = (U * np.sqrt(np.maximum(w, 0.0))[:, None, :]) @ np.swapaxes(U, 1, 2)
        return (half @ S @ half).reshape(n, self.n_features)

    def mean_shift(self, X, anchors, sigma2):
        """KDE mean shift, truncated to the nearest anchors.

        The ``SPD_SCORE_NEIGHBORS`` anchors nearest to each walker in
        log-Euclidean coordinates are kept (the rest have negligible Gaussian
        weight at the default bandwidth); their exact logs cost one batched
        eigendecomposition.
        """
        M = self._mat(X)
        A = self._mat(anchors)
        # Candidates: nearest in log-Euclidean coordinates.
        zx = self._vecs(_sym_fun(M, np.log))
        # The anchors are fixed during a run: compute their logs once.
        cached = getattr(self, "_anchor_logs", None)
        if cached is None or cached[0] is not anchors:
            cached = (anchors, self._vecs(_sym_fun(A, np.log)))
            self._anchor_logs = cached
        za = cached[1]
        m = min(SPD_SCORE_NEIGHBORS, A.shape[0])
        sq = (
            np.einsum("ij,ij->i", zx, zx)[:, None] - 2.0 * zx @ za.T
            + np.einsum("ij,ij->i", za, za)[None, :]
        )
        cand = np.argpartition(sq, m - 1, axis=1)[:, :m] if m < A.shape[0] else np.broadcast_to(
            np.arange(A.shape[0]), sq.shape
        )
        w, U = _sym_eig(M)
        w = np.maximum(w, 1e-300)
        half = (U * np.sqrt(w)[:, None, :]) @ np.swapaxes(U, 1, 2)
        inv_half = (U / np.sqrt(w)[:, None, :]) @ np.swapaxes(U, 1, 2)
        N = inv_half[:, None] @ A[cand] @ inv_half[:, None]
        lw, LU = _sym_eig(N)
        logw = np.log(np.maximum(lw, 1e-300))
        dist2 = np.sum(logw**2, axis=-1)
        weights = _softmax_rows(-dist2 / (2.0 * sigma2))
        L = (LU * logw[..., None, :]) @ np.swapaxes(LU, -1, -2)
        S = np.einsum("nm,nmij->nij", weights, L)
        return (half @ S @ half).reshape(-1, self.n_features)


_BY_NAME = {
    "euclidean": EuclideanGeometry,
    "hypersphere": HypersphereGeometry,
    "poincare_ball": PoincareBallGeometry,
    "spd": SPDGeometry,
}


def _name_of_space(space):
    """The adapter name for a geomstats space object, or raise ValueError."""
    from geomstats.geometry.euclidean import Euclidean
    from geomstats.geometry.hypersphere import Hypersphere
    from geomstats.geometry.poincare_ball import PoincareBall
    from geomstats.geometry.spd_matrices import SPDAffineMetric, SPDMatrices

    metric = getattr(space, "metric", None)
    if isinstance(space, Hypersphere) and type(metric).__name__ == "HypersphereMetric":
        return "hypersphere", space.dim + 1
    if isinstance(space, PoincareBall) and type(metric).__name__ == "PoincareBallMetric":
        return "poincare_ball", space.dim
    if isinstance(space, SPDMatrices) and type(metric) is SPDAffineMetric:
        if getattr(metric, "power_affine", 1) == 1:
            return "spd", space.n * space.n
    if isinstance(space, Euclidean):
        return "euclidean", space.dim
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
        return manifold == "spd"
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
    geometry : EuclideanGeometry
        Or one of its subclasses.

    Raises
    ------
    ValueError
        If ``manifold`` is unknown, or ``n_features`` does not fit it (the
        sphere needs at least 2 columns, SPD a perfect square, a space
        object its own ambient dimension).
    """
    if isinstance(manifold, str):
        if manifold not in _BY_NAME:
            raise ValueError(f"Unknown manifold {manifold!r}: expected one of {MANIFOLDS}.")
        return _BY_NAME[manifold](n_features)
    name, expected = _name_of_space(manifold)
    if expected != n_features:
        raise ValueError(
            f"X has {n_features} features, but the manifold {type(manifold).__name__}"
            f"(dim={manifold.dim}) has points with {expected} coordinates."
        )
    return _BY_NAME[name](n_features)
