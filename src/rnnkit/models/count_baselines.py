"""Count-based language models: the baselines a word-level RNN must beat.

Glossary: V vocabulary, N tokens, v the previous token (the context), w the next token.

Both models are fitted on the ids of a training stream and score the ids of another with the
same vocabulary (so the same ``<unk>``), predicting every id from the one before it, as the
RNN does. Their perplexities are printed beside the RNN's in ``rnnkit train lm`` and
``rnnkit evaluate``.

:class:`Unigram`: add-one (Laplace) smoothed frequencies, ``P(w) = (c(w) + 1) / (N + V)``, so
a token of the vocabulary that training never showed (``<unk>`` when nothing was cut) still has
a probability.

:class:`KneserNeyBigram`: interpolated Kneser-Ney (Kneser & Ney 1995; Chen & Goodman 1998),
the lower order interpolated with the uniform distribution, as SRILM and KenLM do::

    P(w | v)   = max(c(v, w) - D, 0) / c(v)  +  D * N1+(v .) / c(v) * P_cont(w)      (c(v) > 0)
    P(w | v)   = P_cont(w)                                                           (c(v) = 0)
    P_cont(w)  = max(N1+(. w) - D1, 0) / N1+(. .)  +  D1 * |{w : N1+(. w) > 0}| / N1+(. .) / V

where c(v, w) counts the bigram, c(v) = sum_w c(v, w) the context, N1+(v .) the distinct tokens
that follow v, N1+(. w) the distinct tokens that precede w (continuation count) and N1+(. .) the
distinct bigrams. The discounts are Ney's estimates ``D = n1 / (n1 + 2 n2)`` from the number of
bigrams seen once (n1) and twice (n2), and ``D1`` likewise from the continuation counts (0.75
when a count-of-counts is zero). Each distribution sums to 1 over the V tokens.

>>> ids = np.array([2, 3, 2, 3, 4, 2])
>>> model = KneserNeyBigram(vocab_size=5).fit(ids)
>>> probabilities = np.exp(model.log_probs(np.full(5, 2), np.arange(5)))      # P(. | 2)
>>> round(float(probabilities.sum()), 12)
1.0
>>> round(Unigram(5).fit(ids).perplexity(ids), 4)
3.5442
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rnnkit._validate import check_positive_int

# Discount used when the count-of-counts cannot estimate one (no singletons or no doubletons).
FALLBACK_DISCOUNT = 0.75


def _ids(ids: Any, vocab_size: int, name: str = "ids") -> np.ndarray:
    array = np.asarray(ids)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-D array of token ids, got shape {array.shape} and dtype {array.dtype}")
    array = array.astype(np.int64, copy=False)
    if array.size and (array.min() < 0 or array.max() >= vocab_size):
        raise ValueError(f"{name} must lie in [0, {vocab_size}), got values from {array.min()} to {array.max()}")
    return array


def ney_discount(count_of_counts: np.ndarray) -> float:
    """``n1 / (n1 + 2 n2)`` from counts (n1: how many counts are 1, n2: how many are 2).

    >>> ney_discount(np.array([1, 1, 1, 2, 5]))
    0.6
    """
    n1 = int(np.count_nonzero(count_of_counts == 1))
    n2 = int(np.count_nonzero(count_of_counts == 2))
    if n1 == 0 or n2 == 0:
        return FALLBACK_DISCOUNT
    return n1 / (n1 + 2 * n2)


class CountModel:
    """What both count models share: scoring a stream (chunk by chunk) and its perplexity."""

    def __init__(self, vocab_size: int):
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        self.fitted = False

    def log_probs(self, previous: Any, targets: Any) -> np.ndarray:
        """``log P(targets[i] | previous[i])`` for each i (float64, (N,))."""
        raise NotImplementedError

    def perplexity(self, ids: Any) -> float:
        """exp of the mean negative log probability of ``ids[1:]``, each given the id before it."""
        ids = _ids(ids, self.vocab_size)
        if len(ids) < 2:
            raise ValueError(f"need at least 2 tokens to score, got {len(ids)}")
        mean = -float(np.sum(self.log_probs(ids[:-1], ids[1:]))) / (len(ids) - 1)
        return math.exp(mean)

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet: call fit(ids) first")


class Unigram(CountModel):
    """Add-one smoothed token frequencies: ``P(w) = (c(w) + 1) / (N + V)`` (the context is ignored)."""

    def fit(self, ids: Any) -> "Unigram":
        ids = _ids(ids, self.vocab_size)
        counts = np.bincount(ids, minlength=self.vocab_size).astype(np.float64)          # (V,)
        self.log_table = np.log((counts + 1.0) / (counts.sum() + self.vocab_size))       # (V,)
        self.fitted = True
        return self

    def log_probs(self, previous: Any, targets: Any) -> np.ndarray:
        self._check_fitted()
        return self.log_table[_ids(targets, self.vocab_size, "targets")]


class KneserNeyBigram(CountModel):
    """Interpolated Kneser-Ney bigram model (see the module docstring for the equations).

    Parameters
    ----------
    vocab_size : int
        V: the ids it fits and scores lie in [0, V).
    discount : float in (0, 1] or None
        D for the bigrams; None estimates it from the training counts (Ney).
    unigram_discount : float in (0, 1] or None
        D1 for the continuation counts; None estimates it likewise.

    The bigram counts are kept as a sorted array of keys ``v * V + w`` (one per distinct bigram),
    so scoring is a vectorised binary search.
    """

    def __init__(self, vocab_size: int, discount: float | None = None, unigram_discount: float | None = None):
        super().__init__(vocab_size)
        for name, value in (("discount", discount), ("unigram_discount", unigram_discount)):
            if value is not None and not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must lie in (0, 1] or be None, got {value!r}")
        self.discount = discount
        self.unigram_discount = unigram_discount

    def fit(self, ids: Any) -> "KneserNeyBigram":
        ids = _ids(ids, self.vocab_size)
        if len(ids) < 2:
            raise ValueError(f"need at least 2 tokens (one bigram) to fit, got {len(ids)}")
        V = self.vocab_size
        keys, counts = np.unique(ids[:-1] * V + ids[1:], return_counts=True)            # distinct bigrams, sorted
        previous, following = keys // V, keys % V
        self.keys, self.counts = keys, counts.astype(np.float64)
        self.context_counts = np.bincount(ids[:-1], minlength=V).astype(np.float64)      # c(v)
        self.followers = np.bincount(previous, minlength=V).astype(np.float64)           # N1+(v .)
        continuation = np.bincount(following, minlength=V).astype(np.float64)            # N1+(. w)
        self.D = self.discount if self.discount is not None else ney_discount(counts)
        self.D1 = self.unigram_discount if self.unigram_discount is not None else ney_discount(continuation)
        types = float(len(keys))                                                         # N1+(. .)
        seen = float(np.count_nonzero(continuation))
        self.continuation = (np.maximum(continuation - self.D1, 0.0) / types
                             + self.D1 * seen / types / V)                               # P_cont (V,)
        self.fitted = True
        return self

    def log_probs(self, previous: Any, targets: Any) -> np.ndarray:
        self._check_fitted()
        previous, targets = _ids(previous, self.vocab_size, "previous"), _ids(targets, self.vocab_size, "targets")
        if previous.shape != targets.shape:
            raise ValueError(f"previous and targets must have the same shape, got {previous.shape} and {targets.shape}")
        wanted = previous * self.vocab_size + targets
        slot = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        pair_counts = np.where(self.keys[slot] == wanted, self.counts[slot], 0.0)        # c(v, w)
        context = self.context_counts[previous]                                          # c(v)
        lower = self.continuation[targets]                                               # P_cont(w)
        seen = context > 0
        safe = np.where(seen, context, 1.0)
        interpolated = (np.maximum(pair_counts - self.D, 0.0) / safe
                        + self.D * self.followers[previous] / safe * lower)
        return np.log(np.where(seen, interpolated, lower))


class StreamScore:
    """The summed negative log probability of a count model over a stream fed in chunks.

    Each id is scored given the one before it, across chunk boundaries; the stream's first id is
    only a context (as in the RNN's evaluation).

    >>> ids = np.array([2, 3, 2, 3, 4, 2])
    >>> model = Unigram(5).fit(ids)
    >>> score = StreamScore(model)
    >>> score.feed(ids[:2]); score.feed(ids[2:])
    >>> round(score.perplexity(), 4) == round(model.perplexity(ids), 4)
    True
    """

    def __init__(self, model: CountModel):
        self.model = model
        self.total = 0.0
        self.count = 0
        self.last: int | None = None

    def feed(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size == 0:
            return
        if self.last is not None:
            ids = np.concatenate([[self.last], ids])
        if len(ids) >= 2:
            self.total -= float(np.sum(self.model.log_probs(ids[:-1], ids[1:])))
            self.count += len(ids) - 1
        self.last = int(ids[-1])

    def perplexity(self) -> float:
        if self.count == 0:
            raise ValueError("no token was scored: the stream needs at least 2 tokens")
        mean = self.total / self.count
        return math.exp(mean) if mean < 709.0 else math.inf
