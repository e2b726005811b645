"""Inverted dropout: zero each element with probability p in training, scale the rest."""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit._validate import as_float_array, check_probability
from rnnkit.module import Module


class Dropout(Module):
    """``y = x * m / (1 - p)`` with ``m ~ Bernoulli(1 - p)`` per element, in training mode only.

    In eval mode (``module.eval()``) it is the identity. Shapes: any, unchanged.

    >>> drop = Dropout(0.5, seed=0)
    >>> y = drop(np.ones((2, 4)))
    >>> sorted(set(y.ravel().tolist())) in ([0.0, 2.0], [2.0], [0.0])
    True
    >>> drop.eval()(np.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, dtype: Any = np.float32, seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        self.p = check_probability(p, "p")
        self.config = {"p": self.p}
        self._cache = None

    def forward(self, x: Any) -> np.ndarray:
        x = as_float_array(x, "x", self.dtype)
        if not self.training or self.p == 0.0:
            self._cache = self._keep((x.shape, None))
            return x.copy()
        keep = 1.0 - self.p
        mask = (self.rng.random(x.shape) < keep).astype(self.dtype) / self.dtype.type(keep)
        self._cache = self._keep((x.shape, mask))
        return x * mask

    def backward(self, dy: Any) -> np.ndarray:
        shape, mask = self._require_cache(self._cache)
        dy = as_float_array(dy, "dy", self.dtype)
        if dy.shape != shape:
            raise ValueError(f"dy must have the shape of the forward output, {shape}, got {dy.shape}")
        return dy.copy() if mask is None else dy * mask
