"""Command line: ``python -m slowfast_sklearn demo [--plot FILE]``.

The demo fits PCA, FastICA and :class:`CoupledFlowEmbedding` on
scikit-learn's bundled digits data and prints one table row per method.
"""

import argparse
import sys
import time
import warnings

import numpy as np


def _orthogonality_defect(components):
    """``||V V^T - I||_F`` of the rows of ``components`` (normalised for ICA)."""
    k = components.shape[0]
    return float(np.linalg.norm(components @ components.T - np.eye(k)))


def _decorrelation(features):
    """Largest absolute off-diagonal correlation between features."""
    corr = np.corrcoef(features, rowvar=False)
    return float(np.max(np.abs(corr - np.diag(np.diag(corr)))))


def run_demo(n_components=2, random_state=0, plot=None, out=sys.stdout):
    """Fit PCA, FastICA and CoupledFlowEmbedding on digits and print a table.

    Parameters
    ----------
    n_components : int, default=2
        Number of features each method learns.
    random_state : int, default=0
        Seed for FastICA and CoupledFlowEmbedding.
    plot : str or None, default=None
        Path of a PNG with the three 2-D embeddings and the Lyapunov terms.
    out : file-like, default=sys.stdout
        Where the table goes.

    Returns
    -------
    rows : list of dict
        One dict per method with the printed figures.
    """
    from scipy.linalg import subspace_angles
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA, FastICA
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ._estimator import CoupledFlowEmbedding

    X, y = load_digits(return_X_y=True)
    methods = {
        "PCA": PCA(n_components, svd_solver="full"),
        # FastICA's own whitening (scikit-learn 1.9.1) returns perfectly
        # correlated sources on digits; whitening with PCA first is the same
        # model and behaves.
        "FastICA": make_pipeline(
            PCA(n_components, whiten=True),
            FastICA(n_components, whiten=False, random_state=random_state),
        ),
        "CoupledFlowEmbedding": CoupledFlowEmbedding(n_components, random_state=random_state),
    }
    reference = None
    rows, fitted = [], {}
    for name, est in methods.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            start = time.perf_counter()
            features = est.fit_transform(X)
            seconds = time.perf_counter() - start
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        if name == "FastICA":
            pca, ica = est[0], est[1]
            unmixing = ica.components_ @ (pca.components_ / np.sqrt(pca.explained_variance_)[:, None])
            # ICA's unmixing rows are not orthonormal; compare their span.
            basis = np.linalg.qr(unmixing.T)[0]
            defect = _orthogonality_defect(
                unmixing / np.linalg.norm(unmixing, axis=1, keepdims=True)
            )
        else:
            basis = est.components_.T
            defect = _orthogonality_defect(est.components_)
        if reference is None:
            reference = basis
        accuracy = cross_val_score(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), features, y, cv=5
        ).mean()
        rows.append(
            {
                "method": name,
                "fit_seconds": seconds,
                "angle_to_pca": float(np.max(subspace_angles(basis, reference))),
                "orthogonality_defect": defect,
                "max_feature_correlation": _decorrelation(features),
                "probe_accuracy": float(accuracy),
                "converged": converged,
            }
        )
        fitted[name] = (est, features)

    header = (
        f"digits: {X.shape[0]} samples x {X.shape[1]} features, n_components={n_components}\n"
        f"{'method':<22}{'fit (s)':>9}{'angle to PCA (rad)':>20}{'||VV^T-I||_F':>14}"
        f"{'max |corr|':>12}{'5-fold LR acc':>15}{'converged':>11}"
    )
    print(header, file=out)
    for r in rows:
        print(
            f"{r['method']:<22}{r['fit_seconds']:>9.3f}{r['angle_to_pca']:>20.2e}"
            f"{r['orthogonality_defect']:>14.1e}{r['max_feature_correlation']:>12.1e}"
            f"{r['probe_accuracy']:>15.3f}{str(r['converged']):>11}",
            file=out,
        )
    if plot is not None:
        _plot(fitted, y, plot)
        print(f"figure written to {plot}", file=out)
    return rows


def _plot(fitted, y, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
    for ax, (name, (_, features)) in zip(axes, fitted.items()):
        ax.scatter(features[:, 0], features[:, 1], c=y, cmap="tab10", s=4)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    est = fitted["CoupledFlowEmbedding"][0]
    labels = ["KL(rho_t || pi)", "||W^T W - I||_F^2", "subspace gap"]
    for j, label in enumerate(labels):
        values = est.lyapunov_[:, j]
        if np.any(values > 0):
            axes[3].semilogy(est.lyapunov_steps_, np.maximum(values, 1e-16), label=label)
    axes[3].set_xlabel("weight update")
    axes[3].set_title("Lyapunov terms")
    axes[3].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    """Entry point of ``python -m slowfast_sklearn``."""
    parser = argparse.ArgumentParser(
        prog="python -m slowfast_sklearn",
        description="Coupled slow-fast Hebbian feature extraction (CoupledFlowEmbedding).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="compare PCA, FastICA and CoupledFlowEmbedding on the bundled digits data"
    )
    demo.add_argument("--n-components", type=int, default=2, help="features to learn (default 2)")
    demo.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    demo.add_argument("--plot", metavar="FILE", help="write a PNG of the embeddings and Lyapunov terms")
    args = parser.parse_args(argv)
    if args.command == "demo":
        run_demo(args.n_components, args.random_state, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
