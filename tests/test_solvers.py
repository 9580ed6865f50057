"""The three solvers reach the same subspace and keep the estimator's guarantees."""

import numpy as np
import pytest
from _helpers import gaussian_data
from scipy.linalg import eigh, subspace_angles

from slowfast_sklearn import CoupledFlowEmbedding


@pytest.fixture(scope="module")
def data():
    X = gaussian_data(n=2000, seed=3)
    Z = X - X.mean(axis=0)
    V = eigh(Z.T @ Z)[1][:, ::-1]
    return X, V


@pytest.fixture(scope="module")
def fits(data):
    X, _ = data
    kwargs = dict(n_components=3, random_state=0)
    return {
        "averaged": CoupledFlowEmbedding(solver="averaged", **kwargs).fit(X),
        "mean_field": CoupledFlowEmbedding(solver="mean_field", **kwargs).fit(X),
        "stochastic": CoupledFlowEmbedding(solver="stochastic", tol=3e-3, max_iter=6000, **kwargs).fit(X),
    }


def test_deterministic_solvers_agree_to_1e_6(data, fits):
    _, V = data
    for name in ("averaged", "mean_field"):
        assert subspace_angles(fits[name].components_.T, V[:, :3]).max() < 1e-6
    angle = subspace_angles(fits["averaged"].components_.T, fits["mean_field"].components_.T).max()
    assert angle < 1e-6


def test_stochastic_solver_agrees(data, fits):
    """The walkers' estimate is statistical: with tol=3e-3 it lands within 1e-2 rad."""
    _, V = data
    assert subspace_angles(fits["stochastic"].components_.T, V[:, :3]).max() < 1e-2


@pytest.mark.parametrize("solver", ["averaged", "mean_field", "stochastic"])
def test_solver_guarantees(data, fits, solver):
    X, _ = data
    est = fits[solver]
    W = est.components_
    np.testing.assert_allclose(W @ W.T, np.eye(3), atol=1e-10)
    assert est.converged_
    assert np.all(np.isfinite(est.lyapunov_))
    assert np.all(np.diff(est.explained_variance_) <= 0)
    assert np.all(np.isfinite(est.transform(X)))


def test_averaged_solver_needs_no_graph_at_temperature_one(monkeypatch, data):
    """At temperature 1 pi is uniform for any graph: the averaged solver skips the kNN search."""
    import slowfast_sklearn.geometry.euclidean as geometry

    X, V = data

    def fail(*args, **kwargs):
        raise AssertionError("kNN graph built")

    monkeypatch.setattr(geometry.EuclideanGeometry, "kneighbors", fail)
    est = CoupledFlowEmbedding(n_components=2, solver="averaged").fit(X)
    assert subspace_angles(est.components_.T, V[:, :2]).max() < 1e-6
    np.testing.assert_allclose(est.stationary_measure_, 1.0 / len(X))


def test_tempered_solvers_agree():
    """Away from temperature 1 the deterministic solvers learn the same tempered subspace."""
    X = gaussian_data(n=800, seed=4)
    kwargs = dict(n_components=2, temperature=0.6, random_state=0)
    a = CoupledFlowEmbedding(solver="averaged", **kwargs).fit(X)
    m = CoupledFlowEmbedding(solver="mean_field", max_iter=6000, **kwargs).fit(X)
    assert subspace_angles(a.components_.T, m.components_.T).max() < 1e-4
    np.testing.assert_allclose(a.stationary_measure_, m.stationary_measure_)


@pytest.mark.parametrize("manifold", ["hypersphere", "poincare_ball"])
def test_solvers_agree_on_curved_manifolds(manifold):
    """The deterministic solvers learn the same tangent subspace on curved data."""
    rng = np.random.default_rng(0)
    V = rng.standard_normal((1500, 5)) * [1.0, 0.5, 0.3, 0.1, 0.05]
    if manifold == "hypersphere":
        X = V + [0, 0, 0, 0, 3.0]
        X /= np.linalg.norm(X, axis=1, keepdims=True)
    else:
        X = 0.1 * V / (1.0 + 0.1 * np.linalg.norm(V, axis=1, keepdims=True))
    kwargs = dict(n_components=2, manifold=manifold, random_state=0)
    a = CoupledFlowEmbedding(solver="averaged", **kwargs).fit(X)
    m = CoupledFlowEmbedding(solver="mean_field", **kwargs).fit(X)
    s = CoupledFlowEmbedding(solver="stochastic", **kwargs).fit(X)
    assert subspace_angles(a.components_.T, m.components_.T).max() < 1e-6
    assert subspace_angles(a.components_.T, s.components_.T).max() < 0.05


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-20, 1e20, 1e150])
def test_averaged_solver_at_the_ends_of_the_float_range(data, scale):
    """The streaming path reads the spreads off C_pi, and falls back to an exact
    power-of-two pre-scaling when the squares under- or overflow."""
    X, V = data
    est = CoupledFlowEmbedding(n_components=2, solver="averaged").fit(X * scale)
    assert subspace_angles(est.components_.T, V[:, :2]).max() < 1e-6
    reference = CoupledFlowEmbedding(n_components=2, solver="averaged").fit(X)
    np.testing.assert_allclose(est.explained_variance_ratio_, reference.explained_variance_ratio_, rtol=1e-9)


def test_averaged_solver_gives_constant_features_zero_weight(data):
    X, _ = data
    Xc = X.copy()
    Xc[:, [1, 5]] = [3.0, -2.0]
    est = CoupledFlowEmbedding(n_components=3, solver="averaged").fit(Xc)
    assert np.all(est.components_[:, [1, 5]] == 0.0)
    Z = np.delete(Xc, [1, 5], axis=1)
    Z = Z - Z.mean(axis=0)
    V = np.zeros((X.shape[1], 3))
    V[np.setdiff1d(np.arange(X.shape[1]), [1, 5])] = eigh(Z.T @ Z)[1][:, ::-1][:, :3]
    assert subspace_angles(est.components_.T, V).max() < 1e-6
