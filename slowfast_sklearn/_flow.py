"""The coupled slow-fast integrator: walkers (fast) drive Hebbian weights (slow).

One loop, vectorised over walkers.  Each update of the weights follows
``walk_steps`` moves of every walker (the time-scale separation of the
coupled flow); the weights see the walkers' tangent coordinates as their
batch.  The loop logs the three terms of the joint Lyapunov functional
(``theory.md`` section 4), keeps Polyak-Ruppert snapshots of the retracted
weights over the second half of the run, and stops when the two halves of
that averaging window agree (a split-half, Geweke-style diagnostic).

The walkers are a *fast process* object with ``step``, ``divergence`` and
``state``: :class:`GraphWalkers` (kernel A, walkers are sample indices) by
default, or :class:`~slowfast_sklearn._langevin.LangevinWalkers` (kernel B,
walkers are points of the manifold).
"""

from dataclasses import dataclass

import numpy as np
from scipy.linalg import subspace_angles

from ._hebbian import hebbian_step, hebbian_update, orthonormalize
from ._rows import projected_moment
from ._spatial import kl_divergence, row_sampler, step_walkers, systematic_positions

__all__ = [
    "FlowResult",
    "GraphWalkers",
    "coupled_flow",
    "averaged_subspace",
    "systematic_positions",
]

#: steps of the slow process between two checkpoints (log, convergence check).
CHECK_EVERY = 50
#: weights whose norm passes this have diverged (plain Hebbian explosion).
DIVERGENCE_NORM = 1e12
#: most snapshots kept for the averaged subspace.
MAX_SNAPSHOTS = 400


@dataclass
class FlowResult:
    """What :func:`coupled_flow` returns.

    Attributes
    ----------
    weights : ndarray of shape (n_features, n_components)
        Raw Hebbian weights ``W`` at the last step (not retracted).
    subspace : ndarray of shape (n_features, n_components)
        Orthonormal basis of the Polyak-Ruppert averaged subspace over the
        second half of the run (the raw ``W`` retracted when too few
        snapshots exist or the run diverged).
    n_iter : int
        Number of slow (weight) updates performed.
    converged : bool
        Whether the split-half diagnostic fell below ``tol`` at three
        consecutive checkpoints (after ``min_steps``).
    diverged : bool
        Whether an update would have pushed an entry of the weights above
        ``DIVERGENCE_NORM`` (or to NaN); the run stopped before it and
        ``weights`` holds the last finite iterate.
    lyapunov : ndarray of shape (n_checkpoints, 3)
        Per checkpoint: the fast process's divergence from its target
        (``KL(rho_t || pi)`` for :class:`GraphWalkers`, an MMD**2 for the
        Langevin walkers), ``||W^T W - I||_F**2`` and
        ``sum_{i<=k} lambda_i(C) - tr(P_W C)``.
    lyapunov_steps : ndarray of shape (n_checkpoints,)
        Slow-step index of each checkpoint.
    split_angle : ndarray of shape (n_checkpoints,)
        Largest principal angle (rad) between the averages of the two halves
        of the averaging window; NaN before the first comparison.
    positions : ndarray
        Final state of the walkers: shape (n_walkers,) sample indices for
        :class:`GraphWalkers`, (n_walkers, n_features) points for the
        Langevin walkers.
    """

    weights: np.ndarray
    subspace: np.ndarray
    n_iter: int
    converged: bool
    diverged: bool
    lyapunov: np.ndarray
    lyapunov_steps: np.ndarray
    split_angle: np.ndarray
    positions: np.ndarray


class GraphWalkers:
    """Kernel A's walkers: sample indices moved by the Markov chain ``P``.

    The exact law ``rho_t`` of one walker is tracked alongside (one sparse
    mat-vec per move) for the ``KL(rho_t || pi)`` Lyapunov term, until it
    falls below 1e-14.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_features)
        Coordinates of the samples (what :meth:`step` returns rows of).
    P : scipy.sparse.csr_array of shape (n_samples, n_samples)
        Transition matrix.
    pi : ndarray of shape (n_samples,)
        Stationary law of ``P``.
    n_walkers : int
    rng : numpy.random.Generator
        Draws the initial positions when ``positions_init`` is None.
    positions_init : ndarray of shape (n_walkers,), default=None
        Initial sample indices; default: systematic sampling of the
        empirical (uniform) measure.
    lifetime : int, default=None
        Calls of :meth:`step` after which all walkers are reborn from
        ``pi``; None: never (see ``walker_lifetime`` of :func:`coupled_flow`).
    """

    def __init__(self, Z, P, pi, n_walkers, rng, positions_init=None, lifetime=None):
        n = Z.shape[0]
        self.Z, self.P, self.pi = Z, P, pi
        self.n_walkers, self.lifetime, self.updates = n_walkers, lifetime, 0
        if positions_init is None:
            self.rho = np.full(n, 1.0 / n)
            self.positions = systematic_positions(self.rho, n_walkers, rng)
        else:
            self.positions = np.array(positions_init, dtype=np.intp)
            self.rho = np.bincount(self.positions, minlength=n) / self.positions.shape[0]
        self.PT = P.T  # a CSC view of P: no transposed copy
        self.sampler = row_sampler(P)
        self.kl_live = kl_divergence(self.rho, pi) > 0.0

    def step(self, walk_steps, rng):
        """Move every walker ``walk_steps`` times; return their coordinates.

        Every ``lifetime`` calls the walkers are first reborn on samples
        drawn from ``pi`` (systematic sampling).

        Parameters
        ----------
        walk_steps : int
        rng : numpy.random.Generator

        Returns
        -------
        batch : ndarray of shape (n_walkers, n_features)
        """
        if self.lifetime and self.updates and self.updates % self.lifetime == 0:
            self.positions = systematic_positions(self.pi, self.n_walkers, rng)
            # A reborn walker is distributed as pi exactly.
            self.rho, self.kl_live = self.pi.copy(), False
        self.updates += 1
        for _ in range(walk_steps):
            self.positions = step_walkers(self.positions, self.sampler, rng)
            if self.kl_live:
                self.rho = self.PT @ self.rho
        return self.Z[self.positions]

    def divergence(self):
        """``KL(rho_t || pi)`` of one walker's exact law (0 once negligible)."""
        if not self.kl_live:
            return 0.0
        kl = kl_divergence(self.rho, self.pi)
        if kl < 1e-14:
            self.kl_live = False
        return kl

    @property
    def state(self):
        """Sample index of every walker, shape (n_walkers,)."""
        return self.positions


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


def _captured_variance(Z, pi, W):
    """``tr(P_W C_pi)`` for ``C_pi = Z^T diag(pi) Z``, in O(n d k)."""
    return float(np.trace(projected_moment(Z, pi, orthonormalize(W))))


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
    Z : ndarray of shape (n_samples, n_features)
        Tangent coordinates of the samples, scaled so that the top eigenvalue
        of ``C_pi`` is about 1.
    P : scipy.sparse.csr_array of shape (n_samples, n_samples)
        Transition matrix of the walk (from
        :func:`~slowfast_sklearn._spatial.metropolis_transition`).
    pi : ndarray of shape (n_samples,)
        Stationary law of ``P``.
    n_components : int
        Number of units (columns of ``W``).
    rule : {"sanger", "oja", "hebbian", "trace"}, default="sanger"
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
        The walkers, with ``step(walk_steps, rng)`` returning the batch of
        their coordinates, ``divergence()`` (first Lyapunov term) and
        ``state``; ``None`` builds :class:`GraphWalkers` on ``Z``, ``P``
        (``n_walkers`` and ``positions_init`` are then used).  ``Z`` and
        ``pi`` still define ``C_pi`` of the third Lyapunov term.
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
    n, d = Z.shape
    k = n_components
    if step_guard is None:
        step_guard = rule != "hebbian"
    if min_steps is None:
        min_steps = max_iter // 5
    if weights_init is None:
        W = rng.standard_normal((d, k)) / np.sqrt(d)
    else:
        W = np.array(weights_init, dtype=np.float64)
    if fast_process is None:
        fast_process = GraphWalkers(Z, P, pi, n_walkers, rng, positions_init, walker_lifetime)
    offset = float(np.sum(top_eigenvalues)) if top_eigenvalues is not None else 0.0

    stride = max(1, max_iter // MAX_SNAPSHOTS)
    snapshots, snapshot_steps = [], []
    logs, log_steps, splits = [], [], []
    halves = None
    streak = 0
    converged = diverged = False
    t = 0

    def log(step):
        kl = fast_process.divergence()
        E = W.T @ W - np.eye(k)
        gap = offset - _captured_variance(Z, pi, W)
        logs.append((kl, float(np.sum(E * E)), gap))
        log_steps.append(step)

    log(0)
    splits.append(np.nan)
    while t < max_iter:
        batch = fast_process.step(walk_steps, rng)
        with np.errstate(over="ignore", invalid="ignore"):
            W_new = hebbian_step(W, batch, learning_rate, rule, step_guard)
        if not np.abs(W_new).max() < DIVERGENCE_NORM:
            # Keep the last finite weights: they carry the direction taken.
            diverged = True
            break
        W = W_new
        t += 1
        if t % stride == 0:
            snapshots.append(orthonormalize(W))
            snapshot_steps.append(t)
        if t % CHECK_EVERY and t != max_iter:
            continue
        log(t)
        split = _split_half(snapshots, snapshot_steps, t, k, halves)
        if split is None:
            splits.append(np.nan)
        else:
            angle, halves = split
            splits.append(angle)
            streak = streak + 1 if angle < tol else 0
        if verbose:
            _report(t, "split angle", splits[-1], logs[-1])
        converged = streak >= 3 and t >= min_steps
        if checkpoint is not None and checkpoint(t, converged or t >= max_iter):
            break
        if converged:
            break

    window = [Q for Q, s in zip(snapshots, snapshot_steps) if s > t // 2]
    if diverged or len(window) < 2:
        subspace = orthonormalize(W)
    else:
        subspace = averaged_subspace(window, k)
    return FlowResult(
        weights=W,
        subspace=subspace,
        n_iter=t,
        converged=converged,
        diverged=diverged,
        lyapunov=np.asarray(logs, dtype=np.float64),
        lyapunov_steps=np.asarray(log_steps),
        split_angle=np.asarray(splits, dtype=np.float64),
        positions=fast_process.state,
    )


def _split_half(snapshots, snapshot_steps, t, k, previous):
    """Angle between the averaged subspaces of the two halves of ``(t/2, t]``."""
    steps = np.asarray(snapshot_steps)
    first = [Q for Q, s in zip(snapshots, steps) if t // 2 < s <= 3 * t // 4]
    second = [Q for Q, s in zip(snapshots, steps) if s > 3 * t // 4]
    if len(first) < 2 or len(second) < 2:
        return None
    if previous is None:
        A, B = averaged_subspace(first, k), averaged_subspace(second, k)
    else:
        A = averaged_subspace(first, k, start=previous[0], n_power=3)
        B = averaged_subspace(second, k, start=previous[1], n_power=3)
    return float(np.max(subspace_angles(A, B))), (A, B)


def mean_field_flow(
    Z,
    P,
    pi,
    *,
    n_components,
    rule="sanger",
    learning_rate=0.2,
    max_iter=5000,
    tol=1e-6,
    rng,
    weights_init=None,
    rho_init=None,
    step_guard=None,
    top_eigenvalues=None,
    verbose=0,
    checkpoint=None,
):
    """The coupled flow in its mean-field limit: the walkers' exact law.

    Instead of sampling walkers, propagate their law ``rho_{t+1} = P^T
    rho_t`` (one sparse mat-vec) and drive the weights with the second moment
    under that law, ``C_rho W = Z^T (rho * (Z W))`` (the infinitely many
    walkers limit; ``theory.md`` section 4, ``mean_field=True``).  The run is
    deterministic given the initial weights, and the three Lyapunov terms are
    logged as in :func:`coupled_flow`.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_features)
        Tangent coordinates, scaled so that ``lambda_1(C_pi)`` is about 1.
    P : scipy.sparse.csr_array of shape (n_samples, n_samples)
        Transition matrix of the walk.
    pi : ndarray of shape (n_samples,)
        Its stationary law.
    n_components : int
        Number of units (columns of ``W``).
    rule : {"sanger", "oja", "hebbian", "trace"}, default="sanger"
    learning_rate : float, default=0.2
        Constant step size ``eta`` (in units where ``lambda_1 = 1``).
    max_iter : int, default=5000
        Most weight updates.
    tol : float, default=1e-6
        Stop when the largest principal angle between the weights' spans at
        successive checkpoints is below ``tol`` three times in a row.
    rng : numpy.random.Generator
        Draws the initial weights when ``weights_init`` is None.
    weights_init : ndarray of shape (n_features, n_components), default=None
        Initial weights; as in :func:`coupled_flow` if None.
    rho_init : ndarray of shape (n_samples,), default=None
        Initial law of the walkers; uniform (the empirical measure) if None.
    step_guard : bool, default=None
        As in :func:`coupled_flow`.
    top_eigenvalues : ndarray of shape (n_components,), default=None
        As in :func:`coupled_flow`.
    verbose : int, default=0
        Print one line per checkpoint when positive.
    checkpoint : callable, default=None
        As in :func:`coupled_flow`.

    Returns
    -------
    result : FlowResult
        ``subspace`` is the retracted final weights; ``positions`` is None
        and ``split_angle`` holds the checkpoint-to-checkpoint angle.
    """
    n, d = Z.shape
    k = n_components
    if step_guard is None:
        step_guard = rule != "hebbian"
    W = rng.standard_normal((d, k)) / np.sqrt(d) if weights_init is None else np.array(weights_init, dtype=np.float64)
    rho = np.full(n, 1.0 / n) if rho_init is None else np.asarray(rho_init, dtype=np.float64)
    PT = P.T  # a CSC view of P: no transposed copy
    offset = float(np.sum(top_eigenvalues)) if top_eigenvalues is not None else 0.0
    logs, log_steps, changes = [], [], []
    previous = orthonormalize(W)
    streak, t = 0, 0
    converged = diverged = False

    def log(step):
        E = W.T @ W - np.eye(k)
        logs.append((kl_divergence(rho, pi), float(np.sum(E * E)), offset - _captured_variance(Z, pi, W)))
        log_steps.append(step)

    log(0)
    changes.append(np.nan)
    while t < max_iter:
        rho = PT @ rho
        Y = Z @ W
        CW = Z.T @ (Y * rho[:, None])
        A = Y.T @ (Y * rho[:, None])
        with np.errstate(over="ignore", invalid="ignore"):
            W_new = hebbian_update(W, CW, A, learning_rate, rule, step_guard)
        if not np.abs(W_new).max() < DIVERGENCE_NORM:
            diverged = True
            break
        W = W_new
        t += 1
        if t % CHECK_EVERY and t != max_iter:
            continue
        log(t)
        current = orthonormalize(W)
        change = float(np.max(subspace_angles(current, previous)))
        previous = current
        changes.append(change)
        streak = streak + 1 if change < tol else 0
        if verbose:
            _report(t, "change", change, logs[-1])
        converged = streak >= 3
        if checkpoint is not None and checkpoint(t, converged or t >= max_iter):
            break
        if converged:
            break
    return FlowResult(
        weights=W,
        subspace=orthonormalize(W),
        n_iter=t,
        converged=converged,
        diverged=diverged,
        lyapunov=np.asarray(logs, dtype=np.float64),
        lyapunov_steps=np.asarray(log_steps),
        split_angle=np.asarray(changes, dtype=np.float64),
        positions=None,
    )


def _report(step, label, angle, terms):
    """One verbose line per checkpoint: the stopping statistic and the Lyapunov terms."""
    kl, orth, gap = terms
    print(
        f"[CoupledFlowEmbedding] step {step:6d}  {label} {angle:.2e} rad"
        f"  KL {kl:.3e}  orth {orth:.3e}  subspace gap {gap:.3e}"
    )
