"""The solver contract (``solvers/``) and the solvers' agreement.

The first part is what every registered solver must pass, parametrised over
:data:`~slowfast_sklearn.solvers.SOLVERS` (imbalanced-learn's common-test
pattern): a new solver is a module, a registry line and a passing run of
these tests.  The second part fits the estimator with each solver and checks
they reach the same subspace.  Each solver's own maths is tested in its file
(``test_stochastic.py``, ``test_mean_field.py``, ``test_averaged.py``).
"""

import numpy as np
import pytest
from _helpers import gaussian_data
from scipy.linalg import subspace_angles

from slowfast_sklearn import CoupledFlowEmbedding
from slowfast_sklearn._prepare import Plan, prepare
from slowfast_sklearn.fast import FAST_PROCESSES, works_with
from slowfast_sklearn.solvers import SOLVERS, FlowResult, RunParams, Solver

REGISTERED = sorted(SOLVERS)
#: A run long enough for every solver on the well-separated problem below.
BUDGET = dict(n_walkers=512, max_iter=2000, learning_rate=0.2)


def problem_for(name, temperature=0.8):
    """A prepared problem on a kernel the solver works with: 12 features,
    spectrum (8, 4 | 2, 1.6, ...), large enough for every solver to iterate."""
    solver = SOLVERS[name]
    process = next(p for p in FAST_PROCESSES.values() if works_with(p, solver))
    X = gaussian_data(n=500, eigenvalues=np.r_[8.0, 4.0, 2.0 * 0.8 ** np.arange(10)], seed=11)
    plan = Plan("euclidean", process, solver, temperature, 15, 2)
    return prepare(X, plan, np.random.default_rng(0))


def c_pi(problem):
    """The problem's C_pi as a dense matrix, in the solver's units."""
    return problem.moments.project(np.eye(problem.active.sum()))


def run(name, problem, seed=0, **options):
    solver = SOLVERS[name]
    params = dict(BUDGET, n_components=problem.n_units, tol=solver.default_tol,
                  walker_lifetime=solver.default_walker_lifetime,
                  rng=np.random.default_rng(seed))
    params.update(options)
    return SOLVERS[name].run(problem, RunParams(**params))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", REGISTERED)
def test_registry_entry(name):
    """Named by its key; the parameter constraint, tol="auto" and the
    estimator's docstring come from the entry; it works with some kernel."""
    solver = SOLVERS[name]
    assert isinstance(solver, Solver) and solver.name == name
    assert solver.default_tol > 0 and isinstance(solver.check_every, int) and solver.check_every >= 1
    assert solver.summary and solver.stopping and solver.budget
    assert any(works_with(p, solver) for p in FAST_PROCESSES.values())
    CoupledFlowEmbedding(solver=name)._validate_params()
    doc = " ".join(CoupledFlowEmbedding.__doc__.split())
    assert f'``"{name}"``: {" ".join(solver.summary.split())}' in doc
    assert f'``"{name}"``: {" ".join(solver.stopping.split())}' in doc
    X = gaussian_data(n=150, seed=12)
    params = dict(n_components=2, solver=name, n_walkers=64, max_iter=200, random_state=0)
    auto = CoupledFlowEmbedding(**params).fit(X)
    explicit = CoupledFlowEmbedding(tol=solver.default_tol, **params).fit(X)
    np.testing.assert_array_equal(auto.components_, explicit.components_)


@pytest.mark.parametrize("name", REGISTERED)
def test_run_returns_a_complete_flow_result(name):
    """Shapes, orthonormality, finiteness, and one statistic and one row of
    Lyapunov terms per checkpoint."""
    problem = problem_for(name)
    result = run(name, problem)
    d, k = problem.rows.shape[1], problem.n_units
    assert isinstance(result, FlowResult)
    assert result.subspace.shape == result.weights.shape == (d, k)
    np.testing.assert_allclose(result.subspace.T @ result.subspace, np.eye(k), atol=1e-10)
    assert np.all(np.isfinite(result.weights))
    assert 1 <= result.n_iter <= BUDGET["max_iter"] and not result.diverged
    m = len(result.lyapunov_steps)
    assert result.lyapunov.shape == (m, 3) and result.statistic.shape == (m,)
    assert np.all(np.isfinite(result.lyapunov))
    assert isinstance(result.converged, (bool, np.bool_))


@pytest.mark.parametrize("name", REGISTERED)
def test_run_reaches_the_top_eigenspace_of_c_pi(name):
    problem = problem_for(name)
    exact = np.linalg.eigh(c_pi(problem))[1][:, -2:]
    result = run(name, problem)
    assert result.converged
    assert subspace_angles(result.subspace, exact).max() < 0.05


@pytest.mark.parametrize("name", REGISTERED)
def test_run_is_a_function_of_the_generator(name):
    problem = problem_for(name)
    a, b = run(name, problem, seed=3), run(name, problem, seed=3)
    np.testing.assert_array_equal(a.subspace, b.subspace)
    np.testing.assert_array_equal(a.lyapunov, b.lyapunov)
    assert a.n_iter == b.n_iter


@pytest.mark.parametrize("name", REGISTERED)
def test_checkpoints_report_and_may_stop_the_run(name, capsys):
    """The callback comes every check_every updates (and at the last); a true
    answer stops the run there; verbose prints one line per checkpoint."""
    problem = problem_for(name)
    calls = []
    result = run(name, problem, max_iter=120, tol=0.0, verbose=1,
                 checkpoint=lambda step, last: calls.append((step, last)) or False)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(calls) >= 1
    assert all(line.startswith("[CoupledFlowEmbedding]") for line in lines)
    steps = [step for step, _ in calls]
    assert steps[-1] == result.n_iter and calls[-1][1]
    interval = SOLVERS[name].check_interval(
        RunParams(n_components=2, max_iter=120,
                  walker_lifetime=SOLVERS[name].default_walker_lifetime))
    assert all(step % interval == 0 for step in steps[:-1])
    assert not any(last for _, last in calls[:-1])
    stopped = run(name, problem, max_iter=120, tol=0.0, checkpoint=lambda step, last: True)
    assert stopped.n_iter == steps[0] and not stopped.converged


@pytest.mark.parametrize("name", REGISTERED)
def test_run_starts_from_given_weights(name):
    """weights_init (partial_fit's warm start): started on the exact
    eigenspace of C_pi at temperature 1 (the walkers' law is pi from the
    start), one block of updates stays near it (within the walkers' noise),
    nearer than from the generator's start."""
    problem = problem_for(name, temperature=1.0)
    exact = np.linalg.eigh(c_pi(problem))[1][:, ::-1][:, :2]
    budget = SOLVERS[name].check_interval(
        RunParams(n_components=2, walker_lifetime=SOLVERS[name].default_walker_lifetime))
    warm = subspace_angles(run(name, problem, weights_init=exact, max_iter=budget).subspace,
                           exact).max()
    cold = subspace_angles(run(name, problem, max_iter=budget).subspace, exact).max()
    assert warm < 0.1 and warm < cold


# --------------------------------------------------------------------------
# the solvers agree
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fits(spectral_data):
    X, _ = spectral_data
    kwargs = dict(n_components=3, random_state=0)
    return {
        "averaged": CoupledFlowEmbedding(solver="averaged", **kwargs).fit(X),
        "mean_field": CoupledFlowEmbedding(solver="mean_field", **kwargs).fit(X),
        "stochastic": CoupledFlowEmbedding(solver="stochastic", tol=3e-3, max_iter=6000, **kwargs).fit(X),
    }


def test_deterministic_solvers_agree_to_1e_6(spectral_data, fits):
    _, V = spectral_data
    for name in ("averaged", "mean_field"):
        assert subspace_angles(fits[name].components_.T, V[:, :3]).max() < 1e-6
    angle = subspace_angles(fits["averaged"].components_.T, fits["mean_field"].components_.T).max()
    assert angle < 1e-6


def test_stochastic_solver_agrees(spectral_data, fits):
    """The walkers' estimate is statistical: with tol=3e-3 it lands within 1e-2 rad."""
    _, V = spectral_data
    assert subspace_angles(fits["stochastic"].components_.T, V[:, :3]).max() < 1e-2


@pytest.mark.parametrize("solver", ["averaged", "mean_field", "stochastic"])
def test_solver_guarantees(spectral_data, fits, solver):
    X, _ = spectral_data
    est = fits[solver]
    W = est.components_
    np.testing.assert_allclose(W @ W.T, np.eye(3), atol=1e-10)
    assert est.converged_
    assert np.all(np.isfinite(est.lyapunov_))
    assert np.all(np.diff(est.explained_variance_) <= 0)
    assert np.all(np.isfinite(est.transform(X)))


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


@pytest.mark.parametrize("name", ["stochastic", "mean_field"])
def test_logged_subspace_gap_uses_the_projector(name):
    """The Lyapunov log's terms at the first and the last checkpoint, from
    the weights there: ||W^T W - I||_F**2 and sum_{i<=k} lambda_i -
    tr(P_W C_pi) with P_W = W (W^T W)^-1 W^T, C_pi = Z^T diag(pi) Z and its
    eigenvalues from numpy (tempered pi; weights far from orthonormal under
    the trace rule, where tr(W^T C W) is another number)."""
    problem = problem_for(name, temperature=0.5)
    Z, pi = problem.rows, problem.pi
    C = (Z * pi[:, None]).T @ Z
    top = np.linalg.eigvalsh(C)[::-1][:2].sum()
    W0 = 1.7 * np.random.default_rng(3).standard_normal((Z.shape[1], 2))
    result = run(name, problem, rule="trace", max_iter=60, weights_init=W0, tol=0.0)

    def terms(W):
        projector = W @ np.linalg.solve(W.T @ W, W.T)
        E = W.T @ W - np.eye(2)
        return np.sum(E * E), top - np.trace(projector @ C)

    np.testing.assert_allclose(result.lyapunov[0, 1:], terms(W0), rtol=1e-10)
    W = result.weights
    np.testing.assert_allclose(result.lyapunov[-1, 1:], terms(W), rtol=1e-10, atol=1e-12)
    # The weights' own quadratic form would log another number here.
    assert abs(np.trace(W.T @ C @ W) - (top - terms(W)[1])) > 1e-2
