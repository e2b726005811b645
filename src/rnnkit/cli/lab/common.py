"""What the lab's experiments share: the adding-problem model, its training loop, report helpers."""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass, field

import numpy as np

import rnnkit
from rnnkit.data.synthetic import adding_problem
from rnnkit.diagnostics import GradientNormHistory
from rnnkit.registry import cell_kind


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


def predict(layer, head, x: np.ndarray) -> np.ndarray:
    outputs, _ = layer(x)                             # (B, T, H)
    return head(outputs[:, -1])                       # many-to-one: (B, 1)


def train_adding(name: str, layer, head, length: int, steps: int, batch: int, rng: np.random.Generator,
                 optimizer: str = "adam", lr: float = 1e-3, max_norm: float | None = 1.0, eval_every: int = 50,
                 validation: tuple | None = None) -> Run:
    """Train ``head(layer(x)[:, -1])`` on fresh adding-problem batches; log loss and gradient norms."""
    params = layer.parameters() + head.parameters()
    opt = rnnkit.optim.Adam(params, lr=lr) if optimizer == "adam" else rnnkit.optim.SGD(params, lr=lr)
    x_val, y_val = validation if validation is not None else adding_problem(512, length, seed=rng)
    run = Run(name, layer, head, history=GradientNormHistory(max_norm))
    for step in range(1, steps + 1):
        x, y = adding_problem(batch, length, seed=rng)
        with np.errstate(over="ignore", invalid="ignore"):
            outputs, _ = layer(x)
            prediction = head(outputs[:, -1])
            finite = bool(np.all(np.isfinite(prediction)))
            loss, d_prediction = rnnkit.losses.mse(prediction, y) if finite else (math.nan, None)
            if finite:
                d_outputs = np.zeros_like(outputs)
                d_outputs[:, -1] = head.backward(d_prediction)
                finite = bool(np.all(np.isfinite(d_outputs)))
            if finite:
                layer.backward(d_outputs)
                finite = math.isfinite(run.history.clip(params))   # records the norm before clipping
        if not finite:                                # the weights blew up: stop this run
            run.diverged_at = step
            break
        opt.step()
        opt.zero_grad()
        run.train_loss.append(loss)
        if step % eval_every == 0 or step == 1 or step == steps:
            with np.errstate(over="ignore", invalid="ignore"):
                prediction = predict(layer, head, x_val)
            if not np.all(np.isfinite(prediction)):
                run.diverged_at = step
                break
            run.eval_steps.append(step)
            run.eval_loss.append(rnnkit.losses.mse(prediction, y_val)[0])
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
