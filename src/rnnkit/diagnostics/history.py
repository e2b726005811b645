"""The gradient norm of every training step, before clipping, and how often clipping fired.

>>> import numpy as np
>>> from rnnkit import Parameter
>>> p = Parameter(np.zeros(2))
>>> history = GradientNormHistory(max_norm=1.0)
>>> for value in (0.5, 3.0):
...     p.grad[...] = [value, 0.0]
...     _ = history.clip([p])
>>> history.norms.tolist(), history.clipped.tolist(), history.clip_fraction
([0.5, 3.0], [False, True], 0.5)
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from rnnkit.clip import clip_grad_norm_
from rnnkit.module import Parameter


class GradientNormHistory:
    """Records the global gradient norm of each step; clips to ``max_norm`` (None: never).

    Use :meth:`clip` in place of ``clip_grad_norm_`` in a training loop (it returns the norm
    before clipping, as ``clip_grad_norm_`` does), or :meth:`record` a norm computed elsewhere.
    """

    def __init__(self, max_norm: float | None = None):
        if max_norm is not None and not max_norm >= 0:
            raise ValueError(f"max_norm must be a number >= 0 or None, got {max_norm!r}")
        self.max_norm = max_norm
        self._norms: list[float] = []

    def clip(self, parameters: Iterable[Parameter]) -> float:
        """Measure (and, with a ``max_norm``, clip) the gradients; record and return the norm."""
        norm = clip_grad_norm_(list(parameters), math.inf if self.max_norm is None else self.max_norm)
        self.record(norm)
        return norm

    def record(self, norm: float) -> None:
        self._norms.append(float(norm))

    def __len__(self) -> int:
        return len(self._norms)

    @property
    def norms(self) -> np.ndarray:
        """(steps,) the norm before clipping at each recorded step."""
        return np.array(self._norms)

    @property
    def clipped(self) -> np.ndarray:
        """(steps,) True where clipping scaled the gradients down (never without ``max_norm``)."""
        if self.max_norm is None:
            return np.zeros(len(self._norms), dtype=bool)
        return self.norms > self.max_norm

    @property
    def clip_fraction(self) -> float:
        """Fraction of recorded steps where clipping fired."""
        return float(self.clipped.mean()) if self._norms else 0.0

    def summary(self) -> dict[str, float]:
        """Median, 99th percentile and largest norm, non-finite steps and the clip fraction."""
        norms = self.norms
        finite = norms[np.isfinite(norms)]
        return {
            "steps": len(norms),
            "median": float(np.median(finite)) if finite.size else math.nan,
            "p99": float(np.percentile(finite, 99)) if finite.size else math.nan,
            "max": float(finite.max()) if finite.size else math.nan,
            "non_finite": int(norms.size - finite.size),
            "clip_fraction": self.clip_fraction,
        }
