"""Encoder-decoder (sequence to sequence) with optional Luong attention, greedy and beam decoding.

Glossary: B batch, S source steps, T target steps, E embedding size, H hidden units, K encoder
directions (1 or 2), L encoder layers, V target vocabulary, N hypotheses decoded together.

Data flow of ``forward`` (teacher forcing: the decoder reads the true previous token)::

    source ids (B, S) -> Embedding -> encoder RNN/LSTM/GRU (lengths)
        memory (B, S, K*H)                       every encoder output, zero past each length
        final state of the top layer             -> bridge -> decoder's initial state (B, H)
    decoder inputs (B, T) = <bos> y_1 .. y_{T-1} -> Embedding -> (B, T, E)
    for t in 0..T-1:  h_t = cell(e_t, h_{t-1})   (RNNCell, GRUCell or LSTMCell; cache kept per step)
    without attention:  logits_t = W_out h_t + b_out
    with attention:     c_t = attention(h_t, memory, source mask)           (Luong, "dot" or "general")
                        h~_t = tanh(W_c [c_t; h_t] + b_c)
                        logits_t = W_out h~_t + b_out                        (B, T, V)

The bridge copies the top encoder layer's final state when the encoder runs one direction; for
a bidirectional encoder a Linear maps the two directions' final states ``[h_fwd; h_bwd]``
(B, 2H) to (B, H) (and another does the same for the LSTM cell state).

Attention is computed after the decoder states (Luong's "global attention" without input
feeding), so in training it runs once for all T steps; in decoding it runs once per step.

``backward`` mirrors this: output layer, attention and combination for all steps at once,
then the decoder cells from the last step to the first (restoring each step's cache), the
target embedding, the bridge, the encoder and the source embedding.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rnnkit import losses
from rnnkit._validate import as_float_array, as_index_array, check_choice, check_positive_int, check_probability
from rnnkit.layers import Embedding, Linear
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
        Encoder layers (the decoder is one cell; it starts from the top layer's final state).
    bidirectional : bool
        Bidirectional encoder (memory width 2H, bridged to H).
    attention : {None, "dot", "general"}
        Luong attention score; "dot" needs memory width H, so a unidirectional encoder.
    dropout : float
        Dropout between encoder layers, in training mode.
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None

    Shapes
    ------
    ``forward(source (B, S), source_lengths (B,) or None, decoder_inputs (B, T))`` returns
    logits (B, T, V); ``backward(d_logits (B, T, V))`` returns None (all inputs are ids).

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
    """

    def __init__(self, source_vocab_size: int, target_vocab_size: int, *, bos_id: int, eos_id: int,
                 pad_id: int = 0, embedding_dim: int = 32, hidden_size: int = 64, cell: str = "lstm",
                 num_layers: int = 1, bidirectional: bool = False, attention: str | None = None,
                 dropout: float = 0.0, dtype: Any = np.float32, seed: Any = None):
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
        memory_size = self.num_directions * self.hidden_size
        if attention == "dot" and self.bidirectional:
            raise ValueError(f"attention='dot' needs encoder outputs of the decoder's width {self.hidden_size}, "
                             f"but a bidirectional encoder gives {memory_size}; use attention='general'")

        self.source_embedding = Embedding(self.source_vocab_size, self.embedding_dim, padding_idx=self.pad_id,
                                          dtype=self.dtype, seed=self.rng)
        self.encoder = make_recurrent_layer(cell, self.embedding_dim, self.hidden_size, self.num_layers,
                                            self.bidirectional, dropout, self.dtype, self.rng)
        if self.bidirectional:
            self.bridge = Linear(memory_size, self.hidden_size, dtype=self.dtype, seed=self.rng)
            if self.kind.num_states == 2:             # the LSTM's c gets a bridge of its own
                self.bridge_cell = Linear(memory_size, self.hidden_size, dtype=self.dtype, seed=self.rng)
        self.target_embedding = Embedding(self.target_vocab_size, self.embedding_dim, padding_idx=self.pad_id,
                                          dtype=self.dtype, seed=self.rng)
        self.decoder = self.kind.cell(self.embedding_dim, self.hidden_size, dtype=self.dtype, seed=self.rng)
        if attention is not None:
            self.attention = LuongAttention(self.hidden_size, memory_size, score=attention, dtype=self.dtype,
                                            seed=self.rng)
            self.combine = Linear(memory_size + self.hidden_size, self.hidden_size, dtype=self.dtype, seed=self.rng)
        self.output = Linear(self.hidden_size, self.target_vocab_size, dtype=self.dtype, seed=self.rng)
        self.config = {"source_vocab_size": self.source_vocab_size, "target_vocab_size": self.target_vocab_size,
                       "bos_id": self.bos_id, "eos_id": self.eos_id, "pad_id": self.pad_id,
                       "embedding_dim": self.embedding_dim, "hidden_size": self.hidden_size, "cell": cell,
                       "num_layers": self.num_layers, "bidirectional": self.bidirectional, "attention": attention,
                       "dropout": dropout}
        self._cache: Any = None

    # --- encoder and bridge ---------------------------------------------------------------
    def _encode(self, source: Any, source_lengths: Any):
        """memory (B, S, K*H), source mask (B, S), decoder's initial state, bridge inputs."""
        source = np.asarray(source)
        if source.ndim != 2:
            raise ValueError(f"source must have shape (B, S) of token ids, got shape {source.shape}")
        batch, steps = source.shape
        lengths = check_lengths(source_lengths, batch, steps)                      # before the encoder runs
        embedded = self.source_embedding(source)                                   # (B, S, E)
        memory, state = self.encoder(embedded, None, None if source_lengths is None else lengths)
        finals = self.kind.as_tuple(state)                                         # each (L*K, B, H)
        tops = [final[-self.num_directions:] for final in finals]                  # each (K, B, H)
        if self.bidirectional:
            joined = [np.concatenate([top[0], top[1]], axis=1) for top in tops]    # each (B, 2H)
            initial = [self.bridge(joined[0])]
            if self.kind.num_states == 2:
                initial.append(self.bridge_cell(joined[1]))
        else:
            initial = [top[0].copy() for top in tops]
        decoder_state = self.kind.from_tuple(initial)
        return memory, length_mask(lengths, steps), decoder_state

    def _bridge_backward(self, d_initial: list[np.ndarray], batch: int):
        """The encoder's final-state gradient from the decoder's initial-state gradient."""
        d_finals = []
        for index, d_state in enumerate(d_initial):
            d_final = np.zeros((self.num_layers * self.num_directions, batch, self.hidden_size), dtype=self.dtype)
            if self.bidirectional:
                d_joined = (self.bridge if index == 0 else self.bridge_cell).backward(d_state)   # (B, 2H)
                d_final[-2], d_final[-1] = d_joined[:, :self.hidden_size], d_joined[:, self.hidden_size:]
            else:
                d_final[-1] = d_state
            d_finals.append(d_final)
        return self.kind.from_tuple(d_finals)

    # --- one decoder step and the output head ---------------------------------------------
    def _cell_step(self, x: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        """(h_t (B, H), full state) after one decoder cell step."""
        new_state = self.decoder(x, state)
        return self.kind.hidden(new_state), new_state

    def _head(self, hidden: np.ndarray, memory: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, Any]:
        """Logits (B, T, V) from decoder states (B, T, H), and the combined states (or None)."""
        if self.attention_score is None:
            return self.output(hidden), None
        context, _ = self.attention(hidden, memory, mask)                          # (B, T, K*H)
        combined = np.tanh(self.combine(np.concatenate([context, hidden], axis=-1)))   # (B, T, H)
        return self.output(combined), combined

    # --- training -------------------------------------------------------------------------
    def forward(self, source: Any, source_lengths: Any, decoder_inputs: Any) -> np.ndarray:
        source = np.asarray(source)
        batch = source.shape[0] if source.ndim == 2 else None          # a bad source: _encode says so
        decoder_inputs = as_index_array(decoder_inputs, "decoder_inputs",                # checked before the encoder runs
                                        upper=self.target_embedding.num_embeddings)
        if decoder_inputs.ndim != 2 or batch not in (None, decoder_inputs.shape[0]):
            raise ValueError(f"decoder_inputs must have shape (B, T) with B = {batch} (the source batch), "
                             f"got shape {decoder_inputs.shape}")
        memory, mask, state = self._encode(source, source_lengths)
        embedded = self.target_embedding(decoder_inputs)                           # (B, T, E)
        steps = decoder_inputs.shape[1]
        hidden = np.empty((batch, steps, self.hidden_size), dtype=self.dtype)      # h_1 .. h_T
        step_caches = []
        for t in range(steps):
            hidden[:, t], state = self._cell_step(embedded[:, t], state)
            step_caches.append(self.decoder._cache)                                # what this step's backward needs
        logits, combined = self._head(hidden, memory, mask)
        self._cache = self._keep((memory.shape, step_caches, combined, logits.shape))
        return logits

    def backward(self, d_logits: Any) -> None:
        memory_shape, step_caches, combined, logits_shape = self._require_cache(self._cache)
        d_logits = as_float_array(d_logits, "d_logits", self.dtype, logits_shape, "(B, T, V), the shape of the logits")
        batch, steps, _ = logits_shape
        d_top = self.output.backward(d_logits)                                     # (B, T, H)
        if combined is None:
            d_hidden, d_memory = d_top, np.zeros(memory_shape, dtype=self.dtype)
        else:
            d_joined = self.combine.backward(d_top * (1.0 - combined ** 2))        # tanh' = 1 - t^2
            memory_size = memory_shape[2]
            d_context, d_hidden = d_joined[..., :memory_size], d_joined[..., memory_size:]
            d_query, d_memory = self.attention.backward(d_context)
            d_hidden = d_hidden + d_query                                          # (B, T, H)
        d_embedded = np.empty((batch, steps, self.embedding_dim), dtype=self.dtype)
        dh = np.zeros((batch, self.hidden_size), dtype=self.dtype)                 # dL/dh_t from step t+1
        d_rest = [np.zeros((batch, self.hidden_size), dtype=self.dtype)              # dL/dc_t (LSTM)
                  for _ in range(self.kind.num_states - 1)]
        for t in reversed(range(steps)):
            self.decoder._cache = step_caches[t]
            d_embedded[:, t], d_state = self.decoder.backward(d_hidden[:, t] + dh, *d_rest)
            dh, *d_rest = self.kind.as_tuple(d_state)
        self.decoder._cache = None
        self.target_embedding.backward(d_embedded)
        d_final = self._bridge_backward([dh, *d_rest], batch)
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

    def loss(self, logits: Any, targets: Any, lengths: Any = None) -> tuple[float, np.ndarray]:
        """Mean cross entropy over the steps ``t < lengths[b]``, and its gradient for ``logits``."""
        logits = np.asarray(logits)
        if logits.ndim != 3:
            raise ValueError(f"logits must have shape (B, T, V), got {logits.shape}")
        batch, steps, _ = logits.shape
        return losses.cross_entropy(logits, targets, mask=length_mask(check_lengths(lengths, batch, steps), steps))

    # --- decoding -------------------------------------------------------------------------
    def _step_log_probs(self, tokens: np.ndarray, state: Any, memory: np.ndarray, mask: np.ndarray):
        """Log-probabilities (N, V) of the next token after ``tokens`` (N,), and the new state."""
        hidden, state = self._cell_step(self.target_embedding(tokens), state)     # (N, H)
        logits, _ = self._head(hidden[:, None, :], memory, mask)                   # (N, 1, V)
        return losses.log_softmax(logits[:, 0].astype(np.float64)), state

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
        memory, mask, state = self._encode(source, source_lengths)
        batch = memory.shape[0]
        tokens = np.full(batch, self.bos_id, dtype=np.int64)
        finished = np.zeros(batch, dtype=bool)
        decoded: list[list[int]] = [[] for _ in range(batch)]
        for _ in range(max_length):
            log_probs, state = self._step_log_probs(tokens, state, memory, mask)
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

        A hypothesis ends when it emits ``<eos>``. Search stops when ``beam_size`` hypotheses
        have ended, when (``length_penalty=0``) the best ended one scores at least as well as
        every open one (scores only fall as sequences grow), or after ``max_length`` tokens;
        then the best ended hypothesis is returned (the best open one if none ended). Scores
        are summed log-probabilities divided by ``(number of tokens + 1) ** length_penalty``.
        With ``beam_size=1`` this is exactly :meth:`greedy_decode`.

        Returns one list of target ids per source sequence, without ``<bos>`` and ``<eos>``.
        """
        beam_size = check_positive_int(beam_size, "beam_size")
        max_length = check_positive_int(max_length, "max_length")
        if isinstance(length_penalty, bool) or not np.isfinite(length_penalty) or length_penalty < 0:
            raise ValueError(f"length_penalty must be a finite number >= 0, got {length_penalty!r}")
        return self._inference(self._beam_search, source, source_lengths, beam_size, max_length, float(length_penalty))

    def _beam_search(self, source, source_lengths, beam_size, max_length, length_penalty):
        memory, mask, state = self._encode(source, source_lengths)
        vocab = self.target_vocab_size
        results = []
        for row in range(memory.shape[0]):
            beam_state = _select_rows(state, np.array([row]))                      # (1, H) each
            sequences: list[list[int]] = [[]]
            scores = np.zeros(1)                                                   # summed log-probs
            ended: list[tuple[float, list[int]]] = []
            for _ in range(max_length):
                count = len(sequences)
                tokens = np.array([sequence[-1] if sequence else self.bos_id for sequence in sequences])
                log_probs, new_state = self._step_log_probs(tokens, beam_state, np.repeat(memory[row:row + 1], count, 0),
                                                            np.repeat(mask[row:row + 1], count, 0))
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
                if not kept or len(ended) >= beam_size:
                    break
                sequences, scores = kept, np.array(kept_scores)
                beam_state = _select_rows(new_state, np.array(parents))
                if ended and length_penalty == 0.0 and max(score for score, _ in ended) >= scores.max():
                    break
            if not ended:                                                          # max_length reached
                ended = list(zip(scores.tolist(), sequences))

            def normalised(item: tuple[float, list[int]]) -> float:
                return item[0] / (len(item[1]) + 1) ** length_penalty

            results.append(max(ended, key=normalised)[1])
        return results


def _select_rows(state: Any, rows: np.ndarray) -> Any:
    """The given rows of a decoder state: h (N, H), or (h, c) for an LSTM."""
    if isinstance(state, tuple):
        return tuple(part[rows] for part in state)
    return state[rows]
