"""Smoke runs of every ``rnnkit lab`` experiment: tiny settings, files written, numbers sane."""

import argparse
import json

import pytest

pytest.importorskip("matplotlib")

from rnnkit.cli import COMMANDS, build_parser  # noqa: E402
from rnnkit.cli import lab  # noqa: E402


def _parser():
    """The real CLI parser when ``lab`` is registered there, else one holding ``lab`` alone."""
    if "rnnkit.cli.lab" in COMMANDS:
        return build_parser()
    parser = argparse.ArgumentParser(prog="rnnkit")
    lab.register(parser.add_subparsers(dest="command", required=True))
    return parser


def _run(tmp_path, experiment, *options):
    parser = _parser()
    out = tmp_path / experiment
    args = parser.parse_args(["lab", experiment, "--steps", "6", "--hidden", "6", "--batch", "4",
                              "--eval-every", "3", "--out", str(out), *options])
    assert args.func(args) == 0
    results = json.loads((out / "results.json").read_text())
    report = (out / "report.md").read_text()
    assert "Expected" in report and "Measured" in report
    return out, results, report


def test_gradients_smoke(tmp_path):
    out, results, report = _run(tmp_path, "gradients", "--lengths", "12")
    assert (out / "gradients.png").stat().st_size > 1000
    assert set(results["cells"]) == {"rnn", "lstm", "gru"}
    radii = results["radii"]
    assert radii["0.5"]["flow_at_10"] < radii["1.5"]["flow_at_10"]
    assert radii["0.5"]["vanishing_guaranteed"] is True


def test_gradients_with_a_short_sequence_has_one_distance_to_show(tmp_path):
    _, results, report = _run(tmp_path, "gradients", "--lengths", "6")
    assert "flow_at_5" in results["radii"]["0.5"] and "flow_at_10" not in results["radii"]["0.5"]
    assert "0.5^5 = 3.12e-02" in report


def test_clipping_smoke(tmp_path):
    out, results, _ = _run(tmp_path, "clipping", "--lengths", "8")
    assert (out / "clipping.png").exists()
    clipped = results["runs"]["clipped at 1"]
    assert clipped["steps"] == 6 and 0.0 <= clipped["clip_fraction"] <= 1.0


def test_memory_smoke(tmp_path):
    out, results, report = _run(tmp_path, "memory", "--lengths", "5", "8", "--cells", "rnn", "gru")
    assert (out / "memory.png").exists()
    assert set(results["runs"]) == {"rnn_T5", "gru_T5", "rnn_T8", "gru_T8"}
    assert "| GRU | 8 |" in report


def test_forget_bias_smoke(tmp_path):
    out, results, _ = _run(tmp_path, "forget-bias", "--lengths", "6", "--cells", "lstm")
    assert (out / "forget_bias.png").exists() and (out / "forget_bias_gates.png").exists()
    runs = results["runs"]
    assert set(runs) == {"LSTM, forget bias 0", "LSTM, forget bias 1"}
    # sigmoid(0 + noise) ~ 0.5 against sigmoid(1 + noise) ~ 0.73 at initialisation
    assert runs["LSTM, forget bias 0"]["forget_gate_mean_at_init"] < runs["LSTM, forget bias 1"]["forget_gate_mean_at_init"]


def test_quick_settings_and_bad_options(tmp_path):
    parser = _parser()
    args = lab._settings(parser.parse_args(["lab", "memory", "--quick", "--out", str(tmp_path)]))
    assert args.lengths == [10, 20] and args.steps == 250
    with pytest.raises(ValueError, match="--steps"):
        lab._settings(parser.parse_args(["lab", "memory", "--steps", "0"]))
