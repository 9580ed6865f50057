"""Tests of the scikit-learn estimator ``CoupledFlowEmbedding``.

Every numerical expectation is computed independently of the package: with
numpy / scipy eigen-decompositions, scipy's Gaussian log-density or
scikit-learn's exact :class:`~sklearn.decomposition.PCA`.  Fits are kept
small (a few hundred samples, ``max_iter=1500``, ``n_walkers=512``) so that
the whole module runs in a few seconds.

pytest runs with ``filterwarnings = error``: every fit below that is not
inside ``pytest.warns`` is also a check that it raises no warning.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import linalg, stats
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from slowfast_sklearn import CoupledFlowEmbedding

#: Spectrum of the Euclidean Gaussian test data: well separated top two.
EIGENVALUES = (8.0, 4.0, 2.0, 1.0, 0.8, 0.6, 0.5, 0.4)
#: Small budget shared by every fit; enough for the accuracies asserted.
FAST = dict(max_iter=1500, n_walkers=512)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def make_gaussian(n_samples=600, eigenvalues=EIGENVALUES, random_state=0):
    """Gaussian samples with covariance ``Q diag(eigenvalues) Q^T``.

    ``Q`` is a random rotation (QR of a Gaussian matrix) and the mean a
    random offset, both drawn from ``random_state``, so the principal axes
    are not aligned with the coordinate axes.
    """
    rng = np.random.RandomState(random_state)
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    d = eigenvalues.shape[0]
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    Q *= np.sign(np.diag(R))
    mean = 3.0 * rng.standard_normal(d)
    return (rng.standard_normal((n_samples, d)) * np.sqrt(eigenvalues)) @ Q.T + mean


def fit_emb(X, n_components=2, random_state=0, **params):
    """Fit a ``CoupledFlowEmbedding`` with the small shared budget."""
    kwargs = {**FAST, **params}
    return CoupledFlowEmbedding(n_components, random_state=random_state, **kwargs).fit(X)


def max_angle(A, B):
    """Largest principal angle (rad) between the row spaces of A and B."""
    return float(np.max(linalg.subspace_angles(np.asarray(A, float).T, np.asarray(B, float).T)))


@pytest.fixture(scope="module")
def gaussian():
    """The default Gaussian data set (600 x 8)."""
    return make_gaussian()


# --------------------------------------------------------------------------
# 1. input and parameter validation
# --------------------------------------------------------------------------

_rng = np.random.RandomState(0)
_X_SMALL = _rng.standard_normal((20, 4))
_X_NAN = _X_SMALL.copy()
_X_NAN[3, 1] = np.nan
_X_INF = _X_SMALL.copy()
_X_INF[5, 2] = np.inf


@pytest.mark.parametrize(
    "X, match",
    [
        pytest.param(_X_NAN, "NaN", id="nan"),
        pytest.param(_X_INF, "infinity", id="inf"),
        pytest.param(np.empty((0, 4)), "0 sample", id="empty"),
        pytest.param(_X_SMALL[:1], "1 sample", id="one-sample"),
        pytest.param(
            np.array([["a", "b"], ["c", "d"], ["e", "f"]], dtype=object), "string", id="strings"
        ),
        pytest.param(_X_SMALL + 1j, "[Cc]omplex", id="complex"),
        pytest.param(_X_SMALL[:, 0], "2D", id="1d"),
        pytest.param(np.full((10, 4), 3.3), "zero variance", id="identical-rows"),
    ],
)
def test_bad_input_raises_value_error(X, match):
    """Invalid training data raises ValueError naming the problem."""
    with pytest.raises(ValueError, match=match):
        CoupledFlowEmbedding(random_state=0, **FAST).fit(X)


@pytest.mark.parametrize("manifold", ["hypersphere", "poincare_ball", "spd"])
def test_sparse_input_is_rejected_on_curved_manifolds(manifold):
    """Sparse points of a curved manifold raise TypeError naming sparsity and the fix."""
    X = sp.csr_matrix(np.eye(9)[:6] * 0.5)
    with pytest.raises(TypeError, match=r"[Ss]parse.*euclidean.*toarray"):
        CoupledFlowEmbedding(manifold=manifold, random_state=0, **FAST).fit(X)


@pytest.mark.parametrize("shape, n_components", [((20, 4), 5), ((3, 4), 4)])
def test_too_many_components_raises(shape, n_components):
    """n_components > min(n_samples, n_features) raises naming n_components."""
    X = np.random.RandomState(1).standard_normal(shape)
    assert n_components > min(X.shape)
    with pytest.raises(ValueError, match="n_components"):
        CoupledFlowEmbedding(n_components, random_state=0, **FAST).fit(X)


@pytest.mark.parametrize(
    "params",
    [
        dict(rule="nope"),
        dict(temperature=0),
        dict(temperature=-1.0),
        dict(learning_rate=2.0),
        dict(learning_rate=0.0),
        dict(n_components=0),
        dict(n_components=1.0),
        dict(n_components=1.5),
        dict(manifold="sphere"),
        dict(max_iter=0),
        dict(tol=-1.0),
    ],
)
def test_invalid_parameters_raise_at_fit(params):
    """Invalid constructor parameters raise InvalidParameterError at fit."""
    est = CoupledFlowEmbedding(**params)  # construction never validates
    with pytest.raises(InvalidParameterError, match=next(iter(params))):
        est.fit(_X_SMALL)


def test_not_fitted_and_wrong_n_features(gaussian):
    """transform before fit -> NotFittedError; wrong width -> ValueError."""
    with pytest.raises(NotFittedError):
        CoupledFlowEmbedding().transform(gaussian)
    emb = fit_emb(gaussian)
    for bad in (gaussian[:, :-1], np.c_[gaussian, gaussian[:, :1]]):
        with pytest.raises(ValueError, match="features"):
            emb.transform(bad)
        with pytest.raises(ValueError, match="features"):
            emb.score_samples(bad)


# --------------------------------------------------------------------------
# 2. constant columns
# --------------------------------------------------------------------------


def test_constant_columns_get_zero_weight():
    """Constant columns get exactly zero loading; the rest matches PCA."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 6)) * [3.0, 1.0, 2.0, 1.0, 0.5, 1.0]
    X[:, 1] = 5.0
    X[:, 3] = -0.1
    emb = fit_emb(X)
    assert np.all(emb.components_[:, [1, 3]] == 0.0)
    out = emb.transform(X)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(emb.components_))
    # Independent reference: eigenvectors of the covariance of the varying columns.
    varying = [0, 2, 4, 5]
    _, vecs = linalg.eigh(np.cov(X[:, varying].T))
    reference = np.zeros((2, 6))
    reference[:, varying] = vecs[:, ::-1][:, :2].T
    assert max_angle(emb.components_, reference) < 0.1
    np.testing.assert_allclose(emb.components_ @ emb.components_.T, np.eye(2), atol=1e-10)


# --------------------------------------------------------------------------
# 3. parity with PCA
# --------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["sanger", "oja"])
def test_pca_parity_gaussian(gaussian, rule):
    """On Euclidean Gaussian data the fit agrees with sklearn's exact PCA."""
    emb = fit_emb(gaussian, rule=rule)
    pca = PCA(2).fit(gaussian)

    assert max_angle(emb.components_, pca.components_) < 0.1
    out, ref = emb.transform(gaussian), pca.transform(gaussian)
    for j in range(2):
        assert abs(np.corrcoef(out[:, j], ref[:, j])[0, 1]) > 0.99
    np.testing.assert_allclose(emb.explained_variance_, pca.explained_variance_, rtol=0.05)
    np.testing.assert_allclose(
        emb.explained_variance_ratio_, pca.explained_variance_ratio_, rtol=0.05
    )
    np.testing.assert_allclose(emb.components_ @ emb.components_.T, np.eye(2), atol=1e-10)
    np.testing.assert_allclose(emb.mean_, gaussian.mean(axis=0), rtol=1e-12, atol=1e-12)
    # The sign convention documented: each row's largest-magnitude entry > 0.
    rows = np.arange(2)
    assert np.all(emb.components_[rows, np.abs(emb.components_).argmax(axis=1)] > 0)


# --------------------------------------------------------------------------
# 4. float32
# --------------------------------------------------------------------------


def test_float32_preserved_and_matches_float64(gaussian):
    """float32 in -> float32 out; same subspace as the float64 fits."""
    X32 = gaussian.astype(np.float32)
    emb32 = fit_emb(X32)
    for name in ("components_", "mean_", "explained_variance_", "explained_variance_ratio_"):
        assert getattr(emb32, name).dtype == np.float32, name
    assert emb32.transform(X32).dtype == np.float32
    assert emb32.inverse_transform(emb32.transform(X32)).dtype == np.float32

    # The dynamics run in float64 on X32's values, so a float64 fit of the
    # *same* (float32-rounded) values runs the same dynamics up to the
    # rounding of the casts on the way in (a few ulps, not bit for bit:
    # the two paths cast at different steps); the final cast of
    # components_ to float32 is rel. 6e-8.
    emb_same = fit_emb(X32.astype(np.float64))
    np.testing.assert_allclose(emb32.lyapunov_, emb_same.lyapunov_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(emb32.components_, emb_same.components_, atol=1e-6)
    assert max_angle(emb32.components_, emb_same.components_) < 1e-6

    # Against the float64 fit of the *unrounded* data the inputs differ by a
    # relative 2**-24.  With the same seed the walkers take the same path
    # unless one of the ~1.5e6 uniform draws falls between the float32 and
    # float64 cumulative transition probabilities (a ~1e-7 window); then the
    # subspace moves only by O(6e-8 * lambda_1 / (lambda_2 - lambda_3)),
    # ~1e-7 rad (observed 2e-8 for this seed, so < 1e-3 holds here).  But
    # that is not guaranteed: for about 1 seed in 13 one draw does flip, the
    # runs become independent realisations and differ by their statistical
    # error (observed 1.2e-2 for random_state=9).  So the seed-independent
    # bound asserted is the statistical one: each fit is within ~0.015 rad
    # of PCA on this data, hence within 0.05 rad of each other.
    emb64 = fit_emb(gaussian)
    assert max_angle(emb32.components_, emb64.components_) < 0.05


# --------------------------------------------------------------------------
# 5. transform is row-wise and linear
# --------------------------------------------------------------------------


def test_transform_rowwise_and_affine(gaussian):
    """transform is row-wise and equals (X - mean_) @ components_.T."""
    emb = fit_emb(gaussian)
    full = emb.transform(gaussian)
    np.testing.assert_allclose(full[:10], emb.transform(gaussian[:10]), rtol=0, atol=1e-12)
    expected = (gaussian - emb.mean_) @ emb.components_.T
    np.testing.assert_allclose(full, expected, rtol=0, atol=1e-12)
    # fit_transform gives the same features as fit then transform.
    np.testing.assert_allclose(
        clone(emb).fit_transform(gaussian), full, rtol=0, atol=1e-12
    )


# --------------------------------------------------------------------------
# 6. whitening
# --------------------------------------------------------------------------


def test_whiten(gaussian):
    """whiten=True gives unit-variance features; inverse is the projection."""
    emb = fit_emb(gaussian, whiten=True)
    out = emb.transform(gaussian)
    variances = out.var(axis=0, ddof=1)
    np.testing.assert_allclose(variances, 1.0, rtol=0.1)
    # Sharper, and still independent: at temperature=1 pi is uniform and the
    # Bessel factor is n / (n - 1), and the Ritz rotation diagonalises the
    # projected covariance, so the sample covariance of the whitened
    # features is the identity up to rounding.
    np.testing.assert_allclose(np.cov(out.T), np.eye(2), atol=1e-8)

    V = emb.components_
    projection = emb.mean_ + (gaussian - emb.mean_) @ V.T @ V
    np.testing.assert_allclose(emb.inverse_transform(out), projection, rtol=0, atol=1e-10)


# --------------------------------------------------------------------------
# 7. inverse_transform
# --------------------------------------------------------------------------


def test_inverse_transform_full_rank_round_trip():
    """At n_components == n_features inverse_transform undoes transform."""
    X = make_gaussian(n_samples=300, eigenvalues=(3.0, 2.0, 1.0), random_state=1)
    emb = fit_emb(X, n_components=3)
    np.testing.assert_allclose(emb.inverse_transform(emb.transform(X)), X, rtol=0, atol=1e-8)
    np.testing.assert_allclose(emb.components_ @ emb.components_.T, np.eye(3), atol=1e-10)


def test_inverse_transform_wrong_width_raises(gaussian):
    """inverse_transform rejects arrays without n_components_ columns."""
    emb = fit_emb(gaussian)
    for width in (1, 3):
        with pytest.raises(ValueError, match="n_components"):
            emb.inverse_transform(np.zeros((5, width)))


# --------------------------------------------------------------------------
# 8. scikit-learn integration
# --------------------------------------------------------------------------


def _iris():
    """Standardised iris.

    Raw iris has lambda_2 / lambda_1 = 0.06, and a Sanger unit that starts
    near the saddle needs more than the small budget to escape it (for some
    seeds, a legitimate "did not converge"); standardised, the ratio is 0.32
    and every fit converges within 700 updates (checked on 20 seeds).
    """
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_pipeline_grid_search_iris():
    """Pipeline + GridSearchCV work; at T=1 CV accuracies match a PCA pipeline."""
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("emb", CoupledFlowEmbedding(random_state=0, **FAST)),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    )
    grid = {"emb__n_components": [1, 2], "emb__temperature": [0.5, 1.0]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    results = search.cv_results_
    assert np.all(np.isfinite(results["mean_test_score"]))
    assert search.best_score_ == np.max(results["mean_test_score"])
    assert search.best_estimator_.predict(X).shape == (150,)
    for i, params in enumerate(results["params"]):
        if params["emb__temperature"] != 1.0:
            continue
        k = params["emb__n_components"]
        reference = cross_val_score(
            make_pipeline(StandardScaler(), PCA(k), LogisticRegression(max_iter=1000)),
            X,
            y,
            cv=3,
        ).mean()
        # One flipped prediction in a 50-sample fold moves the mean by 0.0067.
        assert abs(results["mean_test_score"][i] - reference) <= 0.02


def test_grid_search_uses_score():
    """GridSearchCV on the estimator alone scores like PCA's log-likelihood."""
    X, _ = _iris()
    cv = KFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(
        CoupledFlowEmbedding(random_state=0, **FAST), {"n_components": [1, 2]}, cv=cv
    ).fit(X)
    reference = [cross_val_score(PCA(k), X, cv=cv).mean() for k in (1, 2)]
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], reference, rtol=0.01)
    assert search.best_params_["n_components"] == 1 + int(np.argmax(reference))


def test_set_output_pandas(gaussian):
    """set_output(transform='pandas') keeps the index and names the columns."""
    columns = [f"x{i}" for i in range(gaussian.shape[1])]
    df = pd.DataFrame(gaussian, columns=columns, index=np.arange(1000, 1000 + len(gaussian)))
    names = ["coupledflowembedding0", "coupledflowembedding1"]

    emb = CoupledFlowEmbedding(2, random_state=0, **FAST).set_output(transform="pandas")
    out_fit = emb.fit_transform(df)
    out = emb.transform(df)
    for frame in (out_fit, out):
        assert isinstance(frame, pd.DataFrame)
        assert list(frame.columns) == names
        assert frame.index.equals(df.index)
    assert list(emb.get_feature_names_out()) == names
    assert list(emb.feature_names_in_) == columns
    np.testing.assert_allclose(
        out.to_numpy(), (gaussian - emb.mean_) @ emb.components_.T, rtol=0, atol=1e-12
    )


def test_set_output_polars(gaussian):
    """set_output(transform='polars'), as for pandas: polars in, polars out,
    the columns named, the values those of the array output."""
    pl = pytest.importorskip("polars")
    columns = [f"x{i}" for i in range(gaussian.shape[1])]
    frame_in = pl.DataFrame(gaussian, schema=columns, orient="row")
    names = ["coupledflowembedding0", "coupledflowembedding1"]

    emb = CoupledFlowEmbedding(2, random_state=0, **FAST).set_output(transform="polars")
    out_fit = emb.fit_transform(frame_in)
    out = emb.transform(frame_in)
    for frame in (out_fit, out):
        assert isinstance(frame, pl.DataFrame)
        assert frame.columns == names
        assert frame.schema == {name: pl.Float64 for name in names}
    assert list(emb.feature_names_in_) == columns
    np.testing.assert_allclose(
        out.to_numpy(), (gaussian - emb.mean_) @ emb.components_.T, rtol=0, atol=1e-12
    )
    # The same fit on the bare array gives the same features.
    plain = CoupledFlowEmbedding(2, random_state=0, **FAST).fit(gaussian)
    np.testing.assert_allclose(out.to_numpy(), plain.transform(gaussian), rtol=0, atol=1e-12)


# --------------------------------------------------------------------------
# 9. probabilistic PCA likelihood
# --------------------------------------------------------------------------


def test_score_matches_pca(gaussian):
    """score / score_samples agree with PCA's probabilistic-PCA likelihood."""
    emb = fit_emb(gaussian)
    pca = PCA(2).fit(gaussian)
    assert max_angle(emb.components_, pca.components_) < 0.05  # subspaces agree

    np.testing.assert_allclose(emb.score(gaussian), pca.score(gaussian), rtol=0.01)
    np.testing.assert_allclose(emb.noise_variance_, pca.noise_variance_, rtol=0.01)
    np.testing.assert_allclose(emb.get_covariance(), pca.get_covariance(), atol=0.05)

    # Fresh samples from the same law (same rotation and mean; the first 600
    # rows of this draw are the training set) score like PCA too.
    fresh = make_gaussian(n_samples=800, random_state=0)[600:]
    np.testing.assert_allclose(emb.score(fresh), pca.score(fresh), rtol=0.01)

    # score_samples is the Gaussian log-density of the model's covariance.
    logpdf = stats.multivariate_normal(emb.mean_, emb.get_covariance()).logpdf(gaussian)
    np.testing.assert_allclose(emb.score_samples(gaussian), logpdf, rtol=1e-10)
    assert emb.score(gaussian) == pytest.approx(np.mean(logpdf), rel=1e-10)

    # Data far from the model (10x spread) is much less likely.
    scaled = emb.mean_ + 10.0 * (gaussian - emb.mean_)
    assert emb.score(gaussian) > emb.score(scaled)
    assert emb.score(gaussian) > emb.score(10.0 * gaussian)


# --------------------------------------------------------------------------
# 10. determinism
# --------------------------------------------------------------------------


def test_determinism_clone_and_pickle(gaussian):
    """Same seed -> bit-identical fits; clone and pickle preserve results."""
    first = fit_emb(gaussian, random_state=7)
    second = fit_emb(gaussian, random_state=7)
    np.testing.assert_array_equal(first.components_, second.components_)
    np.testing.assert_array_equal(first.lyapunov_, second.lyapunov_)

    refit = clone(first).fit(gaussian)
    np.testing.assert_array_equal(refit.components_, first.components_)
    np.testing.assert_array_equal(refit.lyapunov_, first.lyapunov_)

    restored = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(restored.transform(gaussian), first.transform(gaussian))
    np.testing.assert_array_equal(restored.components_, first.components_)

    # A different seed gives a different (though equally good) run.
    other = fit_emb(gaussian, random_state=8)
    assert not np.array_equal(other.lyapunov_, first.lyapunov_)


# --------------------------------------------------------------------------
# 11. stationary measure
# --------------------------------------------------------------------------


def _reference_measure(X, temperature, n_neighbors):
    """pi ~ deg**(1/T - 1) on the symmetrised Gaussian kNN graph (design doc)."""
    n = X.shape[0]
    dist, ind = NearestNeighbors(n_neighbors=min(n_neighbors, n - 1)).fit(X).kneighbors()
    eps = np.median(dist[:, -1] ** 2)
    K = np.zeros((n, n))
    K[np.repeat(np.arange(n), ind.shape[1]), ind.ravel()] = np.exp(-dist.ravel() ** 2 / eps)
    K = np.maximum(K, K.T)
    np.fill_diagonal(K, 0.0)
    w = K.sum(axis=1) ** (1.0 / temperature - 1.0)
    return w / w.sum()


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_stationary_measure(gaussian, temperature):
    """stationary_measure_ is a probability vector, uniform at T=1."""
    X = gaussian[:300]
    emb = fit_emb(X, temperature=temperature)
    pi = emb.stationary_measure_
    assert pi.shape == (X.shape[0],)
    assert np.all(pi > 0)
    assert abs(pi.sum() - 1.0) < 1e-12
    if temperature == 1.0:
        assert np.max(np.abs(X.shape[0] * pi - 1.0)) < 1e-10
    else:
        assert np.max(np.abs(X.shape[0] * pi - 1.0)) > 1e-3  # really tempered
    np.testing.assert_allclose(pi, _reference_measure(X, temperature, emb.n_neighbors), rtol=1e-8)


# --------------------------------------------------------------------------
# 12. ConvergenceWarning paths
# --------------------------------------------------------------------------


def _assert_orthonormal_finite(emb):
    k = emb.n_components_
    assert np.all(np.isfinite(emb.components_))
    np.testing.assert_allclose(emb.components_ @ emb.components_.T, np.eye(k), atol=1e-10)


def test_hebbian_rule_diverges_with_warning(gaussian):
    """rule='hebbian' explodes: warns 'diverged', components stay usable."""
    with pytest.warns(ConvergenceWarning, match="diverged"):
        emb = fit_emb(gaussian, rule="hebbian")
    _assert_orthonormal_finite(emb)
    assert not emb.converged_
    assert emb.n_iter_ < FAST["max_iter"]
    assert np.all(np.isfinite(emb.transform(gaussian)))
    # Plain Hebbian growth is dominated by the top eigenvector.
    top = linalg.eigh(np.cov(gaussian.T))[1][:, -1]
    assert abs(emb.components_[0] @ top) > 0.99


def test_trace_rule_collapses_with_warning(gaussian):
    """rule='trace' collapses toward rank one and says so."""
    # tol raised: the collapsed second unit is noise-driven, so its averaged
    # direction may legitimately keep moving (an extra "did not converge").
    with pytest.warns(ConvergenceWarning, match="collapsed"):
        emb = fit_emb(gaussian, rule="trace", tol=0.3)
    _assert_orthonormal_finite(emb)
    s = np.linalg.svd(emb.weights_, compute_uv=False)
    assert s[-1] < 0.05 * s[0]  # the collapse is real


def test_max_iter_too_small_warns(gaussian):
    """A tiny budget with tol=0 warns 'did not converge'; converged_ False."""
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        emb = fit_emb(gaussian, max_iter=60, tol=0.0)
    assert not emb.converged_
    assert emb.n_iter_ == 60
    _assert_orthonormal_finite(emb)


def test_default_fit_converges(gaussian):
    """The shared small budget converges on the test data (no warning)."""
    emb = fit_emb(gaussian)
    assert emb.converged_
    assert emb.n_iter_ <= FAST["max_iter"]
    assert emb.lyapunov_.shape == (emb.lyapunov_steps_.shape[0], 3)


# --------------------------------------------------------------------------
# regressions: package bugs found while writing these tests
# --------------------------------------------------------------------------


def test_full_rank_sanger_does_not_warn_collapse():
    """n_components = n_features on iris: exact axes and no collapse warning."""
    X, _ = load_iris(return_X_y=True)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        emb = fit_emb(X, n_components=4)
    pca = PCA(4).fit(X)
    np.testing.assert_allclose(np.abs(emb.components_), np.abs(pca.components_), atol=1e-8)
    np.testing.assert_allclose(emb.explained_variance_, pca.explained_variance_, rtol=1e-8)
    messages = [str(w.message) for w in record]
    assert not any("collapsed" in m for m in messages), messages


def test_fit_is_scale_equivariant():
    """Rescaling X by 1e-20 leaves components_ unchanged (as for PCA)."""
    X = make_gaussian(n_samples=300, eigenvalues=(8.0, 4.0, 2.0, 1.0), random_state=0)
    reference = fit_emb(X)
    scaled = fit_emb(X * 1e-20)
    np.testing.assert_allclose(scaled.components_, reference.components_, atol=1e-8)
    np.testing.assert_allclose(
        scaled.explained_variance_, reference.explained_variance_ * 1e-40, rtol=1e-8
    )


@pytest.mark.parametrize("share", [0.5, 0.8, 0.9])
def test_float_n_components_keeps_a_share_of_the_variance(share):
    """A float n_components picks the fewest components whose share of the
    variance exceeds it, as PCA does: same count and subspace on digits."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from scipy.linalg import subspace_angles

    X = load_digits().data
    pca = PCA(share).fit(X)
    emb = CoupledFlowEmbedding(share, solver="averaged", random_state=0).fit(X)
    assert emb.n_components_ == pca.n_components_
    assert emb.components_.shape == (pca.n_components_, 64)
    assert emb.explained_variance_ratio_.sum() > share
    assert emb.explained_variance_ratio_[:-1].sum() <= share
    assert subspace_angles(emb.components_.T, pca.components_.T).max() < 1e-5


def test_float_n_components_with_the_walkers_and_a_temperature():
    """The stochastic and mean-field solvers resolve a float from the
    spectrum of C_pi under the tempered measure, computed here by numpy."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 5)) * [4.0, 2.0, 1.0, 0.3, 0.1]
    for solver, temperature in (("stochastic", 1.0), ("mean_field", 0.6)):
        emb = CoupledFlowEmbedding(0.95, solver=solver, temperature=temperature,
                                   random_state=0, **FAST).fit(X)
        pi = emb.stationary_measure_
        Z = X - X.mean(axis=0) if temperature == 1.0 else X - emb.mean_
        values = np.linalg.eigvalsh((Z * pi[:, None]).T @ Z)[::-1]
        expected = int(np.searchsorted(np.cumsum(values) / values.sum(), 0.95, side="right") + 1)
        assert emb.n_components_ == expected == emb.components_.shape[0]


def test_none_n_components_learns_them_all():
    """None: min(n_samples, n_features) components, as PCA; partial_fit
    resolves it from the first batch, and refuses a float."""
    X = np.random.default_rng(0).standard_normal((6, 9))
    emb = CoupledFlowEmbedding(None, solver="averaged").fit(X)
    assert emb.n_components_ == 6 and emb.transform(X).shape == (6, 6)
    Y = np.random.default_rng(1).standard_normal((50, 4))
    inc = CoupledFlowEmbedding(None).partial_fit(Y[:20]).partial_fit(Y[20:])
    assert inc.n_components_ == 4
    with pytest.raises(ValueError, match="share of the variance.*use fit"):
        CoupledFlowEmbedding(0.9).partial_fit(Y)


def test_bool_and_numpy_integer_n_components():
    """Integral values of any type, as PCA accepts them (True is one component)."""
    X = np.random.default_rng(0).standard_normal((50, 4)) * [3.0, 2.0, 1.0, 0.5]
    assert CoupledFlowEmbedding(True, solver="averaged").fit(X).n_components_ == 1
    emb = CoupledFlowEmbedding(np.int64(3), solver="averaged").fit(X)
    assert emb.n_components_ == 3 and type(emb.n_components_) is int
