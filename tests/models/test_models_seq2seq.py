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


# --- the stacked decoder, input feeding, decoder dropout ---------------------------------------

NEW_CONFIGURATIONS = [  # cell, attention, bidirectional, encoder layers, decoder layers, input feeding
    ("lstm", "general", False, 2, 2, True), ("gru", "dot", False, 2, 2, True), ("rnn", "general", True, 2, 2, True),
    ("lstm", "general", True, 3, 2, False), ("gru", None, False, 2, 2, False), ("lstm", "dot", False, 1, 1, True)]


@pytest.mark.parametrize("cell, attention, bidirectional, layers, decoder_layers, feeding", NEW_CONFIGURATIONS)
def test_stacked_and_input_feeding_gradients_match_central_differences(cell, attention, bidirectional, layers,
                                                                       decoder_layers, feeding):
    model = Seq2Seq(6, 7, bos_id=1, eos_id=2, embedding_dim=3, hidden_size=3, cell=cell, attention=attention,
                    bidirectional=bidirectional, num_layers=layers, decoder_layers=decoder_layers,
                    input_feeding=feeding, dtype=np.float64, seed=0)
    report = check_gradients(model, {}, forward=lambda m, _: m(SOURCE, SOURCE_LENGTHS, DECODER_INPUTS),
                             backward=lambda m, grad: (m.backward(grad), {})[1])
    assert {name for name, _ in model.named_parameters()} <= set(report.errors)
    assert report.worst < TOLERANCE, str(report)


@pytest.mark.parametrize("feeding", [False, True])
def test_decoder_dropout_gradients_with_fixed_masks(feeding):
    model = Seq2Seq(6, 7, bos_id=1, eos_id=2, embedding_dim=3, hidden_size=4, cell="gru", attention="general",
                    num_layers=2, decoder_layers=2, input_feeding=feeding, decoder_dropout=0.4, dtype=np.float64,
                    seed=0)

    def forward(m, _):
        m.rng = np.random.default_rng(7)                   # the same masks at every evaluation
        return m(SOURCE, SOURCE_LENGTHS, DECODER_INPUTS)

    report = check_gradients(model, {}, forward=forward, backward=lambda m, grad: (m.backward(grad), {})[1])
    assert report.worst < TOLERANCE, str(report)
    model.rng = np.random.default_rng(7)
    dropped = model(SOURCE, SOURCE_LENGTHS, DECODER_INPUTS)
    with model.inference():
        plain = model(SOURCE, SOURCE_LENGTHS, DECODER_INPUTS)   # eval mode: no dropout
    assert not np.allclose(dropped, plain)
    model.eval()
    np.testing.assert_array_equal(model(SOURCE, SOURCE_LENGTHS, DECODER_INPUTS), plain)


def reference_decoder_logits(model, source, lengths, decoder_inputs):
    """A plain NumPy loop of the equations in seq2seq.py's docstring: LSTM decoder of M = L layers,
    general attention, input feeding (written from the parameters, not with the model's code)."""
    p = {name: parameter.data for name, parameter in model.named_parameters()}
    memory, (h_n, c_n) = model.encoder(model.source_embedding(source), None, lengths)
    mask = np.arange(source.shape[1])[None, :] < np.asarray(lengths)[:, None]
    h, c = list(h_n), list(c_n)                               # decoder layer m starts from encoder layer m
    embedded = p["target_embedding.weight"][decoder_inputs]
    fed = np.zeros_like(h[0])
    logits = []
    for t in range(decoder_inputs.shape[1]):
        x = np.concatenate([embedded[:, t], fed], axis=1)
        for layer in range(model.decoder_layers):
            name = "decoder" if layer == 0 else f"decoder_{layer}"
            z = x @ p[f"{name}.weight_ih"].T + p[f"{name}.bias_ih"] + h[layer] @ p[f"{name}.weight_hh"].T \
                + p[f"{name}.bias_hh"]
            i, f, g, o = np.split(z, 4, axis=1)                # PyTorch's gate order
            sigmoid = lambda v: 1.0 / (1.0 + np.exp(-v))        # noqa: E731
            c[layer] = sigmoid(f) * c[layer] + sigmoid(i) * np.tanh(g)
            h[layer] = sigmoid(o) * np.tanh(c[layer])
            x = h[layer]
        scores = np.einsum("bh,bsh->bs", x, memory @ p["attention.weight"].T)
        scores = np.where(mask, scores, -np.inf)
        weights = np.exp(scores - scores.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        context = np.einsum("bs,bsk->bk", weights, memory)
        fed = np.tanh(np.concatenate([context, x], axis=1) @ p["combine.weight"].T + p["combine.bias"])
        logits.append(fed @ p["output.weight"].T + p["output.bias"])
    return np.stack(logits, axis=1)


def test_input_feeding_and_stacked_decoder_match_a_plain_loop():
    model = Seq2Seq(6, 7, bos_id=1, eos_id=2, embedding_dim=3, hidden_size=4, cell="lstm", attention="general",
                    num_layers=2, decoder_layers=2, input_feeding=True, dtype=np.float64, seed=2)
    expected = reference_decoder_logits(model, SOURCE, SOURCE_LENGTHS, DECODER_INPUTS)
    np.testing.assert_allclose(model(SOURCE, SOURCE_LENGTHS, DECODER_INPUTS), expected, rtol=1e-12, atol=1e-12)
    # and the one-step decoding path agrees with the teacher-forced one
    with model.inference():
        sources, state = model._start(SOURCE, SOURCE_LENGTHS)
        for t in range(DECODER_INPUTS.shape[1]):
            log_probs, state = model._step_log_probs(DECODER_INPUTS[:, t], state, sources)
            shifted = expected[:, t] - expected[:, t].max(axis=1, keepdims=True)
            np.testing.assert_allclose(log_probs, shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)),
                                       rtol=1e-10, atol=1e-12)


# Logits at the last step of models built with the code before decoder_layers, input_feeding and
# decoder_dropout existed (seed 3, float64): a model built, or loaded, without them must compute these.
OLD_GOLDEN = {
    ("lstm", "general", True, 2): [[0.2011408481, -0.1149157931, 0.0859889229],
                                   [0.2052562974, -0.1153445226, 0.0707701989]],
    ("gru", "dot", False, 1): [[0.5139680124, -0.489944308, -0.0580721261],
                               [0.5290775782, -0.5394545208, 0.004540481]],
    ("rnn", None, False, 1): [[-0.1281980247, 0.3967115023, 0.2496452842],
                              [0.0995607045, -0.4752551414, -0.440329927]],
}


@pytest.mark.parametrize("cell, attention, bidirectional, layers", list(OLD_GOLDEN))
def test_models_without_the_new_options_compute_what_they_did(cell, attention, bidirectional, layers, tmp_path):
    model = Seq2Seq(6, 7, bos_id=1, eos_id=2, embedding_dim=3, hidden_size=4, cell=cell, attention=attention,
                    bidirectional=bidirectional, num_layers=layers, dtype=np.float64, seed=3)
    logits = model(SOURCE, SOURCE_LENGTHS, DECODER_INPUTS)
    np.testing.assert_allclose(logits[:, -1, :3], OLD_GOLDEN[cell, attention, bidirectional, layers], atol=1e-9)
    # a file written before the options existed has a config without them
    model.config = {key: value for key, value in model.config.items()
                    if key not in ("decoder_layers", "input_feeding", "decoder_dropout")}
    rnnkit.save(model, tmp_path / "old.safetensors")
    again = rnnkit.load(tmp_path / "old.safetensors")
    assert (again.decoder_layers, again.input_feeding, again.decoder_dropout) == (1, False, 0.0)
    np.testing.assert_array_equal(again(SOURCE, SOURCE_LENGTHS, DECODER_INPUTS), logits)


def sequence_log_prob(model, source, lengths, tokens):
    """log p(tokens <eos> | source) by teacher forcing (one source row)."""
    inputs, targets, target_lengths = model.prepare_targets([tokens])
    with model.inference():
        logits = model(source, lengths, inputs)[0].astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(log_probs[np.arange(len(tokens) + 1), targets[0]].sum())


@pytest.mark.parametrize("cell, feeding, length_penalty", [("lstm", True, 0.0), ("gru", True, 1.0),
                                                           ("rnn", False, 0.6)])
def test_wide_beam_search_equals_exhaustive_search(cell, feeding, length_penalty):
    """With a beam wider than all hypotheses, beam search finds the best of every output of at most
    max_length - 1 tokens (scored by teacher forcing, normalised by (tokens + 1) ** length_penalty)."""
    import itertools

    model = Seq2Seq(6, 5, bos_id=1, eos_id=2, embedding_dim=3, hidden_size=4, cell=cell, attention="general",
                    num_layers=2, decoder_layers=2, input_feeding=feeding, dtype=np.float64, seed=11)
    max_length = 3
    tokens = [0, 1, 3, 4]                                      # every id but <eos>
    for row in range(2):
        source, lengths = SOURCE[row:row + 1], SOURCE_LENGTHS[row:row + 1]
        best, best_score = None, -np.inf
        for size in range(max_length):
            for sequence in itertools.product(tokens, repeat=size):
                score = sequence_log_prob(model, source, lengths, list(sequence)) / (size + 1) ** length_penalty
                if score > best_score:
                    best, best_score = list(sequence), score
        found = model.beam_search(source, lengths, beam_size=100, max_length=max_length,
                                  length_penalty=length_penalty)[0]
        assert found == best


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_endings_as_likely_as_any_wrong_token_do_not_cut_the_search_short(monkeypatch, length_penalty):
    """A label-smoothed model gives <eos> the small probability of every wrong token. Beam search
    once stopped when beam_size such early endings had piled up, before the right output ended."""
    model = Seq2Seq(6, 8, bos_id=1, eos_id=2, embedding_dim=3, hidden_size=4, dtype=np.float64, seed=0)
    wanted = [3, 4, 5, 6, 7, 3]

    def start(source, lengths):                     # sources: a dummy; state: (tokens emitted, prefix right)
        return (np.zeros((len(source), 1)),), np.tile([0, 1], (len(source), 1))

    def step(tokens, state, sources):
        # After a right prefix: 0.9 on the right next token (<eos> at the end), the rest shared evenly;
        # after a wrong token: every token equally likely, <eos> included.
        emitted, right = state[:, 0], state[:, 1].astype(bool)
        right = right & ((emitted == 0) | (tokens == np.array(wanted + [0])[emitted - 1]))
        log_probs = np.full((len(tokens), 8), np.log(1 / 8))
        for index in np.flatnonzero(right):
            log_probs[index] = np.log(0.1 / 7)
            log_probs[index, wanted[emitted[index]] if emitted[index] < len(wanted) else model.eos_id] = np.log(0.9)
        return log_probs, np.stack([emitted + 1, right], axis=1)

    monkeypatch.setattr(model, "_start", start)
    monkeypatch.setattr(model, "_step_log_probs", step)
    assert model.beam_search(SOURCE[:1], SOURCE_LENGTHS[:1], beam_size=5, max_length=10,
                             length_penalty=length_penalty) == [wanted]


def test_new_options_are_checked():
    with pytest.raises(ValueError, match="input_feeding=True .* needs attention"):
        Seq2Seq(5, 5, bos_id=1, eos_id=2, input_feeding=True)
    with pytest.raises(ValueError, match="decoder_layers must be at most num_layers=1 .*got 2"):
        Seq2Seq(5, 5, bos_id=1, eos_id=2, decoder_layers=2)
    with pytest.raises(ValueError, match=r"decoder_dropout must be a number in \[0, 1\), got 1.5"):
        Seq2Seq(5, 5, bos_id=1, eos_id=2, decoder_dropout=1.5)


def test_label_smoothing_in_the_loss():
    model = Seq2Seq(6, 7, bos_id=1, eos_id=2, embedding_dim=3, hidden_size=3, dtype=np.float64, seed=0)
    inputs, targets, lengths = model.prepare_targets([[3, 4, 5], [6]])
    logits = model(SOURCE, SOURCE_LENGTHS, inputs)
    plain, _ = model.loss(logits, targets, lengths)
    smoothed, d_smoothed = model.loss(logits, targets, lengths, label_smoothing=0.2)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    steps = [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)]
    expected = np.mean([-0.8 * log_probs[b, t, targets[b, t]] - 0.2 * log_probs[b, t].mean() for b, t in steps])
    assert smoothed == pytest.approx(expected, rel=1e-12) and smoothed != pytest.approx(plain)
    assert np.all(d_smoothed[1, 2:] == 0.0)


# --- tied target embeddings ---------------------------------------------------------------

@pytest.mark.parametrize("cell, feeding", [("lstm", True), ("gru", False)])
def test_tied_embeddings_gradients_match_central_differences(cell, feeding):
    model = Seq2Seq(6, 7, bos_id=1, eos_id=2, embedding_dim=3, hidden_size=3, cell=cell, attention="general",
                    input_feeding=feeding, tie_embeddings=True, dtype=np.float64, seed=0)
    assert model.output.weight is model.target_embedding.weight
    # The padding row (id 0) of the shared table stays zero, so its gradient is kept at 0: the loss
    # leaves out the <pad> logit, the only place that row would act (no decoder input is <pad>).
    report = check_gradients(model, {}, forward=lambda m, _: m(SOURCE, SOURCE_LENGTHS, DECODER_INPUTS)[..., 1:],
                             backward=lambda m, grad: (m.backward(np.pad(grad, [(0, 0), (0, 0), (1, 0)])), {})[1])
    assert {name for name, _ in model.named_parameters()} <= set(report.errors)
    assert report.worst < TOLERANCE, str(report)


def test_tied_embeddings_keep_the_padding_row_and_round_trip(tmp_path):
    model = Seq2Seq(6, 7, bos_id=1, eos_id=2, embedding_dim=4, hidden_size=4, attention="general",
                    input_feeding=True, tie_embeddings=True, seed=0)
    logits = model(SOURCE, SOURCE_LENGTHS, DECODER_INPUTS)
    model.backward(np.ones_like(logits))
    assert not model.target_embedding.weight.grad[model.pad_id].any()
    assert "output.weight" not in dict(model.named_parameters())        # one table, saved and updated once
    rnnkit.save(model, tmp_path / "tied.safetensors")
    again = rnnkit.load(tmp_path / "tied.safetensors")
    assert again.config["tie_embeddings"] is True and again.output.weight is again.target_embedding.weight
    np.testing.assert_array_equal(again(SOURCE, SOURCE_LENGTHS, DECODER_INPUTS), logits)
    with pytest.raises(ValueError, match="embedding_dim == hidden_size"):
        Seq2Seq(6, 7, bos_id=1, eos_id=2, embedding_dim=3, hidden_size=4, tie_embeddings=True)
