"""The decentralised fit's core without a cluster (``slowfast_sklearn/distributed``).

Chunk summaries against numpy's moments, and dask stays unimported for
in-memory data.
"""

import subprocess
import sys

import numpy as np
import pytest

from slowfast_sklearn._moments import accumulate, empty_stream
from slowfast_sklearn.distributed import is_dask_collection
from slowfast_sklearn.distributed.summary import (
    about,
    add_to_stream,
    combine,
    summarise,
    tree,
)


@pytest.mark.parametrize("scale", [1.0, 1e-300, 1e150])
def test_tree_of_summaries_gives_the_pooled_moments(scale):
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((1003, 5)) * [3.0, 1.0, 0.5, 0.1, 0.01] + [1e3, 0, -5, 2, 0]) * scale
    weights = rng.random(len(X))
    cuts = [0, 7, 300, 301, 640, 1003]
    parts = [summarise(X[a:b], weights[a:b]) for a, b in zip(cuts, cuts[1:])]
    pooled = tree(parts, combine)
    mean = X.mean(axis=0)
    Z = X - mean
    np.testing.assert_allclose(pooled.mean, mean, rtol=1e-13, atol=1e-13 * scale)
    assert pooled.count == len(X) and pooled.mass == pytest.approx(weights.sum(), rel=1e-14)
    first, scatter, e = about(pooled, mean)
    unit = np.ldexp(1.0, e) / scale  # the moments in units of the scale itself
    C = (Z / scale * weights[:, None]).T @ (Z / scale)
    np.testing.assert_allclose(scatter * unit**2, C, rtol=1e-11, atol=1e-12 * np.abs(C).max())
    np.testing.assert_allclose(first * unit, weights @ Z / scale, atol=1e-9 * np.abs(C).max())
    np.testing.assert_array_equal(pooled.low, X.min(axis=0))
    np.testing.assert_array_equal(pooled.high, X.max(axis=0))
    # About another point.
    point = X[5]
    first, scatter, e = about(pooled, point)
    D = (X - point) / scale
    unit = np.ldexp(1.0, e) / scale
    np.testing.assert_allclose(scatter * unit**2, (D * weights[:, None]).T @ D, rtol=1e-10)


def test_summaries_refuse_nan():
    X = np.ones((4, 2))
    X[1, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        summarise(X)


def test_summaries_extend_partial_fits_running_sums_as_the_rows_do():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((500, 4)) + 100.0
    masses = rng.random(500)
    masses *= 500 / masses.sum()
    reference = X[:50].mean(axis=0)
    direct, summed = empty_stream(reference), empty_stream(reference)
    accumulate(direct, X, masses)
    add_to_stream(summed, tree([summarise(X[:200], masses[:200]),
                                summarise(X[200:], masses[200:])], combine))
    for key in ("count", "weight", "sum", "wsum", "wscatter"):
        np.testing.assert_allclose(summed[key], direct[key], rtol=1e-10, atol=1e-9, err_msg=key)


def test_dask_is_not_imported_for_in_memory_data():
    code = (
        "import sys, numpy as np\n"
        "from slowfast_sklearn import CoupledFlowEmbedding\n"
        "X = np.random.default_rng(0).standard_normal((60, 3))\n"
        "CoupledFlowEmbedding(2, solver='averaged').fit(X).transform(X)\n"
        "print(any(m == 'dask' or m.startswith('dask.') for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert not is_dask_collection(np.zeros(3)) and not is_dask_collection([1.0])
