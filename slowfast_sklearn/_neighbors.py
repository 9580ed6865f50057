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
the median of their projection on the difference of two distinct random
members, level by level, until the leaves hold about ``leaf_size`` samples;
within a leaf the neighbours are found by brute force (one batched matrix
product), the trees' candidates are merged, and optional rounds of
"neighbours of neighbours" (Dong, Charikar & Li 2011) refine them (none by
default).  Everything is vectorised over samples and leaves.  pynndescent,
the well-kept library for this, was measured first: on a fresh install its
numba compilation took 31 s to import and 70 s for the first 100,000 x 100
graph (7 s once compiled), longer than the whole fit may take.

What makes it fast (``python benchmarks/neighbors.py``: 2.5x on 50,000 x 64,
2.3x on 100,000 x 100 against the first version, the same recall): each
tree reorders one float32 copy of the rows in place, so that a node and a
leaf are contiguous rows; a node is split by one partition of its
projections (whole rows against a normal ending in zeros) and swaps of the
rows on the wrong side, not a sort of all the samples; the copy's rows are
``[z, |z|**2, 1]``, so a leaf's squared distances are one product; and a
leaf's nearest are one partition of unsigned keys packing each distance's
bits (non-negative floats order as their bits) above its column, as the
candidates are kept as keys packing the distance above the index, with no
index arrays to gather.
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
        The neighbours' indices (int32 below 2**31 samples), never the
        sample itself.

    Raises
    ------
    ValueError
        If ``n_neighbors`` is not in ``[1, n_samples - 1]``, or there are
        ``2**32`` samples or more (the candidates pack indices in 32 bits).

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
    if n >= 2**32:
        raise ValueError(f"{n} samples: the search packs indices in 32 bits, at most 2**32 - 1.")
    # Leaves hold between half and all of leaf_size samples: at least k + 1.
    leaf_size = max(int(leaf_size), 2 * (k + 1))
    # Candidates are ranked in float32 (half the arithmetic) on a copy whose
    # rows each tree reorders in place, so that its nodes and leaves are
    # contiguous; ``position`` holds each row's index in Z.  The copy's rows
    # are ``[z, |z|**2, 1]``: the leaves' squared distances in one product.
    # The distances returned are recomputed exactly from Z.
    d = Z.shape[1]
    Zs = np.empty((n, d + 2), dtype=np.float32)
    Zs[:, :d] = Z
    Zs[:, d] = np.einsum("ij,ij->i", Zs[:, :d], Zs[:, :d])
    Zs[:, d + 1] = 1.0
    position = np.arange(n, dtype=np.uint32)
    # The best k so far beside one tree's k candidates, each a key packing
    # the float32 rank above the index (see _pack_candidates): memory for
    # 2 k per sample, whatever the number of trees.
    keys = np.zeros((n, 2 * k), dtype=np.uint64)
    for tree in range(n_trees):
        bounds = _tree_leaves(Zs, position, leaf_size, rng)
        _leaf_neighbours(Zs, position, bounds, keys[:, k:] if tree else keys[:, :k])
        if tree:
            _merge_into(keys, k)
        if progress is not None:
            progress(tree + 1, n_trees + refine + 1)
    indices = (keys[:, :k] & 0xFFFFFFFF).astype(np.int32 if n < 2**31 else np.intp)
    if refine:
        # The graph in the reordered rows' numbering, refined, and back.
        inverse = np.empty(n, dtype=np.intp)
        inverse[position] = np.arange(n)
        ranks = (keys[position, :k] >> 32).astype(np.uint32).view(np.float32)
        keys = None
        indices = inverse[indices[position]]
        for done in range(refine):
            indices, ranks = _refine(Zs[:, :d], Zs[:, d], indices, ranks, k, fan)
            if progress is not None:
                progress(n_trees + done + 1, n_trees + refine + 1)
        indices = position[indices[inverse]].astype(np.int32 if n < 2**31 else np.intp)
    del keys
    out = _exact_sorted(Z, indices)
    if progress is not None:
        progress(n_trees + refine + 1, n_trees + refine + 1)
    return out


def _tree_leaves(Z, position, leaf_size, rng):
    """One random-projection tree: reorders the rows of ``Z`` (coordinates
    in all but the last two columns) and ``position`` in place so that
    consecutive runs are leaves.

    Every node, a contiguous run of rows, is split at the median of its
    samples' projection on the difference of two of them, drawn at random;
    after ``L`` levels the ``2**L`` leaves hold ``floor`` or ``ceil`` of
    ``n / 2**L`` samples.

    Returns
    -------
    bounds : ndarray of shape (n_leaves + 1,)
        Leaf ``j`` is rows ``bounds[j]:bounds[j + 1]``.
    """
    n, d = Z.shape[0], Z.shape[1] - 2
    levels = max(0, int(np.ceil(np.log2(n / leaf_size))))
    projection = np.empty(n, dtype=Z.dtype)
    for level in range(levels):
        bounds = (np.arange(2**level + 1) * n) // 2**level
        sizes = np.diff(bounds)
        # Two distinct members (a single one would give a null normal and a
        # split at random).
        a = (rng.random(2**level) * sizes).astype(np.intp)
        b = (a + 1 + (rng.random(2**level) * (sizes - 1)).astype(np.intp)) % sizes
        a, b = bounds[:-1] + a, bounds[:-1] + b
        # Whole rows against normals ending in zeros: BLAS is ten times
        # slower on the strided coordinates alone (50 ms for 100,000 x 100).
        normals = Z[a] - Z[b]
        normals[:, d:] = 0.0
        for node, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
            np.dot(Z[start:stop], normals[node], out=projection[start:stop])
        children = (np.arange(2**(level + 1) + 1) * n) // 2**(level + 1)
        upper = _upper_halves(projection, bounds, children[1::2])
        _swap_misplaced(upper, children, (Z, position))
    return (np.arange(2**levels + 1) * n) // 2**levels


def _upper_halves(projection, bounds, middles):
    """Which rows project above their node's median (the node's rows from
    ``bounds[j]`` to ``middles[j]`` keep the lowest): one partition per
    node, nodes of one size and split batched."""
    upper = np.zeros(projection.shape[0], dtype=bool)
    sizes, lower = np.diff(bounds), middles - bounds[:-1]
    for m, low in set(zip(sizes.tolist(), lower.tolist())):
        rows = bounds[:-1][(sizes == m) & (lower == low)][:, None] + np.arange(m)
        above = np.argpartition(projection[rows], low, axis=1)[:, low:]
        upper[np.take_along_axis(rows, above, 1)] = True
    return upper


def _swap_misplaced(upper, children, arrays):
    """Rows of the upper halves that sit in a lower child swap places with
    rows of the lower halves that sit in an upper child, node by node (each
    node has as many of either), a block of rows at a time."""
    lower_child = np.repeat(np.arange(len(children) - 1) % 2 == 0, np.diff(children))
    up = np.flatnonzero(lower_child & upper)
    down = np.flatnonzero(~(lower_child | upper))
    step = max(1, _BLOCK_ENTRIES // arrays[0].shape[1])
    for start in range(0, len(up), step):
        p, q = up[start:start + step], down[start:start + step]
        for array in arrays:
            # np.take gathers rows faster than fancy indexing (10 ms against
            # 24 ms for a quarter of 100,000 x 102 float32 either way).
            lower = np.take(array, q, axis=0)
            array[q] = np.take(array, p, axis=0)
            array[p] = lower


def _leaf_neighbours(Z, position, bounds, out):
    """Brute-force neighbours within each leaf (contiguous rows of ``Z``,
    each ``[z, |z|**2, 1]``), leaves of one size batched: each sample's
    ``k`` candidates as packed keys into ``out`` at its row of the original
    order."""
    k = out.shape[1]
    # [z, |z|**2, 1] . [-2 z', 1, |z'|**2] = |z - z'|**2
    swap = np.r_[np.arange(Z.shape[1] - 2), Z.shape[1] - 1, Z.shape[1] - 2]
    scale = np.r_[np.full(Z.shape[1] - 2, -2.0, dtype=np.float32), 1.0, 1.0]
    sizes = np.diff(bounds)
    for m in np.unique(sizes):
        starts = bounds[:-1][sizes == m]
        kk = min(k, m - 1)
        diagonal = np.arange(m)
        batch = max(1, _BLOCK_ENTRIES // (m * m))
        for first in range(0, len(starts), batch):
            rows = starts[first:first + batch, None] + diagonal
            block = Z[rows]
            D = block @ (block[:, :, swap] * scale).transpose(0, 2, 1)
            np.maximum(D, 0.0, out=D)  # rounding: packing needs non-negative floats
            D[:, diagonal, diagonal] = np.inf
            ranks, columns = _nearest_columns(D, kk)
            neighbours = position[rows[:, :1, None] + columns]
            out[position[rows], :kk] = _pack_candidates(ranks, neighbours)


def _nearest_columns(D, kk):
    """The ``kk`` smallest entries of each row of ``D`` (float32, >= 0) and
    their columns, unordered: one partition of unsigned keys packing a
    non-negative float's bits (ordered as the floats) above the column.

    Below 257 columns the keys are 32 bits, the ranks' last 8 bits dropped
    (a relative 2**-15: near ties fall to either column), else 64 bits.
    """
    m = D.shape[-1]
    bits = max(1, int(m - 1).bit_length())
    if bits <= 8:
        low = np.uint32(2**bits - 1)
        keys = D.view(np.uint32)
        keys &= ~low
        keys |= np.arange(m, dtype=np.uint32)
        nearest = np.partition(keys, kk - 1, axis=-1)[..., :kk]
        return (nearest & ~low).view(np.float32), (nearest & low).astype(np.intp)
    keys = (D.view(np.uint32).astype(np.uint64) << 32) | np.arange(m, dtype=np.uint64)
    nearest = np.partition(keys, kk - 1, axis=-1)[..., :kk]
    ranks = (nearest >> 32).astype(np.uint32).view(np.float32)
    return ranks, (nearest & 0xFFFFFFFF).astype(np.intp)


def _pack_candidates(ranks, indices):
    """uint64 keys ordered as ``(rank, index)``: the float32 rank's bits
    (non-negative floats order as their bits) above a 32-bit index."""
    return (np.asarray(ranks, np.float32).view(np.uint32).astype(np.uint64) << 32) | indices


def _merge_into(keys, k):
    """The best ``k`` distinct of each row's ``2 k`` candidate keys into its
    first ``k`` columns, a block of rows at a time (bounded temporaries)."""
    step = max(1, _BLOCK_ENTRIES // (2 * keys.shape[1]))
    for start in range(0, keys.shape[0], step):
        rows = slice(start, start + step)
        # Index above rank: a sample's copies sit side by side, the best first.
        swapped = (keys[rows] << 32) | (keys[rows] >> 32)
        swapped.sort(axis=1)
        copies = (swapped[:, 1:] >> 32) == (swapped[:, :-1] >> 32)
        swapped[:, 1:][copies] |= 0xFFFFFFFF  # ranked last
        keys[rows, :k] = np.partition((swapped << 32) | (swapped >> 32), k - 1, axis=1)[:, :k]


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
        # np.take gathers faster than fancy indexing; float64 before subtracting.
        diff = np.take(Z, indices[rows], axis=0).astype(np.float64, copy=False)
        diff -= Z[rows, None, :]
        np.einsum("ikd,ikd->ik", diff, diff, out=distances[rows])
    np.sqrt(distances, out=distances)
    order = np.argsort(distances, axis=1, kind="stable")
    return np.take_along_axis(distances, order, 1), np.take_along_axis(indices, order, 1)
