"""The Elman (vanilla) RNN cell: one time step, forward and backward (equations:
:mod:`rnnkit.cells.rnn.reference`).

Glossary: B batch, D input features, H hidden units.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit._validate import check_choice
from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.rnn.reference import NONLINEARITIES, step_backward, step_forward


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
    kernels = "rnnkit.cells.rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype: Any = np.float32, seed: Any = None):
        check_choice(nonlinearity, "nonlinearity", NONLINEARITIES)
        super().__init__(input_size, hidden_size, bias=bias, dtype=dtype, seed=seed)
        self.nonlinearity = nonlinearity
        self.config["nonlinearity"] = self.nonlinearity

    def step(self, x: Any, h: Any = None) -> tuple[np.ndarray, Any]:
        """``forward`` with its cache returned instead of kept: ``(h', cache)``."""
        x = self._check_input(x)
        h = self._check_state(h, "h", x.shape[0])
        pre = self._products(x, h)                                # (B, H) without biases
        h_new = step_forward(pre, self._bias(), self.nonlinearity, pre)
        return h_new.copy(), self._keep((x, h, h_new))

    def backward_step(self, cache: Any, dh_new: Any) -> tuple[np.ndarray, np.ndarray]:
        """``backward`` of the step that returned ``cache``: ``(dx, dh)``."""
        x, h, h_new = self._require_cache(cache)
        dh_new = self._check_grad(dh_new, "dh", x.shape[0])
        d_pre = step_backward(dh_new, h_new, self.nonlinearity, np.empty_like(h_new))
        dx = self._accumulate_grads(x, h, d_pre, d_pre)
        dh = d_pre @ self.weight_hh.data
        return dx, dh
