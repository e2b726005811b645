"""A small builder for ONNX graphs on top of ``onnx.helper``, and the atomic file write.

Every exported graph is float32 and uses the default ONNX domain at :data:`OPSET`. Node
outputs get unique names from the op type (``Transpose_3``) unless a name is given, so the
graph's named inputs and outputs are the only names a user has to know.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.onnx._require import require_onnx

OPSET = 17                      # RNN/LSTM/GRU (14), Reshape/Slice/ReduceSum with axes inputs (13): all in ORT
PRODUCER = "rnnkit"
FLOAT = np.float32


class GraphBuilder:
    """Collects nodes, initializers, inputs and outputs; :meth:`model` makes the ``ModelProto``."""

    def __init__(self, name: str):
        self.onnx = require_onnx()
        self.name = name
        self.nodes: list = []
        self.initializers: list = []
        self.inputs: list = []
        self.outputs: list = []
        self._counter = 0
        self._constants: dict[tuple, str] = {}

    def _fresh(self, stem: str) -> str:
        self._counter += 1
        return f"{stem}_{self._counter}"

    # --- graph inputs and outputs ---------------------------------------------------------
    def input(self, name: str, dtype: Any, shape: list) -> str:
        """Declare graph input ``name``; ``shape`` holds ints or names of dynamic dimensions."""
        element = self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        self.inputs.append(self.onnx.helper.make_tensor_value_info(name, element, shape))
        return name

    def output(self, value: str, name: str, dtype: Any, shape: list) -> str:
        """Declare graph output ``name`` holding ``value`` (an Identity renames it)."""
        if value != name:
            self.node("Identity", [value], name=name)
        element = self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        self.outputs.append(self.onnx.helper.make_tensor_value_info(name, element, shape))
        return name

    # --- values ---------------------------------------------------------------------------
    def constant(self, array: Any, name: str | None = None, dtype: Any = None) -> str:
        """An initializer holding ``array`` (weights are cast to float32 unless ``dtype`` says)."""
        array = np.asarray(array)
        if dtype is None:
            dtype = FLOAT if np.issubdtype(array.dtype, np.floating) else array.dtype
        array = np.ascontiguousarray(array, dtype=dtype)
        if name is None:                              # small shape/index constants are shared
            key = (array.dtype.str, array.shape, array.tobytes()) if array.size <= 16 else None
            if key is not None and key in self._constants:
                return self._constants[key]
            name = self._fresh("const")
            if key is not None:
                self._constants[key] = name
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def ints(self, *values: int) -> str:
        """An int64 1-D constant (shapes, axes, slice bounds)."""
        return self.constant(np.array(values, dtype=np.int64))

    def node(self, op: str, inputs: list[str], outputs: int = 1, name: str | None = None,
             **attributes: Any) -> Any:
        """Add one node; returns its output name, or a list of names when ``outputs`` > 1."""
        if outputs == 1:
            names = [name or self._fresh(op)]
        else:
            names = [self._fresh(f"{op}_out{index}") for index in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op, inputs, names, name=self._fresh(f"node_{op}"),
                                                     **attributes))
        return names[0] if outputs == 1 else names

    # --- common pieces --------------------------------------------------------------------
    def linear(self, x: str, weight: np.ndarray, bias: np.ndarray | None) -> str:
        """``x W^T + b`` on the last axis of x, any leading axes (rnnkit's Linear)."""
        y = self.node("MatMul", [x, self.constant(np.asarray(weight).T)])
        return y if bias is None else self.node("Add", [y, self.constant(bias)])

    def transpose(self, x: str, *perm: int) -> str:
        return self.node("Transpose", [x], perm=list(perm))

    def model(self, metadata: dict[str, Any] | None = None) -> Any:
        """The checked ``ModelProto``; ``metadata`` values that are not strings are stored as JSON."""
        helper = self.onnx.helper
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, initializer=self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=PRODUCER)
        model.ir_version = min(model.ir_version, 8)   # IR 8 goes with opset 17; older runtimes read it
        for key, value in (metadata or {}).items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        self.onnx.checker.check_model(model, full_check=True)
        return model


def write_model(model: Any, path: str | os.PathLike) -> Path:
    """Serialise ``model`` to ``path`` atomically: a temporary file in the same folder, then a rename.

    A folder that does not exist or cannot be written raises OSError before anything is
    written; an interrupted write leaves no file at ``path`` (or the old one, unchanged).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write the ONNX file: {path} is a folder")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write the ONNX file {path}: the folder {folder} does not exist")
    data = model.SerializeToString()
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path
