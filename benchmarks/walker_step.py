"""Time of one move of the walkers on digits' graph, by proposals per round.

Run ``python benchmarks/walker_step.py``.  Builds the estimator's graph on
scikit-learn's digits (15 neighbours, temperature 1) and times
:func:`~slowfast_sklearn.fast.graph.step_walkers` for 2048 walkers with 1, 2
and 4 proposals per walker and round (median of 7 repeats of 500 moves).
"""

import statistics
import timeit

import numpy as np
from sklearn.datasets import load_digits

import slowfast_sklearn.fast.graph as spatial
from slowfast_sklearn.geometry._base import self_kneighbors


def main():
    X = load_digits().data
    Z = X - X.mean(axis=0)
    K, _ = spatial.kernel_graph(*self_kneighbors(Z, 15), len(Z))
    P, _ = spatial.metropolis_transition(K)
    sampler = spatial.row_sampler(P)
    rng = np.random.default_rng(0)
    positions = rng.integers(0, len(Z), 2048)
    default = spatial.PROPOSALS
    times = {}
    for proposals in (1, 2, 4):
        spatial.PROPOSALS = proposals
        runs = timeit.repeat(lambda: spatial.step_walkers(positions, sampler, rng),
                             number=500, repeat=7)
        times[proposals] = statistics.median(runs) / 500 * 1e6
    spatial.PROPOSALS = default
    for proposals, us in times.items():
        print(f"{proposals} proposal(s) per round: {us:6.1f} us per move "
              f"({us / times[default]:.2f} x the default)")


if __name__ == "__main__":
    main()
