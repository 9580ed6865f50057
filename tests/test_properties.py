"""Property-based tests: the estimator's promises on generated hostile input.

``tests/test_estimator.py`` checks hand-picked bad inputs; here hypothesis
draws them (see ``_strategies.py``): 2 to 40 samples, 1 to 6 features,
float32 and float64, scales 1e-8..1e8, offsets up to 1e6, duplicated rows,
rank-deficient and heavy-tailed data, and the main parameters.  Every test
is parametrised over the manifold cases (euclidean, hypersphere,
poincare_ball, spd, with points on the manifold up to its boundary or cut
locus), so a new manifold only needs a new strategy.

On the sphere the fit warns (UserWarning) when a sample lies pi/2 or
farther from the Frechet mean; the tests record that warning too and check
that it is given exactly then.  The orthonormality of ``components_`` is
checked in the metric at ``mean_`` to 1e-6, in float32 up to the rounding
of the stored arrays amplified by that metric (see orthonormality_tolerance).

ConvergenceWarning: generated data rarely have a spectral gap after the
``n_components``-th eigenvalue (isotropic, rank-deficient or duplicated
samples) and the generated budgets are tiny (``max_iter`` from 1), so the
learned subspace is often not identifiable and the estimator rightly says
that it still moves.  These tests therefore record ConvergenceWarnings
instead of failing on them, and assert what they say (a Sanger/Oja run
never reports divergence); every other warning is still an error.
"""

import pickle
import warnings

import numpy as np
import pytest
from _strategies import MANIFOLD_CASES, problems, sphere_within_safe_cap
from hypothesis import assume, given, note
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from slowfast_sklearn import CoupledFlowEmbedding
from slowfast_sklearn.geometry import MANIFOLDS, resolve_geometry

FITTED_ARRAYS = (
    "components_",
    "mean_",
    "explained_variance_",
    "explained_variance_ratio_",
    "stationary_measure_",
    "weights_",
    "lyapunov_",
)
#: Attributes documented to carry the input's dtype.
DTYPE_ARRAYS = ("components_", "mean_", "explained_variance_", "explained_variance_ratio_")

manifolds = pytest.mark.parametrize("manifold", sorted(MANIFOLD_CASES))


def fit_recording(problem, manifold="euclidean"):
    """Fit on ``problem``; return (estimator or ValueError, messages of the
    ConvergenceWarnings and of the sphere's hemisphere UserWarning)."""
    est = CoupledFlowEmbedding(problem.n_components, manifold=manifold, **problem.params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("error")
        # As in pyproject.toml: geomstats' backend importer, on first import.
        warnings.simplefilter("ignore", ImportWarning)
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.filterwarnings("always", message=".*open hemisphere", category=UserWarning)
        # A tempered measure on a few samples is legitimate (and reported).
        warnings.filterwarnings("always", message=".*rests on few samples", category=UserWarning)
        try:
            est.fit(problem.X)
        except ValueError as error:
            return error, []
    messages = [str(w.message) for w in caught]
    note(f"ConvergenceWarnings: {messages}")
    return est, messages


def expected_error(manifold, X, n_components):
    """The ValueError a fit must raise, decided from the data alone (or None).

    In the estimator's order: a point off the manifold (beyond the
    documented tolerance, e.g. float32 rounding of a point at the ball's
    boundary), too many components for ``min(n_samples, dim)``, no unique
    base point (an antipodal cloud on the sphere), identical samples.
    """
    case = MANIFOLD_CASES[manifold]
    off = case.membership_error(X)
    if off is not None:
        return off
    if isinstance(n_components, int) and n_components > min(X.shape[0], case.dim(X.shape[1])):
        return "n_components"
    no_mean = case.mean_error(X)
    if no_mean is not None:
        return no_mean
    if np.all(X == X[0]):
        return "zero variance"
    return None


def cut_locus_possible(manifold, X):
    """Whether a sample may lie at the cut locus of the Frechet mean (the
    sphere's antipode), which the fit refuses: not for data within
    pi/2 - CUT_LOCUS_MARGIN / 2 of their extrinsic mean."""
    return manifold == "hypersphere" and not sphere_within_safe_cap(X)


def check_hemisphere_warning(manifold, X, est, messages):
    """The sphere warns iff a sample lies pi/2 or farther from mean_
    (up to the rounding of mean_ and of the angle)."""
    warned = any("open hemisphere" in m for m in messages)
    if manifold != "hypersphere":
        assert not warned, messages
        return
    Xn = X.astype(np.float64)
    Xn /= np.linalg.norm(Xn, axis=1, keepdims=True)
    base = est.mean_.astype(np.float64)
    base /= np.linalg.norm(base)
    farthest = np.arccos(np.clip(Xn @ base, -1.0, 1.0)).max()
    slack = 1e3 * np.finfo(X.dtype).eps
    note(f"farthest sample from mean_: pi/2 {farthest - np.pi / 2:+.3g} rad")
    if farthest < np.pi / 2 - slack:
        assert not warned, messages
    elif farthest > np.pi / 2 + slack:
        assert warned, f"no warning with a sample {farthest:.6f} rad from the mean"


def well_resolved(manifold, X):
    """Some feature varies by far more than the rounding of its values (of
    the points' size, on the curved manifolds: see ManifoldCase.magnitude)."""
    spread = np.ptp(X, axis=0).astype(np.float64)
    magnitude = np.asarray(MANIFOLD_CASES[manifold].magnitude(X), dtype=np.float64)
    return bool(np.any(spread > 1e3 * np.finfo(X.dtype).eps * magnitude))


def fitted_or_skip(problem, manifold):
    """A successful fit (others are covered by test_fit_succeeds_or_names_the_problem)."""
    est, messages = fit_recording(problem, manifold)
    assume(not isinstance(est, ValueError))
    return est, messages


def orthonormality_tolerance(case, base, dtype):
    """1e-6, or the rounding of the stored float32 arrays if larger.

    components_ and mean_ are stored in X's dtype: their float32 rounding
    (relative 6e-8) is amplified by the metric's conditioning at the base
    point (1 / (1 - |b|^2) on the ball, cond(b) on SPD), so near the ball's
    boundary or for ill-conditioned SPD means no float32 array can be
    orthonormal to 1e-6.  float64 results are held to 1e-6 everywhere.
    """
    return max(1e-6, 64 * np.finfo(dtype).eps * case.conditioning(base))


def rowwise_tolerance(est, X):
    """Rounding bound for one feature: a length-d dot product of the tangent
    coordinates (``X - mean_`` for Euclidean data), cast to X's dtype."""
    geometry = resolve_geometry(est.manifold, X.shape[1])
    Z = geometry.log(X.astype(np.float64), est.mean_.astype(np.float64))
    bound = 8 * Z.shape[1] * np.finfo(X.dtype).eps * float(np.abs(Z).max())
    if est.whiten:
        floor = np.finfo(X.dtype).tiny
        bound /= float(np.sqrt(max(est.explained_variance_.astype(np.float64).min(), floor)))
    return bound + np.finfo(X.dtype).tiny


def test_every_manifold_has_a_case():
    """Each manifold the package offers has a data strategy here."""
    assert set(MANIFOLD_CASES) == set(MANIFOLDS)


@manifolds
@given(data=st.data())
def test_fit_succeeds_or_names_the_problem(manifold, data):
    """fit succeeds, or raises a ValueError naming the input or parameter at fault.

    The two errors decidable from the data alone must be raised; a fit on
    data that varies well above rounding must succeed.
    """
    problem = data.draw(problems(manifold))
    X_before = problem.X.copy()
    est, messages = fit_recording(problem, manifold)
    # The input is never modified, whatever happens.
    np.testing.assert_array_equal(problem.X, X_before)
    expected = expected_error(manifold, problem.X, problem.n_components)
    if isinstance(est, ValueError):
        message = str(est)
        if expected is not None:
            assert expected in message, message
        elif "antipode" in message:
            # Named by the manifold and the sample at fault.
            assert cut_locus_possible(manifold, problem.X), message
            assert f"'{manifold}'" in message and "sample" in message, message
        else:
            assert not well_resolved(manifold, problem.X), message
            assert "X" in message, message
        return
    assert expected is None, f"fit should have raised about {expected}"
    check_hemisphere_warning(manifold, problem.X, est, messages)
    # The step guard tames every learning rate of Sanger's and Oja's rules.
    assert not any("diverged" in m for m in messages), messages
    assert not any("collapsed" in m for m in messages), messages


@manifolds
@given(data=st.data())
def test_fitted_state_is_finite_orthonormal_and_typed(manifold, data):
    """After a fit every fitted array and every output is finite, components_
    are orthonormal in the base point's metric, and dtypes follow the input."""
    problem = data.draw(problems(manifold, too_many_components=False))
    X = problem.X
    est, _ = fitted_or_skip(problem, manifold)
    k = est.n_components_
    most = min(X.shape[0], MANIFOLD_CASES[manifold].dim(X.shape[1]))
    if problem.n_components is None:
        assert k == most
    elif isinstance(problem.n_components, float):
        assert 1 <= k <= most
    else:
        assert k == problem.n_components
    for name in FITTED_ARRAYS:
        value = getattr(est, name)
        assert np.all(np.isfinite(value)), name
    assert np.isfinite(est.noise_variance_) and est.noise_variance_ >= 0
    for name in DTYPE_ARRAYS:
        assert getattr(est, name).dtype == X.dtype, name
    assert est.components_.shape == (k, X.shape[1])

    case = MANIFOLD_CASES[manifold]
    V = est.components_.astype(np.float64)
    base = est.mean_.astype(np.float64)
    atol = orthonormality_tolerance(case, base, X.dtype)
    np.testing.assert_allclose(case.gram(V, base), np.eye(k), rtol=0, atol=atol)
    assert case.tangent_residual(V, base) <= atol

    # Variances are non-negative, sorted, and capture at most the total.
    ev = est.explained_variance_.astype(np.float64)
    assert np.all(ev >= 0) and np.all(np.diff(ev) <= 1e-6 * max(ev[0], 0))
    ratio = est.explained_variance_ratio_.astype(np.float64)
    assert np.all(ratio >= 0) and ratio.sum() <= 1 + 1e-5
    pi = est.stationary_measure_
    assert np.all(pi >= 0) and abs(pi.sum() - 1) < 1e-12
    assert 1 <= est.n_iter_ <= problem.params["max_iter"]
    assert est.lyapunov_.shape == (est.lyapunov_steps_.shape[0], 3)

    out = est.transform(X)
    assert out.dtype == X.dtype and out.shape == (X.shape[0], k)
    assert np.all(np.isfinite(out))
    back = est.inverse_transform(out)
    assert back.dtype == X.dtype and np.all(np.isfinite(back))
    fresh = clone(est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*open hemisphere", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*rests on few samples", category=UserWarning)
        out_fit = fresh.fit_transform(X)
    assert out_fit.dtype == X.dtype
    np.testing.assert_allclose(out_fit, out, rtol=0, atol=rowwise_tolerance(est, X))


@manifolds
@given(data=st.data())
def test_transform_is_rowwise(manifold, data):
    """A row's features do not depend on the other rows of the batch."""
    problem = data.draw(problems(manifold, too_many_components=False))
    X = problem.X
    est, _ = fitted_or_skip(problem, manifold)
    full = est.transform(X)
    n = X.shape[0]
    subset = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n), label="rows")
    # Other points around: far away, tiny, or repeated.
    others = MANIFOLD_CASES[manifold].other_rows(data.draw, est.mean_.astype(np.float64), X.shape[1])
    batch = np.concatenate([X[subset], others]).astype(X.dtype)
    atol = rowwise_tolerance(est, X)
    np.testing.assert_allclose(est.transform(X[subset]), full[subset], rtol=0, atol=atol)
    np.testing.assert_allclose(est.transform(batch)[: len(subset)], full[subset], rtol=0, atol=atol)
    i = subset[0]
    np.testing.assert_allclose(est.transform(X[i : i + 1])[0], full[i], rtol=0, atol=atol)


@manifolds
@given(data=st.data())
def test_global_rescaling(manifold, data):
    """Rescaling Euclidean data by c leaves the subspace and the run unchanged
    and scales the features by c (by 1 when whitened), the variances by c**2.

    c is a power of two: then every floating-point operation of the fit
    scales exactly, so the whole run is bit-identical (rescaling by other
    factors rounds the data differently, and the two runs then differ by
    their statistical error; tests/test_robustness.py checks those on
    well-separated spectra).
    """
    case = MANIFOLD_CASES[manifold]
    if not case.rescalable:
        pytest.skip(f"{manifold} is not closed under rescaling")
    problem = data.draw(problems(manifold, too_many_components=False))
    est, _ = fitted_or_skip(problem, manifold)
    c = 2.0 ** data.draw(st.integers(-20, 20), label="log2_c")
    X, Xc = problem.X, (problem.X * c).astype(problem.X.dtype)
    scaled, _ = fit_recording(type(problem)(Xc, problem.n_components, problem.params))
    assert not isinstance(scaled, ValueError), scaled

    np.testing.assert_array_equal(scaled.components_, est.components_)
    np.testing.assert_array_equal(scaled.lyapunov_, est.lyapunov_)
    np.testing.assert_array_equal(scaled.stationary_measure_, est.stationary_measure_)
    np.testing.assert_array_equal(scaled.explained_variance_ratio_, est.explained_variance_ratio_)
    np.testing.assert_array_equal(scaled.mean_, est.mean_ * c)
    # Exact but for variances in the subnormal range (float32 data at 1e-20).
    tiny = np.finfo(X.dtype).tiny
    np.testing.assert_allclose(
        scaled.explained_variance_,
        est.explained_variance_ * c**2,
        rtol=4 * np.finfo(X.dtype).eps,
        atol=tiny * max(1.0, c**2),
    )
    factor = 1.0 if est.whiten else c
    # Whitening divides by sqrt(max(variance, tiny)): a component whose
    # variance is subnormal in either fit (rank-deficient data) is not
    # rescaled exactly, so only the others are compared.
    exact = (est.explained_variance_ >= tiny) & (scaled.explained_variance_ >= tiny)
    columns = exact if est.whiten else np.ones_like(exact)
    np.testing.assert_allclose(
        scaled.transform(Xc)[:, columns],
        est.transform(X)[:, columns] * factor,
        rtol=0,
        atol=rowwise_tolerance(scaled, Xc),
    )


@manifolds
@given(data=st.data())
def test_same_seed_is_bit_identical(manifold, data):
    """Same random_state: bit-identical runs across refits, clones and pickles."""
    problem = data.draw(problems(manifold, too_many_components=False))
    first, _ = fitted_or_skip(problem, manifold)
    X = problem.X

    def refit(est):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.filterwarnings("ignore", message=".*open hemisphere", category=UserWarning)
            warnings.filterwarnings("ignore", message=".*rests on few samples", category=UserWarning)
            return est.fit(X)

    unfitted = CoupledFlowEmbedding(problem.n_components, manifold=manifold, **problem.params)
    runs = {
        "refit": refit(CoupledFlowEmbedding(problem.n_components, manifold=manifold, **problem.params)),
        "clone": refit(clone(first)),
        "pickled-unfitted": refit(pickle.loads(pickle.dumps(unfitted))),
        "pickled-fitted": pickle.loads(pickle.dumps(first)),
    }
    for label, other in runs.items():
        for name in ("components_", "lyapunov_", "weights_", "explained_variance_"):
            np.testing.assert_array_equal(getattr(other, name), getattr(first, name), err_msg=label)
        assert other.n_iter_ == first.n_iter_, label
        np.testing.assert_array_equal(other.transform(X), first.transform(X), err_msg=label)


@manifolds
@given(data=st.data())
def test_plain_hebbian_never_returns_nan(manifold, data):
    """rule='hebbian' has no normaliser: its explosion is reported, never NaN."""
    problem = data.draw(problems(manifold, rules=("hebbian",), too_many_components=False))
    est, messages = fitted_or_skip(problem, manifold)
    for name in FITTED_ARRAYS:
        assert np.all(np.isfinite(getattr(est, name))), name
    assert np.all(np.isfinite(est.transform(problem.X)))
    diverged = any("diverged" in m for m in messages)
    if diverged:
        assert not est.converged_ and est.n_iter_ < problem.params["max_iter"]
    else:
        # The run stopped below the divergence threshold.
        assert np.abs(est.weights_).max() < 1e12


@given(params=st.data())
def test_repr_and_get_params_round_trip(params):
    """eval(repr(est)) rebuilds an estimator with the same parameters."""
    from _strategies import fit_params

    drawn = params.draw(fit_params(rules=("sanger", "oja", "hebbian", "trace")))
    drawn["n_components"] = params.draw(st.integers(1, 50))
    est = CoupledFlowEmbedding(**drawn)
    rebuilt = eval(repr(est), {"CoupledFlowEmbedding": CoupledFlowEmbedding})
    assert rebuilt.get_params() == est.get_params()
    assert rebuilt.get_params() == {**CoupledFlowEmbedding().get_params(), **drawn}
    assert CoupledFlowEmbedding(**est.get_params()).get_params() == est.get_params()
