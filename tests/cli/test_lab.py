"""Every ``rnnkit lab`` experiment on tiny settings: files written, and what the report says it
measured is what was measured and agrees with the theory it cites; the Trainer-driven runs equal
the plain training loop they replaced."""

import argparse
import json
import math

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import rnnkit  # noqa: E402
from rnnkit.cli import COMMANDS, build_parser  # noqa: E402
from rnnkit.cli import lab  # noqa: E402
from rnnkit.cli.lab.common import make_layer, train_adding  # noqa: E402
from rnnkit.data.synthetic import adding_problem  # noqa: E402
from rnnkit.diagnostics import set_spectral_radius  # noqa: E402


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


def _row(report, first_cells):
    """The cells of the report's table row that starts with ``first_cells``."""
    prefix = "| " + " | ".join(first_cells) + " |"
    line = next(line for line in report.splitlines() if line.startswith(prefix))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_gradients(tmp_path):
    out, results, report = _run(tmp_path, "gradients", "--lengths", "12")
    assert (out / "gradients.png").stat().st_size > 1000
    assert set(results["cells"]) == {"rnn", "lstm", "gru"}
    for cell, numbers in results["cells"].items():
        # relative to the last step: positive and finite at every distance shown, before and after training
        assert all(0 < numbers[f"{when}_at_{d}"] < math.inf for when in ("init", "trained") for d in (10, 11))
        assert _row(report, [cell.upper(), "init"])[2:] == [f"{numbers[f'init_at_{d}']:.2e}" for d in (10, 11)]
    radii = results["radii"]
    for numbers in radii.values():
        # ||dh_T/dh_k|| <= sigma_max^(T-k): each step multiplies by diag(1 - h^2) W_hh, of norm <= sigma_max
        sigma = numbers["largest_singular_value"]
        assert numbers["jacobian_at_10"] <= sigma ** 10 * (1 + 1e-6)
        assert numbers["vanishing_guaranteed"] is (sigma < 1)
    assert radii["0.5"]["flow_at_10"] < 1e-3 < radii["1.5"]["flow_at_10"]      # 0.5^10 ~ 1e-3
    assert radii["0.5"]["vanishing_guaranteed"] is True


def test_gradients_with_a_short_sequence_has_one_distance_to_show(tmp_path):
    _, results, report = _run(tmp_path, "gradients", "--lengths", "6")
    assert "flow_at_5" in results["radii"]["0.5"] and "flow_at_10" not in results["radii"]["0.5"]
    assert "0.5^5 = 3.12e-02" in report


def test_clipping(tmp_path):
    out, results, report = _run(tmp_path, "clipping", "--lengths", "8")
    assert (out / "clipping.png").exists()
    free, clipped = results["runs"]["without clipping"], results["runs"]["clipped at 1"]
    assert clipped["steps"] == 6 and free["clip_fraction"] == 0.0
    # clipping fires exactly on the steps whose norm (measured before clipping) is above the threshold
    assert clipped["clip_fraction"] == pytest.approx(clipped["steps_above_threshold"] / clipped["steps"])
    for label, numbers in results["runs"].items():
        assert _row(report, [label])[1:6] == [f"{numbers['final_val_mse']:.4f}", f"{numbers['median']:.3g}",
                                              f"{numbers['max']:.3g}", str(numbers["steps_above_threshold"]),
                                              str(numbers["loss_spikes"])]


def test_memory(tmp_path):
    out, results, report = _run(tmp_path, "memory", "--lengths", "5", "8", "--cells", "rnn", "gru")
    assert (out / "memory.png").exists()
    assert set(results["runs"]) == {"rnn_T5", "gru_T5", "rnn_T8", "gru_T8"}
    for length in (5, 8):
        for cell in ("rnn", "gru"):
            numbers = results["runs"][f"{cell}_T{length}"]
            steps, losses = results["curves"][f"T = {length}"][cell.upper()]
            assert steps == [1, 3, 6]                        # step 1, every --eval-every 3, the last step
            assert numbers["final_val_mse"] == pytest.approx(np.mean(losses[-3:]))
            assert numbers["best_val_mse"] == pytest.approx(min(losses)) and numbers["diverged_at"] is None
            assert 0.0 <= numbers["clip_fraction"] <= 1.0
            assert _row(report, [cell.upper(), str(length)])[2] == f"{numbers['final_val_mse']:.4f}"


def test_cells(tmp_path):
    out, results, report = _run(tmp_path, "cells", "--lengths", "6", "--speed-lengths", "4", "8", "--repeats", "1")
    assert (out / "cells.png").exists() and (out / "cells_speed.png").stat().st_size > 1000
    cells = ("lstm", "gru", "lnlstm", "mingru", "minlstm")                # the default comparison
    assert set(results["runs"]) == {f"{cell}_T6" for cell in cells}
    for cell in cells:
        numbers = results["runs"][f"{cell}_T6"]
        steps, losses = results["curves"]["T = 6"][cell.upper()]
        assert steps == [1, 3, 6] and numbers["final_val_mse"] == pytest.approx(np.mean(losses[-3:]))
        assert _row(report, [cell.upper(), "6"])[2] == f"{numbers['final_val_mse']:.4f}"
    speed = results["speed"]
    assert speed["lengths"] == [4, 8] and set(speed["seconds_per_step"]) == set(cells)
    lstm_last = speed["seconds_per_step"]["lstm"][-1]
    speed_table = report[report.index("Milliseconds per training step"):]        # the second table
    for cell, seconds in speed["seconds_per_step"].items():
        assert len(seconds) == 2 and all(0 < value < 60 for value in seconds)
        line = next(line for line in speed_table.splitlines() if line.startswith(f"| {cell.upper()} |"))
        assert [part.strip() for part in line.strip("|").split("|")][1:] == \
            [f"{value * 1e3:.2f}" for value in seconds] + [f"{lstm_last / seconds[-1]:.2f}"]
    assert "--speed-lengths 4 8 --repeats 1" in report


def test_cells_settings_and_bad_options(tmp_path):
    parser = _parser()
    args = lab._settings(parser.parse_args(["lab", "cells", "--quick", "--out", str(tmp_path)]))
    assert args.cells == ["lstm", "gru", "lnlstm", "mingru", "minlstm"] and args.speed_lengths == [100, 400]
    full = lab._settings(parser.parse_args(["lab", "cells", "--out", str(tmp_path)]))
    assert full.lengths == [100, 200] and full.speed_lengths[0] == 100 and full.speed_lengths[-1] == 4096
    with pytest.raises(ValueError, match="--speed-lengths must all be >= 2, got \\[1\\]"):
        lab._settings(parser.parse_args(["lab", "cells", "--speed-lengths", "1"]))
    with pytest.raises(ValueError, match="--repeats must be >= 1, got 0"):
        lab._settings(parser.parse_args(["lab", "cells", "--repeats", "0"]))


def test_forget_bias(tmp_path):
    out, results, report = _run(tmp_path, "forget-bias", "--lengths", "6", "--cells", "lstm")
    assert (out / "forget_bias.png").exists() and (out / "forget_bias_gates.png").exists()
    runs = results["runs"]
    assert set(runs) == {"LSTM, forget bias 0", "LSTM, forget bias 1"}
    # sigmoid(0 + noise) ~ 0.5 against sigmoid(1 + noise) ~ 0.73 at initialisation
    assert 0.4 < runs["LSTM, forget bias 0"]["forget_gate_mean_at_init"] < 0.6
    assert 0.63 < runs["LSTM, forget bias 1"]["forget_gate_mean_at_init"] < 0.83
    for name, numbers in runs.items():
        assert _row(report, [name])[3] == f"forget {numbers['forget_gate_mean_at_init']:.2f}"


def _reference_loop(layer, head, length, steps, batch, rng, optimizer, lr, max_norm, eval_every, validation):
    """The lab's own training loop before it trained with the Trainer: the numbers it must still give."""
    params = layer.parameters() + head.parameters()
    opt = rnnkit.optim.Adam(params, lr=lr) if optimizer == "adam" else rnnkit.optim.SGD(params, lr=lr)
    x_val, y_val = validation
    losses, norms, evaluations = [], [], []
    for step in range(1, steps + 1):
        x, y = adding_problem(batch, length, seed=rng)
        outputs, _ = layer(x)
        loss, d_prediction = rnnkit.losses.mse(head(outputs[:, -1]), y)
        d_outputs = np.zeros_like(outputs)
        d_outputs[:, -1] = head.backward(d_prediction)
        layer.backward(d_outputs)
        norms.append(rnnkit.clip_grad_norm_(params, math.inf if max_norm is None else max_norm))
        opt.step()
        opt.zero_grad()
        losses.append(loss)
        if step % eval_every == 0 or step == 1 or step == steps:
            outputs, _ = layer(x_val)
            evaluations.append((step, rnnkit.losses.mse(head(outputs[:, -1]), y_val)[0]))
    return losses, norms, evaluations


@pytest.mark.parametrize("cell, optimizer, max_norm", [("lstm", "adam", 1.0), ("rnn", "sgd", None),
                                                       ("gru", "adam", 0.05)])
def test_training_by_the_trainer_gives_the_numbers_of_the_plain_loop(cell, optimizer, max_norm):
    settings = dict(length=7, steps=9, batch=5, optimizer=optimizer, lr=0.01, max_norm=max_norm, eval_every=4,
                    validation=adding_problem(16, 7, seed=3))
    runs = []
    for train in (train_adding, _reference_loop):
        rng = np.random.default_rng(0)
        layer, head = make_layer(cell, 6, rng), rnnkit.Linear(6, 1, seed=rng)
        args = (cell, layer, head) if train is train_adding else (layer, head)
        runs.append((train(*args, rng=rng, **settings), rng.random()))
    (run, after), ((losses, norms, evaluations), reference_after) = runs
    assert run.train_loss == pytest.approx(losses, rel=1e-6) and run.history.norms.tolist() == pytest.approx(norms)
    assert run.eval_steps == [step for step, _ in evaluations] == [1, 4, 8, 9] and run.diverged_at is None
    assert run.eval_loss == pytest.approx([loss for _, loss in evaluations], rel=1e-5)
    assert after == reference_after                          # the same batches were drawn: rng in the same place


def test_a_run_that_explodes_is_stopped_and_its_step_recorded():
    rng = np.random.default_rng(0)
    layer, head = make_layer("rnn", 8, rng), rnnkit.Linear(8, 1, seed=rng)
    set_spectral_radius(layer, 3.0)
    run = train_adding("exploding", layer, head, 30, 200, 8, rng, optimizer="sgd", lr=1e3, max_norm=None,
                       eval_every=10)
    assert run.diverged_at is not None and run.diverged_at in (len(run.train_loss), len(run.train_loss) + 1)
    assert run.summary(0.01)["diverged_at"] == run.diverged_at and len(run.history.norms) >= len(run.train_loss)


def test_quick_settings_and_bad_options(tmp_path):
    parser = _parser()
    args = lab._settings(parser.parse_args(["lab", "memory", "--quick", "--out", str(tmp_path)]))
    assert args.lengths == [10, 20] and args.steps == 250
    with pytest.raises(ValueError, match="--steps"):
        lab._settings(parser.parse_args(["lab", "memory", "--steps", "0"]))
