"""The command line, run as a user would: ``python -m slowfast_sklearn {embed,demo}``.

Subprocesses where the exit status, the absence of a traceback or the
imports of a fresh process are the point; ``main`` in-process elsewhere, to
keep the suite fast.
"""

import argparse
import csv
import os
import re
import subprocess
import sys
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from slowfast_sklearn._cli import demo as cli_demo
from slowfast_sklearn._cli import embed as cli_embed
from slowfast_sklearn._cli import figure as cli_figure
from slowfast_sklearn._cli import io as cli_io
from slowfast_sklearn import CoupledFlowEmbedding
from slowfast_sklearn.__main__ import _add_embed_parser, main

#: Small budget: enough to converge on the data below, fast in a subprocess.
BUDGET = ["--max-iter", "1500", "--n-walkers", "512"]


def _assert_same_features(actual, expected):
    """The CLI and the library run the same code on the same numbers; only
    BLAS rounding (thread count, blocking) may differ between the two
    processes, and the contracting dynamics keep it far below this bound:
    1e-9 of the features' scale in float64, 1e-4 in float32 (eps 1.2e-7,
    amplified by the fit)."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    scale = np.abs(expected).max()
    bound = 1e-9 if expected.dtype == np.float64 else 1e-4
    np.testing.assert_allclose(actual, expected, rtol=0, atol=bound * scale)


def _parser():
    return _add_embed_parser(argparse.ArgumentParser().add_subparsers())


def _run(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "slowfast_sklearn", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )


@pytest.fixture(scope="module")
def data():
    """300 x 5 Gaussian samples with a clear top-2 subspace, off the coordinate axes."""
    rng = np.random.default_rng(0)
    rotation = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    return (rng.standard_normal((300, 5)) * np.sqrt([6.0, 3.0, 1.0, 0.5, 0.3])) @ rotation.T + 2.0


def test_csv_with_header_to_csv(tmp_path, data):
    """A CSV with a header gives a CSV of named features equal to the library's output."""
    source = tmp_path / "in.csv"
    with open(source, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"col {j}" for j in range(data.shape[1])])
        writer.writerows(data.tolist())
    target = tmp_path / "out.csv"
    result = _run("embed", source, "-o", target, "--random-state", 3, *BUDGET)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # converged: no warning line
    assert f"wrote 300 x 2 float64 features to {target}" in result.stdout

    with open(target, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["coupledflowembedding0", "coupledflowembedding1"]
    features = np.array(rows[1:], dtype=float)
    expected = CoupledFlowEmbedding(
        n_components=2, random_state=3, max_iter=1500, n_walkers=512
    ).fit_transform(data)
    # Numbers are written in their shortest round-tripping form.
    _assert_same_features(features, expected)


def test_npy_to_npy_with_options(tmp_path, data):
    """.npy in and out; every estimator option reaches the estimator."""
    source, target = tmp_path / "in.npy", tmp_path / "out.npy"
    np.save(source, data)
    options = dict(
        n_components=3, temperature=0.7, rule="oja", n_neighbors=12, n_walkers=256,
        learning_rate=0.1, max_iter=800, tol=0.05, random_state=1,
    )
    argv = ["embed", source, "-o", target, "--whiten"]
    for name, value in options.items():
        argv += ["--" + name.replace("_", "-"), value]
    result = _run(*argv)
    assert result.returncode == 0, result.stderr
    features = np.load(target)
    expected = CoupledFlowEmbedding(whiten=True, **options).fit(data)
    _assert_same_features(features, expected.transform(data))
    assert features.shape == (300, 3)
    # Whitened: unit variance under the (tempered) spatial measure, roughly.
    pi = expected.stationary_measure_
    centred = features - pi @ features
    np.testing.assert_allclose(pi @ centred**2, 1.0, rtol=0.05)


def test_manifold_option(tmp_path):
    """--manifold reaches the estimator: unit vectors fitted on the sphere
    give the library's features, and rows off the sphere are one error line."""
    rng = np.random.default_rng(0)
    points = rng.standard_normal((200, 3)) * [1.0, 0.5, 0.2] + [0.0, 0.0, 3.0]
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    source, target = tmp_path / "sphere.npy", tmp_path / "out.npy"
    np.save(source, points)
    result = _run("embed", source, "-o", target, "--manifold", "hypersphere",
                  "--n-walkers", 256, "--max-iter", 1500)
    assert result.returncode == 0, result.stderr
    assert "ImportWarning" not in result.stderr  # geomstats' import noise stays out
    expected = CoupledFlowEmbedding(manifold="hypersphere", n_walkers=256, max_iter=1500,
                                    random_state=0).fit_transform(points)
    _assert_same_features(np.load(target), expected)
    np.save(source, 2.0 * points)
    result = _run("embed", source, "-o", target, "--manifold", "hypersphere")
    assert result.returncode == 1
    assert result.stderr.startswith("error: X is not on the manifold 'hypersphere'")


@pytest.mark.parametrize("value, expected", [("0.9", 0.9), ("all", None)])
def test_n_components_share_or_all(tmp_path, capsys, data, value, expected):
    """--n-components takes a share of the variance or 'all', as the estimator."""
    source, target = tmp_path / "in.npy", tmp_path / "out.npy"
    np.save(source, data)
    result = _run("embed", source, "-o", target, "--n-components", value,
                  "--solver", "averaged")
    assert result.returncode == 0, result.stderr
    est = CoupledFlowEmbedding(expected, solver="averaged", random_state=0).fit(data)
    _assert_same_features(np.load(target), est.transform(data))
    assert np.load(target).shape[1] == est.n_components_
    expected = ("expected an int in the range [1, inf), a float in the range (0.0, 1.0), "
                "'mle' or 'all', got")
    for bad in ("1.5", "0"):
        with pytest.raises(SystemExit) as stop:
            main(["embed", str(source), "-o", str(target), "--n-components", bad])
        assert stop.value.code == 2
        assert f"{expected} '{bad}'" in capsys.readouterr().err


def test_headerless_csv_and_blank_lines(tmp_path, data):
    """No header: every row is data; blank lines are skipped."""
    source = tmp_path / "plain.csv"
    lines = [",".join(repr(v) for v in row) for row in data[:200].tolist()]
    lines.insert(50, "")
    source.write_text("\n".join(lines) + "\n\n")
    target = tmp_path / "out.npy"
    result = _run("embed", source, "-o", target, "--n-components", 1, *BUDGET)
    assert result.returncode == 0, result.stderr
    assert np.load(target).shape == (200, 1)


def _write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, np.ndarray):
        np.save(path, content)
    else:
        path.write_text(content)
    return path


#: (file name, content, what the one error line must say: the problem and
#: the fix, extra options).
BAD_FILES = [
    pytest.param("missing.csv", None, "cannot read .*missing.csv: No such file", [],
                 id="missing"),
    pytest.param("empty.csv", "", "is empty; write one sample per row", [], id="empty"),
    pytest.param("header-only.csv", "a,b,c\n", "header but no data rows; write one sample", [],
                 id="header-only"),
    pytest.param("word.csv", "a,b\n1,2\n3,oops\n",
                 r"line 3, column 2: 'oops' is not a number; every cell below the header", [],
                 id="non-numeric"),
    pytest.param("blank.csv", "1,,3\n4,5,6\n", r"line 1, column 2: '' is not a number; fill in "
                 "or drop the missing values", [], id="blank-cell"),
    pytest.param("labels.csv", "name,a,b\nx,1,2\ny,3,4\n", r"line 2, column 1: 'x' is not a "
                 r"number; if column 1 holds row labels, .*to_csv\(index=False\)", [],
                 id="row-labels"),
    pytest.param("semi.csv", "a;b;c\n1;2;3\n4;5;6\n", r"line 2, column 1: '1;2;3' is not a number; "
                 r"the file was read as ','-separated; if it is ';'-separated, pass "
                 r"--delimiter ';'", ["--delimiter", ","], id="wrong-delimiter"),
    pytest.param("comma.csv", "a;b\n1,5;2,5\n3,0;4,25\n", r"line 2, column 1: '1,5' is not "
                 r"a number; decimal commas are not read: write '.' decimals", [],
                 id="decimal-comma"),
    pytest.param("ragged.csv", "1,2,3\n4,5\n", "line 2: 2 cells, expected 3 \\(','-separated; "
                 "every row needs the same number of columns", [], id="ragged"),
    pytest.param("header.csv", "a,b,c\n1,2\n3,4\n", "the header has 3 names but line 2 has 2 "
                 "cells, read as ','-separated; give every column one name", [], id="header"),
    pytest.param("binary.csv", b"\xff\xfe\x00\x81" * 20, "not a UTF-8 text .*give a CSV file "
                 r"or a .npy file", [], id="binary"),
    pytest.param("nan.csv", "1,2\n3,nan\n5,6\n", "line 2, column 2 is nan .*needs finite "
                 "numbers: impute or drop them", [], id="nan"),
    pytest.param("inf.csv", "1,2\n3,4\n-inf,6\n", "line 3, column 1 is -inf", [], id="inf"),
    pytest.param("one-row.csv", "1,2,3\n", "1 sample", [], id="one-sample"),
    pytest.param("garbage.npy", b"not an npy file", r"not a readable .npy file .*numpy.save", [],
                 id="bad-npy"),
    pytest.param("vector.npy", np.arange(5.0), r"1-D array; expected 2-D .*reshape", [],
                 id="1d-npy"),
    pytest.param("nan.npy", np.array([[1.0, 2.0], [np.nan, 1.0], [3.0, 4.0]], np.float32),
                 r"X\[1, 0\] is nan \(1 non-finite entries\)", [], id="nan-npy"),
    pytest.param("text.npy", np.array([["a", "b"], ["c", "d"]]), "expected real numbers", [],
                 id="string-npy"),
]


#: Run in a subprocess (the rest go through ``main`` in-process, to keep the suite fast).
SUBPROCESS_CASES = {"missing", "non-numeric", "wrong-delimiter", "bad-npy"}


@pytest.mark.parametrize("name, content, message, extra", BAD_FILES)
def test_bad_input_is_one_clear_line(tmp_path, capsys, name, content, message, extra, request):
    """A bad file: exit status 1, one 'error:' line on stderr naming the
    problem and the fix, no traceback, no output."""
    source = tmp_path / name if content is None else _write(tmp_path / name, content)
    target = tmp_path / "out.csv"
    argv = ["embed", str(source), "-o", str(target), *BUDGET, *extra]
    if request.node.callspec.id in SUBPROCESS_CASES:
        result = _run(*argv)
        status, stdout, stderr = result.returncode, result.stdout, result.stderr
    else:
        status = main(argv)
        stdout, stderr = capsys.readouterr()
    assert status == 1
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr
    assert re.search(message, lines[0]), lines[0]
    assert stdout == ""
    assert not target.exists()


def test_bad_parameter_and_unwritable_output(tmp_path, data, monkeypatch, capsys):
    """An invalid estimator parameter is one error line; an unwritable
    target is one too, given before the input is even read."""
    source = tmp_path / "in.npy"
    np.save(source, data)
    # Allowed by the constraints (argparse passes it), refused by the fit.
    result = _run("embed", source, "-o", tmp_path / "out.csv", "--n-components", 9)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: n_components=9 must be at most min(n_samples, n_features)=5; lower n_components."
    ]
    target = tmp_path / "no" / "such" / "dir.csv"
    result = _run("embed", source, "-o", target, *BUDGET)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: cannot write {target}: directory {target.parent} does not exist; create it "
        "first or choose another path"
    ]
    assert result.stdout == ""

    def no_reading(*args, **kwargs):
        raise AssertionError("read the input before checking the output path")

    monkeypatch.setattr(cli_embed, "read_matrix", no_reading)
    for bad, problem in [(tmp_path, "it is a directory; name a file in it"),
                         (source / "x.csv", f"{source} is a file, not a directory"),
                         ("", "the output path is empty")]:
        assert main(["embed", str(source), "-o", str(bad)]) == 1
        stdout, stderr = capsys.readouterr()
        assert stdout == "" and len(stderr.splitlines()) == 1
        assert stderr.startswith("error: ") and problem in stderr


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs POSIX permissions, which root bypasses")
def test_read_only_directory_is_refused_before_the_fit(tmp_path, data, capsys):
    source, locked = tmp_path / "in.npy", tmp_path / "locked"
    np.save(source, data)
    locked.mkdir(mode=0o500)
    try:
        assert main(["embed", str(source), "-o", str(locked / "out.csv")]) == 1
    finally:
        locked.chmod(0o700)
    assert "permission denied; choose a writable location" in capsys.readouterr().err


def test_convergence_warning_is_one_line(tmp_path, data):
    """A fit that does not converge still writes its features and warns in one line."""
    source, target = tmp_path / "in.npy", tmp_path / "out.npy"
    np.save(source, data)
    result = _run("embed", source, "-o", target, "--max-iter", 60, "--tol", 0)
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("warning: ConvergenceWarning: CoupledFlowEmbedding did not converge")
    assert "converged=False" in result.stdout
    assert np.load(target).shape == (300, 2)


# -- Reading what users write ------------------------------------------------


def test_a_named_index_column_is_flagged(tmp_path, capsys, data):
    """An index saved under a name is a column like any other: it is fitted
    (its values are numbers), and the warning says how to drop it."""
    pd = pytest.importorskip("pandas")
    source, target = tmp_path / "frame.csv", tmp_path / "out.npy"
    frame = pd.DataFrame(data, columns=list("abcde"))
    frame.index.name = "id"
    frame.to_csv(source)
    assert main(["embed", str(source), "-o", str(target), "--solver", "averaged"]) == 0
    captured = capsys.readouterr()
    assert "column 1 ('id') holds the row numbers 0, 1, ..., 299" in captured.err
    assert "to_csv(index=False)" in captured.err
    assert "read 300 x 6, wrote 300 x 2" in captured.out
    frame.to_csv(source, index=False)
    assert main(["embed", str(source), "-o", str(target), "--solver", "averaged"]) == 0
    assert "row numbers" not in capsys.readouterr().err


@pytest.mark.parametrize("columns", [None, ["a", "b c", "d,e", "f", "g"]],
                         ids=["default-names", "named"])
def test_pandas_to_csv_with_its_index(tmp_path, capsys, data, columns):
    """pandas' default ``to_csv`` (index column under a blank header cell,
    default or quoted column names) reads as the frame's values."""
    pd = pytest.importorskip("pandas")
    source, target = tmp_path / "frame.csv", tmp_path / "out.npy"
    frame = pd.DataFrame(data, columns=columns, index=range(10, 10 + len(data)))
    frame.to_csv(source)
    assert source.read_text().startswith(",")  # the index column is there
    assert main(["embed", str(source), "-o", str(target), "--solver", "averaged"]) == 0
    assert "wrote 300 x 2 float64 features" in capsys.readouterr().out
    expected = CoupledFlowEmbedding(solver="averaged", random_state=0).fit_transform(data)
    _assert_same_features(np.load(target), expected)
    X, names = cli_io.read_matrix(source)
    np.testing.assert_array_equal(X, data)  # to_csv writes round-tripping floats
    assert names == (columns or [str(j) for j in range(5)])
    # Without the index, default names 0..4 are a header, not a sample.
    frame.to_csv(source, index=False)
    X, names = cli_io.read_matrix(source)
    np.testing.assert_array_equal(X, data)
    assert names == (columns or [str(j) for j in range(5)])


def test_integer_first_row_stays_data(tmp_path):
    """A first row 0,1,2 over integer rows is data (it could be counts)."""
    source = tmp_path / "counts.csv"
    source.write_text("0,1,2\n4,5,6\n7,8,10\n")
    X, names = cli_io.read_matrix(source)
    assert names is None
    np.testing.assert_array_equal(X, [[0, 1, 2], [4, 5, 6], [7, 8, 10]])


@pytest.mark.parametrize("sep, option", [
    (";", None), ("\t", None), ("|", None), (" ", None), (";", ";"), ("\t", "tab"),
    (" ", "space"),
])
def test_delimiters(tmp_path, capsys, data, sep, option):
    """Semicolons, tabs, pipes and numpy.savetxt's spaces are sniffed or named
    with --delimiter, and give the same features as the library."""
    source, target = tmp_path / "in.txt", tmp_path / "out.npy"
    np.savetxt(source, data, delimiter=sep, fmt="%.17g", header=sep.join("abcde"), comments="")
    argv = ["embed", str(source), "-o", str(target), "--solver", "averaged"]
    argv += [] if option is None else ["--delimiter", option]
    assert main(argv) == 0, capsys.readouterr().err
    expected = CoupledFlowEmbedding(solver="averaged", random_state=0).fit_transform(data)
    _assert_same_features(np.load(target), expected)
    assert cli_io.read_matrix(source)[1] == list("abcde")


def test_whitespace_runs_and_blank_lines(tmp_path):
    """Columns aligned with runs of spaces, a UTF-8 byte-order mark and blank
    lines read as the numbers they show."""
    source = tmp_path / "aligned.txt"
    source.write_text("\ufeff  x      y\n\n  1.5   -2\n 10.25   3e2\n\n", encoding="utf-8")
    X, names = cli_io.read_matrix(source)
    assert names == ["x", "y"]
    np.testing.assert_array_equal(X, [[1.5, -2.0], [10.25, 300.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_npy_keeps_its_dtype(tmp_path, capsys, data, dtype, suffix):
    """float32 in gives float32 out, as the library's transform does; in a
    CSV each number is the shortest text that reads back to that float32."""
    source, target = tmp_path / "in.npy", tmp_path / f"out{suffix}"
    X = data.astype(dtype)
    np.save(source, X)
    assert main(["embed", str(source), "-o", str(target), *BUDGET]) == 0
    assert f"300 x 2 {np.dtype(dtype).name} features" in capsys.readouterr().out
    expected = CoupledFlowEmbedding(max_iter=1500, n_walkers=512, random_state=0).fit_transform(X)
    assert expected.dtype == dtype  # the library's own behaviour, which the CLI follows
    if suffix == ".npy":
        features = np.load(target)
    else:
        text = target.read_text().splitlines()[1:]
        features = np.array([line.split(",") for line in text], dtype=np.float64).astype(dtype)
        # Shortest form: float32 values are not written with float64 digits.
        assert max(len(cell) for line in text for cell in line.split(",")) <= (
            12 if dtype == np.float32 else 25)
    _assert_same_features(features, expected)


def test_integer_npy_becomes_float64(tmp_path, capsys, data):
    """Integers are converted as the library converts them (float64)."""
    source, target = tmp_path / "in.npy", tmp_path / "out.npy"
    X = np.round(10 * data).astype(np.int32)
    np.save(source, X)
    assert main(["embed", str(source), "-o", str(target), "--solver", "averaged"]) == 0
    expected = CoupledFlowEmbedding(solver="averaged", random_state=0).fit_transform(X)
    assert expected.dtype == np.float64
    _assert_same_features(np.load(target), expected)


# -- Options: one per estimator parameter -----------------------------------

#: A non-default command-line value per parameter, and what the estimator gets.
NON_DEFAULTS = {
    "n_components": ("all", None),
    "manifold": ("hypersphere", "hypersphere"),
    "kernel": ("langevin", "langevin"),
    "rule": ("oja", "oja"),
    "temperature": ("0.5", 0.5),
    "n_neighbors": ("7", 7),
    "n_walkers": ("100", 100),
    "walk_steps": ("3", 3),
    "walker_lifetime": ("none", None),
    "learning_rate": ("0.1", 0.1),
    "solver": ("mean_field", "mean_field"),
    "max_iter": ("50", 50),
    "tol": ("0.001", 0.001),
    "whiten": (None, True),  # a switch
    "random_state": ("5", 5),
    "verbose": ("2", 2),
}


def test_every_parameter_has_an_option():
    """Each get_params() key is an option whose value reaches the estimator."""
    params = CoupledFlowEmbedding().get_params()
    assert set(NON_DEFAULTS) == set(params), "add the new parameter to NON_DEFAULTS"
    parser = _parser()
    flags = {a.dest: a.option_strings for a in parser._actions}
    argv = ["in.csv", "-o", "out.csv"]
    for name, (text, _) in NON_DEFAULTS.items():
        assert name in flags, f"no option for {name}"
        argv += flags[name] + ([] if text is None else [text])
    est = cli_embed._estimator_from_args(parser.parse_args(argv))
    assert est.get_params() == {name: value for name, (_, value) in NON_DEFAULTS.items()}
    # Defaults are the estimator's, except a fixed seed.
    est = cli_embed._estimator_from_args(parser.parse_args(["in.csv", "-o", "out.csv"]))
    assert est.get_params() == {**params, "random_state": 0}


def test_choices_come_from_the_parameter_constraints(monkeypatch):
    """The choices of --solver, --rule, ... are the estimator's StrOptions:
    a solver registered in the package appears without touching the CLI."""
    from sklearn.utils._param_validation import StrOptions

    constraints = CoupledFlowEmbedding._parameter_constraints
    choices = {a.dest: a.choices for a in _parser()._actions if a.choices}
    for name in ("manifold", "kernel", "rule", "solver"):
        options = {o for c in constraints[name] if isinstance(c, StrOptions) for o in c.options}
        assert set(choices[name]) == options
        assert choices[name][0] == CoupledFlowEmbedding().get_params()[name]  # default first
    monkeypatch.setitem(constraints, "solver",
                        [StrOptions({"stochastic", "mean_field", "averaged", "sketch"})])
    assert "sketch" in {a.dest: a.choices for a in _parser()._actions}["solver"]


@pytest.mark.parametrize("option, value, message", [
    ("--n-walkers", "0", "expected an int in the range [1, inf) or 'auto', got '0'"),
    ("--walker-lifetime", "2.5",
     "expected an int in the range [1, inf), 'auto' or 'none', got '2.5'"),
    ("--learning-rate", "3", "expected a float in the range (0.0, 1.0) or 'auto', got '3'"),
    ("--tol", "-1", "expected a float in the range [0.0, inf) or 'auto', got '-1'"),
    ("--solver", "newton", "invalid choice: 'newton'"),
    ("--random-state", "-1", "expected an int in the range [0, 4294967295] or 'none'"),
    ("--verbose", "loud", "expected an int in the range [0, inf), got 'loud'"),
])
def test_bad_option_value_is_a_usage_error(capsys, option, value, message):
    """argparse rejects a value outside the estimator's constraints with its
    usage message (exit 2), naming what is allowed."""
    with pytest.raises(SystemExit) as stop:
        main(["embed", "x.csv", "-o", "y.csv", option, value])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_verbose_reaches_the_fit(tmp_path, capsys, data):
    """--verbose prints the fit's progress lines (to standard output)."""
    source, target = tmp_path / "in.npy", tmp_path / "out.npy"
    np.save(source, data)
    assert main(["embed", str(source), "-o", str(target), "--solver", "averaged",
                 "--verbose", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    progress = [line for line in out if line.startswith("[CoupledFlowEmbedding] iteration")]
    est = CoupledFlowEmbedding(solver="averaged", random_state=0).fit(data)
    assert len(progress) == est.n_iter_ >= 1
    assert out[-1].startswith("read 300 x 5, wrote 300 x 2")


def test_help_documents_every_option():
    """--help lists every option of the parser with a help text, and the defaults."""
    parser = _parser()
    result = _run("embed", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for action in parser._actions:
        assert action.help, action.dest
        for flag in action.option_strings:
            assert flag in text
    assert "(default: auto)" in text  # n_walkers, read from the estimator
    assert "'none' to keep them" in text  # walker_lifetime
    rules = [a.choices for a in parser._actions if a.dest == "rule"][0]
    assert "{" + ",".join(rules) + "}" in text
    # The top-level help names both subcommands.
    top = _run("--help")
    assert "demo" in top.stdout and "embed" in top.stdout


# -- Start-up: what a flat-data embed imports -------------------------------

#: Run in a fresh process: the top-level packages of the demo (and of curved
#: manifolds) that a flat-data embed has imported.  sklearn.neighbors (which
#: brings sklearn.linear_model, svm, decomposition and more) comes with the
#: first neighbour search, which the averaged solver at temperature 1 skips.
_IMPORTS = """
import sys
from slowfast_sklearn.__main__ import main
heavy = {"geomstats", "matplotlib", "PIL", "sklearn.datasets", "sklearn.pipeline",
         "sklearn.neighbors", "sklearn.linear_model"}
print("import", sorted(heavy.intersection(sys.modules)))
for manifold in ("euclidean", "hypersphere"):
    assert main(["embed", sys.argv[1], "-o", sys.argv[2], "--manifold", manifold,
                 "--solver", "averaged"]) == 0
    print(manifold, sorted(heavy.intersection(sys.modules)))
"""


def test_flat_embed_imports_neither_geomstats_nor_the_demo_modules(tmp_path):
    """A fresh process importing the command line imports no neighbour search;
    fitting flat data without a graph imports no geomstats, matplotlib, the
    demo's data sets and pipelines or the neighbour search; a curved manifold
    imports geomstats."""
    rng = np.random.default_rng(0)
    points = rng.standard_normal((100, 3)) + [0, 0, 4]
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    source = tmp_path / "in.npy"
    np.save(source, points)
    result = subprocess.run([sys.executable, "-c", _IMPORTS, source, tmp_path / "out.npy"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    imported, flat, curved = [line for line in result.stdout.splitlines()
                              if line.startswith(("import", "e", "h"))]
    assert imported == "import []"
    assert flat == "euclidean []"
    assert curved == "hypersphere ['geomstats']"


# -- The demo ------------------------------------------------------------------


def _no_fit(*args, **kwargs):
    raise AssertionError("fitted before checking the plot path")


@pytest.mark.parametrize("name, problem", [
    ("missing/x.png", "directory {tmp}/missing does not exist; create it first"),
    ("", "it is a directory; name a file in it"),
    ("x.foo", "matplotlib does not write .foo images; use one of .*\\.png"),
])
def test_demo_plot_path_fails_before_fitting(tmp_path, capsys, monkeypatch, name, problem):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(cli_demo, "fit_demo", _no_fit)
    assert main(["demo", "--plot", str(tmp_path / name) if name else str(tmp_path)]) == 1
    stdout, stderr = capsys.readouterr()
    assert stdout == "" and len(stderr.splitlines()) == 1
    assert re.match(r"error: cannot write .*" + problem.format(tmp=re.escape(str(tmp_path))),
                    stderr)


def test_demo_plot_path_one_line_exit_1(tmp_path):
    """The same, as the user meets it: one line, exit status 1, no table."""
    target = tmp_path / "missing" / "dir" / "x.png"
    result = _run("demo", "--plot", target, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: cannot write {target}: directory {target.parent} does not exist; create it "
        "first or choose another path"
    ]
    assert result.stdout == ""


@pytest.fixture(scope="module")
def demo_fits():
    """The demo's three methods on digits, the walker fit cut short (fast)."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning

    X, y = load_digits(return_X_y=True)
    fitted = {}
    for name, est in cli_demo._demo_methods(2, 0).items():
        if name == "CoupledFlowEmbedding":
            est.set_params(max_iter=200, n_walkers=256)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted[name] = (est, est.fit_transform(X))
    rows = [{"method": name, "angle_to_pca": 0.01 * i, "probe_accuracy": 0.5}
            for i, name in enumerate(fitted)]
    return fitted, y, rows


def _texts(legend):
    return [t.get_text() for t in legend.get_texts()]


def test_demo_figure_explains_itself(demo_fits, tmp_path):
    """Labelled axes with ticks, a title per panel, a legend of the ten digit
    classes, the Lyapunov terms as logged, and the zero KL term said."""
    pytest.importorskip("matplotlib")
    from PIL import Image

    fitted, y, rows = demo_fits
    fig = cli_figure.demo_figure(fitted, y, rows)
    scatters, lyapunov = fig.axes[:3], fig.axes[3]
    for ax, (name, (_, features)) in zip(scatters, fitted.items()):
        assert ax.get_title().startswith(cli_figure._PANEL_TITLES[name])
        assert "axis 1" in ax.get_xlabel() or "source 1" in ax.get_xlabel()
        assert "2" in ax.get_ylabel() and "(" in ax.get_xlabel()  # units in brackets
        assert len(ax.get_xticks()) > 2 and ax.xaxis.get_visible()
        np.testing.assert_array_equal(ax.collections[0].get_offsets(), features[:, :2])
        np.testing.assert_array_equal(ax.collections[0].get_array(), y)
    (classes,) = fig.legends
    assert _texts(classes) == [str(c) for c in range(10)]
    assert "digit" in classes.get_title().get_text()

    est = fitted["CoupledFlowEmbedding"][0]
    assert np.all(est.lyapunov_[:, 0] == 0) and np.all(est.lyapunov_[:, 1:] > 0)
    assert "log scale" in lyapunov.get_ylabel() and "weight update" in lyapunov.get_xlabel()
    title = lyapunov.get_title()
    assert "= 0 at every checkpoint" in title and "reborn from" in title
    assert f"every {est.walker_lifetime_} updates" in title
    lines = {line.get_label(): line for line in lyapunov.get_lines() if line.get_label()[0] != "_"}
    defect = [line for label, line in lines.items() if label.startswith("orthogonality")]
    gap = [line for label, line in lines.items() if label.startswith("subspace gap")]
    total = lines["sum: the Lyapunov functional"]
    np.testing.assert_array_equal(defect[0].get_ydata(), est.lyapunov_[:, 1])
    np.testing.assert_array_equal(gap[0].get_ydata(), est.lyapunov_[:, 2])
    np.testing.assert_allclose(total.get_ydata(), est.lyapunov_.sum(axis=1), rtol=1e-15)
    np.testing.assert_array_equal(defect[0].get_xdata(), est.lyapunov_steps_)

    target = tmp_path / "figure.png"
    cli_figure.save_figure(fig, target)
    with Image.open(target) as image:
        assert image.size == (1100, 860) and image.mode == "P"  # 256-colour palette


def test_lyapunov_panel_draws_a_nonzero_kl_term():
    """A KL term that is not identically 0 is drawn, not explained away."""
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    steps = np.arange(0, 250, 50)
    terms = np.column_stack([np.exp(-steps / 50), 1e-3 / (1 + steps), 1 / (1 + steps)])
    est = SimpleNamespace(lyapunov_=terms, lyapunov_steps_=steps, n_iter_=200,
                          converged_=False, walker_lifetime_=None)
    fig, ax = plt.subplots()
    cli_figure._lyapunov_panel(ax, est)
    drawn = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert len(drawn) == 4  # three terms and their sum
    np.testing.assert_array_equal(drawn[0].get_ydata(), terms[:, 0])
    assert "= 0" not in ax.get_title()
    assert any(t.get_text().strip() == "stopped at max_iter" for t in ax.texts)
    plt.close(fig)


def test_lyapunov_panel_explains_a_zero_kl_term_without_rebirth():
    """Walkers kept for the whole run at temperature 1: still a zero KL term,
    explained by the start alone."""
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    steps = np.arange(0, 250, 50)
    terms = np.column_stack([np.zeros(5), 1e-3 / (1 + steps), 1 / (1 + steps)])
    est = SimpleNamespace(lyapunov_=terms, lyapunov_steps_=steps, n_iter_=200, converged_=True,
                          walker_lifetime_=None, temperature=1.0)
    fig, ax = plt.subplots()
    cli_figure._lyapunov_panel(ax, est)
    assert "= 0 at every checkpoint" in ax.get_title()
    assert "start on the samples" in ax.get_title() and "reborn" not in ax.get_title()
    assert len([line for line in ax.get_lines() if line.get_label()[0] != "_"]) == 3
    plt.close(fig)


def test_demo_figure_with_one_feature(demo_fits):
    """One feature: the classes are spread along y, labelled as such."""
    pytest.importorskip("matplotlib")
    fitted, y, rows = demo_fits
    one = {name: (est, features[:, :1]) for name, (est, features) in fitted.items()}
    fig = cli_figure.demo_figure(one, y, rows)
    assert all(ax.get_ylabel() == "digit class" for ax in fig.axes[:3])
    assert "1 feature per method" in fig._suptitle.get_text()
