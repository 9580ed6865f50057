"""The variance-reduced walkers (``solvers/variance_reduced.py``), the default solver.

Their stopping statistics against independent computations, the walkers'
share of the work, the subspace they reach against the exact eigenvectors
of ``C_pi`` (numpy's ``eigh``) at several temperatures, on small gaps and on
a spectrum spanning twelve orders of magnitude, and how ``solver="auto"``
picks them.
"""

import re
import warnings

import numpy as np
import pytest
from _helpers import EIGENVALUES, Walk, gaussian_data
from scipy.linalg import eigh, subspace_angles
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import slowfast_sklearn._rows as rows_module
from slowfast_sklearn._hebbian import hebbian_direction
from slowfast_sklearn import CoupledFlowEmbedding
from slowfast_sklearn.fast import FAST_PROCESSES
from slowfast_sklearn.fast.graph import GraphWalkers
from slowfast_sklearn.solvers import SOLVERS, resolve_solver
from slowfast_sklearn.solvers.variance_reduced import (
    SEPARATED,
    batch_product,
    ritz_rotation,
    stopping_statistics,
    unit_steps,
    variance_reduced_flow,
)


def exact(C, k):
    values, vectors = eigh(C)
    return values[::-1], vectors[:, ::-1][:, :k]


def ritz(C, V):
    theta, R = eigh(V.T @ C @ V)
    return theta[::-1], (V @ R)[:, ::-1]


def test_anchor_pieces_against_their_definitions():
    """The pieces the decentralised agents share with the solver: the Ritz
    rotation (numpy's eigh of the projected moment), the per-unit steps and
    the Hebbian direction (written out)."""
    rng = np.random.default_rng(4)
    A = rng.standard_normal((9, 9))
    C = A @ A.T
    V = np.linalg.qr(rng.standard_normal((9, 4)))[0]
    VR, GR, theta = ritz_rotation(V, C @ V)
    values = np.linalg.eigvalsh(V.T @ C @ V)[::-1]
    np.testing.assert_allclose(theta, values, rtol=1e-12)
    np.testing.assert_allclose(VR.T @ C @ VR, np.diag(values), atol=1e-10 * values[0])
    np.testing.assert_allclose(GR, C @ VR, atol=1e-12 * values[0])
    steps, walker_steps = unit_steps(np.array([4.0, 2.0, 1.0, 1e-20]), 2)
    np.testing.assert_array_equal(steps, [0.25, 0.5, 1.0, 0.0])
    np.testing.assert_array_equal(walker_steps, [0.25, 0.5, 0.5, 0.0])
    W = rng.standard_normal((9, 3))
    CW = C @ W
    A3 = W.T @ CW
    np.testing.assert_allclose(hebbian_direction(W, CW, "oja"), CW - W @ A3, rtol=1e-12)
    np.testing.assert_allclose(hebbian_direction(W, CW, "sanger"), CW - W @ np.triu(A3),
                               rtol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_stopping_statistics_bound_the_true_errors(seed):
    """Deficit: exactly 1 - sum theta / sum lambda; the angle bound: at least
    the true largest principal angle of the leading j Ritz vectors over the
    well-separated gaps (Davis-Kahan), and 0 when no gap is separated."""
    rng = np.random.default_rng(seed)
    d, k = 8, 3
    basis = np.linalg.qr(rng.standard_normal((d, d)))[0]
    values = np.array([8.0, 4.0, 2.0, 1.0, 0.8, 0.6, 0.5, 0.4])
    C = (basis * values) @ basis.T
    V = np.linalg.qr(basis[:, :5] + 0.05 * rng.standard_normal((d, 5)))[0]
    theta, U = ritz(C, V)
    deficit, angle = stopping_statistics(U, C @ U, theta, values[:k + 1], k)
    assert deficit == pytest.approx(1 - theta[:k].sum() / values[:k].sum(), rel=1e-12)
    true = max(np.max(subspace_angles(U[:, :j], basis[:, :j])) for j in (1, 2, 3))
    assert true <= angle <= np.pi / 2
    flat = np.array([1.0, 0.99, 0.985, 0.98])  # every gap below 5 %
    assert stopping_statistics(U, C @ U, theta, flat, k)[1] == 0.0
    # Only k eigenvalues known (k is the dimension): no gap to bound.
    assert stopping_statistics(U, C @ U, theta, values[:k], k)[1] == 0.0


@pytest.mark.parametrize("rule", ["sanger", "oja"])
def test_more_components_than_the_datas_rank_stop_at_once(rule):
    """Past the rank the eigenvalues are 0 and their "gaps" separate
    nothing: the fit stops with the captured variance exact, PCA's
    variances, no warning (it used to run max_iter and warn)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 2)) @ rng.standard_normal((2, 10))
    wide = rng.standard_normal((20, 100))  # centred rank 19, k = 20
    for data, k in ((X, 4), (wide, 20)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            est = CoupledFlowEmbedding(k, rule=rule, random_state=0).fit(data)
        pca = PCA(k).fit(data)
        assert est.converged_ and est.n_iter_ < 50
        scale = pca.explained_variance_[0]
        np.testing.assert_allclose(est.explained_variance_, pca.explained_variance_,
                                   atol=1e-10 * scale)
        rank = int(np.sum(pca.explained_variance_ > 1e-10 * scale))
        assert subspace_angles(est.components_[:rank].T, pca.components_[:rank].T).max() <= 1e-6


def test_batch_product_is_the_walkers_second_moment(monkeypatch):
    """Gathered a block at a time (blocks of 3 rows here) for few walkers,
    weighed by counts for many, the product equals the dense batch second
    moment times Delta."""
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((40, 6))
    positions = rng.integers(0, 40, size=25)
    Delta = rng.standard_normal((6, 2))
    monkeypatch.setattr(rows_module, "BLOCK_ENTRIES", 18)
    B = Z[positions]
    np.testing.assert_allclose(batch_product(Z, positions, Delta), B.T @ B @ Delta / 25,
                               rtol=1e-12)
    # As many walkers as samples: weighed by counts, the same product.
    many = rng.integers(0, 40, size=60)
    B = Z[many]
    np.testing.assert_allclose(batch_product(Z, many, Delta), B.T @ B @ Delta / 60,
                               rtol=1e-12)


def test_rebirth_places_the_walkers_by_pi():
    """Reborn walkers are systematic draws from the tempered pi: each sample
    holds pi_i * n_walkers of them, to one walker."""
    walk = Walk(gaussian_data(n=300, seed=1), beta=0.5)
    walkers = GraphWalkers(walk.Z, walk.P, walk.pi, 3000)
    walkers.reborn(np.random.default_rng(0))
    counts = np.bincount(walkers.state, minlength=300)
    assert np.all(np.abs(counts - 3000 * walk.pi) <= 1.0 + 1e-9)
    assert walkers.divergence() == 0.0
    moved = walkers.move(2, np.random.default_rng(1))
    assert moved.shape == (3000,) and not np.array_equal(moved, np.sort(moved))


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("rule", ["sanger", "oja"])
def test_flow_reaches_the_top_eigenspace_of_c_pi(beta, rule):
    """Theory setting (eigenvalues 8, 4 | 2, ...): deficit <= tol and the angle
    to the exact top-2 eigenvectors of C_pi below sqrt(tol), at temperatures
    1, 2 and 0.5 (pi not uniform), with either rule."""
    walk = Walk(gaussian_data(seed=2), beta=beta)
    values, top = exact(walk.C, 2)
    result = variance_reduced_flow(walk.Z, walk.P, walk.pi, values[:3], n_components=2,
                                   rng=np.random.default_rng(0), rule=rule)
    assert result.converged and result.statistic[-1] <= 1e-3
    assert np.max(subspace_angles(result.subspace, top)) < np.sqrt(1e-3)
    captured = np.trace(result.subspace.T @ walk.C @ result.subspace)
    assert 1 - captured / values[:2].sum() == pytest.approx(result.statistic[-1], abs=1e-12)
    np.testing.assert_allclose(result.subspace.T @ result.subspace, np.eye(2), atol=1e-12)


def test_ill_determined_subspace_stops_on_the_deficit():
    """Eigenvalues 1% apart around k: no angle can settle, the deficit does."""
    spectrum = np.r_[4.0, 2.0, 1.0, 0.99, 0.98, 0.97, 0.5, 0.4]
    walk = Walk(gaussian_data(eigenvalues=spectrum, seed=3))
    values, _ = exact(walk.C, 3)
    assert values[2] - values[3] < SEPARATED * values[2]
    result = variance_reduced_flow(walk.Z, walk.P, walk.pi, values[:4], n_components=3,
                                   rng=np.random.default_rng(0))
    assert result.converged
    captured = np.trace(result.subspace.T @ walk.C @ result.subspace)
    assert 1 - captured / values[:3].sum() <= 1e-3


def test_walkers_share_the_work():
    """The walkers' updates do work: with them (each life an anchored update
    and a walker-driven one) the fit needs fewer anchors than with anchored
    updates alone (walker_lifetime=1), seed for seed."""
    X = StandardScaler().fit_transform(load_digits().data)
    anchors = {}
    for lifetime in (1, 2):
        anchors[lifetime] = [
            len(CoupledFlowEmbedding(10, walker_lifetime=lifetime, random_state=seed)
                .fit(X).lyapunov_steps_)
            for seed in range(3)
        ]
    assert all(a < b for a, b in zip(anchors[2], anchors[1])), anchors


def test_twelve_orders_of_magnitude():
    """Component variances 1 .. 1e-12 (16 of them, log-spaced): each unit
    steps by its own variance, so every component is within |cos| > 0.99 of
    PCA's (with one step for all, the units below the first hardly move)."""
    rng = np.random.default_rng(0)
    d = 16
    basis = np.linalg.qr(rng.standard_normal((d, d)))[0]
    X = (rng.standard_normal((3000, d)) * np.sqrt(np.logspace(0, -12, d))) @ basis.T
    for k in (3, 6):
        emb = CoupledFlowEmbedding(k, random_state=0).fit(X)
        pca = PCA(k).fit(X)
        cos = np.abs(np.sum(emb.components_ * pca.components_, axis=1))
        assert np.all(cos > 0.99), (k, cos)


def test_one_feature_a_million_times_larger():
    """wine with one feature scaled by 1e6 (variances 12 orders apart): the
    second and later components are PCA's too."""
    from sklearn.datasets import load_wine

    X = load_wine().data.copy()
    X[:, 3] *= 1e6
    emb = CoupledFlowEmbedding(3, random_state=0).fit(X)
    cos = np.abs(np.sum(emb.components_ * PCA(3).fit(X).components_, axis=1))
    assert np.all(cos > 0.99), cos


def test_default_fit_on_digits():
    """The default estimator on digits (k=10): the variance-reduced walkers,
    converged, deficit <= 1e-3 and within sqrt(1e-3) rad of PCA (the gap at
    k is 23% of lambda_k), no warning."""
    X = load_digits().data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emb = CoupledFlowEmbedding(10, random_state=0).fit(X)
    assert emb.solver_ == "variance_reduced" and emb.walker_lifetime_ == 2 and emb.converged_
    pca = PCA(10).fit(X)
    assert np.max(subspace_angles(emb.components_.T, pca.components_.T)) < np.sqrt(1e-3)
    values, _ = exact(np.cov(X.T, bias=True), 10)
    Q = emb.components_.T
    assert 1 - np.trace(Q.T @ np.cov(X.T, bias=True) @ Q) / values[:10].sum() <= 1e-3
    np.testing.assert_allclose(emb.explained_variance_, pca.explained_variance_, rtol=1e-3)


@pytest.mark.parametrize("rule, kernel, lifetime, expected", [
    ("sanger", "graph", "auto", "variance_reduced"),
    ("oja", "graph", 5, "variance_reduced"),
    ("sanger", "graph", None, "stochastic"),
    ("hebbian", "graph", "auto", "stochastic"),
    ("trace", "graph", "auto", "stochastic"),
    ("sanger", "langevin", "auto", "stochastic"),
])
def test_auto_picks_the_solver_that_runs_the_request(rule, kernel, lifetime, expected):
    assert resolve_solver("auto", rule, FAST_PROCESSES[kernel], lifetime).name == expected
    assert resolve_solver("mean_field", rule, FAST_PROCESSES[kernel], lifetime).name == "mean_field"
    assert expected in SOLVERS


def test_pure_flow_needs_the_stochastic_solver():
    X = gaussian_data(n=120, seed=4)
    with pytest.raises(ValueError, match=re.escape("use solver='stochastic' for the pure flow")):
        CoupledFlowEmbedding(2, solver="variance_reduced", walker_lifetime=None).fit(X)
    emb = CoupledFlowEmbedding(2, walker_lifetime=None, max_iter=100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        emb.fit(X)
    assert emb.solver_ == "stochastic" and emb.walker_lifetime_ is None


def test_unconverged_run_says_what_it_measured():
    X = gaussian_data(n=300, eigenvalues=np.r_[EIGENVALUES, 0.3 * 0.9 ** np.arange(12)], seed=5)
    with pytest.warns(ConvergenceWarning, match="captured-variance deficit was") as record:
        emb = CoupledFlowEmbedding(3, max_iter=3, tol=1e-12, random_state=0).fit(X)
    message = str(record[0].message)
    assert "did not converge in max_iter=3" in message and "angle" in message
    assert not emb.converged_ and emb.n_iter_ == 3
