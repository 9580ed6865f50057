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
