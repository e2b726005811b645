"""Input checks shared by every public entry point.

Each check raises ``ValueError`` or ``TypeError`` whose message names what was expected and
what was given. Nothing is broadcast: shapes must match exactly.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype: Any) -> np.dtype:
    """Return ``dtype`` as a NumPy dtype if it is float32 or float64."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}") from error
    if resolved not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {resolved}")
    return resolved


def make_rng(seed: Any) -> np.random.Generator:
    """A Generator from an int seed, an existing Generator (used as is) or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be a non-negative int, a numpy.random.Generator or None, got {seed!r}")


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_column(value: Any, name: str, size: int) -> int:
    """An int that indexes one of ``size`` columns (negative counts from the end)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not -size <= value < size:
        raise ValueError(f"{name} must be an int in [{-size}, {size}) indexing one of {size} features, got {value!r}")
    return int(value)


def check_probability(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


class NonFiniteError(ValueError):
    """An array that must be finite holds NaN or infinite values (the trainer reports it as divergence)."""


def as_float_array(
    x: Any,
    name: str,
    dtype: np.dtype,
    shape: Sequence[int | None] | None = None,
    shape_doc: str | None = None,
) -> np.ndarray:
    """Convert ``x`` to a finite float array of ``dtype`` with an exact expected shape.

    ``shape`` lists the expected sizes, ``None`` where any size is allowed; ``shape_doc``
    names the axes for the error message, e.g. ``"(B, T, D)"``.
    """
    if isinstance(x, np.ndarray):
        array = x
    else:
        try:
            array = np.asarray(x)
        except (ValueError, TypeError) as error:
            raise TypeError(f"{name} must be a numeric array, got {type(x).__name__}") from error
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{name} must be a real-valued numeric array, got dtype {array.dtype}")
    if shape is not None:
        doc = f" {shape_doc}" if shape_doc else ""
        if array.ndim != len(shape):
            raise ValueError(
                f"{name} must have {len(shape)} dimensions{doc}, got {array.ndim} with shape {array.shape}"
            )
        for axis, (expected, actual) in enumerate(zip(shape, array.shape)):
            if expected is not None and expected != actual:
                expected_shape = tuple("?" if s is None else s for s in shape)
                raise ValueError(
                    f"{name} must have shape {expected_shape}{doc}, got {array.shape} "
                    f"(axis {axis}: expected {expected}, got {actual})"
                )
    array = np.asarray(array, dtype=dtype)
    if not np.all(np.isfinite(array)):
        raise NonFiniteError(f"{name} contains NaN or infinite values")
    return array


def as_index_array(x: Any, name: str, upper: int | None = None, allowed: Sequence[int] = ()) -> np.ndarray:
    """Convert ``x`` to an int64 array of indices in ``[0, upper)`` (plus any ``allowed`` extras)."""
    array = np.asarray(x)
    if array.size == 0 and not isinstance(x, np.ndarray):        # [] reads as float64; it holds no index
        array = array.astype(np.int64)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        if np.issubdtype(array.dtype, np.floating) and array.size and np.all(np.mod(array, 1) == 0):
            raise TypeError(f"{name} must be an integer array, got dtype {array.dtype} (cast it with .astype(int))")
        raise TypeError(f"{name} must be an integer array, got dtype {array.dtype}")
    if array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name} must fit in int64, got {array.max()}")      # the cast would wrap it negative
    array = array.astype(np.int64, copy=False)
    if upper is not None and array.size:
        bad = (array < 0) | (array >= upper)
        for value in allowed:
            bad &= array != value
        if np.any(bad):
            first = array[bad].flat[0]
            raise ValueError(f"{name} must lie in [0, {upper}), got {first} (and {int(bad.sum()) - 1} others out of range)")
    return array


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_b} must have the same shape as {name_a}, {a.shape}, got {b.shape}")
