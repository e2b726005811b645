"""Seq2Seq and LuongAttention: gradients, masking, learning to reverse, decoding, save/load, the dates task."""

import datetime

import numpy as np
import pytest

import rnnkit
from rnnkit import optim
from rnnkit.data.dates import FORMATS, date_pairs, format_date, is_held_out
from rnnkit.gradcheck import check_gradients
from rnnkit.models import LuongAttention, Seq2Seq

# Relative to each tensor's largest gradient. Through a two-layer bidirectional encoder and
# attention some gradients are ~1e-4, where central-difference rounding alone reaches ~1e-6.
TOLERANCE = 1e-5

SOURCE = np.array([[3, 4, 5, 0], [4, 5, 3, 3]])
SOURCE_LENGTHS = np.array([3, 4])
DECODER_INPUTS = np.array([[1, 3, 4], [1, 5, 6]])   # no pad id here: every input reaches the logits


@pytest.mark.parametrize("score", ["dot", "general"])
def test_attention_gradients(score, rng):
    query_size = 4 if score == "dot" else 3
    attention = LuongAttention(query_size, 4, score=score, dtype=np.float64, seed=0)
    inputs = {"query": rng.standard_normal((2, 3, query_size)), "keys": rng.standard_normal((2, 5, 4))}
    mask = np.array([[True, True, True, False, False], [True] * 5])
    report = check_gradients(attention, inputs, forward=lambda m, i: m(i["query"], i["keys"], mask)[0],
                             backward=lambda m, grad: dict(zip(("query", "keys"), m.backward(grad))))
    assert report.worst < 1e-7, str(report)


def test_attention_ignores_padded_keys(rng):
    attention = LuongAttention(3, 3, score="dot", dtype=np.float64)
    keys = rng.standard_normal((1, 4, 3))
    mask = np.array([[True, True, False, False]])
    context, weights = attention(rng.standard_normal((1, 2, 3)), keys, mask)
    assert np.all(weights[:, :, 2:] == 0.0)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0)
    changed = keys.copy()
    changed[:, 2:] = 1e3                                    # huge padded keys change nothing
    np.testing.assert_array_equal(attention(attention._cache[0], changed, mask)[0], context)
    _, d_keys = attention.backward(np.ones_like(context))
    assert np.all(d_keys[:, 2:] == 0.0)


CONFIGURATIONS = [("lstm", None, False), ("lstm", None, True), ("lstm", "dot", False), ("lstm", "general", False),
                  ("lstm", "general", True), ("gru", None, False), ("gru", "dot", False), ("gru", "general", True),
                  ("rnn", None, True), ("rnn", "general", False)]


@pytest.mark.parametrize("cell, attention, bidirectional", CONFIGURATIONS)
def test_gradients_match_central_differences(cell, attention, bidirectional):
    model = Seq2Seq(6, 7, bos_id=1, eos_id=2, embedding_dim=3, hidden_size=3, cell=cell, attention=attention,
                    bidirectional=bidirectional, num_layers=2 if bidirectional else 1, dtype=np.float64, seed=0)
    report = check_gradients(model, {}, forward=lambda m, _: m(SOURCE, SOURCE_LENGTHS, DECODER_INPUTS),
                             backward=lambda m, grad: (m.backward(grad), {})[1])
    assert {name for name, _ in model.named_parameters()} <= set(report.errors)
    assert report.worst < TOLERANCE, str(report)


def test_source_padding_changes_nothing():
    model = Seq2Seq(6, 7, bos_id=1, eos_id=2, embedding_dim=3, hidden_size=4, bidirectional=True,
                    attention="general", dtype=np.float64, seed=0)
    short = model(np.array([[3, 4]]), None, DECODER_INPUTS[:1])
    padded = model(np.array([[3, 4, 5, 5]]), [2], DECODER_INPUTS[:1])
    np.testing.assert_allclose(padded, short, rtol=1e-12, atol=1e-12)


def test_prepare_targets_and_masked_loss():
    model = Seq2Seq(6, 7, bos_id=1, eos_id=2, pad_id=0, embedding_dim=3, hidden_size=3, seed=0)
    inputs, targets, lengths = model.prepare_targets([[3, 4, 5], [6]])
    assert inputs.tolist() == [[1, 3, 4, 5], [1, 6, 0, 0]]
    assert targets.tolist() == [[3, 4, 5, 2], [6, 2, 0, 0]]
    assert lengths.tolist() == [4, 2]
    _, d_logits = model.loss(model(SOURCE, SOURCE_LENGTHS, inputs), targets, lengths)
    assert np.all(d_logits[1, 2:] == 0.0)


def reversal_batch(rng, count):
    lengths = rng.integers(2, 6, size=count)
    sequences = [rng.integers(3, 8, size=length) for length in lengths]
    source = np.zeros((count, 5), dtype=np.int64)
    for row, sequence in enumerate(sequences):
        source[row, :len(sequence)] = sequence
    return source, lengths, [sequence[::-1].tolist() for sequence in sequences]


@pytest.fixture(scope="module")
def reverser():
    """An attention model trained to reverse digit strings of length 2-5 (ids 3..7)."""
    model = Seq2Seq(8, 8, bos_id=1, eos_id=2, embedding_dim=16, hidden_size=32, cell="lstm", attention="general",
                    seed=0)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    for _ in range(200):
        source, lengths, targets = reversal_batch(rng, 32)
        inputs, outputs, target_lengths = model.prepare_targets(targets)
        loss, d_logits = model.loss(model(source, lengths, inputs), outputs, target_lengths)
        model.backward(d_logits)
        rnnkit.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        optimizer.zero_grad()
    return model


def test_learns_to_reverse_digit_strings(reverser):
    source, lengths, targets = reversal_batch(np.random.default_rng(9), 200)
    greedy = reverser.greedy_decode(source, lengths, max_length=8)
    assert np.mean([decoded == target for decoded, target in zip(greedy, targets)]) > 0.9
    beam = reverser.beam_search(source[:50], lengths[:50], beam_size=3, max_length=8)
    assert np.mean([decoded == target for decoded, target in zip(beam, targets[:50])]) > 0.9


def test_beam_of_one_is_greedy(reverser):
    source, lengths, _ = reversal_batch(np.random.default_rng(3), 40)
    assert reverser.beam_search(source, lengths, beam_size=1, max_length=8) == \
        reverser.greedy_decode(source, lengths, max_length=8)


@pytest.mark.parametrize("cell, attention", [("gru", None), ("rnn", "dot"), ("lstm", "general")])
def test_beam_of_one_is_greedy_untrained_and_length_limit(cell, attention):
    model = Seq2Seq(6, 9, bos_id=1, eos_id=2, embedding_dim=3, hidden_size=5, cell=cell, attention=attention,
                    seed=4)
    greedy = model.greedy_decode(SOURCE, SOURCE_LENGTHS, max_length=6)
    assert model.beam_search(SOURCE, SOURCE_LENGTHS, beam_size=1, max_length=6) == greedy
    assert all(len(tokens) <= 6 and 2 not in tokens for tokens in greedy)
    for tokens in model.beam_search(SOURCE, SOURCE_LENGTHS, beam_size=4, max_length=3, length_penalty=0.6):
        assert len(tokens) <= 3 and 2 not in tokens


def test_save_load_round_trip(tmp_path):
    model = Seq2Seq(6, 7, bos_id=1, eos_id=2, embedding_dim=3, hidden_size=4, cell="gru", bidirectional=True,
                    attention="general", seed=5)
    rnnkit.save(model, tmp_path / "seq2seq.safetensors")
    again = rnnkit.load(tmp_path / "seq2seq.safetensors")
    assert again.config == model.config
    np.testing.assert_array_equal(again(SOURCE, SOURCE_LENGTHS, DECODER_INPUTS),
                                  model(SOURCE, SOURCE_LENGTHS, DECODER_INPUTS))


def test_bad_arguments_name_expected_and_given():
    with pytest.raises(ValueError, match="attention='dot' needs encoder outputs of the decoder's width 4, "
                                         "but a bidirectional encoder gives 8"):
        Seq2Seq(5, 5, bos_id=1, eos_id=2, hidden_size=4, bidirectional=True, attention="dot")
    with pytest.raises(ValueError, match=r"eos_id must lie in \[0, target_vocab_size=5\), got 7"):
        Seq2Seq(5, 5, bos_id=1, eos_id=7)
    with pytest.raises(ValueError, match="attention must be one of"):
        Seq2Seq(5, 5, bos_id=1, eos_id=2, attention="bahdanau")
    with pytest.raises(ValueError, match="score='dot' needs query_size == key_size, got 3 and 4"):
        LuongAttention(3, 4, score="dot")
    model = Seq2Seq(6, 7, bos_id=1, eos_id=2, embedding_dim=3, hidden_size=3, seed=0)
    with pytest.raises(ValueError, match=r"decoder_inputs must have shape \(B, T\) with B = 2.*got shape \(3, 2\)"):
        model(SOURCE, SOURCE_LENGTHS, np.ones((3, 2), dtype=int))
    with pytest.raises(ValueError, match=r"source must have shape \(B, S\) of token ids, got shape \(4,\)"):
        model(SOURCE[0], None, DECODER_INPUTS)
    with pytest.raises(ValueError, match="beam_size must be an int >= 1, got 0"):
        model.beam_search(SOURCE, beam_size=0)


# --- the dates task -------------------------------------------------------------------------


def test_date_pairs_are_seeded_and_the_test_split_is_fixed():
    train_a, test_a = date_pairs(300, 100, seed=1)
    train_b, test_b = date_pairs(300, 100, seed=1)
    train_c, test_c = date_pairs(300, 100, seed=2)
    assert train_a == train_b and test_a == test_b
    assert train_a != train_c and test_a == test_c             # the held-out split ignores the seed
    train_dates = {target for _, target in train_a + train_c}
    test_dates = {target for _, target in test_a}
    assert not train_dates & test_dates
    for _, target in train_a + test_a:
        assert datetime.date.fromisoformat(target).isoformat() == target


def test_date_sources_cover_many_formats():
    train, _ = date_pairs(400, 1, seed=0)
    sources = [source for source, _ in train]
    assert any("/" in s for s in sources) and any("," in s for s in sources) and any("." in s for s in sources)
    assert any(s.isupper() for s in sources) and any(s.islower() and s[0].isalpha() for s in sources)
    assert len({source for source, _ in train}) > 350


@pytest.mark.parametrize("pattern, expected", [
    ("{d} {Month} {Y}", "3 March 2021"), ("{Month} {d}, {Y}", "March 3, 2021"), ("{mm}/{dd}/{yy}", "03/03/21"),
    ("{Y}.{m}.{d}", "2021.3.3"), ("{Wkd} {d} {Mon} {Y}", "Wed 3 Mar 2021"), ("{ord} of {Month} {Y}", "3rd of March 2021"),
])
def test_format_date_golden(pattern, expected):
    assert pattern in FORMATS
    assert format_date(datetime.date(2021, 3, 3), pattern) == expected


def test_held_out_fraction():
    start = datetime.date(2000, 1, 1).toordinal()
    share = np.mean([is_held_out(datetime.date.fromordinal(start + day)) for day in range(3000)])
    assert 0.07 < share < 0.13
