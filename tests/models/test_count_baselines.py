"""The count baselines of word-level language models: unigram and interpolated Kneser-Ney bigram."""

import math

import numpy as np
import pytest

from rnnkit.models.count_baselines import KneserNeyBigram, StreamScore, Unigram

# Tokens 2 3 2 3 4 2 over a vocabulary of 5 (0 and 1 never seen, like <unk> and <eos>).
IDS = np.array([2, 3, 2, 3, 4, 2])


def test_kneser_ney_bigram_matches_the_hand_computed_example():
    """With D = D1 = 0.5. Bigrams (2,3) x2, (3,2), (3,4), (4,2): 4 types; c(2) = 2, c(3) = 2, c(4) = 1;
    followers N1+(2.) = 1, N1+(3.) = 2, N1+(4.) = 1; continuations N1+(.2) = 2, N1+(.3) = 1, N1+(.4) = 1.
    P_cont(w) = max(N1+(.w) - 0.5, 0) / 4 + 0.5 * 3 / 4 / 5: 0.075 for 0 and 1, 0.45 for 2, 0.2 for 3 and 4.
    P(3|2) = 1.5/2 + 0.5 * 1/2 * 0.2 = 0.8;  P(2|3) = 0.5/2 + 0.5 * 2/2 * 0.45 = 0.475;
    P(4|3) = 0.25 + 0.5 * 0.2 = 0.35;  P(0|3) = 0.5 * 0.075 = 0.0375;  P(2|4) = 0.5 + 0.5 * 0.45 = 0.725;
    an unseen context (0) falls back to P_cont."""
    model = KneserNeyBigram(5, discount=0.5, unigram_discount=0.5).fit(IDS)
    np.testing.assert_allclose(model.continuation, [0.075, 0.075, 0.45, 0.2, 0.2], rtol=1e-12)
    previous = np.array([2, 3, 3, 3, 4, 0, 0])
    targets = np.array([3, 2, 4, 0, 2, 2, 1])
    expected = [0.8, 0.475, 0.35, 0.0375, 0.725, 0.45, 0.075]
    np.testing.assert_allclose(np.exp(model.log_probs(previous, targets)), expected, rtol=1e-12)


@pytest.mark.parametrize("discounts", [(0.5, 0.5), (None, None), (1.0, 0.1)])
def test_every_context_gives_a_distribution_over_the_vocabulary(discounts):
    model = KneserNeyBigram(5, *discounts).fit(IDS)
    for context in range(5):
        probabilities = np.exp(model.log_probs(np.full(5, context), np.arange(5)))
        assert np.all(probabilities > 0)
        assert math.isclose(probabilities.sum(), 1.0, rel_tol=1e-12)


def test_ney_discounts_from_the_count_of_counts():
    model = KneserNeyBigram(5).fit(IDS)
    assert model.D == pytest.approx(3 / 5)          # bigram counts 2, 1, 1, 1: n1 = 3, n2 = 1
    assert model.D1 == pytest.approx(2 / 4)         # continuation counts 2, 1, 1: n1 = 2, n2 = 1


def test_larger_random_stream_sums_to_one_and_beats_the_unigram_on_structured_text():
    rng = np.random.default_rng(0)
    # a Markov chain: each token mostly followed by the next one
    ids = [0]
    for _ in range(5000):
        ids.append((ids[-1] + 1) % 30 if rng.random() < 0.8 else int(rng.integers(30)))
    ids = np.array(ids)
    train, test = ids[:4000], ids[4000:]
    bigram, unigram = KneserNeyBigram(40).fit(train), Unigram(40).fit(train)
    for context in (0, 7, 35):                      # 35: a token never seen
        assert math.isclose(np.exp(bigram.log_probs(np.full(40, context), np.arange(40))).sum(), 1.0, rel_tol=1e-12)
    assert math.isclose(np.exp(unigram.log_probs(np.zeros(40, int), np.arange(40))).sum(), 1.0, rel_tol=1e-12)
    assert bigram.perplexity(test) < 0.5 * unigram.perplexity(test)


def test_unigram_is_add_one_smoothed():
    model = Unigram(5).fit(IDS)                     # counts 0, 0, 3, 2, 1 of 6; denominator 6 + 5
    np.testing.assert_allclose(np.exp(model.log_table), np.array([1, 1, 4, 3, 2]) / 11, rtol=1e-12)
    assert model.perplexity(IDS) == pytest.approx((11 ** 5 / 288) ** (1 / 5))


def test_a_stream_scored_in_chunks_equals_the_whole():
    model = KneserNeyBigram(5).fit(IDS)
    stream = np.array([2, 3, 4, 2, 3, 0, 2, 3])
    score = StreamScore(model)
    for chunk in (stream[:1], stream[1:3], stream[3:3], stream[3:]):
        score.feed(chunk)
    assert score.count == len(stream) - 1
    assert score.perplexity() == pytest.approx(model.perplexity(stream), rel=1e-12)


def test_bad_input_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 5\), got values from 2 to 7"):
        KneserNeyBigram(5).fit(np.array([2, 7]))
    with pytest.raises(ValueError, match="need at least 2 tokens"):
        KneserNeyBigram(5).fit(np.array([2]))
    with pytest.raises(ValueError, match=r"discount must lie in \(0, 1\]"):
        KneserNeyBigram(5, discount=1.5)
    with pytest.raises(RuntimeError, match="not fitted yet"):
        Unigram(5).perplexity(IDS)
