"""One benchmark process: runs a list of tasks of ONE library and prints the results as JSON.

Started by :mod:`benchmarks.rnn`, never by hand: ``python -m benchmarks.worker SPEC_JSON``.
PyTorch and NumPy in one process slow each other down (both thread pools busy-wait), so a
process only ever imports the library it times.

Task kinds:
* ``time``: build the workload, one untimed warm-up call, then timed calls until both
  ``min_reps`` calls and ``min_time`` seconds are reached (at most ``max_reps``);
* ``memory``: a warm-up on a tiny input, then the resident-set growth of ONE training step,
  ``peak RSS - RSS before`` (run in a fresh process each, so earlier peaks do not hide it);
* ``startup``: time of the first tiny training step of each cell in a fresh process (rnnkit:
  loading, or with an empty cache compiling, the Numba loops).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

from benchmarks import workloads


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _make(task: dict):
    lib, workload = task["lib"], task["workload"]
    if workload == "generate":
        return workloads.make_rnnkit_generation() if lib == "rnnkit" else workloads.make_torch_generation()
    if workload == "lm":
        return workloads.make_rnnkit_lm() if lib == "rnnkit" else workloads.make_torch_lm()
    if workload == "peak":
        return workloads.make_peak()
    maker = {"rnnkit": workloads.make_rnnkit, "floor": workloads.make_floor, "torch": workloads.make_torch}[lib]
    return maker(task["cell"], task["size"], workload)


def run_time(task: dict, spec: dict) -> dict:
    function = _make(task)
    function()                                              # warm-up: first-call costs are not timed
    samples = []
    started = time.perf_counter()
    while len(samples) < spec["max_reps"] and (len(samples) < spec["min_reps"]
                                               or time.perf_counter() - started < spec["min_time"]):
        begin = time.perf_counter()
        function()
        samples.append(time.perf_counter() - begin)
    return {**task, "samples": samples}


def run_memory(task: dict) -> dict:
    tiny = dict(task, size="tiny")
    _make(tiny)()                                           # libraries initialised, loops loaded
    function = _make(task)
    before = _resident_bytes()
    function()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024      # KiB on Linux
    return {**task, "peak_bytes": max(peak - before, 0)}


def run_startup(task: dict) -> dict:
    import numpy as np

    started = time.perf_counter()
    import rnnkit
    from rnnkit import compiled
    imported = time.perf_counter() - started
    firsts = {}
    for cell in workloads.CELLS:
        layer = getattr(rnnkit, cell)(3, 4, dtype=np.float32, seed=0)
        begin = time.perf_counter()
        y, _ = layer(np.ones((2, 3, 3), dtype=np.float32))
        layer.backward(np.ones_like(y))
        firsts[cell] = time.perf_counter() - begin
    return {**task, "import_s": imported, "first_step_s": firsts, "compiled": compiled.enabled()}


def describe(libs: set[str]) -> dict:
    """Versions, threads and BLAS kernels of the libraries this process imported."""
    info = {"pid": os.getpid(), "env": {name: os.environ.get(name) for name in
                                        ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "RNNKIT_COMPILE")}}
    if libs & {"rnnkit", "floor"}:
        import numpy as np

        import rnnkit
        from rnnkit import compiled
        from rnnkit.compiled import blas

        info.update(numpy=np.__version__, rnnkit=getattr(rnnkit, "__version__", "?"),
                    compiled=compiled.enabled(), blas_kernel=blas.kernel_name())
        try:
            import numba
            info["numba"] = numba.__version__
        except ImportError:
            info["numba"] = None
    if "torch" in libs:
        import torch

        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                    torch_mkldnn=torch.backends.mkldnn.is_available())
    return info


def main() -> None:
    spec = json.loads(sys.argv[1])
    libs = {task["lib"] for task in spec["tasks"]}
    if "torch" in libs:
        import torch
        torch.set_num_threads(os.cpu_count() or 1)
    results = []
    for task in spec["tasks"]:
        if task["kind"] == "time":
            results.append(run_time(task, spec))
        elif task["kind"] == "memory":
            results.append(run_memory(task))
        else:
            results.append(run_startup(task))
    print(json.dumps({"info": describe(libs), "results": results}))


if __name__ == "__main__":
    main()
