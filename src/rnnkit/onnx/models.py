"""The task models as whole ONNX graphs with named inputs and outputs.

Glossary: B batch, T time, D input features, E embedding size, V vocabulary, H hidden units,
K directions, L layers, C classes or tags, F horizon (forecaster) or feature columns (tagger),
N history length.

=================  ==========================================  ====================================
model              inputs                                      outputs
=================  ==========================================  ====================================
SequenceClassifier ``tokens`` (B, T) int64 (or ``features``    ``probabilities`` (B, C)
                   (B, T, D)), ``lengths`` (B,) int64
SequenceTagger     ``tokens`` (or ``features``), ``lengths``   ``scores`` (B, T, C), the logits
  with a character ``chars`` (B, T, W) int64, ``char_lengths``
  CNN              (B, T) int64: each word's characters
  with feature     ``tokens``, ``lengths``, ``features``
  columns          (B, T, F) int64: one id per column and step
Forecaster         ``window`` (B, T, D)                        ``forecast`` (B, F, O) (or (B, T, F, O))
  with a transform ``history`` (B, N) in original units        ``forecast`` (B, F) in original units
LanguageModel      ``token`` (B,) int64, ``h`` (and ``c``)     ``logits`` (B, V), ``h_next``
                   (L, B, H): one step                         (and ``c_next``)
=================  ==========================================  ====================================

The language model is exported as one step so that generation can loop in any runtime:
feed ``h_next``/``c_next`` back as ``h``/``c`` with the next token.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.layers.char_encoder import CharCNN
from rnnkit.models import Forecaster, LanguageModel, Seq2Seq, SequenceClassifier, SequenceTagger
from rnnkit.onnx.graph import GraphBuilder
from rnnkit.onnx.layers import ExportError, add_recurrent, layer_kind

INT32, DOUBLE, FLOAT = 6, 11, 1            # ONNX TensorProto element types for Cast


def _metadata(graph: GraphBuilder, model: Any, task: str, extra: dict[str, Any] | None) -> dict[str, Any]:
    return {"rnnkit.task": task, "rnnkit.model": type(model).__name__, "rnnkit.config": model.config,
            "rnnkit.inputs": [value.name for value in graph.inputs],
            "rnnkit.outputs": [value.name for value in graph.outputs], **(extra or {})}


def _encoded_inputs(graph: GraphBuilder, encoder: Any, scaling: dict[str, Any] | None) -> str:
    """Graph input ``tokens`` through the embedding, or ``features`` (standardised when
    ``scaling`` holds the run's ``mean`` and ``std``); returns x time-major (T, B, E or D)."""
    if encoder.embedding is not None:
        tokens = graph.input("tokens", np.int64, ["batch", "steps"])
        x = graph.node("Gather", [graph.constant(encoder.embedding.weight.data, "embedding"), tokens])  # (B, T, E)
    else:
        x = graph.input("features", np.float32, ["batch", "steps", encoder.output_size])
        if scaling:
            mean = np.asarray(scaling["mean"], dtype=np.float32)                  # (D,)
            std = np.asarray(scaling["std"], dtype=np.float32)
            x = graph.node("Div", [graph.node("Sub", [x, graph.constant(mean)]), graph.constant(std)])
    return graph.transpose(x, 1, 0, 2)


def _lengths(graph: GraphBuilder) -> tuple[str, str]:
    """Graph input ``lengths`` (B,) int64 and its int32 copy for sequence_lens."""
    lengths = graph.input("lengths", np.int64, ["batch"])
    return lengths, graph.node("Cast", [lengths], to=INT32)


def _top_state(graph: GraphBuilder, h_n: str, directions: int) -> str:
    """The top layer's final states (L*K, B, H) -> (B, K*H), forward direction first."""
    top = graph.node("Slice", [h_n, graph.ints(-directions), graph.ints(np.iinfo(np.int64).max), graph.ints(0)])
    return graph.node("Reshape", [graph.transpose(top, 1, 0, 2), graph.ints(0, -1)])


def classifier_graph(model: SequenceClassifier, scaling: dict[str, Any] | None = None,
                     metadata: dict[str, Any] | None = None) -> Any:
    """Token ids (or features) and lengths -> class probabilities, pooled as the model pools."""
    graph = GraphBuilder("rnnkit_classifier")
    x_tm = _encoded_inputs(graph, model.inputs, scaling)
    lengths, lengths32 = _lengths(graph)
    y_tm, finals = add_recurrent(graph, model.recurrent, x_tm, lengths32)   # y (T, B, K*H)
    if model.pooling == "last":
        summary = _top_state(graph, finals[0], model.num_directions)
    elif model.pooling == "mean":
        total = graph.node("ReduceSum", [y_tm, graph.ints(0)], keepdims=0)  # (B, K*H): y is 0 past lengths
        count = graph.node("Unsqueeze", [graph.node("Cast", [lengths], to=FLOAT), graph.ints(1)])   # (B, 1)
        summary = graph.node("Div", [total, count])
    else:                                                                   # max over the valid steps
        steps = graph.node("Squeeze", [graph.node("Shape", [y_tm], start=0, end=1), graph.ints(0)])
        time = graph.node("Range", [graph.constant(np.int64(0)), steps, graph.constant(np.int64(1))])   # (T,)
        valid = graph.node("Less", [graph.node("Unsqueeze", [time, graph.ints(1)]),
                                    graph.node("Unsqueeze", [lengths, graph.ints(0)])])                 # (T, B)
        masked = graph.node("Where", [graph.node("Unsqueeze", [valid, graph.ints(2)]), y_tm,
                                      graph.constant(np.float32(-np.inf))])
        summary = graph.node("ReduceMax", [masked], axes=[0], keepdims=0)  # (B, K*H)
    logits = graph.linear(summary, model.output.weight.data, _bias(model.output))           # (B, 1) or (B, C)
    if model.binary:
        positive = graph.node("Sigmoid", [logits])
        probabilities = graph.node("Concat", [graph.node("Sub", [graph.constant(np.float32(1.0)), positive]),
                                              positive], axis=1)
    else:
        probabilities = graph.node("Softmax", [logits], axis=-1)
    graph.output(probabilities, "probabilities", np.float32, ["batch", model.num_classes])
    return graph.model(_metadata(graph, model, "classify", metadata))


def tagger_graph(model: SequenceTagger, scaling: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None) -> Any:
    """Token ids (or features) and lengths [and feature column ids] -> tag scores (logits) at every step.

    A tagger with F feature columns (``feature_sizes``: POS, chunk, casing, ...) also reads
    ``features`` (B, T, F) int64, one id per column and step, as
    :meth:`~rnnkit.models.SequenceTagger.forward` does::

        f_t      = features[:, t] where t < lengths, else 0            (B, T, F): padded steps read row 0
        x_t      = [E_word[tokens_t]; E_0[f_t,0]; ...; E_F-1[f_t,F-1]]    (B, T, E + F * E_feature)
        scores_t = Linear(recurrent(x)_t)                               (B, T, C)

    (the input dropout is off in inference). A tagger with a character CNN also reads ``chars``
    (B, T, W) int64 and ``char_lengths`` (B, T) int64, each word's character ids and count as
    :func:`rnnkit.train.tagging.encode` makes them; its word vectors come after the word embedding,
    before the feature columns (:func:`_char_cnn`). A CRF output layer and a character BiLSTM have
    no export yet: an ExportError says so.
    """
    chars = getattr(model, "chars", None)
    pieces = [name for name, present in (("a CRF output layer (its Viterbi decoding is a loop with arg max)",
                                          getattr(model, "crf", None) is not None),
                                         ("character BiLSTM features (--char-features lstm; cnn exports)",
                                          chars is not None and not isinstance(chars, CharCNN)))
              if present]
    if pieces:
        raise ExportError(f"a tagger with {' and '.join(pieces)} has no ONNX export yet: the graph would compute "
                          f"something other than rnnkit's predictions")
    graph = GraphBuilder("rnnkit_tagger")
    x_tm = _encoded_inputs(graph, model.inputs, scaling)                    # (T, B, E or D)
    lengths, lengths32 = _lengths(graph)
    if chars is not None:
        x_tm = graph.node("Concat", [x_tm, _char_cnn(graph, chars, lengths)], axis=2)   # (T, B, E + F_char)
    tables = list(getattr(model, "features", None) or [])
    if tables:
        x_tm = graph.node("Concat", [x_tm, _feature_columns(graph, tables, lengths)], axis=2)   # (T, B, E + F*E_f)
    y_tm, _ = add_recurrent(graph, model.recurrent, x_tm, lengths32)
    scores = graph.linear(graph.transpose(y_tm, 1, 0, 2), model.output.weight.data, _bias(model.output))
    graph.output(scores, "scores", np.float32, ["batch", "steps", model.num_tags])
    return graph.model(_metadata(graph, model, "tag", metadata))


def _valid_steps(graph: GraphBuilder, per_step: str, lengths: str) -> str:
    """(B, T) bool: step t of row b is within ``lengths[b]``; T read from ``per_step`` (B, T, ...)."""
    steps = graph.node("Squeeze", [graph.node("Shape", [per_step], start=1, end=2), graph.ints(0)])  # ()
    time = graph.node("Range", [graph.constant(np.int64(0)), steps, graph.constant(np.int64(1))])  # (T,)
    return graph.node("Less", [graph.node("Unsqueeze", [time, graph.ints(0)]),
                               graph.node("Unsqueeze", [lengths, graph.ints(1)])])


def _char_cnn(graph: GraphBuilder, cnn: CharCNN, lengths: str) -> str:
    """Graph inputs ``chars`` (B, T, W) and ``char_lengths`` (B, T) -> each word's CharCNN vector,
    time-major (T, B, F), zero at steps past ``lengths`` as in ``SequenceTagger.forward`` (whose
    ids and counts there are never read: padded steps read id 0)::

        e        = table[chars] with row 0 (padding) zero           (B*T, C, W) after the transpose
        z        = Conv(e, weight (F, C, k), bias, pads p and k-1-p)      (B*T, F, W)
        out      = max over positions j < char_lengths of z              (B*T, F) -> (B, T, F)
    """
    chars = graph.input("chars", np.int64, ["batch", "steps", "characters"])
    char_lengths = graph.input("char_lengths", np.int64, ["batch", "steps"])
    valid = graph.node("Unsqueeze", [_valid_steps(graph, chars, lengths), graph.ints(2)])        # (B, T, 1)
    ids = graph.node("Where", [valid, chars, graph.constant(np.int64(0))])                        # (B, T, W)
    table = np.array(cnn.embedding.weight.data, dtype=np.float32)
    table[0] = 0.0                                          # rnnkit zeroes padding whatever row 0 holds
    embedded = graph.node("Gather", [graph.constant(table, "char_embedding"), ids])               # (B, T, W, C)
    width = graph.node("Shape", [chars], start=2, end=3)                                         # (1,) = [W]
    words = graph.node("Reshape", [embedded, graph.node("Concat", [graph.ints(-1), width,
                                                                   graph.ints(cnn.embedding_dim)], axis=0)])
    left = (cnn.kernel_size - 1) // 2
    conv = graph.node("Conv", [graph.transpose(words, 0, 2, 1), graph.constant(cnn.weight.data, "char_conv_weight"),
                               graph.constant(cnn.bias.data, "char_conv_bias")],
                      kernel_shape=[cnn.kernel_size], pads=[left, cnn.kernel_size - 1 - left])          # (B*T, F, W)
    position = graph.node("Range", [graph.constant(np.int64(0)), graph.node("Squeeze", [width, graph.ints(0)]),
                                    graph.constant(np.int64(1))])                                  # (W,)
    inside = graph.node("Less", [graph.node("Unsqueeze", [position, graph.ints(0)]),
                                 graph.node("Reshape", [char_lengths, graph.ints(-1, 1)])])        # (B*T, W)
    masked = graph.node("Where", [graph.node("Unsqueeze", [inside, graph.ints(1)]), conv,
                                  graph.constant(np.float32(-np.inf))])
    best = graph.node("ReduceMax", [masked], axes=[2], keepdims=0)                                 # (B*T, F)
    batch_steps = graph.node("Shape", [chars], start=0, end=2)                                    # [B, T]
    vectors = graph.node("Reshape", [best, graph.node("Concat", [batch_steps, graph.ints(cnn.num_filters)],
                                                      axis=0)])                                    # (B, T, F)
    vectors = graph.node("Where", [valid, vectors, graph.constant(np.float32(0.0))])              # padded steps: 0
    return graph.transpose(vectors, 1, 0, 2)


def _feature_columns(graph: GraphBuilder, tables: list[Any], lengths: str) -> str:
    """Graph input ``features`` (B, T, F) int64 -> each column through its own table, concatenated
    in column order and time-major (T, B, F * E_feature); padded steps read id 0 (a zero row)."""
    features = graph.input("features", np.int64, ["batch", "steps", len(tables)])
    valid = _valid_steps(graph, features, lengths)                                                # (B, T)
    ids = graph.node("Where", [graph.node("Unsqueeze", [valid, graph.ints(2)]), features,
                               graph.constant(np.int64(0))])                                      # (B, T, F)
    embedded = []
    for column, table in enumerate(tables):
        column_ids = graph.node("Squeeze", [graph.node("Gather", [ids, graph.ints(column)], axis=2),
                                            graph.ints(2)])                                       # (B, T)
        weight = graph.constant(table.weight.data, f"feature_embedding_{column}")                 # (V_f, E_f)
        embedded.append(graph.node("Gather", [weight, column_ids]))                               # (B, T, E_f)
    x = embedded[0] if len(embedded) == 1 else graph.node("Concat", embedded, axis=2)             # (B, T, F*E_f)
    return graph.transpose(x, 1, 0, 2)


def forecaster_graph(model: Forecaster, transform: dict[str, Any] | None = None,
                     metadata: dict[str, Any] | None = None) -> Any:
    """Windows -> forecasts; with ``transform`` the scaling is inside the graph (original units).

    ``transform`` is a forecast run's ``{"log", "difference", "center", "scale", "window"}``:
    the graph reads ``history`` (B, N >= window (+1 with difference)) in original units, uses
    its last values as ``rnnkit predict`` does and returns ``forecast`` (B, F) in original units
    (the transform in float64, the network in float32).
    """
    graph = GraphBuilder("rnnkit_forecaster")
    if transform is None:
        x = graph.input("window", np.float32, ["batch", "steps", model.input_size])
        x_tm = graph.transpose(x, 1, 0, 2)
    else:
        if model.input_size != 1 or model.output_size != 1 or model.mode != "many_to_one":
            raise ExportError("a forecast run's transform fits a one-feature many_to_one Forecaster, got input_size "
                              f"{model.input_size}, output_size {model.output_size}, mode {model.mode!r}")
        x_tm, base = _transformed_history(graph, transform)
    y_tm, finals = add_recurrent(graph, model.recurrent, x_tm)
    bias = _bias(model.output)
    if model.mode == "many_to_one":
        features = _top_state(graph, finals[0], 1)                                     # (B, H)
        outputs = graph.linear(features, model.output.weight.data, bias)               # (B, F*O)
        shape, names = (0, model.horizon, model.output_size), ["batch", model.horizon, model.output_size]
    else:
        outputs = graph.linear(graph.transpose(y_tm, 1, 0, 2), model.output.weight.data, bias)   # (B, T, F*O)
        shape, names = (0, 0, model.horizon, model.output_size), ["batch", "steps", model.horizon, model.output_size]
    if transform is None:
        graph.output(graph.node("Reshape", [outputs, graph.ints(*shape)]), "forecast", np.float32, names)
    else:
        forecast = _original_units(graph, outputs, base, transform)
        graph.output(forecast, "forecast", np.float32, ["batch", model.horizon])
    return graph.model(_metadata(graph, model, "forecast", metadata))


def _transformed_history(graph: GraphBuilder, transform: dict[str, Any]) -> tuple[str, str | None]:
    """History (B, N) in original units -> scaled windows (W, B, 1), and the last level (B, 1)."""
    window, difference = int(transform["window"]), bool(transform["difference"])
    needed = window + (1 if difference else 0)
    history = graph.input("history", np.float32, ["batch", "history"])
    recent = graph.node("Slice", [history, graph.ints(-needed), graph.ints(np.iinfo(np.int64).max), graph.ints(1)])
    levels = graph.node("Cast", [recent], to=DOUBLE)                                   # (B, W (+1))
    if transform["log"]:
        levels = graph.node("Log", [levels])
    base = None
    modelled = levels
    if difference:
        end = np.iinfo(np.int64).max
        later = graph.node("Slice", [levels, graph.ints(1), graph.ints(end), graph.ints(1)])
        earlier = graph.node("Slice", [levels, graph.ints(0), graph.ints(-1), graph.ints(1)])
        modelled = graph.node("Sub", [later, earlier])                                   # (B, W)
        base = graph.node("Slice", [levels, graph.ints(-1), graph.ints(end), graph.ints(1)])   # (B, 1)
    center = graph.constant(np.float64(transform["center"]), dtype=np.float64)
    scale = graph.constant(np.float64(transform["scale"]), dtype=np.float64)
    z = graph.node("Cast", [graph.node("Div", [graph.node("Sub", [modelled, center]), scale])], to=FLOAT)
    return graph.node("Unsqueeze", [graph.transpose(z, 1, 0), graph.ints(2)]), base    # (W, B, 1)


def _original_units(graph: GraphBuilder, outputs: str, base: str | None, transform: dict[str, Any]) -> str:
    """Scaled predictions (B, F) -> original units, undoing scaling, differencing and log."""
    center = graph.constant(np.float64(transform["center"]), dtype=np.float64)
    scale = graph.constant(np.float64(transform["scale"]), dtype=np.float64)
    z = graph.node("Add", [graph.node("Mul", [graph.node("Cast", [outputs], to=DOUBLE), scale]), center])
    if base is not None:
        z = graph.node("Add", [base, graph.node("CumSum", [z, graph.constant(np.int64(1))])])
    if transform["log"]:
        z = graph.node("Exp", [z])
    return graph.node("Cast", [z], to=FLOAT)


def language_model_graph(model: LanguageModel, metadata: dict[str, Any] | None = None) -> Any:
    """One step: ``token`` (B,) and the states (L, B, H) -> ``logits`` (B, V) and the next states."""
    kind = layer_kind(model.rnn)
    graph = GraphBuilder("rnnkit_language_model_step")
    token = graph.input("token", np.int64, ["batch"])
    if model.embedding is not None:
        x = graph.node("Gather", [graph.constant(model.embedding.weight.data, "embedding"), token])   # (B, E)
    else:
        x = graph.node("OneHot", [token, graph.constant(np.int64(model.vocab_size)),
                                  graph.constant(np.array([0.0, 1.0], dtype=np.float32))], axis=-1)  # (B, V)
    state_names = ("h", "c") if kind == "LSTM" else ("h",)
    state_shape = [model.num_layers, "batch", model.hidden_size]
    states = tuple(graph.input(name, np.float32, state_shape) for name in state_names)
    y_tm, finals = add_recurrent(graph, model.rnn, graph.node("Unsqueeze", [x, graph.ints(0)]), None, states)
    top = graph.node("Squeeze", [y_tm, graph.ints(0)])                                 # (B, H)
    logits = graph.linear(top, model.head.weight.data, _bias(model.head))              # (B, V)
    graph.output(logits, "logits", np.float32, ["batch", model.vocab_size])
    for final, name in zip(finals, state_names):
        graph.output(final, f"{name}_next", np.float32, state_shape)
    return graph.model(_metadata(graph, model, "lm", metadata))


def _bias(linear: Any) -> np.ndarray | None:
    return None if linear.bias is None else linear.bias.data


def model_graph(model: Any, scaling: dict[str, Any] | None = None, transform: dict[str, Any] | None = None,
                metadata: dict[str, Any] | None = None) -> Any:
    """The graph of any exportable task model (see the table in this module's docstring)."""
    if isinstance(model, Seq2Seq):
        raise ExportError("Seq2Seq has no ONNX export yet: its attention decoder and beam search are a loop "
                          "over decoder steps that this exporter does not build; export the classifier, tagger, "
                          "forecaster or language model instead")
    if isinstance(model, SequenceClassifier):
        return classifier_graph(model, scaling, metadata)
    if isinstance(model, SequenceTagger):
        return tagger_graph(model, scaling, metadata)
    if isinstance(model, Forecaster):
        return forecaster_graph(model, transform, metadata)
    if isinstance(model, LanguageModel):
        return language_model_graph(model, metadata)
    raise ExportError(f"{type(model).__name__} has no ONNX export: rnnkit exports RNN, LSTM and GRU layers and the "
                      f"SequenceClassifier, SequenceTagger, Forecaster and LanguageModel task models")
