"""The scikit-learn face of the coupled flow: ``CoupledFlowEmbedding``.

Parameters, validation and the fitted attributes live here; the work is
done below: :func:`~slowfast_sklearn._prepare.prepare` turns ``X`` into a
problem, a solver of :data:`~slowfast_sklearn.solvers.SOLVERS` runs on it,
and the estimator keeps arrays only.
"""

import textwrap
import warnings
from dataclasses import replace
from itertools import groupby
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import distributed
from ._hebbian import RULES
from ._moments import ritz_axes
from ._prepare import PROGRESS_STEPS, Plan, prepare, prepare_batch, steps
from ._progress import FitProgress
from ._rows import canonical_sparse
from ._threads import one_blas_thread
from .distributed import is_dask_collection
from .fast import FAST_PROCESSES
from .geometry import GEOMETRIES, MANIFOLDS, is_matrix_manifold, resolve_geometry
from .solvers import SOLVERS, RunParams, resolve_solver

try:  # scikit-learn's callback API (1.9 on); older versions fit without it.
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # pragma: no cover
    class CallbackSupportMixin:  # noqa: D101
        pass

__all__ = ["CoupledFlowEmbedding"]

#: below this ratio sigma_min / sigma_max the raw weights count as collapsed.
_COLLAPSE_RATIO = 0.05
#: What partial_fit runs: the averaged flow on the running second moment.
_STREAM_SOLVER = SOLVERS["averaged"]


class CoupledFlowEmbedding(
    CallbackSupportMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Principal subspace learned by coupled slow-fast Hebbian dynamics.

    Walkers (the fast process) move over the training samples by a
    Metropolised random walk on their k-nearest-neighbour graph, whose exact
    stationary law is the spatial measure ``pi ~ q**(1 / temperature)``.
    Hebbian weights (the slow process) learn from the walkers' tangent
    coordinates at the base point with Sanger's or Oja's rule and converge to
    the principal eigenspace of the spatial second moment ``C_pi``.  At
    ``temperature=1`` that is the principal subspace of the data, as in
    :class:`~sklearn.decomposition.PCA`.

    Parameters
    ----------
    n_components : int, float, "mle" or None, default=2
        Number of features to learn, ``k``.  An int must not exceed
        ``min(n_samples, dim)`` (``dim = n_features`` on flat data).  None
        learns ``min(n_samples, dim)`` of them.  A float in ``(0, 1)`` learns
        the fewest whose share of the variance under the spatial measure
        exceeds it, read off the eigenvalues of ``C_pi`` (as
        :class:`~sklearn.decomposition.PCA` does with a float: a float equal
        to a cumulative ratio, up to 1e-12, is not exceeded by it, so the
        next component is taken too).  ``"mle"`` chooses ``k`` by Minka's
        (2000) evidence on the spectrum of ``C_pi`` (Bessel-corrected, with
        the measure's effective sample size), as PCA's ``"mle"`` (which
        needs ``n_samples >= dim``).  Floats and ``"mle"`` work with
        :meth:`fit` only.
    manifold : {"euclidean", "hypersphere", "poincare_ball", "spd"} or \
            geomstats space, default="euclidean"
        Space the samples live in.  Tangent coordinates are taken at the
        Frechet mean in an orthonormal frame of the metric there (for
        ``"euclidean"``: ``x - mean``).  ``"hypersphere"``: unit vectors of
        ``R^(d+1)``; ``"poincare_ball"``: points of norm below 1 (curvature
        -1); ``"spd"``: symmetric positive definite ``p x p`` matrices with
        the affine-invariant metric, as ``(n, p, p)`` arrays or rows of
        ``p * p`` entries.  A geomstats ``Euclidean``, ``Hypersphere``,
        ``PoincareBall`` or ``SPDMatrices`` (affine metric) instance gives
        the same result as the matching string.
    kernel : {"graph", "langevin"}, default="graph"
        Fast process.  ``"graph"``: the Metropolised kernel graph walk on
        geodesic distances (kernel A of the design), whose stationary law is
        exact.  ``"langevin"``: walkers are points of the manifold moved by
        exponential-map Euler-Maruyama steps of the Riemannian Langevin SDE
        of the Gaussian kernel density of (up to 500 of) the samples (kernel
        B), with invariant law ``p_sigma**(1 / temperature)`` up to an
        ``O(h)`` bias; it costs ``O(n_walkers * 500)`` per move, so use a few
        hundred walkers.
    rule : {"sanger", "oja", "hebbian", "trace"}, default="sanger"
        Slow process.  ``"sanger"`` (Sanger 1989) learns ordered, decorrelated
        components; ``"oja"`` (Oja 1982, 1989) learns an orthonormal basis of
        the same subspace.  ``"hebbian"`` has no normaliser and explodes (a
        ``ConvergenceWarning`` is raised and the run stops); ``"trace"`` is the
        trace-normalised rule of the paper's appendix (Theorem 11), which
        collapses to rank one (a ``ConvergenceWarning`` says so).  Both are
        kept as ablations.
    temperature : float, default=1.0
        ``T = 1 / beta`` of the spatial measure ``q**beta``, ``q`` the data
        density.  ``T > 1`` flattens it toward the volume measure, ``T < 1``
        concentrates it on the modes; ``T = 1`` weighs every sample equally.
    n_neighbors : int, default=15
        Neighbours per sample in the walk's graph (clipped to
        ``n_samples - 1``).  More neighbours mix faster; at ``temperature=1``
        they do not change the spatial measure.
    n_walkers : "auto" or int, default="auto"
        Number of walkers; each weight update averages over all of them.
        ``"auto"``: one per sample for ``"variance_reduced"`` (reborn from
        ``pi``, their first batch is then the measure itself, up to one
        walker per sample), 2048 for ``"stochastic"``.
    walk_steps : int, default=1
        Walker moves per weight update: the time-scale separation between the
        fast and the slow process.
    walker_lifetime : "auto", int or None, default="auto"
        Weight updates after which all walkers are reborn on samples drawn
        from the stationary measure (systematic sampling).  This regenerative
        walk keeps the walkers' law at ``pi`` but resets the slowly mixing
        modes of the walk (the share of walkers in each cluster), which
        otherwise dominate the noise of the weights: on digits it cuts the
        error of the learned subspace about fourfold for the same work.
        ``None`` keeps walkers for the whole run (the paper's pure flow,
        ``"stochastic"`` only).  ``"auto"``: 2 for ``"variance_reduced"``
        (each life is one anchored update and one driven by the walkers'
        batch), 10 for ``"stochastic"``.
    learning_rate : "auto" or float, default="auto"
        Step size ``eta`` of the weights, in units of ``1 / lambda_1`` (the
        coordinates are scaled so that the top eigenvalue of ``C_pi`` is 1;
        ``lambda_1`` is estimated by power iteration).  ``"auto"`` is 0.2.
        Must lie in ``(0, 1)``.  For ``"variance_reduced"`` the step of each
        unit is in units of its own variance instead (``"auto"``: 0.5).
    solver : {solver_options}, default="auto"
        How the coupled flow is integrated; all reach the top eigenspace of
        the spatial second moment ``C_pi``.  ``"auto"`` is
        ``"variance_reduced"`` for Sanger's and Oja's rules on the graph
        walk, ``"stochastic"`` otherwise (the ablation rules, the Langevin
        walkers and ``walker_lifetime=None``).

{solver_items}
    max_iter : int, default=3000
        Most weight updates (iterations for ``"averaged"``).
    tol : "auto" or float, default="auto"
{solver_tol}
    whiten : bool, default=False
        Divide the features by ``sqrt(explained_variance_)`` so that they
        have unit variance under the spatial measure.  It changes the
        features only, not the probabilistic model (:meth:`score`).
    random_state : int, RandomState instance or None, default=None
        Seed of the only random generator used (walker moves, initial
        weights).  Pass an int for reproducible results.
    verbose : int, default=0
        When positive, print one line per preparation step as it ends (the
        neighbour search, the graph, the Metropolis matrix, the Frechet mean,
        the moments, ...: its name, the samples and its time), a line per
        tenth of the neighbour search (or after 2 s without one), then one
        line per checkpoint: every 50 weight updates for ``"stochastic"`` and
        ``"mean_field"`` (update, subspace change, the three Lyapunov terms),
        every iteration for ``"averaged"`` and :meth:`partial_fit` (the
        Davis-Kahan bound).  For progress bars and other hooks,
        scikit-learn's callbacks (``sklearn.callback``, 1.9 on) can be set
        with ``set_callbacks``: the fit is a task whose subtasks are the
        preparation steps (the neighbour search with one subtask per 5% of
        its rows) and the solver's run (``"solve"``, one subtask per block
        of updates between checkpoints, where a callback may stop the fit).

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Principal axes: tangent vectors at ``mean_`` in ambient coordinates,
        orthonormal in the metric at ``mean_`` (for SPD, flattened ``p x p``
        symmetric matrices), sorted by decreasing ``explained_variance_``;
        each row's largest-magnitude entry is positive.
    mean_ : ndarray of shape (n_features,)
        Base point: the Frechet mean of the training samples (geomstats
        ``FrechetMean`` with a tightened optimiser on curved manifolds).
    n_components_ : int
        Number of components learned (``n_components`` resolved when it is
        None, a float or ``"mle"``).
    n_samples_ : int
        Number of training samples (after :meth:`partial_fit`, the running
        total, as ``n_samples_seen_``).
    n_samples_seen_ : int
        Samples learned from: ``n_samples`` after :meth:`fit`, then the
        running total over :meth:`partial_fit` calls, which continue from a
        fit on flat data (as :class:`~sklearn.decomposition.IncrementalPCA`'s
        do).
    explained_variance_ : ndarray of shape (n_components,)
        Variance of each feature under the spatial measure, with a Bessel
        correction from the measure's effective sample size (equal to
        :class:`~sklearn.decomposition.PCA`'s at ``temperature=1`` when the
        subspaces agree).
    explained_variance_ratio_ : ndarray of shape (n_components,)
        ``explained_variance_`` over the total variance.
    singular_values_ : ndarray of shape (n_components,)
        ``sqrt((n_eff - 1) * explained_variance_)``, ``n_eff = 1 /
        sum(pi**2)`` the spatial measure's effective sample size: the
        singular values of the rows ``sqrt(n_eff * pi_i) * z_i`` (tangent
        coordinates ``z_i`` at ``mean_``) along the components.  At
        ``temperature=1`` ``n_eff = n_samples`` and these are
        :class:`~sklearn.decomposition.PCA`'s, the singular values of the
        centred data; under a tempered measure they describe the data
        reweighted to ``pi`` at the same effective size.
    noise_variance_ : float
        Mean variance outside the learned subspace (as in probabilistic PCA;
        used by :meth:`score`): the total variance left over, divided by
        ``min(n_samples, dim) - n_components_`` as in PCA, and exactly 0
        when ``n_components_`` reaches ``min(n_samples, dim)``.
    stationary_measure_ : ndarray of shape (n_samples_fit,)
        Exact stationary law ``pi`` of the walk on the training samples: the
        spatial measure the weights learn from (``kernel="graph"``).  For
        ``kernel="langevin"`` the empirical (uniform) measure, used for the
        Ritz rotation and the explained variance.  Set by :meth:`fit` only:
        :meth:`partial_fit` pools each batch into running sums and removes
        it.
    weights_ : ndarray of shape (dim, n_components)
        The solver's weights at its end, before the averaging, retraction
        and rotation that give ``components_``: the raw Hebbian ``W`` at the
        last update for ``"stochastic"`` and ``"mean_field"``, the Ritz
        vectors of the last anchor for ``"variance_reduced"`` (and the dask
        agents), the last block for ``"averaged"`` (orthonormal-frame
        tangent coordinates scaled to ``lambda_1 = 1``, ``dim`` the
        manifold's dimension; zero rows for constant coordinates).
    lyapunov_ : ndarray of shape (n_checkpoints, 3)
        Terms of the joint Lyapunov functional at each checkpoint:
        ``KL(rho_t || pi)`` of a walker's exact law (for
        ``kernel="langevin"``: the MMD**2 of the walkers to the samples, a
        Gaussian kernel on tangent coordinates), the orthogonality defect
        ``||W^T W - I||_F**2`` and the subspace gap
        ``sum_{i<=k} lambda_i - tr(P_W C_pi)`` (on scaled coordinates).
        Their sum, with weight 1 on each, is the functional.
    lyapunov_steps_ : ndarray of shape (n_checkpoints,)
        Weight update at which each row of ``lyapunov_`` was logged.
    n_iter_ : int
        Number of weight updates performed.
    consensus_rounds_ : int
        Consensus rounds of a decentralised fit (the default solver on a
        dask array, one agent per row chunk): all-reduces of the agents'
        anchors and of their weights, two per life of the walkers (the
        last anchor has none after it).  0 for any other fit.
    consensus_bytes_ : int
        Bytes of the matrices those rounds carried: each agent uploads its
        matrix and downloads the result, ``2 * n_agents * 8 * d * m`` per
        round (``m`` the matrix's columns: the units for an anchor, the
        components for the weights).  0 for any other fit.
    converged_ : bool
        Whether the stopping rule was met before ``max_iter``.
    solver_ : str
        The solver that ran (``solver="auto"`` resolved).
    walker_lifetime_ : int or None
        Weight updates between the walkers' rebirths in the run
        (``walker_lifetime="auto"`` resolved); None without rebirth or
        without walkers.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.decomposition.PCA : Exact principal component analysis.
    sklearn.decomposition.IncrementalPCA : PCA from mini-batches.
    sklearn.decomposition.FastICA : Independent component analysis.

    Notes
    -----
    Weights ``W`` (``n_features x k``) follow
    ``dW = eta (C_t W - W N(W^T C_t W))`` with ``C_t`` the second moment of
    the walkers' coordinates and ``N`` the rule's normaliser; the step is
    divided by ``max(1, ||W||_2**2)`` (a time change that keeps the
    iteration stable from any start; off for ``"hebbian"``).  The final
    subspace is the Polyak-Ruppert average of the retracted weights over the
    second half of the run; within it, components are the Ritz vectors of
    ``C_pi`` (for Sanger's rule these are the learned columns' directions).

    References
    ----------
    .. [1] Z. Li et al., "Continuous Limits of Coupled Flows in Representation
       Learning", arXiv:2604.16801, 2026.
    .. [2] E. Oja, "A simplified neuron model as a principal component
       analyzer", J. Math. Biology 15, 1982.
    .. [3] T. D. Sanger, "Optimal unsupervised learning in a single-layer
       linear feedforward neural network", Neural Networks 2, 1989.
    .. [4] R. R. Coifman and S. Lafon, "Diffusion maps", Appl. Comput.
       Harmon. Anal. 21, 2006.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from slowfast_sklearn import CoupledFlowEmbedding
    >>> X, _ = load_iris(return_X_y=True)
    >>> emb = CoupledFlowEmbedding(n_components=2, random_state=0).fit(X)
    >>> emb.transform(X).shape
    (150, 2)
    >>> emb.components_.shape
    (2, 4)
    """
    _parameter_constraints: dict = {
        "n_components": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
            StrOptions({"mle"}),
            None,
        ],
        # A geomstats space object is accepted; defaults stay strings so that
        # clone and pickle work.
        "manifold": [StrOptions(set(MANIFOLDS)), HasMethods(["belongs", "random_point"])],
        "kernel": [StrOptions(set(FAST_PROCESSES))],
        "rule": [StrOptions(set(RULES))],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_walkers": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "walk_steps": [Interval(Integral, 1, None, closed="left")],
        "walker_lifetime": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left"),
                            None],
        "learning_rate": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="neither")],
        "solver": [StrOptions(set(SOLVERS) | {"auto"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "whiten": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=2,
        *,
        manifold="euclidean",
        kernel="graph",
        rule="sanger",
        temperature=1.0,
        n_neighbors=15,
        n_walkers="auto",
        walk_steps=1,
        walker_lifetime="auto",
        learning_rate="auto",
        solver="auto",
        max_iter=3000,
        tol="auto",
        whiten=False,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.manifold = manifold
        self.kernel = kernel
        self.rule = rule
        self.temperature = temperature
        self.n_neighbors = n_neighbors
        self.n_walkers = n_walkers
        self.walk_steps = walk_steps
        self.walker_lifetime = walker_lifetime
        self.learning_rate = learning_rate
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.whiten = whiten
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Run the coupled dynamics on ``X`` and store the learned subspace.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) \
                or (n_samples, p, p)
            Training samples, points of ``manifold`` (the 3-D layout for
            ``"spd"`` only).  float32 input gives
            float32 attributes and outputs; the dynamics run in float64.
            scipy.sparse input (CSR or CSC, matrices or arrays; other
            formats are converted to CSR) is taken on
            ``manifold="euclidean"`` without densifying it, as PCA does:
            implicit centring of ``C_pi``, the walkers read densified row
            batches, the neighbours are searched on the sparse rows.
            A dask array (flat data) is fitted where its chunks live, on
            the active ``dask.distributed`` client if any: ``"averaged"``
            by a tree reduction of the chunks' moments, the default solver
            by one agent per row chunk (see the user guide's "Scaling
            out"); the fitted attributes are numpy arrays.
        y : None
            Ignored.

        Returns
        -------
        self : CoupledFlowEmbedding
            The fitted estimator.

        Raises
        ------
        ValueError
            If ``X`` is empty, complex, non-numeric or holds NaN or infinity;
            if it has fewer than 2 samples; if ``n_components`` exceeds
            ``min(n_samples, dim)`` (``dim`` the manifold's dimension); if all
            samples are identical; if a sample is off the manifold (the
            message names the manifold and the largest deviation); on the
            sphere, if the samples' Frechet mean is not unique (extrinsic mean
            0) or a sample lies at the antipode of the mean; if
            ``n_components="mle"`` and ``n_samples < dim``.
        TypeError
            If ``X`` is sparse and ``manifold`` is curved; densify it first.

        Warns
        -----
        ConvergenceWarning
            If the subspace has not settled to ``tol`` in ``max_iter``
            iterations, or the dynamics diverged or collapsed.
        UserWarning
            If the tempered spatial measure rests on few samples: its
            effective sample size ``1 / sum(stationary_measure_**2)`` is
            below 5% of ``n_samples`` (isolated samples dominate it above
            temperature 1).

        See Also
        --------
        partial_fit : Learn from a stream of batches instead.
        fit_transform : Fit and return the training features in one call.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from slowfast_sklearn import CoupledFlowEmbedding
        >>> X, _ = load_iris(return_X_y=True)
        >>> emb = CoupledFlowEmbedding(n_components=2, random_state=0).fit(X)
        >>> bool(emb.converged_), emb.lyapunov_.shape[1]
        (True, 3)
        >>> emb.explained_variance_ratio_.round(3)
        array([0.925, 0.053])
        """
        self._fit(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit to ``X`` and return its features.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training samples (sparse, or a dask array, as in :meth:`fit`).
        y : None
            Ignored.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Features of the training samples, in ``X``'s dtype (a lazy dask
            array for a dask array).

        Raises
        ------
        ValueError
            As :meth:`fit`.
        TypeError
            As :meth:`fit`.

        See Also
        --------
        fit : Fit without returning the features.
        transform : Features of new samples.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from slowfast_sklearn import CoupledFlowEmbedding
        >>> X, _ = load_iris(return_X_y=True)
        >>> emb = CoupledFlowEmbedding(n_components=2, solver="averaged", random_state=0)
        >>> emb.fit_transform(X)[:2].round(2)
        array([[-2.68,  0.32],
               [-2.71, -0.18]])
        """
        X = self._fit(X)
        if is_dask_collection(X):
            return distributed.rowwise(self, X, "transform")
        return self._project(X)

    def _fit(self, X):
        if is_dask_collection(X):
            return distributed.fit(self, X)
        X = self._validate(X, reset=True, ensure_min_samples=2)
        solver = resolve_solver(self.solver, self.rule, FAST_PROCESSES[self.kernel],
                                self.walker_lifetime)
        rng = check_random_state(self.random_state)
        plan = self._plan(solver)
        stages = [(name, name in PROGRESS_STEPS) for name in steps(plan)]
        tasks = FitProgress(self, X, stages, self.verbose)
        problem = prepare(X, plan, rng, hook=tasks.stage)
        params = self._run_params(solver, problem.n_units, rng, None, n_samples=problem.n_samples)
        checkpoint = tasks.solve(solver.checkpoints(params))
        result = solver.run(problem, replace(params, checkpoint=checkpoint))
        finish_fit(self, problem, result, solver, params)
        tasks.close()
        return X

    def _validate(self, X, reset, **options):
        """``validate_data`` taking scipy.sparse input on flat data (as PCA's,
        CSR or CSC; returned as a canonical sparse array)."""
        flat = _is_flat(self.manifold)
        if sp.issparse(X) and not flat:
            raise TypeError(
                f"Sparse input is supported with manifold='euclidean' only; manifold="
                f"{self.manifold!r} needs dense points. Convert X with X.toarray()."
            )
        X = validate_data(self, self._flatten(X), dtype=[np.float64, np.float32], reset=reset,
                          accept_sparse=("csr", "csc") if flat else False, **options)
        return canonical_sparse(X) if sp.issparse(X) else X

    def _plan(self, solver):
        return Plan(self.manifold, FAST_PROCESSES[self.kernel], solver, self.temperature,
                    self.n_neighbors, self.n_components)

    def _tol(self, solver):
        return solver.default_tol if self.tol == "auto" else self.tol

    def _run_params(self, solver, n_units, rng, checkpoint, weights_init=None, n_samples=0):
        def auto(value, default):
            return default if isinstance(value, str) and value == "auto" else value

        return RunParams(
            n_components=n_units, rule=self.rule,
            learning_rate=auto(self.learning_rate, solver.default_learning_rate),
            max_iter=self.max_iter, tol=self._tol(solver), rng=rng, verbose=self.verbose,
            checkpoint=checkpoint,
            n_walkers=auto(self.n_walkers, solver.default_n_walkers(n_samples)),
            walk_steps=self.walk_steps,
            walker_lifetime=auto(self.walker_lifetime, solver.default_walker_lifetime),
            weights_init=weights_init,
        )

    def _store(self, problem, result, n_samples):
        """Turn the learned subspace into the fitted attributes (as PCA's);
        ``n_samples`` is the number of samples learned from."""
        geometry, moments, k = problem.geometry, problem.moments, problem.k
        dtype = problem.X.dtype
        W, ritz_values = ritz_axes(moments, result.subspace, problem.active, k)
        components = geometry.to_ambient(W, problem.base)
        # Each row's largest-magnitude entry is positive.
        top = np.take_along_axis(components, np.abs(components).argmax(axis=1)[:, None], 1)
        components *= np.where(top < 0, -1.0, 1.0)
        # Ritz values are in the moments' scaled units: the ratios are taken
        # there (they exist at any data scale), the variances in data units.
        with np.errstate(over="ignore"):
            explained = ritz_values * moments.unit * problem.bessel
        self.components_ = components.astype(dtype, copy=False)
        self.mean_ = problem.base.astype(dtype, copy=False)
        self.n_components_ = k
        self.explained_variance_ = explained.astype(dtype, copy=False)
        self.explained_variance_ratio_ = (ritz_values / problem.total).astype(dtype, copy=False)
        with np.errstate(over="ignore"):
            singular = np.sqrt(ritz_values * moments.unit * problem.n_eff)
        self.singular_values_ = singular.astype(dtype, copy=False)
        # As PCA: the variance left over, spread over the directions a sample
        # of this size can span; none left once k reaches that rank (not
        # the rounding of a subtraction).
        rest = min(n_samples, geometry.dim) - k
        self.noise_variance_ = (
            float(max(problem.total_variance - explained.sum(), 0.0) / rest) if rest > 0 else 0.0
        )
        weights = np.zeros((geometry.dim, k))
        weights[problem.active, : result.weights.shape[1]] = result.weights
        self.weights_ = weights
        self.lyapunov_ = result.lyapunov
        self.lyapunov_steps_ = result.lyapunov_steps
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        # A fit in one process exchanges nothing (the agents' fit sets them).
        self.consensus_rounds_ = self.consensus_bytes_ = 0

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Learn from one batch of a stream, carrying the weights over.

        Each batch is the spatial measure of its step: at ``temperature=1``
        its empirical measure, otherwise the stationary law of the walk on
        its own kNN graph, weighted by the batch's size.  The running base
        point (mean of all samples seen) and second moment are updated with
        each batch, and the averaged slow flow driven by them restarts from
        the previous weights.  The sums are kept about a fixed shift (the
        first batch's mean) and corrected to the running mean, the shifted
        form of the updating formulae of Chan, Golub and LeVeque [1]_ [2]_,
        so that a large offset does not cancel.  At ``temperature=1`` streaming a data set in
        batches reaches the subspace of a full ``fit``; otherwise the density
        behind the tempering is estimated batch by batch.  As :class:`~sklearn.decomposition.IncrementalPCA`:
        the first batch fixes the features, later batches are checked.

        On a curved manifold the base point is fixed by the first batch (its
        Frechet mean, or the fit's ``mean_``) and stays ``mean_``; the sums
        are those of every batch's tangent coordinates there, and the
        components are tangent PCA of all samples at that point (their
        covariance about their tangent mean): exact sums, no transport of
        past moments.  It differs from a full fit's, at the Frechet mean of
        all samples, to second order in the distance between the two means
        (on 2000 points of S^4 in batches of 200: means 1e-2 rad apart,
        subspaces 5e-5 rad apart after parallel transport; the first batch
        alone was 3e-2 rad off).  The batch's own Frechet mean is never
        needed after the first.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or \
                (n_samples, p, p)
            One batch of points of ``manifold`` (the 3-D layout for ``"spd"``
            only); the first must hold at least ``n_components`` samples.  A
            sparse batch (CSR or CSC, flat data) is summed by implicit
            centring, not densified (:class:`~sklearn.decomposition.IncrementalPCA`'s
            ``partial_fit`` refuses sparse input).  A dask array (flat data)
            is one batch summarised chunk by chunk on the cluster (at
            ``temperature != 1`` each chunk weighed by its own graph's walk).
        y : None
            Ignored.

        Returns
        -------
        self : CoupledFlowEmbedding
            The updated estimator.

        Raises
        ------
        ValueError
            If ``n_components`` exceeds the manifold's dimension, or the first
            batch is smaller than ``n_components``; if ``n_components`` is a
            float or ``"mle"``; if a later batch has a different number of
            features; if a point is off the manifold, the first batch has no
            unique Frechet mean or a sample lies at the cut locus of the base
            point (the sphere's antipode); or for bad values as :meth:`fit`.
        TypeError
            If ``X`` is sparse and ``manifold`` is curved.

        See Also
        --------
        fit : Learn from all of ``X`` at once (any solver).
        sklearn.decomposition.IncrementalPCA.partial_fit : The same contract for PCA.

        References
        ----------
        .. [1] T. F. Chan, G. H. Golub and R. J. LeVeque, "Updating formulae and a
           pairwise algorithm for computing sample variances", Technical Report
           STAN-CS-79-773, Stanford University, 1979.
        .. [2] T. F. Chan, G. H. Golub and R. J. LeVeque, "Algorithms for
           computing the sample variance: analysis and recommendations", The
           American Statistician 37(3), 242-247, 1983.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.decomposition import PCA
        >>> from slowfast_sklearn import CoupledFlowEmbedding
        >>> X, _ = load_iris(return_X_y=True)
        >>> emb = CoupledFlowEmbedding(n_components=2, random_state=0)
        >>> for batch in np.array_split(X, 3):
        ...     emb = emb.partial_fit(batch)
        >>> emb.n_samples_seen_
        150
        >>> pca = PCA(n_components=2).fit(X)
        >>> bool(np.allclose(np.abs(emb.components_), np.abs(pca.components_)))
        True
        """
        if is_dask_collection(X):
            return distributed.partial_fit(self, X)
        first_pass = not hasattr(self, "components_")
        X = self._validate(X, reset=first_pass)
        dim = resolve_geometry(self.manifold, X.shape[1]).dim
        k = self._batch_components((X.shape[0], dim), first_pass)
        rng = _LazyRandomState(self.random_state)
        with one_blas_thread(X.shape[0] * X.shape[1] ** 2):
            self._partial_fit(X, k, first_pass, rng)
        return self

    def _partial_fit(self, X, k, first_pass, rng):
        problem, state = prepare_batch(
            X, self._get_stream(), self._plan(_STREAM_SOLVER), k, _STREAM_SOLVER
        )
        learn_batch(self, X, problem, state, k, first_pass, rng)

    def _batch_components(self, shape, first_pass):
        """partial_fit's ``n_components``, checked as IncrementalPCA's."""
        n, d = shape
        k = self.n_components
        if k is not None and not isinstance(k, Integral):
            what = "Minka's MLE" if k == "mle" else "a share of the variance"
            raise ValueError(
                f"n_components={k!r} ({what}) needs the whole data "
                "set's spectrum: use fit, or an int n_components with partial_fit."
            )
        if k is None:
            # As IncrementalPCA: all components the first batch can carry.
            k = self.n_components_ if not first_pass else min(n, d)
        k = int(k)
        # The features first: no batch size makes k > n_features possible.
        if k > d:
            raise ValueError(
                f"n_components={k} must be at most n_features={d}; lower n_components."
            )
        if first_pass and n < k:
            raise ValueError(
                f"n_components={k} must be at most the first batch's n_samples={n}; "
                "pass a larger first batch."
            )
        if not first_pass and k != self.n_components_:
            raise ValueError(
                f"n_components={k} differs from the {self.n_components_} components "
                "learned so far; keep n_components between partial_fit calls, or "
                "fit anew."
            )
        return k

    #: "base": the curved manifolds' base point of the tangent coordinates.
    _STREAM_KEYS = ("reference", "count", "sum", "weight", "wsum", "wscatter", "base")

    def _set_stream(self, state):
        """Keep partial_fit's running sums as plain attributes (arrays and
        numbers, so that a fitted estimator pickles as such); None drops them."""
        for key in self._STREAM_KEYS:
            if state is None or key not in state:
                self.__dict__.pop(f"_stream_{key}", None)
            else:
                setattr(self, f"_stream_{key}", state[key])

    def _get_stream(self):
        if not hasattr(self, "_stream_reference"):
            return None
        return {key: getattr(self, f"_stream_{key}") for key in self._STREAM_KEYS
                if hasattr(self, f"_stream_{key}")}
    def _warn_dynamics(self, result, solver, caller="fit"):
        if result.diverged:
            advice = (
                "Plain Hebbian learning has no normaliser: use rule='sanger' or rule='oja'."
                if self.rule == "hebbian"
                else "Lower learning_rate or raise n_walkers."
            )
            warnings.warn(
                f"The Hebbian weights diverged (norm above 1e12) after "
                f"{result.n_iter} updates with rule={self.rule!r}; the run was "
                f"stopped and components_ is the direction the weights took. {advice}",
                ConvergenceWarning,
            )
            return
        s = np.linalg.svd(result.weights, compute_uv=False)
        # Only the rules without a matrix normaliser collapse (theory.md
        # section 3); Sanger/Oja weights may just not have reached unit norm
        # along directions of tiny variance.
        if self.rule in ("trace", "hebbian") and s.size > 1 and s[-1] < _COLLAPSE_RATIO * s[0]:
            warnings.warn(
                f"The Hebbian weights collapsed toward rank one "
                f"(sigma_min / sigma_max = {s[-1] / s[0]:.1e}) with "
                f"rule={self.rule!r}; components_ beyond the first are not "
                "principal axes. The trace-normalised rule is known to "
                "collapse: use rule='sanger' or rule='oja'.",
                ConvergenceWarning,
            )
        if not result.converged and result.n_iter < self.max_iter:
            return  # stopped early by a callback: the caller asked for it
        if not result.converged:
            # The walkers are slow where the eigengap at n_components is
            # small; the averaged solver is not (it is PCA-fast at any size).
            hint = (
                " A small gap between the n_components-th and the next "
                "eigenvalue slows the dynamics; solver='averaged' reaches the "
                "same subspace deterministically, about as fast as PCA."
            ) if solver.gap_hint else ""
            runs = (f"partial_fit runs solver={solver.name!r}" if caller == "partial_fit"
                    else f"solver={solver.name!r}")
            warnings.warn(
                f"CoupledFlowEmbedding did not converge in max_iter={self.max_iter} "
                f"iterations ({runs}): {solver.unconverged(result, self._tol(solver))}. "
                f"Increase {solver.budget}, or raise tol.{hint}",
                ConvergenceWarning,
            )

    def transform(self, X):
        """Project ``X`` on the learned components.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) \
                or (n_samples, p, p)
            Points of ``manifold`` (the 3-D layout for ``"spd"`` only), or a
            dask array of them (a lazy dask array is returned).
            Sparse input (``manifold="euclidean"``) is projected as PCA
            does, ``X @ components_.T - mean_ @ components_.T``, without
            densifying it.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Tangent coordinates at ``mean_`` projected on ``components_``
            (divided by ``sqrt(explained_variance_)`` if ``whiten``), in
            ``X``'s dtype.  Row-wise: each row depends on its sample only;
            for a dask array, a lazy dask array with ``X``'s row chunks.

        Raises
        ------
        ValueError
            If ``X`` has the wrong number of features or bad values, or a
            point is off the manifold (the message names the manifold and the
            largest deviation).
        TypeError
            If ``X`` is sparse and ``manifold`` is curved.
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.

        Warns
        -----
        UserWarning
            If a point lies within 1e-3 rad of the sphere's cut locus, the
            antipode of ``mean_``, where the log map jumps.  Every point has
            tangent coordinates: near the antipode the log map's own (norm
            close to ``pi``, continuous in the point); at the antipode
            itself, where every direction is a shortest geodesic, ``pi``
            along the first principal axis (``X_new = (pi, 0, ..., 0)``
            without ``whiten``).

        See Also
        --------
        inverse_transform : Map features back to the manifold.
        fit_transform : Fit and transform the training samples in one call.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from slowfast_sklearn import CoupledFlowEmbedding
        >>> X, _ = load_iris(return_X_y=True)
        >>> emb = CoupledFlowEmbedding(n_components=2, solver="averaged").fit(X)
        >>> emb.transform(X[:2]).round(2)
        array([[-2.68,  0.32],
               [-2.71, -0.18]])
        >>> emb.get_feature_names_out()
        array(['coupledflowembedding0', 'coupledflowembedding1'], dtype=object)
        """
        if is_dask_collection(X):
            return distributed.rowwise(self, X, "transform")
        check_is_fitted(self)
        return self._project(self._validate(X, reset=False))

    def _flatten(self, X):
        """SPD input as (n, p, p) arrays becomes rows of p * p entries."""
        if is_matrix_manifold(self.manifold) and np.ndim(X) == 3:
            X = np.asarray(X)
            return X.reshape(X.shape[0], -1)
        return X

    def _frame_components(self, geometry):
        """``components_`` in the orthonormal frame at ``mean_``, (k, dim)."""
        return geometry.from_ambient(
            self.components_.astype(np.float64), self.mean_.astype(np.float64)
        )

    def _tangent(self, X, geometry):
        """Frame coordinates of ``Log_mean_ X`` and the components in the frame;
        at the sphere's cut locus (the antipode of ``mean_``, where every
        direction is a shortest geodesic) along the first principal axis."""
        geometry.check_points(X)
        V = self._frame_components(geometry)
        return geometry.log(X, self.mean_.astype(np.float64), cut_direction=V[0]), V

    def _project(self, X):
        geometry = resolve_geometry(self.manifold, self.n_features_in_)
        if sp.issparse(X):
            # Flat data: centred after the projection, as PCA does.
            V = self._frame_components(geometry)
            X_new = X @ V.T - self.mean_.astype(np.float64) @ V.T
            X_new = X_new.astype(X.dtype, copy=False)
        else:
            Z, V = self._tangent(X, geometry)
            X_new = (Z @ V.T).astype(X.dtype, copy=False)
        if self.whiten:
            X_new /= np.sqrt(np.maximum(self.explained_variance_, np.finfo(X.dtype).tiny))
        return X_new

    def inverse_transform(self, X):
        """Map features back to points of the manifold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Features, as returned by :meth:`transform` (a dask array too).

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            ``Exp`` at ``mean_`` of the tangent vector
            ``X @ components_`` (re-scaled if ``whiten``), a point of the
            manifold (for ``"spd"``, rows of ``p * p`` entries: reshape to
            ``(-1, p, p)``); at full rank the inverse of :meth:`transform`.
            Lazy for a dask array.

        Raises
        ------
        ValueError
            If ``X`` does not have ``n_components_`` columns.

        See Also
        --------
        transform : The map this inverts on the learned subspace.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from slowfast_sklearn import CoupledFlowEmbedding
        >>> X, _ = load_iris(return_X_y=True)
        >>> emb = CoupledFlowEmbedding(n_components=2, solver="averaged").fit(X)
        >>> emb.inverse_transform(emb.transform(X[:2])).round(2)
        array([[5.08, 3.52, 1.4 , 0.21],
               [4.75, 3.16, 1.46, 0.24]])
        >>> X[:2]
        array([[5.1, 3.5, 1.4, 0.2],
               [4.9, 3. , 1.4, 0.2]])
        """
        if is_dask_collection(X):
            return distributed.rowwise(self, X, "inverse_transform")
        check_is_fitted(self)
        X = _check_features(X, self.n_components_)
        V = np.asarray(X, dtype=np.float64)
        if self.whiten:
            V = V * np.sqrt(self.explained_variance_.astype(np.float64))
        geometry = resolve_geometry(self.manifold, self.n_features_in_)
        points = geometry.exp(V @ self._frame_components(geometry), self.mean_.astype(np.float64))
        return points.astype(X.dtype, copy=False)

    def get_covariance(self):
        """Covariance of the probabilistic PCA model of the fitted subspace.

        Returns
        -------
        cov : ndarray of shape (dim, dim)
            ``V.T @ diag(explained_variance_ - noise_variance_) @ V +
            noise_variance_ * I``, with ``V`` the components in the
            orthonormal tangent frame at ``mean_`` (``dim`` the manifold's
            dimension; for ``"euclidean"`` ``V = components_`` and
            ``dim = n_features``).

        See Also
        --------
        get_precision : Its inverse.
        score_samples : The Gaussian log-density with this covariance.
        sklearn.decomposition.PCA.get_covariance : The same model for PCA.

        Notes
        -----
        The model does not depend on ``whiten``, which rescales the features
        only.  scikit-learn's PCA (1.9) scales its components by
        ``sqrt(explained_variance_)`` here when ``whiten=True``; this equals
        ``PCA(whiten=False).get_covariance()`` at ``temperature=1``.

        References
        ----------
        .. [1] M. E. Tipping and C. M. Bishop, "Probabilistic principal component
           analysis", J. R. Statist. Soc. B 61(3), 611-622, 1999.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.decomposition import PCA
        >>> from slowfast_sklearn import CoupledFlowEmbedding
        >>> X, _ = load_iris(return_X_y=True)
        >>> emb = CoupledFlowEmbedding(n_components=2, solver="averaged").fit(X)
        >>> emb.get_covariance().shape
        (4, 4)
        >>> bool(np.allclose(emb.get_covariance(), PCA(n_components=2).fit(X).get_covariance()))
        True
        """
        check_is_fitted(self)
        V = self._frame_components(resolve_geometry(self.manifold, self.n_features_in_))
        excess = np.maximum(self.explained_variance_ - self.noise_variance_, 0.0)
        cov = (V.T * excess) @ V
        cov.flat[:: cov.shape[0] + 1] += self.noise_variance_
        return cov

    def get_precision(self):
        """Precision (inverse covariance) of the probabilistic PCA model.

        Returns
        -------
        precision : ndarray of shape (dim, dim)
            The inverse of :meth:`get_covariance`, from its eigenvalues:
            ``V.T @ diag(1 / max(explained_variance_, noise_variance_) -
            1 / noise_variance_) @ V + I / noise_variance_`` (as PCA's
            matrix inversion lemma).  Where the model is singular (its
            variances, ``explained_variance_`` along the components and
            ``noise_variance_`` across them, below ``1e-12`` times their
            total: full-rank ``n_components_`` on rank-deficient data, or
            ``noise_variance_ = 0`` with ``n_components_ < dim``), those
            variances are raised to that floor first, as in
            :meth:`score_samples` (PCA returns the inverse of a singular
            matrix there).

        See Also
        --------
        get_covariance : The covariance this inverts.
        sklearn.decomposition.PCA.get_precision : The same for PCA.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from slowfast_sklearn import CoupledFlowEmbedding
        >>> X, _ = load_iris(return_X_y=True)
        >>> emb = CoupledFlowEmbedding(n_components=2, solver="averaged").fit(X)
        >>> bool(np.allclose(emb.get_precision() @ emb.get_covariance(), np.eye(4)))
        True
        """
        check_is_fitted(self)
        V = self._frame_components(resolve_geometry(self.manifold, self.n_features_in_))
        variances, noise, _ = self._model_variances(V.shape[1])
        if len(variances) == V.shape[1]:  # no direction across the components
            return (V.T / variances) @ V
        precision = (V.T * (1.0 / variances - 1.0 / noise)) @ V
        precision.flat[:: precision.shape[0] + 1] += 1.0 / noise
        return precision

    def _model_variances(self, dim):
        """The model's variances along the components (``max(explained,
        noise)``) and across them, raised to ``1e-12`` times their total
        where they fall below it, and whether any was (a singular model)."""
        noise = float(self.noise_variance_)
        variances = np.maximum(self.explained_variance_.astype(np.float64), noise)
        total = float(np.sum(variances)) + (dim - len(variances)) * noise
        floor = 1e-12 * max(total, np.finfo(np.float64).tiny)
        across = len(variances) < dim
        singular = bool(variances.min() < floor or (across and noise < floor))
        if across:
            noise = max(noise, floor)
        return np.maximum(variances, floor), noise, singular

    def score_samples(self, X):
        """Log-likelihood of each sample under the probabilistic PCA model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples (a dask array too).

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            Gaussian log-density (Tipping & Bishop 1999) of the tangent
            coordinates at ``mean_`` (at the sphere's cut locus as in
            :meth:`transform`) with covariance :meth:`get_covariance` (PCA's
            at ``temperature=1``, whatever ``whiten``); where that model is
            singular its variances are raised to ``1e-12`` times their total
            first (see :meth:`get_precision`), so that the density exists.
            Lazy for a dask array.

        Raises
        ------
        TypeError
            If ``X`` is sparse (dense input only, as PCA's): densify a batch
            at a time.

        See Also
        --------
        score : Their mean, what a grid search maximises.
        get_covariance : The model's covariance.

        References
        ----------
        .. [1] M. E. Tipping and C. M. Bishop, "Probabilistic principal component
           analysis", J. R. Statist. Soc. B 61(3), 611-622, 1999.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from slowfast_sklearn import CoupledFlowEmbedding
        >>> X, _ = load_iris(return_X_y=True)
        >>> emb = CoupledFlowEmbedding(n_components=2, solver="averaged").fit(X)
        >>> emb.score_samples(X[:3]).round(3)
        array([-1.783, -2.179, -1.75 ])
        """
        if is_dask_collection(X):
            return distributed.rowwise(self, X, "score_samples")
        check_is_fitted(self)
        X = validate_data(self, self._flatten(X), dtype=[np.float64, np.float32], reset=False)
        Z, V = self._tangent(X, resolve_geometry(self.manifold, self.n_features_in_))
        variances, noise, singular = self._model_variances(V.shape[1])
        if singular:
            cov = (V.T * (variances - noise)) @ V
            cov.flat[:: cov.shape[0] + 1] += noise
        else:
            cov = self.get_covariance()
        chol = linalg.cholesky(cov, lower=True)
        half = linalg.solve_triangular(chol, Z.T, lower=True)
        logdet = 2.0 * np.sum(np.log(np.diag(chol)))
        d = Z.shape[1]
        return -0.5 * (np.sum(half**2, axis=0) + d * np.log(2.0 * np.pi) + logdet)

    def score(self, X, y=None):
        """Average log-likelihood of ``X`` under the fitted model.

        This is what :class:`~sklearn.model_selection.GridSearchCV` maximises
        when no downstream estimator is given: as for
        :meth:`sklearn.decomposition.PCA.score`, the mean of
        :meth:`score_samples` (probabilistic PCA, Tipping & Bishop 1999).
        At ``temperature=1`` it equals ``PCA(whiten=False).score`` for the
        same subspace, with or without ``whiten``: whitening rescales the
        features, not the model of ``X``.  scikit-learn's
        ``PCA(whiten=True).score`` differs (1.9): its covariance scales the
        components by ``sqrt(explained_variance_)``, a matrix in squared
        variance units that is not the covariance of ``X`` (scikit-learn
        issue #13898).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Mean log-likelihood per sample, in nats; higher is better.

        See Also
        --------
        score_samples : The log-likelihood of each sample.
        sklearn.decomposition.PCA.score : The same score for PCA.

        References
        ----------
        .. [1] M. E. Tipping and C. M. Bishop, "Probabilistic principal component
           analysis", J. R. Statist. Soc. B 61(3), 611-622, 1999.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.decomposition import PCA
        >>> from slowfast_sklearn import CoupledFlowEmbedding
        >>> X, _ = load_iris(return_X_y=True)
        >>> emb = CoupledFlowEmbedding(n_components=2, solver="averaged").fit(X)
        >>> round(emb.score(X), 4), round(PCA(n_components=2).fit(X).score(X), 4)
        (-2.6998, -2.6998)
        """
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = _is_flat(self.manifold)
        return tags


def finish_fit(est, problem, result, solver, params):
    """The fitted attributes of ``fit`` (in memory or on a dask array)."""
    est._warn_dynamics(result, solver)
    est._store(problem, result, problem.n_samples)
    est.solver_ = solver.name
    est.walker_lifetime_ = params.walker_lifetime if solver.runs_walkers else None
    est.stationary_measure_ = problem.measure
    # partial_fit continues from here, as after IncrementalPCA.fit.
    est._set_stream(problem.stream())
    est.__dict__.pop("_stream_block", None)
    est.n_samples_seen_ = est.n_samples_ = problem.n_samples


def learn_batch(est, X, problem, state, k, first_pass, rng):
    """``partial_fit``'s run on one batch's pooled ``problem`` and sums ``state``."""
    est._set_stream(state)
    est.n_samples_seen_ = est.n_samples_ = state["count"]
    # The batch's samples are pooled into sums: no per-sample measure is kept.
    est.__dict__.pop("stationary_measure_", None)
    # Warm start: the previous batch's whole block (its extra columns carry
    # the next eigenvalues, which the stopping bound needs), or a fit's weights.
    start = None if first_pass else getattr(est, "_stream_block", est.weights_)
    params = est._run_params(_STREAM_SOLVER, k, rng, None, weights_init=start)
    tasks = FitProgress(est, X).solve(_STREAM_SOLVER.checkpoints(params))
    result = _STREAM_SOLVER.run(problem, replace(params, checkpoint=tasks))
    est._warn_dynamics(result, _STREAM_SOLVER, caller="partial_fit")
    est._store(problem, result, state["count"])
    est._stream_block = result.warm_start
    est.solver_, est.walker_lifetime_ = _STREAM_SOLVER.name, None
    tasks.close()


def _is_flat(manifold):
    """Whether ``manifold`` (a string or a geomstats space) is flat space."""
    if isinstance(manifold, str):
        return manifold in GEOMETRIES and GEOMETRIES[manifold].flat
    try:
        return any(cls.flat and cls.from_space(manifold) is not None
                   for cls in GEOMETRIES.values())
    except ImportError:  # pragma: no cover - a geomstats space without geomstats
        return False


class _LazyRandomState:
    """``check_random_state(seed)``, built when first drawn from.

    partial_fit's warm-started batches draw nothing, and seeding a
    ``RandomState`` from an int costs about 0.2 ms, a tenth of a batch.
    """

    def __init__(self, seed):
        self.seed, self.rng = seed, None

    def __getattr__(self, name):
        if self.rng is None:
            self.rng = check_random_state(self.seed)
        return getattr(self.rng, name)


def _check_features(X, n_components):
    X = check_array(X, dtype=[np.float64, np.float32])
    if X.shape[1] != n_components:
        raise ValueError(
            f"X has {X.shape[1]} features, but inverse_transform expects "
            f"{n_components} (n_components_)."
        )
    return X

def _solver_docs(doc):
    """Fill the class docstring's ``solver`` and ``tol`` entries from the registry."""
    def wrap(text, first, rest):
        return textwrap.fill(text, 76, initial_indent=first, subsequent_indent=rest,
                             break_on_hyphens=False)

    items = "\n".join(
        wrap(f'``"{name}"``: {solver.summary}', "        - ", "          ")
        for name, solver in SOLVERS.items()
    )
    by_tol = groupby(SOLVERS.items(), key=lambda item: item[1].default_tol)
    tols = " and ".join(
        f"{tol:g}".replace("e-0", "e-") + " for "
        + " and ".join(f'``"{name}"``' for name, _ in group)
        for tol, group in by_tol
    )
    stopping = "  ".join(f'``"{name}"``: {solver.stopping}' for name, solver in SOLVERS.items())
    tol = wrap(f'Convergence threshold.  {stopping}  ``"auto"`` is {tols}.',
               "        ", "        ")
    options = "{" + ", ".join(f'"{name}"' for name in SOLVERS) + "}"
    return (doc.replace("{solver_options}", options).replace("{solver_items}", items)
            .replace("{solver_tol}", tol))


CoupledFlowEmbedding.__doc__ = _solver_docs(CoupledFlowEmbedding.__doc__)
