"""End-to-end on real and classic data: digits, blobs, the demo command."""

import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.linalg import subspace_angles
from sklearn.datasets import load_digits, make_blobs
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from slowfast_sklearn import CoupledFlowEmbedding


def _digits_fit(random_state):
    X = load_digits().data
    est = CoupledFlowEmbedding(n_components=2, random_state=random_state).fit(X)  # no warning
    pca = PCA(2).fit(X)
    return est, pca, subspace_angles(est.components_.T, pca.components_.T).max()


@pytest.mark.parametrize("random_state", [0, 1, 2])
def test_default_parameters_on_digits(random_state):
    """Issue 2's bar: defaults on digits (k=2) within 0.05 rad of PCA, orthonormal, converged.

    Digits has a small k/k+1 gap (eigenvalues 179, 164, 142) and a slowly
    mixing walk, so this is the hard case for the stochastic dynamics
    (seeds 0-9 measured 0.009-0.018 rad).
    """
    est, pca, angle = _digits_fit(random_state)
    assert angle < 0.05
    W = est.components_
    assert np.linalg.norm(W @ W.T - np.eye(2)) < 1e-2
    assert est.converged_
    np.testing.assert_allclose(est.explained_variance_, pca.explained_variance_, rtol=0.02)


def test_blobs_are_linearly_separable_in_two_features():
    """Prediction 11: three blobs in R^10 stay separable and decorrelated with k=2."""
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 10))
    centers *= 4.0 / np.linalg.norm(centers, axis=1, keepdims=True)
    X, y = make_blobs(n_samples=600, centers=centers, cluster_std=1.0, random_state=0)
    Y = CoupledFlowEmbedding(n_components=2, random_state=0).fit_transform(X)
    accuracy = cross_val_score(LogisticRegression(), Y, y, cv=5).mean()
    reference = cross_val_score(LogisticRegression(), PCA(2).fit_transform(X), y, cv=5).mean()
    assert accuracy >= 0.95
    assert accuracy >= reference - 0.01
    assert abs(np.corrcoef(Y, rowvar=False)[0, 1]) < 0.1


def test_demo_command_prints_the_table(tmp_path):
    """The main job: ``python -m slowfast_sklearn demo`` runs and writes its figure."""
    figure = tmp_path / "demo.png"
    out = subprocess.run(
        [sys.executable, "-m", "slowfast_sklearn", "demo", "--plot", str(figure)],
        capture_output=True, text=True, check=True, timeout=120,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    lines = out.stdout.splitlines()
    rows = {line.split()[0]: line.split() for line in lines[2:5]}
    assert set(rows) == {"PCA", "FastICA", "CoupledFlowEmbedding"}
    flow = rows["CoupledFlowEmbedding"]
    assert float(flow[2]) < 0.05  # angle to PCA
    assert flow[-1] == "True"  # converged
    assert lines[5] == f"figure written to {figure}"
    from PIL import Image

    with Image.open(figure) as image:  # demo_figure at 100 dpi (its content: test_cli.py)
        assert image.format == "PNG" and image.size == (1100, 860)


def test_a_degenerate_tempered_measure_is_reported():
    """Standardised breast_cancer at temperature 2: a few isolated samples
    take the tempered measure (effective sample size under 1% of 569), and
    both fit and partial_fit warn.  Digits at the same temperature keeps
    96% of its samples and fits silently (warnings are errors here)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(load_breast_cancer().data)
    params = dict(n_components=2, temperature=2.0, solver="averaged", random_state=0)
    with pytest.warns(UserWarning, match=r"effective sample size 1/sum\(pi\*\*2\) is [0-9.]+ of 569"):
        est = CoupledFlowEmbedding(**params).fit(X)
    pi = est.stationary_measure_
    assert 1.0 / np.sum(pi**2) < 0.05 * len(X)  # independent of the message
    with pytest.warns(UserWarning, match="raise n_neighbors"):
        CoupledFlowEmbedding(**params).partial_fit(X)
    digits = CoupledFlowEmbedding(**params).fit(load_digits().data)
    assert 1.0 / np.sum(digits.stationary_measure_**2) > 0.9 * 1797


@pytest.mark.parametrize("name, k", [("digits", 10), ("breast_cancer", 10), ("wine", 5)])
def test_pipeline_cross_validation_matches_pca(name, k):
    """StandardScaler -> CoupledFlowEmbedding(k) -> LogisticRegression, 5-fold
    CV with defaults: no ConvergenceWarning in any fold (the suite turns
    warnings into errors) and the accuracy of the same pipeline with PCA,
    within 0.01 (the walker-speed issue's bar)."""
    from sklearn import datasets
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = {}
    for label, embedding in (("ours", CoupledFlowEmbedding(k, random_state=0)), ("pca", PCA(k))):
        model = make_pipeline(StandardScaler(), embedding, LogisticRegression(max_iter=5000))
        scores[label] = cross_val_score(model, X, y, cv=folds).mean()
    assert abs(scores["ours"] - scores["pca"]) <= 0.01, scores
