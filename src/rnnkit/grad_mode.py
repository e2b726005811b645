"""Gradient mode: forward passes that keep nothing for backward.

Every module's ``forward`` normally keeps what its ``backward`` needs (inputs, activations,
the states of every time step). Inside ``with rnnkit.no_grad():`` forward keeps nothing:
evaluation and prediction then hold no caches, and the recurrent layers run their time loops
without the per-step activations that only backward reads (for an LSTM, the cell states and
``tanh(c_t)`` of every step). The outputs are those of a normal forward to float rounding: the
layers then run batch-major and take a layer's input products from its input's rows in batch
order rather than time order (some BLAS kernels round a row of a product by where it lies in it).

A ``backward`` after a forward under ``no_grad`` raises ``ValueError`` before it touches any
gradient. The mode belongs to the thread that set it. (Where the layers' work arrays come
from is not this module's concern: each layer owns a :class:`rnnkit.workspace.Workspace`.)

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
import threading

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
