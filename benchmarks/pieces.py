"""The parts of a training step outside the recurrent layers, NumPy against rnnkit's compiled loops.

    python -m benchmarks.pieces [--rounds 5] [--reps 20] [--threads 1]

Three pieces, each on the shapes a default run gives them:

- ``adam``: one :class:`rnnkit.optim.Adam` step over 5M float32 parameters in 12 arrays
  (the translation model's size);
- ``clip``: :func:`rnnkit.clip.clip_grad_norm_` over the same gradients (the norm is the cost);
- ``cross_entropy``: :func:`rnnkit.losses.cross_entropy` with label smoothing 0.1 on (352, 5422)
  float32 logits (one translation batch: 32 sentences of 11 target words, 5,422 French words).

Every (piece, path) of every round runs in a fresh process (``RNNKIT_COMPILE=0`` for NumPy),
the order of the two paths alternating from round to round; a process times ``reps`` calls
after one warm-up call and reports the median. Prints the median over rounds of each path, the
spread (lowest and highest round), the ratio, and the BLAS in use.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIECES = ("adam", "clip", "cross_entropy")


def make_piece(piece: str):
    """A callable that runs the piece once (the setup done here, not timed)."""
    import numpy as np

    from rnnkit.module import Parameter

    rng = np.random.default_rng(0)
    if piece in ("adam", "clip"):
        sizes = [(5422, 256), (5422,), (4471, 256), (1024, 256), (1024, 256), (1024,), (1024, 512), (1024, 256),
                 (1024,), (256, 512), (256,), (256, 256)]                              # 5.0M values in all
        parameters = [Parameter(rng.standard_normal(size).astype(np.float32)) for size in sizes]
        for parameter in parameters:
            parameter.grad[...] = rng.standard_normal(parameter.data.shape).astype(np.float32) * 1e-3
        if piece == "adam":
            from rnnkit.optim import Adam

            optimiser = Adam(parameters, lr=5e-3)
            return optimiser.step
        from rnnkit.clip import clip_grad_norm_

        return lambda: clip_grad_norm_(parameters, 1e6)                               # never scales: the norm alone
    from rnnkit.losses import cross_entropy

    logits = rng.standard_normal((352, 5422)).astype(np.float32)
    targets = rng.integers(0, 5422, size=352)
    return lambda: cross_entropy(logits, targets, label_smoothing=0.1)


def child(piece: str, reps: int) -> None:
    from rnnkit import compiled

    run = make_piece(piece)
    run()                                                                             # warm-up (and compiling)
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    print(json.dumps({"ms": 1e3 * statistics.median(times), "compiled": compiled.enabled()}))


def blas_in_use() -> str:
    try:
        from threadpoolctl import threadpool_info

        return ", ".join(f"{pool['internal_api']} {pool['version']} ({pool.get('architecture')}, "
                         f"{pool['num_threads']} threads)" for pool in threadpool_info()
                         if pool["user_api"] == "blas") or "unknown"
    except ImportError:
        return "unknown (threadpoolctl absent)"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pieces", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="BLAS and Numba threads of each process")
    parser.add_argument("--pieces", default=",".join(PIECES), help=f"comma-separated, from {','.join(PIECES)}")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.reps)
        return
    threads = str(args.threads)
    base = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads, "NUMBA_NUM_THREADS": threads,
            "PYTHONPATH": os.path.join(ROOT, "src") + os.pathsep + ROOT}
    paths = {"numpy": {**base, "RNNKIT_COMPILE": "0"}, "compiled": {**base, "RNNKIT_COMPILE": "1"}}
    os.environ.update({key: threads for key in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")})   # as the children
    import numpy as np
    print(f"NumPy {np.__version__}; BLAS: {blas_in_use()}; {args.threads} thread(s) per process; "
          f"{args.rounds} rounds of {args.reps} calls")
    for piece in args.pieces.split(","):
        if piece not in PIECES:
            raise SystemExit(f"--pieces: expected names from {', '.join(PIECES)}, got {piece!r}")
        medians: dict[str, list[float]] = {name: [] for name in paths}
        for round_index in range(args.rounds):
            order = list(paths) if round_index % 2 == 0 else list(reversed(paths))
            for name in order:
                output = subprocess.run([sys.executable, "-m", "benchmarks.pieces", "--child", piece,
                                         "--reps", str(args.reps)], env=paths[name], cwd=ROOT, check=True,
                                        capture_output=True, text=True).stdout
                medians[name].append(json.loads(output.strip().splitlines()[-1])["ms"])
        summary = {name: statistics.median(values) for name, values in medians.items()}
        spread = {name: f"{min(values):.2f}-{max(values):.2f}" for name, values in medians.items()}
        print(f"{piece:14s} numpy {summary['numpy']:8.2f} ms ({spread['numpy']})   compiled {summary['compiled']:8.2f} ms "
              f"({spread['compiled']})   compiled/numpy {summary['compiled'] / summary['numpy']:.2f}")


if __name__ == "__main__":
    main()
