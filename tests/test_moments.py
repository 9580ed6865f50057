"""Moments (``_moments``): ``C_pi`` dense, implicit and as running sums.

Every value is compared with numpy or scikit-learn computed on the whole
array at once; the row-block passes may sum in another order, so the
comparisons are to rounding.
"""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from slowfast_sklearn._moments import (
    DenseMoments,
    SampleMoments,
    accumulate,
    components_for_share,
    empty_stream,
    ritz_axes,
    second_moment,
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
