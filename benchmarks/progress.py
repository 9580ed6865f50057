"""When a long fit first reports, and its longest silence.

Run ``python benchmarks/progress.py [N1xD1 N2xD2 ...]`` (default 60000x50
and 100000x100), from the project root.  Each size is fitted twice, with
the default solver and with ``solver="averaged", temperature=1.5`` (which
builds the graph too), on the Gaussian data of ``benchmarks/run.py``, with
``verbose=1`` and a callback recording every hook (``sklearn.callback``,
scikit-learn 1.9 on), BLAS on one thread.  For each fit it prints the fit's
time, when the first verbose line and the first callback event after the
fit task's own begin came (seconds and share of the fit), and the longest
silence between two lines and between two callback events (counted from the
start of ``fit`` to its end).  Absolute times depend on the machine and on
the neighbour search; the shares are the point.
"""

import contextlib
import io
import sys
import time
import warnings

from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from run import synthetic
from slowfast_sklearn import CoupledFlowEmbedding


class _Lines(io.TextIOBase):
    """A stdout that keeps the time of each line."""

    def __init__(self):
        self.times = []

    def write(self, text):
        now = time.perf_counter()
        self.times += [now] * text.count("\n")
        return len(text)


class _Events:
    """A FitCallback that keeps the time of each hook after the fit's begin."""

    def __init__(self):
        self.times = []

    def setup(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, *, X=None):
        if context.parent is not None:
            self.times.append(time.perf_counter())

    def on_fit_task_end(self, estimator, context, *, X=None):
        self.times.append(time.perf_counter())

    def teardown(self, estimator, context):
        pass


def _summary(times, start, total):
    if not times:
        return "none", "-"
    gaps = [b - a for a, b in zip([start] + times, times + [start + total])]
    first = times[0] - start
    return (f"{first:6.2f} s ({first / total:6.1%})", f"{max(gaps):6.2f} s ({max(gaps) / total:6.1%})")


def measure(n, d, **params):
    """Fit once; return (total seconds, lines summary, events summary)."""
    X = synthetic(n, d, 0)
    lines, events = _Lines(), _Events()
    est = CoupledFlowEmbedding(5, random_state=0, verbose=1, **params)
    if hasattr(est, "set_callbacks"):
        est.set_callbacks(events)
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        with contextlib.redirect_stdout(lines):
            start = time.perf_counter()
            est.fit(X)
            total = time.perf_counter() - start
    return total, len(lines.times), _summary(lines.times, start, total), _summary(events.times,
                                                                                  start, total)


def main(sizes):
    print(f"{'data':>11} {'solver':<22}{'fit':>8}  {'lines':>5}  {'first line':<19}"
          f"{'longest silence':<19}{'first event':<19}{'longest without event':<19}")
    for size in sizes:
        n, d = map(int, size.lower().split("x"))
        for label, params in (("default", {}),
                              ("averaged, T=1.5", dict(solver="averaged", temperature=1.5))):
            total, count, (first, gap), (first_event, event_gap) = measure(n, d, **params)
            print(f"{size:>11} {label:<22}{total:7.2f}s  {count:>5}  {first:<19}{gap:<19}"
                  f"{first_event:<19}{event_gap:<19}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["60000x50", "100000x100"])
