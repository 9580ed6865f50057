"""The decentralised fit's core without a cluster (``slowfast_sklearn/distributed``).

Chunk summaries against numpy's moments, the consensus (all-reduce and ring
gossip) against their definitions, Procrustes alignment, and the agents run
in one process: the pooled measure against each chunk's walk built
independently, the subspace against the exact eigenvectors of the pooled
``C_pi`` (numpy's ``eigh``), and the traffic against the algorithm's count.
Dask itself is not needed here (``tests/test_dask.py`` runs the cluster).
"""

import subprocess
import sys

import numpy as np
import pytest
from _helpers import Walk, gaussian_data
from scipy.linalg import subspace_angles

from slowfast_sklearn._moments import accumulate, empty_stream
from slowfast_sklearn.distributed import is_dask_collection
from slowfast_sklearn.distributed.agents import AllReduce, Gossip, procrustes
from slowfast_sklearn.distributed.fitting import simulate, split_walkers
from slowfast_sklearn.distributed.summary import (
    about,
    add_to_stream,
    combine,
    summarise,
    tree,
)

SPECTRUM = np.geomspace(8.0, 0.2, 12)


def pooled_reference(X, pi, k):
    """Exact top-k eigenpairs of ``C_pi`` about the plain mean (numpy's eigh)."""
    Z = X - X.mean(axis=0)
    C = (Z * pi[:, None]).T @ Z
    values, vectors = np.linalg.eigh(C)
    return C, values[::-1], vectors[:, ::-1][:, :k]


@pytest.mark.parametrize("scale", [1.0, 1e-300, 1e150])
def test_tree_of_summaries_gives_the_pooled_moments(scale):
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((1003, 5)) * [3.0, 1.0, 0.5, 0.1, 0.01] + [1e3, 0, -5, 2, 0]) * scale
    weights = rng.random(len(X))
    cuts = [0, 7, 300, 301, 640, 1003]
    parts = [summarise(X[a:b], weights[a:b]) for a, b in zip(cuts, cuts[1:])]
    pooled = tree(parts, combine)
    mean = X.mean(axis=0)
    Z = X - mean
    np.testing.assert_allclose(pooled.mean, mean, rtol=1e-13, atol=1e-13 * scale)
    assert pooled.count == len(X) and pooled.mass == pytest.approx(weights.sum(), rel=1e-14)
    first, scatter, e = about(pooled, mean)
    unit = np.ldexp(1.0, e) / scale  # the moments in units of the scale itself
    C = (Z / scale * weights[:, None]).T @ (Z / scale)
    np.testing.assert_allclose(scatter * unit**2, C, rtol=1e-11, atol=1e-12 * np.abs(C).max())
    np.testing.assert_allclose(first * unit, weights @ Z / scale, atol=1e-9 * np.abs(C).max())
    np.testing.assert_array_equal(pooled.low, X.min(axis=0))
    np.testing.assert_array_equal(pooled.high, X.max(axis=0))
    # About another point.
    point = X[5]
    first, scatter, e = about(pooled, point)
    D = (X - point) / scale
    unit = np.ldexp(1.0, e) / scale
    np.testing.assert_allclose(scatter * unit**2, (D * weights[:, None]).T @ D, rtol=1e-10)


def test_summaries_refuse_nan():
    X = np.ones((4, 2))
    X[1, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        summarise(X)


def test_summaries_extend_partial_fits_running_sums_as_the_rows_do():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((500, 4)) + 100.0
    masses = rng.random(500)
    masses *= 500 / masses.sum()
    reference = X[:50].mean(axis=0)
    direct, summed = empty_stream(reference), empty_stream(reference)
    accumulate(direct, X, masses)
    add_to_stream(summed, tree([summarise(X[:200], masses[:200]),
                                summarise(X[200:], masses[200:])], combine))
    for key in ("count", "weight", "sum", "wsum", "wscatter"):
        np.testing.assert_allclose(summed[key], direct[key], rtol=1e-10, atol=1e-9, err_msg=key)


def test_procrustes_undoes_a_rotation_and_sign_flips():
    rng = np.random.default_rng(2)
    W = np.linalg.qr(rng.standard_normal((10, 3)))[0]
    R = np.linalg.qr(rng.standard_normal((3, 3)))[0] @ np.diag([1.0, -1.0, -1.0])
    np.testing.assert_allclose(procrustes(W @ R, W), W, atol=1e-12)


def test_all_reduce_sums_and_counts_its_traffic():
    rng = np.random.default_rng(3)
    parts = [rng.standard_normal((6, 4)) for _ in range(5)]
    mix = AllReduce(5)
    out = mix(parts)
    assert len(out) == 5
    for M in out:
        np.testing.assert_allclose(M, np.sum(parts, axis=0), rtol=1e-14)
    assert mix.rounds == 1 and mix.bytes == 2 * 5 * 6 * 4 * 8


def test_ring_gossip_tends_to_the_weighted_mean():
    rng = np.random.default_rng(4)
    shares = np.array([0.1, 0.4, 0.2, 0.05, 0.25])
    values = [rng.standard_normal((3, 2)) for _ in shares]
    target = sum(s * v for s, v in zip(shares, values))
    mix = Gossip(shares, steps=200)
    np.testing.assert_allclose(mix.mixing.sum(axis=0), 1.0)
    np.testing.assert_allclose(mix.mixing.sum(axis=1), 1.0)
    for estimate in mix([s * v for s, v in zip(shares, values)]):
        np.testing.assert_allclose(estimate, target, atol=1e-10)
    # Each exchange: every agent sends to its two neighbours.
    assert mix.edges == 10 and mix.bytes == 200 * 10 * 3 * 2 * 8
    few = Gossip(shares, steps=1)([s * v for s, v in zip(shares, values)])
    assert max(np.abs(e - target).max() for e in few) > 1e-3  # one exchange is not enough


def test_walkers_are_split_by_samples():
    counts = np.array([500, 300, 199, 1])
    walkers = split_walkers(1000, counts)
    assert walkers.sum() == 1000 and walkers.min() >= 1
    np.testing.assert_array_equal(split_walkers(1000, counts), [500, 300, 199, 1])
    assert split_walkers(10, np.array([997, 3])).tolist() == [10, 1]


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_agents_reach_the_pooled_measures_top_subspace(temperature):
    """Four agents, each with its own graph: the pooled measure is the union
    of the chunks' walks weighted by their samples (each built here
    independently), and the agents stop within the rule on the exact
    eigenvectors of its ``C_pi``."""
    X = gaussian_data(n=2400, eigenvalues=SPECTRUM, seed=5) + 4.0
    cuts = [0, 500, 1100, 1700, 2400]
    chunks = [X[a:b] for a, b in zip(cuts, cuts[1:])]
    k = 4
    problem, result, mix, _ = simulate(chunks, k, temperature=temperature, random_state=0)
    pooled = np.concatenate([len(c) / len(X) * Walk(c, beta=1 / temperature).pi for c in chunks])
    np.testing.assert_allclose(problem.pi, pooled, rtol=1e-10)
    C, values, V = pooled_reference(X, pooled, k)
    U = result.subspace
    assert result.converged
    deficit = 1.0 - np.trace(U.T @ C @ U) / values[:k].sum()
    assert deficit <= 1e-3
    assert subspace_angles(U, V).max() <= 0.03
    # Traffic: an anchor (units x d) per row of the record, the weights
    # (k x d) between consecutive anchors; each up and down for each agent.
    units = min(X.shape[1], k + max(k, 8))
    anchors = len(result.lyapunov)
    assert mix.rounds == 2 * anchors - 1
    assert mix.bytes == 2 * 4 * 8 * X.shape[1] * (units * anchors + k * (anchors - 1))


def test_agents_stop_at_once_past_the_datas_rank():
    """Rank-3 data, k = 5: the agents' shared stopping rule ignores the
    zero eigenvalues' "gaps" and stops with the rank's subspace exact."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((1200, 3)) @ rng.standard_normal((3, 12)) + 2.0
    chunks = np.array_split(X, 3)
    problem, result, mix, _ = simulate(chunks, 5, random_state=0)
    assert result.converged and len(result.lyapunov) < 10
    C, values, V = pooled_reference(X, problem.pi, 3)
    assert subspace_angles(result.subspace[:, :3], V).max() <= 1e-6


def test_agents_on_a_ring_agree_as_gossip_allows():
    """Ring gossip with enough exchanges per round reaches the same subspace
    as the all-reduce; its traffic is exchanges x links x matrix bytes."""
    X = gaussian_data(n=1600, eigenvalues=SPECTRUM, seed=6)
    chunks = np.array_split(X, 4)
    shares = np.full(4, 0.25)
    _, exact, _, _ = simulate(chunks, 3, random_state=1)
    _, ring, mix, agents = simulate(chunks, 3, random_state=1, mix=Gossip(shares, steps=30))
    assert ring.converged
    for agent in agents:
        assert subspace_angles(agent.subspace(), exact.subspace).max() < 0.03
    units = min(12, 3 + 8)
    anchors = len(ring.lyapunov)
    assert mix.bytes == 30 * 8 * 8 * 12 * (units * anchors + 3 * (anchors - 1))


def test_dask_is_not_imported_for_in_memory_data():
    code = (
        "import sys, numpy as np\n"
        "from slowfast_sklearn import CoupledFlowEmbedding\n"
        "X = np.random.default_rng(0).standard_normal((60, 3))\n"
        "CoupledFlowEmbedding(2, solver='averaged').fit(X).transform(X)\n"
        "print(any(m == 'dask' or m.startswith('dask.') for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert not is_dask_collection(np.zeros(3)) and not is_dask_collection([1.0])


def test_the_studys_oracle_sees_every_anchor_and_can_stop_the_run():
    X = gaussian_data(n=800, eigenvalues=SPECTRUM, seed=7)
    seen = []

    def on_anchor(agents, mix, t):
        seen.append((len(agents), mix.rounds, t))
        return len(seen) == 2

    _, result, mix, _ = simulate(np.array_split(X, 2), 3, tol=0.0, on_anchor=on_anchor)
    # Anchors after updates 2 and 4 (lifetime 2); each follows a weights round.
    assert seen == [(2, 3, 2), (2, 5, 4)]
    assert result.n_iter == 4 and not result.converged and mix.rounds == 5


def test_heap_allocations_only_act_under_dasks_trim_setting():
    """Inside a dask worker (MALLOC_TRIM_THRESHOLD_ set by its nanny) the
    agents' calls take glibc's malloc settings for their work and restore
    them, re-entrantly; in a process without the variable nothing is done."""
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from slowfast_sklearn.distributed import _heap\n"
        "print(_heap._LIBC is not None, _heap._TRIM)\n"
        "with _heap.heap_allocations():\n"
        "    with _heap.heap_allocations():\n"
        "        x = np.ones((2000, 2000)).sum()\n"
        "    print(_heap._depth)\n"
        "print(_heap._depth, x)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    plain = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, check=True).stdout.split()
    assert plain[:2] == ["False", "0"]
    worker = subprocess.run([sys.executable, "-c", code],
                            env={**env, "MALLOC_TRIM_THRESHOLD_": "65536"},
                            capture_output=True, text=True, check=True).stdout.split()
    active = worker[0] == "True"
    if sys.platform.startswith("linux") and os.path.exists("/lib/x86_64-linux-gnu/libc.so.6"):
        assert active and worker[1] == "65536"
    assert worker[2:] == ["1" if active else "0", "0", "4000000.0"]
