"""rnnkit against PyTorch on a CPU: training step, inference, matrix-product floor, memory, generation.

Run from the repository root::

    python -m benchmarks.rnn            # full suite (about 8 minutes on 2 cores; 11 with --rounds 3)
    python -m benchmarks.rnn --quick    # sizes S and M, one round, memory at M only (under a minute)

Method (see BENCHMARKS.md for the results):

* every measurement runs in a child process that imports ONE library (rnnkit, the NumPy
  floor, or PyTorch): two libraries in one process slow each other through their busy-waiting
  thread pools;
* the children run interleaved, round by round, with rnnkit and PyTorch alternating first;
  results are medians with min-max over all timed calls of all rounds;
* everything runs twice: with the environment as given and with ``OPENBLAS_CORETYPE`` and
  ``OPENBLAS_L2_SIZE`` removed (OpenBLAS then picks its native kernels, e.g. AVX-512); the
  BLAS kernel each child reports is recorded;
* ``torch.set_num_threads(os.cpu_count())``; float32; one layer (M2-2bi: two, bidirectional);
  loss = sum of all outputs;
* every row's achieved GFLOP/s (the products it must do, :func:`benchmarks.workloads.flops`)
  beside the peak one large float32 product reaches with the same BLAS in the same run;
* end to end: ``rnnkit train lm``'s default model (embedding 32, LSTM 256, linear head, cross
  entropy, clipping, Adam; B = 32, T = 64) against the same model in PyTorch, characters per second.

Writes ``benchmarks/results.json`` (everything, machine-readable) and ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.workloads import CELLS, GENERATION, LM, SIZES, STACKS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def child_env(setting: str, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    if setting == "native":
        for name in OPENBLAS_VARIABLES:
            env.pop(name, None)
    env.update(extra or {})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    return env


def run_child(tasks: list[dict], setting: str, options: dict, extra_env: dict | None = None) -> dict:
    spec = json.dumps({"tasks": tasks, **options})
    completed = subprocess.run([sys.executable, "-m", "benchmarks.worker", spec], cwd=ROOT, env=child_env(setting, extra_env),
                               capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({setting}):\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next(line for line in cpuinfo if line.startswith("flags")).split()
        return "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "no AVX2")
    except (OSError, StopIteration):
        return "?"


def summarize(samples: list[float]) -> dict:
    return {"median": float(np.median(samples)), "min": float(min(samples)), "max": float(max(samples)),
            "n": len(samples)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes S and M; one round; fewer repetitions; memory at M only")
    parser.add_argument("--sizes", nargs="*", choices=list(SIZES), help="sizes to run (default: all, or S M M2 with --quick)")
    parser.add_argument("--cells", nargs="*", choices=list(CELLS), default=list(CELLS))
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 2, 1 with --quick)")
    parser.add_argument("--settings", nargs="*", choices=["given", "native"], default=["given", "native"])
    parser.add_argument("--json", default=os.path.join(ROOT, "benchmarks", "results.json"))
    parser.add_argument("--markdown", default=os.path.join(ROOT, "BENCHMARKS.md"))
    args = parser.parse_args(argv)

    sizes = args.sizes or (["S", "M"] if args.quick else list(SIZES))
    rounds = args.rounds or (1 if args.quick else 2)
    # Full runs: at least 4 timed calls per workload and round, so that one slow call (this
    # kind of machine has bursts of +-30%) cannot move a median built from few samples.
    options = ({"min_reps": 2, "max_reps": 10, "min_time": 0.3} if args.quick
               else {"min_reps": 4, "max_reps": 10, "min_time": 0.8})
    started = time.time()
    results: dict = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": cpu_name(),
                     "simd": cpu_flags(), "cores": os.cpu_count(), "python": platform.python_version(),
                     "quick": args.quick, "rounds": rounds, "sizes": {name: SIZES[name] for name in sizes},
                     "generation": GENERATION, "lm": LM, "options": options, "settings": {}}

    def time_tasks(lib: str) -> list[dict]:
        tasks = [{"kind": "time", "lib": lib, "workload": workload, "cell": cell, "size": size}
                 for size in sizes for cell in args.cells for workload in ("train", "infer")
                 if not (lib == "floor" and size in STACKS)]                 # the floor is one layer
        if lib != "floor":
            tasks += [{"kind": "time", "lib": lib, "workload": "generate"}, {"kind": "time", "lib": lib, "workload": "lm"}]
        else:
            tasks.append({"kind": "time", "lib": lib, "workload": "peak"})      # the BLAS peak, in every round
        return tasks

    for setting in args.settings:
        samples: dict[tuple, list[float]] = {}
        infos: dict[str, dict] = {}
        for round_index in range(rounds):
            order = ["rnnkit", "torch", "floor"] if round_index % 2 == 0 else ["torch", "rnnkit", "floor"]
            for lib in order:
                print(f"[{time.time() - started:6.0f}s] {setting}: round {round_index + 1}/{rounds}: {lib}", flush=True)
                output = run_child(time_tasks(lib), setting, options)
                infos[lib] = output["info"]
                for result in output["results"]:
                    key = (lib, result["workload"], result.get("cell"), result.get("size"))
                    samples.setdefault(key, []).extend(result["samples"])
        memory = {}
        for size in (["M"] if args.quick else sizes):
            for cell in args.cells:
                for lib in ("rnnkit", "torch"):
                    task = {"kind": "memory", "lib": lib, "workload": "train", "cell": cell, "size": size}
                    memory[f"{lib}/{cell}/{size}"] = run_child([task], setting, options)["results"][0]["peak_bytes"]
        print(f"[{time.time() - started:6.0f}s] {setting}: memory done", flush=True)
        results["settings"][setting] = {
            "info": infos,
            "timings": {"/".join(str(part) for part in key if part is not None): summarize(values)
                        for key, values in samples.items()},
            "memory_bytes": memory,
        }

    startup = {}
    with tempfile.TemporaryDirectory() as cache_dir:        # an empty Numba cache: cold compile, then warm
        for label in ("cold (compiling)", "warm (cached)"):
            task = {"kind": "startup", "lib": "rnnkit"}
            startup[label] = run_child([task], args.settings[0], options, {"NUMBA_CACHE_DIR": cache_dir})["results"][0]
    results["startup"] = startup
    results["elapsed_s"] = time.time() - started

    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as handle:
        json.dump(results, handle, indent=1)
    from benchmarks.report import write_markdown
    write_markdown(results, args.markdown)
    print(f"done in {results['elapsed_s']:.0f}s: {args.json}, {args.markdown}")


if __name__ == "__main__":
    main()
