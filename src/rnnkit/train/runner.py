"""One run of a task, new or resumed: the same path for every task (lm, classify, tag, forecast, seq2seq).

:func:`start` (a new run) and :func:`resume` (``--resume``) read the data through the task's
``prepare``, own the run directory, write ``config.json`` and the vocabularies, and build the
:class:`~rnnkit.train.trainer.Trainer`; :func:`finish` trains, moves the run into place at its
first checkpoint, and writes the summary from the best checkpoint. The command line
(:mod:`rnnkit.cli.train`) only parses, calls these and prints.

A resumed run reads the same data with the same options and seed, so it gets the same split
and vocabularies (checked against the run's files: :func:`check_same_setup`), builds the same
model and restores every number from ``checkpoints/last``: it continues exactly.

Under ``mpiexec -n N`` (a :class:`~rnnkit.distributed.Group` of N > 1), every rank checks that
the others were started with the same options; rank 0 alone owns the run directory (new or
resumed) and sends the resolved options and vocabularies to the others, which read the same
data and build the same model and task; the Trainer then sends rank 0's state to every rank.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import rnnkit
from rnnkit import distributed
from rnnkit.train import checkpoint, report
from rnnkit.train.options import DATA_OPTIONS, resumed_options
from rnnkit.train.run_dir import CONFIG_FILE, RunDirectory, check_data, load_vocabs, read_document, record_data
from rnnkit.train.schedules import LearningRateSchedule
from rnnkit.train.supervised import Prepared
from rnnkit.train.tasks import FORMER_DEFAULTS, task_module
from rnnkit.train.trainer import CHECKPOINT_FOLDER, Trainer, TrainerConfig, TrainingDiverged

Log = Callable[[str], None]


@dataclass
class TaskRun:
    """A run ready to train: its task, options, setup, Trainer and run directory."""

    task: str
    options: Any
    prepared: Prepared
    trainer: Trainer
    run: RunDirectory | None            # None on ranks other than 0, which write nothing


def trainer_config(options: Any, steps_per_epoch: int, progress: bool = True) -> TrainerConfig:
    """The Trainer's settings from a task's options: epochs, clipping, schedule, patience, budget, output.

    The bars follow ``options.progress`` and ``options.quiet`` (options without them: "auto", not
    quiet); ``progress=False`` turns them off whatever the options say (benchmarks, other ranks)."""
    total = options.epochs * steps_per_epoch
    schedule = LearningRateSchedule(options.schedule, lr=options.lr, warmup_steps=min(options.warmup, total),
                                    total_steps=total, step_size=max(steps_per_epoch, 1), gamma=0.5)
    return TrainerConfig(epochs=options.epochs, clip=options.clip, schedule=schedule,
                         patience=options.patience or None, max_minutes=options.max_minutes or None,
                         checkpoint_every=options.checkpoint_every,
                         progress=getattr(options, "progress", "auto") if progress else "never",
                         quiet=bool(getattr(options, "quiet", False)))


def progress_log(options: Any, log: Log) -> Log:
    """``log`` for the lines that describe a run as it starts, or nothing with ``options.quiet``."""
    return (lambda message: None) if getattr(options, "quiet", False) else log


def _trainer(prepared: Prepared, options: Any, folder: Path | None, progress: bool,
             group: distributed.Group | None = None) -> Trainer:
    optimizer = rnnkit.optim.Adam(prepared.model.parameters(), lr=options.lr)
    return Trainer(prepared.model, prepared.task, optimizer,
                   trainer_config(options, prepared.task.steps_per_epoch, progress=progress), run_dir=folder,
                   on_validation=prepared.on_validation, group=group, seed=getattr(options, "seed", 0))


def start(task: str, options: Any, force: bool = False, progress: bool = True, log: Log = print,
          group: distributed.Group | None = None) -> TaskRun:
    """A new run of ``task`` with resolved ``options``: data read, run directory owned, config written.

    With a ``group`` of several processes, call it on every rank (see the module docstring)."""
    if group is not None and group.size > 1 and not isinstance(group, _RootOf):
        distributed.check_same(group, "options", (task, dataclasses.asdict(options), force))
        distributed.check_batch(group, options.batch)
        return _join(group, task, lambda: start(task, options, force, progress, log, _RootOf(group)), resuming=False)
    module = task_module(task)
    prepared = module.prepare(options)
    data_files = record_data(options)
    run = RunDirectory.create(options.out, task, force, log=log)
    run.write_start({
        "task": task, "options": dataclasses.asdict(options),
        "model": {"class": type(prepared.model).__name__, "config": prepared.model.config},
        "artifacts": prepared.artifacts, "vocabs": sorted(prepared.vocabs),
        "data": prepared.data_name or options.data or "generated", "data_files": data_files,
        "rnnkit": rnnkit.__version__}, prepared.vocabs)
    try:
        log = progress_log(options, log)
        for line in prepared.description:
            log(line)
        bidirectional = " bidirectional" if getattr(options, "bidirectional", False) else ""
        log(f"model: {type(prepared.model).__name__}, {options.cell.upper()} {options.layers} x {options.hidden}"
            f"{bidirectional}, {prepared.model.num_parameters():,} parameters; {prepared.task.steps_per_epoch} steps "
            f"per epoch of {prepared.batch_text or f'{options.batch} examples'}; run directory {run.path}")
        if options.max_minutes:
            log(f"time budget: {options.max_minutes:g} minutes (--max-minutes)")
        trainer = _trainer(prepared, options, run.folder, progress, _group_of(group))
        run.bind(trainer, sorted(prepared.vocabs))
    except BaseException:
        run.abandon()
        raise
    return TaskRun(task, options, prepared, trainer, run)


def resume(task: str, out: str | None, given: dict[str, Any], allow_other_data: bool = False,
           progress: bool = True, log: Log = print, group: distributed.Group | None = None) -> TaskRun:
    """Continue the run in ``out`` from ``checkpoints/last`` with its saved options.

    ``given`` are the options of this command (TOML file and command line): only ``epochs`` and
    ``max_minutes`` may differ from the saved ones (and, with ``allow_other_data``, the data files).
    The run may have trained on another number of processes: its state is global.
    """
    if group is not None and group.size > 1 and not isinstance(group, _RootOf):
        distributed.check_same(group, "options", (task, out, given, allow_other_data))
        return _join(group, task, lambda: resume(task, out, given, allow_other_data, progress, log, _RootOf(group)),
                     resuming=True)
    if not out:
        raise ValueError("--resume needs --out RUN_DIR, the run to continue")
    read_document(out, task)                        # a run directory at all, before taking its lock
    run = RunDirectory.open_existing(out, log)
    try:
        return _resume(task, run, given, allow_other_data, progress, log, _group_of(group))
    except BaseException:
        run.close()
        raise


class _RootOf(distributed.Group):
    """Rank 0 of ``group`` while it builds the run alone (start/resume then take the one-process path)."""

    def __init__(self, group: distributed.Group):
        self.group = group


def _group_of(group: distributed.Group | None) -> distributed.Group | None:
    return group.group if isinstance(group, _RootOf) else group


def _join(group: distributed.Group, task: str, build: Callable[[], TaskRun], resuming: bool) -> TaskRun:
    """Rank 0 builds the run (``build``: it owns the directory); the others receive its options and
    vocabularies, read the same data and build the same model and task, writing nothing."""
    module = task_module(task)
    if group.is_root:
        try:
            task_run = build()
        except BaseException:
            group.broadcast(None)                   # the others stop too; rank 0 reports why
            raise
        group.broadcast((task_run.options, task_run.prepared.vocabs))
        return task_run
    received = group.broadcast(None)
    if received is None:
        raise distributed.DistributedError("rank 0 could not start the run")
    options, vocabs = received
    if resuming and hasattr(module, "prepare_resumed"):     # the data read through the run's vocabularies
        prepared = module.prepare_resumed(options, vocabs)
    else:                                                   # the same options and seed: the same setup
        prepared = module.prepare(options)
    return TaskRun(task, options, prepared, _trainer(prepared, options, None, False, group), None)


def _resume(task: str, run: RunDirectory, given: dict[str, Any], allow_other_data: bool, progress: bool,
            log: Log, group: distributed.Group | None = None) -> TaskRun:
    out = run.path
    document, folder = read_document(out, task)
    module = task_module(task)
    last = checkpoint.checkpoint_path(out / CHECKPOINT_FOLDER, "last")
    if last is None:
        raise FileNotFoundError(f"{out} has no checkpoints/last to resume from")
    checkpoint.read_checkpoint(last)                # config.json and the vocabularies must be the checkpoint's
    options = resumed_options(module.OPTIONS, document["options"], given, out, str(out / CONFIG_FILE),
                              FORMER_DEFAULTS.get(task), allow_other_data)
    module.check_options(options)
    check_data(document.get("data_files") or {}, {name: getattr(options, name) for name in DATA_OPTIONS
                                                  if hasattr(options, name)}, allow_other_data, log)
    if hasattr(module, "prepare_resumed"):          # the data read through the run's own vocabularies
        prepared = module.prepare_resumed(options, load_vocabs(folder, document))
        check_same_setup(document, prepared, out, vocabularies=False)
    else:                                           # the same data, split and vocabularies: same options and seed
        prepared = module.prepare(options)
        check_same_setup(document, prepared, out)
    trainer = _trainer(prepared, options, out, progress, group)
    trainer.restore(last)
    run.bind(trainer, sorted(prepared.vocabs))
    progress_log(options, log)(f"resuming {out} at step {trainer.state['step']} (epoch {trainer.state['epoch'] + 1}, "
        f"{prepared.batch_name} {trainer.state['window']})")
    return TaskRun(task, options, prepared, trainer, run)


def check_same_setup(document: dict[str, Any], prepared: Prepared, out: Path, vocabularies: bool = True) -> None:
    """Refuse to resume when the data now gives other labels, scaling or vocabularies than the run has."""
    if json.loads(json.dumps(prepared.artifacts)) != document.get("artifacts", {}):
        raise ValueError(f"cannot resume {out}: its data now gives other labels, scaling or sizes than the run "
                         f"was trained with (the \"artifacts\" in {CONFIG_FILE} differ); start a new run")
    if not vocabularies:
        return
    with tempfile.TemporaryDirectory() as folder:
        for name, vocab in prepared.vocabs.items():
            vocab.save(Path(folder) / name)
            if (not (out / name).is_file()
                    or checkpoint.file_sha256(Path(folder) / name) != checkpoint.file_sha256(out / name)):
                raise ValueError(f"cannot resume {out}: its data now gives another vocabulary than {out / name}; "
                                 f"start a new run")


@dataclass
class Outcome:
    """What a finished run left: the summary (with the held-out test, if any), the sample (lm), the folder."""

    summary: dict[str, Any]
    sample: str | None
    folder: Path | None                 # None on ranks other than 0


def finish(task_run: TaskRun) -> Outcome | None:
    """Train; then the summary from the best checkpoint. None if training diverged (the reason is printed
    to stderr). The run directory is given up in every case. On ranks other than 0: train only (the
    outcome has the summary and no folder)."""
    if task_run.run is None:
        try:
            summary = task_run.trainer.fit()
        except TrainingDiverged:
            return None
        return Outcome(summary, None, None)
    try:
        return _fit_and_report(task_run)
    finally:
        task_run.run.close()


def _fit_and_report(task_run: TaskRun) -> Outcome | None:
    run, prepared = task_run.run, task_run.prepared
    try:
        result = _fit_and_load_best(task_run.task, task_run.trainer)
        if result is None and run.building is not None:
            print(f"rnnkit train {task_run.task}: nothing was saved"
                  + (f"; the run in {run.path} is as it was" if not run.created else ""), file=sys.stderr)
        if result is not None:
            run.commit()
    finally:
        if run.building is not None:
            run.abandon()
    if result is None:
        return None
    summary, model = result
    if prepared.final_report is not None:
        summary["test"] = prepared.final_report(model)
    extras = getattr(prepared.task, "summary_extras", None)      # e.g. forecast: the transform, persistence warnings
    if extras is not None:
        summary.update(extras(summary))
    sample = prepared.sample(model) if prepared.sample is not None else None
    summary["title"] = f"rnnkit train {task_run.task}: {run.path}"
    report.write_summary(run.path, summary, sample)
    if summary.get("test") or summary.get("warnings"):
        with open(run.path / report.SUMMARY_MARKDOWN, "a", encoding="utf-8") as stream:
            if summary.get("test"):
                stream.write(f"- held-out test: {format_metrics(summary['test'])}\n")
            for warning in summary.get("warnings") or []:
                stream.write(f"- warning: {warning}\n")
    return Outcome(summary, sample, run.path)


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


def format_metrics(metrics: dict[str, Any]) -> str:
    """``name value, ...``; values beyond a million in scientific notation (never a 300-digit number)."""
    return ", ".join(f"{key} {format_number(value)}" if isinstance(value, float) else f"{key} {value}"
                     for key, value in metrics.items() if not isinstance(value, (dict, list)))


def format_number(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"
