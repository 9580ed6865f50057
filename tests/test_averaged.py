"""``solver="averaged"``: momentum block iteration on the stationary moment.

``averaged_flow`` against numpy's ``eigh`` (the Davis-Kahan bound bounds
the angle at every iteration; exact answers stop at once; the momentum beats
plain block power iteration), and the solver through the estimator: no graph
at temperature 1, exact answers at the data's rank, the ends of the float
range, constant features.
"""

import re

import numpy as np
import pytest
from scipy.linalg import eigh, subspace_angles
from sklearn.datasets import load_iris
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning

from slowfast_sklearn import CoupledFlowEmbedding
from slowfast_sklearn._moments import second_moment
from slowfast_sklearn.solvers.averaged import averaged_flow


def _rotated(spectrum, seed):
    """``Q diag(spectrum) Q^T`` with a random rotation, and ``Q``."""
    d = len(spectrum)
    Q = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))[0]
    return (Q * spectrum) @ Q.T, Q


def test_averaged_flow_reaches_the_eigenspace_and_bounds_its_error():
    """The averaged solver: Davis-Kahan bound honest and below tol, far fewer passes than power iteration."""
    rng = np.random.default_rng(1)
    d, k = 60, 6
    lam = 0.8 ** np.arange(d) + 0.01
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    X = (rng.standard_normal((5000, d)) * np.sqrt(lam)) @ Q.T + 1e3
    base = X.mean(axis=0)
    C = second_moment(X, base, block_bytes=8 * d * 700)  # several blocks
    np.testing.assert_allclose(C, np.cov(X, rowvar=False, bias=True), atol=1e-10)
    V = eigh(C)[1][:, ::-1][:, :k]
    for tol in (1e-3, 1e-8):
        U, values, n_iter, converged, bounds, history = averaged_flow(C, k, rng=rng, tol=tol)
        bound = bounds[-1]
        angle = np.sin(subspace_angles(U, V).max())
        assert converged and bound < tol
        assert angle <= bound * 1.01
        np.testing.assert_allclose(U.T @ U, np.eye(k), atol=1e-12)
        np.testing.assert_allclose(values, np.sort(np.linalg.eigvalsh(C))[::-1][:k], rtol=1e-6)
    # Plain block power iteration needs log(1e-8) / log(lambda_7 / lambda_6) ~ 80 passes.
    assert n_iter < 30
    assert history.shape == (n_iter, 3) and history[-1, 2] == 0.0



@pytest.mark.parametrize("max_iter", [1, 3])
def test_an_unfinished_run_returns_the_ritz_vectors_of_its_last_block(max_iter):
    """When max_iter runs out, U are still orthonormal Ritz vectors: U^T C U
    is diagonal with the returned values, and the bounds are per iteration."""
    rng = np.random.default_rng(0)
    d = 40
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    C = (Q * 0.9 ** np.arange(d)) @ Q.T
    U, values, n_iter, converged, bounds, history = averaged_flow(
        C, 2, rng=np.random.default_rng(1), max_iter=max_iter
    )
    assert n_iter == max_iter and not converged
    np.testing.assert_allclose(U.T @ C @ U, np.diag(values), atol=1e-14)
    np.testing.assert_allclose(U.T @ U, np.eye(2), atol=1e-14)
    assert bounds.shape == (max_iter,) and history.shape == (max_iter, 3)
    assert np.all(values[:-1] >= values[1:])


def test_small_moment_is_decomposed_exactly():
    """When the block would hold the whole space, one eigendecomposition."""
    C = np.diag([3.0, 2.0, 1.0])
    calls = []
    U, values, n_iter, converged, bounds, history = averaged_flow(
        C, 2, rng=np.random.default_rng(0), checkpoint=lambda t, last: calls.append((t, last))
    )
    np.testing.assert_allclose(np.abs(U), np.eye(3)[:, :2])
    np.testing.assert_array_equal(values, [3.0, 2.0])
    assert (n_iter, converged, calls) == (1, True, [(1, True)])
    np.testing.assert_array_equal(bounds, [0.0])


def test_averaged_solver_needs_no_graph_at_temperature_one(monkeypatch, spectral_data):
    """At temperature 1 pi is uniform for any graph: the averaged solver skips the kNN search."""
    import slowfast_sklearn.geometry.euclidean as geometry

    X, V = spectral_data

    def fail(*args, **kwargs):
        raise AssertionError("kNN graph built")

    monkeypatch.setattr(geometry.EuclideanGeometry, "kneighbors", fail)
    est = CoupledFlowEmbedding(n_components=2, solver="averaged").fit(X)
    assert subspace_angles(est.components_.T, V[:, :2]).max() < 1e-6
    np.testing.assert_allclose(est.stationary_measure_, 1.0 / len(X))




@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-20, 1e20, 1e150])
def test_averaged_solver_at_the_ends_of_the_float_range(spectral_data, scale):
    """The streaming path reads the spreads off C_pi, and falls back to an exact
    power-of-two pre-scaling when the squares under- or overflow."""
    X, V = spectral_data
    est = CoupledFlowEmbedding(n_components=2, solver="averaged").fit(X * scale)
    assert subspace_angles(est.components_.T, V[:, :2]).max() < 1e-6
    reference = CoupledFlowEmbedding(n_components=2, solver="averaged").fit(X)
    np.testing.assert_allclose(est.explained_variance_ratio_, reference.explained_variance_ratio_, rtol=1e-9)


def test_averaged_solver_gives_constant_features_zero_weight(spectral_data):
    X, _ = spectral_data
    Xc = X.copy()
    Xc[:, [1, 5]] = [3.0, -2.0]
    est = CoupledFlowEmbedding(n_components=3, solver="averaged").fit(Xc)
    assert np.all(est.components_[:, [1, 5]] == 0.0)
    Z = np.delete(Xc, [1, 5], axis=1)
    Z = Z - Z.mean(axis=0)
    V = np.zeros((X.shape[1], 3))
    V[np.setdiff1d(np.arange(X.shape[1]), [1, 5])] = eigh(Z.T @ Z)[1][:, ::-1][:, :3]
    assert subspace_angles(est.components_.T, V).max() < 1e-6


def test_the_bound_bounds_the_angle_at_every_iteration():
    """A cluster just below lambda_k (3, 2.9, 2.85 | 2.8, 2.79, then 1 .. 0.1):
    at every iteration the reported angle is at most pi/2 and at least the
    true largest principal angle to the exact eigenspace.  (With the block's
    last Ritz value for lambda_{k+1}, as before, the true sine was twice the
    reported one.)"""
    spectrum = np.r_[3.0, 2.9, 2.85, 2.8, 2.79, np.linspace(1.0, 0.1, 95)]
    C, Q = _rotated(spectrum, 1)
    converged, t = False, 0
    while not converged:
        t += 1
        U, _, n_iter, converged, bounds, _ = averaged_flow(
            C, 3, rng=np.random.default_rng(0), tol=1e-10, max_iter=t
        )
        assert n_iter == t and np.all(bounds <= np.pi / 2)
        assert subspace_angles(U, Q[:, :3]).max() <= bounds[-1]
    assert 10 < t < 30


@pytest.mark.parametrize("case", ["20x100, k=20", "iris.T, k=None"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_exact_answers_at_the_rank_stop_at_once(case, method):
    """n_components at or above the data's rank: once the block holds the
    range of C the Ritz pairs are its eigenpairs, so the run stops at the
    second iteration (no warning), with PCA's components and variances on
    the range and zero-variance axes orthogonal to it."""
    if case.startswith("20x100"):
        X, k, rank = np.random.default_rng(0).standard_normal((20, 100)), 20, 19
    else:
        X, k, rank = load_iris().data.T, None, 3
    est = CoupledFlowEmbedding(n_components=k, solver="averaged", random_state=0)
    getattr(est, method)(X)
    assert est.converged_ and est.n_iter_ <= 2
    pca = PCA(n_components=k).fit(X)
    assert subspace_angles(est.components_[:rank].T, pca.components_[:rank].T).max() < 1e-12
    np.testing.assert_allclose(est.explained_variance_[:rank], pca.explained_variance_[:rank],
                               rtol=1e-12)
    top = pca.explained_variance_[0]
    assert np.all(np.abs(est.explained_variance_[rank:]) < 1e-13 * top)
    Xc = X - X.mean(axis=0)
    assert np.abs(Xc @ est.components_[rank:].T).max() < 1e-12 * np.abs(Xc).max()


def test_angles_reported_as_angles_are_at_most_half_pi(capsys):
    """An unfinished run reports the Davis-Kahan bound as an angle (rad, at
    most pi/2) in every verbose line and in its warning, which names it a
    bound (a sine bound of 52 was printed as '5.24e+01 rad')."""
    X = np.random.default_rng(3).standard_normal((60, 40)) * np.linspace(1.0, 1.2, 40)
    est = CoupledFlowEmbedding(3, solver="averaged", max_iter=2, verbose=1, random_state=0)
    with pytest.warns(ConvergenceWarning, match="the Davis-Kahan bound on its angle") as caught:
        est.fit(X)
    printed = [float(v) for v in re.findall(r"Davis-Kahan bound (\S+) rad", capsys.readouterr().out)]
    stated = float(re.search(r"is still (\S+) rad", str(caught[0].message)).group(1))
    assert len(printed) == 2 and printed[0] == pytest.approx(np.pi / 2, abs=5e-3)
    assert max(printed) <= np.pi / 2 and stated <= round(np.pi / 2, 1) + 0.05


def test_partial_fit_warning_names_the_solver_it_runs():
    """partial_fit always runs the averaged flow: its warning names that
    solver and the tol it used, whatever the estimator's own solver."""
    X = np.random.default_rng(4).standard_normal((200, 30))
    est = CoupledFlowEmbedding(3, solver="stochastic", max_iter=1, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"partial_fit runs solver='averaged'\).*tol=1e-06"):
        est.partial_fit(X)


def test_momentum_beats_plain_block_power_iteration_on_a_small_gap():
    """A slowly decaying spectrum (1 down to 0.5 over 150 axes, k = 4): the
    heavy-ball block iteration reaches 1e-6 rad in under half the passes of
    plain block power iteration (QR each pass) on a block of the same width
    from the same start, stopped on the true angle (numpy's eigh)."""
    spectrum = np.linspace(1.0, 0.5, 150)
    C, Q = _rotated(spectrum, 2)
    k, m = 4, 12  # averaged_flow's default block: k + max(k, 8)
    U, _, n_iter, converged, _, _ = averaged_flow(C, k, rng=np.random.default_rng(0), tol=1e-6)
    assert converged and subspace_angles(U, Q[:, :k]).max() < 1e-6
    V = np.linalg.qr(np.random.default_rng(0).standard_normal((150, m)))[0]
    plain = 0
    while subspace_angles(V[:, :k], Q[:, :k]).max() >= 1e-6:
        V = np.linalg.qr(C @ V)[0]
        V = V @ np.linalg.eigh(V.T @ C @ V)[1][:, ::-1]  # Ritz order: top k first
        plain += 1
    assert n_iter < 0.5 * plain
