"""The approximate neighbour search (random-projection forest) against the
exact search of scikit-learn."""

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from slowfast_sklearn._neighbors import _tree_leaves, approximate_kneighbors


def gaussian(n, d=30, seed=0):
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return (rng.standard_normal((n, d)) * np.sqrt(0.8 ** np.arange(d) + 0.01)) @ basis.T


@pytest.mark.parametrize("n, leaf_size", [(300, 512), (700, 1024)])
def test_one_leaf_is_the_exact_search(n, leaf_size):
    """Fewer samples than a leaf: brute force over all, the exact neighbours
    (a leaf of 700 ranks by 64-bit keys, one of 300 by 32-bit keys)."""
    X = gaussian(n)
    dist, ind = approximate_kneighbors(X, 10, rng=np.random.default_rng(0), leaf_size=leaf_size)
    exact_dist, exact_ind = NearestNeighbors(n_neighbors=10).fit(X).kneighbors()
    np.testing.assert_allclose(dist, exact_dist, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(np.sort(ind, axis=1), np.sort(exact_ind, axis=1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forest_finds_near_neighbours(dtype):
    """4000 samples in leaves of 256: most true neighbours are found, and the
    k-th distance is within a few per cent of the exact one; every distance
    returned is the exact float64 distance of its pair, rows increasing, no
    sample its own neighbour."""
    X = gaussian(4000).astype(dtype)
    k = 15
    dist, ind = approximate_kneighbors(X, k, rng=np.random.default_rng(1), leaf_size=256)
    X64 = X.astype(np.float64)
    exact_dist, exact_ind = NearestNeighbors(n_neighbors=k).fit(X64).kneighbors()
    recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(ind, exact_ind)])
    assert recall > 0.6, recall
    assert np.median(dist[:, -1] / exact_dist[:, -1]) < 1.05
    assert np.all(dist >= exact_dist - 1e-9)  # never closer than the truth
    np.testing.assert_allclose(
        dist, np.linalg.norm(X64[ind] - X64[:, None, :], axis=2), rtol=1e-12, atol=1e-12)
    assert np.all(np.diff(dist, axis=1) >= 0)
    assert not np.any(ind == np.arange(len(X))[:, None])
    assert all(len(set(row)) == k for row in ind)


def test_duplicates_and_determinism():
    """Duplicated samples are each other's neighbours at distance 0; the same
    generator seed gives the same graph."""
    X = gaussian(1500)
    X[750:] = X[:750]
    first = approximate_kneighbors(X, 5, rng=np.random.default_rng(3), leaf_size=128)
    again = approximate_kneighbors(X, 5, rng=np.random.default_rng(3), leaf_size=128)
    np.testing.assert_array_equal(first[1], again[1])
    assert np.all(first[0][:, 0] == 0.0)


def recall(ind, exact_ind):
    return np.mean([len(set(a) & set(b)) / ind.shape[1] for a, b in zip(ind, exact_ind)])


def test_refinement_finds_more_true_neighbours():
    """One round of neighbours of neighbours (on the reordered rows, mapped
    back) raises the recall of a two-tree forest (0.48 to 0.56), every
    distance still the exact one of its pair."""
    X = gaussian(3000)
    k = 10
    exact_ind = NearestNeighbors(n_neighbors=k).fit(X).kneighbors()[1]
    _, plain = approximate_kneighbors(X, k, rng=np.random.default_rng(2), n_trees=2,
                                      leaf_size=128)
    dist, ind = approximate_kneighbors(X, k, rng=np.random.default_rng(2), n_trees=2,
                                       leaf_size=128, refine=1)
    assert recall(ind, exact_ind) > recall(plain, exact_ind) + 0.05
    np.testing.assert_allclose(
        dist, np.linalg.norm(X[ind] - X[:, None, :], axis=2), rtol=1e-12, atol=1e-12)
    assert not np.any(ind == np.arange(len(X))[:, None])


def test_tree_reorders_rows_into_median_split_leaves():
    """A tree permutes the rows ``[z, |z|**2, 1]`` and their original
    indices together; its 2**3 leaves of 1001 samples hold 125 or 126
    samples, and each split at the root is at the median: the two halves
    are separated by a hyperplane (a linear classifier fits them exactly)."""
    from sklearn.svm import LinearSVC

    X = gaussian(1001, d=8).astype(np.float32)
    rows = np.hstack([X, np.einsum("ij,ij->i", X, X)[:, None], np.ones((len(X), 1))])
    rows = rows.astype(np.float32)
    position = np.arange(len(X), dtype=np.uint32)
    bounds = _tree_leaves(rows, position, 126, np.random.default_rng(0))
    np.testing.assert_array_equal(bounds, (np.arange(9) * 1001) // 8)
    np.testing.assert_array_equal(np.sort(position), np.arange(1001))
    np.testing.assert_array_equal(rows[:, :8], X[position])
    np.testing.assert_allclose(rows[:, 8], np.einsum("ij,ij->i", X, X)[position], rtol=1e-6)
    assert np.all(rows[:, 9] == 1.0)
    side = np.arange(1001) >= bounds[4]
    classifier = LinearSVC(C=1e6, max_iter=100_000).fit(rows[:, :8], side)
    assert classifier.score(rows[:, :8], side) == 1.0


def test_bad_n_neighbors():
    with pytest.raises(ValueError, match="n_neighbors"):
        approximate_kneighbors(gaussian(10), 10, rng=np.random.default_rng(0))
