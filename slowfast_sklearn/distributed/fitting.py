"""Problems from summaries and agents: what a fit on distributed rows hands the solvers.

The in-memory preparation (:func:`~slowfast_sklearn._prepare.prepare`) reads
``X`` itself; here the same :class:`~slowfast_sklearn._prepare.Problem` is
filled from what the chunks report, and nothing else:

* :func:`averaged_problem`: the pooled :class:`~.summary.Summary` (and, at
  ``temperature != 1``, the masses each chunk's own graph gives its rows)
  becomes the dense ``C_pi`` the averaged flow runs on;
* :func:`agents_problem` and :func:`run_agents`: the agents report their
  summaries, then (after the shared base point and scale) their local
  moments; the consensus rounds follow (:mod:`~.agents`);
* :func:`batch_problem`: ``partial_fit``'s running sums.

No dask here: the transport is whatever reaches the agents.
"""

import numpy as np
from scipy import linalg

from .._hebbian import orthonormalize
from .._moments import DenseMoments
from .._prepare import (
    LAZINESS,
    Problem,
    _components_from_spectrum,
    _geometry,
    _measure,
    _require_variance,
    _total_variance,
    stream_problem,
)
from ..fast.graph import kernel_graph, metropolis_transition, stationary_law
from ..geometry import resolve_geometry
from .agents import AllReduce, consensus_flow
from .summary import about, combine, reach_exponent, summarise, tree

__all__ = ["agents_problem", "averaged_problem", "batch_problem", "run_agents", "simulate",
           "split_walkers", "tempered_summary"]


def tempered_summary(X, n_neighbors, temperature):
    """One chunk weighed by the stationary law of the walk on its own kNN graph.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The chunk (flat data).
    n_neighbors : int
        Clipped to ``n - 1``; chunks of fewer than 3 rows weigh them equally
        (as ``partial_fit`` does a batch).
    temperature : float

    Returns
    -------
    summary : Summary
        With masses ``n pi`` (summing to ``n``).
    masses : ndarray of shape (n,)
    """
    n = X.shape[0]
    if n < 3:
        masses = np.ones(n)
    else:
        Z = np.subtract(X, np.mean(X, axis=0, dtype=np.float64), dtype=np.float64)
        np.ldexp(Z, -reach_exponent(np.abs(Z).max(axis=0)), out=Z)
        geometry = resolve_geometry("euclidean", X.shape[1])
        graph, _ = kernel_graph(*geometry.kneighbors(X, Z, min(n_neighbors, n - 1)), n)
        del Z
        _, degree = metropolis_transition(graph, 1.0 / temperature, LAZINESS)
        masses = n * stationary_law(degree, 1.0 / temperature)
    return summarise(X, masses), masses


def _flat_problem(X, plan, rng):
    """A problem with its geometry and ``k`` checked (``X`` only gives shape and dtype)."""
    problem = Problem(X, plan, rng)
    _geometry(problem)
    return problem


def averaged_problem(X, plan, rng, summary, masses=None):
    """The averaged flow's problem from the pooled summary.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Only its shape and dtype are read (a dask array).
    plan : Plan
    rng : numpy.random.RandomState or Generator
    summary : Summary
        Of all rows: unit masses at temperature 1, else the chunks' graph
        masses.
    masses : ndarray of shape (n_samples,), default=None
        Those masses (None at temperature 1).

    Returns
    -------
    problem : Problem
    """
    p = _flat_problem(X, plan, rng)
    p.base = summary.mean
    first, scatter, exponent = about(summary, p.base)
    C, first = scatter / summary.mass, first / summary.mass
    floor = p.geometry.rounding_floor(p.base, X.dtype)
    if masses is None:  # as the in-memory streamed moments: the spreads
        with np.errstate(over="ignore"):
            active = np.ldexp(np.sqrt(np.diag(C)), exponent) > floor
    else:  # as the in-memory coordinates: the ranges
        active = summary.high - summary.low > floor
    _require_variance(active)
    Ca = C if active.all() else C[np.ix_(active, active)]
    p.active, p.exponent = active, exponent
    with np.errstate(over="ignore"):
        p.moments = DenseMoments(Ca, np.ldexp(1.0, 2 * exponent))
    if masses is None:
        p.flat_moments = (C, None, np.ones(C.shape[0], dtype=bool), exponent)
    else:
        p.pi = masses / summary.mass
        p.flat_moments = (Ca, first[active], active, exponent)
    if p.k is None:  # a share of the variance or Minka's MLE, as in memory
        p.k = _components_from_spectrum(p, linalg.eigvalsh(Ca)[::-1])
    p.n_units = min(p.k, int(active.sum()))
    _measure(p)
    return p


def batch_problem(X, state, plan, n_components):
    """``partial_fit``'s problem once a batch is in the running sums.

    Parameters
    ----------
    X : array-like of shape (n, d)
        The batch (shape and dtype only).
    state : dict
        The running sums, this batch included.
    plan : Plan
    n_components : int

    Returns
    -------
    problem : Problem
    """
    geometry = resolve_geometry(plan.manifold, X.shape[1])
    return stream_problem(X, plan, geometry, state, n_components)


def split_walkers(n_walkers, counts):
    """Walkers per agent in proportion to its samples (largest remainder, at least 1).

    Parameters
    ----------
    n_walkers : int
    counts : ndarray of shape (n_agents,)

    Returns
    -------
    walkers : ndarray of int of shape (n_agents,)
    """
    exact = n_walkers * counts / counts.sum()
    walkers = np.floor(exact).astype(int)
    short = n_walkers - walkers.sum()
    walkers[np.argsort(walkers - exact)[:short]] += 1
    return np.maximum(walkers, 1)


def agents_problem(transport, X, plan, rng):
    """The agents' shared base point and scale, their local graphs, the pooled moment.

    Two exchanges of preparation: every agent reports its summary (the
    pooled mean, ranges and count come from their combination), then, told
    the base point, the varying features and the exact scale, it builds its
    coordinates, graph and local measure and reports its share-weighted
    ``d x d`` moment; their sum is the pooled ``C_pi``, whose top
    eigenvalues fix the units and the stopping rule.

    Parameters
    ----------
    transport : InProcess or a transport to actors
    X : array-like of shape (n_samples, n_features)
        Shape and dtype only.
    plan : Plan
    rng : numpy.random.RandomState or Generator

    Returns
    -------
    problem : Problem
        With ``transport``, ``counts`` (samples per agent) and ``lambdas``
        set, and the pooled measure as ``pi``.
    """
    p = _flat_problem(X, plan, rng)
    n_agents = transport.n_agents
    summaries = transport.call("summary", [()] * n_agents)
    pooled = tree(summaries, combine)
    p.base = pooled.mean
    active = pooled.high - pooled.low > p.geometry.rounding_floor(p.base, X.dtype)
    _require_variance(active)
    exponent = reach_exponent(np.maximum(pooled.high - p.base, p.base - pooled.low)[active])
    counts = np.array([s.count for s in summaries])
    local = transport.call("prepare", [(p.base, active, exponent, c / counts.sum())
                                       for c in counts])
    C, first = sum(part[0] for part in local), sum(part[1] for part in local)
    n_active = int(active.sum())
    p.active, p.exponent = active, exponent
    p.pi = np.concatenate(transport.call("measure", [()] * n_agents))
    lambdas = np.clip(linalg.eigvalsh(C)[::-1], 0.0, None)
    if p.k is None:
        p.k = _components_from_spectrum(p, lambdas)
    if not lambdas[0] > 0.0:
        raise ValueError(
            f"X has zero variance under the spatial measure at temperature="
            f"{plan.temperature}: it sits on samples at the mean. Raise temperature."
        )
    p.lambdas = lambdas[:min(p.k + 1, n_active)]
    p.n_units = min(p.k, n_active)
    with np.errstate(over="ignore"):
        p.moments = DenseMoments(C, np.ldexp(1.0, 2 * exponent))
    p.flat_moments = (C, first, active, exponent)
    _measure(p)
    p.transport, p.counts = transport, counts
    return p


def run_agents(problem, params, mix=None, oversampling=None):
    """The agents' consensus rounds on a prepared problem.

    Parameters
    ----------
    problem : Problem
        From :func:`agents_problem`.
    params : RunParams
        As for the in-memory variance-reduced solver (``n_walkers`` is the
        total, split by samples; ``weights_init`` is not used).
    mix : AllReduce or Gossip, default=None
        The consensus; an exact all-reduce when None.
    oversampling : int, default=None
        Extra units; None: ``max(k, 8)`` as the in-memory solver.

    Returns
    -------
    result : FlowResult
    mix : AllReduce or Gossip
        With its ``rounds`` and ``bytes``.
    """
    transport, k = problem.transport, params.n_components
    n_active = int(problem.active.sum())
    extra = max(k, 8) if oversampling is None else oversampling
    units = min(n_active, k + extra)
    V = orthonormalize(params.rng.standard_normal((n_active, units)))
    eigenvalues = problem.lambdas / problem.lambdas[0]
    walkers = split_walkers(params.n_walkers, problem.counts)
    scale = 1.0 / np.sqrt(problem.lambdas[0])
    transport.call("start", [(scale, V, eigenvalues, k, params.rule, params.learning_rate,
                              params.tol, int(m)) for m in walkers])
    mix = AllReduce(transport.n_agents) if mix is None else mix
    result = consensus_flow(transport, mix, lifetime=params.walker_lifetime,
                            max_iter=params.max_iter, verbose=params.verbose,
                            checkpoint=params.checkpoint)
    return result, mix


def simulate(chunks, n_components, *, temperature=1.0, n_neighbors=15, mix=None,
             random_state=0, rule="sanger", learning_rate=0.5, walker_lifetime=2,
             max_iter=3000, tol=1e-3, on_anchor=None):
    """The decentralised fit with every agent in this process (the scaling study).

    Parameters
    ----------
    chunks : list of ndarray of shape (n_a, n_features)
        One agent per chunk (flat data).
    n_components : int
        Components to learn, ``k``.
    temperature : float, default=1.0
        Temperature of every agent's walk.
    n_neighbors : int, default=15
        Neighbours in every agent's graph.
    mix : callable, default=None
        A consensus built for ``len(chunks)`` agents (:class:`~.agents.Gossip`
        needs the shares: ``n_a / n``); an exact all-reduce when None.
    random_state : int, default=0
        Seeds the shared start and, spawned, every agent's walkers.
    rule : {"sanger", "oja"}, default="sanger"
        The Hebbian rule.
    learning_rate : float, default=0.5
        The walkers' step, in units of each unit's variance.
    walker_lifetime : int, default=2
        Weight updates per life of the walkers (per two consensus rounds).
    max_iter : int, default=3000
        Most weight updates.
    tol : float, default=1e-3
        The stopping rule's deficit (``sqrt(tol)`` rad for the angle bound).
    on_anchor : callable, default=None
        ``on_anchor(agents, mix, update) -> bool`` after every anchor but
        the first; True stops the run (an oracle of the study).

    Returns
    -------
    problem : Problem
        ``problem.pi`` is the pooled measure.
    result : FlowResult
        The run: the first agent's subspace, the record of the anchors.
    mix : AllReduce or Gossip
        With the rounds and bytes.
    agents : list of Agent
        The agents, for their subspaces at the end.
    """
    from .._prepare import Plan
    from ..fast.graph import GraphProcess
    from ..solvers import SOLVERS, RunParams
    from .agents import Agent, InProcess

    seeds = np.random.SeedSequence(random_state).spawn(len(chunks))
    agents = [Agent(c, temperature=temperature, n_neighbors=n_neighbors, seed=s)
              for c, s in zip(chunks, seeds)]
    rows = sum(len(c) for c in chunks)
    meta = np.empty((rows, chunks[0].shape[1]), dtype=chunks[0].dtype)  # shape and dtype
    solver = SOLVERS["variance_reduced"]
    plan = Plan("euclidean", GraphProcess, solver, temperature, n_neighbors, n_components)
    rng = np.random.RandomState(random_state)
    problem = agents_problem(InProcess(agents), meta, plan, rng)
    mix = AllReduce(len(agents)) if mix is None else mix
    checkpoint = None if on_anchor is None else (lambda t, last: on_anchor(agents, mix, t))
    params = RunParams(n_components=problem.n_units, rule=rule, learning_rate=learning_rate,
                       max_iter=max_iter, tol=tol, rng=rng, n_walkers=rows,
                       walker_lifetime=walker_lifetime, checkpoint=checkpoint)
    result, mix = run_agents(problem, params, mix)
    return problem, result, mix, agents
