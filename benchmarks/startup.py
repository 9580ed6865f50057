"""Start-up of the command line against ``import sklearn.base``, in fresh processes.

Run ``python benchmarks/startup.py [--rounds 7] [--against DIR]`` from the
project root.  Each round runs, one after the other (interleaved, so that the
machine's load hits all alike), ``python -c "import sklearn.base"``,
``python -c "import slowfast_sklearn"`` and a flat-data ``python -m
slowfast_sklearn embed`` of 300 x 5 samples (default solver, and
``--solver averaged``); ``--against DIR`` adds the same commands with
``DIR`` first on ``PYTHONPATH`` (another checkout's package, say the
previous commit's).  An embed's start-up is its wall time less the fit's
own time, which it prints.  Prints the median wall time of each and its
ratio to ``import sklearn.base`` (scikit-learn's own import is the floor),
and the median CPU time (user + system) of the process, which a loaded
machine disturbs less.  Then, from ``python -X importtime -c "import
sklearn.base; import slowfast_sklearn"`` in the same rounds, scikit-learn's
import (the floor) and what the package adds to it (its own modules and
whatever scikit-learn had not imported yet).
"""

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def _run(args, pythonpath):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                            cwd=tempfile.gettempdir(), check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    fit = re.search(r"\(fit ([0-9.]+) s", result.stdout)
    return wall, wall - float(fit.group(1)) if fit else wall, cpu


def _import_split(pythonpath):
    """(sklearn.base + the package, sklearn.base, the package's addition), -X importtime."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    code = "import sklearn.base; import slowfast_sklearn"
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                            capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(),
                            check=True)
    cumulative = {}
    for line in result.stderr.splitlines():
        fields = line.split("|")
        if len(fields) == 3 and fields[1].strip().isdigit():
            cumulative.setdefault(fields[2].strip(), int(fields[1]) / 1e6)
    floor, added = cumulative["sklearn.base"], cumulative["slowfast_sklearn"]
    return floor + added, floor, added


def main(rounds, against):
    folder = tempfile.mkdtemp()
    source, target = os.path.join(folder, "in.npy"), os.path.join(folder, "out.npy")
    np.save(source, np.random.default_rng(0).standard_normal((300, 5)))
    embed = ["-m", "slowfast_sklearn", "embed", source, "-o", target]
    commands = {
        "import sklearn.base": (["-c", "import sklearn.base"], None),
        "import slowfast_sklearn": (["-c", "import slowfast_sklearn"], ""),
        "embed (start-up)": (embed, ""),
        "embed --solver averaged (start-up)": (embed + ["--solver", "averaged"], ""),
    }
    if against:
        for name in list(commands)[1:]:
            commands[f"{name} [{against}]"] = (commands[name][0], os.path.abspath(against))
    runs = {name: [] for name in commands}
    splits = {label: [] for label in ("this checkout", against) if label}
    for _ in range(rounds):
        for name, (args, path) in commands.items():
            runs[name].append(_run(args, path))
        for label in splits:
            splits[label].append(_import_split(None if label == "this checkout"
                                               else os.path.abspath(against)))
    floor = statistics.median(start for _, start, _ in runs["import sklearn.base"])
    cpu_floor = statistics.median(cpu for _, _, cpu in runs["import sklearn.base"])
    print(f"{'command':<56}{'start-up':>9}{'x sklearn.base':>15}{'CPU':>8}"
          f"{'x sklearn.base':>15}{'wall with fit':>15}")
    for name, values in runs.items():
        start = statistics.median(v[1] for v in values)
        cpu = statistics.median(v[2] for v in values)
        print(f"{name:<56}{start:8.3f}s{start / floor:14.2f}x{cpu:7.3f}s{cpu / cpu_floor:14.2f}x"
              f"{statistics.median(v[0] for v in values):14.3f}s")
    print("\n-X importtime, import sklearn.base then slowfast_sklearn (medians): "
          "total = sklearn.base + the package")
    for label, values in splits.items():
        total, base, rest = (statistics.median(v[i] for v in values) for i in range(3))
        print(f"  {label:<54}{total:7.3f}s = {base:.3f}s + {rest:.3f}s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--against", metavar="DIR", help="another package checkout to compare")
    options = parser.parse_args()
    main(options.rounds, options.against)
