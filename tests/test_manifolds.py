"""CoupledFlowEmbedding on curved manifolds: hypersphere, Poincare ball, SPD.

References are computed without the package: geomstats' log / exp / dist /
inner product, ``scipy.linalg`` matrix functions and numpy's ``eigh``, and
geomstats' ``TangentPCA``.  pytest runs with ``filterwarnings = error``, so
every fit outside ``pytest.warns`` also checks that it warns about nothing.
"""

import pickle
import warnings

import numpy as np
import pytest
from _manifold_data import DATA, SPACES, flat
from geomstats.geometry.hyperboloid import Hyperboloid
from geomstats.geometry.hypersphere import Hypersphere
from geomstats.geometry.poincare_ball import PoincareBall
from geomstats.learning.pca import TangentPCA
from scipy import linalg
from sklearn.exceptions import ConvergenceWarning

from slowfast_sklearn import CoupledFlowEmbedding
from slowfast_sklearn.geometry import resolve_geometry

MANIFOLDS = ["hypersphere", "poincare_ball", "spd"]
DIMS = {"hypersphere": 4, "poincare_ball": 4, "spd": 6}
#: largest principal angle allowed against exact tangent PCA (the issue's bar).
ANGLE_BAR = 0.05


def _fit(name, X, **params):
    params.setdefault("random_state", 0)
    return CoupledFlowEmbedding(manifold=name, **params).fit(X)


def _quick_fit(name, X, **params):
    """A fit with a small budget, for tests of the maps rather than of the
    dynamics: too short for the stopping rule, so its warning is ignored."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _fit(name, X, **params)


@pytest.fixture(scope="module", params=MANIFOLDS)
def fitted(request):
    """(name, data, estimator fitted with the default settings)."""
    name = request.param
    X = DATA[name]()
    return name, X, _fit(name, X)


def orthonormal_coordinates(name, V, base):
    """Coordinates of ambient tangent vectors at ``base`` in an orthonormal
    basis of the metric, computed independently of the package.

    Sphere: the ambient coordinates themselves (the round metric is the
    Euclidean one restricted to b-perp).  Ball: ``lambda_b v`` (conformal
    metric).  SPD: ``b^-1/2 v b^-1/2`` (scipy), upper triangle with the
    off-diagonal entries times sqrt(2).
    """
    V = np.asarray(V, dtype=np.float64)
    if name == "hypersphere":
        return V.reshape(V.shape[0], -1)
    if name == "poincare_ball":
        return V * 2.0 / (1.0 - base @ base)
    B = base.reshape(3, 3)
    inv_half = linalg.inv(linalg.sqrtm(B).real)
    T = inv_half @ V.reshape(-1, 3, 3) @ inv_half
    iu = np.triu_indices(3)
    return T[:, iu[0], iu[1]] * np.where(iu[0] == iu[1], 1.0, np.sqrt(2.0))


def tangent_pca(name, X, base, k):
    """Exact tangent PCA at ``base``: geomstats log, then numpy eigh."""
    space = SPACES[name]()
    B = base.reshape(3, 3) if name == "spd" else base
    logs = np.asarray(space.metric.log(X, B))
    Z = orthonormal_coordinates(name, logs.reshape(len(X), -1), base)
    C = Z.T @ Z / len(Z)
    eigenvalues, vectors = np.linalg.eigh(C)
    return vectors[:, ::-1][:, :k], eigenvalues[::-1], logs


def max_angle(A, B):
    return float(np.max(linalg.subspace_angles(A, B)))


# --------------------------------------------------------------------------
# the learned subspace
# --------------------------------------------------------------------------


def test_base_point_is_the_frechet_mean(fitted):
    """sum_i Log_b x_i = 0 at mean_ (geomstats log), and mean_ is on the manifold."""
    name, X, emb = fitted
    space = SPACES[name]()
    base = emb.mean_.reshape(3, 3) if name == "spd" else emb.mean_
    assert bool(space.belongs(base))
    logs = np.asarray(space.metric.log(X, base)).reshape(len(X), -1)
    mean_log = orthonormal_coordinates(name, logs.mean(axis=0, keepdims=True), emb.mean_)
    spread = np.sqrt(np.mean(np.sum(orthonormal_coordinates(name, logs, emb.mean_) ** 2, 1)))
    # The tightened optimiser stops at |tangent mean|**2 <= 1e-12 dim (geomstats
    # defaults leave about 1e-2, theory.md section 1).
    assert np.linalg.norm(mean_log) < 1e-5 * spread


def test_subspace_matches_exact_tangent_pca(fitted):
    """Default settings: largest principal angle to exact tangent PCA < 0.05 rad."""
    name, X, emb = fitted
    V, eigenvalues, _ = tangent_pca(name, X, emb.mean_.astype(np.float64), 2)
    assert eigenvalues[1] > 3 * eigenvalues[2]  # the data have a clear gap
    ours = orthonormal_coordinates(name, emb.components_, emb.mean_).T
    assert max_angle(ours, V) < ANGLE_BAR
    # Explained variances are the tangent-PCA eigenvalues (Bessel-corrected).
    n = len(X)
    np.testing.assert_allclose(emb.explained_variance_, eigenvalues[:2] * n / (n - 1), rtol=0.02)


def test_components_orthonormal_in_the_metric(fitted):
    """Gram matrix of components_ under geomstats' inner product at mean_ is I."""
    name, X, emb = fitted
    space = SPACES[name]()
    C = emb.components_.reshape((2, 3, 3) if name == "spd" else (2, -1))
    base = emb.mean_.reshape(3, 3) if name == "spd" else emb.mean_
    gram = np.array(
        [[float(space.metric.inner_product(a, b, base)) for b in C] for a in C]
    )
    np.testing.assert_allclose(gram, np.eye(2), atol=1e-10)
    assert bool(np.all(space.is_tangent(C, base, atol=1e-10)))


def test_agrees_with_geomstats_tangent_pca(fitted):
    """geomstats TangentPCA at the same base point spans the same subspace.

    (Not for SPD: TangentPCA vectorises the raw log with the unweighted upper
    triangle, i.e. not in an orthonormal frame of the affine metric
    (geomstats issues #1878, #785), so its subspace differs by design.)
    """
    name, X, emb = fitted
    if name == "spd":
        pytest.skip("TangentPCA on SPD ignores the affine metric (see docstring)")
    tpca = TangentPCA(SPACES[name](), n_components=2).fit(X, base_point=emb.mean_)
    assert max_angle(tpca.components_.T, emb.components_.T) < ANGLE_BAR


def test_transform_is_log_then_projection(fitted):
    """transform(X) = <Log_b x, c_j>_b with geomstats' log, and transform(mean_) = 0."""
    name, X, emb = fitted
    _, _, logs = tangent_pca(name, X[:50], emb.mean_, 2)
    Z = orthonormal_coordinates(name, logs.reshape(50, -1), emb.mean_)
    C = orthonormal_coordinates(name, emb.components_, emb.mean_)
    np.testing.assert_allclose(emb.transform(X[:50]), Z @ C.T, atol=1e-10)
    np.testing.assert_allclose(emb.transform(emb.mean_[None, :]), 0.0, atol=1e-12)


# --------------------------------------------------------------------------
# maps and round trips
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", MANIFOLDS)
def test_adapter_log_exp_dist_match_geomstats(name):
    """The numpy fast paths equal geomstats' log, exp and dist; exp(log) round-trips."""
    X = flat(DATA[name](60, seed=3))
    geometry = resolve_geometry(name, X.shape[1])
    space = SPACES[name]()
    base = geometry.base_point(X)
    Z = geometry.log(X, base)
    shape = (-1, 3, 3) if name == "spd" else (len(X), -1)
    B = base.reshape(3, 3) if name == "spd" else base
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


@pytest.mark.parametrize("name", MANIFOLDS)
def test_inverse_transform_round_trip_at_full_rank(name):
    """At n_components = dim, inverse_transform(transform(X)) = X, on the manifold."""
    X = DATA[name](200, seed=1)
    emb = _quick_fit(name, X, n_components=DIMS[name], max_iter=600, n_walkers=256, tol=1.0)
    back = emb.inverse_transform(emb.transform(X))
    np.testing.assert_allclose(back, flat(X), atol=1e-8)
    # A reduced reconstruction is a point of the manifold too.
    emb2 = _quick_fit(name, X, n_components=2, max_iter=300, n_walkers=128, tol=1.0)
    space = SPACES[name]()
    rec = emb2.inverse_transform(emb2.transform(X))
    assert bool(np.all(space.belongs(rec.reshape(X.shape), atol=1e-8)))


def test_spd_accepts_matrices_and_rows():
    """(n, p, p) and flattened (n, p*p) input give the same fit and features."""
    X = DATA["spd"](200, seed=2)
    a = _quick_fit("spd", X, max_iter=300, n_walkers=128, tol=1.0)
    b = _quick_fit("spd", flat(X), max_iter=300, n_walkers=128, tol=1.0)
    np.testing.assert_array_equal(a.components_, b.components_)
    np.testing.assert_array_equal(a.transform(X), b.transform(flat(X)))
    assert a.n_features_in_ == 9


@pytest.mark.parametrize("name", MANIFOLDS)
def test_geomstats_space_object_gives_the_same_result(name):
    """manifold=Hypersphere(dim=4) (etc.) equals manifold='hypersphere'."""
    X = DATA[name](200, seed=4)
    params = dict(max_iter=300, n_walkers=128, tol=1.0)
    a = _quick_fit(name, X, **params)
    b = _quick_fit(SPACES[name](), X, **params)
    np.testing.assert_array_equal(a.components_, b.components_)
    np.testing.assert_array_equal(a.mean_, b.mean_)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_unsupported_space_and_wrong_dimension_raise():
    """Spaces without an adapter, and a space of another dimension, raise ValueError."""
    X = DATA["hypersphere"](50)
    with pytest.raises(ValueError, match="Unsupported manifold Hyperboloid"):
        _quick_fit(Hyperboloid(dim=4), X, max_iter=10)
    with pytest.raises(ValueError, match="points with 4 coordinates"):
        _quick_fit(Hypersphere(dim=3), X, max_iter=10)


def test_float32_normalised_sphere_points_pass_and_keep_dtype():
    """Rows normalised in float32 (|x| = 1 up to 1e-7) are accepted; output stays float32."""
    X = DATA["hypersphere"](200, seed=5) * 1.0000001
    X32 = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    emb = _quick_fit("hypersphere", X32, max_iter=300, n_walkers=128, tol=1.0)
    assert emb.components_.dtype == np.float32
    assert emb.transform(X32).dtype == np.float32
    assert emb.inverse_transform(emb.transform(X32)).dtype == np.float32
    # float32 rows normalised, then cast up, pass in float64 as well.
    _quick_fit("hypersphere", X32.astype(np.float64), max_iter=50, n_walkers=64, tol=1.0)


def test_pickle_keeps_only_arrays():
    """A fitted manifold estimator pickles, and its attributes are arrays or scalars."""
    X = DATA["hypersphere"](150)
    emb = _quick_fit("hypersphere", X, max_iter=200, n_walkers=64, tol=1.0)
    again = pickle.loads(pickle.dumps(emb))
    np.testing.assert_array_equal(again.transform(X), emb.transform(X))
    for key, value in vars(emb).items():
        if key.endswith("_") and not key.startswith("_"):
            assert isinstance(value, (np.ndarray, int, float, bool, np.generic)), key


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------


def _off_manifold(case):
    X = flat(DATA[case[0]](60, seed=6)).copy()
    if case[1] == "norm-2":
        X[7] *= 2.0
    elif case[1] == "on-boundary":
        X[7] /= np.linalg.norm(X[7])
    elif case[1] == "outside":
        X[7] *= 3.0 / np.linalg.norm(X[7])
    elif case[1] == "non-symmetric":
        X[7, 1] += 0.3
    elif case[1] == "indefinite":
        X[7] = np.diag([1.0, -0.5, 2.0]).ravel()
    return X


OFF = [
    (("hypersphere", "norm-2"), r"'hypersphere'.*deviation \| \|x\| - 1 \| is 1 "),
    (("poincare_ball", "on-boundary"), r"'poincare_ball'.*largest norm is 1"),
    (("poincare_ball", "outside"), r"'poincare_ball'.*largest norm is 3.*deviation beyond the boundary 2.*Scale X"),
    (("spd", "non-symmetric"), r"'spd'.*not symmetric.*deviation"),
    (("spd", "indefinite"), r"'spd'.*not positive definite.*-0.25"),
]


@pytest.mark.parametrize("case, match", OFF, ids=["-".join(c) for c, _ in OFF])
def test_off_manifold_input_is_rejected_in_fit_and_transform(case, match):
    """Off-manifold points raise ValueError naming the manifold and the deviation."""
    name = case[0]
    bad = _off_manifold(case)
    with pytest.raises(ValueError, match=match):
        _quick_fit(name, bad, max_iter=10)
    emb = _quick_fit(name, flat(DATA[name](60, seed=6)), max_iter=50, n_walkers=32, tol=1.0)
    with pytest.raises(ValueError, match=match):
        emb.transform(bad)
    with pytest.raises(ValueError, match=match):
        emb.score_samples(bad)


@pytest.mark.parametrize("name", MANIFOLDS)
def test_n_components_above_the_manifold_dimension_raises(name):
    X = DATA[name](50)
    with pytest.raises(ValueError, match=f"n_components={DIMS[name] + 1} must be at most"):
        _quick_fit(name, X, n_components=DIMS[name] + 1, max_iter=10)


def test_bad_layouts_raise():
    """SPD needs a square number of columns; the sphere at least 2."""
    with pytest.raises(ValueError, match="perfect square"):
        _quick_fit("spd", np.eye(2)[None].repeat(5, 0).reshape(5, 4)[:, :3], max_iter=10)
    with pytest.raises(ValueError, match="1 feature"):
        _quick_fit("hypersphere", np.ones((5, 1)), max_iter=10)


def test_antipodal_cloud_is_refused():
    """An antipodally symmetric cloud has no unique Frechet mean: clear ValueError."""
    X = DATA["hypersphere"](100)
    with pytest.raises(ValueError, match="not unique"):
        _quick_fit("hypersphere", np.vstack([X, -X]), max_iter=10)


def test_cloud_beyond_a_hemisphere_warns():
    """Data reaching farther than pi/2 from the mean get a uniqueness warning."""
    rng = np.random.default_rng(0)
    north = np.array([0.0, 0.0, 1.0])
    X = rng.standard_normal((300, 3)) * [1.0, 1.0, 0.3] + 0.6 * north
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    with pytest.warns(UserWarning, match="open hemisphere"):
        _quick_fit("hypersphere", X, max_iter=10, tol=1.0)


def test_log_at_the_cut_locus_raises_instead_of_returning_zero():
    """geomstats 2.8 returns Log_b(-b) = 0; transform refuses the point."""
    X = DATA["hypersphere"](100)
    emb = _quick_fit("hypersphere", X, max_iter=50, n_walkers=32, tol=1.0)
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
    emb = _quick_fit("hypersphere", X, n_components=1, max_iter=20)
    np.testing.assert_allclose(np.arctan2(emb.mean_[1], emb.mean_[0]), t.mean(), atol=1e-12)
    np.testing.assert_allclose(np.abs(emb.transform(X)[:, 0]), np.abs(t - t.mean()), atol=1e-12)


def test_one_by_one_spd_is_the_positive_half_line():
    """p = 1: positive numbers with d(a, b) = |log(a / b)|.  The mean is the
    geometric mean, transform the log-ratio to it (geomstats' SPDMatrices(n=1)
    fails inside its eigh, so the fit raised a numpy matmul ValueError)."""
    X = np.array([[1.21632], [0.36787945], [2.0], [0.5]])
    emb = _quick_fit("spd", X, n_components=1, max_iter=20, n_neighbors=2)
    np.testing.assert_allclose(emb.mean_, [np.exp(np.log(X).mean())], rtol=1e-14)
    np.testing.assert_allclose(
        np.abs(emb.transform(X)[:, 0]), np.abs(np.log(X[:, 0] / emb.mean_[0])), atol=1e-12
    )


def test_ball_mean_of_far_apart_samples_near_the_boundary():
    """Three samples within 1e-6 of the boundary, about 27 apart: geomstats'
    FrechetMean (fixed step 1) overshot to the boundary and returned NaN
    (after a RuntimeWarning from its arctanh), so the fit raised 'X has zero
    variance'.  The Karcher flow with step halving finds the mean."""
    X = np.array(
        [[-0.28443822, 0.0, 0.5577979, 0.7797143],
         [0.38333252, 0.0, 0.7867555, 0.4838078],
         [-0.4665948, 0.0, -0.08398147, 0.880474]],
        dtype=np.float32,
    ).astype(np.float64)
    emb = _quick_fit("poincare_ball", X, n_components=2, max_iter=5, n_neighbors=1)
    base = emb.mean_
    assert np.all(np.isfinite(base)) and base @ base < 1.0
    # Stationarity with geomstats' log, at the points as the adapter sees
    # them (kept at norm <= 1 - BALL_MARGIN).
    norm = np.linalg.norm(X, axis=1, keepdims=True)
    seen = X * np.minimum(1.0, (1.0 - 1e-6) / norm)
    logs = np.asarray(PoincareBall(dim=4).metric.log(seen, base)) * 2.0 / (1.0 - base @ base)
    spread = np.sqrt(np.mean(np.sum(logs**2, axis=1)))
    assert np.linalg.norm(logs.mean(axis=0)) < 1e-5 * spread
    assert np.all(np.isfinite(emb.transform(X)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e-8, 1e-15])
def test_small_ball_cloud_at_the_origin_is_not_constant(dtype, scale):
    """Near the origin the ball is flat to rounding: a cloud of radius 1e-8
    in float32 (or 1e-15 in float64) is well resolved, but an absolute
    floor of 64 eps in tangent units called it 'zero variance'."""
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((20, 3)) * scale).astype(dtype)
    emb = _quick_fit("poincare_ball", X, n_components=2, max_iter=20, n_walkers=8)
    assert emb.components_.dtype == dtype
    assert np.all(np.isfinite(emb.transform(X)))
    # Tangent units are lambda_0 = 2 times ambient: variances near 4 scale^2.
    total = 4.0 * X.astype(np.float64).var(axis=0, ddof=1).sum()
    assert 0.3 * total < emb.explained_variance_.astype(np.float64).sum() <= 1.01 * total


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
