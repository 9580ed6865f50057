"""``solver="variance_reduced"``: walkers reborn from pi anchor their own Hebbian updates.

The walkers' batch second moment ``C_t`` is an unbiased but noisy estimate
of ``C_pi``; at a constant step its noise floor costs thousands of updates
(the ``"stochastic"`` solver).  Here the walkers live for
``walker_lifetime`` updates and are then reborn on the samples by systematic
sampling from ``pi`` (a regenerative walk, as in ``"stochastic"``), and each
life begins with an *anchor*: the walkers' batch moment in expectation at
rebirth, which is ``C_pi`` itself (the Rao-Blackwellised first batch: at
temperature 1 and as many walkers as samples it is the batch, one walker on
each sample).  The anchor drives one update; the walkers then move along
the graph and drive the others through the variance-reduced estimate
(Shamir 2015)::

    C W  ~  C_t (W - V) + C_pi V,      V the weights at the anchor,

unbiased, with a noise that vanishes as ``W`` approaches ``V``, so the
weights converge linearly instead of to a noise floor; its continuous limit
is the same averaged ODE.  Each unit takes its own step, ``eta_j =
learning_rate / theta_j`` with ``theta_j = v_j^T C_pi v_j`` its variance at
the anchor (per-unit adaptive steps, as AdaOja's, Henriksen & Ward 2019;
capped at the ``k``-th unit's), so a component with ``1e-12`` of the first's
variance is learned at the pace of the first; at the anchor the step is the
full ``1 / theta_j``, which makes Sanger's update the deflated power step.
The network carries ``oversampling`` more units than components (as block
eigensolvers do); at every anchor a Rayleigh-Ritz rotation orders the units
by their variance, and the top ``n_components`` are learned.

The fit stops on what the data determine (the walker-speed issue): the
captured-variance deficit ``1 - sum_{j<=k} theta_j / sum_{j<=k} lambda_j``
(the Lyapunov subspace-gap term relative to the top-k variance) at most
``tol``, and, across every well-separated gap ``lambda_j - lambda_{j+1} >=
5% lambda_j`` (``j <= k``), a largest principal angle of the leading ``j``
units at most ``sqrt(tol)``, bounded by Davis-Kahan from the anchor's
residual.  Where eigenvalues near the ``k``-th are within a few per cent
the subspace among them is ill-determined; the deficit still is not.
"""

import numpy as np
from scipy import linalg

from .._hebbian import hebbian_direction, orthonormalize
from .._moments import moment_product
from .._rows import row_blocks
from ..fast.graph import GraphWalkers
from ._base import FlowResult, Solver, one_blas_thread, run_checkpoints

__all__ = ["VarianceReducedSolver", "batch_product", "ritz_rotation",
           "stopping_statistics", "unit_steps", "variance_reduced_flow"]

#: A gap ``lambda_j - lambda_{j+1}`` at least this share of ``lambda_j`` is
#: well separated: the angle across it is determined and checked.
SEPARATED = 0.05


def batch_product(Z, positions, Delta):
    """``C_t Delta``, ``C_t`` the second moment of the walkers' batch.

    With at least half as many walkers as samples, each sample is weighed by
    the walkers on it (no gather); otherwise the walkers' rows are gathered
    a block at a time.

    Parameters
    ----------
    Z : ndarray or row view of shape (n_samples, dim)
    positions : ndarray of shape (n_walkers,)
        The walkers' sample indices.
    Delta : ndarray of shape (dim, m)

    Returns
    -------
    product : ndarray of shape (dim, m)
    """
    n, m = Z.shape[0], len(positions)
    if 2 * m >= n:
        # As many walkers as samples: weigh each sample by its walkers
        # instead of gathering their rows (the same products, no copy).
        return moment_product(Z, np.bincount(positions, minlength=n) / m, Delta)
    out = np.zeros_like(Delta)
    for rows in row_blocks(m, Z.shape[1]):
        B = Z[positions[rows]]
        out += B.T @ (B @ Delta)
    return out / m


def ritz_rotation(V, G):
    """Rayleigh-Ritz rotation of a block and its product, by decreasing Ritz value.

    Parameters
    ----------
    V : ndarray of shape (dim, units)
        Orthonormal block.
    G : ndarray of shape (dim, units)
        ``C V``.

    Returns
    -------
    V, G : ndarray of shape (dim, units)
        ``V R`` and ``G R``, ``R`` the eigenvectors of ``V^T G``.
    theta : ndarray of shape (units,)
        The Ritz values, descending, clipped at 0.
    """
    theta, R = linalg.eigh(V.T @ G)
    theta, R = np.clip(theta[::-1], 0.0, None), R[:, ::-1]
    return V @ R, G @ R, theta


def unit_steps(theta, k):
    """Per-unit steps at an anchor: ``1 / theta_j``, and the walkers' capped ones.

    A unit whose variance is rounding noise (100 ulps of the top one) has
    nothing to learn and gets step 0.

    Parameters
    ----------
    theta : ndarray of shape (units,)
        Ritz values, descending.
    k : int
        Leading units learned (the walkers' steps are capped at the
        ``k``-th unit's).

    Returns
    -------
    steps, walker_steps : ndarray of shape (units,)
    """
    eps, tiny = np.finfo(np.float64).eps, np.finfo(np.float64).tiny
    steps = np.where(theta > 100 * eps * theta[0], 1.0 / np.maximum(theta, tiny), 0.0)
    return steps, np.minimum(steps, steps[k - 1] or steps[0])


def stopping_statistics(V, G, theta, eigenvalues, k):
    """Deficit and the Davis-Kahan angle bound across the well-separated gaps.

    Parameters
    ----------
    V : ndarray of shape (dim, units)
        Orthonormal Ritz vectors, by decreasing Ritz value ``theta``.
    G : ndarray of shape (dim, units)
        ``C V``.
    theta : ndarray of shape (units,)
    eigenvalues : ndarray of shape (k + 1,) or (k,)
        Top eigenvalues of ``C`` (``k + 1`` unless ``k`` is the dimension).
    k : int

    Returns
    -------
    deficit : float
        ``1 - sum_{j<=k} theta_j / sum_{j<=k} lambda_j``, in [0, 1].
    angle : float
        Largest bound (rad) on the principal angle between the leading
        ``j`` Ritz vectors and the top-``j`` eigenvectors over the
        well-separated ``j <= k``; 0 when none is (or when ``k`` is the
        dimension, where the subspace is the whole space).
    """
    top = float(np.sum(eigenvalues[:k]))
    deficit = min(max(top - float(np.sum(theta[:k])), 0.0) / top, 1.0) if top > 0 else 0.0
    if len(eigenvalues) <= k:
        return deficit, 0.0
    following = eigenvalues[1:k + 1]
    # A gap below a rounding-level eigenvalue (past the data's rank: 0 >= 0)
    # separates nothing.
    floor = 100 * np.finfo(np.float64).eps * eigenvalues[0]
    separated = (eigenvalues[:k] - following >= SEPARATED * eigenvalues[:k]) & (
        eigenvalues[:k] > floor)
    if not separated.any():
        return deficit, 0.0
    # ||C V_j - V_j Theta_j||_F >= its spectral norm: a valid bound, read
    # off the columns' residual norms for every j at once.
    residual = np.sqrt(np.cumsum(np.sum((G[:, :k] - V[:, :k] * theta[:k]) ** 2, axis=0)))
    margin = theta[:k] - following
    with np.errstate(divide="ignore", invalid="ignore"):
        sine = np.where(margin > 0, residual / margin, 1.0)
    return deficit, float(np.arcsin(min(float(np.max(sine[separated])), 1.0)))


def anchor_record(V, G, theta, eigenvalues, k):
    """Stopping statistics and the Lyapunov terms at an anchor.

    Parameters
    ----------
    V, G, theta, eigenvalues, k
        As :func:`stopping_statistics`.

    Returns
    -------
    deficit, angle : float
        :func:`stopping_statistics`.
    terms : tuple of 3 float
        KL (0: walkers reborn from ``pi`` have law ``pi``), the leading
        units' orthogonality defect ``||V_k^T V_k - I||_F^2`` and the gap
        ``sum_{j<=k} (lambda_j - theta_j)`` (clipped at 0).
    """
    deficit, angle = stopping_statistics(V, G, theta, eigenvalues, k)
    E = V[:, :k].T @ V[:, :k] - np.eye(k)
    gap = max(float(np.sum(eigenvalues[:k]) - np.sum(theta[:k])), 0.0)
    return deficit, angle, (0.0, float(np.sum(E * E)), gap)


def leading_update(W, CW, rule, steps, k):
    """The leading ``k`` units of ``W`` moved along the Hebbian direction of
    ``CW`` (``dim x k``) by per-unit ``steps``, the extra units kept, the
    block re-orthonormalised."""
    Wk = W[:, :k]
    return orthonormalize(np.hstack([Wk + hebbian_direction(Wk, CW, rule) * steps[:k], W[:, k:]]))


class _AnchoredWalkers:
    """State of the variance-reduced walker flow on the shared checkpoint loop.

    One life of the walkers is ``lifetime`` updates: the anchored update,
    then ``lifetime - 1`` updates driven by the walkers' batches.  A
    checkpoint closes each life: the next anchor is computed there, so the
    stopping statistics are exact.
    """

    def __init__(self, Z, pi, walkers, eigenvalues, *, n_components, units, rule,
                 learning_rate, lifetime, walk_steps, tol, rng, weights_init=None, moment=None):
        d = Z.shape[1]
        self.Z, self.pi, self.walkers, self.eigenvalues = Z, pi, walkers, eigenvalues
        self.moment = moment
        self.k, self.rule, self.rate, self.tol, self.rng = n_components, rule, learning_rate, tol, rng
        self.lifetime, self.walk_steps = lifetime, walk_steps
        block = rng.standard_normal((d, units))
        if weights_init is not None:
            block[:, :n_components] = weights_init
        self.W = orthonormalize(block)
        self.logs, self.log_steps, self.statistics, self.angles = [], [], [], []
        self.last_deficit = np.inf
        self.anchor(0)

    def anchor(self, t):
        """``C_pi V`` at the current weights, the Ritz rotation and the statistics."""
        if self.moment is not None:
            G = self.moment @ self.W
        else:
            G = moment_product(self.Z, self.pi, self.W)
        self.V, self.G, self.theta = ritz_rotation(self.W, G)
        self.W, theta = self.V, self.theta
        deficit, angle, terms = anchor_record(self.V, self.G, theta, self.eigenvalues, self.k)
        if deficit > self.last_deficit:
            # The walkers' step overshot (a noisy batch): halve it.
            self.rate *= 0.5
        self.last_deficit = deficit
        self.logs.append(terms)
        self.log_steps.append(t)
        self.statistics.append(deficit)
        self.angles.append(angle)
        self.steps, self.walker_steps = unit_steps(theta, self.k)
        self.done = deficit <= self.tol and angle <= np.sqrt(self.tol)
        return self.done

    def step(self, t):
        if t % self.lifetime == 0:
            # Rao-Blackwellised rebirth: the anchor is the reborn walkers'
            # expected batch; the full per-unit step on it.
            self.walkers.reborn(self.rng)
            self.W = orthonormalize(self.W + hebbian_direction(self.W, self.G, self.rule)
                                    * self.steps)
            return True
        # The walkers drive the leading units only (the extra ones serve the
        # Ritz rotation at the anchors): the products are on k columns.
        k = self.k
        positions = self.walkers.move(self.walk_steps, self.rng)
        CW = batch_product(self.Z, positions, self.W[:, :k] - self.V[:, :k]) + self.G[:, :k]
        self.W = leading_update(self.W, CW, self.rule, self.rate * self.walker_steps, k)
        return True

    def check(self, t):
        return self.anchor(t)

    def report(self, t):
        kl, orth, gap = self.logs[-1]
        return (
            f"[CoupledFlowEmbedding] update {t:5d}  deficit {self.statistics[-1]:.2e}"
            f"  angle bound {self.angles[-1]:.2e} rad  KL {kl:.3e}  orth {orth:.3e}"
            f"  subspace gap {gap:.3e}"
        )

    def result(self, t, converged):
        U = self.V[:, :self.k]
        return FlowResult(
            weights=U, subspace=U, n_iter=max(t, 1), converged=converged, diverged=False,
            lyapunov=np.asarray(self.logs, dtype=np.float64),
            lyapunov_steps=np.asarray(self.log_steps),
            statistic=np.asarray(self.statistics, dtype=np.float64),
            positions=self.walkers.state, angle=self.angles[-1],
        )


def variance_reduced_flow(Z, P, pi, eigenvalues, *, n_components, rng, rule="sanger",
                          learning_rate=0.5, n_walkers=None, walker_lifetime=2, walk_steps=1,
                          max_iter=3000, tol=1e-3, oversampling=None, weights_init=None,
                          verbose=0, checkpoint=None, moment=None):
    """Run the variance-reduced walker flow.

    Parameters
    ----------
    Z : ndarray or row view of shape (n_samples, dim)
        Tangent coordinates, scaled so that ``lambda_1(C_pi)`` is about 1.
    P : scipy.sparse.csr_array of shape (n_samples, n_samples)
        Transition matrix of the graph walk.
    pi : ndarray of shape (n_samples,)
        Its stationary law, the spatial measure.
    eigenvalues : ndarray of shape (min(n_components + 1, dim),)
        Top eigenvalues of ``C_pi`` (the deficit's reference and the gaps).
    n_components : int
    rng : numpy.random.Generator
    rule : {"sanger", "oja"}, default="sanger"
    learning_rate : float, default=0.5
        Step of the walkers' updates, in units of each unit's variance.
    n_walkers : int, default=None
        Walkers; None: one per sample.
    walker_lifetime : int, default=2
        Updates per life of the walkers: the first is anchored, the others
        are driven by the walkers' batches (1: anchored updates only).
    walk_steps : int, default=1
        Moves of each walker per update.
    max_iter : int, default=3000
        Most weight updates.
    tol : float, default=1e-3
        Captured-variance deficit; ``sqrt(tol)`` rad across well-separated gaps.
    oversampling : int, default=None
        Extra units; None: ``max(n_components, 8)``, capped by the dimension.
    weights_init : ndarray of shape (dim, n_components), default=None
        Warm start of the leading units.
    verbose : int, default=0
    checkpoint : callable, default=None
        ``checkpoint(update, last) -> bool`` at every anchor.
    moment : ndarray of shape (dim, dim), default=None
        ``C_pi = Z^T diag(pi) Z`` when already formed: the anchors' products
        ``C_pi V`` are then ``dim**2`` per column, not a pass over ``Z``.

    Returns
    -------
    result : FlowResult
        ``statistic`` holds the deficit at each anchor.
    """
    n, d = Z.shape
    k = n_components
    p = max(k, 8) if oversampling is None else max(0, oversampling)
    walkers = GraphWalkers(Z, P, pi, n if n_walkers is None else n_walkers)
    flow = _AnchoredWalkers(
        Z, pi, walkers, np.asarray(eigenvalues, dtype=np.float64), n_components=k,
        units=min(d, k + p), rule=rule, learning_rate=learning_rate,
        lifetime=walker_lifetime, walk_steps=walk_steps, tol=tol, rng=rng,
        weights_init=weights_init, moment=moment,
    )
    if flow.done:
        # The first anchor is already exact (as many units as dimensions, or
        # a subspace that spans C's range): its Ritz rotation is the update.
        if verbose:
            print(flow.report(1))
        if checkpoint is not None:
            checkpoint(1, True)
        return flow.result(1, True)
    t, converged, _ = run_checkpoints(
        flow.step, flow.check, max_iter=max_iter, check_every=flow.lifetime,
        checkpoint=checkpoint, report=flow.report if verbose else None,
    )
    return flow.result(t, converged)


class VarianceReducedSolver(Solver):
    """Walkers reborn from ``pi`` anchor variance-reduced Hebbian updates."""

    name = "variance_reduced"
    default_tol = 1e-3
    requires = frozenset({"walkers", "transition"})
    requirement_message = (
        "solver='variance_reduced' anchors the walkers at the graph walk's stationary "
        "law: use kernel='graph' with it (or solver='stochastic' for the Langevin walkers)."
    )
    runs_walkers = True
    reads_row_views = True
    budget = "max_iter"
    gap_hint = False
    rules = frozenset({"sanger", "oja"})
    runs_pure_flow = False
    default_learning_rate = 0.5
    default_walker_lifetime = 2
    extra_eigenvalues = 1
    summary = (
        "walkers reborn from ``pi`` every ``walker_lifetime`` updates, whose Hebbian "
        "updates are anchored at their expected batch at rebirth (variance reduction, "
        "Shamir 2015), with a step per unit; the default for Sanger's and Oja's rules "
        "on the graph walk."
    )
    stopping = (
        "``tol`` is the captured-variance deficit ``1 - sum_{j<=k} theta_j / "
        "sum_{j<=k} lambda_j`` at the anchors (the Lyapunov subspace gap over the "
        "top-k variance); across every well-separated gap (``lambda_j - lambda_{j+1} "
        ">= 5% lambda_j``, ``j <= k``) the largest principal angle, bounded by "
        "Davis-Kahan, must also be at most ``sqrt(tol)`` rad."
    )

    def check_interval(self, params):
        """One checkpoint per life of the walkers (at the next anchor)."""
        return max(1, params.walker_lifetime or 1)

    def default_n_walkers(self, n_samples):
        """One walker per sample: at rebirth their batch is the measure itself."""
        return n_samples

    def unconverged(self, result, tol):
        angle = result.angle if result.angle is not None else 0.0
        return (
            f"the captured-variance deficit was {result.statistic[-1]:.2g} (tol={tol:g}) "
            f"and the principal angle across the well-separated gaps at most {angle:.2g} "
            f"rad (bound; sqrt(tol)={np.sqrt(tol):.2g}) at the last anchor"
        )

    def run(self, problem, params):
        if params.walker_lifetime is None:
            raise ValueError(
                "walker_lifetime=None keeps the walkers for the whole run (the pure "
                "flow), but solver='variance_reduced' anchors every life at the "
                "walkers' rebirth: use solver='stochastic' for the pure flow, or an "
                "int walker_lifetime."
            )
        k = params.n_components
        eigenvalues = problem.moments.top(min(k + 1, problem.rows.shape[1]))
        # Small products on one thread (BLAS threads only contend on two
        # cores); the walkers' moves are not BLAS at all.
        with one_blas_thread():
            return variance_reduced_flow(
                problem.rows, problem.P, problem.pi, eigenvalues, n_components=k,
                rng=params.rng, rule=params.rule, learning_rate=params.learning_rate,
                n_walkers=params.n_walkers, walker_lifetime=params.walker_lifetime,
                walk_steps=params.walk_steps, max_iter=params.max_iter, tol=params.tol,
                weights_init=params.weights_init, verbose=params.verbose,
                checkpoint=params.checkpoint, moment=getattr(problem.moments, "dense", None),
            )


SOLVER = VarianceReducedSolver()
