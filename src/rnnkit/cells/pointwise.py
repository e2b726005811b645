"""In-place activation functions shared by the cells.

All of them write into ``out`` (which may be the input itself) so that the time loops
allocate nothing. The logistic sigmoid is computed as ``0.5 * tanh(0.5 x) + 0.5``, which is
the same function but never overflows (``exp(-x)`` does for x < -709 in float64).
"""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, stable for any finite x.

    >>> float(sigmoid(np.array([0.0]))[0]), float(sigmoid(np.array([-1000.0]))[0])
    (0.5, 0.0)
    """
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def sigmoid_backward(grad: np.ndarray, s: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = grad * s * (1 - s)``: the gradient through a sigmoid whose output is ``s``.

    ``out`` must not alias ``grad`` or ``s``.
    """
    np.subtract(1.0, s, out=out)
    out *= s
    out *= grad
    return out


def tanh_backward(grad: np.ndarray, t: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = grad * (1 - t**2)``: the gradient through a tanh whose output is ``t``.

    ``out`` must not alias ``grad`` or ``t``.
    """
    np.multiply(t, t, out=out)
    np.subtract(1.0, out, out=out)
    out *= grad
    return out


def relu_backward(grad: np.ndarray, r: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = grad * (r > 0)``: the gradient through a ReLU whose output is ``r``.

    ``out`` must not alias ``grad``. ``sign(r)`` is 0 or 1 because ``r >= 0``.
    """
    np.sign(r, out=out)
    out *= grad
    return out
