"""``rnnkit train lm``, ``rnnkit generate`` and ``rnnkit evaluate`` end to end, on tiny runs."""

import json

import pytest

from rnnkit.cli import main
from rnnkit.cli.train import OPTION_FIELDS

TINY = ["--hidden", "8", "--embedding", "4", "--batch", "2", "--seq-len", "8", "--epochs", "1",
        "--sample-length", "20", "--max-minutes", "0", "--seed", "1"]


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("Lists are mutable sequences. Tuples are immutable sequences.\n" * 8, encoding="utf-8")
    return path


def train(tmp_path, text_file, *extra, out="run"):
    return main(["train", "lm", "--data", str(text_file), "--out", str(tmp_path / out), *TINY, *extra])


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "lm", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name in OPTION_FIELDS:
        assert f"--{name.replace('_', '-')}" in text
    for flag in ("--config", "--force", "--resume"):
        assert flag in text


def test_train_then_generate_and_evaluate_from_the_run_directory(tmp_path, text_file, capsys):
    assert train(tmp_path, text_file) == 0
    printed = capsys.readouterr().out
    assert "--- sample" in printed and "best validation" in printed
    run = tmp_path / "run"
    for name in ("config.json", "vocab.json", "metrics.csv", "loss.png", "summary.json", "summary.md",
                 "checkpoints/best/model.safetensors", "checkpoints/last/state.json"):
        assert (run / name).exists(), name
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stop_reason"] == "completed" and summary["sample"].startswith("The ")

    arguments = ["generate", str(run), "--prime", "Lists", "--length", "30", "--temperature", "0.8",
                 "--top-k", "5", "--seed", "3"]
    assert main(arguments) == 0
    first = capsys.readouterr().out
    assert main(arguments) == 0
    assert capsys.readouterr().out == first and first.startswith("Lists")

    assert main(["evaluate", str(run), "--data", str(text_file)]) == 0
    assert "bpc" in capsys.readouterr().out


def test_an_existing_non_empty_out_directory_is_refused_without_force(tmp_path, text_file, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    assert train(tmp_path, text_file) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert train(tmp_path, text_file, "--force") == 2          # --force replaces only an rnnkit run directory
    assert "not an rnnkit run directory" in capsys.readouterr().err
    assert (run / "notes.txt").read_text() == "mine" and sorted(item.name for item in run.iterdir()) == ["notes.txt"]
    (run / "notes.txt").unlink()
    assert train(tmp_path, text_file) == 0                     # an empty directory is used as it is
    assert train(tmp_path, text_file, "--force") == 0          # and a run directory is replaced
    assert (run / "config.json").exists()


def test_resume_continues_the_run(tmp_path, text_file, capsys):
    assert train(tmp_path, text_file) == 0
    assert main(["train", "lm", "--out", str(tmp_path / "run"), "--resume", "--epochs", "2"]) == 0
    assert "resuming" in capsys.readouterr().out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["epochs"] == 2


def test_toml_config_and_its_unknown_keys(tmp_path, text_file, capsys):
    config = tmp_path / "run.toml"
    config.write_text(f'data = "{text_file}"\nhidden = 8\nseq-len = 8\nbatch = 2\nepochs = 1\n'
                      f'embedding = 4\nsample_length = 10\nmax_minutes = 0\ncell = "gru"\n')
    assert main(["train", "lm", "--config", str(config), "--out", str(tmp_path / "run")]) == 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["options"]["cell"] == "gru" and saved["options"]["seq_len"] == 8
    capsys.readouterr()
    config.write_text('hiden = 8\n')
    assert main(["train", "lm", "--config", str(config), "--out", str(tmp_path / "other")]) == 2
    assert "unknown option 'hiden'" in capsys.readouterr().err
    config.write_text('hidden = "big"\n')
    assert main(["train", "lm", "--config", str(config), "--out", str(tmp_path / "other")]) == 2
    assert "must be int" in capsys.readouterr().err


@pytest.mark.parametrize("content, reason", [("", "the file is empty"), ("   \n", "the file is empty"),
                                             ("ab", "too little text")])
def test_bad_data_gets_a_clear_error(tmp_path, content, reason, capsys):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    assert main(["train", "lm", "--data", str(path), "--out", str(tmp_path / "run"), *TINY]) == 2
    error = capsys.readouterr().err
    assert reason in error and "bad.txt" in error
    assert not (tmp_path / "run").exists()                    # nothing created for a refused run


def test_missing_and_binary_data(tmp_path, capsys):
    assert main(["train", "lm", "--data", str(tmp_path / "nope.txt"), *TINY]) == 2
    assert "data file not found" in capsys.readouterr().err
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\xff\xfe\x00\x01" * 50)
    assert main(["train", "lm", "--data", str(binary), *TINY]) == 2
    assert "blob.bin" in capsys.readouterr().err


def test_a_folder_as_data_gets_a_clear_error(tmp_path, capsys):
    for arguments in (["lm", *TINY], ["classify"], ["tag"]):
        assert main(["train", *arguments, "--data", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
        error = capsys.readouterr().err
        assert str(tmp_path) in error and ("Is a directory" in error or "not a regular file" in error)


@pytest.mark.parametrize("option, value, message", [
    ("--temperature", "nan", "--temperature must be a finite number >= 0, got nan"),
    ("--temperature", "inf", "--temperature must be a finite number >= 0, got inf"),
    ("--max-minutes", "nan", "--max-minutes must be a finite number >= 0, got nan"),
    ("--prime", " ", "--prime must hold at least one word, got ' '")])
def test_options_that_would_fail_only_after_training_are_refused_first(tmp_path, text_file, capsys, option,
                                                                        value, message):
    arguments = ["train", "lm", "--data", str(text_file), "--out", str(tmp_path / "run"), *TINY, option, value]
    assert main(arguments + (["--level", "word"] if option == "--prime" else [])) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("option, value", [("--steps", "0"), ("--length", "1"), ("--hidden", "0"), ("--batch", "-1")])
def test_demo_checks_its_options(option, value, capsys):
    assert main(["demo", option, value]) == 2
    assert f"{option} must be an int >=" in capsys.readouterr().err


def test_generate_refuses_a_corrupt_or_mismatched_run(tmp_path, text_file, capsys):
    assert train(tmp_path, text_file) == 0
    run = tmp_path / "run"
    vocab = json.loads((run / "vocab.json").read_text())
    vocab["tokens"].append("§")
    vocab["counts"].append(1)
    (run / "vocab.json").write_text(json.dumps(vocab))
    capsys.readouterr()
    assert main(["generate", str(run), "--prime", "L", "--length", "5"]) == 2
    assert "does not match" in capsys.readouterr().err
    weights = run / "checkpoints" / "best" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    assert main(["generate", str(run), "--prime", "L", "--length", "5"]) == 2
    assert "corrupt" in capsys.readouterr().err
    assert main(["generate", str(tmp_path), "--prime", "L"]) == 2
    assert "not a training run" in capsys.readouterr().err
