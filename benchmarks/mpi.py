"""Data-parallel training speed: characters per second of ``rnnkit train lm``'s model on 1 and N ranks.

Run from the repository root (needs ``pip install '.[mpi]'``)::

    python -m benchmarks.mpi                    # 1 rank x 1 thread, 2 ranks x 1 thread, 1 rank x 2 threads
    python -m benchmarks.mpi --ranks 4 --steps 50

Three set-ups train the same model (the defaults of ``rnnkit train lm``: a character LSTM,
256 hidden units, embedding 32, batch 32 x 64 steps, on Python's documentation) for the same
number of steps with the same global batch:

- ``1 rank, 1 thread``: the baseline;
- ``N ranks, 1 thread each`` (``mpiexec -n N``): each rank trains B/N streams, one allreduce per step;
- ``1 rank, N threads``: the same cores given to the BLAS of one process instead.

Each line gives characters per second (the Trainer's own figure: tokens over the time of the
timed steps, after a few untimed ones; validation excluded), the speed-up and the scaling efficiency (speed-up / N
against the baseline), and the bytes of the one allreduce buffer per step (every gradient and
five figures, float64). Nothing is written to the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WARMUP_STEPS = 3                                 # untimed steps first (kernel compilation, caches)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def worker(steps: int, output: str) -> None:
    """One rank's part: train ``steps`` steps, rank 0 writes the speed and the buffer size as JSON."""
    from rnnkit import distributed
    from rnnkit.optim import Adam
    from rnnkit.train.language_modeling import LMOptions, LanguageModelTask, prepare
    from rnnkit.train.trainer import Trainer, TrainerConfig

    options = LMOptions()
    prepared = prepare(options)
    full = prepared.task
    task = LanguageModelTask(full.train_ids, full.val_ids[:2000], options.batch, options.seq_len)   # short validation
    group = distributed.world()
    config = TrainerConfig(epochs=1, max_steps=WARMUP_STEPS, progress=False)
    trainer = Trainer(prepared.model, task, Adam(prepared.model.parameters(), lr=options.lr), config,
                      log=lambda _: None, group=group)
    trainer.fit()                                   # compiles the kernels, fills the caches: not timed
    config.max_steps = WARMUP_STEPS + steps
    trainer.fit()                                   # its speed counts only these steps
    if group.is_root:
        parameters = prepared.model.num_parameters()
        Path(output).write_text(json.dumps({
            "chars_per_s": trainer._tokens_per_s, "parameters": parameters,
            "buffer_bytes": 8 * (parameters + distributed.FIGURES)}))


def measure(ranks: int, threads: int, steps: int, mpiexec: str | None) -> dict:
    environment = {key: value for key, value in os.environ.items() if key not in THREAD_VARIABLES}
    environment.update({name: str(threads) for name in THREAD_VARIABLES})
    with tempfile.TemporaryDirectory() as folder:
        output = str(Path(folder) / "result.json")
        command = [sys.executable, "-m", "benchmarks.mpi", "--worker", "--steps", str(steps), "--output", output]
        if ranks > 1:
            command = [mpiexec, "-n", str(ranks), *command]
        subprocess.run(command, check=True, env=environment, cwd=Path(__file__).resolve().parent.parent)
        return json.loads(Path(output).read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ranks", type=int, default=2, help="ranks (and threads) of the parallel set-ups")
    parser.add_argument("--steps", type=int, default=20, help="training steps per set-up")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.steps, args.output)
        return
    mpiexec = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    if mpiexec is None:
        sys.exit("no mpiexec found: pip install '.[mpi]'")
    n = args.ranks
    setups = [(1, 1, "1 rank, 1 thread"), (n, 1, f"{n} ranks, 1 thread each"), (1, n, f"1 rank, {n} threads")]
    baseline = None
    print(f"rnnkit train lm's model, {args.steps} steps of 32 x 64 characters")
    for ranks, threads, name in setups:
        result = measure(ranks, threads, args.steps, mpiexec)
        baseline = baseline or result["chars_per_s"]
        speedup = result["chars_per_s"] / baseline
        cores = max(ranks, threads)
        sent = f", allreduce {result['buffer_bytes'] / 1e6:.2f} MB per step" if ranks > 1 else ""
        print(f"{name:24s} {result['chars_per_s']:10,.0f} chars/s  speed-up {speedup:4.2f}  "
              f"efficiency {speedup / cores:4.0%}{sent}")


if __name__ == "__main__":
    main()
