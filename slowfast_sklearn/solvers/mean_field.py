"""``solver="mean_field"``: the coupled flow in its mean-field limit.

Instead of sampling walkers, the walkers' exact law is propagated, ``rho_{t+1}
= P^T rho_t`` (one sparse mat-vec), and drives the weights through the second
moment under that law (the infinitely-many-walkers limit; ``theory.md``
section 4).  The run is deterministic given the initial weights, and every
Lyapunov term is monotone.
"""

import numpy as np
from scipy.linalg import subspace_angles

from .._hebbian import orthonormalize
from .._moments import SampleMoments
from ..fast.graph import kl_divergence
from ._base import HebbianFlow, Solver, one_blas_thread

__all__ = ["MeanFieldSolver", "mean_field_flow"]


class _LawFlow(HebbianFlow):
    """Hebbian updates driven by ``C_rho`` of the propagated law ``rho_t``."""

    label = "change"

    def __init__(self, Z, P, pi, *, rho_init, **options):
        super().__init__(SampleMoments(Z, pi, 1.0), **options)
        n = Z.shape[0]
        self.Z, self.pi = Z, pi
        self.rho = np.full(n, 1.0 / n) if rho_init is None else np.asarray(rho_init, dtype=np.float64)
        self.PT = P.T  # a CSC view of P: no transposed copy
        self.previous = orthonormalize(self.W)

    def moments(self, W):
        self.rho = self.PT @ self.rho
        Y = self.Z @ W
        return self.Z.T @ (Y * self.rho[:, None]), Y.T @ (Y * self.rho[:, None])

    def divergence(self):
        return kl_divergence(self.rho, self.pi)

    def statistic(self, t):
        """Largest principal angle between the weights' spans at successive checkpoints."""
        current = orthonormalize(self.W)
        change = float(np.max(subspace_angles(current, self.previous)))
        self.previous = current
        return change


def mean_field_flow(
    Z,
    P,
    pi,
    *,
    n_components,
    rule="sanger",
    learning_rate=0.2,
    max_iter=5000,
    tol=1e-6,
    rng,
    weights_init=None,
    rho_init=None,
    step_guard=None,
    top_eigenvalues=None,
    verbose=0,
    checkpoint=None,
):
    """The coupled flow in its mean-field limit: the walkers' exact law.

    Instead of sampling walkers, propagate their law ``rho_{t+1} = P^T
    rho_t`` (one sparse mat-vec) and drive the weights with the second moment
    under that law, ``C_rho W = Z^T (rho * (Z W))`` (the infinitely many
    walkers limit; ``theory.md`` section 4, ``mean_field=True``).  The run is
    deterministic given the initial weights, and the three Lyapunov terms are
    logged as in :func:`~slowfast_sklearn.solvers.stochastic.coupled_flow`.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_features)
        Tangent coordinates, scaled so that ``lambda_1(C_pi)`` is about 1.
    P : scipy.sparse.csr_array of shape (n_samples, n_samples)
        Transition matrix of the walk.
    pi : ndarray of shape (n_samples,)
        Its stationary law.
    n_components : int
        Number of units (columns of ``W``).
    rule : {"sanger", "oja", "hebbian", "trace"}, default="sanger"
        Normaliser of the Hebbian update.
    learning_rate : float, default=0.2
        Constant step size ``eta`` (in units where ``lambda_1 = 1``).
    max_iter : int, default=5000
        Most weight updates.
    tol : float, default=1e-6
        Stop when the largest principal angle between the weights' spans at
        successive checkpoints is below ``tol`` three times in a row.
    rng : numpy.random.Generator
        Draws the initial weights when ``weights_init`` is None.
    weights_init : ndarray of shape (n_features, n_components), default=None
        Initial weights; as in ``coupled_flow`` if None.
    rho_init : ndarray of shape (n_samples,), default=None
        Initial law of the walkers; uniform (the empirical measure) if None.
    step_guard : bool, default=None
        As in ``coupled_flow``.
    top_eigenvalues : ndarray of shape (n_components,), default=None
        As in ``coupled_flow``.
    verbose : int, default=0
        Print one line per checkpoint when positive.
    checkpoint : callable, default=None
        As in ``coupled_flow``.

    Returns
    -------
    result : FlowResult
        ``subspace`` is the retracted final weights; ``positions`` is None
        and ``statistic`` holds the checkpoint-to-checkpoint angle.
    """
    flow = _LawFlow(
        Z, P, pi, rho_init=rho_init, n_components=n_components, rule=rule,
        learning_rate=learning_rate, tol=tol, rng=rng, weights_init=weights_init,
        step_guard=step_guard, top_eigenvalues=top_eigenvalues, min_steps=0,
    )
    return flow.run(max_iter, verbose, checkpoint)


class MeanFieldSolver(Solver):
    """The walkers' exact law drives the Hebbian updates (deterministic)."""

    name = "mean_field"
    default_tol = 1e-6
    requires = frozenset({"transition"})
    requirement_message = (
        "solver='mean_field' propagates the law of the graph walk: use "
        "kernel='graph' with it (or solver='stochastic' for the Langevin walkers)."
    )
    summary = (
        "the walkers' exact law ``rho_t = rho_0 P^t`` drives the Hebbian updates through "
        "``C_rho`` (deterministic; every Lyapunov term is monotone)."
    )
    stopping = "when the subspace moves less than ``tol`` rad between checkpoints three times in a row."

    def run(self, problem, params):
        # Thousands of small products: BLAS threads only contend (4-40x
        # slower on 2 cores), so the loops run on one.
        with one_blas_thread():
            return mean_field_flow(
                problem.rows, problem.P, problem.pi, n_components=params.n_components,
                rule=params.rule, learning_rate=params.learning_rate,
                max_iter=params.max_iter, tol=params.tol, rng=params.rng,
                weights_init=params.weights_init, verbose=params.verbose, top_eigenvalues=problem.moments.top(params.n_components),
                checkpoint=params.checkpoint,
            )


SOLVER = MeanFieldSolver()
