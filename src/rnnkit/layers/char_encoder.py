"""Character-level word features: each word's characters become one vector.

Glossary: N words, W characters per word (padded), C character embedding size, F features per
word (CNN filters, or 2 * H for the BiLSTM), k the CNN's window, H the LSTM's hidden units.

Two encoders, both ``forward(chars (N, W) ids, lengths (N,)) -> (N, F)`` and
``backward(d_features (N, F)) -> None`` (ids have no gradient):

* :class:`CharCNN` (Ma & Hovy 2016): character embeddings, a 1-D convolution over the word with
  ``k``-character windows (zero padding keeps W positions), then the maximum of each filter over
  the word's real positions::

      e_j      = embed(c_j)                                    (N, W, C)
      z_{j, f} = b_f + sum_{m<k} sum_c weight[f, c, m] e_{j+m-p, c}     p = (k-1)//2, e = 0 outside
      out_f    = max_{j < length} z_{j, f}                      (N, F)

  Backward sends each ``d out_f`` to the position that won the maximum, then through the
  convolution (the windows are cached as an (N, W, k*C) matrix, so both weight and input
  gradients are one matrix product each) and the embedding.

* :class:`CharLSTM` (Lample et al. 2016): character embeddings through a bidirectional
  :class:`~rnnkit.LSTM` with the word lengths; the word's vector is the forward direction's last
  state and the backward direction's state after reading the first character, ``[h_fwd; h_bwd]``
  (N, 2H). Backward is the LSTM's own BPTT with a gradient on ``h_n`` only.

Character id 0 is padding (its embedding row stays zero). Words of any length are accepted;
:func:`character_ids` builds the (N, W) array from strings, truncating each word to
``max_length`` characters (a 500-character URL would otherwise pad every word of its batch).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rnnkit._validate import as_float_array, as_index_array, check_choice, check_positive_int
from rnnkit.cells.base import uniform_init
from rnnkit.layers.embedding import Embedding
from rnnkit.cells.lstm.layer import LSTM
from rnnkit.module import Module, Parameter

CHAR_ENCODERS = ("none", "cnn", "lstm")
# The character vocabulary's special symbols: padding (0), unknown characters (1), word start and end.
CHAR_SPECIALS = ("<pad>", "<unk>", "<w>", "</w>")


def character_ids(words: Sequence[str], index: dict[str, int], max_length: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """``(ids (N, W), lengths (N,))``: each word as ``<w> c_1 .. c_n </w>`` in character ids.

    Characters missing from ``index`` become ``<unk>`` (1); words longer than ``max_length``
    characters keep their first ``max_length``; an empty word is ``<w> </w>`` (length 2).

    >>> index = {c: i for i, c in enumerate(CHAR_SPECIALS + tuple("abc"))}
    >>> ids, lengths = character_ids(["ab", "", "cz"], index)
    >>> ids.tolist(), lengths.tolist()
    ([[2, 4, 5, 3], [2, 3, 0, 0], [2, 6, 1, 3]], [4, 2, 4])
    """
    unknown, start, end = index["<unk>"], index["<w>"], index["</w>"]
    rows = [[start] + [index.get(character, unknown) for character in word[:max_length]] + [end] for word in words]
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    ids = np.zeros((len(rows), int(lengths.max(initial=2))), dtype=np.int64)
    for number, row in enumerate(rows):
        ids[number, :len(row)] = row
    return ids, lengths


def _check_chars(chars: Any, lengths: Any, num_chars: int) -> tuple[np.ndarray, np.ndarray]:
    chars = as_index_array(chars, "chars", upper=num_chars)
    if chars.ndim != 2:
        raise ValueError(f"chars must have shape (N, W) of character ids, got shape {chars.shape}")
    lengths = as_index_array(lengths, "lengths")
    if lengths.shape != (chars.shape[0],):
        raise ValueError(f"lengths must have shape ({chars.shape[0]},), one per word, got {lengths.shape}")
    if np.any(lengths < 1) or np.any(lengths > chars.shape[1]):
        raise ValueError(f"word lengths must lie in [1, W={chars.shape[1]}], got {lengths.min()}..{lengths.max()}")
    return chars, lengths


class CharCNN(Module):
    """Words as the max over positions of a character convolution (see the module docstring).

    Parameters: ``embedding.weight`` (V_chars, C), ``weight`` (F, C, k) (``torch.nn.Conv1d``'s
    layout) and ``bias`` (F,), uniform in +-1/sqrt(C k).

    >>> cnn = CharCNN(10, embedding_dim=4, num_filters=6, kernel_size=3, seed=0)
    >>> out = cnn(np.array([[2, 5, 3, 0], [2, 7, 8, 3]]), np.array([3, 4]))
    >>> out.shape, cnn.backward(np.ones((2, 6))) is None
    ((2, 6), True)
    """

    def __init__(self, num_chars: int, embedding_dim: int = 30, num_filters: int = 30, kernel_size: int = 3,
                 dtype: Any = np.float32, seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        self.num_chars = check_positive_int(num_chars, "num_chars")
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.num_filters = check_positive_int(num_filters, "num_filters")
        self.kernel_size = check_positive_int(kernel_size, "kernel_size")
        self.output_size = self.num_filters
        self.config = {"num_chars": self.num_chars, "embedding_dim": self.embedding_dim,
                       "num_filters": self.num_filters, "kernel_size": self.kernel_size}
        self.embedding = Embedding(self.num_chars, self.embedding_dim, padding_idx=0, dtype=self.dtype, seed=self.rng)
        self.embedding.weight.data *= 0.3                 # characters start small beside the word embedding
        bound = 1.0 / np.sqrt(self.embedding_dim * self.kernel_size)
        self.weight = Parameter(uniform_init(self.rng, (self.num_filters, self.embedding_dim, self.kernel_size),
                                             bound, self.dtype))
        self.bias = Parameter(uniform_init(self.rng, (self.num_filters,), bound, self.dtype))
        self._cache = None

    def _matrix(self) -> np.ndarray:
        """The weight as (F, k*C), window-position-major, to multiply (N, W, k*C) windows."""
        return self.weight.data.transpose(0, 2, 1).reshape(self.num_filters, -1)

    def forward(self, chars: Any, lengths: Any) -> np.ndarray:
        chars, lengths = _check_chars(chars, lengths, self.num_chars)
        count, width = chars.shape
        size, window = self.embedding_dim, self.kernel_size
        embedded = self.embedding(chars)                                           # (N, W, C)
        embedded[chars == 0] = 0.0                  # padding is zero whatever the table's row 0 holds
        left = (window - 1) // 2
        padded = np.zeros((count, width + window - 1, size), dtype=self.dtype)     # (N, W+k-1, C)
        padded[:, left:left + width] = embedded
        windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=1)   # (N, W, C, k)
        windows = np.ascontiguousarray(windows.transpose(0, 1, 3, 2)).reshape(count, width, window * size)
        conv = windows @ self._matrix().T + self.bias.data                         # (N, W, F)
        conv[np.arange(width)[None, :] >= lengths[:, None]] = -np.inf              # only real positions compete
        winners = np.argmax(conv, axis=1)                                          # (N, F)
        out = np.take_along_axis(conv, winners[:, None, :], axis=1)[:, 0]          # (N, F)
        self._cache = self._keep((windows, winners, width))
        return out

    def backward(self, d_out: Any) -> None:
        windows, winners, width = self._require_cache(self._cache)
        count = windows.shape[0]
        d_out = as_float_array(d_out, "d_out", self.dtype, (count, self.num_filters), "(N, F)")
        d_conv = np.zeros((count, width, self.num_filters), dtype=self.dtype)     # (N, W, F)
        np.put_along_axis(d_conv, winners[:, None, :], d_out[:, None, :], axis=1)
        flat = d_conv.reshape(-1, self.num_filters)
        if self.weight.requires_grad:
            d_matrix = flat.T @ windows.reshape(-1, windows.shape[-1])             # (F, k*C)
            self.weight.grad += d_matrix.reshape(self.num_filters, self.kernel_size, -1).transpose(0, 2, 1)
        if self.bias.requires_grad:
            self.bias.grad += flat.sum(axis=0)
        d_windows = (d_conv @ self._matrix()).reshape(count, width, self.kernel_size, self.embedding_dim)
        d_padded = np.zeros((count, width + self.kernel_size - 1, self.embedding_dim), dtype=self.dtype)
        for offset in range(self.kernel_size):                                     # each window position's share
            d_padded[:, offset:offset + width] += d_windows[:, :, offset]
        left = (self.kernel_size - 1) // 2
        self.embedding.backward(d_padded[:, left:left + width])
        return None


class CharLSTM(Module):
    """Words as ``[h_fwd; h_bwd]`` of a character BiLSTM (see the module docstring).

    >>> encoder = CharLSTM(10, embedding_dim=4, hidden_size=3, seed=0)
    >>> out = encoder(np.array([[2, 5, 3, 0], [2, 7, 8, 3]]), np.array([3, 4]))
    >>> out.shape, encoder.backward(np.ones((2, 6))) is None
    ((2, 6), True)
    """

    def __init__(self, num_chars: int, embedding_dim: int = 25, hidden_size: int = 25,
                 dtype: Any = np.float32, seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        self.num_chars = check_positive_int(num_chars, "num_chars")
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.output_size = 2 * self.hidden_size
        self.config = {"num_chars": self.num_chars, "embedding_dim": self.embedding_dim,
                       "hidden_size": self.hidden_size}
        self.embedding = Embedding(self.num_chars, self.embedding_dim, padding_idx=0, dtype=self.dtype, seed=self.rng)
        self.embedding.weight.data *= 0.3
        self.lstm = LSTM(self.embedding_dim, self.hidden_size, bidirectional=True, dtype=self.dtype, seed=self.rng)
        self._cache = None

    def forward(self, chars: Any, lengths: Any) -> np.ndarray:
        chars, lengths = _check_chars(chars, lengths, self.num_chars)
        embedded = self.embedding(chars)                                           # (N, W, C)
        y, (h_n, _) = self.lstm(embedded, None, lengths)                           # h_n (2, N, H)
        self._cache = self._keep(y.shape)
        return np.concatenate([h_n[0], h_n[1]], axis=1)                            # (N, 2H)

    def backward(self, d_out: Any) -> None:
        y_shape = self._require_cache(self._cache)
        d_out = as_float_array(d_out, "d_out", self.dtype, (y_shape[0], self.output_size), "(N, 2H)")
        d_h_n = np.stack([d_out[:, :self.hidden_size], d_out[:, self.hidden_size:]])   # (2, N, H)
        d_embedded, _ = self.lstm.backward(np.zeros(y_shape, dtype=self.dtype), (d_h_n, None))
        self.embedding.backward(d_embedded)
        return None


def make_char_encoder(kind: str, num_chars: int, embedding_dim: int, hidden_size: int, dtype: Any,
                      seed: Any) -> Module | None:
    """A :class:`CharCNN` (``hidden_size`` filters), a :class:`CharLSTM` (``hidden_size`` per direction) or None."""
    check_choice(kind, "char_encoder", CHAR_ENCODERS)
    if kind == "cnn":
        return CharCNN(num_chars, embedding_dim, hidden_size, dtype=dtype, seed=seed)
    if kind == "lstm":
        return CharLSTM(num_chars, embedding_dim, hidden_size, dtype=dtype, seed=seed)
    return None
