"""The fast process: a Metropolised kernel random walk on the samples.

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
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = [
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
        Indices of those neighbours.
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
    sq = np.asarray(distances, dtype=np.float64) ** 2
    eps = float(np.median(sq[:, -1]))
    if not eps > 0.0:
        positive = sq[sq > 0]
        # Only identical points: any positive width gives the same (uniform) kernel.
        eps = float(positive.mean()) if positive.size else 1.0
    rows = np.repeat(np.arange(n_samples), sq.shape[1])
    weights = np.exp(-sq.ravel() / eps)
    K = sp.csr_array(
        (weights, (rows, np.asarray(indices).ravel())), shape=(n_samples, n_samples)
    )
    # Union of directed kNN edges; both directions carry the same weight.
    K = K.maximum(K.T).tocsr()
    K.setdiag(0.0)
    K.eliminate_zeros()
    K.sort_indices()
    return K, eps


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
    n = K.shape[0]
    degree = np.asarray(K.sum(axis=1)).ravel()
    # An isolated sample (no neighbour with positive weight) only holds still.
    safe_degree = np.where(degree > 0, degree, 1.0)
    log_deg = np.log(safe_degree)
    rows = np.repeat(np.arange(n), np.diff(K.indptr))
    cols = K.indices
    # In place, one edge-sized array at a time (memory: the graph of a
    # large data set is the biggest object fit builds).
    accept = log_deg[cols]
    accept -= log_deg[rows]
    accept *= beta - 2.0
    np.minimum(accept, 0.0, out=accept)
    np.exp(accept, out=accept)
    moves = K.data / safe_degree[rows]
    moves *= accept
    del accept
    stay = 1.0 - np.bincount(rows, weights=moves, minlength=n)
    del rows
    diag = laziness + (1.0 - laziness) * np.clip(stay, 0.0, 1.0)
    moves *= 1.0 - laziness
    # Same sparsity as K (no diagonal) plus the diagonal: a sparse sum of
    # disjoint patterns, which copies the values exactly.
    P = sp.csr_array((moves, cols, K.indptr), shape=(n, n)) + sp.diags_array(diag, format="csr")
    P = sp.csr_array(P)
    P.sort_indices()
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
        ``P_ii``, the probability of holding still.
    start, length : ndarray of shape (n_samples,)
        Where row ``i``'s off-diagonal entries begin in ``targets`` and how
        many there are.
    targets : ndarray of shape (nnz_off,)
        Column index of each off-diagonal entry.
    ratio : ndarray of shape (nnz_off,)
        Each off-diagonal entry over its row's largest one, in ``(0, 1]``: the
        acceptance probability of the rejection step.
    """

    stay: np.ndarray
    start: np.ndarray
    length: np.ndarray
    targets: np.ndarray
    ratio: np.ndarray


def row_sampler(P):
    """Pre-compute the tables :func:`step_walkers` samples from.

    Parameters
    ----------
    P : scipy.sparse.csr_array of shape (n_samples, n_samples)
        Row-stochastic matrix.

    Returns
    -------
    sampler : RowSampler
    """
    P = sp.csr_array(P)
    n = P.shape[0]
    rows = np.repeat(np.arange(n), np.diff(P.indptr))
    # Stored zeros (moves whose Metropolis acceptance underflowed) are never
    # taken; a row without any positive move only holds still.
    off = (P.indices != rows) & (P.data > 0)
    stay = np.zeros(n)
    np.add.at(stay, rows[~off], P.data[~off])
    rows, targets, data = rows[off], P.indices[off], P.data[off]
    length = np.bincount(rows, minlength=n)
    stay[length == 0] = 1.0
    start = np.concatenate([[0], np.cumsum(length)[:-1]])
    row_max = np.zeros(n)
    np.maximum.at(row_max, rows, data)
    ratio = data / row_max[rows]
    return RowSampler(stay, start, length, targets, ratio)


def step_walkers(positions, sampler, rng):
    """Move every walker one step of the chain ``P``, all at once.

    A walker holds still with probability ``P_ii``; otherwise it draws a
    neighbour slot uniformly and keeps it with probability ``P_ij / max_j
    P_ij`` (rejection sampling, redrawing only the rejected walkers), so the
    move is distributed exactly as row ``i`` of ``P`` (von Neumann 1951).
    Every draw comes from ``rng``; the work is a few vectorised passes over
    the walkers, independent of the number of samples.

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
        slot = start + (rng.random(moving.size) * length).astype(np.intp)
        keep = rng.random(moving.size) < sampler.ratio[slot]
        new[moving[keep]] = sampler.targets[slot[keep]]
        again = ~keep
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

    Returns
    -------
    positions : ndarray of shape (n_walkers,)
        Sample index of each walker, sorted.
    """
    u = (np.arange(n_walkers) + rng.random()) / n_walkers
    cdf = np.cumsum(weights)
    return np.minimum(np.searchsorted(cdf / cdf[-1], u, side="right"), len(weights) - 1)
