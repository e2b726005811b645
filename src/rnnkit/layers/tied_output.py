"""The output layer of tied embeddings (Press & Wolf 2017; Inan et al. 2017): the logits reuse the
input embedding table, so the model learns one table of word vectors instead of two.

Glossary: N any leading shape (e.g. B or B, T), H the features in (= E), V the vocabulary.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit._validate import as_float_array
from rnnkit.cells.base import uniform_init
from rnnkit.layers.embedding import Embedding
from rnnkit.module import Module, Parameter


class TiedOutput(Module):
    """The output layer of tied embeddings: ``logits = y E^T + b`` with E the embedding table (V, E).

    Owns only ``bias`` (V,); ``weight`` is the embedding's Parameter (not registered here, so
    it is saved, counted and updated once, as ``embedding.weight``). ``backward`` adds
    ``dlogits^T y`` to that table's ``grad`` (except the embedding's ``padding_idx`` row, which
    stays zero); the embedding's own backward adds its part to the same array. Shapes: ``forward(y (..., H)) -> logits (..., V)``, ``backward(dlogits) -> dy``.
    """

    def __init__(self, embedding: Embedding, dtype: Any = np.float32, seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        object.__setattr__(self, "embedding", embedding)         # a reference, not a child module
        self.in_features, self.out_features = embedding.embedding_dim, embedding.num_embeddings
        self.config = {"in_features": self.in_features, "out_features": self.out_features}
        bound = 1.0 / np.sqrt(self.in_features)
        self.bias = Parameter(uniform_init(self.rng, (self.out_features,), bound, self.dtype))   # (V,)
        self._cache = None

    @property
    def weight(self) -> Parameter:
        """The embedding table (V, E), read as the output weight (O, I) = (V, H)."""
        return self.embedding.weight

    def forward(self, y: Any) -> np.ndarray:
        y = as_float_array(y, "y", self.dtype)
        if y.ndim == 0 or y.shape[-1] != self.in_features:
            raise ValueError(f"y must have shape (..., {self.in_features}), got {y.shape}")
        logits = y @ self.weight.data.T                                             # (..., V)
        logits += self.bias.data
        self._cache = self._keep(y)
        return logits

    def backward(self, d_logits: Any) -> np.ndarray:
        y = self._require_cache(self._cache)
        d_logits = as_float_array(d_logits, "d_logits", self.dtype, y.shape[:-1] + (self.out_features,),
                                  "(..., V), the shape of the logits")
        flat = d_logits.reshape(-1, self.out_features)                              # (N, V)
        if self.weight.requires_grad:
            d_table = flat.T @ y.reshape(-1, self.in_features)                      # (V, H)
            if self.embedding.padding_idx is not None:
                d_table[self.embedding.padding_idx] = 0.0                           # the padding row stays zero
            self.weight.grad += d_table                                             # into the shared table
        if self.bias.requires_grad:
            self.bias.grad += flat.sum(axis=0)
        return d_logits @ self.weight.data                                          # (..., H)
