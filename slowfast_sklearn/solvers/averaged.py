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

The run stops on the Davis-Kahan bound of the top-k Ritz vectors, or at once
when the block spans the range of ``C`` (rank-deficient data with
``n_components`` near the rank): then Rayleigh-Ritz on the block is an exact
eigendecomposition of ``C``.

``C`` comes from the preparation (:func:`~slowfast_sklearn._moments.second_moment`,
one streaming pass over row blocks at temperature 1).
"""

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from .._threads import one_blas_thread
from ._base import FlowResult, Solver, run_checkpoints

__all__ = ["AveragedSolver", "angle_bound", "averaged_flow"]

#: Rounding level, per sqrt(n_features), below which the block counts as
#: spanning the range of C: both the mass of C outside it (relative to tr C)
#: and its residual ``||C V - V V^T C V||_F`` (relative to lambda_1).
EXACT_SLACK = 64 * np.finfo(np.float64).eps


def angle_bound(residual_norm, gap):
    """Davis-Kahan's ``sin theta <= ||C U - U Theta||_2 / gap`` as an angle.

    Parameters
    ----------
    residual_norm : float
        Spectral norm of the Ritz residual of ``U``.
    gap : float
        Distance from the smallest Ritz value of ``U`` to the rest of the
        spectrum.

    Returns
    -------
    angle : float
        ``arcsin(min(1, residual_norm / gap))`` in ``[0, pi/2]`` (rad);
        ``pi/2`` (no information) when ``gap <= 0``.
    """
    if not gap > 0.0:
        return np.pi / 2
    return float(np.arcsin(min(1.0, residual_norm / gap)))


def _qr(Y):
    """Thin QR ``Y = Q R`` by LAPACK directly (numpy's wrapper costs more than
    the factorisation itself at partial_fit's block sizes)."""
    qr, tau, _, _ = lapack.dgeqrf(Y)
    m = Y.shape[1]
    R = np.triu(qr[:m])
    Q, _, _ = lapack.dorgqr(qr, tau)
    return Q, R


class _MomentumBlock:
    """State of the momentum block iteration on ``C``; one :meth:`step` per iteration."""

    def __init__(self, C, k, m, rng, start, tol):
        d = C.shape[0]
        width = 0 if start is None else min(m, start.shape[1])
        block = np.empty((d, m))
        block[:, :width] = start[:, :width] if width else 0.0
        if width < m:  # a warm block needs no draw
            block[:, width:] = rng.standard_normal((d, m - width))
        self.C, self.k, self.m, self.tol = C, k, m, tol
        self.V, self.R_last = _qr(block)
        self.V_prev = None
        self.trace = float(np.trace(C))
        self.slack = EXACT_SLACK * np.sqrt(d)
        self.bound, self.bounds, self.captured, self.exact = np.pi / 2, [], [], False

    def step(self, t):
        if t:
            # lambda_{m+1} <= lambda_out: heavy-ball coefficient from the block.
            beta = 0.25 * self.values[self.m - 1] ** 2
            Y = self.CV
            if self.V_prev is not None and beta > 0.0:
                # X_{t+1} = C X_t - beta X_{t-1} carried on orthonormal factors
                # X_t = V_t S_t, for which S_{t-1} S_t^{-1} = R_t^{-1}.
                back = lapack.dtrtrs(self.R_last, self.V_prev.T, trans=1)[0].T
                Y = Y - beta * back
            self.V_prev = self.V
            self.V, self.R_last = _qr(Y)
        self.CV = self.C @ self.V
        self._rayleigh_ritz()
        return True

    def _rayleigh_ritz(self):
        """Ritz values and vectors of the block, the stop statistic, exactness."""
        k = self.k
        H = self.V.T @ self.CV
        values, R, _ = lapack.dsyevd(0.5 * (H + H.T))
        self.values, self.R = values[::-1], R[:, ::-1]
        self.captured.append(self.values[:k].sum())
        # C V - V H: the block's residual; times R, that of each Ritz pair.
        residual = self.CV - self.V @ H
        # The block holds all of C (outside mass and residual at rounding
        # level): its Ritz pairs are C's eigenpairs, the answer is exact.
        outside = self.trace - float(self.values.sum())
        self.exact = bool(
            outside <= self.slack * self.trace
            and np.linalg.norm(residual) <= self.slack * max(self.values[0], 0.0)
        )
        if self.exact:
            self.bound = 0.0
        else:
            top = residual @ self.R[:, :k]
            norm = np.sqrt(max(float(lapack.dsyevd(top.T @ top, compute_v=0)[0][-1]), 0.0))
            # The (k+1)-th Ritz value stands for the unknown lambda_{k+1}.
            self.bound = angle_bound(norm, self.values[k - 1] - self.values[k])
        self.bounds.append(self.bound)

    def check(self, t):
        return self.exact or self.bound < self.tol

    def report(self, t):
        exact = "  (exact: the block spans the range of C)" if self.exact else ""
        return (
            f"[CoupledFlowEmbedding] iteration {t:5d}  Davis-Kahan bound {self.bound:.2e} rad"
            f"  captured variance {self.captured[-1]:.6e}{exact}"
        )


def averaged_flow(
    C, n_components, *, rng, tol=1e-6, max_iter=1000, oversampling=None, start=None,
    verbose=0, checkpoint=None, return_block=False,
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
        Stop when the Davis-Kahan bound on the largest principal angle to the
        exact eigenspace, ``arcsin(||C U - U Theta||_2 / (theta_k -
        theta_{k+1}))`` (rad; the ``(k+1)``-th Ritz value stands for the
        unknown ``lambda_{k+1}``, which it approaches from below as the block
        converges), falls below ``tol``.  The run also stops, at any ``tol``,
        as soon as the block spans the range of ``C`` (mass outside it and
        block residual at rounding level): its Ritz pairs are then
        eigenpairs of ``C``, exact as an eigensolver's.
    max_iter : int, default=1000
        Most iterations.
    oversampling : int, default=None
        Extra columns carried in the block (at least 1); ``None`` means
        ``max(k, 8)`` (capped by ``n_features - k``).
    start : ndarray of shape (n_features, width), default=None
        Warm start: the block begins with these columns (the previous
        block or weights, carried over by ``partial_fit``), completed by
        random ones; columns beyond the block's width are ignored.
    verbose : int, default=0
        Print one line per iteration (the bound on the angle, or that the
        answer is exact, and the variance the block captures) when positive.
    checkpoint : callable, default=None
        Called as ``checkpoint(iteration, last)`` after every iteration;
        ``last`` says whether the run ends there anyway.  A true return
        value stops the run.
    return_block : bool, default=False
        Also return the whole block of Ritz vectors (a warm start for the
        next run on a nearby ``C``).

    Returns
    -------
    U : ndarray of shape (n_features, n_components)
        Orthonormal Ritz vectors, by decreasing Ritz value.
    ritz_values : ndarray of shape (n_components,)
        ``diag(U^T C U)``.
    n_iter : int
        Iterations performed.
    converged : bool
        Whether the bound fell below ``tol`` or the answer is exact.
    error_bounds : ndarray of shape (n_iter,)
        The bound on the angle (rad, at most ``pi/2``) at each iteration,
        0 where the answer is exact; the last is the bound of ``U``.
    lyapunov : ndarray of shape (n_iter, 3)
        Per iteration, the Lyapunov terms of the averaged flow: 0 (the law is
        ``pi`` already), 0 (the block is orthonormal) and the subspace gap
        ``sum_{i<=k} lambda_i - tr(U_t^T C U_t)``, with the final Ritz values
        standing in for the unknown ``lambda_i``.
    block : ndarray of shape (n_features, n_block)
        Only with ``return_block``: all the block's Ritz vectors, ``U``
        first.
    """
    d = C.shape[0]
    k = n_components
    p = max(k, 8) if oversampling is None else max(1, oversampling)
    m = min(d, k + p)
    if m == d or k == d:
        values, vectors = linalg.eigh(C)
        order = np.argsort(values)[::-1]
        if verbose:
            print("[CoupledFlowEmbedding] iteration     1  exact eigendecomposition (small C)")
        if checkpoint is not None:
            checkpoint(1, True)
        out = (vectors[:, order[:k]], values[order[:k]], 1, True, np.zeros(1), np.zeros((1, 3)))
        return out + (vectors[:, order[:m]],) if return_block else out
    block = _MomentumBlock(C, k, m, rng, start, tol)
    with one_blas_thread(d * d * m):
        n_iter, converged, _ = run_checkpoints(
            block.step, block.check, max_iter=max_iter, check_every=1, checkpoint=checkpoint,
            report=block.report if verbose else None,
        )
    vectors = block.V @ block.R
    history = np.zeros((len(block.captured), 3))
    history[:, 2] = np.maximum(block.captured[-1] - np.asarray(block.captured), 0.0)
    out = (vectors[:, :k], block.values[:k], n_iter, converged, np.asarray(block.bounds), history)
    return out + (vectors,) if return_block else out


class AveragedSolver(Solver):
    """The slow averaged flow driven by ``C_pi`` itself (no walkers)."""

    name = "averaged"
    default_tol = 1e-6
    check_every = 1
    dense_moments = True
    gap_hint = False
    progress = "the Davis-Kahan bound on its angle to the top-k eigenspace is still {:.2g} rad"
    summary = (
        "the slow averaged flow driven by ``C_pi`` itself, built in one streaming pass over "
        "``X`` and integrated by momentum-accelerated block iteration (no walker, no graph "
        "at ``temperature=1``; the fast path for large data)."
    )
    stopping = (
        "when the Davis-Kahan bound on the angle to the exact eigenspace falls below ``tol`` rad, "
        "or at once when the block spans the range of ``C_pi`` (the answer is then exact)."
    )

    def run(self, problem, params):
        U, _, n_iter, converged, bounds, history, block = averaged_flow(
            problem.moments.C, params.n_components, rng=params.rng, tol=params.tol,
            max_iter=params.max_iter, start=params.weights_init, verbose=params.verbose,
            checkpoint=params.checkpoint, return_block=True,
        )
        return FlowResult(
            weights=U, subspace=U, n_iter=n_iter, converged=converged, diverged=False,
            lyapunov=history, lyapunov_steps=np.arange(len(history)),
            statistic=bounds, positions=None, warm_start=block,
        )


SOLVER = AveragedSolver()
