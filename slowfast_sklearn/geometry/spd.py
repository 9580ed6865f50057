"""SPD matrices, affine-invariant metric: ``z = vecs(b^-1/2 Log_b(x) b^-1/2)``.

Off-diagonal entries of ``vecs`` carry a factor ``sqrt(2)``, so that the
``d = p (p + 1) / 2`` coordinates are orthonormal for ``<u, v>_b = tr(b^-1 u
b^-1 v)``.
"""

import numpy as np

from ._base import MEMBERSHIP_TOL, Geometry, frechet_mean, softmax_rows

__all__ = ["SPDGeometry", "SPD_SCORE_NEIGHBORS"]

#: KDE anchors kept per walker on the SPD manifold (nearest in tangent
#: coordinates at the base point); the Gaussian weights of the rest vanish.
SPD_SCORE_NEIGHBORS = 64


def _sym_eig(M):
    """Batched eigendecomposition of symmetric matrices (symmetrised first)."""
    return np.linalg.eigh(0.5 * (M + np.swapaxes(M, -1, -2)))


def _sym_fun(M, fun):
    w, U = _sym_eig(M)
    return (U * fun(w)[..., None, :]) @ np.swapaxes(U, -1, -2)


def _sym_log(M):
    return _sym_fun(M, lambda w: np.log(np.maximum(w, 1e-300)))


def _root(w):
    return np.sqrt(np.maximum(w, 1e-300))


def _square_roots(M):
    """``(M^1/2, M^-1/2)`` of (batches of) SPD matrices, from one eigendecomposition."""
    w, U = _sym_eig(M)
    root = _root(w)[..., None, :]
    Ut = np.swapaxes(U, -1, -2)
    return (U * root) @ Ut, (U / root) @ Ut


def _inv_chol(M):
    """``L^-1`` with ``M = L L^T``, batched."""
    L = np.linalg.cholesky(0.5 * (M + np.swapaxes(M, -1, -2)))
    eye = np.broadcast_to(np.eye(M.shape[-1]), L.shape)
    return np.linalg.solve(L, eye)


class SPDGeometry(Geometry):
    """Symmetric positive definite ``p x p`` matrices, affine-invariant metric.

    Points are rows of ``p * p`` entries (row-major flattened matrices);
    ``(n, p, p)`` input is flattened by the estimator (:attr:`matrix_points`).
    Tangent coordinates are ``vecs(b^-1/2 Log_b(x) b^-1/2)`` with
    off-diagonal entries times ``sqrt(2)``, orthonormal for the metric
    ``<u, v>_b = tr(b^-1 u b^-1 v)``.

    Parameters
    ----------
    n_features : int
        ``p * p``.
    """

    name = "spd"
    matrix_points = True

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
        self._base_roots = None
        self._anchor_logs = None

    @classmethod
    def from_space(cls, space):
        from geomstats.geometry.spd_matrices import SPDAffineMetric, SPDMatrices

        metric = getattr(space, "metric", None)
        if isinstance(space, SPDMatrices) and type(metric) is SPDAffineMetric:
            if getattr(metric, "power_affine", 1) == 1:
                return space.n * space.n
        return None

    def space(self):
        """The geomstats space with its default affine-invariant metric."""
        from geomstats.geometry.spd_matrices import SPDMatrices

        return SPDMatrices(n=self.p)

    def _mat(self, X):
        return np.asarray(X, dtype=np.float64).reshape(-1, self.p, self.p)

    def check_points(self, X):
        """Refuse non-symmetric or not positive definite matrices.

        The messages name the largest relative asymmetry or the most negative
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
        b = frechet_mean(self.space(), M, init)
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
        """``(b^1/2, b^-1/2)``, kept for the last base point (fixed through a fit)."""
        cached = self._base_roots
        if cached is None or not np.array_equal(cached[0], base):
            cached = (np.array(base), *_square_roots(self._mat(base)[0]))
            self._base_roots = cached
        return cached[1], cached[2]

    def log(self, X, base, cut_direction=None):
        """``vecs(logm(b^-1/2 x b^-1/2))`` = ``vecs(b^-1/2 Log_b(x) b^-1/2)``."""
        _, inv_half = self._roots(base)
        return self._vecs(_sym_log(inv_half @ self._mat(X) @ inv_half))

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
        Li = _inv_chol(A)
        M = Li @ B @ np.swapaxes(Li, -1, -2)
        w = np.linalg.eigvalsh(0.5 * (M + np.swapaxes(M, -1, -2)))
        return np.sqrt(np.sum(np.log(np.maximum(w, 1e-300)) ** 2, axis=-1))

    def kneighbors(self, X, Z, n_neighbors, progress=None):
        """Candidates in tangent coordinates, ranked by the exact affine-invariant
        distance (one batched eigenvalue call)."""
        return self._reranked_kneighbors(self._mat(X), Z, n_neighbors, progress)

    def exp_at(self, V, X):
        half, inv_half = _square_roots(self._mat(X))
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
        half = _sym_fun(M, _root)
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
        cached = self._anchor_logs
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
        half, inv_half = _square_roots(M)
        N = inv_half[:, None] @ A[cand] @ inv_half[:, None]
        lw, LU = _sym_eig(N)
        logw = np.log(np.maximum(lw, 1e-300))
        dist2 = np.sum(logw**2, axis=-1)
        weights = softmax_rows(-dist2 / (2.0 * sigma2))
        L = (LU * logw[..., None, :]) @ np.swapaxes(LU, -1, -2)
        S = np.einsum("nm,nmij->nij", weights, L)
        return (half @ S @ half).reshape(-1, self.n_features)
