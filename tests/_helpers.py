"""Data and the spatial kernel of the theory tests (theory.md section 7 setting)."""

import numpy as np
from sklearn.neighbors import NearestNeighbors

from slowfast_sklearn.fast.graph import kernel_graph, metropolis_transition, stationary_law

EIGENVALUES = np.array([8.0, 4.0, 2.0, 1.0, 0.8, 0.6, 0.5, 0.4])


def gaussian_data(n=600, eigenvalues=EIGENVALUES, seed=0):
    """Centred Gaussian sample with the given population spectrum, randomly rotated."""
    rng = np.random.default_rng(seed)
    d = len(eigenvalues)
    rotation = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return (rng.standard_normal((n, d)) * np.sqrt(eigenvalues)) @ rotation.T


class Walk:
    """The spatial kernel built on data: coordinates, chain, law, exact eigenpairs."""

    def __init__(self, X, beta=1.0, n_neighbors=15, laziness=0.1):
        self.beta = beta
        Z = X - X.mean(axis=0)
        d, i = NearestNeighbors(n_neighbors=n_neighbors).fit(Z).kneighbors()
        K, self.bandwidth = kernel_graph(d, i, len(Z))
        self.P, self.degree = metropolis_transition(K, beta, laziness)
        self.pi = stationary_law(self.degree, beta)
        C = (Z * self.pi[:, None]).T @ Z
        lam, V = np.linalg.eigh(C)
        # Scale so that lambda_1 = 1, as the estimator does.
        self.Z = Z / np.sqrt(lam[-1])
        self.eigenvalues = lam[::-1] / lam[-1]
        self.eigenvectors = V[:, ::-1]
        self.C = C / lam[-1]



def tempered_measure(X, temperature, n_neighbors=15):
    """pi ~ deg**(1/T - 1) of the symmetrised Gaussian kNN kernel, dense
    (the design's formula, written out without the package)."""
    n = X.shape[0]
    dist, ind = NearestNeighbors(n_neighbors=min(n_neighbors, n - 1)).fit(X).kneighbors()
    eps = np.median(dist[:, -1] ** 2)
    K = np.zeros((n, n))
    K[np.repeat(np.arange(n), ind.shape[1]), ind.ravel()] = np.exp(-dist.ravel() ** 2 / eps)
    K = np.maximum(K, K.T)
    np.fill_diagonal(K, 0.0)
    w = K.sum(axis=1) ** (1.0 / temperature - 1.0)
    return w / w.sum()
