"""Largest difference to scikit-learn's PCA of every attribute and method the two share.

Run ``python benchmarks/pca_parity.py``.  Each cell is ``max |ours - PCA's|
/ max |PCA's|`` (components up to sign) on iris (k=2), digits (k=10) and a
Gaussian sample (k=3), the maximum over the three; the reference is
``PCA(svd_solver="full")``, or for the sparse column PCA's ARPACK solver on
the same CSR array (digits and the Gaussian with small entries zeroed).
``tests/test_pca_parity.py`` asserts the bounds; this prints the values.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_digits, load_iris
from sklearn.decomposition import PCA

from slowfast_sklearn import CoupledFlowEmbedding


def gaussian():
    rng = np.random.default_rng(0)
    spectrum = np.sqrt([8.0, 4.0, 2.0, 1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2])
    rotation = np.linalg.qr(rng.standard_normal((10, 10)))[0]
    return (rng.standard_normal((500, 10)) * spectrum) @ rotation.T + 2.0


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def differences(emb, pca, X, fit_X, whiten_pca=None):
    s = np.where(np.sum(emb.components_ * pca.components_, axis=1) < 0, -1.0, 1.0)
    features = pca.transform(fit_X)
    dense = X.toarray() if sp.issparse(X) else X
    refit = CoupledFlowEmbedding(**emb.get_params()).fit_transform(fit_X)
    out = {
        "components_ (up to sign)": rel(emb.components_ * s[:, None], pca.components_),
        "explained_variance_": rel(emb.explained_variance_, pca.explained_variance_),
        "explained_variance_ratio_": rel(emb.explained_variance_ratio_,
                                         pca.explained_variance_ratio_),
        "singular_values_": rel(emb.singular_values_, pca.singular_values_),
        "noise_variance_": rel(emb.noise_variance_, pca.noise_variance_),
        "mean_": rel(emb.mean_, pca.mean_),
        "n_components_, n_samples_, n_features_in_ (equal)": float(
            (emb.n_components_, emb.n_samples_, emb.n_features_in_)
            != (pca.n_components_, pca.n_samples_, pca.n_features_in_)),
        "transform": rel(emb.transform(fit_X) * s, features),
        "inverse_transform": rel(emb.inverse_transform(features * s),
                                 pca.inverse_transform(features)),
        "fit_transform": rel(refit * s, features),
        "get_covariance": rel(emb.get_covariance(), pca.get_covariance()),
        "get_precision": rel(emb.get_precision(), pca.get_precision()),
        "score_samples": rel(emb.score_samples(dense), pca.score_samples(dense)),
        "score": rel(emb.score(dense), pca.score(dense)),
    }
    return out


def sparse_version(X):
    X = X.copy()
    X[np.abs(X - np.median(X, axis=0)) < 0.3 * X.std(axis=0)] = 0.0
    return sp.csr_array(X)


def main():
    data = {"iris": (load_iris().data, 2), "digits": (load_digits().data, 10),
            "gaussian": (gaussian(), 3)}
    columns = {
        'averaged, tol=1e-12': dict(solver="averaged", tol=1e-12),
        'averaged, whiten': dict(solver="averaged", tol=1e-12, whiten=True),
        'mean_field': dict(solver="mean_field", random_state=0),
        'stochastic': dict(random_state=0),
        'averaged, sparse (vs ARPACK)': dict(solver="averaged", tol=1e-12),
    }
    table = {}
    for column, params in columns.items():
        for name, (X, k) in data.items():
            if "sparse" in column and name == "iris":
                continue
            fit_X = sparse_version(X) if "sparse" in column else X
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                emb = CoupledFlowEmbedding(k, **params).fit(fit_X)
            if "sparse" in column:
                pca = PCA(k, svd_solver="arpack", tol=1e-14, random_state=0).fit(fit_X)
            else:
                pca = PCA(k, whiten=params.get("whiten", False), svd_solver="full").fit(X)
            if params.get("whiten"):
                # The model is the unwhitened one (PCA's whitened model scales
                # its components by sqrt(explained_variance_)): compare it so.
                plain = PCA(k, svd_solver="full").fit(X)
                values = differences(emb, pca, X, fit_X)
                for key in ("get_covariance", "get_precision", "score_samples", "score"):
                    values[key] = differences(emb, plain, X, fit_X)[key]
            else:
                values = differences(emb, pca, X, fit_X)
            for key, value in values.items():
                cell = table.setdefault(key, {})
                cell[column] = max(cell.get(column, 0.0), value)
    print("| attribute / method | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for key, cells in table.items():
        print(f"| {key} | " + " | ".join(f"{cells[c]:.1e}" for c in columns) + " |")


if __name__ == "__main__":
    main()
