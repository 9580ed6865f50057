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
    pytest.importorskip("pandas")
    check = getattr(ec, check_name)
    check("CoupledFlowEmbedding", CoupledFlowEmbedding(random_state=0))
