"""theory.md section 7's predictions away from temperature 1, at T = 0.5 and 2.

At temperature 1 the spatial measure pi is uniform and the walk's matrix P
symmetric, so a code path that ignores the temperature, or confuses P with
its transpose, passes every test run there.  Here each prediction whose
statement involves pi ~ q**(1/T) (through the walk's law, C_pi or its
eigenvectors) is checked at beta = 1/T = 2 and 0.5, on the setting of
section 7 (Gaussian R^8, n = 600) unless stated, against quantities
computed from the dense matrices or the degrees with numpy:

* 1, exact stationarity: ``test_graph.py::test_stationary_law_is_exact``
  (beta 0.5, 1, 2); 4, the Langevin walkers' law:
  ``test_langevin.py::test_stationary_covariance_at_other_temperatures``;
* 2, 3 and 5-12 below, and the variances and score of the estimator,
  which use Kish's effective sample size of the tempered pi.
"""

import numpy as np
import pytest
from _helpers import Walk, gaussian_data, tempered_measure
from scipy.linalg import subspace_angles
from scipy.stats import chisquare, multivariate_normal
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from slowfast_sklearn import CoupledFlowEmbedding
from slowfast_sklearn._hebbian import hebbian_step
from slowfast_sklearn.fast.graph import kl_divergence, row_sampler, step_walkers
from slowfast_sklearn.solvers.mean_field import mean_field_flow
from slowfast_sklearn.solvers.stochastic import coupled_flow

TEMPERATURES = pytest.mark.parametrize("temperature", [0.5, 2.0], ids=["T=0.5", "T=2"])


@pytest.fixture(scope="module", params=[0.5, 2.0], ids=["T=0.5", "T=2"])
def walk(request):
    """The walk on section 7's sample at temperature T: pi is not uniform."""
    walk = Walk(gaussian_data(), beta=1.0 / request.param)
    assert np.ptp(len(walk.pi) * walk.pi) > 0.5
    return walk


def _flow(walk, seed, **kwargs):
    params = dict(n_components=2, rule="sanger", learning_rate=0.05, n_walkers=64,
                  walk_steps=1, max_iter=2000, tol=0.0)
    params.update(kwargs)
    return coupled_flow(walk.Z, walk.P, walk.pi, rng=np.random.default_rng(seed), **params)


@TEMPERATURES
def test_kl_is_monotone_from_a_point_mass(temperature):
    """Prediction 2: from rho_0 = delta_{x_0} (n = 1000, d = 3), KL(rho_t || pi)
    starts at -log pi_0, never increases (beyond 1e-12) and falls 20-fold by
    t = 300."""
    X = np.random.default_rng(0).standard_normal((1000, 3))
    walk = Walk(X, beta=1.0 / temperature)
    rho = np.zeros(len(X))
    rho[0] = 1.0
    kls = []
    for _ in range(301):
        kls.append(kl_divergence(rho, walk.pi))
        rho = rho @ walk.P  # rho_{t+1} = rho_t P
    assert kls[0] == pytest.approx(-np.log(walk.pi[0]), rel=1e-12)
    assert np.max(np.diff(kls)) <= 1e-12
    assert kls[300] < 0.05 * kls[0]


def test_walker_law_is_the_tempered_measure(walk):
    """Prediction 3: 6000 walkers started on the empirical (uniform) measure
    are distributed as pi after 150 moves (chi-square of the visits to each
    sample against N pi, p > 1e-3), not as the data's uniform measure
    (p < 1e-20)."""
    n, N = len(walk.Z), 6000
    sampler = row_sampler(walk.P)
    rng = np.random.default_rng(1)
    positions = np.repeat(np.arange(n), N // n)
    for _ in range(150):
        positions = step_walkers(positions, sampler, rng)
    counts = np.bincount(positions, minlength=n)
    assert chisquare(counts, N * walk.pi).pvalue > 1e-3
    assert chisquare(counts).pvalue < 1e-20


@pytest.mark.parametrize("seed", [0, 1])
def test_subspace_aligns_with_the_tempered_eigenvectors(walk, seed):
    """Prediction 5: sin(theta_max) to the top eigenvectors of C_pi < 0.1
    after 2000 steps with 64 walkers (averaged estimate; last iterate < 0.15)."""
    V = walk.eigenvectors[:, :2]
    result = _flow(walk, seed)
    assert np.sin(subspace_angles(result.subspace, V).max()) < 0.1
    assert np.sin(subspace_angles(result.weights, V).max()) < 0.15


@pytest.mark.parametrize("rule, bound", [("oja", 1e-2), ("sanger", 0.15)])
def test_no_explosion_from_a_hostile_start(walk, rule, bound):
    """Prediction 6: from init scale 100, with the step guard, the weights end
    orthonormal (Oja < 1e-2, Sanger < 0.15)."""
    W0 = 100.0 * np.random.default_rng(7).standard_normal((8, 2)) / np.sqrt(8)
    result = _flow(walk, 0, rule=rule, weights_init=W0)
    assert not result.diverged
    assert np.linalg.norm(result.weights.T @ result.weights - np.eye(2)) < bound


def test_plain_hebbian_explodes_at_the_predicted_rate(walk):
    """Prediction 7: ||W_t|| > 1e6 after 400 constant steps, growing like
    log(1 + eta lambda_1) per step (lambda_1(C_pi) = 1) within 30%."""
    eta, steps = 0.05, 400
    rng = np.random.default_rng(0)
    sampler = row_sampler(walk.P)
    positions = rng.integers(0, len(walk.Z), 64)
    W = rng.standard_normal((8, 2)) / np.sqrt(8)
    norms = []
    for _ in range(steps):
        positions = step_walkers(positions, sampler, rng)
        W = hebbian_step(W, walk.Z[positions], eta, "hebbian", step_guard=False)
        norms.append(np.linalg.norm(W, 2))
    assert norms[-1] > 1e6
    rate = (np.log(norms[-1]) - np.log(norms[99])) / (steps - 100)
    assert rate == pytest.approx(np.log1p(eta * walk.eigenvalues[0]), rel=0.3)


def test_trace_rule_collapses_onto_the_top_tempered_eigenvector(walk):
    """Prediction 8: sigma_min / sigma_max < 0.05, ||W^T W - I||_F > 0.9,
    and the surviving direction is the top eigenvector of C_pi."""
    W = _flow(walk, 0, rule="trace").weights
    s = np.linalg.svd(W, compute_uv=False)
    assert s[-1] / s[0] < 0.05
    assert np.linalg.norm(W.T @ W - np.eye(2)) > 0.9
    assert abs(np.linalg.svd(W)[0][:, 0] @ walk.eigenvectors[:, 0]) > 0.99


def test_sanger_disentangles_the_tempered_moment(walk):
    """Prediction 9 (256 walkers): W^T C_pi W is diagonal to 10%, its diagonal
    is (lambda_1, lambda_2) of C_pi within 5% and descending, each column
    within 10 degrees of its eigenvector."""
    W = _flow(walk, 1, n_walkers=256).weights
    A = W.T @ walk.C @ W
    assert abs(A[0, 1]) / A[1, 1] < 0.1
    np.testing.assert_allclose(np.diag(A), walk.eigenvalues[:2], rtol=0.05)
    assert A[0, 0] > A[1, 1]
    for j in range(2):
        cos = abs(W[:, j] @ walk.eigenvectors[:, j]) / np.linalg.norm(W[:, j])
        assert np.degrees(np.arccos(min(cos, 1.0))) < 10.0


def test_lyapunov_log_of_the_walkers(walk):
    """Prediction 10 (stochastic, 600 updates from a point): the KL term
    starts at -log pi_0 of the tempered pi and is exactly monotone, the
    functional falls 100-fold and its thirds decrease."""
    result = _flow(walk, 3, max_iter=600, positions_init=np.zeros(64, dtype=int),
                   top_eigenvalues=walk.eigenvalues[:2])
    L = result.lyapunov
    assert L[0, 0] == pytest.approx(-np.log(walk.pi[0]), rel=1e-12)
    assert np.max(np.diff(L[:, 0])) <= 1e-12
    total = L.sum(axis=1)
    assert total[-1] <= 1e-2 * total[0]
    thirds = [chunk.mean() for chunk in np.array_split(total, 3)]
    assert thirds[0] > thirds[1] > thirds[2]


@pytest.mark.parametrize("rule", ["oja", "sanger"])
def test_lyapunov_log_of_the_mean_field(walk, rule):
    """Prediction 10 (mean field, from a point mass): no term ever rises by
    more than 1e-10, and the flow ends on the top eigenspace of C_pi."""
    rho0 = np.zeros(len(walk.Z))
    rho0[0] = 1.0
    result = mean_field_flow(
        walk.Z, walk.P, walk.pi, n_components=2, rule=rule, learning_rate=0.05,
        max_iter=2000, tol=0.0, rng=np.random.default_rng(0), rho_init=rho0,
        top_eigenvalues=walk.eigenvalues[:2],
    )
    L = result.lyapunov
    assert L[0, 0] == pytest.approx(-np.log(walk.pi[0]), rel=1e-12)
    assert np.max(np.diff(L, axis=0)) <= 1e-10
    assert L[-1].sum() < 1e-8 * L[0].sum()
    assert subspace_angles(result.subspace, walk.eigenvectors[:, :2]).max() < 1e-6


@TEMPERATURES
def test_blobs_stay_linearly_separable(temperature):
    """Prediction 11: three blobs in R^10 (|means| = 4, unit noise), k = 2:
    logistic-regression accuracy >= 0.95 and |corr(y_1, y_2)| < 0.1."""
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 10))
    centers *= 4.0 / np.linalg.norm(centers, axis=1, keepdims=True)
    X, y = make_blobs(n_samples=600, centers=centers, cluster_std=1.0, random_state=0)
    Y = CoupledFlowEmbedding(2, temperature=temperature, random_state=0).fit_transform(X)
    assert cross_val_score(LogisticRegression(), Y, y, cv=5).mean() >= 0.95
    assert abs(np.corrcoef(Y, rowvar=False)[0, 1]) < 0.1


@TEMPERATURES
def test_features_are_tempered_tangent_pca(temperature):
    """Prediction 12, tempered: each feature has |corr| > 0.99 with the
    projection on its eigenvector of C_pi = sum_i pi_i z_i z_i^T, pi from the
    dense kernel's degrees (PCA of the pi-weighted data)."""
    X = gaussian_data()
    emb = CoupledFlowEmbedding(2, temperature=temperature, random_state=0).fit(X)
    pi = tempered_measure(X, temperature)
    Z = X - X.mean(axis=0)
    V = np.linalg.eigh((Z * pi[:, None]).T @ Z)[1][:, ::-1][:, :2]
    features, reference = emb.transform(X), Z @ V
    for j in range(2):
        assert abs(np.corrcoef(features[:, j], reference[:, j])[0, 1]) > 0.99


@TEMPERATURES
def test_variances_and_score_use_kishs_effective_sample_size(temperature):
    """explained_variance_, noise_variance_ and score under the tempered pi:
    the Ritz values of C_pi times n_eff / (n_eff - 1), n_eff = 1 / sum(pi**2)
    (Kish), the mean variance left over, and the Gaussian log-likelihood of
    probabilistic PCA with them (scipy), pi from the dense kernel."""
    X = gaussian_data()
    emb = CoupledFlowEmbedding(2, solver="averaged", temperature=temperature).fit(X)
    pi = tempered_measure(X, temperature)
    np.testing.assert_allclose(emb.stationary_measure_, pi, rtol=1e-10)
    n_eff = 1.0 / np.sum(pi**2)
    bessel = n_eff / (n_eff - 1.0)
    n = len(X)
    assert abs(bessel - n / (n - 1.0)) > 1e-4  # not the unweighted factor
    Z = X - X.mean(axis=0)
    C = (Z * pi[:, None]).T @ Z
    variances = np.linalg.eigvalsh(C)[::-1][:2] * bessel
    np.testing.assert_allclose(emb.explained_variance_, variances, rtol=1e-10)
    noise = (np.trace(C) * bessel - variances.sum()) / (X.shape[1] - 2)
    assert emb.noise_variance_ == pytest.approx(noise, rel=1e-10)
    V = emb.components_
    cov = V.T @ np.diag(variances - noise) @ V + noise * np.eye(X.shape[1])
    expected = multivariate_normal(np.zeros(X.shape[1]), cov).logpdf(Z).mean()
    assert emb.score(X) == pytest.approx(expected, rel=1e-10)
