"""``solver="mean_field"``: the walkers' exact law drives the weights.

The flow is compared with the deterministic iteration on the second moment
under the propagated law, written out in numpy, and with prediction 10 of
theory.md section 7 (every Lyapunov term monotone).
"""

import numpy as np
import pytest
from _helpers import Walk, gaussian_data
from scipy.linalg import subspace_angles

from slowfast_sklearn.solvers.mean_field import mean_field_flow


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_flow_is_the_iteration_on_the_propagated_law(gaussian_walk, temperature):
    """W_{t+1} = W_t + eta (C_t W_t - W_t triu(W_t^T C_t W_t)), C_t = Z^T diag(rho_t) Z,
    rho_t = (P^T)^t rho_0 (Sanger, no guard), from a point mass; away from
    temperature 1 P is not symmetric, so P^T is told apart from P."""
    walk = gaussian_walk if temperature == 1.0 else Walk(gaussian_data(), beta=1.0 / temperature)
    n, d = walk.Z.shape
    rho0 = np.zeros(n)
    rho0[3] = 1.0
    W0 = np.random.default_rng(5).standard_normal((d, 2)) / np.sqrt(d)
    result = mean_field_flow(
        walk.Z, walk.P, walk.pi, n_components=2, learning_rate=0.05, max_iter=60, tol=0.0,
        rng=np.random.default_rng(0), weights_init=W0, rho_init=rho0, step_guard=False,
    )
    P = walk.P.toarray()
    W, rho = W0, rho0
    for _ in range(60):
        rho = P.T @ rho
        C = walk.Z.T @ (rho[:, None] * walk.Z)
        W = W + 0.05 * (C @ W - W @ np.triu(W.T @ C @ W))
    np.testing.assert_allclose(result.weights, W, rtol=1e-10, atol=1e-12)
    assert result.n_iter == 60 and result.positions is None
    np.testing.assert_array_equal(result.lyapunov_steps, [0, 50, 60])


@pytest.mark.parametrize("rule", ["oja", "sanger"])
def test_mean_field_lyapunov_terms_are_monotone(gaussian_walk, rule):
    """Prediction 10 (mean field): from a point mass, no term ever rises above 1e-10."""
    rho0 = np.zeros(len(gaussian_walk.Z))
    rho0[0] = 1.0
    result = mean_field_flow(
        gaussian_walk.Z, gaussian_walk.P, gaussian_walk.pi, n_components=2, rule=rule,
        learning_rate=0.05, max_iter=2000, tol=0.0, rng=np.random.default_rng(0),
        rho_init=rho0, top_eigenvalues=gaussian_walk.eigenvalues[:2],
    )
    L = result.lyapunov
    assert L[0, 0] == pytest.approx(np.log(len(rho0)))
    assert np.max(np.diff(L, axis=0)) <= 1e-10
    assert L[-1].sum() < 1e-8 * L[0].sum()
    assert subspace_angles(result.subspace, gaussian_walk.eigenvectors[:, :2]).max() < 1e-6


def test_stops_when_the_subspace_stops_moving(gaussian_walk):
    """tol: three checkpoint-to-checkpoint angles in a row below it end the run."""
    result = mean_field_flow(
        gaussian_walk.Z, gaussian_walk.P, gaussian_walk.pi, n_components=2,
        learning_rate=0.2, max_iter=5000, tol=1e-6, rng=np.random.default_rng(0),
    )
    assert result.converged and result.n_iter < 5000
    assert np.all(result.statistic[-3:] < 1e-6)
    assert not np.all(result.statistic[-4:-1] < 1e-6)
