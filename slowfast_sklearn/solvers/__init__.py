"""Solvers: how the coupled flow is integrated, one module each.

:data:`SOLVERS` is the one registry of the ``solver`` parameter: it feeds the
estimator's parameter constraint, ``tol="auto"`` (each entry's
``default_tol``), the other ``"auto"`` defaults (``learning_rate``,
``n_walkers``, ``walker_lifetime``), the kernels each works with (its
``requires`` against the fast processes' ``provides``) and the estimator's
docstring (``summary`` and ``stopping``).  A new solver is one module with a
:class:`~._base.Solver` subclass whose ``run(problem, params)`` returns a
:class:`~._base.FlowResult`, and one line here.

``solver="auto"`` (:func:`resolve_solver`) takes the first entry of
:data:`AUTO` that runs the chosen rule on the chosen fast process.
"""

from . import averaged, mean_field, stochastic, variance_reduced
from ._base import CHECK_EVERY, FlowResult, RunParams, Solver

__all__ = ["AUTO", "CHECK_EVERY", "SOLVERS", "FlowResult", "RunParams", "Solver",
           "resolve_solver"]

SOLVERS = {
    solver.name: solver
    for solver in (variance_reduced.SOLVER, stochastic.SOLVER, mean_field.SOLVER,
                   averaged.SOLVER)
}

#: What ``solver="auto"`` tries, in order: the variance-reduced walkers, and
#: the constant-step flow for what they do not run (the ablation rules, which
#: have no orthonormal fixed point to anchor on; the Langevin walkers, whose
#: law is not the graph walk's; walkers never reborn, the paper's pure flow).
AUTO = ("variance_reduced", "stochastic")


def resolve_solver(name, rule, process, walker_lifetime="auto"):
    """The registered solver a ``solver`` value stands for.

    Parameters
    ----------
    name : str
        A key of :data:`SOLVERS`, or ``"auto"``.
    rule : str
        The Hebbian rule.
    process : fast process spec
        The chosen kernel's spec (its ``provides``).
    walker_lifetime : "auto", int or None, default="auto"
        None asks for walkers that are never reborn (the pure flow).

    Returns
    -------
    solver : Solver
    """
    if name != "auto":
        return SOLVERS[name]
    for candidate in AUTO:
        solver = SOLVERS[candidate]
        if (rule in solver.rules and solver.requires <= process.provides
                and (walker_lifetime is not None or solver.runs_pure_flow)):
            return solver
    return SOLVERS[AUTO[-1]]
