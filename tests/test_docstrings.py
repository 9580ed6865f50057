"""Docstrings of the public API: numpydoc validation, attributes, runnable examples.

The patterns are scikit-learn's and imbalanced-learn's:
``numpydoc.validate`` on every public class and on every public method the
package defines itself, and ``test_fit_docstring_attributes`` -- the
Attributes section names exactly the attributes that ``fit`` sets.
"""

import doctest
import inspect

import numpy as np
import pandas as pd
import pytest
from numpydoc.docscrape import ClassDoc
from numpydoc.validate import validate

import slowfast_sklearn
from slowfast_sklearn import CoupledFlowEmbedding

#: Public classes and functions: what ``slowfast_sklearn.__all__`` exports.
PUBLIC = [
    getattr(slowfast_sklearn, name)
    for name in slowfast_sklearn.__all__
    if inspect.isclass(getattr(slowfast_sklearn, name))
    or inspect.isfunction(getattr(slowfast_sklearn, name))
]

#: Checks skipped for methods, as scikit-learn's own docstring test does
#: (every method has its own See Also and runnable Examples section, so SA01
#: and EX01 are enforced):
#:
#: * ES01 (extended summary): a method such as ``transform`` is fully
#:   described by its summary line and its Parameters/Returns sections;
#: * RT02 (return type only): scikit-learn names single return values
#:   (``X_new : ndarray of shape ...``) so that the docs can refer to them;
#:   numpydoc flags every named single return.
METHOD_IGNORE = {"ES01", "RT02"}
#: Nothing is skipped for the classes themselves.
CLASS_IGNORE = set()


def _qualname(obj):
    return f"{obj.__module__}.{obj.__qualname__}"


def _public_methods(cls):
    """Public methods and properties the class defines itself (not inherited)."""
    return [
        getattr(cls, name)
        for name, member in vars(cls).items()
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    ]


def _targets():
    for obj in PUBLIC:
        if inspect.isclass(obj):
            yield pytest.param(_qualname(obj), CLASS_IGNORE, id=obj.__name__)
            for method in _public_methods(obj):
                name = f"{_qualname(obj)}.{method.__name__}"
                yield pytest.param(name, METHOD_IGNORE, id=f"{obj.__name__}.{method.__name__}")
        else:
            yield pytest.param(_qualname(obj), METHOD_IGNORE, id=obj.__name__)


def test_public_api_is_covered():
    """The validation below sees the estimator and its own methods."""
    ids = [param.id for param in list(_targets())]
    assert "CoupledFlowEmbedding" in ids
    for method in ("fit", "fit_transform", "transform", "inverse_transform", "score",
                   "score_samples", "get_covariance"):
        assert f"CoupledFlowEmbedding.{method}" in ids


@pytest.mark.parametrize("name, ignore", list(_targets()))
def test_numpydoc_validation(name, ignore):
    result = validate(name)
    errors = [f"{code}: {message}" for code, message in result["errors"] if code not in ignore]
    assert not errors, f"{name}:\n" + "\n".join(errors)


def test_class_docstring_has_the_sections_users_need():
    """Shapes, defaults, references and a runnable example are in the class docstring."""
    doc = ClassDoc(CoupledFlowEmbedding)
    for parameter in doc["Parameters"]:
        assert "default=" in parameter.type, parameter.name
    signature = inspect.signature(CoupledFlowEmbedding)
    assert [p.name for p in doc["Parameters"]] == list(signature.parameters)
    for attribute in doc["Attributes"]:
        if attribute.type.startswith("ndarray"):
            assert "of shape" in attribute.type, attribute.name
    references = "\n".join(doc["References"])
    for author in ("arXiv:2604.16801", "Oja", "Sanger", "Coifman"):
        assert author in references
    assert doc["Examples"]


def _doctests():
    """Doctests of every public class and function and of the methods they define."""
    finder = doctest.DocTestFinder()
    for obj in PUBLIC:
        for test in finder.find(obj, _qualname(obj), globs={}):
            # Inherited scikit-learn methods are not ours to run.
            if test.name.count(".") <= _qualname(obj).count(".") + 1 and test.examples:
                yield pytest.param(test, id=test.name.removeprefix("slowfast_sklearn._estimator."))


def test_every_public_method_has_a_doctest():
    names = {param.id for param in _doctests()}
    assert "CoupledFlowEmbedding" in names
    for method in _public_methods(CoupledFlowEmbedding):
        assert f"CoupledFlowEmbedding.{method.__name__}" in names, method.__name__


@pytest.mark.parametrize("test", list(_doctests()))
def test_docstring_examples_run(test):
    """Each Examples section runs as a doctest and prints what it shows."""
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0, f"{test.name}: see the output above"
    assert runner.tries >= 2


def test_method_references():
    """Methods that implement a published formula cite it."""
    from numpydoc.docscrape import FunctionDoc

    cited = {
        "score": "Tipping", "score_samples": "Tipping", "get_covariance": "Tipping",
        "partial_fit": "Chan, G. H. Golub and R. J. LeVeque",
    }
    for name, author in cited.items():
        references = "\n".join(FunctionDoc(getattr(CoupledFlowEmbedding, name))["References"])
        assert author in references, name


@pytest.fixture(scope="module")
def fitted():
    """A fit on a DataFrame with string column names (so feature_names_in_ exists)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5)) * [3.0, 2.0, 1.0, 0.5, 0.3]
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    return CoupledFlowEmbedding(n_components=2, random_state=0, max_iter=1500).fit(frame)


def test_fit_docstring_attributes(fitted):
    """Every documented attribute exists after fit, and every fitted attribute is documented."""
    documented = [attribute.name for attribute in ClassDoc(CoupledFlowEmbedding)["Attributes"]]
    assert documented
    missing = [name for name in documented if not hasattr(fitted, name)]
    assert not missing, f"documented but not set by fit: {missing}"
    fitted_attributes = [
        name for name in vars(fitted) if name.endswith("_") and not name.startswith("_")
    ]
    undocumented = sorted(set(fitted_attributes) - set(documented))
    assert not undocumented, f"set by fit but not documented: {undocumented}"


def test_documented_shapes_match(fitted):
    """The shapes in the Attributes section are the fitted shapes."""
    n_features, k = fitted.n_features_in_, fitted.n_components_
    n_checkpoints = fitted.lyapunov_steps_.shape[0]
    expected = {
        "components_": (k, n_features),
        "mean_": (n_features,),
        "explained_variance_": (k,),
        "explained_variance_ratio_": (k,),
        "stationary_measure_": (200,),
        "weights_": (n_features, k),
        "lyapunov_": (n_checkpoints, 3),
        "feature_names_in_": (n_features,),
    }
    for name, shape in expected.items():
        assert getattr(fitted, name).shape == shape, name
    for name in ("n_components_", "n_iter_", "n_features_in_"):
        assert isinstance(getattr(fitted, name), (int, np.integer)), name
    assert isinstance(fitted.converged_, (bool, np.bool_))
    assert isinstance(fitted.noise_variance_, float)


def _building_blocks():
    """The private functions the API page documents (``docs/api.rst``)."""
    import re
    from pathlib import Path

    module, names = None, []
    for line in (Path(__file__).parents[1] / "docs" / "api.rst").read_text().splitlines():
        match = re.match(r"\.\. currentmodule:: (\S+)", line)
        if match:
            module = match.group(1)
            continue
        match = re.match(r"   ([a-z_][a-z_0-9]*)$", line)
        if match and module and module != "slowfast_sklearn":
            names.append(f"{module}.{match.group(1)}")
    return names


def test_api_page_lists_the_building_blocks():
    names = _building_blocks()
    assert "slowfast_sklearn.fast.graph.row_sampler" in names
    assert "slowfast_sklearn.solvers.stochastic.coupled_flow" in names
    assert len(names) >= 10


@pytest.mark.parametrize("name", _building_blocks())
def test_building_block_docstrings(name):
    """The documented building blocks are numpydoc-valid too: every
    parameter and return value described.  They are private, so no See
    Also or Examples section is required (the examples use them)."""
    result = validate(name)
    ignore = METHOD_IGNORE | {"SA01", "EX01"}
    errors = [f"{code}: {message}" for code, message in result["errors"] if code not in ignore]
    assert not errors, f"{name}:\n" + "\n".join(errors)
