"""What every solver shares: its registry entry, the result, the checkpoint loop.

A solver is one module with a :class:`Solver` subclass whose
``run(problem, params)`` returns a :class:`FlowResult`.  They all run
:func:`run_checkpoints` (update, and at every checkpoint the stopping
statistic, the verbose line and the callbacks); the Hebbian flows share the
weights' side of it too (:class:`HebbianFlow`: initial weights, the guarded
update, the divergence stop, the Lyapunov log, the three-in-a-row rule),
each defining its own per-step update and stopping statistic.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from .._hebbian import hebbian_update, orthonormalize
from .._threads import one_blas_thread

__all__ = ["CHECK_EVERY", "DIVERGENCE_NORM", "FlowResult", "HebbianFlow", "RunParams",
           "Solver", "one_blas_thread", "run_checkpoints"]

#: steps of the slow process between two checkpoints (log, convergence check).
CHECK_EVERY = 50
#: weights whose norm passes this have diverged (plain Hebbian explosion).
DIVERGENCE_NORM = 1e12


@dataclass
class FlowResult:
    """What a solver returns.

    Attributes
    ----------
    weights : ndarray of shape (n_features, n_components)
        Raw Hebbian weights ``W`` at the last step (not retracted).
    subspace : ndarray of shape (n_features, n_components)
        Orthonormal basis of the learned subspace (for the walkers, the
        Polyak-Ruppert average over the second half of the run; the raw
        ``W`` retracted when too few snapshots exist or the run diverged).
    n_iter : int
        Number of slow (weight) updates or iterations performed.
    converged : bool
        Whether the stopping rule was met.
    diverged : bool
        Whether an update would have pushed an entry of the weights above
        ``DIVERGENCE_NORM`` (or to NaN); the run stopped before it and
        ``weights`` holds the last finite iterate.
    lyapunov : ndarray of shape (n_checkpoints, 3)
        Per checkpoint: the fast process's divergence from its target
        (``KL(rho_t || pi)`` for the graph walkers, an MMD**2 for the
        Langevin walkers), ``||W^T W - I||_F**2`` and
        ``sum_{i<=k} lambda_i(C) - tr(P_W C)``.
    lyapunov_steps : ndarray of shape (n_checkpoints,)
        Slow-step index of each checkpoint.
    statistic : ndarray of shape (n_checkpoints,)
        The solver's stopping statistic at each checkpoint: the split-half
        angle of the walkers (rad), the checkpoint-to-checkpoint angle of the
        mean field (rad), the Davis-Kahan bound on the angle of the averaged
        flow (rad; 0 once its answer is exact), the captured-variance deficit
        of the variance-reduced walkers; NaN where none was computed.
    positions : ndarray or None
        Final state of the walkers: shape (n_walkers,) sample indices for
        the graph walkers, (n_walkers, n_features) points for the
        Langevin walkers; None without walkers.
    angle : float or None
        A second stopping statistic when the solver has one (rad): the
        variance-reduced walkers' bound on the principal angle across the
        well-separated gaps at the last anchor.
    warm_start : ndarray of shape (n_features, width) or None
        What a later run on a nearby problem may start from
        (``RunParams.weights_init``), when it is more than ``weights``: the
        averaged solver's whole block of Ritz vectors, which ``partial_fit``
        carries from batch to batch.  None: start from ``weights``.
    """

    weights: np.ndarray
    subspace: np.ndarray
    n_iter: int
    converged: bool
    diverged: bool
    lyapunov: np.ndarray
    lyapunov_steps: np.ndarray
    statistic: np.ndarray
    positions: np.ndarray
    angle: float = None
    warm_start: np.ndarray = None


@dataclass(frozen=True)
class RunParams:
    """What the estimator's parameters ask of a solver run.

    Attributes
    ----------
    n_components : int
        Units (columns of the weights) to learn.
    rule : str
        Hebbian rule (the walkers' and the mean-field solvers).
    learning_rate : float
        Step size ``eta`` in units where ``lambda_1 = 1``.
    max_iter : int
    tol : float
        Resolved stopping threshold.
    rng : numpy.random.Generator
    verbose : int
    checkpoint : callable or None
        ``checkpoint(step, last) -> bool`` (True stops the run).
    n_walkers, walk_steps : int
    walker_lifetime : int or None
    weights_init : ndarray of shape (dim, width) or None
        Warm start (``partial_fit``'s previous weights, ``width =
        n_components``, or a previous result's ``warm_start``).
    """

    n_components: int
    rule: str = "sanger"
    learning_rate: float = 0.2
    max_iter: int = 3000
    tol: float = 1e-6
    rng: np.random.Generator = None
    verbose: int = 0
    checkpoint: object = None
    n_walkers: int = 2048
    walk_steps: int = 1
    walker_lifetime: int = None
    weights_init: np.ndarray = None


class Solver(ABC):
    """A registry entry: how one ``solver`` value integrates the coupled flow.

    Subclasses set the attributes below and implement :meth:`run`; the
    estimator reads nothing else of a solver, and the registry
    (:data:`~slowfast_sklearn.solvers.SOLVERS`) feeds the parameter
    constraint, ``tol="auto"``, the fast processes it works with and the
    estimator's docstring from them.
    """

    #: The ``solver`` string.
    name = None
    #: ``tol="auto"``.
    default_tol = None
    #: Weight updates per checkpoint (per callback subtask).
    check_every = CHECK_EVERY
    #: What it needs of the fast process (subset of its ``provides``), and
    #: the error when the chosen kernel lacks it.
    requires = frozenset()
    requirement_message = ""
    #: Whether it learns from walkers of the fast process (then the spatial
    #: measure is their law); otherwise from the graph walk's exact law.
    runs_walkers = False
    #: Whether it reads the coordinates only by row gathers and blocks (so
    #: that they may be a row view made on demand).
    reads_row_views = False
    #: Whether it needs ``C_pi`` as a dense matrix (then, at temperature 1,
    #: it needs no graph and ``C_pi`` streams from the data).
    dense_moments = False
    #: What the non-convergence warning asks to increase, and whether it
    #: points to ``solver="averaged"`` for small eigengaps.
    budget = "max_iter"
    #: How that warning states the last stopping statistic (rad).
    progress = "the subspace still moved {:.2g} rad at the last check"
    gap_hint = True
    #: Docstring text: the bullet of the ``solver`` parameter and the
    #: stopping rule under ``tol``.
    summary = ""
    stopping = ""
    #: The Hebbian rules it runs (``solver="auto"`` falls back to
    #: ``"stochastic"`` for the others).
    rules = frozenset({"sanger", "oja", "hebbian", "trace"})
    #: ``learning_rate="auto"`` (in units where ``lambda_1 = 1``).
    default_learning_rate = 0.2
    #: ``walker_lifetime="auto"`` (weight updates between rebirths).
    default_walker_lifetime = 10
    #: Whether it runs walkers that are never reborn (``walker_lifetime=None``).
    runs_pure_flow = True
    #: Eigenvalues of ``C_pi`` beyond ``n_components`` the preparation
    #: computes for it (the gap below the subspace).
    extra_eigenvalues = 0

    def check_interval(self, params):
        """Weight updates between two checkpoints of a run with these parameters.

        Parameters
        ----------
        params : RunParams

        Returns
        -------
        interval : int
        """
        return self.check_every

    def checkpoints(self, params):
        """Most checkpoints a run with these parameters reaches (callback subtasks).

        Parameters
        ----------
        params : RunParams

        Returns
        -------
        n : int
        """
        return -(-params.max_iter // self.check_interval(params))

    def default_n_walkers(self, n_samples):
        """``n_walkers="auto"`` for a data set of ``n_samples`` samples."""
        return 2048

    def unconverged(self, result, tol):
        """What the non-convergence warning says the last check measured.

        Parameters
        ----------
        result : FlowResult
        tol : float

        Returns
        -------
        text : str
        """
        return (
            f"{self.progress.format(result.statistic[-1])} (tol={tol:g}), and its "
            "distance to the stationary subspace can be far larger"
        )

    @abstractmethod
    def run(self, problem, params):
        """Integrate the flow on a prepared problem.

        Parameters
        ----------
        problem : Problem
            From :func:`~slowfast_sklearn._prepare.prepare`.
        params : RunParams

        Returns
        -------
        result : FlowResult
        """


def run_checkpoints(step, check, *, max_iter, check_every, checkpoint=None, report=None):
    """The loop every solver runs: update, and check at every checkpoint.

    Parameters
    ----------
    step : callable
        ``step(t) -> bool`` performs update ``t + 1``; False means it
        diverged and was not taken (the run stops).
    check : callable
        ``check(t) -> bool`` at a checkpoint (every ``check_every`` updates
        and the last): logs, computes the stopping statistic, returns
        whether the run converged.
    max_iter : int
    check_every : int
    checkpoint : callable, default=None
        ``checkpoint(t, last) -> bool`` after the check; ``last`` says
        whether the run ends there anyway.  True stops the run.
    report : callable, default=None
        ``report(t) -> str``, printed after each check (verbose).

    Returns
    -------
    n_iter : int
    converged : bool
    diverged : bool
    """
    t = 0
    while t < max_iter:
        if not step(t):
            return t, False, True
        t += 1
        if t % check_every and t != max_iter:
            continue
        converged = check(t)
        if report is not None:
            print(report(t), flush=True)
        if checkpoint is not None and checkpoint(t, converged or t >= max_iter):
            return t, converged, False
        if converged:
            return t, True, False
    return t, False, False


class HebbianFlow(ABC):
    """The weights' side of a Hebbian solver, on the shared checkpoint loop.

    Subclasses define the per-step moments (:meth:`moments`), the first
    Lyapunov term (:meth:`divergence`) and the stopping statistic
    (:meth:`statistic`); they may change the update itself (:meth:`update`,
    say per-unit step sizes), take snapshots or anchors after each update
    (:meth:`accepted`), and choose the final subspace (:meth:`subspace`).
    :meth:`check` applies the rule "statistic below ``tol`` at three
    checkpoints in a row, after ``min_steps``".

    Parameters
    ----------
    moments : SampleMoments or DenseMoments
        ``C_pi`` in the dynamics' units (``lambda_1`` about 1), for the third
        Lyapunov term (:mod:`~slowfast_sklearn._moments`).
    n_components : int
    rule : str
    learning_rate : float
    tol : float
    rng : numpy.random.Generator
        Draws the initial weights when ``weights_init`` is None.
    weights_init : ndarray of shape (n_features, n_components) or None
        Default ``G / sqrt(n_features)``, ``G`` standard normal.
    step_guard : bool or None
        None means on for every rule but ``"hebbian"``.
    top_eigenvalues : ndarray of shape (n_components,) or None
        Top eigenvalues of ``C_pi`` for the third Lyapunov term.
    min_steps : int
        Updates before convergence may be declared.
    """

    #: Verbose name of the stopping statistic.
    label = ""

    def __init__(self, moments, *, n_components, rule, learning_rate, tol, rng, weights_init,
                 step_guard, top_eigenvalues, min_steps):
        d = moments.dim
        self.C_pi, self.k, self.rng = moments, n_components, rng
        self.rule, self.learning_rate, self.tol, self.min_steps = rule, learning_rate, tol, min_steps
        self.step_guard = rule != "hebbian" if step_guard is None else step_guard
        if weights_init is None:
            self.W = rng.standard_normal((d, n_components)) / np.sqrt(d)
        else:
            self.W = np.array(weights_init, dtype=np.float64)
        self.offset = float(np.sum(top_eigenvalues)) if top_eigenvalues is not None else 0.0
        self.logs, self.log_steps, self.statistics = [], [], []
        self.streak = 0

    @abstractmethod
    def moments(self, W):
        """``(C W, W^T C W)`` of this step's second moment ``C`` (the per-step update)."""

    @abstractmethod
    def divergence(self):
        """First Lyapunov term: the fast process's distance from its target."""

    @abstractmethod
    def statistic(self, t):
        """The stopping statistic at checkpoint ``t`` (rad), or None before it exists."""

    def accepted(self, t):
        """Called after update ``t`` was taken."""

    def subspace(self, t, diverged):
        """Orthonormal basis of the learned subspace at the end of the run."""
        return orthonormalize(self.W)

    def positions(self):
        """The walkers' final state (None without walkers)."""
        return None

    def update(self, W):
        """The per-step update (a new array): one guarded Hebbian step on
        this step's moments."""
        CW, A = self.moments(W)
        return hebbian_update(W, CW, A, self.learning_rate, self.rule, self.step_guard)

    def step(self, t):
        with np.errstate(over="ignore", invalid="ignore"):
            W_new = self.update(self.W)
        if not np.abs(W_new).max() < DIVERGENCE_NORM:
            # Keep the last finite weights: they carry the direction taken.
            return False
        self.W = W_new
        self.accepted(t + 1)
        return True

    def log(self, t):
        E = self.W.T @ self.W - np.eye(self.k)
        captured = float(np.trace(self.C_pi.project(orthonormalize(self.W))))
        self.logs.append((self.divergence(), float(np.sum(E * E)), self.offset - captured))
        self.log_steps.append(t)

    def check(self, t):
        self.log(t)
        value = self.statistic(t)
        if value is None:
            self.statistics.append(np.nan)
        else:
            self.statistics.append(value)
            self.streak = self.streak + 1 if value < self.tol else 0
        return self.streak >= 3 and t >= self.min_steps

    def report(self, t):
        kl, orth, gap = self.logs[-1]
        return (
            f"[CoupledFlowEmbedding] step {t:6d}  {self.label} {self.statistics[-1]:.2e} rad"
            f"  KL {kl:.3e}  orth {orth:.3e}  subspace gap {gap:.3e}"
        )

    def run(self, max_iter, verbose=0, checkpoint=None):
        """Run the flow; return its :class:`FlowResult`."""
        self.log(0)
        self.statistics.append(np.nan)
        t, converged, diverged = run_checkpoints(
            self.step, self.check, max_iter=max_iter, check_every=CHECK_EVERY,
            checkpoint=checkpoint, report=self.report if verbose else None,
        )
        return FlowResult(
            weights=self.W,
            subspace=self.subspace(t, diverged),
            n_iter=t,
            converged=converged,
            diverged=diverged,
            lyapunov=np.asarray(self.logs, dtype=np.float64),
            lyapunov_steps=np.asarray(self.log_steps),
            statistic=np.asarray(self.statistics, dtype=np.float64),
            positions=self.positions(),
        )
