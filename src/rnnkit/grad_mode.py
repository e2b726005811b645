"""Gradient mode: forward passes that keep nothing for backward.

Every module's ``forward`` normally keeps what its ``backward`` needs (inputs, activations,
the states of every time step). Inside ``with rnnkit.no_grad():`` forward keeps nothing:
evaluation and prediction then hold no caches, and the recurrent layers run their time loops
without the per-step activations that only backward reads (for an LSTM, the cell states and
``tanh(c_t)`` of every step). The outputs are those of a normal forward: bit for bit with
the NumPy loops; with the compiled loops, which then run batch-major and take a layer's input
products from its input's rows in batch order rather than time order, to float rounding
(some BLAS kernels round a row of a product by where it lies in it).

A ``backward`` after a forward under ``no_grad`` raises ``ValueError`` before it touches any
gradient. The mode belongs to the thread that set it. The recurrent layers take their large
intermediates under ``no_grad`` from :func:`work_array`, which keeps them for the next call
in the same thread, and in training from :func:`recycled_array`, which hands out again the
memory of arrays nothing refers to any more; :func:`free_work_arrays` releases both.

>>> import numpy as np, rnnkit
>>> lstm = rnnkit.LSTM(3, 4, seed=0)
>>> with rnnkit.no_grad():
...     y, _ = lstm(np.ones((2, 5, 3)))
>>> rnnkit.is_grad_enabled()
True
>>> lstm.backward(np.ones_like(y))
Traceback (most recent call last):
...
ValueError: LSTM.backward: the last forward ran under rnnkit.no_grad() and kept nothing for backward; run forward again outside no_grad
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading

import numpy as np

_local = threading.local()


def is_grad_enabled() -> bool:
    """False inside ``no_grad`` (in this thread), True otherwise."""
    return getattr(_local, "enabled", True)


class no_grad(contextlib.ContextDecorator):
    """Context manager (and decorator) under which forward passes keep no cache for backward."""

    def __init__(self) -> None:
        self._previous: list[bool] = []

    def __enter__(self) -> "no_grad":
        self._previous.append(is_grad_enabled())
        _local.enabled = False
        return self

    def __exit__(self, *exc_info) -> bool:
        _local.enabled = self._previous.pop()
        return False


class _NoCache:
    """The cache a module holds after a forward under ``no_grad``."""

    def __repr__(self) -> str:
        return "<no cache: forward ran under rnnkit.no_grad()>"


NO_CACHE = _NoCache()


class _FailedForward:
    """The cache every module of a tree holds after a forward call that raised an error."""

    def __repr__(self) -> str:
        return "<no cache: the last forward raised an error>"


FAILED_FORWARD = _FailedForward()


def work_array(key: tuple, shape: tuple, dtype) -> np.ndarray:
    """A scratch array for a forward under ``no_grad``, reused by the next one in this thread.

    Under no_grad nothing a layer computes outlives its forward except what it returns (fresh
    arrays), so its large intermediates (the input copy, the input products, the states) may
    come from here: a key (role, layer, direction) gets the same memory back while its shape
    and dtype stay the same, and only the latest array per key is kept. Without it, repeated
    inference frees and allocates the same large arrays every call, and the allocator may hand
    them back to the system and fault them in again each time (docs/compiled-loops.md).
    """
    arrays = _local.__dict__.setdefault("work_arrays", {})
    array = arrays.get(key)
    if array is None or array.shape != tuple(shape) or array.dtype != np.dtype(dtype):
        array = np.empty(shape, dtype=dtype)
        arrays[key] = array
    return array


RECYCLE_MIN_BYTES = 1 << 20        # smaller arrays: NumPy's allocator serves them cheaply


def _size_class(nbytes: int) -> int:
    """nbytes rounded up to one of eight sizes per power of two (at most 12.5% more)."""
    step = 1 << max(nbytes.bit_length() - 4, 0)
    return -(-nbytes // step) * step


def _references(buffers: list, index: int) -> int:
    return sys.getrefcount(buffers[index])


# What _references reports for a buffer that only the pool's list refers to.
_FREE_REFERENCES = _references([np.empty(1)], 0)


def _is_free(buffers: list, index: int) -> bool:
    """True when no array, view or cache refers to the buffer (every view holds its owner)."""
    return _references(buffers, index) <= _FREE_REFERENCES


def recycled_array(shape: tuple, dtype) -> np.ndarray:
    """``np.empty(shape, dtype)`` on memory that an earlier call handed out and nothing holds now.

    A training step allocates the same large arrays as the step before (input products,
    states, the cache for backward), each freed once backward is done with it. A fresh large
    array is memory the system must map and zero again on first touch, which can cost more
    than filling it (docs/compiled-loops.md). So this thread keeps the memory of such arrays
    (1 MiB and more) and hands it out again, to a request of the same size class, once no
    array, view or cache refers to it: every NumPy view holds a reference to the owner of its
    memory, so memory still in use, anywhere, is never handed out twice.

    Bounded: the pool drops its least recently used free buffers while it holds more than
    twice the most memory it ever had in use at once, so varying shapes cannot make it grow
    without limit. :func:`free_work_arrays` empties it.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < RECYCLE_MIN_BYTES:
        return np.empty(shape, dtype=dtype)
    pool = _local.__dict__.setdefault("recycled", {"buffers": [], "high_water": 0})
    buffers, size = pool["buffers"], _size_class(nbytes)
    found = next((i for i in range(len(buffers)) if buffers[i].nbytes == size and _is_free(buffers, i)), None)
    buffer = np.empty(size, dtype=np.uint8) if found is None else buffers.pop(found)
    buffers.append(buffer)                                          # most recently used last
    array = buffer[:nbytes].view(dtype).reshape(shape)
    del buffer
    _trim(pool)
    return array


def _trim(pool: dict) -> None:
    """Drop least recently used free buffers while the pool holds over twice its high water."""
    buffers = pool["buffers"]
    held = sum(buffer.nbytes for buffer in buffers)
    in_use = sum(buffers[i].nbytes for i in range(len(buffers)) if not _is_free(buffers, i))
    pool["high_water"] = max(pool["high_water"], in_use)
    index = 0
    while held > 2 * pool["high_water"] and index < len(buffers):
        if _is_free(buffers, index):
            held -= buffers.pop(index).nbytes
        else:
            index += 1


def forget(array: np.ndarray) -> None:
    """Take the memory behind ``array`` out of this thread's pool: it is then freed with its
    last reference, as a plain array's is. For a recycled intermediate that dies early in the
    step (kept, it would stay resident while the step allocates the rest: a higher peak)."""
    owner = array
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    buffers = _local.__dict__.get("recycled", {"buffers": []})["buffers"]
    for index in range(len(buffers)):
        if buffers[index] is owner:
            del buffers[index]
            return


def free_work_arrays() -> int:
    """Drop this thread's work arrays (see :func:`work_array`) and recycled memory (see
    :func:`recycled_array`); returns the bytes released (recycled memory still in use stays
    with its arrays and is not counted)."""
    arrays = _local.__dict__.pop("work_arrays", {})
    released = sum(array.nbytes for array in arrays.values())
    buffers = _local.__dict__.pop("recycled", {"buffers": []})["buffers"]
    released += sum(buffers[i].nbytes for i in range(len(buffers)) if _is_free(buffers, i))
    return released


def empty(work: tuple | None, name: str, shape: tuple, dtype) -> np.ndarray:
    """A large intermediate: with ``work`` (a key prefix, under no_grad) the reusable
    :func:`work_array`, else a :func:`recycled_array`."""
    return recycled_array(shape, dtype) if work is None else work_array(work + (name,), shape, dtype)
