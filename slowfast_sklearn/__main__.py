"""Command line: ``python -m slowfast_sklearn {demo,embed}``.

``demo [--plot FILE]`` fits PCA, FastICA and :class:`CoupledFlowEmbedding` on
scikit-learn's bundled digits data and prints one table row per method.

``embed INPUT -o OUTPUT [options]`` fits :class:`CoupledFlowEmbedding` on the
samples of a CSV or ``.npy`` file and writes their features to a CSV (with the
feature names as header) or ``.npy`` file.  Every estimator parameter is an
option; the options and their choices are read off the estimator's
``get_params`` and ``_parameter_constraints``.

Only what every command needs is imported here; the demo's data sets,
decompositions and matplotlib are imported inside the demo, so that
``embed`` on flat data starts as fast as ``import slowfast_sklearn``.
"""

import argparse
import csv
import os
import sys
import time
import warnings

import numpy as np


class InputError(ValueError):
    """A file or path the command cannot use (the message says why and what to do)."""


# -- The demo ----------------------------------------------------------------


def _orthogonality_defect(components):
    """``||V V^T - I||_F`` of the rows of ``components`` (normalised for ICA)."""
    k = components.shape[0]
    return float(np.linalg.norm(components @ components.T - np.eye(k)))


def _decorrelation(features):
    """Largest absolute off-diagonal correlation between features."""
    if features.shape[1] < 2:
        return 0.0
    corr = np.corrcoef(features, rowvar=False)
    return float(np.max(np.abs(corr - np.diag(np.diag(corr)))))


def _demo_methods(n_components, random_state):
    from sklearn.decomposition import PCA, FastICA
    from sklearn.pipeline import make_pipeline

    from slowfast_sklearn import CoupledFlowEmbedding

    return {
        "PCA": PCA(n_components, svd_solver="full"),
        # FastICA's own whitening (scikit-learn 1.9.1) returns perfectly
        # correlated sources on digits; whitening with PCA first is the same
        # model and behaves.
        "FastICA": make_pipeline(
            PCA(n_components, whiten=True),
            FastICA(whiten=False, random_state=random_state),
        ),
        "CoupledFlowEmbedding": CoupledFlowEmbedding(n_components, random_state=random_state),
    }


def _basis_and_defect(name, est):
    """An orthonormal basis of the learned span, and the defect of its axes."""
    if name == "FastICA":
        pca, ica = est[0], est[1]
        unmixing = ica.components_ @ (pca.components_ / np.sqrt(pca.explained_variance_)[:, None])
        # ICA's unmixing rows are not orthonormal; compare their span.
        rows = unmixing / np.linalg.norm(unmixing, axis=1, keepdims=True)
        return np.linalg.qr(unmixing.T)[0], _orthogonality_defect(rows)
    return est.components_.T, _orthogonality_defect(est.components_)


def fit_demo(n_components=2, random_state=0):
    """Fit the three methods of the demo on digits and measure them.

    Parameters
    ----------
    n_components : int, default=2
        Number of features each method learns.
    random_state : int, default=0
        Seed for FastICA and CoupledFlowEmbedding.

    Returns
    -------
    rows : list of dict
        One dict per method: ``method``, ``fit_seconds``, ``angle_to_pca``
        (largest principal angle to PCA's subspace, radians),
        ``orthogonality_defect``, ``max_feature_correlation``,
        ``probe_accuracy`` (5-fold logistic regression) and ``converged``.
    fitted : dict
        Method name -> (fitted estimator, features of shape (1797, n_components)).
    y : ndarray of shape (1797,)
        The digit classes.
    """
    from scipy.linalg import subspace_angles
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from slowfast_sklearn import CoupledFlowEmbedding

    X, y = load_digits(return_X_y=True)
    methods = _demo_methods(n_components, random_state)
    # Untimed warm-up: the first timed fit would otherwise carry the
    # process's start-up costs (BLAS initialisation, lazy imports).
    methods["PCA"].fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        CoupledFlowEmbedding(n_components, max_iter=100, random_state=0).fit(X[:200])
    reference, rows, fitted = None, [], {}
    for name, est in methods.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            start = time.perf_counter()
            features = est.fit_transform(X)
            seconds = time.perf_counter() - start
        basis, defect = _basis_and_defect(name, est)
        reference = basis if reference is None else reference
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        rows.append({
            "method": name,
            "fit_seconds": seconds,
            "angle_to_pca": float(np.max(subspace_angles(basis, reference))),
            "orthogonality_defect": defect,
            "max_feature_correlation": _decorrelation(features),
            "probe_accuracy": float(cross_val_score(probe, features, y, cv=5).mean()),
            "converged": not any(issubclass(w.category, ConvergenceWarning) for w in caught),
        })
        fitted[name] = (est, features)
    return rows, fitted, y


def _print_table(rows, n_samples, n_features, n_components, out):
    print(
        f"digits: {n_samples} samples x {n_features} features, n_components={n_components}\n"
        f"{'method':<22}{'fit (s)':>9}{'angle to PCA (rad)':>20}{'||VV^T-I||_F':>14}"
        f"{'max |corr|':>12}{'5-fold LR acc':>15}{'converged':>11}",
        file=out,
    )
    for r in rows:
        print(
            f"{r['method']:<22}{r['fit_seconds']:>9.3f}{r['angle_to_pca']:>20.2e}"
            f"{r['orthogonality_defect']:>14.1e}{r['max_feature_correlation']:>12.1e}"
            f"{r['probe_accuracy']:>15.3f}{str(r['converged']):>11}",
            file=out,
        )


def run_demo(n_components=2, random_state=0, plot=None, out=sys.stdout):
    """Fit PCA, FastICA and CoupledFlowEmbedding on digits and print a table.

    Parameters
    ----------
    n_components : int, default=2
        Number of features each method learns.
    random_state : int, default=0
        Seed for FastICA and CoupledFlowEmbedding.
    plot : str or None, default=None
        Path of an image (PNG, or any format matplotlib writes, by the
        extension) with the three embeddings and the Lyapunov terms; see
        :func:`demo_figure`.  Checked before anything is fitted.
    out : file-like, default=sys.stdout
        Where the table goes.

    Returns
    -------
    rows : list of dict
        One dict per method with the printed figures (see :func:`fit_demo`).

    Raises
    ------
    InputError
        If ``plot`` cannot be written (missing directory, no permission,
        unknown image format) or matplotlib is not installed.
    """
    if plot is not None:
        check_plot_path(plot)
    rows, fitted, y = fit_demo(n_components, random_state)
    n_features = fitted["PCA"][0].n_features_in_
    _print_table(rows, y.shape[0], n_features, n_components, out)
    if plot is not None:
        save_figure(demo_figure(fitted, y, rows), plot)
        print(f"figure written to {plot}", file=out)
    return rows


def save_figure(fig, path, dpi=100):
    """Save ``fig``; a PNG goes through a 256-colour palette (a third of the size).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure; closed afterwards.
    path : str or path-like
        Target; the format follows the extension (PNG without one).
    dpi : float, default=100
        Resolution: the demo figure is 11 x 8.6 inches.

    Raises
    ------
    InputError
        If the file cannot be written.
    """
    import io

    import matplotlib.pyplot as plt

    try:
        extension = os.path.splitext(os.fspath(path))[1].lower()
        if extension in ("", ".png"):
            from PIL import Image  # a dependency of matplotlib's

            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=dpi)
            image = Image.open(buffer).convert("RGB").quantize(256)
            image.save(path, format="png", optimize=True)
        else:
            fig.savefig(path, dpi=dpi)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


# -- The demo figure ---------------------------------------------------------

#: What each method's features are, for the axis labels.
_FEATURE_UNITS = {
    "PCA": "projection on principal axis {i} (pixel intensity, 0-16 scale)",
    "FastICA": "independent source {i} (unit variance)",
    "CoupledFlowEmbedding": "projection on learned axis {i} (pixel intensity, 0-16 scale)",
}

_PANEL_TITLES = {
    "PCA": "PCA: exact top principal axes",
    "FastICA": "FastICA on PCA-whitened data",
    "CoupledFlowEmbedding": "CoupledFlowEmbedding: walkers + Sanger rule",
}


def _scatter_panel(ax, name, features, y, row):
    import matplotlib.pyplot as plt

    label = _FEATURE_UNITS.get(name, "feature {i}")
    if features.shape[1] > 1:
        ax.scatter(features[:, 0], features[:, 1], c=y, cmap="tab10", vmin=-0.5, vmax=9.5,
                   s=3, linewidths=0)
        ax.set_ylabel(label.format(i=2))
    else:  # one feature: spread the classes along y
        ax.scatter(features[:, 0], y + np.linspace(-0.3, 0.3, y.shape[0]), c=y, cmap="tab10",
                   vmin=-0.5, vmax=9.5, s=3, linewidths=0)
        ax.set_yticks(range(10))
        ax.set_ylabel("digit class")
    ax.set_xlabel(label.format(i=1))
    note = "" if name == "PCA" else f", angle to PCA {row['angle_to_pca']:.1e} rad"
    ax.set_title(f"{_PANEL_TITLES.get(name, name)}\nprobe accuracy "
                 f"{row['probe_accuracy']:.3f}{note}", fontsize=10)
    ax.tick_params(labelsize=8)
    plt.setp(ax.spines.values(), linewidth=0.6)


#: Lyapunov terms (columns of ``lyapunov_``): symbol, name, colour.
_LYAPUNOV_TERMS = [
    (r"$\mathrm{KL}(\rho_t\,\|\,\pi)$", "walkers' law to $\\pi$", "tab:green"),
    (r"$\|W^\top W - I\|_F^2$", "orthogonality defect", "tab:blue"),
    (r"$\Sigma_{i\leq k}\,\lambda_i - \mathrm{tr}(P_W C_\pi)$", "subspace gap", "tab:orange"),
]


def _lyapunov_panel(ax, est):
    steps, terms = est.lyapunov_steps_, est.lyapunov_
    title = "CoupledFlowEmbedding: Lyapunov terms during the fit"
    for j, (symbol, name, colour) in enumerate(_LYAPUNOV_TERMS):
        values = terms[:, j]
        if np.all(values == 0):
            # Nothing to draw on a log scale: say so, and why, on the panel.
            title += f"\n{symbol} = 0 at every checkpoint (not drawn)"
            if j == 0 and getattr(est, "temperature", 1.0) == 1.0:
                title += (": the walkers start on the samples,\nwhose uniform law is $\\pi$ "
                          "at temperature 1")
                lifetime = getattr(est, "walker_lifetime_", None)
                title += f", and are reborn from $\\pi$ every {lifetime} updates" * bool(lifetime)
            continue
        ax.semilogy(steps, np.where(values > 0, values, np.nan), color=colour,
                    label=f"{name} {symbol}", marker="o", markersize=3, linewidth=1.2)
    total = terms.sum(axis=1)
    ax.semilogy(steps, np.where(total > 0, total, np.nan), color="k", linestyle="--",
                linewidth=1, label="sum: the Lyapunov functional")
    ax.set_ylim(top=1e3 * np.nanmax(total))  # room for the legend above the curves
    ax.axvline(est.n_iter_, color="grey", linewidth=0.8, linestyle=":")
    stop = "converged" if est.converged_ else "stopped at max_iter"
    ax.text(est.n_iter_, 0.02, f"{stop} ", transform=ax.get_xaxis_transform(),
            ha="right", va="bottom", fontsize=8, color="grey")
    ax.set_xlabel("weight update (Hebbian step of the slow process)")
    ax.set_ylabel("term value (log scale; coordinates scaled to $\\lambda_1 = 1$)", fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7.5, loc="upper right", framealpha=0.9)
    ax.tick_params(labelsize=8)


def demo_figure(fitted, y, rows):
    """The demo's figure: each method's first two features and the Lyapunov terms.

    Parameters
    ----------
    fitted : dict
        Method name -> (fitted estimator, features), as returned by
        :func:`fit_demo`; must hold ``"CoupledFlowEmbedding"``.
    y : ndarray of shape (n_samples,)
        Digit classes, 0-9, for the colours.
    rows : list of dict
        The table rows of :func:`fit_demo` (angle and probe accuracy go in
        the panel titles), in the order of ``fitted``.

    Returns
    -------
    fig : matplotlib.figure.Figure
        A 2 x 2 grid: one scatter panel per method (colour = digit class,
        legend on the right), then the three Lyapunov terms of
        CoupledFlowEmbedding against the weight update, with a note on the
        panel for a term that is identically 0.
    """
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(2, 2, figsize=(11, 8.6), layout="constrained")
    for ax, row, (name, (_, features)) in zip(axes.flat, rows, fitted.items()):
        _scatter_panel(ax, name, features, y, row)
    _lyapunov_panel(axes.flat[3], fitted["CoupledFlowEmbedding"][0])
    cmap = plt.get_cmap("tab10")
    handles = [Line2D([], [], linestyle="", marker="o", color=cmap(c), label=str(c))
               for c in range(10)]
    fig.legend(handles=handles, title="digit\nclass", loc="outside right upper", fontsize=9)
    k = fitted["CoupledFlowEmbedding"][1].shape[1]
    fig.suptitle(
        f"digits ({y.shape[0]} images of 8 x 8 pixels): {k} feature{'s' if k != 1 else ''} "
        f"per method{', first 2 shown' if k > 2 else ''}; colour = digit class",
        fontsize=11,
    )
    return fig


# -- Paths and files ----------------------------------------------------------


def check_output_path(path):
    """Fail now, not after the fit, when ``path`` cannot be written.

    Parameters
    ----------
    path : str or path-like
        A file to create or overwrite.

    Raises
    ------
    InputError
        If ``path`` is a directory, its directory does not exist, or
        it (or its directory) is not writable.
    """
    path = os.fspath(path)
    if not path:
        raise InputError("the output path is empty; name a file")
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InputError(f"cannot write {path}: it is a directory; name a file in it")
    if not os.path.exists(parent):
        raise InputError(
            f"cannot write {path}: directory {parent} does not exist; create it first "
            "or choose another path"
        )
    if not os.path.isdir(parent):
        raise InputError(f"cannot write {path}: {parent} is a file, not a directory")
    target = path if os.path.exists(path) else parent
    if not os.access(target, os.W_OK | (os.X_OK if target == parent else 0)):
        raise InputError(f"cannot write {path}: permission denied; choose a writable location")


def check_plot_path(path):
    """:func:`check_output_path`, and an image format matplotlib can write.

    Parameters
    ----------
    path : str or path-like
        The image to write; its extension names the format (PNG without one).

    Raises
    ------
    InputError
        If ``path`` cannot be written, its extension is not a format of
        matplotlib's, or matplotlib is not installed.
    """
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise InputError(
            "--plot needs matplotlib: pip install matplotlib (or the 'examples' extra)"
        ) from None
    check_output_path(path)
    extension = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    formats = FigureCanvasBase.get_supported_filetypes()
    if extension and extension not in formats:
        raise InputError(
            f"cannot write {path}: matplotlib does not write .{extension} images; "
            f"use one of {', '.join('.' + f for f in sorted(formats))} (e.g. .png)"
        )


def _is_npy(path):
    return os.fspath(path).lower().endswith(".npy")


def _read_npy(path):
    try:
        X = np.load(path, allow_pickle=False)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InputError(
            f"{path} is not a readable .npy file ({exc}); save it with numpy.save(path, X)"
        ) from None
    if X.ndim != 2:
        raise InputError(
            f"{path} holds a {X.ndim}-D array; expected 2-D (samples x features): "
            "reshape it, e.g. X.reshape(len(X), -1)"
        )
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool) or np.iscomplexobj(X):
        raise InputError(f"{path} holds {X.dtype} data; expected real numbers")
    bad = np.argwhere(~np.isfinite(X)) if X.dtype.kind == "f" else ()
    if len(bad):
        i, j = bad[0]
        raise InputError(
            f"{path}: X[{i}, {j}] is {X[i, j]} ({len(bad)} non-finite entries); the fit needs "
            "finite numbers: impute or drop them first (e.g. sklearn.impute.SimpleImputer)"
        )
    return X


#: Delimiters tried when none is given, in order of preference; ``None``
#: splits on runs of whitespace (numpy.savetxt's default).
_DELIMITERS = (",", ";", "\t", "|", None)
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "space": None, "whitespace": None}


def _delimiter_name(delimiter):
    return {None: "whitespace", "\t": "tab"}.get(delimiter, repr(delimiter))


def _split(lines, delimiter):
    """(line number, cells) of each non-blank line."""
    if delimiter is None:
        rows = ((n, line.split()) for n, line in enumerate(lines, 1))
    else:
        reader = csv.reader(lines, delimiter=delimiter, skipinitialspace=True)
        rows = ((reader.line_num, row) for row in reader)
    return [(n, row) for n, row in rows if any(c.strip() for c in row)]


def _sniff_delimiter(sample):
    """The delimiter under which ``sample`` (a list of lines) reads as the
    most consistent, most numeric table; ',' when nothing fits better."""
    def score(delimiter):
        rows = [row for _, row in _split(sample, delimiter)]
        body = rows[1:] or rows
        if not body or len({len(row) for row in body}) != 1:
            return (False, 0.0, 0)
        cells = [c for row in body for c in row]
        if delimiter != ",":  # decimal commas: right delimiter, error on the cells
            cells = [c.replace(",", ".") for c in cells]
        return (True, sum(map(_is_number, cells)) / len(cells), len(body[0]))
    return max(_DELIMITERS, key=score)  # the first of equal scores


def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_range(cells):
    return cells == [str(j) for j in range(len(cells))]


def _header_and_index(rows):
    """Split off a header row and a pandas index column (blank header cell).

    A first row with a non-numeric cell is a header.  pandas' ``to_csv``
    writes the index first, under a blank header cell, and a frame's
    default column names 0, 1, ...: a first row ``0,1,...`` over rows with
    a fractional number is such a header; a blank cell in a row of numbers
    is a missing value instead.
    """
    columns = [c.strip() for c in rows[0][1]]
    names = columns[1:]
    index = not columns[0] and bool(names) and all(names) and (
        not all(map(_is_number, names)) or _is_range(names)
    )
    fractional = any(not c.strip().lstrip("+-").isdigit() for _, row in rows[1:21] for c in row)
    default_names = _is_range(columns) and fractional
    if not (index or default_names) and all(not c or _is_number(c) for c in columns):
        return None, rows, False
    if index:
        columns = columns[1:]
        rows = [(n, row[1:]) for n, row in rows]
    return columns, rows[1:], index


def _cell_hint(cell, column, delimiter, has_index):
    """What to change when ``cell`` is not a number."""
    text = cell.strip()
    if not text:
        return "fill in or drop the missing values first"
    others = [d for d in _DELIMITERS if d and d != delimiter and d in text]
    if delimiter == ";" and "," in text and _is_number(text.replace(",", ".")):
        return "decimal commas are not read: write '.' decimals (pandas: to_csv(decimal='.'))"
    if others:
        return (f"the file was read as {_delimiter_name(delimiter)}-separated; if it is "
                f"{others[0]!r}-separated, pass --delimiter '{others[0]}'")
    if column == 1 and not has_index:
        return ("if column 1 holds row labels, write the file without them "
                "(pandas: to_csv(index=False)) or with a blank header cell above them")
    return "every cell below the header must be a number"


def _parse_rows(path, rows, delimiter, has_index):
    width = len(rows[0][1])
    for line, row in rows:
        if len(row) != width:
            raise InputError(
                f"{path}, line {line}: {len(row)} cells, expected {width} "
                f"({_delimiter_name(delimiter)}-separated; every row needs the same "
                "number of columns)"
            )
    try:
        return np.array([row for _, row in rows], dtype=str).astype(np.float64)
    except ValueError:
        pass
    for line, row in rows:  # find the first bad cell, to say where it is
        for j, cell in enumerate(row, 1 + has_index):
            if not _is_number(cell):
                raise InputError(
                    f"{path}, line {line}, column {j}: {cell.strip()!r} is not a number; "
                    + _cell_hint(cell, j, delimiter, has_index)
                )
    raise AssertionError("unreachable: numpy and float() disagree")  # pragma: no cover


def _read_csv(path, delimiter):
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            lines = handle.read().splitlines(keepends=True)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(
            f"{path} is not a UTF-8 text (CSV) file; give a CSV file or a .npy file "
            "(numpy.save)"
        ) from None
    if delimiter == "auto":
        delimiter = _sniff_delimiter([line for line in lines if line.strip()][:20])
    try:
        rows = _split(lines, delimiter)
    except csv.Error as exc:
        raise InputError(f"{path} is not valid CSV: {exc}") from None
    if not rows:
        raise InputError(f"{path} is empty; write one sample per row")
    columns, rows, has_index = _header_and_index(rows)
    if not rows:
        raise InputError(f"{path} has a header but no data rows; write one sample per row")
    if columns is not None and len(columns) != len(rows[0][1]):
        raise InputError(
            f"{path}: the header has {len(columns)} names but line {rows[0][0]} has "
            f"{len(rows[0][1])} cells, read as {_delimiter_name(delimiter)}-separated; give "
            "every column one name, or name the separator with --delimiter"
        )
    X = _parse_rows(path, rows, delimiter, has_index)
    bad = np.argwhere(~np.isfinite(X))
    if len(bad):
        i, j = bad[0]
        raise InputError(
            f"{path}, line {rows[i][0]}, column {j + 1 + has_index} is {X[i, j]} "
            f"({len(bad)} non-finite cells); the fit needs finite numbers: impute or drop "
            "them first (e.g. sklearn.impute.SimpleImputer)"
        )
    return X, columns


def read_matrix(path, delimiter="auto"):
    """Read a 2-D numeric array from a ``.npy`` or a CSV file.

    A CSV file may start with a header row: the first row is taken as column
    names when any of its cells is blank or not a number.  A header whose
    first cell is blank (pandas' ``to_csv`` with its index) marks the first
    column as row labels, which are dropped.  Every other row must hold the
    same number of numeric cells.

    Parameters
    ----------
    path : str
        File to read; ``.npy`` (case-insensitive) is loaded with
        :func:`numpy.load` (no pickles), anything else is parsed as CSV.
    delimiter : str or None, default="auto"
        CSV cell separator; ``"auto"`` picks, from the first 20 lines, the
        one of ``, ; tab |`` or whitespace under which the rows have equal
        lengths and the most numeric cells.  None splits on runs of
        whitespace.  Ignored for ``.npy``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The samples: float64 from CSV, the stored dtype from ``.npy``.
    columns : list of str or None
        The header's column names (without the index column's), or None
        when the file has no header.

    Raises
    ------
    InputError
        If the file cannot be read or does not hold a 2-D matrix of finite
        numbers; the message names the line and column and what to change.
    """
    if _is_npy(path):
        return _read_npy(path), None
    return _read_csv(path, delimiter)


def write_features(path, features, names):
    """Write features to ``.npy`` or to CSV with a header of feature names.

    Parameters
    ----------
    path : str
        Output file; ``.npy`` writes a NumPy array of ``features``' dtype,
        any other name a CSV file (each number in the shortest form that
        reads back to the same value of that dtype).
    features : ndarray of shape (n_samples, n_components)
        The features.
    names : array-like of str of shape (n_components,)
        Column names for the CSV header.

    Raises
    ------
    InputError
        If the file cannot be written.
    """
    try:
        if _is_npy(path):
            np.save(path, features)
        else:
            with open(path, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(list(names))
                writer.writerows(features.astype(str).tolist())
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


# -- Options from the estimator's parameters ---------------------------------

#: What each parameter means, for ``--help`` (choices and defaults are
#: appended from the estimator).
_HELP = {
    "n_components": "number of features to learn; a number in (0, 1) keeps the fewest whose "
    "share of the variance exceeds it, 'all' keeps min(n_samples, dim)",
    "manifold": "where the samples live: euclidean, hypersphere (unit-norm rows), "
    "poincare_ball (rows of norm < 1) or spd (rows of p*p entries of SPD matrices)",
    "kernel": "fast process: graph (Metropolised walk on the kNN graph of the samples, exact "
    "stationary law) or langevin (Riemannian Langevin walkers on a kernel density; use a few "
    "hundred walkers)",
    "rule": "Hebbian rule of the slow process: sanger (ordered components), oja (orthonormal "
    "basis of the subspace); hebbian and trace are ablations that explode or collapse",
    "temperature": "temperature of the spatial measure q**(1/T): T > 1 flattens it, T < 1 "
    "concentrates it on dense regions, 1 weighs every sample equally",
    "n_neighbors": "neighbours per sample in the walkers' kNN graph",
    "n_walkers": "number of walkers (the fast process); each weight update averages over them",
    "walk_steps": "walker moves per weight update (the time-scale separation)",
    "walker_lifetime": "weight updates after which all walkers are reborn from the stationary "
    "measure; 'none' keeps them for the whole run (the paper's pure flow)",
    "learning_rate": "step size of the weights in units of 1/lambda_1: 'auto' (0.2) or a "
    "number in (0, 1)",
    "solver": "integrator of the coupled flow: stochastic (walkers), mean_field (their exact "
    "law) or averaged (the averaged flow: deterministic, fast, for large data)",
    "max_iter": "most weight updates (iterations for the averaged solver)",
    "tol": "convergence threshold in radians, or 'auto' (0.03 for the stochastic solver, 1e-6 "
    "for the deterministic ones)",
    "whiten": "scale each feature to unit variance under the spatial measure",
    "random_state": "seed of the walkers and initial weights; the same seed gives the same "
    "output; 'none' draws a fresh one",
    "verbose": "progress: N > 0 prints one line per checkpoint of the fit to standard output",
}
_METAVARS = {"n_components": "K", "temperature": "T", "learning_rate": "ETA", "tol": "RAD",
             "random_state": "SEED", "walker_lifetime": "UPDATES", "verbose": "N"}
#: How the command line spells None, where a parameter accepts it.
_NONE_WORDS = {"n_components": "all"}
#: Command-line defaults that differ from the estimator's: reproducible by default.
_CLI_DEFAULTS = {"random_state": 0}


def _flat_constraints(constraints):
    """sklearn constraint objects, composite ones (random_state, verbose) unpacked."""
    from sklearn.utils._param_validation import make_constraint

    flat = []
    for constraint in constraints:
        constraint = make_constraint(constraint)
        flat.extend(getattr(constraint, "_constraints", [constraint]))
    return flat


def _value_type(name, words, intervals, none_word):
    """An argparse ``type``: a command-line word to a value the estimator accepts."""
    from numbers import Integral

    expected = [str(c) for c in intervals] + [repr(w) for w in sorted(words)]
    expected += [repr(none_word)] if none_word else []
    expected = ", ".join(expected[:-1]) + " or " * (len(expected) > 1) + expected[-1]

    def parse(text):
        if text in words:
            return text
        if none_word is not None and text == none_word:
            return None
        for interval in sorted(intervals, key=lambda c: c.type is not Integral):
            try:
                value = int(text) if interval.type is Integral else float(text)
            except ValueError:
                continue
            if interval.is_satisfied_by(value):
                return value
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")

    parse.__name__ = name  # argparse names the option's type in its errors
    return parse


def _option_spec(name, constraints, default):
    """(flag, ``add_argument`` keywords) for one parameter, or None if no
    command-line word can spell it (a geomstats space object, say)."""
    from sklearn.utils._param_validation import Interval, StrOptions

    flat = _flat_constraints(constraints)
    words = set().union(*[c.options - c.deprecated for c in flat if isinstance(c, StrOptions)])
    intervals = [c for c in flat if isinstance(c, Interval)]
    takes_none = any(c.is_satisfied_by(None) for c in flat)
    none_word = _NONE_WORDS.get(name, "none") if takes_none else None
    shown = none_word if default is None else default
    spec = {"default": default, "help": _HELP.get(name, f"the estimator's {name} parameter")}
    if words and not intervals and not takes_none:
        # default first, then the others: a new option shows up here.
        spec["choices"] = sorted(words, key=lambda w: (w != default, w))
    elif words or intervals:
        spec["type"] = _value_type(name, words, intervals, none_word)
        spec["metavar"] = _METAVARS.get(name, "N" if not words else name.upper())
    elif any(c.is_satisfied_by(True) for c in flat):
        # A switch that turns the default over: --whiten, or --no-<name>.
        flag = ("--" if default is False else "--no-") + name.replace("_", "-")
        return flag, {**spec, "action": "store_false" if default else "store_true"}
    else:
        return None
    spec["help"] += f" (default: {shown})"
    return "--" + name.replace("_", "-"), spec


def _embed_options():
    """(parameter name, flag, add_argument keywords) for each parameter the
    command line can spell, in the order of the estimator's signature."""
    import inspect

    from slowfast_sklearn import CoupledFlowEmbedding

    defaults = CoupledFlowEmbedding().get_params()
    defaults.update(_CLI_DEFAULTS)
    constraints = CoupledFlowEmbedding._parameter_constraints
    order = list(inspect.signature(CoupledFlowEmbedding).parameters)
    options = []
    for name in sorted(defaults, key=lambda n: order.index(n) if n in order else len(order)):
        spec = _option_spec(name, constraints.get(name, []), defaults[name])
        if spec is not None:
            options.append((name, *spec))
    return options


def _add_embed_parser(sub):
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
        type=lambda s: _DELIMITER_NAMES.get(s.lower(), s),
        help="CSV cell separator: one character, 'tab', 'space' (runs of whitespace) or "
        "'auto', which picks the one of , ; tab | whitespace that reads the first lines as "
        "an even table of numbers (default: auto)",
    )
    for name, flag, spec in _embed_options():
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
        X, _ = read_matrix(args.input, delimiter)
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
        f"wrote {features.shape[0]} x {features.shape[1]} {features.dtype} features to "
        f"{args.output} (fit {seconds:.2f} s, {est.n_iter_} iteration"
        f"{'s' if est.n_iter_ != 1 else ''}, converged={est.converged_})",
        file=out,
    )
    return 0


def main(argv=None):
    """Entry point of ``python -m slowfast_sklearn``.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments after the program name; None reads ``sys.argv``.

    Returns
    -------
    status : int
        Exit status: 0 on success, 1 for a file, path or fit error (one
        ``error:`` line on standard error); argparse exits with 2 on a
        malformed option.
    """
    parser = argparse.ArgumentParser(
        prog="python -m slowfast_sklearn",
        description="Coupled slow-fast Hebbian feature extraction (CoupledFlowEmbedding).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="compare PCA, FastICA and CoupledFlowEmbedding on the bundled digits data"
    )
    demo.add_argument("--n-components", type=int, default=2, help="features to learn (default 2)")
    demo.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    demo.add_argument(
        "--plot", metavar="FILE",
        help="write an image (.png, .svg, .pdf, ...) of the embeddings and the Lyapunov terms; "
        "the path is checked before anything is fitted (needs matplotlib)",
    )
    _add_embed_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "demo":
        try:
            run_demo(args.n_components, args.random_state, args.plot)
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    return run_embed(args)


if __name__ == "__main__":
    sys.exit(main())
