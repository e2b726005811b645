"""The task adapters on tiny slices of the real data in ../shared/data (skipped where it is absent).

Each test reads a real file the way ``benchmarks.tasks`` does and trains for a few steps, so
a format the readers or the adapters mishandle shows up here, in seconds, not in a long run.
"""

import json

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.cli.generate import evaluate_run
from rnnkit.cli.predict import predict_lines
from rnnkit.data.readers import read_ts
from real_data import DATA, data_file, head_blocks, head_lines  # noqa: F401

TINY = ["--hidden", "4", "--epochs", "1", "--batch", "8", "--seed", "0"]


def test_japanese_vowels_ts_files_read_as_documented():
    series, labels = read_ts(data_file("seqclass/JapaneseVowels_TRAIN.ts"))
    assert len(series) == 270 and all(item.shape[1] == 12 for item in series)
    assert {item.shape[0] for item in series} <= set(range(7, 30))
    assert sorted(set(labels.tolist()), key=int) == [str(number) for number in range(1, 10)]
    test_series, _ = read_ts(data_file("seqclass/JapaneseVowels_TEST.ts"))
    assert len(test_series) == 370


def test_uci_sentiment_slice_trains_and_predicts(tmp_path):
    path = head_lines(data_file("sentiment/uci/imdb_labelled.txt"), tmp_path / "imdb.tsv", 30)
    assert main(["train", "classify", "--data", str(path), "--out", str(tmp_path / "run"), *TINY,
                 "--embedding", "4"]) == 0
    assert evaluate_run(str(tmp_path / "run"), str(path))["examples"] == 60
    assert len(predict_lines(str(tmp_path / "run"), ["A very good film."])) == 1


def test_digits_slice_as_eight_rows_of_eight_pixels(tmp_path):
    import gzip

    with gzip.open(data_file("seqclass/sklearn_digits.csv.gz"), "rt") as stream:
        rows = stream.read().split("\n")[:60]
    path = tmp_path / "digits.csv"
    path.write_text("\n".join(rows) + "\n")
    assert main(["train", "classify", "--data", str(path), "--format", "vectors", "--sep", ",", "--steps", "8",
                 "--out", str(tmp_path / "run"), *TINY]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"]["config"]["input_size"] == 8 and len(config["artifacts"]["classes"]) == 10


def test_ewt_conllu_slice_upos(tmp_path):
    path = head_blocks(data_file("tagging/en_ewt-ud-dev.conllu"), tmp_path / "ewt.conllu", 40)
    assert main(["train", "tag", "--data", str(path), "--format", "conllu", "--out", str(tmp_path / "run"),
                 *TINY]) == 0
    metrics = evaluate_run(str(tmp_path / "run"), str(path))
    assert metrics["sentences"] == 40 and "f1" not in metrics


def test_wnut_slice_reports_person_f1(tmp_path):
    path = head_blocks(data_file("tagging/wnut17_wnut17train.conll"), tmp_path / "wnut.conll", 60)
    assert main(["train", "tag", "--data", str(path), "--sep", "tab", "--out", str(tmp_path / "run"), *TINY]) == 0
    metrics = evaluate_run(str(tmp_path / "run"), str(path))
    assert "f1" in metrics and "f1_person" in metrics


@pytest.mark.parametrize("relative, column, date, extra", [
    ("timeseries/sunspots_yearly.csv", "SUNACTIVITY", "YEAR", []),
    ("timeseries/msft_daily_1986_2017.csv", "Close", "Date", ["--difference", "--log"]),
    ("timeseries/co2_weekly.csv", "co2", "date", ["--missing", "interpolate"]),
])
def test_forecast_on_real_series(tmp_path, relative, column, date, extra):
    path = data_file(relative)
    if "msft" in relative:                              # a slice: the full file is 8,000 days
        lines = path.read_text().split("\n")[:150]
        path = tmp_path / "msft.csv"
        path.write_text("\n".join(lines) + "\n")
    assert main(["train", "forecast", "--data", str(path), "--column", column, "--date-column", date,
                 "--window", "8", "--out", str(tmp_path / "run"), *TINY, *extra]) == 0
    test = json.loads((tmp_path / "run" / "summary.json").read_text())["test"]
    assert np.isfinite(test["rmse"]) and test["persistence_rmse"] > 0
