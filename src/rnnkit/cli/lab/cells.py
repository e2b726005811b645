"""``rnnkit lab cells``: LSTM, GRU, the LayerNorm LSTM, minGRU and minLSTM on the adding problem,
and the time of one training step against the sequence length T on this CPU."""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import rnnkit
from rnnkit.cli.lab.common import AddingModel, markdown_table, make_layer, write_report
from rnnkit.cli.lab.memory import adding_runs
from rnnkit.data.synthetic import ADDING_BASELINE, adding_problem


def measure_speed(args: argparse.Namespace) -> dict[str, list[float]]:
    """Seconds per training step (forward, MSE loss, backward, Adam step) of each of ``args.cells``
    at each T of ``args.speed_lengths``: the median of ``args.repeats`` timed steps after one
    untimed step (compilation, first allocation of the work arrays)."""
    seconds: dict[str, list[float]] = {}
    for cell in args.cells:
        seconds[cell] = []
        for length in args.speed_lengths:
            rng = np.random.default_rng(args.seed)
            model = AddingModel(make_layer(cell, args.hidden, rng), rnnkit.Linear(args.hidden, 1, seed=rng))
            optimizer = rnnkit.optim.Adam(model.parameters(), lr=1e-3)
            x, y = adding_problem(args.batch, length, seed=rng)
            times = []
            for _ in range(args.repeats + 1):
                start = time.perf_counter()
                _, d_prediction = rnnkit.losses.mse(model(x), y)             # forward, loss
                model.backward(d_prediction)                                # backward
                optimizer.step()                                            # step
                optimizer.zero_grad()                                       # zero
                times.append(time.perf_counter() - start)
            seconds[cell].append(float(np.median(times[1:])))
            print(f"  {cell.upper():<8} T={length:<5} {seconds[cell][-1] * 1e3:9.2f} ms per training step", flush=True)
    return seconds


def plot_speed(lengths: list[int], seconds: dict[str, list[float]], path: str, title: str) -> None:
    """Two log-log panels against T: milliseconds per training step, and microseconds per time step."""
    from rnnkit.diagnostics.plots import _pyplot, _save

    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    steps = np.asarray(lengths, dtype=float)
    for index, (cell, values) in enumerate(seconds.items()):
        values = np.asarray(values)
        axes[0].loglog(steps, values * 1e3, "o-", color=f"C{index}", label=cell.upper())
        axes[1].loglog(steps, values / steps * 1e6, "o-", color=f"C{index}", label=cell.upper())
    axes[0].set(title="One training step", xlabel="sequence length T", ylabel="milliseconds (log)")
    axes[1].set(title="Per time step (the step's time / T)", xlabel="sequence length T", ylabel="microseconds (log)")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.suptitle(title)
    _save(fig, path)


def run_cells(args: argparse.Namespace) -> dict:
    print(f"cells: adding problem, T in {args.lengths}, H = {args.hidden}, {args.steps} steps, Adam; "
          f"speed at T in {args.speed_lengths}")
    panels, numbers, rows = adding_runs(args, "cells.png")
    seconds = measure_speed(args)
    title = f"Training step time on this CPU (H = {args.hidden}, batch {args.batch}, compiled kernels)"
    plot_speed(args.speed_lengths, seconds, os.path.join(args.out, "cells_speed.png"), title)
    baseline = "lstm" if "lstm" in seconds else args.cells[0]
    speed_rows = [[cell.upper(), *(f"{value * 1e3:.2f}" for value in values),
                   f"{seconds[baseline][-1] / values[-1]:.2f}"] for cell, values in seconds.items()]
    longest = args.speed_lengths[-1]
    write_report(args, f"""
# New cells on the adding problem, and their speed against T

Setting: H = {args.hidden}, batch {args.batch}, Adam lr {args.lr or 1e-3}, global-norm clipping at {args.max_norm:g},
{args.steps} steps per run, validation on 512 fixed sequences every {args.eval_every} steps, seed {args.seed}.
Speed: one training step (forward, loss, backward, Adam step) on one batch, the median of {args.repeats} timed steps
after an untimed one, at T = {", ".join(map(str, args.speed_lengths))}.

**Expected.** Memory: LSTM and GRU get below MSE {args.target:g} at T = 100 in a few thousand steps (see
`rnnkit lab memory`); layer normalisation (Ba, Kiros & Hinton 2016) is reported to speed up and steady the
training of recurrent networks; Feng et al. (2024) report minGRU and minLSTM solving long-range tasks with
gates that read only x_t. Speed: Feng et al. report minGRU and minLSTM training far faster than GRU and LSTM
at long T on GPUs, where their linear recurrence runs as a parallel scan in O(log T) rounds. On a CPU every
kind runs its T steps one after another, so each step's time grows linearly in T for all of them; what the
minimal cells save is the product h_(t-1) W_hh^T inside the loop (all their products run once before it), a
constant factor that grows with H, not with T. The LayerNorm LSTM does the LSTM's work plus three
normalisations per step, so it should be somewhat slower than the LSTM.

**Measured.** Final validation MSE (mean of the last three evaluations) and the first evaluated step with
validation MSE below {args.target:g} (memoryless baseline {ADDING_BASELINE:.3f}):

{markdown_table(["cell", "T", "final val MSE", f"steps to MSE < {args.target:g}"], rows)}

![learning curves](cells.png)

Milliseconds per training step, and the {baseline.upper()} step's time divided by each cell's at T = {longest}:

{markdown_table(["cell", *(f"T = {length}" for length in args.speed_lengths), f"{baseline.upper()} / cell"],
                speed_rows)}

![speed against T](cells_speed.png)
""")
    return {"runs": numbers, "curves": {title: {name: [s, l] for name, (s, l) in runs.items()}
                                        for title, runs in panels.items()},
            "speed": {"lengths": list(args.speed_lengths), "seconds_per_step": seconds}}
