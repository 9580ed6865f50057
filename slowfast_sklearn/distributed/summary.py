"""Chunk summaries: what a row chunk tells the others about its moments, exactly scaled.

A :class:`Summary` of rows ``x_i`` with masses ``w_i`` holds their count,
total mass, plain mean, column ranges, and the mass-weighted first and second
moments about their own mean, scaled by an exact power of two (the largest
centred coordinate lands in [0.5, 1), as in the preparation of an
in-memory fit) so that no square overflows.  Two summaries combine by the
pairwise update of Chan, Golub and LeVeque (1979), here with masses, so a
tree of combinations over the chunks of a dask array gives the moments of
all rows about any point without bringing a row to the driver.  Plain
functions of arrays: no dask here.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.utils import assert_all_finite

from .._moments import second_moment

__all__ = ["Summary", "about", "add_to_stream", "combine", "summarise", "tree"]


@dataclass
class Summary:
    """Moments of a set of rows, about their mean, in units of ``2**exponent``.

    Attributes
    ----------
    count : int
        Rows.
    mass, sq_mass : float
        ``sum_i w_i`` and ``sum_i w_i**2``.
    mean : ndarray of shape (d,)
        Plain (unweighted) mean, float64.
    low, high : ndarray of shape (d,)
        Column minima and maxima, float64.
    exponent : int
        ``first`` and ``scatter`` are in units of ``2**exponent`` and
        ``4**exponent``.
    first : ndarray of shape (d,)
        ``sum_i w_i (x_i - mean) * 2**-exponent``.
    scatter : ndarray of shape (d, d)
        ``sum_i w_i (x_i - mean)(x_i - mean)^T * 4**-exponent``.
    """

    count: int
    mass: float
    sq_mass: float
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    exponent: int
    first: np.ndarray
    scatter: np.ndarray


#: The exponent of rows with no spread: the smallest there is, so that it
#: never sets the scale of a combination.
NO_REACH = -1074


def reach_exponent(reach):
    """The power of two that brings ``max(reach)`` into [0.5, 1).

    Parameters
    ----------
    reach : ndarray
        Non-negative magnitudes.

    Returns
    -------
    exponent : int
        :data:`NO_REACH` when all are 0.
    """
    top = float(np.max(reach)) if np.size(reach) else 0.0
    return int(np.frexp(top)[1]) if top > 0.0 else NO_REACH


def summarise(X, weights=None, moments=True):
    """The :class:`Summary` of one chunk of rows.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Rows (float32 or float64); read in row blocks, never copied whole.
    weights : ndarray of shape (n,), default=None
        Masses of the rows; 1 each when None.
    moments : bool, default=True
        False: the count, mean and ranges only (``first`` and ``scatter``
        are zero), without the pass that builds the second moment.

    Returns
    -------
    summary : Summary
        The chunk's count, masses, mean, ranges and moments.

    Raises
    ------
    ValueError
        If ``X`` holds NaN or infinity (scikit-learn's message).
    """
    assert_all_finite(X, input_name="X")
    n = X.shape[0]
    mean = np.mean(X, axis=0, dtype=np.float64)
    low, high = X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)
    exponent = reach_exponent(np.maximum(high - mean, mean - low))
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if moments:
        scatter, first = second_moment(X, mean, weights=w, exponent=exponent, first=True)
    else:
        d = X.shape[1]
        scatter, first = np.zeros((d, d)), np.zeros(d)
    return Summary(n, float(w.sum()), float(w @ w), mean, low, high, exponent, first, scatter)


def _shifted(s, delta, exponent):
    """``s``'s first and second moments about ``s.mean - delta``, in ``2**exponent`` units."""
    first = np.ldexp(s.first, s.exponent - exponent)
    scatter = np.ldexp(s.scatter, 2 * (s.exponent - exponent))
    dz = np.ldexp(delta, -exponent)
    moved = first + s.mass * dz
    scatter = scatter + np.outer(first, dz) + np.outer(dz, first) + s.mass * np.outer(dz, dz)
    return moved, scatter


def combine(a, b):
    """The summary of two disjoint sets of rows.

    Parameters
    ----------
    a, b : Summary
        Summaries of the two sets.

    Returns
    -------
    summary : Summary
        About the pooled mean, in the larger of the two scales (or the
        shift's, if larger).
    """
    count = a.count + b.count
    mean = a.mean + (b.mean - a.mean) * (b.count / count)
    da, db = a.mean - mean, b.mean - mean
    exponent = max(a.exponent, b.exponent, reach_exponent(np.maximum(np.abs(da), np.abs(db))))
    fa, sa = _shifted(a, da, exponent)
    fb, sb = _shifted(b, db, exponent)
    return Summary(count, a.mass + b.mass, a.sq_mass + b.sq_mass, mean,
                   np.minimum(a.low, b.low), np.maximum(a.high, b.high), exponent,
                   fa + fb, sa + sb)


def about(s, point):
    """Mass-weighted first and second moments of ``s``'s rows about ``point``.

    Parameters
    ----------
    s : Summary
        The rows' summary.
    point : ndarray of shape (d,)
        The point the moments are taken about (a base point).

    Returns
    -------
    first : ndarray of shape (d,)
        ``sum_i w_i (x_i - point) * 2**-exponent``.
    scatter : ndarray of shape (d, d)
        ``sum_i w_i (x_i - point)(x_i - point)^T * 4**-exponent``.
    exponent : int
        The exact scale: the larger of the summary's and the shift's.
    """
    delta = s.mean - point
    exponent = max(s.exponent, reach_exponent(np.abs(delta)))
    first, scatter = _shifted(s, delta, exponent)
    return first, scatter, exponent


def add_to_stream(state, s):
    """Add a summary to ``partial_fit``'s running sums (in place).

    The same sums :func:`~slowfast_sklearn._moments.accumulate` adds for the
    rows themselves, up to rounding.

    Parameters
    ----------
    state : dict
        From :func:`~slowfast_sklearn._moments.empty_stream`.
    s : Summary
        With masses summing to its rows' count.
    """
    reference = state["reference"]
    first, scatter, exponent = about(s, reference)
    state["count"] += s.count
    state["weight"] += s.mass
    state["sum"] += s.count * (s.mean - reference)
    state["wsum"] += np.ldexp(first, exponent)
    state["wscatter"] += np.ldexp(scatter, 2 * exponent)


def tree(items, pair):
    """Combine ``items`` pairwise, level by level, into one.

    Parameters
    ----------
    items : list
        At least one.
    pair : callable
        ``pair(a, b)``: plain :func:`combine`, or a deferred version of it
        (a dask task), which makes this the graph of a tree reduction.

    Returns
    -------
    root
    """
    items = list(items)
    while len(items) > 1:
        items = [pair(items[i], items[i + 1]) if i + 1 < len(items) else items[i]
                 for i in range(0, len(items), 2)]
    return items[0]
