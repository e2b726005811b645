"""What the three single-step cells share: parameters, initialisation and input checks.

Glossary: B batch, D input features, H hidden units, G gates (1 RNN, 4 LSTM, 3 GRU).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit._validate import as_float_array, check_positive_int
from rnnkit.module import Module, Parameter


def uniform_init(rng: np.random.Generator, shape: tuple[int, ...], bound: float, dtype: np.dtype) -> np.ndarray:
    """Values uniform in (-bound, bound): PyTorch's default for every recurrent parameter."""
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


class RecurrentCell(Module):
    """One time step of a recurrent network, with PyTorch's parameter names.

    Parameters ``weight_ih`` (G*H, D), ``weight_hh`` (G*H, H), ``bias_ih`` (G*H,) and
    ``bias_hh`` (G*H,), initialised uniform in (-1/sqrt(H), 1/sqrt(H)). ``forward`` keeps an
    explicit cache of the activations of the last call and ``backward`` uses it; a cell keeps
    no other state between calls.
    """

    num_gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = np.float32, seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.bias = bool(bias)
        self.config = {"input_size": self.input_size, "hidden_size": self.hidden_size, "bias": self.bias}
        rows = self.num_gates * self.hidden_size
        bound = 1.0 / np.sqrt(self.hidden_size)
        self.weight_ih = Parameter(uniform_init(self.rng, (rows, self.input_size), bound, self.dtype))
        self.weight_hh = Parameter(uniform_init(self.rng, (rows, self.hidden_size), bound, self.dtype))
        if self.bias:
            self.bias_ih = Parameter(uniform_init(self.rng, (rows,), bound, self.dtype))
            self.bias_hh = Parameter(uniform_init(self.rng, (rows,), bound, self.dtype))
        self._cache: Any = None

    def _check_input(self, x: Any) -> np.ndarray:
        return as_float_array(x, "x", self.dtype, (None, self.input_size), "(B, D)")

    def _check_state(self, state: Any, name: str, batch: int) -> np.ndarray:
        if state is None:
            return np.zeros((batch, self.hidden_size), dtype=self.dtype)
        return as_float_array(state, name, self.dtype, (batch, self.hidden_size), "(B, H)")

    def _check_grad(self, grad: Any, name: str, batch: int) -> np.ndarray:
        if grad is None:
            return np.zeros((batch, self.hidden_size), dtype=self.dtype)
        return as_float_array(grad, name, self.dtype, (batch, self.hidden_size), "(B, H)")

    def _linear_parts(self, x: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(x W_ih^T + b_ih, h W_hh^T + b_hh)``, each (B, G*H)."""
        gi = x @ self.weight_ih.data.T
        gh = h @ self.weight_hh.data.T
        if self.bias:
            gi += self.bias_ih.data
            gh += self.bias_hh.data
        return gi, gh

    def _accumulate_grads(self, x: np.ndarray, h: np.ndarray, d_gi: np.ndarray, d_gh: np.ndarray) -> np.ndarray:
        """Add the parameter gradients of ``_linear_parts`` and return dL/dx (B, D)."""
        self.weight_ih.grad += d_gi.T @ x
        self.weight_hh.grad += d_gh.T @ h
        if self.bias:
            self.bias_ih.grad += d_gi.sum(axis=0)
            self.bias_hh.grad += d_gh.sum(axis=0)
        return d_gi @ self.weight_ih.data
