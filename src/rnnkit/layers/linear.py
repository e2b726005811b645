"""A fully connected layer on the last axis: ``y = x W^T + b``.

Glossary: N any leading shape (e.g. B or B, T), I input features, O output features.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit._validate import as_float_array, check_positive_int
from rnnkit.cells.base import uniform_init
from rnnkit.module import Module, Parameter


class Linear(Module):
    """``y = x W^T + b`` on the last axis of an input of any shape, like ``torch.nn.Linear``.

    Parameters ``weight`` (O, I) and ``bias`` (O,), initialised uniform in +-1/sqrt(I).
    This is the output layer ``o_t = W_hy h_t + b_y`` of an RNN when applied to (B, T, H).

    Shapes: ``forward(x (..., I)) -> y (..., O)``; ``backward(dy (..., O)) -> dx (..., I)``.

    >>> layer = Linear(4, 2, seed=0)
    >>> layer(np.ones((3, 5, 4))).shape
    (3, 5, 2)
    >>> layer.backward(np.ones((3, 5, 2))).shape
    (3, 5, 4)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = np.float32, seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        self.in_features = check_positive_int(in_features, "in_features")
        self.out_features = check_positive_int(out_features, "out_features")
        self.bias = None
        self.config = {"in_features": self.in_features, "out_features": self.out_features, "bias": bool(bias)}
        bound = 1.0 / np.sqrt(self.in_features)
        self.weight = Parameter(uniform_init(self.rng, (self.out_features, self.in_features), bound, self.dtype))
        if bias:
            self.bias = Parameter(uniform_init(self.rng, (self.out_features,), bound, self.dtype))
        self._cache = None

    def forward(self, x: Any) -> np.ndarray:
        x = as_float_array(x, "x", self.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"x must have shape (..., {self.in_features}), got {x.shape}")
        y = x @ self.weight.data.T                                  # (..., O)
        if self.bias is not None:
            y += self.bias.data
        self._cache = self._keep(x)
        return y

    def backward(self, dy: Any) -> np.ndarray:
        x = self._require_cache(self._cache)
        dy = as_float_array(dy, "dy", self.dtype, x.shape[:-1] + (self.out_features,), "(..., O), the shape of y")
        flat_dy = dy.reshape(-1, self.out_features)                 # (N, O)
        if self.weight.requires_grad:
            self.weight.grad += flat_dy.T @ x.reshape(-1, self.in_features)
        if self.bias is not None and self.bias.requires_grad:
            self.bias.grad += flat_dy.sum(axis=0)
        return dy @ self.weight.data
