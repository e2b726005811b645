"""The first-order linear recurrence that minGRU and minLSTM reduce to, in NumPy.

Glossary: T steps, B batch, H hidden units; processing order (the reverse direction's step 0 is
the last time step).

A minGRU or minLSTM step has no product with h_{t-1}: its gates depend on x_t alone, so they
are computed for all steps before the loop, and the loop is::

    h_t = a_t * h_{t-1} + b_t            # a_t, b_t (B, H), elementwise

Backward is the same recurrence run the other way: with g_t = dL/dh_t from the outputs,
the total gradient reaching h_t is ``G_t = g_t + a_{t+1} * G_{t+1}``, and dL/dh_0 = a_1 G_1.
A step past a sequence's length has a = 1 and b = 0 (the state is held, the gradient passes).

On a GPU this loop runs as a parallel scan (Blelloch; Martin & Cundy 2018; Feng et al. 2024):
the pairs (a, b) compose associatively, ``(a2, b2) o (a1, b1) = (a2 a1, a2 b1 + b2)``, so T
steps take O(log T) rounds of O(T) work. On a CPU with few cores the sequential loop does the
least work; rnnkit's compiled kernels run it across cores by rows and units instead
(:mod:`rnnkit.compiled.split`), which needs no extra arithmetic.
"""

from __future__ import annotations

import numpy as np


def linear_recurrence(a: np.ndarray, b: np.ndarray, states: np.ndarray) -> None:
    """``states[k + 1] = a[k] * states[k] + b[k]`` for k = 0..T-1.

    a, b (T, B, H); states (T+1, B, H) with states[0] = h_0 given.

    >>> states = np.zeros((4, 1, 1)); states[0] = 1.0
    >>> linear_recurrence(np.full((3, 1, 1), 0.5), np.ones((3, 1, 1)), states)
    >>> states[:, 0, 0].tolist()
    [1.0, 1.5, 1.75, 1.875]
    """
    for k in range(a.shape[0]):
        np.multiply(a[k], states[k], out=states[k + 1])
        states[k + 1] += b[k]


def linear_recurrence_backward(a: np.ndarray, d_states: np.ndarray, d_initial: np.ndarray) -> None:
    """The backward of :func:`linear_recurrence`, in place.

    d_states (T, B, H) holds dL/dh_{k+1} from the outputs on entry and the total gradient
    G (every path) on exit; writes dL/dh_0 into d_initial (B, H). dL/da_k = G_k h_k and
    dL/db_k = G_k are then one product each, outside the loop.
    """
    for k in range(a.shape[0] - 1, 0, -1):
        np.multiply(a[k], d_states[k], out=d_initial)        # d_initial is scratch here
        d_states[k - 1] += d_initial
    np.multiply(a[0], d_states[0], out=d_initial)


def hold_past_lengths(a: np.ndarray, b: np.ndarray, invalid: np.ndarray | None) -> None:
    """a = 1 and b = 0 where ``invalid`` (T, B, 1) is True: those steps keep the state."""
    if invalid is not None:
        np.copyto(a, 1.0, where=invalid)
        np.copyto(b, 0.0, where=invalid)
