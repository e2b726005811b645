"""The training loop: forward, loss, backward, clip, step, zero; then validate, log, checkpoint.

Why one module of about 560 lines: the loop, its stops (divergence, time budget, interrupt,
early stopping), checkpoints and the data-parallel reduction all act on one step's state; split
apart, the order in which they run would no longer show in one place.

A :class:`Trainer` runs a model on a *task*, an object with these methods (see
:class:`~rnnkit.train.language_modeling.LanguageModelTask`)::

    task.steps_per_epoch                       -> int
    task.train_batches(epoch, start)           -> iterable of batches (each has .num_tokens)
    task.forward(model, batch)                 -> outputs
    task.loss(outputs, batch)                  -> (loss: float, d_outputs)
    task.backward(model, d_outputs)            -> None (adds parameter gradients)
    task.evaluate(model)                       -> dict of validation metrics, "loss" first
    task.monitor (optional)                    -> (metric name, "min" or "max"): what "best" means;
                                                  without it, the lowest validation "loss"
    task.state_arrays() / load_state_arrays()  -> arrays a checkpoint must hold (e.g. a carried state)

and, to train on several processes (:mod:`rnnkit.distributed`)::

    task.shard(group)                          -> None: from now on train_batches yields this rank's part
                                                  of each batch (an EmptyPart where it has none)
    task.loss_count(batch)                     -> int: the count task.loss is a mean over
    task.evaluate_part(model, rank, size)      -> (optional) this rank's share of the validation, as sums
    task.metrics_from_sums(sums)               -> (optional) the metrics from the sums over every rank

Everything that decides the numbers of a run lives in a checkpoint: weights, optimiser
state, the model's random generator (dropout), the data position (epoch and window) and the
task's arrays. The learning rate is a pure function of the step. So a run resumed from
``checkpoints/last`` continues exactly as if it had never stopped.

A non-finite loss or gradient norm stops training with :class:`TrainingDiverged` before the
optimiser touches the weights, and nothing is saved from that step: the last checkpoint stays
as it was. An update that leaves a weight NaN or infinite (finite gradients, too large a
step) stops training the same way, right after that step and before anything is saved, and
so do weights that are finite but so large that the forward pass overflows.

Divergence is also caught while the numbers are still finite: a training loss more than
``divergence_factor`` times the first step's (or times 1, if that was smaller), or a validation
loss that many times the first validation's, stops training the same way, and a validation
whose metrics are not all finite saves nothing. So ``checkpoints/best`` and ``checkpoints/last``
only ever hold weights whose last validation (or, for a periodic save, whose next training step)
gave finite, unexploded losses.

A periodic checkpoint (``checkpoint_every``) is written one step late: once the next step's
forward pass has shown the weights give a finite, unexploded loss (and before that step changes
them), with the data position and random state of the step it belongs to.

A run that stops early (time budget, Ctrl-C, step limit) validates and saves unless its last
validation was at this very step.

Given a :class:`~rnnkit.distributed.Group` of N > 1 processes (``mpiexec -n N``), the Trainer
trains data-parallel (:mod:`rnnkit.distributed`): each rank runs forward and backward on its
part of every batch (``task.shard(group)``), one allreduce per step sums the gradients and the
counts the loss is normalised by (``task.loss_count(batch)``), and every figure the loop
judges (loss, gradient norm, validation, stop requests) is the global one, so every rank takes
the same decisions. Rank 0 holds the run's state at the start (a resumed run restores there)
and sends it to the others; only rank 0 writes files, logs and shows the progress bar. A task
may split its validation too (``task.evaluate_part(model, rank, size)`` -> sums, and
``task.metrics_from_sums(sums)``); otherwise every rank validates on all the data.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rnnkit import distributed
from rnnkit._validate import NonFiniteError
from rnnkit.clip import clip_grad_norm_
from rnnkit.module import Module
from rnnkit.optim.optimizer import Optimizer
from rnnkit.train import checkpoint, report
from rnnkit.train.schedules import LearningRateSchedule

CHECKPOINT_FOLDER = "checkpoints"


class TrainingDiverged(RuntimeError):
    """The loss, the gradient norm, a weight or the forward pass's values became NaN or infinite;
    the message says where and what to do."""


@dataclass
class TrainerConfig:
    """How long to train and what to do along the way."""

    epochs: int = 10                    # passes over the training data
    clip: float = 1.0                   # max global gradient norm (inf: measure but never clip)
    schedule: LearningRateSchedule | None = None   # None: the optimiser's lr, constant
    patience: int | None = None         # stop after this many epochs without a better val loss
    min_delta: float = 0.0              # ... "better" means lower by more than this
    max_minutes: float | None = None    # wall-clock budget for this call of fit()
    max_steps: int | None = None        # stop once the run has taken this many steps in total
    checkpoint_every: int = 0           # also save checkpoints/last every N steps (0: at validations only)
    log_every: int = 10                 # one point of the training-loss curve per N steps
    divergence_factor: float = 100.0    # a loss this many times the first step's (at least 1) is divergence
    progress: str | bool = "auto"       # tqdm bars: "auto" (only when stderr is a terminal), "always", "never"
                                        # (True and False mean "always" and "never")
    quiet: bool = False                 # no bars and no per-validation lines: the caller prints the summary


class Trainer:
    """Trains ``model`` on ``task`` with ``optimizer``; writes its files under ``run_dir``.

    Parameters
    ----------
    model : Module
    task : object
        See the module docstring.
    optimizer : Optimizer
        Built over ``model.parameters()``.
    config : TrainerConfig
    run_dir : path or None
        Where ``checkpoints/``, ``metrics.csv`` and ``loss.png`` go; None writes nothing.
    log : callable(str)
        Where progress lines go (printed above the progress bar).
    on_validation : callable(trainer, metrics) or None
        Called after each validation, e.g. to print a generated sample (on rank 0 only).
    group : rnnkit.distributed.Group or None
        The processes that train together (:func:`rnnkit.distributed.world`); None: this one alone.
    seed : int
        With several processes: rank r draws its dropout masks at step s from ``(seed, r, s)``.
    """

    def __init__(self, model: Module, task: Any, optimizer: Optimizer, config: TrainerConfig | None = None,
                 run_dir: str | Path | None = None, log: Callable[[str], None] = print,
                 on_validation: Callable[["Trainer", dict], None] | None = None,
                 group: distributed.Group | None = None, seed: int = 0):
        self.model = model
        self.task = task
        self.optimizer = optimizer
        self.config = config or TrainerConfig()
        self.schedule = self.config.schedule or LearningRateSchedule("constant", lr=optimizer.lr)
        self.run_dir = None if run_dir is None else Path(run_dir)
        self._log = log
        self.on_validation = on_validation
        self.group = group or distributed.Group()
        self.seed = seed
        self._saves = self.run_dir is not None       # rank 0's answer on every rank once training starts
        self._group_ready = self.group.size == 1
        self._stop_votes = (0.0, 0.0)                # other ranks' stop requests (interrupted, out of time)
        self._bar: Any = None
        self._stop_requested = False
        # The position and history: everything in this dict goes into every checkpoint.
        self.state: dict[str, Any] = {
            "epoch": 0, "window": 0, "step": 0, "tokens": 0, "elapsed_s": 0.0,
            "best_loss": None, "best_step": None,        # best monitored score (any validation; lower is better)
            "patience_best": None, "bad_epochs": 0,       # early stopping: end-of-epoch validations
            "this_epoch": [0.0, 0.0, 0],                  # loss sum, grad-norm sum, steps in this epoch
            "since_log": [0.0, 0],                        # loss sum, steps for the next train-log point
            "train_log": [], "history": [],
            "start_loss": None,                           # the first step's loss: what "exploded" is measured by
            "start_val_loss": None,                       # the first validation's loss: the same for validations
            "last_validation_step": None,
        }
        self.last_checkpoint_step: int | None = None
        # Files of the run directory whose SHA-256 every checkpoint records (config.json, vocabularies).
        self.run_files: dict[str, str] = {}
        # Called after each checkpoint is written, with its name ("best" or "last").
        self.on_checkpoint: Callable[["Trainer", str], None] | None = None

    # --- the loop -------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        """Train until the epochs, the patience, the step limit or the time budget run out.

        Returns the summary (also written as ``summary.json`` when there is a ``run_dir``).
        Raises :class:`TrainingDiverged` on a non-finite loss or gradient.
        """
        if not self._group_ready:
            self._join_group()
        self._started = time.perf_counter()
        self._elapsed_before = self.state["elapsed_s"]
        self.stop_reason = "completed"
        previous_handler = self._catch_interrupt()
        try:
            while self.state["epoch"] < self.config.epochs:
                if self._must_stop() or not self._run_epoch():
                    if self.state["step"] != self.state["last_validation_step"]:
                        self._validate(end_of_epoch=False)   # stopped part-way: measure, save, leave
                    break
                self.state["epoch"] += 1
                self.state["window"] = 0
                self._validate(end_of_epoch=True)
                if self._patience_exhausted():
                    self.stop_reason = "early stopping"
                    break
        finally:
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
        return self._finish()

    def _run_epoch(self) -> bool:
        """One pass over the training batches from the saved window; False if stopped early."""
        params = self.optimizer.params
        epoch, total_epochs = self.state["epoch"], self.config.epochs
        self._open_bar(f"epoch {epoch + 1}/{total_epochs}")
        epoch_started, epoch_tokens = time.perf_counter(), 0
        pending = None                  # a periodic checkpoint, written once the next step's loss proves it sound
        try:
            for batch in self.task.train_batches(epoch, self.state["window"]):
                if self._must_stop():
                    return False
                self.optimizer.lr = self.schedule(self.state["step"])
                if self.group.size > 1:       # forward, loss, backward on this rank's part; one allreduce
                    loss, tokens = self._data_parallel_gradients(batch)
                    self._check_finite("loss", loss)
                    self._check_not_exploded("training loss", loss)
                    if pending is not None:
                        self._save("last", pending)
                        pending = None
                else:
                    tokens = batch.num_tokens
                    try:
                        outputs = self.task.forward(self.model, batch)            # forward
                        loss, d_outputs = self.task.loss(outputs, batch)          # loss
                    except NonFiniteError as error:       # weights large enough to overflow the activations
                        self._diverged(f"the forward pass met NaN or infinite values ({error})",
                                       "the weights were not updated")
                    self._check_finite("loss", loss)
                    self._check_not_exploded("training loss", loss)
                    if pending is not None:       # these weights gave a sound loss: now they may be saved
                        self._save("last", pending)
                        pending = None
                    self.task.backward(self.model, d_outputs)                     # backward
                grad_norm = clip_grad_norm_(params, self.config.clip)         # clip: the norm before clipping
                self._check_finite("gradient norm", grad_norm)
                self.optimizer.step()                                         # step
                self._check_weights(params)
                self.optimizer.zero_grad()                                    # zero
                epoch_tokens += tokens
                self._record_step(loss, grad_norm, tokens,
                                  epoch_tokens / max(time.perf_counter() - epoch_started, 1e-9))
                if self.config.checkpoint_every and self.state["step"] % self.config.checkpoint_every == 0:
                    pending = self._snapshot()
        finally:
            self._close_bar()
        return True

    # --- several processes ---------------------------------------------------------------------
    def _join_group(self) -> None:
        """Every rank from rank 0's state: weights, optimiser, position and history, the task's arrays."""
        group = self.group
        shapes = [(name, param.data.shape, param.data.dtype.str) for name, param in self.model.named_parameters()]
        distributed.check_same(group, "models", shapes)
        if not hasattr(self.task, "shard") or not hasattr(self.task, "loss_count"):
            raise distributed.DistributedError(f"{type(self.task).__name__} cannot train on several processes "
                                               f"(it has no shard() and loss_count())")
        distributed.broadcast_parameters(group, self.optimizer.params)
        optimizer_state = group.broadcast(self.optimizer.state_dict() if group.is_root else None)
        if not group.is_root:
            self.optimizer.load_state_dict(optimizer_state)
        self.state, self.last_checkpoint_step, self._saves, arrays = group.broadcast(
            (self.state, self.last_checkpoint_step, self.run_dir is not None, self.task.state_arrays())
            if group.is_root else None)
        self.task.shard(group)                       # from now on the task reads only this rank's part
        self.task.load_state_arrays(arrays)
        self._group_ready = True

    def _data_parallel_gradients(self, batch: Any) -> tuple[float, int]:
        """Forward and backward on this rank's part; after the one allreduce every rank holds the
        global batch's mean-loss gradients. Returns the global mean loss and the batch's tokens."""
        group, params = self.group, self.optimizer.params
        self.model.rng.bit_generator.state = distributed.dropout_seed(
            self.seed, group.rank, self.state["step"]).bit_generator.state
        loss_sum, count = 0.0, 0
        if not isinstance(batch, distributed.EmptyPart):
            try:
                outputs = self.task.forward(self.model, batch)                # forward (this rank's part)
                loss, d_outputs = self.task.loss(outputs, batch)              # loss: the part's mean
                count = self.task.loss_count(batch)                           # ... over this many
                loss_sum = loss * count
                self.task.backward(self.model, d_outputs)                     # backward: the mean's gradients
            except NonFiniteError:            # every rank must still join the allreduce: a NaN loss stops all
                loss_sum, count = math.nan, 1
        budget = self.config.max_minutes
        out_of_time = budget is not None and time.perf_counter() - self._started >= 60.0 * budget
        # The gradients times the count: the loss sum's (also those a loss adds itself, e.g. a CRF's).
        buffer = distributed.flat_gradients(params, [loss_sum, count, batch.num_tokens, float(self._stop_requested),
                                                     float(out_of_time)], scale=count)
        group.allreduce(buffer)                                               # the one message of the step
        total_count = buffer[len(buffer) - distributed.FIGURES + distributed.COUNT]
        figures = distributed.set_gradients(params, buffer, 1.0 / max(total_count, 1.0))
        self._stop_votes = (figures[distributed.INTERRUPT_VOTES], figures[distributed.BUDGET_VOTES])
        return float(figures[distributed.LOSS_SUM] / max(total_count, 1.0)), int(figures[distributed.TOKENS])

    def _evaluate(self) -> dict[str, float]:
        """The task's validation metrics; split across ranks and summed where the task can."""
        group = self.group
        if group.size == 1 or not hasattr(self.task, "evaluate_part"):
            return self.task.evaluate(self.model)
        try:
            sums = self.task.evaluate_part(self.model, group.rank, group.size)
        except NonFiniteError:
            sums = None
        names = group.broadcast(list(sums) if sums is not None else None)
        if names is None:
            raise NonFiniteError("rank 0's part of the validation")
        values = np.array([math.nan if sums is None else float(sums[name]) for name in names], dtype=np.float64)
        group.allreduce(values)
        if not np.all(np.isfinite(values)):
            raise NonFiniteError("a rank's part of the validation")
        return self.task.metrics_from_sums(dict(zip(names, values.tolist())))

    # --- bookkeeping of one step ------------------------------------------------------------
    def _record_step(self, loss: float, grad_norm: float, tokens: int, tokens_per_s: float) -> None:
        state = self.state
        state["step"] += 1
        state["window"] += 1
        state["tokens"] += tokens
        since = state["this_epoch"]
        since[0] += loss
        since[1] += grad_norm
        since[2] += 1
        log = state["since_log"]
        log[0] += loss
        log[1] += 1
        if log[1] == self.config.log_every:
            state["train_log"].append([state["step"], log[0] / log[1]])
            state["since_log"] = [0.0, 0]
        self._tokens_per_s = tokens_per_s
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(f"loss {loss:.3f}, grad norm {grad_norm:.2f}, lr {self.optimizer.lr:.2e}, "
                                      f"{tokens_per_s:,.0f} tok/s", refresh=False)

    def _check_finite(self, what: str, value: float) -> None:
        if not math.isfinite(value):
            self._diverged(f"the {what} is {value}", "the weights were not updated")

    def _check_not_exploded(self, what: str, loss: float, reference: str = "start_loss") -> None:
        """Divergence while still finite: a loss far above the first one of its kind (first step, first validation).

        The first validation is only measured, never judged: its data may legitimately lie far
        from the training data's (a trending series), so only later validations are compared to it.
        """
        start = self.state[reference]
        if start is None:
            self.state[reference] = float(loss)
            return
        if loss > self.config.divergence_factor * max(start, 1.0):
            first = "first step's" if reference == "start_loss" else "first validation's"
            self._diverged(f"the {what} {loss:.6g} is more than {self.config.divergence_factor:g} times the "
                           f"{first} ({start:.4g}, or 1 if smaller): the loss has exploded",
                           "nothing was saved from it")

    def _check_weights(self, params: list) -> None:
        """After an update: one sum per parameter (float64), NaN or infinite if any weight is."""
        for param in params:
            if not math.isfinite(float(np.sum(param.data, dtype=np.float64))):
                names = [name for name, other in self.model.named_parameters() if other is param]
                self._diverged(f"the update made {names[0] if names else 'a parameter'} NaN or infinite",
                               "the model in memory holds those weights")

    def _diverged(self, what: str, weights: str) -> None:
        self.optimizer.zero_grad()
        if self.last_checkpoint_step is None or self.run_dir is None:
            saved = "no checkpoint had been written yet"
        else:
            saved = (f"the last good checkpoint, {self.run_dir / CHECKPOINT_FOLDER / 'last'} (step "
                     f"{self.last_checkpoint_step}), is intact")
        raise TrainingDiverged(
            f"training stopped: {what} at step {self.state['step'] + 1} (epoch "
            f"{self.state['epoch'] + 1}, window {self.state['window'] + 1}); {weights} and "
            f"{saved}. Try a lower learning rate or a smaller gradient clip.")

    def _must_stop(self) -> bool:
        config = self.config
        interrupted, out_of_time = self._stop_votes       # several processes: any rank's, after the last step
        if self._stop_requested and self.group.size == 1 or interrupted:
            self.stop_reason = "interrupted"
        elif config.max_steps is not None and self.state["step"] >= config.max_steps:
            self.stop_reason = "step limit"
        elif out_of_time or (self.group.size == 1 and config.max_minutes is not None
                             and time.perf_counter() - self._started >= 60.0 * config.max_minutes):
            self.stop_reason = "time budget"
        else:
            return False
        return True

    # --- validation, checkpoints, files ------------------------------------------------------
    def _validate(self, end_of_epoch: bool) -> dict[str, float]:
        state = self.state
        with self.model.inference():  # eval mode and no_grad until the block ends
            try:
                metrics = self._evaluate()
            except NonFiniteError as error:
                self._diverged(f"the validation met NaN or infinite values ({error})", "nothing was saved")
        bad = [name for name, value in metrics.items()
               if isinstance(value, (float, np.floating)) and not math.isfinite(value)]
        if bad:
            self._diverged(f"the validation {', '.join(bad)} {'is' if len(bad) == 1 else 'are'} NaN or infinite",
                           "nothing was saved from it")
        self._check_not_exploded("validation loss", float(metrics["loss"]), "start_val_loss")
        state["last_validation_step"] = state["step"]
        loss_sum, norm_sum, steps = state["this_epoch"]
        row: dict[str, Any] = {
            "epoch": round(state["epoch"] + state["window"] / max(self.task.steps_per_epoch, 1), 3),
            "step": state["step"], "tokens": state["tokens"], "elapsed_s": round(self._elapsed(), 1),
            "lr": self.optimizer.lr,
            "train_loss": loss_sum / steps if steps else None,
            "grad_norm": norm_sum / steps if steps else None,
            "tokens_per_s": round(getattr(self, "_tokens_per_s", 0.0)),
            **{f"val_{name}": value for name, value in metrics.items()},
            "event": "epoch" if end_of_epoch else self.stop_reason,
        }
        state["history"].append(row)
        if end_of_epoch:
            state["this_epoch"] = [0.0, 0.0, 0]
        score = self._score(metrics)
        if state["best_loss"] is None or score < state["best_loss"]:
            state["best_loss"], state["best_step"] = score, state["step"]
            self._save("best")
        if end_of_epoch:
            if state["patience_best"] is None or score < state["patience_best"] - self.config.min_delta:
                state["patience_best"], state["bad_epochs"] = score, 0
            else:
                state["bad_epochs"] += 1
        self._save("last")
        self._write_reports()
        shown = ", ".join(f"{name} {value:.4f}" for name, value in metrics.items())
        train = "" if row["train_loss"] is None else f"train loss {row['train_loss']:.4f}, "
        self.log(f"epoch {row['epoch']:g} (step {state['step']}): {train}validation {shown}, "
                 f"{self._elapsed():.0f} s")
        if self.on_validation is not None and self.group.is_root:
            self.on_validation(self, metrics)
        return metrics

    def _score(self, metrics: dict[str, float]) -> float:
        """The monitored metric as a score where lower is better (the loss unless the task says otherwise)."""
        name, mode = getattr(self.task, "monitor", ("loss", "min"))
        if name not in metrics:
            raise KeyError(f"the task monitors {name!r}, but its evaluate() returned only {sorted(metrics)}")
        return float(metrics[name]) if mode == "min" else -float(metrics[name])

    def _patience_exhausted(self) -> bool:
        return self.config.patience is not None and self.state["bad_epochs"] >= self.config.patience

    def _snapshot(self) -> dict[str, Any] | None:
        """What a periodic checkpoint needs beside the weights, the optimiser and the trainer state, none of
        which change before it is written: the task's arrays and the model's random generator (the next
        forward pass moves both)."""
        if not self._saves:
            return None
        return {"arrays": {key: np.array(value, copy=True) for key, value in self.task.state_arrays().items()},
                "rng": self.model.rng.bit_generator.state}

    def _save(self, name: str, snapshot: dict[str, Any] | None = None) -> None:
        """Write checkpoint ``name`` now, or (``snapshot``) as it was when the snapshot was taken.

        With several processes every rank gathers the task's arrays (a collective); rank 0 writes."""
        if not self._saves:
            return
        self.state["elapsed_s"] = self._elapsed()
        arrays = self.task.state_arrays() if snapshot is None else snapshot["arrays"]
        if not self.group.is_root:
            if name == "last":
                self.last_checkpoint_step = self.state["step"]
            return
        current_rng = self.model.rng.bit_generator.state
        if snapshot is not None:
            self.model.rng.bit_generator.state = snapshot["rng"]
        try:
            checkpoint.save_checkpoint(self.run_dir / CHECKPOINT_FOLDER, name, self.model, self.optimizer,
                                       self.state, arrays, self.run_files)
        finally:
            self.model.rng.bit_generator.state = current_rng
        if name == "last":
            self.last_checkpoint_step = self.state["step"]
        if self.on_checkpoint is not None:
            self.on_checkpoint(self, name)

    def _write_reports(self) -> None:
        if self.run_dir is None:
            return
        report.write_metrics_csv(self.run_dir / report.METRICS_FILE, self.state["history"])
        problem = report.plot_losses(self.run_dir / report.PLOT_FILE, self.state["train_log"], self.state["history"],
                                     title=f"{type(self.model).__name__} loss")
        if problem and not getattr(self, "_plot_warned", False):
            self._plot_warned = True
            self.log(problem)

    def _elapsed(self) -> float:
        started = getattr(self, "_started", None)
        return self._elapsed_before + time.perf_counter() - started if started is not None else self.state["elapsed_s"]

    def _finish(self) -> dict[str, Any]:
        history = self.state["history"]
        best = next((row for row in history if row["step"] == self.state["best_step"]), None)

        def val_metrics(row: dict | None) -> dict[str, float]:
            return {} if row is None else {key[4:]: value for key, value in row.items() if key.startswith("val_")}

        summary = {
            "stop_reason": self.stop_reason,
            "epochs": round(self.state["epoch"] + self.state["window"] / max(self.task.steps_per_epoch, 1), 3),
            "steps": self.state["step"], "tokens": self.state["tokens"], "elapsed_s": round(self._elapsed(), 1),
            "parameters": self.model.num_parameters(),
            "best": {"step": self.state["best_step"], **val_metrics(best)},
            "final": val_metrics(history[-1] if history else None),
        }
        if hasattr(self.task, "count_name"):        # what "tokens" counts when the task reads no tokens
            summary["count_name"] = self.task.count_name
        self.state["elapsed_s"] = self._elapsed()
        return summary

    # --- resuming -------------------------------------------------------------------------------
    def restore(self, path: str | Path) -> None:
        """Continue from the checkpoint folder ``path`` (model, optimiser, RNG, data position)."""
        trainer_state, task_arrays = checkpoint.restore_checkpoint(path, self.model, self.optimizer)
        history = trainer_state.get("history")
        trainer_state.setdefault("start_loss", None)            # checkpoints of older rnnkit versions
        trainer_state.setdefault("start_val_loss", history[0].get("val_loss") if history else None)
        trainer_state.setdefault("last_validation_step", history[-1]["step"] if history else None)
        missing = sorted(set(self.state) - set(trainer_state))
        if missing:
            raise checkpoint.CheckpointError(f"cannot use checkpoint {path}: its trainer state lacks {missing}")
        steps = max(int(self.task.steps_per_epoch), 1)
        if trainer_state["window"] > steps:
            raise checkpoint.CheckpointError(f"cannot use checkpoint {path}: it is at epoch {trainer_state['epoch']}, "
                                             f"window {trainer_state['window']}, but an epoch of this run has "
                                             f"{steps} windows")
        self.state = trainer_state
        self.task.load_state_arrays(task_arrays)
        self.last_checkpoint_step = trainer_state["step"]

    # --- output -----------------------------------------------------------------------------------
    def log(self, message: str) -> None:
        """A progress line (validations, samples, notes): printed above the bar; nothing when quiet."""
        if not self.config.quiet:
            self._say(message)

    def _say(self, message: str) -> None:
        """A line printed even when quiet (what Ctrl-C did)."""
        if not self.group.is_root:
            return
        if self._bar is not None:
            self._bar.write(message)
        else:
            self._log(message)

    def _open_bar(self, description: str) -> None:
        if not self.group.is_root or not report.show_progress(self.config.progress, self.config.quiet):
            return
        self._bar = report.progress_bar(total=self.task.steps_per_epoch, initial=self.state["window"],
                                        desc=description, unit="step")

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _catch_interrupt(self) -> Any:
        """First Ctrl-C: finish the step, validate, save, stop. Second: the usual KeyboardInterrupt."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum: int, frame: Any) -> None:
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True
            self._say("interrupted: stopping after this step and saving checkpoints/last (Ctrl-C again to abort)")

        return signal.signal(signal.SIGINT, handler)
