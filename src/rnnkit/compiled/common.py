"""What the three cells' compiled loops share: the marker of their caches and argument plumbing.

No Numba here: the layers import this module to tell a compiled cache from a NumPy one.
"""

from __future__ import annotations

import numpy as np

JIT_OPTIONS = {"cache": True, "error_model": "numpy", "nogil": True}


class CompiledExtra(tuple):
    """``DirectionCache.extra`` written by a compiled forward; only a compiled backward reads it."""


def time_order(xw: np.ndarray) -> tuple[np.ndarray, bool]:
    """The input products in time order, C-contiguous, and whether ``xw`` was a reversed view.

    The layer hands the reverse direction ``xw[::-1]``; the loops index the time-ordered array
    themselves (``t = T-1-k``), so one compiled version serves both directions.
    """
    reverse = xw.shape[0] > 1 and xw.strides[0] < 0
    base = xw[::-1] if reverse else xw
    if not base.flags.c_contiguous:
        base = np.ascontiguousarray(base)
    return base, reverse


def step_mask(invalid: np.ndarray | None, steps: int) -> np.ndarray:
    """(T, B) bool in processing order, True past a sequence's length; (0, 0) when None."""
    if invalid is None:
        return np.zeros((0, 0), dtype=np.bool_)
    return np.ascontiguousarray(invalid[:, :, 0])


def last_state(output: np.ndarray, column: int, width: int, reverse: bool) -> np.ndarray:
    """A direction's final h (B, width), copied from the layer's batch-major output (B, T, W):
    the state after its last processing step (time T-1, or 0 in reverse)."""
    return output[:, 0 if reverse else -1, column:column + width].copy()


def contiguous(array: np.ndarray) -> np.ndarray:
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


def combined_bias(weights, fold_recurrent: bool, rows: int, dtype) -> np.ndarray:
    """The bias the compiled loops add in their activation passes, (rows,) C-contiguous.

    b_ih + b_hh when the recurrent bias folds into it (RNN, LSTM), b_ih alone otherwise
    (GRU); zeros for a layer without biases. The layer's input products skip the biases
    when the compiled loops run, saving a pass over the (T, B, G*H) array.
    """
    if weights.bias_ih is None:
        return np.zeros(rows, dtype=dtype)
    if fold_recurrent:
        return weights.bias_ih.data + weights.bias_hh.data
    return contiguous(weights.bias_ih.data)


def backward_scratch(w_hh_t: np.ndarray, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """dz_t (G*H, B) and product_t (H, B): the scratch of the backward loops' per-step product
    by columns; (0, 0) arrays where there is no W_hh^T (w_hh_t (H, G*H) or (0, 0))."""
    hidden, rows = w_hh_t.shape
    return np.empty((rows, batch if rows else 0), dtype=w_hh_t.dtype), \
        np.empty((hidden, batch if hidden else 0), dtype=w_hh_t.dtype)
