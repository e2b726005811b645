"""The compiled mirror of :func:`rnnkit.losses.cross_entropy_rows`: same name, arguments and result.

The NumPy reference makes six passes over the (N, V) logits (max, shift, exp, sum, log, the
gradient) and allocates as many arrays; here each row is handled while it is in cache: its
maximum, one exp per element, its log-sum-exp, the loss term and the gradient
``(p - q) * scale`` written straight into the output, all in float64 as the reference.
One thread: with Numba's OpenMP pool a second core gained 0.7 ms on a quiet machine and lost
6 ms when the other core was busy (its threads spin at the barrier).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from rnnkit.compiled.common import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _rows(x, index, counted, smoothing, scale, grad, terms, exps):
    """terms[n] = l_n and grad[n] = (p_n - q_n) * scale for counted rows n; zero rows otherwise."""
    rows, classes = x.shape
    uniform = smoothing / classes
    for n in range(rows):
        if not counted[n]:
            grad[n, :] = 0.0
            terms[n] = 0.0
            continue
        largest = -np.inf
        for v in range(classes):
            largest = max(largest, np.float64(x[n, v]))
        total, shifted_sum = 0.0, 0.0
        for v in range(classes):                                  # one exp per element, kept for the gradient
            shifted = np.float64(x[n, v]) - largest
            exps[n, v] = math.exp(shifted)
            shifted_sum += shifted
        for v in range(classes):
            total += exps[n, v]
        log_total = math.log(total)                              # log p_v = shifted_v - log_total
        target = index[n]
        term = -(1.0 - smoothing) * (np.float64(x[n, target]) - largest - log_total)
        if smoothing > 0.0:
            term -= smoothing * (shifted_sum / classes - log_total)
        terms[n] = term
        inverse = 1.0 / total
        for v in range(classes):
            grad[n, v] = (exps[n, v] * inverse - uniform) * scale
        grad[n, target] -= (1.0 - smoothing) * scale


def cross_entropy_rows(x: np.ndarray, index: np.ndarray, counted: np.ndarray, smoothing: float, scale: float,
                       dtype: np.dtype) -> tuple[float, np.ndarray]:
    """See :func:`rnnkit.losses.cross_entropy_rows`."""
    x = np.ascontiguousarray(x)
    grad = np.empty(x.shape, dtype=dtype)                       # (N, V)
    terms = np.empty(x.shape[0], dtype=np.float64)              # (N,)
    exps = np.empty(x.shape, dtype=np.float64)                  # (N, V) exp(x - max) per row
    _rows(x, np.ascontiguousarray(index, dtype=np.int64), np.ascontiguousarray(counted), float(smoothing),
          float(scale), grad, terms, exps)
    return float(np.sum(terms)), grad
