"""CoupledFlowEmbedding on curved manifolds: hypersphere, Poincare ball, SPD.

The estimator's guarantees on each curved manifold (the adapters' own
contract is ``test_geometry.py``, each manifold's special cases its own
file).  References are computed without the package: geomstats' log / exp /
dist / inner product, ``scipy.linalg`` matrix functions and numpy's
``eigh``, and geomstats' ``TangentPCA``.  pytest runs with ``filterwarnings
= error``, so every fit outside ``pytest.warns`` also checks that it warns
about nothing.
"""

import numpy as np
import pytest
from _manifold_data import DATA, SPACES, fit, flat, quick_fit
from geomstats.learning.pca import TangentPCA
from scipy import linalg

MANIFOLDS = ["hypersphere", "poincare_ball", "spd"]
DIMS = {"hypersphere": 4, "poincare_ball": 4, "spd": 6}
#: largest principal angle allowed against exact tangent PCA (the issue's bar).
ANGLE_BAR = 0.05


@pytest.fixture(scope="module", params=MANIFOLDS)
def fitted(request):
    """(name, data, estimator fitted with the default settings)."""
    name = request.param
    X = DATA[name]()
    return name, X, fit(name, X)


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
def test_inverse_transform_round_trip_at_full_rank(name):
    """At n_components = dim, inverse_transform(transform(X)) = X, on the manifold."""
    X = DATA[name](200, seed=1)
    emb = quick_fit(name, X, n_components=DIMS[name], max_iter=600, n_walkers=256, tol=1.0)
    back = emb.inverse_transform(emb.transform(X))
    np.testing.assert_allclose(back, flat(X), atol=1e-8)
    # A reduced reconstruction is a point of the manifold too.
    emb2 = quick_fit(name, X, n_components=2, max_iter=300, n_walkers=128, tol=1.0)
    space = SPACES[name]()
    rec = emb2.inverse_transform(emb2.transform(X))
    assert bool(np.all(space.belongs(rec.reshape(X.shape), atol=1e-8)))


@pytest.mark.parametrize("name", MANIFOLDS)
def test_geomstats_space_object_gives_the_same_result(name):
    """manifold=Hypersphere(dim=4) (etc.) equals manifold='hypersphere'."""
    X = DATA[name](200, seed=4)
    params = dict(max_iter=300, n_walkers=128, tol=1.0)
    a = quick_fit(name, X, **params)
    b = quick_fit(SPACES[name](), X, **params)
    np.testing.assert_array_equal(a.components_, b.components_)
    np.testing.assert_array_equal(a.mean_, b.mean_)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


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
        quick_fit(name, bad, max_iter=10)
    emb = quick_fit(name, flat(DATA[name](60, seed=6)), max_iter=50, n_walkers=32, tol=1.0)
    with pytest.raises(ValueError, match=match):
        emb.transform(bad)
    with pytest.raises(ValueError, match=match):
        emb.score_samples(bad)


@pytest.mark.parametrize("name", MANIFOLDS)
def test_n_components_above_the_manifold_dimension_raises(name):
    X = DATA[name](50)
    with pytest.raises(ValueError, match=f"n_components={DIMS[name] + 1} must be at most"):
        quick_fit(name, X, n_components=DIMS[name] + 1, max_iter=10)


def test_bad_layouts_raise():
    """SPD needs a square number of columns; the sphere at least 2."""
    with pytest.raises(ValueError, match="perfect square"):
        quick_fit("spd", np.eye(2)[None].repeat(5, 0).reshape(5, 4)[:, :3], max_iter=10)
    with pytest.raises(ValueError, match="1 feature"):
        quick_fit("hypersphere", np.ones((5, 1)), max_iter=10)


