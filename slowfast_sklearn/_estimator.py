"""The scikit-learn face of the coupled flow: ``CoupledFlowEmbedding``."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._flow import coupled_flow
from ._geometry import MANIFOLDS, resolve_geometry
from ._hebbian import RULES
from ._spatial import kernel_graph, metropolis_transition, stationary_law

__all__ = ["CoupledFlowEmbedding"]

#: laziness of the walk (makes the chain aperiodic), theory.md section 6.
_LAZINESS = 0.1
#: ``learning_rate="auto"``: step size on coordinates scaled to lambda_1 = 1.
_AUTO_LEARNING_RATE = 0.2
#: below this ratio sigma_min / sigma_max the raw weights count as collapsed.
_COLLAPSE_RATIO = 0.05


class CoupledFlowEmbedding(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal subspace learned by coupled slow-fast Hebbian dynamics.

    Walkers (the fast process) move over the training samples by a
    Metropolised random walk on their k-nearest-neighbour graph, whose exact
    stationary law is the spatial measure ``pi ~ q**(1 / temperature)``.
    Hebbian weights (the slow process) learn from the walkers' tangent
    coordinates at the base point with Sanger's or Oja's rule and converge to
    the principal eigenspace of the spatial second moment ``C_pi``.  At
    ``temperature=1`` that is the principal subspace of the data, as in
    :class:`~sklearn.decomposition.PCA`.

    Parameters
    ----------
    n_components : int, default=2
        Number of features to learn, ``k``.  Must not exceed
        ``min(n_samples, n_features)``.
    manifold : {"euclidean"}, default="euclidean"
        Space the samples live in.  Tangent coordinates are taken at the
        Frechet mean (for ``"euclidean"``: ``x - mean``).
    kernel : {"graph"}, default="graph"
        Fast process.  ``"graph"``: the Metropolised kernel graph walk
        (kernel A of the design), whose stationary law is exact.
    rule : {"sanger", "oja", "hebbian", "trace"}, default="sanger"
        Slow process.  ``"sanger"`` (Sanger 1989) learns ordered, decorrelated
        components; ``"oja"`` (Oja 1982, 1989) learns an orthonormal basis of
        the same subspace.  ``"hebbian"`` has no normaliser and explodes (a
        ``ConvergenceWarning`` is raised and the run stops); ``"trace"`` is the
        trace-normalised rule of the paper's appendix (Theorem 11), which
        collapses to rank one (a ``ConvergenceWarning`` says so).  Both are
        kept as ablations.
    temperature : float, default=1.0
        ``T = 1 / beta`` of the spatial measure ``q**beta``, ``q`` the data
        density.  ``T > 1`` flattens it toward the volume measure, ``T < 1``
        concentrates it on the modes; ``T = 1`` weighs every sample equally.
    n_neighbors : int, default=15
        Neighbours per sample in the walk's graph (clipped to
        ``n_samples - 1``).  More neighbours mix faster; at ``temperature=1``
        they do not change the spatial measure.
    n_walkers : int, default=2048
        Number of walkers; each weight update averages over all of them.
    walk_steps : int, default=1
        Walker moves per weight update: the time-scale separation between the
        fast and the slow process.
    walker_lifetime : int or None, default=10
        Weight updates after which all walkers are reborn on samples drawn
        from the stationary measure (systematic sampling).  This regenerative
        walk keeps the walkers' law at ``pi`` but resets the slowly mixing
        modes of the walk (the share of walkers in each cluster), which
        otherwise dominate the noise of the weights: on digits it cuts the
        error of the learned subspace about fourfold for the same work.
        ``None`` keeps walkers for the whole run (the paper's pure flow).
    learning_rate : "auto" or float, default="auto"
        Step size ``eta`` of the weights, in units of ``1 / lambda_1`` (the
        coordinates are scaled so that the top eigenvalue of ``C_pi`` is 1;
        ``lambda_1`` is estimated by power iteration).  ``"auto"`` is 0.2.
        Must lie in ``(0, 1)``.
    max_iter : int, default=3000
        Most weight updates.
    tol : float, default=0.03
        Convergence threshold in radians: the fit stops when the
        Polyak-Ruppert averaged subspaces of the two halves of the averaging
        window (the second half of the run) differ by a largest principal
        angle below ``tol`` at three consecutive checkpoints, checked from
        update ``max_iter // 5`` on.
    whiten : bool, default=False
        Divide the features by ``sqrt(explained_variance_)`` so that they
        have unit variance under the spatial measure.
    random_state : int, RandomState instance or None, default=None
        Seed of the only random generator used (walker moves, initial
        weights).  Pass an int for reproducible results.
    verbose : int, default=0
        Print one line per checkpoint (every 50 weight updates) when positive.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Orthonormal principal axes (tangent vectors at ``mean_``), sorted by
        decreasing ``explained_variance_``; each row's largest-magnitude entry
        is positive.
    mean_ : ndarray of shape (n_features,)
        Base point: the Frechet mean of the training samples.
    n_components_ : int
        Number of components.
    explained_variance_ : ndarray of shape (n_components,)
        Variance of each feature under the spatial measure, with a Bessel
        correction from the measure's effective sample size (equal to
        :class:`~sklearn.decomposition.PCA`'s at ``temperature=1`` when the
        subspaces agree).
    explained_variance_ratio_ : ndarray of shape (n_components,)
        ``explained_variance_`` over the total variance.
    noise_variance_ : float
        Mean variance outside the learned subspace (as in probabilistic PCA;
        used by :meth:`score`).
    stationary_measure_ : ndarray of shape (n_samples_fit,)
        Exact stationary law ``pi`` of the walk on the training samples: the
        spatial measure the weights learn from.
    weights_ : ndarray of shape (n_features, n_components)
        Raw Hebbian weights ``W`` at the last update, before the averaging,
        retraction and rotation that give ``components_`` (tangent
        coordinates scaled to ``lambda_1 = 1``; zero rows for constant
        features).
    lyapunov_ : ndarray of shape (n_checkpoints, 3)
        Terms of the joint Lyapunov functional at each checkpoint:
        ``KL(rho_t || pi)`` of a walker's exact law, the orthogonality defect
        ``||W^T W - I||_F**2`` and the subspace gap
        ``sum_{i<=k} lambda_i - tr(P_W C_pi)`` (on scaled coordinates).
        Their sum, with weight 1 on each, is the functional.
    lyapunov_steps_ : ndarray of shape (n_checkpoints,)
        Weight update at which each row of ``lyapunov_`` was logged.
    n_iter_ : int
        Number of weight updates performed.
    converged_ : bool
        Whether the stopping rule was met before ``max_iter``.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.decomposition.PCA : Exact principal component analysis.
    sklearn.decomposition.IncrementalPCA : PCA from mini-batches.
    sklearn.decomposition.FastICA : Independent component analysis.

    Notes
    -----
    Weights ``W`` (``n_features x k``) follow
    ``dW = eta (C_t W - W N(W^T C_t W))`` with ``C_t`` the second moment of
    the walkers' coordinates and ``N`` the rule's normaliser; the step is
    divided by ``max(1, ||W||_2**2)`` (a time change that keeps the
    iteration stable from any start; off for ``"hebbian"``).  The final
    subspace is the Polyak-Ruppert average of the retracted weights over the
    second half of the run; within it, components are the Ritz vectors of
    ``C_pi`` (for Sanger's rule these are the learned columns' directions).

    References
    ----------
    .. [1] Z. Li et al., "Continuous Limits of Coupled Flows in Representation
       Learning", arXiv:2604.16801, 2026.
    .. [2] E. Oja, "A simplified neuron model as a principal component
       analyzer", J. Math. Biology 15, 1982.
    .. [3] T. D. Sanger, "Optimal unsupervised learning in a single-layer
       linear feedforward neural network", Neural Networks 2, 1989.
    .. [4] R. R. Coifman and S. Lafon, "Diffusion maps", Appl. Comput.
       Harmon. Anal. 21, 2006.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from slowfast_sklearn import CoupledFlowEmbedding
    >>> X, _ = load_iris(return_X_y=True)
    >>> emb = CoupledFlowEmbedding(n_components=2, random_state=0).fit(X)
    >>> emb.transform(X).shape
    (150, 2)
    >>> emb.components_.shape
    (2, 4)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "manifold": [StrOptions(set(MANIFOLDS))],
        "kernel": [StrOptions({"graph"})],
        "rule": [StrOptions(set(RULES))],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_walkers": [Interval(Integral, 1, None, closed="left")],
        "walk_steps": [Interval(Integral, 1, None, closed="left")],
        "walker_lifetime": [Interval(Integral, 1, None, closed="left"), None],
        "learning_rate": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "whiten": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=2,
        *,
        manifold="euclidean",
        kernel="graph",
        rule="sanger",
        temperature=1.0,
        n_neighbors=15,
        n_walkers=2048,
        walk_steps=1,
        walker_lifetime=10,
        learning_rate="auto",
        max_iter=3000,
        tol=0.03,
        whiten=False,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.manifold = manifold
        self.kernel = kernel
        self.rule = rule
        self.temperature = temperature
        self.n_neighbors = n_neighbors
        self.n_walkers = n_walkers
        self.walk_steps = walk_steps
        self.walker_lifetime = walker_lifetime
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.whiten = whiten
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Run the coupled dynamics on ``X`` and store the learned subspace.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples, points of ``manifold``.  float32 input gives
            float32 attributes and outputs; the dynamics run in float64.
        y : None
            Ignored.

        Returns
        -------
        self : CoupledFlowEmbedding
            The fitted estimator.

        Raises
        ------
        ValueError
            If ``X`` is empty, complex, non-numeric or holds NaN or infinity;
            if it has fewer than 2 samples; if ``n_components`` exceeds
            ``min(n_samples, n_features)``; or if all samples are identical.
        TypeError
            If ``X`` is a sparse matrix (as for scikit-learn's dense-only
            estimators); densify it first.
        """
        self._fit(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit to ``X`` and return its features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples.
        y : None
            Ignored.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Features of the training samples, in ``X``'s dtype.

        Raises
        ------
        ValueError
            As :meth:`fit`.
        """
        X = self._fit(X)
        return self._project(X)

    def _fit(self, X):
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        n_samples, n_features = X.shape
        geometry = resolve_geometry(self.manifold, n_features)
        geometry.check_points(X)
        k = self.n_components
        if k > min(n_samples, geometry.dim):
            raise ValueError(
                f"n_components={k} must be at most min(n_samples, n_features)="
                f"{min(n_samples, geometry.dim)}; lower n_components."
            )
        rng = check_random_state(self.random_state)
        beta = 1.0 / self.temperature

        base = geometry.base_point(X)
        Z = geometry.log(X, base)
        # Features with no spread cannot carry a component: keep them out of
        # the dynamics so they get exactly zero weight.
        # Relative to each column's magnitude, so the test is scale-free.
        spread = np.ptp(Z, axis=0)
        active = spread > 4 * np.finfo(X.dtype).eps * np.abs(base)
        if not active.any():
            raise ValueError(
                "X has zero variance: all samples are (numerically) identical, "
                "so there is no principal subspace to learn."
            )
        # No copy when every feature varies; Z is not needed past this point.
        Za = Z if active.all() else Z[:, active]
        del Z
        # Unit root-mean-square norm: squared distances neither under- nor
        # overflow at any data scale.  An exact power-of-two pre-scaling keeps
        # the squares themselves finite and normal for data near the ends of
        # the float range (1e-300 or 1e150) and changes no bit elsewhere.
        exponent = int(np.frexp(max(Za.max(), -Za.min()))[1])
        np.ldexp(Za, -exponent, out=Za)
        rms = np.sqrt(np.mean(np.einsum("ij,ij->i", Za, Za)))
        Za /= rms
        rms = np.ldexp(rms, exponent)
        n_neighbors = min(self.n_neighbors, n_samples - 1)
        distances, indices = geometry.kneighbors(X, Za, n_neighbors)
        K, _ = kernel_graph(distances, indices, n_samples)
        del distances, indices
        P, degree = metropolis_transition(K, beta, _LAZINESS)
        del K
        pi = stationary_law(degree, beta)

        # Bessel correction with the measure's (Kish) effective sample size;
        # n / (n - 1) at temperature=1, as in PCA.
        n_eff = 1.0 / np.sum(pi**2)
        bessel = n_eff / (n_eff - 1.0) if n_eff > 1.0 + 1e-9 else 1.0
        # Total variance in units of rms**2 (the explained variance ratios
        # are taken in these units, so they exist at any data scale).
        unit_variance = float(np.einsum("ij,ij,i->", Za, Za, pi))
        dtype = X.dtype
        with np.errstate(over="ignore"):
            total_variance = np.float64(unit_variance) * rms**2 * bessel
        if not total_variance <= np.finfo(dtype).max:
            raise ValueError(
                f"X's values are too large: their variance (about "
                f"{unit_variance * bessel:.3g} x {rms:.3g}**2) overflows {dtype}. "
                "Rescale X (for example with StandardScaler) before fitting."
            )
        lambdas = _top_eigenvalues(Za, pi, min(k, Za.shape[1]), rng)
        if not lambdas[0] > 0.0:
            raise ValueError(
                f"X has zero variance under the spatial measure at temperature="
                f"{self.temperature}: it sits on samples at the mean. Raise "
                "temperature."
            )
        scale = np.sqrt(lambdas[0])
        Za /= scale
        Zs = Za
        eta = _AUTO_LEARNING_RATE if self.learning_rate == "auto" else self.learning_rate
        n_units = min(k, Zs.shape[1])
        result = coupled_flow(
            Zs,
            P,
            pi,
            n_components=n_units,
            rule=self.rule,
            learning_rate=eta,
            n_walkers=self.n_walkers,
            walk_steps=self.walk_steps,
            walker_lifetime=self.walker_lifetime,
            max_iter=self.max_iter,
            tol=self.tol,
            rng=rng,
            top_eigenvalues=lambdas[:n_units] / lambdas[0],
            verbose=self.verbose,
        )
        self._warn_dynamics(result)

        # Ritz rotation: within the learned subspace, order the axes by their
        # variance under pi (for Sanger's rule this reproduces its order).
        U = result.subspace
        Y = Zs @ U
        ritz_values, R = linalg.eigh((Y * pi[:, None]).T @ Y)
        order = np.argsort(ritz_values)[::-1]
        U = U @ R[:, order]
        ritz_values = np.clip(ritz_values[order], 0.0, None) * lambdas[0]
        W = np.zeros((n_features, k))
        W[active, :n_units] = U
        if n_units < k:
            # More components than varying features: complete the basis with
            # the constant directions (zero variance).
            W[~active, n_units:] = np.eye(int((~active).sum()))[:, : k - n_units]
            ritz_values = np.concatenate([ritz_values, np.zeros(k - n_units)])
        components = geometry.to_ambient(W, base)
        components *= np.where(
            np.take_along_axis(components, np.abs(components).argmax(axis=1)[:, None], 1) < 0,
            -1.0,
            1.0,
        )

        explained = ritz_values * rms**2 * bessel
        self.components_ = components.astype(dtype, copy=False)
        self.mean_ = base.astype(dtype, copy=False)
        self.n_components_ = k
        self.explained_variance_ = explained.astype(dtype, copy=False)
        self.explained_variance_ratio_ = (ritz_values / unit_variance).astype(dtype, copy=False)
        rest = geometry.dim - k
        self.noise_variance_ = (
            float(max(total_variance - explained.sum(), 0.0) / rest) if rest > 0 else 0.0
        )
        self.stationary_measure_ = pi
        weights = np.zeros((n_features, k))
        weights[active, :n_units] = result.weights
        self.weights_ = weights
        self.lyapunov_ = result.lyapunov
        self.lyapunov_steps_ = result.lyapunov_steps
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        return X

    def _warn_dynamics(self, result):
        if result.diverged:
            advice = (
                "Plain Hebbian learning has no normaliser: use rule='sanger' or rule='oja'."
                if self.rule == "hebbian"
                else "Lower learning_rate or raise n_walkers."
            )
            warnings.warn(
                f"The Hebbian weights diverged (norm above 1e12) after "
                f"{result.n_iter} updates with rule={self.rule!r}; the run was "
                f"stopped and components_ is the direction the weights took. {advice}",
                ConvergenceWarning,
            )
            return
        s = np.linalg.svd(result.weights, compute_uv=False)
        # Only the rules without a matrix normaliser collapse (theory.md
        # section 3); Sanger/Oja weights may just not have reached unit norm
        # along directions of tiny variance.
        if self.rule in ("trace", "hebbian") and s.size > 1 and s[-1] < _COLLAPSE_RATIO * s[0]:
            warnings.warn(
                f"The Hebbian weights collapsed toward rank one "
                f"(sigma_min / sigma_max = {s[-1] / s[0]:.1e}) with "
                f"rule={self.rule!r}; components_ beyond the first are not "
                "principal axes. The trace-normalised rule is known to "
                "collapse: use rule='sanger' or rule='oja'.",
                ConvergenceWarning,
            )
        if not result.converged:
            angle = result.split_angle[-1]
            warnings.warn(
                f"CoupledFlowEmbedding did not converge in max_iter="
                f"{self.max_iter} weight updates: the averaged subspace still "
                f"moves by {angle:.2g} rad (tol={self.tol}). Increase max_iter "
                "or n_walkers, or raise tol.",
                ConvergenceWarning,
            )

    def transform(self, X):
        """Project ``X`` on the learned components.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points of ``manifold``.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Tangent coordinates at ``mean_`` projected on ``components_``
            (divided by ``sqrt(explained_variance_)`` if ``whiten``), in
            ``X``'s dtype.  Row-wise: each row depends on its sample only.

        Raises
        ------
        ValueError
            If ``X`` has the wrong number of features or bad values.
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self._project(X)

    def _project(self, X):
        geometry = resolve_geometry(self.manifold, self.n_features_in_)
        geometry.check_points(X)
        Z = geometry.log(X, self.mean_.astype(np.float64))
        X_new = (Z @ self.components_.T.astype(np.float64)).astype(X.dtype, copy=False)
        if self.whiten:
            X_new /= np.sqrt(np.maximum(self.explained_variance_, np.finfo(X.dtype).tiny))
        return X_new

    def inverse_transform(self, X):
        """Map features back to points of the manifold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Features, as returned by :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            ``Exp`` at ``mean_`` of the tangent vector
            ``X @ components_`` (re-scaled if ``whiten``); the projection
            of the original samples on the learned subspace.

        Raises
        ------
        ValueError
            If ``X`` does not have ``n_components_`` columns.
        """
        check_is_fitted(self)
        X = _check_features(X, self.n_components_)
        V = np.asarray(X, dtype=np.float64)
        if self.whiten:
            V = V * np.sqrt(self.explained_variance_.astype(np.float64))
        geometry = resolve_geometry(self.manifold, self.n_features_in_)
        points = geometry.exp(V @ self.components_.astype(np.float64), self.mean_.astype(np.float64))
        return points.astype(X.dtype, copy=False)

    def get_covariance(self):
        """Covariance of the probabilistic PCA model of the fitted subspace.

        Returns
        -------
        cov : ndarray of shape (n_features, n_features)
            ``components_.T @ diag(explained_variance_ - noise_variance_) @
            components_ + noise_variance_ * I``, in tangent coordinates.
        """
        check_is_fitted(self)
        V = self.components_.astype(np.float64)
        excess = np.maximum(self.explained_variance_ - self.noise_variance_, 0.0)
        cov = (V.T * excess) @ V
        cov.flat[:: cov.shape[0] + 1] += self.noise_variance_
        return cov

    def score_samples(self, X):
        """Log-likelihood of each sample under the probabilistic PCA model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            Gaussian log-density (Tipping & Bishop 1999) of the tangent
            coordinates at ``mean_`` with covariance :meth:`get_covariance`;
            the noise variance is floored at ``1e-12`` times the total
            variance so that the density exists when the subspace is full.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        geometry = resolve_geometry(self.manifold, self.n_features_in_)
        Z = geometry.log(X, self.mean_.astype(np.float64))
        cov = self.get_covariance()
        floor = 1e-12 * max(np.trace(cov), np.finfo(np.float64).tiny)
        cov.flat[:: cov.shape[0] + 1] += floor
        chol = linalg.cholesky(cov, lower=True)
        half = linalg.solve_triangular(chol, Z.T, lower=True)
        logdet = 2.0 * np.sum(np.log(np.diag(chol)))
        d = Z.shape[1]
        return -0.5 * (np.sum(half**2, axis=0) + d * np.log(2.0 * np.pi) + logdet)

    def score(self, X, y=None):
        """Average log-likelihood of ``X`` under the fitted model.

        This is what :class:`~sklearn.model_selection.GridSearchCV` maximises
        when no downstream estimator is given: as for
        :meth:`sklearn.decomposition.PCA.score`, the mean of
        :meth:`score_samples` (probabilistic PCA, Tipping & Bishop 1999).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Mean log-likelihood per sample, in nats; higher is better.
        """
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _check_features(X, n_components):
    X = check_array(X, dtype=[np.float64, np.float32])
    if X.shape[1] != n_components:
        raise ValueError(
            f"X has {X.shape[1]} features, but inverse_transform expects "
            f"{n_components} (n_components_)."
        )
    return X


def _top_eigenvalues(Z, pi, k, rng):
    """Top ``k`` eigenvalues of ``C_pi = Z^T diag(pi) Z``, descending.

    Dense ``eigh`` on the ``d x d`` second moment when ``d`` is small,
    Lanczos (``eigsh``) on an implicit operator otherwise; they serve the
    coordinate scale and the Lyapunov log, not the learned subspace.
    """
    n, d = Z.shape
    if d <= 256 or k >= d - 1:
        # Row blocks of at most 2**20 entries: no n x d temporary.
        block = max(1, 2**20 // d)
        C = np.zeros((d, d))
        for start in range(0, n, block):
            Zb = Z[start : start + block]
            C += (Zb * pi[start : start + block, None]).T @ Zb
        return np.clip(linalg.eigvalsh(C)[::-1][:k], 0.0, None)
    from scipy.sparse.linalg import LinearOperator, eigsh

    op = LinearOperator((d, d), matvec=lambda v: Z.T @ (pi * (Z @ v)), dtype=np.float64)
    vals = eigsh(op, k=k, which="LA", return_eigenvectors=False, v0=rng.standard_normal(d))
    return np.clip(np.sort(vals)[::-1], 0.0, None)
