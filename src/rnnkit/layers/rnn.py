"""The Elman RNN layer: the time loop over :mod:`rnnkit.cells.rnn_cell`'s step math.

Glossary: B batch, T time, D input features, H hidden units, L layers, K directions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit._validate import check_choice
from rnnkit.cells.rnn_cell import NONLINEARITIES, RNNCell, rnn_step_backward, rnn_step_forward
from rnnkit import compiled
from rnnkit.layers.recurrent import DirectionCache, DirectionWeights, RecurrentLayer


class RNN(RecurrentLayer):
    """A multi-layer Elman RNN, numerically identical to ``torch.nn.RNN(batch_first=True)``.

    For each layer and time step::

        h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),   act = tanh or relu

    where x_t is the input (layer 0) or the previous layer's output at step t (with dropout
    between layers in training mode). Bidirectional layers concatenate a forward and a reverse
    pass: ``y_t = [h_t^fwd, h_t^rev]``.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    num_layers : int
        L, stacked layers.
    nonlinearity : {"tanh", "relu"}
    bias : bool
        Whether the ``bias_ih_l{k}`` and ``bias_hh_l{k}`` parameters exist.
    dropout : float
        Dropout probability on the outputs of every layer but the last, in training mode.
    bidirectional : bool
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None
        Seeds the initial weights (uniform in +-1/sqrt(H)) and the dropout masks.

    Shapes
    ------
    ``forward(x (B, T, D), h0 (L*K, B, H) or None, lengths (B,) or None)``
    returns ``y (B, T, K*H), h_n (L*K, B, H)``;
    ``backward(dy (B, T, K*H), dh_n (L*K, B, H) or None)`` returns ``dx (B, T, D), dh0``.

    Examples
    --------
    >>> rnn = RNN(input_size=3, hidden_size=5, num_layers=2, seed=0)
    >>> y, h_n = rnn(np.zeros((4, 7, 3)))
    >>> y.shape, h_n.shape
    ((4, 7, 5), (2, 4, 5))
    >>> dx, dh0 = rnn.backward(np.ones_like(y))
    >>> dx.shape, dh0.shape
    ((4, 7, 3), (2, 4, 5))
    """

    num_gates = 1
    cell_class = RNNCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = np.float32, seed: Any = None):
        check_choice(nonlinearity, "nonlinearity", NONLINEARITIES)
        super().__init__(input_size, hidden_size, num_layers, bias, dropout, bidirectional,
                         dtype=dtype, seed=seed)
        self.nonlinearity = nonlinearity
        self.config = {**self._base_config(), "nonlinearity": nonlinearity}

    def _cell_options(self) -> dict[str, Any]:
        return {"nonlinearity": self.nonlinearity}

    def forward(self, x: Any, h0: Any = None, lengths: Any = None) -> tuple[np.ndarray, np.ndarray]:
        y, (h_n,) = self._forward(x, (h0,), lengths, ("h0",))
        return y, h_n

    def backward(self, dy: Any, dh_n: Any = None) -> tuple[np.ndarray, np.ndarray]:
        dx, (dh0,) = self._backward(dy, (dh_n,), ("dh_n",))
        return dx, dh0

    def _direction_inference(self, xw, reverse, weights: DirectionWeights, initial, invalid, output, column):
        from rnnkit.compiled import rnn_loops
        return rnn_loops.inference(self, xw, reverse, weights, initial, invalid, output, column)

    def _direction_forward(self, xw, weights: DirectionWeights, initial, invalid, compiled_loop):
        if compiled_loop:                                    # same loop, compiled (rnnkit.compiled)
            from rnnkit.compiled import rnn_loops
            return rnn_loops.forward(self, xw, weights, initial, invalid)
        steps, batch, _ = xw.shape
        states = np.empty((steps + 1, batch, self.hidden_size), dtype=self.dtype)   # (T+1, B, H)
        states[0] = initial[0]
        w_hh_t = weights.weight_hh.data.T
        for k in range(steps):
            h = states[k + 1]
            np.matmul(states[k], w_hh_t, out=h)
            h += xw[k]
            rnn_step_forward(h, self.nonlinearity)
            if invalid is not None:
                np.copyto(h, states[k], where=invalid[k])       # past the length: keep the state
        return states, (states[-1],), ()

    def _direction_backward(self, cache: DirectionCache, weights: DirectionWeights, d_states, d_final_extra,
                            invalid):
        if isinstance(cache.extra, compiled.CompiledExtra):     # the forward ran compiled
            from rnnkit.compiled import rnn_loops
            return rnn_loops.backward(self, cache, weights, d_states, d_final_extra, invalid)
        states = cache.states
        steps, batch, hidden = d_states.shape
        valid = None if invalid is None else (~invalid).astype(self.dtype)
        d_pre = np.empty((steps, batch, hidden), dtype=self.dtype)     # dL/da_t, (T, B, H)
        carry = np.zeros((batch, hidden), dtype=self.dtype)           # dL/dh_{t-1} through step t
        w_hh = weights.weight_hh.data
        for k in reversed(range(steps)):
            dh = d_states[k]
            dh += carry
            rnn_step_backward(dh, states[k + 1], self.nonlinearity, d_pre[k])
            if invalid is not None:
                d_pre[k] *= valid[k]
            np.matmul(d_pre[k], w_hh, out=carry)
            if invalid is not None:
                np.copyto(carry, dh, where=invalid[k])         # a held state passes dh through
        return d_pre, d_pre, (carry,)
