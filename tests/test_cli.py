"""The ``embed`` subcommand, run as a user would: ``python -m slowfast_sklearn embed``."""

import argparse
import csv
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from slowfast_sklearn import CoupledFlowEmbedding
from slowfast_sklearn.__main__ import _add_embed_parser, main

#: Small budget: enough to converge on the data below, fast in a subprocess.
BUDGET = ["--max-iter", "1500", "--n-walkers", "512"]


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
    assert f"wrote 300 x 2 features to {target}" in result.stdout

    with open(target, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["coupledflowembedding0", "coupledflowembedding1"]
    features = np.array(rows[1:], dtype=float)
    expected = CoupledFlowEmbedding(
        n_components=2, random_state=3, max_iter=1500, n_walkers=512
    ).fit_transform(data)
    # repr round-trips floats exactly: the file holds the library's features.
    np.testing.assert_array_equal(features, expected)


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
    np.testing.assert_array_equal(features, expected.transform(data))
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
    np.testing.assert_array_equal(np.load(target), expected)
    np.save(source, 2.0 * points)
    result = _run("embed", source, "-o", target, "--manifold", "hypersphere")
    assert result.returncode == 1
    assert result.stderr.startswith("error: X is not on the manifold 'hypersphere'")


@pytest.mark.parametrize("value, expected", [("0.9", 0.9), ("all", None)])
def test_n_components_share_or_all(tmp_path, data, value, expected):
    """--n-components takes a share of the variance or 'all', as the estimator."""
    source, target = tmp_path / "in.npy", tmp_path / "out.npy"
    np.save(source, data)
    result = _run("embed", source, "-o", target, "--n-components", value,
                  "--solver", "averaged")
    assert result.returncode == 0, result.stderr
    est = CoupledFlowEmbedding(expected, solver="averaged", random_state=0).fit(data)
    np.testing.assert_array_equal(np.load(target), est.transform(data))
    assert np.load(target).shape[1] == est.n_components_
    bad = _run("embed", source, "-o", target, "--n-components", "1.5")
    assert bad.returncode == 2 and "a share must lie in (0, 1)" in bad.stderr
    bad = _run("embed", source, "-o", target, "--n-components", "0")
    assert bad.returncode == 2 and "a count must be at least 1" in bad.stderr


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


BAD_FILES = [
    pytest.param("missing.csv", None, "cannot read .*missing.csv", id="missing"),
    pytest.param("empty.csv", "", "is empty", id="empty"),
    pytest.param("header-only.csv", "a,b,c\n", "header but no data", id="header-only"),
    pytest.param("word.csv", "a,b\n1,2\n3,oops\n", r"line 3, column 2: 'oops' is not a number",
                 id="non-numeric"),
    pytest.param("ragged.csv", "1,2,3\n4,5\n", "line 2: 2 cells, expected 3", id="ragged"),
    pytest.param("binary.csv", b"\xff\xfe\x00\x81" * 20, "not a UTF-8 text", id="binary"),
    pytest.param("nan.csv", "1,2\n3,nan\n5,6\n", "NaN", id="nan"),
    pytest.param("one-row.csv", "1,2,3\n", "1 sample", id="one-sample"),
    pytest.param("garbage.npy", b"not an npy file", "not a readable .npy file", id="bad-npy"),
    pytest.param("vector.npy", np.arange(5.0), "1-D array; expected 2-D", id="1d-npy"),
    pytest.param("text.npy", np.array([["a", "b"], ["c", "d"]]), "expected real numbers",
                 id="string-npy"),
]


#: Run in a subprocess (the rest go through ``main`` in-process, to keep the suite fast).
SUBPROCESS_CASES = {"missing", "non-numeric", "nan", "bad-npy"}


@pytest.mark.parametrize("name, content, message", BAD_FILES)
def test_bad_input_is_one_clear_line(tmp_path, capsys, name, content, message, request):
    """A bad file: exit status 1, one 'error:' line on stderr, no traceback, no output."""
    source = tmp_path / name if content is None else _write(tmp_path / name, content)
    target = tmp_path / "out.csv"
    argv = ["embed", str(source), "-o", str(target), *BUDGET]
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


def test_bad_parameter_and_unwritable_output(tmp_path, data):
    """Invalid estimator parameters and an unwritable target are one-line errors too."""
    source = tmp_path / "in.npy"
    np.save(source, data)
    result = _run("embed", source, "-o", tmp_path / "out.csv", "--temperature", -1)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: The 'temperature' parameter of CoupledFlowEmbedding must be a float in "
        "the range (0.0, inf). Got -1.0 instead."
    ]
    result = _run("embed", source, "-o", tmp_path / "no" / "such" / "dir.csv", *BUDGET)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("error: cannot write")


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


def test_help_documents_every_option():
    """--help lists every option of the parser with a help text, and the defaults."""
    parser = _add_embed_parser(argparse.ArgumentParser().add_subparsers())
    result = _run("embed", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for action in parser._actions:
        assert action.help, action.dest
        for flag in action.option_strings:
            assert flag in text
    for flag in (
        "--n-components", "--manifold", "--temperature", "--rule", "--n-neighbors", "--n-walkers",
        "--learning-rate", "--max-iter", "--random-state", "--whiten", "--output", "INPUT",
    ):
        assert flag in text
    assert "(default: 2048)" in text  # n_walkers, read from the estimator
    assert "{sanger,oja,hebbian,trace}" in text
    # The top-level help names both subcommands.
    top = _run("--help")
    assert "demo" in top.stdout and "embed" in top.stdout


def test_bad_option_value_is_a_usage_error(tmp_path):
    """argparse rejects a malformed learning rate with its usage message (exit 2)."""
    result = _run("embed", tmp_path / "x.csv", "-o", tmp_path / "y.csv", "--learning-rate", 3)
    assert result.returncode == 2
    assert "must lie in (0, 1)" in result.stderr
    assert "Traceback" not in result.stderr
