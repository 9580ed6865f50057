"""Shared fixtures."""

import pytest
from _helpers import Walk, gaussian_data


@pytest.fixture(scope="session")
def gaussian_walk():
    """The walk on the Gaussian R^8 sample of theory.md section 7."""
    return Walk(gaussian_data())
