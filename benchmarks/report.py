"""BENCHMARKS.md from the results of :mod:`benchmarks.rnn`."""

from __future__ import annotations

TARGETS = {  # (cell, workload): {size: max rnnkit/PyTorch}
    ("RNN", "train"): 0.5, ("RNN", "infer"): 0.5, ("GRU", "train"): 0.5, ("GRU", "infer"): 0.5,
    ("LSTM", "infer"): 1.0,
}


def lstm_train_target(size: str) -> float | None:
    return {"S": 0.5, "M": 1.0, "M2": 1.0, "L": 1.0, "XL": 1.0, "M2-2bi": 0.8}.get(size)


def _gflops(entry: dict | None, cell: str, size: str, workload: str, peak: float | None) -> str:
    """Achieved GFLOP/s of a row and its fraction of the measured peak (target >= 75% at L and XL)."""
    from benchmarks.workloads import flops

    if entry is None:
        return "-"
    rate = flops(cell, size, workload) / entry["median"] / 1e9
    if not peak:
        return f"{rate:.0f}"
    share = rate / peak
    mark = (" ✓" if share >= 0.75 else " ✗") if size in ("L", "XL") else ""
    return f"{rate:.0f} ({share:.0%}{mark})"


def _ms(entry: dict | None) -> str:
    if entry is None:
        return "-"
    return f"{entry['median'] * 1e3:.3g} ({entry['min'] * 1e3:.3g}-{entry['max'] * 1e3:.3g})"


def _ratio(a: dict | None, b: dict | None) -> float | None:
    if a is None or b is None:
        return None
    return a["median"] / b["median"]


def _mark(value: float | None, target: float | None) -> str:
    if value is None:
        return "-"
    text = f"{value:.2f}"
    if target is None:
        return text
    return text + (" ✓" if value <= target else " ✗")


def setting_section(name: str, data: dict, sizes: list[str], cells: list[str]) -> list[str]:
    timings, memory, info = data["timings"], data["memory_bytes"], data["info"]
    rnnkit_info, torch_info = info.get("rnnkit", {}), info.get("torch", {})
    env = rnnkit_info.get("env", {})
    lines = [f"### Environment {name}: OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE')}, "
             f"OPENBLAS_L2_SIZE={env.get('OPENBLAS_L2_SIZE')}; OpenBLAS kernel in use: "
             f"**{rnnkit_info.get('blas_kernel', '?')}**", ""]
    peak_entry = timings.get("floor/peak")
    peak = 2.0 * 2048 ** 3 / peak_entry["median"] / 1e9 if peak_entry else None
    if peak:
        lines += [f"Peak: one 2048 x 2048 x 2048 float32 product through the same BLAS, {peak:.0f} GFLOP/s "
                  f"(median of every round); GFLOP/s columns count the products a step must do.", ""]
    for workload, title in (("train", "Training step (forward, loss, backward with dx)"), ("infer", "Inference forward")):
        lines += [f"#### {title}: milliseconds, median (min-max)", "",
                  "| cell | size | rnnkit | PyTorch | rnnkit/PyTorch | floor | rnnkit/floor | rnnkit GFLOP/s (of peak) "
                  "| PyTorch GFLOP/s (of peak) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for cell in cells:
            for size in sizes:
                ours = timings.get(f"rnnkit/{workload}/{cell}/{size}")
                theirs = timings.get(f"torch/{workload}/{cell}/{size}")
                floor = timings.get(f"floor/{workload}/{cell}/{size}")
                target = lstm_train_target(size) if (cell, workload) == ("LSTM", "train") else TARGETS.get((cell, workload))
                floor_target = 1.15 if size in ("L", "XL") else None
                lines.append(f"| {cell} | {size} | {_ms(ours)} | {_ms(theirs)} | {_mark(_ratio(ours, theirs), target)} | "
                             f"{_ms(floor)} | {_mark(_ratio(ours, floor), floor_target)} | "
                             f"{_gflops(ours, cell, size, workload, peak)} | {_gflops(theirs, cell, size, workload, peak)} |")
        lines.append("")
    lines += ["#### Peak memory of one training step (resident-set growth, MiB)", "",
              "| cell | size | rnnkit | PyTorch | rnnkit/PyTorch |", "|---|---|---|---|---|"]
    for cell in cells:
        for size in sizes:
            ours, theirs = memory.get(f"rnnkit/{cell}/{size}"), memory.get(f"torch/{cell}/{size}")
            if ours is None or theirs is None:
                continue
            ratio = ours / theirs if theirs else float("inf")
            lines.append(f"| {cell} | {size} | {ours / 2**20:.1f} | {theirs / 2**20:.1f} | {_mark(ratio, 1.0)} |")
    ours, theirs = timings.get("rnnkit/generate"), timings.get("torch/generate")
    lines += ["", "#### Generation: 1,000 single steps of a 2-layer LSTM, H = 256, B = 1 (milliseconds)", "",
              "| rnnkit (LSTMCell) | PyTorch (nn.LSTM per token) | speed-up |", "|---|---|---|"]
    if ours and theirs:
        speedup = theirs["median"] / ours["median"]
        lines.append(f"| {_ms(ours)} | {_ms(theirs)} | {speedup:.1f}x {'✓' if speedup >= 5 else '✗'} |")
    ours, theirs = timings.get("rnnkit/lm"), timings.get("torch/lm")
    if ours and theirs:
        from benchmarks.workloads import LM

        characters = LM["batch"] * LM["steps"]
        speedup = theirs["median"] / ours["median"]
        lines += ["", "#### End to end: `rnnkit train lm`'s default model, one training step (characters per second)", "",
                  "Embedding 32, LSTM 256, linear head over 104 characters, cross entropy, clipping at 1, Adam; "
                  "B = 32 windows of T = 64.", "",
                  "| rnnkit ms | PyTorch ms | rnnkit chars/s | PyTorch chars/s | rnnkit/PyTorch speed |",
                  "|---|---|---|---|---|",
                  f"| {_ms(ours)} | {_ms(theirs)} | {characters / ours['median']:,.0f} | "
                  f"{characters / theirs['median']:,.0f} | {speedup:.2f}x {'✓' if speedup >= 1.5 else '✗'} |"]
    lines += ["", f"PyTorch {torch_info.get('torch')} with {torch_info.get('torch_threads')} threads "
              f"(oneDNN {'available' if torch_info.get('torch_mkldnn') else 'absent'}); NumPy {rnnkit_info.get('numpy')}, "
              f"Numba {rnnkit_info.get('numba')}, compiled loops {'on' if rnnkit_info.get('compiled') else 'OFF'}.", ""]
    return lines


def write_markdown(results: dict, path: str) -> None:
    sizes = list(results["sizes"])
    cells = sorted({key.split("/")[2] for data in results["settings"].values() for key in data["timings"]
                    if key.count("/") == 3}, key=["RNN", "LSTM", "GRU"].index)
    lines = ["# Benchmarks: rnnkit against PyTorch on a CPU", "",
             "Generated by `python -m benchmarks.rnn" + (" --quick" if results["quick"] else "") + "` "
             "(do not edit by hand; raw numbers in `benchmarks/results.json`).", "",
             f"* date: {results['date']}; CPU: {results['cpu']} ({results['simd']}), {results['cores']} cores; "
             f"Python {results['python']}",
             "* float32, one layer (M2-2bi: two, bidirectional); sizes (B, T, D, H): " + ", ".join(f"{name} {tuple(shape)}" for name, shape in results["sizes"].items()),
             f"* {results['rounds']} interleaved round(s), each library in its own process; medians (min-max) over all "
             "timed calls; ratio = median / median",
             "* floor: only the matrix products a step must do (NumPy BLAS calls, preallocated outputs)",
             "* ✓ / ✗: the speed targets (rnnkit/PyTorch: GRU and RNN <= 0.5; LSTM inference <= 1.0; LSTM "
             "training <= 0.5 at S, <= 1.0 at M, M2, L, XL, <= 0.8 for the 2-layer bidirectional M2-2bi; rnnkit/floor "
             "<= 1.15 at L and XL; >= 75% of the measured peak at L and XL; memory <= PyTorch; generation >= 5x; "
             "end to end >= 1.5x PyTorch's characters per second)", ""]
    for name, data in results["settings"].items():
        lines += setting_section(name, data, sizes, cells)
    lines += ["### Start-up of the compiled loops (fresh process, first tiny training step of each cell)", "",
              "| Numba cache | import rnnkit (s) | RNN (s) | LSTM (s) | GRU (s) |", "|---|---|---|---|---|"]
    for label, entry in results.get("startup", {}).items():
        first = entry["first_step_s"]
        lines.append(f"| {label} | {entry['import_s']:.2f} | {first['RNN']:.2f} | {first['LSTM']:.2f} | {first['GRU']:.2f} |")
    lines += ["", f"Total benchmark time: {results['elapsed_s']:.0f} s.", ""]
    with open(path, "w") as handle:
        handle.write("\n".join(lines))
