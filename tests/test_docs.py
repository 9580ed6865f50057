"""The documentation builds with warnings as errors (skipped without the ``docs`` extra),
works offline, and what its pages claim about the repository stays true.

The build here skips executing the gallery (``plot_gallery=0``): the
examples themselves run in ``test_examples.py``, and ``.ci/run`` builds the
full site, gallery included, then runs this module on that site
(``SLOWFAST_DOCS_HTML`` names a built site to check instead of building
one).  The sources are copied to a temporary directory so that
sphinx-gallery's generated files do not land in the checkout.

Offline: no page loads a script, stylesheet, font, image or frame from the
network, and every formula typesets with the MathJax copy in the site
(checked by that copy itself, run in Node.js; skipped without ``node``).
"""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ("_build", "_generated", "auto_examples", "gen_modules", "generated")
MODULES = ("sphinx", "numpydoc", "sphinx_gallery", "pydata_sphinx_theme", "myst_parser",
           "sphinx-mathjax-offline")


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    built = os.environ.get("SLOWFAST_DOCS_HTML")
    if built:
        built = Path(built).resolve()
        assert (built / "index.html").is_file(), f"SLOWFAST_DOCS_HTML: no built site in {built}"
        return built
    for module in MODULES:
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


# -- Offline ---------------------------------------------------------------------

# Tag -> attributes through which a page makes the browser fetch something.
_FETCHES = {
    "script": ("src",), "link": ("href",), "img": ("src", "srcset"),
    "source": ("src", "srcset"), "iframe": ("src",), "embed": ("src",),
    "video": ("src", "poster"), "audio": ("src",), "object": ("data",),
}
_REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
# CSS fetches through url(...) and @import "...".
_CSS_REMOTE = re.compile(r"""(url\(|@import)\s*['"]?\s*(https?:)?//""", re.IGNORECASE)


class _Page(HTMLParser):
    """The addresses a page fetches and the formulas it shows (as written)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.fetches = []
        self.formulas = []  # (tag, text): span = inline, div = display
        self._math = None  # [tag, depth, text pieces] while inside a formula
        self._eqno = 0  # depth inside an equation number (not part of the TeX)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in _FETCHES.get(tag, ()):
            value = attrs.get(name) or ""
            parts = value.split(",") if name == "srcset" else [value]
            self.fetches += [part.split()[0] for part in parts if part.strip()]
        classes = (attrs.get("class") or "").split()
        if self._math is not None:
            self._math[1] += tag == self._math[0]
            self._eqno += bool(self._eqno) or "eqno" in classes
        elif tag in ("span", "div") and "math" in classes:
            self._math = [tag, 1, []]

    def handle_endtag(self, tag):
        if self._math is None:
            return
        self._eqno = max(self._eqno - 1, 0)
        if tag == self._math[0]:
            self._math[1] -= 1
            if not self._math[1]:
                self.formulas.append((tag, "".join(self._math[2]).strip()))
                self._math = None

    def handle_data(self, data):
        if self._math is not None and not self._eqno:
            self._math[2].append(data)


def _parse(text):
    page = _Page()
    page.feed(text)
    page.close()
    return page


def _remote(addresses):
    return [address for address in addresses if _REMOTE.match(address)]


def _pages(html):
    return sorted(path for path in html.rglob("*.html") if ".doctrees" not in path.parts)


def test_remote_fetch_check_catches_cdn_tags():
    """The network check flags what a CDN-served site writes (so it can fail)."""
    text = (
        '<link href="https://cdn.example/x.css" rel="stylesheet" />'
        '<script defer src="//cdn.example/mathjax/tex-chtml.js"></script>'
        '<img srcset="a.png 1x, HTTP://cdn.example/b.png 2x" />'
        '<script src="_static/local.js"></script><a href="https://example.org">ok</a>'
    )
    assert _remote(_parse(text).fetches) == [
        "https://cdn.example/x.css", "//cdn.example/mathjax/tex-chtml.js",
        "HTTP://cdn.example/b.png",
    ]
    assert _CSS_REMOTE.search('@import url("https://fonts.example/f.css");')
    assert not _CSS_REMOTE.search("url(\"data:image/svg+xml;xmlns='http://www.w3.org/2000/svg'\")")


def test_pages_fetch_nothing_from_the_network(html):
    remote = {}
    for path in _pages(html):
        found = _remote(_parse(path.read_text(encoding="utf-8")).fetches)
        if found:
            remote[str(path.relative_to(html))] = found
    for path in sorted((html / "_static").rglob("*.css")):
        found = [m.group(0) for m in _CSS_REMOTE.finditer(path.read_text(encoding="utf-8"))]
        if found:
            remote[str(path.relative_to(html))] = found
    assert not remote, remote


def _math_pages(html):
    pages = {path: _parse(path.read_text(encoding="utf-8")) for path in _pages(html)}
    return {path: page for path, page in pages.items() if page.formulas}


def test_math_pages_load_the_local_mathjax(html):
    """Each page with formulas loads MathJax from the site, which holds its fonts."""
    pages = _math_pages(html)
    # The theory page and the gallery examples with formulas, at least.
    names = {path.relative_to(html).as_posix() for path in pages}
    assert {"theory.html", "auto_examples/plot_lyapunov.html"} <= names, names
    mathjax = html / "_static" / "mathjax"
    for path, page in pages.items():
        scripts = [s for s in page.fetches if s.split("?")[0].endswith("tex-chtml.js")]
        assert len(scripts) == 1, (path, page.fetches)
        target = (path.parent / scripts[0].split("?")[0]).resolve()
        assert target == (mathjax / "tex-chtml.js").resolve(), (path, scripts)
        assert target.stat().st_size > 100_000
    # The CommonHTML output loads its fonts from beside the script.
    fonts = list((mathjax / "output" / "chtml" / "fonts" / "woff-v2").glob("MathJax_*.woff"))
    assert len(fonts) >= 20, fonts


def test_formulas_use_mathjax_delimiters(html):
    """Inline formulas are \\( ... \\), displayed ones \\[ ... \\]: MathJax's defaults."""
    for path, page in _math_pages(html).items():
        for tag, text in page.formulas:
            opening, closing = ("\\(", "\\)") if tag == "span" else ("\\[", "\\]")
            assert text.startswith(opening) and text.endswith(closing), (path, text)
            assert len(text) > 4, (path, text)


# Typesets TeX with a MathJax directory's own Node.js entry point and TeX input
# (the packages tex-chtml.js has: base, ams, newcommand, noundefined, autoload,
# ...).  Prints the formulas that fail: a TeX error (merror) or a macro MathJax
# does not know (noundefined shows it in red).
_TYPESET = r"""
let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", async () => {
  const { mathjax, formulas } = JSON.parse(input);
  const MathJax = await require(mathjax + "/node-main.js").init(
    { loader: { load: ["input/tex"] } });
  const failed = [];
  for (const [tex, display] of formulas) {
    try {
      const mml = await MathJax.tex2mmlPromise(tex, { display });
      if (/<merror|<mtext mathcolor="red">\\/.test(mml)) failed.push([tex, mml]);
    } catch (error) {
      failed.push([tex, String(error && error.message || error)]);
    }
  }
  console.log(JSON.stringify(failed));
});
"""


def _typeset_failures(mathjax, formulas):
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is needed to run MathJax outside a browser")
    assert (mathjax / "node-main.js").is_file(), f"no MathJax copy in {mathjax}"
    request = json.dumps({"mathjax": str(mathjax), "formulas": formulas})
    result = subprocess.run([node, "-e", _TYPESET], input=request, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_formula_check_catches_bad_tex(html):
    """The typesetting check flags broken TeX and unknown macros (so it can fail)."""
    failed = _typeset_failures(html / "_static" / "mathjax", [
        ["\\frac{a}{", False], ["\\notamacro x", True],
        ["\\operatorname{tr}(P_W C_\\pi) + \\boldsymbol{x}", True],
    ])
    assert [tex for tex, _ in failed] == ["\\frac{a}{", "\\notamacro x"]


def test_every_formula_typesets_with_the_local_mathjax(html):
    formulas, where = [], {}
    for path, page in _math_pages(html).items():
        for tag, text in page.formulas:
            tex = text[2:-2]
            formulas.append([tex, tag == "div"])
            where.setdefault(tex, str(path.relative_to(html)))
    assert len(formulas) >= 40
    failed = _typeset_failures(html / "_static" / "mathjax", formulas)
    assert not failed, [(where[tex], tex, why[:300]) for tex, why in failed]
