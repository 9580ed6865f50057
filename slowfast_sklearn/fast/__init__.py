"""Fast processes: the walkers that sample the spatial measure.

Each process is one module with a spec class registered in
:data:`FAST_PROCESSES` under its ``kernel`` string:

* ``provides``: what solvers may ask of it (``"walkers"``, ``"transition"``);
  a solver works with it when the solver's ``requires`` is a subset
  (:func:`works_with`);
* ``gathers_rows``: its walkers' batches are rows of the coordinates;
* ``exact_law``: its walkers follow the graph walk, whose stationary law is
  the spatial measure;
* ``on_graph(problem)``: a check or adjustment once the kNN graph is built;
* ``walkers(problem, params, rng)``: the walkers for a walker solver.

Walkers follow one protocol (:class:`Walkers`): ``step(walk_steps, rng)``
returns the batch of their coordinates, ``divergence()`` the first Lyapunov
term, ``state`` their positions.
"""

from typing import Protocol, runtime_checkable

from .graph import GraphProcess
from .langevin import LangevinProcess

__all__ = ["FAST_PROCESSES", "Walkers", "works_with"]

FAST_PROCESSES = {process.name: process for process in (GraphProcess, LangevinProcess)}


@runtime_checkable
class Walkers(Protocol):
    """The walker protocol the solvers drive."""

    def step(self, walk_steps, rng):
        """Move ``walk_steps`` times; return the batch of coordinates, (n_kept, dim)."""

    def divergence(self):
        """The fast process's distance from its target law (first Lyapunov term)."""

    @property
    def state(self):
        """The walkers' positions."""


def works_with(process, solver):
    """Whether ``solver`` (a registered solver) can run on ``process``.

    Parameters
    ----------
    process : fast process spec
        A value of :data:`FAST_PROCESSES`.
    solver : solver spec
        A value of :data:`~slowfast_sklearn.solvers.SOLVERS`.

    Returns
    -------
    bool
    """
    return solver.requires <= process.provides
