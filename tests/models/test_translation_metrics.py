"""Corpus BLEU and chrF (rnnkit.models.translation_metrics): hand-worked values, edge cases, and
agreement with sacreBLEU (a test dependency; those tests skip without it) on made-up and real corpora."""

import math
import os
import random
from pathlib import Path

import pytest

from rnnkit.models.translation_metrics import (bleu_from_statistics, bleu_statistics, chrf_from_statistics,
                                               chrf_statistics, corpus_bleu, corpus_chrf, tokenize_13a,
                                               translation_scores)

DATA = Path(os.environ.get("RNNKIT_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
PAIRS = DATA / "translation" / "eng-fra_tatoeba.tsv"


def sacrebleu_or_skip():
    return pytest.importorskip("sacrebleu", reason="sacrebleu is a test dependency (pip install 'rnnkit[test]')")


# --- hand-worked values (no sacreBLEU needed) ---------------------------------------------------


def test_bleu_by_hand():
    # 6 hypothesis tokens, 7 reference tokens; matches 5/6, 1/5, 0/4, 0/3: the first order without a
    # match counts as 1/(2 * 4), the second as 1/(4 * 3) (sacreBLEU's default "exp" smoothing)
    score = corpus_bleu(["the cat on a sat mat"], ["the cat sat on the mat ."], tokenize=False)
    assert score.matches == [5, 1, 0, 0] and score.totals == [6, 5, 4, 3]
    assert (score.hypothesis_length, score.reference_length) == (6, 7)
    precisions = [5 / 6, 1 / 5, 1 / 8, 1 / 12]
    expected = 100 * math.exp(1 - 7 / 6) * math.exp(sum(map(math.log, precisions)) / 4)
    assert score.score == pytest.approx(expected, rel=1e-12)
    assert score.score == pytest.approx(17.28, abs=0.005)
    assert corpus_bleu(["the cat on a sat mat"], ["the cat sat on the mat ."], smooth="none",
                       tokenize=False).score == 0.0


def test_bleu_clips_repeated_ngrams_and_is_100_for_equal_text():
    score = corpus_bleu(["the the the the"], ["the cat is here"], tokenize=False)
    assert score.matches[0] == 1                              # "the" counts once: once in the reference
    assert corpus_bleu(["Puis-je entrer dans la maison ?"], ["Puis-je entrer dans la maison ?"]).score == pytest.approx(100.0)
    assert corpus_bleu([""], ["something"]).score == 0.0
    # a corpus too short for 4-grams scores 0, as in sacreBLEU (p_4 has no n-gram to count)
    assert corpus_bleu(["Puis-je entrer ?"], ["Puis-je entrer ?"]).score == 0.0


def test_bleu_multiple_references_take_the_closest_length_and_largest_counts():
    score = corpus_bleu(["a b c d"], [["a b c d e f"], ["a b c"]], tokenize=False)
    assert score.reference_length == 3                        # |4-3| = 1 beats |4-6| = 2
    assert score.matches[0] == 4                              # each of a, b, c, d is in some reference
    tie = corpus_bleu(["a b c d"], [["a b c d e"], ["a b c"]], tokenize=False)
    assert tie.reference_length == 3                          # equally close: the shorter one


def test_tokenize_13a_golden():
    assert tokenize_13a("Hello, world!") == "Hello , world !"
    assert tokenize_13a("3.5 and 1,000, but 3-4 and a-b.") == "3.5 and 1,000 , but 3 - 4 and a-b ."
    assert tokenize_13a("l'homme (\"x\") &amp; y") == "l'homme ( \" x \" ) & y"


def test_chrf_by_hand():
    # "ab" vs "ac": order 1: 1 match of 2/2; order 2: 0 of 1/1; P = R = (1/2 + 0) / 2 = 1/4 -> F = 1/4
    assert corpus_chrf(["ab"], ["ac"]) == pytest.approx(25.0)
    assert corpus_chrf(["a b"], ["ab"]) == pytest.approx(100.0)          # spaces do not count
    assert corpus_chrf(["xyz"], ["abc"]) == 0.0


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="got 2 hypotheses and 1 references"):
        corpus_bleu(["a", "b"], ["a"])
    with pytest.raises(TypeError, match="not a single string"):
        corpus_chrf("a b", "a b")
    with pytest.raises(ValueError, match="smooth must be 'exp' or 'none'"):
        corpus_bleu(["a"], ["a"], smooth="add-k")


# --- agreement with sacreBLEU -------------------------------------------------------------------


def noisy(texts, seed):
    """Hypotheses made from references by dropping, inserting, swapping and respelling words."""
    rng = random.Random(seed)
    out = []
    for text in texts:
        words = text.split()
        if words and rng.random() < 0.4:
            words.pop(rng.randrange(len(words)))
        if rng.random() < 0.4:
            words.insert(rng.randrange(len(words) + 1), rng.choice(["le", "the", ",", "?", "très", "3.5", "-"]))
        if len(words) > 1 and rng.random() < 0.2:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
        if words and rng.random() < 0.2:
            words[0] = words[0].lower()
        out.append(" ".join(words) if rng.random() < 0.9 else "".join(words))
    return out


MADE_UP = ["The cat sat on the mat.", "Puis-je entrer ?", "Il a 3,5 ans, dit-il.", "Don't stop (now)!",
           "C'est l'heure : 17h30.", "She said \"yes\" & left.", "Go.", "A very long sentence with many words in it."]


@pytest.mark.parametrize("seed", range(6))
def test_bleu_and_chrf_equal_sacrebleu_on_made_up_corpora(seed):
    sacrebleu = sacrebleu_or_skip()
    references = MADE_UP * 3
    hypotheses = noisy(references, seed)
    assert corpus_bleu(hypotheses, references).score == pytest.approx(
        sacrebleu.corpus_bleu(hypotheses, [references]).score, abs=1e-9)
    assert corpus_chrf(hypotheses, references) == pytest.approx(
        sacrebleu.corpus_chrf(hypotheses, [references]).score, abs=1e-9)
    few = hypotheses[:2]                                       # short corpora: smoothing and zero counts
    assert corpus_bleu(few, references[:2]).score == pytest.approx(
        sacrebleu.corpus_bleu(few, [references[:2]]).score, abs=1e-9)


def test_bleu_equals_sacrebleu_with_two_references_and_lowercase():
    sacrebleu = sacrebleu_or_skip()
    first = MADE_UP * 2
    second = noisy(first, 10)
    hypotheses = noisy(first, 11)
    ours = corpus_bleu(hypotheses, [first, second], lowercase=True).score
    assert ours == pytest.approx(sacrebleu.corpus_bleu(hypotheses, [first, second], lowercase=True).score, abs=1e-9)
    assert corpus_chrf(hypotheses, [first, second]) == pytest.approx(
        sacrebleu.corpus_chrf(hypotheses, [first, second]).score, abs=1e-9)


def test_bleu_and_chrf_equal_sacrebleu_on_the_tatoeba_pairs():
    sacrebleu = sacrebleu_or_skip()
    if not PAIRS.is_file():
        pytest.skip(f"real data absent: {PAIRS} (set RNNKIT_DATA to the shared data folder)")
    lines = PAIRS.read_text(encoding="utf-8").splitlines()[::4]            # 4,000 pairs
    french = [line.split("\t")[1] for line in lines]
    english = [line.split("\t")[0] for line in lines]
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
    tokenizer = Tokenizer13a()
    assert all(tokenize_13a(text) == tokenizer(text) for text in french + english)
    hypotheses = noisy(french, 0)
    ours = translation_scores(hypotheses, french)
    assert abs(ours["bleu"] - sacrebleu.corpus_bleu(hypotheses, [french]).score) < 0.01
    assert abs(ours["chrf"] - sacrebleu.corpus_chrf(hypotheses, [french]).score) < 0.01
    assert 20 < ours["bleu"] < 95                              # a corpus where the comparison means something


# --- statistics that add up over parts of a corpus (no sacreBLEU needed) --------------------------


def _split(items, cuts):
    bounds = [0, *cuts, len(items)]
    return [items[start:stop] for start, stop in zip(bounds, bounds[1:])]


def _summed(parts):
    return [sum(values) for values in zip(*parts)]


@pytest.mark.parametrize("seed", range(4))
def test_bleu_and_chrf_from_statistics_equal_the_corpus_scores(seed):
    references = MADE_UP * 2
    hypotheses = noisy(references, seed)
    bleu = corpus_bleu(hypotheses, references)
    assert bleu_from_statistics(bleu_statistics(hypotheses, references)) == bleu          # every field, exactly
    assert chrf_from_statistics(chrf_statistics(hypotheses, references)) == corpus_chrf(hypotheses, references)
    for options in ({"lowercase": True}, {"tokenize": False}):
        assert bleu_from_statistics(bleu_statistics(hypotheses, references, **options)) == corpus_bleu(
            hypotheses, references, **options)
    assert bleu_from_statistics(bleu_statistics(hypotheses, references), smooth="none") == corpus_bleu(
        hypotheses, references, smooth="none")


@pytest.mark.parametrize("cuts", [[8], [3, 3, 11], [0, 1, 15], [16]])
def test_statistics_summed_over_a_split_corpus_give_the_corpus_scores(cuts):
    """Parts of any size (an empty one too) add up to the whole corpus's BLEU and chrF, also as the
    floats an MPI sum hands back, and with two references per sentence."""
    first = MADE_UP * 2
    second = noisy(first, 20)
    hypotheses = noisy(first, 21)
    parts = list(zip(_split(hypotheses, cuts), _split(first, cuts), _split(second, cuts)))
    bleu = _summed(bleu_statistics(hyps, refs) for hyps, refs, _ in parts)
    chrf = _summed(chrf_statistics(hyps, refs) for hyps, refs, _ in parts)
    assert bleu == bleu_statistics(hypotheses, first) and chrf == chrf_statistics(hypotheses, first)
    assert bleu_from_statistics([float(value) for value in bleu]) == corpus_bleu(hypotheses, first)
    assert chrf_from_statistics([float(value) for value in chrf]) == corpus_chrf(hypotheses, first)
    two = _summed(bleu_statistics(hyps, [refs, others]) for hyps, refs, others in parts)
    assert bleu_from_statistics(two).score == corpus_bleu(hypotheses, [first, second]).score
    two = _summed(chrf_statistics(hyps, [refs, others]) for hyps, refs, others in parts)
    assert chrf_from_statistics(two) == corpus_chrf(hypotheses, [first, second])


def test_statistics_of_nothing_and_of_the_wrong_length():
    assert bleu_statistics([], []) == [0] * 10 and chrf_statistics([], []) == [0] * 18
    assert bleu_from_statistics([0] * 10).score == 0.0 and chrf_from_statistics([0] * 18) == 0.0
    with pytest.raises(ValueError, match="expected 10 BLEU statistics"):
        bleu_from_statistics([1, 2, 3])
    with pytest.raises(ValueError, match="expected 18 chrF statistics"):
        chrf_from_statistics([1, 2, 3])
    with pytest.raises(ValueError, match="smooth must be 'exp' or 'none'"):
        bleu_from_statistics([0] * 10, smooth="add-k")
