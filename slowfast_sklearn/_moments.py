"""Moments of the tangent coordinates: ``C_pi`` dense, implicit or as running sums.

The role of scikit-learn's ``utils/extmath.py`` here: plain functions (and
two small holders) on arrays and row views (:mod:`~slowfast_sklearn._rows`),
each reading the coordinates in bounded row blocks.

* :func:`second_moment` builds ``C = sum_i w_i z_i z_i^T`` in one pass (and,
  on request, ``sum_i w_i z_i`` in the same pass);
* :func:`top_eigenvalues` reads the top of its spectrum (dense ``eigh`` or
  Lanczos on an implicit operator);
* :class:`DenseMoments` and :class:`SampleMoments` hold ``C_pi`` for the
  solvers and the final Ritz rotation;
* the running sums of ``partial_fit`` (:func:`empty_stream`,
  :func:`accumulate`, :func:`stream_moment`), which ``fit`` seeds from the
  moments it has already computed (:func:`stream_from_moments`).
"""

import numpy as np
from scipy import linalg

from ._rows import row_blocks

__all__ = [
    "DenseMoments",
    "SampleMoments",
    "accumulate",
    "components_for_share",
    "empty_stream",
    "moment_product",
    "projected_moment",
    "ritz_axes",
    "second_moment",
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
        ``C_pi`` when already computed (dense case only).

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

    def matvec(v):
        out = np.zeros(d)
        for rows in row_blocks(n, d):
            Zb = Z[rows]
            out += Zb.T @ (pi[rows] * (Zb @ v.ravel()))
        return out

    op = LinearOperator((d, d), matvec=matvec, dtype=np.float64)
    vals = eigsh(op, k=k, which="LA", return_eigenvectors=False, v0=rng.standard_normal(d))
    return np.clip(np.sort(vals)[::-1], 0.0, None)


def components_for_share(eigenvalues, share):
    """Fewest leading eigenvalues whose share of the total exceeds ``share``.

    As :class:`~sklearn.decomposition.PCA` with a float ``n_components``.

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
    cumulative = np.cumsum(eigenvalues) / eigenvalues.sum()
    return int(min(np.searchsorted(cumulative, share, side="right") + 1, len(eigenvalues)))


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
    """

    def __init__(self, Z, pi, unit, eigenvalues=None):
        self.Z, self.pi, self.unit = Z, pi, unit
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
    X : ndarray of shape (n, d)
    weights : ndarray of shape (n,)
        Masses of the samples, summing to the batch's size.
    """
    reference = state["reference"]
    n = X.shape[0]
    state["count"] += n
    state["weight"] += n
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
