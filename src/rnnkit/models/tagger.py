"""Many-to-many aligned tagging: one label per input step (part of speech, BIO entity tags).

Glossary: B batch, T time, D input features, E embedding size, V vocabulary, H hidden units,
K directions (1 or 2), L layers, C tags, W characters per word, F extra feature columns.

Data flow::

    ids (B, T) -> Embedding -> (B, T, E)      or  features x (B, T, D) (vocab_size=None)
      [; chars (B, T, W) -> CharCNN / CharLSTM per word -> (B, T, E_char)]      char_encoder
      [; features (B, T, F) ids -> one Embedding per column -> (B, T, F * E_feature)]
    recurrent layer (lengths) -> y (B, T, K*H)      zero past each sequence's length
    dropout -> Linear         -> logits (B, T, C)   (the CRF's emissions with crf=True)

Without a CRF the loss is softmax cross entropy over the valid steps only (a (B, T) mask built
from ``lengths``), so padding adds nothing to the loss or the gradients, and each step's tag is
the arg max of its logits. With ``crf=True`` the logits are the emissions of a linear-chain
:class:`~rnnkit.CRF`: the loss is its negative log-likelihood per token and :meth:`decode` is
Viterbi over whole sequences (with BIO constraints when ``crf_tags`` names BIO tags).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rnnkit import losses
from rnnkit._validate import as_float_array, as_index_array, check_choice, check_positive_int, check_probability
from rnnkit.layers import Dropout, Embedding, Linear
from rnnkit.layers.char_encoder import CHAR_ENCODERS, make_char_encoder
from rnnkit.layers.crf import CRF, bio_constraints
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
    crf : bool
        A linear-chain :class:`~rnnkit.CRF` on the logits: sequence-level loss and Viterbi decoding.
    crf_tags : list of str or None
        The tag names, when they are BIO: the CRF then forbids ``O -> I-X`` and ``B-X -> I-Y``.
    char_encoder : {"none", "cnn", "lstm"}
        Character features per word (:class:`~rnnkit.CharCNN` or :class:`~rnnkit.CharLSTM`),
        concatenated to the word embedding; needs ``num_chars``, ``char_embedding_dim`` and
        ``char_hidden_size`` (CNN filters, or LSTM units per direction).
    input_dropout : float
        Dropout on the concatenated word representation, before the recurrent layer (training mode).
    regularisers : dict or None
        Regulariser options of the recurrent layer by name (``locked_dropout``, ``weight_drop``,
        ``zoneout``, ``learn_initial_state`` ...: :class:`~rnnkit.layers.recurrent.RecurrentLayer`).
    feature_sizes : list of int or None
        One vocabulary size per extra input column (POS, chunk, casing, ...), each embedded in
        ``feature_embedding_dim`` and concatenated; id 0 is padding.
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None

    Shapes
    ------
    ``forward(x (B, T) ids or (B, T, D), lengths (B,) or None, chars (B, T, W), char_lengths (B, T),
    features (B, T, F))`` returns logits (B, T, C) (the last three only when the model reads them);
    ``backward(d_logits (B, T, C))`` returns dx (B, T, D) for real-valued input, None for ids;
    ``decode(logits, lengths)`` returns tags (B, T), -1 past each length.

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
                 crf: bool = False, crf_tags: Sequence[str] | None = None, char_encoder: str = "none",
                 num_chars: int | None = None, char_embedding_dim: int = 25, char_hidden_size: int = 25,
                 feature_sizes: Sequence[int] | None = None, feature_embedding_dim: int = 16,
                 input_dropout: float = 0.0, regularisers: dict[str, Any] | None = None,
                 dtype: Any = np.float32, seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        self.num_tags = check_positive_int(num_tags, "num_tags", minimum=2)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.cell = check_choice(cell, "cell", ("lstm", "gru", "rnn"))
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if self.bidirectional else 1
        dropout = check_probability(dropout, "dropout")
        input_dropout = check_probability(input_dropout, "input_dropout")
        char_encoder = check_choice(char_encoder, "char_encoder", CHAR_ENCODERS)
        feature_sizes = [check_positive_int(size, "feature_sizes[i]") for size in (feature_sizes or [])]
        if crf_tags is not None:
            if not crf:
                raise ValueError("crf_tags (BIO constraints) need crf=True")
            crf_tags = [str(tag) for tag in crf_tags]
            if len(crf_tags) != self.num_tags:
                raise ValueError(f"crf_tags must name the {self.num_tags} tags, got {len(crf_tags)}")
            bio_constraints(crf_tags)                                        # an error now if they are not BIO
        if char_encoder != "none" and num_chars is None:
            raise ValueError(f"char_encoder={char_encoder!r} needs num_chars (the character vocabulary size)")
        if (char_encoder != "none" or feature_sizes) and vocab_size is None:
            raise ValueError("character features and feature columns need token ids (vocab_size set)")
        self.inputs = InputEncoder(vocab_size, embedding_dim, input_size, padding_idx, dtype=self.dtype, seed=self.rng)
        self.chars = make_char_encoder(char_encoder, num_chars or 1, char_embedding_dim, char_hidden_size,
                                       self.dtype, self.rng)
        self.features = [Embedding(size, feature_embedding_dim, padding_idx=0, dtype=self.dtype, seed=self.rng)
                         for size in feature_sizes]
        for number, table in enumerate(self.features):
            setattr(self, f"feature_embedding_{number}", table)                # registered as a child module
        # the widths of the concatenated word representation: [word; chars; feature 0; feature 1; ...]
        self.widths = [self.inputs.output_size] + ([self.chars.output_size] if self.chars is not None else []) \
            + [feature_embedding_dim] * len(feature_sizes)
        self.input_dropout = Dropout(input_dropout, dtype=self.dtype, seed=self.rng)
        self.recurrent = make_recurrent_layer(cell, sum(self.widths), hidden_size, num_layers,
                                              self.bidirectional, dropout, self.dtype, self.rng, regularisers)
        self.dropout = Dropout(dropout, dtype=self.dtype, seed=self.rng)
        self.output = Linear(self.num_directions * hidden_size, self.num_tags, dtype=self.dtype, seed=self.rng)
        self.crf = None
        if crf:
            self.crf = (CRF.with_bio_constraints(crf_tags, dtype=self.dtype, seed=self.rng) if crf_tags is not None
                        else CRF(self.num_tags, dtype=self.dtype, seed=self.rng))
        self.config = {"num_tags": self.num_tags, "vocab_size": vocab_size,
                       "embedding_dim": self.inputs.embedding_dim, "input_size": input_size,
                       "hidden_size": self.hidden_size, "cell": cell, "num_layers": self.num_layers,
                       "bidirectional": self.bidirectional, "dropout": dropout, "padding_idx": padding_idx}
        # new options join the config only when used, so configs saved before them stay as they were
        if crf:
            self.config.update(crf=True, crf_tags=crf_tags)
        if char_encoder != "none":
            self.config.update(char_encoder=char_encoder, num_chars=num_chars, char_embedding_dim=char_embedding_dim,
                               char_hidden_size=char_hidden_size)
        if feature_sizes:
            self.config.update(feature_sizes=feature_sizes, feature_embedding_dim=feature_embedding_dim)
        if input_dropout:
            self.config.update(input_dropout=input_dropout)
        if regularisers:
            self.config.update(regularisers=dict(regularisers))
        self._cache: Any = None

    def forward(self, x: Any, lengths: Any = None, chars: Any = None, char_lengths: Any = None,
                features: Any = None) -> np.ndarray:
        """Logits (B, T, C) from ids (B, T) [+ chars (B, T, W), char_lengths (B, T), features (B, T, F)].

        ``char_lengths[b, t]`` counts the characters of word t of sentence b (at least 1 at the
        valid steps; anything past ``lengths``); ``features`` holds one id per extra column.
        """
        batch, steps = input_batch_steps(x)
        if lengths is not None:                                              # before any layer caches this batch
            lengths = check_lengths(lengths, batch, steps)
        valid = length_mask(check_lengths(lengths, batch, steps), steps)     # (B, T)
        parts = [self.inputs(x)]                                             # (B, T, E or D)
        if self.chars is not None:
            if chars is None or char_lengths is None:
                raise ValueError("this tagger reads characters: give chars (B, T, W) and char_lengths (B, T)")
            chars = as_index_array(chars, "chars")
            char_lengths = as_index_array(char_lengths, "char_lengths")
            if chars.ndim != 3 or chars.shape[:2] != (batch, steps) or char_lengths.shape != (batch, steps):
                raise ValueError(f"chars must have shape (B, T, W) and char_lengths (B, T) with (B, T) = "
                                 f"{(batch, steps)}, got {chars.shape} and {char_lengths.shape}")
            words = self.chars(chars[valid], char_lengths[valid])           # (N valid words, E_char)
            char_part = np.zeros((batch, steps, words.shape[1]), dtype=self.dtype)
            char_part[valid] = words
            parts.append(char_part)
        if self.features:
            if features is None:
                raise ValueError(f"this tagger reads {len(self.features)} feature column(s): give features (B, T, F)")
            features = as_index_array(features, "features")
            if features.shape != (batch, steps, len(self.features)):
                raise ValueError(f"features must have shape (B, T, F) = {(batch, steps, len(self.features))}, "
                                 f"got {features.shape}")
            parts += [table(np.where(valid, features[:, :, column], 0)) for column, table in enumerate(self.features)]
        inputs = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=2)   # (B, T, sum of widths)
        inputs = self.input_dropout(inputs)
        y, _ = self.recurrent(inputs, None, lengths)                         # (B, T, K*H)
        logits = self.output(self.dropout(y))                                # (B, T, C)
        self._cache = self._keep((logits.shape, valid))
        return logits

    def backward(self, d_logits: Any) -> np.ndarray | None:
        shape, valid = self._require_cache(self._cache)
        d_logits = as_float_array(d_logits, "d_logits", self.dtype, shape, "(B, T, C), the shape of the logits")
        dy = self.dropout.backward(self.output.backward(d_logits))          # (B, T, K*H)
        d_inputs, _ = self.recurrent.backward(dy)                            # (B, T, sum of widths)
        d_inputs = self.input_dropout.backward(d_inputs)
        pieces = np.split(d_inputs, np.cumsum(self.widths)[:-1], axis=2)
        result = self.inputs.backward(np.ascontiguousarray(pieces[0]))
        rest = pieces[1:]
        if self.chars is not None:
            self.chars.backward(rest.pop(0)[valid])
        for table, piece in zip(self.features, rest):
            table.backward(np.ascontiguousarray(piece))
        return result

    def loss(self, logits: Any, tags: Any, lengths: Any = None) -> tuple[float, np.ndarray]:
        """Mean loss per valid token, and its gradient with respect to ``logits``.

        Cross entropy without a CRF; with one, the CRF's negative log-likelihood divided by the
        number of valid tokens (its transition gradients go into the CRF's parameters).
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
        if self.crf is not None:
            return self.crf.nll(logits, np.where(valid, tags, 0), valid, reduction="token_mean")
        return losses.cross_entropy(logits, np.where(valid, tags, 0), mask=valid)

    def decode(self, logits: Any, lengths: Any = None) -> np.ndarray:
        """Tags int64 (B, T), -1 past each length: Viterbi with a CRF, else each step's arg max."""
        logits = np.asarray(logits)
        batch, steps, _ = logits.shape
        valid = length_mask(check_lengths(lengths, batch, steps), steps)
        if self.crf is not None:
            return self.crf.decode(logits, valid)
        return np.where(valid, np.argmax(logits, axis=-1), -1)

    def predict(self, x: Any, lengths: Any = None, **inputs: Any) -> np.ndarray:
        """The best tags, int64 (B, T), -1 past each length (eval mode); ``inputs``: chars, features."""
        with self.inference():  # eval mode and no_grad until the block ends
            logits = self.forward(x, lengths, **inputs)
        return self.decode(logits, lengths)
