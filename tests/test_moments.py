"""Moments (``_moments``): ``C_pi`` dense, implicit and as running sums.

Every value is compared with numpy or scikit-learn computed on the whole
array at once; the row-block passes may sum in another order, so the
comparisons are to rounding.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, load_iris
from sklearn.decomposition import PCA

from slowfast_sklearn._moments import (
    SHARE_TIE,
    DenseMoments,
    SampleMoments,
    accumulate,
    components_by_mle,
    components_for_share,
    empty_stream,
    ritz_axes,
    second_moment,
    sparse_second_moment,
    stream_from_moments,
    stream_moment,
    top_eigenvalues,
)
from slowfast_sklearn._rows import CentredRows


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((700, 6)) * [3.0, 2.0, 1.0, 0.5, 0.3, 0.1] + 1e3
    w = rng.random(700)
    return X, w / w.sum()


def test_second_moment_is_the_weighted_scatter(sample):
    X, w = sample
    base = X.mean(axis=0)
    Z = X - base
    np.testing.assert_allclose(second_moment(X, base), Z.T @ Z / len(X), rtol=1e-12)
    C, m = second_moment(X, base, weights=w, block_bytes=8 * 6 * 64, first=True)
    np.testing.assert_allclose(C, (Z * w[:, None]).T @ Z, rtol=1e-12)
    np.testing.assert_allclose(m, w @ Z, rtol=1e-9, atol=1e-12)


def test_second_moment_scales_exactly_and_keeps_columns(sample):
    """2**-exponent before squaring: C(exponent) * 4**exponent is C, bit for bit."""
    X, w = sample
    base = X.mean(axis=0)
    columns = np.array([True, False, True, True, False, True])
    C = second_moment(X, base, weights=w, columns=columns)
    scaled = second_moment(X, base, weights=w, columns=columns, exponent=3)
    np.testing.assert_array_equal(np.ldexp(scaled, 6), C)
    Z = (X - base)[:, columns]
    np.testing.assert_allclose(C, (Z * w[:, None]).T @ Z, rtol=1e-12)


def test_second_moment_reads_a_row_view(sample):
    X, w = sample
    rows = CentredRows(X.astype(np.float32), X.mean(axis=0), None, 0.5)
    Z = np.subtract(X.astype(np.float32), X.mean(axis=0), dtype=np.float64) * 0.5
    np.testing.assert_allclose(second_moment(rows, 0.0, weights=w), (Z * w[:, None]).T @ Z,
                               rtol=1e-12)


def test_top_eigenvalues_dense_and_lanczos():
    """Dense eigh for small d, Lanczos on the implicit operator beyond 256 features."""
    rng = np.random.default_rng(1)
    for d in (8, 300):
        Z = rng.standard_normal((400, d)) * (0.97 ** np.arange(d))
        pi = np.full(400, 1.0 / 400)
        exact = np.linalg.eigvalsh(Z.T @ Z / 400)[::-1][:3]
        np.testing.assert_allclose(top_eigenvalues(Z, pi, 3, rng), exact, rtol=1e-8)
    C = np.diag([4.0, 2.0, 1.0])
    np.testing.assert_array_equal(top_eigenvalues(np.zeros((2, 3)), np.ones(2), 2, C=C), [4.0, 2.0])


@pytest.mark.parametrize("share", [0.5, 0.8, 0.95, 0.999])
def test_components_for_share_is_pcas_choice(share):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((500, 8)) * np.arange(8, 0, -1)
    eigenvalues = np.linalg.eigvalsh(np.cov(X.T))[::-1]
    assert components_for_share(eigenvalues, share) == PCA(share).fit(X).n_components_


def test_components_for_share_counts_a_tie_as_not_exceeded():
    """A share equal to a cumulative ratio (PCA's, or ours 1e-15 away) is not
    exceeded by it: one more component, as PCA after scikit-learn #15669."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 8)) * np.arange(1, 9)
    pca = PCA().fit(X)
    eigenvalues = np.linalg.eigvalsh(np.cov(X.T))[::-1]
    cumulative = np.cumsum(pca.explained_variance_ratio_)
    for j in range(7):
        share = float(cumulative[j])
        assert PCA(share).fit(X).n_components_ == j + 2
        for nudge in (-2e-15, 0.0, 2e-15):  # the spectra's rounding either side
            assert components_for_share(eigenvalues, share + nudge) == j + 2
        # Beyond the tie width the ordinary rule holds again.
        assert components_for_share(eigenvalues, share - 10 * SHARE_TIE) == j + 1


@pytest.mark.parametrize("data", ["iris", "digits", "gaussian"])
def test_components_by_mle_is_pcas_choice(data):
    """Minka's MLE on the Bessel-corrected spectrum: PCA's n_components='mle'."""
    X = {"iris": lambda: load_iris().data, "digits": lambda: load_digits().data,
         "gaussian": lambda: np.random.default_rng(4).standard_normal((400, 10))
         * [5, 4, 3, 1, 1, 1, 1, 1, 1, 1]}[data]()
    spectrum = np.clip(np.linalg.eigvalsh(np.cov(X.T))[::-1], 0.0, None)
    assert components_by_mle(spectrum, len(X)) == PCA("mle").fit(X).n_components_
    assert components_by_mle(np.zeros(4), 10) == 1  # no eigenvalue above 1e-15
    assert components_by_mle(np.ones(1), 10) == 1


@pytest.mark.parametrize("format", ["csr", "csc"])
def test_sparse_second_moment_is_the_weighted_scatter(sample, format):
    """Implicit centring on sparse input: the dense block pass, to rounding,
    with weights, columns, the exact power-of-two scale and the first moment."""
    X, w = sample
    rng = np.random.default_rng(5)
    X = np.where(rng.random(X.shape) < 0.6, 0.0, X - 1e3 + 0.5)
    S = sp.csr_array(X).asformat(format)
    base = X.mean(axis=0)
    columns = np.array([True, True, False, True, True, True])
    for weights in (None, w):
        for exponent in (0, 3):
            C, m = sparse_second_moment(S, base, weights=weights, exponent=exponent,
                                        columns=columns, first=True)
            C0, m0 = second_moment(X, base, weights=weights, exponent=exponent,
                                   columns=columns, first=True)
            np.testing.assert_allclose(C, C0, rtol=0, atol=1e-13 * np.abs(C0).max())
            np.testing.assert_allclose(m, m0, rtol=0, atol=1e-13 * np.abs(C0).max() ** 0.5)
            np.testing.assert_array_equal(C, C.T)


def test_top_eigenvalues_on_a_given_moment_above_the_dense_size():
    """With C given, Lanczos runs on it (sparse input: rows are dear to read)."""
    rng = np.random.default_rng(6)
    Z = rng.standard_normal((400, 300)) * (0.97 ** np.arange(300))
    C = Z.T @ Z / 400
    unread = np.zeros((400, 300))  # never read when C is given
    np.testing.assert_allclose(top_eigenvalues(unread, np.full(400, 1 / 400), 3, rng, C=C),
                               np.linalg.eigvalsh(C)[::-1][:3], rtol=1e-10)


def test_dense_and_sample_moments_agree(sample):
    X, w = sample
    Z = X - X.mean(axis=0)
    dense = DenseMoments((Z * w[:, None]).T @ Z, unit=4.0)
    implicit = SampleMoments(Z, w, unit=4.0)
    Q = np.linalg.qr(np.random.default_rng(3).standard_normal((6, 2)))[0]
    np.testing.assert_allclose(implicit.project(Q), dense.project(Q), rtol=1e-12)
    assert implicit.total() == pytest.approx(dense.total(), rel=1e-12)
    np.testing.assert_allclose(implicit.top(2), np.linalg.eigvalsh(dense.C)[::-1][:2], rtol=1e-10)


def test_ritz_axes_rotate_within_the_subspace_and_complete_it():
    """Eigenvectors of the moment inside span(subspace), by decreasing value;
    constant directions (zero variance) fill the missing components."""
    C = np.diag([1.0, 5.0, 3.0])
    active = np.array([True, False, True, True])
    subspace = np.linalg.qr(np.array([[1.0, 1.0], [1.0, -1.0], [0.0, 0.0]]))[0]
    W, values = ritz_axes(DenseMoments(C), subspace, active, 3)
    np.testing.assert_allclose(values, [5.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(np.abs(W), [[0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 0]], atol=1e-12)


def test_running_sums_give_the_mean_and_the_weighted_moment(sample):
    """Batches of a stream (masses by batch size) reach the whole set's mean and moment."""
    X, w = sample
    state = empty_stream(X[:100].mean(axis=0))
    for rows in (slice(0, 100), slice(100, 450), slice(450, 700)):
        batch_w = w[rows] / w[rows].sum()
        accumulate(state, X[rows], batch_w * (rows.stop - rows.start))
    base, C = stream_moment(state)
    assert state["count"] == 700
    np.testing.assert_allclose(base, X.mean(axis=0), rtol=1e-14)
    mass = np.concatenate([w[r] / w[r].sum() * (r.stop - r.start)
                           for r in (slice(0, 100), slice(100, 450), slice(450, 700))]) / 700
    Z = X - base
    np.testing.assert_allclose(C, (Z * mass[:, None]).T @ Z, rtol=1e-10)


def test_running_sums_of_sparse_batches_are_those_of_dense_batches(sample):
    """accumulate on sparse batches (implicit centring) gives the dense sums."""
    X, w = sample
    X = np.where(np.random.default_rng(7).random(X.shape) < 0.5, 0.0, X - 1e3)
    dense, sparse = empty_stream(X[:200].mean(axis=0)), empty_stream(X[:200].mean(axis=0))
    for rows in (slice(0, 200), slice(200, 700)):
        mass = w[rows] / w[rows].sum() * (rows.stop - rows.start)
        accumulate(dense, X[rows], mass)
        accumulate(sparse, sp.csr_array(X[rows]), mass)
    for key in ("sum", "wsum", "wscatter"):
        np.testing.assert_allclose(sparse[key], dense[key], rtol=0,
                                   atol=1e-12 * np.abs(dense["wscatter"]).max())
    assert (sparse["count"], sparse["weight"]) == (dense["count"], dense["weight"])


def test_fit_seeds_the_sums_from_its_moments(sample):
    """The seed (from C and the first moment under pi of the scaled active
    coordinates) equals one pass of accumulate over X, up to rounding; the
    sum about the mean is zero, constant features carry nothing."""
    X, w = sample
    X = X.copy()
    X[:, 4] = X[0, 4]
    base = X.mean(axis=0)
    columns = np.ptp(X, axis=0) > 0
    C, first = second_moment(X, base, weights=w, exponent=2, columns=columns, first=True)
    seeded = stream_from_moments(base, len(X), C, first, columns, 2)
    passed = empty_stream(base.copy())
    accumulate(passed, X, w * len(X))
    assert (seeded["count"], seeded["weight"]) == (passed["count"], passed["weight"])
    scale = np.abs(X - base).max()
    np.testing.assert_allclose(seeded["sum"], 0.0)
    # What the pass sums is rounding: the mean's error (a sequential sum of
    # n values) times n.
    rounding = len(X) ** 2 * np.finfo(np.float64).eps * np.abs(X).max()
    np.testing.assert_allclose(passed["sum"], 0.0, atol=rounding)
    # The constant feature's x - base is that rounding too.
    np.testing.assert_allclose(seeded["wsum"], passed["wsum"], rtol=1e-12, atol=rounding)
    np.testing.assert_allclose(seeded["wscatter"], passed["wscatter"], rtol=1e-12,
                               atol=rounding * scale)
    assert not np.any(seeded["wscatter"][4]) and seeded["wsum"][4] == 0.0
