"""What a run leaves for people to read: ``metrics.csv``, the loss-curve PNG and the summary; and
what it shows while it runs: progress bars only where someone watches them (:func:`show_progress`).

Every file is written whole to a temporary name and renamed into place, so a reader never
sees half of one. matplotlib is imported only when a plot is drawn (Agg backend, no display
needed); without matplotlib the plot is skipped and the reason returned.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

from rnnkit.train.checkpoint import atomic_write_text

METRICS_FILE = "metrics.csv"
PLOT_FILE = "loss.png"
SUMMARY_JSON = "summary.json"
SUMMARY_MARKDOWN = "summary.md"


def show_progress(setting: str | bool = "auto", quiet: bool = False, stream: Any = None) -> bool:
    """Whether to draw a progress bar on ``stream`` (default: stderr, where tqdm writes).

    ``setting`` is an option value: ``"always"``, ``"never"``, or ``"auto"``: only when the stream
    is a terminal, so a log redirected to a file holds no carriage-return bars (a Jupyter kernel,
    whose stderr is no terminal but shows bars well, counts as one). True and False mean
    "always" and "never". ``quiet`` turns bars off whatever the setting.

    >>> import io
    >>> show_progress("auto", stream=io.StringIO()), show_progress("always", stream=io.StringIO())
    (False, True)
    >>> show_progress("always", quiet=True)
    False
    >>> show_progress("sometimes")
    Traceback (most recent call last):
    ...
    ValueError: --progress must be one of auto, always, never, got 'sometimes'
    """
    if setting is True or setting is False:
        setting = "always" if setting else "never"
    if setting not in ("auto", "always", "never"):
        raise ValueError(f"--progress must be one of auto, always, never, got {setting!r}")
    if quiet or setting == "never":
        return False
    if setting == "always":
        return True
    stream = sys.stderr if stream is None else stream
    try:
        terminal = bool(stream.isatty())
    except (AttributeError, ValueError):            # no isatty, or a closed stream
        terminal = False
    return terminal or "ipykernel" in sys.modules and stream is sys.stderr


def progress_bar(**settings: Any) -> Any:
    """A tqdm bar (a notebook widget under Jupyter) that leaves nothing behind when closed; ``settings`` go
    to tqdm (``total``, ``initial``, ``desc``, ``unit``). Call it only where :func:`show_progress` says so."""
    from tqdm.auto import tqdm

    return tqdm(dynamic_ncols=True, leave=False, **settings)


def write_metrics_csv(path: str | os.PathLike, rows: Sequence[dict[str, Any]]) -> None:
    """One line per validation, columns in first-seen order; floats with 6 significant digits."""
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: (f"{value:.6g}" if isinstance(value, float) else value) for key, value in row.items()})
    atomic_write_text(path, buffer.getvalue())


def plot_losses(path: str | os.PathLike, train_log: Sequence[Sequence[float]], rows: Sequence[dict[str, Any]],
                title: str = "loss") -> str | None:
    """Draw training loss (``train_log``: [step, loss] pairs) and validation loss per step.

    Returns None when the PNG was written, else why not (matplotlib missing).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        return f"no loss plot: matplotlib is not installed ({error})"
    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    if train_log:
        steps, values = zip(*train_log)
        axes.plot(steps, values, label="train", linewidth=1.0, alpha=0.8)
    validated = [(row["step"], row["val_loss"]) for row in rows if "val_loss" in row]
    if validated:
        steps, values = zip(*validated)
        axes.plot(steps, values, "o-", label="validation", linewidth=1.5)
    axes.set_xlabel("step")
    axes.set_ylabel("cross entropy (nats per token)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(handle)
    try:
        figure.savefig(temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        plt.close(figure)
        if os.path.exists(temporary):
            os.remove(temporary)
    return None


def write_summary(folder: str | os.PathLike, summary: dict[str, Any], sample: str | None = None) -> None:
    """``summary.json`` (everything) and ``summary.md`` (a few lines for people, and the sample)."""
    folder = Path(folder)
    document = dict(summary)
    if sample is not None:
        document["sample"] = sample
    atomic_write_text(folder / SUMMARY_JSON, json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    lines = [f"# {summary.get('title', 'Training run')}", ""]
    count_name = summary.get("count_name", "tokens")       # what the steps read: tokens, or a forecast's values
    for key in ("stop_reason", "epochs", "steps", "tokens", "elapsed_s", "parameters", "series"):
        if key in summary:
            name = count_name if key == "tokens" else key.replace('_', ' ')
            lines.append(f"- {name}: {_format(summary[key])}")
    for label in ("best", "final"):
        if summary.get(label):
            metrics = ", ".join(f"{key} {_format(value)}" for key, value in summary[label].items())
            lines.append(f"- {label} validation: {metrics}")
    if sample is not None:
        lines += ["", "## Sample", "", "```", sample, "```"]
    atomic_write_text(folder / SUMMARY_MARKDOWN, "\n".join(lines) + "\n")


def _format(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
