"""Run an exported file in ONNX Runtime and compare it with rnnkit on the same inputs.

``reference_outputs`` computes, with rnnkit, what each graph output should be (the layer's
forward, ``predict_proba``, the tagger's logits (with its feature column ids), ``predict`` plus the run's transform, one
language-model step through the cells); ``random_feeds`` makes inputs for any exported model;
``compare`` puts the two together. Differences are ``max |onnx - rnnkit| / (1 + |rnnkit|)``:
absolute for values below 1, relative for large ones (forecasts in original units).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.layers.recurrent import RecurrentLayer
from rnnkit.models import Forecaster, LanguageModel, SequenceClassifier, SequenceTagger
from rnnkit.onnx._require import require_runtime

TOLERANCE = 1e-5


def session(path_or_bytes: Any) -> Any:
    """An ONNX Runtime CPU session for a file path or serialised model bytes."""
    runtime = require_runtime()
    options = runtime.SessionOptions()
    options.intra_op_num_threads = 1          # comparisons, not speed: leave the cores to others
    source = path_or_bytes if isinstance(path_or_bytes, bytes) else str(path_or_bytes)
    return runtime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run_onnx(path_or_bytes: Any, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every output of the exported model on ``feeds``, by name."""
    runner = session(path_or_bytes)
    names = [output.name for output in runner.get_outputs()]
    return dict(zip(names, runner.run(names, feeds)))


def difference(got: np.ndarray, expected: np.ndarray) -> float:
    """``max |got - expected| / (1 + |expected|)``; inf when the shapes differ."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return float("inf")
    if got.size == 0:
        return 0.0
    return float(np.max(np.abs(got - expected) / (1.0 + np.abs(expected))))


# --- what rnnkit computes for each graph ------------------------------------------------------
def reference_outputs(model: Any, feeds: dict[str, np.ndarray], scaling: dict[str, Any] | None = None,
                      transform: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """rnnkit's values of the graph outputs of :func:`rnnkit.onnx.export` on ``feeds``."""
    with model.inference():
        if isinstance(model, RecurrentLayer):
            return _layer_reference(model, feeds)
        if isinstance(model, (SequenceClassifier, SequenceTagger)):
            x = feeds["tokens"] if "tokens" in feeds else feeds["features"]
            if scaling and "tokens" not in feeds:
                x = ((x - np.asarray(scaling["mean"])) / np.asarray(scaling["std"])).astype(np.float32)
            if isinstance(model, SequenceClassifier):
                return {"probabilities": model.predict_proba(x, feeds["lengths"])}
            extra = {name: feeds[name] for name in ("chars", "char_lengths", "features") if name in feeds}
            return {"scores": model.forward(x, feeds["lengths"], **extra)}   # + characters, feature column ids
        if isinstance(model, Forecaster):
            if transform is None:
                return {"forecast": model.forward(feeds["window"])}
            return {"forecast": _forecast_reference(model, feeds["history"], transform)}
        if isinstance(model, LanguageModel):
            return _language_model_reference(model, feeds)
    raise TypeError(f"no rnnkit reference for {type(model).__name__}")


def _layer_reference(layer: RecurrentLayer, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    lengths = feeds.get("lengths")
    if layer.num_states == 2:                                                # LSTM: (h, c)
        states = (feeds["h0"], feeds["c0"]) if "h0" in feeds else None
        y, (h_n, c_n) = layer(feeds["x"], states, lengths=lengths)
        return {"y": y, "h_n": h_n, "c_n": c_n}
    y, h_n = layer(feeds["x"], feeds.get("h0"), lengths=lengths)
    return {"y": y, "h_n": h_n}


def _forecast_reference(model: Forecaster, history: np.ndarray, transform: dict[str, Any]) -> np.ndarray:
    """What ``rnnkit predict`` prints for each history row (B, N), in original units (B, F)."""
    from rnnkit.train.forecasting import SeriesTransform

    series = SeriesTransform.from_state(transform)
    window = int(transform["window"])
    rows = []
    for values in np.asarray(history, dtype=np.float64):
        recent = values[-(window + (1 if series.difference else 0)):]
        z = series.scaler.transform(series.modelled(recent))
        predicted = model.predict(z[None, -window:, None].astype(np.float32))[..., 0]        # (1, F)
        extended = np.append(values, np.nan)
        rows.append(series.to_original(predicted.astype(np.float64), extended, np.array([len(values)]))[0])
    return np.stack(rows)


def _language_model_reference(model: LanguageModel, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    lstm = model.cell == "lstm"
    states = [(feeds["h"][k], feeds["c"][k]) if lstm else feeds["h"][k] for k in range(model.num_layers)]
    logits, new_states = model.step(model.step_cells(), feeds["token"], states)
    outputs = {"logits": logits, "h_next": np.stack([s[0] if lstm else s for s in new_states])}
    if lstm:
        outputs["c_next"] = np.stack([s[1] for s in new_states])
    return outputs


# --- inputs -------------------------------------------------------------------------------------
def random_feeds(model: Any, rng: np.random.Generator, batch: int = 3, steps: int = 7,
                 input_names: list[str] | None = None, transform: dict[str, Any] | None = None) -> dict[str, Any]:
    """Random inputs for the graph of ``model`` (``input_names``: the graph's, when known)."""
    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    lengths = rng.integers(1, steps + 1, size=batch).astype(np.int64)
    lengths[0] = steps                                                       # one full-length row
    if isinstance(model, RecurrentLayer):
        names = input_names or ["x", "h0"] + (["c0"] if model.num_states == 2 else [])
        states = model.num_layers * model.num_directions
        feeds = {"x": normal(batch, steps, model.input_size), "lengths": lengths}
        feeds.update({name: normal(states, batch, model.hidden_size) for name in ("h0", "c0")})
        return {name: feeds[name] for name in names}
    if isinstance(model, (SequenceClassifier, SequenceTagger)):
        encoder = model.inputs
        if encoder.embedding is not None:
            feeds = {"tokens": rng.integers(0, encoder.vocab_size, size=(batch, steps)).astype(np.int64),
                     "lengths": lengths}
            chars = getattr(model, "chars", None)                            # a tagger's character encoder
            if chars is not None:                                            # W = 6: <w>, up to 4 characters, </w>
                feeds["chars"] = rng.integers(1, chars.num_chars, size=(batch, steps, 6)).astype(np.int64)
                feeds["char_lengths"] = rng.integers(1, 7, size=(batch, steps)).astype(np.int64)
                feeds["chars"][np.arange(6) >= feeds["char_lengths"][..., None]] = 0   # padding after each word
            tables = getattr(model, "features", None) or []                  # a tagger's feature columns
            if tables:
                feeds["features"] = np.stack([rng.integers(0, table.num_embeddings, size=(batch, steps))
                                              for table in tables], axis=2).astype(np.int64)   # (B, T, F)
            return feeds
        return {"features": normal(batch, steps, encoder.output_size), "lengths": lengths}
    if isinstance(model, Forecaster):
        if transform is None:
            return {"window": normal(batch, steps, model.input_size)}
        needed = int(transform["window"]) + (1 if transform["difference"] else 0) + 2   # two extra values to skip
        if transform["log"]:
            return {"history": rng.uniform(1.0, 100.0, size=(batch, needed)).astype(np.float32)}
        return {"history": (10.0 * normal(batch, needed)).astype(np.float32)}
    if isinstance(model, LanguageModel):
        feeds = {"token": rng.integers(0, model.vocab_size, size=batch).astype(np.int64),
                 "h": 0.5 * normal(model.num_layers, batch, model.hidden_size)}
        if model.cell == "lstm":
            feeds["c"] = 0.5 * normal(model.num_layers, batch, model.hidden_size)
        return feeds
    raise TypeError(f"no random inputs for {type(model).__name__}")


def compare(model: Any, path_or_bytes: Any, feeds: dict[str, np.ndarray], scaling: dict[str, Any] | None = None,
            transform: dict[str, Any] | None = None) -> dict[str, float]:
    """The :func:`difference` of each output between ONNX Runtime and rnnkit on ``feeds``."""
    got = run_onnx(path_or_bytes, feeds)
    expected = reference_outputs(model, feeds, scaling, transform)
    return {name: difference(got[name], expected[name]) for name in expected}


def compare_generation(model: LanguageModel, path_or_bytes: Any, tokens: np.ndarray) -> float:
    """Feed ``tokens`` (B, T) one step at a time through both, carrying each one's own states;
    the largest :func:`difference` of logits and states over all steps."""
    runner = session(path_or_bytes)
    names = [output.name for output in runner.get_outputs()]
    batch = tokens.shape[0]
    zeros = np.zeros((model.num_layers, batch, model.hidden_size), dtype=np.float32)
    onnx_states = {"h": zeros, **({"c": zeros} if model.cell == "lstm" else {})}
    rnnkit_states = dict(onnx_states)
    worst = 0.0
    for step in range(tokens.shape[1]):
        token = tokens[:, step].astype(np.int64)
        got = dict(zip(names, runner.run(names, {"token": token, **onnx_states})))
        expected = reference_outputs(model, {"token": token, **rnnkit_states})
        worst = max(worst, *(difference(got[name], expected[name]) for name in expected))
        onnx_states = {name: got[f"{name}_next"] for name in onnx_states}
        rnnkit_states = {name: expected[f"{name}_next"].astype(np.float32) for name in rnnkit_states}
    return worst
