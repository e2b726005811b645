"""What the task models share: choosing the recurrent layer, reading inputs, masks from lengths.

Glossary: B batch, T time, D input features, E embedding size, V vocabulary, H hidden units,
K directions (1 or 2), L layers.

A model reads either token ids (B, T) through an :class:`~rnnkit.Embedding` (``vocab_size``
given) or real-valued features (B, T, D) directly (``vocab_size=None``, ``input_size`` given).
:class:`InputEncoder` holds that choice so every model handles it the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit._validate import as_float_array, as_index_array, check_positive_int
from rnnkit.layers import Embedding
from rnnkit.layers.recurrent import RecurrentLayer
from rnnkit.layers.regularisers import REGULARISER_DEFAULTS
from rnnkit.module import Module
from rnnkit.registry import CELL_KINDS, cell_kind, kind_of

# The recurrent layer behind each ``cell=`` name (from the one registry, rnnkit.registry).
RECURRENT_LAYERS = {name: kind.layer for name, kind in CELL_KINDS.items()}


def make_recurrent_layer(cell: str, input_size: int, hidden_size: int, num_layers: int, bidirectional: bool,
                         dropout: float, dtype: np.dtype, rng: np.random.Generator,
                         regularisers: dict[str, Any] | None = None) -> RecurrentLayer:
    """The recurrent layer of the kind named by ``cell`` ("rnn", "lstm", "gru": rnnkit.registry).

    ``regularisers``: the layer's regulariser options by name (``locked_dropout``, ``weight_drop``,
    ``zoneout``, ... :class:`~rnnkit.layers.recurrent.RecurrentLayer`), or None for none.
    """
    return cell_kind(cell).layer(input_size, hidden_size, num_layers=num_layers, dropout=dropout,
                                 bidirectional=bidirectional, dtype=dtype, seed=rng,
                                 **check_regularisers(regularisers))


def check_regularisers(regularisers: Any) -> dict[str, Any]:
    """``regularisers`` as a dict of the recurrent layers' regulariser options (each value is
    checked by the layer); {} for None. A model keeps it in its config only when it is not empty.

    >>> check_regularisers({"zoneout": 0.1})
    {'zoneout': 0.1}
    >>> check_regularisers({"dropconnect": 0.5})
    Traceback (most recent call last):
    ...
    ValueError: regularisers may name locked_input_dropout, locked_dropout, weight_drop, zoneout, zoneout_cell, learn_initial_state; got 'dropconnect'
    """
    if regularisers is None:
        return {}
    if not isinstance(regularisers, dict):
        raise TypeError(f"regularisers must be a dict of option -> value or None, got {type(regularisers).__name__}")
    for name in regularisers:
        if name not in REGULARISER_DEFAULTS:
            raise ValueError(f"regularisers may name {', '.join(REGULARISER_DEFAULTS)}; got {name!r}")
    return dict(regularisers)


def final_hidden(layer: RecurrentLayer, state: Any) -> np.ndarray:
    """h_n (L*K, B, H) out of a layer's final state (an LSTM's is (h_n, c_n))."""
    return kind_of(layer).hidden(state)


def state_gradient(layer: RecurrentLayer, d_h_n: np.ndarray) -> Any:
    """The ``backward`` argument for a gradient on h_n only (an LSTM's is (dh_n, None))."""
    return kind_of(layer).hidden_gradient(d_h_n)


def input_batch_steps(x: Any) -> tuple[int, int]:
    """(B, T) of a model's input, token ids (B, T) or features (B, T, D), before it is encoded.

    The input's own checks come later (:class:`InputEncoder`); this only needs two leading axes.
    """
    shape = np.shape(x)
    if len(shape) < 2:
        raise ValueError(f"x must have shape (B, T) of token ids or (B, T, D) of features, got shape {shape}")
    return shape[0], shape[1]


def check_lengths(lengths: Any, batch: int, steps: int) -> np.ndarray:
    """``lengths`` as int64 (B,), each in [1, T]; None means every sequence has T steps."""
    if lengths is None:
        return np.full(batch, steps, dtype=np.int64)
    array = as_index_array(lengths, "lengths")
    if array.shape != (batch,):
        raise ValueError(f"lengths must have shape ({batch},), one per sequence in the batch, got {array.shape}")
    if np.any(array < 1) or np.any(array > steps):
        bad = array[(array < 1) | (array > steps)][0]
        raise ValueError(f"lengths must lie in [1, T={steps}], got {bad}")
    return array


def length_mask(lengths: np.ndarray, steps: int) -> np.ndarray:
    """(B, T) bool, True at the valid steps ``t < lengths[b]``.

    >>> length_mask(np.array([2, 3]), 3).tolist()
    [[True, True, False], [True, True, True]]
    """
    return np.arange(steps)[None, :] < np.asarray(lengths)[:, None]


class InputEncoder(Module):
    """Token ids through an embedding, or real-valued features passed through unchanged.

    With ``vocab_size`` set: ``forward(ids (B, T)) -> (B, T, E)`` and ``backward`` returns
    None (ids have no gradient). With ``vocab_size=None``: ``forward(x (B, T, D)) -> x`` and
    ``backward(dx) -> dx``. ``output_size`` is E or D.
    """

    def __init__(self, vocab_size: int | None = None, embedding_dim: int | None = None,
                 input_size: int | None = None, padding_idx: int | None = None,
                 dtype: Any = np.float32, seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        if vocab_size is None:
            if input_size is None:
                raise ValueError("give vocab_size (token ids in) or input_size (real-valued features in), got neither")
            for name, value in (("embedding_dim", embedding_dim), ("padding_idx", padding_idx)):
                if value is not None:
                    raise ValueError(f"{name} is only for token ids (vocab_size set), got {name}={value} "
                                     f"with vocab_size=None")
            self.output_size = check_positive_int(input_size, "input_size")
            self.embedding = None
        else:
            if input_size is not None:
                raise ValueError(f"give vocab_size or input_size, not both (got vocab_size={vocab_size}, "
                                 f"input_size={input_size}); with token ids the input size is embedding_dim")
            vocab_size = check_positive_int(vocab_size, "vocab_size")
            embedding_dim = check_positive_int(32 if embedding_dim is None else embedding_dim, "embedding_dim")
            self.embedding = Embedding(vocab_size, embedding_dim, padding_idx=padding_idx, dtype=self.dtype,
                                       seed=self.rng)
            self.output_size = embedding_dim
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.config = {"vocab_size": vocab_size, "embedding_dim": embedding_dim, "input_size": input_size,
                       "padding_idx": padding_idx}

    def forward(self, x: Any) -> np.ndarray:
        if self.embedding is not None:
            ids = np.asarray(x)
            if ids.ndim != 2:
                raise ValueError(f"token ids must have shape (B, T), got {ids.ndim} dimensions with shape {ids.shape}")
            return self.embedding(ids)                                     # (B, T, E)
        return as_float_array(x, "x", self.dtype, (None, None, self.output_size), "(B, T, D)").copy()

    def backward(self, dx: np.ndarray) -> np.ndarray | None:
        if self.embedding is not None:
            self.embedding.backward(dx)
            return None
        return dx
