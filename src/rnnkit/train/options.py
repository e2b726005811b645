"""Training options as dataclasses, and the parser and files that fill them.

Each field of a task's options dataclass is a command-line option and a TOML key: ``rnnkit
train TASK`` builds its parser from the fields (:func:`add_options`; the help text and the
choices live in the field's metadata), so a task adds an option by adding one field. The
options every supervised task shares are in :class:`SupervisedOptions`; each task's own
options (``ClassifyOptions`` in :mod:`rnnkit.train.classification`, ...) extend it.

Options come from the defaults, then a TOML file (``--config``), then the command line
(:func:`resolve_options`); ``--resume`` takes the run's saved options instead and accepts only
a new ``--epochs`` and ``--max-minutes`` (:func:`resumed_options`).
"""

from __future__ import annotations

import argparse
import codecs
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rnnkit.registry import CELL_NAMES
from rnnkit.train.schedules import SCHEDULES


def option(default: Any, help: str, choices: tuple | None = None, only: tuple[str, tuple] | None = None,
           switch: tuple[str, str] | None = None) -> Any:
    """A dataclass field that is also a command-line option (``help`` and ``choices`` shown by --help).

    ``only=(name, values)`` says the option has an effect only while option ``name`` has one of
    ``values`` (``("format", ("vectors",))``; ``("data", (None,))``: only without --data); a run
    given such an option where it has no effect is refused (:func:`check_scoped`).

    ``switch=(on, off)`` is for a text option with choices that was once a flag: ``--name``
    alone still means ``on`` and ``--no-name`` means ``off``, and so do ``true`` and ``false``
    in a TOML file or a run's saved options (``--difference`` became ``--difference auto|on|off``).
    """
    return field(default=default, metadata={"help": help, "choices": choices, "only": only, "switch": switch})


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

    Switching such an option off (``--no-lower``, ``--word-dropout 0``) is accepted anywhere:
    the run goes without it either way.

    >>> check_scoped(ClassifyOptions(format="vectors", word_dropout=0.0, lower=False))
    """
    for item in dataclasses.fields(options):
        scope = item.metadata.get("only")
        value = getattr(options, item.name)
        if scope is None or value == item.default or _switched_off(value, item.default):
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


def _switched_off(value: Any, default: Any) -> bool:
    """A switch or rate set to off (False, or 0.0 for a float): what the run does anyway where it has no effect."""
    if isinstance(default, bool):
        return value is False
    return isinstance(default, float) and value == 0.0


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


# --progress: "auto" shows bars only when stderr is a terminal (never in a redirected log).
PROGRESS_CHOICES = ("auto", "always", "never")

# The metrics --monitor can name, and whether lower or higher is better.
MONITORS = {"loss": "min", "accuracy": "max", "f1": "max", "exact_match": "max", "rmse": "min", "bleu": "max",
            "chrf": "max"}


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
    cell: str = option("lstm", "recurrent layer", CELL_NAMES)
    hidden: int = option(64, "hidden units per layer and direction")
    layers: int = option(1, "stacked recurrent layers")
    bidirectional: bool = option(False, "also read every sequence backwards (--no-bidirectional: forwards only)")
    dropout: float = option(0.0, "dropout between layers and before the output layer")
    locked_dropout: float = option(0.0, "variational dropout between recurrent layers: one mask per sequence, "
                                        "the same at every step (Gal & Ghahramani 2016)")
    locked_input_dropout: float = option(0.0, "variational dropout on the first recurrent layer's input")
    weight_drop: float = option(0.0, "DropConnect on each W_hh: one mask per forward pass (Merity et al. 2017; not "
                                     "minGRU/minLSTM)")
    zoneout: float = option(0.0, "zoneout on h: in training each unit keeps its previous value with this "
                                 "probability at each step (Krueger et al. 2017); runs the one-step cells")
    zoneout_cell: float = option(0.0, "zoneout on the cell state c of the LSTM kinds")
    learn_initial_state: bool = option(False, "learn each layer's initial state instead of starting from zeros")
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
    progress: str = option("auto", "progress bars: auto (only when stderr is a terminal, so redirected output holds "
                                   "no carriage returns), always or never", PROGRESS_CHOICES)
    quiet: bool = option(False, "print only errors and the final summary: no progress bars, no per-epoch lines")
    encoding: str = option("utf-8", "text encoding of the data files (e.g. latin-1, cp1252, utf-16)")


def check_output_options(options: Any) -> None:
    """``progress`` must be one of :data:`PROGRESS_CHOICES`, ``quiet`` a bool and ``encoding`` a codec Python knows.

    >>> check_output_options(SupervisedOptions(encoding="klingon-8"))
    Traceback (most recent call last):
    ...
    ValueError: --encoding 'klingon-8' is not a text encoding Python knows (e.g. utf-8, latin-1, cp1252, utf-16)
    """
    progress = getattr(options, "progress", "auto")
    if progress not in PROGRESS_CHOICES:
        raise ValueError(f"--progress must be one of {', '.join(PROGRESS_CHOICES)}, got {progress!r}")
    quiet = getattr(options, "quiet", False)
    if not isinstance(quiet, bool):
        raise ValueError(f"--quiet must be true or false, got {quiet!r}")
    check_encoding(getattr(options, "encoding", "utf-8"))


def check_encoding(encoding: Any) -> str:
    """``encoding`` if Python has a text codec of that name, else a ValueError naming --encoding and the value."""
    try:
        info = codecs.lookup(encoding) if isinstance(encoding, str) and encoding else None
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise ValueError(f"--encoding {encoding!r} is not a text encoding Python knows (e.g. utf-8, latin-1, cp1252, "
                         f"utf-16)")
    return encoding


REGULARISER_OPTIONS = ("locked_input_dropout", "locked_dropout", "weight_drop", "zoneout", "zoneout_cell",
                       "learn_initial_state")


def regularisers(options: Any) -> dict[str, Any]:
    """The recurrent layers' regulariser options a run turned on, for the models' ``regularisers=``
    (those off stay out, so the model's config is what it was before these options existed)."""
    return {name: getattr(options, name) for name in REGULARISER_OPTIONS if getattr(options, name, False)}


def check_common(options: Any) -> None:
    """Range checks of the options most tasks share; errors name the option and the value."""
    for name in ("hidden", "layers", "epochs", "batch"):
        if hasattr(options, name) and getattr(options, name) < 1:
            raise ValueError(f"{flag(name)} must be at least 1, got {getattr(options, name)}")
    for name in ("warmup", "patience", "seed", "checkpoint_every", "embedding", "max_vocab"):
        if getattr(options, name, None) is not None and getattr(options, name) < 0:     # None: "automatic"
            raise ValueError(f"{flag(name)} must be at least 0, got {getattr(options, name)}")
    ranges = [("dropout", 0.0, 0.99), ("val_fraction", 0.01, 0.5)]
    ranges += [(name, 0.0, 0.99) for name in REGULARISER_OPTIONS if name != "learn_initial_state"]
    for name, low, high in ranges:
        if hasattr(options, name) and not low <= getattr(options, name) <= high:
            raise ValueError(f"{flag(name)} must lie in [{low}, {high}], got {getattr(options, name)}")
    for name in ("lr", "clip"):
        if hasattr(options, name) and not getattr(options, name) > 0:
            raise ValueError(f"--{name} must be > 0, got {getattr(options, name)}")
    if not 0 <= getattr(options, "max_minutes", 0) < float("inf"):          # NaN fails this too
        raise ValueError(f"--max-minutes must be a finite number >= 0, got {options.max_minutes}")
    check_output_options(options)
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


# --- the parser, TOML files, --resume ---------------------------------------------------------------
# The options that name data files: config.json records their absolute path, size and SHA-256.
DATA_OPTIONS = ("data", "val_data", "vectors")
METAVARS = {"data": "PATH", "val_data": "PATH", "vectors": "PATH", "out": "DIR"}
# What --resume may change; every other option given with it must equal the saved one. (The output
# options change only what is printed, never a number of the run.)
RESUMABLE = ("epochs", "max_minutes", "progress", "quiet")


def fields_of(options_class: type) -> dict[str, dataclasses.Field]:
    """The fields of an options dataclass by name, in declaration order."""
    return {item.name: item for item in dataclasses.fields(options_class)}


def add_options(parser: argparse.ArgumentParser, fields: dict[str, dataclasses.Field]) -> None:
    """One --option per field (bool fields get --name / --no-name), then --config, --force, --resume."""
    for name, item in fields.items():
        kind = field_type(item)
        text = item.metadata["help"]
        if "default" not in text:
            text += f" (default: {item.default})"
        spelled = flag(name)
        if kind is bool:
            parser.add_argument(spelled, dest=name, action=argparse.BooleanOptionalAction, default=None, help=text)
            continue
        switch = item.metadata.get("switch")
        if switch is not None:          # --name [VALUE] (alone: the "on" value) and --no-name (the "off" value)
            on, off = switch
            parser.add_argument(spelled, dest=name, nargs="?", const=on, default=None,
                                choices=item.metadata["choices"], help=f"{text}; {spelled} alone means {on}")
            parser.add_argument(f"--no-{spelled[2:]}", dest=name, action="store_const", const=off, default=None,
                                help=f"the same as {spelled} {off}")
            continue
        metavar = None if item.metadata["choices"] else METAVARS.get(name, {int: "N", float: "X", str: "TEXT"}[kind])
        parser.add_argument(spelled, dest=name, type=kind, default=None, choices=item.metadata["choices"],
                            metavar=metavar, help=text)
    parser.add_argument("--config", metavar="FILE.toml", default=None,
                        help="read options from a TOML file; command-line options override it")
    parser.add_argument("--force", action="store_true",
                        help="replace the rnnkit run in --out (once the new run has its first checkpoint; a "
                             "directory holding other files is refused)")
    parser.add_argument("--allow-other-data", action="store_true",
                        help="with --resume: continue even though the data files differ from the ones the run "
                             "recorded (another path, size or contents)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from checkpoints/last with its saved options "
                             "(--epochs, --max-minutes, --progress and --quiet may be given anew; other options must "
                             "match them)")


def read_toml(path: str) -> dict[str, Any]:
    """The TOML file as a dict, with errors that name the file."""
    try:
        import tomllib
    except ModuleNotFoundError:                    # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError as error:
            raise ValueError(f"{path}: reading TOML needs Python 3.11+ or the tomli package "
                             f"(pip install tomli)") from error
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"config file not found: {file}")
    try:
        with open(file, "rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{file}: not valid TOML ({error})") from error


def options_from_mapping(values: dict[str, Any], source: str, fields: dict[str, dataclasses.Field]) -> dict[str, Any]:
    """Check keys and types of options read from a file (``source`` names it); returns them by field name."""
    checked = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in fields:
            raise ValueError(f"{source}: unknown option {key!r}; known options: "
                             f"{', '.join(sorted(fields))}")
        item = fields[name]
        kind = field_type(item)
        switch = item.metadata.get("switch")
        if switch is not None and isinstance(value, bool):        # true / false of a former flag
            value = switch[0] if value else switch[1]
        accepted = (int, float) if kind is float else (kind,)
        if isinstance(value, bool) != (kind is bool) or not isinstance(value, accepted):
            raise ValueError(f"{source}: option {key!r} must be {kind.__name__}, got {value!r}")
        choices = item.metadata["choices"]
        if choices and value not in choices:
            raise ValueError(f"{source}: option {key!r} must be one of {list(choices)}, got {value!r}")
        checked[name] = kind(value)
    return checked


def given_options(args: argparse.Namespace, fields: dict[str, dataclasses.Field]) -> dict[str, Any]:
    """The options the TOML file and the command line set (the command line wins), by field name."""
    values: dict[str, Any] = {}
    if args.config is not None:
        values.update(options_from_mapping(read_toml(args.config), args.config, fields))
    values.update({name: getattr(args, name) for name in fields if getattr(args, name) is not None})
    return values


def resolve_options(options_class: type, check: Callable[[Any], None], values: dict[str, Any]) -> Any:
    """The defaults of ``options_class`` with ``values`` on top; then every check of the values."""
    options = options_class(**values)
    check(options)
    check_scoped(options)
    check_data_files(options)
    return options


def _same_option(name: str, given: Any, saved: Any) -> bool:
    """Equal values; data paths are equal when they name the same file."""
    if METAVARS.get(name) == "PATH" and given is not None and saved is not None:
        return Path(given).resolve() == Path(saved).resolve()
    return given == saved


def resumed_options(options_class: type, saved: dict[str, Any], given: dict[str, Any], out: Path, source: str,
                    former_defaults: dict[str, Any] | None = None, allow_other_data: bool = False) -> Any:
    """A run's saved options with --epochs / --max-minutes given anew; any other change is refused.

    ``source`` names the saved options' file in errors. An option the run did not save (it was
    added to rnnkit after the run started) takes its value from ``former_defaults``, the value
    that reproduces how such runs trained, and otherwise today's default. With
    ``allow_other_data``, --data and --val-data may name other files too.
    """
    fields = fields_of(options_class)
    saved = {**{name: value for name, value in (former_defaults or {}).items() if name not in saved}, **saved}
    # Every saved value is checked for its type and choices, as a TOML file's would be.
    checked = options_from_mapping({name: value for name, value in saved.items() if name != "out" and not (
        value is None and name in fields and fields[name].default is None)}, source, fields)
    options = options_class(**{**checked, "out": str(out)})
    changeable = (*RESUMABLE, "out", *(DATA_OPTIONS if allow_other_data else ()))
    changed = [f"{flag(name)} {value!r} (the run has {getattr(options, name)!r})" for name, value in given.items()
               if name not in changeable and not _same_option(name, value, getattr(options, name))]
    if changed:
        raise ValueError(f"--resume continues {out} with the options it was started with; only --epochs, "
                         f"--max-minutes, --progress and --quiet may change, but these differ: {'; '.join(changed)}. "
                         f"To train with other options, start a new run")
    for name in changeable:
        if name in given and name != "out":
            setattr(options, name, given[name])
    return options
