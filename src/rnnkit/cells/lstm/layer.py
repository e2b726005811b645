"""The LSTM layer: :class:`~rnnkit.layers.recurrent.RecurrentLayer` over the LSTM's kernels
(:mod:`rnnkit.cells.lstm.reference`, mirrored by :mod:`rnnkit.cells.lstm.compiled`).

Glossary: B batch, T time, D input features, H hidden units, P projection size (P = H
without projection), L layers, K directions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit._validate import check_positive_int
from rnnkit.cells.lstm.cell import LSTMCell, _split_state
from rnnkit.layers.recurrent import DirectionCache, RecurrentLayer


class LSTM(RecurrentLayer):
    """A multi-layer LSTM, numerically identical to ``torch.nn.LSTM(batch_first=True)``.

    For each layer and time step (gate blocks in the order i, f, g, o)::

        z_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
        i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);   g = tanh(z_g)
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)            (then h_t = h_t W_hr^T when proj_size > 0)

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    num_layers : int
    bias : bool
    dropout : float
        Dropout probability on the outputs of every layer but the last, in training mode.
    bidirectional : bool
    proj_size : int
        P > 0 adds ``weight_hr_l{k}`` (P, H); h then has width P and ``weight_hh`` is (4H, P).
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None
    **regularisers
        ``locked_input_dropout``, ``locked_dropout``, ``weight_drop``, ``zoneout``, ``zoneout_cell``,
        ``learn_initial_state``: see :class:`~rnnkit.layers.recurrent.RecurrentLayer`.

    Shapes
    ------
    ``forward(x (B, T, D), (h0 (L*K, B, P), c0 (L*K, B, H)) or None, lengths (B,) or None)``
    returns ``y (B, T, K*P), (h_n, c_n)``;
    ``backward(dy, (dh_n, dc_n) or None)`` returns ``dx (B, T, D), (dh0, dc0)``. Either part
    of a state or state gradient may be None (zeros).

    Examples
    --------
    >>> lstm = LSTM(3, 5, bidirectional=True, seed=0)
    >>> y, (h_n, c_n) = lstm(np.zeros((2, 6, 3)), lengths=[6, 4])
    >>> y.shape, h_n.shape, c_n.shape
    ((2, 6, 10), (2, 2, 5), (2, 2, 5))
    >>> dx, (dh0, dc0) = lstm.backward(np.ones_like(y))
    >>> dx.shape
    (2, 6, 3)
    """

    projects = True
    num_gates = 4
    num_states = 2
    cell_class = LSTMCell
    kernels = "rnnkit.cells.lstm"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 dtype: Any = np.float32, seed: Any = None, **regularisers: Any):
        check_positive_int(proj_size, "proj_size", minimum=0)
        super().__init__(input_size, hidden_size, num_layers, bias, dropout, bidirectional, proj_size,
                         dtype=dtype, seed=seed, **regularisers)
        self.config = {**self._base_config(), "proj_size": self.proj_size}

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
