"""Layer normalisation of one row, for the compiled loops of the LayerNorm LSTM and GRU
(:mod:`rnnkit.cells.layer_norm` is the NumPy reference, with the equations).

Glossary: W the width of the row (4H, 3H or H).
"""

from __future__ import annotations

import math

from numba import njit

from rnnkit.compiled.common import JIT_OPTIONS

# The row sums may be reassociated: a plain sum is one chain of dependent additions, which LLVM
# may not vectorise without leave to reorder it (one 4H = 256 row: 536 ns, with leave 126 ns;
# docs/compiled-loops.md). The sums then round differently from NumPy's pairwise sum, as any
# order does.
SUM_OPTIONS = {**JIT_OPTIONS, "fastmath": {"reassoc", "contract"}}


@njit(**SUM_OPTIONS)
def normalize_row(values, normed, eps, zero):
    """normed (W,) = (values - mean) * rstd, in two passes (``normed`` may be ``values``); returns rstd."""
    width = values.shape[0]
    total = zero
    for j in range(width):
        total += values[j]
    mean = total / width
    squares = zero
    for j in range(width):
        centred = values[j] - mean
        normed[j] = centred
        squares += centred * centred
    rstd = 1 / math.sqrt(squares / width + eps)
    for j in range(width):
        normed[j] *= rstd
    return rstd


@njit(**SUM_OPTIONS)
def normalize_row_backward(d_normed, normed, rstd, out, zero):
    """out (W,) = rstd (d - mean(d) - normed mean(d normed)), d = dL/d(normed) with the gain
    applied. ``out`` may be ``d_normed`` or ``normed`` (both means come first)."""
    width = normed.shape[0]
    total, total_normed = zero, zero
    for j in range(width):
        total += d_normed[j]
        total_normed += d_normed[j] * normed[j]
    mean_d, mean_d_normed = total / width, total_normed / width
    for j in range(width):
        out[j] = rstd * (d_normed[j] - mean_d - normed[j] * mean_d_normed)


@njit(**JIT_OPTIONS)
def affine_grads_row(d_out, normed, gain, gain_grad, shift_grad, scaled):
    """Add d_out * normed to gain_grad and d_out to shift_grad; scaled = d_out * gain (W,)."""
    for j in range(d_out.shape[0]):
        gain_grad[j] += d_out[j] * normed[j]
        shift_grad[j] += d_out[j]
        scaled[j] = d_out[j] * gain[j]
