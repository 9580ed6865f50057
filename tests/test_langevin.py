"""Kernel B, the Riemannian Langevin walkers: theory.md section 7 prediction 4.

The walkers are run with the module's functions directly; expectations come
from numpy (covariances, eigenvectors, a brute-force MMD) and geomstats
(membership of the walkers).
"""

import numpy as np
import pytest
from _helpers import gaussian_data
from _manifold_data import DATA, SPACES, flat
from scipy import linalg

from slowfast_sklearn import CoupledFlowEmbedding
from slowfast_sklearn.geometry import resolve_geometry
from slowfast_sklearn.fast.langevin import langevin_step, mmd2


def _sigma2(X, geometry, n_neighbors=15):
    """sigma**2 = eps / 2, eps the median squared distance to the 15th neighbour."""
    Z = geometry.log(X, geometry.base_point(X))
    d, _ = geometry.kneighbors(X, Z, n_neighbors)
    return float(np.median(d[:, -1] ** 2)) / 2.0


def test_stationary_covariance_is_data_plus_sigma2():
    """Prediction 4 (R^8, beta = 1, n = 300, 64 walkers, 600 steps):
    eigenvalues of the walkers' covariance are lambda_i + sigma**2 within 15%,
    the top eigenvector within 10 degrees."""
    X = gaussian_data(n=300, seed=0)
    geometry = resolve_geometry("euclidean", X.shape[1])
    sigma2 = _sigma2(X, geometry)
    rng = np.random.default_rng(0)
    walkers = X[rng.choice(len(X), 64, replace=False)]
    pooled = []
    for t in range(600):
        walkers = langevin_step(geometry, walkers, X, sigma2, 0.25 * sigma2, 1.0, rng)
        if t >= 300 and t % 10 == 0:
            pooled.append(walkers)
    W = np.concatenate(pooled)
    lam_w, V_w = np.linalg.eigh(np.cov(W.T))
    lam_x, V_x = np.linalg.eigh(np.cov(X.T, bias=True))
    predicted = lam_x[::-1] + sigma2
    np.testing.assert_allclose(lam_w[::-1][:3], predicted[:3], rtol=0.15)
    cos = abs(V_w[:, -1] @ V_x[:, -1])
    assert np.degrees(np.arccos(min(cos, 1.0))) < 10.0


def _gaussian_kernel_mmd2(A, B, bandwidth):
    """Brute-force V-statistic MMD**2 (independent of the package)."""
    def k(P, Q):
        return np.exp(-((P[:, None, :] - Q[None, :, :]) ** 2).sum(-1) / bandwidth)
    return k(A, A).mean() + k(B, B).mean() - 2 * k(A, B).mean()


def test_mmd2_matches_brute_force():
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((30, 3)), rng.standard_normal((40, 3)) + 0.5
    assert mmd2(A, B, 2.0) == pytest.approx(_gaussian_kernel_mmd2(A, B, 2.0), rel=1e-10)
    assert mmd2(A, A, 2.0) == pytest.approx(0.0, abs=1e-12)


def test_walkers_approach_the_data_on_s2():
    """Prediction 4 on S^2: MMD**2(walkers, data) < MMD**2(uniform, data) / 3."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 3)) * [0.3, 0.15, 0.0] + [0.0, 0.0, 1.0]
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    geometry = resolve_geometry("hypersphere", 3)
    sigma2 = _sigma2(X, geometry)
    # Walkers start uniform on the sphere, away from the data.
    walkers = rng.standard_normal((200, 3))
    walkers /= np.linalg.norm(walkers, axis=1, keepdims=True)
    uniform = walkers.copy()
    for _ in range(600):
        walkers = langevin_step(geometry, walkers, X, sigma2, 0.25 * sigma2, 1.0, rng)
    bandwidth = 0.5
    assert _gaussian_kernel_mmd2(walkers, X, bandwidth) < _gaussian_kernel_mmd2(uniform, X, bandwidth) / 3


@pytest.mark.parametrize("name", ["hypersphere", "poincare_ball", "spd"])
def test_walkers_stay_on_the_manifold(name):
    """After 200 steps at a high temperature every walker belongs (geomstats)."""
    X = flat(DATA[name](200, seed=7))
    geometry = resolve_geometry(name, X.shape[1])
    sigma2 = _sigma2(X, geometry)
    rng = np.random.default_rng(3)
    walkers = X[:64].copy()
    for _ in range(200):
        # beta = 0.2: large noise, the hardest case for staying on M.
        walkers = langevin_step(geometry, walkers, X, sigma2, 0.25 * sigma2, 0.2, rng)
    assert np.all(np.isfinite(walkers))
    space = SPACES[name]()
    points = walkers.reshape(-1, 3, 3) if name == "spd" else walkers
    assert bool(np.all(space.belongs(points, atol=1e-10)))
    geometry.check_points(walkers)


def test_estimator_langevin_kernel_on_the_sphere():
    """kernel='langevin' learns tangent PCA's subspace and logs MMD**2 in lyapunov_[:, 0]."""
    X = DATA["hypersphere"](300, seed=10)
    emb = CoupledFlowEmbedding(
        manifold="hypersphere", kernel="langevin", n_walkers=128, max_iter=1000, random_state=0
    ).fit(X)
    base = emb.mean_
    space = SPACES["hypersphere"]()
    logs = np.asarray(space.metric.log(X, base))
    vals, vecs = np.linalg.eigh(logs.T @ logs)
    assert np.max(linalg.subspace_angles(emb.components_.T, vecs[:, -2:])) < 0.05
    mmd = emb.lyapunov_[:, 0]
    assert np.all(mmd >= 0) and mmd[-1] < 0.05
    assert emb.converged_


def test_langevin_rejects_a_scale_its_kernel_width_cannot_hold():
    """Flat data near 1e-163: the walkers' squared kernel width in X's units
    underflows float64, so the fit says so instead of dividing by zero."""
    rng = np.random.default_rng(0)
    X = np.ldexp(rng.standard_normal((200, 3)) * [3.0, 1.0, 0.3], -540)
    est = CoupledFlowEmbedding(2, kernel="langevin", n_walkers=64, max_iter=100, random_state=0)
    with pytest.raises(ValueError, match="out of range for kernel='langevin'.*underflows"):
        est.fit(X)


def _tempered_kde_covariance(X, sigma2, beta, n=10_000, seed=1):
    """Covariance of the law ~ p_sigma**beta, p_sigma the Gaussian KDE of X,
    by self-normalised importance sampling from a wide Gaussian (numpy and
    scipy only)."""
    from scipy.special import logsumexp

    rng = np.random.default_rng(seed)
    centre = X.mean(axis=0)
    proposal = (np.cov(X.T, bias=True) + sigma2 * np.eye(X.shape[1])) * 1.5 / beta
    Y = centre + rng.standard_normal((n, X.shape[1])) @ np.linalg.cholesky(proposal).T
    d2 = (Y**2).sum(axis=1)[:, None] - 2.0 * Y @ X.T + (X**2).sum(axis=1)[None, :]
    D = Y - centre
    log_w = beta * logsumexp(-d2 / (2.0 * sigma2), axis=1) + 0.5 * np.einsum(
        "ij,ij->i", D @ np.linalg.inv(proposal), D)
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    assert 1.0 / np.sum(w**2) > 0.3 * n  # effective sample size of the weights
    mean = w @ Y
    return ((Y - mean) * w[:, None]).T @ (Y - mean)


@pytest.mark.parametrize("beta", [0.5, 2.0])
def test_stationary_covariance_at_other_temperatures(beta):
    """Prediction 4 at beta = 0.5 and 2 (R^8, n = 300, 128 walkers, 600
    steps): the walkers' covariance is that of p_sigma**beta (computed by
    importance sampling) within 15% (the O(h) bias of the step), top
    eigenvector within 10 degrees; p_sigma itself (beta = 1) is 2x off."""
    X = gaussian_data(n=300, seed=0)
    geometry = resolve_geometry("euclidean", X.shape[1])
    sigma2 = _sigma2(X, geometry)
    rng = np.random.default_rng(0)
    walkers = X[rng.choice(len(X), 128, replace=False)]
    pooled = []
    for t in range(600):
        walkers = langevin_step(geometry, walkers, X, sigma2, 0.25 * sigma2, beta, rng)
        if t >= 200 and t % 10 == 0:
            pooled.append(walkers)
    lam_w, V_w = np.linalg.eigh(np.cov(np.concatenate(pooled).T))
    lam_t, V_t = np.linalg.eigh(_tempered_kde_covariance(X, sigma2, beta))
    np.testing.assert_allclose(lam_w[::-1][:3], lam_t[::-1][:3], rtol=0.15)
    cos = abs(V_w[:, -1] @ V_t[:, -1])
    assert np.degrees(np.arccos(min(cos, 1.0))) < 10.0
    untempered = np.linalg.eigvalsh(_tempered_kde_covariance(X, sigma2, 1.0))[::-1][:3]
    assert np.all(np.abs(np.log(untempered / lam_t[::-1][:3])) > np.log(1.8))
