"""The Langevin walkers (``kernel="langevin"``): kernel B of the fast process.

Walkers are points of the manifold moved by exponential-map Euler-Maruyama
steps of the Langevin SDE of the tempered kernel density (``theory.md``
section 2, kernel B)::

    X_{t+1} = Exp_{X_t}( h grad log p_sigma(X_t) + sqrt(2 h / beta) xi_t ),

with ``xi_t ~ N(0, g^-1)`` in the tangent space at ``X_t`` and
``grad log p_sigma(x) = sigma**-2 sum_i w_i(x) Log_x(a_i)``, ``w`` the softmax
of ``-dist(x, a_i)**2 / (2 sigma**2)`` over the anchors ``a_i`` (a Riemannian
mean shift).  Its invariant law is ``p_sigma**beta dvol`` up to an ``O(h)``
bias; in ``R^d`` at ``beta = 1`` its covariance is the data's plus
``sigma**2 I`` (same eigenvectors).

The manifold enters through a geometry adapter of
:mod:`~slowfast_sklearn.geometry` (``mean_shift``, ``tangent_noise``,
``exp_at``, ``walker_log``); everything else is arrays and a
:class:`numpy.random.Generator`, vectorised over walkers.
:class:`LangevinProcess` is this process's entry in the registry of fast
processes.
"""

import numpy as np
import scipy.sparse as sp

from .graph import systematic_positions

__all__ = ["langevin_step", "mmd2", "median_bandwidth", "LangevinWalkers", "LangevinProcess"]

#: Time step of the walkers: h = LANGEVIN_STEP * sigma**2 (theory.md section 2).
LANGEVIN_STEP = 0.25

#: Most KDE anchors (theory.md section 2: cost per step O(n_walkers n_anchors)).
MAX_ANCHORS = 500
#: Most walkers and data points entering the MMD**2 Lyapunov proxy.
MAX_MMD_POINTS = 512


def langevin_step(geometry, X, anchors, sigma2, step, beta, rng):
    """One exponential-map Euler-Maruyama step for every walker.

    Parameters
    ----------
    geometry : geometry adapter
        From :func:`~slowfast_sklearn.geometry.resolve_geometry`.
    X : ndarray of shape (n_walkers, n_features)
        Walkers, points of the manifold.
    anchors : ndarray of shape (n_anchors, n_features)
        Points of the kernel density estimate.
    sigma2 : float
        Kernel variance ``sigma**2`` (squared geodesic distance units).
    step : float
        Time step ``h``; ``h <= sigma2`` (at ``h = sigma2`` the drift jumps
        straight to the local weighted mean).
    beta : float
        Inverse temperature.
    rng : numpy.random.Generator

    Returns
    -------
    X_new : ndarray of shape (n_walkers, n_features)
        Walkers after the step, on the manifold.
    """
    drift = geometry.mean_shift(X, anchors, sigma2) * (step / sigma2)
    noise = geometry.tangent_noise(X, rng) * np.sqrt(2.0 * step / beta)
    return geometry.exp_at(drift + noise, X)


def median_bandwidth(Z):
    """Median of the positive pairwise squared distances of the rows of ``Z``.

    Parameters
    ----------
    Z : ndarray of shape (n, d)

    Returns
    -------
    bandwidth : float
        1.0 if all rows coincide.
    """
    sq = _sq_dists(Z, Z)
    positive = sq[np.triu_indices(Z.shape[0], 1)]
    positive = positive[positive > 0]
    return float(np.median(positive)) if positive.size else 1.0


def _sq_dists(A, B):
    sq = (
        np.einsum("ij,ij->i", A, A)[:, None]
        - 2.0 * A @ B.T
        + np.einsum("ij,ij->i", B, B)[None, :]
    )
    return np.maximum(sq, 0.0)


def mmd2(A, B, bandwidth, kbb=None):
    """Squared maximum mean discrepancy with the kernel ``exp(-|a - b|**2 / bandwidth)``.

    The biased (V-statistic) estimate, non-negative.

    Parameters
    ----------
    A : ndarray of shape (n_a, d)
    B : ndarray of shape (n_b, d)
    bandwidth : float
    kbb : float, default=None
        Precomputed mean of the kernel over ``B x B``.

    Returns
    -------
    mmd2 : float

    References
    ----------
    A. Gretton et al., "A kernel two-sample test", JMLR 13, 2012.
    """
    kaa = np.mean(np.exp(-_sq_dists(A, A) / bandwidth))
    kab = np.mean(np.exp(-_sq_dists(A, B) / bandwidth))
    if kbb is None:
        kbb = np.mean(np.exp(-_sq_dists(B, B) / bandwidth))
    return max(float(kaa + kbb - 2.0 * kab), 0.0)


def _dense_rows(X, rows):
    """``X[rows]`` as a float64 array (a sparse ``X`` densifies those rows only)."""
    if sp.issparse(X):
        return X[rows].toarray().astype(np.float64, copy=False)
    return np.asarray(X, dtype=np.float64)[rows]


class LangevinWalkers:
    """Kernel B's walkers as a fast process for :func:`~slowfast_sklearn.solvers.stochastic.coupled_flow`.

    Parameters
    ----------
    geometry : geometry adapter
    X : ndarray or scipy sparse array of shape (n_samples, n_features)
        The samples (points of the manifold); walkers start on them by
        systematic sampling, and up to ``MAX_ANCHORS`` of them (drawn without
        replacement) are the KDE anchors.
    coordinates : callable
        Maps walkers (n, n_features) to ``(Z, keep)``: their coordinates as
        the slow process sees them and a mask of the walkers whose log map
        at the base point is defined (the sphere's cut locus is dropped from
        the batch, theory.md section 8).
    Z : ndarray or row view of shape (n_samples, n_coordinates)
        ``coordinates`` of the samples, the reference of the MMD**2 proxy.
    sigma2 : float
        Kernel variance.
    step : float
        Time step ``h``.
    beta : float
        Inverse temperature.
    n_walkers : int
    rng : numpy.random.Generator
    """

    def __init__(self, geometry, X, coordinates, Z, sigma2, step, beta, n_walkers, rng):
        n = X.shape[0]
        self.geometry = geometry
        self.coordinates = coordinates
        self.sigma2, self.h, self.beta = float(sigma2), float(step), float(beta)
        anchor_idx = np.arange(n)
        if n > MAX_ANCHORS:
            anchor_idx = np.sort(rng.choice(n, MAX_ANCHORS, replace=False))
        self.anchors = _dense_rows(X, anchor_idx)
        start = systematic_positions(np.full(n, 1.0 / n), n_walkers, rng)
        self.walkers = _dense_rows(X, start)
        # Fixed MMD reference: a subsample of the data and the median-heuristic
        # Gaussian kernel on the coordinates.
        ref = np.arange(n)
        if n > MAX_MMD_POINTS:
            ref = np.sort(rng.choice(n, MAX_MMD_POINTS, replace=False))
        self._ref = Z[ref]
        self._bandwidth = median_bandwidth(self._ref)
        self._kbb = float(np.mean(np.exp(-_sq_dists(self._ref, self._ref) / self._bandwidth)))
        self._last = None

    def step(self, walk_steps, rng):
        """Move every walker ``walk_steps`` Langevin steps; return their coordinates.

        Parameters
        ----------
        walk_steps : int
        rng : numpy.random.Generator

        Returns
        -------
        batch : ndarray of shape (n_kept, n_coordinates)
            Coordinates of the walkers whose log map is defined.
        """
        for _ in range(walk_steps):
            self.walkers = langevin_step(
                self.geometry, self.walkers, self.anchors, self.sigma2, self.h, self.beta, rng
            )
        Z, keep = self.coordinates(self.walkers)
        self._last = Z[keep]
        return self._last

    def divergence(self):
        """MMD**2 between the walkers and the data (fixed Gaussian kernel on coordinates)."""
        if self._last is None:
            self._last = self.coordinates(self.walkers)[0]
        Z = self._last[:MAX_MMD_POINTS]
        return mmd2(Z, self._ref, self._bandwidth, self._kbb)

    @property
    def state(self):
        """The walkers, shape (n_walkers, n_features)."""
        return self.walkers


class LangevinProcess:
    """``kernel="langevin"``: walkers on the manifold, moved by the Langevin SDE.

    Its invariant law is ``p_sigma**beta`` only up to an ``O(h)`` bias and it
    has no transition matrix, so solvers that propagate the walk's law do
    not work with it; its walkers report the empirical measure as the
    spatial one.  Solvers without walkers (``"averaged"``) use the graph
    walk's exact law instead.
    """

    name = "langevin"
    #: What it offers the solvers (a solver's ``requires`` must be a subset).
    provides = frozenset({"walkers"})
    #: Its walkers compute their own coordinates: no gathers of rows.
    gathers_rows = False
    exact_law = False

    @staticmethod
    def on_graph(problem):
        """Turn the graph's kernel width into the walkers' squared units.

        Flat neighbours are found in the scaled coordinates; the walkers
        move in ``X``'s units.

        Raises
        ------
        ValueError
            If that width over- or underflows float64 (a subnormal width
            would already lose digits).
        """
        if not problem.geometry.flat:
            return
        with np.errstate(over="ignore", under="ignore"):
            bandwidth = float(np.ldexp(problem.bandwidth, 2 * problem.exponent))
        if not np.finfo(np.float64).tiny <= bandwidth < np.inf:
            raise ValueError(
                "X's scale is out of range for kernel='langevin': the "
                "walkers' squared kernel width (in X's units) "
                f"{'overflows' if bandwidth == np.inf else 'underflows'} float64. "
                "Rescale X (for example with StandardScaler) or use "
                "kernel='graph'."
            )
        problem.bandwidth = bandwidth

    @staticmethod
    def walkers(problem, params, rng):
        """:class:`LangevinWalkers` started on the samples, seeing the
        problem's scaled coordinates of the active features."""
        geometry, base, active = problem.geometry, problem.base, problem.active
        coordinate_scale = np.ldexp(np.sqrt(problem.lambdas[0]), problem.exponent)

        def coordinates(points):
            Zw, keep = geometry.walker_log(points, base)
            return Zw[:, active] / coordinate_scale, keep

        # sigma**2 = eps / 2, h = sigma**2 / 4 (theory.md section 2), in
        # squared geodesic units.
        sigma2 = problem.bandwidth / 2.0
        return LangevinWalkers(
            geometry, problem.X, coordinates, problem.rows, sigma2, LANGEVIN_STEP * sigma2,
            problem.beta, params.n_walkers, rng,
        )

