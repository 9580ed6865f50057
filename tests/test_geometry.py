"""The manifold contract (``geometry/``): what every registered manifold must pass.

As imbalanced-learn's common tests do for its samplers, each test here is
parametrised over the registry (:data:`~slowfast_sklearn.geometry.GEOMETRIES`),
so a new manifold is a module, a registry line, an entry in
``tests/_manifold_data.py`` and a passing run of this file.  References are
geomstats' maps and metrics on the same points (``SPACES``), never the
package's own formulas.
"""

import numpy as np
import pytest
from _manifold_data import DATA, SPACES, flat, quick_fit
from geomstats.geometry.hyperboloid import Hyperboloid
from geomstats.geometry.hypersphere import Hypersphere

from slowfast_sklearn.geometry import GEOMETRIES, Geometry, is_matrix_manifold, resolve_geometry

REGISTERED = sorted(GEOMETRIES)


def points_shape(geometry, n):
    """How geomstats wants ``n`` points of ``geometry``: rows or p x p matrices."""
    return (n, geometry.p, geometry.p) if geometry.matrix_points else (n, geometry.n_features)


def sample(name, n=60, seed=3):
    X = flat(DATA[name](n, seed=seed))
    return X, resolve_geometry(name, X.shape[1])


def test_every_registered_manifold_has_test_data():
    assert set(DATA) == set(GEOMETRIES) == set(SPACES)


@pytest.mark.parametrize("name", REGISTERED)
def test_registry_entry(name):
    """Named by its key, on the contract's base class, recognising its
    geomstats space (and no other), flags declared."""
    cls = GEOMETRIES[name]
    assert issubclass(cls, Geometry) and cls.name == name
    assert isinstance(cls.flat, bool) and isinstance(cls.matrix_points, bool)
    assert is_matrix_manifold(name) == cls.matrix_points
    X, geometry = sample(name)
    assert cls.from_space(SPACES[name]()) == X.shape[1]
    for other in REGISTERED:
        if other != name:
            assert cls.from_space(SPACES[other]()) is None, other
    assert type(resolve_geometry(SPACES[name](), X.shape[1])) is cls
    assert 1 <= geometry.dim <= geometry.n_features == X.shape[1]


@pytest.mark.parametrize("name", REGISTERED)
def test_membership_and_base_point(name):
    """Its points pass check_points; the base point is on the manifold and
    the tangent mean vanishes there (the Frechet mean's first-order condition)."""
    X, geometry = sample(name, 120)
    geometry.check_points(X)
    base = geometry.base_point(X)
    space = SPACES[name]()
    assert bool(space.belongs(base.reshape(points_shape(geometry, 1)[1:]), atol=1e-10))
    Z = geometry.log(X, base)
    spread = np.sqrt(np.mean(np.sum(Z**2, axis=1)))
    assert np.linalg.norm(Z.mean(axis=0)) < 1e-5 * spread
    floor = geometry.rounding_floor(base, np.float64)
    assert np.all(floor >= 0) and np.all(floor < 1e-6 * np.ptp(Z, axis=0).min())


@pytest.mark.parametrize("name", REGISTERED)
def test_frame_is_orthonormal_in_the_metric(name):
    """to_ambient maps the frame's basis to tangent vectors orthonormal in
    geomstats' inner product at the base point; from_ambient inverts it."""
    X, geometry = sample(name)
    base = geometry.base_point(X)
    space = SPACES[name]()
    V = geometry.to_ambient(np.eye(geometry.dim), base)
    B = base.reshape(points_shape(geometry, 1)[1:])
    vectors = V.reshape(points_shape(geometry, geometry.dim))
    gram = np.array([[float(space.metric.inner_product(a, b, B)) for b in vectors]
                     for a in vectors])
    np.testing.assert_allclose(gram, np.eye(geometry.dim), atol=1e-10)
    assert bool(np.all(space.is_tangent(vectors, B, atol=1e-10)))
    W = np.random.default_rng(0).standard_normal((geometry.dim, 3))
    np.testing.assert_allclose(geometry.from_ambient(geometry.to_ambient(W, base), base), W.T,
                               atol=1e-12)


@pytest.mark.parametrize("name", REGISTERED)
def test_walker_moves_stay_on_the_manifold(name):
    """exp_at of a tangent step is geomstats' exp from each walker's own point;
    walker_log agrees with log where defined."""
    X, geometry = sample(name, 40)
    space = SPACES[name]()
    V = 0.3 * geometry.tangent_noise(X, np.random.default_rng(1))
    Y = geometry.exp_at(V, X)
    geometry.check_points(Y)
    expected = space.metric.exp(V.reshape(points_shape(geometry, len(X))),
                                X.reshape(points_shape(geometry, len(X))))
    np.testing.assert_allclose(Y, np.asarray(expected).reshape(len(X), -1), atol=1e-9)
    base = geometry.base_point(X)
    Z, keep = geometry.walker_log(Y, base)
    assert keep.all()
    np.testing.assert_allclose(Z, geometry.log(Y, base), atol=1e-12)


@pytest.mark.parametrize("name", REGISTERED)
def test_flat_capability_means_coordinates_are_differences(name):
    """A flat manifold's coordinates are x - b exactly (what lets the
    preparation stream moments and read rows off X); a curved one's are not."""
    X, geometry = sample(name)
    base = geometry.base_point(X)
    same = X.shape[1] == geometry.dim and np.array_equal(geometry.log(X, base), X - base)
    assert same == geometry.flat


@pytest.mark.parametrize("name", REGISTERED)
def test_adapter_log_exp_dist_match_geomstats(name):
    """The numpy fast paths equal geomstats' log, exp and dist; exp(log) round-trips."""
    X = flat(DATA[name](60, seed=3))
    geometry = resolve_geometry(name, X.shape[1])
    space = SPACES[name]()
    base = geometry.base_point(X)
    Z = geometry.log(X, base)
    shape = points_shape(geometry, len(X))
    B = base.reshape(shape[1:])
    P = X.reshape(shape)
    ambient = geometry.to_ambient(Z.T, base).reshape(P.shape)
    np.testing.assert_allclose(ambient, space.metric.log(P, B), atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), space.metric.dist(P, B), atol=1e-10)
    np.testing.assert_allclose(geometry.exp(Z, base), X, atol=1e-10)
    np.testing.assert_allclose(
        np.asarray(space.metric.exp(ambient, B)).reshape(len(X), -1), X, atol=1e-10
    )
    # Geodesic kNN: the exact nearest neighbours by geomstats' distance.
    d, idx = geometry.kneighbors(X, Z, 5)
    full = np.asarray(
        space.metric.dist(np.repeat(P, len(X), axis=0), np.tile(P, (len(X),) + (1,) * (P.ndim - 1)))
    ).reshape(len(X), len(X))
    np.fill_diagonal(full, np.inf)
    np.testing.assert_allclose(d, np.sort(full, axis=1)[:, :5], atol=1e-10)


def test_unsupported_space_and_wrong_dimension_raise():
    """Spaces without an adapter, and a space of another dimension, raise ValueError."""
    X = DATA["hypersphere"](50)
    with pytest.raises(ValueError, match="Unsupported manifold Hyperboloid"):
        quick_fit(Hyperboloid(dim=4), X, max_iter=10)
    with pytest.raises(ValueError, match="points with 4 coordinates"):
        quick_fit(Hypersphere(dim=3), X, max_iter=10)


@pytest.mark.parametrize("n_features", [3, 16])  # kd-tree and brute force
@pytest.mark.parametrize("duplicates", [0, 3, 12])
def test_self_kneighbors_is_sklearns_kneighbors(duplicates, n_features, monkeypatch):
    """The chunked search returns scikit-learn's ``kneighbors()`` (self left
    out, including its rule when duplicates outnumber the neighbours), up to
    which of several samples tied for the last place is listed."""
    from sklearn.neighbors import NearestNeighbors

    import slowfast_sklearn.geometry._base as geometry_base
    from slowfast_sklearn.geometry._base import self_kneighbors as _self_kneighbors

    monkeypatch.setattr(geometry_base, "KNN_CHUNK_ENTRIES", 6 * 700)  # 8 chunks
    rng = np.random.default_rng(duplicates)
    X = rng.standard_normal((5000, n_features))
    X[1 : 1 + duplicates] = X[0]
    dist, ind = _self_kneighbors(X, 5)
    nn = NearestNeighbors(n_neighbors=6).fit(X)
    expected_dist, expected_ind = nn.kneighbors(n_neighbors=5)
    np.testing.assert_allclose(dist, expected_dist, rtol=0, atol=1e-12)
    assert ind.dtype == np.int32
    # Equidistant samples may be listed in another order, and a tie for the
    # last place may be broken the other way; elsewhere the sets agree.
    sixth = nn.kneighbors(n_neighbors=6)[0][:, -1]
    clear = sixth > expected_dist[:, -1] + 1e-12
    assert clear.mean() > 0.99
    np.testing.assert_array_equal(np.sort(ind[clear], axis=1), np.sort(expected_ind[clear], axis=1))
    if duplicates < 5:
        assert not np.any(ind == np.arange(len(X))[:, None])


@pytest.mark.parametrize("name", REGISTERED)
def test_mean_shift_matches_geomstats(name):
    """The score's mean-shift vector equals sum_i w_i Log_x(a_i) with geomstats' log and dist."""
    X = flat(DATA[name](50, seed=8))
    geometry = resolve_geometry(name, X.shape[1])
    space = SPACES[name]()
    shape = points_shape(geometry, -1)
    walkers, anchors = X[:6], X[6:]
    sigma2 = 0.05
    P = np.repeat(walkers, len(anchors), axis=0).reshape(shape)
    A = np.tile(anchors, (len(walkers), 1)).reshape(shape)
    logs = np.asarray(space.metric.log(A, P)).reshape(len(walkers), len(anchors), -1)
    dist = np.asarray(space.metric.dist(A, P)).reshape(len(walkers), len(anchors))
    w = np.exp(-(dist**2) / (2 * sigma2))
    w /= w.sum(axis=1, keepdims=True)
    expected = np.einsum("nm,nmj->nj", w, logs)
    np.testing.assert_allclose(geometry.mean_shift(walkers, anchors, sigma2), expected, atol=1e-10)


@pytest.mark.parametrize("name", REGISTERED)
def test_tangent_noise_has_the_inverse_metric_covariance(name):
    """xi ~ N(0, g^-1): in orthonormal coordinates at x its covariance is I."""
    X = flat(DATA[name](3, seed=9))
    geometry = resolve_geometry(name, X.shape[1])
    x = X[:1]
    rng = np.random.default_rng(4)
    xi = geometry.tangent_noise(np.repeat(x, 20000, axis=0), rng)
    Z = geometry.from_ambient(xi, x[0])  # orthonormal frame coordinates at x
    np.testing.assert_allclose(np.cov(Z.T), np.eye(geometry.dim), atol=0.05)
