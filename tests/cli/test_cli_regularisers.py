"""The recurrent regularisers as options of ``rnnkit train`` (classify, tag, forecast, seq2seq):
they reach the model's layers, are saved with the run, and the checkpoint rebuilds them."""

import json

import numpy as np
import pytest

import rnnkit
from rnnkit.cli import main

TINY = ["--hidden", "6", "--epochs", "1", "--batch", "4", "--seed", "1", "--progress", "never"]
ON = ["--locked-dropout", "0.2", "--locked-input-dropout", "0.1", "--weight-drop", "0.3", "--zoneout", "0.1",
      "--zoneout-cell", "0.05", "--learn-initial-state", "--layers", "2"]


@pytest.fixture
def sentiment_file(tmp_path):
    lines = [f"a good great film number {index}\t1\na bad awful film number {index}\t0" for index in range(12)]
    path = tmp_path / "sentiment.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_classify_with_every_regulariser_trains_saves_and_reloads(tmp_path, sentiment_file):
    run = tmp_path / "run"
    assert main(["train", "classify", "--data", str(sentiment_file), "--out", str(run), *TINY, *ON]) == 0
    options = json.loads((run / "config.json").read_text())["options"]
    assert options["weight_drop"] == 0.3 and options["learn_initial_state"] is True
    model = rnnkit.load(str(run / "checkpoints" / "best" / "model.safetensors"))
    layer = model.recurrent
    assert (layer.locked_dropout, layer.locked_input_dropout, layer.weight_drop) == (0.2, 0.1, 0.3)
    assert (layer.zoneout, layer.zoneout_cell, layer.learn_initial_state) == (0.1, 0.05, True)
    assert layer.initial_h.shape == (2 * layer.num_directions, 6) and np.any(layer.initial_h.data != 0)    # learned, not left at zero
    assert main(["predict", str(run), "a good great film"]) == 0


def test_regularisers_off_leave_the_model_config_as_before(tmp_path, sentiment_file):
    run = tmp_path / "run"
    assert main(["train", "classify", "--data", str(sentiment_file), "--out", str(run), *TINY]) == 0
    model = rnnkit.load(str(run / "checkpoints" / "best" / "model.safetensors"))
    assert "regularisers" not in model.config and not model.recurrent.learn_initial_state


@pytest.mark.parametrize("arguments, words", [
    (["--zoneout", "1.5"], "--zoneout must lie in [0.0, 0.99], got 1.5"),
    (["--weight-drop", "-0.1"], "--weight-drop must lie in [0.0, 0.99], got -0.1"),
    (["--weight-drop", "0.2", "--cell", "mingru"], "has no W_hh"),
    (["--zoneout-cell", "0.2", "--cell", "gru"], "has no c"),
])
def test_bad_regulariser_options_are_refused_with_the_option_named(tmp_path, sentiment_file, capsys, arguments, words):
    run = tmp_path / "run"
    assert main(["train", "classify", "--data", str(sentiment_file), "--out", str(run), *TINY, *arguments]) == 2
    assert words in capsys.readouterr().err


def test_forecast_and_seq2seq_take_the_regularisers(tmp_path):
    series = tmp_path / "series.csv"
    series.write_text("value\n" + "\n".join(str(np.sin(index / 3.0)) for index in range(120)) + "\n")
    assert main(["train", "forecast", "--data", str(series), "--out", str(tmp_path / "forecast"), "--window", "8",
                 "--difference", "off", *TINY, "--zoneout", "0.1", "--weight-drop", "0.2"]) == 0
    model = rnnkit.load(str(tmp_path / "forecast" / "checkpoints" / "best" / "model.safetensors"))
    assert model.recurrent.zoneout == 0.1 and model.recurrent.weight_drop == 0.2
    assert main(["train", "seq2seq", "--out", str(tmp_path / "dates"), "--train-size", "40", "--test-size", "8",
                 *TINY, "--locked-dropout", "0.2", "--learn-initial-state", "--layers", "2"]) == 0


def test_language_model_takes_the_regularisers_and_generates_as_evaluation_computes(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. the dog sat on the log.\n" * 30, encoding="utf-8")
    run = tmp_path / "lm"
    assert main(["train", "lm", "--data", str(text), "--out", str(run), "--hidden", "8", "--epochs", "1",
                 "--seq-len", "8", "--batch", "4", "--sample-length", "5", "--progress", "never", "--layers", "2",
                 "--zoneout", "0.2", "--zoneout-cell", "0.1", "--weight-drop", "0.3", "--locked-dropout", "0.2",
                 "--learn-initial-state"]) == 0
    model = rnnkit.load(str(run / "checkpoints" / "best" / "model.safetensors"))
    assert model.rnn.zoneout == 0.2 and model.rnn.weight_drop == 0.3 and model.rnn.learn_initial_state
    ids = np.array([[1, 2, 3, 4, 2]])
    with model.inference():
        logits, _ = model(ids)                                          # the layer's zoneout loop, eval mode
        cells = model.step_cells()
        start = model.kind.as_tuple(model.initial_state(1))
        states = [model.kind.from_tuple([part[k] for part in start]) for k in range(model.num_layers)]
        for position, token in enumerate(ids[0]):                       # generation's one-step path
            step_logits, states = model.step(cells, np.array([token]), states)
            np.testing.assert_allclose(step_logits[0], logits[0, position], rtol=1e-5, atol=1e-6)
    assert main(["generate", str(run), "--length", "5"]) == 0
