"""The slow process: Hebbian weight rules driven by the walkers' coordinates.

Every rule has the form (``theory.md`` section 3)::

    dW = eta * (C_hat W - W N(W^T C_hat W)),   C_hat = Z^T Z / n_walkers,

with ``W`` of shape (n_features, n_components), one column per unit, and the
normaliser ``N`` chosen by the rule:

* ``"hebbian"``: ``N = 0``; the weights grow like ``(1 + eta lambda_1)**t``
  (the parameter explosion);
* ``"oja"``: ``N(A) = A``, Oja's subspace rule (Oja 1982, 1989);
* ``"sanger"``: ``N(A) = triu(A)``, the generalized Hebbian algorithm
  (Sanger 1989), whose columns converge in order to the eigenvectors;
* ``"trace"``: ``N(A) = tr(A) I``, the rule of the paper's appendix; it
  collapses to rank one and is kept only as an ablation.
"""

import numpy as np

__all__ = ["RULES", "batch_moments", "hebbian_direction", "hebbian_step", "hebbian_update",
           "spectral_norm_bound", "orthonormalize"]

RULES = ("sanger", "oja", "hebbian", "trace")


def _normaliser(A, rule):
    if rule == "sanger":
        return np.triu(A)
    if rule == "oja":
        return A
    if rule == "trace":
        return np.trace(A) * np.eye(A.shape[0], dtype=A.dtype)
    if rule == "hebbian":
        return None
    raise ValueError(f"Unknown Hebbian rule {rule!r}; expected one of {RULES}.")


def spectral_norm_bound(W):
    """Cheap upper bound on ``||W||_2**2``, exact when ``W`` is orthonormal.

    Gershgorin's bound on the largest eigenvalue of ``W^T W``: costs
    ``n_features * n_components**2`` flops instead of an SVD.

    Parameters
    ----------
    W : ndarray of shape (n_features, n_components)
        Weights.

    Returns
    -------
    bound : float
        ``max_j sum_i |(W^T W)_ij| >= ||W||_2**2``.
    """
    G = W.T @ W
    return float(np.abs(G).sum(axis=0).max())


def hebbian_step(W, Z, learning_rate, rule, step_guard=True):
    """One stochastic Hebbian update of the weights from a batch of walkers.

    Parameters
    ----------
    W : ndarray of shape (n_features, n_components)
        Current weights.
    Z : ndarray of shape (n_walkers, n_features)
        Tangent coordinates of the walkers' positions (the batch).
    learning_rate : float
        Step size ``eta`` (on coordinates scaled to ``lambda_1 = 1``).
    rule : {"sanger", "oja", "hebbian", "trace"}
        Normaliser of the update.
    step_guard : bool, default=True
        Divide the step by ``max(1, ||W||_2**2, 2 eta ||W^T C_hat W||_2)``
        (both norms by Gershgorin bounds).  The first term is the time change
        of ``theory.md`` section 6: orbits and fixed points are unchanged, but
        the discrete iteration stays stable from any start.  The second keeps
        the normaliser from overshooting (``eta * lambda(Q^T C_hat Q) <= 1/2``
        on the batch, ``Q`` the directions of ``W``); it is inactive on
        batches close to the population second moment at ``eta <= 0.2`` and
        tames batches of a few walkers on heavy-tailed data, on which the
        first term alone lets the weights blow up.  Leave the guard off to
        exhibit the plain Hebbian explosion.

    Returns
    -------
    W_new : ndarray of shape (n_features, n_components)
        Updated weights (a new array).
    """
    return hebbian_update(W, *batch_moments(Z, W), learning_rate, rule, step_guard)


def batch_moments(Z, W):
    """``(C_hat W, W^T C_hat W)`` for the batch second moment ``C_hat = Z^T Z / n``.

    Parameters
    ----------
    Z : ndarray of shape (n_walkers, n_features)
        The batch.
    W : ndarray of shape (n_features, n_components)

    Returns
    -------
    CW : ndarray of shape (n_features, n_components)
    A : ndarray of shape (n_components, n_components)
    """
    n = Z.shape[0]
    Y = Z @ W
    return Z.T @ Y / n, Y.T @ Y / n


def hebbian_update(W, CW, A, learning_rate, rule, step_guard=True):
    """The Hebbian update from the moments ``C W`` and ``W^T C W``.

    Shared by the walkers (``C`` their batch second moment, via
    :func:`hebbian_step`) and the mean-field flow (``C`` the second moment
    under the walkers' exact law).

    Parameters
    ----------
    W : ndarray of shape (n_features, n_components)
        Current weights.
    CW : ndarray of shape (n_features, n_components)
        ``C W``.
    A : ndarray of shape (n_components, n_components)
        ``W^T C W``.
    learning_rate : float
        Step size ``eta``.
    rule : {"sanger", "oja", "hebbian", "trace"}
        Normaliser of the update.
    step_guard : bool, default=True
        As in :func:`hebbian_step`.

    Returns
    -------
    W_new : ndarray of shape (n_features, n_components)
        ``W + eta (C W - W N(A))``, a new array.
    """
    update = hebbian_direction(W, CW, rule, A)
    eta = learning_rate
    if step_guard:
        batch = float(np.abs(A).sum(axis=0).max())
        eta = eta / max(1.0, spectral_norm_bound(W), 2.0 * eta * batch)
    return W + eta * update


def hebbian_direction(W, CW, rule, A=None):
    """The Hebbian direction ``C W - W N(W^T C W)`` of ``rule`` (Sanger 1989,
    Oja 1982; plain Hebbian: ``C W``).

    Parameters
    ----------
    W, CW : ndarray of shape (n_features, n_components)
        Weights and ``C W``.
    rule : {"sanger", "oja", "hebbian", "trace"}
    A : ndarray of shape (n_components, n_components), default=None
        ``W^T C W`` when already formed.

    Returns
    -------
    direction : ndarray of shape (n_features, n_components)
        A new float64 array.

    Raises
    ------
    ValueError
        If ``rule`` is unknown.
    """
    N = _normaliser(W.T @ CW if A is None else A, rule)
    return np.array(CW, dtype=np.float64) if N is None else CW - W @ N


def orthonormalize(W):
    """Orthonormal basis of ``span(W)`` by a thin QR, with positive diagonal.

    Parameters
    ----------
    W : ndarray of shape (n_features, n_components)
        Full-column-rank weights.

    Returns
    -------
    Q : ndarray of shape (n_features, n_components)
        ``Q^T Q = I`` and ``span(Q) = span(W)``; column ``j`` spans the same
        leading subspace as ``W[:, :j + 1]``, so Sanger's ordering survives.
    """
    Q, R = np.linalg.qr(W)
    signs = np.sign(np.diag(R))
    signs[signs == 0] = 1.0
    return Q * signs
