"""The preparation stage: validated ``X`` becomes the problem every solver runs on.

:func:`prepare` runs a fixed sequence of named steps, each filling fields of
one :class:`Problem`; a ``hook`` may be wrapped around every step (progress
reporting, tests).  The sequence depends only on the plan:

* ``"geometry"``: the manifold adapter, membership, ``n_components``;
* ``"frechet mean"``: the base point;
* ``"kernel"``: the solver must work with the fast process;
* for a solver that needs ``C_pi`` densely at temperature 1 (a uniform
  measure on any graph), ``"moments"`` streams ``C_pi`` from the data with
  no graph at all;
* otherwise ``"coordinates"`` (tangent coordinates at the base point, the
  active features, the exact power-of-two scale), ``"neighbours"``,
  ``"graph"``, ``"metropolis"`` (the transition matrix ``P`` and its exact
  stationary law ``pi``) and ``"moments"``;
* ``"measure"``: effective sample size, Bessel factor and range checks.

``partial_fit`` reuses the neighbours, graph and metropolis steps for the
tempered measure of a batch (:func:`prepare_batch`).

Flat data may come as a scipy.sparse array (CSR or CSC): the coordinates
step then makes a row view (:class:`~slowfast_sklearn._rows.SparseCentredRows`)
instead of the centred copy, the neighbours are searched on the sparse rows
and the moments are built by implicit centring
(:func:`~slowfast_sklearn._moments.sparse_second_moment`); nothing of size
``n x d`` is densified.

Progress
--------
The hook's context manager may yield a callable ``progress(done, total)``;
while its step runs it is the problem's :attr:`Problem.progress` (a no-op
otherwise).  A step whose work comes in chunks calls it after each chunk
with counts of its own (rows searched, say; ``0 <= done <= total``,
``done`` non-decreasing) and passes it down to plain functions as their
``progress=None`` argument: :meth:`Geometry.kneighbors
<slowfast_sklearn.geometry._base.Geometry.kneighbors>` and
:func:`~slowfast_sklearn.geometry._base.self_kneighbors` take one, so a new
neighbour search gets it from the ``"neighbours"`` step.  The estimator's
hook (:class:`~slowfast_sklearn._progress.FitProgress`) turns the calls into
verbose lines (about every tenth of the work or every couple of seconds) and
into callback subtasks (one per twentieth).  A step that reports must be named in
:data:`PROGRESS_STEPS`, so that its callback task is created with subtasks;
calls from any other step reach verbose only.  Work in phases reports one
count over all of them: a search that makes two passes over ``n`` rows
calls ``progress(pass_index * n + rows_done, 2 * n)``.  Call it every second
or so of work, or more often: a call costs a clock read and a comparison
(and a callback subtask per 5% reached).  :func:`steps` lists the steps a
plan runs before they run.
"""

import contextlib
import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from scipy import linalg

from ._moments import (
    DenseMoments,
    SampleMoments,
    accumulate,
    components_by_mle,
    components_for_share,
    dense_enough,
    empty_stream,
    second_moment,
    sparse_second_moment,
    stream_from_moments,
    stream_moment,
    top_eigenvalues,
)
from ._rows import CentredRows, SparseCentredRows
from .fast.graph import GraphProcess, kernel_graph, metropolis_transition, stationary_law
from .geometry import resolve_geometry

__all__ = ["ON_DEMAND_BYTES", "PROGRESS_STEPS", "Plan", "Problem", "prepare", "prepare_batch",
           "steps", "warn_few_samples"]

#: laziness of the walk (makes the chain aperiodic), theory.md section 6.
LAZINESS = 0.1
#: Above this size (bytes of float64 coordinates) a solver that reads rows
#: by gathers and blocks gets flat data's rows made on demand off X instead
#: of a centred copy (read when each fit runs: tests may lower it).
ON_DEMAND_BYTES = 2**25
#: Fraction of n_samples below which the tempered measure's effective
#: sample size draws a warning (breast_cancer, standardised, at T=2: 0.009).
FEW_SAMPLES = 0.05
#: The steps that report their progress inside (``problem.progress``).
PROGRESS_STEPS = frozenset({"neighbours"})


def _silent(done, total):
    """The progress of a step nobody watches."""


@dataclass(frozen=True)
class Plan:
    """What the estimator's parameters ask of the preparation.

    Attributes
    ----------
    manifold : str or geomstats space
    process : fast process spec
        A value of :data:`~slowfast_sklearn.fast.FAST_PROCESSES`.
    solver : Solver
        A value of :data:`~slowfast_sklearn.solvers.SOLVERS`.
    temperature : float
    n_neighbors : int
    n_components : int, float or None
    """

    manifold: object
    process: type
    solver: object
    temperature: float
    n_neighbors: int
    n_components: object = None


class Problem:
    """What the solvers run on, filled step by step by :func:`prepare`.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        The validated samples (float32 or float64).
    plan : Plan
    rng : numpy.random.Generator
    geometry : Geometry
    k : int
        ``n_components`` resolved (from a share of the variance once the
        moments are known).
    n_units : int
        Units the solver learns: ``k`` capped by the active features.
    base : ndarray of shape (n_features,)
        Base point (Frechet mean), float64.
    active : ndarray of bool of shape (dim,)
        Tangent coordinates that vary (the others get zero weight).
    exponent : int
        The coordinates are ``Log_b x * 2**-exponent`` (an exact scale).
    rows : ndarray or row view of shape (n_samples, n_active) or None
        The scaled coordinates of the active features (for the walkers'
        solvers also divided by ``sqrt(lambdas[0])``); None when ``C_pi``
        was streamed from ``X``.
    neighbours, graph : tuple of ndarray, scipy.sparse.csr_array
        The kNN lists and the kernel graph, each freed by the next step
        (they are the largest objects a fit builds).
    bandwidth : float
        The kNN graph's kernel width (the Langevin walkers' squared units).
    P : scipy.sparse.csr_array or None
        The walk's Metropolis transition matrix.
    pi : ndarray of shape (n_samples,) or None
        The spatial measure; None for a uniform one never built.
    lambdas : ndarray
        Top eigenvalues of ``C_pi`` in the units of ``rows`` before the
        division (the walkers' solvers).
    moments : DenseMoments or SampleMoments
        ``C_pi`` for the solver and the Ritz rotation.
    n_eff, bessel : float
        Kish's effective sample size of ``pi`` and its Bessel factor.
    total, total_variance : float
        ``tr C_pi`` in the moments' units and in the data's squared units
        (Bessel-corrected).
    progress : callable
        ``progress(done, total)``: the running step's progress report (see
        the module's docstring); a no-op outside a watched step.
    """

    def __init__(self, X, plan, rng=None):
        self.X, self.plan, self.rng = X, plan, rng
        self.n_samples = X.shape[0]
        self.beta = 1.0 / plan.temperature
        self.geometry = self.k = self.n_units = self.base = self.active = None
        self.exponent, self.rows, self.on_demand = 0, None, False
        self.neighbours = self.graph = None
        self.bandwidth = self.P = self.pi = self.lambdas = self.moments = None
        self.n_eff = self.bessel = self.total = self.total_variance = None
        # (C, first, columns, exponent) of flat data's (x - base)[columns]
        # * 2**-exponent under pi: partial_fit's running sums, for free; the
        # same of a curved manifold's (Log_b x)[columns] * 2**-exponent.
        self.flat_moments = self.tangent_moments = None
        self.progress = _silent

    @property
    def measure(self):
        """The spatial measure as an array (uniform when none was built)."""
        return np.full(self.n_samples, 1.0 / self.n_samples) if self.pi is None else self.pi

    def stream(self):
        """partial_fit's running sums after this fit, or None.

        Flat data: about the mean, in the data's coordinates.  Curved
        manifolds: in the tangent coordinates at the base point, which
        partial_fit keeps (``"base"``) for the batches to come.
        """
        if self.flat_moments is not None:
            return stream_from_moments(self.base, self.n_samples, *self.flat_moments)
        if self.tangent_moments is None:
            return None
        state = stream_from_moments(np.zeros(self.geometry.dim), self.n_samples,
                                    *self.tangent_moments)
        state["base"] = self.base
        return state


def prepare(X, plan, rng, hook=None):
    """Turn validated samples into a :class:`Problem`, one named step at a time.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated samples.
    plan : Plan
    rng : numpy.random.Generator
        The fit's generator (Lanczos' start vector on wide data).
    hook : callable, default=None
        ``hook(step_name, problem)`` returning a context manager entered
        around each step; what it yields, if callable, is the step's
        ``problem.progress``.

    Returns
    -------
    problem : Problem

    Raises
    ------
    ValueError
        For data the plan cannot run on: off the manifold, too many
        components, no unique base point, no variance (at all, or under the
        spatial measure), a kernel the solver does not work with, a scale
        out of range.
    """
    problem = Problem(X, plan, rng)
    for name, step in _steps(plan):
        with (hook(name, problem) if hook is not None else contextlib.nullcontext()) as report:
            problem.progress = report if callable(report) else _silent
            try:
                step(problem)
            finally:
                problem.progress = _silent
    return problem


def steps(plan):
    """The names of the steps :func:`prepare` runs for ``plan``, in order.

    Parameters
    ----------
    plan : Plan

    Returns
    -------
    names : list of str
    """
    return [name for name, _ in _steps(plan)]


def _steps(plan):
    streamed = plan.solver.dense_moments and plan.temperature == 1.0
    named = [("geometry", _geometry), ("frechet mean", _frechet_mean), ("kernel", _kernel)]
    if streamed:
        named += [("moments", _streamed_moments)]
    else:
        named += [("coordinates", _coordinates), ("neighbours", _neighbours),
                  ("graph", _graph), ("metropolis", _metropolis), ("moments", _moments)]
    return named + [("measure", _measure)]


def _geometry(p):
    """The manifold adapter, membership of the samples, ``n_components``."""
    n_samples, n_features = p.X.shape
    p.geometry = geometry = resolve_geometry(p.plan.manifold, n_features)
    geometry.check_points(p.X)
    k = p.plan.n_components
    if k is None:
        k = min(n_samples, geometry.dim)
    elif isinstance(k, Integral):
        k = int(k)  # a numpy integer or a bool, as PCA takes them
    else:
        if k == "mle" and n_samples < geometry.dim:
            raise ValueError(
                f"n_components='mle' is only supported if n_samples >= {geometry.dims_label} "
                f"(got n_samples={n_samples}, {geometry.dims_label}={geometry.dim}), as in "
                "PCA; pass an int or a float n_components."
            )
        k = None  # a share of the variance or Minka's MLE: decided from C_pi's spectrum
    if k is not None and k > min(n_samples, geometry.dim):
        raise ValueError(
            f"n_components={k} must be at most min(n_samples, {geometry.dims_label})="
            f"{min(n_samples, geometry.dim)}; lower n_components."
        )
    p.k = k


def _frechet_mean(p):
    p.base = p.geometry.base_point(p.X)


def _kernel(p):
    """The solver must get what it needs from the fast process."""
    solver, process = p.plan.solver, p.plan.process
    if not solver.requires <= process.provides:
        raise ValueError(solver.requirement_message)


def _require_variance(active):
    if not active.any():
        raise ValueError(
            "X has zero variance: all samples are (numerically) identical, "
            "so there is no principal subspace to learn."
        )


def _exponent(Z):
    """The exact power of two that brings the largest coordinate into [0.5, 1)."""
    return int(np.frexp(max(Z.max(), -Z.min()))[1])


def _streamed_moments(p):
    """``C_pi`` of the uniform measure in one pass, without a graph.

    At temperature 1 the walk's stationary law is uniform for any graph.
    Flat data need no coordinates either: one pass over ``X`` gives the
    spreads too (the square roots of its diagonal are the features'
    standard deviations), unless the data sit near the ends of the float
    range, where an exact power-of-two pre-scaling is found first.  Sparse
    flat data take their scale from the columns' ranges and their moment
    by implicit centring.
    """
    X, geometry, base = p.X, p.geometry, p.base
    floor = geometry.rounding_floor(base, X.dtype)
    if sp.issparse(X):
        active, exponent = _sparse_ranges(p)
        C = sparse_second_moment(X, base, exponent=exponent, columns=active)
        p.flat_moments = (C, None, active, exponent)
    elif geometry.flat:
        block_bytes = int(min(2**23, max(2**16, 0.02 * X.nbytes)))
        C = second_moment(X, base, block_bytes=block_bytes)
        variance = np.diag(C)
        if np.all(np.isfinite(C)) and variance.max() > 1e-250:
            active, exponent = np.sqrt(variance) > floor, 0
            p.flat_moments = (C, None, np.ones(C.shape[0], dtype=bool), 0)
        else:
            high, low = X.max(axis=0), X.min(axis=0)
            active = high - low > floor
            reach = np.maximum(high - base, base - low)[active]
            exponent = int(np.frexp(reach.max() if reach.size else 1.0)[1])
            C = None
        _require_variance(active)
        if C is None:
            C = second_moment(X, base, exponent=exponent, columns=active,
                              block_bytes=block_bytes)
            p.flat_moments = (C, None, active, exponent)
        elif not active.all():
            C = C[np.ix_(active, active)]
    else:
        Z = geometry.log(X, base)
        active = np.ptp(Z, axis=0) > floor
        _require_variance(active)
        Za = Z[:, slice(None) if active.all() else active]
        exponent = _exponent(Za)
        C, first = second_moment(np.ldexp(Za, -exponent), 0.0, first=True)
        p.tangent_moments = (C, first, active, exponent)
    p.active, p.exponent = active, exponent
    p.moments = DenseMoments(C, np.ldexp(1.0, 2 * exponent))
    if p.k is None:
        p.k = _components_from_spectrum(p, linalg.eigvalsh(C)[::-1])
    p.n_units = min(p.k, int(active.sum()))


def _components_from_spectrum(p, eigenvalues):
    """``n_components`` from the spectrum of ``C_pi`` (moments' units,
    descending): a share of the variance, or Minka's MLE on the
    Bessel-corrected spectrum in the data's units, as PCA's."""
    if p.plan.n_components != "mle":
        return components_for_share(eigenvalues, p.plan.n_components)
    n_eff = _effective_size(p)
    bessel = n_eff / (n_eff - 1.0) if n_eff > 1.0 + 1e-9 else 1.0
    spectrum = np.zeros(p.geometry.dim)  # constant features: zero variance
    with np.errstate(over="ignore", under="ignore"):
        spectrum[: len(eigenvalues)] = (
            np.clip(eigenvalues, 0.0, None) * np.ldexp(1.0, 2 * p.exponent) * bessel
        )
    return components_by_mle(spectrum, n_eff)


def _effective_size(p):
    """Kish's effective sample size of the spatial measure (``n`` when uniform)."""
    return p.n_samples if p.pi is None else 1.0 / np.sum(p.pi**2)


def _sparse_ranges(p):
    """Active features and the exact power-of-two scale of sparse flat data.

    From the columns' ranges (implicit zeros included), which are exact:
    the coordinates' largest magnitude is ``max(high - b, b - low)``, as
    on the dense coordinates.
    """
    X, base = p.X, p.base
    high = np.asarray(X.max(axis=0).toarray(), dtype=np.float64).ravel()
    low = np.asarray(X.min(axis=0).toarray(), dtype=np.float64).ravel()
    active = high - low > p.geometry.rounding_floor(base, X.dtype)
    _require_variance(active)
    reach = np.maximum(high - base, base - low)[active]
    return active, int(np.frexp(reach.max())[1])


def _coordinates(p):
    """Tangent coordinates of the varying features, exactly pre-scaled.

    Features with no spread cannot carry a component: they are kept out of
    the dynamics so they get exactly zero weight (the floor is relative to
    each coordinate's magnitude, so it does not depend on units).  The
    scale is an exact power of two, the largest coordinate landing in
    [0.5, 1): squares cannot overflow, and data near the ends of the float
    range (1e-300 or 1e150) give the run of unit-scale data, bit for bit.
    Sparse flat data get a row view of the same coordinates instead.
    """
    if sp.issparse(p.X):
        p.active, p.exponent = _sparse_ranges(p)
        p.rows = SparseCentredRows(p.X, p.base, p.active, np.ldexp(1.0, -p.exponent))
        return
    Z = p.geometry.log(p.X, p.base)
    active = np.ptp(Z, axis=0) > p.geometry.rounding_floor(p.base, p.X.dtype)
    _require_variance(active)
    # No copy when every feature varies.  A boolean column mask gives an
    # F-ordered array: keep C order, the layout of the on-demand rows (BLAS
    # rounds the two apart).
    Za = Z if active.all() else np.ascontiguousarray(Z[:, active])
    del Z
    exponent = _exponent(Za)
    np.ldexp(Za, -exponent, out=Za)
    p.active, p.exponent, p.rows = active, exponent, Za


def _rows_on_demand(p):
    """Whether the solver's rows are read off X rather than a centred copy.

    Flat data only (the rows are ``x - b``), for a solver and walkers that
    read rows by gathers and blocks, above :data:`ON_DEMAND_BYTES` (on a
    large data set the copy would be as big as X itself).
    """
    plan = p.plan
    return (
        p.geometry.flat and plan.process.gathers_rows and plan.solver.reads_row_views
        and p.rows.nbytes > ON_DEMAND_BYTES and abs(p.exponent) < 900
    )


def _neighbours(p):
    n_neighbors = min(p.plan.n_neighbors, p.n_samples - 1)
    if isinstance(p.rows, SparseCentredRows):
        # Searched on the sparse rows themselves; the view stays the rows.
        p.neighbours = p.geometry.kneighbors(p.X, p.rows.neighbour_points(), n_neighbors,
                                             progress=p.progress)
        p.on_demand = True
        return
    p.neighbours = p.geometry.kneighbors(p.X, p.rows, n_neighbors, progress=p.progress)
    p.on_demand = _rows_on_demand(p)
    if p.on_demand:
        p.rows = CentredRows(p.X, p.base, p.active, np.ldexp(1.0, -p.exponent))


def _graph(p):
    """The symmetrised Gaussian kNN kernel and its width."""
    p.graph, p.bandwidth = kernel_graph(*p.neighbours, p.n_samples)
    p.neighbours = None
    p.plan.process.on_graph(p)


def _metropolis(p):
    """The Metropolis matrix and its exact stationary law, unless the solver
    learns from walkers that follow another law (the Langevin SDE, whose
    reference measure is the empirical one)."""
    plan = p.plan
    if plan.process.exact_law or not plan.solver.runs_walkers:
        p.P, degree = metropolis_transition(p.graph, p.beta, LAZINESS)
        p.pi = stationary_law(degree, p.beta)
    else:
        p.P, p.pi = None, np.full(p.n_samples, 1.0 / p.n_samples)
    p.graph = None


def _moments(p):
    """``C_pi`` under the spatial measure: dense for a dense-moment solver;
    otherwise its top eigenvalues fix the dynamics' units (top eigenvalue
    1) and the rows are rescaled to them."""
    rows, pi, n_active = p.rows, p.pi, int(p.active.sum())
    with np.errstate(over="ignore"):  # an overflow is reported by the measure step
        unit = np.ldexp(1.0, 2 * p.exponent)
    sparse = isinstance(rows, SparseCentredRows)
    if p.plan.solver.dense_moments:
        C, first = _rows_moment(p)
        p.moments = DenseMoments(C, unit)
        if p.k is None:
            p.k = _components_from_spectrum(p, linalg.eigvalsh(C)[::-1])
    else:
        # The whole spectrum (dense d x d moment) picks k from a share.
        extra = p.plan.solver.extra_eigenvalues
        n_top = rows.shape[1] if p.k is None else min(p.k + extra, n_active)
        dense = dense_enough(rows.shape[1], n_top)
        # partial_fit's sums need C (a pass of n d**2, as top_eigenvalues').
        C, first = _rows_moment(p)
        lambdas = top_eigenvalues(rows, pi, n_top, p.rng, C=C if dense or sparse else None)
        if p.k is None:
            p.k = _components_from_spectrum(p, lambdas)
            lambdas = lambdas[:min(p.k + extra, n_active)]
        if not lambdas[0] > 0.0:
            raise ValueError(
                f"X has zero variance under the spatial measure at temperature="
                f"{p.plan.temperature}: it sits on samples at the mean. Raise "
                "temperature."
            )
        # Top eigenvalue 1: the dynamics' units.
        scale = 1.0 / np.sqrt(lambdas[0])
        if p.on_demand:
            p.rows = p.rows.with_scale(np.ldexp(scale, -p.exponent))
        else:
            rows *= scale
        p.lambdas = lambdas
        with np.errstate(over="ignore"):
            # In the rescaled rows' units the eigenvalues are lambdas / lambda_1.
            # C (formed above) in the rescaled rows' units, for the anchors'
            # products; implicit centring of sparse rows loses digits the
            # rows' own products keep.
            dense = None if sparse else C / lambdas[0]
            p.moments = SampleMoments(p.rows, pi, lambdas[0] * unit, lambdas / lambdas[0],
                                      dense=dense)
    if p.geometry.flat:
        p.flat_moments = (C, first, p.active, p.exponent)
    else:
        p.tangent_moments = (C, first, p.active, p.exponent)
    p.n_units = min(p.k, n_active)


def _rows_moment(p):
    """``(C, first)`` of the rows under ``pi``: by row blocks, or by implicit
    centring on sparse input (the rows are ``(x - b) * 2**-exponent``)."""
    if isinstance(p.rows, SparseCentredRows):
        return sparse_second_moment(p.X, p.base, weights=p.pi, exponent=p.exponent,
                                    columns=p.active, first=True)
    return second_moment(p.rows, 0.0, weights=p.pi, first=True)


def _measure(p):
    """Kish's effective sample size, the Bessel factor, the range of the variance."""
    n = p.n_samples
    p.n_eff = _effective_size(p)
    warn_few_samples(p.n_eff, n, p.plan.temperature)
    # Bessel correction with the measure's effective sample size; n / (n - 1)
    # at temperature=1, as in PCA.
    p.bessel = p.n_eff / (p.n_eff - 1.0) if p.n_eff > 1.0 + 1e-9 else 1.0
    _total_variance(p)
    if not p.total_variance <= np.finfo(p.X.dtype).max:
        raise ValueError(
            f"X's values are too large: their variance overflows {p.X.dtype}. "
            "Rescale X (for example with StandardScaler) before fitting."
        )


def _total_variance(p):
    """``tr C_pi`` in the moments' units and in the data's (Bessel-corrected)."""
    p.total = p.moments.total()
    with np.errstate(over="ignore"):
        p.total_variance = np.float64(p.total) * p.moments.unit * p.bessel


def warn_few_samples(n_eff, n_samples, temperature):
    """Warn when the tempered measure rests on a handful of samples.

    ``n_eff = 1 / sum(pi**2)`` (Kish's effective sample size) is
    ``n_samples`` at temperature 1; below :data:`FEW_SAMPLES` of it the
    subspace is that of a few points, not of a smoothed version of the
    data.

    Parameters
    ----------
    n_eff : float
    n_samples : int
    temperature : float
    """
    if temperature == 1.0 or n_eff >= FEW_SAMPLES * n_samples:
        return
    cause = (
        "above temperature 1 the kernel degree of isolated samples is "
        "exponentially small and deg**(1/temperature - 1) hands them the "
        "mass; lower temperature, or raise n_neighbors (a wider kernel; "
        "several times the default may be needed)"
        if temperature > 1.0 else
        "below temperature 1 the measure concentrates on the densest "
        "samples; raise temperature toward 1"
    )
    warnings.warn(
        f"The spatial measure at temperature={temperature:g} rests on few "
        f"samples: its effective sample size 1/sum(pi**2) is {n_eff:.3g} of "
        f"{n_samples}, so the components describe those samples only. The "
        f"cause: {cause}.",
        UserWarning,
    )


def prepare_batch(X, state, plan, n_components, averaged):
    """partial_fit's problem: the batch added to the running sums.

    Each batch carries mass in proportion to its size, spread by its own
    tempered measure (the stationary law of the walk on its kNN graph,
    built by the steps of :func:`prepare`) or, at temperature 1, uniformly.
    On a curved manifold the sums are those of the tangent coordinates at a
    base point fixed by the first batch (its Frechet mean, or the fit's):
    ``C`` is their covariance about their running mean, the base point
    stays (:func:`_batch_coordinates`).

    Parameters
    ----------
    X : ndarray or scipy sparse array of shape (n, n_features)
        The validated batch (sparse on flat data only).
    state : dict or None
        The running sums so far (None before the first batch); updated in
        place.
    plan : Plan
    n_components : int
    averaged : Solver
        The solver partial_fit runs (it learns from the graph walk's law).

    Returns
    -------
    problem : Problem
        The running base point and second moment, for the solver.
    state : dict
        The running sums, this batch included.

    Raises
    ------
    ValueError
        For points off the manifold, a first batch without a unique Frechet
        mean, or a sample at the cut locus of the base point.
    """
    n = X.shape[0]
    geometry = resolve_geometry(plan.manifold, X.shape[1])
    Z, base = _batch_coordinates(X, geometry, state)
    if state is None:
        state = empty_stream(
            np.asarray(Z.mean(axis=0, dtype=np.float64)).ravel() if sp.issparse(Z)
            else np.mean(Z, axis=0, dtype=np.float64)
        )
        if base is not None:
            state["base"] = base
    if plan.temperature == 1.0 or n < 3:
        weights = np.full(n, 1.0 / n)
    else:
        batch = Problem(X, Plan(plan.manifold, GraphProcess, averaged, plan.temperature,
                                plan.n_neighbors))
        batch.geometry = geometry
        batch.rows = (SparseCentredRows(X, state["reference"], None, 1.0) if sp.issparse(X)
                      else Z - state["reference"])
        for step in (_neighbours, _graph, _metropolis):
            step(batch)
        weights = batch.pi
        warn_few_samples(1.0 / np.sum(weights**2), n, plan.temperature)
    accumulate(state, Z, weights * n)
    return stream_problem(X, plan, geometry, state, n_components, base), state


def stream_problem(X, plan, geometry, state, n_components, base=None):
    """``partial_fit``'s problem from the running sums, the batch included.

    Parameters
    ----------
    X : array-like of shape (n, d)
        The batch (its shape and dtype only).
    plan : Plan
    geometry : Geometry
    state : dict
        The running sums (:func:`~._moments.accumulate`).
    n_components : int
    base : ndarray of shape (d,), default=None
        A fixed base point (curved manifolds); the running mean if None.

    Returns
    -------
    problem : Problem
    """
    problem = Problem(X, plan)
    problem.geometry = geometry
    mean, C = stream_moment(state)
    problem.base = mean if base is None else base
    problem.active = np.ones(C.shape[0], dtype=bool)
    problem.moments = DenseMoments(C)
    count = problem.n_eff = state["count"]
    problem.bessel = count / (count - 1.0) if count > 1 else 1.0
    _total_variance(problem)
    problem.k = problem.n_units = n_components
    return problem


def _batch_coordinates(X, geometry, state):
    """What a batch adds to partial_fit's sums, and the base point.

    Flat data: the batch itself (the sums are kept about a shift, and the
    base point is their running mean).  Curved manifolds: the tangent
    coordinates at the base point fixed by the first batch, its Frechet
    mean, kept for every later batch.  A fixed base point keeps the sums
    exact (no transport of past moments, no holonomy) and ``transform``
    consistent from batch to batch; the cost is tangent PCA about the first
    batch's mean instead of all samples' (second order in their distance).

    Returns
    -------
    Z : ndarray of shape (n, dim)
    base : ndarray of shape (n_features,) or None
        None for flat data.
    """
    if geometry.flat:
        return X, None
    geometry.check_points(X)
    base = geometry.base_point(X) if state is None else state["base"]
    Z, defined = geometry.walker_log(X, base)
    if not defined.all():
        raise ValueError(
            f"A sample of the batch (row {int(np.argmin(defined))}) lies at the cut locus "
            f"of the base point on {geometry.name!r} (its antipode), which the first batch "
            "fixed: its tangent coordinates are not unique. Fit on all the data instead, "
            "or start the stream with a batch around it."
        )
    return Z, base
