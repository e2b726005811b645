"""The pointwise math of one cell step, compiled: used by the single-step cells.

A generation loop calls a cell once per token with B = 1, where about ten NumPy calls of a
few hundred elements each cost more than their arithmetic; here the step is one call: the
matrix product through NumPy's OpenBLAS (:mod:`rnnkit.compiled.products`) and short SIMD
passes (:mod:`rnnkit.compiled.vector`), the same passes as the layers' loops.

Glossary: B batch, H hidden.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnkit.compiled.common import JIT_OPTIONS
from rnnkit.compiled.products import gemm_nt
from rnnkit.compiled.vector import (add_inplace, lstm_cell_update, multiply_into, sigmoid_inplace, tanh_inplace,
                                    tanh_into)


@njit(**JIT_OPTIONS)
def lstm_step_forward(gates, c_prev, c, tanh_c, h):
    """Same contract as :func:`rnnkit.cells.lstm_cell.lstm_step_forward`, all (B, .) C-contiguous."""
    hidden = c.shape[1]
    for b in range(gates.shape[0]):
        z = gates[b]
        sigmoid_inplace(z[:2 * hidden])                                  # i and f
        tanh_inplace(z[2 * hidden:3 * hidden])                           # g
        sigmoid_inplace(z[3 * hidden:])                                  # o
        lstm_cell_update(z[:hidden], z[hidden:2 * hidden], z[2 * hidden:3 * hidden], c_prev[b], c[b])
        tanh_into(c[b], tanh_c[b])
        multiply_into(z[3 * hidden:], tanh_c[b], h[b])                   # h = o * tanh(c)


@njit(**JIT_OPTIONS)
def lstm_step_fused(x, h, c_prev, weights, bias_ih, bias_hh):
    """A whole LSTM step for a cell whose weights share one array (``RecurrentCell.fuse_products``).

    x (B, D), h and c_prev (B, H), weights (4H, D+H) = [W_ih, W_hh], biases (4H,) or empty.
    Returns gates (B, 4H) = the activations [i f g o], c, tanh(c), h (B, H), and the sum of
    every element of x, h and c_prev: NaN or infinite whenever one of them holds a NaN or an
    infinity (the caller then runs its full input checks, which say which one).
    """
    batch, features = x.shape
    hidden = h.shape[1]
    xh = np.empty((batch, features + hidden), dtype=x.dtype)                # [x, h]
    total = x.dtype.type(0)
    for b in range(batch):
        for j in range(features):
            xh[b, j] = x[b, j]
            total += x[b, j]
        for j in range(hidden):
            xh[b, features + j] = h[b, j]
            total += h[b, j] + c_prev[b, j]
    gates = np.empty((batch, 4 * hidden), dtype=x.dtype)
    gemm_nt(xh, weights, gates, x.dtype.type(0))                            # [x, h] [W_ih, W_hh]^T
    if bias_ih.shape[0] > 0:
        for b in range(batch):
            add_inplace(gates[b], bias_ih)
            add_inplace(gates[b], bias_hh)
    c = np.empty((batch, hidden), dtype=x.dtype)
    tanh_c = np.empty((batch, hidden), dtype=x.dtype)
    h_new = np.empty((batch, hidden), dtype=x.dtype)
    lstm_step_forward(gates, c_prev, c, tanh_c, h_new)
    return gates, c, tanh_c, h_new, total
