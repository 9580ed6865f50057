"""Scaling out with Dask: Incremental over chunks, and a grid search on a cluster.

Both use a ``LocalCluster`` of worker processes bound to 127.0.0.1.
"""

import numpy as np
import pytest
from _helpers import gaussian_data
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

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
