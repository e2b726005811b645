"""The Elman (vanilla) RNN cell: one time step, forward and backward.

Glossary: B batch, D input features, H hidden units.

Equations (one step)::

    a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh      # (B, H) pre-activation
    h_t = act(a_t)                                        # act = tanh or relu

Backward, from the cached output h_t::

    da_t      = dh_t * act'(a_t)      # tanh' = 1 - h_t^2, relu' = [h_t > 0]
    dh_{t-1}  = da_t W_hh
    dW_ih    += da_t^T x_t,  dW_hh += da_t^T h_{t-1},  db_ih += sum_B da_t,  db_hh likewise
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit._validate import check_choice
from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.pointwise import relu_backward, tanh_backward

NONLINEARITIES = ("tanh", "relu")


def rnn_step_forward(pre_activation: np.ndarray, nonlinearity: str) -> np.ndarray:
    """Turn ``pre_activation`` (B, H) into ``h_t`` in place and return it."""
    if nonlinearity == "tanh":
        return np.tanh(pre_activation, out=pre_activation)
    return np.maximum(pre_activation, 0.0, out=pre_activation)


def rnn_step_backward(dh: np.ndarray, h: np.ndarray, nonlinearity: str, d_pre: np.ndarray) -> np.ndarray:
    """Write ``dL/da_t`` (B, H) into ``d_pre`` from ``dh`` = dL/dh_t and the cached ``h`` = h_t."""
    if nonlinearity == "tanh":
        return tanh_backward(dh, h, out=d_pre)
    return relu_backward(dh, h, out=d_pre)


class RNNCell(RecurrentCell):
    """One step of an Elman RNN, ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    bias : bool
        Whether ``bias_ih`` and ``bias_hh`` exist.
    nonlinearity : {"tanh", "relu"}
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None
        Same seed, same initial weights.

    Shapes: ``forward(x (B, D), h (B, H) or None) -> h' (B, H)``;
    ``backward(dh' (B, H)) -> (dx (B, D), dh (B, H))``.

    >>> cell = RNNCell(3, 4, seed=0)
    >>> h = cell(np.ones((2, 3)))
    >>> h.shape
    (2, 4)
    >>> dx, dh = cell.backward(np.ones((2, 4)))
    >>> dx.shape, dh.shape
    ((2, 3), (2, 4))
    """

    num_gates = 1
    fuse_products = True

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype: Any = np.float32, seed: Any = None):
        check_choice(nonlinearity, "nonlinearity", NONLINEARITIES)
        super().__init__(input_size, hidden_size, bias=bias, dtype=dtype, seed=seed)
        self.nonlinearity = nonlinearity
        self.config["nonlinearity"] = self.nonlinearity

    def forward(self, x: Any, h: Any = None) -> np.ndarray:
        x = self._check_input(x)
        h = self._check_state(h, "h", x.shape[0])
        pre = self._pre_activations(x, h)                         # (B, H)
        h_new = rnn_step_forward(pre, self.nonlinearity)          # (B, H)
        self._cache = self._keep((x, h, h_new))
        return h_new.copy()

    def backward(self, dh_new: Any) -> tuple[np.ndarray, np.ndarray]:
        x, h, h_new = self._require_cache(self._cache)
        dh_new = self._check_grad(dh_new, "dh", x.shape[0])
        d_pre = rnn_step_backward(dh_new, h_new, self.nonlinearity, np.empty_like(h_new))
        dx = self._accumulate_grads(x, h, d_pre, d_pre)
        dh = d_pre @ self.weight_hh.data
        return dx, dh
