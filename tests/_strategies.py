"""Hypothesis strategies for the property tests: data per manifold, parameters.

Adding a manifold to the package (``slowfast_sklearn._geometry.MANIFOLDS``)
means adding one :class:`ManifoldCase` to :data:`MANIFOLD_CASES`: a function
that turns a few drawn numbers into points *on* that manifold (including
points within rounding of its boundary or cut locus), the metric at the base
point in which ``components_`` must be orthonormal, and whether a global
rescaling maps the manifold to itself.  ``test_every_manifold_has_a_case``
fails until that is done; every property test is parametrised over the
cases.

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
    metric : callable
        ``metric(base) -> (n_features, n_features) ndarray``: the metric
        tensor at the base point in ambient coordinates; ``components_``
        rows must be orthonormal in it.
    min_features : int
        Fewest ambient coordinates the manifold needs.
    rescalable : bool
        Whether ``c * X`` is on the manifold for every ``c > 0`` (so that
        the global-rescaling invariance applies).
    """

    name: str
    points: Callable
    metric: Callable
    min_features: int = 1
    rescalable: bool = False


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


def _euclidean_metric(base):
    return np.eye(base.shape[0])


EUCLIDEAN = ManifoldCase(
    name="euclidean",
    points=_euclidean_points,
    metric=_euclidean_metric,
    min_features=1,
    rescalable=True,
)

#: One case per value of the ``manifold`` parameter.
MANIFOLD_CASES = {case.name: case for case in (EUCLIDEAN,)}


@dataclass(frozen=True)
class Problem:
    """A generated fit: data, number of components and parameters."""

    X: np.ndarray
    n_components: int
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
    n_features = draw(st.integers(case.min_features, MAX_FEATURES), label="n_features")
    dtype = draw(st.sampled_from(dtypes), label="dtype")
    X = case.points(draw, n_samples, n_features).astype(dtype)
    most = min(n_samples, n_features) + (1 if too_many_components else 0)
    n_components = draw(st.integers(1, most), label="n_components")
    params = draw(fit_params(rules), label="params")
    return Problem(X, n_components, params)
