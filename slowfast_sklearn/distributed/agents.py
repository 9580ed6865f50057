"""Decentralised agents: each row chunk learns with its own walkers, and they agree by consensus.

The default solver (``solver="variance_reduced"``) run as the paper's
system of agents.  An :class:`Agent` holds one row chunk, its own
neighbour graph, the walkers on it and its copy of the Hebbian weights; it
never shows a row to anyone.  What the agents exchange are ``units x d`` and
``k x d`` matrices, in consensus rounds, two per life of the walkers:

1. *anchor*: every agent multiplies the shared weights ``V`` by its local
   second moment, weighted by its share ``s_a`` of the pooled measure
   (``s_a C_a V``); the consensus sums them into the global anchor
   ``C_pi V``.  Each agent then does the Rayleigh-Ritz rotation, the
   stopping statistics (the captured-variance deficit and the Davis-Kahan
   angle bound) and the anchored update itself, from the same numbers, so
   that they agree without being told;
2. *weights*: every agent runs the life's remaining ``walker_lifetime - 1``
   updates with its own walkers (reborn from its local measure), driven by
   ``C_t,a (W - V) + C_pi V`` (its walkers' batch moment in the
   variance-reduced correction, the global anchor in the rest), aligns its
   weights to the life's common start (orthogonal Procrustes) and sends
   them weighted by its share; the consensus averages them.

With an exact all-reduce (:class:`AllReduce`) every agent holds the same
weights, and the anchors, hence the stopping statistics, are those of the
pooled measure exactly.  :class:`Gossip` mixes on a ring of agents instead
(ratio consensus with Metropolis weights, a given number of exchanges per
round): the agents' weights then differ by the consensus error.  The
arithmetic is the variance-reduced solver's
(:mod:`~slowfast_sklearn.solvers.variance_reduced`); nothing here knows how
the agents are reached: :class:`InProcess` calls a list of local objects
(the simulated scaling study), :mod:`~slowfast_sklearn.distributed._dask`
calls the same class as dask actors on the workers that hold the chunks.
"""

import contextlib
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from .._hebbian import hebbian_direction, orthonormalize
from .._moments import second_moment
from .._prepare import LAZINESS, ON_DEMAND_BYTES
from .._rows import CentredRows
from .._threads import one_blas_thread
from ..fast.graph import GraphWalkers, kernel_graph, metropolis_transition, stationary_law
from ..geometry import resolve_geometry
from ..solvers._base import FlowResult, run_checkpoints
from ..solvers.variance_reduced import (
    anchor_record,
    batch_product,
    leading_update,
    ritz_rotation,
    unit_steps,
)
from ._heap import heap_allocations
from .summary import summarise

__all__ = ["Agent", "AllReduce", "AnchorReport", "AnchoredWeights", "Gossip", "InProcess",
           "consensus_flow", "procrustes"]


def procrustes(W, reference):
    """``W Q`` for the orthogonal ``Q`` that brings ``W`` closest to ``reference``.

    Orthogonal Procrustes (Schonemann 1966): ``Q = U V^T`` from the SVD
    ``W^T reference = U S V^T``.  It changes the basis, not the span, and
    undoes sign flips and rotations within it before bases are averaged.

    Parameters
    ----------
    W : ndarray of shape (d, k)
        The basis to align.
    reference : ndarray of shape (d, k)
        The basis to align it to.

    Returns
    -------
    aligned : ndarray of shape (d, k)
        ``W Q``: the same span as ``W``.
    """
    U, _, Vt = linalg.svd(W.T @ reference)
    return W @ (U @ Vt)


def _canonical_signs(V, G):
    """Flip each Ritz pair so that its largest-magnitude entry is positive
    (a choice every agent makes alike from nearly equal vectors)."""
    top = V[np.abs(V).argmax(axis=0), np.arange(V.shape[1])]
    signs = np.where(top < 0, -1.0, 1.0)
    return V * signs, G * signs


@dataclass
class AnchorReport:
    """What an agent reports of an anchor: a few numbers (control, not data).

    Attributes
    ----------
    deficit, angle : float
        Captured-variance deficit and the Davis-Kahan angle bound (rad).
    done : bool
        Both within the stopping rule.
    log : tuple of float
        The Lyapunov terms: 0 (reborn walkers follow ``pi``), the
        orthogonality defect and the subspace gap.
    """

    deficit: float
    angle: float
    done: bool
    log: tuple


class AnchoredWeights:
    """One agent's variance-reduced weights (the same on every agent under an all-reduce).

    Parameters
    ----------
    V : ndarray of shape (dim, units)
        Orthonormal starting block, shared by all agents.
    eigenvalues : ndarray of shape (k + 1,) or (k,)
        Top eigenvalues of the pooled ``C_pi`` (dynamics' units).
    k : int
    rule : {"sanger", "oja"}
    learning_rate : float
        Step of the walkers' updates, in units of each unit's variance.
    tol : float
    """

    def __init__(self, V, eigenvalues, *, k, rule, learning_rate, tol):
        self.V = self.W = self.start = np.asarray(V, dtype=np.float64)
        self.eigenvalues, self.k, self.rule = eigenvalues, k, rule
        self.rate, self.tol, self.last_deficit = learning_rate, tol, np.inf

    def anchor(self, G):
        """Ritz rotation, statistics and the anchored update from ``G = C_pi V``.

        Parameters
        ----------
        G : ndarray of shape (dim, units)

        Returns
        -------
        report : AnchorReport
        """
        k = self.k
        V, G, theta = ritz_rotation(self.V, G)
        self.V, self.G = _canonical_signs(V, G)
        deficit, angle, terms = anchor_record(self.V, self.G, theta, self.eigenvalues, k)
        if deficit > self.last_deficit:
            self.rate *= 0.5  # the walkers' step overshot (a noisy batch)
        self.last_deficit = deficit
        self.steps, self.walker_steps = unit_steps(theta, k)
        # The life's first update, anchored at the reborn walkers' expected batch.
        self.W = self.start = orthonormalize(
            self.V + hebbian_direction(self.V, self.G, self.rule) * self.steps)
        done = bool(deficit <= self.tol and angle <= np.sqrt(self.tol))
        return AnchorReport(deficit, angle, done, terms)

    def delta(self):
        """``W - V`` on the leading units: what the walkers' batch multiplies."""
        return self.W[:, :self.k] - self.V[:, :self.k]

    def walker_update(self, CW):
        """One walkers' update of the leading units from ``C W`` (estimated)."""
        self.W = leading_update(self.W, CW, self.rule, self.rate * self.walker_steps, self.k)

    def aligned(self):
        """The leading units aligned to the life's common start (Procrustes)."""
        return procrustes(self.W[:, :self.k], self.start[:, :self.k])

    def combine(self, W_bar):
        """The next anchor's block: the averaged leading units and the extra ones."""
        self.V = orthonormalize(np.hstack([W_bar, self.start[:, self.k:]]))


class Agent:
    """One row chunk as a learner: its graph, its walkers, its weights.

    Parameters
    ----------
    X : ndarray of shape (n_a, n_features)
        The chunk's rows (flat data), read, never written or sent.
    temperature : float, default=1.0
    n_neighbors : int, default=15
        Clipped to ``n_a - 1``.
    seed : int or numpy.random.SeedSequence, default=0
        The agent's own generator (rebirths and moves of its walkers).
    walk_steps : int, default=1
    """

    def __init__(self, X, *, temperature=1.0, n_neighbors=15, seed=0, walk_steps=1):
        self.X, self.temperature, self.n_neighbors = X, temperature, n_neighbors
        self.rng, self.walk_steps = np.random.default_rng(seed), walk_steps
        self.rows = self.P = self.pi = self.state = self.walkers = self.moment = None
        self.share = 0.0

    def summary(self):
        """The chunk's count, mean and ranges (a :class:`~.summary.Summary`
        without moments: :meth:`prepare` takes them about the pooled mean)."""
        return summarise(self.X, moments=False)

    def prepare(self, base, active, exponent, share):
        """Coordinates about the shared base point, the local graph and measure.

        Parameters
        ----------
        base : ndarray of shape (n_features,)
            The pooled base point (mean).
        active : ndarray of bool of shape (n_features,)
            The pooled varying features.
        exponent : int
            The pooled exact scale: coordinates ``(x - base) * 2**-exponent``.
        share : float
            The chunk's share of the pooled measure (its share of samples).

        Returns
        -------
        C, first : ndarray of shape (n_active, n_active), (n_active,)
            ``share`` times the local second and first moments under the
            local measure (their sum over agents is the pooled one).
        sq_mass : float
            ``share**2 sum_i pi_i**2`` (for the effective sample size).
        """
        X, n = self.X, self.X.shape[0]
        self.base, self.active, self.exponent, self.share = base, active, exponent, share
        with _working():
            Z = np.subtract(X, base, dtype=np.float64, order="C")
            Z = Z if active.all() else np.ascontiguousarray(Z[:, active])
            np.ldexp(Z, -exponent, out=Z)
            neighbours = resolve_geometry("euclidean", X.shape[1]).kneighbors(
                X, Z, min(self.n_neighbors, n - 1))
            graph, _ = kernel_graph(*neighbours, n)
            del neighbours
            self.P, degree = metropolis_transition(graph, 1.0 / self.temperature, LAZINESS)
            self.pi = stationary_law(degree, 1.0 / self.temperature)
            C, first = second_moment(Z, 0.0, weights=self.pi, first=True)
        # Large chunks read their rows off X (as an in-memory fit does).
        self.rows = Z if Z.nbytes <= ON_DEMAND_BYTES else None
        # The local measure is fixed: its moment gives every anchor's C_a V
        # (d x d x units flops, not 2 n x d x units over the rows).
        self.moment = C
        return share * C, share * first, share**2 * float(self.pi @ self.pi)

    def start(self, scale, V, eigenvalues, k, rule, learning_rate, tol, n_walkers):
        """Scale the coordinates to the dynamics' units and place the walkers.

        Parameters
        ----------
        scale : float
            ``1 / sqrt(lambda_1)`` of the pooled moment.
        V : ndarray of shape (n_active, units)
            The shared starting block.
        eigenvalues : ndarray
            Top eigenvalues of the pooled moment over ``lambda_1``.
        k, rule, learning_rate, tol
            As :class:`AnchoredWeights`.
        n_walkers : int
            The agent's walkers.
        """
        if self.rows is None:
            self.rows = CentredRows(self.X, self.base, self.active,
                                    np.ldexp(scale, -self.exponent))
        else:
            self.rows *= scale
        self.moment = self.moment * scale**2
        self.walkers = GraphWalkers(self.rows, self.P, self.pi, n_walkers)
        self.state = AnchoredWeights(V, eigenvalues, k=k, rule=rule,
                                     learning_rate=learning_rate, tol=tol)

    def product(self, W_bar=None):
        """``s_a C_a V``: this agent's part of the anchor (after taking the
        averaged weights, when given)."""
        if W_bar is not None:
            self.state.combine(W_bar)
        with _working():
            return self.share * (self.moment @ self.state.V)

    def anchor(self, G):
        """Take the global anchor ``G = C_pi V``; see :meth:`AnchoredWeights.anchor`."""
        with _working():
            return self.state.anchor(G)

    def live(self, updates):
        """The rest of a life: rebirth from the local measure, ``updates`` walkers' updates.

        Returns
        -------
        weights : ndarray of shape (n_active, k)
            ``s_a`` times the aligned leading units.
        """
        state, rows = self.state, self.rows
        self.walkers.reborn(self.rng)
        with _working():
            for _ in range(updates):
                positions = self.walkers.move(self.walk_steps, self.rng)
                state.walker_update(batch_product(rows, positions, state.delta())
                                    + state.G[:, :state.k])
            return self.share * state.aligned()

    def subspace(self):
        """The leading units at the last anchor (Ritz vectors)."""
        return self.state.V[:, :self.state.k]

    def measure(self):
        """``s_a pi_a``: the chunk's part of the pooled spatial measure."""
        return self.share * self.pi


@contextlib.contextmanager
def _working():
    """An agent's call: BLAS on one thread (agents share the cores), and
    temporaries from the heap inside a dask worker (see :mod:`._heap`)."""
    with heap_allocations(), one_blas_thread():
        yield


class InProcess:
    """The agents as a list of local objects (the simulated study; no cluster).

    Parameters
    ----------
    agents : list of Agent
    """

    def __init__(self, agents):
        self.agents = list(agents)

    @property
    def n_agents(self):
        """Number of agents."""
        return len(self.agents)

    def call(self, method, args):
        """``method(*args[a])`` on every agent ``a``; their results in order."""
        return [getattr(agent, method)(*a) for agent, a in zip(self.agents, args)]

    def first(self, method):
        """``method()`` on the first agent only."""
        return getattr(self.agents[0], method)()


class AllReduce:
    """Exact consensus: every agent gets the sum of all agents' (share-weighted) matrices.

    Counted as a star through one reducer: each agent uploads its matrix and
    downloads the result, ``2 * n_agents`` matrices per round.

    Parameters
    ----------
    n_agents : int
    """

    name = "complete"

    def __init__(self, n_agents):
        self.n_agents, self.rounds, self.bytes = n_agents, 0, 0

    def __call__(self, matrices):
        total = np.array(matrices[0], dtype=np.float64)
        for M in matrices[1:]:
            total += M
        self.rounds += 1
        self.bytes += 2 * self.n_agents * total.nbytes
        return [total] * self.n_agents


class Gossip:
    """Ratio consensus on a ring of agents, ``steps`` neighbour exchanges per round.

    Each exchange every agent sends its current matrix to its two
    neighbours and keeps the Metropolis average (a third each, a half for
    two agents); the masses go along, and each agent's estimate is its
    matrix over its mass (push-sum), which tends to the share-weighted mean.

    Parameters
    ----------
    shares : ndarray of shape (n_agents,)
    steps : int
        Exchanges per consensus round.
    """

    name = "ring"

    def __init__(self, shares, steps):
        n = len(shares)
        self.shares, self.steps, self.n_agents = np.asarray(shares, float), steps, n
        M = np.eye(n)
        if n == 2:
            M = np.full((2, 2), 0.5)
        elif n > 2:
            M = np.zeros((n, n))
            for a in range(n):
                M[a, a] = M[a, (a + 1) % n] = M[a, (a - 1) % n] = 1.0 / 3.0
        self.mixing = M
        self.edges = int(np.count_nonzero(M) - n)  # directed links
        self.rounds, self.bytes = 0, 0

    def __call__(self, matrices):
        Y, mass = np.stack(matrices), self.shares.copy()
        for _ in range(self.steps):
            Y = np.tensordot(self.mixing, Y, axes=1)
            mass = self.mixing @ mass
        self.rounds += 1
        self.bytes += self.steps * self.edges * matrices[0].nbytes
        return list(Y / mass[:, None, None])


class _Rounds:
    """The consensus rounds on the shared checkpoint loop: one check per life."""

    def __init__(self, transport, mix, lifetime):
        self.transport, self.mix, self.lifetime = transport, mix, lifetime
        self.pending, self.logs, self.log_steps, self.deficits, self.angles = 0, [], [], [], []
        self.done = self.anchor_round([None] * transport.n_agents, 0)

    def anchor_round(self, W_bars, t):
        call = self.transport.call
        G = self.mix(call("product", [(w,) for w in W_bars]))
        reports = call("anchor", [(g,) for g in G])
        self.logs.append(reports[0].log)
        self.log_steps.append(t)
        self.deficits.append(max(r.deficit for r in reports))
        self.angles.append(max(r.angle for r in reports))
        return all(r.done for r in reports)

    def step(self, t):
        # Updates are counted here and run a life at a time, on the agents.
        if t % self.lifetime:
            self.pending += 1
        return True

    def check(self, t):
        W_bars = [None] * self.transport.n_agents
        if self.pending:
            W_bars = self.mix(self.transport.call("live", [(self.pending,)] * len(W_bars)))
            self.pending = 0
        self.done = self.anchor_round(W_bars, t)
        return self.done

    def report(self, t):
        kl, orth, gap = self.logs[-1]
        return (
            f"[CoupledFlowEmbedding] update {t:5d}  deficit {self.deficits[-1]:.2e}"
            f"  angle bound {self.angles[-1]:.2e} rad  consensus rounds {self.mix.rounds}"
            f"  bytes {self.mix.bytes}  orth {orth:.3e}  subspace gap {gap:.3e}"
        )


def consensus_flow(transport, mix, *, lifetime=2, max_iter=3000, verbose=0, checkpoint=None):
    """Run the agents' variance-reduced flow to the stopping rule.

    The agents must have been started (:meth:`Agent.start`).

    Parameters
    ----------
    transport : InProcess or an object with the same ``call``, ``first`` and ``n_agents``
        How the agents are reached (a list in this process, dask actors).
    mix : AllReduce or Gossip
        The consensus; it counts its rounds and bytes.
    lifetime : int, default=2
        Weight updates per life: one anchored, ``lifetime - 1`` by the
        walkers between two consensus rounds.
    max_iter : int, default=3000
        Most weight updates.
    verbose : int, default=0
        Print a line per anchor (deficit, angle bound, traffic) when positive.
    checkpoint : callable, default=None
        ``checkpoint(update, last) -> bool`` at every anchor.

    Returns
    -------
    result : FlowResult
        ``subspace`` is the first agent's (all agree under an all-reduce);
        ``statistic`` the largest deficit over the agents at each anchor.
    """
    rounds = _Rounds(transport, mix, lifetime)
    t, converged = 1, rounds.done
    if converged:
        if verbose:
            print(rounds.report(1))
        if checkpoint is not None:
            checkpoint(1, True)
    else:
        t, converged, _ = run_checkpoints(
            rounds.step, rounds.check, max_iter=max_iter, check_every=lifetime,
            checkpoint=checkpoint, report=rounds.report if verbose else None,
        )
    U = transport.first("subspace")
    return FlowResult(
        weights=U, subspace=U, n_iter=max(t, 1), converged=converged, diverged=False,
        lyapunov=np.asarray(rounds.logs, dtype=np.float64),
        lyapunov_steps=np.asarray(rounds.log_steps),
        statistic=np.asarray(rounds.deficits, dtype=np.float64), positions=None,
        angle=rounds.angles[-1],
    )
