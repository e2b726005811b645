"""SequenceClassifier: gradients, length handling, pooling, learning, save/load, input errors."""

import numpy as np
import pytest

import rnnkit
from rnnkit import optim
from rnnkit.gradcheck import check_gradients
from rnnkit.models import SequenceClassifier

TOLERANCE = 1e-6


def features_and_lengths(rng, batch=3, steps=5, size=2):
    return rng.standard_normal((batch, steps, size)), np.array([5, 2, 4])[:batch]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_gradients_match_central_differences(cell, pooling, bidirectional, rng):
    model = SequenceClassifier(3, input_size=2, hidden_size=3, cell=cell, pooling=pooling,
                               bidirectional=bidirectional, dtype=np.float64, seed=0)
    x, lengths = features_and_lengths(rng)
    report = check_gradients(model, {"x": x},
                             forward=lambda m, inputs: m(inputs["x"], lengths),
                             backward=lambda m, grad: {"x": m.backward(grad)})
    assert {name for name, _ in model.named_parameters()} | {"input x"} <= set(report.errors)
    assert report.worst < TOLERANCE, str(report)


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_gradients_binary_token_ids_two_layers(pooling, rng):
    model = SequenceClassifier(2, vocab_size=7, embedding_dim=3, hidden_size=3, num_layers=2,
                               bidirectional=True, pooling=pooling, padding_idx=0, dtype=np.float64, seed=1)
    ids = np.array([[1, 2, 3, 4], [5, 6, 0, 0], [2, 2, 1, 0]])
    lengths = np.array([4, 2, 3])
    report = check_gradients(model, {}, forward=lambda m, _: m(ids, lengths),
                             backward=lambda m, grad: (m.backward(grad), {})[1])
    assert "inputs.embedding.weight" in report.errors
    assert report.worst < TOLERANCE, str(report)


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_does_not_change_the_result(pooling, bidirectional, rng):
    """A padded sequence with its length gives exactly the logits of the unpadded sequence."""
    model = SequenceClassifier(4, input_size=2, hidden_size=4, cell="gru", pooling=pooling,
                               bidirectional=bidirectional, dtype=np.float64, seed=0)
    x = rng.standard_normal((1, 3, 2))
    padded = np.concatenate([x, 100.0 * rng.standard_normal((1, 4, 2))], axis=1)
    np.testing.assert_allclose(model(padded, lengths=[3]), model(x), rtol=1e-12, atol=1e-12)


def test_last_pooling_reads_the_last_valid_step_and_the_reverse_first_step(rng):
    model = SequenceClassifier(3, input_size=2, hidden_size=4, bidirectional=True, dtype=np.float64, seed=0)
    x, lengths = features_and_lengths(rng)
    y, (h_n, _) = model.recurrent(x, None, lengths)
    model(x, lengths)
    rows = np.arange(3)
    np.testing.assert_array_equal(h_n[0], y[rows, lengths - 1, :4])
    np.testing.assert_array_equal(h_n[1], y[:, 0, 4:])


def test_probabilities(rng):
    x, lengths = features_and_lengths(rng)
    binary = SequenceClassifier(2, input_size=2, hidden_size=3, seed=0)
    multi = SequenceClassifier(5, input_size=2, hidden_size=3, dropout=0.5, seed=0)
    for model, classes in ((binary, 2), (multi, 5)):
        probabilities = model.predict_proba(x, lengths)
        assert probabilities.shape == (3, classes)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
        np.testing.assert_array_equal(model.predict(x, lengths), probabilities.argmax(axis=1))
    assert multi.training                                 # predict_proba restores the mode
    assert binary(x, lengths).shape == (3,)


def first_token_task(rng, count, vocab_size=8):
    """Label = which of the tokens 1, 2, 3 opens the sequence; the rest is noise from 1..7."""
    lengths = rng.integers(3, 9, size=count)
    ids = np.zeros((count, 8), dtype=np.int64)
    labels = rng.integers(0, 3, size=count)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(1, vocab_size, size=length)
        ids[row, 0] = labels[row] + 1
    return ids, lengths, labels


def train(model, batches, steps, lr):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    for step in range(steps):
        ids, lengths, labels = batches(step)
        loss, d_logits = model.loss(model(ids, lengths), labels)
        model.backward(d_logits)
        rnnkit.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        optimizer.zero_grad()
    return loss


def test_learns_to_remember_the_first_token():
    rng = np.random.default_rng(0)
    model = SequenceClassifier(3, vocab_size=8, embedding_dim=8, hidden_size=16, cell="lstm",
                               padding_idx=0, seed=0)
    train(model, lambda step: first_token_task(rng, 32), steps=250, lr=0.02)
    ids, lengths, labels = first_token_task(np.random.default_rng(99), 200)
    accuracy = np.mean(model.predict(ids, lengths) == labels)
    assert accuracy > 0.9, accuracy


def test_learns_binary_contains_token_with_max_pooling():
    """Binary label: does token 5 occur? Max pooling over a GRU picks up the detector."""
    rng = np.random.default_rng(1)

    def batch(count=32, generator=rng):
        ids, lengths, _ = first_token_task(generator, count)
        labels = np.array([int(5 in row[:n]) for row, n in zip(ids, lengths)])
        return ids, lengths, labels

    model = SequenceClassifier(2, vocab_size=8, embedding_dim=8, hidden_size=12, cell="gru", pooling="max",
                               padding_idx=0, seed=0)
    train(model, lambda step: batch(), steps=200, lr=0.02)
    ids, lengths, labels = batch(200, np.random.default_rng(7))
    accuracy = np.mean(model.predict(ids, lengths) == labels)
    assert accuracy > 0.9, accuracy


def test_save_load_round_trip(tmp_path, rng):
    model = SequenceClassifier(3, vocab_size=9, embedding_dim=4, hidden_size=5, cell="gru", num_layers=2,
                               bidirectional=True, pooling="mean", padding_idx=0, seed=3)
    path = tmp_path / "classifier.safetensors"
    rnnkit.save(model, path)
    again = rnnkit.load(path)
    assert isinstance(again, SequenceClassifier) and again.config == model.config
    ids = np.array([[1, 2, 3], [4, 0, 0]])
    np.testing.assert_array_equal(again(ids, [3, 1]), model(ids, [3, 1]))


@pytest.mark.parametrize("kwargs, message", [
    ({"num_classes": 1, "input_size": 2}, "num_classes must be an int >= 2, got 1"),
    ({"num_classes": 3}, "give vocab_size (token ids in) or input_size"),
    ({"num_classes": 3, "vocab_size": 5, "input_size": 2}, "not both"),
    ({"num_classes": 3, "input_size": 2, "pooling": "avg"}, "pooling must be one of ['last', 'mean', 'max'], got 'avg'"),
    ({"num_classes": 3, "input_size": 2, "cell": "transformer"}, "cell must be one of"),
    ({"num_classes": 3, "input_size": 2, "padding_idx": 0}, "padding_idx is only for token ids"),
    ({"num_classes": 3, "input_size": 2, "embedding_dim": 8}, "embedding_dim is only for token ids"),
])
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError) as error:
        SequenceClassifier(**kwargs)
    assert message in str(error.value)


def test_bad_inputs_name_expected_and_given(rng):
    model = SequenceClassifier(3, input_size=2, hidden_size=3, seed=0)
    with pytest.raises(ValueError, match=r"x must have shape .*\(B, T, D\), got \(3, 5, 4\) \(axis 2: expected 2, got 4\)"):
        model(rng.standard_normal((3, 5, 4)))
    with pytest.raises(ValueError, match=r"lengths must have shape \(3,\).*got \(2,\)"):
        model(rng.standard_normal((3, 5, 2)), lengths=[1, 2])
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, T=5\], got 6"):
        model(rng.standard_normal((3, 5, 2)), lengths=[1, 2, 6])
    logits = model(rng.standard_normal((3, 5, 2)))
    with pytest.raises(ValueError, match=r"d_logits must have 2 dimensions \(B, C\).*got 1 with shape \(3,\)"):
        model.backward(np.ones(3))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\), got 3"):
        model.loss(logits, [0, 1, 3])
    tokens = SequenceClassifier(3, vocab_size=5, hidden_size=3, seed=0)
    with pytest.raises(ValueError, match=r"token ids must have shape \(B, T\), got 3 dimensions"):
        tokens(np.zeros((2, 3, 1), dtype=int))
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 5\), got 7"):
        tokens(np.array([[1, 7]]))
    with pytest.raises(ValueError, match="backward called before forward"):
        SequenceClassifier(3, input_size=2, seed=0).backward(np.ones((1, 3)))
