"""The slow process (``_hebbian``): the rules, the step guard, the retraction.

The updates are compared with their formulas written out in numpy
(``theory.md`` section 3), and the plain rule's explosion with prediction 7
of section 7.
"""

import numpy as np
import pytest
from scipy.linalg import subspace_angles

from slowfast_sklearn._hebbian import (
    RULES,
    batch_moments,
    hebbian_step,
    hebbian_update,
    orthonormalize,
    spectral_norm_bound,
)
from slowfast_sklearn.fast.graph import row_sampler, step_walkers

NORMALISERS = {
    "sanger": np.triu,
    "oja": lambda A: A,
    "trace": lambda A: np.trace(A) * np.eye(A.shape[0]),
    "hebbian": lambda A: np.zeros_like(A),
}


def test_every_rule_has_its_formula_here():
    assert set(NORMALISERS) == set(RULES)


@pytest.mark.parametrize("rule", RULES)
def test_update_is_the_rule_written_out(rule):
    """Without the guard: W + eta (C W - W N(W^T C W)) with the batch moment C."""
    rng = np.random.default_rng(0)
    Z, W = rng.standard_normal((50, 6)), rng.standard_normal((6, 3))
    C = Z.T @ Z / 50
    expected = W + 0.1 * (C @ W - W @ NORMALISERS[rule](W.T @ C @ W))
    np.testing.assert_allclose(hebbian_step(W, Z, 0.1, rule, step_guard=False), expected,
                               rtol=1e-12, atol=1e-12)
    CW, A = batch_moments(Z, W)
    np.testing.assert_allclose(CW, C @ W, rtol=1e-12)
    np.testing.assert_allclose(A, W.T @ C @ W, rtol=1e-12)
    np.testing.assert_array_equal(hebbian_update(W, CW, A, 0.1, rule, step_guard=False),
                                  hebbian_step(W, Z, 0.1, rule, step_guard=False))


def test_step_guard_divides_the_step():
    """eta / max(1, Gershgorin bound of ||W||^2, 2 eta Gershgorin bound of ||A||)."""
    rng = np.random.default_rng(1)
    Z, W = 3.0 * rng.standard_normal((40, 5)), 4.0 * rng.standard_normal((5, 2))
    CW, A = batch_moments(Z, W)
    G = W.T @ W
    divisor = max(1.0, np.abs(G).sum(axis=0).max(), 2 * 0.2 * np.abs(A).sum(axis=0).max())
    expected = W + (0.2 / divisor) * (CW - W @ np.triu(A))
    np.testing.assert_allclose(hebbian_update(W, CW, A, 0.2, "sanger"), expected, rtol=1e-12)


def test_spectral_norm_bound():
    """An upper bound on ||W||_2**2, exact for orthonormal columns."""
    rng = np.random.default_rng(2)
    W = rng.standard_normal((7, 3))
    assert spectral_norm_bound(W) >= np.linalg.norm(W, 2) ** 2
    Q = np.linalg.qr(W)[0]
    assert spectral_norm_bound(Q) == pytest.approx(1.0, abs=1e-12)


def test_unknown_rule_raises():
    W = np.eye(3)[:, :2]
    with pytest.raises(ValueError, match="Unknown Hebbian rule 'hebb'"):
        hebbian_update(W, W, np.eye(2), 0.1, "hebb")


def test_plain_hebbian_explodes_at_the_predicted_rate(gaussian_walk):
    """Prediction 7: ||W_t|| grows like (1 + eta lambda_1)^t with a constant step."""
    eta, steps = 0.05, 400
    rng = np.random.default_rng(0)
    sampler = row_sampler(gaussian_walk.P)
    positions = rng.integers(0, len(gaussian_walk.Z), 64)
    d = gaussian_walk.Z.shape[1]
    W = rng.standard_normal((d, 2)) / np.sqrt(d)
    norms = []
    for _ in range(steps):
        positions = step_walkers(positions, sampler, rng)
        W = hebbian_step(W, gaussian_walk.Z[positions], eta, "hebbian", step_guard=False)
        norms.append(np.linalg.norm(W, 2))
    assert norms[-1] > 1e6
    # Late growth rate (after the transient) against log(1 + eta * lambda_1), lambda_1 = 1.
    rate = (np.log(norms[-1]) - np.log(norms[99])) / (steps - 100)
    assert rate == pytest.approx(np.log1p(eta * gaussian_walk.eigenvalues[0]), rel=0.3)


def test_orthonormalize_keeps_leading_spans():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((6, 3))
    Q = orthonormalize(W)
    np.testing.assert_allclose(Q.T @ Q, np.eye(3), atol=1e-12)
    for j in range(1, 4):
        assert subspace_angles(Q[:, :j], W[:, :j]).max() < 1e-10
