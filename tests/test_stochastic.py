"""``solver="stochastic"``: the coupled flow of walkers and Hebbian weights,
predictions 5-10 of theory.md section 7.

Each test runs :func:`coupled_flow` and compares with an exact
eigendecomposition of the spatial second moment ``C_pi``.
"""

import numpy as np
import pytest
from scipy.linalg import subspace_angles

from slowfast_sklearn.solvers.stochastic import coupled_flow


def _flow(walk, seed, **kwargs):
    params = dict(
        n_components=2, rule="sanger", learning_rate=0.05, n_walkers=64,
        walk_steps=1, max_iter=2000, tol=0.0,
    )
    params.update(kwargs)
    return coupled_flow(walk.Z, walk.P, walk.pi, rng=np.random.default_rng(seed), **params)


@pytest.mark.parametrize("seed", range(5))
def test_subspace_aligns_with_top_eigenvectors(gaussian_walk, seed):
    """Prediction 5: sin(theta_max) < 0.1 after 2000 steps with 64 walkers."""
    V = gaussian_walk.eigenvectors[:, :2]
    result = _flow(gaussian_walk, seed)
    # The flow's estimate is the Polyak-Ruppert average of its constant-step
    # iterates; the last iterate alone carries the O(sqrt(eta)) noise floor.
    assert np.sin(subspace_angles(result.subspace, V).max()) < 0.1
    assert np.sin(subspace_angles(result.weights, V).max()) < 0.15


def test_more_walkers_align_closer(gaussian_walk):
    """Prediction 5: with 256 walkers the bound is 0.05."""
    V = gaussian_walk.eigenvectors[:, :2]
    for seed in range(3):
        result = _flow(gaussian_walk, seed, n_walkers=256)
        assert np.sin(subspace_angles(result.weights, V).max()) < 0.05


@pytest.mark.parametrize("scale", [1.0, 100.0])
@pytest.mark.parametrize("rule, bound", [("oja", 1e-2), ("sanger", 0.15)])
def test_no_explosion_from_hostile_starts(gaussian_walk, scale, rule, bound):
    """Prediction 6: with the step guard, weights end orthonormal from init scale 1 or 100."""
    d = gaussian_walk.Z.shape[1]
    W0 = scale * np.random.default_rng(7).standard_normal((d, 2)) / np.sqrt(d)
    result = _flow(gaussian_walk, 0, rule=rule, weights_init=W0)
    W = result.weights
    assert not result.diverged
    assert np.linalg.norm(W.T @ W - np.eye(2)) < bound
    # Without the guard the same start blows up at once.
    blown = _flow(gaussian_walk, 0, rule=rule, weights_init=W0, step_guard=False, max_iter=50)
    if scale == 100.0:
        assert blown.diverged


def test_plain_hebbian_run_stops_on_divergence(gaussian_walk):
    """The coupled flow stops a diverging run and reports it (no NaN)."""
    result = _flow(gaussian_walk, 0, rule="hebbian", learning_rate=0.5, max_iter=5000)
    assert result.diverged
    assert result.n_iter < 5000
    assert np.all(np.isfinite(result.weights))
    assert np.all(np.isfinite(result.subspace))


def test_trace_rule_collapses_to_rank_one(gaussian_walk):
    """Prediction 8: the trace-normalised rule of the paper's appendix loses rank."""
    result = _flow(gaussian_walk, 0, rule="trace")
    s = np.linalg.svd(result.weights, compute_uv=False)
    assert s[-1] / s[0] < 0.05
    W = result.weights
    assert np.linalg.norm(W.T @ W - np.eye(2)) > 0.9
    # The surviving direction is the top eigenvector.
    u = np.linalg.svd(W, full_matrices=False)[0][:, 0]
    assert abs(u @ gaussian_walk.eigenvectors[:, 0]) > 0.99


def test_sanger_orders_and_decorrelates(gaussian_walk):
    """Prediction 9: W^T C W is diagonal, descending, and columns hit the eigenvectors."""
    result = _flow(gaussian_walk, 1, n_walkers=256)
    W = result.weights
    A = W.T @ gaussian_walk.C @ W
    assert abs(A[0, 1]) / A[1, 1] < 0.1
    np.testing.assert_allclose(np.diag(A), gaussian_walk.eigenvalues[:2], rtol=0.05)
    assert A[0, 0] > A[1, 1]
    for j in range(2):
        cos = abs(W[:, j] @ gaussian_walk.eigenvectors[:, j]) / np.linalg.norm(W[:, j])
        assert np.degrees(np.arccos(min(cos, 1.0))) < 10.0


def test_oja_learns_the_subspace_but_not_the_axes(gaussian_walk):
    """Oja's rule: orthonormal basis of the top subspace, axes free to rotate within it."""
    result = _flow(gaussian_walk, 2, rule="oja", n_walkers=256)
    W = result.weights
    assert np.linalg.norm(W.T @ W - np.eye(2)) < 1e-2
    assert np.sin(subspace_angles(W, gaussian_walk.eigenvectors[:, :2]).max()) < 0.05


def test_lyapunov_terms_fall(gaussian_walk):
    """Prediction 10: the logged functional drops 100x, its thirds decrease, KL is monotone.

    Over the transient (600 updates): afterwards the constant-step functional
    fluctuates at its O(eta) noise floor, where block means need not decrease.
    """
    n = len(gaussian_walk.Z)
    result = _flow(
        gaussian_walk, 3, max_iter=600,
        positions_init=np.zeros(64, dtype=int),
        top_eigenvalues=gaussian_walk.eigenvalues[:2],
    )
    L = result.lyapunov
    assert L.shape == (len(result.lyapunov_steps), 3)
    assert np.all(L >= -1e-12)
    total = L.sum(axis=1)
    assert total[-1] <= 1e-2 * total[0]
    thirds = [chunk.mean() for chunk in np.array_split(total, 3)]
    assert thirds[0] > thirds[1] > thirds[2]
    kl = L[:, 0]
    assert kl[0] == pytest.approx(np.log(n))
    assert np.max(np.diff(kl)) <= 1e-12


def test_averaged_subspace_beats_the_last_iterate(gaussian_walk):
    """Polyak-Ruppert averaging reduces the error of the constant-step iterate."""
    V = gaussian_walk.eigenvectors[:, :2]
    raw, averaged = [], []
    for seed in range(4):
        result = _flow(gaussian_walk, seed, learning_rate=0.2)
        raw.append(subspace_angles(result.weights, V).max())
        averaged.append(subspace_angles(result.subspace, V).max())
    assert np.mean(averaged) < 0.6 * np.mean(raw)


def test_regenerated_walkers_cut_the_slow_mode_noise():
    """Walker rebirth from pi (walker_lifetime) beats immortal walkers on digits.

    Digits' walk mixes slowly between digit clusters (relaxation time ~380
    steps), so the shares of walkers per cluster drift and bias the batch
    second moment for hundreds of updates; rebirth by systematic sampling
    resets them. Same seeds, same number of updates and walkers.
    """
    from sklearn.datasets import load_digits
    from _helpers import Walk

    walk = Walk(load_digits().data)
    V = walk.eigenvectors[:, :2]

    def error(lifetime, seed):
        result = coupled_flow(
            walk.Z, walk.P, walk.pi, n_components=2, learning_rate=0.2, n_walkers=1024,
            walk_steps=1, walker_lifetime=lifetime, max_iter=1000, tol=0.0,
            rng=np.random.default_rng(seed),
        )
        return subspace_angles(result.subspace, V).max()

    immortal = np.mean([error(None, s) for s in range(3)])
    reborn = np.mean([error(10, s) for s in range(3)])
    assert reborn < 0.6 * immortal
    assert reborn < 0.05


def test_polyak_ruppert_average_is_over_retracted_snapshots(gaussian_walk, monkeypatch):
    """The final subspace is the top-k eigenspace of the mean projector of
    the orthonormalised weights over the second half of the run, recomputed
    here from every weight iterate (recorded by a spy, bases by numpy's QR).
    Under the trace rule the weights are far from orthonormal, so an average
    of the raw weights (or of the last ones) lands elsewhere."""
    from slowfast_sklearn.solvers import stochastic

    seen = []
    accepted = stochastic._WalkerFlow.accepted

    def spy(self, t):
        seen.append((t, self.W.copy()))
        accepted(self, t)

    monkeypatch.setattr(stochastic._WalkerFlow, "accepted", spy)
    result = _flow(gaussian_walk, 4, rule="trace", max_iter=400)
    assert result.n_iter == 400 and [t for t, _ in seen] == list(range(1, 401))
    d = gaussian_walk.Z.shape[1]
    mean_projector = np.zeros((d, d))
    window = [W for t, W in seen if t > 200]
    for W in window:
        Q = np.linalg.qr(W)[0]
        mean_projector += Q @ Q.T / len(window)
    expected = np.linalg.eigh(mean_projector)[1][:, -2:]
    assert subspace_angles(result.subspace, expected).max() < 1e-8
    raw = np.linalg.svd(np.concatenate(window, axis=1), full_matrices=False)[0][:, :2]
    assert subspace_angles(raw, expected).max() > 1e-3
