"""Every gallery example runs to the end, warning-free, and draws its figures.

Each ``examples/plot_*.py`` runs in a fresh interpreter (as sphinx-gallery
and a user would run it) with matplotlib's Agg backend and ``-W error``;
the figures left open are then saved, so the test fails if an example
raises, warns, draws nothing or takes longer than the gallery's budget.
The budget is checked on CPU time (the example's and its worker
processes'), which bounds the wall time on an idle two-core machine and,
unlike wall time, does not depend on what else the machine is running.

The subprocess runs with one BLAS thread: on two cores the walkers' small
matrix products lose up to 10x to OpenBLAS thread contention (numpy's and
scipy's OpenBLAS pools spin against each other), which would make the
timings below meaningless; ``.ci/run`` builds the gallery the same way.
"""

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("plot_*.py"))
#: The gallery's budget per example (seconds on two cores).
TIME_LIMIT = 60.0

RUNNER = """
import runpy
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

plt.show = lambda *args, **kwargs: None  # sphinx-gallery collects figures itself
runpy.run_path(sys.argv[1], run_name="__main__")
for i, number in enumerate(plt.get_fignums(), start=1):
    plt.figure(number).savefig(f"{sys.argv[2]}_{i:02d}.png", dpi=50)
"""


def test_examples_are_found():
    assert len(EXAMPLES) >= 5
    assert (EXAMPLES_DIR / "README.txt").is_file()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs_and_draws(example, tmp_path):
    prefix = tmp_path / example.stem
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", RUNNER, str(example), str(prefix)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=3 * TIME_LIMIT,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter() - start
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""
    figures = sorted(tmp_path.glob(f"{example.stem}_*.png"))
    assert figures, "the example drew no figure"
    for figure in figures:
        assert figure.stat().st_size > 5_000  # a drawn figure, not an empty canvas
    assert cpu < TIME_LIMIT, f"{cpu:.1f} s of CPU ({wall:.1f} s wall)"
