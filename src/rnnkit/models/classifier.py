"""Many-to-one classification: a recurrent encoder, a pooled summary, a linear output layer.

Glossary: B batch, T time, D input features, E embedding size, V vocabulary, H hidden units,
K directions (1 or 2), L layers, C classes.

Data flow::

    ids (B, T) -> Embedding -> (B, T, E)      or  features x (B, T, D) (vocab_size=None)
    recurrent layer (lengths)  -> y (B, T, K*H), h_n (L*K, B, H)
    pooling                    -> summary (B, K*H)
    dropout -> Linear          -> logits (B,) for two classes, (B, C) for more

``backward`` runs the same chain in reverse.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit import losses
from rnnkit._validate import as_float_array, as_index_array, check_choice, check_positive_int, check_probability
from rnnkit.layers import Dropout, Linear
from rnnkit.models._common import (InputEncoder, check_lengths, final_hidden, input_batch_steps, length_mask,
                                   make_recurrent_layer, state_gradient)
from rnnkit.module import Module
from rnnkit.registry import cell_kind

POOLINGS = ("last", "mean", "max")


def pool_forward(pooling: str, y: np.ndarray, h_n: np.ndarray, lengths: np.ndarray, num_directions: int):
    """Summarise a sequence: returns ``summary (B, K*H)`` and what :func:`pool_backward` needs.

    ``"last"``: the top layer's h_n, i.e. the forward direction's state at the last valid step
    and (bidirectional) the reverse direction's state at step 0. ``"mean"``: the mean of y over
    the valid steps. ``"max"``: the elementwise maximum of y over the valid steps.
    """
    batch, steps, width = y.shape
    if pooling == "last":
        top = h_n[-num_directions:]                                      # (K, B, H)
        return top.transpose(1, 0, 2).reshape(batch, width), None
    valid = length_mask(lengths, steps)                                  # (B, T)
    if pooling == "mean":
        return y.sum(axis=1) / lengths[:, None].astype(y.dtype), valid   # outputs past lengths are 0
    masked = np.where(valid[:, :, None], y, -np.inf)                     # padding never wins the max
    winners = np.argmax(masked, axis=1)                                  # (B, K*H) step of each maximum
    return np.take_along_axis(y, winners[:, None, :], axis=1)[:, 0, :], winners


def pool_backward(pooling: str, d_summary: np.ndarray, cache: Any, lengths: np.ndarray, y_shape: tuple,
                  num_layers: int, num_directions: int):
    """Gradients ``(dy (B, T, K*H), d_h_n (L*K, B, H))`` of a pooled summary."""
    batch, steps, width = y_shape
    hidden = width // num_directions
    dy = np.zeros(y_shape, dtype=d_summary.dtype)
    d_h_n = np.zeros((num_layers * num_directions, batch, hidden), dtype=d_summary.dtype)
    if pooling == "last":
        d_h_n[-num_directions:] = d_summary.reshape(batch, num_directions, hidden).transpose(1, 0, 2)
    elif pooling == "mean":
        valid = cache                                                    # (B, T)
        dy[...] = valid[:, :, None] * (d_summary / lengths[:, None].astype(d_summary.dtype))[:, None, :]
    else:
        winners = cache                                                  # (B, K*H)
        np.put_along_axis(dy, winners[:, None, :], d_summary[:, None, :], axis=1)
    return dy, d_h_n


class SequenceClassifier(Module):
    """One label per sequence from an RNN, LSTM or GRU encoder.

    Parameters
    ----------
    num_classes : int
        C >= 2. Two classes use a single logit and binary cross entropy (``logits`` (B,),
        the logit of class 1); more use C logits and softmax cross entropy (``logits`` (B, C)).
    vocab_size : int or None
        V for token-id input (B, T), read through an :class:`~rnnkit.Embedding`. None for
        real-valued input (B, T, D), e.g. pixel rows or audio frames; then give ``input_size``.
    embedding_dim : int or None
        E (default 32), only with ``vocab_size``.
    input_size : int or None
        D, only with ``vocab_size=None``.
    hidden_size : int
        H, per direction.
    cell : {"lstm", "gru", "rnn"}
    num_layers : int
    bidirectional : bool
    pooling : {"last", "mean", "max"}
        How the outputs become one vector per sequence (see :func:`pool_forward`); all
        respect ``lengths``.
    dropout : float
        Dropout between recurrent layers and on the pooled summary, in training mode.
    padding_idx : int or None
        Embedding row that stays zero (e.g. ``vocab.pad_id``).
    regularisers : dict or None
        Regulariser options of the recurrent layer by name (``locked_dropout``, ``weight_drop``,
        ``zoneout``, ``learn_initial_state`` ...: :class:`~rnnkit.layers.recurrent.RecurrentLayer`).
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None

    Shapes
    ------
    ``forward(x (B, T) ids or (B, T, D), lengths (B,) or None)`` returns logits (B,) or (B, C);
    ``backward(d_logits)`` returns dx (B, T, D) for real-valued input, None for ids.

    Examples
    --------
    >>> model = SequenceClassifier(3, vocab_size=10, embedding_dim=4, hidden_size=5, seed=0)
    >>> ids = np.array([[1, 2, 3, 0], [4, 5, 0, 0]])
    >>> logits = model(ids, lengths=[3, 2])
    >>> logits.shape
    (2, 3)
    >>> loss, d_logits = model.loss(logits, np.array([0, 2]))
    >>> model.backward(d_logits) is None
    True
    >>> model.predict(ids, lengths=[3, 2]).shape, model.predict_proba(ids, lengths=[3, 2]).shape
    ((2,), (2, 3))
    """

    def __init__(self, num_classes: int, vocab_size: int | None = None, embedding_dim: int | None = None,
                 input_size: int | None = None, hidden_size: int = 64, cell: str = "lstm", num_layers: int = 1,
                 bidirectional: bool = False, pooling: str = "last", dropout: float = 0.0,
                 padding_idx: int | None = None, regularisers: dict[str, Any] | None = None,
                 dtype: Any = np.float32, seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        self.num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.cell = cell_kind(cell).name
        self.pooling = check_choice(pooling, "pooling", POOLINGS)
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if self.bidirectional else 1
        dropout = check_probability(dropout, "dropout")
        self.binary = self.num_classes == 2
        self.inputs = InputEncoder(vocab_size, embedding_dim, input_size, padding_idx, dtype=self.dtype, seed=self.rng)
        self.recurrent = make_recurrent_layer(cell, self.inputs.output_size, hidden_size, num_layers,
                                              self.bidirectional, dropout, self.dtype, self.rng, regularisers)
        self.dropout = Dropout(dropout, dtype=self.dtype, seed=self.rng)
        self.output = Linear(self.num_directions * hidden_size, 1 if self.binary else self.num_classes,
                             dtype=self.dtype, seed=self.rng)
        self.config = {"num_classes": self.num_classes, "vocab_size": vocab_size,
                       "embedding_dim": self.inputs.embedding_dim, "input_size": input_size,
                       "hidden_size": self.hidden_size, "cell": cell, "num_layers": self.num_layers,
                       "bidirectional": self.bidirectional, "pooling": pooling, "dropout": dropout,
                       "padding_idx": padding_idx}
        if regularisers:                   # only when used: configs saved before the option stay as they were
            self.config["regularisers"] = dict(regularisers)
        self._cache: Any = None

    def forward(self, x: Any, lengths: Any = None) -> np.ndarray:
        checked = check_lengths(lengths, *input_batch_steps(x))             # before any layer caches this batch
        features = self.inputs(x)                                            # (B, T, E or D)
        y, state = self.recurrent(features, None, None if lengths is None else checked)   # y (B, T, K*H)
        summary, pool_cache = pool_forward(self.pooling, y, final_hidden(self.recurrent, state), checked,
                                           self.num_directions)              # (B, K*H)
        logits = self.output(self.dropout(summary))                          # (B, 1) or (B, C)
        self._cache = self._keep((checked, y.shape, pool_cache))
        return logits[:, 0] if self.binary else logits

    def backward(self, d_logits: Any) -> np.ndarray | None:
        lengths, y_shape, pool_cache = self._require_cache(self._cache)
        expected = (y_shape[0],) if self.binary else (y_shape[0], self.num_classes)
        d_logits = as_float_array(d_logits, "d_logits", self.dtype, expected,
                                  "(B,), the shape of the logits" if self.binary else "(B, C), the shape of the logits")
        if self.binary:
            d_logits = d_logits[:, None]                                     # (B, 1)
        d_summary = self.dropout.backward(self.output.backward(d_logits))    # (B, K*H)
        dy, d_h_n = pool_backward(self.pooling, d_summary, pool_cache, lengths, y_shape, self.num_layers,
                                  self.num_directions)
        d_features, _ = self.recurrent.backward(dy, state_gradient(self.recurrent, d_h_n))
        return self.inputs.backward(d_features)

    def loss(self, logits: Any, targets: Any) -> tuple[float, np.ndarray]:
        """Mean loss and its gradient with respect to ``logits``.

        ``targets`` (B,) are class indices in [0, C). Two classes: binary cross entropy on the
        single logit; more: softmax cross entropy.
        """
        logits = np.asarray(logits)
        expected = "(B,), one logit per sequence" if self.binary else f"(B, {self.num_classes}), one per class"
        if logits.ndim != (1 if self.binary else 2) or (not self.binary and logits.shape[1] != self.num_classes):
            raise ValueError(f"logits must have shape {expected}, got {logits.shape}")
        targets = as_index_array(targets, "targets", upper=self.num_classes)
        if targets.shape != logits.shape[:1]:
            raise ValueError(f"targets must have shape ({logits.shape[0]},), one class per sequence, "
                             f"got {targets.shape}")
        if self.binary:
            return losses.binary_cross_entropy_with_logits(logits, targets.astype(logits.dtype))
        return losses.cross_entropy(logits, targets)

    def predict_proba(self, x: Any, lengths: Any = None) -> np.ndarray:
        """Class probabilities (B, C), computed in eval mode (no dropout)."""
        with self.inference():  # eval mode and no_grad until the block ends
            logits = self.forward(x, lengths)
        if self.binary:
            positive = 1.0 / (1.0 + np.exp(-np.clip(logits, -500, 500)))     # (B,)
            return np.stack([1.0 - positive, positive], axis=1)
        return losses.softmax(logits)

    def predict(self, x: Any, lengths: Any = None) -> np.ndarray:
        """The most probable class of each sequence, int64 (B,)."""
        return np.argmax(self.predict_proba(x, lengths), axis=1)
