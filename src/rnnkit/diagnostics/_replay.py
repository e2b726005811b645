"""Recompute a recurrent layer's gate activations from what its last forward cached.

The layers cache the hidden states of every step (``DirectionCache.states``) and the input of
every layer. Given the states, every step's pre-activations are known (h_{t-1} is cached), and
the cell kind's own reference step (``rnnkit/cells/<kind>/reference.py``) turns them into the
gate activations, in float64; the gate cache itself may already hold gradients (a backward
writes over it). Read-only: the layer and its cache are not modified.

Glossary: T steps, B batch, H hidden, P width of h (P = H without projection), G gates.
Everything here is in *processing order* (the reverse direction's step 0 is the last time step).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np

from rnnkit.cells.gru.layer import GRU
from rnnkit.cells.lstm.layer import LSTM
from rnnkit.cells.rnn.layer import RNN
from rnnkit.layers.recurrent import RecurrentLayer

GATE_NAMES = {"RNN": ("h",), "LSTM": ("input", "forget", "cell", "output"), "GRU": ("reset", "update", "new")}
GATE_ACTIVATIONS = {                          # which nonlinearity each gate block goes through
    "LSTM": ("sigmoid", "sigmoid", "tanh", "sigmoid"),
    "GRU": ("sigmoid", "sigmoid", "tanh"),
}


def cell_kind(layer: RecurrentLayer) -> str:
    """``"RNN"``, ``"LSTM"`` or ``"GRU"``."""
    for kind in (LSTM, GRU, RNN):
        if isinstance(layer, kind):
            return kind.__name__
    raise TypeError(f"the gate diagnostics read RNN, LSTM and GRU layers (their gates are named here), "
                    f"got {type(layer).__name__}")


def gate_activations(layer: RecurrentLayer) -> tuple[str, ...]:
    """The nonlinearity of each gate block of ``layer``'s W_hh, in PyTorch's block order."""
    kind = cell_kind(layer)
    if kind == "RNN":
        return (layer.nonlinearity,)
    return GATE_ACTIVATIONS[kind]


@dataclass
class Replay:
    """One layer and direction's forward, recomputed in float64, processing order."""

    kind: str
    h: np.ndarray                                  # (T+1, B, P): h[0] initial, h[k+1] after step k
    gates: dict[str, np.ndarray] = field(default_factory=dict)   # name -> (T, B, H) activations
    cells: np.ndarray | None = None                # LSTM: (T+1, B, H)
    recurrent_new: np.ndarray | None = None        # GRU: (T, B, H) = h_{t-1} W_hn^T + b_hn
    invalid: np.ndarray | None = None              # (T, B, 1) True past a sequence's length
    reverse: bool = False


def check_index(layer: RecurrentLayer, layer_index: int, direction: int) -> None:
    if not 0 <= layer_index < layer.num_layers:
        raise ValueError(f"layer_index must lie in [0, {layer.num_layers - 1}], got {layer_index}")
    if not 0 <= direction < layer.num_directions:
        raise ValueError(f"direction must lie in [0, {layer.num_directions - 1}], got {direction}")


def replay(layer: RecurrentLayer, layer_index: int = 0, direction: int = 0) -> Replay:
    """Recompute the gates of ``layer``'s last forward (call the layer first)."""
    kind = cell_kind(layer)
    check_index(layer, layer_index, direction)
    cache = layer._cache
    if cache is None:
        raise ValueError(f"{type(layer).__name__} has no forward to diagnose: call the layer on a batch first")
    if not isinstance(cache, dict):                 # NO_CACHE (no_grad, predict) or a forward that failed
        raise ValueError(f"{type(layer).__name__}'s last forward kept nothing to diagnose ({cache!r}): call the "
                         f"layer on a batch outside rnnkit.no_grad() first")
    if kind == "LSTM" and layer.zoneout_cell:
        raise ValueError(f"the gate diagnostics recompute the cell state c without zoneout, and this LSTM has "
                         f"zoneout_cell={layer.zoneout_cell}: diagnose a layer with zoneout_cell=0")
    direction_cache = cache["caches"][layer_index][direction]
    reverse = direction_cache.reverse
    weights = cache["weights"][layer_index][direction]              # with W_hh masked where weight drop ran
    x_in = cache["inputs"][layer_index].astype(np.float64)          # (T, B, D_in), time order
    invalid = cache["invalid"]
    if reverse:
        x_in = x_in[::-1]
        invalid = None if invalid is None else invalid[::-1]
    h = direction_cache.states.astype(np.float64)                    # (T+1, B, P)
    w_ih = weights.weight_ih.data.astype(np.float64)
    w_hh = weights.weight_hh.data.astype(np.float64)
    input_part = x_in @ w_ih.T                                       # (T, B, G*H), no biases
    recurrent_part = h[:-1] @ w_hh.T                                 # (T, B, G*H), no biases
    b_ih, b_hh = (np.zeros(w_ih.shape[0]), np.zeros(w_ih.shape[0])) if weights.bias_ih is None else \
        (weights.bias_ih.data.astype(np.float64), weights.bias_hh.data.astype(np.float64))
    step = importlib.import_module(layer.kernels + ".reference").step_forward    # the cell's own step math
    result = Replay(kind, h, invalid=invalid, reverse=reverse)
    steps, batch = input_part.shape[:2]
    hidden = layer.hidden_size
    names = ("h",) if kind == "RNN" else GATE_NAMES[kind]
    activations = np.empty((steps, batch, layer.num_gates * hidden))
    if kind == "RNN":
        step(input_part + recurrent_part, b_ih + b_hh, layer.nonlinearity, activations)
    elif kind == "GRU":
        result.recurrent_new = np.empty((steps, batch, hidden))
        for k in range(steps):
            gi, gh = input_part[k], recurrent_part[k]
            step(gi, b_ih, gh, b_hh, h[k], np.empty((batch, hidden)))
            activations[k], result.recurrent_new[k] = gi, gh[:, 2 * hidden:]   # [r z n], gh_n with b_hn
    else:
        cells = np.empty((steps + 1, batch, hidden))
        initial_cells = layer._initial_states_of(direction_cache)[1]
        cells[0] = initial_cells
        scratch = np.empty((batch, hidden))
        for k in range(steps):
            activations[k] = input_part[k] + recurrent_part[k]
            step(activations[k], b_ih + b_hh, cells[k], cells[k + 1], scratch, np.empty((batch, hidden)))
            if invalid is not None:
                np.copyto(cells[k + 1], cells[k], where=invalid[k])
        result.cells = cells
    for index, name in enumerate(names):
        result.gates[name] = activations[..., index * hidden:(index + 1) * hidden]
    return result
