"""Row views (``_rows``): coordinates read by gathers and row blocks.

:class:`CentredRows` must read, bit for bit, the rows of the materialised
``np.subtract(X, base, dtype=np.float64)[:, columns] * scale`` (elementwise
float64 arithmetic, exact in IEEE 754), in C order whatever X's layout.
"""

import numpy as np
import pytest

from slowfast_sklearn._rows import BLOCK_ENTRIES, CentredRows, row_blocks


@pytest.mark.parametrize("dtype, offset", [(np.float64, 3.0), (np.float32, 1e5)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_centred_rows_are_the_materialised_rows(dtype, offset, order):
    rng = np.random.default_rng(0)
    X = np.asarray((rng.standard_normal((300, 6)) + offset).astype(dtype), order=order)
    X[:, 2] = X[0, 2]
    columns = np.ptp(X, axis=0) > 0
    base = X.astype(np.float64).mean(axis=0)
    rows = CentredRows(X, base, columns, 0.125)
    expected = np.subtract(X, base, dtype=np.float64)[:, columns] * 0.125
    assert rows.shape == (300, 5) and len(rows) == 300
    positions = rng.integers(0, 300, size=100)
    for read in (rows[positions], rows[20:170]):
        assert read.dtype == np.float64 and read.flags.c_contiguous
    np.testing.assert_array_equal(rows[positions], expected[positions])
    np.testing.assert_array_equal(rows[20:170], expected[20:170])
    np.testing.assert_array_equal(CentredRows(X, base, None, 1.0)[5:9],
                                  np.subtract(X[5:9], base, dtype=np.float64))


def test_row_blocks_cover_the_rows_in_bounded_blocks():
    for n_rows, n_cols in [(0, 3), (1, 3), (10, 2**19), (3 * 2**18 + 5, 4), (7, 0)]:
        blocks = list(row_blocks(n_rows, n_cols))
        covered = np.concatenate([np.arange(n_rows)[b] for b in blocks]) if blocks else []
        np.testing.assert_array_equal(covered, np.arange(n_rows))
        for b in blocks:
            assert (b.stop - b.start) * max(n_cols, 1) <= max(BLOCK_ENTRIES, n_cols)


# -- sparse rows ---------------------------------------------------------------

import scipy.sparse as sp  # noqa: E402

from slowfast_sklearn._rows import SparseCentredRows, canonical_sparse, sparse_float64  # noqa: E402


def _sparse_sample(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((300, 7)) * (rng.random((300, 7)) < 0.3) + 0.0
    X[:, 3] = 0.0  # an empty column: constant, kept out
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("container", [sp.csr_array, sp.csc_array, sp.csr_matrix])
def test_sparse_rows_are_the_dense_rows(dtype, container):
    """Gathers and blocks densify only the rows read, with CentredRows'
    elementwise arithmetic on the dense X (so the same bits)."""
    X = _sparse_sample(dtype)
    columns = np.ptp(X, axis=0) > 0
    base = X.astype(np.float64).mean(axis=0)
    rows = SparseCentredRows(canonical_sparse(container(X)), base, columns, 0.375)
    dense = CentredRows(X, base, columns, 0.375)
    assert rows.shape == dense.shape == (300, 6) and len(rows) == 300
    positions = np.random.default_rng(1).integers(0, 300, size=200)  # with repeats
    for read in (rows[positions], rows[10:290]):
        assert read.dtype == np.float64 and read.flags.c_contiguous
    np.testing.assert_array_equal(rows[positions], dense[positions])
    np.testing.assert_array_equal(rows[10:290], dense[10:290])
    np.testing.assert_array_equal(rows.with_scale(2.0)[positions], dense.with_scale(2.0)[positions])


def test_sparse_rows_products_are_the_dense_products():
    """``Z @ W``, ``Z.T @ V``, the projected moment and the weighted total
    without reading rows, against the dense coordinates (implicit centring:
    to rounding)."""
    X = _sparse_sample() + 0.0
    X[X != 0] += 2.0  # an offset, so that the centring matters
    columns = np.ptp(X, axis=0) > 0
    base = X.mean(axis=0)
    rng = np.random.default_rng(2)
    rows = SparseCentredRows(sp.csr_array(X), base, columns, 0.5)
    Z = (X - base)[:, columns] * 0.5
    W, V = rng.standard_normal((6, 3)), rng.standard_normal((300, 2))
    pi = rng.random(300)
    pi /= pi.sum()
    np.testing.assert_allclose(rows @ W, Z @ W, rtol=0, atol=1e-13 * np.abs(Z @ W).max())
    np.testing.assert_allclose(rows.T @ V, Z.T @ V, rtol=0, atol=1e-13 * np.abs(Z.T @ V).max())
    expected = (Z @ W).T @ ((Z @ W) * pi[:, None])
    np.testing.assert_allclose(rows.projected_moment(pi, W), expected, rtol=1e-12)
    np.testing.assert_allclose(rows.weighted_total(pi), np.sum(pi[:, None] * Z**2), rtol=1e-13)


def test_sparse_float64_scales_exactly_and_keeps_the_input():
    X = sp.csr_array(_sparse_sample(np.float32))
    before = X.data.copy()
    columns = np.array([True, False, True, True, False, True, True])
    S = sparse_float64(X, columns, exponent=3)
    assert S.dtype == np.float64 and S.format == "csr" and S.shape == (300, 5)
    np.testing.assert_array_equal(S.toarray(), X.toarray()[:, columns].astype(np.float64) / 8)
    np.testing.assert_array_equal(X.data, before)


def test_canonical_sparse_sums_duplicates_on_a_copy():
    """Duplicate entries count once per position (their sum); the caller's
    arrays are not written, and a canonical input is not copied."""
    X = sp.csr_matrix((np.array([1.0, 2.0, 5.0]), np.array([1, 1, 0]), np.array([0, 2, 3])),
                      shape=(2, 3))
    assert not X.has_canonical_format
    C = canonical_sparse(X)
    assert isinstance(C, sp.csr_array) and C.has_canonical_format
    np.testing.assert_array_equal(C.toarray(), [[0.0, 3.0, 0.0], [5.0, 0.0, 0.0]])
    np.testing.assert_array_equal(X.data, [1.0, 2.0, 5.0])
    D = sp.csc_array(np.eye(3))
    assert np.shares_memory(canonical_sparse(D).data, D.data)
