"""What the lab's experiments share: the adding-problem model and task, training by the Trainer, report helpers.

Every experiment trains ``head(layer(x)[:, -1])`` (:class:`AddingModel`) on fresh batches of
the adding problem with :class:`~rnnkit.train.Trainer`: :class:`AddingTask` is the Trainer's
task protocol over those batches, with an "epoch" ending at each evaluation (step 1, every
``eval_every`` steps, the last step), so the Trainer's validations are the lab's evaluations.
Divergence is the experiment's result, not an error: the Trainer stops at the first NaN or
infinite loss, gradient or weight (no loss-ratio check: ``divergence_factor`` infinite) and the
run records the step.
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass, field

import numpy as np

import rnnkit
from rnnkit.clip import clip_grad_norm_
from rnnkit.data.synthetic import adding_problem
from rnnkit.diagnostics import GradientNormHistory
from rnnkit.module import Module
from rnnkit.registry import cell_kind
from rnnkit.train import Trainer, TrainerConfig, TrainingDiverged


def make_layer(cell: str, hidden: int, rng: np.random.Generator, forget_bias: float | None = None):
    """A layer of the registered kind ``cell`` (the RNN's default tanh) reading the adding
    problem's 2 channels; ``forget_bias`` sets an LSTM's total forget-gate bias."""
    layer = cell_kind(cell).layer(2, hidden, seed=rng)
    if forget_bias is not None:
        if not isinstance(layer, rnnkit.LSTM):
            raise ValueError(f"forget_bias is an LSTM setting, got cell {cell!r}")
        layer.bias_ih_l0.data[hidden:2 * hidden] = forget_bias      # b_ih_f + b_hh_f = forget_bias
        layer.bias_hh_l0.data[hidden:2 * hidden] = 0.0
    return layer


class AddingModel(Module):
    """``head(layer(x)[:, -1])``: a recurrent layer read at its last step by a linear head (many-to-one).

    ``x`` (B, T, 2) -> prediction (B, 1); backward sends the head's gradient into the last step only.
    """

    def __init__(self, layer: Module, head: Module):
        super().__init__()
        self.layer = layer                  # registered first: parameters() is layer's, then head's
        self.head = head
        self._outputs: tuple | None = None  # shape and dtype of the last forward's outputs, for backward

    def forward(self, x: np.ndarray) -> np.ndarray:
        outputs, _ = self.layer(x)                                      # (B, T, H)
        self._outputs = (outputs.shape, outputs.dtype)
        return self.head(outputs[:, -1])                                # (B, 1)

    def backward(self, d_prediction: np.ndarray) -> None:
        d_last = self.head.backward(d_prediction)                       # (B, H)
        if not np.all(np.isfinite(d_last)):
            raise TrainingDiverged("the gradient reaching the recurrent layer is NaN or infinite")
        shape, dtype = self._outputs
        d_outputs = np.zeros(shape, dtype=dtype)                        # (B, T, H)
        d_outputs[:, -1] = d_last
        self.layer.backward(d_outputs)


@dataclass
class AddingBatch:
    x: np.ndarray                       # (B, T, 2)
    y: np.ndarray                       # (B, 1)

    @property
    def num_tokens(self) -> int:
        return int(self.x.shape[0] * self.x.shape[1])


class AddingTask:
    """The Trainer's task protocol over ``steps`` fresh adding-problem batches drawn from ``rng``.

    Epoch e covers the steps up to the e-th evaluation step (1, ``eval_every``, 2 ``eval_every``,
    ..., ``steps``), so the Trainer validates exactly there. Batches are drawn as the Trainer asks
    for them, so ``rng`` advances by one batch per step taken. ``history`` records each step's
    gradient norm before clipping (the Trainer then clips).
    """

    def __init__(self, length: int, batch: int, steps: int, eval_every: int, rng: np.random.Generator,
                 validation: tuple, history: GradientNormHistory):
        self.length, self.batch, self.rng, self.history = length, batch, rng, history
        self.x_val, self.y_val = validation
        self.ends = sorted({1, steps, *range(eval_every, steps + 1, eval_every)})     # evaluation steps
        self.steps_per_epoch = eval_every
        self.steps_started = 0          # forward passes of training steps: the step a divergence happened at

    def train_batches(self, epoch: int, start: int):
        first = self.ends[epoch - 1] if epoch else 0
        for _ in range(first + start, self.ends[epoch]):
            yield AddingBatch(*adding_problem(self.batch, self.length, seed=self.rng))

    def forward(self, model: AddingModel, batch: AddingBatch) -> np.ndarray:
        self.steps_started += 1
        return model(batch.x)

    def loss(self, prediction: np.ndarray, batch: AddingBatch) -> tuple[float, np.ndarray | None]:
        if not np.all(np.isfinite(prediction)):
            return math.nan, None       # the Trainer stops on it
        return rnnkit.losses.mse(prediction, batch.y)

    def backward(self, model: AddingModel, d_prediction: np.ndarray) -> None:
        model.backward(d_prediction)
        self.history.record(clip_grad_norm_(model.parameters(), math.inf))    # measures only

    def evaluate(self, model: AddingModel) -> dict[str, float]:
        prediction = model(self.x_val)
        if not np.all(np.isfinite(prediction)):
            return {"loss": math.nan}   # the Trainer stops on it
        return {"loss": rnnkit.losses.mse(prediction, self.y_val)[0]}

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        return None


@dataclass
class Run:
    """One training run on the adding problem: the model and everything it logged."""

    name: str
    layer: object
    head: object
    train_loss: list = field(default_factory=list)
    eval_steps: list = field(default_factory=list)
    eval_loss: list = field(default_factory=list)
    history: GradientNormHistory | None = None
    diverged_at: int | None = None

    def steps_to(self, target: float) -> int | None:
        """The first evaluated step with validation MSE below ``target`` (None: never)."""
        return next((step for step, loss in zip(self.eval_steps, self.eval_loss) if loss < target), None)

    def summary(self, target: float) -> dict:
        tail = self.eval_loss[-3:] if self.eval_loss else [math.nan]
        return {"final_val_mse": float(np.mean(tail)), "best_val_mse": float(np.min(self.eval_loss or [math.nan])),
                "steps_to_target": self.steps_to(target), "diverged_at": self.diverged_at}


def train_adding(name: str, layer, head, length: int, steps: int, batch: int, rng: np.random.Generator,
                 optimizer: str = "adam", lr: float = 1e-3, max_norm: float | None = 1.0, eval_every: int = 50,
                 validation: tuple | None = None) -> Run:
    """Train ``head(layer(x)[:, -1])`` with the Trainer on fresh adding-problem batches from ``rng``.

    Evaluates on ``validation`` (default: 512 sequences drawn from ``rng`` first) at step 1, every
    ``eval_every`` steps and at the end; clips the global norm at ``max_norm`` (None: never).
    """
    model = AddingModel(layer, head)
    params = model.parameters()
    opt = rnnkit.optim.Adam(params, lr=lr) if optimizer == "adam" else rnnkit.optim.SGD(params, lr=lr)
    run = Run(name, layer, head, history=GradientNormHistory(max_norm))
    task = AddingTask(length, batch, steps, eval_every, rng,
                      validation if validation is not None else adding_problem(512, length, seed=rng), run.history)
    config = TrainerConfig(epochs=len(task.ends), clip=math.inf if max_norm is None else max_norm, log_every=1,
                           divergence_factor=math.inf, progress=False)
    trainer = Trainer(model, task, opt, config, log=lambda message: None)
    try:
        with np.errstate(over="ignore", invalid="ignore"):    # an exploding run is measured, not warned about
            trainer.fit()
    except TrainingDiverged:
        run.diverged_at = task.steps_started
    run.train_loss = [loss for _, loss in trainer.state["train_log"]]
    run.eval_steps = [row["step"] for row in trainer.state["history"]]
    run.eval_loss = [row["val_loss"] for row in trainer.state["history"]]
    return run


def progress(run: Run, length: int, target: float) -> None:
    s = run.summary(target)
    print(f"  {run.name:<12} T={length:<4} final val MSE {s['final_val_mse']:.4f}  "
          f"steps to {target:g}: {s['steps_to_target']}  clipped {run.history.clip_fraction:.0%}", flush=True)


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(value, spec: str = ".2e") -> str:
    if value is None:
        return "never"
    return format(value, spec) if isinstance(value, float) else str(value)


def write_report(args: argparse.Namespace, text: str) -> None:
    with open(os.path.join(args.out, "report.md"), "w") as handle:
        handle.write(text.strip() + "\n")
