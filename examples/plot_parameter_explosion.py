"""
==========================================================
Explosion, collapse and convergence of the Hebbian weights
==========================================================

The slow process updates the weights ``W`` (one column per unit) from the
walkers' coordinates ``Z`` by

.. math::

    W \\leftarrow W + \\eta \\left(\\hat C W - W\\, N(W^\\top \\hat C W)\\right),
    \\qquad \\hat C = Z^\\top Z / n_{\\text{walkers}},

and the four rules differ only in the normaliser ``N``:

* plain Hebbian, ``N = 0``: nothing holds the weights back, and they grow
  like :math:`(1 + \\eta\\lambda_1)^t` -- the *parameter explosion*;
* Oja's subspace rule, ``N(A) = A``: the weights become an orthonormal basis
  of the principal subspace;
* Sanger's rule, ``N(A) = triu(A)``: the same, with the columns in the order
  of the eigenvectors;
* the trace rule of the paper's appendix, ``N(A) = tr(A) I``: the norm is
  held at one, but every column turns to the top eigenvector and the
  weights *collapse to rank one*.

All four share the subspace dynamics (``span W(t) = span e^{Ct} W_0`` for
the averaged flow); the normaliser is what decides between these fates.
This example runs them from the same start, on the same walker trajectory,
with a constant step size and no step guard, using the package's building
blocks: the walk of :mod:`slowfast_sklearn.fast.graph` and the update of
:mod:`slowfast_sklearn._hebbian`.
"""

# %%
# Data and walk
# -------------
# Gaussian data in R^8 with population eigenvalues 8, 4, 2, 1, 0.8, 0.6,
# 0.5 and 0.4, randomly rotated (the test setting of the theory).  The
# walkers move on the 15-nearest-neighbour graph of the samples; at
# temperature 1 the walk's stationary law is uniform on the samples.
import matplotlib.pyplot as plt
import numpy as np
from scipy.linalg import subspace_angles
from sklearn.neighbors import NearestNeighbors

from slowfast_sklearn._hebbian import hebbian_step
from slowfast_sklearn.fast.graph import (
    kernel_graph,
    metropolis_transition,
    row_sampler,
    stationary_law,
    step_walkers,
)

rng = np.random.default_rng(0)
eigenvalues = np.array([8.0, 4.0, 2.0, 1.0, 0.8, 0.6, 0.5, 0.4])
rotation = np.linalg.qr(rng.standard_normal((8, 8)))[0]
X = (rng.standard_normal((600, 8)) * np.sqrt(eigenvalues)) @ rotation.T

Z = X - X.mean(axis=0)
distances, indices = NearestNeighbors(n_neighbors=15).fit(Z).kneighbors()
K, _ = kernel_graph(distances, indices, len(Z))
P, degree = metropolis_transition(K, beta=1.0, laziness=0.1)
pi = stationary_law(degree, beta=1.0)
C = (Z * pi[:, None]).T @ Z
top = np.linalg.eigvalsh(C)[-1]
Z /= np.sqrt(top)  # scale so that lambda_1 = 1, as the estimator does
C /= top
sampler = row_sampler(P)

# %%
# Same start, same walkers, four rules
# ------------------------------------
# Every rule starts from the same ``W_0 = G / sqrt(d)`` with ``G`` standard
# normal, and sees the same batches: the walker trajectory is drawn once.
# The step size is ``eta = 0.05`` (in units of ``1 / lambda_1``), constant.
n_walkers, n_steps, eta, k = 64, 2000, 0.05, 2
positions = rng.integers(0, len(Z), n_walkers)
batches = []
for _ in range(n_steps):
    positions = step_walkers(positions, sampler, rng)
    batches.append(positions)
W0 = rng.standard_normal((8, k)) / np.sqrt(8)

rules = {"hebbian": "plain Hebbian", "oja": "Oja", "sanger": "Sanger", "trace": "trace"}
history = {}
for rule in rules:
    W = W0.copy()
    norm, defect, ratio = [], [], []
    for batch in batches:
        W = hebbian_step(W, Z[batch], eta, rule, step_guard=False)
        s = np.linalg.svd(W, compute_uv=False)
        norm.append(np.linalg.norm(W))
        defect.append(np.linalg.norm(W.T @ W - np.eye(k)))
        ratio.append(s[-1] / s[0])
    history[rule] = (np.array(norm), np.array(defect), np.array(ratio), W)

# %%
# Weight norm, orthogonality defect and rank
# ------------------------------------------
# Left: the Frobenius norm of ``W``; the dotted line is the predicted
# explosion :math:`\|W_0\|(1 + \eta\lambda_1)^t`.  Middle: the orthogonality
# defect :math:`\|W^\top W - I\|_F`, which Oja's rule drives to zero
# (it is non-increasing for the averaged flow) and Sanger's to its noise
# floor.  Right: the ratio of the smallest to the largest singular value of
# ``W``: one for an orthonormal basis, zero for a rank-one matrix.
steps = np.arange(1, n_steps + 1)
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
for rule, label in rules.items():
    norm, defect, ratio, _ = history[rule]
    axes[0].semilogy(steps, norm, label=label)
    axes[1].semilogy(steps, defect, label=label)
    axes[2].semilogy(steps, ratio, label=label)
predicted = np.linalg.norm(W0) * (1 + eta * 1.0) ** steps
axes[0].semilogy(steps, predicted, "k:", label=r"$\|W_0\|(1+\eta\lambda_1)^t$")
axes[0].set_title(r"weight norm $\|W\|_F$")
axes[1].set_title(r"orthogonality defect $\|W^\top W - I\|_F$")
axes[1].set_ylim(1e-6, 1e6)  # plain Hebbian leaves the chart within 200 updates
axes[2].set_title(r"$\sigma_{\min}(W) / \sigma_{\max}(W)$")
for ax in axes:
    ax.set_xlabel("weight update")
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
# What the weights converged to
# -----------------------------
# For each rule: the norm of each column, the cosine of each column with
# the eigenvector of the same rank, the singular-value ratio and the
# largest principal angle between ``span W`` and the top-2 eigenspace.
#
# Oja's rule returns an orthonormal basis of the top-2 eigenspace with its
# axes rotated inside it; Sanger's returns the eigenvectors themselves, in
# order.  Plain Hebbian and trace both turn *both* columns to the top
# eigenvector, at very different norms (about 1e42 against 1): their
# singular-value ratio has fallen to the rounding level of float64, so these
# weights are rank one in every practical sense.  (In exact arithmetic the
# span of every rule would still be the top-2 eigenspace -- all four share
# the subspace dynamics ``span W(t) = span e^{Ct} W_0`` -- which is why the
# angle printed for them is small; but that second direction lives in the
# last bits of the weights and no second feature can be read from them.)
V = np.linalg.eigh(C)[1][:, ::-1][:, :k]
for rule, label in rules.items():
    _, _, ratio, W = history[rule]
    columns = np.linalg.norm(W, axis=0)
    cosines = np.abs(np.sum(W * V, axis=0)) / columns
    angle = np.max(subspace_angles(W, V))
    print(
        f"{label:>13}: column norms {np.array2string(columns, precision=2)}, "
        f"|cos| with v1, v2 {np.array2string(cosines, precision=3)}, "
        f"sigma ratio {ratio[-1]:.1e}, angle to top-2 eigenspace {angle:.2f} rad"
    )

# %%
# This is why the estimator defaults to ``rule="sanger"``, keeps Oja's rule
# as an option, and reports the other two with a
# :class:`~sklearn.exceptions.ConvergenceWarning`: ``rule="hebbian"`` stops
# when the weights pass 1e12, and ``rule="trace"`` warns that the weights
# collapsed toward rank one.
