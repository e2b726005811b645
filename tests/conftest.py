"""Shared fixtures. Kept small: helpers that only one file needs live in that file."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fresh, fixed-seed Generator for test data (never for the weights under test)."""
    return np.random.default_rng(1234)


@pytest.fixture
def both_paths():
    """Lets a test of the compiled loops call ``compiled.set_enabled(True/False)``; afterwards the
    environment decides again."""
    yield
    from rnnkit import compiled

    compiled.set_enabled(None)
