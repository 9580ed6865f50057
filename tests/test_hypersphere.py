"""The unit sphere (``geometry/hypersphere.py``): uniqueness of the mean,
the cut locus (every point has tangent coordinates: norm pi at the antipode),
the circle, float32 unit vectors.

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
    """walker_log marks points within CUT_LOCUS_MARGIN of the antipode of the
    base point (theory.md section 8: they leave the Hebbian batch)."""
    geometry = HypersphereGeometry(3)
    base = np.array([0.0, 0.0, 1.0])
    near = np.array([np.sin(CUT_LOCUS_MARGIN / 2), 0.0, -np.cos(CUT_LOCUS_MARGIN / 2)])
    walkers = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], near])
    with pytest.warns(UserWarning, match="cut locus"):
        Z_log = geometry.log(walkers, base)
    Z, keep = geometry.walker_log(walkers, base)
    np.testing.assert_array_equal(keep, [True, False, False])
    np.testing.assert_allclose(Z[0], Z_log[0])


def _geodesic(base, direction, angle):
    """Point at ``angle`` along the unit tangent ``direction`` (independent Exp)."""
    return np.cos(angle) * base + np.sin(angle) * direction


@pytest.mark.parametrize("gap", [0.0, 1e-15, 1e-12, 1e-9, 1e-6, 5e-4])
def test_log_is_defined_up_to_the_antipode(gap):
    """Every point of the sphere has tangent coordinates: at geodesic distance
    pi - gap along a unit tangent u, Log_b = (pi - gap) u (so its norm is the
    geodesic distance, and it tends to pi u: continuous up to the antipode);
    at the antipode itself (gap 0, or below rounding) pi times the given
    direction.  A warning names the cut locus; other rows are untouched."""
    rng = np.random.default_rng(0)
    geometry = HypersphereGeometry(4)
    base = rng.standard_normal(4)
    base /= np.linalg.norm(base)
    E = frame(base)
    u = E.T @ np.array([0.6, -0.8, 0.0])  # a unit tangent vector at base
    far = _geodesic(base, u, np.pi - gap)
    ordinary = _geodesic(base, E[2], 1.0)
    cut = np.array([0.0, 0.0, 1.0])
    with pytest.warns(UserWarning, match=r"1 point\(s\) lie within 0.001 rad of the cut locus"):
        Z = geometry.log(np.array([ordinary, far]), base, cut_direction=cut)
    assert np.all(np.isfinite(Z))
    np.testing.assert_allclose(Z[0], [0.0, 0.0, 1.0], atol=1e-15)
    # The geodesic distance, well conditioned near the antipode: pi minus
    # the distance to -b, from the chord to it.
    distance = np.pi - 2.0 * np.arcsin(np.linalg.norm(far + base) / 2.0)
    np.testing.assert_allclose(np.linalg.norm(Z[1]), distance, rtol=1e-15)
    if gap > 1e-13:
        np.testing.assert_allclose(Z[1], (np.pi - gap) * np.array([0.6, -0.8, 0.0]),
                                   rtol=0, atol=4e-16 / gap + 1e-14)
    else:  # no direction is resolved: the given one
        np.testing.assert_allclose(Z[1], np.pi * cut, atol=1e-12)
    if gap > 0:  # Exp_b(Log_b x) = x (the back map: geomstats)
        back = Hypersphere(dim=3).metric.exp(Z[1] @ E, base)
        np.testing.assert_allclose(back, far, atol=1e-12)


def test_transform_at_the_antipode_of_the_mean():
    """transform, score_samples and score of a batch holding the antipode of
    mean_ (and points within 1e-9 of it) no longer fail: those rows get
    features of norm pi, the antipode (pi, 0) along the first principal
    axis, the others the features they have alone."""
    X = DATA["hypersphere"](200, seed=2)
    # float32: the stored mean_'s rounding must not pass for a direction.
    emb32 = quick_fit("hypersphere", X.astype(np.float32), n_components=2, solver="averaged")
    with pytest.warns(UserWarning, match="cut locus"):
        np.testing.assert_allclose(emb32.transform(-emb32.mean_[None]), [[np.pi, 0.0]], atol=1e-6)
    emb = quick_fit("hypersphere", X, n_components=2, solver="averaged")
    full = quick_fit("hypersphere", X, n_components=4, solver="averaged")
    mean = emb.mean_
    E = frame(mean)
    axis = emb.components_[0] / np.linalg.norm(emb.components_[0])
    near = _geodesic(mean, E.T @ (E @ axis), np.pi - 1e-9)
    batch = np.vstack([X[:3], -mean, near])
    with pytest.warns(UserWarning, match="cut locus"):
        features = emb.transform(batch)
    np.testing.assert_allclose(features[:3], emb.transform(X[:3]), rtol=0, atol=1e-15)
    np.testing.assert_allclose(features[3], [np.pi, 0.0], atol=1e-12)
    np.testing.assert_allclose(np.abs(features[4]), [np.pi - 1e-9, 0.0], atol=1e-7)
    with pytest.warns(UserWarning, match="cut locus"):
        Z = full.transform(batch)
    distances = np.arccos(np.clip(batch @ mean, -1.0, 1.0))
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), distances, atol=1e-7)
    with pytest.warns(UserWarning, match="cut locus"):
        scores = emb.score_samples(batch)
    assert np.all(np.isfinite(scores)) and np.all(scores[3:] < scores[:3].min())


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
    """An antipodally symmetric cloud has no unique Frechet mean: clear
    ValueError (transform takes any point, fit does not take such data)."""
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
