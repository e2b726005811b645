"""The LSTM cell: one time step, forward and backward.

Glossary: B batch, D input features, H hidden units; gate blocks in PyTorch's order i, f, g, o.

Equations (one step)::

    z_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh     # (B, 4H), blocks [i f g o]
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)  # input, forget, output gates
    g = tanh(z_g)                                       # cell candidate
    c_t = f * c_{t-1} + i * g                           # (B, H) cell state
    h_t = o * tanh(c_t)                                 # (B, H) hidden state

Backward, from the cached gates, c_{t-1} and tanh(c_t)::

    dc    = dc_t + dh_t * o * (1 - tanh(c_t)^2)   # total gradient reaching c_t
    dz_o  = dh_t * tanh(c_t) * o (1 - o)
    dz_i  = dc * g * i (1 - i)
    dz_f  = dc * c_{t-1} * f (1 - f)
    dz_g  = dc * i * (1 - g^2)
    dc_{t-1} = dc * f,   dh_{t-1} = dz W_hh
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit import compiled
from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.pointwise import sigmoid, sigmoid_backward, tanh_backward


def lstm_step_forward(gates: np.ndarray, c_prev: np.ndarray, c: np.ndarray, tanh_c: np.ndarray,
                      h: np.ndarray) -> None:
    """One LSTM step of pointwise math, allocation-free.

    ``gates`` (B, 4H) holds the pre-activations z_t on entry and the activations [i f g o] on
    exit (that is the cache backward needs). Writes ``c`` = c_t, ``tanh_c`` = tanh(c_t) and
    ``h`` = h_t, each (B, H).
    """
    H = c.shape[1]
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    sigmoid(gates[:, :2 * H], out=gates[:, :2 * H])   # i and f together
    np.tanh(g, out=g)
    sigmoid(o, out=o)
    np.multiply(f, c_prev, out=c)
    np.multiply(i, g, out=h)                          # h is scratch here
    c += h
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=h)


def lstm_step_backward(dh: np.ndarray, dc: np.ndarray, gates: np.ndarray, c_prev: np.ndarray,
                       tanh_c: np.ndarray, d_gates: np.ndarray, dc_prev: np.ndarray) -> None:
    """Backward of :func:`lstm_step_forward`, allocation-free.

    ``dh``, ``dc`` (B, H): dL/dh_t and the dL/dc_t arriving from step t+1. Writes ``d_gates``
    (B, 4H) = dL/dz_t and ``dc_prev`` (B, H) = dL/dc_{t-1}; dL/dh_{t-1} = d_gates W_hh is left
    to the caller (it is the one matrix product of the step).
    """
    H = dh.shape[1]
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    di, df, dg, do = d_gates[:, :H], d_gates[:, H:2 * H], d_gates[:, 2 * H:3 * H], d_gates[:, 3 * H:]
    dc_total = dc_prev                                # reuse the output buffer
    tanh_backward(dh, tanh_c, out=dc_total)
    dc_total *= o
    dc_total += dc                                    # dc = dc_t + dh * o * (1 - tanh(c)^2)
    np.multiply(dh, tanh_c, out=dg)                   # dg is scratch: dL/do
    sigmoid_backward(dg, o, out=do)
    np.multiply(dc_total, g, out=dg)                  # dL/di
    sigmoid_backward(dg, i, out=di)
    np.multiply(dc_total, c_prev, out=dg)             # dL/df
    sigmoid_backward(dg, f, out=df)
    tanh_backward(dc_total, g, out=dg)                # dL/dg through tanh ...
    dg *= i                                           # ... times i: dz_g = dc * i * (1 - g^2)
    dc_total *= f                                     # dc_{t-1} = dc * f


class LSTMCell(RecurrentCell):
    """One LSTM step: ``(h', c') = cell(x, (h, c))``, equations in the module docstring.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H. The stacked weights are ``weight_ih`` (4H, D) and ``weight_hh`` (4H, H).
    bias : bool
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None

    Shapes: ``forward(x (B, D), (h, c) each (B, H), or None) -> (h', c')``;
    ``backward(dh' (B, H), dc' (B, H) or None) -> (dx (B, D), (dh, dc))``.

    >>> cell = LSTMCell(3, 4, seed=0)
    >>> h, c = cell(np.ones((2, 3)))
    >>> dx, (dh, dc) = cell.backward(np.ones((2, 4)))
    >>> h.shape, dx.shape, dc.shape
    ((2, 4), (2, 3), (2, 4))
    """

    num_gates = 4
    fuse_products = True

    def forward(self, x: Any, state: Any = None) -> tuple[np.ndarray, np.ndarray]:
        h, c = (None, None) if state is None else _split_state(state)
        if self._steps_compiled(x, h, c):                      # the fast path of a generation loop
            from rnnkit.compiled import cell_steps
            bias_ih, bias_hh = (self.bias_ih.data, self.bias_hh.data) if self.bias else (self._no_bias, self._no_bias)
            gates, c_new, tanh_c, h_new, total = cell_steps.lstm_step_fused(x, h, c, self._fused, bias_ih, bias_hh)
            if np.isfinite(total):                             # else the checks below raise the error
                self._cache = self._keep((x, h, c, gates, tanh_c))
                return h_new, c_new
        x = self._check_input(x)
        batch = x.shape[0]
        h = self._check_state(h, "h", batch)
        c = self._check_state(c, "c", batch)
        gates = self._pre_activations(x, h)                    # (B, 4H) pre-activations
        c_new = np.empty_like(c)
        tanh_c = np.empty_like(c)
        h_new = np.empty_like(h)
        if compiled.enabled():                                 # same step, one compiled call
            from rnnkit.compiled import cell_steps
            cell_steps.lstm_step_forward(gates, c, c_new, tanh_c, h_new)
        else:
            lstm_step_forward(gates, c, c_new, tanh_c, h_new)
        self._cache = self._keep((x, h, c, gates, tanh_c))
        return h_new, c_new

    def backward(self, dh_new: Any, dc_new: Any = None) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        x, h, c, gates, tanh_c = self._require_cache(self._cache)
        batch = x.shape[0]
        dh_new = self._check_grad(dh_new, "dh", batch)
        dc_new = self._check_grad(dc_new, "dc", batch)
        d_gates = np.empty_like(gates)
        dc = np.empty_like(c)
        lstm_step_backward(dh_new, dc_new, gates, c, tanh_c, d_gates, dc)
        dx = self._accumulate_grads(x, h, d_gates, d_gates)
        dh = d_gates @ self.weight_hh.data
        return dx, (dh, dc)


def _split_state(state: Any) -> tuple[Any, Any]:
    if not isinstance(state, (tuple, list)):
        raise TypeError(f"LSTM state must be a tuple (h, c) or None, got {type(state).__name__}")
    if len(state) != 2:
        raise TypeError(f"LSTM state must be a tuple (h, c) of length 2, got {type(state).__name__} of length {len(state)}")
    return state[0], state[1]
