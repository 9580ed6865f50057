"""The contract every manifold adapter fulfils, and the helpers they share.

An adapter turns points of a manifold into tangent coordinates at a base
point and back, moves walkers on it, and finds the nearest neighbours the
spatial kernel needs.  Everything it returns is a plain float64 array;
adapters hold no fitted state, so estimators rebuild them from their
``manifold`` parameter and store arrays only (geomstats estimator objects do
not pickle).

Tangent coordinates are taken in an orthonormal frame of the metric at the
base point ``b`` (``theory.md`` section 1).  The closed forms of geomstats
2.8's metrics are evaluated in numpy, batched over all points at once
(geomstats' calls cost about 3x more and return 0 at the sphere's cut
locus); the tests compare every one with geomstats.  Only the Frechet mean
calls geomstats (on the sphere and SPD), imported lazily, so that neither
``import slowfast_sklearn`` nor a fit on flat data imports it.
"""

from abc import ABC, abstractmethod

import numpy as np

__all__ = ["Geometry", "MEMBERSHIP_TOL", "frechet_mean", "self_kneighbors", "softmax_rows"]

#: Membership tolerance: float32 rounding of a normalised or symmetrised
#: point (about 1e-7 relative) passes, a real departure does not.
MEMBERSHIP_TOL = 1e-5
#: Fréchet mean optimiser (theory.md section 1: geomstats' defaults leave a
#: tangent mean of 8e-3).
FRECHET_MAX_ITER = 1000
FRECHET_EPSILON = 1e-12
#: Query rows per kNN chunk times (n_neighbors + 1): the memory bound.
KNN_CHUNK_ENTRIES = 2**18
#: Below the memory bound, the kNN search runs in this many chunks (so that
#: its progress is reported every 2%, about every second of a search of
#: 60,000 x 50), of at least KNN_MIN_CHUNK rows.  The distances do not depend
#: on the chunks (scikit-learn computes each query's on its own); each chunk
#: costs a pass over the fitted points' norms (1% of the search at most).
KNN_PROGRESS_CHUNKS = 50
KNN_MIN_CHUNK = 1024


class Geometry(ABC):
    """A manifold as the dynamics see it: the contract of every adapter.

    Subclasses set :attr:`name` (the ``manifold`` string), the capability
    flags, ``dim`` in ``__init__``, and implement every abstract method; the
    estimator and the fast processes use nothing else.  Points are rows of
    ``n_features`` ambient coordinates; tangent vectors are either *frame
    coordinates* (``dim`` numbers in an orthonormal basis of the metric at
    the base point) or *ambient* (``n_features`` numbers, tangent at a
    point).

    Parameters
    ----------
    n_features : int
        Number of ambient coordinates of a point.

    Attributes
    ----------
    n_features : int
        Ambient coordinates of a point.
    dim : int
        Intrinsic dimension: the number of frame coordinates.
    """

    #: The ``manifold`` string that names the adapter.
    name = None
    #: Capability: tangent coordinates are ``x - b`` in the standard basis,
    #: so that they, their moments and their distances can be read off
    #: ``X`` without the log map (streaming moments, rows made on demand,
    #: neighbours found in the coordinates themselves).
    flat = False
    #: Capability: points are ``p x p`` matrices, accepted as ``(n, p, p)``
    #: arrays as well as rows of ``p * p`` entries.
    matrix_points = False

    def __init__(self, n_features):
        self.n_features = n_features
        self.dim = n_features

    @classmethod
    def from_space(cls, space):
        """Ambient coordinates of a geomstats space this adapter stands for, or None.

        Parameters
        ----------
        space : geomstats space
            A user's ``manifold`` object.

        Returns
        -------
        n_features : int or None
            None when ``space`` (with its metric) is not this manifold.
        """
        return None

    @property
    def dims_label(self):
        """How error messages name the bound on ``n_components``."""
        return f"dim of {self.name!r}"

    @abstractmethod
    def check_points(self, X):
        """Refuse points off the manifold (membership).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)

        Raises
        ------
        ValueError
            Naming the manifold and the largest deviation, and how to fix it.
        """

    @abstractmethod
    def base_point(self, X, weights=None):
        """Frechet mean of the samples, in float64.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        weights : ndarray of shape (n_samples,), default=None
            Probability weights; uniform when None (the curved manifolds
            support uniform weights only).

        Returns
        -------
        base : ndarray of shape (n_features,)
        """

    @abstractmethod
    def rounding_floor(self, base, dtype):
        """Spread of a tangent coordinate below which it counts as constant.

        Parameters
        ----------
        base : ndarray of shape (n_features,)
        dtype : numpy dtype
            Dtype of the input.

        Returns
        -------
        floor : ndarray of shape (dim,) or float
        """

    @abstractmethod
    def log(self, X, base, cut_direction=None):
        """Frame coordinates of ``Log_b x`` (float64).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        base : ndarray of shape (n_features,)
        cut_direction : ndarray of shape (dim,), default=None
            Unit frame vector along which the coordinates of a point of the
            cut locus point, where no direction is preferred (the sphere's
            antipode); None: the frame's first axis.  Ignored by manifolds
            without a cut locus (flat space, the Hadamard manifolds).

        Returns
        -------
        Z : ndarray of shape (n_samples, dim)

        Warns
        -----
        UserWarning
            For points near the cut locus, where the log map jumps.
        """

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

    @abstractmethod
    def exp(self, V, base):
        """Points ``Exp_b`` of frame coordinates (inverse of :meth:`log`).

        Parameters
        ----------
        V : ndarray of shape (n_samples, dim)
        base : ndarray of shape (n_features,)

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        """

    @abstractmethod
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

    @abstractmethod
    def from_ambient(self, V, base):
        """Frame coordinates of ambient tangent vectors (inverse of :meth:`to_ambient`).

        Parameters
        ----------
        V : ndarray of shape (n_vectors, n_features)
        base : ndarray of shape (n_features,)

        Returns
        -------
        W : ndarray of shape (n_vectors, dim)
        """

    @abstractmethod
    def kneighbors(self, X, Z, n_neighbors, progress=None):
        """Geodesic nearest neighbours of every sample (self excluded).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The points.
        Z : ndarray of shape (n_samples, dim)
            Their tangent coordinates at the base point (for flat space the
            distances are those of ``Z``, whatever its scale).
        n_neighbors : int
        progress : callable, default=None
            ``progress(done, total)``, called as the search advances (the
            preparation's progress report, :mod:`slowfast_sklearn._prepare`).

        Returns
        -------
        distances, indices : ndarray of shape (n_samples, n_neighbors)
            Sorted by increasing distance along each row.
        """

    # -- walker moves (kernel B, the Riemannian Langevin walkers) ------------

    @abstractmethod
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
            Points of the manifold.
        """

    @abstractmethod
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

    @abstractmethod
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

    def _reranked_kneighbors(self, points, Z, n_neighbors, progress=None):
        """Geodesic neighbours from ``2 * n_neighbors`` candidates of a
        Euclidean search in the tangent coordinates ``Z``, ranked by the
        exact distance ``self.pair_dist`` between ``points`` (the curved
        manifolds whose distance is not a function of one Euclidean one)."""
        m = min(2 * n_neighbors, points.shape[0] - 1)
        _, candidates = self_kneighbors(Z, m, progress=progress)
        pair_dist = self.pair_dist(points[:, None], points[candidates])
        order = np.argsort(pair_dist, axis=1, kind="stable")[:, :n_neighbors]
        return (
            np.take_along_axis(pair_dist, order, axis=1),
            np.take_along_axis(candidates, order, axis=1),
        )


def frechet_mean(space, X, init_point):
    """geomstats ``FrechetMean`` with the tightened optimiser of theory.md section 1.

    Parameters
    ----------
    space : geomstats space
    X : ndarray of shape (n_samples, ...)
        Points of ``space``.
    init_point : ndarray
        Where the optimiser starts.

    Returns
    -------
    mean : ndarray
        float64.
    """
    from geomstats.learning.frechet_mean import FrechetMean

    estimator = FrechetMean(space)
    # On the circle S^1 geomstats returns its exact CircleMean (Hotz and
    # Huckemann 2015), which has no optimiser to set.
    if hasattr(estimator, "set"):
        estimator.set(max_iter=FRECHET_MAX_ITER, epsilon=FRECHET_EPSILON, init_point=init_point)
    return np.asarray(estimator.fit(X).estimate_, dtype=np.float64)


def self_kneighbors(points, n_neighbors, progress=None):
    """Every sample's ``n_neighbors`` nearest other samples, Euclidean.

    What ``NearestNeighbors(n_neighbors).fit(points).kneighbors()`` returns
    (the sample itself left out; with more duplicates than neighbours the
    first duplicate stands for it, as in scikit-learn), but queried in row
    chunks written into preallocated outputs with 32-bit indices: peak
    memory is the result plus one chunk, not three result-sized arrays.
    The distances are the same; where several samples tie for the last
    place, which of them is listed may differ (scikit-learn's own choice
    depends on how it splits the work, hence on chunk and thread counts).

    Parameters
    ----------
    points : ndarray of shape (n_samples, n_coordinates)
    n_neighbors : int
    progress : callable, default=None
        ``progress(done, n_samples)`` after each chunk, ``done`` the rows
        searched so far (about every 2% of them; see
        :data:`KNN_PROGRESS_CHUNKS`).

    Returns
    -------
    distances : ndarray of shape (n_samples, n_neighbors), float64
    indices : ndarray of shape (n_samples, n_neighbors), int32 (intp beyond 2**31 samples)
    """
    # Imported on first use: sklearn.neighbors brings linear_model, svm,
    # decomposition and model_selection (0.1-0.3 s), which neither
    # ``import slowfast_sklearn`` nor a fit without a graph needs.
    from sklearn.neighbors import NearestNeighbors

    n = points.shape[0]
    nn = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(points)
    distances = np.empty((n, n_neighbors))
    indices = np.empty((n, n_neighbors), dtype=np.int32 if n < 2**31 else np.intp)
    chunk = max(1, min(KNN_CHUNK_ENTRIES // (n_neighbors + 1),
                       max(KNN_MIN_CHUNK, -(-n // KNN_PROGRESS_CHUNKS))))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        dist, ind = nn.kneighbors(points[start:stop])
        keep = ind != np.arange(start, stop)[:, None]
        keep[keep.all(axis=1), 0] = False
        distances[start:stop] = dist[keep].reshape(-1, n_neighbors)
        indices[start:stop] = ind[keep].reshape(-1, n_neighbors)
        if progress is not None:
            progress(stop, n)
    return distances, indices


def softmax_rows(logits, mask=None):
    """Row-wise softmax; entries with ``mask`` False get weight 0.

    Parameters
    ----------
    logits : ndarray of shape (n, m)
    mask : ndarray of bool of shape (n, m), default=None

    Returns
    -------
    weights : ndarray of shape (n, m)
        Rows summing to 1.
    """
    if mask is not None:
        logits = np.where(mask, logits, -np.inf)
    logits = logits - logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    return w / w.sum(axis=1, keepdims=True)
