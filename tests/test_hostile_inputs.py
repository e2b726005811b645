"""Hostile input: numbers that explode, overflow or are not numbers; crafted files; sizes beyond memory.

Each test names the item of issue 20 it guards. To add a case: build the smallest file that shows
it in ``tmp_path``, run the reader, the CLI (``main([...])``) or the Trainer on it, and assert both
the refusal (exit code 2 or 3, or the exception) and its message, which must name what to fix.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import rnnkit
from rnnkit.cli import main
from rnnkit.cli.train import format_metrics
from rnnkit.data.readers import read_labelled_text, read_text, read_time_series_csv, read_ts
from rnnkit.train import TrainingDiverged, checkpoint, classification, forecasting
from rnnkit.train.language_modeling import evaluate_stream
from rnnkit.train.schedules import LearningRateSchedule

TINY_LM = ["--hidden", "8", "--embedding", "4", "--batch", "2", "--seq-len", "8", "--epochs", "2",
           "--sample-length", "5", "--max-minutes", "0", "--seed", "1"]
TEXT = "Lists are mutable sequences. Tuples are immutable sequences.\n" * 8


def strict_json(path):
    """The JSON document at ``path``; NaN and Infinity (not JSON) raise."""
    def refuse(constant):
        raise ValueError(f"{path} holds {constant}, which is not JSON")
    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


# --- 6. divergence while the numbers are still finite -------------------------------------------
def test_an_exploding_loss_stops_as_divergence_and_leaves_nothing(tmp_path, corpus, capsys):
    out = tmp_path / "run"
    assert main(["train", "lm", "--data", str(corpus), "--out", str(out), "--lr", "1e6", *TINY_LM]) == 3
    error = capsys.readouterr().err
    assert "exploded" in error and "nothing was saved" in error
    assert not out.exists()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_periodic_checkpoint_of_exploded_weights_is_never_written(tmp_path):
    from trainer_runs import make_run

    trainer = make_run(tmp_path, checkpoint_every=1, dropout=0.0,
                       schedule=LearningRateSchedule("constant", lr=1e37))
    with pytest.raises(TrainingDiverged) as caught:
        trainer.fit()
    assert "no checkpoint had been written" in str(caught.value)
    assert checkpoint.checkpoint_path(tmp_path / "checkpoints", "last") is None


@pytest.mark.parametrize("metrics, message", [({"loss": 1e6, "perplexity": 1e300}, "exploded"),
                                              ({"loss": 2.0, "perplexity": float("nan")}, "perplexity is NaN")])
def test_a_validation_that_explodes_or_is_not_finite_saves_nothing(tmp_path, metrics, message):
    from trainer_runs import make_run

    trainer = make_run(tmp_path, epochs=2)
    first = {"loss": 3.0, "perplexity": math.exp(3.0)}
    trainer.task.evaluate = lambda model: dict(metrics if trainer.state["epoch"] == 2 else first)
    with pytest.raises(TrainingDiverged, match=message):
        trainer.fit()
    saved = checkpoint.read_checkpoint(tmp_path / "checkpoints" / "best")
    assert saved["trainer"]["step"] == trainer.task.steps_per_epoch            # the first epoch's, not the second's
    assert checkpoint.read_checkpoint(tmp_path / "checkpoints" / "last")["trainer"]["step"] == saved["trainer"]["step"]


def test_a_first_validation_far_above_the_training_loss_is_not_divergence(tmp_path):
    from trainer_runs import make_run

    trainer = make_run(tmp_path, epochs=2)                # e.g. a trending series: validation far from training
    trainer.task.evaluate = lambda model: {"loss": 1e4, "perplexity": 1.0}
    assert trainer.fit()["stop_reason"] == "completed"


def test_perplexity_beyond_float64_is_infinite_and_big_numbers_print_short():
    from rnnkit.models.language_model import LanguageModel

    model = LanguageModel(5, 4, embedding_dim=3, seed=0)
    model.head.bias.data[:] = [1e4, 0, 0, 0, 0]          # every prediction certain of token 0
    metrics = evaluate_stream(model, np.array([1, 2, 3, 4, 1, 2, 3, 4]), 2, 3)
    assert metrics["loss"] > 700 and math.isinf(metrics["perplexity"])
    assert len(format_metrics({"perplexity": 1e304})) < 30


# --- 7. finite but extreme values ----------------------------------------------------------------------
def test_a_series_near_the_float64_limit_trains_with_finite_scaling(tmp_path, capsys):
    rows = ["t,v"] + [f"{i},{1e308 if i % 7 == 0 else float(np.sin(i)) * 1e307!r}" for i in range(60)]
    (tmp_path / "big.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    assert main(["train", "forecast", "--data", str(tmp_path / "big.csv"), "--column", "v", "--window", "5",
                 "--hidden", "4", "--epochs", "1", "--out", str(out)]) == 0
    config = strict_json(out / "config.json")
    assert math.isfinite(config["artifacts"]["transform"]["scale"]) and config["artifacts"]["transform"]["scale"] > 0
    capsys.readouterr()
    assert main(["predict", str(out), *map(str, [1e307] * 5)]) == 0
    assert math.isfinite(float(capsys.readouterr().out.split()[1]))


def test_a_vectors_feature_near_the_float64_limit_is_scaled_not_zeroed():
    series = [np.array([[1e308], [0.0]]), np.array([[-1e308], [5e307]])]
    encoder = classification.Encoder.fit({"format": "vectors", "data": "numbers.csv"}, series)
    assert np.all(np.isfinite(encoder.std)) and np.all(encoder.std > 1)
    encoded = encoder.encode(series)
    assert all(np.all(np.isfinite(item)) for item in encoded)
    assert np.ptp(np.concatenate(encoded)) > 1                       # the feature still varies


# --- 8. non-finite numbers are refused by the readers, with file, line and column -------------------------
def test_the_ts_reader_refuses_nan_and_inf_naming_the_line(tmp_path):
    path = tmp_path / "x.ts"
    path.write_text("@classLabel true a b\n@data\n1,2:a\n3,inf:b\n")
    with pytest.raises(ValueError, match=r"x\.ts, line 4, dimension 1, value 2: 'inf' is not a finite number"):
        read_ts(path)


def test_classify_vectors_with_nan_fails_before_any_directory_exists(tmp_path, capsys):
    rows = [f"{i % 3},{i % 5},{i % 2}" for i in range(20)]
    rows[4] = "1,nan,0"
    (tmp_path / "v.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    assert main(["train", "classify", "--data", str(tmp_path / "v.csv"), "--format", "vectors", "--sep", ",",
                 "--out", str(out), "--hidden", "4", "--epochs", "1"]) == 2
    error = capsys.readouterr().err
    assert "line 5, column 2: 'nan' is not a finite number" in error and "learning rate" not in error
    assert not out.exists()


def test_the_time_series_reader_refuses_inf_rather_than_calling_it_missing(tmp_path):
    (tmp_path / "s.csv").write_text("t,v\n1,2\n2,inf\n3,4\n")
    with pytest.raises(ValueError, match=r"line 3: 'inf' in column 'v' is not a finite number"):
        read_time_series_csv(tmp_path / "s.csv", "v", missing="interpolate")


# --- 9. tracebacks ---------------------------------------------------------------------------------------
def test_vectors_without_the_right_separator_says_so(tmp_path, capsys):
    (tmp_path / "digits.csv").write_text("".join(f"{i},{i + 1},{i % 2}\n" for i in range(20)))
    assert main(["train", "classify", "--data", str(tmp_path / "digits.csv"), "--format", "vectors",
                 "--out", str(tmp_path / "run")]) == 2
    assert "is --sep right" in capsys.readouterr().err


def test_a_csv_field_longer_than_the_csv_modules_limit_is_read(tmp_path):
    long_text = "word " * 40000                                        # 200,000 characters
    (tmp_path / "long.csv").write_text(f'"{long_text}",1\n"short",0\n')
    texts, labels = read_labelled_text(tmp_path / "long.csv", ",")
    assert len(texts[0]) == len(long_text) and labels.tolist() == [1, 0]


# --- 10. sizes checked before memory is spent -------------------------------------------------------------
def test_a_checkpoint_whose_metadata_claims_larger_weights_is_refused_before_building_them(tmp_path):
    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open

    path = tmp_path / "lstm.safetensors"
    rnnkit.save(rnnkit.LSTM(3, 4, seed=0), path)
    with safe_open(str(path), framework="numpy") as handle:
        metadata = handle.metadata()
    config = json.loads(metadata["rnnkit.config"])
    config["hidden_size"] = 3000
    save_file(load_file(str(path)), str(path), metadata={**metadata, "rnnkit.config": json.dumps(config)})
    with pytest.raises(ValueError, match="metadata says hidden_size=3000.*does not describe these weights"):
        rnnkit.load(path)


@pytest.mark.parametrize("arguments", [["--layers", "99999999999"], ["--hidden", "99999999999999999999"]])
def test_sizes_beyond_memory_are_refused_before_allocating(tmp_path, corpus, capsys, arguments):
    assert main(["train", "lm", "--data", str(corpus), "--out", str(tmp_path / "run"), "--batch", "2", "--seq-len",
                 "8", *arguments]) == 2
    assert "GiB for the model alone (weights, gradients, optimiser state" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# --- 11. smaller things -------------------------------------------------------------------------------------
def test_a_directory_given_for_a_data_file_is_named_as_a_directory(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        classification.read_vectors(tmp_path, 0)
    with pytest.raises(ValueError, match="is a directory"):
        read_labelled_text(tmp_path)


def test_a_failed_save_names_the_target_not_a_temporary_file(tmp_path):
    target = tmp_path / "missing-folder" / "model.safetensors"
    with pytest.raises(OSError) as caught:
        rnnkit.save(rnnkit.Linear(2, 2, seed=0), target)
    assert str(target) in str(caught.value) and ".tmp-" not in str(caught.value)


def test_a_byte_order_mark_stays_out_of_headers_texts_and_vocabularies(tmp_path, capsys):
    (tmp_path / "bom.tsv").write_text("\ufefftext\tlabel\ngood\t1\nbad\t0\n", encoding="utf-8")
    texts, labels = read_labelled_text(tmp_path / "bom.tsv", text_column="text", label_column="label")
    assert texts == ["good", "bad"]
    (tmp_path / "bom.txt").write_text("\ufeff" + TEXT, encoding="utf-8")
    assert not read_text(tmp_path / "bom.txt").startswith("\ufeff")
    assert main(["train", "lm", "--data", str(tmp_path / "bom.txt"), "--out", str(tmp_path / "run"), *TINY_LM]) == 0
    assert "\ufeff" not in json.loads((tmp_path / "run" / "vocab.json").read_text())["tokens"]


def test_labels_1_and_1_point_0_are_one_class(tmp_path):
    (tmp_path / "l.tsv").write_text("a\t1\nb\t1.0\nc\t0\nd\t0.0\n")
    options = {"format": "text", "sep": "tab", "text_column": "0", "label_column": "-1"}
    _, labels = classification.read_examples(tmp_path / "l.tsv", options)
    assert classification.sort_labels(labels) == ["0", "1"]


def test_a_ts_label_outside_class_label_is_refused(tmp_path):
    (tmp_path / "x.ts").write_text("@classLabel true a b\n@data\n1,2:a\n3,4:c\n")
    with pytest.raises(ValueError, match=r"line 4: the label 'c' is not one of the classes declared by @classLabel"):
        read_ts(tmp_path / "x.ts")


def test_descending_dates_are_refused(tmp_path):
    (tmp_path / "s.csv").write_text("year,v\n" + "".join(f"{2020 - i},{i}\n" for i in range(30)))
    options = {"date_column": "year", "column": "v", "missing": "error", "log": False}
    with pytest.raises(ValueError, match="the dates go back in time.*newest first"):
        forecasting.read_series(tmp_path / "s.csv", options)


def test_an_optimiser_step_validates_every_parameter_before_updating_any():
    first, second = rnnkit.Parameter(np.ones(3)), rnnkit.Parameter(np.ones((2, 3)))
    optimizer = rnnkit.optim.Adam([first, second], lr=0.1)
    first.grad[:], second.grad[:] = 1.0, 1.0
    optimizer.step()
    before = first.data.copy()
    second.data, second.grad = second.data.reshape(3, 2), np.ones((3, 2))        # reshaped after a step
    with pytest.raises(ValueError, match="state 'exp_avg' from earlier steps has shape"):
        optimizer.step()
    np.testing.assert_array_equal(first.data, before)


def test_val_data_equal_to_data_is_refused(tmp_path, capsys):
    (tmp_path / "r.tsv").write_text("".join(f"good {i}\t1\nbad {i}\t0\n" for i in range(10)))
    assert main(["train", "classify", "--data", str(tmp_path / "r.tsv"), "--val-data", str(tmp_path / "r.tsv"),
                 "--out", str(tmp_path / "run")]) == 2
    assert "same file as --data" in capsys.readouterr().err


def test_evaluate_json_stays_strict_json_when_perplexity_is_infinite(monkeypatch, capsys):
    from rnnkit.cli import generate

    monkeypatch.setattr(generate, "evaluate_run", lambda *args: {"loss": 800.0, "perplexity": math.inf, "bpc": 1154.2})
    assert main(["evaluate", "some-run", "--data", "text.txt", "--json"]) == 0
    printed = capsys.readouterr().out

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    assert json.loads(printed, parse_constant=refuse) == {"loss": 800.0, "perplexity": None, "bpc": 1154.2}


def test_a_failed_checkpoint_or_json_write_names_its_target(tmp_path, monkeypatch):
    from rnnkit.train.checkpoint import atomic_write_json
    from trainer_runs import make_run

    with pytest.raises(OSError, match=f"cannot write {tmp_path / 'gone' / 'config.json'}"):
        atomic_write_json(tmp_path / "gone" / "config.json", {})
    trainer = make_run(tmp_path, epochs=1)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(checkpoint, "save_file", full_disk)
    with pytest.raises(OSError) as caught:
        trainer.fit()
    message = str(caught.value)
    assert f"cannot save checkpoint {tmp_path / 'checkpoints'}" in message and "No space left" in message
    assert ".tmp" not in message
    assert not list((tmp_path / "checkpoints").glob(".*"))          # nothing half-written left behind
