"""``rnnkit train tag``'s defaults (RESULTS.md, Defaults) and how runs saved before them resume.

The measured winner across UD English EWT (UPOS, XPOS) and WNUT-17 is the default: dropout
0.5, input dropout 0.5, casing, a character CNN, 30 epochs with patience 5. A run saved before
--casing, --input-dropout and --char-features existed has none of them in its config.json;
--resume gives them their former values (FORMER_DEFAULTS["tag"]), not today's defaults, so it
continues as it trained.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.train.options import add_options, fields_of, resumed_options
from rnnkit.train.tagging import TagOptions
from rnnkit.train.tasks import FORMER_DEFAULTS


def test_the_measured_winner_is_the_default():
    options = TagOptions()
    assert (options.dropout, options.input_dropout, options.casing, options.epochs, options.patience) == \
        (0.5, 0.5, True, 30, 5)
    assert (options.char_features, options.char_embedding, options.char_hidden) == ("cnn", 25, 25)
    # what the tagger does not use by default stays off: CRF, file columns
    assert (options.crf, options.feature_columns) == (False, "")


def test_casing_has_an_off_switch():
    parser = argparse.ArgumentParser()
    add_options(parser, fields_of(TagOptions))
    assert parser.parse_args(["--no-casing"]).casing is False
    assert parser.parse_args(["--casing"]).casing is True
    assert parser.parse_args([]).casing is None                        # not given: the default applies
    assert parser.parse_args(["--input-dropout", "0"]).input_dropout == 0.0


def test_former_defaults_record_what_tag_runs_trained_with_before_casing_input_dropout_and_characters():
    assert FORMER_DEFAULTS["tag"] == {"casing": False, "input_dropout": 0.0, "char_features": "none"}
    # an old run's config.json: every option of its day, so dropout, epochs and patience are there
    saved = {"data": "train.conll", "dropout": 0.0, "epochs": 10, "patience": 0, "hidden": 8}
    options = resumed_options(TagOptions, saved, {}, Path("run"), "run/config.json", FORMER_DEFAULTS["tag"])
    assert options.casing is False and options.input_dropout == 0.0                  # as such runs trained
    assert options.char_features == "none"
    assert (options.dropout, options.epochs, options.patience) == (0.0, 10, 0)        # their own, not today's
    assert options.feature_embedding == TagOptions().feature_embedding                 # unused without columns
    saved = {**saved, "casing": True, "input_dropout": 0.5}                          # a saved value always wins
    options = resumed_options(TagOptions, saved, {"epochs": 12}, Path("run"), "run/config.json",
                              FORMER_DEFAULTS["tag"])
    assert options.casing is True and options.input_dropout == 0.5 and options.epochs == 12


def _tag_file(path: Path) -> Path:
    rng = np.random.default_rng(0)
    names, words = ["Anna", "Bob", "NASA"], ["met", "saw", "the", "dog", "in", "2024"]
    sentences = [rng.choice(names + words, size=rng.integers(2, 7)) for _ in range(40)]
    path.write_text("\n".join("".join(f"{word}\t{'B-PER' if word in names else 'O'}\n" for word in sentence)
                              for sentence in sentences), encoding="utf-8")
    return path


def _as_saved_before(run: Path, names) -> None:
    """Make ``run`` look as an rnnkit from before options ``names`` wrote it (nor did it hash its files)."""
    config = json.loads((run / "config.json").read_text())
    for name in names:
        del config["options"][name]
    (run / "config.json").write_text(json.dumps(config))
    for state_path in run.glob("checkpoints/*/state.json"):
        state = json.loads(state_path.read_text())
        state.pop("run_files", None), state.pop("checksum", None)
        state_path.write_text(json.dumps(state))


# an old run's options, written out as today's flags; the learning rate does not depend on --epochs
OLD_RUN = ["--sep", "tab", "--hidden", "4", "--embedding", "4", "--batch", "8", "--seed", "1", "--no-casing",
           "--input-dropout", "0", "--dropout", "0", "--patience", "0", "--schedule", "constant", "--warmup", "0"]


def test_a_run_saved_before_casing_and_input_dropout_resumes_as_it_trained(tmp_path, capsys, monkeypatch):
    data = _tag_file(tmp_path / "names.conll")
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["train", "tag", "--data", str(data), "--out", str(straight), *OLD_RUN, "--epochs", "2"]) == 0
    assert main(["train", "tag", "--data", str(data), "--out", str(resumed), *OLD_RUN, "--epochs", "1"]) == 0
    _as_saved_before(resumed, ("casing", "input_dropout"))
    # with today's defaults instead (casing on) the run's data would give another setup: refused
    monkeypatch.setitem(FORMER_DEFAULTS, "tag", {})
    capsys.readouterr()
    assert main(["train", "tag", "--out", str(resumed), "--resume", "--epochs", "2"]) != 0
    assert "cannot resume" in capsys.readouterr().err
    monkeypatch.undo()
    assert main(["train", "tag", "--out", str(resumed), "--resume", "--epochs", "2"]) == 0
    assert "resuming" in capsys.readouterr().out
    # it continued exactly as the run that never stopped: no casing column, no input dropout
    summaries = [json.loads((run / "summary.json").read_text()) for run in (straight, resumed)]
    assert summaries[0]["final"] == summaries[1]["final"] and summaries[0]["steps"] == summaries[1]["steps"]


@pytest.mark.parametrize("flags", [[], ["--no-casing", "--dropout", "0", "--input-dropout", "0"]])
def test_tag_trains_with_the_defaults_and_without_them(tmp_path, flags):
    data = _tag_file(tmp_path / "names.conll")
    run = tmp_path / "run"
    assert main(["train", "tag", "--data", str(data), "--sep", "tab", "--out", str(run), "--hidden", "4",
                 "--epochs", "2", "--quiet", *flags]) == 0
    config = json.loads((run / "config.json").read_text())
    casing = not flags
    assert config["options"]["casing"] is casing and ("features" in config["artifacts"]) is casing
    assert config["model"]["config"].get("input_dropout", 0.0) == (0.5 if casing else 0.0)
    assert config["model"]["config"]["dropout"] == (0.5 if casing else 0.0)
    assert config["options"]["patience"] == 5 and config["options"]["epochs"] == 2
