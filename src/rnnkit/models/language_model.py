"""A character- or word-level language model: tokens in, next-token logits out.

Glossary: B batch, T time, V vocabulary, E embedding size (E = V for one-hot input),
H hidden units, L layers.

Data flow::

    ids (B, T) -> Embedding (B, T, E)   or  one-hot (B, T, V)    (embedding_dim=None)
                  [embedding dropout: whole words zeroed, the rest scaled, in training]
    RNN / LSTM / GRU, L layers (dropout between layers) -> y (B, T, H), final state
    dropout -> Linear -> logits (B, T, V)     [tied: logits = y E^T + b, E the embedding table]

Two regularisers of word-level models (Press & Wolf 2017; Inan et al. 2017; Gal & Ghahramani
2016; Merity et al. 2018), both off by default:

- ``tie_embeddings``: the output layer's weight is the embedding table itself (V, E), which
  needs E = H. Backward adds the output layer's gradient ``dlogits^T y`` and the embedding's
  (its rows gathered by the ids) into the one matrix's ``grad``.
- ``embedding_dropout`` p: in training, each forward draws one mask over the vocabulary; a
  word's row of the table is zeroed with probability p (every occurrence of that word in the
  batch reads zeros) and the kept rows are scaled by 1 / (1 - p). The output layer (tied or
  not) never sees the mask. Backward multiplies the gradient of each looked-up row by the same
  mask.

``backward`` runs the same chain in reverse. For truncated BPTT over a long stream, pass the
previous window's final state as ``state`` and ignore the initial-state gradient that
``backward`` returns: that cuts the gradient at the window boundary.

:meth:`LanguageModel.generate` runs one token at a time through rnnkit's cells
(:class:`~rnnkit.RNNCell`, :class:`~rnnkit.LSTMCell`, :class:`~rnnkit.GRUCell`) that share the
layer's parameters (layer ``weight_ih_l{k}`` is cell ``weight_ih``, and so on), carrying the
state from token to token.

>>> model = LanguageModel(vocab_size=12, hidden_size=8, seed=0)
>>> logits, state = model(np.zeros((2, 5), dtype=int))
>>> logits.shape
(2, 5, 12)
>>> _ = model.backward(np.ones_like(logits))
>>> model.generate([3, 4], length=6, seed=0).shape
(6,)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rnnkit._validate import as_index_array, check_positive_int, check_probability, make_rng
from rnnkit.cells.base import RecurrentCell
from rnnkit.data.batching import one_hot
from rnnkit.layers import Dropout, Embedding, Linear, TiedOutput
from rnnkit.models._common import RECURRENT_LAYERS  # noqa: F401  (re-exported: the cell names)
from rnnkit.models._common import check_regularisers
from rnnkit.module import Module
from rnnkit.registry import cell_kind


class LanguageModel(Module):
    """Predicts the next token at every position: ``logits[b, t]`` scores ``ids[b, t + 1]``.

    Parameters
    ----------
    vocab_size : int
        V, the number of tokens (characters or words).
    hidden_size : int
        H, units per recurrent layer.
    num_layers : int
        L, stacked recurrent layers.
    cell : {"lstm", "gru", "rnn"}
        Which recurrent layer.
    embedding_dim : int or None
        E for a learned embedding table (V, E); None feeds one-hot vectors (width V) instead,
        the classic character-RNN input.
    dropout : float
        Dropout probability between recurrent layers and on the top layer's outputs, in
        training mode only.
    tie_embeddings : bool
        Use the embedding table (V, E) as the output layer's weight (needs ``embedding_dim ==
        hidden_size``); the output layer then has only its bias ``head.bias``.
    embedding_dropout : float
        Probability of dropping a whole word (its embedding row) per forward pass, in training
        mode only; needs an embedding table.
    regularisers : dict or None
        Regulariser options of the recurrent layer by name (``locked_dropout``, ``weight_drop``,
        ``zoneout``, ``learn_initial_state`` ...: :class:`~rnnkit.layers.recurrent.RecurrentLayer`).
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None
        Initial weights and dropout masks. All children share this one generator
        (``model.rng``), so saving its state is enough to resume dropout exactly.

    Shapes
    ------
    ``forward(ids (B, T), state or None) -> logits (B, T, V), state``; the state is
    ``(h, c)`` each (L, B, H) for an LSTM and ``h`` (L, B, H) otherwise.
    ``backward(d_logits (B, T, V), d_state or None) -> d_initial_state``.

    The named parameters are dotted: ``embedding.weight``, ``rnn.weight_ih_l0`` ...,
    ``head.weight``, ``head.bias``. ``config`` holds every constructor argument, so
    ``rnnkit.load`` rebuilds the model from a file written by ``rnnkit.save``.
    """

    def __init__(self, vocab_size: int, hidden_size: int = 256, num_layers: int = 1, cell: str = "lstm",
                 embedding_dim: int | None = None, dropout: float = 0.0,
                 dtype: Any = np.float32, seed: Any = None, tie_embeddings: bool = False,
                 embedding_dropout: float = 0.0, regularisers: dict[str, Any] | None = None):
        super().__init__(dtype=dtype, seed=seed)
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.kind = cell_kind(cell)                   # the layer, its one-step cell, its state form
        self.cell = cell
        if embedding_dim is not None:
            embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.embedding_dim = embedding_dim
        self.dropout_p = check_probability(dropout, "dropout")
        if not isinstance(tie_embeddings, (bool, np.bool_)):
            raise TypeError(f"tie_embeddings must be True or False, got {tie_embeddings!r}")
        self.tie_embeddings = bool(tie_embeddings)
        if self.tie_embeddings and embedding_dim != self.hidden_size:
            raise ValueError(f"tie_embeddings needs an embedding table as wide as the hidden layer (the output layer "
                             f"reads h (H = {self.hidden_size}) with that table as its weight), got embedding_dim "
                             f"{embedding_dim}; give embedding_dim={self.hidden_size} or leave the embeddings untied")
        self.embedding_dropout = check_probability(embedding_dropout, "embedding_dropout")
        if self.embedding_dropout > 0 and embedding_dim is None:
            raise ValueError("embedding_dropout drops rows of an embedding table; with embedding_dim=None the model "
                             "reads one-hot vectors and has none")
        self.config = {"vocab_size": self.vocab_size, "hidden_size": self.hidden_size,
                       "num_layers": self.num_layers, "cell": self.cell, "embedding_dim": self.embedding_dim,
                       "dropout": self.dropout_p}
        if self.tie_embeddings:             # only when set: the config of every other model stays as it was
            self.config["tie_embeddings"] = True
        if self.embedding_dropout:
            self.config["embedding_dropout"] = self.embedding_dropout
        regularisers = check_regularisers(regularisers)
        if regularisers:
            self.config["regularisers"] = regularisers
        # One generator for every child (make_rng passes a Generator through unchanged).
        self.embedding = (None if embedding_dim is None
                          else Embedding(self.vocab_size, embedding_dim, dtype=self.dtype, seed=self.rng))
        self.input_size = self.vocab_size if embedding_dim is None else embedding_dim    # E
        self.rnn = self.kind.layer(self.input_size, self.hidden_size, num_layers=self.num_layers,
                                   dropout=self.dropout_p, dtype=self.dtype, seed=self.rng, **regularisers)
        self.output_dropout = Dropout(self.dropout_p, dtype=self.dtype, seed=self.rng)
        if self.tie_embeddings:
            self.head = TiedOutput(self.embedding, dtype=self.dtype, seed=self.rng)
        else:
            self.head = Linear(self.hidden_size, self.vocab_size, dtype=self.dtype, seed=self.rng)
        self._word_mask = None              # (V,) the embedding-dropout mask of the last training forward

    # --- training: the whole window at once --------------------------------------------
    def _embed(self, ids: np.ndarray) -> np.ndarray:
        """(..., ) ids -> (..., E) inputs of the first recurrent layer."""
        if self.embedding is None:
            return one_hot(ids, self.vocab_size, dtype=self.dtype)                   # (..., V)
        x = self.embedding(ids)                                                     # (..., E)
        self._word_mask = None
        if self.embedding_dropout > 0 and self.training:
            keep = 1.0 - self.embedding_dropout
            mask = (self.rng.random(self.vocab_size) < keep).astype(self.dtype) / self.dtype.type(keep)   # (V,)
            self._word_mask = self._keep(mask)
            x *= mask[ids][..., None]                       # a dropped word reads zeros wherever it occurs
        return x

    def _embed_backward(self, d_x: np.ndarray) -> None:
        """Gradient of the embedding table from d_x (B, T, E), through the word mask if one was drawn."""
        if self._word_mask is not None:
            mask = self._require_cache(self._word_mask)                             # (V,)
            ids = self._require_cache(self.embedding._cache)                        # (B, T)
            d_x = d_x * mask[ids][..., None]
        self.embedding.backward(d_x)

    def forward(self, ids: Any, state: Any = None) -> tuple[np.ndarray, Any]:
        ids = as_index_array(ids, "ids", upper=self.vocab_size)
        if ids.ndim != 2:
            raise ValueError(f"ids must have shape (B, T), got {ids.shape}")
        x = self._embed(ids)                                                        # (B, T, E)
        y, final_state = self.rnn(x, state)                                         # (B, T, H)
        y = self.output_dropout(y)
        logits = self.head(y)                                                       # (B, T, V)
        return logits, final_state

    def backward(self, d_logits: Any, d_state: Any = None) -> Any:
        """Add every parameter's gradient; return the gradient of the initial state."""
        if d_state is not None and np.ndim(d_logits) >= 1:                          # before the head adds its part
            self.rnn.check_state_gradient(d_state, np.shape(d_logits)[0])
        d_y = self.head.backward(d_logits)                                          # (B, T, H)
        d_y = self.output_dropout.backward(d_y)
        d_x, d_initial_state = self.rnn.backward(d_y, d_state)                      # (B, T, E)
        if self.embedding is not None:
            self._embed_backward(d_x)   # tied: adds to the grad the head's backward already put in the table
        return d_initial_state

    def initial_state(self, batch: int) -> Any:
        """The state forward starts from, in the layer's format: (h, c) for an LSTM, else h; each
        (L, B, H): zeros, or the learned initial state (``learn_initial_state``) over the batch."""
        return self.rnn.initial_state(batch)

    # --- generation: one token at a time through the cells -----------------------------
    def step_cells(self) -> list[RecurrentCell]:
        """One cell per layer, holding the layer's own Parameter objects (no copies)."""
        return [self.rnn.step_cell(layer) for layer in range(self.num_layers)]

    def step(self, cells: Sequence[RecurrentCell], token_ids: np.ndarray, states: list) -> tuple[np.ndarray, list]:
        """One time step: ``token_ids`` (B,) and per-layer states -> logits (B, V), new states.

        ``states[k]`` is layer k's state: ``(h, c)`` each (B, H) for an LSTM, else h (B, H).
        """
        x = self._embed(token_ids)                                                  # (B, E)
        new_states = []
        for cell, state in zip(cells, states):
            new_state = cell(x, state)
            if state is not None:                                                   # zoneout: as eval keeps it
                new_state = self.rnn.zoneout_expectation(state, new_state)
            new_states.append(new_state)
            x = self.kind.hidden(new_state)                                         # (B, H) feeds layer k+1
        return self.head(x), new_states                                             # (B, V)

    def generate(self, prime: Any, length: int, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, seed: Any = None) -> np.ndarray:
        """Sample ``length`` tokens that continue ``prime``; returns their ids (length,).

        Parameters
        ----------
        prime : 1-D sequence of int
            Token ids to read first (at least one). The model reads them one by one, then
            samples each next token from its prediction and feeds it back.
        length : int
            How many tokens to generate.
        temperature : float
            Logits are divided by it: below 1 is more conservative, above 1 more varied;
            0 always takes the most likely token.
        top_k : int or None
            Sample only among the k most likely tokens.
        top_p : float in (0, 1] or None
            Sample only among the most likely tokens whose probabilities sum to p (nucleus).
        seed : int, numpy.random.Generator or None
            Same seed, same text.

        The model is switched to eval mode (no dropout) and back.
        """
        prime = as_index_array(prime, "prime", upper=self.vocab_size)
        if prime.ndim > 1:
            raise ValueError(f"prime must be a 1-D sequence of token ids, got shape {prime.shape}")
        prime = prime.reshape(-1)
        if prime.size == 0:
            raise ValueError("prime must hold at least one token id")
        length = check_positive_int(length, "length", minimum=0)
        temperature, top_k, top_p = check_sampling(temperature, top_k, top_p)
        rng = make_rng(seed)
        with self.inference():  # eval mode and no_grad until the block ends
            # Cells with their own copy of the weights (nothing trains while sampling), stored
            # fused so that a step is one matrix product (RecurrentCell.fuse_products).
            cells = []
            for shared in self.step_cells():
                cell = type(shared)(**shared.config, dtype=self.dtype, seed=0)
                cell.load_state_dict(shared.state_dict())
                cells.append(cell)
            start = self.kind.as_tuple(self.initial_state(1))                        # (L, 1, H) each
            states: list = [self.kind.from_tuple([part[k] for part in start]) for k in range(self.num_layers)]
            for token in prime:                                                     # read the prime
                logits, states = self.step(cells, np.array([token]), states)
            generated = np.empty(length, dtype=np.int64)
            for position in range(length):
                token = sample_token(logits[0], temperature, top_k, top_p, rng)
                generated[position] = token
                logits, states = self.step(cells, np.array([token]), states)
        return generated


# --- sampling ----------------------------------------------------------------------------
def check_sampling(temperature: Any, top_k: Any, top_p: Any) -> tuple[float, int | None, float | None]:
    """Validate the sampling options, with errors that say what was expected."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)) \
            or not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if top_k is not None:
        top_k = check_positive_int(top_k, "top_k")
    if top_p is not None:
        if isinstance(top_p, bool) or not isinstance(top_p, (int, float, np.floating)) or not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be a number in (0, 1], got {top_p!r}")
        top_p = float(top_p)
    return float(temperature), top_k, top_p


def sample_token(logits: np.ndarray, temperature: float, top_k: int | None, top_p: float | None,
                 rng: np.random.Generator) -> int:
    """Draw one token id from ``logits`` (V,) after temperature, top-k and top-p filtering.

    >>> rng = np.random.default_rng(0)
    >>> sample_token(np.array([0.0, 5.0, 1.0]), temperature=0.0, top_k=None, top_p=None, rng=rng)
    1
    >>> sample_token(np.array([0.0, 5.0, 1.0]), temperature=1.0, top_k=1, top_p=None, rng=rng)
    1
    """
    logits = np.asarray(logits, dtype=np.float64)                                   # (V,)
    if temperature == 0.0:
        return int(np.argmax(logits))
    with np.errstate(over="ignore"):
        scaled = logits / temperature
    if np.any(np.isinf(scaled) & np.isfinite(logits)):       # a temperature so small that logits overflow:
        return int(np.argmax(logits))                         # its limit, the most likely token
    if top_k is not None and top_k < scaled.size:
        threshold = np.partition(scaled, -top_k)[-top_k]                            # k-th largest
        scaled = np.where(scaled < threshold, -np.inf, scaled)
    probabilities = np.exp(scaled - np.max(scaled))
    probabilities /= probabilities.sum()
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-probabilities, kind="stable")                           # most likely first
        cumulative = np.cumsum(probabilities[order])
        keep = int(np.searchsorted(cumulative, top_p - 1e-12)) + 1                  # smallest set reaching p
        filtered = np.zeros_like(probabilities)
        filtered[order[:keep]] = probabilities[order[:keep]]
        probabilities = filtered / filtered.sum()
    cumulative = np.cumsum(probabilities)
    token = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    return min(token, probabilities.size - 1)
