"""Dask arrays: fits that leave the rows on the cluster, and lazy row-wise outputs.

Imported only when a dask collection reaches the estimator.  Work runs on
the active ``dask.distributed`` client if there is one, else on dask's
default scheduler.

* ``solver="averaged"``: one task per chunk summarises it
  (:func:`~.summary.summarise`; at ``temperature != 1`` weighed by the walk
  on the chunk's own graph), a tree of tasks combines the summaries, and
  only the root, ``O(d**2)`` numbers, reaches the driver, which runs the
  averaged flow on the pooled ``d x d`` moment;
* the default solver: every chunk becomes an :class:`~.agents.Agent`, a dask
  actor on the worker that holds the chunk, and the agents run their
  consensus rounds (:func:`~.fitting.run_agents`); without a client the
  same agents run in this process;
* ``transform``, ``inverse_transform`` and ``score_samples``: ``map_blocks``
  of the fitted estimator's own methods (a copy without its
  ``n_samples``-sized attributes), with meta and chunks.
"""

import contextlib
import copy
from dataclasses import replace

import dask
import dask.array as da
import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._moments import empty_stream
from .._prepare import warn_few_samples
from .._threads import one_blas_thread
from ..fast import FAST_PROCESSES
from ..geometry import GEOMETRIES, is_matrix_manifold
from ..solvers import resolve_solver
from .agents import Agent, InProcess
from .fitting import (
    agents_problem,
    averaged_problem,
    batch_problem,
    run_agents,
    tempered_summary,
)
from .summary import add_to_stream, combine, summarise, tree

__all__ = ["ActorTransport", "active_client", "as_rows", "fit", "partial_fit", "rowwise"]

#: Solvers a dask array can be fitted with.
DASK_SOLVERS = ("averaged", "variance_reduced")


def active_client():
    """The active ``dask.distributed`` client, or None (dask's default scheduler).

    A scheduler chosen explicitly (``dask.config.set(scheduler="threads")``
    or ``"sync"``) wins over the client, as it does for ``compute``.
    """
    if dask.config.get("scheduler", None) not in (None, "dask.distributed", "distributed"):
        return None
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - dask without distributed
        return None
    try:
        return default_client()
    except ValueError:
        return None


def _compute(*objects):
    client = active_client()
    if client is not None:
        return tuple(client.compute(list(objects), sync=True))
    return dask.compute(*objects)


def as_rows(estimator, X, *, reset, min_samples=1, n_columns=None):
    """A validated dask array of rows: 2-D, float, one column chunk, known chunks.

    Values (NaN, infinity) are checked where the chunks are read.

    Parameters
    ----------
    estimator : CoupledFlowEmbedding
    X : dask.array.Array
    reset : bool
        Set ``n_features_in_`` (fit); otherwise check against it.
    min_samples : int, default=1
    n_columns : int, default=None
        Columns required instead of ``n_features_in_`` (``inverse_transform``).

    Returns
    -------
    X : dask.array.Array

    Raises
    ------
    TypeError
        If ``X`` is another dask collection (a dask DataFrame).
    ValueError
        For a shape, dtype or size the estimator cannot take.
    """
    name = type(estimator).__name__
    if not isinstance(X, da.Array):
        raise TypeError(
            f"{name} takes dask arrays; got a {type(X).__name__}. Convert it with "
            "X.to_dask_array(lengths=True) (a dask DataFrame) or pass a dask.array.Array."
        )
    if X.ndim == 3 and is_matrix_manifold(estimator.manifold):
        X = X.rechunk({1: -1, 2: -1}).reshape(X.shape[0], -1)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D dask array, got a {X.ndim}D one (shape {X.shape}); "
                         "reshape it to (n_samples, n_features).")
    if np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError("Complex data not supported; pass real values.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if any(np.isnan(size) for size in X.chunks[0]):
        X = X.compute_chunk_sizes()
    n, d = X.shape
    if n < min_samples:
        raise ValueError(f"Found array with {n} sample(s) (shape={X.shape}) while a minimum "
                         f"of {min_samples} is required by {name}.")
    if d == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                         f"of 1 is required by {name}.")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    if reset:
        estimator.n_features_in_ = d
        estimator.__dict__.pop("feature_names_in_", None)  # a dask array has none
    else:
        expected = estimator.n_features_in_ if n_columns is None else n_columns
        if d != expected:
            raise ValueError(f"X has {d} features, but {name} is expecting {expected} "
                             "features as input.")
    return X


def _flat_only(estimator, method):
    if not (isinstance(estimator.manifold, str) and GEOMETRIES[estimator.manifold].flat):
        raise ValueError(
            f"{method} on a dask array supports manifold='euclidean' only (got "
            f"{estimator.manifold!r}); compute the array first (X.compute()) to "
            f"{method} on a curved manifold. transform, inverse_transform and "
            "score_samples take dask arrays on every manifold."
        )


def _pooled_summary(X, temperature, n_neighbors):
    """The tree reduction of the chunks' summaries; the masses at ``temperature != 1``."""
    blocks = list(X.to_delayed().ravel())
    if temperature == 1.0:
        parts, masses = [dask.delayed(summarise)(b) for b in blocks], []
    else:
        outputs = [dask.delayed(tempered_summary, nout=2)(b, n_neighbors, temperature)
                   for b in blocks]
        parts, masses = [o[0] for o in outputs], [o[1] for o in outputs]
    root = tree(parts, dask.delayed(combine, pure=True))
    summary, *masses = _compute(root, *masses)
    return summary, (np.concatenate(masses) if masses else None)


def fit(estimator, X):
    """Fit ``estimator`` on a dask array without gathering it.

    Parameters
    ----------
    estimator : CoupledFlowEmbedding
    X : dask.array.Array of shape (n_samples, n_features)

    Returns
    -------
    X : dask.array.Array
        The validated rows (``fit_transform`` transforms them lazily).

    Raises
    ------
    ValueError
        On a curved manifold, or for a solver other than ``"averaged"`` and
        the default.
    """
    from .._estimator import finish_fit
    from .._progress import FitProgress

    X = as_rows(estimator, X, reset=True, min_samples=2)
    _flat_only(estimator, "fit")
    solver = resolve_solver(estimator.solver, estimator.rule, FAST_PROCESSES[estimator.kernel],
                            estimator.walker_lifetime)
    if solver.name not in DASK_SOLVERS:
        raise ValueError(
            f"solver={solver.name!r} does not run on a dask array: use solver='averaged' "
            "or the default (decentralised agents, solver='variance_reduced' with Sanger's "
            "or Oja's rule on kernel='graph'), or compute the array first (X.compute())."
        )
    rng = check_random_state(estimator.random_state)
    plan = estimator._plan(solver)
    with contextlib.ExitStack() as stack:
        if solver.name == "averaged":
            summary, masses = _pooled_summary(X, plan.temperature, plan.n_neighbors)
            problem = averaged_problem(X, plan, rng, summary, masses)
        else:
            problem = agents_problem(stack.enter_context(agents(X, estimator, rng)), X, plan, rng)
        params = estimator._run_params(solver, problem.n_units, rng, None,
                                       n_samples=problem.n_samples)
        tasks = FitProgress(estimator, X, (), estimator.verbose)
        params = replace(params, checkpoint=tasks.solve(solver.checkpoints(params)))
        if solver.name == "averaged":
            result, rounds, sent = solver.run(problem, params), 0, 0
        else:
            result, mix = run_agents(problem, params)
            rounds, sent = mix.rounds, mix.bytes
    finish_fit(estimator, problem, result, solver, params)
    estimator.consensus_rounds_, estimator.consensus_bytes_ = rounds, sent
    tasks.close()
    return X


class ActorTransport:
    """The agents as dask actors: each call goes to every actor at once.

    Parameters
    ----------
    actors : list of distributed.Actor
    """

    def __init__(self, actors):
        self.actors = actors

    @property
    def n_agents(self):
        """Number of agents."""
        return len(self.actors)

    def call(self, method, args):
        """``method(*args[a])`` on every actor ``a`` concurrently; their results in order."""
        futures = [getattr(actor, method)(*a) for actor, a in zip(self.actors, args)]
        return [future.result() for future in futures]

    def first(self, method):
        """``method()`` on the first actor only."""
        return getattr(self.actors[0], method)().result()


@contextlib.contextmanager
def agents(X, estimator, rng):
    """One :class:`~.agents.Agent` per row chunk, where the chunk lives.

    With a ``dask.distributed`` client the chunks are persisted on the
    cluster and each agent is an actor created on a worker holding its
    chunk (the chunk is handed over in the worker's memory, not sent);
    without one, the chunks are computed here and the agents are local
    objects.

    Yields
    ------
    transport : ActorTransport or InProcess
    """
    n_chunks = X.numblocks[0]
    if min(X.chunks[0]) < 2:
        raise ValueError(
            f"Each row chunk of X becomes an agent and needs at least 2 samples; the "
            f"smallest has {min(X.chunks[0])}. Rechunk X (X.rechunk({{0: size}}))."
        )
    seeds = np.random.SeedSequence(int(rng.randint(2**31))).spawn(n_chunks)
    options = dict(temperature=estimator.temperature, n_neighbors=estimator.n_neighbors,
                   walk_steps=estimator.walk_steps)
    client = active_client()
    if client is None:
        blocks = dask.compute(*X.to_delayed().ravel())
        yield InProcess([Agent(b, seed=s, **options) for b, s in zip(blocks, seeds)])
        return
    from distributed import futures_of, wait

    X = client.persist(X)
    wait(X)
    by_key = {future.key: future for future in futures_of(X)}
    blocks = [by_key[key] for row in X.__dask_keys__() for key in row]
    holders = client.who_has(blocks)
    futures = [
        client.submit(Agent, block, seed=seed, actor=True, workers=list(holders[block.key]),
                      allow_other_workers=False, pure=False, **options)
        for block, seed in zip(blocks, seeds)
    ]
    try:
        actors = client.gather(futures)
        del X, blocks, by_key  # the actors hold their chunks now
        yield ActorTransport(actors)
    finally:
        client.cancel(futures)


def partial_fit(estimator, X):
    """One ``partial_fit`` step with a dask array as the batch.

    The chunks' summaries (at ``temperature != 1`` weighed by each chunk's
    own graph) are combined by a tree reduction and added to the running
    sums; the averaged flow then restarts from the previous weights.

    Parameters
    ----------
    estimator : CoupledFlowEmbedding
    X : dask.array.Array of shape (n_samples, n_features)

    Returns
    -------
    estimator : CoupledFlowEmbedding
    """
    from .._estimator import _STREAM_SOLVER, learn_batch

    _flat_only(estimator, "partial_fit")
    first_pass = not hasattr(estimator, "components_")
    X = as_rows(estimator, X, reset=first_pass)
    k = estimator._batch_components(X.shape, first_pass)
    rng = check_random_state(estimator.random_state)
    summary, _ = _pooled_summary(X, estimator.temperature, estimator.n_neighbors)
    warn_few_samples(summary.mass**2 / summary.sq_mass, summary.count, estimator.temperature)
    state = estimator._get_stream() or empty_stream(summary.mean)
    add_to_stream(state, summary)
    problem = batch_problem(X, state, estimator._plan(_STREAM_SOLVER), k)
    with one_blas_thread(summary.count * X.shape[1] ** 2):
        learn_batch(estimator, X, problem, state, k, first_pass, rng)
    return estimator


#: Attributes a task never needs: the n_samples-sized measure, the running
#: sums, the record, and feature names (blocks are plain arrays).
_HEAVY = ("stationary_measure_", "feature_names_in_", "lyapunov_", "lyapunov_steps_")


def _slim(estimator):
    slim = copy.copy(estimator)
    for name in list(vars(slim)):
        if name in _HEAVY or name.startswith("_stream_"):
            del slim.__dict__[name]
    return slim


def _apply(block, estimator, method):
    return getattr(estimator, method)(block)


def rowwise(estimator, X, method):
    """``transform``, ``inverse_transform`` or ``score_samples`` of a dask array, lazily.

    Parameters
    ----------
    estimator : CoupledFlowEmbedding
        Fitted.
    X : dask.array.Array
    method : {"transform", "inverse_transform", "score_samples"}

    Returns
    -------
    out : dask.array.Array
        Chunked as ``X``'s rows; each block is the in-memory method's result
        on the block.
    """
    check_is_fitted(estimator)
    if method == "inverse_transform":
        X = as_rows(estimator, X, reset=False, n_columns=estimator.n_components_)
        width = estimator.n_features_in_
    else:
        X = as_rows(estimator, X, reset=False)
        width = estimator.n_components_
    slim = _slim(estimator)
    if method == "score_samples":
        return X.map_blocks(_apply, slim, method, drop_axis=1, dtype=np.float64,
                            meta=np.empty((0,), dtype=np.float64), token=method)
    return X.map_blocks(_apply, slim, method, dtype=X.dtype, chunks=(X.chunks[0], (width,)),
                        meta=np.empty((0, width), dtype=X.dtype), token=method)
