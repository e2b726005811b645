"""ONNX files both ways with PyTorch: torch.onnx's nn.LSTM / nn.GRU / nn.RNN into rnnkit, rnnkit's
export against torch's outputs.

torch 2.13's torch.onnx.export defaults to the dynamo exporter, which needs onnxscript (not a
dependency here); ``dynamo=False`` selects the TorchScript exporter, which writes one ONNX
node per layer with the weights as initializers. If that exporter is unavailable the tests
that need it skip and say so.
"""

import io
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX import needs the onnx extra: pip install \"rnnkit[onnx]\"")
runtime = pytest.importorskip("onnxruntime", reason="the comparisons need onnxruntime: pip install \"rnnkit[onnx]\"")
torch = pytest.importorskip("torch", reason="parity with torch.onnx needs torch (a test dependency)")

import rnnkit  # noqa: E402
import rnnkit.onnx  # noqa: E402
from rnnkit.onnx.check import run_onnx  # noqa: E402

CONFIGS = [
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"num_layers": 1, "bias": False}),
    ("GRU", {"num_layers": 2}),
    ("GRU", {"num_layers": 1, "bidirectional": True}),
    ("RNN", {"num_layers": 2, "nonlinearity": "relu"}),
]


def torch_onnx_bytes(module, x) -> bytes:
    """``torch.onnx.export`` with the TorchScript exporter, or a skip saying why it is not available."""
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                 # its deprecation notice and batch-size advice
            torch.onnx.export(module, (x,), buffer, dynamo=False, input_names=["x"],
                              output_names=["y", "h_n"] + (["c_n"] if isinstance(module, torch.nn.LSTM) else []),
                              dynamic_axes={"x": {0: "batch", 1: "steps"}}, opset_version=17)
    except (ImportError, ModuleNotFoundError, TypeError, RuntimeError) as error:
        pytest.skip(f"torch.onnx.export(dynamo=False) is not usable with torch {torch.__version__}: {error}")
    return buffer.getvalue()


def torch_module(kind, options, seed=0):
    torch.manual_seed(seed)
    module = getattr(torch.nn, kind)(3, 5, batch_first=True, **options)
    with torch.no_grad():                                   # random nonzero biases, as in the parity tests
        for name, parameter in module.named_parameters():
            if name.startswith("bias"):
                parameter.uniform_(-0.5, 0.5)
    return module.eval()


@pytest.mark.parametrize("kind, options", CONFIGS, ids=lambda value: str(value))
def test_torch_onnx_file_loads_into_rnnkit(kind, options):
    module = torch_module(kind, options)
    x = torch.randn(2, 6, 3, generator=torch.Generator().manual_seed(1))
    data = torch_onnx_bytes(module, x)
    nodes = [node.op_type for node in onnx.load_from_string(data).graph.node if node.op_type == kind]
    assert len(nodes) == module.num_layers
    layers = rnnkit.onnx.load_recurrent(onnx.load_from_string(data))
    assert len(layers) == module.num_layers and all(type(layer).__name__ == kind for layer in layers)
    layer = rnnkit.onnx.load_recurrent(onnx.load_from_string(data), stack=True)
    assert (layer.num_layers, layer.bidirectional, layer.bias) == (module.num_layers, module.bidirectional,
                                                                  module.bias)
    for name, parameter in module.named_parameters():     # the same weights under the same names
        np.testing.assert_allclose(getattr(layer, name).data, parameter.detach().numpy(), rtol=0, atol=0)
    with torch.no_grad():
        expected = module(x)
    y, final = layer(x.numpy())
    np.testing.assert_allclose(y, expected[0].numpy(), rtol=0, atol=1e-5)
    h_n = final[0] if kind == "LSTM" else final
    np.testing.assert_allclose(h_n, (expected[1][0] if kind == "LSTM" else expected[1]).numpy(), rtol=0, atol=1e-5)
    onnx_y = run_onnx(data, {"x": x.numpy()})["y"]            # and torch's file in ONNX Runtime agrees
    np.testing.assert_allclose(y, onnx_y, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind, options", CONFIGS, ids=lambda value: str(value))
def test_rnnkit_export_of_torch_weights_matches_torch(kind, options, tmp_path):
    module = torch_module(kind, options, seed=2)
    layer = getattr(rnnkit, kind)(3, 5, seed=0, **options)
    layer.load_state_dict({name: value.detach().numpy() for name, value in module.state_dict().items()})
    x = torch.randn(3, 7, 3, generator=torch.Generator().manual_seed(3))
    lengths = torch.tensor([7, 2, 5])
    path = rnnkit.onnx.export(layer, tmp_path / "layer.onnx", lengths=True, initial_states=False)
    got = run_onnx(path, {"x": x.numpy(), "lengths": lengths.numpy().astype(np.int64)})
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    with torch.no_grad():
        output, final = module(packed)
    y, _ = torch.nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=7)
    np.testing.assert_allclose(got["y"], y.numpy(), rtol=0, atol=1e-5)
    h_n = final[0] if kind == "LSTM" else final
    np.testing.assert_allclose(got["h_n"], h_n.numpy(), rtol=0, atol=1e-5)
    if kind == "LSTM":
        np.testing.assert_allclose(got["c_n"], final[1].numpy(), rtol=0, atol=1e-5)
