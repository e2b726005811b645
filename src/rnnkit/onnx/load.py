"""The other way: ONNX ``RNN``, ``LSTM`` and ``GRU`` nodes read back into rnnkit layers.

Glossary: H hidden units, G gates, K directions, D input features.

Each node becomes a one-layer :class:`~rnnkit.RNN`, :class:`~rnnkit.LSTM` or
:class:`~rnnkit.GRU` with its weights in PyTorch's layout and gate order (the inverse of
:mod:`rnnkit.onnx.layers`). A file from ``torch.onnx.export`` of an ``nn.LSTM`` with L layers
holds L such nodes; ``stack=True`` puts consecutive nodes together into one L-layer layer.

Only what rnnkit computes is accepted; each refusal names the node and the reason: a
``reverse``-only direction, ``clip``, LSTM ``input_forget`` or peepholes, activations other
than the defaults (RNN: tanh or relu), GRU ``linear_before_reset = 0``, and weights computed in
the graph rather than stored in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.layers import GRU, LSTM, RNN
from rnnkit.onnx._require import require_onnx
from rnnkit.onnx.layers import ACTIVATIONS, TORCH_BLOCKS, reorder_gates

LAYERS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}
DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}
NONLINEARITIES = {onnx_name: name for name, onnx_name in ACTIVATIONS.items()}


def _inverse(blocks: tuple[int, ...]) -> tuple[int, ...]:
    """The torch order of ONNX gate blocks: torch block j is ONNX block result[j]."""
    return tuple(int(index) for index in np.argsort(blocks))


def _constants(onnx: Any, graph: Any) -> dict[str, np.ndarray]:
    """Initializers and the outputs of Constant nodes, by name."""
    values = {tensor.name: onnx.numpy_helper.to_array(tensor) for tensor in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    values[node.output[0]] = onnx.numpy_helper.to_array(attribute.t)
    return values


def _node_layer(onnx: Any, node: Any, constants: dict[str, np.ndarray], dtype: Any) -> Any:
    """A one-layer rnnkit layer holding the weights of ``node``."""
    kind = node.op_type
    where = f"{kind} node {node.name or node.output[0]!r}"
    attributes = {item.name: onnx.helper.get_attribute_value(item) for item in node.attribute}
    attributes = {name: ([v.decode() for v in value] if isinstance(value, list) and value and
                         isinstance(value[0], bytes) else value.decode() if isinstance(value, bytes) else value)
                  for name, value in attributes.items()}
    direction = attributes.get("direction", "forward")
    if direction not in ("forward", "bidirectional"):
        raise ValueError(f"{where}: direction {direction!r} has no rnnkit layer (forward or bidirectional only)")
    directions = 2 if direction == "bidirectional" else 1
    if "clip" in attributes:
        raise ValueError(f"{where}: cell clipping (clip={attributes['clip']}) is not part of rnnkit's layers")
    if attributes.get("input_forget", 0):
        raise ValueError(f"{where}: input_forget = 1 (coupled input and forget gates) is not part of rnnkit's LSTM")
    if kind == "GRU" and attributes.get("linear_before_reset", 0) != 1:
        raise ValueError(f"{where}: linear_before_reset = 0 applies the reset gate before the recurrent product; "
                         f"rnnkit's GRU (like torch's) needs linear_before_reset = 1")
    activations = attributes.get("activations")
    options: dict[str, Any] = {}
    if kind == "RNN":
        names = set(activations or ["Tanh"])
        if len(names) != 1 or next(iter(names)) not in NONLINEARITIES:
            raise ValueError(f"{where}: activations {activations} are not one of Tanh or Relu for every direction")
        options["nonlinearity"] = NONLINEARITIES[next(iter(names))]
    elif activations is not None and activations != DEFAULT_ACTIVATIONS[kind] * directions:
        raise ValueError(f"{where}: activations {activations} differ from the defaults "
                         f"{DEFAULT_ACTIVATIONS[kind] * directions} that rnnkit computes")

    def constant(position: int, name: str) -> np.ndarray | None:
        if len(node.input) <= position or node.input[position] == "":
            return None
        if node.input[position] not in constants:
            raise ValueError(f"{where}: its {name} ({node.input[position]!r}) is computed in the graph, not stored "
                             f"as a constant, so it cannot be read as weights")
        return np.asarray(constants[node.input[position]], dtype=np.float64)

    weight, recurrent, bias = constant(1, "W"), constant(2, "R"), constant(3, "B")
    peephole = constant(7, "P") if kind == "LSTM" else None
    if peephole is not None and np.any(peephole != 0):
        raise ValueError(f"{where}: peephole weights (P) are not part of rnnkit's LSTM")
    gates = len(TORCH_BLOCKS[kind])
    hidden = int(attributes.get("hidden_size", recurrent.shape[-1]))
    expected = (directions, gates * hidden)
    if weight.ndim != 3 or weight.shape[:2] != expected or recurrent.shape != (*expected, hidden):
        raise ValueError(f"{where}: W {weight.shape} and R {recurrent.shape} do not fit hidden_size {hidden} and "
                         f"{directions} direction(s) (expected ({directions}, {gates * hidden}, D) and "
                         f"({directions}, {gates * hidden}, {hidden}))")
    if bias is not None and bias.shape != (directions, 2 * gates * hidden):
        raise ValueError(f"{where}: B has shape {bias.shape}, expected ({directions}, {2 * gates * hidden})")
    layer = LAYERS[kind](weight.shape[2], hidden, bias=bias is not None, bidirectional=directions == 2,
                         dtype=dtype, seed=0, **options)
    order = _inverse(TORCH_BLOCKS[kind])
    state = {}
    for index in range(directions):
        suffix = "_l0" + ("_reverse" if index == 1 else "")
        state["weight_ih" + suffix] = reorder_gates(weight[index], order)
        state["weight_hh" + suffix] = reorder_gates(recurrent[index], order)
        if bias is not None:
            state["bias_ih" + suffix] = reorder_gates(bias[index, :gates * hidden], order)
            state["bias_hh" + suffix] = reorder_gates(bias[index, gates * hidden:], order)
    layer.load_state_dict(state)
    return layer


def _stack(layers: list[Any], dtype: Any) -> Any:
    """Consecutive one-layer layers as one multi-layer layer (torch's one node per layer)."""
    first = layers[0]
    for number, layer in enumerate(layers[1:], start=1):
        same = (type(layer) is type(first) and layer.hidden_size == first.hidden_size
                and layer.bidirectional == first.bidirectional and layer.bias == first.bias
                and getattr(layer, "nonlinearity", None) == getattr(first, "nonlinearity", None))
        if not same or layer.input_size != first.num_directions * first.hidden_size:
            raise ValueError(f"stack=True: recurrent node {number} ({type(layer).__name__}, input {layer.input_size}, "
                             f"hidden {layer.hidden_size}) does not continue node 0 ({type(first).__name__}, hidden "
                             f"{first.hidden_size}, {first.num_directions} direction(s)) as a stacked layer")
    options = {"nonlinearity": first.nonlinearity} if isinstance(first, RNN) else {}
    stacked = type(first)(first.input_size, first.hidden_size, num_layers=len(layers), bias=first.bias,
                          bidirectional=first.bidirectional, dtype=dtype, seed=0, **options)
    state = {}
    for index, layer in enumerate(layers):
        for name, parameter in layer.named_parameters():
            state[name.replace("_l0", f"_l{index}")] = parameter.data
    stacked.load_state_dict(state)
    return stacked


def load_recurrent(path: str | Path | Any, stack: bool = False, dtype: Any = np.float32) -> Any:
    """The RNN, LSTM and GRU nodes of an ONNX file (or ``ModelProto``) as rnnkit layers.

    Returns a list with one one-layer layer per node, in the graph's order; with
    ``stack=True`` one layer whose layers are those nodes (they must form a stack: same kind,
    size and directions, each reading the previous one's output).
    """
    onnx = require_onnx()
    model = path if hasattr(path, "graph") else onnx.load(str(path))
    constants = _constants(onnx, model.graph)
    layers = [_node_layer(onnx, node, constants, dtype) for node in model.graph.node if node.op_type in LAYERS]
    if not layers:
        raise ValueError(f"{path if not hasattr(path, 'graph') else 'the model'} has no RNN, LSTM or GRU node")
    return _stack(layers, dtype) if stack else layers
