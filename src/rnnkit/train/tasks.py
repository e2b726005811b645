"""The tasks of ``rnnkit train``, by name, and what a task module provides.

A task is one module under :mod:`rnnkit.train`; ``rnnkit train NAME``, ``--resume``,
``rnnkit evaluate`` and ``rnnkit predict`` drive every task through the same functions
(:mod:`rnnkit.train.runner`, :mod:`rnnkit.train.run_dir`). A task module has::

    OPTIONS                        the options dataclass: each field is a command-line option and a TOML key
    HELP, EXPECTED, EXAMPLE        one line for --help; the data it reads; an example --data
    HAS_DEFAULT_DATA               True where it trains without --data (lm, seq2seq)
    MODEL_CLASS, VOCAB_FILES       the model it trains; the vocabulary files its runs may hold
    check_options(options)         range checks, errors naming the option
    prepare(options) -> Prepared   read the data, build the model and the Trainer's task
    prepare_resumed(options, vocabs)   (optional) the same for --resume, reading the data through the
                                   run's saved vocabularies; without it prepare() must rebuild them
    evaluate_file(model, document, vocabs, path) -> metrics of a run's model on a file
    predict(model, document, vocabs, inputs, file) -> printed lines (all but lm, which generates)
    check_model(model, vocabs, path, folder)   (optional) refuse a checkpoint its vocabularies do not fit

A run's ``config.json`` holds every option as the run resolved it. An option added to rnnkit
after a run was saved is missing there; ``--resume`` gives it the value that reproduces how
such runs trained: :data:`FORMER_DEFAULTS` where that is not today's default.
"""

from __future__ import annotations

import dataclasses
from types import ModuleType

from rnnkit.train import classification, forecasting, language_modeling, tagging, translation

TASKS: dict[str, ModuleType] = {"lm": language_modeling, "classify": classification, "tag": tagging,
                                "forecast": forecasting, "seq2seq": translation}

# For each task, {option: value} for runs saved before the option existed, where today's default would
# train them differently. Whoever adds an option whose default is not the old behaviour (or changes the
# default of an option added since the task's first release) records the old value here.
FORMER_DEFAULTS: dict[str, dict[str, object]] = {
    "lm": {},
    "classify": {},
    # --casing, --input-dropout and --char-features were added after tag's first release and are on by default
    # now (--char-features cnn); before them a tagger had no casing column, no input dropout and no character
    # features. (--crf and --feature-columns: off before and still off by default. --dropout, --epochs and
    # --patience, whose defaults changed too, are in every run's config.json since the first release, so a run
    # always resumes with the values it was started with.)
    "tag": {"casing": False, "input_dropout": 0.0, "char_features": "none"},
    "forecast": {},
    # Before --input-feeding, --label-smoothing and --tie-embeddings existed the decoder had no input feeding, the
    # loss was plain cross entropy and the output layer had a weight of its own. (--beam and --length-penalty only
    # decode: such runs decode as today, beam 5.)
    "seq2seq": {"input_feeding": False, "label_smoothing": 0.0, "tie_embeddings": False},
}


def task_module(task: str) -> ModuleType:
    """The module of task ``task``; a ValueError naming the known tasks otherwise."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    return TASKS[task]


def task_fields(task: str) -> dict[str, dataclasses.Field]:
    """The option fields of task ``task``, by name, in declaration order."""
    return {item.name: item for item in dataclasses.fields(task_module(task).OPTIONS)}
