"""Row views: the samples' coordinates read in row blocks and gathers.

The walkers' solver and the moments read the samples' tangent coordinates
``Z`` in two ways only: gathers ``Z[positions]`` (a walker batch, an integer
array of rows) and row blocks ``Z[a:b]`` (:func:`row_blocks`).  Anything that
supports those two reads and ``shape``, and returns C-ordered float64 rows,
is a *row view* and can stand in for the ``n x d`` array.
:class:`CentredRows` does so for flat data without building it: on a large
data set that copy is as big as the input (issue 4's memory bound), while a
walker batch is a few hundred kilobytes.  :class:`SparseCentredRows` does
the same for scipy.sparse input, whose dense form may not fit in memory at
all; it also multiplies by dense matrices without reading rows (``Z @ W``,
``Z.T @ V``, :meth:`~SparseCentredRows.projected_moment`,
:meth:`~SparseCentredRows.weighted_total`), which the moments and the
mean-field solver use when a view offers them.  A view over chunked (dask)
input would be another class with the same two reads.
"""

import numpy as np
import scipy.sparse as sp

__all__ = ["BLOCK_ENTRIES", "CentredRows", "SparseCentredRows", "canonical_sparse", "row_blocks",
           "sparse_float64"]

#: Entries per row block (8 MiB of float64): bounded temporaries at any n.
BLOCK_ENTRIES = 2**20


class CentredRows:
    """The rows of ``(X - base)[:, columns] * scale`` in float64, on demand.

    Centring happens in float64 after an exact upcast of ``X``, so float32
    input with a large offset loses nothing; every read gives, bit for bit,
    the rows of the materialised array ``np.subtract(X, base,
    dtype=np.float64)[:, columns] * scale``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The samples (float32 or float64); read, never written.
    base : ndarray of shape (n_features,)
        The point subtracted (the Fréchet mean, here the mean).
    columns : ndarray of bool of shape (n_features,) or None
        Coordinates kept; None keeps all.
    scale : float
        Factor applied after centring.
    """

    def __init__(self, X, base, columns, scale):
        self.X, self.base, self.scale = X, np.asarray(base, dtype=np.float64), float(scale)
        self.columns = None if columns is None or np.all(columns) else np.asarray(columns)
        n_cols = X.shape[1] if self.columns is None else int(self.columns.sum())
        self.shape = (X.shape[0], n_cols)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, rows):
        Z = np.subtract(self.X[rows], self.base, dtype=np.float64, order="C")
        if self.columns is not None:
            # compress keeps C order (a boolean mask on axis 1 gives F order,
            # which BLAS rounds differently from the C-ordered copy).
            Z = Z.compress(self.columns, axis=1)
        Z *= self.scale
        return Z

    def with_scale(self, scale):
        """The same rows with another factor applied after centring."""
        return CentredRows(self.X, self.base, self.columns, scale)


def canonical_sparse(X):
    """A validated sparse ``X`` as a CSR or CSC *array* in canonical format.

    scipy.sparse matrices become arrays (sharing their buffers); duplicate
    entries are summed and indices sorted on a copy, only when ``X`` is not
    canonical already, so that per-entry formulas (ranges, exactly centred
    sums) see one value per position and the caller's ``X`` is never
    written.

    Parameters
    ----------
    X : scipy sparse matrix or array, CSR or CSC

    Returns
    -------
    X : scipy.sparse.csr_array or csc_array
    """
    X = sp.csc_array(X) if X.format == "csc" else sp.csr_array(X)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def sparse_float64(X, columns=None, exponent=0):
    """``X[:, columns] * 2**-exponent`` as a float64 sparse array of X's format.

    The power of two is exact, so that squares and products of data near the
    ends of the float range stay finite; the index arrays are shared with
    ``X`` when all columns are kept (only the values are copied).

    Parameters
    ----------
    X : scipy sparse matrix or array, CSR or CSC
    columns : ndarray of bool of shape (n_features,) or None
    exponent : int

    Returns
    -------
    S : scipy.sparse.csr_array or csc_array
    """
    if columns is not None and not np.all(columns):
        X = X[:, np.flatnonzero(columns)]
    cls = sp.csc_array if X.format == "csc" else sp.csr_array
    data = np.ldexp(np.asarray(X.data, dtype=np.float64), -exponent)
    return cls((data, X.indices, X.indptr), shape=X.shape)


class SparseCentredRows:
    """The rows of ``(X - base)[:, columns] * scale`` of a sparse ``X``, on demand.

    Every read densifies the rows it asks for only (a walker batch, a row
    block) and centres and scales them exactly as :class:`CentredRows` does
    on the dense ``X``: a gather gives, bit for bit, the rows of
    ``CentredRows(X.toarray(), base, columns, scale)``.  Products with dense
    matrices are computed on the sparse values, with the centring applied
    afterwards (implicit centring, as scikit-learn's PCA does on sparse
    input): they lose digits when the mean is large against the spread.

    Parameters
    ----------
    X : scipy sparse array of shape (n_samples, n_features)
        The samples, canonical (:func:`canonical_sparse`); read, never
        written (CSC input is converted to CSR once, for the row reads).
    base : ndarray of shape (n_features,)
    columns : ndarray of bool of shape (n_features,) or None
    scale : float
    """

    def __init__(self, X, base, columns, scale):
        self.X = X if X.format == "csr" else sp.csr_array(X)
        self.base, self.scale = np.asarray(base, dtype=np.float64), float(scale)
        self.columns = None if columns is None or np.all(columns) else np.asarray(columns)
        self._base_kept = self.base if self.columns is None else self.base[self.columns]
        self.shape = (X.shape[0], self._base_kept.shape[0])
        self._kept = self._kept_T = None

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, rows):
        # The kept columns densified: elementwise the same operations as
        # CentredRows' subtract-compress-scale, so the same bits.
        Z = self.kept()[rows].toarray()
        Z -= self._base_kept
        Z *= self.scale
        return Z

    def with_scale(self, scale):
        """The same rows with another factor applied after centring."""
        other = SparseCentredRows(self.X, self.base, self.columns, scale)
        other._kept, other._kept_T = self._kept, self._kept_T
        return other

    def kept(self):
        """``X[:, columns]`` in float64 (sparse CSR; built once)."""
        if self._kept is None:
            self._kept = sparse_float64(self.X, self.columns)
            self._kept_T = self._kept.T  # a CSC view, made once
        return self._kept

    def neighbour_points(self):
        """``X[:, columns] * scale`` (sparse, not centred: distances between
        its rows are those between the view's rows)."""
        S = self.kept()
        return sp.csr_array((S.data * self.scale, S.indices, S.indptr), shape=S.shape)

    def __matmul__(self, W):
        """``Z @ W`` for a dense ``W`` of shape (n_kept, k), without reading rows."""
        W = np.asarray(W, dtype=np.float64)
        return (self.kept() @ W - self._base_kept @ W) * self.scale

    @property
    def T(self):
        """The transpose, for ``Z.T @ V`` with a dense ``V`` of shape (n_samples, k)."""
        return _Transposed(self)

    def projected_moment(self, pi, Q):
        """``Q^T (Z^T diag(pi) Z) Q``."""
        Y = self @ Q
        return (Y * pi[:, None]).T @ Y

    def weighted_total(self, pi):
        """``sum_i pi_i |z_i|**2``, centred exactly: the stored values as
        ``(x - b)**2``, the implicit zeros as ``b**2`` times their mass."""
        S, b = self.kept(), self._base_kept
        row_mass = np.repeat(pi, np.diff(S.indptr))
        stored = float(np.sum(row_mass * (S.data - b[S.indices]) ** 2))
        column_mass = np.bincount(S.indices, weights=row_mass, minlength=b.shape[0])
        # Mass of the rows where a column is implicitly zero (the input is
        # canonical: one stored entry per row and column at most).
        zero_mass = np.maximum(np.sum(pi) - column_mass, 0.0)
        return (stored + float(zero_mass @ b**2)) * self.scale**2


class _Transposed:
    """``Z.T`` of a :class:`SparseCentredRows`, for products only."""

    def __init__(self, rows):
        self.rows = rows
        self.shape = rows.shape[::-1]

    def __matmul__(self, V):
        V = np.asarray(V, dtype=np.float64)
        rows = self.rows
        rows.kept()
        product = rows._kept_T @ V - np.multiply.outer(rows._base_kept, V.sum(axis=0))
        return product * rows.scale


def row_blocks(n_rows, n_cols):
    """Consecutive row slices of at most :data:`BLOCK_ENTRIES` entries.

    Parameters
    ----------
    n_rows, n_cols : int

    Yields
    ------
    rows : slice
    """
    step = max(1, BLOCK_ENTRIES // max(n_cols, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))
