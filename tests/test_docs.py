"""The documentation builds with warnings as errors (skipped without the ``docs`` extra),
and what its pages claim about the repository stays true.

The build here skips executing the gallery (``plot_gallery=0``): the
examples themselves run in ``test_examples.py``, and ``.ci/run`` builds the
full site, gallery included.  The sources are copied to a temporary
directory so that sphinx-gallery's generated files do not land in the
checkout.
"""

import os
import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ("_build", "_generated", "auto_examples", "gen_modules", "generated")


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    for module in ("sphinx", "numpydoc", "sphinx_gallery", "pydata_sphinx_theme", "myst_parser"):
        pytest.importorskip(module)
    work = tmp_path_factory.mktemp("docs")
    shutil.copytree(
        ROOT / "docs",
        work / "docs",
        ignore=shutil.ignore_patterns(*GENERATED, "sg_execution_times.rst"),
    )
    shutil.copytree(ROOT / "examples", work / "examples")
    out = work / "html"
    result = subprocess.run(
        [
            sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html",
            "-D", "plot_gallery=0", str(work / "docs"), str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        # No network is needed: intersphinx off, as it is offline anyway.
        env={**os.environ, "SLOWFAST_DOCS_INTERSPHINX": "0"},
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return out


def test_pages_exist(html):
    for page in ("index", "getting_started", "user_guide", "theory", "comparison", "api",
                 "design-notes", "auto_examples/index"):
        assert (html / f"{page}.html").is_file(), page


def test_api_page_documents_the_estimator(html):
    page = (html / "generated" / "slowfast_sklearn.CoupledFlowEmbedding.html").read_text()
    for name in ("lyapunov_", "stationary_measure_", "components_", "fit_transform",
                 "inverse_transform", "score_samples"):
        assert name in page, name


def test_gallery_lists_every_example(html):
    index = (html / "auto_examples" / "index.html").read_text()
    for example in sorted((ROOT / "examples").glob("plot_*.py")):
        assert f"{example.stem}.html" in index, example.stem


def test_getting_started_has_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    page = (ROOT / "docs" / "getting_started.rst").read_text()
    commands = [line for line in readme.splitlines() if line.startswith("python -m venv")]
    assert len(commands) == 2
    for command in commands:
        assert command in page


def test_intersphinx_targets_configured():
    """The mapping names the projects the issue asks for (used when online)."""
    source = (ROOT / "docs" / "conf.py").read_text()
    for project in ("sklearn", "numpy", "scipy", "geomstats"):
        assert f'"{project}": ("https://' in source, project


def _defined_tests():
    names = {}
    for path in (ROOT / "tests").glob("test_*.py"):
        tree = ast.parse(path.read_text())
        names[path.name] = {
            node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        }
    return names


def test_theory_page_cites_existing_tests():
    """Every test the theory page maps a result to exists under that name."""
    page = (ROOT / "docs" / "theory.rst").read_text()
    defined = _defined_tests()
    everywhere = set().union(*defined.values())
    qualified = re.findall(r"tests/(test_\w+\.py)::(test_\w+)", page)
    assert len(qualified) >= 10
    for module, name in qualified:
        assert name in defined.get(module, ()), f"{module}::{name}"
    for name in re.findall(r"``(test_\w+)``", page):
        assert name in everywhere, name
