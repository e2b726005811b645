"""Whether the compiled time loops are used: Numba present, BLAS found, and not switched off.

The compiled loops are an optional speed-up of the NumPy loops in :mod:`rnnkit.layers`; the
NumPy loops stay the reference. They are used when all of these hold:

* ``numba`` can be imported (``pip install rnnkit[fast]``);
* NumPy's own OpenBLAS exports the 64-bit-integer CBLAS symbols the loops call (the NumPy
  wheels on PyPI do), so the loops share NumPy's BLAS, its kernels and its threads;
* the environment variable ``RNNKIT_COMPILE`` is not ``0`` (read at every call), unless
  :func:`set_enabled` overrides it.

Nothing here imports Numba until the first question is asked.
"""

from __future__ import annotations

import importlib
import os

_override: bool | None = None     # set_enabled(True/False); None follows RNNKIT_COMPILE
_available: bool | None = None    # cached answer of available()
_reason = ""


def available() -> bool:
    """True when Numba imports and the BLAS symbols are found (checked once)."""
    global _available, _reason
    if _available is None:
        try:
            import numba  # noqa: F401

            from rnnkit.compiled import blas
            _available = blas.load()
            _reason = "" if _available else "NumPy's BLAS exports no 64-bit CBLAS symbols (cblas_sgemm64_)"
        except ImportError as error:       # numba missing: the NumPy loops, no error
            _available, _reason = False, f"numba is not importable ({error})"
    return _available


def unavailable_reason() -> str:
    """Why :func:`available` is False ('' when it is True)."""
    available()
    return _reason


def set_enabled(flag: bool | None) -> None:
    """Turn the compiled loops on (True) or off (False); None goes back to ``RNNKIT_COMPILE``."""
    global _override
    _override = None if flag is None else bool(flag)


def kernel(package: str):
    """The kernel module a layer or cell runs now: ``package + ".compiled"`` (Numba) when
    :func:`enabled`, else ``package + ".reference"`` (NumPy). Both have the same functions,
    arguments and cache layout (see :mod:`rnnkit.layers.recurrent`)."""
    return importlib.import_module(package + (".compiled" if enabled() else ".reference"))


def enabled() -> bool:
    """True when the layers will run their compiled loops."""
    wanted = _override if _override is not None else os.environ.get("RNNKIT_COMPILE", "1").strip() != "0"
    return wanted and available()
