"""The lab's figures. matplotlib is imported inside each function (headless, Agg), so
``import rnnkit`` never needs it. Every figure is written as a small PNG (100 dpi).
"""

from __future__ import annotations

from typing import Any

import numpy as np

CELL_COLOURS = {"rnn": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}
RADIUS_COLOURS = {0.5: "tab:blue", 1.0: "tab:orange", 1.5: "tab:red"}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig: Any, path: str) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)


def _colour(name: str, index: int) -> str:
    return CELL_COLOURS.get(name.split()[0].lower(), f"C{index}")


def plot_gradient_flow(cells: dict[str, dict[str, np.ndarray]], radii: dict[float, dict[str, np.ndarray]],
                       steps: int, path: str) -> None:
    """Three panels: per cell dL/dh_t at init and after training; per spectral radius dL/dh_t
    of a tanh RNN; and the Jacobian-product norms ||dh_T/dh_k|| with the line rho^distance."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    for index, (cell, curves) in enumerate(cells.items()):
        distance = np.arange(len(curves["init"]))[::-1]
        ax.semilogy(distance, curves["init"], "--", color=_colour(cell, index), label=f"{cell.upper()} at init")
        if "trained" in curves:
            ax.semilogy(distance, curves["trained"], "-", color=_colour(cell, index),
                        label=f"{cell.upper()} after {steps} steps")
    ax.set(title="Gradient reaching step t, per cell", xlabel="distance T - t from the loss (steps)",
           ylabel="||dL/dh_t|| / ||dL/dh_T||  (log)")
    ax.legend(fontsize=8)
    for ax, key, title, ylabel in (
        (axes[1], "flow", "tanh RNN: gradient vs spectral radius of W_hh", "||dL/dh_t|| / ||dL/dh_T||  (log)"),
        (axes[2], "jacobian", "tanh RNN: Jacobian products", "||dh_T/dh_k||_2, batch mean  (log)"),
    ):
        for index, (radius, curves) in enumerate(radii.items()):
            values = curves[key]
            distance = np.arange(len(values))[::-1]
            colour = RADIUS_COLOURS.get(radius, f"C{index}")
            ax.semilogy(distance, values, color=colour, label=f"radius {radius:g}")
            if key == "jacobian":
                ax.semilogy(distance, float(radius) ** distance, ":", color=colour, label=f"{radius:g}^distance")
        ax.set(title=title, xlabel="distance T - t (steps)" if key == "flow" else "distance T - k (steps)",
               ylabel=ylabel)
        ax.legend(fontsize=8)
    _save(fig, path)


def plot_learning_curves(panels: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], path: str, suptitle: str,
                         baseline: float | None = None, target: float | None = None,
                         ylabel: str = "validation MSE (log)") -> None:
    """One panel per key of ``panels`` (e.g. "T = 100"), one curve per run: (steps, losses)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2), squeeze=False)
    for ax, (title, runs) in zip(axes[0], panels.items()):
        for index, (name, (steps, losses)) in enumerate(runs.items()):
            ax.semilogy(steps, losses, color=_colour(name, index) if len(runs) <= 3 else f"C{index}", label=name)
        if baseline is not None:
            ax.axhline(baseline, color="grey", ls="--", lw=1, label=f"memoryless baseline {baseline:.3f}")
        if target is not None:
            ax.axhline(target, color="black", ls=":", lw=1, label=f"target {target:g}")
        ax.set(title=title, xlabel="training step (batches)", ylabel=ylabel)
        ax.legend(fontsize=8)
    fig.suptitle(suptitle)
    _save(fig, path)


def plot_clipping(runs: dict[str, dict[str, np.ndarray]], max_norm: float, path: str, title: str) -> None:
    """Left: training loss per step; right: gradient norm before clipping, both log scale."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for index, (name, run) in enumerate(runs.items()):
        colour = f"C{index}"
        steps = np.arange(1, len(run["loss"]) + 1)
        axes[0].semilogy(steps, run["loss"], color=colour, lw=0.8, alpha=0.8, label=name)
        axes[1].semilogy(steps, run["grad_norm"], color=colour, lw=0.8, alpha=0.8, label=name)
    axes[1].axhline(max_norm, color="black", ls=":", lw=1, label=f"clip threshold {max_norm:g}")
    axes[0].set(title="Training loss", xlabel="training step (batches)", ylabel="batch MSE (log)")
    axes[1].set(title="Gradient norm before clipping", xlabel="training step (batches)",
                ylabel="global L2 norm of all gradients (log)")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.suptitle(title)
    _save(fig, path)


def plot_gate_statistics(stats: dict[str, Any], path: str, title: str) -> None:
    """Left: mean forget (LSTM) or update (GRU) gate over time; right: memory-state norm."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for index, (name, stat) in enumerate(stats.items()):
        gate = "forget" if "forget" in stat.gates else "update"
        values = stat.gates[gate].mean_over_time
        axes[0].plot(np.arange(1, len(values) + 1), values, color=f"C{index}", label=f"{name}: {gate} gate")
        axes[1].plot(np.arange(len(stat.state_norm)), stat.state_norm, color=f"C{index}",
                     label=f"{name}: ||{stat.state_name}_t||")
    axes[0].set(title="Mean gate activation over the batch", xlabel="time step t", ylabel="mean activation (0..1)",
                ylim=(0, 1))
    axes[1].set(title="Memory state norm", xlabel="time step t", ylabel="batch-mean L2 norm")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.suptitle(title)
    _save(fig, path)
