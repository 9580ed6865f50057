"""The graph walk (``kernel="graph"``): a Metropolised kernel random walk on the samples.

Kernel A of the design (``theory.md`` section 2).  Walkers hop between
training samples along a symmetrised k-nearest-neighbour graph with Gaussian
edge weights ``K_ij = exp(-D_ij**2 / eps)``.  A Metropolis correction makes
the law ``pi_i ~ deg_i**(beta - 1)`` *exactly* stationary, where ``deg_i`` is
the kernel degree (a density estimate) and ``beta = 1 / temperature``.  As the
graph refines, the walk converges to the overdamped Langevin diffusion
``dX = grad log q dt + sqrt(2 / beta) dB`` whose stationary measure is
``q**beta`` (Coifman & Lafon 2006; Ting, Huang & Jordan 2010).

Every function here is a plain function of arrays (and a
:class:`numpy.random.Generator`); nothing is n_samples x n_samples dense.
:class:`GraphWalkers` moves walkers by the chain (the walker protocol of
:mod:`~slowfast_sklearn.fast`), and :class:`GraphProcess` is this process's
entry in the registry of fast processes.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = [
    "GraphProcess",
    "GraphWalkers",
    "kernel_graph",
    "metropolis_transition",
    "stationary_law",
    "RowSampler",
    "systematic_positions",
    "row_sampler",
    "step_walkers",
    "kl_divergence",
    "relaxation_time",
]


def kernel_graph(distances, indices, n_samples):
    """Symmetrised Gaussian kernel on a k-nearest-neighbour graph.

    Parameters
    ----------
    distances : ndarray of shape (n_samples, n_neighbors)
        Distances from each sample to its neighbours (self excluded), sorted
        in increasing order along each row.
    indices : ndarray of shape (n_samples, n_neighbors)
        Indices of those neighbours, never the sample itself.
    n_samples : int
        Number of samples (nodes of the graph).

    Returns
    -------
    K : scipy.sparse.csr_array of shape (n_samples, n_samples)
        Symmetric kernel ``exp(-D**2 / eps)`` on the union of the kNN edges,
        zero diagonal.
    bandwidth : float
        ``eps``: the median over samples of the squared distance to the last
        (farthest) neighbour, the design's default bandwidth.  Falls back to
        the mean positive squared distance when more than half of the samples
        have duplicates as their farthest neighbour.
    """
    sq = np.square(distances, dtype=np.float64)
    n_neighbors = sq.shape[1]
    eps = float(np.median(sq[:, -1]))
    if not eps > 0.0:
        positive = sq[sq > 0]
        # Only identical points: any positive width gives the same (uniform) kernel.
        eps = float(positive.mean()) if positive.size else 1.0
    np.divide(sq, -eps, out=sq)
    weights = np.exp(sq, out=sq).ravel()
    del sq
    # 32-bit indices and no COO detour: the graph of a large data set is
    # the biggest object fit builds (issue 4's memory bound).  ``indices``
    # is used as is (unsorted rows take scipy's general merge) so that no
    # copy of it is made and the caller's array is left untouched.
    # P will hold the union (at most 2 n k edges) plus n diagonal entries.
    index = np.int32 if 2 * weights.size + n_samples < 2**31 else np.int64
    A = sp.csr_array(
        (weights, np.asarray(indices, dtype=index).reshape(-1),
         np.arange(0, weights.size + 1, n_neighbors, dtype=index)),
        shape=(n_samples, n_samples),
    )
    del weights
    # Union of directed kNN edges; both directions carry the same weight.
    # The kNN lists exclude each sample itself, so the diagonal stays empty.
    K = A.maximum(A.T.tocsr())
    del A
    K.eliminate_zeros()
    K.sort_indices()
    # scipy sized K for the worst case (no mutual edges): trim to its nnz.
    return sp.csr_array((K.data[: K.nnz].copy(), K.indices[: K.nnz].copy(), K.indptr),
                        shape=K.shape), eps


def metropolis_transition(K, beta=1.0, laziness=0.1):
    """Metropolis-corrected transition matrix of the kernel graph walk.

    The proposal is ``Q_ij = K_ij / deg_i``; a move is accepted with
    probability ``min(1, (deg_j / deg_i)**(beta - 2))`` and rejected mass
    stays on the diagonal.  With ``pi_i ~ deg_i**(beta - 1)`` detailed balance
    holds exactly because ``pi_i Q_ij a_ij = K_ij min(deg_i, deg_j)**(beta-2)``
    is symmetric (``theory.md`` section 2, kernel A).

    Parameters
    ----------
    K : scipy.sparse.csr_array of shape (n_samples, n_samples)
        Symmetric non-negative kernel with zero diagonal.
    beta : float, default=1.0
        Inverse temperature of the target law ``q**beta``.
    laziness : float, default=0.1
        Probability of staying put at each step, in ``[0, 1)``; it makes the
        chain aperiodic.

    Returns
    -------
    P : scipy.sparse.csr_array of shape (n_samples, n_samples)
        Row-stochastic transition matrix with sorted indices and an explicit
        diagonal entry on every row.
    degree : ndarray of shape (n_samples,)
        Kernel degrees ``deg_i = sum_j K_ij``.
    """
    K = sp.csr_array(K)
    if not K.has_sorted_indices:
        K = K.sorted_indices()
    if np.any(_diagonal_slots(K) >= 0):
        # Stored self-loops (zero or not) would collide with P's diagonal.
        K = K.copy()
        K.setdiag(0.0)
        K.eliminate_zeros()
    n = K.shape[0]
    degree = np.asarray(K.sum(axis=1)).ravel()
    # An isolated sample (no neighbour with positive weight) only holds still.
    safe_degree = np.where(degree > 0, degree, 1.0)
    log_deg = np.log(safe_degree)
    counts = np.diff(K.indptr)
    # One edge-sized array, filled row chunk by row chunk (per-row values
    # expanded with np.repeat over a chunk only): memory (issue 4).  Divide
    # before multiplying, so that a representable move never underflows.
    moves = np.empty(K.nnz)
    for rows, entries in _row_chunks(K.indptr):
        accept = log_deg[K.indices[entries]]
        accept -= np.repeat(log_deg[rows], counts[rows])
        accept *= beta - 2.0
        np.minimum(accept, 0.0, out=accept)
        np.exp(accept, out=accept)
        block = K.data[entries] / np.repeat(safe_degree[rows], counts[rows])
        block *= accept
        moves[entries] = block
    # Row sums in index order, as a sequential sum over each row.
    stay = 1.0 - sp.csr_array((moves, K.indices, K.indptr), shape=(n, n)) @ np.ones(n)
    diag = laziness + (1.0 - laziness) * np.clip(stay, 0.0, 1.0)
    moves *= 1.0 - laziness
    # Insert each row's diagonal entry at its sorted place: a mask over the
    # new slots instead of a sparse sum (which would hold both operands).
    slot = _insertion_slots(K) + np.arange(n)
    on_diagonal = np.zeros(K.nnz + n, dtype=bool)
    on_diagonal[slot] = True
    data = np.empty(K.nnz + n)
    data[slot] = diag
    data[~on_diagonal] = moves
    del moves
    indices = np.empty(K.nnz + n, dtype=K.indices.dtype)
    indices[slot] = np.arange(n)
    indices[~on_diagonal] = K.indices
    indptr = K.indptr + np.arange(n + 1, dtype=K.indptr.dtype)
    P = sp.csr_array((data, indices, indptr), shape=(n, n))
    P.has_sorted_indices = True
    return P, degree


def stationary_law(degree, beta=1.0):
    """Exact stationary law ``pi_i ~ deg_i**(beta - 1)`` of the Metropolised walk.

    Parameters
    ----------
    degree : ndarray of shape (n_samples,)
        Kernel degrees from :func:`metropolis_transition`.
    beta : float, default=1.0
        Inverse temperature.

    Returns
    -------
    pi : ndarray of shape (n_samples,)
        Positive probability vector; uniform when ``beta == 1``.
    """
    degree = np.asarray(degree, dtype=np.float64)
    safe = np.where(degree > 0, degree, 1.0)
    log_w = (beta - 1.0) * np.log(safe)
    # Floored at the smallest normal float: a weight that underflows (a
    # sample of tiny degree at low temperature) stays positive, so the law
    # keeps the chain's support and KL(rho || pi) stays finite.
    w = np.maximum(np.exp(log_w - log_w.max()), np.finfo(np.float64).tiny)
    return w / w.sum()


@dataclass(frozen=True)
class RowSampler:
    """Tables that let :func:`step_walkers` draw from the rows of ``P`` in O(1).

    Attributes
    ----------
    stay : ndarray of shape (n_samples,)
        ``P_ii``, the probability of holding still (1 on rows with no
        positive move).
    start, length : ndarray of shape (n_samples,)
        Where row ``i``'s positive off-diagonal entries begin in ``targets``
        and how many there are.
    targets : ndarray of shape (nnz_off,)
        Column index of each positive off-diagonal entry.
    ratio : ndarray of shape (nnz_off,)
        Each such entry over its row's largest one, in ``(0, 1]``: the
        acceptance probability of the rejection step.
    """

    stay: np.ndarray
    start: np.ndarray
    length: np.ndarray
    targets: np.ndarray
    ratio: np.ndarray


#: Proposals drawn per walker and round of the rejection sampler: fewer
#: rounds of small numpy calls (the cost of a step, not the arithmetic).
PROPOSALS = 4


def _row_chunks(indptr, n_rows=2**12):
    """Consecutive row ranges of a CSR layout and the entries they hold.

    Yields
    ------
    rows, entries : slice
        ``n_rows`` rows at a time and the slice of ``data``/``indices``
        they occupy.
    """
    n = len(indptr) - 1
    for a in range(0, n, n_rows):
        b = min(a + n_rows, n)
        yield slice(a, b), slice(int(indptr[a]), int(indptr[b]))


def _insertion_slots(P):
    """Where each row's diagonal entry is, or would go, in ``P.data``.

    A lower-bound bisection for column ``i`` within row ``i``, run on all
    rows at once (``P`` has sorted indices): ``O(n log nnz_row)`` work and
    no edge-sized temporary.

    Returns
    -------
    slot : ndarray of shape (n_samples,)
        Index of the first entry of row ``i`` whose column is ``>= i``
        (``indptr[i + 1]`` if none).
    """
    rows = np.arange(P.shape[0])
    lo = P.indptr[:-1].astype(np.intp)
    hi = P.indptr[1:].astype(np.intp)
    last = max(P.nnz - 1, 0)
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo
        mid = (lo + hi) // 2
        right = open_ & (P.indices[np.minimum(mid, last)] < rows)
        lo = np.where(right, mid + 1, lo)
        hi = np.where(open_ & ~right, mid, hi)


def _diagonal_slots(P):
    """Index into ``P.data`` of each row's diagonal entry, -1 if not stored."""
    slot = _insertion_slots(P)
    found = slot < P.indptr[1:]
    found[found] = P.indices[slot[found]] == np.flatnonzero(found)
    return np.where(found, slot, -1)


def row_sampler(P):
    """Pre-compute the tables :func:`step_walkers` samples from.

    Built with masks and per-row reductions, never an edge-sized index
    array: on a large data set these tables and ``P`` are the biggest
    objects a fit holds (issue 4's memory bound).

    Parameters
    ----------
    P : scipy.sparse.csr_array of shape (n_samples, n_samples)
        Row-stochastic matrix.

    Returns
    -------
    sampler : RowSampler
        Per-row holding probabilities and slot ranges, and the positive
        off-diagonal entries' columns and acceptance ratios.
    """
    P = sp.csr_array(P)
    if not P.has_sorted_indices:
        P = P.sorted_indices()
    n = P.shape[0]
    slot = _diagonal_slots(P)
    on_diagonal = slot >= 0
    stay = np.zeros(n)
    stay[on_diagonal] = P.data[slot[on_diagonal]]
    # Stored zeros (moves whose Metropolis acceptance underflowed) are never
    # taken; a row without any positive move only holds still.
    off = P.data > 0
    off[slot[on_diagonal]] = False
    # Per row: stored entries minus the few dropped ones (diagonal, zeros).
    dropped = np.searchsorted(P.indptr, np.flatnonzero(~off), side="right") - 1
    length = np.diff(P.indptr) - np.bincount(dropped, minlength=n)
    targets, ratio = P.indices[off], P.data[off]
    del off
    start = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.intp)
    row_max = np.ones(n)
    moves = length > 0
    if moves.any():
        row_max[moves] = np.maximum.reduceat(ratio, start[moves])
    # Divided in row chunks: the per-entry divisor never exists whole.
    for rows, entries in _row_chunks(np.append(start, ratio.size)):
        ratio[entries] /= np.repeat(row_max[rows], length[rows])
    stay[length == 0] = 1.0
    return RowSampler(stay, start, length, targets, ratio)


def step_walkers(positions, sampler, rng):
    """Move every walker one step of the chain ``P``, all at once.

    A walker holds still with probability ``P_ii``; otherwise it proposes
    neighbour slots uniformly and keeps the first one accepted with
    probability ``P_ij / max_j P_ij`` (rejection sampling, von Neumann
    1951), so the move is distributed exactly as row ``i`` of ``P``.
    :data:`PROPOSALS` proposals per walker are tried in each vectorised
    round, and only walkers with none accepted go to the next round.  Every
    draw comes from ``rng``; the work is independent of the number of
    samples.

    Parameters
    ----------
    positions : ndarray of shape (n_walkers,)
        Current sample index of each walker.
    sampler : RowSampler
        Output of :func:`row_sampler` for ``P``.
    rng : numpy.random.Generator
        Source of the uniform draws.

    Returns
    -------
    positions : ndarray of shape (n_walkers,)
        New sample indices, drawn from the rows of ``P``.
    """
    new = positions.copy()
    moving = np.flatnonzero(rng.random(positions.shape[0]) >= sampler.stay[positions])
    start = sampler.start[positions[moving]]
    length = sampler.length[positions[moving]].astype(np.float64)
    while moving.size:
        slot = (rng.random((moving.size, PROPOSALS)) * length[:, None]).astype(np.intp)
        slot += start[:, None]
        keep = rng.random((moving.size, PROPOSALS)) < sampler.ratio[slot]
        first = keep.argmax(axis=1)
        done = keep[np.arange(moving.size), first]
        new[moving[done]] = sampler.targets[slot[done, first[done]]]
        again = ~done
        moving, start, length = moving[again], start[again], length[again]
    return new


def kl_divergence(rho, pi):
    """Kullback-Leibler divergence ``KL(rho || pi)`` of two laws on the samples.

    Parameters
    ----------
    rho, pi : ndarray of shape (n_samples,)
        Probability vectors; ``pi`` positive wherever ``rho`` is.

    Returns
    -------
    kl : float
        ``sum_i rho_i log(rho_i / pi_i)``, in nats, non-negative.
    """
    mask = rho > 0
    r = rho[mask]
    return max(float(np.sum(r * (np.log(r) - np.log(pi[mask])))), 0.0)


def relaxation_time(P, pi, max_steps=1e6):
    """Relaxation time ``1 / (1 - lambda_2)`` of a reversible chain, in steps.

    ``lambda_2`` is the second largest eigenvalue of ``P``, found by Lanczos
    on the symmetrised matrix ``D^(1/2) P D^(-1/2)`` (``D = diag(pi)``),
    which has the same spectrum because ``P`` is reversible with respect to
    ``pi``.  It sets how long walker noise stays correlated (Levin, Peres &
    Wilmer, *Markov Chains and Mixing Times*, ch. 12).

    Parameters
    ----------
    P : scipy.sparse.csr_array of shape (n_samples, n_samples)
        Transition matrix, reversible with respect to ``pi``.
    pi : ndarray of shape (n_samples,)
        Its stationary law.
    max_steps : float, default=1e6
        Cap returned when the chain is (numerically) reducible.

    Returns
    -------
    t_rel : float
        Relaxation time in steps of ``P``, at least 1.
    """
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    n = P.shape[0]
    if n < 3:
        return 1.0
    root = np.sqrt(pi)
    S = sp.diags_array(root) @ P @ sp.diags_array(1.0 / root)
    S = ((S + S.T) * 0.5).tocsr()
    try:
        values = eigsh(S, k=2, which="LA", tol=1e-4, return_eigenvectors=False,
                       v0=root, maxiter=max(1000, 10 * n))
    except ArpackNoConvergence as err:
        values = err.eigenvalues
        if len(values) < 2:
            return float(max_steps)
    lam2 = float(np.sort(values)[-2])
    gap = 1.0 - lam2
    return float(min(max_steps, max(1.0, 1.0 / gap))) if gap > 0 else float(max_steps)


def systematic_positions(weights, n_walkers, rng):
    """Place walkers on samples in proportion to ``weights`` (systematic sampling).

    One uniform offset and evenly spaced quantiles (Kitagawa 1996): the
    walkers' empirical measure matches ``weights`` up to one walker per
    sample, with far less variance than independent draws.

    Parameters
    ----------
    weights : ndarray of shape (n_samples,)
        Probability vector.
    n_walkers : int
        Number of walkers.
    rng : numpy.random.Generator
        Draws the one uniform offset.

    Returns
    -------
    positions : ndarray of shape (n_walkers,)
        Sample index of each walker, sorted.
    """
    u = (np.arange(n_walkers) + rng.random()) / n_walkers
    cdf = np.cumsum(weights)
    return np.minimum(np.searchsorted(cdf / cdf[-1], u, side="right"), len(weights) - 1)


class GraphWalkers:
    """Kernel A's walkers: sample indices moved by the Markov chain ``P``.

    The exact law ``rho_t`` of one walker is tracked alongside (one sparse
    mat-vec per move) for the ``KL(rho_t || pi)`` Lyapunov term, until it
    falls below 1e-14.

    Parameters
    ----------
    Z : ndarray or row view of shape (n_samples, n_features)
        Coordinates of the samples (what :meth:`step` returns rows of).
    P : scipy.sparse.csr_array of shape (n_samples, n_samples)
        Transition matrix.
    pi : ndarray of shape (n_samples,)
        Stationary law of ``P``.
    n_walkers : int
    positions_init : ndarray of shape (n_walkers,), default=None
        Initial sample indices; default: systematic sampling of the
        empirical (uniform) measure, drawn when the walkers first move.
    lifetime : int, default=None
        Calls of :meth:`step` after which all walkers are reborn from
        ``pi``; None: never (see ``walker_lifetime`` of
        :func:`~slowfast_sklearn.solvers.stochastic.coupled_flow`).
    """

    def __init__(self, Z, P, pi, n_walkers, positions_init=None, lifetime=None):
        n = Z.shape[0]
        self.Z, self.P, self.pi = Z, P, pi
        self.n_walkers, self.lifetime, self.updates = n_walkers, lifetime, 0
        if positions_init is None:
            self.rho, self.positions = np.full(n, 1.0 / n), None
        else:
            self.positions = np.array(positions_init, dtype=np.intp)
            self.rho = np.bincount(self.positions, minlength=n) / self.positions.shape[0]
        self.PT = P.T  # a CSC view of P: no transposed copy
        # Built at the first move: a solver may finish before any.
        self._sampler = None
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
        if self.positions is None:
            self.positions = systematic_positions(self.rho, self.n_walkers, rng)
        if self.lifetime and self.updates and self.updates % self.lifetime == 0:
            self.reborn(rng)
        self.updates += 1
        return self.Z[self.move(walk_steps, rng)]

    @property
    def sampler(self):
        """The :class:`RowSampler` of ``P``."""
        if self._sampler is None:
            self._sampler = row_sampler(self.P)
        return self._sampler

    def reborn(self, rng):
        """Rebirth of every walker on samples drawn from ``pi`` (systematic sampling).

        Parameters
        ----------
        rng : numpy.random.Generator
        """
        self.positions = systematic_positions(self.pi, self.n_walkers, rng)
        # A reborn walker is distributed as pi exactly.
        self.rho, self.kl_live = self.pi.copy(), False

    def move(self, walk_steps, rng):
        """Move every walker ``walk_steps`` times, without gathering their rows.

        Parameters
        ----------
        walk_steps : int
        rng : numpy.random.Generator

        Returns
        -------
        positions : ndarray of shape (n_walkers,)
            The walkers' sample indices.
        """
        if self.positions is None:
            self.positions = systematic_positions(self.rho, self.n_walkers, rng)
        for _ in range(walk_steps):
            self.positions = step_walkers(self.positions, self.sampler, rng)
            if self.kl_live:
                self.rho = self.PT @ self.rho
        return self.positions

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
        """Sample index of every walker, shape (n_walkers,) (None before the first move)."""
        return self.positions


class GraphProcess:
    """``kernel="graph"``: walkers on the samples, moved by the Metropolised walk.

    Its law is exact: the spatial measure is the walk's stationary law
    ``pi``, and the transition matrix lets a solver propagate the walkers'
    law itself (``solver="mean_field"``).
    """

    name = "graph"
    #: What it offers the solvers (a solver's ``requires`` must be a subset).
    provides = frozenset({"walkers", "transition"})
    #: Its walkers' batches are rows of the coordinates (gathers), so the
    #: coordinates may be a row view made on demand.
    gathers_rows = True
    #: Whether its walkers follow the graph walk (so that the spatial measure
    #: is the walk's stationary law).
    exact_law = True

    @staticmethod
    def on_graph(problem):
        """Nothing to adjust once the graph is built."""

    @staticmethod
    def walkers(problem, params, rng):
        """:class:`GraphWalkers` on the problem's rows, ``P`` and ``pi``."""
        return GraphWalkers(problem.rows, problem.P, problem.pi, params.n_walkers,
                            lifetime=params.walker_lifetime)

