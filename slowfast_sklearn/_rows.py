"""Row views: the samples' coordinates read in row blocks and gathers.

The walkers' solver and the moments read the samples' tangent coordinates
``Z`` in two ways only: gathers ``Z[positions]`` (a walker batch, an integer
array of rows) and row blocks ``Z[a:b]`` (:func:`row_blocks`).  Anything that
supports those two reads and ``shape``, and returns C-ordered float64 rows,
is a *row view* and can stand in for the ``n x d`` array.
:class:`CentredRows` does so for flat data without building it: on a large
data set that copy is as big as the input (issue 4's memory bound), while a
walker batch is a few hundred kilobytes.  A view over sparse or chunked
(dask) input would be another class with the same two reads.
"""

import numpy as np

__all__ = ["BLOCK_ENTRIES", "CentredRows", "row_blocks"]

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
