"""The minGRU cell: one time step, forward and backward (equations: :mod:`rnnkit.cells.mingru.reference`).

Glossary: B batch, D input features, H hidden units; gate blocks in the order z, h~.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.mingru import reference


class MinGRUCell(RecurrentCell):
    """One minGRU step: ``h' = cell(x, h)``: ``z = sigmoid(x W_z^T + b_z)``,
    ``h~ = x W_h^T + b_h``, ``h' = (1 - z) h + z h~``.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H. The weights are ``weight_ih`` (2H, D) and ``bias_ih`` (2H,), row blocks
        (z, h~), initialised uniform in (-1/sqrt(H), 1/sqrt(H)). There is no ``weight_hh``.
    bias : bool
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None

    Shapes: ``forward(x (B, D), h (B, H) or None) -> h' (B, H)``;
    ``backward(dh' (B, H)) -> (dx (B, D), dh (B, H))``.

    >>> cell = MinGRUCell(3, 4, seed=0)
    >>> h = cell(np.ones((2, 3)))
    >>> dx, dh = cell.backward(np.ones((2, 4)))
    >>> h.shape, dx.shape, dh.shape, sorted(name for name, _ in cell.named_parameters())
    ((2, 4), (2, 3), (2, 4), ['bias_ih', 'weight_ih'])
    """

    num_gates = 2
    kernels = "rnnkit.cells.mingru"
    has_recurrent_weights = False

    def step(self, x: Any, h: Any = None) -> tuple[np.ndarray, Any]:
        """``forward`` with its cache returned instead of kept: ``(h', cache)``."""
        x = self._check_input(x)
        h = self._check_state(h, "h", x.shape[0])
        gates = x @ self.weight_ih.data.T                      # (B, 2H), without bias
        h_new = np.empty_like(h)
        reference.step_forward(gates, self._input_bias(), h, h_new)
        return h_new, self._keep((x, h, gates))

    def backward_step(self, cache: Any, dh_new: Any) -> tuple[np.ndarray, np.ndarray]:
        """``backward`` of the step that returned ``cache``: ``(dx, dh)``."""
        x, h, gates = self._require_cache(cache)
        dh_new = self._check_grad(dh_new, "dh", x.shape[0])
        d_gates = gates.copy()                                 # the cache may be used again
        dh = dh_new * (1.0 - gates[:, :self.hidden_size])      # h' = (1 - z) h + z h~
        reference.gate_gradients(dh_new, h, d_gates)
        return self._accumulate_input_grads(x, d_gates), dh
