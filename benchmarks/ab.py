"""Two rnnkit source trees against each other (an A/B of one change), in alternating processes.

    python -m benchmarks.ab OLD_SRC NEW_SRC [--cells RNN GRU LSTM] [--sizes M2 L XL]
                            [--mode train|infer] [--rounds 5] [--reps 6] [--given]

OLD_SRC and NEW_SRC are folders that hold an ``rnnkit`` package (a checkout's ``src``, e.g.
one made with ``git worktree add ../old HEAD~1``). Every (tree, cell, size) of every round
runs in a fresh process with that folder first on ``PYTHONPATH``, so each sees its own
allocator history, as a user's process would (a change in how memory is reused can only be
judged that way); the order of the two trees alternates from round to round. A process times
``reps`` calls of the workload of :mod:`benchmarks.workloads` after one warm-up call.

Prints, per cell and size, the new/old ratio of the two medians in each round, their median,
and the slowest call of each tree per round. Native OpenBLAS kernels unless ``--given`` (the
environment's ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` kept).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Every layer kind either tree may have (the newer ones run where both trees have them).
LAYER_KINDS = ["RNN", "GRU", "LSTM", "MinGRU", "MinLSTM", "LayerNormLSTM", "LayerNormGRU"]


def child(cell: str, size: str, mode: str, reps: int) -> None:
    """Time one workload in this process; print a JSON line."""
    import numpy as np
    import rnnkit

    from benchmarks.workloads import make_rnnkit

    function = make_rnnkit(cell, size, mode)
    function()                                                      # warm-up
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    samples = []
    for _ in range(reps):
        begin = time.perf_counter()
        function()
        samples.append(time.perf_counter() - begin)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    print(json.dumps({"median": float(np.median(samples)), "max": max(samples), "faults_per_call": faults / reps,
                      "rnnkit": os.path.dirname(rnnkit.__file__)}))


def run_one(tree: str, cell: str, size: str, mode: str, reps: int, given: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([tree, ROOT]))
    if not given:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    command = [sys.executable, "-m", "benchmarks.ab", "--child", cell, size, mode, str(reps)]
    output = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    if not os.path.samefile(os.path.dirname(result["rnnkit"]), tree):
        raise SystemExit(f"the child imported rnnkit from {result['rnnkit']}, not from {tree}")
    return result


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        cell, size, mode, reps = argv[1:5]
        child(cell, size, mode, int(reps))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old", help="folder holding the old rnnkit package (a checkout's src)")
    parser.add_argument("new", help="folder holding the new rnnkit package")
    parser.add_argument("--cells", nargs="*", default=["RNN", "GRU", "LSTM"], choices=LAYER_KINDS)
    parser.add_argument("--sizes", nargs="*", default=["M2", "L", "XL"], choices=["S", "M", "M2", "L", "XL"])
    parser.add_argument("--mode", default="train", choices=["train", "infer"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reps", type=int, default=6, help="timed calls per process")
    parser.add_argument("--given", action="store_true", help="keep the environment's OpenBLAS settings")
    options = parser.parse_args(argv)
    trees = {"old": os.path.abspath(options.old), "new": os.path.abspath(options.new)}
    for tree in trees.values():
        if not os.path.isfile(os.path.join(tree, "rnnkit", "__init__.py")):
            parser.error(f"{tree} holds no rnnkit package (expected {tree}/rnnkit/__init__.py)")
    results: dict[tuple[str, str], dict[str, list[dict]]] = {}
    for round_index in range(options.rounds):
        order = ["old", "new"] if round_index % 2 == 0 else ["new", "old"]
        for cell in options.cells:
            for size in options.sizes:
                for name in order:
                    result = run_one(trees[name], cell, size, options.mode, options.reps, options.given)
                    results.setdefault((cell, size), {"old": [], "new": []})[name].append(result)
        print(f"round {round_index + 1}/{options.rounds} done", file=sys.stderr, flush=True)
    print(f"{options.mode}, {options.rounds} rounds x {options.reps} calls, "
          f"{'given' if options.given else 'native'} OpenBLAS kernels; new/old ratio of medians per round")
    for (cell, size), sides in results.items():
        ratios = [new["median"] / old["median"] for old, new in zip(sides["old"], sides["new"])]
        slowest = {name: "/".join(f"{1e3 * r['max']:.0f}" for r in runs) for name, runs in sides.items()}
        print(f"{cell:4s} {size:2s}  median {statistics.median(ratios):.2f}  rounds "
              f"{' '.join(f'{r:.2f}' for r in ratios)}  | slowest call, ms: old {slowest['old']}, new {slowest['new']}")


if __name__ == "__main__":
    main()
