"""Streaming: partial_fit follows IncrementalPCA's conventions and reaches a full fit."""

import numpy as np
import pytest
from _helpers import gaussian_data
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA
from sklearn.utils import gen_batches

from slowfast_sklearn import CoupledFlowEmbedding


def test_streaming_reaches_the_full_fit():
    X = gaussian_data(n=3000, seed=5) + 1e4  # a large offset must not cancel
    stream = CoupledFlowEmbedding(n_components=3, random_state=0)
    for batch in gen_batches(len(X), 250):
        stream.partial_fit(X[batch])
    assert stream.n_samples_seen_ == len(X)
    pca = PCA(3).fit(X)
    assert subspace_angles(stream.components_.T, pca.components_.T).max() < 1e-6
    np.testing.assert_allclose(stream.mean_, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stream.explained_variance_, pca.explained_variance_, rtol=1e-6)
    full = CoupledFlowEmbedding(n_components=3, solver="averaged", random_state=0).fit(X)
    np.testing.assert_allclose(np.abs(stream.transform(X)), np.abs(full.transform(X)), atol=1e-6)


def test_weights_carry_over_between_batches():
    """A later batch warm-starts from the previous weights: fewer iterations."""
    X = gaussian_data(n=2000, eigenvalues=0.8 ** np.arange(40) + 0.01, seed=6)
    est = CoupledFlowEmbedding(n_components=4, random_state=0)
    est.partial_fit(X[:1000])
    first = est.n_iter_
    est.partial_fit(X[1000:])
    assert est.n_iter_ < first


def test_batches_are_checked():
    X = gaussian_data(n=200, seed=7)
    est = CoupledFlowEmbedding(n_components=3).partial_fit(X)
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[:, :5])
    with pytest.raises(ValueError, match="first batch"):
        CoupledFlowEmbedding(n_components=3).partial_fit(X[:2])


def test_too_many_components_name_n_components_not_the_batch():
    """k > n_features can never work, whatever the batch: the error names
    n_components and n_features (as IncrementalPCA's), even when the first
    batch is also small."""
    from sklearn.decomposition import IncrementalPCA

    X = gaussian_data(n=200, seed=7)  # 8 features
    with pytest.raises(ValueError, match=r"n_components=10 must be at most n_features=8"):
        CoupledFlowEmbedding(n_components=10).partial_fit(X[:5])
    with pytest.raises(ValueError, match="n_components=10 invalid for n_features=8"):
        IncrementalPCA(10).partial_fit(X[:5])
    for n_components in (0.9, "mle"):
        with pytest.raises(ValueError, match="spectrum: use fit"):
            CoupledFlowEmbedding(n_components=n_components).partial_fit(X)


def test_tempered_stream_approaches_the_tempered_fit():
    X = gaussian_data(n=2000, seed=8)
    kwargs = dict(n_components=2, temperature=0.6, random_state=0)
    full = CoupledFlowEmbedding(solver="averaged", **kwargs).fit(X)
    stream = CoupledFlowEmbedding(**kwargs)
    for batch in gen_batches(len(X), 1000):
        stream.partial_fit(X[batch])
    flat = PCA(2).fit(X).components_.T
    # Densities estimated per batch: close to the full tempered fit, and
    # tempered (away from the flat PCA subspace) in the same direction.
    assert subspace_angles(stream.components_.T, full.components_.T).max() < 0.1


@pytest.mark.parametrize("solver", ["averaged", "stochastic"])
def test_partial_fit_continues_after_fit(solver):
    """As after IncrementalPCA.fit: partial_fit adds to what fit learned
    (PCA of both sets), and a fit discards an earlier stream."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((300, 5)) * [1.0, 1.0, 1.0, 1.0, 6.0]
    X = rng.standard_normal((400, 5)) * [5.0, 2.0, 1.0, 0.5, 0.2] + 10.0
    Y = rng.standard_normal((100, 5)) * [1.0, 4.0, 1.0, 0.5, 0.2] + 10.0
    emb = CoupledFlowEmbedding(2, solver=solver, random_state=0, max_iter=1500)
    emb.partial_fit(A).fit(X)  # A must be forgotten
    assert emb.n_samples_seen_ == 400
    emb.partial_fit(Y)
    both = np.vstack([X, Y])
    pca = PCA(2).fit(both)
    assert emb.n_samples_seen_ == 500
    np.testing.assert_allclose(emb.mean_, both.mean(axis=0), rtol=0, atol=1e-12)
    assert subspace_angles(emb.components_.T, pca.components_.T).max() < 1e-6
    np.testing.assert_allclose(emb.explained_variance_, pca.explained_variance_, rtol=1e-6)


def test_partial_fit_keeps_n_components():
    """Changing n_components between batches is an error (IncrementalPCA's rule)."""
    X = gaussian_data(n=200, seed=1)
    emb = CoupledFlowEmbedding(2, random_state=0).partial_fit(X[:100])
    emb.set_params(n_components=3)
    with pytest.raises(ValueError, match="n_components=3 differs from the 2 components"):
        emb.partial_fit(X[100:])
