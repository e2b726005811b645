"""``rnnkit lab``: experiments that make the theory of recurrent networks visible.

Each experiment trains small models in NumPy with :class:`rnnkit.train.Trainer` (see
:mod:`rnnkit.cli.lab.common`), writes PNG plots, a Markdown report saying what theory expects
and what was measured, and the numbers as ``results.json``::

    rnnkit lab gradients     dL/dh_t against distance: RNN, LSTM, GRU; W_hh radius 0.5 / 1.0 / 1.5
    rnnkit lab clipping      the exploding setting trained with and without gradient clipping
    rnnkit lab memory        the adding problem at several T for the three cells
    rnnkit lab forget-bias   LSTM with forget-gate bias 0 and 1 (and GRU) on the adding problem
    rnnkit lab cells         LSTM, GRU, LayerNorm LSTM, minGRU, minLSTM: adding problem and speed against T

``--quick`` runs each in seconds (3 to 11 s measured). The task is the adding problem throughout
(:func:`rnnkit.data.synthetic.adding_problem`): a model that remembers nothing scores MSE 0.167.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from rnnkit.cli.lab.cells import run_cells
from rnnkit.cli.lab.clipping import run_clipping
from rnnkit.cli.lab.forget_bias import run_forget_bias
from rnnkit.cli.lab.gradients import run_gradients
from rnnkit.cli.lab.memory import run_memory
from rnnkit.registry import CELL_NAMES

CELLS = CELL_NAMES                  # every registered kind (rnnkit.registry)
CLASSIC = ("rnn", "lstm", "gru")    # the kinds with a recurrent product W_hh
EXPERIMENTS = ("gradients", "clipping", "memory", "forget-bias", "cells")
NEW_CELLS = ("lstm", "gru", "lnlstm", "mingru", "minlstm")     # the cells experiment's default comparison

# The cells each experiment can compare, its default cells, and how many lengths T it takes.
# The gradients experiment reads the spectral radius of W_hh: kinds without one cannot take part.
EXPERIMENT_CELLS = {"gradients": CLASSIC, "clipping": ("rnn",), "memory": CELLS, "forget-bias": ("lstm", "gru"),
                    "cells": CELLS}
DEFAULT_CELLS = {"gradients": CLASSIC, "clipping": ("rnn",), "memory": CLASSIC, "forget-bias": ("lstm", "gru"),
                 "cells": NEW_CELLS}
MANY_LENGTHS = ("memory", "cells")
CELLS_HELP = {
    "gradients": "cells to compare (default: rnn lstm gru)",
    "clipping": "only rnn: the experiment is the exploding tanh RNN",
    "memory": "cells to compare, any registered kind (default: rnn lstm gru)",
    "forget-bias": "lstm (forget bias 0 and 1, always run) and gru (default: lstm gru)",
    "cells": "cells to compare, any registered kind (default: lstm gru lnlstm mingru minlstm)",
}

# Full and --quick settings of each experiment; command-line options override them.
DEFAULTS = {
    "gradients": {"full": dict(lengths=[100], steps=1000, hidden=64, batch=32),
                  "quick": dict(lengths=[50], steps=150, hidden=32, batch=32)},
    "clipping": {"full": dict(lengths=[50], steps=1500, hidden=64, batch=32),
                 "quick": dict(lengths=[30], steps=300, hidden=32, batch=32)},
    # memory and forget-bias: 6000 steps, because the default-initialised LSTM at T = 100 only leaves the
    # 0.167 plateau after about 4,300 steps (seed 0); at 3000 steps it had not moved (docs/lab/memory.md).
    "memory": {"full": dict(lengths=[10, 50, 100], steps=6000, hidden=64, batch=32),
               "quick": dict(lengths=[10, 20], steps=250, hidden=32, batch=32)},
    "forget-bias": {"full": dict(lengths=[100], steps=6000, hidden=64, batch=32),
                    "quick": dict(lengths=[20], steps=250, hidden=32, batch=32)},
    # cells: the memory experiment's budget at T = 100 and 200; speed from T = 100 to 4096.
    "cells": {"full": dict(lengths=[100, 200], steps=6000, hidden=64, batch=32,
                           speed_lengths=[100, 256, 512, 1024, 2048, 4096], repeats=3),
              "quick": dict(lengths=[10, 20], steps=250, hidden=32, batch=32, speed_lengths=[100, 400], repeats=2)},
}


def register(subparsers) -> None:
    parser = subparsers.add_parser("lab", help="experiments on vanishing/exploding gradients, memory and gates",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    experiments = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    helps = {
        "gradients": "dL/dh_t against distance for RNN, LSTM, GRU and for W_hh radius 0.5/1.0/1.5",
        "clipping": "an exploding tanh RNN trained with and without gradient clipping",
        "memory": "the adding problem at several T for RNN, LSTM and GRU",
        "forget-bias": "LSTM with forget-gate bias 0 and 1 (and GRU) on the adding problem",
        "cells": "LSTM, GRU, LayerNorm LSTM, minGRU and minLSTM on the adding problem, and speed against T",
    }
    for name in EXPERIMENTS:
        sub = experiments.add_parser(name, help=helps[name], description=helps[name])
        sub.add_argument("--quick", action="store_true", help="small settings, seconds instead of minutes")
        sub.add_argument("--lengths", "-T", type=int, nargs="+", help="sequence lengths T")
        sub.add_argument("--steps", type=int, help="training steps (batches) per run")
        sub.add_argument("--hidden", type=int, help="hidden units H")
        sub.add_argument("--batch", type=int, help="batch size")
        sub.add_argument("--cells", nargs="+", choices=CELLS, help=CELLS_HELP[name])
        sub.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        sub.add_argument("--lr", type=float, help="learning rate (default: Adam 1e-3; SGD 0.05 for clipping)")
        sub.add_argument("--max-norm", type=float, default=1.0, help="gradient clipping threshold (default 1.0)")
        sub.add_argument("--target", type=float, default=0.01, help="validation MSE counted as solved (0.01)")
        sub.add_argument("--eval-every", type=int, help="steps between validation evaluations")
        sub.add_argument("--out", default=os.path.join("lab", name), help="output folder (default lab/NAME)")
        if name == "cells":
            sub.add_argument("--speed-lengths", type=int, nargs="+", metavar="T",
                             help="lengths T of the speed measurement (default 100 256 512 1024 2048 4096)")
            sub.add_argument("--repeats", type=int, help="timed training steps per cell and T (median; default 3)")
        sub.set_defaults(func=run)


def _settings(args: argparse.Namespace) -> argparse.Namespace:
    """The experiment's defaults (full or quick) with the given options on top."""
    chosen = DEFAULTS[args.experiment]["quick" if args.quick else "full"]
    for key, value in chosen.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.eval_every is None:
        args.eval_every = max(args.steps // 60, 5)
    for name in ("steps", "hidden", "batch", "eval_every") + (("repeats",) if args.experiment == "cells" else ()):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if min(args.lengths) < 2:
        raise ValueError(f"--lengths must all be >= 2, got {args.lengths}")
    if args.experiment == "cells" and min(args.speed_lengths) < 2:
        raise ValueError(f"--speed-lengths must all be >= 2, got {args.speed_lengths}")
    if len(args.lengths) > 1 and args.experiment not in MANY_LENGTHS:
        raise ValueError(f"{args.experiment} runs at one length T, got --lengths {' '.join(map(str, args.lengths))}: "
                         f"run it once per length (memory compares several)")
    allowed = EXPERIMENT_CELLS[args.experiment]
    if args.cells is None:
        args.cells = list(DEFAULT_CELLS[args.experiment])
    elif not set(args.cells) <= set(allowed) or (args.experiment == "forget-bias" and "lstm" not in args.cells):
        raise ValueError(f"{args.experiment} --cells: {CELLS_HELP[args.experiment]}; got {' '.join(args.cells)}")
    return args


def run(args: argparse.Namespace) -> int:
    args = _settings(args)
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    results = {"gradients": run_gradients, "clipping": run_clipping, "memory": run_memory,
               "forget-bias": run_forget_bias, "cells": run_cells}[args.experiment](args)
    results["settings"] = {key: value for key, value in vars(args).items() if key != "func"}
    results["seconds"] = round(time.perf_counter() - start, 1)
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump(results, handle, indent=1, default=_jsonable)
    with open(os.path.join(args.out, "report.md"), "a") as handle:
        handle.write(f"\nCommand: `{_command(args)}`; {results['seconds']} s on this machine.\n")
    print(f"wrote {args.out}/report.md, results.json and plots in {results['seconds']} s")
    return 0


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _command(args: argparse.Namespace) -> str:
    parts = ["rnnkit lab", args.experiment]
    if args.quick:
        parts.append("--quick")
    parts += ["--lengths", *map(str, args.lengths), "--steps", str(args.steps), "--hidden", str(args.hidden),
              "--cells", *args.cells, "--seed", str(args.seed)]
    if args.experiment == "cells":
        parts += ["--speed-lengths", *map(str, args.speed_lengths), "--repeats", str(args.repeats)]
    return " ".join(parts)
