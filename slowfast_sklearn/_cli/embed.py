"""The ``embed`` subcommand: check, read, fit, transform, write."""

import sys
import time
import warnings

import numpy as np

from .io import check_output_path, delimiter_option, read_matrix, write_features
from .options import embed_options

__all__ = ["add_embed_parser", "run_embed"]


def add_embed_parser(sub):
    """Add the ``embed`` subcommand to the subparsers ``sub`` and return it.

    One option per estimator parameter (``--n-components`` for
    ``n_components``, ...), with the estimator's defaults (except
    ``--random-state 0``) and its allowed values.
    """
    embed = sub.add_parser(
        "embed",
        help="fit CoupledFlowEmbedding on a CSV or .npy file and write the features",
        description=(
            "Fit CoupledFlowEmbedding on the samples (rows) of INPUT and write their "
            "features to OUTPUT. Errors on unreadable or non-numeric files are reported "
            "in one line with exit status 1, before anything is fitted."
        ),
    )
    embed.add_argument(
        "input", metavar="INPUT",
        help="samples x features: a .npy file (2-D numeric array; float32 stays float32) or "
        "a CSV file; a first row with a blank or non-numeric cell is read as a header, and a "
        "blank first header cell (pandas' to_csv index) marks a column of row labels, dropped",
    )
    embed.add_argument(
        "-o", "--output", metavar="OUTPUT", required=True,
        help="where to write the features: .npy for a NumPy array (of the input's float "
        "dtype), any other name for CSV with a header row of feature names "
        "(coupledflowembedding0, ...)",
    )
    embed.add_argument(
        "--delimiter", default="auto", metavar="SEP",
        type=delimiter_option,
        help="CSV cell separator: one character, 'tab', 'space' (runs of whitespace) or "
        "'auto', which picks the one of , ; tab | whitespace that reads the first lines as "
        "an even table of numbers (default: auto)",
    )
    for name, flag, spec in embed_options():
        embed.add_argument(flag, dest=name, **spec)
    return embed


def _estimator_from_args(args):
    from slowfast_sklearn import CoupledFlowEmbedding

    names = CoupledFlowEmbedding().get_params()
    return CoupledFlowEmbedding(**{k: getattr(args, k) for k in names if hasattr(args, k)})


def run_embed(args, out=None, err=None):
    """The ``embed`` subcommand: check, read, fit, transform, write.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of the ``embed`` subcommand.
    out, err : file-like, default=None
        Where the summary line and the warnings/errors go; None means
        ``sys.stdout`` and ``sys.stderr``.

    Returns
    -------
    status : int
        0 on success, 1 when the input cannot be read or fitted or the
        output cannot be written (checked before the fit).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    delimiter = args.delimiter
    if delimiter not in ("auto", None) and len(delimiter) != 1:
        print(f"error: --delimiter must be one character, 'tab', 'space' or 'auto', got "
              f"{delimiter!r}", file=err)
        return 1
    try:
        check_output_path(args.output)
        X, columns = read_matrix(args.input, delimiter)
        _warn_row_numbers(X, columns, err)
        est = _estimator_from_args(args)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # geomstats' import-time ImportWarning is not about the fit.
            warnings.simplefilter("ignore", ImportWarning)
            start = time.perf_counter()
            features = est.fit_transform(X)
            seconds = time.perf_counter() - start
        for w in caught:
            # One line per warning (a ConvergenceWarning, say), no source line.
            print(f"warning: {w.category.__name__}: {' '.join(str(w.message).split())}",
                  file=err)
        write_features(args.output, features, est.get_feature_names_out())
    except (ValueError, TypeError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=err)
        return 1
    print(
        f"read {X.shape[0]} x {X.shape[1]}, "
        f"wrote {features.shape[0]} x {features.shape[1]} {features.dtype} features to "
        f"{args.output} (fit {seconds:.2f} s, {est.n_iter_} iteration"
        f"{'s' if est.n_iter_ != 1 else ''}, converged={est.converged_})",
        file=out,
    )
    return 0


def _warn_row_numbers(X, columns, err):
    """A named first column holding 0, 1, ..., n-1 is likely an index saved
    under a name (pandas: ``df.index.name = "id"``): say so, keep it."""
    if X.ndim != 2 or X.shape[0] < 2 or not columns or not columns[0]:
        return
    if np.array_equal(X[:, 0], np.arange(X.shape[0])):
        print(f"warning: column 1 ({columns[0]!r}) holds the row numbers 0, 1, ..., "
              f"{X.shape[0] - 1} and is fitted as a feature; if it is an index, write the file "
              "without it (pandas: to_csv(index=False)) or with a blank header cell above it",
              file=err)
