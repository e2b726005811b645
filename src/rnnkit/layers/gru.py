"""The GRU layer: the time loop over :mod:`rnnkit.cells.gru_cell`'s step math.

Glossary: B batch, T time, D input features, H hidden units, L layers, K directions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.cells.gru_cell import GRUCell, gru_step_backward, gru_step_forward
from rnnkit import compiled
from rnnkit.layers.recurrent import DirectionCache, DirectionWeights, RecurrentLayer, add_product


class GRU(RecurrentLayer):
    """A multi-layer GRU, numerically identical to ``torch.nn.GRU(batch_first=True)``.

    For each layer and time step (gate blocks in the order r, z, n)::

        gi = x_t W_ih^T + b_ih,   gh = h_{t-1} W_hh^T + b_hh
        r = sigmoid(gi_r + gh_r),   z = sigmoid(gi_z + gh_z)
        n = tanh(gi_n + r * gh_n)          # the reset gate scales the recurrent part AND b_hn
        h_t = (1 - z) * n + z * h_{t-1}

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int
    bias : bool
    dropout : float
    bidirectional : bool
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None

    Shapes
    ------
    ``forward(x (B, T, D), h0 (L*K, B, H) or None, lengths (B,) or None)``
    returns ``y (B, T, K*H), h_n (L*K, B, H)``;
    ``backward(dy (B, T, K*H), dh_n or None)`` returns ``dx (B, T, D), dh0``.

    Examples
    --------
    >>> gru = GRU(3, 5, num_layers=2, seed=0)
    >>> y, h_n = gru(np.zeros((2, 6, 3)))
    >>> dx, dh0 = gru.backward(np.ones_like(y), dh_n=np.ones_like(h_n))
    >>> y.shape, dx.shape
    ((2, 6, 5), (2, 6, 3))
    """

    num_gates = 3
    cell_class = GRUCell
    compiled_cache_keeps_input_products = True
    fold_recurrent_bias = False      # b_hn sits inside r * (...): it cannot join b_ih

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False, dtype: Any = np.float32, seed: Any = None):
        super().__init__(input_size, hidden_size, num_layers, bias, dropout, bidirectional,
                         dtype=dtype, seed=seed)
        self.config = self._base_config()

    def forward(self, x: Any, h0: Any = None, lengths: Any = None) -> tuple[np.ndarray, np.ndarray]:
        y, (h_n,) = self._forward(x, (h0,), lengths, ("h0",))
        return y, h_n

    def backward(self, dy: Any, dh_n: Any = None) -> tuple[np.ndarray, np.ndarray]:
        dx, (dh0,) = self._backward(dy, (dh_n,), ("dh_n",))
        return dx, dh0

    def _direction_inference(self, xw, reverse, weights: DirectionWeights, initial, invalid, output, column):
        from rnnkit.compiled import gru_loops
        return gru_loops.inference(self, xw, reverse, weights, initial, invalid, output, column)

    def _direction_forward(self, xw, weights: DirectionWeights, initial, invalid, compiled_loop):
        if compiled_loop:                                    # same loop, compiled (rnnkit.compiled)
            from rnnkit.compiled import gru_loops
            return gru_loops.forward(self, xw, weights, initial, invalid)
        steps, batch, _ = xw.shape
        hidden = self.hidden_size
        states = np.empty((steps + 1, batch, hidden), dtype=self.dtype)         # (T+1, B, H)
        states[0] = initial[0]
        gates = np.empty((steps, batch, 3 * hidden), dtype=self.dtype)          # [r z n]
        recurrent_n = np.empty((steps, batch, hidden), dtype=self.dtype)        # gh_n per step
        gh = np.empty((batch, 3 * hidden), dtype=self.dtype)
        w_hh_t = weights.weight_hh.data.T
        b_hh = None if weights.bias_hh is None else weights.bias_hh.data
        for k in range(steps):
            np.matmul(states[k], w_hh_t, out=gh)
            if b_hh is not None:
                gh += b_hh
            gru_step_forward(xw[k], gh, states[k], gates[k], states[k + 1])
            recurrent_n[k] = gh[:, 2 * hidden:]
            if invalid is not None:
                np.copyto(states[k + 1], states[k], where=invalid[k])   # past the length: keep the state
        return states, (states[-1],), (gates, recurrent_n)

    def _accumulate_weight_grads(self, weights: DirectionWeights, states: np.ndarray, layer_input: np.ndarray,
                                 d_gi: np.ndarray, d_gh: np.ndarray, reverse: bool) -> None:
        """The base class's products, also for the compiled loop's d_gh (T, B, H), the n block only.

        dL/d(gh) equals dL/d(gi) in the r and z blocks (both enter the same sigmoid), so those
        rows of dW_hh and b_hh come from d_gi; keeping just the n block saves a (T, B, 2H) array.
        """
        hidden = self.hidden_size
        if d_gh.shape[2] == 3 * hidden:                                  # the NumPy loop: the full d_gh
            super()._accumulate_weight_grads(weights, states, layer_input, d_gi, d_gh, reverse)
            return
        x_in = layer_input[::-1] if reverse else layer_input            # processing order, like d_gi
        add_product(weights.weight_ih.grad, d_gi, x_in)
        add_product(weights.weight_hh.grad[:2 * hidden], d_gi[:, :, :2 * hidden], states[:-1])
        add_product(weights.weight_hh.grad[2 * hidden:], d_gh, states[:-1])
        if weights.bias_ih is not None:
            d_bias_ih = d_gi.sum(axis=(0, 1))
            weights.bias_ih.grad += d_bias_ih
            weights.bias_hh.grad[:2 * hidden] += d_bias_ih[:2 * hidden]
            weights.bias_hh.grad[2 * hidden:] += d_gh.sum(axis=(0, 1))

    def _direction_backward(self, cache: DirectionCache, weights: DirectionWeights, d_states, d_final_extra,
                            invalid):
        if isinstance(cache.extra, compiled.CompiledExtra):     # the forward ran compiled
            from rnnkit.compiled import gru_loops
            return gru_loops.backward(self, cache, weights, d_states, d_final_extra, invalid)
        states = cache.states
        gates, recurrent_n = cache.extra
        steps, batch, hidden = d_states.shape
        valid = None if invalid is None else (~invalid).astype(self.dtype)
        d_gi = np.empty((steps, batch, 3 * hidden), dtype=self.dtype)           # dL/d(gi)
        d_gh = np.empty((steps, batch, 3 * hidden), dtype=self.dtype)           # dL/d(gh)
        carry = np.zeros((batch, hidden), dtype=self.dtype)                     # dL/dh_{t-1}
        through_weights = np.empty((batch, hidden), dtype=self.dtype)
        w_hh = weights.weight_hh.data
        for k in reversed(range(steps)):
            dh = d_states[k]
            dh += carry
            gru_step_backward(dh, states[k], gates[k], recurrent_n[k], d_gi[k], d_gh[k], carry)
            if invalid is not None:
                d_gi[k] *= valid[k]
                d_gh[k] *= valid[k]
            np.matmul(d_gh[k], w_hh, out=through_weights)
            carry += through_weights
            if invalid is not None:
                np.copyto(carry, dh, where=invalid[k])          # a held state passes dh through
        return d_gi, d_gh, (carry,)
