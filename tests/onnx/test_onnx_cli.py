"""``rnnkit export RUN OUT.onnx --check`` on runs trained briefly, and README's generation example.

Each task trains for one epoch on small generated data (always) and on a slice of the real
data in ../shared/data (skipped where it is absent), then exports with --check, which runs
the file in ONNX Runtime on random inputs and on the run's own data and compares with rnnkit.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install \"rnnkit[onnx]\"")
runtime = pytest.importorskip("onnxruntime", reason="the check needs onnxruntime: pip install \"rnnkit[onnx]\"")

from rnnkit.cli import main  # noqa: E402
from rnnkit.onnx.runs import check_lines, read_run_model  # noqa: E402
from real_data import data_file, head_blocks, head_lines  # noqa: E402

TINY = ["--hidden", "4", "--epochs", "1", "--batch", "8", "--seed", "0"]
README = Path(__file__).resolve().parents[2] / "README.md"


def generated_data(task: str, folder: Path) -> tuple[Path, list[str]]:
    """A small file in the task's format and the options that read it."""
    rng = np.random.default_rng(0)
    words = ["good", "bad", "film", "plot", "the", "a", "actor", "long", "fine", "dull"]
    if task == "lm":
        path = folder / "text.txt"
        path.write_text("".join(rng.choice(list("abcde fgh\n"), size=1500)), encoding="utf-8")
        return path, ["--seq-len", "16", "--sample-length", "5", "--embedding", "0"]
    if task == "classify":
        path = folder / "reviews.tsv"
        lines = [" ".join(rng.choice(words, size=rng.integers(2, 9))) for _ in range(60)]
        path.write_text("".join(f"{line}\t{int('good' in line)}\n" for line in lines), encoding="utf-8")
        return path, ["--embedding", "4", "--bidirectional", "--pooling", "mean"]
    if task == "tag":
        path = folder / "tags.conll"
        sentences = [rng.choice(words, size=rng.integers(2, 8)) for _ in range(40)]
        path.write_text("\n".join("".join(f"{word}\t{'B-X' if word in ('film', 'plot') else 'O'}\n"
                                          for word in sentence) for sentence in sentences), encoding="utf-8")
        return path, ["--sep", "tab", "--embedding", "4", "--cell", "gru"]
    path = folder / "series.csv"
    values = 50 + 10 * np.sin(np.arange(200) / 6) + np.arange(200) * 0.1
    path.write_text("t,value\n" + "".join(f"{t},{value:.4f}\n" for t, value in enumerate(values)), encoding="utf-8")
    return path, ["--column", "value", "--window", "10", "--horizon", "3", "--difference", "--log", "--cell", "rnn"]


def train_export_check(task: str, data: Path, extra: list[str], tmp_path: Path, capsys) -> tuple[str, Path, Path]:
    run = tmp_path / "run"
    assert main(["train", task, "--data", str(data), "--out", str(run), *TINY, *extra]) == 0
    capsys.readouterr()
    out = tmp_path / "model.onnx"
    assert main(["export", str(run), str(out), "--check"]) == 0
    printed = capsys.readouterr().out
    onnx.checker.check_model(str(out), full_check=True)
    checks = [line for line in printed.splitlines() if line.startswith("check: ")]
    assert checks and all(line.endswith("OK (tolerance 1e-05)") for line in checks), printed
    assert any(line.startswith("check: real ") for line in checks), printed      # not skipped: the data is here
    return printed, run, out


def metadata_of(path: Path) -> dict:
    return {entry.key: entry.value for entry in onnx.load(str(path)).metadata_props}


@pytest.mark.parametrize("task", ["lm", "classify", "tag", "forecast"])
def test_export_check_on_generated_data(task, tmp_path, capsys):
    data, extra = generated_data(task, tmp_path)
    _, run, out = train_export_check(task, data, extra, tmp_path, capsys)
    metadata = metadata_of(out)
    assert metadata["rnnkit.task"] == task
    if task in ("lm", "classify", "tag"):
        assert metadata["rnnkit.vocab"] == (run / "vocab.json").read_text(encoding="utf-8")
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    if task == "classify":
        assert json.loads(metadata["rnnkit.classes"]) == config["artifacts"]["classes"]
    if task == "tag":
        assert json.loads(metadata["rnnkit.tags"]) == config["artifacts"]["tags"]
    if task == "forecast":
        assert json.loads(metadata["rnnkit.transform"]) == {**config["artifacts"]["transform"], "window": 10}
    assert "data" not in json.loads(metadata["rnnkit.options"])             # no paths of this machine


REAL = {
    "lm": lambda tmp: (head_lines(data_file("text/tinyshakespeare.txt"), tmp / "shakespeare.txt", 40),
                       ["--seq-len", "16", "--sample-length", "5"]),
    "classify-text": lambda tmp: (head_lines(data_file("sentiment/uci/yelp_labelled.txt"), tmp / "yelp.tsv", 30),
                                  ["--embedding", "4", "--pooling", "last", "--cell", "gru"]),
    "classify-ts": lambda tmp: (data_file("seqclass/JapaneseVowels_TRAIN.ts"), ["--format", "ts", "--bidirectional"]),
    "tag": lambda tmp: (head_blocks(data_file("tagging/en_ewt-ud-dev.conllu"), tmp / "ewt.conllu", 40),
                        ["--format", "conllu", "--embedding", "4"]),
    "forecast": lambda tmp: (data_file("timeseries/sunspots_yearly.csv"),
                             ["--column", "SUNACTIVITY", "--date-column", "YEAR", "--window", "12", "--horizon", "2"]),
}


@pytest.mark.parametrize("name", list(REAL))
def test_export_check_on_real_data(name, tmp_path, capsys):
    data, extra = REAL[name](tmp_path)
    printed, _, _ = train_export_check(name.split("-")[0], data, extra, tmp_path, capsys)
    assert "FAILED" not in printed


def test_check_fails_when_the_file_and_the_model_differ(tmp_path, capsys):
    data, extra = generated_data("classify", tmp_path)
    run_dir = tmp_path / "run"
    assert main(["train", "classify", "--data", str(data), "--out", str(run_dir), *TINY, *extra]) == 0
    assert main(["export", str(run_dir), str(tmp_path / "model.onnx")]) == 0
    run = read_run_model(run_dir)
    run.model.output.bias.data += 0.5                                       # the file no longer matches it
    lines, passed = check_lines(run, tmp_path / "model.onnx")
    assert not passed and sum("FAILED" in line for line in lines) == 2


def readme_generation_example() -> str:
    text = README.read_text(encoding="utf-8")
    deploy = text.split("## Deploy", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", deploy, flags=re.S)
    assert blocks, "README's Deploy section has no python example"
    return blocks[0]


def test_readme_generation_example_runs_without_rnnkit(tmp_path, capsys):
    data, extra = generated_data("lm", tmp_path)
    data.write_text("The " + data.read_text(encoding="utf-8"), encoding="utf-8")   # every character of the prime
    assert main(["train", "lm", "--data", str(data), "--out", str(tmp_path / "run"), *TINY, *extra]) == 0
    assert main(["export", str(tmp_path / "run"), str(tmp_path / "lm.onnx")]) == 0
    example = readme_generation_example()
    assert len(example.strip().splitlines()) <= 12
    blocked = "import sys; sys.modules['rnnkit'] = None\n"                 # as if rnnkit were not installed
    result = subprocess.run([sys.executable, "-c", blocked + example], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("The ") and len(result.stdout.rstrip("\n")) > 50
