"""Shared by the tests of the compiled loops: each test may switch the compiled path on or off."""

import pytest


@pytest.fixture
def both_paths():
    """Lets a test call ``compiled.set_enabled(True/False)``; afterwards the environment decides again."""
    yield
    from rnnkit import compiled

    compiled.set_enabled(None)
