"""The LSTM cell: one time step, forward and backward (equations: :mod:`rnnkit.cells.lstm.reference`).

Glossary: B batch, D input features, H hidden units; gate blocks in PyTorch's order i, f, g, o.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.lstm import reference


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
    kernels = "rnnkit.cells.lstm"

    def forward(self, x: Any, state: Any = None) -> tuple[np.ndarray, np.ndarray]:
        new_state, self._cache = self.step(x, state)
        return new_state

    def backward(self, dh_new: Any, dc_new: Any = None) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        return self.backward_step(self._cache, dh_new, dc_new)

    def step(self, x: Any, state: Any = None) -> tuple[tuple[np.ndarray, np.ndarray], Any]:
        """``forward`` with its cache returned instead of kept: ``((h', c'), cache)``."""
        h, c = (None, None) if state is None else _split_state(state)
        if self._steps_compiled(x, h, c):                      # the fast path of a generation loop
            gates, c_new, tanh_c, h_new, total = self._kernel().fused_cell_step(x, h, c, self._fused, self._bias())
            if np.isfinite(total):                             # else the checks below raise the error
                return (h_new, c_new), self._keep((x, h, c, gates, tanh_c))
        x = self._check_input(x)
        batch = x.shape[0]
        h = self._check_state(h, "h", batch)
        c = self._check_state(c, "c", batch)
        gates = self._products(x, h)                           # (B, 4H): x W_ih^T + h W_hh^T
        c_new = np.empty_like(c)
        tanh_c = np.empty_like(c)
        h_new = np.empty_like(h)
        self._kernel().step_forward(gates, self._bias(), c, c_new, tanh_c, h_new)
        return (h_new, c_new), self._keep((x, h, c, gates, tanh_c))

    def backward_step(self, cache: Any, dh_new: Any, dc_new: Any = None) -> tuple[np.ndarray, tuple]:
        """``backward`` of the step that returned ``cache``: ``(dx, (dh, dc))``."""
        x, h, c, gates, tanh_c = self._require_cache(cache)
        batch = x.shape[0]
        dh_new = self._check_grad(dh_new, "dh", batch)
        dc_new = self._check_grad(dc_new, "dc", batch)
        d_gates = gates.copy()                                 # the step writes dL/dz over it
        dc = np.empty_like(c)
        reference.step_backward(dh_new, dc_new, d_gates, c, tanh_c, dc, np.empty_like(c))
        dx = self._accumulate_grads(x, h, d_gates, d_gates)
        dh = d_gates @ self.weight_hh.data
        return dx, (dh, dc)


def _split_state(state: Any) -> tuple[Any, Any]:
    if not isinstance(state, (tuple, list)):
        raise TypeError(f"LSTM state must be a tuple (h, c) or None, got {type(state).__name__}")
    if len(state) != 2:
        raise TypeError(f"LSTM state must be a tuple (h, c) of length 2, got {type(state).__name__} of length {len(state)}")
    return state[0], state[1]
