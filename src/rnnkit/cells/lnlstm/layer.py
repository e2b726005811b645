"""The LayerNorm LSTM layer: :class:`~rnnkit.layers.recurrent.RecurrentLayer` over its kernels
(:mod:`rnnkit.cells.lnlstm.reference`, mirrored by :mod:`rnnkit.cells.lnlstm.compiled`).

Glossary: B batch, T time, D input features, H hidden units, L layers, K directions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.cells.lnlstm.cell import LayerNormLSTMCell, norm_shapes
from rnnkit.cells.lstm.cell import _split_state
from rnnkit.layers.recurrent import DirectionCache, RecurrentLayer


class LayerNormLSTM(RecurrentLayer):
    """A multi-layer LSTM with layer normalisation (Ba, Kiros & Hinton 2016, as in Haste), batch-first.

    For each layer and time step (gate blocks in torch's order i, f, g, o; each LN normalises
    its whole vector, width 4H, 4H and H, with eps 1e-5 and has its own gain and shift)::

        z_t = LN_ih(x_t W_ih^T) + LN_hh(h_{t-1} W_hh^T) + bias
        i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);   g = tanh(z_g)
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(LN_c(c_t))

    Parameters per layer k (and ``_reverse``): ``weight_ih_l{k}`` (4H, D_in), ``weight_hh_l{k}``
    (4H, H), ``bias_l{k}`` (4H,) (one bias: a second would only add to it), ``ln_ih_weight_l{k}``,
    ``ln_ih_bias_l{k}`` (4H,), ``ln_hh_weight_l{k}``, ``ln_hh_bias_l{k}`` (4H,), ``ln_c_weight_l{k}``,
    ``ln_c_bias_l{k}`` (H,). Initialisation: weights and ``bias`` uniform in (-1/sqrt(H), 1/sqrt(H))
    as torch's LSTM; every LN gain 1 and shift 0. ``bias=False`` drops ``bias_l{k}`` only (the
    layer norms keep their shifts).

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int
    bias : bool
    dropout : float
        Dropout probability on the outputs of every layer but the last, in training mode.
    bidirectional : bool
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None
    **regularisers
        The regularisers every kind's layer takes (locked dropout, weight drop, zoneout, a
        learnable initial state): see :class:`~rnnkit.layers.recurrent.RecurrentLayer`.

    Shapes
    ------
    ``forward(x (B, T, D), (h0, c0) each (L*K, B, H), or None, lengths (B,) or None)``
    returns ``y (B, T, K*H), (h_n, c_n)``; ``backward(dy, (dh_n, dc_n) or None)`` returns
    ``dx (B, T, D), (dh0, dc0)``.

    Examples
    --------
    >>> layer = LayerNormLSTM(3, 5, num_layers=2, bidirectional=True, seed=0)
    >>> y, (h_n, c_n) = layer(np.zeros((2, 6, 3)), lengths=[6, 4])
    >>> dx, (dh0, dc0) = layer.backward(np.ones_like(y))
    >>> y.shape, c_n.shape, dx.shape, layer.ln_c_weight_l1_reverse.shape
    ((2, 6, 10), (4, 2, 5), (2, 6, 3), (5,))
    """

    num_gates = 4
    num_states = 2
    cell_class = LayerNormLSTMCell
    kernels = "rnnkit.cells.lnlstm"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False, dtype: Any = np.float32, seed: Any = None,
                 **regularisers: Any):
        super().__init__(input_size, hidden_size, num_layers, bias, dropout, bidirectional,
                         dtype=dtype, seed=seed, **regularisers)
        self.config = self._base_config()

    def _parameter_shapes(self, layer_input: int) -> dict[str, tuple[tuple[int, ...], float | None]]:
        rows = 4 * self.hidden_size
        shapes = {"weight_ih": ((rows, layer_input), None), "weight_hh": ((rows, self.hidden_size), None)}
        if self.bias:
            shapes["bias"] = ((rows,), None)
        return {**shapes, **norm_shapes(self.hidden_size, rows)}

    def forward(self, x: Any, state: Any = None, lengths: Any = None):
        h0, c0 = (None, None) if state is None else _split_state(state)
        y, (h_n, c_n) = self._forward(x, (h0, c0), lengths, ("h0", "c0"))
        return y, (h_n, c_n)

    def backward(self, dy: Any, d_state: Any = None):
        dh_n, dc_n = (None, None) if d_state is None else _split_state(d_state)
        dx, (dh0, dc0) = self._backward(dy, (dh_n, dc_n), ("dh_n", "dc_n"))
        return dx, (dh0, dc0)

    def _initial_states_of(self, direction_cache: DirectionCache) -> tuple:
        cells = direction_cache.extra[0]                     # (T+1, B, H)
        return direction_cache.states[0], cells[0]
