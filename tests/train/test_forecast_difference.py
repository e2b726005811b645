"""Forecasting trending series: --difference auto|on|off, the persistence warnings, what evaluate scores.

``auto`` must difference a series that trends or whose validation part leaves the training
range, keep levels otherwise, and never look at the test part; the former flag spellings
(``--difference``, ``--no-difference``, ``true`` / ``false`` in TOML files and saved runs) keep
working.
"""

import json
import math

import numpy as np
import pytest

from real_data import data_file
from rnnkit.cli import main
from rnnkit.cli.generate import evaluate_run
from rnnkit.data.readers import read_time_series_csv
from rnnkit.train.forecasting import ForecastOptions, SeriesTransform, check_options, choose_difference
from rnnkit.train.options import resumed_options

TINY = ["--hidden", "6", "--epochs", "2", "--batch", "8", "--seed", "1", "--window", "6"]


def write_series(path, values):
    path.write_text("step,value\n" + "".join(f"{step},{value:.6g}\n" for step, value in enumerate(values)))
    return path


@pytest.fixture
def ramp(tmp_path):
    """A rising line with a little wiggle: the test part lies far above the training range."""
    steps = np.arange(120)
    return write_series(tmp_path / "ramp.csv", 10 + 2.0 * steps + np.sin(steps / 2))


@pytest.fixture
def cycle(tmp_path):
    steps = np.arange(120)
    return write_series(tmp_path / "cycle.csv", 50 + 10 * np.sin(steps / 4))


def forecast(tmp_path, data, *arguments, out="run"):
    return main(["train", "forecast", "--data", str(data), "--column", "value", "--out", str(tmp_path / out), *TINY,
                 *arguments])


def saved(run):
    return json.loads((run / "config.json").read_text()), json.loads((run / "summary.json").read_text())


def test_choose_difference_on_trend_cycle_and_a_level_shift():
    steps = np.arange(200.0)
    assert choose_difference(steps[:150], steps[150:180]) == (
        True, "validation leaves the training range by 20% of its width (a linear trend explains 100% of the "
              "variance)")
    cycle = np.sin(steps / 5)
    assert choose_difference(cycle[:150], cycle[150:180])[0] is False
    noisy_trend = steps / 50 + np.random.default_rng(0).normal(size=200)        # within range, but trending
    difference, reason = choose_difference(noisy_trend[:150], noisy_trend[150:180])
    assert difference is (reason.startswith("trend") or reason.startswith("validation"))
    flat = np.full(50, 3.0)
    assert choose_difference(flat[:40], flat[40:])[0] is False                 # constant: no trend, no width
    assert choose_difference(flat[:40], flat[40:] + 1)[0] is True              # constant, then a jump


def test_choose_difference_survives_values_near_the_float64_limit():
    values = np.linspace(-1.0, 1.0, 100) * 1e308
    with np.errstate(all="raise"):
        assert choose_difference(values[:80], values[80:])[0] is True


def test_auto_differences_a_trending_series_and_says_so(tmp_path, ramp, capsys):
    assert forecast(tmp_path, ramp) == 0
    printed = capsys.readouterr().out
    assert "series: differenced (--difference auto: validation leaves the training range" in printed
    config, summary = saved(tmp_path / "run")
    assert config["options"]["difference"] == "auto" and config["artifacts"]["transform"]["difference"] is True
    assert summary["series"].startswith("differenced (--difference auto")
    markdown = (tmp_path / "run" / "summary.md").read_text()
    assert "- series: differenced" in markdown
    assert "token" not in markdown and "- input values: " in markdown          # a forecast reads values, not tokens


def test_auto_tries_both_on_a_series_without_trend_and_keeps_the_better(tmp_path, cycle, capsys):
    assert forecast(tmp_path, cycle) == 0
    printed = capsys.readouterr().out
    assert "(--difference auto: no clear trend, so both were tried for 200 steps: validation RMSE" in printed
    config, _ = saved(tmp_path / "run")
    reason = config["artifacts"]["difference_auto"]
    level, differenced = (float(text.split()[0]) for text in reason.split("validation RMSE ")[1].split(", "))
    assert config["artifacts"]["transform"]["difference"] is (differenced < level)
    assert reason.startswith("differenced" if differenced < level else "levels")


def test_a_probed_run_resumes_with_the_same_choice(tmp_path, cycle, capsys):
    assert forecast(tmp_path, cycle, "--epochs", "1") == 0
    capsys.readouterr()
    assert main(["train", "forecast", "--out", str(tmp_path / "run"), "--resume", "--epochs", "2"]) == 0
    assert "resuming" in capsys.readouterr().out


def test_the_test_part_takes_no_part_in_the_choice(tmp_path):
    steps = np.arange(120)
    values = 50 + 10 * np.sin(steps / 4)
    values[-20:] += 500                                          # only the test part (last 20%) jumps
    path = write_series(tmp_path / "jump.csv", values)
    assert forecast(tmp_path, path) == 0
    config, _ = saved(tmp_path / "run")
    assert "no clear trend" in config["artifacts"]["difference_auto"]       # the jump was not seen


@pytest.mark.parametrize("arguments, expected", [
    (["--difference"], "on"), (["--no-difference"], "off"), (["--difference", "on"], "on"),
    (["--difference", "off"], "off"), ([], "auto"),
])
def test_difference_spellings(tmp_path, cycle, arguments, expected):
    assert forecast(tmp_path, cycle, *arguments) == 0
    config, _ = saved(tmp_path / "run")
    assert config["options"]["difference"] == expected
    if expected != "auto":
        assert config["artifacts"]["transform"]["difference"] is (expected == "on")
    assert ("difference_auto" in config["artifacts"]) is (expected == "auto")


@pytest.mark.parametrize("text, expected", [("true", "on"), ("false", "off"), ('"auto"', "auto")])
def test_difference_in_a_toml_file(tmp_path, cycle, text, expected):
    config_file = tmp_path / "run.toml"
    config_file.write_text(f"difference = {text}\n")
    assert forecast(tmp_path, cycle, "--config", str(config_file)) == 0
    assert saved(tmp_path / "run")[0]["options"]["difference"] == expected


def test_runs_saved_with_the_boolean_option_resume_with_it(tmp_path):
    for value, expected in ((True, "on"), (False, "off")):
        options = resumed_options(ForecastOptions, {"data": "x.csv", "difference": value}, {}, tmp_path, "config.json")
        assert options.difference == expected


def test_bad_difference_values_name_the_option(tmp_path, cycle, capsys):
    with pytest.raises(SystemExit):
        forecast(tmp_path, cycle, "--difference", "maybe")
    assert "--difference" in capsys.readouterr().err
    config_file = tmp_path / "run.toml"
    config_file.write_text('difference = "maybe"\n')
    assert forecast(tmp_path, cycle, "--config", str(config_file)) == 2
    assert "'difference' must be one of ['auto', 'on', 'off'], got 'maybe'" in capsys.readouterr().err
    options = ForecastOptions(data="x.csv", difference="maybe")
    with pytest.raises(ValueError, match="--difference must be auto, on or off, got 'maybe'"):
        check_options(options)
    options = ForecastOptions(data="x.csv", difference=True)                  # Python callers of the old flag
    check_options(options)
    assert options.difference == "on"


def test_a_model_that_loses_to_persistence_says_so(tmp_path, ramp, capsys):
    assert forecast(tmp_path, ramp, "--no-difference") == 0       # levels of a ramp: the test part is out of reach
    printed = capsys.readouterr().out
    assert "warning: the model did not beat persistence on held-out test" in printed
    _, summary = saved(tmp_path / "run")
    assert summary["test"]["rmse"] > summary["test"]["persistence_rmse"]
    assert any("held-out test" in warning for warning in summary["warnings"])
    assert "- warning: the model did not beat persistence on held-out test" in \
        (tmp_path / "run" / "summary.md").read_text()


def test_evaluate_scores_the_held_out_tail_unless_asked_for_every_window(tmp_path, ramp, capsys):
    assert forecast(tmp_path, ramp) == 0
    run = tmp_path / "run"
    _, summary = saved(run)
    tail = evaluate_run(str(run), str(ramp))
    assert tail["windows"] == summary["test"]["windows"]                  # the run's own test part
    assert math.isclose(tail["rmse"], summary["test"]["rmse"], rel_tol=1e-6)
    assert tail["part"].startswith("held-out tail: the last 20% of the file's values")
    every = evaluate_run(str(run), str(ramp), all_windows=True)
    assert every["windows"] > tail["windows"] and "training windows included" in every["part"]
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(ramp)]) == 0
    assert "(held-out tail: the last 20%" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--data", str(ramp), "--all-windows"]) == 0
    assert "training windows included (--all-windows)" in capsys.readouterr().out


def test_evaluate_a_later_file_scores_its_tail(tmp_path, ramp):
    assert forecast(tmp_path, ramp) == 0
    later = write_series(tmp_path / "later.csv", 250 + 2.0 * np.arange(30))
    metrics = evaluate_run(str(tmp_path / "run"), str(later))
    assert metrics["part"].startswith("held-out tail") and "values 25-30" in metrics["part"]
    assert metrics["windows"] == 6


def test_all_windows_is_for_forecast_runs_only(tmp_path, capsys):
    text = tmp_path / "text.tsv"
    text.write_text("".join(f"good {i}\t1\nbad {i}\t0\n" for i in range(10)))
    assert main(["train", "classify", "--data", str(text), "--out", str(tmp_path / "cls"), "--hidden", "4",
                 "--epochs", "1", "--embedding", "4"]) == 0
    assert main(["evaluate", str(tmp_path / "cls"), "--data", str(text), "--all-windows"]) == 2
    assert "--all-windows is for forecast runs; this is a classify run" in capsys.readouterr().err


@pytest.mark.parametrize("relative, column, missing, expected", [
    ("timeseries/AirPassengers.csv", "AirPassengers", "error", True),
    ("timeseries/co2_weekly.csv", "co2", "interpolate", True),
    ("timeseries/msft_daily_1986_2017.csv", "Close", "error", True),
    ("timeseries/nile.csv", "volume", "error", False),
    ("timeseries/sunspots_yearly.csv", "SUNACTIVITY", "error", False),
])
def test_auto_choice_on_real_series(relative, column, missing, expected):
    """The split of a default run (test 20%, validation 10% before it) and the choice auto makes."""
    with pytest.warns(UserWarning) if missing != "error" else _nothing():
        values = read_time_series_csv(data_file(relative), column, missing=missing)
    count = len(values)
    test_start = count - round(count * 0.2)
    val_start = test_start - max(1, round(count * 0.1))
    levels = SeriesTransform(False, False).modelled(values)
    assert choose_difference(levels[:val_start], levels[val_start:test_start])[0] is expected


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_quiet_forecast_still_says_what_it_chose(tmp_path, cycle, capsys):
    assert forecast(tmp_path, cycle, "--quiet") == 0
    printed = capsys.readouterr().out
    assert "training 200 steps on levels" not in printed and "epoch 1 (step" not in printed
    assert "series: " in printed and "--difference auto: no clear trend" in printed      # in the final summary
