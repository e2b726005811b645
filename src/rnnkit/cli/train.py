"""``rnnkit train TASK``: train a model from one command.

Tasks: ``lm`` (language model), ``classify`` (one label per sequence), ``tag`` (one tag per
token), ``forecast`` (the next values of a time series) and ``seq2seq`` (rewrite one sequence
as another). Each task's options are a dataclass (``LMOptions`` here, the others in its task
module under :mod:`rnnkit.train`); the parser, the TOML reading and the checks are shared.

With no ``--data``, ``rnnkit train lm`` learns from the documentation text that ships with
every Python (``pydoc_data.topics``), shows its progress, and ends by printing text it
generates; ``rnnkit train seq2seq`` learns the generated date-rewriting task; the other tasks
say what data they expect.

Every option can also come from a TOML file (``--config run.toml``) whose keys are the
option names (``seq_len`` or ``seq-len``); options given on the command line win. The run
directory (``--out``) receives::

    config.json            every option, the model's constructor arguments, the data (and for
                           the other tasks their "artifacts": labels, feature scaling, ...)
    vocab.json             the vocabulary (seq2seq: source_vocab.json and target_vocab.json;
                           none for classify on numbers and for forecast)
    checkpoints/best/      the weights with the best validation score (the lowest loss unless
                           the task or --monitor says otherwise) and their trainer state
    checkpoints/last/      the latest state, to resume from (--resume)
    metrics.csv, loss.png  one row per validation; the loss curves
    summary.json, summary.md
    .rnnkit-run            marks the directory as rnnkit's (--force replaces only such a directory)
    .rnnkit.lock           while a run trains: the process that owns the directory

A new run is built beside --out and moved into place once it has its first checkpoint; a run
that fails before that leaves nothing behind (and with --force the old run stays as it was).
config.json records the absolute path, size and SHA-256 of the data files; --resume reads the
same files and refuses changed ones unless --allow-other-data is given.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import rnnkit
from rnnkit.models.language_model import RECURRENT_LAYERS, LanguageModel
from rnnkit.train import checkpoint, report
from rnnkit.train.run_dir import CONFIG_FILE, DATA_OPTIONS, RunDirectory, check_data, record_data
from rnnkit.train.language_modeling import (LEVELS, LanguageModelTask, build_vocab, generate_text, load_corpus,
                                            split_text)
from rnnkit.train import classification, forecasting, tagging, translation
from rnnkit.train.options import check_data_files, check_max_vocab, check_model_size, check_scoped, flag, option
from rnnkit.train.options import field_type as _field_type
from rnnkit.train.schedules import SCHEDULES, LearningRateSchedule
from rnnkit.train.trainer import CHECKPOINT_FOLDER, Trainer, TrainerConfig, TrainingDiverged

VOCAB_FILE = "vocab.json"
# The supervised tasks: each module has OPTIONS (a dataclass), HELP, EXPECTED (the data it reads),
# EXAMPLE, MODEL_CLASS, VOCAB_FILES, check_options, prepare(options) -> Prepared,
# evaluate_file(model, document, vocabs, path) and predict(model, document, vocabs, inputs, file).
TASKS = {"classify": classification, "tag": tagging, "forecast": forecasting, "seq2seq": translation}
# Everything a run writes into --out; --force replaces a run directory that holds only these.
RUN_FILES = (CONFIG_FILE, VOCAB_FILE, CHECKPOINT_FOLDER, report.METRICS_FILE, report.PLOT_FILE,
             report.SUMMARY_JSON, report.SUMMARY_MARKDOWN,
             *sorted({name for module in TASKS.values() for name in module.VOCAB_FILES}))


@dataclass
class LMOptions:
    """Every option of ``rnnkit train lm``; each field is a command-line option and a TOML key."""

    data: str | None = option(None, "UTF-8 text file to learn from (default: Python's own documentation, "
                                    "pydoc_data.topics)")
    level: str = option("char", "model characters or words", LEVELS)
    cell: str = option("lstm", "recurrent layer", tuple(RECURRENT_LAYERS))
    hidden: int = option(256, "hidden units per layer")
    layers: int = option(1, "stacked recurrent layers")
    embedding: int = option(32, "embedding size; 0 feeds one-hot vectors instead")
    dropout: float = option(0.0, "dropout between layers and before the output layer")
    epochs: int = option(10, "passes over the training text (the time budget may stop it sooner)")
    seq_len: int = option(64, "time steps per window: how far back the gradient reaches (truncated BPTT)")
    batch: int = option(32, "parallel streams per step")
    lr: float = option(5e-3, "peak learning rate (Adam)")
    schedule: str = option("cosine", "learning-rate schedule after the warmup", SCHEDULES)
    warmup: int = option(20, "warmup steps (learning rate rising linearly)")
    clip: float = option(1.0, "maximum global gradient norm")
    patience: int = option(3, "stop after this many epochs without a better validation loss (0: never)")
    val_fraction: float = option(0.1, "the last part of the text held out for validation")
    max_vocab: int = option(0, "keep only the most frequent tokens (0: all; word level: 10000)")
    seed: int = option(0, "random seed: the same seed gives the same run")
    max_minutes: float = option(3.0, "time budget in minutes: stop, validate and save when it runs out (0: none)")
    checkpoint_every: int = option(100, "also save checkpoints/last every N steps (0: only at validations)")
    sample_length: int = option(600, "tokens to generate at the end")
    temperature: float = option(0.7, "sampling temperature of the final sample")
    prime: str = option("The ", "text the final sample starts from")
    out: str | None = option(None, "run directory (default: runs/lm-YYYYmmdd-HHMMSS-xxxxxx); must be new or empty")


METAVARS = {"data": "PATH", "val_data": "PATH", "out": "DIR"}
# Show a tqdm progress bar during training (benchmarks.tasks turns it off).
PROGRESS = True
OPTION_FIELDS = {item.name: item for item in dataclasses.fields(LMOptions)}


# --- the parser --------------------------------------------------------------------------------
def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="train a model on a sequence task (lm, classify, tag, forecast, "
                                                "seq2seq)",
                                  description="Train a recurrent network on a sequence task.")
    tasks = train.add_subparsers(dest="task", metavar="TASK", required=True)
    lm = tasks.add_parser("lm", help="character or word language model (default data: Python's documentation)",
                          description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_options(lm, OPTION_FIELDS)
    lm.set_defaults(func=run_lm)
    for name, module in TASKS.items():
        parser = tasks.add_parser(name, help=module.HELP, description=module.__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        add_options(parser, task_fields(name))
        parser.set_defaults(func=run_task)


def task_fields(task: str) -> dict[str, dataclasses.Field]:
    """The option fields of a task: ``LMOptions`` for lm, the task module's OPTIONS otherwise."""
    options_class = LMOptions if task == "lm" else TASKS[task].OPTIONS
    return {item.name: item for item in dataclasses.fields(options_class)}


def add_options(parser: argparse.ArgumentParser, fields: dict[str, dataclasses.Field]) -> None:
    """One --option per field (bool fields get --name / --no-name), then --config, --force, --resume."""
    for name, item in fields.items():
        kind = _field_type(item)
        text = item.metadata["help"]
        if "default" not in text:
            text += f" (default: {item.default})"
        spelled = flag(name)
        if kind is bool:
            parser.add_argument(spelled, dest=name, action=argparse.BooleanOptionalAction, default=None, help=text)
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
                             "(--epochs and --max-minutes may be given anew; other options must match them)")


# --- options from TOML and the command line -------------------------------------------------------
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


def options_from_mapping(values: dict[str, Any], source: str,
                         fields: dict[str, dataclasses.Field] | None = None) -> dict[str, Any]:
    """Check keys and types of options read from a file; returns them under field names."""
    fields = OPTION_FIELDS if fields is None else fields
    checked = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in fields:
            raise ValueError(f"{source}: unknown option {key!r}; known options: "
                             f"{', '.join(sorted(fields))}")
        item = fields[name]
        kind = _field_type(item)
        accepted = (int, float) if kind is float else (kind,)
        if isinstance(value, bool) != (kind is bool) or not isinstance(value, accepted):
            raise ValueError(f"{source}: option {key!r} must be {kind.__name__}, got {value!r}")
        choices = item.metadata["choices"]
        if choices and value not in choices:
            raise ValueError(f"{source}: option {key!r} must be one of {list(choices)}, got {value!r}")
        checked[name] = kind(value)
    return checked


def given_options(args: argparse.Namespace, task: str = "lm") -> dict[str, Any]:
    """The options the TOML file and the command line set (the command line wins), by field name."""
    fields = task_fields(task)
    values: dict[str, Any] = {}
    if args.config is not None:
        values.update(options_from_mapping(read_toml(args.config), args.config, fields))
    values.update({name: getattr(args, name) for name in fields if getattr(args, name) is not None})
    return values


def resolve_options(args: argparse.Namespace, task: str = "lm") -> Any:
    """Defaults, then the TOML file, then the command line; then checks of every value."""
    values = given_options(args, task)
    if task == "lm":
        options = LMOptions(**values)
        check_options(options)
    else:
        options = TASKS[task].OPTIONS(**values)
        TASKS[task].check_options(options)
    check_scoped(options)
    check_data_files(options)
    return options


# What --resume may change; every other option given with it must equal the saved one.
RESUMABLE = ("epochs", "max_minutes")


def _same_option(name: str, given: Any, saved: Any) -> bool:
    """Equal values; data paths are equal when they name the same file."""
    if name in METAVARS and METAVARS[name] == "PATH" and given is not None and saved is not None:
        return Path(given).resolve() == Path(saved).resolve()
    return given == saved


def resumed_options(args: argparse.Namespace, task: str, saved: dict[str, Any], out: Path) -> Any:
    """A run's saved options with --epochs / --max-minutes given anew; any other change is refused.

    With --allow-other-data, --data and --val-data may name other files too.
    """
    if args.force:
        raise ValueError("--resume continues the run in --out and --force would replace it: give one of them")
    options_class = LMOptions if task == "lm" else TASKS[task].OPTIONS
    fields = task_fields(task)
    # Every saved value is checked for its type and choices, as a TOML file's would be.
    checked = options_from_mapping({name: value for name, value in saved.items() if name != "out" and not (
        value is None and name in fields and fields[name].default is None)}, str(out / CONFIG_FILE), fields)
    options = options_class(**{**checked, "out": str(out)})
    given = given_options(args, task)
    changeable = (*RESUMABLE, "out", *(DATA_OPTIONS if getattr(args, "allow_other_data", False) else ()))
    changed = [f"{flag(name)} {value!r} (the run has {getattr(options, name)!r})" for name, value in given.items()
               if name not in changeable and not _same_option(name, value, getattr(options, name))]
    if changed:
        raise ValueError(f"--resume continues {out} with the options it was started with; only --epochs and "
                         f"--max-minutes may change, but these differ: {'; '.join(changed)}. "
                         f"To train with other options, start a new run")
    for name in changeable:
        if name in given and name != "out":
            setattr(options, name, given[name])
    return options


def check_options(options: LMOptions) -> None:
    positive = ("hidden", "layers", "epochs", "seq_len", "batch", "sample_length")
    non_negative = ("embedding", "warmup", "patience", "max_vocab", "seed", "checkpoint_every")
    for name in positive:
        if getattr(options, name) < 1:
            raise ValueError(f"{flag(name)} must be at least 1, got {getattr(options, name)}")
    for name in non_negative:
        if getattr(options, name) < 0:
            raise ValueError(f"{flag(name)} must be at least 0, got {getattr(options, name)}")
    for name, low, high in (("dropout", 0.0, 0.99), ("val_fraction", 0.01, 0.5)):
        if not low <= getattr(options, name) <= high:
            raise ValueError(f"{flag(name)} must lie in [{low}, {high}], got {getattr(options, name)}")
    check_max_vocab(options.max_vocab, 1)
    check_model_size(options, options.max_vocab)
    for name in ("lr", "clip"):
        if not getattr(options, name) > 0:
            raise ValueError(f"--{name} must be > 0, got {getattr(options, name)}")
    for name in ("max_minutes", "temperature"):
        if not 0 <= getattr(options, name) < float("inf"):          # NaN fails this too
            raise ValueError(f"{flag(name)} must be a finite number >= 0, got {getattr(options, name)}")
    if not options.prime.strip() if options.level == "word" else not options.prime:
        raise ValueError(f"--prime must hold at least one {'word' if options.level == 'word' else 'character'}, "
                         f"got {options.prime!r}")


def trainer_config(options: Any, steps_per_epoch: int, progress: bool = True) -> TrainerConfig:
    total = options.epochs * steps_per_epoch
    schedule = LearningRateSchedule(options.schedule, lr=options.lr, warmup_steps=min(options.warmup, total),
                                    total_steps=total, step_size=max(steps_per_epoch, 1), gamma=0.5)
    return TrainerConfig(epochs=options.epochs, clip=options.clip, schedule=schedule,
                         patience=options.patience or None, max_minutes=options.max_minutes or None,
                         checkpoint_every=options.checkpoint_every, progress=progress)


# --- rnnkit train lm ------------------------------------------------------------------------------
def run_lm(args: argparse.Namespace) -> int:
    if args.resume:
        return resume_lm(args)
    options = resolve_options(args)
    text, source = load_corpus(options.data)
    train_text, val_text = split_text(text, options.val_fraction)
    max_vocab = options.max_vocab or (10000 if options.level == "word" else None)
    vocab = build_vocab(options.level, train_text, max_vocab)
    task = LanguageModelTask(vocab.transform(train_text), vocab.transform(val_text), options.batch, options.seq_len,
                             level=options.level, source=options.data or "the default text")
    data_files = record_data(options)
    model = LanguageModel(len(vocab), options.hidden, num_layers=options.layers, cell=options.cell,
                          embedding_dim=options.embedding or None, dropout=options.dropout, seed=options.seed)
    optimizer = rnnkit.optim.Adam(model.parameters(), lr=options.lr)
    run = RunDirectory.create(options.out, "lm", args.force, RUN_FILES)
    run.write_start({
        "task": "lm", "options": dataclasses.asdict(options),
        "model": {"class": type(model).__name__, "config": model.config},
        "data": source, "data_files": data_files, "vocab": VOCAB_FILE, "rnnkit": rnnkit.__version__},
        {VOCAB_FILE: vocab})
    try:
        print(f"data: {source}; {len(task.train_ids):,} training and {len(task.val_ids):,} validation "
              f"{'characters' if options.level == 'char' else 'words'}, vocabulary {len(vocab)}")
        print(f"model: {options.cell.upper()} {options.layers} x {options.hidden}, {model.num_parameters():,} "
              f"parameters; {task.steps_per_epoch} steps per epoch of {options.batch} x {options.seq_len} tokens; "
              f"run directory {run.path}")
        if options.max_minutes:
            print(f"time budget: {options.max_minutes:g} minutes (--max-minutes)")
        trainer = Trainer(model, task, optimizer, trainer_config(options, task.steps_per_epoch), run_dir=run.folder,
                          on_validation=_sample_printer(vocab, options))
        run.bind(trainer, [VOCAB_FILE])
    except BaseException:
        run.abandon()
        raise
    return _train_and_report(trainer, vocab, options, run)


def resume_lm(args: argparse.Namespace) -> int:
    if not args.out:
        raise ValueError("--resume needs --out RUN_DIR, the run to continue")
    out = Path(args.out)
    read_run(out)                                   # a run directory at all, before taking its lock
    run = RunDirectory.open_existing(out)
    try:
        return _resume_lm(args, run)
    finally:
        run.close()


def _resume_lm(args: argparse.Namespace, run: RunDirectory) -> int:
    out = run.path
    saved, vocab, _ = read_run(out)
    last = checkpoint.checkpoint_path(out / CHECKPOINT_FOLDER, "last")
    if last is None:
        raise FileNotFoundError(f"{out} has no checkpoints/last to resume from")
    checkpoint.read_checkpoint(last)                # config.json and vocab.json must be the checkpoint's
    options = resumed_options(args, "lm", saved["options"], out)
    check_options(options)
    check_data(saved.get("data_files") or {}, {name: getattr(options, name) for name in DATA_OPTIONS
                                                if hasattr(options, name)}, args.allow_other_data)
    text, source = load_corpus(options.data)
    train_text, val_text = split_text(text, options.val_fraction)
    task = LanguageModelTask(vocab.transform(train_text), vocab.transform(val_text), options.batch, options.seq_len,
                             level=options.level, source=options.data or "the default text")
    model = checkpoint.load_model(last)
    optimizer = rnnkit.optim.Adam(model.parameters(), lr=options.lr)
    trainer = Trainer(model, task, optimizer, trainer_config(options, task.steps_per_epoch), run_dir=out,
                      on_validation=_sample_printer(vocab, options))
    trainer.restore(last)
    run.bind(trainer, [VOCAB_FILE])
    print(f"resuming {out} at step {trainer.state['step']} (epoch {trainer.state['epoch'] + 1}, "
          f"window {trainer.state['window']})")
    return _train_and_report(trainer, vocab, options, run)


def _sample_printer(vocab, options: LMOptions):
    def show(trainer: Trainer, metrics: dict) -> None:
        sample = generate_text(trainer.model, vocab, options.prime, min(160, options.sample_length),
                               temperature=options.temperature, seed=options.seed)
        trainer.log("  sample: " + sample.replace("\n", "\n          "))
    return show


def _fit_and_load_best(task: str, trainer: Trainer) -> tuple[dict[str, Any], Any] | None:
    """Train; return the summary and the best checkpoint's model, or None if training diverged."""
    try:
        summary = trainer.fit()
    except TrainingDiverged as error:
        print(f"rnnkit train {task}: {error}", file=sys.stderr)
        return None
    best = checkpoint.checkpoint_path(trainer.run_dir / CHECKPOINT_FOLDER, "best")
    model = checkpoint.load_model(best) if best is not None else trainer.model
    return summary, model


def _print_stopped(summary: dict[str, Any]) -> None:
    best_metrics = format_metrics({key: value for key, value in summary["best"].items() if key != "step"})
    print(f"\nstopped ({summary['stop_reason']}) after {summary['steps']} steps, {summary['epochs']:g} epochs, "
          f"{summary['elapsed_s']:.0f} s; best validation: {best_metrics}")


def _fit_in_run(task: str, trainer: Trainer, run: RunDirectory) -> tuple[dict[str, Any], Any] | None:
    """Train in the run directory; a run that ends without a checkpoint (or raises) is abandoned."""
    try:
        result = _fit_and_load_best(task, trainer)
        if result is None and run.building is not None:
            print(f"rnnkit train {task}: nothing was saved"
                  + (f"; the run in {run.path} is as it was" if not run.created else ""), file=sys.stderr)
        if result is not None:
            run.commit()
        return result
    finally:
        if run.building is not None:
            run.abandon()


def _train_and_report(trainer: Trainer, vocab, options: LMOptions, run: RunDirectory) -> int:
    try:
        return _report_lm(trainer, vocab, options, run)
    finally:
        run.close()


def _report_lm(trainer: Trainer, vocab, options: LMOptions, run: RunDirectory) -> int:
    result = _fit_in_run("lm", trainer, run)
    out = run.path
    if result is None:
        return 3
    summary, model = result
    sample = generate_text(model, vocab, options.prime, options.sample_length, temperature=options.temperature,
                           seed=options.seed)
    summary["title"] = f"rnnkit train lm: {out}"
    report.write_summary(out, summary, sample)
    _print_stopped(summary)
    print(f"run saved in {out}/ (checkpoints, metrics.csv, loss.png, summary.md)\n")
    print(f"--- sample (best checkpoint, temperature {options.temperature:g}) ---")
    print(sample)
    print("---")
    print(f"more: rnnkit generate {out} --prime {json.dumps(options.prime)} --length 500 "
          f"--temperature {options.temperature:g}")
    return 0


# --- rnnkit train classify | tag | forecast | seq2seq ---------------------------------------------
def run_task(args: argparse.Namespace) -> int:
    """Read the data, build the model, train it with the Trainer, report; the same for every task."""
    module = TASKS[args.task]
    if args.resume:
        return resume_task(args)
    options = resolve_options(args, args.task)
    if options.data is None and not getattr(module, "HAS_DEFAULT_DATA", False):
        print(f"rnnkit train {args.task}: no --data given. It reads {module.EXPECTED}. Example: "
              f"rnnkit train {args.task} --data {module.EXAMPLE}", file=sys.stderr)
        return 2
    prepared = module.prepare(options)
    data_files = record_data(options)
    run = RunDirectory.create(options.out, args.task, args.force, RUN_FILES)
    run.write_start({
        "task": args.task, "options": dataclasses.asdict(options),
        "model": {"class": type(prepared.model).__name__, "config": prepared.model.config},
        "artifacts": prepared.artifacts, "vocabs": sorted(prepared.vocabs),
        "data": options.data or "generated", "data_files": data_files, "rnnkit": rnnkit.__version__},
        prepared.vocabs)
    try:
        for line in prepared.description:
            print(line)
        print(f"model: {type(prepared.model).__name__}, {options.cell.upper()} {options.layers} x {options.hidden}"
              f"{' bidirectional' if options.bidirectional else ''}, {prepared.model.num_parameters():,} parameters; "
              f"{prepared.task.steps_per_epoch} steps per epoch of {options.batch} examples; run directory "
              f"{run.path}")
        optimizer = rnnkit.optim.Adam(prepared.model.parameters(), lr=options.lr)
        trainer = Trainer(prepared.model, prepared.task, optimizer,
                          trainer_config(options, prepared.task.steps_per_epoch, progress=PROGRESS),
                          run_dir=run.folder)
        run.bind(trainer, sorted(prepared.vocabs))
    except BaseException:
        run.abandon()
        raise
    return _train_and_report_task(args.task, trainer, prepared, run)


def resume_task(args: argparse.Namespace) -> int:
    if not args.out:
        raise ValueError("--resume needs --out RUN_DIR, the run to continue")
    read_run_document(args.out, args.task)          # a run directory at all, before taking its lock
    run = RunDirectory.open_existing(args.out)
    try:
        return _resume_task(args, run)
    finally:
        run.close()


def _resume_task(args: argparse.Namespace, run: RunDirectory) -> int:
    out = run.path
    document, folder = read_run_document(out, args.task)
    module = TASKS[args.task]
    last = checkpoint.checkpoint_path(out / CHECKPOINT_FOLDER, "last")
    if last is None:
        raise FileNotFoundError(f"{out} has no checkpoints/last to resume from")
    checkpoint.read_checkpoint(last)                # config.json and the vocabularies must be the checkpoint's
    options = resumed_options(args, args.task, document["options"], out)
    module.check_options(options)
    check_data(document.get("data_files") or {}, {name: getattr(options, name) for name in DATA_OPTIONS},
               args.allow_other_data)
    prepared = module.prepare(options)              # the same data, split and vocabulary: same options, same seed
    check_same_setup(document, prepared, out)
    optimizer = rnnkit.optim.Adam(prepared.model.parameters(), lr=options.lr)
    trainer = Trainer(prepared.model, prepared.task, optimizer,
                      trainer_config(options, prepared.task.steps_per_epoch, progress=PROGRESS), run_dir=out)
    trainer.restore(last)
    run.bind(trainer, sorted(prepared.vocabs))
    print(f"resuming {out} at step {trainer.state['step']} (epoch {trainer.state['epoch'] + 1}, "
          f"batch {trainer.state['window']})")
    return _train_and_report_task(args.task, trainer, prepared, run)


def check_same_setup(document: dict[str, Any], prepared: Any, out: Path) -> None:
    """Refuse to resume when the data now gives other labels, scaling or vocabularies than the run has."""
    if json.loads(json.dumps(prepared.artifacts)) != document.get("artifacts"):
        raise ValueError(f"cannot resume {out}: its data now gives other labels, scaling or sizes than the run "
                         f"was trained with (the \"artifacts\" in {CONFIG_FILE} differ); start a new run")
    with tempfile.TemporaryDirectory() as folder:
        for name, vocab in prepared.vocabs.items():
            vocab.save(Path(folder) / name)
            if (not (out / name).is_file()
                    or checkpoint.file_sha256(Path(folder) / name) != checkpoint.file_sha256(out / name)):
                raise ValueError(f"cannot resume {out}: its data now gives another vocabulary than {out / name}; "
                                 f"start a new run")


def _train_and_report_task(task: str, trainer: Trainer, prepared: Any, run: RunDirectory) -> int:
    try:
        return _report_task(task, trainer, prepared, run)
    finally:
        run.close()


def _report_task(task: str, trainer: Trainer, prepared: Any, run: RunDirectory) -> int:
    result = _fit_in_run(task, trainer, run)
    out = run.path
    if result is None:
        return 3
    summary, model = result
    if prepared.final_report is not None:
        summary["test"] = prepared.final_report(model)
    summary["title"] = f"rnnkit train {task}: {out}"
    report.write_summary(out, summary)
    if summary.get("test"):
        with open(out / report.SUMMARY_MARKDOWN, "a", encoding="utf-8") as stream:
            stream.write(f"- held-out test: {format_metrics(summary['test'])}\n")
    _print_stopped(summary)
    if summary.get("test"):
        print(f"held-out test (best checkpoint): {format_metrics(summary['test'])}")
    print(f"run saved in {out}/ (checkpoints, metrics.csv, loss.png, summary.md)")
    print(f"next: rnnkit predict {out} ...   or   rnnkit evaluate {out} --data PATH")
    return 0


def format_metrics(metrics: dict[str, Any]) -> str:
    """``name value, ...``; values beyond a million in scientific notation (never a 300-digit number)."""
    return ", ".join(f"{key} {format_number(value)}" if isinstance(value, float) else f"{key} {value}"
                     for key, value in metrics.items() if not isinstance(value, (dict, list)))


def format_number(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"


# --- reading a run directory (also used by rnnkit generate / evaluate / predict) -----------------------
def read_run_document(folder: str | os.PathLike, task: str | None = None) -> tuple[dict[str, Any], Path]:
    """A run's ``config.json`` document, checked (and of the given ``task``, when one is given)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"run directory not found: {folder}")
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ValueError(f"{folder} is not a training run: {CONFIG_FILE} is missing")
    try:
        document = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{config_path} is corrupt: not valid JSON ({error})") from error
    known = ("lm", *TASKS)
    if not isinstance(document, dict) or document.get("task") not in known or "options" not in document:
        raise ValueError(f"{config_path} does not describe a training run (expected \"task\" to be one of "
                         f"{list(known)} and \"options\")")
    if task is not None and document["task"] != task:
        raise ValueError(f"{config_path} describes a {document['task']} run, not a {task} run")
    unknown = set(document["options"]) - set(task_fields(document["task"]))
    if unknown:
        raise ValueError(f"{config_path}: unknown options {sorted(unknown)}")
    return document, folder


def load_task_run(folder: str | os.PathLike, which: str = "best") -> tuple[dict[str, Any], dict[str, Any], Any]:
    """The config document, the vocabularies and the verified model of a classify/tag/forecast/seq2seq run."""
    from rnnkit.data.vocab import Vocab

    document, folder = read_run_document(folder)
    if document["task"] == "lm":
        raise ValueError(f"{folder} is a language-model run: use rnnkit generate / rnnkit evaluate")
    vocabs = {}
    for name in document.get("vocabs", []):
        if not (folder / name).is_file():
            raise ValueError(f"{folder} is incomplete: {name} is missing")
        vocabs[name] = Vocab.load(folder / name)
    path = checkpoint.checkpoint_path(folder / CHECKPOINT_FOLDER, which)
    if path is None:
        raise FileNotFoundError(f"{folder} has no checkpoint {CHECKPOINT_FOLDER}/{which}")
    model = checkpoint.load_model(path)
    expected = TASKS[document["task"]].MODEL_CLASS
    if not isinstance(model, expected):
        raise checkpoint.CheckpointError(f"{path} holds a {type(model).__name__}, not a {expected.__name__}")
    return document, vocabs, model


def read_run(folder: str | os.PathLike) -> tuple[dict[str, Any], Any, Path]:
    """A language-model run's ``config.json`` document, its vocabulary, and the folder, checked."""
    from rnnkit.data.vocab import Vocab

    document, folder = read_run_document(folder)
    config_path = folder / CONFIG_FILE
    if document["task"] != "lm":
        raise ValueError(f"{config_path} does not describe a language-model run (expected \"task\": \"lm\"; "
                         f"this is a {document['task']} run: use rnnkit predict / rnnkit evaluate)")
    unknown = set(document["options"]) - set(OPTION_FIELDS)
    if unknown:
        raise ValueError(f"{config_path}: unknown options {sorted(unknown)}")
    vocab_path = folder / VOCAB_FILE
    if not vocab_path.is_file():
        raise ValueError(f"{folder} is incomplete: {VOCAB_FILE} is missing")
    return document, Vocab.load(vocab_path), folder


def load_run_model(folder: Path, vocab, which: str = "best") -> LanguageModel:
    """The verified model of checkpoint ``which`` of a run, checked against its vocabulary."""
    path = checkpoint.checkpoint_path(folder / CHECKPOINT_FOLDER, which)
    if path is None:
        raise FileNotFoundError(f"{folder} has no checkpoint {CHECKPOINT_FOLDER}/{which}")
    model = checkpoint.load_model(path)
    if not isinstance(model, LanguageModel):
        raise checkpoint.CheckpointError(f"{path} holds a {type(model).__name__}, not a LanguageModel")
    if model.vocab_size != len(vocab):
        raise checkpoint.CheckpointError(f"{path} does not match {folder / VOCAB_FILE}: the model predicts "
                                         f"{model.vocab_size} tokens, the vocabulary has {len(vocab)}")
    return model
