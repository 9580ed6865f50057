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
    assert emb.stationary_measure_.shape == (400,)
    emb.partial_fit(Y)
    # The fit's 400-sample measure no longer describes what was learned.
    assert not hasattr(emb, "stationary_measure_")
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


def _tangent_pca(name, X, base, k):
    """Tangent PCA at ``base`` with geomstats' log: covariance of the frame
    coordinates about their mean, top-k axes as ambient tangent vectors."""
    from _manifold_data import SPACES
    from slowfast_sklearn.geometry import resolve_geometry

    space = SPACES[name]()
    points = X.reshape(-1, 3, 3) if name == "spd" else X
    at = base.reshape(3, 3) if name == "spd" else base
    logs = np.asarray(space.metric.log(points, at)).reshape(len(X), -1)
    geometry = resolve_geometry(name, X.shape[1])
    Z = geometry.from_ambient(logs, base)  # orthonormal frame coordinates
    Z = Z - Z.mean(axis=0)
    values, vectors = np.linalg.eigh(Z.T @ Z / (len(X) - 1))
    return geometry.to_ambient(vectors[:, ::-1][:, :k], base), values[::-1][:k]


@pytest.mark.parametrize("name", ["hypersphere", "poincare_ball", "spd"])
def test_curved_stream_is_tangent_pca_at_the_first_batchs_mean(name):
    """partial_fit on a curved manifold: the base point is the first batch's
    Frechet mean, kept; the components and variances are tangent PCA of all
    the samples at it (geomstats' log, numpy's eigh), to the solver's 1e-6."""
    from _manifold_data import DATA
    from slowfast_sklearn.geometry import resolve_geometry

    X = DATA[name](1200, seed=1).reshape(1200, -1)
    batches = [X[b] for b in gen_batches(len(X), 300)]
    if name == "spd":  # (n, p, p) batches are taken as fit takes them
        batches = [b.reshape(-1, 3, 3) for b in batches]
    stream = CoupledFlowEmbedding(2, manifold=name, random_state=0)
    for batch in batches:
        stream.partial_fit(batch)
    assert stream.n_samples_seen_ == len(X)
    first = resolve_geometry(name, X.shape[1]).base_point(X[:300])
    np.testing.assert_array_equal(stream.mean_, first)
    axes, variances = _tangent_pca(name, X, first, 2)
    geometry = resolve_geometry(name, X.shape[1])
    ours = geometry.from_ambient(stream.components_, first).T
    assert subspace_angles(ours, geometry.from_ambient(axes, first).T).max() < 1e-6
    np.testing.assert_allclose(stream.explained_variance_, variances, rtol=1e-6)


def test_sphere_stream_is_close_to_the_full_fit():
    """The price of the fixed base point: the stream's subspace, parallel-
    transported (geomstats) to the full fit's mean 1e-2 rad away, is within
    1e-3 rad of the full fit's (measured 4.8e-5 for 2000 samples in batches of
    200); the first batch alone is 3e-2 rad off."""
    from geomstats.geometry.hypersphere import Hypersphere
    from _manifold_data import DATA
    from slowfast_sklearn.geometry import resolve_geometry

    X = DATA["hypersphere"](2000, seed=1)
    X = X[np.random.default_rng(0).permutation(len(X))]
    full = CoupledFlowEmbedding(2, manifold="hypersphere", solver="averaged").fit(X)
    stream = CoupledFlowEmbedding(2, manifold="hypersphere", random_state=0)
    for batch in gen_batches(len(X), 200):
        stream.partial_fit(X[batch])
    moved = Hypersphere(dim=4).metric.parallel_transport(
        stream.components_, stream.mean_, end_point=full.mean_)
    geometry = resolve_geometry("hypersphere", 5)
    angle = subspace_angles(geometry.from_ambient(moved, full.mean_).T,
                            geometry.from_ambient(full.components_, full.mean_).T).max()
    assert angle < 1e-3


def test_curved_stream_continues_a_fit_and_refuses_the_cut_locus():
    """After fit, partial_fit adds to the fit's tangent sums at its mean_
    (tangent PCA of both sets there); a later sample at the antipode of the
    base point is refused (its tangent coordinates are not unique)."""
    from _manifold_data import DATA

    X = DATA["hypersphere"](900, seed=3)
    emb = CoupledFlowEmbedding(2, manifold="hypersphere", solver="averaged").fit(X[:600])
    base = emb.mean_.copy()
    emb.partial_fit(X[600:])
    assert emb.n_samples_seen_ == 900
    np.testing.assert_array_equal(emb.mean_, base)
    axes, variances = _tangent_pca("hypersphere", X, base, 2)
    assert subspace_angles(emb.components_.T, axes.T).max() < 1e-6
    # Second order in the angle: the sums, not the solver, set the error.
    np.testing.assert_allclose(emb.explained_variance_, variances, rtol=1e-8)
    with pytest.raises(ValueError, match="cut locus of the base point"):
        emb.partial_fit(np.vstack([X[:10], -base]))


def test_a_batch_that_changes_nothing_takes_one_iteration():
    """The warm start is the previous batch's block: the same data again
    leave the running moment as it was, so the bound holds at the first
    iteration; a cold start needs several."""
    X = gaussian_data(n=1000, eigenvalues=0.8 ** np.arange(30) + 0.01, seed=2)
    est = CoupledFlowEmbedding(n_components=5, random_state=0).partial_fit(X)
    assert est.n_iter_ > 3
    est.partial_fit(X)
    assert est.n_iter_ == 1 and est.converged_


@pytest.mark.parametrize("small", [True, False])
def test_small_batches_run_on_one_blas_thread(monkeypatch, small):
    """A batch whose products are small (n d**2 below SMALL_PRODUCTS) runs
    on one BLAS thread (threads only contend there), a large one as BLAS
    is set."""
    from threadpoolctl import threadpool_info, threadpool_limits

    import slowfast_sklearn._threads as threads
    from slowfast_sklearn.solvers import averaged

    if not small:
        monkeypatch.setattr(threads, "SMALL_PRODUCTS", 1)
    seen = []
    run = averaged.AveragedSolver.run

    def blas_threads():
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    def spy(self, problem, params):
        seen.append(blas_threads())
        return run(self, problem, params)

    monkeypatch.setattr(averaged.AveragedSolver, "run", spy)
    with threadpool_limits(2, user_api="blas"):
        outside = blas_threads()
        CoupledFlowEmbedding(2, random_state=0).partial_fit(gaussian_data(n=200, seed=1))
    assert seen == ([{1}] if small else [outside])
