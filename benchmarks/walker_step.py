"""Cost of the walkers on digits' graph: one move, and one weight update.

Run ``python benchmarks/walker_step.py`` (BLAS on one thread).  Builds the
estimator's graph on scikit-learn's digits (15 neighbours, temperature 1)
and times

- :func:`~slowfast_sklearn.fast.graph.step_walkers` for 2048 walkers with 1,
  2 and 4 proposals per walker and round (median of 7 repeats of 500 moves);
- one walker-driven update of the variance-reduced walkers at k = 10 (1797
  walkers, one per sample; 20 units with the oversampling): the move, the
  gathered batch product ``C_t (W - V)``, the Hebbian update and the QR
  retraction, against the arithmetic floor ``4 n_walkers d k`` flops at the
  GEMM rate measured in the same run (the walker-speed issue asks for at
  most 3x).
"""

import statistics
import timeit

import numpy as np
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

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
    update_cost(Z, P)


def update_cost(Z, P, k=10):
    """One walker-driven update against the ``4 n d k`` flop floor."""
    from slowfast_sklearn.solvers.variance_reduced import _AnchoredWalkers

    n, d = Z.shape
    Z = Z / np.sqrt(np.linalg.eigvalsh(Z.T @ Z / n)[-1])
    pi = np.full(n, 1.0 / n)
    walkers = spatial.GraphWalkers(Z, P, pi, n)
    rng = np.random.default_rng(0)
    eigenvalues = np.linalg.eigvalsh(Z.T @ Z / n)[::-1][:k + 1]
    flow = _AnchoredWalkers(Z, pi, walkers, eigenvalues, n_components=k, units=2 * k,
                            rule="sanger", learning_rate=0.5, lifetime=10 ** 9, walk_steps=1,
                            tol=0.0, rng=rng)
    flow.step(0)  # the anchored update, and the walkers' rebirth
    step = [1]

    def update():
        flow.step(step[0])
        step[0] += 1

    seconds = statistics.median(timeit.repeat(update, number=200, repeat=7)) / 200
    A, B = rng.standard_normal((d, n)), rng.standard_normal((n, k))
    gemm = statistics.median(timeit.repeat(lambda: A @ B, number=200, repeat=7)) / 200
    floor = 2 * gemm  # 4 n d k flops: two products of 2 n d k
    print(f"variance-reduced update, k={k}, {n} walkers: {seconds * 1e6:.0f} us; the "
          f"floor 4 n d k flops at this run's GEMM rate ({2 * n * d * k / gemm / 1e9:.1f} "
          f"GFLOP/s): {floor * 1e6:.0f} us; ratio {seconds / floor:.2f}")


if __name__ == "__main__":
    with threadpool_limits(1, user_api="blas"):
        main()
