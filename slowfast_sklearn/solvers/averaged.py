"""``solver="averaged"``: Hebbian dynamics driven by the stationary moment.

When the fast process has equilibrated, the slow weights follow the averaged
ODE ``dW/dt = C W - W N(W^T C W)`` with ``C = E_pi[z z^T]`` (``theory.md``
sections 3-4; Khasminskii averaging).  For every rule ``span W(t) =
span e^{Ct} W_0`` (the normaliser is only a ``k x k`` gauge), so its stable
fixed point, the top-k eigenspace of ``C``, can be reached by any iteration
that follows the same linear span dynamics faster.  We integrate it with
heavy-ball momentum on an oversampled block (momentum power iteration, Xu et
al., AISTATS 2018): ``V_{t+1} = C V_t - beta V_{t-1}``, which contracts the
unwanted directions at rate ``~ 1 - sqrt(1 - lambda_{m+1} / lambda_k)``
instead of ``lambda_{k+1} / lambda_k``.  ``beta = lambda_{m+1}^2 / 4`` is
set from the block's own Ritz values.  The result is retracted and rotated to
the Ritz vectors, Sanger's fixed point.

``C`` comes from the preparation (:func:`~slowfast_sklearn._moments.second_moment`,
one streaming pass over row blocks at temperature 1).
"""

import numpy as np
from scipy import linalg

from ._base import FlowResult, Solver, run_checkpoints

__all__ = ["AveragedSolver", "averaged_flow"]


class _MomentumBlock:
    """State of the momentum block iteration on ``C``; one :meth:`step` per iteration."""

    def __init__(self, C, k, m, rng, start, tol):
        block = rng.standard_normal((C.shape[0], m))
        if start is not None:
            block[:, :k] = start
        self.C, self.k, self.m, self.tol = C, k, m, tol
        self.V, self.R_last = np.linalg.qr(block)
        self.V_prev = np.zeros_like(self.V)
        self.bound, self.bounds, self.captured = np.inf, [], []

    def step(self, t):
        if t:
            # lambda_{m+1} <= lambda_out: heavy-ball coefficient from the block.
            beta = 0.25 * self.values[self.m - 1] ** 2
            # X_{t+1} = C X_t - beta X_{t-1} carried on orthonormal factors
            # X_t = V_t S_t, for which S_{t-1} S_t^{-1} = R_t^{-1}.
            Y = self.CV - beta * linalg.solve_triangular(self.R_last.T, self.V_prev.T, lower=True).T
            self.V_prev = self.V
            self.V, self.R_last = np.linalg.qr(Y)
        k = self.k
        self.CV = self.C @ self.V
        # Rayleigh-Ritz on the block: values for beta and for the stop bound.
        values, R = linalg.eigh(self.V.T @ self.CV)
        self.values, self.R = values[::-1], R[:, ::-1]
        self.captured.append(self.values[:k].sum())
        residual = self.CV @ self.R[:, :k] - self.V @ self.R[:, :k] * self.values[:k]
        gap = self.values[k - 1] - self.values[self.m - 1]
        self.bound = np.linalg.norm(residual, 2) / gap if gap > 0 else np.inf
        self.bounds.append(self.bound)
        return True

    def check(self, t):
        return self.bound < self.tol

    def report(self, t):
        return (
            f"[CoupledFlowEmbedding] iteration {t:5d}  Davis-Kahan bound {self.bound:.2e} rad"
            f"  captured variance {self.captured[-1]:.6e}"
        )


def averaged_flow(
    C, n_components, *, rng, tol=1e-6, max_iter=1000, oversampling=None, start=None,
    verbose=0, checkpoint=None,
):
    """Top-k eigenspace of ``C`` by momentum-accelerated block iteration.

    Parameters
    ----------
    C : ndarray of shape (n_features, n_features)
        Symmetric positive semi-definite matrix (the stationary moment).
    n_components : int
        ``k``.
    rng : numpy.random.Generator
        Draws the starting block.
    tol : float, default=1e-6
        Stop when the Davis-Kahan bound ``||C U - U Lambda||_2 / (lambda_k -
        lambda_{k+1})`` on the sine of the largest principal angle to the
        exact eigenspace falls below ``tol``.
    max_iter : int, default=1000
        Most iterations.
    oversampling : int, default=None
        Extra columns carried in the block (at least 1); ``None`` means
        ``max(k, 8)`` (capped by ``n_features - k``).
    start : ndarray of shape (n_features, n_components), default=None
        Warm start: the block begins with these columns (previous weights,
        carried over by ``partial_fit``) completed by random ones.
    verbose : int, default=0
        Print one line per iteration (the Davis-Kahan bound and the variance
        the block captures) when positive.
    checkpoint : callable, default=None
        Called as ``checkpoint(iteration, last)`` after every iteration;
        ``last`` says whether the run ends there anyway.  A true return
        value stops the run.

    Returns
    -------
    U : ndarray of shape (n_features, n_components)
        Orthonormal Ritz vectors, by decreasing Ritz value.
    ritz_values : ndarray of shape (n_components,)
        ``diag(U^T C U)``.
    n_iter : int
        Iterations performed.
    converged : bool
        Whether the bound fell below ``tol``.
    error_bounds : ndarray of shape (n_iter,)
        The Davis-Kahan bound (rad, as a sine) at each iteration; the last
        is the error bound of ``U``.
    lyapunov : ndarray of shape (n_iter, 3)
        Per iteration, the Lyapunov terms of the averaged flow: 0 (the law is
        ``pi`` already), 0 (the block is orthonormal) and the subspace gap
        ``sum_{i<=k} lambda_i - tr(U_t^T C U_t)``, with the final Ritz values
        standing in for the unknown ``lambda_i``.
    """
    d = C.shape[0]
    k = n_components
    p = max(k, 8) if oversampling is None else max(1, oversampling)
    m = min(d, k + p)
    if m == d or k == d:
        values, vectors = linalg.eigh(C)
        order = np.argsort(values)[::-1][:k]
        if verbose:
            print("[CoupledFlowEmbedding] iteration     1  exact eigendecomposition (small C)")
        if checkpoint is not None:
            checkpoint(1, True)
        return vectors[:, order], values[order], 1, True, np.zeros(1), np.zeros((1, 3))
    block = _MomentumBlock(C, k, m, rng, start, tol)
    n_iter, converged, _ = run_checkpoints(
        block.step, block.check, max_iter=max_iter, check_every=1, checkpoint=checkpoint,
        report=block.report if verbose else None,
    )
    U = block.V @ block.R[:, :k]
    history = np.zeros((len(block.captured), 3))
    history[:, 2] = np.maximum(block.captured[-1] - np.asarray(block.captured), 0.0)
    return U, block.values[:k], n_iter, converged, np.asarray(block.bounds), history


class AveragedSolver(Solver):
    """The slow averaged flow driven by ``C_pi`` itself (no walkers)."""

    name = "averaged"
    default_tol = 1e-6
    check_every = 1
    dense_moments = True
    gap_hint = False
    summary = (
        "the slow averaged flow driven by ``C_pi`` itself, built in one streaming pass over "
        "``X`` and integrated by momentum-accelerated block iteration (no walker, no graph "
        "at ``temperature=1``; the fast path for large data)."
    )
    stopping = (
        "when the Davis-Kahan bound on the angle to the exact eigenspace falls below ``tol`` rad."
    )

    def run(self, problem, params):
        U, _, n_iter, converged, bounds, history = averaged_flow(
            problem.moments.C, params.n_components, rng=params.rng, tol=params.tol,
            max_iter=params.max_iter, start=params.weights_init, verbose=params.verbose,
            checkpoint=params.checkpoint,
        )
        return FlowResult(
            weights=U, subspace=U, n_iter=n_iter, converged=converged, diverged=False,
            lyapunov=history, lyapunov_steps=np.arange(len(history)),
            statistic=bounds, positions=None,
        )


SOLVER = AveragedSolver()
