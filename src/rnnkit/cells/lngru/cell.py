"""The LayerNorm GRU cell: one time step, forward and backward (equations:
:mod:`rnnkit.cells.lngru.reference`).

Glossary: B batch, D input features, H hidden units; gate blocks in PyTorch's order r, z, n.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.gru.reference import step_backward as gru_step_backward
from rnnkit.cells.gru.reference import step_forward as gru_step_forward
from rnnkit.cells.layer_norm import parameter_shapes
from rnnkit.cells.lngru import reference


class LayerNormGRUCell(RecurrentCell):
    """One LayerNorm GRU step: ``h' = cell(x, h)``::

        gi = LN_ih(x W_ih^T) + b_ih,   gh = LN_hh(h W_hh^T) + b_hh,   then torch's GRU step:
        r = sigmoid(gi_r + gh_r),   z = sigmoid(gi_z + gh_z),   n = tanh(gi_n + r * gh_n)
        h' = (1 - z) * n + z * h

    Parameters
    ----------
    input_size, hidden_size : int
        D and H. ``weight_ih`` (3H, D), ``weight_hh`` (3H, H), ``bias_ih`` and ``bias_hh`` (3H,)
        uniform in (-1/sqrt(H), 1/sqrt(H)); the gains ``ln_ih_weight``, ``ln_hh_weight`` (3H,)
        start at 1, the shifts ``ln_ih_bias``, ``ln_hh_bias`` (3H,) at 0.
    bias : bool
        False: no ``bias_ih``, ``bias_hh`` (the layer norms keep their shifts).
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None

    Shapes: ``forward(x (B, D), h (B, H) or None) -> h' (B, H)``;
    ``backward(dh' (B, H)) -> (dx (B, D), dh (B, H))``.

    >>> cell = LayerNormGRUCell(3, 4, seed=0)
    >>> h = cell(np.ones((2, 3)))
    >>> dx, dh = cell.backward(np.ones((2, 4)))
    >>> h.shape, dx.shape, dh.shape, cell.ln_hh_weight.shape
    ((2, 4), (2, 3), (2, 4), (12,))
    """

    num_gates = 3
    kernels = "rnnkit.cells.lngru"

    def _parameter_shapes(self) -> dict[str, tuple[tuple[int, ...], float | None]]:
        rows = 3 * self.hidden_size
        return {**super()._parameter_shapes(), **parameter_shapes(ih=rows, hh=rows)}

    def _norm_parameters(self) -> dict:
        """The biases (None without them), gains and shifts, by name, as the kernels take them."""
        names = ("bias_ih", "bias_hh") + reference.NORM_NAMES
        return {name: getattr(self, name) if self.bias or "ln_" in name else None for name in names}

    def step(self, x: Any, h: Any = None) -> tuple[np.ndarray, Any]:
        """``forward`` with its cache returned instead of kept: ``(h', cache)``."""
        x = self._check_input(x)
        batch = x.shape[0]
        h = self._check_state(h, "h", batch)
        parameters = self._norm_parameters()
        gates = x @ self.weight_ih.data.T                                   # (B, 3H)
        input_normed, input_rstd = np.empty_like(gates), np.empty((batch, 1), dtype=self.dtype)
        reference.normalize_inputs(gates, parameters, input_normed, input_rstd)
        recurrent = h @ self.weight_hh.data.T                               # (B, 3H), normalised in place
        recurrent_rstd, gh = np.empty((batch, 1), dtype=self.dtype), np.empty_like(recurrent)
        reference.normalize_recurrent(recurrent, recurrent_rstd, parameters, gh)
        h_new = np.empty_like(h)
        b_ih, b_hh = reference.biases(parameters, self.dtype, 3 * self.hidden_size)
        gru_step_forward(gates, b_ih, gh, b_hh, h, h_new)
        cache = (x, h, gates, gh[:, 2 * self.hidden_size:], input_normed, input_rstd, recurrent, recurrent_rstd)
        return h_new, self._keep(cache)

    def backward_step(self, cache: Any, dh_new: Any) -> tuple[np.ndarray, np.ndarray]:
        """``backward`` of the step that returned ``cache``: ``(dx, dh)``."""
        x, h, gates, gh_n, input_normed, input_rstd, recurrent, recurrent_rstd = self._require_cache(cache)
        dh_new = self._check_grad(dh_new, "dh", x.shape[0])
        parameters = self._norm_parameters()
        d_gi, d_input, d_recurrent = gates.copy(), input_normed.copy(), recurrent.copy()   # the cache may be reused
        d_gh, dh = np.empty_like(gates), np.empty_like(h)
        gru_step_backward(dh_new, h, d_gi, gh_n, d_gh, dh, np.empty_like(h))          # dh = dh' * z
        reference.recurrent_backward(d_gh, d_recurrent, recurrent_rstd, parameters)
        reference.input_backward(d_gi, d_input, input_rstd, parameters)
        self.weight_ih.grad += d_input.T @ x
        self.weight_hh.grad += d_recurrent.T @ h
        dh += d_recurrent @ self.weight_hh.data
        return d_input @ self.weight_ih.data, dh
