"""Luong (multiplicative) attention: each decoder state reads a weighted mix of encoder states.

Glossary: B batch, T decoder steps (queries), S encoder steps (keys), Q query width (decoder
hidden size), K key width (encoder output width).

Equations (Luong et al., 2015, "global attention")::

    score(q_t, k_s) = q_t . k_s              "dot"      (needs Q = K)
                    = q_t . (W k_s)          "general"  (W: (Q, K), no bias)
    a_t = softmax over the valid s of score(q_t, k_s)        # padded encoder steps get weight 0
    context_t = sum_s a_{t,s} k_s

Backward, from the cached weights a and the projected keys k' = W k (k' = k for "dot")::

    d_a      = d_context K^T                                  # (B, T, S)
    d_score  = a * (d_a - sum_s a d_a)                        # softmax backward; 0 where masked
    d_query  = d_score K'
    d_keys   = a^T d_context + (d_score^T Q) W                # second term: d_k' W ("dot": W = I)
    dW       = sum_b (d_score^T Q)^T K
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit._validate import as_float_array, check_choice, check_positive_int
from rnnkit.cells.base import uniform_init
from rnnkit.module import Module, Parameter

SCORES = ("dot", "general")


class LuongAttention(Module):
    """Multiplicative attention of a batch of queries over a batch of masked keys.

    Parameters
    ----------
    query_size : int
        Q, e.g. the decoder's hidden size.
    key_size : int
        K, e.g. the encoder's output width. Must equal Q for ``score="dot"``.
    score : {"dot", "general"}
        ``"general"`` adds ``weight`` (Q, K), initialised uniform in +-1/sqrt(K).
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None

    Shapes
    ------
    ``forward(query (B, T, Q), keys (B, S, K), mask (B, S) bool or None)`` returns
    ``context (B, T, K)`` and ``weights (B, T, S)``; the weights are also kept in
    ``self.weights`` for inspection. ``backward(d_context (B, T, K))`` returns
    ``(d_query (B, T, Q), d_keys (B, S, K))``.

    Examples
    --------
    >>> attention = LuongAttention(4, 4, score="dot")
    >>> keys = np.eye(4)[None, :3]                               # (1, 3, 4)
    >>> context, weights = attention(100.0 * keys[:, 1:2], keys, mask=np.array([[True, True, False]]))
    >>> weights.round(3).tolist()                                # the matching key wins
    [[[0.0, 1.0, 0.0]]]
    >>> d_query, d_keys = attention.backward(np.ones((1, 1, 4)))
    >>> d_query.shape, d_keys.shape
    ((1, 1, 4), (1, 3, 4))
    """

    def __init__(self, query_size: int, key_size: int, score: str = "general", dtype: Any = np.float32,
                 seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        self.query_size = check_positive_int(query_size, "query_size")
        self.key_size = check_positive_int(key_size, "key_size")
        self.score = check_choice(score, "score", SCORES)
        if self.score == "dot" and self.query_size != self.key_size:
            raise ValueError(f"score='dot' needs query_size == key_size, got {self.query_size} and {self.key_size}; "
                             f"use score='general' to compare vectors of different widths")
        self.config = {"query_size": self.query_size, "key_size": self.key_size, "score": self.score}
        if self.score == "general":
            bound = 1.0 / np.sqrt(self.key_size)
            self.weight = Parameter(uniform_init(self.rng, (self.query_size, self.key_size), bound, self.dtype))
        self.weights: np.ndarray | None = None
        self._cache: Any = None

    def forward(self, query: Any, keys: Any, mask: Any = None) -> tuple[np.ndarray, np.ndarray]:
        keys = as_float_array(keys, "keys", self.dtype, (None, None, self.key_size), "(B, S, K)")
        batch, sources, _ = keys.shape
        query = as_float_array(query, "query", self.dtype, (batch, None, self.query_size), "(B, T, Q)")
        mask = self.check_mask(mask, batch, sources)
        context, weights, cache = self.attend(query, keys, self.project(keys), mask)
        self.weights = weights
        self._cache = self._keep((query, keys, cache))
        return context, weights

    def backward(self, d_context: Any) -> tuple[np.ndarray, np.ndarray]:
        query, keys, cache = self._require_cache(self._cache)
        d_context = as_float_array(d_context, "d_context", self.dtype, query.shape[:2] + (self.key_size,),
                                   "(B, T, K), the shape of the context")
        d_query, d_keys, d_projected = self.attend_backward(d_context, cache)
        return d_query, d_keys + self.project_backward(d_projected, keys)

    # --- the two halves, for a decoder that attends one step at a time -----------------------
    # A decoder with input feeding needs the context of step t before it can run step t + 1, so
    # it projects the keys once (project), attends once per step (attend / attend_backward),
    # sums the projected keys' gradients over the steps and takes W's gradient in one product
    # at the end (project_backward). forward and backward above are these four in a row.

    @staticmethod
    def check_mask(mask: Any, batch: int, sources: int) -> np.ndarray:
        """A boolean mask (B, S) with a valid step in every row (all True for None)."""
        if mask is None:
            return np.ones((batch, sources), dtype=bool)
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (batch, sources):
            raise ValueError(f"mask must be a boolean array of shape (B, S) = {(batch, sources)}, "
                             f"got dtype {mask.dtype} shape {mask.shape}")
        if not np.all(mask.any(axis=1)):
            raise ValueError("mask must leave at least one valid encoder step in every row")
        return mask

    def project(self, keys: np.ndarray) -> np.ndarray:
        """k' = W k for "general" (the keys themselves for "dot"): (B, S, K) -> (B, S, Q)."""
        return keys @ self.weight.data.T if self.score == "general" else keys

    def attend(self, query: np.ndarray, keys: np.ndarray, projected: np.ndarray,
               mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple]:
        """``(context (B, T, K), weights (B, T, S), cache)``; keeps nothing on the module."""
        scores = query @ projected.transpose(0, 2, 1)                                    # (B, T, S)
        scores = np.where(mask[:, None, :], scores, -np.inf)
        scores -= scores.max(axis=-1, keepdims=True)                                     # largest is 0
        weights = np.exp(scores)                                                         # exp(-inf) = 0
        weights /= weights.sum(axis=-1, keepdims=True)
        context = weights @ keys                                                         # (B, T, K)
        return context, weights, (query, keys, projected, weights)

    @staticmethod
    def attend_backward(d_context: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(d_query (B, T, Q), d_keys (B, S, K) through the weighted sum, d_projected (B, S, Q))``."""
        query, keys, projected, weights = cache
        d_weights = d_context @ keys.transpose(0, 2, 1)                                  # (B, T, S)
        d_scores = weights * (d_weights - np.sum(weights * d_weights, axis=-1, keepdims=True))
        d_query = d_scores @ projected                                                   # (B, T, Q)
        d_projected = d_scores.transpose(0, 2, 1) @ query                                # (B, S, Q)
        d_keys = weights.transpose(0, 2, 1) @ d_context                                  # (B, S, K)
        return d_query, d_keys, d_projected

    def project_backward(self, d_projected: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """d_keys (B, S, K) through k' = W k, adding W's gradient ("dot": d_projected itself)."""
        if self.score != "general":
            return d_projected
        if self.weight.requires_grad:
            self.weight.grad += np.einsum("bsq,bsk->qk", d_projected, keys)
        return d_projected @ self.weight.data
