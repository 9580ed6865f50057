"""Fitting where the data live: dask arrays, and the decentralised agents.

The estimator sends a dask collection here (:func:`is_dask_collection`
recognises one by its type's module, without importing dask); dask itself is
imported only then, in :mod:`~slowfast_sklearn.distributed._dask`.

* :mod:`.summary`: chunk summaries (exactly scaled moments) and their tree
  combination;
* :mod:`.agents`: the decentralised agents, their consensus and the rounds,
  independent of how the agents are reached;
* :mod:`.fitting`: the problems the solvers run on, from what chunks and
  agents report.
"""

__all__ = ["is_dask_collection"]


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

