"""What the cells' compiled kernels share: Numba options and argument plumbing. No Numba here."""

from __future__ import annotations

import numpy as np

JIT_OPTIONS = {"cache": True, "error_model": "numpy", "nogil": True}


def step_mask(invalid: np.ndarray | None, steps: int) -> np.ndarray:
    """(T, B) bool in processing order, True past a sequence's length; (0, 0) when None."""
    if invalid is None:
        return np.zeros((0, 0), dtype=np.bool_)
    return np.ascontiguousarray(invalid[:, :, 0])


def contiguous(array: np.ndarray) -> np.ndarray:
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


def backward_scratch(w_hh_t: np.ndarray, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """dz_t (G*H, B) and product_t (H, B): the scratch of the backward loops' per-step product
    by columns; (0, 0) arrays where there is no W_hh^T (w_hh_t (H, G*H) or (0, 0))."""
    hidden, rows = w_hh_t.shape
    return np.empty((rows, batch if rows else 0), dtype=w_hh_t.dtype), \
        np.empty((hidden, batch if hidden else 0), dtype=w_hh_t.dtype)
