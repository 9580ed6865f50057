"""One BLAS thread for small products, at a cost of microseconds.

On a machine whose cores are shared, BLAS threads on small products only
contend: a partial_fit batch of 1000 x 50 took 132 ms with two OpenBLAS
threads against 3.4 ms with one (``python benchmarks/partial_fit.py
--threads 2``), and one block iteration on a 1000 x 1000 moment 105 ms
against 6 ms.  ``threadpoolctl.threadpool_limits`` inspects the loaded
libraries on every call (about 1.2 ms, a third of such a batch); one
controller, built on first use (after numpy and scipy have loaded their
BLAS), sets the limit in about 20 us.
"""

import contextlib

from threadpoolctl import ThreadpoolController

__all__ = ["SMALL_PRODUCTS", "one_blas_thread"]

#: Multiply-adds below which a product runs on one BLAS thread (a few ms of
#: one core): thread start-up and contention cost as much as they save.
SMALL_PRODUCTS = 2**26

_controller = None


def one_blas_thread(work):
    """Limit BLAS to one thread while small products run.

    Parameters
    ----------
    work : int
        Multiply-adds of the largest product in the block of code.

    Returns
    -------
    context : context manager
        The limit when ``work < SMALL_PRODUCTS``, else a no-op.
    """
    global _controller
    if work >= SMALL_PRODUCTS:
        return contextlib.nullcontext()
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")
