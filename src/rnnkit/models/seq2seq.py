"""Encoder-decoder (sequence to sequence) with Luong attention, a stacked decoder, input feeding,
greedy and beam decoding.

Why one module of about 550 lines: the encoder, bridge and stacked decoder with input feeding
and their step-by-step backward mirror each other, and greedy and beam decoding step the same
decoder.

Glossary: B batch, S source steps, T target steps, E embedding size, H hidden units, K encoder
directions (1 or 2), L encoder layers, M decoder layers (M <= L), V target vocabulary,
N hypotheses decoded together.

Data flow of ``forward`` (teacher forcing: the decoder reads the true previous token)::

    source ids (B, S) -> Embedding -> encoder RNN/LSTM/GRU (lengths)
        memory (B, S, K*H)                       every encoder output, zero past each length
        final states of the top M layers         -> bridge -> decoder layer m's initial state (B, H)
    decoder inputs (B, T) = <bos> y_1 .. y_{T-1} -> Embedding -> e_t (B, E)
    for t in 0..T-1:
        x = [e_t; h~_{t-1}] with input feeding (h~_{-1} = 0), else e_t
        for m in 0..M-1:  h^m_t = cell_m(x, h^m_{t-1});  x = dropout(h^m_t)     (not after the top)
        h_t = h^{M-1}_t                                                        (B, H)
    without attention:  h~_t = h_t
    with attention:     c_t = attention(h_t, memory, source mask)              (Luong, "dot" or "general")
                        h~_t = tanh(W_c [c_t; h_t] + b_c)
    logits_t = W_out dropout(h~_t) + b_out                                     (B, T, V)
                                        (W_out = the target embedding table when tied)

Input feeding (Luong et al., 2015, section 3.3) feeds the attentional vector of step t - 1 (as
the output layer sees it, after dropout) with the next input, so the decoder knows what it
attended to. Without it, attention depends only on the decoder states, and in training runs
once for all T steps after the loop; with it, attention runs once per step inside the loop.

The bridge copies each decoder layer's encoder layer's final state (decoder layer m starts from
encoder layer L - M + m, so one decoder layer starts from the top) when the encoder runs one
direction; for a bidirectional encoder a Linear (shared by the layers) maps the two directions'
final states ``[h_fwd; h_bwd]`` (B, 2H) to (B, H), and another does the same for the LSTM cell
state.

``backward`` mirrors this: the output layer for all steps at once; then, without input feeding,
attention and combination for all steps at once and the decoder cells from the last step to
the first; with input feeding, for each step from the last: combination, attention, then the
cells from the top layer down, whose input gradient splits into the embedding's and the previous
attentional vector's. The combination weights and the attention weight get their gradients in
one product after the loop. Then the target embedding, the bridge, the encoder and the source
embedding.

A model built without ``decoder_layers``, ``input_feeding`` and ``decoder_dropout`` (such as one
saved before they existed) is the one-layer decoder without input feeding, and computes exactly
what it always did.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any, Sequence

import numpy as np

from rnnkit import losses
from rnnkit._validate import as_float_array, as_index_array, check_choice, check_positive_int, check_probability
from rnnkit.layers import Embedding, Linear, TiedOutput
from rnnkit.models._common import check_lengths, length_mask, make_recurrent_layer
from rnnkit.models.attention import LuongAttention
from rnnkit.module import Module
from rnnkit.registry import cell_kind


class Seq2Seq(Module):
    """An RNN encoder-decoder for token sequences, trained with teacher forcing.

    Parameters
    ----------
    source_vocab_size, target_vocab_size : int
        Vocabulary sizes of the input and output tokens (V for the target).
    bos_id, eos_id : int
        Target ids of ``<bos>`` (fed to the decoder first) and ``<eos>`` (ends a decoded
        sequence).
    pad_id : int
        Id of ``<pad>`` in both vocabularies: its embedding rows stay zero, and
        :meth:`prepare_targets` pads with it.
    embedding_dim : int
        E, for both embeddings.
    hidden_size : int
        H, of the decoder and of each encoder direction.
    cell : {"lstm", "gru", "rnn"}
        Encoder layer and decoder cell type.
    num_layers : int
        Encoder layers.
    bidirectional : bool
        Bidirectional encoder (memory width 2H, bridged to H).
    attention : {None, "dot", "general"}
        Luong attention score; "dot" needs memory width H, so a unidirectional encoder.
    dropout : float
        Dropout between encoder layers, in training mode.
    regularisers : dict or None
        Regulariser options of the encoder by name (``locked_dropout``, ``weight_drop``,
        ``zoneout``, ``learn_initial_state`` ...: :class:`~rnnkit.layers.recurrent.RecurrentLayer`).
    decoder_layers : int
        M, stacked decoder cells (at most ``num_layers``); layer m starts from encoder layer
        ``num_layers - M + m``.
    input_feeding : bool
        Feed the previous attentional vector h~_{t-1} with the next input (needs attention).
    decoder_dropout : float
        Dropout between decoder layers and on h~_t before the output layer, in training mode.
    tie_embeddings : bool
        The output layer's weight is the target embedding table (V, E) itself (Press & Wolf,
        2017): ``logits = h~ E^T + b``, so each word has one vector for reading and writing;
        needs ``embedding_dim == hidden_size``.
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None

    Shapes
    ------
    ``forward(source (B, S), source_lengths (B,) or None, decoder_inputs (B, T))`` returns
    logits (B, T, V); ``backward(d_logits (B, T, V))`` returns None (all inputs are ids).
    ``loss(logits, targets, lengths, label_smoothing=0.0)`` returns the mean cross entropy and
    its gradient.

    Examples
    --------
    >>> model = Seq2Seq(8, 8, bos_id=1, eos_id=2, embedding_dim=4, hidden_size=6, attention="general", seed=0)
    >>> source, source_lengths = np.array([[3, 4, 5], [6, 7, 0]]), np.array([3, 2])
    >>> inputs, targets, target_lengths = model.prepare_targets([[5, 4, 3], [7, 6]])
    >>> inputs.tolist(), targets.tolist()
    ([[1, 5, 4, 3], [1, 7, 6, 0]], [[5, 4, 3, 2], [7, 6, 2, 0]])
    >>> logits = model(source, source_lengths, inputs)
    >>> logits.shape
    (2, 4, 8)
    >>> loss, d_logits = model.loss(logits, targets, target_lengths)
    >>> model.backward(d_logits)
    >>> decoded = model.greedy_decode(source, source_lengths, max_length=5)
    >>> len(decoded), all(len(tokens) <= 5 for tokens in decoded)
    (2, True)
    >>> model.beam_search(source, source_lengths, beam_size=1, max_length=5) == decoded
    True
    >>> stacked = Seq2Seq(8, 8, bos_id=1, eos_id=2, embedding_dim=4, hidden_size=6, num_layers=2, decoder_layers=2,
    ...                   attention="general", input_feeding=True, seed=0)
    >>> stacked(source, source_lengths, inputs).shape
    (2, 4, 8)
    """

    def __init__(self, source_vocab_size: int, target_vocab_size: int, *, bos_id: int, eos_id: int,
                 pad_id: int = 0, embedding_dim: int = 32, hidden_size: int = 64, cell: str = "lstm",
                 num_layers: int = 1, bidirectional: bool = False, attention: str | None = None,
                 dropout: float = 0.0, decoder_layers: int = 1, input_feeding: bool = False,
                 decoder_dropout: float = 0.0, regularisers: dict[str, Any] | None = None,
                 tie_embeddings: bool = False, dtype: Any = np.float32, seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        self.source_vocab_size = check_positive_int(source_vocab_size, "source_vocab_size")
        self.target_vocab_size = check_positive_int(target_vocab_size, "target_vocab_size", minimum=2)
        for name, value in (("bos_id", bos_id), ("eos_id", eos_id), ("pad_id", pad_id)):
            check_positive_int(value, name, minimum=0)
            if value >= self.target_vocab_size:
                raise ValueError(f"{name} must lie in [0, target_vocab_size={self.target_vocab_size}), got {value}")
        if pad_id >= self.source_vocab_size:
            raise ValueError(f"pad_id must lie in [0, source_vocab_size={self.source_vocab_size}), got {pad_id}")
        if eos_id == bos_id:
            raise ValueError(f"bos_id and eos_id must differ, got {bos_id} for both")
        self.bos_id, self.eos_id, self.pad_id = int(bos_id), int(eos_id), int(pad_id)
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.kind = cell_kind(cell)                   # encoder layer, decoder cell, state form
        self.cell = cell
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if self.bidirectional else 1
        self.attention_score = check_choice(attention, "attention", (None, "dot", "general"))
        dropout = check_probability(dropout, "dropout")
        self.decoder_layers = check_positive_int(decoder_layers, "decoder_layers")
        if self.decoder_layers > self.num_layers:
            raise ValueError(f"decoder_layers must be at most num_layers={self.num_layers} (each decoder layer "
                             f"starts from an encoder layer's final state), got {self.decoder_layers}")
        if not isinstance(input_feeding, bool):
            raise TypeError(f"input_feeding must be True or False, got {input_feeding!r}")
        if input_feeding and attention is None:
            raise ValueError("input_feeding=True feeds the previous attentional vector, so it needs attention "
                             "('dot' or 'general'), got attention=None")
        self.input_feeding = input_feeding
        if not isinstance(tie_embeddings, bool):
            raise TypeError(f"tie_embeddings must be True or False, got {tie_embeddings!r}")
        if tie_embeddings and self.embedding_dim != self.hidden_size:
            raise ValueError(f"tie_embeddings needs embedding_dim == hidden_size (the output layer reads h~ of width "
                             f"{self.hidden_size}), got embedding_dim={self.embedding_dim}")
        self.tie_embeddings = tie_embeddings
        self.decoder_dropout = check_probability(decoder_dropout, "decoder_dropout")
        memory_size = self.num_directions * self.hidden_size
        if attention == "dot" and self.bidirectional:
            raise ValueError(f"attention='dot' needs encoder outputs of the decoder's width {self.hidden_size}, "
                             f"but a bidirectional encoder gives {memory_size}; use attention='general'")

        # Built in the order of the one-layer model without input feeding, so that such a model
        # draws the same initial weights from the same seed as before the new options existed.
        self.source_embedding = Embedding(self.source_vocab_size, self.embedding_dim, padding_idx=self.pad_id,
                                          dtype=self.dtype, seed=self.rng)
        self.encoder = make_recurrent_layer(cell, self.embedding_dim, self.hidden_size, self.num_layers,
                                            self.bidirectional, dropout, self.dtype, self.rng, regularisers)
        if self.bidirectional:
            self.bridge = Linear(memory_size, self.hidden_size, dtype=self.dtype, seed=self.rng)
            if self.kind.num_states == 2:             # the LSTM's c gets a bridge of its own
                self.bridge_cell = Linear(memory_size, self.hidden_size, dtype=self.dtype, seed=self.rng)
        self.target_embedding = Embedding(self.target_vocab_size, self.embedding_dim, padding_idx=self.pad_id,
                                          dtype=self.dtype, seed=self.rng)
        first_input = self.embedding_dim + (self.hidden_size if input_feeding else 0)   # [e_t; h~_{t-1}]
        self.decoder = self.kind.cell(first_input, self.hidden_size, dtype=self.dtype, seed=self.rng)
        if attention is not None:
            self.attention = LuongAttention(self.hidden_size, memory_size, score=attention, dtype=self.dtype,
                                            seed=self.rng)
            self.combine = Linear(memory_size + self.hidden_size, self.hidden_size, dtype=self.dtype, seed=self.rng)
        if tie_embeddings:
            self.output = TiedOutput(self.target_embedding, dtype=self.dtype, seed=self.rng)
        else:
            self.output = Linear(self.hidden_size, self.target_vocab_size, dtype=self.dtype, seed=self.rng)
        for layer in range(1, self.decoder_layers):   # decoder_1, decoder_2, ...: the layers above
            setattr(self, f"decoder_{layer}", self.kind.cell(self.hidden_size, self.hidden_size, dtype=self.dtype,
                                                             seed=self.rng))
        self.decoder_cells = [self.decoder] + [getattr(self, f"decoder_{layer}")
                                               for layer in range(1, self.decoder_layers)]
        self.config = {"source_vocab_size": self.source_vocab_size, "target_vocab_size": self.target_vocab_size,
                       "bos_id": self.bos_id, "eos_id": self.eos_id, "pad_id": self.pad_id,
                       "embedding_dim": self.embedding_dim, "hidden_size": self.hidden_size, "cell": cell,
                       "num_layers": self.num_layers, "bidirectional": self.bidirectional, "attention": attention,
                       "dropout": dropout, "decoder_layers": self.decoder_layers, "input_feeding": input_feeding,
                       "decoder_dropout": self.decoder_dropout}
        if regularisers:                   # only when used: configs saved before the option stay as they were
            self.config["regularisers"] = dict(regularisers)
        if tie_embeddings:                 # the same
            self.config["tie_embeddings"] = True
        self._cache: Any = None

    # --- encoder and bridge ---------------------------------------------------------------
    def _encode(self, source: Any, source_lengths: Any):
        """memory (B, S, K*H), source mask (B, S), each decoder layer's initial state (a list of M)."""
        source = np.asarray(source)
        if source.ndim != 2:
            raise ValueError(f"source must have shape (B, S) of token ids, got shape {source.shape}")
        batch, steps = source.shape
        lengths = check_lengths(source_lengths, batch, steps)                      # before the encoder runs
        embedded = self.source_embedding(source)                                   # (B, S, E)
        memory, state = self.encoder(embedded, None, None if source_lengths is None else lengths)
        finals = self.kind.as_tuple(state)                                         # each (L*K, B, H)
        first = (self.num_layers - self.decoder_layers) * self.num_directions      # rows of the top M layers
        tops = [final[first:].reshape(self.decoder_layers, self.num_directions, batch, self.hidden_size)
                for final in finals]                                               # each (M, K, B, H)
        if self.bidirectional:
            joined = [np.concatenate([top[:, 0], top[:, 1]], axis=-1).reshape(-1, 2 * self.hidden_size)
                      for top in tops]                                             # each (M*B, 2H)
            initial = [self.bridge(joined[0])]
            if self.kind.num_states == 2:
                initial.append(self.bridge_cell(joined[1]))
            initial = [part.reshape(self.decoder_layers, batch, self.hidden_size) for part in initial]
        else:
            initial = [top[:, 0].copy() for top in tops]                           # each (M, B, H)
        states = [self.kind.from_tuple([part[layer] for part in initial]) for layer in range(self.decoder_layers)]
        return memory, length_mask(lengths, steps), states

    def _bridge_backward(self, d_initial: list[list[np.ndarray]], batch: int):
        """The encoder's final-state gradient from the decoder layers' initial-state gradients.

        ``d_initial[m]`` is layer m's state gradient as a tuple ``(dh,)`` or ``(dh, dc)``.
        """
        first = (self.num_layers - self.decoder_layers) * self.num_directions
        d_finals = []
        for index in range(self.kind.num_states):
            d_state = np.stack([d_layer[index] for d_layer in d_initial])          # (M, B, H)
            d_final = np.zeros((self.num_layers * self.num_directions, batch, self.hidden_size), dtype=self.dtype)
            if self.bidirectional:
                bridge = self.bridge if index == 0 else self.bridge_cell
                d_joined = bridge.backward(d_state.reshape(-1, self.hidden_size))  # (M*B, 2H)
                d_joined = d_joined.reshape(self.decoder_layers, batch, 2 * self.hidden_size)
                d_final[first::2] = d_joined[..., :self.hidden_size]
                d_final[first + 1::2] = d_joined[..., self.hidden_size:]
            else:
                d_final[first:] = d_state
            d_finals.append(d_final)
        return self.kind.from_tuple(d_finals)

    # --- pieces of the decoder ------------------------------------------------------------
    def _dropout_mask(self, shape: tuple[int, ...]) -> np.ndarray | None:
        """An inverted-dropout mask (kept / (1 - p)) in training mode, None otherwise."""
        if not self.training or self.decoder_dropout == 0.0:
            return None
        keep = 1.0 - self.decoder_dropout
        return (self.rng.random(shape) < keep).astype(self.dtype) / self.dtype.type(keep)

    def _cells_step(self, x: np.ndarray, states: list) -> tuple[np.ndarray, list, list]:
        """h of the top layer (B, H), the new states and each layer's cell cache, after one step.

        ``x`` is the first layer's input; layer m > 0 reads layer m - 1's h (times a dropout mask
        in training; the mask is returned with the caches as ``(cache, mask)``).
        """
        new_states, caches = [], []
        for layer, cell in enumerate(self.decoder_cells):
            mask = None
            if layer > 0:
                mask = self._dropout_mask(x.shape)
                if mask is not None:
                    x = x * mask
            state, cache = cell.step(x, states[layer])                             # the cache stays ours
            new_states.append(state)
            caches.append((cache, mask))
            x = self.kind.hidden(state)
        return x, new_states, caches

    def _combine_step(self, context: np.ndarray, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """h~ = tanh(W_c [c; h] + b_c) for one step: (h~ (N, H), [c; h] (N, K*H + H))."""
        joined = np.concatenate([context, hidden], axis=-1)
        pre = joined @ self.combine.weight.data.T
        if self.combine.bias is not None:
            pre = pre + self.combine.bias.data
        return np.tanh(pre), joined

    def _head(self, hidden: np.ndarray, memory: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, Any]:
        """h~ (B, T, H) from decoder states (B, T, H) without input feeding, and the combined states (or None)."""
        if self.attention_score is None:
            return hidden, None
        context, _ = self.attention(hidden, memory, mask)                          # (B, T, K*H)
        combined = np.tanh(self.combine(np.concatenate([context, hidden], axis=-1)))   # (B, T, H)
        return combined, combined

    # --- training -------------------------------------------------------------------------
    def forward(self, source: Any, source_lengths: Any, decoder_inputs: Any) -> np.ndarray:
        source = np.asarray(source)
        batch = source.shape[0] if source.ndim == 2 else None          # a bad source: _encode says so
        decoder_inputs = as_index_array(decoder_inputs, "decoder_inputs",                # checked before the encoder runs
                                        upper=self.target_embedding.num_embeddings)
        if decoder_inputs.ndim != 2 or batch not in (None, decoder_inputs.shape[0]):
            raise ValueError(f"decoder_inputs must have shape (B, T) with B = {batch} (the source batch), "
                             f"got shape {decoder_inputs.shape}")
        memory, mask, states = self._encode(source, source_lengths)
        embedded = self.target_embedding(decoder_inputs)                           # (B, T, E)
        steps = decoder_inputs.shape[1]
        hidden = np.empty((batch, steps, self.hidden_size), dtype=self.dtype)      # top layer's h_1 .. h_T
        output_mask = self._dropout_mask(hidden.shape)                             # on h~ before the output
        step_caches, attention_caches = [], []
        if self.input_feeding:
            projected = self.attention.project(memory)                             # (B, S, H)
            combined = np.empty_like(hidden)                                       # h~_t
            joined = np.empty((batch, steps, memory.shape[2] + self.hidden_size), dtype=self.dtype)
            fed = np.zeros((batch, self.hidden_size), dtype=self.dtype)            # h~_{-1} = 0
        for t in range(steps):
            x = embedded[:, t] if not self.input_feeding else np.concatenate([embedded[:, t], fed], axis=-1)
            hidden[:, t], states, caches = self._cells_step(x, states)
            step_caches.append(caches)                                             # what this step's backward needs
            if self.input_feeding:
                context, _, attention_cache = self.attention.attend(hidden[:, t, None], memory, projected, mask)
                combined[:, t], joined[:, t] = self._combine_step(context[:, 0], hidden[:, t])
                attention_caches.append(attention_cache)
                fed = combined[:, t] if output_mask is None else combined[:, t] * output_mask[:, t]
        if not self.input_feeding:
            top, combined = self._head(hidden, memory, mask)
        else:
            top = combined
        logits = self.output(top if output_mask is None else top * output_mask)
        extra = (projected, joined, attention_caches) if self.input_feeding else None
        self._cache = self._keep((memory, step_caches, combined, output_mask, extra, logits.shape))
        return logits

    def backward(self, d_logits: Any) -> None:
        memory, step_caches, combined, output_mask, extra, logits_shape = self._require_cache(self._cache)
        d_logits = as_float_array(d_logits, "d_logits", self.dtype, logits_shape, "(B, T, V), the shape of the logits")
        batch, steps, _ = logits_shape
        d_output = self.output.backward(d_logits)                                  # (B, T, H), after dropout
        if self.input_feeding:
            d_hidden = None                                                        # made step by step below
            projected, joined, attention_caches = extra
            d_memory = np.zeros(memory.shape, dtype=self.dtype)
            d_projected = np.zeros(projected.shape, dtype=self.dtype)
            d_pre = np.empty_like(combined)                                        # before tanh, every step
            d_fed = np.zeros((batch, self.hidden_size), dtype=self.dtype)          # dL/dh~_t from step t+1
            memory_size = memory.shape[2]
        else:
            d_top = d_output if output_mask is None else d_output * output_mask
            if combined is None:
                d_hidden, d_memory = d_top, np.zeros(memory.shape, dtype=self.dtype)
            else:
                d_joined = self.combine.backward(d_top * (1.0 - combined ** 2))    # tanh' = 1 - t^2
                memory_size = memory.shape[2]
                d_context, d_hidden = d_joined[..., :memory_size], d_joined[..., memory_size:]
                d_query, d_memory = self.attention.backward(d_context)
                d_hidden = d_hidden + d_query                                      # (B, T, H)
        d_embedded = np.empty((batch, steps, self.embedding_dim), dtype=self.dtype)
        layers = self.decoder_layers
        d_next = [[np.zeros((batch, self.hidden_size), dtype=self.dtype)           # dL/d(state of layer m at t)
                   for _ in range(self.kind.num_states)] for _ in range(layers)]   # from step t+1
        with ExitStack() as deferred:                # each cell's weight gradients: one product after the loop
            for cell in self.decoder_cells:
                deferred.enter_context(cell.deferred_grads())
            for t in reversed(range(steps)):
                if self.input_feeding:
                    d_out = d_output[:, t] + d_fed                                 # h~_t read twice
                    d_combined = d_out if output_mask is None else d_out * output_mask[:, t]
                    d_pre[:, t] = d_combined * (1.0 - combined[:, t] ** 2)         # tanh' = 1 - t^2
                    d_joined_t = d_pre[:, t] @ self.combine.weight.data            # (B, K*H + H)
                    d_query, d_keys, d_projected_t = self.attention.attend_backward(
                        d_joined_t[:, None, :memory_size], attention_caches[t])
                    d_memory += d_keys
                    d_projected += d_projected_t
                    d_x = d_joined_t[:, memory_size:] + d_query[:, 0]              # dL/dh_t (top layer)
                else:
                    d_x = d_hidden[:, t]
                for layer in reversed(range(layers)):
                    cell = self.decoder_cells[layer]
                    cache, mask = step_caches[t][layer]
                    d_h, *d_rest = d_next[layer]
                    d_x, d_state = cell.backward_step(cache, d_x + d_h, *d_rest)
                    d_next[layer] = list(self.kind.as_tuple(d_state))
                    if mask is not None:
                        d_x = d_x * mask
                if self.input_feeding:
                    d_embedded[:, t], d_fed = d_x[:, :self.embedding_dim], d_x[:, self.embedding_dim:]
                else:
                    d_embedded[:, t] = d_x
        if self.input_feeding:                                                 # one product for all steps
            if self.combine.weight.requires_grad:
                self.combine.weight.grad += d_pre.reshape(-1, self.hidden_size).T @ joined.reshape(batch * steps, -1)
            if self.combine.bias is not None and self.combine.bias.requires_grad:
                self.combine.bias.grad += d_pre.sum(axis=(0, 1))
            d_memory += self.attention.project_backward(d_projected, memory)
        self.target_embedding.backward(d_embedded)
        d_final = self._bridge_backward(d_next, batch)
        d_source, _ = self.encoder.backward(d_memory, d_final)
        self.source_embedding.backward(d_source)
        return None

    def prepare_targets(self, sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Teacher-forcing arrays from target id sequences (without ``<bos>``/``<eos>``).

        Returns ``decoder_inputs (B, T)`` = ``<bos> y_1 .. y_n`` and ``decoder_targets (B, T)``
        = ``y_1 .. y_n <eos>``, padded with ``pad_id`` to T = longest n + 1, and
        ``lengths (B,)`` = n + 1, the steps that count in :meth:`loss`.
        """
        rows = [as_index_array(sequence, f"sequences[{index}]", upper=self.target_vocab_size).reshape(-1)
                for index, sequence in enumerate(sequences)]
        if not rows:
            raise ValueError("sequences must hold at least one target sequence, got none")
        lengths = np.array([len(row) + 1 for row in rows], dtype=np.int64)
        inputs = np.full((len(rows), lengths.max()), self.pad_id, dtype=np.int64)
        targets = np.full_like(inputs, self.pad_id)
        for index, row in enumerate(rows):
            inputs[index, 0] = self.bos_id
            inputs[index, 1:len(row) + 1] = row
            targets[index, :len(row)] = row
            targets[index, len(row)] = self.eos_id
        return inputs, targets, lengths

    def loss(self, logits: Any, targets: Any, lengths: Any = None,
             label_smoothing: float = 0.0) -> tuple[float, np.ndarray]:
        """Mean cross entropy over the steps ``t < lengths[b]``, and its gradient for ``logits``.

        ``label_smoothing`` = eps trains towards ``(1 - eps) one_hot(y) + eps / V`` instead of
        ``one_hot(y)`` (see :func:`rnnkit.losses.cross_entropy`).
        """
        logits = np.asarray(logits)
        if logits.ndim != 3:
            raise ValueError(f"logits must have shape (B, T, V), got {logits.shape}")
        batch, steps, _ = logits.shape
        return losses.cross_entropy(logits, targets, mask=length_mask(check_lengths(lengths, batch, steps), steps),
                                    label_smoothing=label_smoothing)

    # --- decoding -------------------------------------------------------------------------
    # A decoding state is (the M layers' states, h~ of the last step or None), and the source
    # side is (memory, projected keys or None, mask); both are selected row by row in beam search.
    def _start(self, source: Any, source_lengths: Any):
        memory, mask, states = self._encode(source, source_lengths)
        projected = self.attention.project(memory) if self.attention_score is not None else None
        fed = np.zeros((memory.shape[0], self.hidden_size), dtype=self.dtype) if self.input_feeding else None
        return (memory, projected, mask), (states, fed)

    def _step_log_probs(self, tokens: np.ndarray, state: Any, sources: tuple):
        """Log-probabilities (N, V) of the next token after ``tokens`` (N,), and the new state."""
        memory, projected, mask = sources
        states, fed = state
        x = self.target_embedding(tokens)                                          # (N, E)
        if self.input_feeding:
            x = np.concatenate([x, fed], axis=-1)                                  # (N, E + H)
        hidden, states, _ = self._cells_step(x, states)                            # (N, H)
        if self.attention_score is None:
            top = hidden
        else:
            context, _, _ = self.attention.attend(hidden[:, None], memory, projected, mask)
            top, _ = self._combine_step(context[:, 0], hidden)                     # h~ (N, H)
        logits = self.output(top)                                                  # (N, V)
        return losses.log_softmax(logits.astype(np.float64)), (states, top if self.input_feeding else None)

    def _inference(self, function, *args):
        with self.inference():  # eval mode and no_grad until the block ends
            return function(*args)

    def greedy_decode(self, source: Any, source_lengths: Any = None, max_length: int = 50) -> list[list[int]]:
        """The most probable next token at each step, until ``<eos>`` or ``max_length`` tokens.

        Returns one list of target ids per source sequence, without ``<bos>`` and ``<eos>``.
        """
        max_length = check_positive_int(max_length, "max_length")
        return self._inference(self._greedy, source, source_lengths, max_length)

    def _greedy(self, source, source_lengths, max_length):
        sources, state = self._start(source, source_lengths)
        batch = sources[0].shape[0]
        tokens = np.full(batch, self.bos_id, dtype=np.int64)
        finished = np.zeros(batch, dtype=bool)
        decoded: list[list[int]] = [[] for _ in range(batch)]
        for _ in range(max_length):
            log_probs, state = self._step_log_probs(tokens, state, sources)
            tokens = np.argmax(log_probs, axis=1)                                  # (B,)
            for row in np.flatnonzero(~finished):
                if tokens[row] == self.eos_id:
                    finished[row] = True
                else:
                    decoded[row].append(int(tokens[row]))
            if finished.all():
                break
        return decoded

    def beam_search(self, source: Any, source_lengths: Any = None, beam_size: int = 4, max_length: int = 50,
                    length_penalty: float = 0.0) -> list[list[int]]:
        """Beam search: keep the ``beam_size`` best partial sequences at each step.

        A hypothesis ends when it emits ``<eos>``; every ending seen among a step's best
        candidates is kept. Scores are summed log-probabilities divided by
        ``(number of tokens + 1) ** length_penalty``: 0 compares plain sums (which favour short
        outputs), 1 compares the mean log-probability per token (length normalisation). Search
        stops when no open hypothesis can still beat the best ended one, or after
        ``max_length`` tokens; then the best ended hypothesis is returned (the best open one if
        none ended). An open hypothesis of summed score s < 0 can at best reach
        ``s / (max_length + 1) ** length_penalty`` (later tokens only lower s), which is s
        itself when ``length_penalty`` is 0. ``beam_size=1`` is :meth:`greedy_decode`.

        Returns one list of target ids per source sequence, without ``<bos>`` and ``<eos>``.
        """
        beam_size = check_positive_int(beam_size, "beam_size")
        max_length = check_positive_int(max_length, "max_length")
        if isinstance(length_penalty, bool) or not np.isfinite(length_penalty) or length_penalty < 0:
            raise ValueError(f"length_penalty must be a finite number >= 0, got {length_penalty!r}")
        if beam_size == 1:
            return self._inference(self._greedy, source, source_lengths, max_length)
        return self._inference(self._beam_search, source, source_lengths, beam_size, max_length, float(length_penalty))

    def _beam_search(self, source, source_lengths, beam_size, max_length, length_penalty):
        all_sources, all_states = self._start(source, source_lengths)
        vocab = self.target_vocab_size
        # Stopping once beam_size hypotheses had ended (the usual rule) lost whole outputs: a model
        # trained with label smoothing gives <eos> the same small probability as any other wrong
        # token, so early endings filled the quota before the right output ended (dates: 0.878
        # exact match with beam 5 against 0.999 greedy). Hence the bound below.
        best_reachable = (max_length + 1) ** length_penalty      # divides an open score: its best final value

        def normalised(item: tuple[float, list[int]]) -> float:
            return item[0] / (len(item[1]) + 1) ** length_penalty

        results = []
        for row in range(all_sources[0].shape[0]):
            beam_state = _select_rows(all_states, np.array([row]))                 # (1, H) each
            one_source = _select_rows(all_sources, np.array([row]))
            sequences: list[list[int]] = [[]]
            scores = np.zeros(1)                                                   # summed log-probs
            ended: list[tuple[float, list[int]]] = []
            for _ in range(max_length):
                count = len(sequences)
                tokens = np.array([sequence[-1] if sequence else self.bos_id for sequence in sequences])
                log_probs, new_state = self._step_log_probs(tokens, beam_state,
                                                            _select_rows(one_source, np.zeros(count, dtype=int)))
                candidates = (scores[:, None] + log_probs).reshape(-1)             # (N * V,)
                order = np.argsort(-candidates, kind="stable")[: 2 * beam_size]   # ties: lowest index first
                parents, kept, kept_scores = [], [], []
                for flat in order:
                    parent, token = divmod(int(flat), vocab)
                    if token == self.eos_id:
                        ended.append((float(candidates[flat]), sequences[parent]))
                    else:
                        parents.append(parent)
                        kept.append(sequences[parent] + [token])
                        kept_scores.append(candidates[flat])
                    if len(kept) == beam_size:
                        break
                if not kept:
                    break
                sequences, scores = kept, np.array(kept_scores)
                beam_state = _select_rows(new_state, np.array(parents))
                if ended and max(map(normalised, ended)) >= scores.max() / best_reachable:
                    break
            if not ended:                                                          # max_length reached
                ended = list(zip(scores.tolist(), sequences))
            results.append(max(ended, key=normalised)[1])
        return results


def _select_rows(state: Any, rows: np.ndarray) -> Any:
    """The given rows of every array in a (nested) state: h (N, H), (h, c), lists of them, None kept."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return type(state)(_select_rows(part, rows) for part in state)
    return state[rows]
