"""Progress reporting: ``verbose`` lines and scikit-learn's callback API.

``verbose=1`` prints one line per checkpoint (every 50 updates for the
walker solvers, every iteration for the averaged one).  Where the installed
scikit-learn has ``sklearn.callback`` (1.9 on), the fit is a callback task
whose subtasks are the blocks of updates between checkpoints; a callback can
watch them (``ProgressBar``) or stop the fit.
"""

import re
import warnings

import numpy as np
import pytest
from _helpers import EIGENVALUES, gaussian_data

from slowfast_sklearn import CoupledFlowEmbedding

LINE = {
    "stochastic": r"\[CoupledFlowEmbedding\] step +\d+  split angle \S+ rad  KL \S+  orth \S+  subspace gap \S+",
    "mean_field": r"\[CoupledFlowEmbedding\] step +\d+  change \S+ rad  KL \S+  orth \S+  subspace gap \S+",
    "averaged": r"\[CoupledFlowEmbedding\] iteration +\d+  Davis-Kahan bound \S+ rad  captured variance \S+",
}


@pytest.fixture(scope="module")
def X():
    # 20 features: more than k + oversampling, so the averaged solver iterates.
    return gaussian_data(n=400, eigenvalues=np.r_[EIGENVALUES, np.full(12, 0.2)], seed=11)


@pytest.mark.parametrize("solver", ["stochastic", "mean_field", "averaged"])
def test_verbose_prints_one_line_per_checkpoint(X, capsys, solver):
    est = CoupledFlowEmbedding(n_components=2, solver=solver, random_state=0, verbose=1).fit(X)
    lines = capsys.readouterr().out.splitlines()
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
    assert re.fullmatch(LINE["averaged"], capsys.readouterr().out.splitlines()[-1])
    CoupledFlowEmbedding(n_components=2, solver="averaged").fit(X)
    assert capsys.readouterr().out == ""


callback = pytest.importorskip("sklearn.callback", reason="scikit-learn without sklearn.callback")


class Recorder:
    """A FitCallback that records its hooks; optionally stops after ``stop_after`` blocks."""

    def __init__(self, stop_after=None):
        self.events, self.stop_after = [], stop_after

    def setup(self, estimator, context):
        self.events.append(("setup", context.task_name, context.max_subtasks))

    def on_fit_task_begin(self, estimator, context, *, X=None):
        self.events.append(("begin", context.task_name, X.shape))

    def on_fit_task_end(self, estimator, context, *, X=None, fitted_estimator=None):
        self.events.append(("end", context.task_name, fitted_estimator is not None))
        ends = sum(1 for e in self.events if e[:2] == ("end", "checkpoint"))
        return self.stop_after is not None and ends >= self.stop_after

    def teardown(self, estimator, context):
        self.events.append(("teardown", context.task_name, None))


@pytest.mark.parametrize("solver", ["stochastic", "mean_field", "averaged"])
def test_callback_sees_the_fit_and_each_checkpoint(X, solver):
    recorder = Recorder()
    est = CoupledFlowEmbedding(n_components=2, solver=solver, random_state=0)
    est.set_callbacks(recorder).fit(X)
    kinds = [event[:2] for event in recorder.events]
    blocks = est.n_iter_ if solver == "averaged" else len(est.lyapunov_steps_) - 1
    assert kinds == (
        [("setup", "fit"), ("begin", "fit")]
        + [("begin", "checkpoint"), ("end", "checkpoint")] * blocks
        + [("end", "fit"), ("teardown", "fit")]
    )
    max_iter = est.max_iter if solver == "averaged" else -(-est.max_iter // 50)
    assert recorder.events[0][2] == max_iter
    assert recorder.events[1][2] == X.shape
    # The fit task ends on the fitted estimator.
    assert recorder.events[-2] == ("end", "fit", True)
    assert not hasattr(est, "_callback_fit_ctx")


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
