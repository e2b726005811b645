"""Deploy anywhere: rnnkit's layers and task models as ONNX files, and ONNX recurrent nodes back.

``export(model, path)`` writes an RNN, LSTM or GRU layer, or a classifier, tagger, forecaster or
language model (one step), as an ONNX file that ``onnx.checker`` accepts and ONNX Runtime runs;
``load_recurrent(path)`` reads the RNN/LSTM/GRU nodes of an ONNX file (for example one that
``torch.onnx.export`` wrote for an ``nn.LSTM``) into rnnkit layers. ``rnnkit export RUN OUT.onnx``
does the same for a run directory.

The ``onnx`` package (and ``onnxruntime`` for the comparisons) is optional:
``pip install "rnnkit[onnx]"``. Importing this package does not need it; the functions that do
say so. Modules: ``layers`` (the recurrent nodes and the weight conversion), ``models`` (the
task graphs), ``load`` (ONNX -> rnnkit), ``check`` (ONNX Runtime against rnnkit), ``graph``
(the graph builder and the atomic write).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnkit.onnx._require import INSTALL, require_onnx
from rnnkit.onnx.layers import ExportError
from rnnkit.onnx.load import load_recurrent

__all__ = ["export", "to_model", "load_recurrent", "ExportError", "INSTALL"]


def to_model(model: Any, *, lengths: bool = False, initial_states: bool = True, scaling: dict | None = None,
             transform: dict | None = None, metadata: dict | None = None) -> Any:
    """The checked ONNX ``ModelProto`` of ``model`` (see :func:`export` for the arguments)."""
    from rnnkit.layers.recurrent import RecurrentLayer
    from rnnkit.onnx.layers import layer_graph
    from rnnkit.onnx.models import model_graph

    require_onnx()
    if isinstance(model, RecurrentLayer):
        return layer_graph(model, lengths=lengths, initial_states=initial_states, metadata=metadata)
    return model_graph(model, scaling=scaling, transform=transform, metadata=metadata)


def export(model: Any, path: str | Path, *, lengths: bool = False, initial_states: bool = True,
           scaling: dict | None = None, transform: dict | None = None, metadata: dict | None = None) -> Path:
    """Write ``model`` to ``path`` as an ONNX file (opset 17, float32); returns the path.

    Parameters
    ----------
    model : RNN, LSTM, GRU, SequenceClassifier, SequenceTagger, Forecaster or LanguageModel
        Layers become inputs ``x`` (B, T, D) [, ``lengths`` (B,)] [, ``h0`` [, ``c0``]] and
        outputs ``y``, ``h_n`` [, ``c_n``]; the task models' inputs and outputs are listed in
        :mod:`rnnkit.onnx.models`. The eval graph is exported (no dropout).
    path : str or Path
        Written atomically: a temporary file in the same folder, renamed into place.
    lengths : bool
        Layers only: add the ``lengths`` input (ONNX ``sequence_lens``).
    initial_states : bool
        Layers only: add the ``h0`` (and ``c0``) inputs; without them the states start at zero.
    scaling : dict or None
        Classifier or tagger on features: ``{"mean": ..., "std": ...}`` applied inside the graph.
    transform : dict or None
        Forecaster: a forecast run's ``{"log", "difference", "center", "scale", "window"}``; the
        graph then reads a history in original units and forecasts in original units.
    metadata : dict or None
        Extra ``metadata_props`` (non-string values stored as JSON), e.g. the vocabulary.

    Raises
    ------
    ExportError (a ValueError)
        For what ONNX cannot express (LSTM ``proj_size``, layers without an export, Seq2Seq).
    ImportError
        Without the onnx package; the message says ``pip install "rnnkit[onnx]"``.
    OSError
        When ``path`` cannot be written; no file is left behind.
    """
    from rnnkit.onnx.graph import write_model

    return write_model(to_model(model, lengths=lengths, initial_states=initial_states, scaling=scaling,
                                transform=transform, metadata=metadata), path)
