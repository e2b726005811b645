"""``rnnkit export RUN OUT.onnx``: a run directory's model as an ONNX file, and its ``--check``.

The run is read the way ``rnnkit predict`` and ``rnnkit generate`` read it (config.json, the
vocabularies, the verified checkpoint). What the model needs around it travels inside the
file as ``metadata_props`` (JSON strings): ``rnnkit.vocab`` (the run's vocab.json as written),
``rnnkit.classes`` or ``rnnkit.tags``, ``rnnkit.features`` (a tagger with feature columns or
``--casing``: what each column of its ``features`` input holds, in order, with each column's
values by id and, for casing, how it is computed from the word:
:func:`rnnkit.train.tagging.feature_inputs`), ``rnnkit.chars`` (a tagger with a character CNN:
the characters by id and how a word becomes its ``chars`` row:
:func:`rnnkit.train.tagging.character_inputs`), ``rnnkit.transform`` (forecast: the scaling, log
and differencing, already inside the graph) and ``rnnkit.options`` (the run's options without
its paths). The check runs the file in ONNX Runtime on random inputs and, when the run's data
file is still where the run read it, on real ones, and compares with rnnkit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.onnx import check
from rnnkit.onnx.graph import write_model
from rnnkit.onnx.layers import ExportError
from rnnkit.onnx.models import model_graph

PATH_OPTIONS = ("data", "val_data", "out", "config")


@dataclass
class RunModel:
    """A run's model and what its graph needs: feature scaling, forecast transform, metadata."""

    task: str
    model: Any
    document: dict[str, Any]
    vocabs: dict[str, Any]
    scaling: dict[str, Any] | None = None
    transform: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def read_run_model(run_dir: str | Path, which: str = "best") -> RunModel:
    """The model of checkpoint ``which`` of a run and the graph arguments it needs."""
    from rnnkit.train.run_dir import load_run, read_document, vocab_names

    document, folder = read_document(run_dir)
    task = document["task"]
    if task == "seq2seq":
        raise ExportError(f"{folder} is a seq2seq run: Seq2Seq has no ONNX export yet (its attention decoder and "
                          f"beam search are a loop over decoder steps that this exporter does not build)")
    contents = load_run(folder, which)
    document, vocabs, model, names = contents.document, contents.vocabs, contents.model, vocab_names(document)
    options = {key: value for key, value in document["options"].items() if key not in PATH_OPTIONS}
    metadata: dict[str, Any] = {"rnnkit.options": options}
    for name in names:                              # the vocabulary exactly as the run wrote it
        key = "rnnkit.vocab" if name == "vocab.json" else f"rnnkit.{name.removesuffix('.json')}"
        metadata[key] = (Path(folder) / name).read_text(encoding="utf-8")
    artifacts = document.get("artifacts", {})
    run = RunModel(task, model, document, vocabs, metadata=metadata)
    if task == "classify":
        metadata["rnnkit.classes"] = artifacts["classes"]
        run.scaling = artifacts.get("scaling") or None
    elif task == "tag":
        from rnnkit.train.tagging import character_inputs, feature_inputs

        metadata["rnnkit.tags"] = artifacts["tags"]
        columns = feature_inputs(document)
        if columns:                                 # what the graph input "features" (B, T, F) holds
            metadata["rnnkit.features"] = columns
        if "chars" in artifacts:                    # what the graph inputs "chars" and "char_lengths" hold
            metadata["rnnkit.chars"] = character_inputs(artifacts["chars"])
    elif task == "forecast":
        run.transform = {**artifacts["transform"], "window": int(document["options"]["window"])}
        metadata["rnnkit.transform"] = run.transform
    return run


def export_run(run_dir: str | Path, out: str | Path, which: str = "best") -> tuple[RunModel, Any]:
    """Write the ONNX file of a run's model to ``out`` (atomically); returns the run and the ModelProto."""
    run = read_run_model(run_dir, which)
    proto = model_graph(run.model, scaling=run.scaling, transform=run.transform, metadata=run.metadata)
    write_model(proto, out)
    return run, proto


# --- --check ------------------------------------------------------------------------------------
def check_lines(run: RunModel, path: str | Path, seed: int = 0) -> tuple[list[str], bool]:
    """Compare the file with rnnkit on random and (when the data is at hand) real inputs.

    Returns the lines to print and whether every difference is within ``check.TOLERANCE``.
    """
    rng = np.random.default_rng(seed)
    names = [item.name for item in check.session(str(path)).get_inputs()]
    comparisons = [("random inputs", check.compare(run.model, str(path), check.random_feeds(
        run.model, rng, input_names=names, transform=run.transform), run.scaling, run.transform))]
    if run.task == "lm":
        tokens = rng.integers(0, run.model.vocab_size, size=(3, 20))
        comparisons.append(("random tokens, 20 steps fed back", {"all outputs": check.compare_generation(
            run.model, str(path), tokens)}))
    lines, passed = [], True
    real = real_inputs(run)
    if isinstance(real, str):
        lines.append(f"real inputs: skipped ({real})")
    else:
        description, feeds = real
        if run.task == "lm":
            comparisons.append((description, {"all outputs": check.compare_generation(run.model, str(path), feeds)}))
        else:
            comparisons.append((description, check.compare(run.model, str(path), feeds, run.scaling, run.transform)))
    for description, differences in comparisons:
        ok = all(value <= check.TOLERANCE for value in differences.values())
        passed &= ok
        shown = ", ".join(f"{name} {value:.1e}" for name, value in differences.items())
        lines.append(f"{description}: max difference {shown}: {'OK' if ok else 'FAILED'} "
                     f"(tolerance {check.TOLERANCE:g})")
    return lines, passed


def real_inputs(run: RunModel, count: int = 32) -> tuple[str, Any] | str:
    """``(description, feeds)`` from the run's own data file, or the reason there are none.

    For a language model the "feeds" are token ids (B, T) to step through.
    """
    options = run.document["options"]
    data = options.get("data")
    if data is None and run.task == "lm":
        data_name = "Python's documentation"
    elif data is None or not Path(data).is_file():
        return f"the run's data file {data} is not here"
    else:
        data_name = Path(data).name
    if run.task == "lm":
        from rnnkit.train.language_modeling import load_corpus

        text, _ = load_corpus(data)
        ids = run.vocabs["vocab.json"].transform(text[:20000])
        rows = len(ids) // 50
        if rows < 1:
            return f"{data_name} is too short"
        tokens = np.asarray(ids[: min(rows, 4) * 50]).reshape(-1, 50)
        return f"real text ({tokens.shape[0]} x 50 tokens of {data_name}, fed one at a time)", tokens
    if run.task == "classify":
        from rnnkit.train.classification import collate, load_encoder, read_examples

        examples, _ = read_examples(data, options)
        examples = examples[:count]
        if options["format"] == "text":
            batch, lengths = collate(load_encoder(run.document, run.vocabs).encode(examples))
            return f"real inputs ({len(examples)} examples of {data_name})", {"tokens": batch, "lengths": lengths}
        raw = [np.asarray(series, dtype=np.float32) for series in examples]      # the graph does the scaling
        batch, lengths = collate(raw)
        return f"real inputs ({len(examples)} examples of {data_name})", {"features": batch, "lengths": lengths}
    if run.task == "tag":                   # word ids and feature ids (file columns, casing) as evaluate makes them
        from rnnkit.train.tagging import collate_encoded, encode, read_tagged

        artifacts = run.document["artifacts"]
        sentences = read_tagged(data, options)[:count]
        encoded = encode(sentences, run.vocabs["vocab.json"], artifacts["tags"], data_name, artifacts=artifacts,
                         unknown_tags=[])
        batch = collate_encoded(encoded, list(range(len(encoded))))
        feeds = {"tokens": batch.inputs, "lengths": batch.lengths}       # (B, T), (B,)
        if batch.chars is not None:
            feeds.update(chars=batch.chars, char_lengths=batch.char_lengths)     # (B, T, W), (B, T)
        if batch.features is not None:
            feeds["features"] = batch.features                           # (B, T, F)
        return f"real inputs ({len(encoded)} sentences of {data_name})", feeds
    from rnnkit.train.forecasting import read_series

    values, _ = read_series(data, options)
    needed = int(options["window"]) + (1 if run.transform["difference"] else 0)
    starts = np.unique(np.linspace(0, len(values) - needed, num=count).astype(int))
    history = np.stack([values[start:start + needed] for start in starts]).astype(np.float32)
    return f"real inputs ({len(starts)} histories of {needed} values of {data_name})", {"history": history}
