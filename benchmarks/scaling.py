"""Scaling study of the decentralised fit: consensus against agents, and time against workers.

Run from the project root (after ``pip install ".[test]"``)::

    python benchmarks/scaling.py            # both parts, the figure, scaling.json
    python benchmarks/scaling.py --agents   # the simulated part only (one process)

1. **Simulated agents** (one process, BLAS on one thread).  64000 x 32
   samples, spectrum ``geomspace(8, 0.2, 32)`` in variance, k = 8, split
   into 1 to 64 agents either *shuffled* (every agent a random sample of
   the rows) or *sorted* (rows ordered by their coordinate on the first
   principal axis, so each agent sees a slab and its local moment differs
   from the pooled one).  The consensus graph is the exact all-reduce
   (complete) or a ring with 1, 8 or 64 gossip exchanges per round.  An oracle
   checks every agent at every anchor against the exact top-k eigenvectors
   of the pooled moment (numpy's ``eigh``) and records the consensus rounds
   and bytes at which *all* agents first have deficit <= 1e-3 and largest
   angle <= 0.03 rad (the estimator's own stopping rule is switched off for
   this; with it, the all-reduce runs are also given).  Runs stop after 100
   weight updates (50 anchors).
2. **Workers on the local cluster**: the fit of a 200000 x 64 dask array in
   8 chunks (persisted on the workers), k = 8, with ``solver="averaged"``
   and the default, on a ``LocalCluster`` of 1 and of 2 worker processes
   (one thread each, 127.0.0.1); the median of 3 fits after a warm-up.

The figure goes to ``docs/_static/scaling.png``, the numbers to
``benchmarks/scaling.json``.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from scipy.linalg import subspace_angles
from threadpoolctl import threadpool_limits

from slowfast_sklearn.distributed.agents import Gossip
from slowfast_sklearn.distributed.fitting import simulate

AGENTS = (1, 2, 4, 8, 16, 32, 64)
GRAPHS = (("complete", None), ("ring x1", 1), ("ring x8", 8), ("ring x64", 64))
ROOT = Path(__file__).resolve().parents[1]


def study_data(n=64_000, d=32, seed=0):
    rng = np.random.default_rng(seed)
    rotation = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return (rng.standard_normal((n, d)) * np.sqrt(np.geomspace(8.0, 0.2, d))) @ rotation.T


def partition(X, n_agents, how, seed=0):
    if how == "shuffled":
        order = np.random.default_rng(seed).permutation(len(X))
    else:
        Z = X - X.mean(axis=0)
        order = np.argsort(Z @ np.linalg.eigh(Z.T @ Z)[1][:, -1])
    return [X[part] for part in np.array_split(order, n_agents)]


def first_accurate(chunks, k, vectors, C, top, mix, tol):
    """Rounds and bytes when every agent first reaches the accuracy (None: never)."""
    record = {}

    def on_anchor(agents, mix, t):
        worst_deficit = worst_angle = 0.0
        for agent in agents:
            U = agent.subspace()
            worst_angle = max(worst_angle, subspace_angles(U, vectors).max())
            worst_deficit = max(worst_deficit, 1.0 - np.trace(U.T @ C @ U) / top)
        if worst_deficit <= 1e-3 and worst_angle <= 0.03 and not record:
            record.update(rounds=mix.rounds, bytes=mix.bytes, updates=t)
        return bool(record)

    _, result, mix, _ = simulate(chunks, k, mix=mix, tol=tol, max_iter=100, on_anchor=on_anchor)
    return record or None, result, mix


def simulated(k=8):
    X = study_data()
    Z = X - X.mean(axis=0)
    values, vectors = np.linalg.eigh(Z.T @ Z / len(X))
    C = Z.T @ Z / len(X)
    top, vectors = values[::-1][:k].sum(), vectors[:, ::-1][:, :k]
    rows = []
    for how in ("shuffled", "sorted"):
        for n_agents in AGENTS:
            chunks = partition(X, n_agents, how)
            shares = np.array([len(c) for c in chunks]) / len(X)
            for graph, steps in GRAPHS:
                mix = None if steps is None else Gossip(shares, steps)
                record, _, _ = first_accurate(chunks, k, vectors, C, top, mix, tol=0.0)
                row = dict(partition=how, agents=n_agents, graph=graph,
                           rounds=record and record["rounds"], bytes=record and record["bytes"])
                if steps is None:  # the estimator's own stopping rule
                    _, result, rule_mix, _ = simulate(chunks, k, max_iter=100)
                    row.update(rule_rounds=rule_mix.rounds, rule_bytes=rule_mix.bytes,
                               rule_converged=bool(result.converged))
                rows.append(row)
                print(f"{how:8s} {n_agents:3d} agents {graph:9s} rounds {row['rounds']!s:>5s} "
                      f"bytes {row['bytes']!s:>10s}"
                      + (f"  (stopping rule: {row['rule_rounds']} rounds, {row['rule_bytes']} "
                         f"bytes)" if steps is None else ""), flush=True)
    return rows


def cluster_times(n=200_000, d=64, n_chunks=8, k=8, repeats=3):
    import distributed

    from dask_cluster import make_data  # noqa: E402 (benchmarks/ on the path)

    from slowfast_sklearn import CoupledFlowEmbedding

    rows = []
    for workers in (1, 2):
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                           processes=True, host="127.0.0.1",
                                           dashboard_address=None, silence_logs=50)
        client = distributed.Client(cluster)
        try:
            X = client.persist(make_data(n, d, n_chunks))
            distributed.wait(X)
            warm = client.persist(make_data(4000, d, 2, seed=5))
            for label, solver in (("averaged", "averaged"), ("default", "auto")):
                CoupledFlowEmbedding(k, solver=solver, random_state=0).fit(warm)
                seconds = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    CoupledFlowEmbedding(k, solver=solver, random_state=0).fit(X)
                    seconds.append(time.perf_counter() - start)
                rows.append(dict(workers=workers, solver=label,
                                 seconds=statistics.median(seconds)))
                print(f"{workers} worker(s) {label:9s} {rows[-1]['seconds']:.2f} s", flush=True)
        finally:
            client.close()
            cluster.close()
    return rows


#: Most consensus rounds a run can take (50 anchors, 49 weight averages).
MOST_ROUNDS = 99


def figure(rows, times, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.9))
    colours = dict(zip((g for g, _ in GRAPHS), ("C0", "C1", "C2", "C3")))
    styles = {"shuffled": ("-", "o"), "sorted": ("--", "s")}
    for how, (line, marker) in styles.items():
        for graph, _ in GRAPHS:
            sel = [r for r in rows if r["partition"] == how and r["graph"] == graph]
            reached = [r for r in sel if r["rounds"] is not None]
            missed = [r for r in sel if r["rounds"] is None]
            style = dict(color=colours[graph], linestyle=line, marker=marker, markersize=4)
            axes[0].plot([r["agents"] for r in reached], [r["rounds"] for r in reached],
                         label=f"{graph}, {how}", **style)
            axes[0].plot([r["agents"] for r in missed], [MOST_ROUNDS * 1.3] * len(missed),
                         color=colours[graph], marker="x", linestyle="none")
            positive = [r for r in reached if r["bytes"]]
            axes[1].plot([r["agents"] for r in positive], [r["bytes"] for r in positive],
                         **style)
    axes[0].axhline(MOST_ROUNDS * 1.3, color="grey", linewidth=0.5)
    axes[0].text(1, MOST_ROUNDS * 1.45, "x: not reached in 99 rounds", fontsize=7)
    axes[0].set_yscale("log")
    axes[0].set_ylim(4, 250)
    axes[0].set_ylabel("consensus rounds to accuracy")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("bytes exchanged to accuracy")
    for ax in axes[:2]:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("agents (simulated, one process)")
    axes[0].legend(fontsize=6.5, ncol=2, loc="center right")
    axes[0].set_title("every agent: deficit <= 1e-3, angle <= 0.03 rad", fontsize=9)
    axes[1].set_title("64000 x 32, k = 8", fontsize=9)
    if times:
        for label in ("averaged", "default"):
            sel = [r for r in times if r["solver"] == label]
            axes[2].plot([r["workers"] for r in sel], [r["seconds"] for r in sel], marker="o",
                         label=label)
        axes[2].set_xticks([1, 2])
        axes[2].set_xlabel("worker processes (LocalCluster on 2 shared cores)")
        axes[2].set_ylabel("fit time (s)")
        axes[2].set_title("200000 x 64 in 8 chunks, k = 8", fontsize=9)
        axes[2].set_yscale("log")
        axes[2].legend(fontsize=8)
    else:
        axes[2].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", action="store_true", help="the simulated part only")
    parser.add_argument("--replot", action="store_true",
                        help="redraw the figure from benchmarks/scaling.json")
    args = parser.parse_args()
    if args.replot:
        saved = json.loads((ROOT / "benchmarks" / "scaling.json").read_text())
        figure(saved["simulated"], saved["cluster"], ROOT / "docs" / "_static" / "scaling.png")
        raise SystemExit
    with threadpool_limits(1):
        rows = simulated()
    times = [] if args.agents else cluster_times()
    (ROOT / "benchmarks" / "scaling.json").write_text(
        json.dumps({"simulated": rows, "cluster": times}, indent=1) + "\n")
    figure(rows, times, ROOT / "docs" / "_static" / "scaling.png")
    print("wrote benchmarks/scaling.json and docs/_static/scaling.png")
