"""Compiled mirrors of the per-parameter loops of :mod:`rnnkit.optim.adam` and :mod:`rnnkit.clip`.

Same names, arguments and results as the NumPy code they replace. The NumPy Adam update makes
about nine passes over each parameter (lerp, two for the second moment, square root, division,
bias correction, eps, the step and the temporaries); here each element is read once and
updated while it is in a register. Every operation is the reference's, in the reference's
order and precision (scalars are cast to the arrays' dtype first, as NumPy does with Python
floats, and nothing may be reassociated or fused), so the results are bit-identical.

The 2-norm of a gradient is one float64 pass instead of a float64 copy, its absolute value
and a dot product; its sum may be reassociated (vectorised), so it can differ from NumPy's in
the last bits.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnkit.compiled.common import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _adam(data, grad, exp_avg, exp_avg_sq, weight1, one_minus_weight1, low_weight, beta2, one_minus_beta2,
          correction2_sqrt, eps, minus_step_size):
    """One Adam step on flat arrays; scalars already in the arrays' dtype (a float64 scalar would
    make m float64 and round the step differently)."""
    for n in range(data.shape[0]):
        g = grad[n]
        m = exp_avg[n]
        if low_weight:                                   # lerp_ as torch.lerp rounds it
            m = m + weight1 * (g - m)
        else:
            m = g - (g - m) * one_minus_weight1
        v = exp_avg_sq[n] * beta2
        v = v + one_minus_beta2 * g * g
        exp_avg[n] = m
        exp_avg_sq[n] = v
        denominator = np.sqrt(v) / correction2_sqrt + eps
        data[n] = data[n] + (minus_step_size * m) / denominator


def adam_update(data: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray, beta1: float,
                beta2: float, eps: float, step_size: float, correction2_sqrt: float) -> bool:
    """The update of :meth:`rnnkit.optim.Adam._update` after weight decay, without AMSGrad, in place.

    Returns False (and changes nothing) when an array is not contiguous or the dtypes differ:
    the caller then runs the NumPy reference.
    """
    arrays = (data, grad, exp_avg, exp_avg_sq)
    kind = data.dtype
    if kind not in (np.float32, np.float64) or any(a.dtype != kind or not a.flags.c_contiguous for a in arrays):
        return False
    cast = kind.type
    weight1 = 1 - beta1
    _adam(data.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1), cast(weight1),
          cast(1.0 - weight1), abs(weight1) < 0.5, cast(beta2), cast(1 - beta2), cast(correction2_sqrt), cast(eps), cast(-step_size))
    return True


@njit(fastmath={"reassoc"}, **JIT_OPTIONS)
def _sum_of_squares(values):
    total = 0.0
    for n in range(values.shape[0]):
        value = np.float64(values[n])
        total += value * value
    return total


def two_norm(values: np.ndarray) -> float | None:
    """The 2-norm of all elements, accumulated in float64; None for arrays it does not take."""
    if values.dtype not in (np.float32, np.float64) or not values.flags.c_contiguous:
        return None
    return float(np.sqrt(_sum_of_squares(values.reshape(-1))))
