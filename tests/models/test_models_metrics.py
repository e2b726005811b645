"""Token accuracy and conlleval-style entity scores on hand-made examples."""

import numpy as np
import pytest

from rnnkit.models.metrics import entity_scores, extract_entities, token_accuracy


def test_token_accuracy_counts_only_masked_positions():
    predictions = np.array([[1, 2, 3, 7], [4, 4, 9, 9]])
    targets = np.array([[1, 2, 0, 0], [4, 5, 0, 0]])
    mask = np.array([[True, True, True, False], [True, True, False, False]])
    assert token_accuracy(predictions, targets, mask) == pytest.approx(3 / 5)
    assert token_accuracy(predictions, targets) == pytest.approx(3 / 8)
    assert token_accuracy(predictions, targets, np.zeros_like(mask)) == 0.0


def test_token_accuracy_errors():
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        token_accuracy([1, 2], [1, 2, 3])
    with pytest.raises(TypeError, match="boolean array"):
        token_accuracy([1, 2], [1, 2], mask=[1, 0])
    with pytest.raises(ValueError, match=r"mask must have the shape of targets \(2,\), got \(3,\)"):
        token_accuracy([1, 2], [1, 2], mask=[True, True, False])


@pytest.mark.parametrize("tags, spans", [
    ([], []),
    (["O", "O"], []),
    (["B-PER"], [("PER", 0, 1)]),
    (["B-PER", "I-PER", "I-PER"], [("PER", 0, 3)]),
    (["B-PER", "B-PER"], [("PER", 0, 1), ("PER", 1, 2)]),           # two adjacent entities
    (["I-PER", "I-PER", "O"], [("PER", 0, 2)]),                     # I- without B- starts a span
    (["O", "I-LOC"], [("LOC", 1, 2)]),
    (["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 3)]),  # a type change starts a span
    (["B-PER", "O", "I-PER"], [("PER", 0, 1), ("PER", 2, 3)]),      # O closes the span
    (["B-ORG", "I-ORG", "B-ORG", "I-ORG"], [("ORG", 0, 2), ("ORG", 2, 4)]),
    (["B-MISC-X", "I-MISC-X"], [("MISC-X", 0, 2)]),                 # types may contain '-'
])
def test_extract_entities(tags, spans):
    assert extract_entities(tags) == spans


def test_entity_scores_golden_case():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "B-ORG"]]
    pred = [["B-PER", "I-PER", "O", "B-LOC", "O", "O", "B-ORG"]]    # LOC cut short: wrong
    scores = entity_scores(gold, pred)
    overall = scores["overall"]
    assert (overall["correct"], overall["predicted"], overall["gold"]) == (2, 3, 3)
    assert overall["precision"] == pytest.approx(2 / 3)
    assert overall["recall"] == pytest.approx(2 / 3)
    assert overall["f1"] == pytest.approx(2 / 3)
    assert scores["PER"]["f1"] == 1.0 and scores["ORG"]["f1"] == 1.0
    assert scores["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "correct": 0, "predicted": 1, "gold": 1}
    assert list(scores) == ["overall", "LOC", "ORG", "PER"]


def test_entity_scores_precision_and_recall_differ():
    # gold: PER(0,2), LOC(3,4), LOC(5,6); pred: PER(0,2), MISC(3,4) -> 1 correct of 2 predicted, 3 gold
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-LOC"]]
    pred = [["B-PER", "I-PER", "O", "B-MISC"], ["O", "O"]]
    overall = entity_scores(gold, pred)["overall"]
    assert overall["precision"] == pytest.approx(1 / 2)
    assert overall["recall"] == pytest.approx(1 / 3)
    assert overall["f1"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    assert entity_scores(gold, pred)["MISC"]["precision"] == 0.0


def test_entity_scores_conlleval_reading_of_i_tags():
    """An I- prediction without B- still forms the span, so it matches the gold entity."""
    scores = entity_scores([["B-PER", "I-PER", "O"]], [["I-PER", "I-PER", "O"]])
    assert scores["overall"]["f1"] == 1.0
    # Spans never cross a sentence boundary: I-PER opening sentence 2 is a new entity.
    scores = entity_scores([["B-PER"], ["I-PER"]], [["B-PER"], ["B-PER"]])
    assert scores["overall"]["f1"] == 1.0


def test_entity_scores_with_nothing_predicted_or_nothing_to_find():
    assert entity_scores([["B-PER", "O"]], [["O", "O"]])["overall"]["f1"] == 0.0
    empty = entity_scores([["O"]], [["O"]])
    assert empty == {"overall": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "correct": 0, "predicted": 0, "gold": 0}}


def test_entity_scores_errors():
    with pytest.raises(ValueError, match=r"one predicted sequence per gold sequence \(2\), got 1"):
        entity_scores([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError, match=r"sequence 0: expected 2 predicted tags \(the gold length\), got 1"):
        entity_scores([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match=r"got 'X-PER' at position 1"):
        extract_entities(["O", "X-PER"])
    with pytest.raises(ValueError, match=r"got 'B-' at position 0"):
        extract_entities(["B-"])
    with pytest.raises(TypeError, match=r"got 3 at position 0"):
        extract_entities([3])
