"""The Poincare ball (``geometry/poincare_ball.py``): the Karcher mean near
the boundary, tiny clouds at the origin, the conformal factor.

References: geomstats' ``PoincareBall`` metric and numpy.
"""

import numpy as np
import pytest
from _manifold_data import quick_fit
from geomstats.geometry.poincare_ball import PoincareBall

from slowfast_sklearn.geometry.poincare_ball import (
    BALL_MARGIN,
    PoincareBallGeometry,
    conformal_factor,
)


def test_conformal_factor_is_geomstats_metric_scale():
    """<u, v>_x = lambda_x**2 u.v, lambda_x = 2 / (1 - |x|^2), for one point or rows."""
    x = np.array([[0.3, -0.2, 0.1], [0.0, 0.5, 0.0]])
    u = np.array([1.0, 2.0, -1.0])
    metric = PoincareBall(dim=3).metric
    for row, lam in zip(x, conformal_factor(x)):
        assert float(metric.inner_product(u, u, row)) == pytest.approx(lam**2 * u @ u, rel=1e-12)
        assert conformal_factor(row) == lam


def test_exp_at_keeps_far_steps_inside_the_ball():
    """A huge step lands at norm 1 - BALL_MARGIN, not on or past the boundary."""
    geometry = PoincareBallGeometry(2)
    X = np.array([[0.1, 0.2], [0.0, 0.0]])
    Y = geometry.exp_at(np.array([[50.0, 0.0], [0.0, 80.0]]), X)
    np.testing.assert_allclose(np.linalg.norm(Y, axis=1), 1.0 - BALL_MARGIN, rtol=1e-12)
    geometry.check_points(Y)


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
    emb = quick_fit("poincare_ball", X, n_components=2, max_iter=5, n_neighbors=1)
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
    emb = quick_fit("poincare_ball", X, n_components=2, max_iter=20, n_walkers=8)
    assert emb.components_.dtype == dtype
    assert np.all(np.isfinite(emb.transform(X)))
    # Tangent units are lambda_0 = 2 times ambient: variances near 4 scale^2.
    total = 4.0 * X.astype(np.float64).var(axis=0, ddof=1).sum()
    assert 0.3 * total < emb.explained_variance_.astype(np.float64).sum() <= 1.01 * total
