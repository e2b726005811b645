"""The GRU cell: one time step, forward and backward (equations: :mod:`rnnkit.cells.gru.reference`).

Glossary: B batch, D input features, H hidden units; gate blocks in PyTorch's order r, z, n.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.gru import reference


class GRUCell(RecurrentCell):
    """One GRU step: ``h' = cell(x, h)``, equations in the module docstring.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H. The stacked weights are ``weight_ih`` (3H, D) and ``weight_hh`` (3H, H).
    bias : bool
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None

    Shapes: ``forward(x (B, D), h (B, H) or None) -> h' (B, H)``;
    ``backward(dh' (B, H)) -> (dx (B, D), dh (B, H))``.

    >>> cell = GRUCell(3, 4, seed=0)
    >>> h = cell(np.ones((2, 3)))
    >>> dx, dh = cell.backward(np.ones((2, 4)))
    >>> h.shape, dx.shape, dh.shape
    ((2, 4), (2, 3), (2, 4))
    """

    num_gates = 3
    kernels = "rnnkit.cells.gru"

    def step(self, x: Any, h: Any = None) -> tuple[np.ndarray, Any]:
        """``forward`` with its cache returned instead of kept: ``(h', cache)``."""
        x = self._check_input(x)
        h = self._check_state(h, "h", x.shape[0])
        gates, gh = self._linear_parts(x, h)                   # (B, 3H) each, without biases
        h_new = np.empty_like(h)
        b_ih, b_hh = self._biases()
        reference.step_forward(gates, b_ih, gh, b_hh, h, h_new)
        return h_new, self._keep((x, h, gates, gh[:, 2 * self.hidden_size:]))

    def backward_step(self, cache: Any, dh_new: Any) -> tuple[np.ndarray, np.ndarray]:
        """``backward`` of the step that returned ``cache``: ``(dx, dh)``."""
        x, h, gates, gh_n = self._require_cache(cache)
        dh_new = self._check_grad(dh_new, "dh", x.shape[0])
        d_gi = gates.copy()                                    # the step writes dL/d(gi) over it
        d_gh = np.empty_like(gates)
        dh = np.empty_like(h)
        reference.step_backward(dh_new, h, d_gi, gh_n, d_gh, dh, np.empty_like(h))
        dx = self._accumulate_grads(x, h, d_gi, d_gh)
        dh += d_gh @ self.weight_hh.data
        return dx, dh

    def _biases(self) -> tuple[np.ndarray, np.ndarray]:
        """(b_ih, b_hh), zeros without biases."""
        if not self.bias:
            zeros = np.zeros(3 * self.hidden_size, dtype=self.dtype)
            return zeros, zeros
        return self.bias_ih.data, self.bias_hh.data
