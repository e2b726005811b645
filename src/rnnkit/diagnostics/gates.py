"""What the gates of an LSTM or GRU do on a batch: how open they are, how often saturated.

A gate near 0 or 1 passes almost no gradient through its own sigmoid (s' = s (1 - s) -> 0):
that is *saturation*. An LSTM forget gate near 1 keeps the cell state, and with it the
gradient along ``c_t = f c_{t-1} + ...``; near 0 it forgets both. The cell-state norm over
time shows whether the memory is kept, grows or is wiped.

Glossary: B batch, T time, H hidden units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnkit.diagnostics._replay import GATE_NAMES, cell_kind, gate_activations, replay
from rnnkit.layers.recurrent import RecurrentLayer


@dataclass
class GateSummary:
    """One gate over a batch: overall mean and saturation, and both per time step (T,)."""

    activation: str
    mean: float
    saturated: float                  # fraction of (valid) units within ``threshold`` of a bound
    mean_over_time: np.ndarray
    saturated_over_time: np.ndarray


@dataclass
class GateStatistics:
    """Every gate's summary, and the mean norm of the memory state at each step (time order).

    ``state_norm`` (T+1,) is ||c_t|| for LSTM, ||h_t|| for GRU, batch mean, index 0 the
    initial state.
    """

    gates: dict[str, GateSummary] = field(default_factory=dict)
    state_name: str = "c"
    state_norm: np.ndarray | None = None

    def table(self) -> str:
        """A Markdown table: gate, nonlinearity, mean, saturated fraction."""
        lines = ["| gate | nonlinearity | mean activation | saturated |", "|---|---|---|---|"]
        for name, summary in self.gates.items():
            lines.append(f"| {name} | {summary.activation} | {summary.mean:.3f} | {summary.saturated:.1%} |")
        return "\n".join(lines)


def gate_statistics(layer: RecurrentLayer, layer_index: int = 0, direction: int = 0,
                    threshold: float = 0.05) -> GateStatistics:
    """Gate statistics of ``layer``'s last forward (call the layer on a batch first).

    A sigmoid gate counts as saturated below ``threshold`` or above ``1 - threshold``; a tanh
    activation when ``|value| > 1 - threshold``. Steps past a sequence's length are left out.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit import LSTM
    >>> lstm = LSTM(2, 8, seed=0)
    >>> _ = lstm(np.random.default_rng(0).standard_normal((4, 10, 2)))
    >>> stats = gate_statistics(lstm)
    >>> list(stats.gates), stats.state_norm.shape
    (['input', 'forget', 'cell', 'output'], (11,))
    >>> 0.3 < stats.gates["forget"].mean < 0.7      # default init: gates half open
    True
    """
    kind = cell_kind(layer)
    if kind == "RNN":
        raise TypeError("gate_statistics needs an LSTM or GRU layer; an RNN has no gates")
    if not 0 < threshold < 0.5:
        raise ValueError(f"threshold must lie in (0, 0.5), got {threshold!r}")
    rep = replay(layer, layer_index, direction)
    steps, batch = rep.h.shape[0] - 1, rep.h.shape[1]
    valid = np.ones((steps, batch, 1)) if rep.invalid is None else (~rep.invalid).astype(np.float64)
    order = slice(None, None, -1) if rep.reverse else slice(None)          # back to time order
    result = GateStatistics(state_name="c" if kind == "LSTM" else "h")
    for name, activation in zip(GATE_NAMES[kind], gate_activations(layer)):
        values = rep.gates[name]                                            # (T, B, H)
        if activation == "sigmoid":
            saturated = (values < threshold) | (values > 1 - threshold)
        else:
            saturated = np.abs(values) > 1 - threshold
        counts = valid.sum(axis=(1, 2)) * values.shape[2]                   # (T,) valid units per step
        mean_t = (values * valid).sum(axis=(1, 2)) / np.maximum(counts, 1)
        saturated_t = (saturated * valid).sum(axis=(1, 2)) / np.maximum(counts, 1)
        total = max(float(counts.sum()), 1.0)
        result.gates[name] = GateSummary(activation, float((values * valid).sum() / total),
                                         float((saturated * valid).sum() / total),
                                         mean_t[order], saturated_t[order])
    memory = rep.cells if kind == "LSTM" else rep.h                         # (T+1, B, width)
    norms = np.linalg.norm(memory, axis=-1).mean(axis=1)
    result.state_norm = norms if not rep.reverse else norms[::-1]
    return result
