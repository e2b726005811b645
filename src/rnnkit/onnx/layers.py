"""rnnkit's RNN, LSTM and GRU layers as ONNX ``RNN``, ``LSTM`` and ``GRU`` nodes, one node per layer.

Glossary: B batch, T time, D input features, H hidden units, G gates (1 RNN, 4 LSTM, 3 GRU),
L layers, K directions (1 or 2).

What changes on the way (the ONNX operator specification against PyTorch's layout)::

    gate blocks     LSTM  torch i, f, g, o  ->  ONNX i, o, f, c
                    GRU   torch r, z, n     ->  ONNX z, r, h   (linear_before_reset = 1: torch's
                                                                 r * (W_hn h + b_hn))
    weights         per direction: W (K, G*H, D) = weight_ih, R (K, G*H, H) = weight_hh
    bias            B (K, 2*G*H) = [bias_ih, bias_hh]; left out when the layer has no bias
    layout          ONNX Runtime runs layout = 0 only (time-major): x (B, T, D) is transposed to
                    (T, B, D) once, and y back at the end
    stacking        a node's Y (T, K, B, H) becomes (T, B, K*H), the next node's X
    lengths         sequence_lens (int32): Y is zero past each length, Y_h the state at the last
                    valid step, the reverse direction starts at each sequence's own last step
    states          h0, c0 (L*K, B, H) are sliced per node; h_n, c_n are the nodes' Y_h, Y_c
                    concatenated, index layer * K + direction as in rnnkit

Dropout between layers is training only, so the exported graph is the eval graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.layers import GRU, LSTM, RNN
from rnnkit.onnx.graph import GraphBuilder

# ONNX gate block j holds torch's block TORCH_BLOCKS[kind][j].
TORCH_BLOCKS = {"RNN": (0,), "LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2)}
ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu"}
LAYER_KINDS = {RNN: "RNN", LSTM: "LSTM", GRU: "GRU"}


class ExportError(ValueError):
    """A model or layer that ONNX cannot express; the message says why."""


def layer_kind(layer: Any) -> str:
    """"RNN", "LSTM" or "GRU", after checking that ONNX can express ``layer``."""
    kind = LAYER_KINDS.get(type(layer))
    if kind is None:
        raise ExportError(f"{type(layer).__name__} has no ONNX export: ONNX has operators for rnnkit's RNN, LSTM "
                          f"and GRU only, and a new recurrent layer needs an export of its own")
    if kind == "LSTM" and layer.proj_size:
        raise ExportError(f"an LSTM with proj_size={layer.proj_size} cannot be exported: the ONNX LSTM operator has "
                          f"no projection of h (weight_hr), so ONNX cannot express it")
    if getattr(layer, "zoneout", 0) or getattr(layer, "zoneout_cell", 0):
        raise ExportError(f"a {kind} with zoneout cannot be exported: in evaluation each step mixes the new state "
                          f"with the previous one (h = p h_prev + (1 - p) h_new), which the ONNX {kind} operator "
                          f"cannot express")
    if getattr(layer, "learn_initial_state", False):
        raise ExportError(f"a {kind} with learn_initial_state=True cannot be exported yet: the graph would start "
                          f"from zeros, not from the learned initial_h/initial_c")
    if kind == "RNN" and layer.nonlinearity not in ACTIVATIONS:
        raise ExportError(f"an RNN with nonlinearity={layer.nonlinearity!r} cannot be exported (ONNX: tanh or relu)")
    return kind


def reorder_gates(array: np.ndarray, blocks: tuple[int, ...]) -> np.ndarray:
    """The gate blocks of ``array`` (G*H, ...) in the order ``blocks`` (indices of blocks).

    torch's LSTM blocks i, f, g, o (here H = 1) in ONNX's order i, o, f, c:

    >>> reorder_gates(np.array([10, 20, 30, 40]), TORCH_BLOCKS["LSTM"]).tolist()
    [10, 40, 20, 30]
    """
    gates = array.reshape(len(blocks), -1, *array.shape[1:])             # (G, H, ...)
    return gates[list(blocks)].reshape(array.shape)


def onnx_weights(layer: Any, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """W (K, G*H, D_in), R (K, G*H, H) and B (K, 2*G*H) or None of layer ``index``, in ONNX order."""
    blocks = TORCH_BLOCKS[layer_kind(layer)]
    inputs, recurrent, biases = [], [], []
    for weights in layer.weights[index]:
        inputs.append(reorder_gates(weights.weight_ih.data, blocks))
        recurrent.append(reorder_gates(weights.weight_hh.data, blocks))
        if weights.bias_ih is not None:
            biases.append(np.concatenate([reorder_gates(weights.bias_ih.data, blocks),
                                          reorder_gates(weights.bias_hh.data, blocks)]))
    bias = np.stack(biases).astype(np.float32) if biases else None
    return np.stack(inputs).astype(np.float32), np.stack(recurrent).astype(np.float32), bias


def add_recurrent(graph: GraphBuilder, layer: Any, x_tm: str, lengths: str | None = None,
                  initial: tuple[str, ...] | None = None) -> tuple[str, list[str]]:
    """Add ``layer``'s nodes reading ``x_tm`` (T, B, D); returns y (T, B, K*H) and [h_n] or [h_n, c_n].

    ``lengths`` is an int32 (B,) value, ``initial`` the names of h0 (and c0), each (L*K, B, H).
    """
    kind = layer_kind(layer)
    directions = layer.num_directions
    attributes: dict[str, Any] = {"hidden_size": layer.hidden_size,
                                  "direction": "bidirectional" if directions == 2 else "forward"}
    if kind == "RNN":
        attributes["activations"] = [ACTIVATIONS[layer.nonlinearity]] * directions
    if kind == "GRU":
        attributes["linear_before_reset"] = 1
    state_count = 2 if kind == "LSTM" else 1
    finals: list[list[str]] = [[] for _ in range(state_count)]
    x = x_tm
    for index in range(layer.num_layers):
        weight, recurrent, bias = onnx_weights(layer, index)
        prefix = f"{kind.lower()}_l{index}"
        inputs = [x, graph.constant(weight, f"{prefix}_W"), graph.constant(recurrent, f"{prefix}_R"),
                  "" if bias is None else graph.constant(bias, f"{prefix}_B"), lengths or ""]
        for state in initial or ():
            inputs.append(graph.node("Slice", [state, graph.ints(index * directions),
                                               graph.ints((index + 1) * directions), graph.ints(0)]))
        while inputs[-1] == "":
            inputs.pop()                                                      # trailing optional inputs left out
        outputs = graph.node(kind, inputs, outputs=1 + state_count, **attributes)
        y = outputs[0]                                                        # (T, K, B, H)
        if directions == 1:
            x = graph.node("Squeeze", [y, graph.ints(1)])                     # (T, B, H)
        else:
            x = graph.node("Reshape", [graph.transpose(y, 0, 2, 1, 3), graph.ints(0, 0, -1)])  # (T, B, K*H)
        for position in range(state_count):
            finals[position].append(outputs[1 + position])                  # (K, B, H)
    joined = [parts[0] if len(parts) == 1 else graph.node("Concat", parts, axis=0) for parts in finals]
    return x, joined                                                          # each final (L*K, B, H)


def layer_graph(layer: Any, lengths: bool = False, initial_states: bool = True,
                metadata: dict[str, Any] | None = None) -> Any:
    """The ``ModelProto`` of one layer, batch-first like rnnkit's.

    Inputs ``x`` (B, T, D), ``lengths`` (B,) int64 when ``lengths``, ``h0`` (and ``c0``)
    (L*K, B, H) when ``initial_states``; outputs ``y`` (B, T, K*H), ``h_n`` (and ``c_n``).
    """
    kind = layer_kind(layer)
    graph = GraphBuilder(f"rnnkit_{kind}")
    states = ("h0", "c0") if kind == "LSTM" else ("h0",)
    state_shape = [layer.num_layers * layer.num_directions, "batch", layer.hidden_size]
    x = graph.input("x", np.float32, ["batch", "steps", layer.input_size])
    length_value = None
    if lengths:
        length_value = graph.node("Cast", [graph.input("lengths", np.int64, ["batch"])], to=6)   # 6: int32
    initial = tuple(graph.input(name, np.float32, state_shape) for name in states) if initial_states else None
    y_tm, finals = add_recurrent(graph, layer, graph.transpose(x, 1, 0, 2), length_value, initial)
    width = layer.num_directions * layer.hidden_size
    graph.output(graph.transpose(y_tm, 1, 0, 2), "y", np.float32, ["batch", "steps", width])
    for final, name in zip(finals, ("h_n", "c_n")):
        graph.output(final, name, np.float32, state_shape)
    return graph.model({"rnnkit.kind": kind, "rnnkit.config": layer.config,
                        "rnnkit.inputs": [value.name for value in graph.inputs], **(metadata or {})})
