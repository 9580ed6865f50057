"""
=======================================================
The joint Lyapunov functional and the walkers' law
=======================================================

The coupled flow has a Lyapunov functional made of three terms (the theory
page derives it):

.. math::

    \\mathcal L(\\rho, W) = \\mathrm{KL}(\\rho \\,\\|\\, \\pi)
    + \\|W^\\top W - I_k\\|_F^2
    + \\Big[\\sum_{i \\le k} \\lambda_i(C_\\pi) - \\operatorname{tr}(P_W C_\\pi)\\Big],

where :math:`\\rho` is the law of a walker, :math:`\\pi` the walk's
stationary law (the spatial measure), :math:`P_W` the orthogonal projector
on the span of the weights and :math:`C_\\pi` the second moment of the data
under :math:`\\pi`.  The first term measures how far the fast process is from
equilibrium, the second how far the weights are from orthonormal, the third
how much variance the learned subspace misses.  A fitted
:class:`~slowfast_sklearn.CoupledFlowEmbedding` logs the three terms at each
checkpoint in ``lyapunov_`` (update numbers in ``lyapunov_steps_``): every
50 weight updates for ``solver="stochastic"``, the walkers of the flow
itself, used here; the default solver anchors the walkers at exact
products and logs once per life of the walkers (2 updates), where the
KL term is 0 because the walkers are reborn from ``pi``.

This example reads that log, then watches the fast process alone: walkers
started from a single sample relax to the data measure.
"""

# %%
# Data
# ----
# Gaussian data in R^8 with population eigenvalues 8, 4, 2, 1, 0.8, 0.6,
# 0.5 and 0.4, randomly rotated.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.neighbors import NearestNeighbors

from slowfast_sklearn import CoupledFlowEmbedding
from slowfast_sklearn.fast.graph import (
    kernel_graph,
    kl_divergence,
    metropolis_transition,
    row_sampler,
    stationary_law,
    step_walkers,
)

rng = np.random.default_rng(0)
eigenvalues = np.array([8.0, 4.0, 2.0, 1.0, 0.8, 0.6, 0.5, 0.4])
rotation = np.linalg.qr(rng.standard_normal((8, 8)))[0]
X = (rng.standard_normal((600, 8)) * np.sqrt(eigenvalues)) @ rotation.T

# %%
# The logged terms over a fit
# ---------------------------
# The walkers start on the samples, spread like the data.  At the default
# ``temperature=1`` the spatial measure *is* the data measure, so the KL
# term is zero from the start; at ``temperature=0.5`` the measure
# concentrates on the dense centre of the Gaussian and the walkers have to
# drift there, so all three terms are live.  The weights start random, so
# the orthogonality defect and the subspace gap start at order one.
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
labels = [
    r"$\mathrm{KL}(\rho_t\,\|\,\pi)$",
    r"$\|W^\top W - I\|_F^2$",
    r"subspace gap $\sum\lambda_i - \mathrm{tr}(P_W C_\pi)$",
]
for ax, temperature in zip(axes, [1.0, 0.5]):
    est = CoupledFlowEmbedding(n_components=2, temperature=temperature, solver="stochastic",
                               random_state=0)
    est.fit(X)
    steps, terms = est.lyapunov_steps_, est.lyapunov_
    for j, label in enumerate(labels):
        if np.any(terms[:, j] > 0):
            ax.semilogy(steps, terms[:, j], marker=".", label=label)
    ax.semilogy(steps, terms.sum(axis=1), "k--", label="total (unit weights)")
    ax.set_title(
        f"temperature={temperature}: {est.n_iter_} updates, converged={est.converged_}"
    )
    ax.set_xlabel("weight update")
    ax.legend(fontsize=8)
axes[0].set_ylabel("Lyapunov term (scaled coordinates)")
fig.tight_layout()
plt.show()

# %%
# The KL term falls to rounding level within a few hundred updates; the
# other two fall by three to four orders of magnitude and then fluctuate:
# with a constant step the stochastic weights settle at a noise floor
# rather than at the fixed point, and the estimator returns the average of
# the subspaces over the second half of the run instead of the last iterate.

# %%
# The walkers' law converges to the data measure
# ----------------------------------------------
# Now the fast process alone, with the walk the estimator builds
# (30 nearest neighbours, laziness 0.1, temperature 1).  Its stationary law
# :math:`\pi` is exactly uniform on the samples.  Start every walker on the
# same sample -- a point mass, as far from :math:`\pi` as a law can be -- and
# follow
#
# * the exact law :math:`\rho_t = \rho_0 P^t` (one sparse product per step):
#   its KL divergence to :math:`\pi`, which can only decrease, and its
#   squared maximum mean discrepancy (MMD, Gaussian kernel) to the data;
# * 2000 independent walkers: the MMD of their empirical measure to the
#   data, which levels off at the sampling noise of 2000 points.
Z = X - X.mean(axis=0)
distances, indices = NearestNeighbors(n_neighbors=30).fit(Z).kneighbors()
K, bandwidth = kernel_graph(distances, indices, len(Z))
P, degree = metropolis_transition(K, beta=1.0, laziness=0.1)
pi = stationary_law(degree, beta=1.0)
sampler = row_sampler(P)
PT = P.T.tocsr()

squared = np.sum(Z**2, axis=1)
gram = np.exp(-(squared[:, None] + squared[None, :] - 2 * Z @ Z.T) / (2 * np.median(squared)))


def mmd2(weights):
    """Squared MMD between a law on the samples and the data (uniform) measure."""
    diff = weights - pi
    return float(diff @ gram @ diff)


v1 = np.linalg.eigh(Z.T @ Z)[1][:, -1]
projection = Z @ v1
start = int(np.argmax(projection))  # the most extreme sample along v1
rho = np.zeros(len(Z))
rho[start] = 1.0
positions = np.full(2000, start)
n_steps = 1500
snapshot_steps = [0, 10, 50, 200, n_steps]
kl, mmd_exact, mmd_walkers, snapshots = [], [], [], {}
for t in range(n_steps + 1):
    kl.append(kl_divergence(rho, pi))
    mmd_exact.append(mmd2(rho))
    mmd_walkers.append(mmd2(np.bincount(positions, minlength=len(Z)) / len(positions)))
    if t in snapshot_steps:
        snapshots[t] = projection[positions]
    rho = PT @ rho
    positions = step_walkers(positions, sampler, rng)

fig, (ax_curve, ax_hist) = plt.subplots(1, 2, figsize=(12, 4.2))
ax_curve.semilogy(kl, label=r"$\mathrm{KL}(\rho_t\,\|\,\pi)$, exact law")
ax_curve.semilogy(mmd_exact, label=r"MMD$^2(\rho_t, \pi)$, exact law")
ax_curve.semilogy(mmd_walkers, label="MMD$^2$, 2000 walkers", alpha=0.7)
ax_curve.set_xlabel("walker step")
ax_curve.set_title("From a point mass to the data measure")
ax_curve.legend(fontsize=8)

bins = np.linspace(projection.min(), projection.max(), 40)
ax_hist.hist(projection, bins=bins, density=True, color="lightgray", label="data")
for t in snapshot_steps[1:]:
    ax_hist.hist(snapshots[t], bins=bins, density=True, histtype="step", lw=1.5,
                 label=f"walkers, step {t}")
ax_hist.axvline(projection[start], color="k", ls=":", label="start")
ax_hist.set_xlabel("coordinate on the first principal axis")
ax_hist.set_title("Walkers' positions")
ax_hist.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
# The KL divergence of the exact law never increases (the data-processing
# inequality for a Markov chain with stationary law :math:`\pi`) and falls
# geometrically once the walkers have spread, at the rate of the walk's
# spectral gap, until it reaches rounding level (about 1e-13: to first order
# the KL divergence measures the rounding error in the total mass of
# ``rho_t``; the quadratic MMD bottoms out near 1e-28).  The walkers'
# empirical MMD follows the exact law's until it reaches the floor set by
# drawing 2000 points.
increases = np.diff(kl)
print(f"KL at steps 0, 300, {n_steps}: {kl[0]:.2f}, {kl[300]:.2e}, {kl[-1]:.2e}")
print(f"largest increase of KL between two steps: {max(increases.max(), 0.0):.1e}")
