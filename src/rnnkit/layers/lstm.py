"""The LSTM layer: the time loop over :mod:`rnnkit.cells.lstm_cell`'s step math.

Glossary: B batch, T time, D input features, H hidden units, P projection size (P = H
without projection), L layers, K directions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit._validate import check_positive_int
from rnnkit.cells.lstm_cell import LSTMCell, _split_state, lstm_step_backward, lstm_step_forward
from rnnkit import compiled
from rnnkit.layers.recurrent import DirectionCache, DirectionWeights, RecurrentLayer


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

    num_gates = 4
    num_states = 2
    cell_class = LSTMCell
    compiled_cache_keeps_input_products = True

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 dtype: Any = np.float32, seed: Any = None):
        check_positive_int(proj_size, "proj_size", minimum=0)
        super().__init__(input_size, hidden_size, num_layers, bias, dropout, bidirectional, proj_size,
                         dtype=dtype, seed=seed)
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
        cells = direction_cache.extra[0]                     # (T+1, B, H) in both loops' caches
        return direction_cache.states[0], cells[0]

    def _direction_inference(self, xw, reverse, weights: DirectionWeights, initial, invalid, output, column):
        from rnnkit.compiled import lstm_loops
        return lstm_loops.inference(self, xw, reverse, weights, initial, invalid, output, column)

    def _direction_forward(self, xw, weights: DirectionWeights, initial, invalid, compiled_loop):
        if compiled_loop:                                    # same loop, compiled (rnnkit.compiled)
            from rnnkit.compiled import lstm_loops
            return lstm_loops.forward(self, xw, weights, initial, invalid)
        steps, batch, _ = xw.shape
        hidden = self.hidden_size
        states = np.empty((steps + 1, batch, self.output_size), dtype=self.dtype)   # h: (T+1, B, P)
        cells = np.empty((steps + 1, batch, hidden), dtype=self.dtype)              # c: (T+1, B, H)
        states[0], cells[0] = initial
        gates = np.empty((steps, batch, 4 * hidden), dtype=self.dtype)              # [i f g o]
        tanh_c = np.empty((steps, batch, hidden), dtype=self.dtype)
        projected = self.proj_size > 0
        unprojected = np.empty((steps, batch, hidden), dtype=self.dtype) if projected else None
        w_hh_t = weights.weight_hh.data.T
        w_hr_t = weights.weight_hr.data.T if projected else None
        for k in range(steps):
            np.matmul(states[k], w_hh_t, out=gates[k])
            gates[k] += xw[k]
            h_out = unprojected[k] if projected else states[k + 1]
            lstm_step_forward(gates[k], cells[k], cells[k + 1], tanh_c[k], h_out)
            if projected:
                np.matmul(unprojected[k], w_hr_t, out=states[k + 1])
            if invalid is not None:                              # past the length: keep the state
                np.copyto(states[k + 1], states[k], where=invalid[k])
                np.copyto(cells[k + 1], cells[k], where=invalid[k])
        return states, (states[-1], cells[-1]), (cells, gates, tanh_c, unprojected)

    def _direction_backward(self, cache: DirectionCache, weights: DirectionWeights, d_states, d_final_extra,
                            invalid):
        if isinstance(cache.extra, compiled.CompiledExtra):     # the forward ran compiled
            from rnnkit.compiled import lstm_loops
            return lstm_loops.backward(self, cache, weights, d_states, d_final_extra, invalid)
        cells, gates, tanh_c, unprojected = cache.extra
        steps, batch, _ = d_states.shape
        hidden = self.hidden_size
        valid = None if invalid is None else (~invalid).astype(self.dtype)
        d_gates = np.empty((steps, batch, 4 * hidden), dtype=self.dtype)            # dL/dz_t
        dh_carry = np.zeros((batch, self.output_size), dtype=self.dtype)            # dL/dh_{t-1}
        dc_carry = d_final_extra[0].copy()                                          # dL/dc_t, (B, H)
        dc_prev = np.empty((batch, hidden), dtype=self.dtype)
        projected = self.proj_size > 0
        d_unprojected = np.empty((batch, hidden), dtype=self.dtype) if projected else None
        w_hh = weights.weight_hh.data
        for k in reversed(range(steps)):
            dh = d_states[k]
            dh += dh_carry
            if projected:
                np.matmul(dh, weights.weight_hr.data, out=d_unprojected)
            lstm_step_backward(d_unprojected if projected else dh, dc_carry, gates[k], cells[k], tanh_c[k],
                               d_gates[k], dc_prev)
            if invalid is not None:
                d_gates[k] *= valid[k]
                np.copyto(dc_prev, dc_carry, where=invalid[k])      # a held state passes dc through
            np.matmul(d_gates[k], w_hh, out=dh_carry)
            if invalid is not None:
                np.copyto(dh_carry, dh, where=invalid[k])
            dc_carry, dc_prev = dc_prev, dc_carry
        if projected:
            d_projection = d_states if invalid is None else d_states * valid
            weights.weight_hr.grad += np.tensordot(d_projection, unprojected, axes=([0, 1], [0, 1]))
        return d_gates, d_gates, (dh_carry, dc_carry)
