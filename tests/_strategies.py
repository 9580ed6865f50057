"""Hypothesis strategies for the property tests: data per manifold, parameters.

Adding a manifold to the package (``slowfast_sklearn.geometry.MANIFOLDS``)
means adding one :class:`ManifoldCase` to :data:`MANIFOLD_CASES`: a function
that turns a few drawn numbers into points *on* that manifold (including
points within rounding of its boundary or cut locus), its intrinsic
dimension, the metric at the base point in which ``components_`` must be
orthonormal, the errors its data must raise (off the manifold within the
documented tolerance, no unique base point), and whether a global rescaling
maps the manifold to itself.  ``test_every_manifold_has_a_case`` fails
until that is done; every property test is parametrised over the cases.

Data are drawn as *structure* (shape, dtype, rank, scale, offset,
duplicates, tails, a numpy seed) and built with numpy, rather than element by
element: hypothesis then explores and shrinks the properties that matter
(a rank-one array, a 1e-8 scale with a 1e6 offset in float32, two samples)
instead of spending its budget on individual floats.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np
from hypothesis import strategies as st

from slowfast_sklearn.geometry._base import MEMBERSHIP_TOL
from slowfast_sklearn.geometry.hypersphere import CUT_LOCUS_MARGIN
from slowfast_sklearn.geometry.poincare_ball import BOUNDARY_TOL

#: Largest problem drawn: keeps each generated fit to a few milliseconds.
MAX_SAMPLES = 40
MAX_FEATURES = 6
DTYPES = (np.float32, np.float64)


@dataclass(frozen=True)
class ManifoldCase:
    """How to test one value of the ``manifold`` parameter.

    Attributes
    ----------
    name : str
        The ``manifold`` string.
    points : callable
        ``points(draw, n_samples, n_features) -> float64 ndarray`` of points
        on the manifold, drawn with hypothesis' ``draw``.
    gram : callable
        ``gram(V, base) -> (k, k) ndarray``: the inner products of the rows
        of ``V`` (ambient tangent vectors at ``base``) in the metric at the
        base point; for ``components_`` it must be the identity.
    features : callable
        ``features() -> strategy`` of valid numbers of ambient coordinates.
    dim : callable
        ``dim(n_features) -> int``: the manifold's intrinsic dimension, the
        bound on ``n_components``.
    rescalable : bool
        Whether ``c * X`` is on the manifold for every ``c > 0`` (so that
        the global-rescaling invariance applies).
    tangent_residual : callable
        ``tangent_residual(V, base) -> float``: how far the rows of ``V``
        are from the tangent space at ``base`` (0 when it is all of R^d).
    conditioning : callable
        ``conditioning(base) -> float``: how much the metric at ``base``
        amplifies a rounding of ``base`` or of the components' entries
        (1 for a flat metric); sets the float32 orthonormality tolerance.
    membership_error : callable
        ``membership_error(X) -> str or None``: the message part of the
        ValueError ``X`` must raise for not being on the manifold within the
        documented tolerance (rounding may push a point near the boundary
        off it), else None.
    mean_error : callable
        ``mean_error(X) -> str or None``: the message part of the ValueError
        ``X`` must raise because its base point is not defined (the sphere's
        antipodal clouds), else None.
    magnitude : callable
        ``magnitude(X) -> float or (n_features,) ndarray``: the size whose
        rounding bounds a coordinate's resolution: each column's largest
        value for flat space, 1 on the sphere, the largest norm on the ball,
        the largest entry of the matrices on SPD.
    other_rows : callable
        ``other_rows(draw, base, n_features) -> (3, n_features) ndarray``:
        points of the manifold far from, near or at ``base`` to mix into a
        transform batch.
    """

    name: str
    points: Callable
    gram: Callable
    features: Callable
    dim: Callable
    rescalable: bool = False
    tangent_residual: Callable = lambda V, base: 0.0
    conditioning: Callable = lambda base: 1.0
    membership_error: Callable = lambda X: None
    mean_error: Callable = lambda X: None
    magnitude: Callable = lambda X: np.abs(X).max(axis=0)
    other_rows: Callable = None


def _euclidean_points(draw, n_samples, n_features):
    """Gaussian or heavy-tailed points of R^d, in every hostile shape we know.

    Rank 0 (all rows identical) to full; per-feature scales spanning up to
    4 decades (constant columns when the rank is deficient along an axis);
    a global scale 1e-8..1e8 and an offset up to 1e6; duplicated rows.
    """
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rank = draw(st.integers(0, n_features), label="rank")
    n_unique = draw(st.integers(1, n_samples), label="n_unique_rows")
    log_scale = draw(st.floats(-8.0, 8.0), label="log10_scale")
    log_offset = draw(st.none() | st.floats(0.0, 6.0), label="log10_offset")
    feature_decades = draw(st.floats(0.0, 4.0), label="feature_decades")
    axis_aligned = draw(st.booleans(), label="axis_aligned")
    tails = draw(st.sampled_from(["gaussian", "student-t"]), label="tails")
    rng = np.random.default_rng(seed)

    if axis_aligned:
        # Rank deficiency along coordinate axes: constant columns.
        basis = np.eye(n_features)[:, rng.permutation(n_features)[:rank]]
    else:
        basis = np.linalg.qr(rng.standard_normal((n_features, max(rank, 1))))[0][:, :rank]
    spectrum = 10.0 ** rng.uniform(-3.0, 0.0, rank)
    if tails == "gaussian":
        latent = rng.standard_normal((n_unique, rank))
    else:
        latent = rng.standard_t(1.5, size=(n_unique, rank))
    X = (latent * np.sqrt(spectrum)) @ basis.T
    X *= 10.0 ** rng.uniform(-feature_decades / 2, feature_decades / 2, n_features)
    # Every unique row at least once, the rest duplicates, shuffled.
    rows = np.concatenate([np.arange(n_unique), rng.integers(0, n_unique, n_samples - n_unique)])
    X = X[rng.permutation(rows)] * 10.0**log_scale
    if log_offset is not None:
        X += 10.0**log_offset * rng.choice([-1.0, 1.0], n_features) * rng.uniform(0.5, 1.0, n_features)
    return X


def _euclidean_gram(V, base):
    return V @ V.T


def _euclidean_other_rows(draw, base, n_features):
    # Far away, tiny, or at the origin.
    scale = draw(st.sampled_from([1e6, 1e-6, 0.0]), label="other_rows_scale")
    return scale * np.ones((3, n_features))


EUCLIDEAN = ManifoldCase(
    name="euclidean",
    points=_euclidean_points,
    gram=_euclidean_gram,
    features=lambda: st.integers(1, MAX_FEATURES),
    dim=lambda n_features: n_features,
    rescalable=True,
    other_rows=_euclidean_other_rows,
)


# -- shared pieces of the curved cases ---------------------------------------


def _latent(rng, n_unique, rank):
    """Gaussian coordinates with a spectrum spanning 3 decades, (n_unique, rank)."""
    spectrum = 10.0 ** rng.uniform(-3.0, 0.0, rank)
    return rng.standard_normal((n_unique, rank)) * np.sqrt(spectrum)


def _subspace(rng, n, rank, axis_aligned):
    """An orthonormal basis (n, rank) of a random or coordinate subspace of R^n."""
    if axis_aligned:
        return np.eye(n)[:, rng.permutation(n)[:rank]]
    return np.linalg.qr(rng.standard_normal((n, max(rank, 1))))[0][:, :rank]


def _to_radius(V, radius):
    """Rescale the rows of V so that the longest has length ``radius``."""
    longest = np.linalg.norm(V, axis=1).max() if V.size else 0.0
    return V * (radius / longest) if longest > 0 else V


def _duplicated(rows, n_samples, rng):
    """Every row at least once, the rest duplicates of random rows, shuffled."""
    n_unique = rows.shape[0]
    index = np.concatenate([np.arange(n_unique), rng.integers(0, n_unique, n_samples - n_unique)])
    return rows[rng.permutation(index)]


def _symmetric_pairs(V, n_samples, rng):
    """Rows v and -v, duplicated in pairs, so the multiset is symmetric under v -> -v.

    Returns an even number of rows, ``n_samples`` or ``n_samples - 1``.
    """
    half = V[: max(1, V.shape[0] // 2)]
    half = _duplicated(half, max(half.shape[0], n_samples // 2), rng)
    return rng.permutation(np.concatenate([half, -half]))


# -- hypersphere ---------------------------------------------------------------

#: Largest radius of the "cap" layout: every sample then lies within
#: 2 * CAP_RADIUS < pi/2 of the (unique) Frechet mean, with a margin.
CAP_RADIUS = np.pi / 4 - 1e-3


def _sphere_points(draw, n_samples, n_features):
    """Unit vectors of R^D (D = n_features) around a pole c, in four layouts.

    Tangent vectors at c (rank 0: every sample at c; rank 1: all on one great
    circle through c; axis-aligned: exactly zero columns) are mapped by
    ``Exp_c``.  The layouts, by what the estimator promises:

    - ``cap``: geodesic radius 1e-8 .. pi/4 around c.  The Frechet mean is
      unique and within the cap, every sample within pi/2 of it: a fit that
      warns about nothing.
    - ``hemisphere``: pairs ``Exp_c(v)``, ``Exp_c(-v)`` of radius up to
      ``pi/2 - delta``, delta down to 1e-12: the mean is c by symmetry and
      samples lie within rounding of the pi/2 bound of the promise.
    - ``wide``: radius pi/2 .. pi: the fit may warn (samples beyond pi/2 of
      the mean) or refuse (a sample at the mean's antipode, its cut locus).
    - ``antipodal``: samples in antipodal pairs: the extrinsic mean is 0 and
      the fit must refuse X.
    """
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rank = draw(st.integers(0, n_features - 1), label="rank")
    n_unique = draw(st.integers(1, n_samples), label="n_unique_rows")
    axis_aligned = draw(st.booleans(), label="axis_aligned")
    layout = draw(st.sampled_from(["cap", "hemisphere", "wide", "antipodal"]), label="layout")
    if layout == "cap":
        radius = 10.0 ** draw(st.floats(-8.0, np.log10(CAP_RADIUS)), label="log10_radius")
    elif layout == "hemisphere":
        radius = np.pi / 2 - 10.0 ** -draw(st.floats(1.0, 12.0), label="log10_margin")
    else:
        radius = draw(st.floats(np.pi / 2, np.pi), label="radius")
    rng = np.random.default_rng(seed)

    # Pole and tangent basis at it (axis-aligned: coordinate vectors).
    axes = _subspace(rng, n_features, n_features, axis_aligned)
    pole, tangent = axes[:, 0], axes[:, 1 : 1 + rank]
    V = _to_radius(_latent(rng, n_unique, rank) @ tangent.T, radius)
    if layout == "hemisphere":
        V = _symmetric_pairs(V, n_samples, rng)
    elif layout != "antipodal":
        V = _duplicated(V, n_samples, rng)
    theta = np.linalg.norm(V, axis=1, keepdims=True)
    direction = V / np.where(theta > 0, theta, 1.0)
    X = np.cos(theta) * pole + np.sin(theta) * direction
    if layout == "antipodal":
        X = _symmetric_pairs(X, n_samples, rng)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _sphere_tangent_residual(V, base):
    """Largest ``|<v, b>|``: components_ must be tangent at the mean (b^perp)."""
    return float(np.abs(V @ (base / np.linalg.norm(base))).max())


def _sphere_membership_error(X):
    dev = np.abs(np.linalg.norm(X.astype(np.float64), axis=1) - 1.0)
    return "not on the manifold 'hypersphere'" if dev.max() > MEMBERSHIP_TOL else None


def _sphere_mean_error(X):
    """An antipodally symmetric cloud (extrinsic mean 0) has no unique mean."""
    X = X.astype(np.float64)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    return "not unique" if np.linalg.norm(X.mean(axis=0)) < 1e-8 else None


def sphere_within_safe_cap(X):
    """Whether X lies within pi/2 - CUT_LOCUS_MARGIN / 2 of its extrinsic mean.

    Then (Afsari 2011) the Frechet mean is unique and inside that ball, so
    no sample is within CUT_LOCUS_MARGIN of the mean's antipode: the fit
    must not refuse X for lying at the cut locus.
    """
    X = X.astype(np.float64)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    m = X.mean(axis=0)
    if np.linalg.norm(m) < 1e-8:
        return False
    angle = np.arccos(np.clip(X @ (m / np.linalg.norm(m)), -1.0, 1.0))
    return bool(angle.max() <= np.pi / 2 - CUT_LOCUS_MARGIN / 2)


def _sphere_other_rows(draw, base, n_features):
    """The mean itself, and points 1.5 and 3.0 rad from it (short of the antipode)."""
    base = base / np.linalg.norm(base)
    u = np.roll(base, 1) - (np.roll(base, 1) @ base) * base
    if np.linalg.norm(u) < 1e-6:
        u = np.eye(n_features)[np.argmin(np.abs(base))] - base[np.argmin(np.abs(base))] * base
    u /= np.linalg.norm(u)
    return np.array([base, np.cos(1.5) * base + np.sin(1.5) * u, np.cos(3.0) * base + np.sin(3.0) * u])


HYPERSPHERE = ManifoldCase(
    name="hypersphere",
    points=_sphere_points,
    # The round metric is the Euclidean one restricted to b^perp: rows
    # orthonormal in R^D, and tangent (checked by tangent_residual).
    gram=_euclidean_gram,
    features=lambda: st.integers(2, MAX_FEATURES),
    dim=lambda n_features: n_features - 1,
    tangent_residual=_sphere_tangent_residual,
    membership_error=_sphere_membership_error,
    mean_error=_sphere_mean_error,
    magnitude=lambda X: 1.0,
    other_rows=_sphere_other_rows,
)


# -- Poincare ball -------------------------------------------------------------

#: Largest norm of a generated float64 point: just inside the documented
#: bound ``1 - BOUNDARY_TOL`` (float32 rounding may still reach it).
BALL_MAX_NORM = 1.0 - BOUNDARY_TOL * (1.0 + 1e-6)


def _mobius_add(x, y):
    xy = np.einsum("ij,ij->i", x, y)[:, None]
    nx = np.einsum("ij,ij->i", x, x)[:, None]
    ny = np.einsum("ij,ij->i", y, y)[:, None]
    return ((1.0 + 2.0 * xy + ny) * x + (1.0 - nx) * y) / (1.0 + 2.0 * xy + nx * ny)


def _clip_norm(X, limit):
    norm = np.linalg.norm(X, axis=1, keepdims=True)
    return np.where(norm > limit, X * (limit / np.where(norm > 0, norm, 1.0)), X)


def _ball_points(draw, n_samples, n_features):
    """Points of the Poincare ball around a base point b.

    b at the origin, inside, or at norm ``1 - 10**-e`` with e up to 9 (the
    documented bound is ``1 - 1e-9``); tangent vectors at b of hyperbolic
    length 1e-8 .. 20 (rank 0: every sample at b; rank 1: on one geodesic
    through b) mapped by ``Exp_b``; duplicates; optionally some rows pushed
    radially to norm ``1 - 10**-e``, e in 1 .. 9.  Every float64 row has
    norm below ``1 - 1e-9``; float32 rounding may take a boundary row to
    it, and the fit must then refuse X.
    """
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rank = draw(st.integers(0, n_features), label="rank")
    n_unique = draw(st.integers(1, n_samples), label="n_unique_rows")
    axis_aligned = draw(st.booleans(), label="axis_aligned")
    base_at = draw(
        st.just(0.0) | st.floats(0.0, 0.9) | st.floats(1.0, 9.0).map(lambda e: 1.0 - 10.0**-e),
        label="base_norm",
    )
    radius = 10.0 ** draw(st.floats(-8.0, np.log10(20.0)), label="log10_radius")
    boundary = draw(st.none() | st.floats(1.0, 9.0), label="boundary_rows_log10_gap")
    rng = np.random.default_rng(seed)

    direction = _subspace(rng, n_features, 1, axis_aligned)[:, 0]
    base = min(base_at, BALL_MAX_NORM) * direction
    V = _to_radius(_latent(rng, n_unique, rank) @ _subspace(rng, n_features, rank, axis_aligned).T, radius)
    # Exp_b(v) in orthonormal coordinates v: b (+) tanh(|v| / 2) v / |v|.
    length = np.linalg.norm(V, axis=1, keepdims=True)
    U = np.tanh(length / 2.0) * V / np.where(length > 0, length, 1.0)
    X = _clip_norm(_mobius_add(np.broadcast_to(base, U.shape), U), BALL_MAX_NORM)
    if boundary is not None:
        rows = rng.random(n_unique) < rng.uniform(0.1, 1.0)
        norm = np.linalg.norm(X[rows], axis=1, keepdims=True)
        target = min(1.0 - 10.0**-boundary, BALL_MAX_NORM)
        X[rows] = np.where(norm > 0, X[rows] / np.where(norm > 0, norm, 1.0), direction) * target
        X = _clip_norm(X, BALL_MAX_NORM)
    return _duplicated(X, n_samples, rng)


def _ball_gram(V, base):
    """Metric ``lambda_b**2 I``, ``lambda_b = 2 / (1 - |b|**2)``."""
    lam = 2.0 / (1.0 - base @ base)
    return lam**2 * (V @ V.T)


def _ball_membership_error(X):
    norm = np.linalg.norm(X.astype(np.float64), axis=1)
    return "not on the manifold 'poincare_ball'" if norm.max() >= 1.0 - BOUNDARY_TOL else None


def _ball_other_rows(draw, base, n_features):
    """The origin, the mean, and a point at norm 1 - 1e-7."""
    edge = np.zeros(n_features)
    edge[0] = 1.0 - 1e-7
    return np.array([np.zeros(n_features), base, edge])


POINCARE_BALL = ManifoldCase(
    name="poincare_ball",
    points=_ball_points,
    gram=_ball_gram,
    features=lambda: st.integers(1, MAX_FEATURES),
    dim=lambda n_features: n_features,
    # A rounding of b changes lambda_b relatively by about |b| |db| / (1 - |b|^2).
    conditioning=lambda base: 1.0 / (1.0 - base @ base),
    membership_error=_ball_membership_error,
    magnitude=lambda X: np.linalg.norm(X.astype(np.float64), axis=1).max(),
    other_rows=_ball_other_rows,
)


# -- SPD matrices --------------------------------------------------------------


def _spd_size(n_features):
    return int(round(np.sqrt(n_features)))


def _sym_fun(M, fun):
    w, U = np.linalg.eigh(M)
    return (U * fun(w)[..., None, :]) @ np.swapaxes(U, -1, -2)


def _spd_points(draw, n_samples, n_features):
    """p x p SPD matrices (rows of p * p entries) around a base matrix B.

    B has a condition number up to 1e7 (near the boundary of the cone: the
    documented bound is a smallest / largest eigenvalue above ``p * 1e-8``)
    and an overall scale 1e-4 .. 1e4, diagonal or rotated; tangent vectors at
    B of length 1e-8 .. 3 in the affine-invariant metric (rank 0: every
    sample at B; rank 1: one geodesic; axis-aligned: some entries constant)
    are mapped by ``Exp_B(S) = B^1/2 expm(S) B^1/2``.  Rows are exactly
    symmetric; the spread of a wide cloud may push a matrix past the bound,
    and the fit must then refuse X.
    """
    p = _spd_size(n_features)
    dim = p * (p + 1) // 2
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rank = draw(st.integers(0, dim), label="rank")
    n_unique = draw(st.integers(1, n_samples), label="n_unique_rows")
    axis_aligned = draw(st.booleans(), label="axis_aligned")
    log_condition = draw(st.just(0.0) | st.floats(0.0, 7.0), label="log10_condition")
    log_scale = draw(st.floats(-4.0, 4.0), label="log10_scale")
    radius = 10.0 ** draw(st.floats(-8.0, 0.5), label="log10_radius")
    rng = np.random.default_rng(seed)

    exponents = -log_condition * np.concatenate([[0.0, 1.0], rng.uniform(0.0, 1.0, p)])[:p]
    Q = _subspace(rng, p, p, axis_aligned)
    half = (Q * 10.0 ** ((exponents + log_scale) / 2.0)) @ Q.T
    coeffs = _to_radius(_latent(rng, n_unique, rank) @ _subspace(rng, dim, rank, axis_aligned).T, radius)
    iu = np.triu_indices(p)
    S = np.zeros((n_unique, p, p))
    vals = coeffs / np.where(iu[0] == iu[1], 1.0, np.sqrt(2.0))
    S[:, iu[0], iu[1]] = vals
    S[:, iu[1], iu[0]] = vals
    M = half @ _sym_fun(S, np.exp) @ half
    M = 0.5 * (M + np.swapaxes(M, 1, 2))
    return _duplicated(M.reshape(n_unique, n_features), n_samples, rng)


def _spd_gram(V, base):
    """``<U, V>_b = tr(b^-1 U b^-1 V)``, evaluated as the Frobenius products of
    the whitened ``b^-1/2 U b^-1/2``: the explicit ``kron(b^-1, b^-1)`` form
    cancels terms of size cond(b)**2 and loses 1e-6 at cond(b) = 1e6."""
    p = _spd_size(base.shape[0])
    w, U = np.linalg.eigh(base.reshape(p, p))
    inv_half = (U / np.sqrt(w)) @ U.T
    A = (inv_half @ V.reshape(-1, p, p) @ inv_half).reshape(V.shape[0], -1)
    return A @ A.T


def _spd_tangent_residual(V, base):
    """Largest relative asymmetry of the components (tangent vectors are symmetric)."""
    p = _spd_size(base.shape[0])
    M = V.reshape(-1, p, p)
    return float(np.abs(M - np.swapaxes(M, 1, 2)).max() / max(np.abs(M).max(), 1e-300))


def _spd_conditioning(base):
    p = _spd_size(base.shape[0])
    return float(np.linalg.cond(base.reshape(p, p)))


def _spd_membership_error(X):
    p = _spd_size(X.shape[1])
    M = X.astype(np.float64).reshape(-1, p, p)
    w = np.linalg.eigvalsh(0.5 * (M + np.swapaxes(M, 1, 2)))
    rel = w[:, 0] / np.maximum(np.abs(w).max(axis=1), np.finfo(np.float64).tiny)
    return "not on the manifold 'spd'" if rel.min() <= p * MEMBERSHIP_TOL * 1e-3 else None


def _spd_other_rows(draw, base, n_features):
    """Far away (1e6 I), tiny (1e-6 I), and the mean."""
    eye = np.eye(_spd_size(n_features)).ravel()
    return np.array([1e6 * eye, 1e-6 * eye, base])


SPD = ManifoldCase(
    name="spd",
    points=_spd_points,
    gram=_spd_gram,
    # 1 x 1, 2 x 2 and 3 x 3 matrices.
    features=lambda: st.integers(1, 3).map(lambda p: p * p),
    dim=lambda n_features: _spd_size(n_features) * (_spd_size(n_features) + 1) // 2,
    tangent_residual=_spd_tangent_residual,
    conditioning=_spd_conditioning,
    membership_error=_spd_membership_error,
    magnitude=lambda X: np.abs(X).max(),
    other_rows=_spd_other_rows,
)

#: One case per value of the ``manifold`` parameter.
MANIFOLD_CASES = {case.name: case for case in (EUCLIDEAN, HYPERSPHERE, POINCARE_BALL, SPD)}


@dataclass(frozen=True)
class Problem:
    """A generated fit: data, number of components and parameters."""

    X: np.ndarray
    n_components: int | float | None
    params: dict

    def __repr__(self):
        # Short and reproducible in a falsifying-example report.
        X = self.X
        return (
            f"Problem(X: {X.shape} {X.dtype}, range [{X.min():.3g}, {X.max():.3g}], "
            f"n_components={self.n_components}, params={self.params})"
        )


def fit_params(rules=("sanger", "oja")):
    """The main parameters, with budgets small enough for fast fits."""
    return st.fixed_dictionaries(
        {
            "rule": st.sampled_from(rules),
            "temperature": st.just(1.0) | st.floats(0.1, 10.0),
            "learning_rate": st.just("auto") | st.floats(0.01, 0.99),
            "n_walkers": st.integers(1, 32),
            "n_neighbors": st.integers(1, 20),
            "walk_steps": st.integers(1, 3),
            "walker_lifetime": st.none() | st.integers(1, 20),
            "max_iter": st.integers(1, 120),
            "tol": st.sampled_from([0.0, 0.03, 0.5]),
            "whiten": st.booleans(),
            "random_state": st.integers(0, 2**31 - 1),
        }
    )


@st.composite
def problems(draw, manifold, rules=("sanger", "oja"), dtypes=DTYPES, too_many_components=True):
    """A data set on ``manifold`` and valid parameters for it.

    With ``too_many_components`` the drawn ``n_components`` may exceed
    ``min(n_samples, n_features)`` by one (which must raise).
    """
    case = MANIFOLD_CASES[manifold]
    n_samples = draw(st.integers(2, MAX_SAMPLES), label="n_samples")
    n_features = draw(case.features(), label="n_features")
    dtype = draw(st.sampled_from(dtypes), label="dtype")
    X = case.points(draw, n_samples, n_features).astype(dtype)
    # Some layouts (antipodal pairs) round n_samples down to an even number.
    most = min(X.shape[0], case.dim(n_features)) + (1 if too_many_components else 0)
    # Mostly a count; also None (all) and a share of the variance, as in PCA.
    n_components = draw(
        st.integers(1, most) | st.none() | st.floats(0.05, 0.95), label="n_components"
    )
    params = draw(fit_params(rules), label="params")
    return Problem(X, n_components, params)
