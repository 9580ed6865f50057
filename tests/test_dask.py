"""Scaling out with Dask: fits on a dask array where its chunks live, lazy outputs,
Incremental over chunks, and a grid search on a cluster.

All use ``LocalCluster``s of worker processes bound to 127.0.0.1 (the lazy
shapes of dask-ml's ``Incremental.transform`` are checked on the synchronous
scheduler).  References are computed independently: scikit-learn's PCA,
numpy's ``eigh`` of the pooled moment, each chunk's walk built by the test
helper, and the in-memory estimator on the gathered array.
"""

import pickle
import tracemalloc

import numpy as np
import pytest
from _helpers import Walk, gaussian_data
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
wrappers = pytest.importorskip("dask_ml.wrappers")

from slowfast_sklearn import CoupledFlowEmbedding  # noqa: E402

pytestmark = [
    # The cluster's own shutdown chatter is not ours to fix.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning:distributed"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

SPECTRUM = np.geomspace(8.0, 0.2, 12)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=50,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def largest_angle(A, B):
    return subspace_angles(np.asarray(A).T, np.asarray(B).T).max()


def test_incremental_fits_a_dask_array_chunk_by_chunk(client):
    X = gaussian_data(n=3000, seed=9)
    dX = da.from_array(X, chunks=(500, X.shape[1]))
    inc = wrappers.Incremental(CoupledFlowEmbedding(n_components=2, random_state=0), shuffle_blocks=False)
    inc.fit(dX)
    est = inc.estimator_
    assert est.n_samples_seen_ == len(X)
    pca = PCA(2).fit(X)
    assert subspace_angles(est.components_.T, pca.components_.T).max() < 1e-6
    # Blockwise transform and score through the wrapper.
    Y = inc.transform(dX).compute()
    np.testing.assert_allclose(Y, est.transform(X), atol=1e-10)
    assert inc.score(dX, None) == pytest.approx(est.score(X), rel=1e-10)


def test_grid_search_runs_on_the_dask_backend(client):
    from joblib import parallel_backend
    from sklearn.model_selection import GridSearchCV

    X = gaussian_data(n=600, seed=10)
    grid = GridSearchCV(
        CoupledFlowEmbedding(solver="averaged", random_state=0),
        {"n_components": [1, 2, 3]}, cv=3, n_jobs=2,
    )
    with parallel_backend("dask"):
        grid.fit(X)
    serial = GridSearchCV(
        CoupledFlowEmbedding(solver="averaged", random_state=0),
        {"n_components": [1, 2, 3]}, cv=3,
    ).fit(X)
    np.testing.assert_allclose(grid.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"], rtol=1e-10)
    assert grid.best_params_ == serial.best_params_


# -- The lazy shape of transform ------------------------------------------------
#
# dask-ml's ParallelPostFit.transform (dask-ml 2025.1, as upstream's main
# branch) runs transform on a (1, n_features) array of zeros for the output's
# meta, then maps the blocks without output chunks: dask keeps only the meta's
# type, dtype and dimensions, so the lazy array announces the input's chunks,
# (N, n_features), for any transformer that changes the width (scikit-learn's
# PCA too).  Nothing the estimator exposes is read for the shape.  A dask
# DataFrame goes through map_partitions, which takes its columns from a
# transform of a non-empty meta partition, so set_output(transform="pandas")
# announces the right columns; for arrays, map the blocks with their chunks.

def _fitted(X, n_components=5):
    dX = da.from_array(X, chunks=(250, X.shape[1]))
    est = CoupledFlowEmbedding(n_components, random_state=0)
    with dask.config.set(scheduler="synchronous"):
        return dX, wrappers.Incremental(est, shuffle_blocks=False).fit(dX)


@pytest.mark.xfail(strict=True, reason="dask-ml's ParallelPostFit.transform maps blocks without "
                   "output chunks: the lazy array keeps the input's width")
def test_incremental_transform_announces_the_width_it_computes():
    dX, inc = _fitted(gaussian_data(n=1000, eigenvalues=np.linspace(3.0, 0.5, 20), seed=12))
    Y = inc.transform(dX)
    assert Y.shape == Y.compute(scheduler="synchronous").shape == (1000, 5)


def test_lazy_shapes_of_the_dataframe_and_blockwise_paths():
    """A dask DataFrame announces the features' names; mapping the blocks with
    the output's chunks announces (N, n_components_).  Both compute the
    estimator's own transform."""
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X = gaussian_data(n=1000, eigenvalues=np.linspace(3.0, 0.5, 20), seed=12)
    dX, inc = _fitted(X)
    est = inc.estimator_
    Y = dX.map_blocks(est.transform, chunks=(dX.chunks[0], (est.n_components_,)),
                      dtype=dX.dtype)
    computed = Y.compute(scheduler="synchronous")
    assert Y.shape == computed.shape == (1000, 5)
    np.testing.assert_allclose(computed, est.transform(X), rtol=1e-12, atol=1e-12)

    names = [f"x{j}" for j in range(X.shape[1])]
    frame = dd.from_pandas(pd.DataFrame(X, columns=names), npartitions=4)
    with dask.config.set(scheduler="synchronous"):
        framed = wrappers.Incremental(
            CoupledFlowEmbedding(5, random_state=0).set_output(transform="pandas"),
            shuffle_blocks=False,
        ).fit(frame)
        lazy = framed.transform(frame)
        out = lazy.compute()
    assert list(lazy.columns) == list(out.columns) == list(
        framed.estimator_.get_feature_names_out())
    assert out.shape == (1000, 5)
def test_averaged_fit_of_a_dask_array_equals_the_in_memory_fit(client):
    X = gaussian_data(n=6000, eigenvalues=SPECTRUM, seed=11) + 50.0
    dX = da.from_array(X, chunks=((1500, 2000, 2500), (6, 6)))
    est = CoupledFlowEmbedding(4, solver="averaged", random_state=0).fit(dX)
    ref = CoupledFlowEmbedding(4, solver="averaged", random_state=0).fit(X)
    pca = PCA(4).fit(X)
    assert largest_angle(est.components_, pca.components_) <= 1e-6
    # Same moments up to the summation order: rounding far below the solver's tol.
    assert largest_angle(est.components_, ref.components_) <= 1e-9
    np.testing.assert_allclose(est.explained_variance_, pca.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(est.mean_, X.mean(axis=0), rtol=1e-13)
    for name in ("components_", "mean_", "explained_variance_", "stationary_measure_"):
        assert type(getattr(est, name)) is np.ndarray, name
    assert (est.consensus_rounds_, est.consensus_bytes_, est.n_samples_seen_) == (0, 0, 6000)
    # Fitted on the cluster, it pickles and transforms numpy data as before.
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(again.transform(X[:50]), ref.transform(X[:50]), atol=1e-8)
    # partial_fit continues from the dask fit as from an in-memory one.
    est.partial_fit(X[:100])
    ref.partial_fit(X[:100])
    assert largest_angle(est.components_, ref.components_) <= 1e-9


def test_tempered_averaged_fit_uses_each_chunks_own_graph(client):
    """At temperature 0.5 the pooled measure is the union of the chunks'
    walks (each built here independently, weighted by its samples), and the
    components are the top eigenvectors of its C_pi."""
    X = gaussian_data(n=1800, eigenvalues=SPECTRUM, seed=12)
    sizes = (500, 600, 700)
    dX = da.from_array(X, chunks=(sizes, (12,)))
    est = CoupledFlowEmbedding(3, solver="averaged", temperature=0.5, random_state=0).fit(dX)
    edges = np.cumsum((0,) + sizes)
    pooled = np.concatenate([size / len(X) * Walk(X[a:b], beta=2.0).pi
                             for size, a, b in zip(sizes, edges, edges[1:])])
    np.testing.assert_allclose(est.stationary_measure_, pooled, rtol=1e-10)
    Z = X - X.mean(axis=0)
    vectors = np.linalg.eigh((Z * pooled[:, None]).T @ Z)[1][:, ::-1][:, :3]
    assert largest_angle(est.components_, vectors.T) <= 1e-6


def test_partial_fit_of_a_dask_batch_equals_the_in_memory_one(client):
    X = gaussian_data(n=3000, eigenvalues=SPECTRUM, seed=13) * 1e3 + 1e6
    est, ref = CoupledFlowEmbedding(3, random_state=0), CoupledFlowEmbedding(3, random_state=0)
    for batch in np.array_split(X, 2):
        est.partial_fit(da.from_array(batch, chunks=(400, 12)))
        ref.partial_fit(batch)
    assert est.n_samples_seen_ == ref.n_samples_seen_ == 3000
    assert largest_angle(est.components_, ref.components_) <= 1e-9
    np.testing.assert_allclose(est.explained_variance_, ref.explained_variance_, rtol=1e-9)


def peak_growth(fit):
    """Driver memory the call allocates at its peak (tracemalloc), in bytes."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    try:
        fit()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_decentralised_fit_stays_on_the_cluster_and_reaches_the_subspace(client):
    """The default solver: one agent per chunk, an actor on a worker.  The
    driver's peak memory stays far below X's size (gathering X would take
    all of it; what it holds is a few arrays of n_samples numbers, the
    fitted measure), the fit reaches the pooled top-k subspace (numpy's eigh of
    the gathered data's covariance), and the traffic is the algorithm's."""
    n, d, chunks, k = 40_000, 24, 8, 4
    rotation = np.linalg.qr(np.random.default_rng(14).standard_normal((d, d)))[0]
    X = da.random.default_rng(15).standard_normal((n, d), chunks=(n // chunks, d))
    X = client.persist((X * np.sqrt(np.geomspace(8.0, 0.2, d))) @ rotation.T + 2.0)
    distributed.wait(X)
    est = CoupledFlowEmbedding(k, random_state=0)
    growth = peak_growth(lambda: est.fit(X))
    assert growth < 0.25 * X.nbytes
    averaged = CoupledFlowEmbedding(k, solver="averaged", random_state=0)
    assert peak_growth(lambda: averaged.fit(X)) < 0.25 * X.nbytes
    Xn = X.compute()
    values, vectors = np.linalg.eigh(np.cov(Xn.T))
    values, vectors = values[::-1], vectors[:, ::-1][:, :k]
    captured = np.trace(est.components_ @ np.cov(Xn.T) @ est.components_.T)
    assert est.converged_ and est.solver_ == "variance_reduced"
    assert 1.0 - captured / values[:k].sum() <= 1e-3
    assert largest_angle(est.components_, vectors.T) <= 0.03
    assert largest_angle(averaged.components_, vectors.T) <= 1e-6
    anchors, units = len(est.lyapunov_), k + max(k, 8)
    assert est.consensus_rounds_ == 2 * anchors - 1
    assert est.consensus_bytes_ == 2 * chunks * 8 * d * (units * anchors + k * (anchors - 1))
    np.testing.assert_allclose(est.stationary_measure_, 1.0 / n)


def test_agents_as_actors_fit_as_the_same_agents_in_process(client):
    X = gaussian_data(n=4000, eigenvalues=SPECTRUM, seed=16)
    dX = da.from_array(X, chunks=(1000, 12))
    actors = CoupledFlowEmbedding(3, random_state=2).fit(dX)
    with dask.config.set(scheduler="sync"):  # no cluster: local agents
        local = CoupledFlowEmbedding(3, random_state=2).fit(dX)
    assert actors.n_iter_ == local.n_iter_
    assert actors.consensus_bytes_ == local.consensus_bytes_ > 0
    np.testing.assert_allclose(actors.components_, local.components_, atol=1e-10)
    np.testing.assert_allclose(actors.lyapunov_, local.lyapunov_, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_wise_methods_of_a_dask_array_are_lazy_and_equal_the_in_memory_ones(client, dtype):
    X = (gaussian_data(n=2000, eigenvalues=SPECTRUM, seed=17) + 3.0).astype(dtype)
    est = CoupledFlowEmbedding(3, solver="averaged", whiten=True, random_state=0).fit(X)
    dX = da.from_array(X, chunks=(300, 12))
    Y = est.transform(dX)
    assert isinstance(Y, da.Array) and Y.dtype == dtype and Y.chunks == (dX.chunks[0], (3,))
    assert isinstance(Y._meta, np.ndarray) and Y._meta.dtype == dtype
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(Y.compute(), est.transform(X), rtol=tol, atol=tol)
    back = est.inverse_transform(Y)
    assert isinstance(back, da.Array) and back.chunks == dX.chunks
    np.testing.assert_allclose(back.compute(), est.inverse_transform(est.transform(X)),
                               rtol=tol, atol=tol)
    scores = est.score_samples(dX)
    assert isinstance(scores, da.Array) and scores.chunks == (dX.chunks[0],)
    np.testing.assert_allclose(scores.compute(), est.score_samples(X), rtol=tol)
    assert est.score(dX) == pytest.approx(est.score(X), rel=tol)
    # fit_transform on a dask array is lazy too, and equals the fit's transform.
    fitted = CoupledFlowEmbedding(3, solver="averaged", random_state=0)
    out = fitted.fit_transform(dX)
    assert isinstance(out, da.Array)
    np.testing.assert_allclose(out.compute(), fitted.transform(X), rtol=tol, atol=tol)


def test_curved_row_wise_methods_map_the_blocks(client):
    rng = np.random.default_rng(18)
    X = rng.normal(size=(600, 4)) * [0.3, 0.2, 0.1, 0.05] + [0, 0, 0, 1]
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    est = CoupledFlowEmbedding(2, manifold="hypersphere", solver="averaged", random_state=0).fit(X)
    dX = da.from_array(X, chunks=(100, 4))
    np.testing.assert_allclose(est.transform(dX).compute(), est.transform(X), atol=1e-12)
    back = est.inverse_transform(est.transform(dX)).compute()
    np.testing.assert_allclose(np.linalg.norm(back, axis=1), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match=r"manifold='euclidean' only.*X\.compute\(\)"):
        CoupledFlowEmbedding(2, manifold="hypersphere").fit(dX)


def test_dask_input_is_checked_before_anything_runs():
    X = da.from_array(gaussian_data(n=200, seed=19), chunks=(50, 8))
    with pytest.raises(ValueError, match="solver='stochastic' does not run on a dask array"):
        CoupledFlowEmbedding(2, solver="stochastic").fit(X)
    with pytest.raises(ValueError, match="Found array with 1 sample"):
        CoupledFlowEmbedding(1).fit(X[:1])
    with pytest.raises(ValueError, match="needs at least 2 samples"):
        CoupledFlowEmbedding(1).fit(da.concatenate([X[:1], X[1:10]]))
    est = CoupledFlowEmbedding(2, solver="averaged").fit(X.compute())
    with pytest.raises(ValueError, match="X has 3 features, but CoupledFlowEmbedding is expecting 8"):
        est.transform(X[:, :3])
    with pytest.raises(ValueError, match="expecting 2 features"):
        est.inverse_transform(X)
    with pytest.raises(TypeError, match=r"to_dask_array\(lengths=True\)"):
        est.transform(dask.dataframe.from_array(X.compute()))
    bad = X.compute()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        CoupledFlowEmbedding(2, solver="averaged").fit(da.from_array(bad, chunks=(50, 8)))


@pytest.mark.parametrize("solver", ["averaged", "auto"])
def test_n_components_from_the_spectrum_on_a_dask_array(client, solver):
    """A share of the variance and Minka's MLE pick PCA's number of
    components from the pooled spectrum, on both dask paths."""
    rng = np.random.default_rng(21)
    X = rng.standard_normal((3000, 12)) * np.sqrt(np.r_[np.geomspace(8, 1, 4), np.full(8, 0.05)])
    dX = da.from_array(X, chunks=(1000, 12))
    for n_components in ("mle", 0.9):
        est = CoupledFlowEmbedding(n_components, solver=solver, random_state=0).fit(dX)
        assert est.n_components_ == PCA(n_components).fit(X).n_components_
        assert est.components_.shape == (est.n_components_, 12)
