"""One BLAS thread for the loops of small products (the solvers, the neighbour search)."""

__all__ = ["one_blas_thread"]

_CONTROLLER = []


def one_blas_thread():
    """A context that runs BLAS on one thread.

    The solvers' loops multiply small matrices thousands of times, the
    neighbour search batches of leaf-sized ones; on two cores BLAS threads
    only contend (4-40x slower for the loops; 18.6 s against 7.5 s for the
    100,000 x 100 approximate search on a busy machine).  The controller is
    built once: ``threadpool_limits`` scans the process's libraries at every
    call (1.3 ms, a fifth of a whole fit on scikit-learn's wine data).

    Returns
    -------
    context : context manager
    """
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")
