"""Shared fixtures. Kept small: helpers that only one file needs live in that file."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fresh, fixed-seed Generator for test data (never for the weights under test)."""
    return np.random.default_rng(1234)
