"""Moments of the tangent coordinates: ``C_pi`` dense, implicit or as running sums.

The role of scikit-learn's ``utils/extmath.py`` here: plain functions (and
two small holders) on arrays and row views (:mod:`~slowfast_sklearn._rows`),
each reading the coordinates in bounded row blocks.

* :func:`second_moment` builds ``C = sum_i w_i z_i z_i^T`` in one pass (and,
  on request, ``sum_i w_i z_i`` in the same pass); :func:`sparse_second_moment`
  does so for scipy.sparse input by implicit centring;
* :func:`top_eigenvalues` reads the top of its spectrum (dense ``eigh`` or
  Lanczos on an implicit operator);
* :class:`DenseMoments` and :class:`SampleMoments` hold ``C_pi`` for the
  solvers and the final Ritz rotation;
* the running sums of ``partial_fit`` (:func:`empty_stream`,
  :func:`accumulate`, :func:`stream_moment`), which ``fit`` seeds from the
  moments it has already computed (:func:`stream_from_moments`).
"""

import numpy as np
import scipy.sparse as sp
from scipy import linalg

from ._rows import row_blocks, sparse_float64

__all__ = [
    "DenseMoments",
    "SampleMoments",
    "accumulate",
    "components_by_mle",
    "components_for_share",
    "empty_stream",
    "moment_product",
    "projected_moment",
    "ritz_axes",
    "second_moment",
    "sparse_second_moment",
    "stream_from_moments",
    "stream_moment",
    "top_eigenvalues",
    "weighted_total",
]


def second_moment(X, base, weights=None, block_bytes=2**23, exponent=0, columns=None,
                  first=False):
    """``C = sum_i w_i z_i z_i^T`` of centred coordinates, one pass over row blocks.

    Each block is centred at the base point in float64: no copy of ``X`` and
    no cancellation from implicit centring.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Samples (any float dtype; never copied whole).
    base : ndarray of shape (n_features,) or float
        Base point ``b``; ``z_i = (x_i - b) * 2**-exponent``.
    weights : ndarray of shape (n_samples,), default=None
        Probability weights; uniform (``1 / n``) when None.
    block_bytes : int, default=8 MiB
        Size of the float64 block held at a time.
    exponent : int, default=0
        Exact power-of-two scaling of the centred coordinates, applied
        before squaring (keeps extreme data finite).
    columns : ndarray of bool of shape (n_features,), default=None
        Features to keep; all when None.
    first : bool, default=False
        Also return the first moment ``sum_i w_i z_i`` from the same pass.

    Returns
    -------
    C : ndarray of shape (dim, dim)
        Symmetric positive semi-definite second moment about ``base``.
    m : ndarray of shape (dim,)
        The first moment; only when ``first`` is True.
    """
    n, d = X.shape
    rows = max(1, block_bytes // (8 * d))
    if columns is not None and not np.all(columns):
        base = np.broadcast_to(base, (d,))[columns]
    else:
        columns = None
    width = d if columns is None else int(np.sum(columns))
    # One reused buffer: no allocation (and page faults) per block.
    buffer = np.empty((min(rows, n), width))
    C, m = None, np.zeros(width)
    for start in range(0, n, rows):
        block = X[start : start + rows]
        Zb = buffer[: block.shape[0]]
        np.subtract(block if columns is None else block[:, columns], base, out=Zb)
        if exponent:
            np.ldexp(Zb, -exponent, out=Zb)
        Zw = Zb if weights is None else Zb * weights[start : start + rows, None]
        part = Zw.T @ Zb
        if first:
            m += Zw.sum(axis=0)
        if C is None:
            C = part
        else:
            C += part
        # Neither the weighted copy nor a row view's block outlives its turn.
        del block, Zw
    if weights is None:
        C /= n
        m /= n
    return (C, m) if first else C


def sparse_second_moment(X, base, weights=None, exponent=0, columns=None, first=False):
    """:func:`second_moment` of a scipy.sparse ``X``, without densifying it.

    Implicit centring, as scikit-learn's PCA does on sparse input:
    ``C = S^T diag(w) S - s b^T - b s^T + (sum_i w_i) b b^T`` with ``S`` the
    (scaled) sparse samples and ``s = S^T w``; the products are sparse, only
    the ``d x d`` result is dense.  Digits are lost where the base point is
    large against the spread (the dense path centres each block first).

    Parameters
    ----------
    X : scipy sparse array of shape (n_samples, n_features), CSR or CSC
    base : ndarray of shape (n_features,)
    weights : ndarray of shape (n_samples,), default=None
        Weights (masses); uniform ``1 / n`` when None.
    exponent : int, default=0
        ``z_i = (x_i - b) * 2**-exponent``, scaled before anything is
        squared.
    columns : ndarray of bool of shape (n_features,), default=None
        Features to keep; all when None.
    first : bool, default=False
        Also return ``sum_i w_i z_i``.

    Returns
    -------
    C : ndarray of shape (dim, dim)
    m : ndarray of shape (dim,)
        Only when ``first`` is True.
    """
    n = X.shape[0]
    S = sparse_float64(X, columns, exponent)
    b = np.broadcast_to(np.asarray(base, dtype=np.float64), (X.shape[1],))
    if columns is not None and not np.all(columns):
        b = b[columns]
    b = np.ldexp(b, -exponent)
    if weights is None:
        mass, SW = 1.0, S / n
        s = np.asarray(SW.sum(axis=0)).ravel()
    else:
        mass = float(np.sum(weights))
        SW = sp.diags_array(np.asarray(weights, dtype=np.float64)) @ S
        s = S.T @ weights
    C = (S.T @ SW).toarray()
    del SW
    # The centring is the rank-2 update u b^T + b u^T, u = s - mass b / 2,
    # applied (and C symmetrised) in row blocks: no d x d temporary.
    u = s - 0.5 * mass * b
    _symmetric_rank2_update(C, u, b)
    return (C, s - mass * b) if first else C


def _symmetric_rank2_update(C, u, b, block=256):
    """``C <- (C + C^T) / 2 - u b^T - b u^T`` in place, by row blocks."""
    d = C.shape[0]
    for start in range(0, d, block):
        rows = slice(start, min(start + block, d))
        for other in range(start, d, block):
            cols = slice(other, min(other + block, d))
            # Each part is exactly symmetric on the diagonal blocks.
            M = 0.5 * (C[rows, cols] + C[cols, rows].T)
            M -= np.multiply.outer(u[rows], b[cols]) + np.multiply.outer(b[rows], u[cols])
            C[rows, cols] = M
            C[cols, rows] = M.T


def projected_moment(Z, pi, Q):
    """``Q^T C_pi Q`` for ``C_pi = Z^T diag(pi) Z``, by row blocks.

    Parameters
    ----------
    Z : ndarray or row view of shape (n_samples, n_features)
    pi : ndarray of shape (n_samples,)
        Weights of the samples (a probability vector).
    Q : ndarray of shape (n_features, k)

    Returns
    -------
    M : ndarray of shape (k, k)
        Symmetric positive semi-definite.
    """
    if hasattr(Z, "projected_moment"):  # a view that computes it without reading rows
        return Z.projected_moment(pi, Q)
    M = np.zeros((Q.shape[1], Q.shape[1]))
    for rows in row_blocks(*Z.shape):
        Y = Z[rows] @ Q
        M += (Y * pi[rows, None]).T @ Y
    return M


def moment_product(Z, pi, V):
    """``C_pi V = Z^T diag(pi) Z V``, by row blocks.

    Parameters
    ----------
    Z : ndarray or row view of shape (n_samples, d)
    pi : ndarray of shape (n_samples,)
        Weights of the samples (a probability vector).
    V : ndarray of shape (d, m)

    Returns
    -------
    G : ndarray of shape (d, m)
    """
    G = np.zeros((Z.shape[1], V.shape[1]))
    for rows in row_blocks(*Z.shape):
        B = Z[rows]
        G += B.T @ ((B @ V) * pi[rows, None])
    return G


def weighted_total(Z, pi):
    """``tr C_pi = sum_i pi_i |z_i|**2``, by row blocks.

    Parameters
    ----------
    Z : ndarray or row view of shape (n_samples, n_features)
    pi : ndarray of shape (n_samples,)

    Returns
    -------
    total : float
    """
    if hasattr(Z, "weighted_total"):  # a view that computes it without reading rows
        return Z.weighted_total(pi)
    total = 0.0
    for rows in row_blocks(*Z.shape):
        B = Z[rows]
        total += float(np.einsum("ij,ij,i->", B, B, pi[rows]))
    return total


def dense_enough(d, k):
    """Whether the top ``k`` of ``d`` eigenvalues are read off a dense ``d x d`` moment."""
    return d <= 256 or k >= d - 1


def top_eigenvalues(Z, pi, k, rng=None, C=None):
    """Top ``k`` eigenvalues of ``C_pi = Z^T diag(pi) Z``, descending.

    Dense ``eigh`` on the ``d x d`` second moment when ``d`` is small
    (:func:`dense_enough`), Lanczos (``eigsh``) on an implicit operator
    otherwise; they serve the coordinate scale and the Lyapunov log, not the
    learned subspace.

    Parameters
    ----------
    Z : ndarray or row view of shape (n_samples, d)
        Coordinates of the samples.
    pi : ndarray of shape (n_samples,)
        Weights of the samples (a probability vector).
    k : int
        How many eigenvalues.
    rng : numpy.random.Generator, default=None
        Draws Lanczos' start vector; a fixed seed when None.
    C : ndarray of shape (d, d), default=None
        ``C_pi`` when already computed.  Above the dense size, Lanczos then
        runs on ``C`` rather than on the rows (sparse input, whose rows are
        dear to read).

    Returns
    -------
    eigenvalues : ndarray of shape (k,)
        Clipped at 0.
    """
    n, d = Z.shape
    if dense_enough(d, k):
        if C is None:
            C = second_moment(Z, 0.0, weights=pi)
        return np.clip(linalg.eigvalsh(C)[::-1][:k], 0.0, None)
    from scipy.sparse.linalg import LinearOperator, eigsh

    if rng is None:
        rng = np.random.default_rng(0)
    if C is not None:
        vals = eigsh(C, k=k, which="LA", return_eigenvectors=False, v0=rng.standard_normal(d))
        return np.clip(np.sort(vals)[::-1], 0.0, None)

    def matvec(v):
        out = np.zeros(d)
        for rows in row_blocks(n, d):
            Zb = Z[rows]
            out += Zb.T @ (pi[rows] * (Zb @ v.ravel()))
        return out

    op = LinearOperator((d, d), matvec=matvec, dtype=np.float64)
    vals = eigsh(op, k=k, which="LA", return_eigenvectors=False, v0=rng.standard_normal(d))
    return np.clip(np.sort(vals)[::-1], 0.0, None)


#: Cumulative ratios within this of a float ``n_components`` count as equal
#: to it (two exact eigensolvers' ratios differ by about 1e-15).
SHARE_TIE = 1e-12


def components_for_share(eigenvalues, share):
    """Fewest leading eigenvalues whose share of the total exceeds ``share``.

    As :class:`~sklearn.decomposition.PCA` with a float ``n_components``
    (``searchsorted(..., side="right") + 1`` on the cumulative ratios,
    scikit-learn #15669): a share equal to a cumulative ratio is not
    exceeded by it, so one more component is taken.  "Equal" is up to
    :data:`SHARE_TIE`, so that a share copied from PCA's (or this
    estimator's) cumulative ``explained_variance_ratio_`` picks the same
    count although the spectra differ in their last digits.

    Parameters
    ----------
    eigenvalues : ndarray of shape (d,)
        Descending, non-negative.
    share : float
        In ``(0, 1)``.

    Returns
    -------
    k : int
        Between 1 and ``d``.
    """
    eigenvalues = np.clip(eigenvalues, 0.0, None)
    cumulative = np.cumsum(eigenvalues / eigenvalues.sum())
    k = np.searchsorted(cumulative, share + SHARE_TIE, side="right") + 1
    return int(min(k, len(eigenvalues)))


def components_by_mle(spectrum, n_samples):
    """Minka's (2000) choice of ``k``, as PCA's ``n_components="mle"``.

    Parameters
    ----------
    spectrum : ndarray of shape (d,)
        All ``d`` eigenvalues of the covariance in the data's units
        (descending; the thresholds of Minka's evidence are absolute).
    n_samples : float
        Sample size (the effective one under a tempered measure).

    Returns
    -------
    k : int
        Between 1 and ``d - 1`` (1 when every eigenvalue is below 1e-15).

    References
    ----------
    .. [1] T. P. Minka, "Automatic choice of dimensionality for PCA", NIPS
       2000, 598-604.
    """
    # scikit-learn's own implementation (private, stable in 1.6-1.9).
    from sklearn.decomposition._pca import _infer_dimension

    if len(spectrum) < 2:
        return 1
    return max(1, int(_infer_dimension(np.asarray(spectrum, dtype=np.float64), n_samples)))


class SampleMoments:
    """Second moment ``C_pi`` held implicitly as weighted scaled coordinates.

    ``C_pi = unit * Z^T diag(pi) Z``: ``Z`` (an array or a row view) is
    scaled so that its top eigenvalue is 1 (the dynamics' units);
    ``project`` and ``total`` work in those units and ``unit`` converts to
    the data's squared units.

    Parameters
    ----------
    Z : ndarray or row view of shape (n_samples, d)
    pi : ndarray of shape (n_samples,)
    unit : float
    eigenvalues : ndarray, default=None
        Top eigenvalues already known (in the dynamics' units), descending.
    dense : ndarray of shape (d, d), default=None
        ``Z^T diag(pi) Z`` itself when the preparation formed it: products
        with it cost ``d**2`` per column instead of a pass over ``Z``.
    """

    def __init__(self, Z, pi, unit, eigenvalues=None, dense=None):
        self.Z, self.pi, self.unit, self.dense = Z, pi, unit, dense
        self.eigenvalues = np.zeros(0) if eigenvalues is None else eigenvalues

    @property
    def dim(self):
        """Number of coordinates."""
        return self.Z.shape[1]

    def top(self, k):
        """Top ``k`` eigenvalues in the dynamics' units (a pass over ``Z``
        unless they are known)."""
        if k <= len(self.eigenvalues):
            return self.eigenvalues[:k]
        return top_eigenvalues(self.Z, self.pi, k)

    def project(self, U):
        """``U^T C U`` in the dynamics' units."""
        return projected_moment(self.Z, self.pi, U)

    def total(self):
        """``tr C`` in the dynamics' units."""
        return weighted_total(self.Z, self.pi)


class DenseMoments:
    """Second moment ``C_pi = unit * C`` as an explicit ``d x d`` matrix.

    Parameters
    ----------
    C : ndarray of shape (d, d)
    unit : float, default=1.0
    """

    def __init__(self, C, unit=1.0):
        self.C, self.unit = C, unit

    @property
    def dim(self):
        """Number of coordinates."""
        return self.C.shape[0]

    def project(self, U):
        """``U^T C U``."""
        return U.T @ self.C @ U

    def total(self):
        """``tr C``."""
        return float(np.trace(self.C))


def ritz_axes(moments, subspace, active, k):
    """The learned subspace's axes in the frame, ordered by their variance under ``pi``.

    Ritz rotation: within the learned subspace, the eigenvectors of the
    projected moment (for Sanger's rule this reproduces its order).  With
    more components than varying features the basis is completed with the
    constant directions (zero variance).

    Parameters
    ----------
    moments : DenseMoments or SampleMoments
        ``C_pi`` on the active coordinates.
    subspace : ndarray of shape (n_active, n_units)
        Orthonormal basis of the learned subspace.
    active : ndarray of bool of shape (dim,)
    k : int
        Components wanted, ``n_units <= k <= dim``.

    Returns
    -------
    W : ndarray of shape (dim, k)
        Orthonormal axes in the frame coordinates.
    ritz_values : ndarray of shape (k,)
        Their variances in the moments' units, descending, clipped at 0.
    """
    n_units = subspace.shape[1]
    ritz_values, R = linalg.eigh(moments.project(subspace))
    order = np.argsort(ritz_values)[::-1]
    U = subspace @ R[:, order]
    ritz_values = np.clip(ritz_values[order], 0.0, None)
    W = np.zeros((active.shape[0], k))
    W[active, :n_units] = U
    if n_units < k:
        W[~active, n_units:] = np.eye(int((~active).sum()))[:, : k - n_units]
        ritz_values = np.concatenate([ritz_values, np.zeros(k - n_units)])
    return W, ritz_values


# -- partial_fit's running sums ---------------------------------------------

def empty_stream(reference):
    """partial_fit's running sums, kept about a fixed reference point (the
    first batch's mean) so that large offsets do not cancel.

    Parameters
    ----------
    reference : ndarray of shape (d,)

    Returns
    -------
    state : dict
        ``reference``, ``count`` (samples), ``sum`` (of ``x - reference``),
        ``weight`` (total mass), ``wsum`` and ``wscatter`` (mass-weighted
        first and second moments about ``reference``).
    """
    d = reference.shape[0]
    return {"reference": reference, "count": 0, "sum": np.zeros(d), "weight": 0.0,
            "wsum": np.zeros(d), "wscatter": np.zeros((d, d))}


def accumulate(state, X, weights):
    """Add a batch to the running sums (Chan, Golub & LeVeque 1979).

    Row blocks: no copy of ``X``.

    Parameters
    ----------
    state : dict
        From :func:`empty_stream`; updated in place.
    X : ndarray or scipy sparse array of shape (n, d)
        A sparse batch is summed by implicit centring
        (:func:`sparse_second_moment`).
    weights : ndarray of shape (n,)
        Masses of the samples, summing to the batch's size.
    """
    reference = state["reference"]
    n = X.shape[0]
    state["count"] += n
    state["weight"] += n
    if sp.issparse(X):
        # Implicit centring: sums of the values, then the reference taken off.
        state["sum"] += np.asarray(X.sum(axis=0), dtype=np.float64).ravel() - n * reference
        wscatter, wsum = sparse_second_moment(X, reference, weights=weights, first=True)
        state["wsum"] += wsum
        state["wscatter"] += wscatter
        return
    for rows in row_blocks(*X.shape):
        block = np.subtract(X[rows], reference, dtype=np.float64)
        state["sum"] += block.sum(axis=0)
        state["wsum"] += weights[rows] @ block
    state["wscatter"] += second_moment(X, reference, weights=weights)


def stream_from_moments(base, n_samples, C, first, columns, exponent):
    """The running sums partial_fit holds after ``fit``, from fit's own moments.

    ``C = sum_i pi_i z_i z_i^T`` and ``first = sum_i pi_i z_i`` of the
    coordinates ``z = (x - base)[columns] * 2**-exponent`` under the fitted
    measure ``pi``: no pass over ``X``.  The base point is the samples'
    mean, so the plain sum about it is zero; features outside ``columns``
    (constant ones) carry nothing.

    Parameters
    ----------
    base : ndarray of shape (d,)
    n_samples : int
    C : ndarray of shape (n_columns, n_columns)
    first : ndarray of shape (n_columns,) or None
        None for a uniform measure about the mean (zero).
    columns : ndarray of bool of shape (d,)
    exponent : int

    Returns
    -------
    state : dict
        As :func:`empty_stream`'s.
    """
    state = empty_stream(np.array(base, dtype=np.float64))
    n = n_samples
    block = np.ix_(columns, columns)
    with np.errstate(over="ignore", under="ignore"):
        if np.all(columns):  # in place: no d x d temporary
            np.ldexp(C, 2 * exponent, out=state["wscatter"])
            state["wscatter"] *= n
        else:
            state["wscatter"][block] = np.ldexp(C, 2 * exponent) * n
        if first is not None:
            state["wsum"][columns] = np.ldexp(first, exponent) * n
    state.update(count=n, weight=float(n))
    return state


def stream_moment(state):
    """The running base point and second moment about it.

    Parameters
    ----------
    state : dict
        From :func:`empty_stream` and :func:`accumulate`.

    Returns
    -------
    base : ndarray of shape (d,)
        Mean of all samples seen.
    C : ndarray of shape (d, d)
        Their mass-weighted second moment about ``base``, symmetric.
    """
    shift = state["sum"] / state["count"]  # base point - reference
    first = state["wsum"] / state["weight"]
    C = (state["wscatter"] / state["weight"] - np.outer(first, shift)
         - np.outer(shift, first) + np.outer(shift, shift))
    return state["reference"] + shift, (C + C.T) / 2
