"""Pointwise functions for the compiled loops, written so that LLVM vectorises them.

``tanh`` in float32 is a clamped rational approximation (the form Eigen uses): numerator of
degree 13 and denominator of degree 6 in x, no branches, a few ulp from the correctly rounded
result, so a loop over it compiles to SIMD code. ``math.tanh`` would be a scalar libm call per
element, which costs more than the whole matrix product of a step. In float64 ``tanh`` is
``math.tanh`` (accuracy first: float64 is the reference precision).

``sigmoid(x) = 0.5 * tanh(0.5 x) + 0.5``, as in :mod:`rnnkit.cells.pointwise`: it never
overflows.
"""

from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.extending import overload

_CLAMP = np.float32(7.90531110763549805)     # tanh(x) rounds to +-1 in float32 beyond this
_TINY = np.float32(0.0004)                    # below this tanh(x) = x in float32
_ALPHA = tuple(np.float32(a) for a in (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
                                       5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13,
                                       -2.76076847742355e-16))
_BETA = tuple(np.float32(b) for b in (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
                                      1.19825839466702e-06))


def tanh(x):
    """Hyperbolic tangent of a scalar (compiled code only)."""
    return math.tanh(x)


@overload(tanh, jit_options={"cache": True})
def _tanh(x):
    if x == types.float32:
        a1, a3, a5, a7, a9, a11, a13 = _ALPHA
        b0, b2, b4, b6 = _BETA
        clamp, tiny = _CLAMP, _TINY

        def tanh_f32(x):
            clamped = min(max(x, -clamp), clamp)
            x2 = clamped * clamped
            p = a13
            p = p * x2 + a11
            p = p * x2 + a9
            p = p * x2 + a7
            p = p * x2 + a5
            p = p * x2 + a3
            p = p * x2 + a1
            p = p * clamped
            q = b6
            q = q * x2 + b4
            q = q * x2 + b2
            q = q * x2 + b0
            return x if abs(x) < tiny else p / q
        return tanh_f32

    def tanh_f64(x):
        return math.tanh(x)
    return tanh_f64


def sigmoid(x):
    """Logistic sigmoid of a scalar, ``0.5 * tanh(0.5 x) + 0.5`` (compiled code only)."""
    return 0.5 * math.tanh(0.5 * x) + 0.5


@overload(sigmoid, jit_options={"cache": True})
def _sigmoid(x):
    half = np.float32(0.5) if x == types.float32 else np.float64(0.5)

    def implementation(x):
        return half * tanh(half * x) + half
    return implementation
