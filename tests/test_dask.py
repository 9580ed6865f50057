"""Scaling out with Dask: Incremental over chunks, and a grid search on a cluster.

Both use a ``LocalCluster`` of worker processes bound to 127.0.0.1; the
lazy shapes of ``transform`` are checked on the synchronous scheduler.
"""

import numpy as np
import pytest
from _helpers import gaussian_data
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
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


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=50,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


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
