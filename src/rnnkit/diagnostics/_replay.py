"""Recompute a recurrent layer's gate activations from what its last forward cached.

The layers cache the hidden states of every step (``DirectionCache.states``) and the input of
every layer; the gates' own caches differ between the NumPy and the compiled loops. Given the
states, every gate pre-activation is one product for all steps at once (h_{t-1} is known), so
the diagnostics recompute them here instead of reading either private layout. Read-only: the
layer and its cache are not modified.

Glossary: T steps, B batch, H hidden, P width of h (P = H without projection), G gates.
Everything here is in *processing order* (the reverse direction's step 0 is the last time step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnkit.layers.gru import GRU
from rnnkit.layers.lstm import LSTM
from rnnkit.layers.recurrent import RecurrentLayer
from rnnkit.layers.rnn import RNN

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
    raise TypeError(f"expected an rnnkit RNN, LSTM or GRU layer, got {type(layer).__name__}")


def gate_activations(layer: RecurrentLayer) -> tuple[str, ...]:
    """The nonlinearity of each gate block of ``layer``'s W_hh, in PyTorch's block order."""
    kind = cell_kind(layer)
    if kind == "RNN":
        return (layer.nonlinearity,)
    return GATE_ACTIVATIONS[kind]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))         # stable for any z


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
    direction_cache = cache["caches"][layer_index][direction]
    reverse = direction_cache.reverse
    weights = layer.weights[layer_index][direction]
    x_in = cache["inputs"][layer_index].astype(np.float64)          # (T, B, D_in), time order
    invalid = cache["invalid"]
    if reverse:
        x_in = x_in[::-1]
        invalid = None if invalid is None else invalid[::-1]
    h = direction_cache.states.astype(np.float64)                    # (T+1, B, P)
    w_ih = weights.weight_ih.data.astype(np.float64)
    w_hh = weights.weight_hh.data.astype(np.float64)
    input_part = x_in @ w_ih.T                                       # (T, B, G*H)
    recurrent_part = h[:-1] @ w_hh.T                                 # (T, B, G*H)
    if weights.bias_ih is not None:
        input_part += weights.bias_ih.data
        recurrent_part += weights.bias_hh.data
    result = Replay(kind, h, invalid=invalid, reverse=reverse)
    hidden = layer.hidden_size
    blocks = [slice(index * hidden, (index + 1) * hidden) for index in range(layer.num_gates)]
    if kind == "RNN":
        pre = input_part + recurrent_part
        result.gates["h"] = np.tanh(pre) if layer.nonlinearity == "tanh" else np.maximum(pre, 0.0)
    elif kind == "LSTM":
        pre = input_part + recurrent_part                            # (T, B, 4H) [i f g o]
        for name, activation, block in zip(GATE_NAMES["LSTM"], GATE_ACTIVATIONS["LSTM"], blocks):
            result.gates[name] = np.tanh(pre[..., block]) if activation == "tanh" else _sigmoid(pre[..., block])
        steps, batch = pre.shape[:2]
        cells = np.empty((steps + 1, batch, hidden))
        extra = direction_cache.extra
        initial_cells = extra[0] if len(extra) and isinstance(extra[0], np.ndarray) else None
        cells[0] = initial_cells[0] if initial_cells is not None and initial_cells.shape == cells.shape else 0.0
        i, f, g = result.gates["input"], result.gates["forget"], result.gates["cell"]
        for k in range(steps):
            cells[k + 1] = f[k] * cells[k] + i[k] * g[k]
            if invalid is not None:
                np.copyto(cells[k + 1], cells[k], where=invalid[k])
        result.cells = cells
    else:
        r = _sigmoid(input_part[..., blocks[0]] + recurrent_part[..., blocks[0]])
        z = _sigmoid(input_part[..., blocks[1]] + recurrent_part[..., blocks[1]])
        result.recurrent_new = recurrent_part[..., blocks[2]]
        n = np.tanh(input_part[..., blocks[2]] + r * result.recurrent_new)
        result.gates.update(reset=r, update=z, new=n)
    return result
