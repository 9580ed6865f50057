"""Fitting where the data live: dask arrays, and the decentralised agents.

The estimator sends a dask collection here (:func:`is_dask_collection`
recognises one by its type's module, without importing dask); dask itself is
imported only then, in :mod:`~slowfast_sklearn.distributed._dask`.

* :mod:`.summary`: chunk summaries (exactly scaled moments) and their tree
  combination;
* (to come) the decentralised agents and the dask glue.
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

