"""The averaged slow flow: Hebbian dynamics driven by the stationary moment.

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

``C`` is built in one streaming pass over row blocks, each centred at the
base point in float64: no copy of ``X`` and no cancellation from implicit
centring.
"""

import numpy as np
from scipy import linalg

__all__ = ["second_moment", "averaged_flow"]


def second_moment(X, base, weights=None, to_tangent=None, block_bytes=2**23, exponent=0,
                  columns=None):
    """``C = sum_i w_i z_i z_i^T`` of tangent coordinates, one pass over row blocks.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Samples (any float dtype; never copied whole).
    base : ndarray of shape (n_features,) or float
        Base point ``b``; ``z_i = (x_i - b) * 2**-exponent`` unless
        ``to_tangent`` is given.
    weights : ndarray of shape (n_samples,), default=None
        Probability weights; uniform (``1 / n``) when None.
    to_tangent : callable, default=None
        Maps a row block to its float64 tangent coordinates (shape
        ``(rows, dim)``); overrides ``x - b``.
    block_bytes : int, default=8 MiB
        Size of the float64 block held at a time.
    exponent : int, default=0
        Exact power-of-two scaling of the centred coordinates, applied
        before squaring (keeps extreme data finite).
    columns : ndarray of bool of shape (n_features,), default=None
        Features to keep; all when None.

    Returns
    -------
    C : ndarray of shape (dim, dim)
        Symmetric positive semi-definite second moment about ``base``.
    """
    n, d = X.shape
    rows = max(1, block_bytes // (8 * d))
    if to_tangent is None:
        if columns is not None and not np.all(columns):
            base = np.broadcast_to(base, (d,))[columns]
        else:
            columns = None
        width = d if columns is None else int(np.sum(columns))
        # One reused buffer: no allocation (and page faults) per block.
        buffer = np.empty((min(rows, n), width))
    C = None
    for start in range(0, n, rows):
        block = X[start : start + rows]
        if to_tangent is None:
            Zb = buffer[: block.shape[0]]
            np.subtract(block if columns is None else block[:, columns], base, out=Zb)
            if exponent:
                np.ldexp(Zb, -exponent, out=Zb)
        else:
            Zb = to_tangent(block)
        if weights is not None:
            part = (Zb * weights[start : start + rows, None]).T @ Zb
        else:
            part = Zb.T @ Zb
        if C is None:
            C = part
        else:
            C += part
    if weights is None:
        C /= n
    return C


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
    error_bound : float
        Last value of the Davis-Kahan bound (rad, as a sine).
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
        return vectors[:, order], values[order], 1, True, 0.0, np.zeros((1, 3))
    block = rng.standard_normal((d, m))
    if start is not None:
        block[:, :k] = start
    V, R_last = np.linalg.qr(block)
    V_prev = np.zeros_like(V)
    converged, bound, it = False, np.inf, 0
    captured = []
    for it in range(1, max_iter + 1):
        CV = C @ V
        # Rayleigh-Ritz on the block: values for beta and for the stop bound.
        values, R = linalg.eigh(V.T @ CV)
        values, R = values[::-1], R[:, ::-1]
        captured.append(values[:k].sum())
        lam_k, lam_out = values[k - 1], values[m - 1]
        residual = CV @ R[:, :k] - V @ R[:, :k] * values[:k]
        gap = lam_k - lam_out
        bound = np.linalg.norm(residual, 2) / gap if gap > 0 else np.inf
        converged = bound < tol
        if verbose:
            print(
                f"[CoupledFlowEmbedding] iteration {it:5d}  Davis-Kahan bound {bound:.2e} rad"
                f"  captured variance {captured[-1]:.6e}"
            )
        if checkpoint is not None and checkpoint(it, converged or it == max_iter):
            break
        if converged:
            break
        # lambda_{m+1} <= lambda_out: heavy-ball coefficient from the block.
        beta = 0.25 * lam_out**2
        # X_{t+1} = C X_t - beta X_{t-1} carried on orthonormal factors
        # X_t = V_t S_t, for which S_{t-1} S_t^{-1} = R_t^{-1}.
        Y = CV - beta * linalg.solve_triangular(R_last.T, V_prev.T, lower=True).T
        V_prev = V
        V, R_last = np.linalg.qr(Y)
    U = V @ R[:, :k]
    history = np.zeros((len(captured), 3))
    history[:, 2] = np.maximum(captured[-1] - np.asarray(captured), 0.0)
    return U, values[:k], it, converged, float(bound), history
