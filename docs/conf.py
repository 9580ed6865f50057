"""Sphinx configuration of the slowfast_sklearn documentation.

Build (from the repository root, with ``pip install ".[docs]"``)::

    sphinx-build -W -b html docs docs/_build/html

``-W`` turns every warning into an error; the example gallery is executed
during the build (about a minute on two cores).
"""

import os
import socket
import sys
from pathlib import Path

# One BLAS thread for the gallery's examples.  The estimator's inner loop
# multiplies small matrices; on a two-core machine numpy's and scipy's
# OpenBLAS thread pools then spin against each other and a fit runs up to
# ten times slower.  The environment variables cover libraries loaded from
# here on, threadpoolctl the ones already loaded.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy  # noqa: E402, F401  (load BLAS so that the limit below applies)
import scipy.linalg  # noqa: E402, F401
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(limits=1, user_api="blas")

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

import slowfast_sklearn  # noqa: E402
from slowfast_sklearn.__main__ import _add_embed_parser  # noqa: E402

# -- Project -----------------------------------------------------------------

project = "slowfast_sklearn"
author = "slowfast_sklearn developers"
copyright = "2026, slowfast_sklearn developers"
release = slowfast_sklearn.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # MathJax 3.2.2 copied into _static/mathjax and used from there: the
    # site renders its formulas offline (Sphinx by default loads it from a CDN).
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
# sg_execution_times.rst: left over from builds that wrote timing tables (see
# "write_computation_times" below).
exclude_patterns = [
    "_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb",
    "sg_execution_times.rst", "auto_examples/sg_execution_times.rst",
]
default_role = "literal"

# -- API reference -----------------------------------------------------------

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
# The class template lists the methods itself (autosummary); numpydoc
# listing them again would duplicate every entry.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- Example gallery ---------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": str(DOCS.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "doc_module": ("slowfast_sklearn",),
    "backreferences_dir": "gen_modules/backreferences",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    # A failing example fails the build.
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    # The timing tables load jQuery, DataTables and Bootstrap from CDNs; the
    # site loads nothing from the network.  Run times are in each example.
    "write_computation_times": False,
}

# -- Cross-references to other projects ----------------------------------------
# Intersphinx needs each project's objects.inv from the web.  Offline (as on
# this project's CI, which reaches package registries only) the fetch fails
# with a warning that has no type, so ``suppress_warnings`` cannot target it
# and ``-W`` would fail the build.  We therefore keep only the projects whose
# host name resolves: DNS answers at once either way, no request is sent to
# the host, and when online the fetch and its warnings stay fully active (a
# moved inventory still fails the build).  Offline, references to those
# projects render as plain code text, which Sphinx does not warn about.
# SLOWFAST_DOCS_INTERSPHINX=0 or =1 overrides the check.
_INTERSPHINX = {
    "python": ("https://docs.python.org/3", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "geomstats": ("https://geomstats.github.io", None),
    "pandas": ("https://pandas.pydata.org/docs", None),
    "matplotlib": ("https://matplotlib.org/stable", None),
}


def _resolves(url):
    host = url.split("/")[2]
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


_mode = os.environ.get("SLOWFAST_DOCS_INTERSPHINX", "auto")
if _mode == "1":
    intersphinx_mapping = dict(_INTERSPHINX)
elif _mode == "0":
    intersphinx_mapping = {}
else:
    intersphinx_mapping = {
        name: target for name, target in _INTERSPHINX.items() if _resolves(target[0])
    }
intersphinx_timeout = 10
if not intersphinx_mapping:
    print("intersphinx: offline, cross-project links render as plain text")

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"slowfast_sklearn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_static_path = ["_static"]
html_css_files = ["custom.css"]
# Pages without sub-pages get the full width (the comparison table needs it).
html_sidebars = {
    page: []
    for page in ("index", "getting_started", "user_guide", "theory", "comparison", "design-notes")
}
html_show_sourcelink = False

# -- Generated pages -----------------------------------------------------------


def _write_cli_help(app):
    """Render ``python -m slowfast_sklearn embed --help`` for the user guide."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m slowfast_sklearn")
    embed = _add_embed_parser(parser.add_subparsers())
    embed.prog = "python -m slowfast_sklearn embed"
    os.environ["COLUMNS"] = "80"
    target = DOCS / "_generated"
    target.mkdir(exist_ok=True)
    text = embed.format_help()
    path = target / "embed_help.txt"
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)


def _offline_sklearn_reference(app, env, node, contnode):
    """Render scikit-learn's own cross-references as text when it is offline.

    Methods inherited from scikit-learn (``set_output``,
    ``get_metadata_routing``, ...) keep their docstrings, whose
    ``:ref:`` labels live in scikit-learn's documentation, and
    scikit-learn-style docstrings use its glossary (``:term:`fit```; this
    documentation has no glossary of its own).  Without the scikit-learn
    inventory those references cannot resolve; only they are turned into
    plain text, so that any other broken reference still fails ``-W``.
    """
    if "sklearn" in app.config.intersphinx_mapping:
        return None
    reftype = node.get("reftype")
    from_sklearn = "docstring of sklearn." in (node.source or "")
    if reftype == "term" or (reftype == "ref" and from_sklearn):
        return contnode
    return None


def setup(app):
    app.connect("builder-inited", _write_cli_help)
    app.connect("missing-reference", _offline_sklearn_reference)
