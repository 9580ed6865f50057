"""A fit's progress: ``verbose`` lines and scikit-learn's callback tasks.

The fit is one task of scikit-learn's callback API (``sklearn.callback``,
1.9 on).  Its subtasks are, in order, the preparation's steps (one task per
step of :func:`~slowfast_sklearn._prepare.prepare`) and the solver's run
(``"solve"``).  A step named in :data:`~slowfast_sklearn._prepare.PROGRESS_STEPS`
has :data:`TICKS` leaf subtasks, one ended per twentieth of its work as it
reports it (``problem.progress(done, total)``); the solver's run has one leaf
per block of weight updates between two checkpoints, where a callback may
stop the fit.  The other steps are leaves.  With ``verbose`` each step prints
one line when it ends (name, samples, time) and a reporting step, once it
has run :data:`PRINT_AFTER` seconds, one line per tenth of its work or every
:data:`PRINT_EVERY` seconds, whichever comes first.  Without
``sklearn.callback`` only the lines remain.
"""

import contextlib
import time

__all__ = ["PRINT_AFTER", "PRINT_EVERY", "TICKS", "FitProgress"]

#: Callback subtasks of a step that reports its progress (one per 5% of it).
TICKS = 20
#: Verbose lines of such a step: one per tenth of its work (or PRINT_EVERY).
TENTHS = 10
#: Longest silence (seconds) of a verbose step that reports its progress.
PRINT_EVERY = 2.0
#: A step's progress lines start after it has run this long (seconds): a
#: quick step prints its closing line only.
PRINT_AFTER = 1.0
#: The clock the lines' times are read from (tests replace it).
clock = time.perf_counter


def _seconds(t):
    return f"{t:.1f} s" if t >= 0.1 else f"{t * 1e3:.0f} ms"


class FitProgress:
    """One fit's progress reports: the preparation's hook and the solver's checkpoint.

    Parameters
    ----------
    estimator : estimator
        The estimator being fitted (a ``CallbackSupportMixin`` for callbacks).
    X : ndarray
        The validated samples, passed to the callbacks.
    stages : list of (str, bool), default=()
        The preparation's steps in the order they run, and whether each
        reports its progress inside.
    verbose : int, default=0
        Print the steps' lines when positive.
    """

    def __init__(self, estimator, X, stages=(), verbose=0):
        self.estimator, self.X, self.verbose = estimator, X, verbose
        self.stages = dict(stages)
        self.prefix = f"[{type(estimator).__name__}]"
        self.root = self.solve_task = self.block = None
        if hasattr(estimator, "_init_callback_context"):
            self.root = estimator._init_callback_context(max_subtasks=len(self.stages) + 1)
            self._begin(self.root)

    def _begin(self, task):
        task.call_on_fit_task_begin(estimator=self.estimator, X=self.X)
        return task

    def _end(self, task):
        return task.call_on_fit_task_end(estimator=self.estimator, X=self.X)

    def _subtask(self, parent, name, max_subtasks):
        if parent is None:
            return None
        return self._begin(parent.subcontext(task_name=name, max_subtasks=max_subtasks))

    def print(self, text):
        """One verbose line, flushed (progress shows even through a pipe)."""
        print(f"{self.prefix} {text}", flush=True)

    @contextlib.contextmanager
    def stage(self, name, problem):
        """The preparation's hook: a task and a line around one step.

        Parameters
        ----------
        name : str
            The step.
        problem : Problem
            What it fills (its ``n_samples`` goes in the line).

        Yields
        ------
        progress : callable
            ``progress(done, total)`` for the step to call as it advances.
        """
        reports = self.stages.get(name, False)
        task = self._subtask(self.root, name, TICKS if reports else 0)
        meter = _Meter(self, name, task if reports else None)
        yield meter
        if task is not None:
            self._end(task)  # a stop asked of a preparation step is not honoured
        if self.verbose:
            self.print(f"{name}: {problem.n_samples} samples, {_seconds(clock() - meter.start)}")

    def solve(self, max_checkpoints):
        """Begin the solver's task; return the checkpoint callable of its run.

        Parameters
        ----------
        max_checkpoints : int
            Most checkpoints the run reaches (``Solver.checkpoints``): one
            callback subtask each.

        Returns
        -------
        checkpoint : FitProgress
            Itself: ``checkpoint(step, last) -> bool`` (True stops the run).
        """
        self.solve_task = self._subtask(self.root, "solve", max_checkpoints)
        self._begin_block()
        return self

    def _begin_block(self):
        self.block = self._subtask(self.solve_task, "checkpoint", 0)

    def __call__(self, step, last):
        if self.block is None:
            return False
        stop = self._end(self.block)
        self.block = None
        if not (stop or last):
            self._begin_block()
        return stop

    def close(self):
        """End a block cut short (a diverged run), the solver's task and the fit."""
        if self.root is None:
            return
        if self.block is not None:
            self._end(self.block)
        if self.solve_task is not None:
            self._end(self.solve_task)
        self.root.call_on_fit_task_end(
            estimator=self.estimator, X=self.X, reconstruction_attributes={}
        )


class _Meter:
    """A step's ``progress(done, total)``: tick subtasks and throttled lines."""

    def __init__(self, report, name, task):
        self.report, self.name, self.task = report, name, task
        self.start = self.printed_at = clock()
        self.ticks = self.printed_tenth = 0

    def __call__(self, done, total):
        tick = int(done * TICKS // total) if total > 0 else TICKS
        while self.task is not None and self.ticks < min(tick, TICKS):
            self.report._end(self.report._subtask(self.task, "progress", 0))
            self.ticks += 1
        if not self.report.verbose or done >= total:
            return  # the step's own line follows
        now = clock()
        if now - self.start < PRINT_AFTER:
            return
        tenth = int(done * TENTHS // total)
        if tenth > self.printed_tenth or now - self.printed_at >= PRINT_EVERY:
            self.printed_tenth, self.printed_at = tenth, now
            self.report.print(f"{self.name}: {done}/{total} ({done / total:.0%}), "
                              f"{_seconds(now - self.start)}")
