"""The command line's files: paths checked before a fit, matrices read, features written.

Errors are :class:`InputError`, whose message says what is wrong and what to
change; the command prints it on one line.
"""

import csv
import os

import numpy as np

__all__ = ["InputError", "check_output_path", "check_plot_path", "delimiter_option",
           "read_matrix", "write_features"]


class InputError(ValueError):
    """A file or path the command cannot use (the message says why and what to do)."""


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


def delimiter_option(text):
    """``--delimiter``'s word (``tab``, ``space``, a character or ``auto``) to
    what :func:`read_matrix` takes (None: runs of whitespace)."""
    return _DELIMITER_NAMES.get(text.lower(), text)


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
