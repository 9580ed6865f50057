"""The ``demo`` subcommand: PCA, FastICA and CoupledFlowEmbedding on digits.

The data sets, decompositions and matplotlib are imported inside the
functions, so that importing this module costs nothing.
"""

import sys
import time
import warnings

import numpy as np

from .io import check_plot_path

__all__ = ["fit_demo", "run_demo"]


def _orthogonality_defect(components):
    """``||V V^T - I||_F`` of the rows of ``components`` (normalised for ICA)."""
    k = components.shape[0]
    return float(np.linalg.norm(components @ components.T - np.eye(k)))


def _decorrelation(features):
    """Largest absolute off-diagonal correlation between features."""
    if features.shape[1] < 2:
        return 0.0
    corr = np.corrcoef(features, rowvar=False)
    return float(np.max(np.abs(corr - np.diag(np.diag(corr)))))


def _demo_methods(n_components, random_state):
    from sklearn.decomposition import PCA, FastICA
    from sklearn.pipeline import make_pipeline

    from slowfast_sklearn import CoupledFlowEmbedding

    return {
        "PCA": PCA(n_components, svd_solver="full"),
        # FastICA's own whitening (scikit-learn 1.9.1) returns perfectly
        # correlated sources on digits; whitening with PCA first is the same
        # model and behaves.
        "FastICA": make_pipeline(
            PCA(n_components, whiten=True),
            FastICA(whiten=False, random_state=random_state),
        ),
        "CoupledFlowEmbedding": CoupledFlowEmbedding(n_components, random_state=random_state),
    }


def _basis_and_defect(name, est):
    """An orthonormal basis of the learned span, and the defect of its axes."""
    if name == "FastICA":
        pca, ica = est[0], est[1]
        unmixing = ica.components_ @ (pca.components_ / np.sqrt(pca.explained_variance_)[:, None])
        # ICA's unmixing rows are not orthonormal; compare their span.
        rows = unmixing / np.linalg.norm(unmixing, axis=1, keepdims=True)
        return np.linalg.qr(unmixing.T)[0], _orthogonality_defect(rows)
    return est.components_.T, _orthogonality_defect(est.components_)


def fit_demo(n_components=2, random_state=0):
    """Fit the three methods of the demo on digits and measure them.

    Parameters
    ----------
    n_components : int, default=2
        Number of features each method learns.
    random_state : int, default=0
        Seed for FastICA and CoupledFlowEmbedding.

    Returns
    -------
    rows : list of dict
        One dict per method: ``method``, ``fit_seconds``, ``angle_to_pca``
        (largest principal angle to PCA's subspace, radians),
        ``orthogonality_defect``, ``max_feature_correlation``,
        ``probe_accuracy`` (5-fold logistic regression) and ``converged``.
    fitted : dict
        Method name -> (fitted estimator, features of shape (1797, n_components)).
    y : ndarray of shape (1797,)
        The digit classes.
    """
    from scipy.linalg import subspace_angles
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from slowfast_sklearn import CoupledFlowEmbedding

    X, y = load_digits(return_X_y=True)
    methods = _demo_methods(n_components, random_state)
    # Untimed warm-up: the first timed fit would otherwise carry the
    # process's start-up costs (BLAS initialisation, lazy imports).
    methods["PCA"].fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        CoupledFlowEmbedding(n_components, max_iter=100, random_state=0).fit(X[:200])
    reference, rows, fitted = None, [], {}
    for name, est in methods.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            start = time.perf_counter()
            features = est.fit_transform(X)
            seconds = time.perf_counter() - start
        basis, defect = _basis_and_defect(name, est)
        reference = basis if reference is None else reference
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        rows.append({
            "method": name,
            "fit_seconds": seconds,
            "angle_to_pca": float(np.max(subspace_angles(basis, reference))),
            "orthogonality_defect": defect,
            "max_feature_correlation": _decorrelation(features),
            "probe_accuracy": float(cross_val_score(probe, features, y, cv=5).mean()),
            "converged": not any(issubclass(w.category, ConvergenceWarning) for w in caught),
        })
        fitted[name] = (est, features)
    return rows, fitted, y


def _print_table(rows, n_samples, n_features, n_components, out):
    print(
        f"digits: {n_samples} samples x {n_features} features, n_components={n_components}\n"
        f"{'method':<22}{'fit (s)':>9}{'angle to PCA (rad)':>20}{'||VV^T-I||_F':>14}"
        f"{'max |corr|':>12}{'5-fold LR acc':>15}{'converged':>11}",
        file=out,
    )
    for r in rows:
        print(
            f"{r['method']:<22}{r['fit_seconds']:>9.3f}{r['angle_to_pca']:>20.2e}"
            f"{r['orthogonality_defect']:>14.1e}{r['max_feature_correlation']:>12.1e}"
            f"{r['probe_accuracy']:>15.3f}{str(r['converged']):>11}",
            file=out,
        )


def run_demo(n_components=2, random_state=0, plot=None, out=sys.stdout):
    """Fit PCA, FastICA and CoupledFlowEmbedding on digits and print a table.

    Parameters
    ----------
    n_components : int, default=2
        Number of features each method learns.
    random_state : int, default=0
        Seed for FastICA and CoupledFlowEmbedding.
    plot : str or None, default=None
        Path of an image (PNG, or any format matplotlib writes, by the
        extension) with the three embeddings and the Lyapunov terms; see
        :func:`demo_figure`.  Checked before anything is fitted.
    out : file-like, default=sys.stdout
        Where the table goes.

    Returns
    -------
    rows : list of dict
        One dict per method with the printed figures (see :func:`fit_demo`).

    Raises
    ------
    InputError
        If ``plot`` cannot be written (missing directory, no permission,
        unknown image format) or matplotlib is not installed.
    """
    if plot is not None:
        check_plot_path(plot)
    rows, fitted, y = fit_demo(n_components, random_state)
    n_features = fitted["PCA"][0].n_features_in_
    _print_table(rows, y.shape[0], n_features, n_components, out)
    if plot is not None:
        from .figure import demo_figure, save_figure

        save_figure(demo_figure(fitted, y, rows), plot)
        print(f"figure written to {plot}", file=out)
    return rows
