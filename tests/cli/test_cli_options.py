"""Options the command line would have ignored are refused, with the option named.

A run's options either take effect or are refused: ``--resume`` may change only ``--epochs``
and ``--max-minutes``; an option that applies to another format or to the generated data
(``--steps`` without ``--format vectors``, ``--train-size`` with ``--data``) is an error; each
``rnnkit lab`` experiment accepts only the cells and lengths it runs.
"""

import json
import warnings

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.train.supervised import random_split
from rnnkit.train.tagging import train_rare_tags

LM_TINY = ["--hidden", "8", "--embedding", "4", "--batch", "2", "--seq-len", "8", "--epochs", "1",
           "--sample-length", "20", "--max-minutes", "0", "--seed", "1"]
TASK_TINY = ["--hidden", "6", "--epochs", "1", "--batch", "4", "--seed", "1"]


@pytest.fixture
def lm_run(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text("Lists are mutable sequences. Tuples are immutable sequences.\n" * 8, encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "lm", "--data", str(text), "--out", str(run), *LM_TINY]) == 0
    return run, text


def test_resume_refuses_options_that_differ_from_the_saved_ones(lm_run, capsys):
    run, _ = lm_run
    capsys.readouterr()
    assert main(["train", "lm", "--out", str(run), "--resume", "--hidden", "16", "--lr", "0.1"]) == 2
    error = capsys.readouterr().err
    assert "--hidden 16 (the run has 8)" in error and "--lr 0.1 (the run has 0.005)" in error
    assert "only --epochs, --max-minutes, --progress and --quiet may change" in error
    assert json.loads((run / "summary.json").read_text())["epochs"] == 1          # nothing ran


def test_resume_accepts_the_original_command_again(lm_run, tmp_path, monkeypatch, capsys):
    run, text = lm_run
    monkeypatch.chdir(tmp_path)                       # the same file, named by a relative path this time
    assert main(["train", "lm", "--data", text.name, "--out", str(run), *LM_TINY, "--epochs", "2",
                 "--resume"]) == 0
    assert "resuming" in capsys.readouterr().out
    assert json.loads((run / "summary.json").read_text())["epochs"] == 2


def test_resume_reads_and_checks_a_config_file(lm_run, tmp_path, capsys):
    run, _ = lm_run
    assert main(["train", "lm", "--out", str(run), "--resume", "--config", str(tmp_path / "absent.toml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    config = tmp_path / "run.toml"
    config.write_text('cell = "gru"\n')
    assert main(["train", "lm", "--out", str(run), "--resume", "--config", str(config)]) == 2
    assert "--cell 'gru' (the run has 'lstm')" in capsys.readouterr().err


def test_resume_and_force_together_are_refused(lm_run, capsys):
    run, _ = lm_run
    assert main(["train", "lm", "--out", str(run), "--resume", "--force"]) == 2
    assert "--force would replace it" in capsys.readouterr().err


def test_max_vocab_errors_name_the_option(tmp_path, capsys):
    assert main(["train", "lm", "--max-vocab", "1", "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert "--max-vocab must be 0 (no limit) or at least 2" in error and "max_size" not in error


@pytest.fixture
def numbers_file(tmp_path):
    path = tmp_path / "numbers.csv"
    rng = np.random.default_rng(0)
    path.write_text("".join(",".join(f"{value:.3f}" for value in rng.standard_normal(4)) + f",{index % 2}\n"
                            for index in range(20)))
    return path


@pytest.mark.parametrize("task, arguments, message", [
    ("classify", ["--steps", "4"], "--steps has an effect only with --format vectors, and this run has --format text"),
    ("classify", ["--format", "vectors", "--embedding", "8"], "--embedding has an effect only with --format text"),
    ("classify", ["--format", "vectors", "--word-dropout", "0.1"], "--word-dropout has an effect only with --format text"),
    ("classify", ["--val-data", "DATA", "--val-fraction", "0.2"],
     "--val-fraction has an effect only without --val-data"),
    ("tag", ["--tag-field", "xpos"], "--tag-field has an effect only with --format conllu"),
    ("tag", ["--format", "conllu", "--tag-column", "2"], "--tag-column has an effect only with --format conll,"),
    ("seq2seq", ["--train-size", "50"], "--train-size has an effect only without --data, and this run has --data"),
    ("seq2seq", ["--test-size", "50"], "--test-size has an effect only without --data"),
])
def test_options_without_effect_are_refused(tmp_path, numbers_file, capsys, task, arguments, message):
    arguments = [str(numbers_file) if item == "DATA" else item for item in arguments]
    assert main(["train", task, "--data", str(numbers_file), "--out", str(tmp_path / "run"), *arguments]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_options_at_their_default_or_in_scope_are_accepted(tmp_path, numbers_file):
    assert main(["train", "classify", "--data", str(numbers_file), "--format", "vectors", "--sep", ",",
                 "--steps", "2", "--embedding", "64", "--out", str(tmp_path / "run"), *TASK_TINY]) == 0


@pytest.mark.parametrize("arguments, message", [
    (["gradients", "--lengths", "5", "10"], "gradients runs at one length T, got --lengths 5 10"),
    (["clipping", "--lengths", "5", "10"], "clipping runs at one length T"),
    (["clipping", "--cells", "lstm"], "clipping --cells: only rnn"),
    (["forget-bias", "--cells", "rnn"], "forget-bias --cells: lstm (forget bias 0 and 1, always run) and gru"),
    (["forget-bias", "--cells", "gru"], "forget-bias --cells: lstm"),
])
def test_lab_refuses_cells_and_lengths_an_experiment_does_not_run(tmp_path, capsys, arguments, message):
    assert main(["lab", *arguments, "--quick", "--out", str(tmp_path / "lab")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "lab").exists()


@pytest.fixture
def series_run(tmp_path):
    values = 10 + 5 * np.sin(np.arange(80) / 4.0)
    path = tmp_path / "series.csv"
    path.write_text("value\n" + "".join(f"{value:.4f}\n" for value in values))
    run = tmp_path / "forecast"
    # levels, as forecast runs modelled them by default before --difference auto: the last 6 values are the history
    assert main(["train", "forecast", "--data", str(path), "--window", "6", "--log", "--difference", "off", "--out",
                 str(run), *TASK_TINY]) == 0
    return run


def test_predict_takes_inputs_after_its_options(series_run, capsys):
    history = [f"{10 + 5 * np.sin(step / 4.0):.4f}" for step in range(8)]
    capsys.readouterr()
    assert main(["predict", str(series_run), "--checkpoint", "last", *history]) == 0
    assert capsys.readouterr().out.startswith("t+1\t")
    with pytest.raises(SystemExit):
        main(["predict", str(series_run), "--checkpoint", "last", *history, "--no-such-option"])


def test_predict_with_log_refuses_a_non_positive_history(series_run, capsys):
    history = ["12.0"] * 7 + ["0"]
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                # no numpy RuntimeWarning from log(0)
        assert main(["predict", str(series_run), *history]) == 2
    assert "the run models log values (--log), so the last 6 values must be positive, but value 8 of 8 is 0" in \
        capsys.readouterr().err
    assert main(["predict", str(series_run), "0", *(["12.0"] * 7)]) == 0     # only the last --window values count
    capsys.readouterr()
    assert main(["predict", str(series_run), *(["12.0"] * 7), "nan"]) == 2
    assert "the history must be finite numbers" in capsys.readouterr().err


def conll(sentences):
    return "\n".join("".join(f"{token}\t{tag}\n" for token, tag in sentence) for sentence in sentences)


def test_a_tag_held_out_by_the_random_split_moves_into_training(tmp_path, capsys):
    common = [[("the", "O"), ("cat", "B-animal"), ("sat", "O")], [("a", "O"), ("dog", "B-animal"), ("ran", "O")]]
    sentences = [common[index % 2] for index in range(19)]
    seed = next(seed for seed in range(100) if 19 in random_split(20, 0.1, seed)[1])
    sentences.append([("Paris", "B-place"), ("is", "O"), ("big", "O")])          # the only B-place: held out
    path = tmp_path / "rare.conll"
    path.write_text(conll(sentences))
    assert main(["train", "tag", "--data", str(path), "--seed", str(seed), "--hidden", "4", "--epochs", "1",
                 "--out", str(tmp_path / "run")]) == 0
    assert "moved into training: tag B-place occurred in no training sentence" in capsys.readouterr().out
    tags = json.loads((tmp_path / "run" / "config.json").read_text())["artifacts"]["tags"]
    assert "B-place" in tags


def test_train_rare_tags_keeps_the_split_when_nothing_is_rare():
    train = [(["a"], ["X"]), (["b"], ["Y"])]
    held = [(["c"], ["X"])]
    assert train_rare_tags(train, held) == (train, held)
    moved_train, moved_held = train_rare_tags(train, held + [(["d"], ["Z"])])
    assert moved_train == train + [(["d"], ["Z"])] and moved_held == held


def test_a_validation_file_tag_unseen_in_training_is_explained(tmp_path, capsys):
    train = tmp_path / "train.conll"
    train.write_text(conll([[("the", "O"), ("cat", "B-animal")]] * 4))
    val = tmp_path / "val.conll"
    val.write_text(conll([[("Paris", "B-place")]]))
    assert main(["train", "tag", "--data", str(train), "--val-data", str(val), "--out", str(tmp_path / "run")]) == 2
    assert "tag 'B-place' is not one of the tags in the training data, so the model cannot predict it" in \
        capsys.readouterr().err


# --- --resume of a run saved before an option existed ------------------------------------------------------
SEQ2SEQ_TINY = ["--train-size", "40", "--test-size", "4", "--hidden", "8", "--embedding", "8", "--batch", "8",
                "--seed", "1", "--no-input-feeding", "--label-smoothing", "0",
                "--schedule", "constant", "--warmup", "0"]         # the learning rate does not depend on --epochs


def _as_saved_before(run, names):
    """Make ``run`` look as an rnnkit from before options ``names`` wrote it (nor did it hash its files)."""
    config = json.loads((run / "config.json").read_text())
    for name in names:
        del config["options"][name]
    (run / "config.json").write_text(json.dumps(config))
    for state_path in run.glob("checkpoints/*/state.json"):
        state = json.loads(state_path.read_text())
        state.pop("run_files", None), state.pop("checksum", None)
        state_path.write_text(json.dumps(state))


def test_resume_gives_an_option_the_run_predates_its_former_value_not_todays_default(tmp_path, capsys):
    # Runs saved before --input-feeding and --label-smoothing existed had no input feeding and plain cross
    # entropy; today's defaults (on, 0.1) would not even fit their weights, and would change their loss.
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["train", "seq2seq", "--out", str(straight), *SEQ2SEQ_TINY, "--epochs", "2"]) == 0
    assert main(["train", "seq2seq", "--out", str(resumed), *SEQ2SEQ_TINY, "--epochs", "1"]) == 0
    _as_saved_before(resumed, ("input_feeding", "label_smoothing"))
    capsys.readouterr()
    assert main(["train", "seq2seq", "--out", str(resumed), "--resume", "--epochs", "2"]) == 0
    assert "resuming" in capsys.readouterr().out
    # it continued exactly as the run that never stopped: no input feeding, plain cross entropy
    summaries = [json.loads((run / "summary.json").read_text()) for run in (straight, resumed)]
    assert summaries[0]["final"] == summaries[1]["final"] and summaries[0]["steps"] == summaries[1]["steps"]


def test_resumed_options_fill_missing_options_from_the_former_defaults_then_todays():
    from pathlib import Path

    from rnnkit.train.options import resumed_options
    from rnnkit.train.tasks import FORMER_DEFAULTS
    from rnnkit.train.translation import Seq2SeqOptions

    saved = {"hidden": 8, "epochs": 1}                      # an old run's config: most options missing
    options = resumed_options(Seq2SeqOptions, saved, {"epochs": 3}, Path("run"), "run/config.json",
                              FORMER_DEFAULTS["seq2seq"])
    assert options.input_feeding is False and options.label_smoothing == 0.0      # as such runs trained
    assert options.beam == Seq2SeqOptions().beam and options.hidden == 8 and options.epochs == 3
    saved = {**saved, "input_feeding": True}                # a saved value always wins
    assert resumed_options(Seq2SeqOptions, saved, {}, Path("run"), "run/config.json",
                           FORMER_DEFAULTS["seq2seq"]).input_feeding is True


def test_options_switched_off_are_accepted_where_they_have_no_effect():
    from rnnkit.train.classification import ClassifyOptions
    from rnnkit.train.options import check_scoped
    from rnnkit.train.translation import Seq2SeqOptions

    check_scoped(ClassifyOptions(format="vectors", word_dropout=0.0, lower=False))    # off: nothing to ignore
    check_scoped(Seq2SeqOptions(attention="none", input_feeding=False))
    with pytest.raises(ValueError, match="--word-dropout has an effect only with --format text"):
        check_scoped(ClassifyOptions(format="vectors", word_dropout=0.3))
