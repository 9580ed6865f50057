"""Sparse input (issue 14): ``fit``, ``partial_fit`` and ``transform`` on scipy.sparse flat data.

The sparse paths do other arithmetic than the dense ones (implicit centring,
sparse products, scikit-learn's brute-force search on CSR), so every
comparison with the dense fit is to a stated rounding bound.  The data are
continuous (no tied distances), so that both searches find the same
neighbours and the walkers make the same moves.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning

from slowfast_sklearn import CoupledFlowEmbedding

#: Agreement of a sparse fit with the dense one: rounding of the implicitly
#: centred moments, propagated through the eigensolvers (measured 1e-13).
CLOSE = 1e-9


def sparse_sample(n=400, d=12, density=0.6, offset=0.0, seed=0):
    """Continuous values, 40% zeros, no two rows alike (duplicate rows tie
    in the kNN search, and the two searches may list different ones)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.linspace(3.0, 0.3, d) + offset
    X[rng.random((n, d)) > density] = 0.0
    return X


def _fit(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return CoupledFlowEmbedding(random_state=0, **params).fit(X)


def _assert_same_fit(a, b, X):
    scale = np.abs(a.components_).max()
    np.testing.assert_allclose(b.components_, a.components_, rtol=0, atol=CLOSE * scale)
    np.testing.assert_allclose(b.explained_variance_, a.explained_variance_, rtol=CLOSE)
    np.testing.assert_allclose(b.explained_variance_ratio_, a.explained_variance_ratio_,
                               rtol=CLOSE)
    np.testing.assert_allclose(b.singular_values_, a.singular_values_, rtol=CLOSE)
    assert b.noise_variance_ == pytest.approx(a.noise_variance_, rel=CLOSE)
    np.testing.assert_allclose(b.mean_, a.mean_, rtol=0, atol=1e-14 * np.abs(X).max())
    np.testing.assert_allclose(b.stationary_measure_, a.stationary_measure_, rtol=CLOSE)
    features = a.transform(X)
    np.testing.assert_allclose(b.transform(sp.csr_array(X)), features, rtol=0,
                               atol=CLOSE * np.abs(features).max())


CONFIGS = {
    "averaged-T1": dict(solver="averaged"),
    "averaged-T0.7": dict(solver="averaged", temperature=0.7),
    "mean_field-T0.7": dict(solver="mean_field", temperature=0.7, max_iter=300),
    "stochastic-T1": dict(n_walkers=128, max_iter=150),
    "stochastic-T0.7": dict(temperature=0.7, n_walkers=128, max_iter=150),
    "langevin": dict(kernel="langevin", n_walkers=64, max_iter=100),
}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_sparse_fit_is_the_dense_fit(config):
    """Every solver and fast process: the same fit as on the dense array,
    to rounding (the walkers make the same moves)."""
    X = sparse_sample(offset=0.0)
    params = dict(n_components=3, **CONFIGS[config])
    _assert_same_fit(_fit(X, **params), _fit(sp.csr_array(X), **params), X)


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_array, sp.coo_array, sp.lil_matrix])
def test_sparse_containers_and_formats(container):
    """Matrices and arrays; CSR and CSC as they are, other formats converted (as PCA)."""
    X = sparse_sample()
    dense = _fit(X, n_components=2, solver="averaged")
    _assert_same_fit(dense, _fit(container(X), n_components=2, solver="averaged"), X)


def test_sparse_constant_columns_and_float32():
    """An empty column and a constant one get no weight; float32 in, float32 out."""
    X = sparse_sample()
    X[:, 4] = 0.0
    X[:, 7] = 2.5
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        for params in (dict(solver="averaged"), dict(n_walkers=128, max_iter=150)):
            dense, sparse = _fit(Xd, n_components=4, **params), _fit(sp.csr_array(Xd), n_components=4, **params)
            assert sparse.components_.dtype == dtype
            assert sparse.transform(sp.csr_array(Xd)).dtype == dtype
            np.testing.assert_array_equal(sparse.components_[:, [4, 7]], 0.0)
            if dtype == np.float64:
                _assert_same_fit(dense, sparse, X)


@pytest.mark.parametrize("whiten", [False, True])
def test_sparse_transform_is_pcas(whiten):
    """transform centres after projecting, as PCA on sparse input; fit_transform agrees."""
    X = sparse_sample(offset=1.0)
    S = sp.csr_array(X)
    emb = _fit(X, n_components=3, solver="averaged", tol=1e-12, whiten=whiten)
    pca = PCA(3, whiten=whiten, svd_solver="covariance_eigh").fit(S)
    expected = pca.transform(S)
    features = emb.transform(S)
    signs = np.sign(np.sum(features * expected, axis=0))
    np.testing.assert_allclose(features * signs, expected, rtol=0,
                               atol=1e-10 * np.abs(expected).max())
    fitted = _fit(S, n_components=3, solver="averaged", tol=1e-12, whiten=whiten)
    np.testing.assert_allclose(fitted.fit_transform(S), fitted.transform(S), rtol=0,
                               atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_sparse_batches_stream_as_dense_batches(temperature):
    """partial_fit on sparse batches (implicit centring, the batch graph on
    sparse rows) is partial_fit on the dense batches, to rounding."""
    X = sparse_sample(n=600, offset=0.5)
    dense = CoupledFlowEmbedding(3, temperature=temperature, random_state=0)
    sparse = CoupledFlowEmbedding(3, temperature=temperature, random_state=0)
    for start in range(0, 600, 200):
        dense.partial_fit(X[start:start + 200])
        sparse.partial_fit(sp.csr_array(X[start:start + 200]))
    assert sparse.n_samples_seen_ == sparse.n_samples_ == 600
    scale = np.abs(dense.components_).max()
    np.testing.assert_allclose(sparse.components_, dense.components_, rtol=0, atol=CLOSE * scale)
    np.testing.assert_allclose(sparse.explained_variance_, dense.explained_variance_, rtol=CLOSE)


def test_sparse_score_samples_is_refused_as_by_pca():
    """score_samples takes dense input only, as PCA's (TypeError naming sparsity)."""
    X = sparse_sample()
    emb = _fit(sp.csr_array(X), n_components=2, solver="averaged")
    with pytest.raises(TypeError, match="[Ss]parse"):
        emb.score_samples(sp.csr_array(X))
    with pytest.raises(TypeError, match="[Ss]parse"):
        PCA(2).fit(X).score_samples(sp.csr_array(X))
    assert np.isfinite(emb.score(X))


def test_sparse_input_is_not_written():
    X = sp.csr_array(sparse_sample())
    data, indices = X.data.copy(), X.indices.copy()
    for params in (dict(solver="averaged"), dict(n_walkers=64, max_iter=100, temperature=0.7)):
        _fit(X, n_components=2, **params).transform(X)
        CoupledFlowEmbedding(2, random_state=0).partial_fit(X)
    np.testing.assert_array_equal(X.data, data)
    np.testing.assert_array_equal(X.indices, indices)


def _peak_bytes(action):
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _large_sparse(n, d, nnz_per_row, seed=0):
    rng = np.random.default_rng(seed)
    indptr = np.arange(0, n * nnz_per_row + 1, nnz_per_row)
    indices = np.sort(rng.integers(0, d, (n, nnz_per_row)), axis=1).ravel()
    # Distinct columns per row (a canonical array): shift duplicates away.
    indices = (indices + np.tile(np.arange(nnz_per_row), n)) % d
    values = rng.standard_normal(n * nnz_per_row) * np.repeat(rng.random(n) + 0.5, nnz_per_row)
    X = sp.csr_array((values, indices, indptr), shape=(n, d))
    X.sum_duplicates()
    return X


def test_sparse_fit_never_densifies():
    """Fits on CSR arrays whose dense form is 192 MiB: the averaged solver and
    partial_fit peak at about 5% of it (copies of the values and the d x d
    moment), the walkers at about 40% (two d x d moments, C and partial_fit's
    running sums, at d = 2000; and the kNN search's distance blocks, 36 MiB
    at any size)."""
    X = _large_sparse(60_000, 400, 3)
    dense_bytes = X.shape[0] * X.shape[1] * 8
    peak = _peak_bytes(lambda: CoupledFlowEmbedding(5, solver="averaged").fit(X).transform(X))
    assert peak < 0.1 * dense_bytes, peak / dense_bytes
    stream = CoupledFlowEmbedding(5)
    peak = _peak_bytes(lambda: stream.partial_fit(X))
    assert peak < 0.1 * dense_bytes, peak / dense_bytes
    wide = _large_sparse(12_000, 2000, 3)  # also 192 MB dense
    peak = _peak_bytes(lambda: _fit(wide, n_components=5, n_walkers=128, max_iter=100))
    assert peak < 0.5 * dense_bytes, peak / dense_bytes


def test_sparse_duplicate_rows():
    """Text-like data: many empty (identical) rows.  The searches may list
    other duplicates than the dense one, so the graph differs; the measure
    is still the walk's exact law, and at temperature 1 uniform."""
    X = sparse_sample(density=0.3)
    assert np.sum(~X.any(axis=1)) > 3
    S = sp.csr_array(X)
    _assert_same_fit(_fit(X, n_components=3, solver="averaged"),
                     _fit(S, n_components=3, solver="averaged"), X)
    tempered = _fit(S, n_components=3, solver="averaged", temperature=0.7)
    dense = _fit(X, n_components=3, solver="averaged", temperature=0.7)
    assert tempered.stationary_measure_.sum() == pytest.approx(1.0)
    angle = np.max(subspace_angles(tempered.components_.T, dense.components_.T))
    assert angle < 1e-3
    walkers = _fit(S, n_components=3, n_walkers=128, max_iter=150)
    np.testing.assert_array_equal(walkers.stationary_measure_, 1 / 400)


def test_sparse_fit_reaches_pcas_subspace_at_scale():
    """The large sparse fit is PCA's (covariance solver on the same CSR array)."""
    X = _large_sparse(60_000, 400, 3)
    emb = CoupledFlowEmbedding(5, solver="averaged", tol=1e-10).fit(X)
    pca = PCA(5, svd_solver="covariance_eigh").fit(X)
    assert np.max(subspace_angles(emb.components_.T, pca.components_.T)) < 1e-8
    np.testing.assert_allclose(emb.explained_variance_, pca.explained_variance_, rtol=1e-10)
