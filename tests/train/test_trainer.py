"""Trainer: learning, exact resume, the stop on NaN, checkpoints, schedules, reports."""

import csv
import json
import math

import numpy as np
import pytest

import rnnkit
from rnnkit.models.language_model import LanguageModel
from rnnkit.train import (CheckpointError, LanguageModelTask, LearningRateSchedule, TrainingDiverged)
from rnnkit.train import checkpoint
from trainer_runs import make_run

TIME_COLUMNS = ("elapsed_s", "tokens_per_s")


def without_time(rows):
    return [{key: value for key, value in row.items() if key not in TIME_COLUMNS} for row in rows]


def test_training_lowers_the_validation_loss_and_writes_reports(tmp_path):
    trainer = make_run(tmp_path, epochs=4, dropout=0.0)
    first = trainer.task.evaluate(trainer.model)["loss"]
    summary = trainer.fit()
    assert summary["stop_reason"] == "completed" and summary["steps"] == 4 * trainer.task.steps_per_epoch
    assert summary["final"]["loss"] < first - 0.25
    assert math.isclose(summary["final"]["bpc"], summary["final"]["loss"] / math.log(2))
    with open(tmp_path / "metrics.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 4
    assert {"epoch", "step", "train_loss", "grad_norm", "lr", "tokens_per_s", "val_loss", "val_perplexity",
            "val_bpc"} <= set(rows[0])
    assert (tmp_path / "loss.png").stat().st_size > 1000
    for name in ("best", "last"):
        checkpoint.read_checkpoint(tmp_path / "checkpoints" / name)


def test_the_same_seed_gives_the_same_run():
    first, second = make_run(seed=3), make_run(seed=3)
    first.fit(), second.fit()
    for (name, a), (_, b) in zip(first.model.named_parameters(), second.model.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


def test_a_resumed_run_gives_the_same_numbers_as_an_uninterrupted_one(tmp_path):
    """Stopped part-way through an epoch (dropout on, carried LM state, Adam moments,
    cosine schedule), then resumed in a fresh process-like setup: identical weights and metrics."""
    whole = make_run(tmp_path / "whole")
    whole.fit()
    steps_per_epoch = whole.task.steps_per_epoch
    stop_at = steps_per_epoch + steps_per_epoch // 2 + 1           # mid second epoch

    interrupted = make_run(tmp_path / "parts", max_steps=stop_at)
    assert interrupted.fit()["stop_reason"] == "step limit"
    resumed = make_run(tmp_path / "parts", seed=99)                  # other initial weights and RNG
    resumed.restore(tmp_path / "parts" / "checkpoints" / "last")
    assert resumed.state["step"] == stop_at and resumed.state["window"] == stop_at - steps_per_epoch
    summary = resumed.fit()

    assert summary["steps"] == 2 * steps_per_epoch
    for (name, a), (_, b) in zip(whole.model.named_parameters(), resumed.model.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
    assert whole.model.rng.bit_generator.state == resumed.model.rng.bit_generator.state
    epoch_rows = [row for row in resumed.state["history"] if row["event"] == "epoch"]
    assert without_time(epoch_rows) == without_time(whole.state["history"])
    assert resumed.state["train_log"] == whole.state["train_log"]


def test_checkpoint_every_n_steps_resumes_exactly(tmp_path):
    whole = make_run(tmp_path / "whole", epochs=1)
    whole.fit()
    partial = make_run(tmp_path / "parts", epochs=1, checkpoint_every=2, max_steps=5)
    partial.fit()
    resumed = make_run(tmp_path / "parts", epochs=1, seed=5)
    resumed.restore(tmp_path / "parts" / "checkpoints" / "last")
    resumed.fit()
    for (name, a), (_, b) in zip(whole.model.named_parameters(), resumed.model.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


class PoisonedTask:
    """Wraps a task and makes the loss (or a gradient) NaN from step ``at`` on."""

    def __init__(self, task, at, where):
        self.task, self.at, self.where, self.calls = task, at, where, 0

    def __getattr__(self, name):
        return getattr(self.task, name)

    def forward(self, model, batch):
        outputs = self.task.forward(model, batch)
        if self.where == "outputs" and self.calls + 1 >= self.at:
            outputs[0, 0, 0] = np.inf             # as huge finite weights give: the loss refuses it
        return outputs

    def loss(self, outputs, batch):
        self.calls += 1
        loss, grad = self.task.loss(outputs, batch)
        return (float("nan") if self.where == "loss" and self.calls >= self.at else loss), grad

    def backward(self, model, grad):
        self.task.backward(model, grad)
        if self.where == "gradient" and self.calls >= self.at:
            model.head.weight.grad[0, 0] = np.inf


@pytest.mark.parametrize("where, message", [("loss", "loss is nan"), ("gradient", "gradient norm is inf"),
                                            ("outputs", "forward pass met NaN or infinite values")])
def test_a_non_finite_loss_or_gradient_stops_with_the_last_checkpoint_intact(tmp_path, where, message):
    trainer = make_run(tmp_path, checkpoint_every=3)
    trainer.task = PoisonedTask(trainer.task, at=8, where=where)
    last = tmp_path / "checkpoints" / "last"
    with pytest.raises(TrainingDiverged, match=message) as caught:
        trainer.fit()
    assert "step 8" in str(caught.value) and "intact" in str(caught.value)
    saved = checkpoint.read_checkpoint(last)                           # still valid, from step 6
    assert saved["trainer"]["step"] == 6
    weights = rnnkit.load(last / "model.safetensors")
    # The failing step did not update the weights: they are those after step 7, not NaN.
    assert all(np.all(np.isfinite(p.data)) for p in trainer.model.parameters())
    assert all(np.all(p.grad == 0) for p in trainer.model.parameters())
    assert weights.config == trainer.model.config


def test_an_update_that_makes_a_weight_infinite_stops_before_anything_is_saved(tmp_path):
    trainer = make_run(tmp_path, checkpoint_every=3)
    plain_step, steps = trainer.optimizer.step, []

    def overflowing_step():                       # finite loss and gradients, a step too large
        plain_step()
        steps.append(1)
        if len(steps) == 6:
            trainer.model.head.weight.data[1, 2] = -np.inf
    trainer.optimizer.step = overflowing_step
    with pytest.raises(TrainingDiverged, match="the update made head.weight NaN or infinite at step 6") as caught:
        trainer.fit()
    assert "intact" in str(caught.value) and "(step 3)" in str(caught.value)
    assert checkpoint.read_checkpoint(tmp_path / "checkpoints" / "last")["trainer"]["step"] == 3
    assert not list((tmp_path / "checkpoints").glob(".*"))          # no half-written checkpoint either


def test_a_corrupt_or_mismatched_checkpoint_is_refused(tmp_path):
    trainer = make_run(tmp_path, epochs=1)
    trainer.fit()
    last = tmp_path / "checkpoints" / "last"
    other = make_run(tmp_path / "other", epochs=1)
    other.model = LanguageModel(other.model.vocab_size, 6, embedding_dim=4, seed=0)   # another size
    other.optimizer = rnnkit.optim.Adam(other.model.parameters())
    with pytest.raises(CheckpointError, match="does not match"):
        other.restore(last)
    data = bytearray((last / "model.safetensors").read_bytes())
    data[-3] ^= 0xFF
    (last / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        make_run(tmp_path / "again", epochs=1).restore(last)
    (last / "state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        checkpoint.read_checkpoint(last)


def test_a_checkpoint_refused_for_its_optimiser_leaves_the_model_as_it_was(tmp_path):
    trainer = make_run(tmp_path, epochs=1)
    trainer.fit()
    other = make_run(tmp_path / "other", epochs=1, seed=5)
    other.optimizer = rnnkit.optim.SGD(other.model.parameters(), lr=0.1)    # an Adam checkpoint does not fit
    before, rng_before = other.model.state_dict(), other.model.rng.bit_generator.state
    with pytest.raises(CheckpointError, match="optimiser state does not fit"):
        other.restore(tmp_path / "checkpoints" / "last")
    for name, array in other.model.state_dict().items():
        np.testing.assert_array_equal(array, before[name], err_msg=name)
    assert other.model.rng.bit_generator.state == rng_before


def test_a_failed_save_leaves_no_half_written_folder_and_the_old_checkpoint_intact(tmp_path, monkeypatch):
    trainer = make_run(tmp_path, epochs=1)
    trainer.fit()
    folder = tmp_path / "checkpoints"
    step = checkpoint.read_checkpoint(folder / "last")["trainer"]["step"]

    def failing_save(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(checkpoint, "save_file", failing_save)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save_checkpoint(folder, "last", trainer.model, trainer.optimizer, {"step": -1}, {})
    assert sorted(path.name for path in folder.iterdir()) == ["best", "last"]
    assert checkpoint.read_checkpoint(folder / "last")["trainer"]["step"] == step


def test_checkpoint_files_are_readable_by_others(tmp_path):
    trainer = make_run(tmp_path, epochs=1, max_steps=2)
    trainer.fit()
    for path in (tmp_path / "checkpoints" / "last").iterdir():
        assert path.stat().st_mode & 0o777 == 0o644, path.name


def test_an_interrupted_swap_falls_back_to_the_previous_checkpoint(tmp_path):
    trainer = make_run(tmp_path, epochs=1)
    trainer.fit()
    folder = tmp_path / "checkpoints"
    (folder / "last").rename(folder / ".last.old")           # as if a crash fell between the renames
    assert checkpoint.checkpoint_path(folder, "last") == folder / ".last.old"
    checkpoint.read_checkpoint(checkpoint.checkpoint_path(folder, "last"))


def test_optimizer_state_round_trips_through_json_and_safetensors(tmp_path):
    trainer = make_run(epochs=1, max_steps=3)
    trainer.fit()
    document, arrays = checkpoint.split_optimizer_state(trainer.optimizer)
    document = json.loads(json.dumps(document))               # int keys survive as strings
    fresh = rnnkit.optim.Adam(trainer.model.parameters(), lr=1e-2)
    fresh.load_state_dict(checkpoint.join_optimizer_state(document, arrays))
    assert fresh.step_count == trainer.optimizer.step_count
    for index, entries in trainer.optimizer.state.items():
        assert fresh.state[index]["step"] == entries["step"]
        np.testing.assert_array_equal(fresh.state[index]["exp_avg_sq"], entries["exp_avg_sq"])


class WorseningTask:
    def __init__(self, task):
        self.task, self.evaluations = task, 0

    def __getattr__(self, name):
        return getattr(self.task, name)

    def evaluate(self, model):
        self.evaluations += 1
        return {"loss": float(self.evaluations)}


def test_early_stopping_after_patience_epochs_without_improvement():
    trainer = make_run(epochs=10, patience=2)
    trainer.task = WorseningTask(trainer.task)
    summary = trainer.fit()
    assert summary["stop_reason"] == "early stopping"
    assert trainer.state["epoch"] == 3 and summary["best"]["step"] == trainer.task.steps_per_epoch


def test_the_time_budget_stops_validates_and_saves(tmp_path):
    trainer = make_run(tmp_path, epochs=50, max_minutes=1e-9)
    summary = trainer.fit()
    assert summary["stop_reason"] == "time budget"
    assert checkpoint.checkpoint_path(tmp_path / "checkpoints", "last") is not None


def test_learning_rate_schedules():
    warm = LearningRateSchedule("constant", lr=1.0, warmup_steps=4)
    assert [warm(step) for step in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    cosine = LearningRateSchedule("cosine", lr=1.0, total_steps=4, min_lr=0.1)
    assert cosine(0) == 1.0 and math.isclose(cosine(2), 0.55) and math.isclose(cosine(4), 0.1)
    assert math.isclose(cosine(40), 0.1)
    step = LearningRateSchedule("step", lr=1.0, step_size=2, gamma=0.1)
    assert [round(step(s), 6) for s in range(5)] == [1.0, 1.0, 0.1, 0.1, 0.01]
    with pytest.raises(ValueError, match="schedule must be one of"):
        LearningRateSchedule("linear")
    with pytest.raises(ValueError, match="total_steps"):
        LearningRateSchedule("cosine", lr=1.0)


def test_the_learning_rate_follows_the_schedule():
    trainer = make_run(epochs=1, max_steps=2)
    trainer.fit()
    assert trainer.optimizer.lr == trainer.schedule(1)


def test_too_little_text_is_refused():
    with pytest.raises(ValueError, match="too little text"):
        LanguageModelTask(np.arange(10), np.arange(5), batch_size=4, seq_len=6, source="tiny.txt")
