"""Many-to-many aligned tagging: one label per input step (part of speech, BIO entity tags).

Glossary: B batch, T time, D input features, E embedding size, V vocabulary, H hidden units,
K directions (1 or 2), L layers, C tags.

Data flow::

    ids (B, T) -> Embedding -> (B, T, E)      or  features x (B, T, D) (vocab_size=None)
    recurrent layer (lengths) -> y (B, T, K*H)      zero past each sequence's length
    dropout -> Linear         -> logits (B, T, C)

The loss is softmax cross entropy over the valid steps only (a (B, T) mask built from
``lengths``), so padding adds nothing to the loss or the gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit import losses
from rnnkit._validate import as_float_array, as_index_array, check_choice, check_positive_int, check_probability
from rnnkit.layers import Dropout, Linear
from rnnkit.models._common import InputEncoder, check_lengths, input_batch_steps, length_mask, make_recurrent_layer
from rnnkit.module import Module


class SequenceTagger(Module):
    """Per-step tag logits from an RNN, LSTM or GRU (bidirectional by default).

    Parameters
    ----------
    num_tags : int
        C.
    vocab_size : int or None
        V for token-id input (B, T); None for real-valued input (B, T, D), then give
        ``input_size``.
    embedding_dim : int or None
        E (default 32), only with ``vocab_size``.
    input_size : int or None
        D, only with ``vocab_size=None``.
    hidden_size : int
        H, per direction.
    cell : {"lstm", "gru", "rnn"}
    num_layers : int
    bidirectional : bool
        True (the default) lets each tag see the words after it as well as before.
    dropout : float
        Dropout between recurrent layers and before the output layer, in training mode.
    padding_idx : int or None
        Embedding row that stays zero (e.g. ``vocab.pad_id``).
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None

    Shapes
    ------
    ``forward(x (B, T) ids or (B, T, D), lengths (B,) or None)`` returns logits (B, T, C);
    ``backward(d_logits (B, T, C))`` returns dx (B, T, D) for real-valued input, None for ids.

    Examples
    --------
    >>> tagger = SequenceTagger(4, vocab_size=10, embedding_dim=3, hidden_size=5, seed=0)
    >>> ids = np.array([[1, 2, 3], [4, 5, 0]])
    >>> logits = tagger(ids, lengths=[3, 2])
    >>> logits.shape
    (2, 3, 4)
    >>> loss, d_logits = tagger.loss(logits, np.array([[0, 1, 2], [3, 0, -1]]), lengths=[3, 2])
    >>> float(np.abs(d_logits[1, 2]).sum())       # padding gets no gradient
    0.0
    >>> tagger.backward(d_logits) is None
    True
    >>> tagger.predict(ids, lengths=[3, 2])[1].tolist()[2]  # padding is marked -1
    -1
    """

    def __init__(self, num_tags: int, vocab_size: int | None = None, embedding_dim: int | None = None,
                 input_size: int | None = None, hidden_size: int = 64, cell: str = "lstm", num_layers: int = 1,
                 bidirectional: bool = True, dropout: float = 0.0, padding_idx: int | None = None,
                 dtype: Any = np.float32, seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        self.num_tags = check_positive_int(num_tags, "num_tags", minimum=2)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.cell = check_choice(cell, "cell", ("lstm", "gru", "rnn"))
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if self.bidirectional else 1
        dropout = check_probability(dropout, "dropout")
        self.inputs = InputEncoder(vocab_size, embedding_dim, input_size, padding_idx, dtype=self.dtype, seed=self.rng)
        self.recurrent = make_recurrent_layer(cell, self.inputs.output_size, hidden_size, num_layers,
                                              self.bidirectional, dropout, self.dtype, self.rng)
        self.dropout = Dropout(dropout, dtype=self.dtype, seed=self.rng)
        self.output = Linear(self.num_directions * hidden_size, self.num_tags, dtype=self.dtype, seed=self.rng)
        self.config = {"num_tags": self.num_tags, "vocab_size": vocab_size,
                       "embedding_dim": self.inputs.embedding_dim, "input_size": input_size,
                       "hidden_size": self.hidden_size, "cell": cell, "num_layers": self.num_layers,
                       "bidirectional": self.bidirectional, "dropout": dropout, "padding_idx": padding_idx}
        self._cache: Any = None

    def forward(self, x: Any, lengths: Any = None) -> np.ndarray:
        if lengths is not None:                                              # before any layer caches this batch
            lengths = check_lengths(lengths, *input_batch_steps(x))
        features = self.inputs(x)                                            # (B, T, E or D)
        y, _ = self.recurrent(features, None, lengths)                       # (B, T, K*H)
        logits = self.output(self.dropout(y))                                # (B, T, C)
        self._cache = self._keep(logits.shape)
        return logits

    def backward(self, d_logits: Any) -> np.ndarray | None:
        shape = self._require_cache(self._cache)
        d_logits = as_float_array(d_logits, "d_logits", self.dtype, shape, "(B, T, C), the shape of the logits")
        dy = self.dropout.backward(self.output.backward(d_logits))          # (B, T, K*H)
        d_features, _ = self.recurrent.backward(dy)
        return self.inputs.backward(d_features)

    def loss(self, logits: Any, tags: Any, lengths: Any = None) -> tuple[float, np.ndarray]:
        """Mean cross entropy over the valid steps, and its gradient with respect to ``logits``.

        ``tags`` (B, T) are tag indices in [0, C) at the valid steps; the values at padded
        steps (``t >= lengths[b]``) are ignored and may be anything, e.g. -1.
        """
        logits = np.asarray(logits)
        if logits.ndim != 3 or logits.shape[-1] != self.num_tags:
            raise ValueError(f"logits must have shape (B, T, {self.num_tags}), got {logits.shape}")
        batch, steps, _ = logits.shape
        tags = as_index_array(tags, "tags")
        if tags.shape != (batch, steps):
            raise ValueError(f"tags must have shape (B, T) = {(batch, steps)}, got {tags.shape}")
        valid = length_mask(check_lengths(lengths, batch, steps), steps)      # (B, T)
        as_index_array(tags[valid], "tags", upper=self.num_tags)            # only valid steps need real tags
        return losses.cross_entropy(logits, np.where(valid, tags, 0), mask=valid)

    def predict(self, x: Any, lengths: Any = None) -> np.ndarray:
        """The most probable tag at each step, int64 (B, T), -1 past each length (eval mode)."""
        with self.inference():  # eval mode and no_grad until the block ends
            logits = self.forward(x, lengths)
        batch, steps, _ = logits.shape
        valid = length_mask(check_lengths(lengths, batch, steps), steps)
        return np.where(valid, np.argmax(logits, axis=-1), -1)
