"""RNN, LSTM and GRU layers exported to ONNX and run in ONNX Runtime, against rnnkit's forward.

Every configuration of the layer test table (tests/recurrent_cases.py) that ONNX can express
is exported, accepted by onnx.checker and run in ONNX Runtime; outputs and final states must
equal rnnkit's within 1e-5 (float32). The proj_size cases must be refused with the reason.
"""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install \"rnnkit[onnx]\"")
runtime = pytest.importorskip("onnxruntime", reason="the comparisons need onnxruntime: pip install \"rnnkit[onnx]\"")

import rnnkit  # noqa: E402
import rnnkit.onnx  # noqa: E402
from rnnkit.onnx.check import run_onnx  # noqa: E402
from recurrent_cases import CASES, run_forward  # noqa: E402

EXPORTABLE = [case for case in CASES if not case.proj_size]
PROJECTED = [case for case in CASES if case.proj_size]


def feeds_of(case, inputs, with_states=True):
    feeds = {"x": inputs["x"]}
    if with_states:
        feeds["h0"] = inputs["h0"]
        if case.kind == "LSTM":
            feeds["c0"] = inputs["c0"]
    if case.lengths is not None:
        feeds["lengths"] = np.array(case.lengths, dtype=np.int64)
    return feeds


@pytest.mark.parametrize("case", EXPORTABLE, ids=lambda case: case.id)
def test_layer_matches_onnx_runtime(case, tmp_path):
    layer = case.build(dtype=np.float32, seed=3)
    inputs = case.inputs(seed=4, dtype=np.float32)
    path = rnnkit.onnx.export(layer, tmp_path / "layer.onnx", lengths=case.lengths is not None)
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    ops = [node.op_type for node in model.graph.node if node.op_type in ("RNN", "LSTM", "GRU")]
    assert ops == [case.kind] * case.num_layers                            # one node per layer
    got = run_onnx(path, feeds_of(case, inputs))
    y, final = run_forward(layer, case, inputs)
    finals = list(final) if case.kind == "LSTM" else [final]
    np.testing.assert_allclose(got["y"], y, rtol=0, atol=1e-5)
    for name, expected in zip(("h_n", "c_n"), finals):
        np.testing.assert_allclose(got[name], expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_without_initial_states_and_dynamic_batch_and_time(kind, tmp_path):
    layer = getattr(rnnkit, kind)(3, 5, num_layers=2, bidirectional=True, seed=0)
    path = rnnkit.onnx.export(layer, tmp_path / "layer.onnx", initial_states=False, lengths=True)
    assert [value.name for value in onnx.load(str(path)).graph.input] == ["x", "lengths"]
    rng = np.random.default_rng(0)
    for batch, steps in ((1, 1), (4, 9), (2, 30)):                         # one file, any batch and length
        x = rng.standard_normal((batch, steps, 3)).astype(np.float32)
        lengths = rng.integers(1, steps + 1, size=batch)
        got = run_onnx(path, {"x": x, "lengths": lengths.astype(np.int64)})
        y, final = layer(x, lengths=lengths)
        np.testing.assert_allclose(got["y"], y, rtol=0, atol=1e-5)
        np.testing.assert_allclose(got["h_n"], final[0] if kind == "LSTM" else final, rtol=0, atol=1e-5)


def test_float64_layer_exports_as_float32(tmp_path):
    layer = rnnkit.GRU(4, 6, dtype=np.float64, seed=1)
    x = np.random.default_rng(2).standard_normal((2, 5, 4))
    got = run_onnx(rnnkit.onnx.export(layer, tmp_path / "gru.onnx", initial_states=False),
                   {"x": x.astype(np.float32)})
    y, h_n = layer(x)
    np.testing.assert_allclose(got["y"], y, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got["h_n"], h_n, rtol=0, atol=1e-5)


def test_extreme_inputs_saturate_alike(tmp_path):
    layer = rnnkit.LSTM(3, 4, bidirectional=True, seed=0)
    x = np.random.default_rng(3).choice([-300.0, 300.0], size=(2, 6, 3)).astype(np.float32)
    got = run_onnx(rnnkit.onnx.export(layer, tmp_path / "lstm.onnx", initial_states=False), {"x": x})
    y, (_, c_n) = layer(x)
    assert np.all(np.isfinite(got["y"]))
    np.testing.assert_allclose(got["y"], y, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got["c_n"], c_n, rtol=0, atol=1e-5)


@pytest.mark.parametrize("case", PROJECTED, ids=lambda case: case.id)
def test_projection_is_refused_with_the_reason(case, tmp_path):
    layer = case.build(dtype=np.float32, seed=3)
    with pytest.raises(rnnkit.onnx.ExportError, match=f"proj_size={case.proj_size}.*no projection"):
        rnnkit.onnx.export(layer, tmp_path / "proj.onnx")
    assert not list(tmp_path.iterdir())                                    # nothing written


def test_a_new_layer_without_an_export_is_refused(tmp_path):
    class PeepholeLSTM(rnnkit.LSTM):
        """Stands for a new cell: rnnkit cannot know how ONNX would express it."""

    with pytest.raises(rnnkit.onnx.ExportError, match="PeepholeLSTM has no ONNX export"):
        rnnkit.onnx.export(PeepholeLSTM(3, 4, seed=0), tmp_path / "new.onnx")
    assert not list(tmp_path.iterdir())
