"""Fitting where the data live: dask arrays, and the decentralised agents.

The estimator sends a dask collection here (:func:`is_dask_collection`
recognises one by its type's module, without importing dask); dask itself is
imported only then, in :mod:`~slowfast_sklearn.distributed._dask`.

* :mod:`.summary`: chunk summaries (exactly scaled moments) and their tree
  combination;
* :mod:`.agents`: the decentralised agents, their consensus and the rounds,
  independent of how the agents are reached;
* :mod:`.fitting`: the problems the solvers run on, from what chunks and
  agents report;
* :mod:`._dask`: validation, tree reductions, the agents as dask actors on
  the workers holding the chunks, and lazy row-wise outputs.
"""

__all__ = ["fit", "is_dask_collection", "partial_fit", "rowwise"]


def is_dask_collection(X):
    """Whether ``X`` is a dask collection (found without importing dask).

    Parameters
    ----------
    X : object

    Returns
    -------
    bool
    """
    module = type(X).__module__ or ""
    return (module == "dask" or module.startswith(("dask.", "dask_expr"))) and hasattr(
        X, "__dask_graph__")


def fit(estimator, X):
    """``estimator.fit`` on a dask array; see :func:`._dask.fit`."""
    from . import _dask

    return _dask.fit(estimator, X)


def partial_fit(estimator, X):
    """``estimator.partial_fit`` on a dask array; see :func:`._dask.partial_fit`."""
    from . import _dask

    return _dask.partial_fit(estimator, X)


def rowwise(estimator, X, method):
    """A row-wise method on a dask array, lazily; see :func:`._dask.rowwise`."""
    from . import _dask

    return _dask.rowwise(estimator, X, method)
