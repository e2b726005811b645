"""Evaluation measures for tagging: masked token accuracy, and entity-level scores for BIO tags.

Entity scores follow ``conlleval`` (the CoNLL shared tasks' script): an entity counts as found
only when the predicted span has exactly the gold span's type, first and last token. Spans are
read from BIO tags as ``conlleval`` reads them:

* ``B-X`` starts a span of type X;
* ``I-X`` continues the open span if that span has type X, and otherwise starts a new span of
  type X (so an ``I-`` with no ``B-`` before it still starts an entity);
* ``O`` closes any open span.

>>> extract_entities(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"])
[('PER', 0, 2), ('LOC', 3, 4), ('LOC', 4, 5), ('ORG', 5, 6)]
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import numpy as np


def token_accuracy(predictions: Any, targets: Any, mask: Any = None) -> float:
    """The fraction of counted positions where the prediction equals the target.

    Parameters
    ----------
    predictions, targets : array_like of int, the same shape, e.g. (B, T)
    mask : array_like of bool, same shape, optional
        True where a position counts (False for padding). Default: every position.

    Returns
    -------
    float
        In [0, 1]; 0.0 when no position counts.

    >>> token_accuracy([[1, 2, 3], [1, 1, 0]], [[1, 2, 0], [1, 2, 9]],
    ...                mask=[[True, True, True], [True, True, False]])
    0.6
    """
    predictions, targets = np.asarray(predictions), np.asarray(targets)
    if predictions.shape != targets.shape:
        raise ValueError(f"predictions and targets must have the same shape, got {predictions.shape} and "
                         f"{targets.shape}")
    if mask is None:
        mask = np.ones(targets.shape, dtype=bool)
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(f"mask must be a boolean array (True where the position counts), got dtype {mask.dtype}")
    if mask.shape != targets.shape:
        raise ValueError(f"mask must have the shape of targets {targets.shape}, got {mask.shape}")
    counted = int(mask.sum())
    if counted == 0:
        return 0.0
    return float(np.sum((predictions == targets) & mask)) / counted


def _split_tag(tag: str, position: int) -> tuple[str, str | None]:
    """``"B-PER" -> ("B", "PER")``, ``"O" -> ("O", None)``; anything else is an error."""
    if not isinstance(tag, str):
        raise TypeError(f"tags must be strings such as 'B-PER', 'I-PER' or 'O', got {tag!r} at position {position}")
    if tag == "O":
        return "O", None
    prefix, separator, kind = tag.partition("-")
    if separator != "-" or prefix not in ("B", "I") or not kind:
        raise ValueError(f"tags must be 'O', 'B-<type>' or 'I-<type>', got {tag!r} at position {position}")
    return prefix, kind


def extract_entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The entity spans of one tagged sequence, as ``(type, start, end)`` with ``end`` exclusive.

    Parameters
    ----------
    tags : sequence of str
        BIO tags, e.g. ``["B-PER", "I-PER", "O"]``.

    Returns
    -------
    list of (str, int, int)
        In order of their start.

    >>> extract_entities(["O", "B-MISC", "I-MISC", "B-MISC", "I-PER", "I-PER"])
    [('MISC', 1, 3), ('MISC', 3, 4), ('PER', 4, 6)]
    """
    spans = []
    open_type, open_start = None, 0
    for position, tag in enumerate(tags):
        prefix, kind = _split_tag(tag, position)
        continues = prefix == "I" and kind == open_type
        if open_type is not None and not continues:               # the open span ends before this tag
            spans.append((open_type, open_start, position))
            open_type = None
        if prefix != "O" and not continues:                        # B-X, or I-X not continuing an X span
            open_type, open_start = kind, position
    if open_type is not None:
        spans.append((open_type, open_start, len(tags)))
    return spans


def scores_from_counts(correct: int, predicted: int, gold: int) -> dict[str, float]:
    """Precision, recall and F1 from the counts of correct, predicted and gold entities (counts
    summed over parts of a corpus give the corpus's scores).

    >>> scores_from_counts(3, 4, 6)["f1"]
    0.6
    """
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "correct": correct, "predicted": predicted, "gold": gold}


def entity_scores(gold_sequences: Sequence[Sequence[str]],
                  predicted_sequences: Sequence[Sequence[str]]) -> dict[str, dict[str, float]]:
    """Entity-level precision, recall and F1, overall and per entity type (conlleval semantics).

    Parameters
    ----------
    gold_sequences, predicted_sequences : sequence of sequences of str
        One list of BIO tags per sentence; each predicted sentence has its gold sentence's
        length.

    Returns
    -------
    dict
        ``"overall"`` and one key per entity type (gold or predicted), each a dict with
        ``precision``, ``recall``, ``f1`` (fractions in [0, 1]; 0.0 where undefined) and the
        counts ``correct``, ``predicted``, ``gold``.

    Equations
    ---------
    ::

        precision = correct / predicted,   recall = correct / gold
        f1 = 2 precision recall / (precision + recall)

    where a predicted span is correct when a gold span has the same type, start and end.

    >>> gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    >>> pred = [["B-PER", "I-PER", "O", "B-ORG"]]
    >>> scores = entity_scores(gold, pred)
    >>> scores["overall"]["precision"], scores["overall"]["recall"], scores["PER"]["f1"]
    (0.5, 0.5, 1.0)
    """
    if len(gold_sequences) != len(predicted_sequences):
        raise ValueError(f"expected one predicted sequence per gold sequence ({len(gold_sequences)}), "
                         f"got {len(predicted_sequences)}")
    gold_counts: Counter = Counter()
    predicted_counts: Counter = Counter()
    correct_counts: Counter = Counter()
    for index, (gold, predicted) in enumerate(zip(gold_sequences, predicted_sequences)):
        if len(gold) != len(predicted):
            raise ValueError(f"sequence {index}: expected {len(gold)} predicted tags (the gold length), "
                             f"got {len(predicted)}")
        gold_spans = set(extract_entities(gold))
        predicted_spans = set(extract_entities(predicted))
        gold_counts.update(kind for kind, _, _ in gold_spans)
        predicted_counts.update(kind for kind, _, _ in predicted_spans)
        correct_counts.update(kind for kind, _, _ in gold_spans & predicted_spans)
    result = {"overall": scores_from_counts(sum(correct_counts.values()), sum(predicted_counts.values()),
                                 sum(gold_counts.values()))}
    for kind in sorted(set(gold_counts) | set(predicted_counts)):
        result[kind] = scores_from_counts(correct_counts[kind], predicted_counts[kind], gold_counts[kind])
    return result
