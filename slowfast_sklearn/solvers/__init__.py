"""Solvers: how the coupled flow is integrated, one module each.

:data:`SOLVERS` is the one registry of the ``solver`` parameter: it feeds the
estimator's parameter constraint, ``tol="auto"`` (each entry's
``default_tol``), the kernels each works with (its ``requires`` against the
fast processes' ``provides``) and the estimator's docstring (``summary``
and ``stopping``).  A new solver is one module with a
:class:`~._base.Solver` subclass whose ``run(problem, params)`` returns a
:class:`~._base.FlowResult`, and one line here.
"""

from . import averaged, mean_field, stochastic
from ._base import CHECK_EVERY, FlowResult, RunParams, Solver

__all__ = ["CHECK_EVERY", "SOLVERS", "FlowResult", "RunParams", "Solver"]

SOLVERS = {
    solver.name: solver
    for solver in (stochastic.SOLVER, mean_field.SOLVER, averaged.SOLVER)
}
