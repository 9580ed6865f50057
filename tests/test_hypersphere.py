"""The unit sphere (``geometry/hypersphere.py``): uniqueness of the mean,
the cut locus, the circle, float32 unit vectors.

The maps themselves pass the contract of ``test_geometry.py``; here are the
sphere's own cases.  References: geomstats' metric and numpy.
"""

import pickle

import numpy as np
import pytest
from _manifold_data import DATA, quick_fit
from geomstats.geometry.hypersphere import Hypersphere

from slowfast_sklearn.geometry.hypersphere import CUT_LOCUS_MARGIN, HypersphereGeometry, frame


def test_frame_is_an_orthonormal_basis_of_the_tangent_space():
    base = np.array([0.6, 0.0, 0.8, 0.0])
    E = frame(base)
    np.testing.assert_allclose(E @ E.T, np.eye(3), atol=1e-15)
    np.testing.assert_allclose(E @ base, 0.0, atol=1e-16)


def test_walkers_at_the_cut_locus_leave_the_batch():
    """walker_log marks the antipode of the base point (log undefined) instead of raising."""
    geometry = HypersphereGeometry(3)
    base = np.array([0.0, 0.0, 1.0])
    near = np.array([np.sin(CUT_LOCUS_MARGIN / 2), 0.0, -np.cos(CUT_LOCUS_MARGIN / 2)])
    walkers = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], near])
    Z, keep = geometry.walker_log(walkers, base)
    np.testing.assert_array_equal(keep, [True, False, False])
    np.testing.assert_allclose(Z[0], geometry.log(walkers[:1], base)[0])
    with pytest.raises(ValueError, match="cut locus"):
        geometry.log(walkers, base)


def test_float32_normalised_sphere_points_pass_and_keep_dtype():
    """Rows normalised in float32 (|x| = 1 up to 1e-7) are accepted; output stays float32."""
    X = DATA["hypersphere"](200, seed=5) * 1.0000001
    X32 = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    emb = quick_fit("hypersphere", X32, max_iter=300, n_walkers=128, tol=1.0)
    assert emb.components_.dtype == np.float32
    assert emb.transform(X32).dtype == np.float32
    assert emb.inverse_transform(emb.transform(X32)).dtype == np.float32
    # float32 rows normalised, then cast up, pass in float64 as well.
    quick_fit("hypersphere", X32.astype(np.float64), max_iter=50, n_walkers=64, tol=1.0)


def test_pickle_keeps_only_arrays():
    """A fitted manifold estimator pickles, and its attributes are arrays,
    scalars, strings or None (no geomstats object)."""
    X = DATA["hypersphere"](150)
    emb = quick_fit("hypersphere", X, max_iter=200, n_walkers=64, tol=1.0)
    again = pickle.loads(pickle.dumps(emb))
    np.testing.assert_array_equal(again.transform(X), emb.transform(X))
    for key, value in vars(emb).items():
        if key.endswith("_") and not key.startswith("_"):
            assert value is None or isinstance(
                value, (np.ndarray, int, float, bool, str, np.generic)), key


def test_antipodal_cloud_is_refused():
    """An antipodally symmetric cloud has no unique Frechet mean: clear ValueError."""
    X = DATA["hypersphere"](100)
    with pytest.raises(ValueError, match="not unique"):
        quick_fit("hypersphere", np.vstack([X, -X]), max_iter=10)


def test_cloud_beyond_a_hemisphere_warns():
    """Data reaching farther than pi/2 from the mean get a uniqueness warning."""
    rng = np.random.default_rng(0)
    north = np.array([0.0, 0.0, 1.0])
    X = rng.standard_normal((300, 3)) * [1.0, 1.0, 0.3] + 0.6 * north
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    with pytest.warns(UserWarning, match="open hemisphere"):
        quick_fit("hypersphere", X, max_iter=10, tol=1.0)


def test_log_at_the_cut_locus_raises_instead_of_returning_zero():
    """geomstats 2.8 returns Log_b(-b) = 0; transform refuses the point."""
    X = DATA["hypersphere"](100)
    emb = quick_fit("hypersphere", X, max_iter=50, n_walkers=32, tol=1.0)
    antipode = -emb.mean_[None, :]
    assert np.allclose(Hypersphere(dim=4).metric.log(antipode[0], emb.mean_), 0.0)
    with pytest.raises(ValueError, match="cut locus"):
        emb.transform(antipode)


def test_circle_fits_with_the_exact_circle_mean():
    """n_features=2 is the circle S^1: geomstats' FrechetMean is then a
    CircleMean with no optimiser to set (the fit raised AttributeError).
    The mean is the circular mean of the angles, transform the angle to it."""
    rng = np.random.default_rng(0)
    t = rng.normal(0.5, 0.3, 30)
    X = np.column_stack([np.cos(t), np.sin(t)])
    emb = quick_fit("hypersphere", X, n_components=1, max_iter=20)
    np.testing.assert_allclose(np.arctan2(emb.mean_[1], emb.mean_[0]), t.mean(), atol=1e-12)
    np.testing.assert_allclose(np.abs(emb.transform(X)[:, 0]), np.abs(t - t.mean()), atol=1e-12)
