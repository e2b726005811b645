"""A layer's work arrays, named by role and reused from one call to the next.

A training step allocates the same large arrays as the step before (the input products, the
states of every step, the cache for backward, the gradients). A fresh large array is memory
the system must map and zero again on first touch, which can cost more than filling it
(docs/compiled-loops.md). So each recurrent layer owns a :class:`Workspace`: the arrays it
takes there are named by their role (``("states", layer, direction)``...) and the next call
that asks for the same role gets the same memory back.

Memory is handed out again only once nothing refers to it any more: every NumPy view holds a
reference to the owner of its memory, so an array still held anywhere (a returned output
the caller kept, a cache another model saved) is never overwritten; the role then gets fresh
memory. Arrays under ``min_bytes`` (1 MiB) are plain ``np.empty``: NumPy's allocator serves
them cheaply. A role whose array dies early in a step (a gradient buffer used before a larger
product) is released by name, so that its memory is freed with its last view rather than
kept resident through the rest of the step.

>>> import numpy as np
>>> work = Workspace(min_bytes=0)
>>> a = work.array(("states", 0), (4, 3), np.float64)
>>> b = work.array(("states", 0), (4, 3), np.float64)      # a is still held: fresh memory
>>> np.shares_memory(a, b)
False
>>> del a, b
>>> c = work.array(("states", 0), (2, 6), np.float64)      # same role, free again: reused
>>> work.release(("states", 0)) > 0
True
"""

from __future__ import annotations

import math
import sys
from typing import Hashable

import numpy as np


def _size_class(nbytes: int) -> int:
    """nbytes rounded up to one of eight sizes per power of two (at most 12.5% more), so that
    a role whose size varies a little from call to call (sequence lengths) keeps its memory."""
    step = 1 << max(nbytes.bit_length() - 4, 0)
    return max(-(-nbytes // step) * step, 1)


def _references(buffers: dict, key: Hashable) -> int:
    return sys.getrefcount(buffers[key])


# What _references reports for a buffer that only the workspace's dict refers to.
_FREE_REFERENCES = _references({0: np.empty(1)}, 0)


class Workspace:
    """The reusable work arrays of one layer, one buffer per role (see the module docstring)."""

    def __init__(self, min_bytes: int = 1 << 20) -> None:
        self.min_bytes = min_bytes
        self._buffers: dict[Hashable, np.ndarray] = {}     # role -> uint8 buffer

    def array(self, role: Hashable, shape: tuple, dtype) -> np.ndarray:
        """``np.empty(shape, dtype)`` on the role's memory when it is free and large enough."""
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes < self.min_bytes:
            return np.empty(shape, dtype=dtype)
        if not (self._is_free(role) and self._buffers[role].nbytes >= nbytes):
            self._buffers[role] = np.empty(_size_class(nbytes), dtype=np.uint8)
        buffer = self._buffers[role]
        return buffer[:nbytes].view(dtype).reshape(shape)

    def _is_free(self, role: Hashable) -> bool:
        """True when the role has memory and no array, view or cache refers to it (every view
        holds its owner; nothing else here may hold the buffer while this counts)."""
        return role in self._buffers and _references(self._buffers, role) <= _FREE_REFERENCES

    def release(self, role: Hashable) -> int:
        """Stop keeping the role's memory (it is freed with its last view); returns its bytes."""
        buffer = self._buffers.pop(role, None)
        return 0 if buffer is None else buffer.nbytes

    def clear(self) -> int:
        """Release every role; returns the bytes no array refers to any more."""
        free = sum(self._buffers[role].nbytes for role in list(self._buffers) if self._is_free(role))
        self._buffers = {}
        return free

    def scope(self, *prefix: Hashable) -> "Scope":
        """The roles ``prefix + (name,)``, asked for by name (see :class:`Scope`)."""
        return Scope(self, prefix)

    def nbytes(self) -> int:
        """Bytes held, in use or not."""
        return sum(buffer.nbytes for buffer in self._buffers.values())

    def __deepcopy__(self, memo: dict) -> "Workspace":
        return Workspace(self.min_bytes)                               # a copy of a layer starts with no work arrays

    def __getstate__(self) -> dict:
        return {"min_bytes": self.min_bytes}

    def __setstate__(self, state: dict) -> None:
        self.min_bytes = state.get("min_bytes", 1 << 20)
        self._buffers = {}


class Scope:
    """A workspace's roles under one prefix: what a kernel gets for one layer and direction."""

    def __init__(self, workspace: Workspace, prefix: tuple) -> None:
        self.workspace = workspace
        self.prefix = prefix

    def array(self, name: str, shape: tuple, dtype) -> np.ndarray:
        return self.workspace.array(self.prefix + (name,), shape, dtype)
