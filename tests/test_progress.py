"""Progress reporting: ``verbose`` lines and scikit-learn's callback API.

``verbose=1`` prints one line per preparation step (and lines inside the
neighbour search, throttled), then one per checkpoint (every 50 updates for
the walker solvers, every iteration for the averaged one).  Where the
installed scikit-learn has ``sklearn.callback`` (1.9 on), the fit is a
callback task whose subtasks are the preparation's steps (the neighbour
search with one subtask per 5% of its rows) and the solver's run, whose
subtasks are the blocks of updates between checkpoints; a callback can watch
them (``ProgressBar``) or stop the fit.  Times come from a fake clock where
the throttling is tested.
"""

import re
import warnings

import numpy as np
import pytest
from _helpers import EIGENVALUES, gaussian_data
from sklearn.neighbors import NearestNeighbors

import slowfast_sklearn._progress as progress_module
import slowfast_sklearn.geometry._base as geometry_base
from slowfast_sklearn import CoupledFlowEmbedding
from slowfast_sklearn._prepare import Plan, steps
from slowfast_sklearn._progress import PRINT_EVERY, TICKS, FitProgress
from slowfast_sklearn.fast import FAST_PROCESSES
from slowfast_sklearn.geometry._base import self_kneighbors
from slowfast_sklearn.solvers import SOLVERS

LINE = {
    "stochastic": r"\[CoupledFlowEmbedding\] step +\d+  split angle \S+ rad  KL \S+  orth \S+  subspace gap \S+",
    "mean_field": r"\[CoupledFlowEmbedding\] step +\d+  change \S+ rad  KL \S+  orth \S+  subspace gap \S+",
    "averaged": r"\[CoupledFlowEmbedding\] iteration +\d+  Davis-Kahan bound \S+ rad  captured variance \S+",
}
STAGE = r"\[CoupledFlowEmbedding\] ([a-z ]+): (\d+) samples, \d+(\.\d)? m?s"
GRAPH_STEPS = ["geometry", "frechet mean", "kernel", "coordinates", "neighbours", "graph",
               "metropolis", "moments", "measure"]


def fit_steps(est, X):
    """The preparation steps ``est.fit(X)`` runs."""
    plan = Plan(est.manifold, FAST_PROCESSES[est.kernel], SOLVERS[est.solver], est.temperature,
                est.n_neighbors, est.n_components)
    return steps(plan)


@pytest.fixture(scope="module")
def X():
    # 20 features: more than k + oversampling, so the averaged solver iterates.
    return gaussian_data(n=400, eigenvalues=np.r_[EIGENVALUES, np.full(12, 0.2)], seed=11)


@pytest.mark.parametrize("solver", ["stochastic", "mean_field", "averaged"])
def test_verbose_prints_one_line_per_checkpoint(X, capsys, solver):
    est = CoupledFlowEmbedding(n_components=2, solver=solver, random_state=0, verbose=1).fit(X)
    lines = capsys.readouterr().out.splitlines()
    # First one line per preparation step, in order (a 400-sample search is
    # too quick for lines inside it), then the checkpoints.
    names = fit_steps(est, X)
    stages, lines = lines[:len(names)], lines[len(names):]
    assert [re.fullmatch(STAGE, line).group(1, 2) for line in stages] == [
        (name, "400") for name in names
    ]
    assert lines and all(re.fullmatch(LINE[solver], line) for line in lines), lines[:3]
    if solver == "averaged":
        assert len(lines) == est.n_iter_
        bound = float(lines[-1].split("bound ")[1].split()[0])
        assert bound < 1e-6
    else:
        # One line per logged checkpoint (the log's first row is the start).
        steps = [int(line.split()[2]) for line in lines]
        assert steps == list(est.lyapunov_steps_[1:])


def test_verbose_partial_fit_and_silence(X, capsys):
    CoupledFlowEmbedding(n_components=2, verbose=1).partial_fit(X)
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(re.fullmatch(LINE["averaged"], line) for line in lines)
    CoupledFlowEmbedding(n_components=2, solver="averaged").fit(X)
    assert capsys.readouterr().out == ""


callback = pytest.importorskip("sklearn.callback", reason="scikit-learn without sklearn.callback")


class Recorder:
    """A FitCallback that records its hooks; optionally stops after ``stop_after`` blocks.

    ``tasks`` maps each begun task's (parent name, name, id) to its
    ``max_subtasks``.
    """

    def __init__(self, stop_after=None):
        self.events, self.stop_after, self.tasks = [], stop_after, {}

    def setup(self, estimator, context):
        self.events.append(("setup", context.task_name, context.max_subtasks))

    def on_fit_task_begin(self, estimator, context, *, X=None):
        self.events.append(("begin", context.task_name, X.shape))
        parent = None if context.parent is None else context.parent.task_name
        self.tasks[parent, context.task_name, context.task_id] = context.max_subtasks

    def on_fit_task_end(self, estimator, context, *, X=None, fitted_estimator=None):
        self.events.append(("end", context.task_name, fitted_estimator is not None))
        ends = sum(1 for e in self.events if e[:2] == ("end", "checkpoint"))
        return self.stop_after is not None and ends >= self.stop_after

    def teardown(self, estimator, context):
        self.events.append(("teardown", context.task_name, None))


def stage_events(name, ticks=0):
    return ([("begin", name)] + [("begin", "progress"), ("end", "progress")] * ticks
            + [("end", name)])


@pytest.mark.parametrize("solver", ["stochastic", "mean_field", "averaged"])
def test_callback_sees_each_step_and_each_checkpoint(X, solver):
    """The fit's subtasks: the preparation's steps in order (the neighbour
    search with one subtask per 5%), then the solver's run, whose
    subtasks are the blocks between checkpoints."""
    recorder = Recorder()
    est = CoupledFlowEmbedding(n_components=2, solver=solver, random_state=0)
    est.set_callbacks(recorder).fit(X)
    kinds = [event[:2] for event in recorder.events]
    names = fit_steps(est, X)
    blocks = est.n_iter_ if solver == "averaged" else len(est.lyapunov_steps_) - 1
    prepared = [e for name in names
                for e in stage_events(name, TICKS if name == "neighbours" else 0)]
    assert kinds == (
        [("setup", "fit"), ("begin", "fit")] + prepared + [("begin", "solve")]
        + [("begin", "checkpoint"), ("end", "checkpoint")] * blocks
        + [("end", "solve"), ("end", "fit"), ("teardown", "fit")]
    )
    # Every task is announced with its number of subtasks, which it never exceeds.
    max_iter = est.max_iter if solver == "averaged" else -(-est.max_iter // 50)
    assert recorder.events[0][2] == len(names) + 1
    assert recorder.tasks[None, "fit", 0] == len(names) + 1
    for i, name in enumerate(names):
        assert recorder.tasks["fit", name, i] == (TICKS if name == "neighbours" else 0)
    assert recorder.tasks["fit", "solve", len(names)] == max_iter >= blocks
    assert recorder.events[1][2] == X.shape
    # The fit task ends on the fitted estimator.
    assert recorder.events[-2] == ("end", "fit", True)
    assert not hasattr(est, "_callback_fit_ctx")


@pytest.mark.parametrize("manifold", ["euclidean", "hypersphere", "poincare_ball"])
def test_the_neighbour_search_reports_each_chunk(monkeypatch, capsys, manifold):
    """In chunks of 60 rows, the search of 600 samples reports ten times:
    verbose lines with increasing counts (a fake clock reads 1 s later at
    each look) and all of its callback subtasks, inside its task."""
    ticking = iter(np.arange(0.0, 1e4, 1.0))
    monkeypatch.setattr(progress_module, "clock", lambda: next(ticking))
    monkeypatch.setattr(geometry_base, "KNN_MIN_CHUNK", 60)
    monkeypatch.setattr(geometry_base, "KNN_PROGRESS_CHUNKS", 10)
    Z = np.random.default_rng(0).standard_normal((600, 3)) * [1.0, 0.5, 0.2]
    X = {
        "euclidean": Z,
        "hypersphere": (Z + [0, 0, 4]) / np.linalg.norm(Z + [0, 0, 4], axis=1, keepdims=True),
        "poincare_ball": 0.1 * Z,
    }[manifold]
    recorder = Recorder()
    est = CoupledFlowEmbedding(manifold=manifold, solver="averaged", temperature=0.8,
                               verbose=1, random_state=0)
    est.set_callbacks(recorder).fit(X)
    kinds = [event[:2] for event in recorder.events]
    start = kinds.index(("begin", "neighbours"))
    assert kinds[start:start + 2 * TICKS + 2] == stage_events("neighbours", TICKS)
    lines = [line for line in capsys.readouterr().out.splitlines() if "neighbours" in line]
    counts = [re.fullmatch(r"\[CoupledFlowEmbedding\] neighbours: (\d+)/600 \((\d+)%\), "
                           r"(\d+)\.0 s", line).groups() for line in lines[:-1]]
    assert [int(done) for done, _, _ in counts] == list(range(60, 600, 60))
    assert [int(share) for _, share, _ in counts] == list(range(10, 100, 10))
    seconds = [int(t) for _, _, t in counts]
    assert seconds == sorted(seconds) and seconds[0] >= 1
    assert re.fullmatch(STAGE, lines[-1]).group(1, 2) == ("neighbours", "600")


def test_self_kneighbors_reports_monotone_counts(monkeypatch):
    """KNN_PROGRESS_CHUNKS calls, counts increasing to n_samples, and the
    neighbours of scikit-learn's search of the whole set."""
    monkeypatch.setattr(geometry_base, "KNN_MIN_CHUNK", 16)
    monkeypatch.setattr(geometry_base, "KNN_PROGRESS_CHUNKS", 20)
    Z = np.random.default_rng(1).standard_normal((1000, 4))
    calls = []
    distances, indices = self_kneighbors(Z, 5, progress=lambda done, total: calls.append(
        (done, total)))
    assert [done for done, _ in calls] == list(range(50, 1001, 50))
    assert {total for _, total in calls} == {1000}
    dist, ind = NearestNeighbors(n_neighbors=5).fit(Z).kneighbors()
    np.testing.assert_array_equal(indices, ind)
    np.testing.assert_allclose(distances, dist, rtol=1e-12)


def test_ticks_follow_the_share_done(X):
    """Three reports of a step (30%, 75%, all) end 6, 9 and 5 of its twenty
    subtasks: the callbacks see each 5%, however the work is cut."""
    recorder = Recorder()
    est = CoupledFlowEmbedding().set_callbacks(recorder)
    report = FitProgress(est, X, [("neighbours", True)])

    class Problem:
        n_samples = 400

    seen = []
    with report.stage("neighbours", Problem()) as progress:
        for done in (120, 300, 400):
            progress(done, 400)
            seen.append(sum(1 for e in recorder.events if e[:2] == ("end", "progress")))
    assert seen == [6, 15, 20] and TICKS == 20
    assert recorder.events[-1][:2] == ("end", "neighbours")


def test_verbose_lines_of_a_long_step(monkeypatch, capsys):
    """A step's progress lines: none in its first PRINT_AFTER seconds, then one
    per tenth of the work, or one after PRINT_EVERY seconds of silence; the
    step's own line closes it (fake clock)."""
    now = [0.0]
    monkeypatch.setattr(progress_module, "clock", lambda: now[0])
    report = FitProgress(object(), None, [("neighbours", True)], verbose=1)

    class Problem:
        n_samples = 1000

    # (time of the call, rows done)
    calls = [(0.5, 150), (1.2, 190), (1.5, 250), (2.0, 300), (2.1, 310), (4.2, 320),
             (4.3, 400), (9.0, 1000)]
    with report.stage("neighbours", Problem()) as progress:
        for t, done in calls:
            now[0] = t
            progress(done, 1000)
        now[0] = 9.5
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "[object] neighbours: 190/1000 (19%), 1.2 s",  # after PRINT_AFTER, a new tenth
        "[object] neighbours: 250/1000 (25%), 1.5 s",  # the next tenth
        "[object] neighbours: 300/1000 (30%), 2.0 s",
        "[object] neighbours: 320/1000 (32%), 4.2 s",  # PRINT_EVERY of silence
        "[object] neighbours: 400/1000 (40%), 4.3 s",
        "[object] neighbours: 1000 samples, 9.5 s",  # done: the step's line only
    ]
    assert PRINT_EVERY == 2.0


@pytest.mark.parametrize("solver, updates", [("stochastic", 100), ("variance_reduced", 4)])
def test_callback_can_stop_the_fit(X, solver, updates):
    """Stopped at the second checkpoint: after two blocks of 50 updates for
    the constant-step walkers, two lives of 2 updates for the anchored ones."""
    est = CoupledFlowEmbedding(n_components=2, random_state=0, max_iter=3000, solver=solver,
                               tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning: the stop was asked for
        est.set_callbacks(Recorder(stop_after=2)).fit(X)
    assert est.n_iter_ == updates
    assert not est.converged_
    assert np.all(np.isfinite(est.components_))


def test_callbacks_in_partial_fit_and_pipeline(X):
    from sklearn.pipeline import make_pipeline

    recorder = Recorder()
    CoupledFlowEmbedding(n_components=2).set_callbacks(recorder).partial_fit(X)
    assert recorder.events[0][:2] == ("setup", "fit")
    assert recorder.events[-1][:2] == ("teardown", "fit")
    recorder = Recorder()
    est = CoupledFlowEmbedding(n_components=2, solver="averaged").set_callbacks(recorder)
    make_pipeline(est).fit(X)
    assert ("end", "fit", True) in recorder.events


def test_progress_bar(X):
    pytest.importorskip("rich")
    est = CoupledFlowEmbedding(n_components=2, solver="mean_field", random_state=0)
    est.set_callbacks(callback.ProgressBar()).fit(X)
    assert est.converged_
