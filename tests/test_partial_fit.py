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
