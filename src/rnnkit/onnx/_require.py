"""The optional ``onnx`` and ``onnxruntime`` packages, imported only when an export needs them.

``import rnnkit`` and ``import rnnkit.onnx`` work without them; the first function that needs
one raises an ImportError that says what to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

INSTALL = 'pip install "rnnkit[onnx]"'


def _import(name: str, purpose: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ImportError(f"{purpose} needs the {name} package, which is not installed: {INSTALL} "
                          f"(it brings onnx and onnxruntime)") from error


def require_onnx() -> ModuleType:
    """The ``onnx`` module (with ``onnx.helper`` and ``onnx.numpy_helper`` loaded)."""
    onnx = _import("onnx", "ONNX export and import")
    importlib.import_module("onnx.helper")
    importlib.import_module("onnx.numpy_helper")
    importlib.import_module("onnx.checker")
    return onnx


def require_runtime() -> ModuleType:
    """The ``onnxruntime`` module (for ``--check`` and the comparisons)."""
    return _import("onnxruntime", "Running an exported model (--check)")
