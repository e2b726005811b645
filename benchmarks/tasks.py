"""Train and evaluate every ``rnnkit train`` task on real data; write RESULTS.md.

Run from the repository root::

    python -m benchmarks.tasks                          # every task on rnn, lstm and gru
    python -m benchmarks.tasks --tasks digits,dates --cells lstm
    python -m benchmarks.tasks --quick                  # tiny slices, one epoch: checks the plumbing
                                                        # (its table goes to rnnkit-task-runs/ in the temporary folder)

The data comes from ``../shared/data`` (or the folder in ``RNNKIT_DATA``) and is never copied
into the repository; a task whose files are absent is skipped with the reason. Splits that
the data does not come with (UCI sentiment, digits) are drawn with a fixed seed and written to
a temporary folder. Every run goes through the command line (``rnnkit.cli.main``) exactly as a
user would type it, with its run directory under ``--workdir``; the test-set numbers come from
``rnnkit evaluate`` on the best checkpoint (or the held-out part a run reports itself).

Results accumulate in ``benchmarks/tasks_results.json`` (one entry per task and cell, the
latest run wins), and RESULTS.md is rewritten from all entries after each run, so tasks can be
run one at a time.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gzip
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CELLS = ("rnn", "lstm", "gru")


def data_dir() -> Path:
    """``RNNKIT_DATA`` if set, else ``../shared/data`` beside the repository."""
    return Path(os.environ.get("RNNKIT_DATA") or ROOT.parent / "shared" / "data")


class Skip(Exception):
    """A task that cannot run here (its data is absent); the message says why."""


def need(*paths: Path) -> None:
    for path in paths:
        if not path.exists():
            raise Skip(f"{path} is absent (set RNNKIT_DATA to the shared data folder)")


def run_cli(arguments: list[str], log: Path) -> None:
    """``rnnkit ARGUMENTS`` in this process, its output appended to ``log``; an error if it fails."""
    from rnnkit.cli import main
    from rnnkit.cli import train as train_cli

    buffer, before = io.StringIO(), train_cli.PROGRESS
    train_cli.PROGRESS = False                  # no bars in the logs; restored for whoever runs next
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            code = main(arguments)
    finally:
        train_cli.PROGRESS = before
    with open(log, "a", encoding="utf-8") as stream:
        stream.write("$ rnnkit " + " ".join(arguments) + "\n" + buffer.getvalue() + "\n")
    if code != 0:
        raise RuntimeError(f"rnnkit {' '.join(arguments)} failed with exit code {code}; see {log}")


def summary_of(run: Path) -> dict[str, Any]:
    return json.loads((run / "summary.json").read_text(encoding="utf-8"))


def evaluate(run: Path, data: str | None) -> dict[str, Any]:
    from rnnkit.cli.generate import evaluate_run

    return evaluate_run(str(run), data)


def shown(arguments: list[str], replacements: dict[str, str]) -> str:
    text = "rnnkit " + " ".join(arguments)
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


# --- split writers (into the temporary folder, never the repository) ----------------------------------
def stratified_indices(labels: np.ndarray, test_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from rnnkit.train.supervised import stratified_split

    return stratified_split(labels, test_fraction, seed)


def sentiment_split(folder: Path, scratch: Path, limit: int | None) -> tuple[Path, Path]:
    lines: list[str] = []
    for name in ("amazon_cells", "imdb", "yelp"):
        path = folder / "sentiment" / "uci" / f"{name}_labelled.txt"
        need(path)
        text = path.read_text(encoding="utf-8")
        lines += [line for line in text.split("\n") if line.strip()]   # not splitlines: imdb holds U+0085
    if limit:
        lines = lines[:limit // 3] + lines[1000:1000 + limit // 3] + lines[2000:2000 + limit // 3]
    labels = np.array([line.rsplit("\t", 1)[1].strip() for line in lines])
    kept, held = stratified_indices(labels, 0.2, seed=0)
    train, test = scratch / "sentiment_train.tsv", scratch / "sentiment_test.tsv"
    train.write_text("".join(lines[i] + "\n" for i in kept), encoding="utf-8")
    test.write_text("".join(lines[i] + "\n" for i in held), encoding="utf-8")
    return train, test


def digits_split(folder: Path, scratch: Path, limit: int | None) -> tuple[Path, Path]:
    path = folder / "seqclass" / "sklearn_digits.csv.gz"
    need(path)
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        lines = [line for line in stream.read().split("\n") if line.strip()]
    lines = lines[:limit] if limit else lines
    labels = np.array([line.rsplit(",", 1)[1] for line in lines])
    kept, held = stratified_indices(labels, 0.2, seed=0)
    train, test = scratch / "digits_train.csv", scratch / "digits_test.csv"
    train.write_text("".join(lines[i] + "\n" for i in kept))
    test.write_text("".join(lines[i] + "\n" for i in held))
    return train, test


def head_sentences(path: Path, scratch: Path, count: int | None) -> Path:
    """The first ``count`` blank-line-separated sentences of a CoNLL(-U) file (all with None)."""
    need(path)
    if not count:
        return path
    blocks = path.read_text(encoding="utf-8").split("\n\n")[:count]
    target = scratch / f"head{count}_{path.name}"
    target.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    return target


# --- the tasks ------------------------------------------------------------------------------------------
# Each takes (data folder, cell, quick, run folder, scratch folder, log) and returns a result dict:
# metric, value, target (or None), passed (or None), extra (other numbers), commands.
def common(cell: str, quick: bool, hidden: int, epochs: int, run: Path, **extra: Any) -> list[str]:
    arguments = ["--cell", cell, "--hidden", str(4 if quick else hidden), "--epochs", str(1 if quick else epochs),
                 "--out", str(run), "--force", "--seed", "0"]
    for name, value in extra.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            arguments.append(flag)
        elif value is not False and value is not None:
            arguments += [flag, str(value)]
    return arguments


def task_sentiment(folder, cell, quick, run, scratch, log):
    train, test = sentiment_split(folder, scratch, 60 if quick else None)
    arguments = ["train", "classify", "--data", str(train)] + common(
        cell, quick, 64, 12, run, embedding=8 if quick else 64, bidirectional=True, pooling="max", dropout=0.5,
        word_dropout=0.3, lr=5e-3, batch=32, val_fraction=0.1, monitor="accuracy")
    run_cli(arguments, log)
    metrics = evaluate(run, str(test))
    return {"metric": "test accuracy", "value": metrics["accuracy"], "target": 0.80, "higher": True,
            "extra": {"test examples": metrics["examples"]},
            "commands": [shown(arguments, {str(train): "sentiment_train.tsv", str(run): "RUN"}),
                         "rnnkit evaluate RUN --data sentiment_test.tsv"]}


def task_digits(folder, cell, quick, run, scratch, log):
    train, test = digits_split(folder, scratch, 100 if quick else None)
    arguments = ["train", "classify", "--data", str(train), "--format", "vectors", "--sep", ",", "--steps", "8"] + \
        common(cell, quick, 128, 40, run, pooling="last", dropout=0.2, lr=1e-2, batch=64, val_fraction=0.1)
    run_cli(arguments, log)
    metrics = evaluate(run, str(test))
    return {"metric": "test accuracy", "value": metrics["accuracy"], "target": 0.97, "higher": True,
            "extra": {"test examples": metrics["examples"]},
            "commands": [shown(arguments, {str(train): "digits_train.csv", str(run): "RUN"}),
                         "rnnkit evaluate RUN --data digits_test.csv"]}


def task_vowels(folder, cell, quick, run, scratch, log):
    train, test = folder / "seqclass" / "JapaneseVowels_TRAIN.ts", folder / "seqclass" / "JapaneseVowels_TEST.ts"
    need(train, test)
    arguments = ["train", "classify", "--data", str(train), "--format", "ts"] + \
        common(cell, quick, 64, 40, run, bidirectional=True, pooling="last", dropout=0.3, lr=5e-3, batch=16,
               val_fraction=0.1)
    run_cli(arguments, log)
    metrics = evaluate(run, str(test))
    return {"metric": "test accuracy", "value": metrics["accuracy"], "target": 0.95, "higher": True,
            "extra": {"test examples": metrics["examples"]},
            "note": "validation = 10% of the training file (stratified); the test file is used only at the end",
            "commands": [shown(arguments, {str(folder): "DATA", str(run): "RUN"}),
                         "rnnkit evaluate RUN --data DATA/seqclass/JapaneseVowels_TEST.ts"]}


def task_ewt(folder, cell, quick, run, scratch, log):
    train = head_sentences(folder / "tagging" / "en_ewt-ud-dev.conllu", scratch, 60 if quick else None)
    test = head_sentences(folder / "tagging" / "en_ewt-ud-test.conllu", scratch, 30 if quick else None)
    arguments = ["train", "tag", "--data", str(train), "--format", "conllu"] + common(
        cell, quick, 64, 15, run, embedding=8 if quick else 64, layers=2, lr=5e-3, batch=16, val_fraction=0.1,
        dropout=0.5, unk_replace=0.5, patience=3)
    run_cli(arguments, log)
    metrics = evaluate(run, str(test))
    return {"metric": "test UPOS accuracy", "value": metrics["accuracy"], "target": 0.85, "higher": True,
            "extra": {"test tokens": metrics["tokens"]},
            "commands": [shown(arguments, {str(folder): "DATA", str(run): "RUN"}),
                         "rnnkit evaluate RUN --data DATA/tagging/en_ewt-ud-test.conllu"]}


def task_wnut(folder, cell, quick, run, scratch, log):
    train = head_sentences(folder / "tagging" / "wnut17_wnut17train.conll", scratch, 60 if quick else None)
    dev = head_sentences(folder / "tagging" / "wnut17_emerging.dev.conll", scratch, 30 if quick else None)
    test = head_sentences(folder / "tagging" / "wnut17_emerging.test.annotated", scratch, 30 if quick else None)
    arguments = ["train", "tag", "--data", str(train), "--val-data", str(dev), "--sep", "tab"] + common(
        cell, quick, 128, 15, run, embedding=8 if quick else 100, lr=5e-3, batch=16, dropout=0.3, patience=3)
    run_cli(arguments, log)
    metrics = evaluate(run, str(test))
    return {"metric": "test entity F1 (overall)", "value": metrics.get("f1", 0.0), "target": None, "higher": True,
            "also": "F1 person", "extra": {"F1 person": metrics.get("f1_person", 0.0), "precision": metrics.get("precision", 0.0),
                      "recall": metrics.get("recall", 0.0), "token accuracy": metrics["accuracy"]},
            "note": "words and the default character CNN (no pretrained vectors) and a test set of emerging, mostly "
                    "unseen entities: low recall is expected",
            "commands": [shown(arguments, {str(folder): "DATA", str(run): "RUN"}),
                         "rnnkit evaluate RUN --data DATA/tagging/wnut17_emerging.test.annotated"]}


# --- tagging with a CRF and character features: the chosen settings, and the ablation ---------------------
# Same data, split and budget for every variant; only --crf and --char-features change.
WNUT_SETTINGS = {"embedding": 100, "lr": 5e-3, "batch": 16, "dropout": 0.5, "input_dropout": 0.5, "casing": True,
                 "patience": 6, "max_minutes": 3}
EWT_SETTINGS = {"embedding": 100, "layers": 1, "lr": 5e-3, "batch": 16, "val_fraction": 0.1, "dropout": 0.5,
                "input_dropout": 0.3, "unk_replace": 0.5, "casing": True, "patience": 6, "max_minutes": 3,
                "monitor": "accuracy"}
TAGGING_NOTE = ("no pretrained embeddings and no gazetteers (the WNUT-17 systems used both); 2-core machine "
                "shared with other jobs, so a time budget buys fewer epochs than on an idle one")


def tagging_variant(dataset: str, crf: bool, chars: str, minutes: float | None = None, layers: int | None = None,
                    patience: int = 0, epochs: int = 40) -> Callable:
    """A task function: WNUT-17 or EWT with --crf on/off and --char-features chars, else the same settings.

    With ``minutes``, that budget and ``patience`` (0: train to the budget) replace the ablation's; ``layers``
    stacks that many BiLSTM layers; ``epochs`` is the most passes a run may take."""
    def task(folder, cell, quick, run, scratch, log):
        settings = dict(WNUT_SETTINGS if dataset == "wnut" else EWT_SETTINGS)
        if minutes:
            settings.update(max_minutes=minutes, patience=patience)
        if layers:
            settings.update(layers=layers)
        if quick:
            settings.update(embedding=8, max_minutes=0.2)
        extra = {"crf": crf, "char_features": chars, "char_hidden": 4 if quick else 30 if chars == "cnn" else 25,
                 "char_embedding": 4 if quick else 30 if chars == "cnn" else 25} if chars != "none" else \
            {"crf": crf, "char_features": "none"}                 # spelled out: the default is cnn
        if dataset == "wnut":
            train = head_sentences(folder / "tagging" / "wnut17_wnut17train.conll", scratch, 60 if quick else None)
            dev = head_sentences(folder / "tagging" / "wnut17_emerging.dev.conll", scratch, 30 if quick else None)
            test_name = "wnut17_emerging.test.annotated"
            arguments = ["train", "tag", "--data", str(train), "--val-data", str(dev), "--sep", "tab"]
        else:
            train = head_sentences(folder / "tagging" / "en_ewt-ud-dev.conllu", scratch, 60 if quick else None)
            test_name = "en_ewt-ud-test.conllu"
            arguments = ["train", "tag", "--data", str(train), "--format", "conllu"]
        test = head_sentences(folder / "tagging" / test_name, scratch, 30 if quick else None)
        max_minutes = settings.pop("max_minutes")
        arguments += common(cell, quick, 100, epochs, run, **settings, **extra) + ["--max-minutes", str(max_minutes)]
        started = time.perf_counter()
        run_cli(arguments, log)
        trained = time.perf_counter() - started
        metrics = evaluate(run, str(test))
        summary = summary_of(run)
        best = float(summary["best"].get("f1" if dataset == "wnut" else "accuracy", 0.0))
        extra_numbers = {"crf": "on" if crf else "off", "characters": chars, "training s": round(trained),
                         "epochs": summary.get("epochs"), "validation": round(best, 4)}
        commands = [shown(arguments, {str(folder): "DATA", str(run): "RUN"}),
                    f"rnnkit evaluate RUN --data DATA/tagging/{test_name}"]
        if dataset == "wnut":
            extra_numbers.update({"F1 person": metrics.get("f1_person", 0.0),
                                  "precision": metrics.get("precision", 0.0), "recall": metrics.get("recall", 0.0),
                                  "token accuracy": metrics["accuracy"]})
            return {"metric": "test entity F1 (overall)", "value": metrics.get("f1", 0.0), "target": 0.40,
                    "higher": True, "extra": extra_numbers, "note": TAGGING_NOTE, "commands": commands}
        extra_numbers["test tokens"] = metrics["tokens"]
        return {"metric": "test UPOS accuracy", "value": metrics["accuracy"], "target": 0.93, "higher": True,
                "extra": extra_numbers, "note": TAGGING_NOTE, "commands": commands}
    return task


# name -> (dataset, crf, characters); each is also a task of its own (python -m benchmarks.tasks --tasks NAME)
TAGGING_ABLATION = {f"{dataset}_{'crf' if crf else 'softmax'}_{chars}": (dataset, crf, chars)
                    for dataset in ("wnut", "ewt") for crf in (False, True) for chars in ("none", "cnn", "lstm")}


def ablation_markdown(results: dict[str, Any]) -> list[str]:
    """The tagging ablation table: what the CRF and each character encoder buy, with training times."""
    rows, values = [], {}
    for name, (dataset, crf, chars) in TAGGING_ABLATION.items():
        for cell, entry in results.get(name, {}).items():
            extra = entry.get("extra", {})
            values[dataset, crf, chars, cell] = entry["value"]
            epochs = extra.get("epochs")
            rows.append(f"| {'WNUT-17 test entity F1' if dataset == 'wnut' else 'EWT test UPOS accuracy'} | {cell} | "
                        f"{'on' if crf else 'off'} | {chars} | {entry['value']:.4f} | "
                        f"{float(extra.get('validation', 0.0)):.4f} | "
                        f"{'-' if epochs is None else f'{float(epochs):.1f}'} | {extra.get('training s', '-')} s |")
    if not rows:
        return []
    effects = []                                  # mean differences over the rows that have both sides
    for dataset, label in (("wnut", "WNUT-17 F1"), ("ewt", "EWT accuracy")):
        crf_gain = [values[dataset, True, chars, cell] - values[dataset, False, chars, cell]
                    for (name, crf, chars, cell) in values if name == dataset and not crf
                    and (dataset, True, chars, cell) in values]
        parts = [f"CRF on minus off {np.mean(crf_gain):+.4f} (over {len(crf_gain)} pairs)"] if crf_gain else []
        for chars in ("cnn", "lstm"):
            gain = [values[dataset, crf, chars, cell] - values[dataset, crf, "none", cell]
                    for (name, crf, kind, cell) in values if name == dataset and kind == chars
                    and (dataset, crf, "none", cell) in values]
            if gain:
                parts.append(f"characters {chars} minus none {np.mean(gain):+.4f} (over {len(gain)} pairs)")
        if parts:
            effects.append(f"- {label}: " + "; ".join(parts))
    return ["", "## Tagging: what the CRF and character features buy", "",
            "Same data, settings and 3-minute training budget for every row (`python -m benchmarks.tasks --tasks "
            "wnut_softmax_none,...`; the commands are in the details below); the model with the best validation "
            "score (dev entity F1 for WNUT-17, held-out 10% accuracy for EWT) is evaluated on the test file. The "
            "rows without characters ran when that was the default; the script now passes `--char-features none` "
            "for them.", "",
            "| task | cell | CRF | characters | test | best validation | epochs | training |",
            "|---|---|---|---|---|---|---|---|", *rows, "",
            "Mean effects on the test score (one seed and one run per row, on a shared machine: small differences "
            "may not repeat):", "", *effects]


def forecast_result(run: Path, arguments: list[str], replacements: dict[str, str]) -> dict[str, Any]:
    test = summary_of(run)["test"]
    return {"metric": "test RMSE (last 20%)", "value": test["rmse"], "target": test["persistence_rmse"],
            "higher": False, "target_text": f"< persistence {test['persistence_rmse']:.4g}",
            "extra": {"MAE": test["mae"], "persistence MAE": test["persistence_mae"], "test windows": test["windows"]},
            "commands": [shown(arguments, replacements)]}


def task_sunspots(folder, cell, quick, run, scratch, log):
    data = folder / "timeseries" / "sunspots_yearly.csv"
    need(data)
    arguments = ["train", "forecast", "--data", str(data), "--column", "SUNACTIVITY", "--date-column", "YEAR",
                 "--window", "20", "--test-fraction", "0.2", "--val-fraction", "0.1"] + common(
        cell, quick, 32, 150, run, lr=5e-3, batch=16, warmup=20)
    run_cli(arguments, log)
    return forecast_result(run, arguments, {str(folder): "DATA", str(run): "RUN"})


def task_msft(folder, cell, quick, run, scratch, log):
    data = folder / "timeseries" / "msft_daily_1986_2017.csv"
    need(data)
    arguments = ["train", "forecast", "--data", str(data), "--column", "Close", "--date-column", "Date",
                 "--window", "20", "--test-fraction", "0.2", "--val-fraction", "0.1", "--difference", "--log"] + \
        common(cell, quick, 32, 8, run, lr=1e-3, batch=64, warmup=20, patience=3)
    run_cli(arguments, log)
    result = forecast_result(run, arguments, {str(folder): "DATA", str(run): "RUN"})
    result["note"] = ("daily closes are close to a random walk: the model learns persistence plus a small "
                      "correction, so its RMSE differs from persistence's by a fraction of a percent either way")
    return result


def task_dates(folder, cell, quick, run, scratch, log):
    arguments = ["train", "seq2seq", "--no-tie-embeddings"] + common(cell, quick, 128, 6, run, train_size=60 if quick else 20000,
                                              test_size=20 if quick else 1000, embedding=8 if quick else 32,
                                              bidirectional=True, dropout=0.3, lr=5e-3, batch=32, val_fraction=0.05)
    run_cli(arguments, log)
    test = summary_of(run)["test"]
    return {"metric": "held-out exact match", "value": test["exact_match"], "target": 0.99, "higher": True,
            "extra": {"test pairs": test["pairs"]}, "commands": [shown(arguments, {str(run): "RUN"})]}


def task_shakespeare(folder, cell, quick, run, scratch, log):
    data = folder / "text" / "tinyshakespeare.txt"
    need(data)
    if quick:
        text = data.read_text(encoding="utf-8")[:20000]
        data = scratch / "shakespeare_head.txt"
        data.write_text(text, encoding="utf-8")
    arguments = ["train", "lm", "--data", str(data), "--cell", cell, "--hidden", "8" if quick else "384",
                 "--embedding", "8" if quick else "64", "--seq-len", "16" if quick else "100",
                 "--batch", "4" if quick else "32", "--epochs", "1" if quick else "14", "--lr", "3e-3",
                 "--dropout", "0.0" if quick else "0.1",
                 "--max-minutes", "0.2" if quick else "15", "--patience", "0", "--sample-length", "20",
                 "--checkpoint-every", "0", "--val-fraction", "0.1", "--out", str(run), "--force"]
    run_cli(arguments, log)
    best = summary_of(run)["best"]
    return {"metric": "validation loss (nats/char)", "value": best["loss"], "target": 1.60, "higher": False,
            "extra": {"bpc": best.get("bpc")}, "commands": [shown(arguments, {str(folder): "DATA", str(run): "RUN"})]}


def translation_split(folder: Path, scratch: Path, limit: int | None) -> tuple[Path, Path]:
    """Tatoeba English-French pairs: a held-out 10% test file and the rest (seed 0)."""
    path = folder / "translation" / "eng-fra_tatoeba.tsv"
    need(path)
    lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    order = np.random.default_rng(0).permutation(len(lines))
    if limit:
        order = order[:limit]
    held = len(order) // 10
    train, test = scratch / "eng-fra_train.tsv", scratch / "eng-fra_test.tsv"
    train.write_text("".join(lines[i] + "\n" for i in sorted(order[held:])), encoding="utf-8")
    test.write_text("".join(lines[i] + "\n" for i in sorted(order[:held])), encoding="utf-8")
    return train, test


# Sentences written for RESULTS.md, none of them in the Tatoeba file.
UNSEEN_SENTENCES = ("We will eat at home tomorrow.", "My father doesn't like cold coffee.",
                    "Can you open the window, please?")
TRANSLATION_NOTE = ("one run at a time on an otherwise idle 2-core machine with rnnkit's default threads; beam 5 with "
                    "length normalisation (length penalty 1.0) on the held-out file; BLEU and chrF as sacreBLEU "
                    "computes them (13a, corpus level) on detokenised outputs")


def translation_result(run: Path, arguments: list[str], test: Path, train: Path, started: float,
                       log: Path) -> dict[str, Any]:
    trained = time.perf_counter() - started
    metrics = evaluate(run, str(test))                         # beam search, the run's --beam (5)
    from rnnkit.cli.predict import predict_lines

    examples = predict_lines(str(run), list(UNSEEN_SENTENCES))
    with open(log, "a", encoding="utf-8") as stream:
        stream.write("\n".join(examples) + "\n")
    summary = summary_of(run)
    return {"metric": "held-out BLEU (beam 5)", "value": metrics["bleu"], "target": 30.0, "higher": True, "also": "chrF",
            "extra": {"chrF": metrics["chrf"], "exact match": metrics["exact_match"], "test pairs": metrics["pairs"],
                      "training s": round(trained), "epochs": summary["epochs"],
                      "examples": " | ".join(line.replace("\t", " -> ") for line in examples)},
            "note": TRANSLATION_NOTE,
            "commands": [shown(arguments, {str(train): "eng-fra_train.tsv", str(run): "RUN"}),
                         "rnnkit evaluate RUN --data eng-fra_test.tsv",
                         "rnnkit predict RUN " + " ".join(f'"{text}"' for text in UNSEEN_SENTENCES)]}


def task_translation(folder, cell, quick, run, scratch, log):
    """The defaults: only the data, words, the cell and a 10-minute budget."""
    train, test = translation_split(folder, scratch, 300 if quick else None)
    arguments = ["train", "seq2seq", "--data", str(train), "--level", "word", "--cell", cell,
                 "--max-minutes", "0.2" if quick else "10", "--out", str(run), "--force"]
    started = time.perf_counter()
    run_cli(arguments, log)
    return translation_result(run, arguments, test, train, started, log)


def task_translation_tuned(folder, cell, quick, run, scratch, log):
    """The defaults plus a bidirectional encoder (see TUNED), with a 15-minute budget."""
    train, test = translation_split(folder, scratch, 300 if quick else None)
    arguments = ["train", "seq2seq", "--data", str(train), "--level", "word"] + common(
        cell, quick, TUNED["hidden"], TUNED["epochs"], run, **{key: value for key, value in TUNED.items()
                                                               if key not in ("hidden", "epochs")})
    arguments += ["--max-minutes", "0.2" if quick else "15"]
    started = time.perf_counter()
    run_cli(arguments, log)
    return translation_result(run, arguments, test, train, started, log)


# The defaults (tied embeddings, dropout 0.4, 14 epochs) with a bidirectional encoder: at 10 epochs it scored
# 0.2 and 0.7 BLEU above the unidirectional encoder on Tatoeba (benchmarks.defaults, one seed) and it costs
# 15-20% more time per epoch, so 14 epochs need more than 10 minutes.
TUNED = {"hidden": 256, "epochs": 14, "dropout": 0.4, "bidirectional": True}


TASKS: dict[str, tuple[str, Callable]] = {
    "dates": ("date rewriting (seq2seq, generated)", task_dates),
    "digits": ("sklearn digits, row by row (classify)", task_digits),
    "vowels": ("Japanese Vowels .ts (classify)", task_vowels),
    "sunspots": ("yearly sunspots, one step (forecast)", task_sunspots),
    "msft": ("MSFT daily close, one step (forecast)", task_msft),
    "sentiment": ("UCI sentiment, stratified 80/20 (classify)", task_sentiment),
    "ewt": ("UD English EWT UPOS, train dev / test test (tag)", task_ewt),
    "wnut": ("WNUT-17 NER, train / test (tag)", task_wnut),
    "shakespeare": ("tinyshakespeare char LM, 15 min (lm)", task_shakespeare),
    **{name: (f"{'WNUT-17 NER' if dataset == 'wnut' else 'UD English EWT UPOS'}, CRF {'on' if crf else 'off'}, "
              f"characters {chars} (tag)", tagging_variant(dataset, crf, chars))
       for name, (dataset, crf, chars) in TAGGING_ABLATION.items()},
    "wnut_long": ("WNUT-17 NER, BiLSTM-CNN-CRF, 10 min (tag)", tagging_variant("wnut", True, "cnn", minutes=10)),
    "ewt_long": ("UD English EWT UPOS, BiLSTM-CNN-CRF, 6 min (tag)", tagging_variant("ewt", True, "cnn", minutes=6)),
    # Two layers, early stopping: the best validation accuracy of six EWT settings tried on an idle machine.
    "ewt_deep": ("UD English EWT UPOS, 2-layer BiLSTM-CNN, patience 10, 10 min (tag)",
                 tagging_variant("ewt", False, "cnn", minutes=10, layers=2, patience=10, epochs=100)),
    "wnut_deep": ("WNUT-17 NER, 2-layer BiLSTM-CNN-CRF, patience 10, 10 min (tag)",
                  tagging_variant("wnut", True, "cnn", minutes=10, layers=2, patience=10, epochs=100)),
    "translation": ("Tatoeba English-French, held-out 10%, defaults, 10 min (seq2seq)", task_translation),
    "translation_tuned": ("Tatoeba English-French, held-out 10%, defaults + bidirectional, 15 min (seq2seq)",
                          task_translation_tuned),
}


# --- results ------------------------------------------------------------------------------------------
def passed(result: dict[str, Any]) -> bool | None:
    target = result.get("target")
    if target is None:
        return None
    return result["value"] >= target if result["higher"] else result["value"] < target if \
        "target_text" in result else result["value"] <= target


SECTION_START, SECTION_END = "<!-- section {} -->", "<!-- end {} -->"


def kept_sections(path: Path) -> list[str]:
    """The sections other benchmark scripts wrote into ``path`` (see :func:`write_section`), kept as they are."""
    import re

    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    pattern = re.escape(SECTION_START.format("@")).replace("@", r"([\w-]+)") + r".*?" + \
        re.escape(SECTION_END.format("@")).replace("@", r"\1")
    return [line for match in re.finditer(pattern, text, re.S) for line in ["", *match.group(0).splitlines()]]


def write_section(path: Path, name: str, markdown: str) -> None:
    """Put ``markdown`` into ``path`` as section ``name``: replaced where it is, else added before "## Details".

    Other benchmark scripts (``benchmarks.defaults``, ...) own their sections; this script's
    :func:`write_markdown` rewrites everything else and keeps them.
    """
    from rnnkit.train.checkpoint import atomic_write_text

    block = f"{SECTION_START.format(name)}\n{markdown.strip()}\n{SECTION_END.format(name)}"
    text = path.read_text(encoding="utf-8") if path.is_file() else "# rnnkit on real sequence tasks\n"
    start, end = SECTION_START.format(name), SECTION_END.format(name)
    if start in text and end in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    elif "\n## Details" in text:
        at = text.index("\n## Details")
        text = text[:at] + "\n" + block + "\n" + text[at:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    atomic_write_text(path, text)


def write_markdown(results: dict[str, Any], path: Path) -> None:
    lines = ["# rnnkit on real sequence tasks", "",
             "Written by `python -m benchmarks.tasks` (see its docstring); every number comes from a run of the "
             "`rnnkit` command line on the data in `../shared/data`. Times are wall-clock seconds of training plus "
             "evaluation on the machine named below, one run at a time.", "",
             "| task | metric | target | rnn | lstm | gru | best |", "|---|---|---|---|---|---|---|"]
    for name, (title, _) in TASKS.items():
        entries = results.get(name, {})
        if not entries or name in TAGGING_ABLATION:
            continue
        any_entry = next(iter(entries.values()))
        target = any_entry.get("target_text") or ("-" if any_entry.get("target") is None else
                                                  f"{'>=' if any_entry['higher'] else '<='} {any_entry['target']:.2f}")
        cells = []
        for cell in CELLS:
            entry = entries.get(cell)
            if entry is None:
                cells.append("not run")
                continue
            mark = {True: " (met)", False: " (missed)", None: ""}[passed(entry)]
            quick = " quick" if entry.get("quick") else ""
            also = f" ({entry['also']} {entry['extra'][entry['also']]:.4f})" if entry.get("also") else ""
            cells.append(f"{entry['value']:.4f}{also}{mark}, {entry['seconds']:.0f} s{quick}")
        values = {cell: round(entry["value"], 4) for cell, entry in entries.items()}
        top = (max if any_entry["higher"] else min)(values.values())
        best = ", ".join(cell for cell in CELLS if values.get(cell) == top)
        lines.append(f"| {title} | {any_entry['metric']} | {target} | " + " | ".join(cells) + f" | {best} |")
    lines += ablation_markdown(results)
    lines += kept_sections(path)
    lines += ["", "## Details", ""]
    for name, (title, _) in TASKS.items():
        for cell, entry in results.get(name, {}).items():
            extra = ", ".join(f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}"
                              for key, value in entry.get("extra", {}).items())
            lines.append(f"- **{name} / {cell}**: {entry['metric']} {entry['value']:.4f}; {extra}; "
                         f"{entry['seconds']:.0f} s; {entry['when']}{' (quick mode)' if entry.get('quick') else ''}"
                         + (f"; note: {entry['note']}" if entry.get("note") else ""))
            for command in entry["commands"]:
                lines.append(f"  - `{command}`")
    machine = next((entry["machine"] for entries in results.values() for entry in entries.values()), platform.node())
    lines += ["", f"Machine: {machine}. DATA = `../shared/data`; RUN = a run directory; the split files are "
                  f"written by `benchmarks/tasks.py` (fixed seed 0).", ""]
    from rnnkit.train.checkpoint import atomic_write_text

    atomic_write_text(path, "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tasks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, from {','.join(TASKS)}")
    parser.add_argument("--cells", default=",".join(CELLS), help="comma-separated, from rnn,lstm,gru")
    parser.add_argument("--quick", action="store_true", help="tiny slices of the data, one epoch, tiny models")
    parser.add_argument("--results", default=None, help="the Markdown file to write (default: RESULTS.md; "
                                                        "with --quick, RESULTS-quick.md in --workdir)")
    parser.add_argument("--json", default=None, help="where results accumulate (default: "
                                                     "benchmarks/tasks_results.json; with --quick, in --workdir)")
    parser.add_argument("--workdir", default=None, help="where run directories go (default: rnnkit-task-runs in the temporary folder)")
    args = parser.parse_args(argv)
    tasks = [name.strip() for name in args.tasks.split(",") if name.strip()]
    cells = [name.strip() for name in args.cells.split(",") if name.strip()]
    for name in tasks:
        if name not in TASKS:
            parser.error(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
    for cell in cells:
        if cell not in CELLS:
            parser.error(f"unknown cell {cell!r}; choose from {', '.join(CELLS)}")
    suffix = "-quick" if args.quick else ""
    workdir = Path(args.workdir or Path(tempfile.gettempdir()) / "rnnkit-task-runs")
    workdir.mkdir(parents=True, exist_ok=True)
    # quick results are a smoke test, not numbers to keep: they stay out of the repository
    results_path = Path(args.results or (workdir / "RESULTS-quick.md" if args.quick else ROOT / "RESULTS.md"))
    json_path = Path(args.json or (workdir / "tasks_results-quick.json" if args.quick else
                                   ROOT / "benchmarks" / "tasks_results.json"))
    results = json.loads(json_path.read_text()) if json_path.is_file() else {}
    folder = data_dir()
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    skipped = []
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        for name in tasks:
            title, function = TASKS[name]
            for cell in cells:
                run = workdir / f"{name}-{cell}{suffix}"
                log = workdir / f"{name}-{cell}{suffix}.log"
                log.write_text("")
                started = time.perf_counter()
                try:
                    result = function(folder, cell, args.quick, run, scratch, log)
                except Skip as reason:
                    print(f"{name}: skipped: {reason}")
                    skipped.append(name)
                    break
                result.update(seconds=round(time.perf_counter() - started, 1), quick=args.quick, machine=machine,
                              when=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
                results.setdefault(name, {})[cell] = result
                verdict = {True: "target met", False: "target missed", None: "no target"}[passed(result)]
                print(f"{name} / {cell}: {result['metric']} {result['value']:.4f} ({verdict}), "
                      f"{result['seconds']:.0f} s; log {log}", flush=True)
                json_path.write_text(json.dumps(results, indent=1) + "\n")
                write_markdown(results, results_path)
    print(f"results: {results_path}" + (f"; skipped: {', '.join(skipped)}" if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
