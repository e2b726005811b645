"""What the supervised task adapters share: length-bucketed batches, splits, a run's setup.

Glossary: N examples, B batch, T steps.

A supervised task holds N examples of different lengths. Each epoch
:class:`~rnnkit.data.BucketBatchIterator` groups examples of similar length into batches (little
padding) in an order fixed by the seed and the epoch, so a run resumed at batch ``start`` of
an epoch sees exactly the batches it would have seen. :class:`BucketedTask` implements the
Trainer's batch protocol on top of that; a task adds ``make_batch``, ``forward``, ``loss``,
``backward`` and ``evaluate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from rnnkit.data.batching import BucketBatchIterator


@dataclass
class Prepared:
    """Everything ``rnnkit train TASK`` needs once a task has read its data.

    ``artifacts`` is JSON-ready and goes into ``config.json`` (label names, scaler
    statistics, file formats); ``vocabs`` maps a file name (``vocab.json``) to a vocabulary to
    save beside it; ``final_report(model)`` returns extra metrics measured after training on
    the best checkpoint (e.g. a held-out test split).
    """

    model: Any
    task: Any
    artifacts: dict[str, Any]
    vocabs: dict[str, Any] = field(default_factory=dict)
    description: list[str] = field(default_factory=list)
    final_report: Any = None


class BucketedTask:
    """The Trainer's batch protocol over N examples, batched by length.

    Subclasses define ``make_batch(indices) -> batch`` (the batch must have ``num_tokens``),
    ``forward``, ``loss``, ``backward`` and ``evaluate``.
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int = 0):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = batch_size
        self.iterator = BucketBatchIterator(self.lengths, batch_size, seed=seed)
        self.steps_per_epoch = len(self.iterator)

    def train_batches(self, epoch: int, start: int) -> Iterator[Any]:
        for indices in self.iterator.batches(epoch)[start:]:
            yield self.make_batch(indices)

    def make_batch(self, indices: np.ndarray) -> Any:
        raise NotImplementedError

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {}                       # nothing is carried from batch to batch

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        return None


def eval_batches(lengths: np.ndarray, batch_size: int = 256) -> list[np.ndarray]:
    """Index batches over N examples sorted by length (for evaluation: no shuffling)."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def stratified_split(labels: Any, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out): ``fraction`` of each class held out, chosen by ``seed``.

    >>> kept, held = stratified_split([0, 0, 0, 0, 1, 1, 1, 1, 1, 1], 0.5, seed=0)
    >>> len(held), sorted(np.asarray([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])[held].tolist())
    (5, [0, 0, 1, 1, 1])
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        rng.shuffle(members)
        count = int(round(len(members) * fraction))
        if len(members) > 1:
            count = min(max(count, 1), len(members) - 1)
        else:
            count = 0
        held.extend(members[:count].tolist())
    held_array = np.array(sorted(held), dtype=np.int64)
    kept = np.setdiff1d(np.arange(len(labels)), held_array)
    return kept, held_array


def random_split(count: int, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out) of ``count`` examples, ``fraction`` (at least one) held out."""
    order = np.random.default_rng(seed).permutation(count)
    held = max(1, int(round(count * fraction))) if count > 1 else 0
    return np.sort(order[held:]), np.sort(order[:held])


def need_examples(count: int, minimum: int, source: str, what: str) -> None:
    if count < minimum:
        raise ValueError(f"{source}: too little data: {count} {what}, need at least {minimum}")


def standard_statistics(frames: Any, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation per feature of ``frames`` (N,) or (N, D), for any finite values.

    Computed on values divided by each feature's largest magnitude, so values near the float64
    limit (1e308) do not overflow the sums; a constant feature gets a standard deviation of 1.
    ``source`` names the data in the error raised when the statistics still are not finite.

    >>> mean, std = standard_statistics(np.array([1e308, -1e308, 1e308, -1e308]), "x")
    >>> float(mean), float(std)
    (0.0, 1e+308)
    """
    frames = np.asarray(frames, dtype=np.float64)
    if not np.all(np.isfinite(frames)):
        raise ValueError(f"{source}: the values hold NaN or infinity; they cannot be standardised")
    peak = np.max(np.abs(frames), axis=0)
    peak = np.where(peak > 0, peak, 1.0)
    unit = frames / peak
    mean, std = unit.mean(axis=0) * peak, unit.std(axis=0) * peak
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
        raise ValueError(f"{source}: the values are too large to standardise in float64 (their mean or standard "
                         f"deviation overflows); rescale them")
    return mean, np.where(std > 0, std, 1.0)


def standardise(values: np.ndarray, mean: Any, std: Any, source: str) -> np.ndarray:
    """``(values - mean) / std`` computed in halves (no overflow for values near 1e308); refuses a
    result that is not finite, naming ``source``."""
    half = 0.5
    result = (np.asarray(values, dtype=np.float64) * half - np.asarray(mean) * half) / (np.asarray(std) * half)
    if not np.all(np.isfinite(result)):
        raise ValueError(f"{source}: values too far from the training data's range to standardise in float64 "
                         f"(largest magnitude {np.max(np.abs(values)):.3g}); rescale them")
    return result
