"""Sample coordinates read in row blocks, held in memory or made on demand.

The flows read the samples' tangent coordinates ``Z`` in two ways only:
walker batches ``Z[positions]`` and row blocks ``Z[a:b]``.  Anything that
supports those two reads and ``shape`` can stand in for the ``n x d`` float64
array.  :class:`CentredRows` does so for flat data without building it:
on a large data set that copy is as big as the input (issue 4's memory
bound), while a walker batch is a few hundred kilobytes.
"""

import numpy as np

__all__ = ["BLOCK_ENTRIES", "CentredRows", "row_blocks", "projected_moment", "weighted_total"]

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


def projected_moment(Z, pi, Q):
    """``Q^T C_pi Q`` for ``C_pi = Z^T diag(pi) Z``, by row blocks.

    Parameters
    ----------
    Z : ndarray or CentredRows of shape (n_samples, n_features)
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


def weighted_total(Z, pi):
    """``tr C_pi = sum_i pi_i |z_i|**2``, by row blocks.

    Parameters
    ----------
    Z : ndarray or CentredRows of shape (n_samples, n_features)
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
