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

import numpy as np
import scipy.sparse as sp

__all__ = [
    "kernel_graph",
    "metropolis_transition",
    "stationary_law",
    "row_sampler",
    "step_walkers",
    "kl_divergence",
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
    log_ratio = (beta - 2.0) * (log_deg[cols] - log_deg[rows])
    accept = np.exp(np.minimum(log_ratio, 0.0))
    moves = K.data / safe_degree[rows] * accept
    stay = 1.0 - np.bincount(rows, weights=moves, minlength=n)
    diag = laziness + (1.0 - laziness) * np.clip(stay, 0.0, 1.0)
    P = sp.csr_array(
        (
            np.concatenate([(1.0 - laziness) * moves, diag]),
            (np.concatenate([rows, np.arange(n)]), np.concatenate([cols, np.arange(n)])),
        ),
        shape=(n, n),
    )
    P.sum_duplicates()
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
        Probability vector; uniform when ``beta == 1``.
    """
    degree = np.asarray(degree, dtype=np.float64)
    safe = np.where(degree > 0, degree, 1.0)
    log_w = (beta - 1.0) * np.log(safe)
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


def row_sampler(P):
    """Pre-compute the keys that :func:`step_walkers` searches.

    Row ``i``'s cumulative probabilities are shifted by ``i`` so that one
    :func:`numpy.searchsorted` over all rows serves every walker at once.

    Parameters
    ----------
    P : scipy.sparse.csr_array of shape (n_samples, n_samples)
        Row-stochastic matrix.

    Returns
    -------
    keys : ndarray of shape (nnz,)
        ``i + cumsum(P[i])`` laid out like ``P.data``, each row ending at
        exactly ``i + 1``.
    """
    n = P.shape[0]
    lengths = np.diff(P.indptr)
    row_of = np.repeat(np.arange(n), lengths)
    cum = np.cumsum(P.data)
    start = np.concatenate([[0.0], cum[P.indptr[1:-1] - 1]])
    within = cum - start[row_of]
    # Normalise each row to end at 1 so rounding never lets a draw escape its row.
    within /= within[P.indptr[1:] - 1][row_of]
    return row_of + within


def step_walkers(positions, P, keys, rng):
    """Move every walker one step of the chain ``P``, all at once.

    Parameters
    ----------
    positions : ndarray of shape (n_walkers,)
        Current sample index of each walker.
    P : scipy.sparse.csr_array of shape (n_samples, n_samples)
        Transition matrix.
    keys : ndarray of shape (nnz,)
        Output of :func:`row_sampler` for ``P``.
    rng : numpy.random.Generator
        Source of the uniform draws (one per walker).

    Returns
    -------
    positions : ndarray of shape (n_walkers,)
        New sample indices, drawn from the rows of ``P``.
    """
    u = positions + rng.random(positions.shape[0])
    slot = np.searchsorted(keys, u, side="right")
    # Guard the row end against u landing exactly on i + 1 through rounding.
    slot = np.minimum(slot, P.indptr[positions + 1] - 1)
    return P.indices[slot]


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
