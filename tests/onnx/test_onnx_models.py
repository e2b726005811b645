"""Task models exported as whole ONNX graphs, compared with their own rnnkit methods.

Each comparison calls the model's public method here (predict_proba, forward, predict, step)
rather than rnnkit.onnx.check, so a mistake shared by the exporter and its checker would show.
"""

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install \"rnnkit[onnx]\"")
runtime = pytest.importorskip("onnxruntime", reason="the comparisons need onnxruntime: pip install \"rnnkit[onnx]\"")

import rnnkit.onnx  # noqa: E402
from rnnkit.models import Forecaster, LanguageModel, Seq2Seq, SequenceClassifier, SequenceTagger  # noqa: E402
from rnnkit.onnx.check import run_onnx  # noqa: E402

ATOL = 1e-5


def export_and_check(model, tmp_path, **options):
    path = rnnkit.onnx.export(model, tmp_path / "model.onnx", **options)
    onnx.checker.check_model(str(path), full_check=True)
    return path


def token_batch(rng, vocab_size, batch=4, steps=7):
    tokens = rng.integers(0, vocab_size, size=(batch, steps)).astype(np.int64)
    lengths = np.array([steps, 1, 3, steps - 1][:batch], dtype=np.int64)
    return tokens, lengths


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("classes", [2, 5])
def test_classifier_probabilities(cell, pooling, classes, tmp_path):
    model = SequenceClassifier(classes, vocab_size=12, embedding_dim=5, hidden_size=6, cell=cell, num_layers=2,
                               bidirectional=True, pooling=pooling, dropout=0.3, seed=1)
    tokens, lengths = token_batch(np.random.default_rng(0), 12)
    got = run_onnx(export_and_check(model, tmp_path), {"tokens": tokens, "lengths": lengths})
    np.testing.assert_allclose(got["probabilities"], model.predict_proba(tokens, lengths), rtol=0, atol=ATOL)
    np.testing.assert_allclose(got["probabilities"].sum(axis=1), 1.0, atol=1e-6)


def test_classifier_on_features_scales_inside_the_graph(tmp_path):
    model = SequenceClassifier(3, input_size=4, hidden_size=5, cell="gru", pooling="max", seed=2)
    mean, std = np.array([1.0, -2.0, 0.5, 10.0]), np.array([2.0, 0.5, 1.0, 4.0])
    features = np.random.default_rng(1).standard_normal((3, 6, 4)).astype(np.float32) * std + mean
    lengths = np.array([6, 2, 4])
    path = export_and_check(model, tmp_path, scaling={"mean": mean.tolist(), "std": std.tolist()})
    got = run_onnx(path, {"features": features.astype(np.float32), "lengths": lengths})
    scaled = ((features - mean) / std).astype(np.float32)
    np.testing.assert_allclose(got["probabilities"], model.predict_proba(scaled, lengths), rtol=0, atol=ATOL)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_tagger_scores_at_every_step(cell, tmp_path):
    model = SequenceTagger(6, vocab_size=15, embedding_dim=4, hidden_size=5, cell=cell, num_layers=2, seed=3)
    tokens, lengths = token_batch(np.random.default_rng(2), 15)
    got = run_onnx(export_and_check(model, tmp_path), {"tokens": tokens, "lengths": lengths})
    with model.inference():
        expected = model.forward(tokens, lengths)
    np.testing.assert_allclose(got["scores"], expected, rtol=0, atol=ATOL)
    valid = np.arange(7)[None, :] < lengths[:, None]
    assert np.array_equal(np.where(valid, got["scores"].argmax(-1), -1), model.predict(tokens, lengths))


@pytest.mark.parametrize("mode", ["many_to_one", "many_to_many"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_forecaster_windows(mode, cell, tmp_path):
    model = Forecaster(2, 3, hidden_size=5, horizon=4, cell=cell, num_layers=2, mode=mode, seed=4)
    window = np.random.default_rng(3).standard_normal((3, 9, 2)).astype(np.float32)
    got = run_onnx(export_and_check(model, tmp_path), {"window": window})
    np.testing.assert_allclose(got["forecast"], model.predict(window), rtol=0, atol=ATOL)


@pytest.mark.parametrize("log, difference", [(False, False), (False, True), (True, False), (True, True)])
def test_forecaster_transform_gives_original_units(log, difference, tmp_path):
    model = Forecaster(1, 1, hidden_size=6, horizon=3, seed=5)
    center, scale, window = 0.02 if log else 40.0, 0.1 if log else 25.0, 8
    transform = {"log": log, "difference": difference, "center": center, "scale": scale, "window": window}
    history = np.random.default_rng(4).uniform(20.0, 200.0, size=(5, window + 4)).astype(np.float32)
    got = run_onnx(export_and_check(model, tmp_path, transform=transform), {"history": history})
    values = history.astype(np.float64)
    levels = np.log(values) if log else values
    modelled = np.diff(levels, axis=1) if difference else levels
    z = ((modelled[:, -window:] - center) / scale).astype(np.float32)[:, :, None]
    predicted = model.predict(z)[..., 0].astype(np.float64) * scale + center           # (B, F)
    if difference:
        predicted = levels[:, -1:] + np.cumsum(predicted, axis=1)
    expected = np.exp(predicted) if log else predicted
    np.testing.assert_allclose(got["forecast"], expected, rtol=1e-5, atol=ATOL)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("embedding_dim", [None, 4])
def test_language_model_step_loops_like_generation(cell, embedding_dim, tmp_path):
    model = LanguageModel(13, hidden_size=7, num_layers=2, cell=cell, embedding_dim=embedding_dim, seed=6)
    path = export_and_check(model, tmp_path)
    session = rnnkit.onnx.check.session(path)
    assert [value.name for value in session.get_inputs()] == (["token", "h", "c"] if cell == "lstm" else ["token", "h"])
    tokens = np.random.default_rng(5).integers(0, 13, size=(2, 12))
    cells = model.step_cells()
    states = model.initial_state(2)                                         # (h, c) or h, each (L, B, H)
    rnnkit_states = [(states[0][k], states[1][k]) if cell == "lstm" else states[k] for k in range(2)]
    onnx_states = {"h": np.zeros((2, 2, 7), np.float32), **({"c": np.zeros((2, 2, 7), np.float32)}
                                                             if cell == "lstm" else {})}
    for step in range(tokens.shape[1]):
        logits, h_next, *c_next = session.run(None, {"token": tokens[:, step], **onnx_states})
        with model.inference():
            expected, rnnkit_states = model.step(cells, tokens[:, step], rnnkit_states)
        np.testing.assert_allclose(logits, expected, rtol=0, atol=ATOL)
        onnx_states = {"h": h_next, **({"c": c_next[0]} if cell == "lstm" else {})}
    top = rnnkit_states[-1][0] if cell == "lstm" else rnnkit_states[-1]
    np.testing.assert_allclose(onnx_states["h"][-1], top, rtol=0, atol=ATOL)


def test_metadata_travels_with_the_model(tmp_path):
    model = LanguageModel(5, hidden_size=3, seed=0)
    vocab = {"format": "rnnkit-vocab", "tokens": ["<unk>", "a", "b", "c", " "]}
    path = rnnkit.onnx.export(model, tmp_path / "lm.onnx", metadata={"rnnkit.vocab": json.dumps(vocab)})
    metadata = rnnkit.onnx.check.session(path).get_modelmeta().custom_metadata_map
    assert json.loads(metadata["rnnkit.vocab"]) == vocab
    assert metadata["rnnkit.task"] == "lm" and json.loads(metadata["rnnkit.config"])["vocab_size"] == 5


def test_seq2seq_and_other_modules_are_refused(tmp_path):
    with pytest.raises(rnnkit.onnx.ExportError, match="Seq2Seq has no ONNX export"):
        rnnkit.onnx.export(Seq2Seq(8, 9, bos_id=1, eos_id=2, hidden_size=4, seed=0), tmp_path / "s.onnx")
    with pytest.raises(rnnkit.onnx.ExportError, match="Linear has no ONNX export"):
        rnnkit.onnx.export(rnnkit.Linear(3, 2, seed=0), tmp_path / "l.onnx")
    assert not list(tmp_path.iterdir())
