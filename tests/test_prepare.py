"""The preparation stage (``_prepare``): X becomes the problem the solvers run on.

The steps are watched through the hook every step is wrapped in; the
problem's fields are compared with numpy and with the graph functions
called directly (``tests/_helpers.Walk``).
"""

import contextlib

import numpy as np
import pytest
from _helpers import Walk, gaussian_data

import slowfast_sklearn._prepare as preparation
from slowfast_sklearn._moments import accumulate, empty_stream
from slowfast_sklearn._prepare import Plan, prepare, prepare_batch
from slowfast_sklearn._rows import CentredRows
from slowfast_sklearn.fast import FAST_PROCESSES
from slowfast_sklearn.solvers import SOLVERS

GRAPH_STEPS = ["geometry", "frechet mean", "kernel", "coordinates", "neighbours", "graph",
               "metropolis", "moments", "measure"]
STREAMED_STEPS = ["geometry", "frechet mean", "kernel", "moments", "measure"]


def plan(solver="stochastic", kernel="graph", temperature=1.0, manifold="euclidean",
         n_components=2, n_neighbors=15):
    return Plan(manifold, FAST_PROCESSES[kernel], SOLVERS[solver], temperature, n_neighbors,
                n_components)


def recorded(X, the_plan):
    events = []

    @contextlib.contextmanager
    def hook(step, problem):
        events.append(("begin", step))
        yield
        events.append(("end", step))

    return prepare(X, the_plan, np.random.default_rng(0), hook=hook), events


@pytest.mark.parametrize("solver, temperature, steps", [
    ("averaged", 1.0, STREAMED_STEPS),
    ("averaged", 0.7, GRAPH_STEPS),
    ("stochastic", 1.0, GRAPH_STEPS),
    ("mean_field", 1.0, GRAPH_STEPS),
])
def test_named_steps_each_wrapped_by_the_hook(solver, temperature, steps):
    """A dense-moment solver at temperature 1 builds no graph (pi is uniform
    for any graph); everything else runs the graph's steps."""
    problem, events = recorded(gaussian_data(n=300), plan(solver, temperature=temperature))
    assert events == [(kind, step) for step in steps for kind in ("begin", "end")]
    assert (problem.P is None) == (steps is STREAMED_STEPS)


def test_problem_of_the_walkers_solver():
    """Base point, exact power-of-two scale, the walk's law and the units."""
    X = gaussian_data(n=400, seed=1) + 5.0
    problem = prepare(X, plan(temperature=0.6), np.random.default_rng(0))
    np.testing.assert_allclose(problem.base, X.mean(axis=0), rtol=1e-14)
    walk = Walk(X, beta=1 / 0.6)
    np.testing.assert_allclose(problem.pi, walk.pi, rtol=1e-10)
    assert problem.measure is problem.pi
    # Rows are (x - b) * 2**-exponent / sqrt(lambda_1): top eigenvalue 1.
    Z = problem.rows
    C = (Z * problem.pi[:, None]).T @ Z
    assert np.linalg.eigvalsh(C)[-1] == pytest.approx(1.0, rel=1e-10)
    # The solvers' top eigenvalues (the third Lyapunov term) come without a
    # second pass over the rows: those of C_pi in the rows' units.
    np.testing.assert_allclose(problem.moments.top(2), np.linalg.eigvalsh(C)[::-1][:2],
                               rtol=1e-12)
    # ... and the moments' unit is lambda_1 of C_pi in X's units.
    Zc = X - X.mean(axis=0)
    assert problem.moments.unit == pytest.approx(
        np.linalg.eigvalsh(Zc.T @ (walk.pi[:, None] * Zc))[-1], rel=1e-10
    )
    assert problem.lambdas[0] * 4.0**problem.exponent == pytest.approx(problem.moments.unit)
    assert problem.n_eff == pytest.approx(1.0 / np.sum(walk.pi**2))
    assert problem.bessel == pytest.approx(problem.n_eff / (problem.n_eff - 1.0))
    assert (problem.k, problem.n_units) == (2, 2)


def test_streamed_moment_is_the_covariance():
    X = gaussian_data(n=500, seed=2) * 1e3
    problem = prepare(X, plan("averaged"), np.random.default_rng(0))
    assert problem.rows is None and problem.pi is None
    Z = X - X.mean(axis=0)
    np.testing.assert_allclose(problem.moments.C * problem.moments.unit, Z.T @ Z / len(X),
                               rtol=1e-12)
    np.testing.assert_array_equal(problem.measure, np.full(len(X), 1.0 / len(X)))
    # partial_fit's sums: that moment itself, no pass over X.
    state = problem.stream()
    np.testing.assert_array_equal(state["wscatter"], problem.moments.C * len(X))
    assert state["count"] == len(X) and not np.any(state["sum"])


@pytest.mark.parametrize("solver, kernel, manifold, on_demand", [
    ("stochastic", "graph", "euclidean", True),
    ("mean_field", "graph", "euclidean", False),
    ("stochastic", "langevin", "euclidean", False),
    ("averaged", "graph", "euclidean", False),
    ("stochastic", "graph", "poincare_ball", False),
])
def test_rows_are_read_off_X_only_where_gathers_and_blocks_suffice(
    monkeypatch, solver, kernel, manifold, on_demand
):
    """Above ON_DEMAND_BYTES, flat data's rows become a row view when the
    solver and the walkers read them by gathers and blocks only."""
    monkeypatch.setattr(preparation, "ON_DEMAND_BYTES", 0)
    X = 0.1 * gaussian_data(n=200, seed=3)[:, :4] / 4.0
    problem = prepare(X, plan(solver, kernel, temperature=0.8, manifold=manifold),
                      np.random.default_rng(0))
    assert isinstance(problem.rows, CentredRows) == on_demand
    assert problem.on_demand == on_demand


def test_a_kernel_the_solver_cannot_use_is_refused():
    with pytest.raises(ValueError, match=SOLVERS["mean_field"].requirement_message[:40]):
        prepare(gaussian_data(n=50), plan("mean_field", "langevin"), np.random.default_rng(0))


@pytest.mark.parametrize("temperature", [1.0, 0.6])
def test_a_batch_adds_its_measure_to_the_running_sums(temperature):
    """prepare_batch spreads the batch's mass by its own measure (uniform at
    temperature 1, else the walk's stationary law, as prepare builds it)."""
    X = gaussian_data(n=300, seed=4) + 50.0
    state = empty_stream(X[:150].mean(axis=0))
    accumulate(state, X[:150], np.ones(150))
    reference = {key: np.copy(value) for key, value in state.items()}
    batch_plan = plan("averaged", temperature=temperature)
    problem, state = prepare_batch(X[150:], state, batch_plan, 2, SOLVERS["averaged"])
    if temperature == 1.0:
        weights = np.full(150, 1.0 / 150)
    else:
        weights = prepare(X[150:], batch_plan, np.random.default_rng(0)).pi
    accumulate(reference, X[150:], weights * 150)
    for key in ("count", "sum", "weight", "wsum", "wscatter"):
        np.testing.assert_allclose(state[key], reference[key], rtol=1e-12, atol=1e-9)
    assert state["count"] == 300
    np.testing.assert_allclose(problem.base, X.mean(axis=0), rtol=1e-14)
    assert problem.bessel == pytest.approx(300 / 299)
    assert problem.active.all() and problem.k == problem.n_units == 2
