"""``solver="stochastic"``: walkers (fast) drive stochastic Hebbian updates (slow).

Each update of the weights follows ``walk_steps`` moves of every walker (the
time-scale separation of the coupled flow); the weights see the walkers'
tangent coordinates as their batch.  The loop logs the three terms of the
joint Lyapunov functional (``theory.md`` section 4), keeps Polyak-Ruppert
snapshots of the retracted weights over the second half of the run, and
stops when the two halves of that averaging window agree (a split-half,
Geweke-style diagnostic).

The walkers are a fast process of :mod:`~slowfast_sklearn.fast` with
``step``, ``divergence`` and ``state``: the graph walkers (kernel A, walkers
are sample indices) by default, or the Langevin walkers (kernel B, walkers
are points of the manifold).
"""

import numpy as np
from scipy.linalg import subspace_angles

from .._hebbian import batch_moments, orthonormalize
from .._moments import SampleMoments
from ..fast.graph import GraphWalkers
from ._base import HebbianFlow, Solver, one_blas_thread

__all__ = ["StochasticSolver", "averaged_subspace", "coupled_flow"]

#: most snapshots kept for the averaged subspace.
MAX_SNAPSHOTS = 400


def averaged_subspace(snapshots, n_components, start=None, n_power=0):
    """Top eigenvectors of the average projector ``mean_t Q_t Q_t^T``.

    Parameters
    ----------
    snapshots : sequence of ndarray of shape (n_features, n_components)
        Orthonormal bases ``Q_t``.
    n_components : int
        Dimension of the subspace returned.
    start : ndarray of shape (n_features, n_components), default=None
        With ``n_power > 0``: warm start of an orthogonal iteration.
    n_power : int, default=0
        ``0`` computes the exact eigenvectors by a thin SVD of the stacked
        snapshots; ``> 0`` runs that many warm-started orthogonal iterations
        instead (cheap, for checkpoints).

    Returns
    -------
    U : ndarray of shape (n_features, n_components)
        Orthonormal basis of the averaged subspace.
    """
    S = np.concatenate(snapshots, axis=1)
    if n_power and start is not None:
        U = start
        for _ in range(n_power):
            U = orthonormalize(S @ (S.T @ U))
        return U
    return np.linalg.svd(S, full_matrices=False)[0][:, :n_components]


class _WalkerFlow(HebbianFlow):
    """Hebbian updates on walker batches, Polyak-Ruppert averaged, split-half stop."""

    label = "split angle"

    def __init__(self, moments, *, walkers, walk_steps, max_iter, **options):
        super().__init__(moments, **options)
        self.walkers, self.walk_steps = walkers, walk_steps
        self.stride = max(1, max_iter // MAX_SNAPSHOTS)
        self.snapshots, self.snapshot_steps, self.halves = [], [], None

    def moments(self, W):
        return batch_moments(self.walkers.step(self.walk_steps, self.rng), W)

    def divergence(self):
        return self.walkers.divergence()

    def accepted(self, t):
        if t % self.stride == 0:
            self.snapshots.append(orthonormalize(self.W))
            self.snapshot_steps.append(t)

    def statistic(self, t):
        """Angle between the averaged subspaces of the two halves of ``(t/2, t]``."""
        steps = np.asarray(self.snapshot_steps)
        first = [Q for Q, s in zip(self.snapshots, steps) if t // 2 < s <= 3 * t // 4]
        second = [Q for Q, s in zip(self.snapshots, steps) if s > 3 * t // 4]
        if len(first) < 2 or len(second) < 2:
            return None
        if self.halves is None:
            A, B = averaged_subspace(first, self.k), averaged_subspace(second, self.k)
        else:
            A = averaged_subspace(first, self.k, start=self.halves[0], n_power=3)
            B = averaged_subspace(second, self.k, start=self.halves[1], n_power=3)
        self.halves = A, B
        return float(np.max(subspace_angles(A, B)))

    def subspace(self, t, diverged):
        window = [Q for Q, s in zip(self.snapshots, self.snapshot_steps) if s > t // 2]
        if diverged or len(window) < 2:
            return orthonormalize(self.W)
        return averaged_subspace(window, self.k)

    def positions(self):
        return self.walkers.state


def coupled_flow(
    Z,
    P,
    pi,
    *,
    n_components,
    rule="sanger",
    learning_rate=0.2,
    n_walkers=1024,
    walk_steps=1,
    walker_lifetime=None,
    max_iter=5000,
    tol=0.05,
    rng,
    weights_init=None,
    positions_init=None,
    step_guard=None,
    top_eigenvalues=None,
    min_steps=None,
    verbose=0,
    fast_process=None,
    checkpoint=None,
):
    """Run the coupled slow-fast dynamics.

    Fast: ``n_walkers`` walkers step through the Markov chain ``P`` on the
    samples, ``walk_steps`` moves per slow step.  Slow: the weights take one
    Hebbian step (:func:`~slowfast_sklearn._hebbian.hebbian_step`) on the
    walkers' coordinates ``Z[positions]`` with a constant step size.

    Parameters
    ----------
    Z : ndarray or row view of shape (n_samples, n_features)
        Tangent coordinates of the samples, scaled so that the top eigenvalue
        of ``C_pi`` is about 1.
    P : scipy.sparse.csr_array of shape (n_samples, n_samples)
        Transition matrix of the walk (from
        :func:`~slowfast_sklearn.fast.graph.metropolis_transition`).
    pi : ndarray of shape (n_samples,)
        Stationary law of ``P``.
    n_components : int
        Number of units (columns of ``W``).
    rule : {"sanger", "oja", "hebbian", "trace"}, default="sanger"
        Normaliser of the Hebbian update.
    learning_rate : float, default=0.2
        Constant step size ``eta`` (in units where ``lambda_1 = 1``).
    n_walkers : int, default=1024
        Number of walkers: each weight update averages over their batch.
    walk_steps : int, default=1
        Walker moves per weight update.
    walker_lifetime : int or None, default=None
        Every ``walker_lifetime`` weight updates all walkers are reborn on
        samples drawn from ``pi`` by systematic sampling (a regenerative
        walk: the walkers' law stays ``pi``, but the slowly mixing modes of
        the walk, such as the share of walkers in each cluster, are reset
        to their exact values).  ``None``: walkers live for the whole run,
        the pure coupled flow.
    max_iter : int, default=5000
        Most weight updates.
    tol : float, default=0.05
        Convergence threshold (rad) on the split-half diagnostic.
    rng : numpy.random.Generator
        The only source of randomness.
    weights_init : ndarray of shape (n_features, n_components), default=None
        Initial weights; default ``G / sqrt(n_features)``, ``G`` standard
        normal (full rank almost surely).
    positions_init : ndarray of shape (n_walkers,), default=None
        Initial sample index of each walker; default: systematic sampling of
        the empirical (uniform) measure.  The exact law ``rho_t`` of a walker
        is tracked from the law these positions were drawn from.
    step_guard : bool, default=None
        Apply the step guard; ``None`` means on for every rule but
        ``"hebbian"`` (whose explosion it would hide).
    top_eigenvalues : ndarray of shape (n_components,), default=None
        Top eigenvalues of ``C_pi`` for the third Lyapunov term; without
        them that term is logged as ``-tr(P_W C_pi)`` (shifted by a constant).
    min_steps : int, default=None
        Weight updates before convergence may be declared, so that a run
        that lingers near a saddle is not mistaken for a stationary one;
        ``None`` means ``max_iter // 5``.
    verbose : int, default=0
        Print one line per checkpoint when positive.
    fast_process : object, default=None
        The walkers (:class:`~slowfast_sklearn.fast.Walkers`), with
        ``step(walk_steps, rng)`` returning the batch of their coordinates,
        ``divergence()`` (first Lyapunov term) and ``state``; ``None``
        builds :class:`~slowfast_sklearn.fast.graph.GraphWalkers` on ``Z``,
        ``P`` (``n_walkers``, ``positions_init`` and ``walker_lifetime``
        are then used).  ``Z`` and ``pi`` still define ``C_pi`` of the
        third Lyapunov term.
    checkpoint : callable, default=None
        Called as ``checkpoint(step, last)`` at every checkpoint, after the
        log line; ``last`` says whether the run ends there anyway.  A true
        return value stops the run (the estimator passes its bridge to
        scikit-learn's callbacks here).

    Returns
    -------
    result : FlowResult
        The Polyak-Ruppert averaged subspace, the last weights, the
        Lyapunov log, the split-half angles and the walkers' final state.
    """
    if fast_process is None:
        fast_process = GraphWalkers(Z, P, pi, n_walkers, positions_init, walker_lifetime)
    flow = _WalkerFlow(
        SampleMoments(Z, pi, 1.0), walkers=fast_process, walk_steps=walk_steps, max_iter=max_iter,
        n_components=n_components, rule=rule, learning_rate=learning_rate, tol=tol, rng=rng,
        weights_init=weights_init, step_guard=step_guard, top_eigenvalues=top_eigenvalues,
        min_steps=max_iter // 5 if min_steps is None else min_steps,
    )
    return flow.run(max_iter, verbose, checkpoint)


class StochasticSolver(Solver):
    """Walkers and stochastic Hebbian updates: the decentralised dynamics."""

    name = "stochastic"
    default_tol = 0.03
    requires = frozenset({"walkers"})
    runs_walkers = True
    reads_row_views = True
    budget = "max_iter or n_walkers"
    summary = "walkers and stochastic Hebbian updates (the decentralised dynamics of the paper)."
    stopping = (
        "the fit stops when the Polyak-Ruppert averaged subspaces of the two halves of the "
        "averaging window (the second half of the run) differ by a largest principal angle "
        "below ``tol`` rad at three consecutive checkpoints, checked from update "
        "``max_iter // 5`` on."
    )

    def run(self, problem, params):
        walkers = problem.plan.process.walkers(problem, params, params.rng)
        # Thousands of small products: BLAS threads only contend.
        with one_blas_thread():
            return coupled_flow(
                problem.rows, problem.P, problem.pi, n_components=params.n_components,
                rule=params.rule, learning_rate=params.learning_rate,
                n_walkers=params.n_walkers, walk_steps=params.walk_steps,
                walker_lifetime=params.walker_lifetime, max_iter=params.max_iter,
                tol=params.tol, rng=params.rng, weights_init=params.weights_init,
                verbose=params.verbose, top_eigenvalues=problem.moments.top(params.n_components),
                fast_process=walkers, checkpoint=params.checkpoint,
            )

SOLVER = StochasticSolver()
