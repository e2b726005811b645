"""Which regularisers should ``rnnkit train lm`` use by default? Measured on several corpora.

Run from the repository root::

    python -m benchmarks.lm_defaults                          # every word corpus, every configuration
    python -m benchmarks.lm_defaults --corpora shakespeare-wikitext --configs defaults,dropout
    python -m benchmarks.lm_defaults --corpora shakespeare-chars,names-chars --configs defaults,dropout
    python -m benchmarks.lm_defaults --corpora shakespeare-wikitext --configs defaults,weight-drop --max-minutes 10
    python -m benchmarks.lm_defaults --quick                  # tiny slices, tiny model, seconds: the plumbing
    python -m benchmarks.lm_defaults --markdown-only          # rewrite the RESULTS.md section from the JSON

Each run is ``rnnkit train lm`` as a user types it (through :func:`benchmarks.tasks.run_cli`),
with the default time budget (``--max-minutes`` unset: 3 minutes) unless ``--max-minutes`` is
given here, followed by ``rnnkit evaluate RUN --data TEST`` on held-out text. A configuration
adds only its regulariser options to the defaults.

Corpora (written into ``--workdir``, never into the repository; DATA = ``../shared/data`` or
``RNNKIT_DATA``):

- ``shakespeare-words``: DATA/text/tinyshakespeare.txt as it is, ``--level word --tokenizer words``.
- ``shakespeare-wikitext``: the same play text tokenised in the manner of WikiText: words,
  numbers and each punctuation mark separated by single spaces, a hyphen between two letters
  or digits written `` @-@ ``, a clitic after an apostrophe split off (``don't`` -> ``don 't``),
  case kept, one line per line of the play; then every token seen fewer than 3 times in the
  training part replaced by ``<unk>`` in all three parts, so the test text has no token the
  training text lacks. ``--level word`` (the tokenizer's ``auto`` reads it as pre-tokenised).
- ``pydoc-words``: the Python documentation topics of the standard library
  (``pydoc_data.topics``, the LM's own default data), ``--level word``.
- ``shakespeare-chars``, ``names-chars`` (DATA/text/makemore_names.txt), ``pydoc-chars``:
  character level, the default ``--level char``.

Splits: the lines of a corpus are cut into 10 contiguous blocks of about equal size; within
each block the first 80% of the characters (at a line end) go to training, the next 10% to
validation and the last 10% to test. The training file holds every block's training lines and
then every block's validation lines, and ``--val-fraction 0.1111`` makes the run validate on
(about) that last ninth; the test lines are a separate file, scored only by ``rnnkit evaluate``.
Blocks, rather than one cut at 80% and 90%, keep a sorted corpus (names by popularity, topics by
name) from testing on a kind of text the model never saw.

Results accumulate in ``benchmarks/lm_defaults_results.json`` (corpus -> configuration -> run;
the latest run wins) and the section ``lm-defaults`` of RESULTS.md is rewritten from all of them
after each run (:func:`benchmarks.tasks.write_section`). The pick: a configuration replaces the
defaults only if its test perplexity, as a geometric mean of its ratio to the defaults' over
every word corpus (mean log ratio), is at least 1% lower; one corpus alone never decides.
Runs use whatever cores the process may use; pin them (``taskset``, ``OPENBLAS_NUM_THREADS``) to
measure on a fixed share of the machine, and the section records how many there were.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.tasks import ROOT, Skip, data_dir, evaluate, run_cli, summary_of, write_section
from rnnkit.train.language_modeling import LMOptions

SECTION = "lm-defaults"
BLOCKS = 10                                     # contiguous blocks, each split 80 / 10 / 10
TRAIN_SHARE, VAL_SHARE = 0.8, 0.1
VAL_FRACTION = "0.1111"                         # the validation ninth of the training file (--val-fraction)
RARE_COUNT = 3                                  # shakespeare-wikitext: tokens seen fewer times become <unk>
DEFAULT_MINUTES = LMOptions().max_minutes       # rnnkit train lm's --max-minutes when unset
PICK_MARGIN = 0.01                              # a winner's geometric-mean perplexity is >= 1% below the defaults'

# name -> (the source, the level, options the corpus needs beside --data)
CORPORA: dict[str, tuple[str, str, list[str]]] = {
    "shakespeare-words": ("shakespeare", "word", ["--level", "word", "--tokenizer", "words"]),
    "shakespeare-wikitext": ("shakespeare-wikitext", "word", ["--level", "word"]),
    "pydoc-words": ("pydoc", "word", ["--level", "word"]),
    "shakespeare-chars": ("shakespeare", "char", []),
    "names-chars": ("names", "char", []),
    "pydoc-chars": ("pydoc", "char", []),
}
WORD_CORPORA = tuple(name for name, (_, level, _) in CORPORA.items() if level == "word")

# name -> options added to the defaults. With the default --layers 1 there is no position between
# recurrent layers, so --locked-dropout acts only from --layers 2; --locked-input-dropout acts on
# the embedding fed to the one layer, and --dropout on the layer's output before the softmax.
CONFIGS: dict[str, list[str]] = {
    "defaults": [],
    "dropout": ["--dropout", "0.2"],
    "locked-dropout": ["--locked-dropout", "0.3", "--locked-input-dropout", "0.1"],
    "weight-drop": ["--weight-drop", "0.3"],
    "zoneout": ["--zoneout", "0.1"],
    "embedding-dropout": ["--embedding-dropout", "0.1"],
    "tied": ["--tie-embeddings"],
    "awd": ["--locked-input-dropout", "0.1", "--weight-drop", "0.3", "--embedding-dropout", "0.1", "--dropout", "0.2"],
}
# --quick: a tiny model for a few seconds on a slice of each corpus.
QUICK_OPTIONS = ["--hidden", "8", "--batch", "4", "--seq-len", "8", "--epochs", "1", "--sample-length", "5",
                 "--checkpoint-every", "0"]
QUICK_CHARACTERS = 6000
QUICK_MINUTES = "0.02"


# --- the corpora ----------------------------------------------------------------------------------------
def source_lines(source: str, folder: Path) -> list[str]:
    """The lines of a source text, each with its line end."""
    if source == "pydoc":
        import pydoc_data.topics

        text = "".join(pydoc_data.topics.topics.values())         # as rnnkit train lm reads its default data
    else:
        path = folder / "text" / ("makemore_names.txt" if source == "names" else "tinyshakespeare.txt")
        if not path.exists():
            raise Skip(f"{path} is absent (set RNNKIT_DATA to the shared data folder)")
        text = path.read_text(encoding="utf-8")
    return text.splitlines(keepends=True)


def split_blocks(lines: list[str]) -> tuple[list[str], list[str], list[str]]:
    """``(train, validation, test)`` lines: :data:`BLOCKS` contiguous blocks, each cut 80 / 10 / 10 at line ends."""
    total = sum(len(line) for line in lines)
    train: list[str] = []
    val: list[str] = []
    test: list[str] = []
    start = 0
    for block in range(BLOCKS):
        end, size = start, 0
        while end < len(lines) and (block == BLOCKS - 1 or size < total / BLOCKS):
            size += len(lines[end])
            end += 1
        seen = 0
        for line in lines[start:end]:
            part = train if seen < TRAIN_SHARE * size else val if seen < (TRAIN_SHARE + VAL_SHARE) * size else test
            part.append(line)
            seen += len(line)
        start = end
    return train, val, test


_WIKITEXT_TOKEN = re.compile(r"(?P<hyphen>(?<=[A-Za-z0-9])-(?=[A-Za-z0-9]))|[A-Za-z0-9]+|'[A-Za-z]+|\S")


def wikitext_tokens(line: str) -> list[str]:
    """The tokens of one line in the manner of WikiText (see the module docstring).

    >>> wikitext_tokens("Well-met, good Kate: don't!")
    ['Well', '@-@', 'met', ',', 'good', 'Kate', ':', 'don', "'t", '!']
    """
    return ["@-@" if match.group("hyphen") else match.group(0) for match in _WIKITEXT_TOKEN.finditer(line)]


def wikitext_parts(parts: tuple[list[str], ...]) -> tuple[list[str], ...]:
    """The (train, validation, test) lines tokenised, rare training tokens replaced by ``<unk>`` everywhere."""
    tokenised = [[wikitext_tokens(line) for line in part] for part in parts]
    counts = Counter(token for line in tokenised[0] for token in line)
    kept = {token for token, count in counts.items() if count >= RARE_COUNT}
    return tuple([" ".join(token if token in kept else "<unk>" for token in line) + "\n" for line in part]
                 for part in tokenised)


def write_corpus(name: str, folder: Path, scratch: Path, quick: bool) -> tuple[Path, Path]:
    """The training file (training then validation lines) and the test file of corpus ``name``."""
    source = CORPORA[name][0]
    lines = source_lines("shakespeare" if source == "shakespeare-wikitext" else source, folder)
    if quick:                                   # a slice from each end, so both splits see the corpus's kinds
        half, kept, size = QUICK_CHARACTERS // 2, [], 0
        for line in lines:
            if size >= half:
                break
            kept.append(line)
            size += len(line)
        lines = kept + lines[-len(kept):]
    parts = split_blocks(lines)
    if source == "shakespeare-wikitext":
        parts = wikitext_parts(parts)
    train, val, test = parts
    suffix = "-quick" if quick else ""
    train_path, test_path = scratch / f"{name}{suffix}.train.txt", scratch / f"{name}{suffix}.test.txt"
    train_path.write_text("".join(train + val), encoding="utf-8")
    test_path.write_text("".join(test), encoding="utf-8")
    return train_path, test_path


# --- one run ----------------------------------------------------------------------------------------------
def run_one(corpus: str, config: str, folder: Path, workdir: Path, quick: bool, minutes: str | None) -> dict[str, Any]:
    """Train corpus x config through the command line, evaluate on the test file; the entry for the JSON."""
    scratch = workdir / "corpora"
    scratch.mkdir(parents=True, exist_ok=True)
    train_path, test_path = write_corpus(corpus, folder, scratch, quick)
    label = run_label(config, minutes) + ("-quick" if quick else "")
    run = workdir / f"{corpus}-{label.replace(' ', '')}"
    log = workdir / f"{corpus}-{label.replace(' ', '')}.log"
    log.write_text("", encoding="utf-8")
    arguments = ["train", "lm", "--data", str(train_path), *CORPORA[corpus][2], "--val-fraction", VAL_FRACTION,
                 *CONFIGS[config], "--out", str(run), "--force"]
    if quick:
        arguments += [*QUICK_OPTIONS, "--max-minutes", minutes or QUICK_MINUTES]
    elif minutes is not None:
        arguments += ["--max-minutes", minutes]
    started = time.perf_counter()
    run_cli(arguments, log)
    trained = time.perf_counter() - started
    summary = summary_of(run)
    test = evaluate(run, str(test_path))
    seconds = time.perf_counter() - started
    reading = [line.strip() for line in log.read_text(encoding="utf-8").splitlines() if line.startswith("words:")]
    names = {str(train_path): f"{corpus}.train.txt", str(run): "RUN"}
    return {
        "corpus": corpus, "config": config, "level": CORPORA[corpus][1], "options": CONFIGS[config],
        "max_minutes": float(minutes) if minutes is not None else None,
        "val_perplexity": summary["best"].get("perplexity"), "test_perplexity": test["perplexity"],
        "test_unigram_perplexity": test.get("unigram_perplexity"),
        "test_kn_bigram_perplexity": test.get("kn_bigram_perplexity"),
        "test_tokens": test.get("tokens"), "test_unk_rate": test.get("unk_rate"),
        "steps": summary.get("steps"), "tokens": summary.get("tokens"), "epochs": summary.get("epochs"),
        "training_s": summary.get("elapsed_s"), "stop_reason": summary.get("stop_reason"),
        "parameters": summary.get("parameters"), "train_command_s": round(trained, 1), "seconds": round(seconds, 1),
        "reading": reading[0] if reading else None, "quick": quick,
        "commands": [show(arguments, names), f"rnnkit evaluate RUN --data {corpus}.test.txt"],
        "machine": machine(), "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def show(arguments: list[str], names: dict[str, str]) -> str:
    return "rnnkit " + " ".join(names.get(argument, argument) for argument in arguments)


def run_label(config: str, minutes: str | None) -> str:
    """The results key of a configuration: its name, and the budget when it is not the default."""
    return config if minutes is None else f"{config} ({float(minutes):g} min)"


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "unset"
    return (f"{platform.processor() or platform.machine()}, {cores} of {os.cpu_count()} cores usable by the run, "
            f"BLAS threads {threads}, Python {platform.python_version()}")


# --- the pick and the Markdown ------------------------------------------------------------------------------
def log_ratios(results: dict[str, Any], corpora: tuple[str, ...], config: str) -> dict[str, float]:
    """ln(test perplexity of ``config`` / that of the defaults) on every corpus where both ran."""
    ratios = {}
    for corpus in corpora:
        runs = results.get(corpus, {})
        if config in runs and "defaults" in runs:
            ratios[corpus] = math.log(runs[config]["test_perplexity"] / runs["defaults"]["test_perplexity"])
    return ratios


def pick(results: dict[str, Any], corpora: tuple[str, ...]) -> tuple[str, dict[str, float]]:
    """The winning configuration over ``corpora`` (``"defaults"`` unless one is :data:`PICK_MARGIN` better in
    geometric mean over every one of them), and each configuration's geometric-mean ratio to the defaults."""
    present = [corpus for corpus in corpora if "defaults" in results.get(corpus, {})]
    means = {}
    for config in CONFIGS:
        ratios = log_ratios(results, tuple(present), config)
        if present and len(ratios) == len(present):
            means[config] = math.exp(sum(ratios.values()) / len(ratios))
    best = min(means, key=means.get, default="defaults")
    return (best if means.get(best, 1.0) < 1.0 - PICK_MARGIN else "defaults"), means


def shown_perplexity(value: float) -> str:
    """One decimal for word-level perplexities, two below 10 (character level), where 0.05 is a real difference."""
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def level_summary(results: dict[str, Any], level: str, corpora: tuple[str, ...], winner: str,
                  means: dict[str, float]) -> list[str]:
    """The pick at one level and how the defaults fare against the Kneser-Ney bigram, as sentences."""
    name = "Word level" if level == "word" else "Character level"
    flag = "`--level word`" if level == "word" else "character-level (`--level char`)"
    others = {config: ratio for config, ratio in means.items() if config != "defaults"}
    best = min(others, key=others.get) if others else "defaults"
    if winner == "defaults":
        first = (f"{name}: no configuration beats the defaults by that margin within the default budget "
                 f"(closest: {best}, ratio {means.get(best, 1.0):.3f}); the {flag} defaults stay as they are.")
    else:
        first = f"{name}: **{winner}** wins (ratio {means[winner]:.3f}) and becomes the {flag} default."
    measured = [corpus for corpus in corpora if "defaults" in results.get(corpus, {})]
    beaten = [corpus for corpus in measured
              if results[corpus]["defaults"]["test_perplexity"] < results[corpus]["defaults"]["test_kn_bigram_perplexity"]]
    short = [corpus for corpus in measured if results[corpus]["defaults"]["training_s"] < 0.9 * 60 * DEFAULT_MINUTES]
    ended = ([f"On {', '.join(short)} the defaults end before the time budget (the default epoch count or "
              f"early stopping ends them)."]
             if short else [])
    return [first, *ended, f"The defaults beat the Kneser-Ney bigram on {len(beaten)} of {len(measured)} {level} corpora "
                   f"({', '.join(beaten) or 'none'})."]


def table(results: dict[str, Any], corpora: tuple[str, ...], configs: list[str]) -> tuple[list[str], str, dict]:
    corpora = tuple(corpus for corpus in corpora if results.get(corpus))
    if not corpora:
        return [], "defaults", {}
    winner, means = pick(results, corpora)
    lines = ["| configuration | options | " + " | ".join(corpora) + " | ratio to defaults |",
             "|---|---|" + "---|" * (len(corpora) + 1)]
    for config in configs:
        if not any(config in results[corpus] for corpus in corpora):
            continue
        cells = []
        for corpus in corpora:
            entry = results[corpus].get(config)
            cells.append("not run" if entry is None else f"{shown_perplexity(entry['test_perplexity'])} "
                         f"(val {shown_perplexity(entry['val_perplexity'])}, {entry['steps']} steps)")
        ratio = f"{means[config]:.3f}" if config in means else "incomplete"
        shown_options = " ".join(CONFIGS.get(config.split(" (")[0], [])) or "-"
        lines.append(f"| {'**' + config + '**' if config == winner else config} | `{shown_options}` | "
                     + " | ".join(cells) + f" | {ratio} |")
    for name, key in (("Kneser-Ney bigram", "test_kn_bigram_perplexity"), ("unigram", "test_unigram_perplexity")):
        cells = []
        for corpus in corpora:
            entry = results[corpus].get("defaults") or next(iter(results[corpus].values()))
            cells.append(shown_perplexity(entry[key]) if entry.get(key) is not None else "-")
        lines.append(f"| {name} (counts, same tokens) | - | " + " | ".join(cells) + " | |")
    return lines, winner, means


def markdown(results: dict[str, Any]) -> str:
    default_budget = [config for config in CONFIGS]
    word_lines, word_winner, word_means = table(results, WORD_CORPORA, default_budget)
    char_corpora = tuple(name for name in CORPORA if name not in WORD_CORPORA)
    char_lines, char_winner, char_means = table(results, char_corpora, default_budget)
    entries = [entry for runs in results.values() for entry in runs.values()]
    lines = ["## Language-model defaults: regularisers on and off (`python -m benchmarks.lm_defaults`)", "",
             "Test perplexity of `rnnkit train lm` with its defaults and with one regulariser (or one combination) "
             "added, each run within the default time budget (`--max-minutes` 3), then `rnnkit evaluate RUN --data "
             "TEST` on held-out text. Each corpus is cut into 10 contiguous blocks, 80 / 10 / 10 within each block "
             "(train / validation / test); the corpora are built by `benchmarks/lm_defaults.py` from "
             "`../shared/data` and the standard library (see its docstring). Cells: test perplexity (validation "
             "perplexity of the best checkpoint, optimiser steps in the budget). The count baselines are fitted on "
             "the same training tokens and score the same test tokens. One seed (0) per cell.", ""]
    if word_lines:
        lines += ["### Word level (the `--level word` defaults)", "", *word_lines, ""]
    if char_lines:
        lines += ["### Character level", "", *char_lines, ""]
    longer = {corpus: {config: entry for config, entry in runs.items() if entry.get("max_minutes") is not None}
              for corpus, runs in results.items()}
    longer = {corpus: runs for corpus, runs in longer.items() if runs}
    if longer:
        lines += ["### Longer budgets", "", "| corpus | configuration | budget | test perplexity | validation | steps |",
                  "|---|---|---|---|---|---|"]
        for corpus, runs in longer.items():
            for config, entry in runs.items():
                lines.append(f"| {corpus} | {config} | {entry['max_minutes']:g} min | "
                             f"{shown_perplexity(entry['test_perplexity'])} | {shown_perplexity(entry['val_perplexity'])} "
                             f"| {entry['steps']} |")
        lines.append("")
    rule = (f"The rule: a configuration replaces the defaults only if the geometric mean, over every corpus of the "
            f"level, of its test perplexity divided by the defaults' (the last column; the exponential of the mean "
            f"log ratio) is below {1 - PICK_MARGIN:.2f}, that is at least {PICK_MARGIN:.0%} better; no single corpus "
            f"decides.")
    lines += [rule, ""]
    if word_lines:
        lines += level_summary(results, "word", WORD_CORPORA, word_winner, word_means)
    if char_lines:
        lines += level_summary(results, "character", char_corpora, char_winner, char_means)
    machines = sorted({entry["machine"] for entry in entries})
    lines += ["", "Commands (CORPUS.train.txt and CORPUS.test.txt are the files the script writes, RUN the run "
                  "directory):", ""]
    for corpus, runs in results.items():
        for config, entry in runs.items():
            lines.append(f"- {corpus} / {config}: `{entry['commands'][0]}`; {entry['steps']} steps, "
                         f"{entry['tokens']:,} tokens, {entry['training_s']:.0f} s training, {entry['seconds']:.0f} s "
                         f"with evaluation; {entry['when']}" + (f"; {entry['reading']}" if entry.get("reading") else ""))
    lines += ["", "Then `rnnkit evaluate RUN --data CORPUS.test.txt` for each. Machine: " + "; ".join(machines) +
              ". Runs measured on one core and one BLAS thread buy fewer steps in the same 3 minutes than the "
              "default threading on a machine with more cores would."]
    return "\n".join(lines) + "\n"


# --- the command --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lm_defaults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", default=",".join(WORD_CORPORA), help=f"comma-separated, from {','.join(CORPORA)}")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, from {','.join(CONFIGS)}")
    parser.add_argument("--max-minutes", default=None, help="a budget other than the default (recorded apart)")
    parser.add_argument("--quick", action="store_true", help="slices of the corpora, a tiny model, seconds per run")
    parser.add_argument("--markdown-only", action="store_true", help="only rewrite the section from the JSON")
    parser.add_argument("--results", default=None, help="the Markdown file (default: RESULTS.md; with --quick, "
                                                        "RESULTS-quick.md in --workdir)")
    parser.add_argument("--json", default=None, help="where results accumulate (default: "
                                                     "benchmarks/lm_defaults_results.json; with --quick, in --workdir)")
    parser.add_argument("--workdir", default=None, help="corpora and run directories (default: lm-defaults-runs in "
                                                        "the temporary folder)")
    args = parser.parse_args(argv)
    corpora = [name.strip() for name in args.corpora.split(",") if name.strip()]
    configs = [name.strip() for name in args.configs.split(",") if name.strip()]
    for name in corpora:
        if name not in CORPORA:
            parser.error(f"unknown corpus {name!r}; choose from {', '.join(CORPORA)}")
    for name in configs:
        if name not in CONFIGS:
            parser.error(f"unknown configuration {name!r}; choose from {', '.join(CONFIGS)}")
    if args.max_minutes is not None and not float(args.max_minutes) > 0:
        parser.error(f"--max-minutes must be > 0, got {args.max_minutes}")
    workdir = Path(args.workdir or Path(tempfile.gettempdir()) / "lm-defaults-runs")
    workdir.mkdir(parents=True, exist_ok=True)
    results_path = Path(args.results or (workdir / "RESULTS-quick.md" if args.quick else ROOT / "RESULTS.md"))
    json_path = Path(args.json or (workdir / "lm_defaults_results-quick.json" if args.quick else
                                   ROOT / "benchmarks" / "lm_defaults_results.json"))
    results = json.loads(json_path.read_text(encoding="utf-8")) if json_path.is_file() else {}
    if not args.markdown_only:
        folder = data_dir()
        for corpus in corpora:
            for config in configs:
                try:
                    entry = run_one(corpus, config, folder, workdir, args.quick, args.max_minutes)
                except Skip as reason:
                    print(f"{corpus}: skipped: {reason}", flush=True)
                    break
                results.setdefault(corpus, {})[run_label(config, args.max_minutes)] = entry
                print(f"{corpus} / {run_label(config, args.max_minutes)}: test perplexity "
                      f"{entry['test_perplexity']:.2f} (validation {entry['val_perplexity']:.2f}; KN bigram "
                      f"{entry['test_kn_bigram_perplexity']:.2f}), {entry['steps']} steps, {entry['seconds']:.0f} s",
                      flush=True)
                json_path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
                write_section(results_path, SECTION, markdown(results))
    write_section(results_path, SECTION, markdown(results))
    print(f"results: {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
