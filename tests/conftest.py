"""Shared fixtures and the hypothesis settings profiles.

Profiles (select with ``HYPOTHESIS_PROFILE=<name>``):

- ``default``: the normal suite.  Derandomised (the same examples on every
  run, no example database), no deadline (a fit's time varies with the
  machine), and a budget that keeps the property tests well under two
  minutes.
- ``ci-long``: the nightly-style run, 10 times the examples, still
  derandomised so that a failure reproduces.
"""

import os

import pytest
from _helpers import Walk, gaussian_data
from hypothesis import HealthCheck, settings
from scipy.linalg import eigh

_COMMON = dict(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    # Building data arrays with numpy inside a composite strategy is slow by
    # hypothesis' standards; it is not a sign of a bad strategy here.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("default", max_examples=30, **_COMMON)
settings.register_profile("ci-long", max_examples=300, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def gaussian_walk():
    """The walk on the Gaussian R^8 sample of theory.md section 7."""
    return Walk(gaussian_data())


@pytest.fixture(scope="session")
def spectral_data():
    """2000 Gaussian samples in R^8 and their exact principal axes (descending)."""
    X = gaussian_data(n=2000, seed=3)
    Z = X - X.mean(axis=0)
    return X, eigh(Z.T @ Z)[1][:, ::-1]
