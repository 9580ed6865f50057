"""The fast-process contract (``fast/``): what every registered process must pass.

Parametrised over :data:`~slowfast_sklearn.fast.FAST_PROCESSES` (imbalanced-
learn's common-test pattern): a new process is a module, a registry line
and a passing run of this file.  Each process's own maths is tested in its
file (``test_graph.py``, ``test_langevin.py``).
"""

import re

import numpy as np
import pytest
from _helpers import gaussian_data
from scipy.linalg import subspace_angles

from slowfast_sklearn import CoupledFlowEmbedding
from slowfast_sklearn._prepare import Plan, prepare
from slowfast_sklearn.fast import FAST_PROCESSES, Walkers, works_with
from slowfast_sklearn.solvers import SOLVERS, RunParams

REGISTERED = sorted(FAST_PROCESSES)


def walker_problem(name, X, temperature=1.0):
    process = FAST_PROCESSES[name]
    walker_solver = next(s for s in SOLVERS.values() if s.runs_walkers and works_with(process, s))
    plan = Plan("euclidean", FAST_PROCESSES[name], walker_solver, temperature, 15, 2)
    return prepare(X, plan, np.random.default_rng(0))


@pytest.mark.parametrize("name", REGISTERED)
def test_registry_entry(name):
    process = FAST_PROCESSES[name]
    assert process.name == name
    assert process.provides <= {"walkers", "transition"} and "walkers" in process.provides
    assert isinstance(process.gathers_rows, bool) and isinstance(process.exact_law, bool)
    assert any(works_with(process, solver) for solver in SOLVERS.values())


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", REGISTERED)
@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_declared_compatibility_is_what_fit_does(name, solver):
    """A solver works with a process exactly when its requirements are provided;
    otherwise fit says so in the solver's words."""
    X = gaussian_data(n=120, seed=1)
    est = CoupledFlowEmbedding(2, kernel=name, solver=solver, n_walkers=32, max_iter=50,
                               random_state=0)
    if works_with(FAST_PROCESSES[name], SOLVERS[solver]):
        assert np.all(np.isfinite(est.fit(X).components_))
    else:
        with pytest.raises(ValueError, match=re.escape(SOLVERS[solver].requirement_message)):
            est.fit(X)


@pytest.mark.parametrize("name", REGISTERED)
def test_walkers_follow_the_protocol(name):
    """step returns a finite batch of the active coordinates (walkers whose
    log is undefined may leave it), divergence a finite non-negative term,
    state one entry per walker; all draws come from the generator."""
    X = gaussian_data(n=200, seed=2)
    problem = walker_problem(name, X, temperature=0.8)
    params = RunParams(n_components=2, n_walkers=32, walker_lifetime=5)
    runs = []
    for _ in range(2):
        rng = np.random.default_rng(7)
        walkers = FAST_PROCESSES[name].walkers(problem, params, rng)
        assert isinstance(walkers, Walkers)
        batches = [walkers.step(2, rng) for _ in range(6)]
        for batch in batches:
            assert batch.ndim == 2 and batch.shape[1] == problem.rows.shape[1]
            assert 0 < batch.shape[0] <= 32 and np.all(np.isfinite(batch))
        divergence = walkers.divergence()
        assert np.isfinite(divergence) and divergence >= 0.0
        assert len(walkers.state) == 32
        runs.append(np.concatenate(batches))
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("name", REGISTERED)
def test_walkers_sample_the_principal_subspace(name):
    """Averaged over a run, the walkers' batch second moment has the top
    eigenspace of C_pi (graph: its exact law; Langevin: the data's
    covariance plus sigma**2 I, the same eigenvectors)."""
    X = gaussian_data(n=400, seed=3)
    problem = walker_problem(name, X)
    walkers = FAST_PROCESSES[name].walkers(
        problem, RunParams(n_components=2, n_walkers=128, walker_lifetime=10),
        np.random.default_rng(4),
    )
    rng = np.random.default_rng(5)
    C = sum(b.T @ b / len(b) for b in (walkers.step(1, rng) for _ in range(300)))
    Z, pi = problem.rows, problem.pi
    exact = np.linalg.eigh((Z * pi[:, None]).T @ Z)[1][:, -2:]
    assert subspace_angles(np.linalg.eigh(C)[1][:, -2:], exact).max() < 0.15
