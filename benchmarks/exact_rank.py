"""n_components at the data's rank: the averaged solver and partial_fit against PCA.

Run ``python benchmarks/exact_rank.py``.  Two cases where the answer is
exact once the solver's block holds the range of the moment (20 x 100
Gaussian samples with n_components=20, rank 19; iris transposed, 4 x 150,
with n_components=None, rank 3): for ``fit`` with ``solver="averaged"`` and
for ``partial_fit`` on the whole set, the iterations, the median time of 5
runs against PCA's measured in the same run (1 BLAS thread), the largest
angle of the components on the data's range to PCA's and the largest
relative difference of their variances, and how many warnings were raised.
"""

import statistics
import time
import warnings

import numpy as np
from scipy.linalg import subspace_angles
from sklearn.datasets import load_iris
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits

from slowfast_sklearn import CoupledFlowEmbedding


def timed(run, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main():
    rng = np.random.default_rng(0)
    cases = [("20x100, k=20", rng.standard_normal((20, 100)), 20, 19),
             ("iris.T, k=None", load_iris().data.T, None, 3)]
    with threadpool_limits(1):
        for name, X, k, rank in cases:
            pca_time, pca = timed(lambda: PCA(k).fit(X))
            for method in ("fit", "partial_fit"):
                def run():
                    est = CoupledFlowEmbedding(n_components=k, solver="averaged", random_state=0)
                    return getattr(est, method)(X)

                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    seconds, est = timed(run)
                angle = subspace_angles(est.components_[:rank].T, pca.components_[:rank].T).max()
                rel = np.max(np.abs(est.explained_variance_[:rank] / pca.explained_variance_[:rank]
                                    - 1.0))
                print(f"{name:15s} {method:11s} {est.n_iter_:5d} iterations  "
                      f"{seconds * 1e3:8.1f} ms = {seconds / pca_time:7.1f} x PCA  "
                      f"angle on the range {angle:.1e} rad  variances {rel:.1e}  "
                      f"warnings {len(caught) // 5}")


if __name__ == "__main__":
    main()
