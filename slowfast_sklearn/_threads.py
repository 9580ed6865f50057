"""One BLAS thread for small products, at a cost of microseconds.

On a machine whose cores are shared, BLAS threads on small products only
contend: a partial_fit batch of 1000 x 50 took 132 ms with two OpenBLAS
threads against 3.4 ms with one (``python benchmarks/partial_fit.py
--threads 2``), one block iteration on a 1000 x 1000 moment 105 ms against
6 ms, the walkers' loops of small products run 4-40x slower, and the
100,000 x 100 approximate neighbour search (batches of leaf-sized products)
took 18.6 s against 7.5 s on a busy machine.  ``threadpoolctl.
threadpool_limits`` inspects the loaded libraries on every call (about 1.2
ms, a fifth of a whole fit on scikit-learn's wine data); one controller,
built on first use (after numpy and scipy have loaded their BLAS), sets the
limit in about 20 us.
"""

import contextlib

__all__ = ["SMALL_PRODUCTS", "one_blas_thread"]

#: Multiply-adds below which a product runs on one BLAS thread (a few ms of
#: one core): thread start-up and contention cost as much as they save.
SMALL_PRODUCTS = 2**26

_CONTROLLER = []


def one_blas_thread(work=None):
    """Limit BLAS to one thread while small products run.

    Parameters
    ----------
    work : int, default=None
        Multiply-adds of the largest product in the block of code; None for
        a loop of many small products (always limited).

    Returns
    -------
    context : context manager
        The limit when ``work`` is None or below :data:`SMALL_PRODUCTS`,
        else a no-op.
    """
    if work is not None and work >= SMALL_PRODUCTS:
        return contextlib.nullcontext()
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")
