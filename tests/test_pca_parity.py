"""Parity with scikit-learn's PCA: every attribute and method the two share (issue 14).

The reference is ``PCA(svd_solver="full")`` (an SVD of the centred data) on
iris, digits and a Gaussian sample, and PCA's sparse solvers on sparse
input.  ``solver="averaged"`` at ``tol=1e-12`` must agree to 1e-10 relative
(of the largest entry) wherever PCA's answer is exact: components up to
sign, and not the directions of a zero-variance null space.  The walker
solvers are held to their documented accuracy: the stochastic solver stops
at a split-half angle of ``tol="auto"`` = 0.03 rad, which is roughly its
distance to PCA's subspace; the mean field converges to 1e-6 rad between
checkpoints.  Only ``whiten=True``'s probabilistic model differs by design:
it is PCA's ``whiten=False`` model (PCA 1.9 scales its components in
``get_covariance`` when whitening).
"""

import warnings
from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.linalg import subspace_angles
from sklearn.datasets import load_digits, load_iris
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import gen_batches

from slowfast_sklearn import CoupledFlowEmbedding

#: Relative agreement where PCA is exact (measured: 1e-13 to 3e-12).
EXACT = 1e-10
#: The stochastic solver's documented accuracy (its tol="auto"), in rad.
WALKER_ANGLE = 0.03


@cache
def dataset(name):
    if name == "iris":
        return load_iris().data
    if name == "digits":
        return load_digits().data
    rng = np.random.default_rng(0)
    spectrum = np.sqrt([8.0, 4.0, 2.0, 1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2])
    rotation = np.linalg.qr(rng.standard_normal((10, 10)))[0]
    return (rng.standard_normal((500, 10)) * spectrum) @ rotation.T + 2.0


def exact(k, **params):
    return CoupledFlowEmbedding(k, solver="averaged", tol=1e-12, **params)


def rel(actual, expected):
    """Largest difference relative to the largest magnitude of ``expected``."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-300))


def signs(components, reference):
    """The sign of each component that aligns it with the reference's."""
    return np.where(np.sum(components * reference, axis=1) < 0, -1.0, 1.0)


def assert_attributes(emb, pca, tolerance=EXACT, n_exact=None, component_tolerance=None):
    """The fitted attributes PCA has, to ``tolerance`` (the components to
    ``component_tolerance``, default the same, up to sign); only the first
    ``n_exact`` components and singular values: beyond them PCA's are a null
    space's arbitrary basis and square roots of rounding."""
    n_exact = emb.n_components_ if n_exact is None else n_exact
    component_tolerance = tolerance if component_tolerance is None else component_tolerance
    assert emb.n_components_ == pca.n_components_
    assert emb.n_samples_ == pca.n_samples_
    assert emb.n_features_in_ == pca.n_features_in_
    assert rel(emb.mean_, pca.mean_) < 1e-13
    s = signs(emb.components_, pca.components_)
    assert rel(emb.components_[:n_exact] * s[:n_exact, None],
               pca.components_[:n_exact]) < component_tolerance
    assert rel(emb.explained_variance_, pca.explained_variance_) < tolerance
    assert rel(emb.explained_variance_ratio_, pca.explained_variance_ratio_) < tolerance
    assert rel(emb.singular_values_[:n_exact], pca.singular_values_[:n_exact]) < tolerance
    if pca.noise_variance_ == 0.0:
        assert emb.noise_variance_ == 0.0
    else:
        assert emb.noise_variance_ == pytest.approx(pca.noise_variance_, rel=tolerance)


CASES = [("iris", 2), ("iris", 3), ("digits", 2), ("digits", 10), ("gaussian", 3)]


@pytest.mark.parametrize("name, k", CASES)
def test_averaged_attributes_are_pcas(name, k):
    X = dataset(name)
    assert_attributes(exact(k).fit(X), PCA(k, svd_solver="full").fit(X))


@pytest.mark.parametrize("name, k", CASES)
def test_averaged_methods_are_pcas(name, k):
    """transform, inverse_transform, fit_transform and the probabilistic model."""
    X = dataset(name)
    emb, pca = exact(k).fit(X), PCA(k, svd_solver="full").fit(X)
    s = signs(emb.components_, pca.components_)
    new = X[::3] + np.random.default_rng(1).normal(scale=0.1, size=X[::3].shape)
    assert rel(emb.transform(new) * s, pca.transform(new)) < EXACT
    features = pca.transform(new)
    assert rel(emb.inverse_transform(features * s), pca.inverse_transform(features)) < EXACT
    assert rel(exact(k).fit_transform(X) * s, PCA(k, svd_solver="full").fit_transform(X)) < EXACT
    assert rel(emb.get_covariance(), pca.get_covariance()) < EXACT
    assert rel(emb.get_precision(), pca.get_precision()) < EXACT
    assert rel(emb.score_samples(new), pca.score_samples(new)) < EXACT
    assert emb.score(new) == pytest.approx(pca.score(new), rel=EXACT)


@pytest.mark.parametrize("name, k", [("iris", 2), ("digits", 10), ("gaussian", 3)])
def test_whiten_features_are_pcas_and_the_model_is_unchanged(name, k):
    """Whitened features as PCA(whiten=True); the probabilistic model (score,
    covariance, precision) is the unwhitened one, PCA(whiten=False)'s, since
    whitening rescales the features, not X."""
    X = dataset(name)
    emb = exact(k, whiten=True).fit(X)
    pca = PCA(k, whiten=True, svd_solver="full").fit(X)
    plain = PCA(k, svd_solver="full").fit(X)
    s = signs(emb.components_, pca.components_)
    assert emb.whiten and pca.whiten
    features = pca.transform(X)
    assert rel(emb.transform(X) * s, features) < EXACT
    assert rel(emb.inverse_transform(features * s), pca.inverse_transform(features)) < EXACT
    assert rel(exact(k, whiten=True).fit_transform(X) * s,
               PCA(k, whiten=True, svd_solver="full").fit_transform(X)) < EXACT
    assert np.allclose(np.var(emb.transform(X), axis=0, ddof=1), 1.0, rtol=1e-10)
    assert rel(emb.get_covariance(), plain.get_covariance()) < EXACT
    assert rel(emb.get_precision(), plain.get_precision()) < EXACT
    assert emb.score(X) == pytest.approx(plain.score(X), rel=EXACT)
    assert emb.score(X) == pytest.approx(exact(k).fit(X).score(X), rel=1e-14)


@pytest.mark.parametrize("name", ["iris", "gaussian"])
def test_full_rank_is_pcas(name):
    """n_components=None: every component, no noise left (exactly 0), and
    the model's precision and score at full rank."""
    X = dataset(name)
    emb, pca = exact(None).fit(X), PCA(svd_solver="full").fit(X)
    assert emb.n_components_ == X.shape[1]
    assert_attributes(emb, pca)
    assert emb.noise_variance_ == 0.0
    assert rel(emb.get_precision(), pca.get_precision()) < EXACT
    assert emb.score(X) == pytest.approx(pca.score(X), rel=EXACT)


def test_digits_full_rank_spectrum_is_pcas():
    """digits has constant pixels: beyond its rank the components are a null
    space's basis (any is right); the spectrum and the rank's components are PCA's."""
    X = dataset("digits")
    emb, pca = exact(None).fit(X), PCA(svd_solver="full").fit(X)
    rank = int(np.sum(pca.explained_variance_ > 1e-10 * pca.explained_variance_[0]))
    assert rank < X.shape[1]
    assert_attributes(emb, pca, n_exact=rank - 2)  # the last two are nearly degenerate
    assert emb.noise_variance_ == 0.0


@pytest.mark.parametrize("name", ["iris", "digits", "gaussian"])
@pytest.mark.parametrize("solver", ["averaged", "stochastic", "mean_field"])
def test_float_n_components_picks_pcas_count(name, solver):
    """A share equal to one of PCA's cumulative ratios is not exceeded by it
    (PCA takes the next component, scikit-learn #15669): every solver picks
    the count of the PCA that reported the ratio, whichever of its solvers
    (the full SVD, or the covariance solver PCA's "auto" takes on digits
    and the Gaussian: in their last digits the two disagree, and so do
    their choices at such a share), and PCA's count at round shares."""
    X = dataset(name)
    shares = {}
    for svd_solver in ("full", "auto"):
        cumulative = np.cumsum(PCA(svd_solver=svd_solver).fit(X).explained_variance_ratio_)
        for c in cumulative[cumulative < 1.0][:4 if solver != "averaged" else 8]:
            shares[float(c)] = PCA(float(c), svd_solver=svd_solver).fit(X).n_components_
    for share in (0.5, 0.9):
        shares[share] = PCA(share).fit(X).n_components_
    for share, expected in shares.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            emb = CoupledFlowEmbedding(share, solver=solver, max_iter=1, n_walkers=16,
                                       random_state=0).fit(X)
        assert emb.n_components_ == expected, share


@pytest.mark.parametrize("name", ["iris", "digits", "gaussian"])
def test_float_n_components_attributes_are_pcas(name):
    X = dataset(name)
    share = float(np.cumsum(PCA(svd_solver="full").fit(X).explained_variance_ratio_)[1])
    assert_attributes(exact(share).fit(X), PCA(share, svd_solver="full").fit(X))


@pytest.mark.parametrize("name", ["iris", "digits", "gaussian"])
@pytest.mark.parametrize("solver", ["averaged", "stochastic", "mean_field"])
def test_mle_picks_pcas_count(name, solver):
    """n_components='mle' (Minka 2000) chooses PCA's count with every solver."""
    X = dataset(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        emb = CoupledFlowEmbedding("mle", solver=solver, max_iter=1, n_walkers=16,
                                   random_state=0).fit(X)
    assert emb.n_components_ == PCA("mle", svd_solver="full").fit(X).n_components_


@pytest.mark.parametrize("name", ["iris", "gaussian"])
def test_mle_attributes_are_pcas(name):
    X = dataset(name)
    assert_attributes(exact("mle").fit(X), PCA("mle", svd_solver="full").fit(X))


def test_mle_needs_as_many_samples_as_features():
    X = dataset("gaussian")[:8]
    with pytest.raises(ValueError, match="n_samples >= n_features"):
        PCA("mle").fit(X)
    with pytest.raises(ValueError, match="'mle' is only supported if n_samples >= n_features"):
        exact("mle").fit(X)


def test_wide_data_noise_variance_is_pcas():
    """n_samples < n_features: the noise is spread over min(n, d) - k
    directions, and is exactly 0 once k reaches min(n, d) (it was 4e-16)."""
    X = np.random.default_rng(2).standard_normal((20, 100)) * np.linspace(2.0, 0.5, 100)
    for k in (5, 12):
        emb, pca = exact(k).fit(X), PCA(k, svd_solver="full").fit(X)
        assert_attributes(emb, pca)
        assert emb.score(X) == pytest.approx(pca.score(X), rel=EXACT)
    # k = n_samples: the averaged solver's iteration need not finish for the
    # rule (k reaches min(n, d): no noise) to hold, so it is cut short.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in (20, None):
            emb, pca = exact(k, max_iter=3).fit(X), PCA(k, svd_solver="full").fit(X)
            assert emb.n_components_ == pca.n_components_ == 20
            assert emb.noise_variance_ == pca.noise_variance_ == 0.0
            assert np.isfinite(emb.score(X))  # a singular model, floored (PCA's is not defined)
        iris_t = dataset("iris").T  # 4 samples of 150 features, rank 3
        emb = exact(None, max_iter=3).fit(iris_t)
        assert emb.noise_variance_ == PCA().fit(iris_t).noise_variance_ == 0.0


@pytest.mark.parametrize("name, k", [("digits", 5), ("gaussian", 3)])
@pytest.mark.parametrize("container", [sp.csr_array, sp.csc_matrix])
def test_sparse_input_is_pcas_on_sparse_input(name, k, container):
    """Sparse input against PCA on the same sparse input: ARPACK for an int k,
    the covariance solver for None and a float (both centre implicitly)."""
    X = dataset(name).copy()
    X[np.abs(X - np.median(X, axis=0)) < 0.3 * X.std(axis=0)] = 0.0
    S = container(X)
    emb, pca = exact(k).fit(S), PCA(k, svd_solver="arpack", tol=1e-14, random_state=0).fit(S)
    assert_attributes(emb, pca, tolerance=1e-9)
    s = signs(emb.components_, pca.components_)
    assert rel(emb.transform(S) * s, pca.transform(S)) < 1e-9
    assert rel(exact(k).fit_transform(S) * s, pca.transform(S)) < 1e-9
    features = pca.transform(S)
    assert rel(emb.inverse_transform(features * s), pca.inverse_transform(features)) < 1e-9
    assert rel(emb.get_covariance(), pca.get_covariance()) < 1e-9
    assert rel(emb.get_precision(), pca.get_precision()) < 1e-9
    assert emb.score(X) == pytest.approx(pca.score(X), rel=1e-9)
    for n_components in (None, 0.8):
        emb = exact(n_components).fit(S)
        pca = PCA(n_components, svd_solver="covariance_eigh").fit(S)
        n_exact = int(np.sum(pca.explained_variance_ > 1e-10 * pca.explained_variance_[0])) - 2
        assert_attributes(emb, pca, n_exact=min(n_exact, emb.n_components_))


WALKER_CASES = [("iris", 2), ("digits", 2), ("digits", 3), ("gaussian", 3)]


@pytest.mark.parametrize("name, k", WALKER_CASES)
@pytest.mark.parametrize("solver", ["stochastic", "mean_field"])
def test_walker_solvers_are_pcas_to_their_accuracy(name, k, solver):
    """At temperature 1 the walkers' subspace is PCA's to their accuracy:
    the stochastic solver's split-half tol (0.03 rad), the mean field's
    1e-6 rad stop; the Ritz values, noise and score follow to second order."""
    X = dataset(name)
    emb = CoupledFlowEmbedding(k, solver=solver, random_state=0).fit(X)
    pca = PCA(k, svd_solver="full").fit(X)
    angle = np.max(subspace_angles(emb.components_.T, pca.components_.T))
    stochastic = solver == "stochastic"
    assert angle < (WALKER_ANGLE if stochastic else 1e-5)
    second_order = 2e-3 if stochastic else 1e-9
    bound = 2 * (WALKER_ANGLE if stochastic else 1e-5)
    assert_attributes(emb, pca, tolerance=second_order, component_tolerance=bound)
    s = signs(emb.components_, pca.components_)
    assert rel(emb.transform(X) * s, pca.transform(X)) < bound * 5
    assert rel(emb.get_covariance(), pca.get_covariance()) < bound
    assert emb.score(X) == pytest.approx(pca.score(X), rel=second_order)


def test_tempered_singular_values_are_those_of_the_reweighted_rows():
    """Under a tempered measure singular_values_ are the singular values of
    the rows sqrt(n_eff pi_i) (x_i - mean_) along the components, n_eff =
    1 / sum(pi**2); explained_variance_ = singular_values_**2 / (n_eff - 1)."""
    X = dataset("gaussian")
    emb = exact(3, temperature=0.6).fit(X)
    pi = emb.stationary_measure_
    n_eff = 1.0 / np.sum(pi**2)
    rows = np.sqrt(n_eff * pi)[:, None] * (X - emb.mean_)
    expected = np.linalg.norm(rows @ emb.components_.T, axis=0)
    assert rel(emb.singular_values_, expected) < EXACT
    assert rel(emb.singular_values_**2 / (n_eff - 1), emb.explained_variance_) < EXACT
    top = np.linalg.svd(rows, compute_uv=False)[:3]
    assert rel(emb.singular_values_, top) < EXACT


def test_partial_fit_is_pca_on_the_samples_seen():
    """Streamed batches: PCA of all samples seen, as IncrementalPCA's (which
    is exact when it keeps every component: with fewer it truncates)."""
    X = dataset("gaussian")
    stream, ipca = exact(3), IncrementalPCA(None)
    for batch in gen_batches(len(X), 125):
        stream.partial_fit(X[batch])
        ipca.partial_fit(X[batch])
    pca = PCA(3, svd_solver="full").fit(X)
    assert stream.n_samples_seen_ == ipca.n_samples_seen_ == stream.n_samples_ == len(X)
    assert_attributes(stream, pca, tolerance=1e-8)
    assert rel(stream.singular_values_, ipca.singular_values_[:3]) < 1e-8
    assert rel(stream.explained_variance_, ipca.explained_variance_[:3]) < 1e-8
