"""A lookup table of learned vectors: token ids in, embeddings out.

Glossary: N any shape of ids (e.g. B, T), V vocabulary size, E embedding size.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from rnnkit._validate import as_float_array, as_index_array, check_positive_int
from rnnkit.module import Module, Parameter


class Embedding(Module):
    """``y[...] = weight[ids[...]]``, like ``torch.nn.Embedding``.

    ``weight`` (V, E) starts standard normal; the row ``padding_idx`` (if given) starts at
    zero and never receives a gradient. An embedding is the learned alternative to a one-hot
    code: a one-hot vector times ``weight`` selects the same row.

    Shapes: ``forward(ids (N...)) -> (N..., E)``; ``backward(dy (N..., E)) -> None`` (ids have
    no gradient).

    >>> table = Embedding(10, 3, padding_idx=0, seed=0)
    >>> table(np.array([[0, 4, 2]])).shape
    (1, 3, 3)
    >>> table.backward(np.ones((1, 3, 3))); float(table.weight.grad[0].sum())
    0.0
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 dtype: Any = np.float32, seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        self.num_embeddings = check_positive_int(num_embeddings, "num_embeddings")
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral):
                raise TypeError(f"padding_idx must be an int or None, got {padding_idx!r}")
            if not -self.num_embeddings <= int(padding_idx) < self.num_embeddings:
                raise ValueError(f"padding_idx must lie in [-{self.num_embeddings}, {self.num_embeddings}), got {padding_idx}")
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        self.config = {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                       "padding_idx": padding_idx}
        weight = self.rng.standard_normal((self.num_embeddings, self.embedding_dim)).astype(self.dtype)
        if padding_idx is not None:
            weight[padding_idx] = 0.0
        self.weight = Parameter(weight)
        self._cache = None

    @classmethod
    def from_pretrained(cls, matrix: Any, freeze: bool = True, padding_idx: int | None = None,
                        dtype: Any = np.float32) -> "Embedding":
        """An embedding whose table is ``matrix`` (V, E), e.g. GloVe vectors for a vocabulary.

        With ``freeze=True`` the table is not trained (its ``requires_grad`` is False).

        >>> table = Embedding.from_pretrained(np.eye(3), freeze=True)
        >>> table(np.array([2, 0])).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
        """
        matrix = as_float_array(matrix, "matrix", np.dtype(dtype), (None, None), "(V, E)")
        table = cls(matrix.shape[0], matrix.shape[1], padding_idx=padding_idx, dtype=dtype, seed=0)
        table.weight.data[...] = matrix
        table.weight.requires_grad = not freeze
        return table

    def forward(self, ids: Any) -> np.ndarray:
        ids = as_index_array(ids, "ids", upper=self.num_embeddings)
        self._cache = self._keep(ids)
        return self.weight.data[ids]                                 # (N..., E)

    def backward(self, dy: Any) -> None:
        ids = self._require_cache(self._cache)
        dy = as_float_array(dy, "dy", self.dtype, ids.shape + (self.embedding_dim,), "(N..., E), the shape of y")
        if not self.weight.requires_grad:
            return None
        flat_ids = ids.reshape(-1)
        flat_dy = dy.reshape(-1, self.embedding_dim)
        if self.padding_idx is not None:
            keep = flat_ids != self.padding_idx
            flat_ids, flat_dy = flat_ids[keep], flat_dy[keep]
        np.add.at(self.weight.grad, flat_ids, flat_dy)               # repeated ids accumulate
        return None
