"""Approximate k-nearest neighbours of flat coordinates: a random-projection forest.

The exact search costs ``O(n**2 d)`` once the dimension defeats space
partitioning trees (scikit-learn then searches by brute force): about two
minutes for 100,000 samples of 100 features on one core.  The walkers need a
graph of *near* neighbours, not of the nearest ones: at ``temperature=1``
their stationary law is uniform for any symmetric graph, and at any
temperature the Metropolis correction keeps ``pi ~ deg**(beta - 1)`` exactly
stationary for whatever graph is built.  So large flat data sets get their
graph from a forest of random-projection trees (Dasgupta & Freund 2008, as in
Annoy and the initialisation of NN-descent): each tree splits the samples at
the median of their projection on the difference of two random members,
level by level, until the leaves hold about ``leaf_size`` samples; within a
leaf the neighbours are found by brute force (one batched matrix product),
the trees' candidates are merged, and one round of "neighbours of
neighbours" (Dong, Charikar & Li 2011) refines them.  Everything is
vectorised over samples and leaves.  pynndescent, the well-kept library for
this, was measured first: on a fresh install its numba compilation took 31 s
to import and 70 s for the first 100,000 x 100 graph (7 s once compiled),
longer than the whole fit may take.
"""

import numpy as np

from ._threads import one_blas_thread

__all__ = ["approximate_kneighbors"]

#: Entries of the largest temporary (distance blocks, candidate gathers):
#: a few MiB, so that the search's peak is the data's float32 copy and the
#: candidate lists (2.0x a 30,000 x 64 float64 input).
_BLOCK_ENTRIES = 2**18


def approximate_kneighbors(Z, n_neighbors, *, rng, n_trees=4, leaf_size=256, refine=0, fan=3,
                           progress=None):
    """Approximate nearest neighbours of every sample (itself excluded).

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_features)
        Flat coordinates (float64 or float32).
    n_neighbors : int
        Neighbours per sample, below ``n_samples``.
    rng : numpy.random.Generator
        Draws the trees' hyperplanes.
    n_trees : int, default=4
        Random-projection trees whose leaves propose candidates.
    leaf_size : int, default=256
        Most samples per leaf (at least ``2 (n_neighbors + 1)``); leaves
        hold between half of it and all of it.
    refine : int, default=0
        Rounds of the neighbours-of-neighbours refinement.
    fan : int, default=3
        Nearest neighbours whose lists a refinement round reads.
    progress : callable, default=None
        ``progress(done, total)`` after each tree and each refinement round
        (the preparation's progress API).

    Returns
    -------
    distances : ndarray of shape (n_samples, n_neighbors)
        Euclidean distances in float64, computed exactly for the pairs found,
        increasing along each row.
    indices : ndarray of shape (n_samples, n_neighbors)
        The neighbours' indices, never the sample itself.

    References
    ----------
    .. [1] S. Dasgupta and Y. Freund, "Random projection trees and low
       dimensional manifolds", STOC 2008.
    .. [2] W. Dong, M. Charikar and K. Li, "Efficient k-nearest neighbor
       graph construction for generic similarity measures", WWW 2011.
    """
    n = Z.shape[0]
    k = int(n_neighbors)
    if not 0 < k < n:
        raise ValueError(f"n_neighbors={k} must be in [1, n_samples - 1={n - 1}].")
    with one_blas_thread():
        return _forest(Z, k, rng, n_trees, leaf_size, refine, fan, progress)


def _forest(Z, k, rng, n_trees, leaf_size, refine, fan, progress):
    """:func:`approximate_kneighbors` itself."""
    n = Z.shape[0]
    # Leaves hold between half and all of leaf_size samples: at least k + 1.
    leaf_size = max(int(leaf_size), 2 * (k + 1))
    # Candidates are ranked in float32 (half the arithmetic); the distances
    # returned are recomputed exactly.
    Zs = np.ascontiguousarray(Z, dtype=np.float32)
    sq = np.einsum("ij,ij->i", Zs, Zs)
    # The best k so far beside one tree's k candidates: memory for 2 k per
    # sample, whatever the number of trees.
    index = np.int32 if n < 2**31 else np.intp
    indices = np.zeros((n, 2 * k), dtype=index)
    ranks = np.full((n, 2 * k), np.inf, dtype=np.float32)
    for tree in range(n_trees):
        order, bounds = _tree_leaves(Zs, leaf_size, rng)
        columns = slice(0, k) if tree == 0 else slice(k, 2 * k)
        _leaf_neighbours(Zs, sq, order, bounds, indices[:, columns], ranks[:, columns])
        if tree:
            _merge_into(indices, ranks, k)
        if progress is not None:
            progress(tree + 1, n_trees + refine + 1)
    indices, ranks = indices[:, :k].copy(), ranks[:, :k].copy()
    for done in range(refine):
        indices, ranks = _refine(Zs, sq, indices, ranks, k, fan)
        if progress is not None:
            progress(n_trees + done + 1, n_trees + refine + 1)
    out = _exact_sorted(Z, indices)
    if progress is not None:
        progress(n_trees + refine + 1, n_trees + refine + 1)
    return out


def _tree_leaves(Z, leaf_size, rng):
    """One random-projection tree: a row order whose consecutive runs are leaves.

    Every node is split at the median of its samples' projection on the
    difference of two of them, drawn at random; after ``L`` levels the
    ``2**L`` leaves hold ``floor`` or ``ceil`` of ``n / 2**L`` samples.

    Returns
    -------
    order : ndarray of shape (n_samples,)
    bounds : ndarray of shape (n_leaves + 1,)
        Leaf ``j`` is ``order[bounds[j]:bounds[j + 1]]``.
    """
    n, d = Z.shape
    levels = max(0, int(np.ceil(np.log2(n / leaf_size))))
    order = np.arange(n)
    projection = np.empty(n, dtype=Z.dtype)
    step = max(1, _BLOCK_ENTRIES // d)
    for level in range(levels):
        bounds = (np.arange(2**level + 1) * n) // 2**level
        sizes = np.diff(bounds)
        node = np.repeat(np.arange(2**level), sizes)
        a = bounds[:-1] + (rng.random(2**level) * sizes).astype(np.intp)
        b = bounds[:-1] + (rng.random(2**level) * sizes).astype(np.intp)
        normals = Z[order[a]] - Z[order[b]]
        for start in range(0, n, step):
            rows = slice(start, start + step)
            projection[rows] = np.einsum("ij,ij->i", Z[order[rows]], normals[node[rows]])
        # Within each node, by projection: the lower half goes left.
        order = order[np.lexsort((projection, node))]
    return order, (np.arange(2**levels + 1) * n) // 2**levels


def _leaf_neighbours(Z, sq, order, bounds, out_indices, out_ranks):
    """Brute-force neighbours within each leaf, leaves of one size batched."""
    k = out_indices.shape[1]
    sizes = np.diff(bounds)
    for m in np.unique(sizes):
        members = order[bounds[:-1][sizes == m][:, None] + np.arange(m)]
        kk = min(k, m - 1)
        diagonal = np.arange(m)
        batch = max(1, _BLOCK_ENTRIES // (m * m))
        for start in range(0, len(members), batch):
            leaf = members[start:start + batch]
            block = Z[leaf]
            D = block @ block.transpose(0, 2, 1)
            D *= -2.0
            D += sq[leaf][:, :, None]
            D += sq[leaf][:, None, :]
            D[:, diagonal, diagonal] = np.inf
            nearest = np.argpartition(D, kk - 1, axis=2)[:, :, :kk]
            out_ranks[leaf, :kk] = np.take_along_axis(D, nearest, 2)
            out_indices[leaf, :kk] = np.take_along_axis(
                np.broadcast_to(leaf[:, None, :], D.shape), nearest, 2)


def _merge_into(indices, ranks, k):
    """The best ``k`` distinct of each row's ``2 k`` candidates into its first
    ``k`` columns, a block of rows at a time (bounded temporaries)."""
    # About 30 bytes of temporaries per candidate.
    step = max(1, _BLOCK_ENTRIES // (4 * indices.shape[1]))
    for start in range(0, indices.shape[0], step):
        rows = slice(start, start + step)
        indices[rows, :k], ranks[rows, :k] = _best_distinct(indices[rows], ranks[rows], k)


def _best_distinct(indices, ranks, k):
    """The ``k`` best distinct candidates of each row (duplicates ranked last)."""
    order = np.argsort(indices, axis=1, kind="stable")
    indices = np.take_along_axis(indices, order, 1)
    ranks = np.take_along_axis(ranks, order, 1)
    ranks[:, 1:][indices[:, 1:] == indices[:, :-1]] = np.inf
    best = np.argpartition(ranks, k - 1, axis=1)[:, :k]
    return np.take_along_axis(indices, best, 1), np.take_along_axis(ranks, best, 1)


def _refine(Z, sq, indices, ranks, k, fan=6):
    """One round of neighbours of neighbours: the ``fan`` nearest
    neighbours' lists are candidates too."""
    n = indices.shape[0]
    fan = min(fan, k)
    near = np.take_along_axis(indices, np.argsort(ranks, axis=1)[:, :fan], 1)
    candidates = indices[near].reshape(n, fan * k)
    scores = np.empty(candidates.shape, dtype=Z.dtype)
    step = max(1, _BLOCK_ENTRIES // (candidates.shape[1] * Z.shape[1]))
    for start in range(0, n, step):
        rows = slice(start, start + step)
        c = candidates[rows]
        scores[rows] = sq[c] + sq[rows, None] - 2.0 * np.einsum("ikd,id->ik", Z[c], Z[rows])
    scores[candidates == np.arange(n)[:, None]] = np.inf
    return _best_distinct(np.concatenate([indices, candidates], 1),
                          np.concatenate([ranks, scores], 1), k)


def _exact_sorted(Z, indices):
    """float64 distances of the chosen pairs, rows sorted by distance."""
    n, k = indices.shape
    distances = np.empty((n, k))
    step = max(1, _BLOCK_ENTRIES // (k * Z.shape[1]))
    for start in range(0, n, step):
        rows = slice(start, start + step)
        diff = np.subtract(Z[indices[rows]], Z[rows, None, :], dtype=np.float64)
        distances[rows] = np.sqrt(np.einsum("ikd,ikd->ik", diff, diff))
    order = np.argsort(distances, axis=1, kind="stable")
    return np.take_along_axis(distances, order, 1), np.take_along_axis(indices, order, 1)
