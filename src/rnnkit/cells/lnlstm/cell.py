"""The LayerNorm LSTM cell: one time step, forward and backward (equations:
:mod:`rnnkit.cells.lnlstm.reference`).

Glossary: B batch, D input features, H hidden units; gate blocks in PyTorch's order i, f, g, o.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.layer_norm import parameter_shapes
from rnnkit.cells.lnlstm import reference
from rnnkit.cells.lstm.cell import _split_state


def norm_shapes(hidden_size: int, rows: int) -> dict[str, tuple[tuple[int, ...], float]]:
    """LN_ih and LN_hh over the 4H gates, LN_c over the H cell units: gains 1, shifts 0."""
    return parameter_shapes(ih=rows, hh=rows, c=hidden_size)


class LayerNormLSTMCell(RecurrentCell):
    """One LayerNorm LSTM step: ``(h', c') = cell(x, (h, c))``::

        z = LN_ih(x W_ih^T) + LN_hh(h W_hh^T) + bias,   [i f g o] as torch's LSTM
        c' = f * c + i * g,   h' = o * tanh(LN_c(c'))

    Parameters
    ----------
    input_size, hidden_size : int
        D and H. ``weight_ih`` (4H, D), ``weight_hh`` (4H, H) and ``bias`` (4H,) uniform in
        (-1/sqrt(H), 1/sqrt(H)); the gains ``ln_ih_weight``, ``ln_hh_weight`` (4H,) and
        ``ln_c_weight`` (H,) start at 1, the shifts ``ln_ih_bias``, ``ln_hh_bias``, ``ln_c_bias`` at 0.
    bias : bool
        False: no ``bias`` Parameter (the attribute is None); the layer norms keep their shifts.
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None

    Shapes: ``forward(x (B, D), (h, c) each (B, H), or None) -> (h', c')``;
    ``backward(dh' (B, H), dc' (B, H) or None) -> (dx (B, D), (dh, dc))``.

    >>> cell = LayerNormLSTMCell(3, 4, seed=0)
    >>> h, c = cell(np.ones((2, 3)))
    >>> dx, (dh, dc) = cell.backward(np.ones((2, 4)))
    >>> h.shape, dx.shape, dc.shape, float(cell.ln_c_weight.data[0]), cell.bias.shape
    ((2, 4), (2, 3), (2, 4), 1.0, (16,))
    """

    num_gates = 4
    kernels = "rnnkit.cells.lnlstm"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = np.float32, seed: Any = None):
        super().__init__(input_size, hidden_size, bias=bias, dtype=dtype, seed=seed)
        if not self.config["bias"]:
            self.bias = None                               # the Parameter's name; the flag is config["bias"]

    def _parameter_shapes(self) -> dict[str, tuple[tuple[int, ...], float | None]]:
        rows = 4 * self.hidden_size
        shapes = {"weight_ih": ((rows, self.input_size), None), "weight_hh": ((rows, self.hidden_size), None)}
        if self.bias:
            shapes["bias"] = ((rows,), None)
        return {**shapes, **norm_shapes(self.hidden_size, rows)}

    def _norm_parameters(self) -> dict:
        """``bias`` (None without one) and the gains and shifts, by name, as the kernels take them."""
        return {"bias": self.bias, **{name: getattr(self, name) for name in reference.NORM_NAMES}}

    def forward(self, x: Any, state: Any = None) -> tuple[np.ndarray, np.ndarray]:
        new_state, self._cache = self.step(x, state)
        return new_state

    def backward(self, dh_new: Any, dc_new: Any = None) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        return self.backward_step(self._cache, dh_new, dc_new)

    def step(self, x: Any, state: Any = None) -> tuple[tuple[np.ndarray, np.ndarray], Any]:
        """``forward`` with its cache returned instead of kept: ``((h', c'), cache)``."""
        h, c = (None, None) if state is None else _split_state(state)
        x = self._check_input(x)
        batch = x.shape[0]
        h = self._check_state(h, "h", batch)
        c = self._check_state(c, "c", batch)
        parameters = self._norm_parameters()
        gates = x @ self.weight_ih.data.T                                   # (B, 4H)
        input_normed, input_rstd = np.empty_like(gates), np.empty((batch, 1), dtype=self.dtype)
        reference.normalize_inputs(gates, parameters, input_normed, input_rstd)
        recurrent = h @ self.weight_hh.data.T                               # (B, 4H), normalised in the step
        recurrent_rstd = np.empty((batch, 1), dtype=self.dtype)
        c_new, cell_normed, tanh_n, h_new = (np.empty_like(c) for _ in range(4))
        cell_rstd = np.empty((batch, 1), dtype=self.dtype)
        reference.step_forward(gates, recurrent, recurrent_rstd, parameters, c, c_new, cell_normed, cell_rstd,
                               tanh_n, h_new)
        cache = (x, h, c, gates, input_normed, input_rstd, recurrent, recurrent_rstd, cell_normed, cell_rstd, tanh_n)
        return (h_new, c_new), self._keep(cache)

    def backward_step(self, cache: Any, dh_new: Any, dc_new: Any = None) -> tuple[np.ndarray, tuple]:
        """``backward`` of the step that returned ``cache``: ``(dx, (dh, dc))``."""
        x, h, c, gates, input_normed, input_rstd, recurrent, recurrent_rstd, cell_normed, cell_rstd, tanh_n = \
            self._require_cache(cache)
        batch = x.shape[0]
        dh_new = self._check_grad(dh_new, "dh", batch)
        dc_new = self._check_grad(dc_new, "dc", batch)
        parameters = self._norm_parameters()
        d_gates, d_input, d_recurrent = gates.copy(), input_normed.copy(), recurrent.copy()   # the cache may be reused
        dc = np.empty_like(c)
        reference.step_backward(dh_new, dc_new, d_gates, c, cell_normed, cell_rstd, tanh_n, d_recurrent,
                                recurrent_rstd, parameters, dc)
        reference.input_backward(d_gates, d_input, input_rstd, parameters)
        self.weight_ih.grad += d_input.T @ x
        self.weight_hh.grad += d_recurrent.T @ h
        return d_input @ self.weight_ih.data, (d_recurrent @ self.weight_hh.data, dc)
