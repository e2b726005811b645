"""SequenceTagger: gradients, masked loss over padding, learning a context task, save/load, errors."""

import numpy as np
import pytest

import rnnkit
from rnnkit import optim
from rnnkit.gradcheck import check_gradients
from rnnkit.models import SequenceTagger
from rnnkit.models.metrics import token_accuracy

TOLERANCE = 1e-6


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_gradients_match_central_differences(cell, bidirectional, rng):
    model = SequenceTagger(3, input_size=2, hidden_size=3, cell=cell, bidirectional=bidirectional,
                           dtype=np.float64, seed=0)
    x = rng.standard_normal((3, 4, 2))
    lengths = np.array([4, 1, 3])
    report = check_gradients(model, {"x": x},
                             forward=lambda m, inputs: m(inputs["x"], lengths),
                             backward=lambda m, grad: {"x": m.backward(grad)})
    assert {name for name, _ in model.named_parameters()} | {"input x"} <= set(report.errors)
    assert report.worst < TOLERANCE, str(report)


def test_gradients_of_the_masked_loss_with_token_ids():
    """The whole chain, ids -> masked cross entropy, against central differences of the loss."""
    model = SequenceTagger(4, vocab_size=6, embedding_dim=3, hidden_size=3, num_layers=2, dtype=np.float64, seed=2)
    ids = np.array([[1, 2, 3, 4], [5, 1, 0, 0]])
    tags = np.array([[0, 1, 2, 3], [3, 3, -1, -1]])
    lengths = np.array([4, 2])

    def loss_and_grad():
        loss, d_logits = model.loss(model(ids, lengths), tags, lengths)
        return loss, d_logits

    model.zero_grad()
    _, d_logits = loss_and_grad()
    model.backward(d_logits)
    for name, parameter in model.named_parameters():
        flat = parameter.data.reshape(-1)
        numeric = np.empty(flat.size)
        for index in range(flat.size):
            original = flat[index]
            flat[index] = original + 1e-6
            plus = loss_and_grad()[0]
            flat[index] = original - 1e-6
            minus = loss_and_grad()[0]
            flat[index] = original
            numeric[index] = (plus - minus) / 2e-6
        scale = max(np.abs(numeric).max(), np.abs(parameter.grad).max(), 1e-8)
        assert np.abs(parameter.grad.reshape(-1) - numeric).max() / scale < TOLERANCE, name


def test_padding_changes_neither_loss_nor_gradients(rng):
    model = SequenceTagger(3, vocab_size=6, embedding_dim=3, hidden_size=4, dtype=np.float64, seed=0)
    short_ids, short_tags = np.array([[1, 2, 3]]), np.array([[0, 1, 2]])
    long_ids, long_tags = np.array([[1, 2, 3, 5, 5]]), np.array([[0, 1, 2, 7, -4]])

    def run(ids, tags, lengths):
        model.zero_grad()
        loss, d_logits = model.loss(model(ids, lengths), tags, lengths)
        model.backward(d_logits)
        return loss, [p.grad.copy() for p in model.parameters()], d_logits

    loss_short, grads_short, _ = run(short_ids, short_tags, None)
    loss_long, grads_long, d_long = run(long_ids, long_tags, [3])
    assert loss_long == pytest.approx(loss_short, rel=1e-12)
    for short, long in zip(grads_short, grads_long):
        np.testing.assert_allclose(long, short, rtol=1e-10, atol=1e-14)
    assert np.all(d_long[0, 3:] == 0.0)


def next_token_task(rng, count, steps=7):
    """Tag 1 when the NEXT token is 3, else 0: only a tagger that reads ahead can do it."""
    lengths = rng.integers(3, steps + 1, size=count)
    ids = np.zeros((count, steps), dtype=np.int64)
    tags = np.full((count, steps), -1)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(1, 5, size=length)
        tags[row, :length] = 0
        tags[row, :length - 1] = ids[row, 1:length] == 3
    return ids, tags, lengths


def test_bidirectional_tagger_learns_to_read_ahead():
    rng = np.random.default_rng(0)
    model = SequenceTagger(2, vocab_size=5, embedding_dim=6, hidden_size=10, cell="gru", padding_idx=0, seed=0)
    optimizer = optim.Adam(model.parameters(), lr=0.03)
    for _ in range(150):
        ids, tags, lengths = next_token_task(rng, 32)
        loss, d_logits = model.loss(model(ids, lengths), tags, lengths)
        model.backward(d_logits)
        optimizer.step()
        optimizer.zero_grad()
    ids, tags, lengths = next_token_task(np.random.default_rng(5), 200)
    predictions = model.predict(ids, lengths)
    assert np.all(predictions[tags == -1] == -1)
    accuracy = token_accuracy(predictions, tags, mask=tags != -1)
    assert accuracy > 0.95, accuracy


def test_save_load_round_trip(tmp_path, rng):
    model = SequenceTagger(5, input_size=3, hidden_size=4, cell="rnn", num_layers=2, seed=1)
    rnnkit.save(model, tmp_path / "tagger.safetensors")
    again = rnnkit.load(tmp_path / "tagger.safetensors")
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(again(x, [4, 2]), model(x, [4, 2]))


def test_bad_inputs_name_expected_and_given(rng):
    model = SequenceTagger(3, vocab_size=6, hidden_size=3, seed=0)
    logits = model(np.array([[1, 2, 3]]))
    with pytest.raises(ValueError, match=r"tags must have shape \(B, T\) = \(1, 3\), got \(3,\)"):
        model.loss(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"tags must lie in \[0, 3\), got 5"):
        model.loss(logits, np.array([[0, 5, 2]]))
    with pytest.raises(ValueError, match=r"logits must have shape \(B, T, 3\), got \(1, 3, 2\)"):
        model.loss(logits[..., :2], np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match=r"d_logits must have shape .*got \(1, 3, 4\)"):
        model.backward(np.zeros((1, 3, 4)))
    with pytest.raises(ValueError, match="num_tags must be an int >= 2, got 1"):
        SequenceTagger(1, vocab_size=3)


# --- CRF output layer, character features, feature columns ---------------------------------------------
def crf_char_batch():
    from rnnkit.layers.char_encoder import CHAR_SPECIALS, character_ids

    index = {character: number for number, character in enumerate(CHAR_SPECIALS + tuple("abcdef"))}
    sentences = [["ab", "c", "def", "a"], ["fed", "", "x", "x"]]           # an empty token, an unknown char
    lengths = np.array([4, 2])
    width = 8
    chars = np.zeros((2, 4, width), dtype=np.int64)
    char_lengths = np.zeros((2, 4), dtype=np.int64)
    for row, words in enumerate(sentences):
        ids, word_lengths = character_ids(words[:lengths[row]], index)
        chars[row, :lengths[row], :ids.shape[1]] = ids
        char_lengths[row, :lengths[row]] = word_lengths
    features = np.array([[[1, 2], [2, 1], [1, 1], [3, 2]], [[2, 2], [1, 1], [0, 0], [0, 0]]])
    return len(index), chars, char_lengths, features, lengths


@pytest.mark.parametrize("char_encoder", ["cnn", "lstm"])
def test_crf_tagger_with_characters_and_features_matches_central_differences(char_encoder):
    """ids + chars + feature columns -> BiLSTM -> CRF negative log-likelihood, every parameter."""
    num_chars, chars, char_lengths, features, lengths = crf_char_batch()
    names = ["B-X", "I-X", "O"]
    model = SequenceTagger(3, vocab_size=6, embedding_dim=3, hidden_size=3, crf=True, crf_tags=names,
                           char_encoder=char_encoder, num_chars=num_chars, char_embedding_dim=2,
                           char_hidden_size=3, feature_sizes=[4, 3], feature_embedding_dim=2,
                           dtype=np.float64, seed=2)
    ids = np.array([[1, 2, 3, 4], [5, 1, 0, 0]])
    tags = np.array([[2, 0, 1, 2], [0, 1, -1, -1]])

    def loss_and_grad():
        return model.loss(model(ids, lengths, chars=chars, char_lengths=char_lengths, features=features),
                          tags, lengths)

    model.zero_grad()
    _, d_logits = loss_and_grad()
    model.backward(d_logits)
    names_checked = []
    for name, parameter in model.named_parameters():
        flat = parameter.data.reshape(-1)
        numeric = np.empty(flat.size)
        for index in range(flat.size):
            original = flat[index]
            flat[index] = original + 1e-6
            with rnnkit.no_grad():
                plus = loss_and_grad()[0]
            flat[index] = original - 1e-6
            with rnnkit.no_grad():
                minus = loss_and_grad()[0]
            flat[index] = original
            numeric[index] = (plus - minus) / 2e-6
        scale = max(np.abs(numeric).max(), np.abs(parameter.grad).max(), 1e-8)
        assert np.abs(parameter.grad.reshape(-1) - numeric).max() / scale < TOLERANCE, name
        names_checked.append(name)
    assert {"crf.transitions", "chars.embedding.weight", "feature_embedding_1.weight"} <= set(names_checked)


def test_crf_tagger_decodes_with_viterbi_and_round_trips(tmp_path):
    num_chars, chars, char_lengths, features, lengths = crf_char_batch()
    model = SequenceTagger(3, vocab_size=6, embedding_dim=3, hidden_size=4, crf=True, crf_tags=["B-X", "I-X", "O"],
                           char_encoder="cnn", num_chars=num_chars, feature_sizes=[4, 3], seed=0)
    model.crf.transitions.data[2, 1] = 50.0                     # O -> I-X would win, but is forbidden
    ids = np.array([[1, 2, 3, 4], [5, 1, 0, 0]])
    inputs = {"chars": chars, "char_lengths": char_lengths, "features": features}
    predicted = model.predict(ids, lengths, **inputs)
    assert np.all(predicted[1, 2:] == -1)
    with model.inference():
        logits = model(ids, lengths, **inputs)
    np.testing.assert_array_equal(predicted, model.crf.decode(logits, np.arange(4)[None] < lengths[:, None]))
    rnnkit.save(model, tmp_path / "tagger.safetensors")
    again = rnnkit.load(tmp_path / "tagger.safetensors")
    np.testing.assert_array_equal(again.crf.transitions.data, model.crf.transitions.data)
    np.testing.assert_array_equal(again.predict(ids, lengths, **inputs), predicted)
    assert again.crf.allowed.tolist() == model.crf.allowed.tolist()


def test_tagger_new_options_are_checked():
    with pytest.raises(ValueError, match="'NOUN'"):
        SequenceTagger(2, vocab_size=5, crf=True, crf_tags=["NOUN", "VERB"])
    with pytest.raises(ValueError, match="need crf=True"):
        SequenceTagger(2, vocab_size=5, crf_tags=["B-X", "O"])
    with pytest.raises(ValueError, match="num_chars"):
        SequenceTagger(2, vocab_size=5, char_encoder="cnn")
    model = SequenceTagger(2, vocab_size=5, char_encoder="cnn", num_chars=6, seed=0)
    with pytest.raises(ValueError, match="reads characters"):
        model(np.array([[1, 2]]))
    assert "crf" not in SequenceTagger(2, vocab_size=5).config     # old configs stay as they were
