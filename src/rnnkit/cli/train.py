"""``rnnkit train TASK``: train a model from one command.

Tasks: ``lm`` (language model), ``classify`` (one label per sequence), ``tag`` (one tag per
token), ``forecast`` (the next values of a time series) and ``seq2seq`` (rewrite one sequence
as another). Each task's options are a dataclass in its module under :mod:`rnnkit.train`
(:mod:`rnnkit.train.tasks` lists them); every task runs and resumes through the same path
(:mod:`rnnkit.train.runner`). This module parses, calls it and prints.

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

``mpiexec -n N rnnkit train TASK ...`` trains one model on N processes (:mod:`rnnkit.distributed`):
the same command on every rank; rank 0 writes the run directory and prints. A rank that fails
stops every rank (the last checkpoint stays as it was).
"""

from __future__ import annotations

import argparse
import json
import sys

from rnnkit import distributed
from rnnkit.train import runner
from rnnkit.train.options import add_options, fields_of, given_options, resolve_options
from rnnkit.train.runner import format_metrics, format_number  # noqa: F401  (the printed number format)
from rnnkit.train.tasks import TASKS, task_fields

# Show a tqdm progress bar during training (benchmarks.tasks turns it off).
PROGRESS = True
# The options of rnnkit train lm, by name.
OPTION_FIELDS = task_fields("lm")


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="train a model on a sequence task (lm, classify, tag, forecast, "
                                                "seq2seq)",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tasks = train.add_subparsers(dest="task", metavar="TASK", required=True)
    for name, module in TASKS.items():
        parser = tasks.add_parser(name, help=module.HELP, description=module.__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        add_options(parser, fields_of(module.OPTIONS))
        parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``rnnkit train TASK ...``: a new run, or ``--resume``; then train and print the report.

    Under ``mpiexec -n N`` (N > 1) every rank runs this; a failure on one rank stops them all."""
    group = distributed.world()
    if group.size == 1:
        return _run(args, group)
    try:
        return _run(args, group)
    except distributed.DistributedError as error:      # found alike on every rank: rank 0 says why
        if group.is_root:
            print(f"rnnkit train {args.task}: error: {error}", file=sys.stderr)
        return 2
    except BaseException as error:                      # this rank alone: the others would wait forever
        print(f"rnnkit train {args.task}: rank {group.rank} of {group.size} failed: "
              f"{type(error).__name__}: {error}; stopping every rank", file=sys.stderr, flush=True)
        group.abort(1)
        raise


def _run(args: argparse.Namespace, group: distributed.Group) -> int:
    module = TASKS[args.task]
    given = given_options(args, fields_of(module.OPTIONS))
    if args.resume:
        if args.force:
            raise ValueError("--resume continues the run in --out and --force would replace it: give one of them")
        task_run = runner.resume(args.task, args.out, given, args.allow_other_data, progress=PROGRESS, group=group)
    else:
        options = resolve_options(module.OPTIONS, module.check_options, given)
        if options.data is None and not getattr(module, "HAS_DEFAULT_DATA", False):
            print(f"rnnkit train {args.task}: no --data given. It reads {module.EXPECTED}. Example: "
                  f"rnnkit train {args.task} --data {module.EXAMPLE}", file=sys.stderr)
            return 2
        task_run = runner.start(args.task, options, args.force, progress=PROGRESS, group=group)
    outcome = runner.finish(task_run)
    if outcome is None:
        return 3
    if group.is_root:
        print_outcome(task_run, outcome)
    return 0


def print_outcome(task_run: runner.TaskRun, outcome: runner.Outcome) -> None:
    summary, out, options = outcome.summary, outcome.folder, task_run.options
    best_metrics = format_metrics({key: value for key, value in summary["best"].items() if key != "step"})
    print(f"\nstopped ({summary['stop_reason']}) after {summary['steps']} steps, {summary['epochs']:g} epochs, "
          f"{summary['elapsed_s']:.0f} s; best validation: {best_metrics}")
    if summary.get("test"):
        print(f"held-out test (best checkpoint): {format_metrics(summary['test'])}")
    if summary.get("series"):
        print(f"series: {summary['series']}")
    for warning in summary.get("warnings") or []:
        print(f"warning: {warning}")
    if outcome.sample is None:
        print(f"run saved in {out}/ (checkpoints, metrics.csv, loss.png, summary.md)")
        print(f"next: rnnkit predict {out} ...   or   rnnkit evaluate {out} --data PATH")
        return
    print(f"run saved in {out}/ (checkpoints, metrics.csv, loss.png, summary.md)\n")
    print(f"--- sample (best checkpoint, temperature {options.temperature:g}) ---")
    print(outcome.sample)
    print("---")
    print(f"more: rnnkit generate {out} --prime {json.dumps(options.prime)} --length 500 "
          f"--temperature {options.temperature:g}")
