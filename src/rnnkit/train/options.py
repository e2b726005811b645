"""Training options as dataclasses: each field is a command-line option and a TOML key.

``rnnkit train TASK`` builds its parser from these fields (the help text and the choices
live in the field's metadata), so a task adds an option by adding one field. The options
every supervised task shares are in :class:`SupervisedOptions`; each task's own options
(``ClassifyOptions`` in :mod:`rnnkit.train.classification`, ...) extend it.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from rnnkit.models._common import RECURRENT_LAYERS
from rnnkit.train.schedules import SCHEDULES


def option(default: Any, help: str, choices: tuple | None = None, only: tuple[str, tuple] | None = None) -> Any:
    """A dataclass field that is also a command-line option (``help`` and ``choices`` shown by --help).

    ``only=(name, values)`` says the option has an effect only while option ``name`` has one of
    ``values`` (``("format", ("vectors",))``; ``("data", (None,))``: only without --data); a run
    given such an option where it has no effect is refused (:func:`check_scoped`).
    """
    return field(default=default, metadata={"help": help, "choices": choices, "only": only})


def flag(name: str) -> str:
    """The command-line spelling of a field: ``seq_len`` -> ``--seq-len``."""
    return f"--{name.replace('_', '-')}"


def check_scoped(options: Any) -> None:
    """Refuse an option set away from its default where the run would ignore it.

    >>> from rnnkit.train.classification import ClassifyOptions
    >>> check_scoped(ClassifyOptions(format="text", steps=8))
    Traceback (most recent call last):
    ...
    ValueError: --steps has an effect only with --format vectors, and this run has --format text
    """
    for item in dataclasses.fields(options):
        scope = item.metadata.get("only")
        if scope is None or getattr(options, item.name) == item.default:
            continue
        name, values = scope
        current = getattr(options, name)
        if current in values:
            continue
        if values == (None,):
            raise ValueError(f"{flag(item.name)} has an effect only without {flag(name)}, and this run has "
                             f"{flag(name)} {current}")
        raise ValueError(f"{flag(item.name)} has an effect only with {flag(name)} {' or '.join(map(str, values))}, "
                         f"and this run has {flag(name)} {current}")


def check_max_vocab(max_vocab: int, specials: int) -> None:
    """``--max-vocab`` must be 0 (no limit) or leave room for one token beside the special ones."""
    if max_vocab != 0 and max_vocab < specials + 1:
        raise ValueError(f"--max-vocab must be 0 (no limit) or at least {specials + 1} (the {specials} special "
                         f"token{'s' if specials > 1 else ''} and one more), got {max_vocab}")


def field_type(item: dataclasses.Field) -> type:
    """int, float, bool or str: the type a field's value must have (``str | None`` is str)."""
    text = str(item.type)
    for name, kind in (("int", int), ("float", float), ("bool", bool)):
        if text.startswith(name):
            return kind
    return str


# The metrics --monitor can name, and whether lower or higher is better.
MONITORS = {"loss": "min", "accuracy": "max", "f1": "max", "exact_match": "max", "rmse": "min"}


def resolve_monitor(choice: str, default: str, available: tuple[str, ...]) -> tuple[str, str]:
    """``(metric, "min" | "max")`` for the Trainer: ``default`` for "auto"; an error if the task lacks it."""
    name = default if choice == "auto" else choice
    if name not in available:
        raise ValueError(f"--monitor {name} is not a validation metric of this task; it has {list(available)}")
    return name, MONITORS[name]


@dataclass
class SupervisedOptions:
    """What every supervised task (classify, tag, forecast, seq2seq) takes."""

    data: str | None = option(None, "the training file (see the task's description for its format)")
    val_data: str | None = option(None, "a separate validation file in the same format (default: hold out "
                                        "--val-fraction of --data)")
    cell: str = option("lstm", "recurrent layer", tuple(RECURRENT_LAYERS))
    hidden: int = option(64, "hidden units per layer and direction")
    layers: int = option(1, "stacked recurrent layers")
    bidirectional: bool = option(False, "also read every sequence backwards (--no-bidirectional: forwards only)")
    dropout: float = option(0.0, "dropout between layers and before the output layer")
    epochs: int = option(10, "passes over the training data (the time budget may stop it sooner)")
    batch: int = option(32, "examples per step")
    lr: float = option(5e-3, "peak learning rate (Adam)")
    schedule: str = option("cosine", "learning-rate schedule after the warmup", SCHEDULES)
    warmup: int = option(20, "warmup steps (learning rate rising linearly)")
    clip: float = option(1.0, "maximum global gradient norm")
    patience: int = option(0, "stop after this many epochs without a better monitored metric (0: never)")
    monitor: str = option("auto", "the validation metric that picks checkpoints/best and drives --patience "
                                  "(auto: the task's choice; see its description)", ("auto", *MONITORS))
    val_fraction: float = option(0.1, "part of --data held out for validation when there is no --val-data",
                                 only=("val_data", (None,)))
    seed: int = option(0, "random seed: the same seed gives the same run")
    max_minutes: float = option(0.0, "time budget in minutes: stop, validate and save when it runs out (0: none)")
    checkpoint_every: int = option(0, "also save checkpoints/last every N steps (0: only at validations)")
    out: str | None = option(None, "run directory (default: runs/TASK-YYYYmmdd-HHMMSS); must be new or empty")


def check_common(options: Any) -> None:
    """Range checks of the options most tasks share; errors name the option and the value."""
    for name in ("hidden", "layers", "epochs", "batch"):
        if hasattr(options, name) and getattr(options, name) < 1:
            raise ValueError(f"{flag(name)} must be at least 1, got {getattr(options, name)}")
    for name in ("warmup", "patience", "seed", "checkpoint_every", "embedding", "max_vocab"):
        if hasattr(options, name) and getattr(options, name) < 0:
            raise ValueError(f"{flag(name)} must be at least 0, got {getattr(options, name)}")
    for name, low, high in (("dropout", 0.0, 0.99), ("val_fraction", 0.01, 0.5)):
        if hasattr(options, name) and not low <= getattr(options, name) <= high:
            raise ValueError(f"{flag(name)} must lie in [{low}, {high}], got {getattr(options, name)}")
    for name in ("lr", "clip"):
        if hasattr(options, name) and not getattr(options, name) > 0:
            raise ValueError(f"--{name} must be > 0, got {getattr(options, name)}")
    if not 0 <= getattr(options, "max_minutes", 0) < float("inf"):          # NaN fails this too
        raise ValueError(f"--max-minutes must be a finite number >= 0, got {options.max_minutes}")
    check_model_size(options)


def check_data_files(options: Any) -> None:
    """Refuse a --val-data that is the --data file itself (the validation would measure training examples)."""
    data, val_data = getattr(options, "data", None), getattr(options, "val_data", None)
    if data and val_data and os.path.realpath(data) == os.path.realpath(val_data):
        raise ValueError(f"--val-data {val_data} is the same file as --data: the validation would measure the "
                         f"training examples; give a separate file, or leave out --val-data to hold out "
                         f"--val-fraction of --data")


# Parameters one recurrent layer of H units has per unit of input and hidden size (LSTM: 4 gates,
# bidirectional: 2 directions), bounded from above; what check_model_size measures with.
_MAX_GATES, _BYTES_PER_WEIGHT = 4, 4 * 4          # float32 weights, gradients and two Adam moments
_BYTES_PER_LAYER = 256 * 1024                      # the Python objects and small arrays of one layer


def available_memory() -> int:
    """The machine's physical memory in bytes (or 2**40 where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2 ** 40


def check_model_size(options: Any, vocab_size: int = 0) -> None:
    """Refuse sizes whose weights alone would not fit in memory, before anything is allocated.

    An upper estimate: every layer as wide as the widest of hidden, embedding and input sizes,
    LSTM gates, both directions; times weights, gradients and the optimiser's two moments; plus
    a fixed overhead per layer (its Python objects).
    """
    hidden, layers = int(getattr(options, "hidden", 1)), int(getattr(options, "layers", 1))
    width = max(hidden, int(getattr(options, "embedding", 0) or 0), 1)
    directions = 2 if getattr(options, "bidirectional", False) else 1
    recurrent = layers * directions * _MAX_GATES * hidden * (width * directions + hidden + 2)
    weights = recurrent + (vocab_size + hidden * directions) * width
    needed, memory = weights * _BYTES_PER_WEIGHT + layers * directions * _BYTES_PER_LAYER, available_memory()
    if needed > memory:
        raise ValueError(f"--hidden {hidden} and --layers {layers} need about {needed / 2 ** 30:,.0f} GiB for the "
                         f"model alone (weights, gradients, optimiser state, the layers' own objects); this machine "
                         f"has {memory / 2 ** 30:,.0f} GiB")
