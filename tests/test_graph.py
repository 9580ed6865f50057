"""The graph walk (``fast/graph.py``): predictions 1-3 of theory.md section 7.

The kernel graph, the Metropolis matrix and its stationary law against
dense formulas, the walkers' sampler against the rows of ``P``, and the
graph walkers of the walker protocol.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import ks_2samp
from sklearn.neighbors import NearestNeighbors

from slowfast_sklearn.fast.graph import (
    GraphWalkers,
    kernel_graph,
    kl_divergence,
    metropolis_transition,
    row_sampler,
    stationary_law,
    step_walkers,
    systematic_positions,
)

from _helpers import Walk, gaussian_data


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_stationary_law_is_exact(beta):
    """Prediction 1: P^T pi = pi to 1e-12 and rows of P sum to 1."""
    walk = Walk(gaussian_data(seed=1), beta=beta)
    P, pi = walk.P, walk.pi
    assert np.max(np.abs(P.sum(axis=1) - 1.0)) < 1e-12
    assert np.max(np.abs(P.T @ pi - pi)) < 1e-12
    assert P.min() >= 0.0
    # pi ~ deg^(beta - 1), computed independently of stationary_law.
    expected = walk.degree ** (beta - 1.0)
    np.testing.assert_allclose(pi, expected / expected.sum(), rtol=1e-12)
    # Detailed balance, entry by entry.
    flow = P.multiply(pi[:, None]).toarray()
    np.testing.assert_allclose(flow, flow.T, atol=1e-15)


def test_beta_one_gives_the_empirical_measure():
    """Prediction 1: at beta = 1, pi is uniform and C_pi is the sample covariance."""
    X = gaussian_data(seed=2)
    walk = Walk(X, beta=1.0)
    n = len(X)
    assert np.max(np.abs(n * walk.pi - 1.0)) < 1e-10
    Z = X - X.mean(axis=0)
    C_pi = (Z * walk.pi[:, None]).T @ Z
    np.testing.assert_allclose(C_pi, np.cov(X, rowvar=False, bias=True), atol=1e-10)


def test_graph_is_sparse_and_symmetric():
    X = gaussian_data(n=400, seed=3)
    d, i = NearestNeighbors(n_neighbors=10).fit(X).kneighbors()
    K, eps = kernel_graph(d, i, len(X))
    assert eps == pytest.approx(np.median(d[:, -1] ** 2))
    assert (K != K.T).nnz == 0
    assert K.diagonal().max() == 0.0
    # At most 2 * n_neighbors edges per node on average (union of kNN lists).
    assert K.nnz <= 2 * 10 * len(X)


def test_kl_is_monotone_from_a_point_mass():
    """Prediction 2: KL(rho_t || pi) never increases (beyond 1e-12) and decays."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 3))
    walk = Walk(X, beta=1.0)
    rho = np.zeros(len(X))
    rho[0] = 1.0
    kls = []
    PT = walk.P.T.tocsr()
    for _ in range(1000):
        kls.append(kl_divergence(rho, walk.pi))
        rho = PT @ rho
    kls = np.array(kls)
    assert kls[0] == pytest.approx(np.log(len(X)))
    assert np.max(np.diff(kls)) <= 1e-12
    assert kls[300] < 0.05 * kls[0]
    assert kls[-1] < 1e-3


def test_walker_law_matches_the_data_measure():
    """Prediction 3: independent walkers from one point reach the data's law (KS test)."""
    X = gaussian_data(seed=4)
    walk = Walk(X, beta=1.0)
    sampler = row_sampler(walk.P)
    v1 = walk.eigenvectors[:, 0]
    data_projection = walk.Z @ v1
    rng = np.random.default_rng(0)
    start = int(np.argmax(data_projection))

    def run(n_steps):
        positions = np.full(2000, start)
        for _ in range(n_steps):
            positions = step_walkers(positions, sampler, rng)
        return data_projection[positions]

    assert ks_2samp(run(1500), data_projection).pvalue > 0.01
    # Negative control: 20 steps from a single point are far from stationary.
    assert ks_2samp(run(20), data_projection).pvalue < 1e-6


def test_step_walkers_samples_the_rows_of_P():
    """The vectorised sampler draws each row's law (chi-square against P)."""
    from scipy.stats import chisquare

    walk = Walk(gaussian_data(n=200, seed=5), beta=0.7)
    sampler = row_sampler(walk.P)
    rng = np.random.default_rng(1)
    row = 17
    draws = step_walkers(np.full(200_000, row), sampler, rng)
    cols = walk.P.indices[walk.P.indptr[row] : walk.P.indptr[row + 1]]
    probs = walk.P.data[walk.P.indptr[row] : walk.P.indptr[row + 1]]
    assert set(np.unique(draws)) <= set(cols)
    counts = np.array([(draws == c).sum() for c in cols])
    assert chisquare(counts, probs * len(draws)).pvalue > 1e-3


def test_stationary_law_tempers_the_density():
    """pi ~ deg^(beta-1): dense samples gain weight when beta > 1, lose it when beta < 1."""
    X = gaussian_data(seed=6)
    walk_hot = Walk(X, beta=0.5)
    walk_cold = Walk(X, beta=2.0)
    dense = np.argmax(walk_cold.degree)
    sparse = np.argmin(walk_cold.degree)
    assert walk_cold.pi[dense] > walk_cold.pi[sparse]
    assert walk_hot.pi[dense] < walk_hot.pi[sparse]


def test_relaxation_time_matches_the_dense_spectrum():
    """relaxation_time is 1 / (1 - lambda_2) of P, checked against a dense eigensolver."""
    from slowfast_sklearn.fast.graph import relaxation_time

    walk = Walk(gaussian_data(n=300, seed=7), beta=0.8)
    lam = np.sort(np.linalg.eigvals(walk.P.toarray()).real)
    assert relaxation_time(walk.P, walk.pi) == pytest.approx(1.0 / (1.0 - lam[-2]), rel=1e-3)


# --------------------------------------------------------------------------
# The graph's construction, checked against dense formulas (the sparse code
# is written for memory, issue 4; these pin down what it computes).
# --------------------------------------------------------------------------


def _dense_graph(d, i, n):
    eps = np.median(d[:, -1] ** 2)
    W = np.zeros((n, n))
    W[np.repeat(np.arange(n), d.shape[1]), i.ravel()] = np.exp(-(d.ravel() ** 2) / eps)
    return np.maximum(W, W.T), eps


def test_kernel_graph_is_the_union_of_knn_edges():
    X = gaussian_data(n=300, seed=7)
    d, i = NearestNeighbors(n_neighbors=8).fit(X).kneighbors()
    d_copy, i_copy = d.copy(), i.copy()
    K, eps = kernel_graph(d, i, len(X))
    expected, expected_eps = _dense_graph(d, i, len(X))
    assert eps == expected_eps
    np.testing.assert_array_equal(K.toarray(), expected)
    assert K.nnz == np.count_nonzero(expected)  # no stored zeros, no slack
    assert K.has_sorted_indices and K.indices.dtype == np.int32
    # The caller's arrays are read, never written.
    np.testing.assert_array_equal(d, d_copy)
    np.testing.assert_array_equal(i, i_copy)


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.5])
def test_metropolis_transition_matches_the_dense_formula(beta):
    """P_ij = (1 - lazy) K_ij / deg_i * min(1, (deg_j / deg_i)**(beta - 2)), rest on the diagonal."""
    X = gaussian_data(n=250, seed=8)
    d, i = NearestNeighbors(n_neighbors=6).fit(X).kneighbors()
    K, _ = kernel_graph(d, i, len(X))
    P, degree = metropolis_transition(K, beta, laziness=0.1)
    Kd = K.toarray()
    deg = Kd.sum(axis=1)
    moves = Kd / deg[:, None] * np.minimum(1.0, (deg[None, :] / deg[:, None]) ** (beta - 2.0))
    expected = 0.9 * moves + np.diag(0.1 + 0.9 * (1.0 - moves.sum(axis=1)))
    np.testing.assert_allclose(degree, deg, rtol=1e-14)
    np.testing.assert_allclose(P.toarray(), expected, rtol=1e-12, atol=1e-15)
    # Sorted rows, each with its diagonal entry stored: what row_sampler reads.
    assert P.has_sorted_indices
    assert np.all(np.diff(P.indices[P.indptr[0] : P.indptr[1]]) > 0)
    assert P.nnz == K.nnz + len(X)
    # Stored self-loops are not part of the kernel: same chain without them.
    with_loops = K.tolil()
    with_loops[0, 0] = 0.5
    P_loops, _ = metropolis_transition(with_loops.tocsr(), beta, laziness=0.1)
    np.testing.assert_array_equal(P_loops.toarray(), P.toarray())
    assert P_loops.nnz == P.nnz


def test_row_sampler_handles_any_layout():
    """Holding still has probability P_ii; P without stored diagonal entries
    and with unsorted rows is sampled exactly too."""
    from scipy.stats import chisquare
    import scipy.sparse as sp

    walk = Walk(gaussian_data(n=200, seed=9), beta=1.0)
    sampler = row_sampler(walk.P)
    np.testing.assert_array_equal(sampler.stay, walk.P.diagonal())

    # Row 0 never stays (no diagonal), row 1 stays half the time, rows unsorted.
    data = np.array([0.2, 0.5, 0.3, 0.25, 0.5, 0.25, 1.0])
    indices = np.array([3, 1, 2, 3, 1, 0, 2])
    P = sp.csr_array((data, indices, np.array([0, 3, 6, 6, 7])), shape=(4, 4))
    sampler = row_sampler(P)
    rng = np.random.default_rng(0)
    for row in (0, 1):
        draws = step_walkers(np.full(100_000, row), sampler, rng)
        counts = np.bincount(draws, minlength=4)
        probs = P.toarray()[row]
        assert np.all(counts[probs == 0] == 0)
        assert chisquare(counts[probs > 0], probs[probs > 0] * len(draws)).pvalue > 1e-3
    # Row 2 is empty: it can only hold still; row 3's one move is certain.
    np.testing.assert_array_equal(step_walkers(np.full(10, 2), sampler, rng), 2)
    np.testing.assert_array_equal(step_walkers(np.full(10, 3), sampler, rng), 2)


@pytest.mark.parametrize("beta", [0.5, 1.0])
def test_metropolis_keeps_tiny_moves(beta):
    """A sample joined to a clique by a kernel weight of 1e-200 keeps its
    (tiny, representable) moves both ways, so detailed balance holds and it
    is not absorbing (the move is divided by the degree before the
    acceptance multiplies it: the other order underflowed to 0)."""
    import scipy.sparse as sp

    n = 7
    W = np.ones((n, n)) - np.eye(n)
    W[0, 1:] = W[1:, 0] = 0.0
    W[0, 1] = W[1, 0] = 1e-200
    P, degree = metropolis_transition(sp.csr_array(W), beta, laziness=0.1)
    pi = stationary_law(degree, beta)
    assert P[0, 1] > 0.0 and P[1, 0] > 0.0
    assert pi[0] * P[0, 1] == pytest.approx(pi[1] * P[1, 0], rel=1e-12)


def test_row_sampler_skips_stored_zeros():
    """A row of P whose only moves are stored zeros holds still (regression:
    row_sampler divided 0 by 0; found by the property tests)."""
    # Row 0 stores its two (zero) moves explicitly, as metropolis_transition
    # does when their acceptance underflows.
    data = np.array([1.0, 0.0, 0.0, 0.25, 0.5, 0.25, 0.5, 0.5])
    indices = np.array([0, 1, 2, 0, 1, 2, 1, 2])
    P = sp.csr_array((data, indices, np.array([0, 3, 6, 8])), shape=(3, 3))
    assert P.nnz == 8
    sampler = row_sampler(P)
    assert sampler.stay[0] == 1.0 and sampler.length[0] == 0
    rng = np.random.default_rng(0)
    positions = np.repeat(np.arange(3), 20000)
    moved = step_walkers(positions, sampler, rng)
    assert np.all(moved[positions == 0] == 0)
    for i in (1, 2):
        frequencies = np.bincount(moved[positions == i], minlength=3) / 20000
        np.testing.assert_allclose(frequencies, P.toarray()[i], atol=0.015)


def test_stationary_law_stays_positive_when_weights_underflow():
    """pi ~ deg**(beta - 1) with a degree of 1e-200 at beta=4: the weight
    (1e-600) underflows, but pi keeps every sample (regression: a zero in pi
    made KL(rho || pi) infinite in lyapunov_; found by the property tests)."""
    pi = stationary_law(np.array([3.0, 2.0, 1e-200, 1.0]), beta=4.0)
    assert np.all(pi > 0) and abs(pi.sum() - 1.0) < 1e-15
    np.testing.assert_allclose(pi[[0, 1, 3]], np.array([27.0, 8.0, 1.0]) / 36.0, rtol=1e-15)
    assert np.isfinite(kl_divergence(np.full(4, 0.25), pi))



def test_graph_walkers_follow_the_walker_protocol(gaussian_walk):
    """Positions drawn by systematic sampling at the first move, batches are
    rows of Z, rebirth from pi every lifetime steps, KL of the exact law."""
    walk = gaussian_walk
    n = len(walk.Z)
    walkers = GraphWalkers(walk.Z, walk.P, walk.pi, 64, lifetime=3)
    assert walkers.state is None
    assert walkers.divergence() == pytest.approx(kl_divergence(np.full(n, 1.0 / n), walk.pi))
    rng, mirror = np.random.default_rng(0), np.random.default_rng(0)
    sampler = row_sampler(walk.P)
    expected = systematic_positions(np.full(n, 1.0 / n), 64, mirror)
    for update in range(7):
        if update and update % 3 == 0:
            expected = systematic_positions(walk.pi, 64, mirror)
        expected = step_walkers(expected, sampler, mirror)
        batch = walkers.step(1, rng)
        np.testing.assert_array_equal(walkers.state, expected)
        np.testing.assert_array_equal(batch, walk.Z[expected])
    # After a rebirth the law is pi itself.
    assert walkers.divergence() == 0.0


def test_graph_walkers_track_the_exact_law(gaussian_walk):
    """From given positions, rho_t = (P^T)^t rho_0 with rho_0 their histogram."""
    walk = gaussian_walk
    start = np.zeros(32, dtype=int)
    walkers = GraphWalkers(walk.Z, walk.P, walk.pi, 32, positions_init=start)
    rng = np.random.default_rng(1)
    walkers.step(4, rng)
    rho = np.zeros(len(walk.Z))
    rho[0] = 1.0
    for _ in range(4):
        rho = walk.P.T @ rho
    assert walkers.divergence() == pytest.approx(kl_divergence(rho, walk.pi), rel=1e-12)


@pytest.fixture(scope="module", params=[0.5, 2.0], ids=["T=0.5", "T=2"])
def tempered_walk(request):
    """The walk at temperature T (beta = 1 / T): P is not symmetric, pi not uniform."""
    walk = Walk(gaussian_data(seed=0), beta=1.0 / request.param)
    assert abs(walk.P - walk.P.T).max() > 1e-3 and np.ptp(walk.pi) > 0.5 * walk.pi.mean()
    return walk


def test_graph_walkers_propagate_their_law_with_P_transposed(tempered_walk):
    """The KL log's law is rho_t = rho_0 P^t, i.e. (P^T)^t rho_0, checked
    with the dense matrix at temperatures where P != P^T."""
    walk = tempered_walk
    start = np.arange(0, 600, 30)
    walkers = GraphWalkers(walk.Z, walk.P, walk.pi, len(start), positions_init=start)
    rho = np.bincount(start, minlength=len(walk.Z)) / len(start)
    P = walk.P.toarray()
    rng = np.random.default_rng(2)
    for _ in range(3):
        walkers.step(2, rng)
        rho = rho @ P @ P
        assert walkers.divergence() == pytest.approx(kl_divergence(rho, walk.pi), rel=1e-12)


def test_rebirth_draws_from_the_tempered_pi(tempered_walk):
    """Walkers reborn every lifetime updates are placed by systematic sampling
    of pi ~ deg**(beta - 1) (computed here from the degrees): every sample
    holds N pi_i walkers up to one, far from the uniform law's N / n."""
    walk = tempered_walk
    n, N = len(walk.Z), 30_000
    walkers = GraphWalkers(walk.Z, walk.P, walk.pi, N, lifetime=2)
    rng = np.random.default_rng(0)
    walkers.step(1, rng)
    walkers.step(1, rng)
    walkers.step(0, rng)  # the third update starts with a rebirth, no move after it
    counts = np.bincount(walkers.state, minlength=n)
    pi = walk.degree ** (walk.beta - 1.0)
    pi /= pi.sum()
    assert np.abs(counts - N * pi).max() < 1.0 + 1e-9
    assert np.abs(N * pi - N / n).max() > 10.0  # the uniform law would miss by that much
