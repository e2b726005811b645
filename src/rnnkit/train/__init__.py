"""Training: the :class:`Trainer` loop, learning-rate schedules, checkpoints and reports.

- :mod:`rnnkit.train.trainer`: the loop (forward, loss, backward, clip, step, zero), validation,
  early stopping, time budget, exact resume, the stop on a non-finite loss.
- :mod:`rnnkit.train.schedules`: learning rate as a function of the step (step, cosine, warmup).
- :mod:`rnnkit.train.checkpoint`: checkpoint folders written atomically and verified on reading.
- :mod:`rnnkit.train.report`: ``metrics.csv``, the loss-curve PNG, the run summary.
- :mod:`rnnkit.train.language_modeling`: the language-modelling task (text, vocabulary,
  truncated BPTT windows, loss / perplexity / bits per character).
- :mod:`rnnkit.train.classification`, :mod:`~rnnkit.train.tagging`, :mod:`~rnnkit.train.forecasting`,
  :mod:`~rnnkit.train.translation`: the supervised tasks (their data, options, validation
  metrics, evaluation and prediction), on the shared pieces in :mod:`rnnkit.train.supervised`.
- :mod:`rnnkit.train.tasks`: every task by name (``rnnkit train NAME``) and what a task module provides.
- :mod:`rnnkit.train.options`: options as dataclass fields, their parser, TOML files, ``--resume``'s checks.
- :mod:`rnnkit.train.runner`: one run of any task, new or resumed: data, run directory, Trainer, summary.
- :mod:`rnnkit.train.run_dir` (and :mod:`~rnnkit.train.run_lock`): writing a run directory and reading it back.

Under ``mpiexec -n N``, ``Trainer(..., group=rnnkit.distributed.world())`` trains data-parallel on N
processes (``rnnkit train`` does this by itself).
"""

from rnnkit.train.checkpoint import CheckpointError
from rnnkit.train.language_modeling import LanguageModelTask
from rnnkit.train.schedules import LearningRateSchedule
from rnnkit.train.trainer import Trainer, TrainerConfig, TrainingDiverged

__all__ = ["Trainer", "TrainerConfig", "TrainingDiverged", "LearningRateSchedule", "LanguageModelTask",
           "CheckpointError"]
