"""scikit-learn's estimator contract, including the checks it runs only for itself."""

import pytest
from sklearn.utils import estimator_checks as ec
from sklearn.utils.estimator_checks import parametrize_with_checks

from slowfast_sklearn import CoupledFlowEmbedding

ESTIMATORS = [
    CoupledFlowEmbedding(),
    CoupledFlowEmbedding(
        rule="oja", temperature=0.5, whiten=True, n_walkers=256, max_iter=1000, random_state=0
    ),
    CoupledFlowEmbedding(solver="mean_field", max_iter=1000),
    CoupledFlowEmbedding(solver="averaged"),
    # Kernel B (Langevin walkers) on the checks' Euclidean data.
    CoupledFlowEmbedding(kernel="langevin", n_walkers=64, max_iter=300, random_state=0),
]

# The checks' data (blobs with isotropic noise) have no gap between the
# n_components-th and the next eigenvalue, so the learned subspace is not
# identifiable and the estimator rightly warns that it keeps moving.
IGNORE_CONVERGENCE = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@IGNORE_CONVERGENCE
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# Checks scikit-learn runs in its own test_common.py but never yields to
# third-party estimators.
EXTRA_CHECKS = [
    "check_param_validation",
    "check_set_output_transform",
    "check_set_output_transform_pandas",
    "check_global_output_transform_pandas",
    "check_set_output_transform_polars",
    "check_global_set_output_transform_polars",
    "check_transformer_get_feature_names_out",
    "check_transformer_get_feature_names_out_pandas",
    "check_get_feature_names_out_error",
    "check_dataframe_column_names_consistency",
    "check_inplace_ensure_writeable",
]


@IGNORE_CONVERGENCE
# The pandas output checks transform a bare array after fitting a DataFrame;
# PCA emits this same warning under them.
@pytest.mark.filterwarnings("ignore:X does not have valid feature names:UserWarning")
@pytest.mark.filterwarnings("ignore:X has feature names, but:UserWarning")
@pytest.mark.parametrize("check_name", EXTRA_CHECKS)
def test_extra_checks(check_name):
    pytest.importorskip("polars" if "polars" in check_name else "pandas")
    check = getattr(ec, check_name)
    check("CoupledFlowEmbedding", CoupledFlowEmbedding(random_state=0))


# --------------------------------------------------------------------------
# Curved manifolds.  scikit-learn's common checks generate their own data
# (blobs, iris, (100, 2) arrays at loc=100, 2-10 features): those points are
# not unit vectors ("hypersphere"), lie outside the unit ball
# ("poincare_ball") and are not flattened SPD matrices ("spd": the width is
# rarely a perfect square, the rows never symmetric positive definite), so
# every check that fits would fail on the data, not on the contract.  None of
# the manifold strings can run them; the test below shows the refusal is a
# clear ValueError, and the contract the checks test is re-checked on data
# from each manifold.
# --------------------------------------------------------------------------

import pickle  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from _manifold_data import DATA, flat  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

MANIFOLD_STRINGS = ["hypersphere", "poincare_ball", "spd"]


def _manifold_estimator(name):
    return CoupledFlowEmbedding(
        manifold=name, n_walkers=128, max_iter=300, tol=1.0, random_state=0
    )


@pytest.mark.parametrize("name", MANIFOLD_STRINGS)
def test_common_check_data_are_refused_clearly(name):
    """The (100, 4) data of check_fit_idempotent & co. are off every manifold."""
    X = np.random.RandomState(0).normal(loc=100, size=(100, 4))
    with pytest.raises(ValueError, match=f"not on the manifold '{name}'"):
        _manifold_estimator(name).fit(X)


@IGNORE_CONVERGENCE
@pytest.mark.parametrize("name", MANIFOLD_STRINGS)
def test_manifold_contract(name):
    """What the common checks test, on points of the manifold."""
    X = flat(DATA[name](120, seed=11))
    est = _manifold_estimator(name)
    fitted = clone(est).fit(X)
    out = fitted.transform(X)
    # check_fit_idempotent / determinism
    np.testing.assert_array_equal(clone(est).fit(X).transform(X), out)
    # check_methods_sample_order_invariance / subset invariance
    perm = np.random.RandomState(1).permutation(len(X))
    np.testing.assert_allclose(fitted.transform(X[perm]), out[perm], atol=1e-9)
    np.testing.assert_allclose(fitted.transform(X[:10]), out[:10], atol=1e-9)
    # check_estimators_pickle
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).transform(X), out)
    # check_transformer_preserve_dtypes
    X32 = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        f32 = clone(est).fit(X32)
    assert f32.transform(X32).dtype == np.float32
    assert f32.components_.dtype == np.float32
    # check_n_features_in_after_fitting
    with pytest.raises(ValueError, match=f"is expecting {X.shape[1]} features"):
        fitted.transform(X[:, :-1])
    # check_fit_check_is_fitted / feature names
    assert fitted.n_features_in_ == X.shape[1]
    assert list(fitted.get_feature_names_out()) == ["coupledflowembedding0", "coupledflowembedding1"]
