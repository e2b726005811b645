"""rnnkit.save / rnnkit.load: round trips, PyTorch compatibility, atomic writes, clear refusals.

A checkpoint is a safetensors file (never pickle) holding every parameter under its PyTorch
name plus, in the metadata, the class, the constructor arguments and the dtype.
"""

from __future__ import annotations

import json
import os
import pathlib
import re

import numpy as np
import pytest
from safetensors.numpy import load_file as numpy_load_file
from safetensors.numpy import save_file as numpy_save_file

import rnnkit
import rnnkit.serialization
from rnnkit import GRU, LSTM, RNN, Dropout, Embedding, GRUCell, Linear, LSTMCell, RNNCell
from rnnkit.serialization import read_file

TORCH_REASON = "PyTorch not installed: the PyTorch-compatibility tests need it (pip install torch==2.13.0)"
SRC = pathlib.Path(rnnkit.__file__).parent


# --- the modules under test and how to run them ------------------------------------------------
CASES = {
    "RNN": lambda dtype: RNN(3, 4, num_layers=2, nonlinearity="relu", bidirectional=True, dtype=dtype, seed=1),
    "LSTM": lambda dtype: LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, dtype=dtype, seed=2),
    "GRU": lambda dtype: GRU(3, 4, num_layers=2, dtype=dtype, seed=3),
    "GRU-nobias": lambda dtype: GRU(3, 4, bias=False, dtype=dtype, seed=3),
    "Linear": lambda dtype: Linear(3, 4, dtype=dtype, seed=4),
    "Embedding": lambda dtype: Embedding(9, 4, padding_idx=2, dtype=dtype, seed=5),
    "RNNCell": lambda dtype: RNNCell(3, 4, nonlinearity="relu", dtype=dtype, seed=6),
    "LSTMCell": lambda dtype: LSTMCell(3, 4, dtype=dtype, seed=7),
    "GRUCell": lambda dtype: GRUCell(3, 4, dtype=dtype, seed=8),
}


def example_input(module):
    rng = np.random.default_rng(0)
    if isinstance(module, Embedding):
        return np.array([[0, 2, 8], [5, 5, 1]])
    if isinstance(module, (RNN, LSTM, GRU)):
        return rng.standard_normal((2, 5, 3))
    return rng.standard_normal((2, 3))


def outputs(module, x):
    """Every array a forward returns, flattened to a list."""
    result = module.eval()(x)
    flat = []
    stack = [result]
    while stack:
        item = stack.pop(0)
        if isinstance(item, (tuple, list)):
            stack[:0] = list(item)
        else:
            flat.append(np.asarray(item))
    return flat


@pytest.fixture
def path(tmp_path):
    return tmp_path / "model.safetensors"


# --- round trips -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_rebuilds_identical_module(name, dtype, path):
    module = CASES[name](dtype)
    rnnkit.save(module, path)
    again = rnnkit.load(path)
    assert type(again) is type(module)
    assert again.config == module.config
    assert again.dtype == module.dtype
    assert list(again.state_dict()) == list(module.state_dict())
    for (key, a), (_, b) in zip(module.named_parameters(), again.named_parameters()):
        assert b.dtype == a.dtype, key
        np.testing.assert_array_equal(b.data, a.data, err_msg=key)
    x = example_input(module)
    for y_saved, y_loaded in zip(outputs(module, x), outputs(again, x)):
        np.testing.assert_array_equal(y_loaded, y_saved)


@pytest.mark.parametrize("name", list(CASES))
def test_load_into_existing_module(name, path):
    module = CASES[name](np.float64)
    rnnkit.save(module, path)
    target = CASES[name](np.float64)
    for p in target.parameters():
        p.data[...] = 0.0
    assert rnnkit.load(str(path), module=target) is target
    for (key, a), (_, b) in zip(module.named_parameters(), target.named_parameters()):
        np.testing.assert_array_equal(b.data, a.data, err_msg=key)


def test_dropout_round_trip(path):
    rnnkit.save(Dropout(0.25, seed=0), path)
    again = rnnkit.load(path)
    assert isinstance(again, Dropout) and again.p == 0.25


def test_file_holds_pytorch_names_and_metadata(path):
    lstm = CASES["LSTM"](np.float32)
    rnnkit.save(lstm, path)
    tensors, metadata = read_file(path)
    assert set(numpy_load_file(str(path))) == set(lstm.state_dict())     # plain safetensors reads it
    assert set(tensors) == set(lstm.state_dict())
    assert metadata["rnnkit.class"] == "LSTM"
    assert json.loads(metadata["rnnkit.config"]) == lstm.config
    assert metadata["rnnkit.dtype"] == "float32"
    assert metadata["format"] == "pt"
    assert all(array.dtype == np.float32 for array in tensors.values())


def test_save_overwrites_an_existing_file(path):
    rnnkit.save(Linear(3, 4, seed=0), path)
    second = Linear(3, 4, seed=1)
    rnnkit.save(second, path)
    np.testing.assert_array_equal(rnnkit.load(path).weight.data, second.weight.data)
    assert os.listdir(path.parent) == [path.name]


def test_save_refuses_non_modules(path):
    with pytest.raises(TypeError, match="save expected an rnnkit Module, got dict"):
        rnnkit.save({"weight": np.zeros(2)}, path)
    assert not path.exists()


# --- PyTorch reads the same file ---------------------------------------------------------------
def torch_twin(module):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    nn = torch.nn
    config = module.config
    recurrent = dict(input_size=config.get("input_size"), hidden_size=config.get("hidden_size"),
                     bias=config.get("bias"))
    if isinstance(module, RNN):
        twin = nn.RNN(**recurrent, num_layers=config["num_layers"], nonlinearity=config["nonlinearity"],
                      dropout=config["dropout"], bidirectional=config["bidirectional"], batch_first=True)
    elif isinstance(module, LSTM):
        twin = nn.LSTM(**recurrent, num_layers=config["num_layers"], dropout=config["dropout"],
                       bidirectional=config["bidirectional"], proj_size=config["proj_size"], batch_first=True)
    elif isinstance(module, GRU):
        twin = nn.GRU(**recurrent, num_layers=config["num_layers"], dropout=config["dropout"],
                      bidirectional=config["bidirectional"], batch_first=True)
    elif isinstance(module, Linear):
        twin = nn.Linear(config["in_features"], config["out_features"], bias=config["bias"])
    elif isinstance(module, Embedding):
        twin = nn.Embedding(config["num_embeddings"], config["embedding_dim"], padding_idx=config["padding_idx"])
    elif isinstance(module, RNNCell):
        twin = nn.RNNCell(**recurrent, nonlinearity=config["nonlinearity"])
    elif isinstance(module, LSTMCell):
        twin = nn.LSTMCell(**recurrent)
    else:
        twin = nn.GRUCell(**recurrent)
    return torch, twin.double().eval()


@pytest.mark.parametrize("name", list(CASES))
def test_pytorch_loads_the_file_and_computes_the_same(name, path):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    from safetensors.torch import load_file as torch_load_file

    module = CASES[name](np.float64)
    rnnkit.save(module, path)
    torch, twin = torch_twin(module)
    state = torch_load_file(str(path))
    assert list(twin.state_dict()) == list(module.state_dict())          # same names, same order
    twin.load_state_dict(state, strict=True)
    for key, value in twin.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), module.state_dict()[key], err_msg=key)

    x = example_input(module)
    ours = outputs(module, x)
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x))
    flat = []
    stack = [theirs]
    while stack:
        item = stack.pop(0)
        if isinstance(item, (tuple, list)):
            stack[:0] = list(item)
        else:
            flat.append(item.numpy())
    assert len(flat) == len(ours)
    for a, b in zip(ours, flat):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_pytorch_file_loads_into_rnnkit(path):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    from safetensors.torch import save_file as torch_save_file

    lstm = LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, dtype=np.float64, seed=0)
    torch.manual_seed(0)
    twin = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, batch_first=True).double()
    torch_save_file({k: v.contiguous() for k, v in twin.state_dict().items()}, str(path))
    tensors, _ = read_file(path)
    lstm.load_state_dict(tensors)
    for key, value in twin.state_dict().items():
        np.testing.assert_array_equal(getattr(lstm, key).data, value.numpy(), err_msg=key)
    with pytest.raises(ValueError, match="not written by rnnkit.save"):
        rnnkit.load(path)          # no rnnkit metadata: the class is unknown, so load() refuses


# --- atomic writes -----------------------------------------------------------------------------
class Interrupted(Exception):
    pass


def failing_save_file(exception):
    """A stand-in for safetensors' save_file that writes half a file, then fails."""

    def save_file(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":")   # a truncated header
        raise exception

    return save_file


@pytest.mark.parametrize("exception", [Interrupted("disk full"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_interrupted_save_keeps_the_previous_file(exception, path, monkeypatch):
    rnnkit.save(Linear(3, 4, seed=0), path)
    before = path.read_bytes()
    monkeypatch.setattr(rnnkit.serialization, "save_file", failing_save_file(exception))
    with pytest.raises(type(exception)):
        rnnkit.save(Linear(3, 4, seed=1), path)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name], "a temporary file was left behind"
    monkeypatch.undo()
    np.testing.assert_array_equal(rnnkit.load(path).weight.data, Linear(3, 4, seed=0).weight.data)


def test_interrupted_first_save_leaves_nothing(path, monkeypatch):
    monkeypatch.setattr(rnnkit.serialization, "save_file", failing_save_file(Interrupted("boom")))
    with pytest.raises(Interrupted):
        rnnkit.save(GRU(2, 3, seed=0), path)
    assert os.listdir(path.parent) == []


def test_failed_rename_keeps_the_previous_file(path, monkeypatch):
    rnnkit.save(Linear(3, 4, seed=0), path)
    before = path.read_bytes()

    def failing_replace(source, target):
        raise OSError("rename failed")

    monkeypatch.setattr(rnnkit.serialization.os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        rnnkit.save(Linear(3, 4, seed=1), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_not_saved(bad, path):
    rnnkit.save(LSTM(3, 4, seed=0), path)
    before = path.read_bytes()
    broken = LSTM(3, 4, seed=1)
    broken.bias_hh_l0.data[3] = bad
    with pytest.raises(ValueError, match="refusing to save LSTM: parameter bias_hh_l0 contains NaN or infinite"):
        rnnkit.save(broken, path)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]


# --- refusing bad files ------------------------------------------------------------------------
def rewrite(path, change_tensors=None, change_metadata=None):
    """Rewrite an rnnkit file with altered tensors and/or metadata (as a tampered file would be)."""
    tensors, metadata = read_file(path)
    if change_tensors:
        change_tensors(tensors)
    if change_metadata:
        change_metadata(metadata)
    numpy_save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path), metadata=metadata)


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        rnnkit.load(missing)
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        rnnkit.load(tmp_path)                        # a folder is not a checkpoint file


@pytest.mark.parametrize("content", [b"", os.urandom(300), b"\x00" * 64, b"not a safetensors file at all"],
                         ids=["empty", "random", "zeros", "text"])
def test_not_a_safetensors_file(content, path):
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(path)) + " is not a readable safetensors file"):
        rnnkit.load(path)


def test_safetensors_file_not_written_by_rnnkit(path):
    numpy_save_file({"weight": np.zeros((4, 3), np.float32), "bias": np.zeros(4, np.float32)}, str(path))
    with pytest.raises(ValueError, match=r"was not written by rnnkit.save \(metadata 'rnnkit.format' is None"):
        rnnkit.load(path)
    with pytest.raises(ValueError, match="not written by rnnkit.save"):
        rnnkit.load(path, module=Linear(3, 4))


def test_newer_format_version_is_refused(path):
    rnnkit.save(Linear(3, 4, seed=0), path)
    rewrite(path, change_metadata=lambda m: m.update({"rnnkit.format": "2"}))
    with pytest.raises(ValueError, match=r"metadata 'rnnkit.format' is '2', expected '1'"):
        rnnkit.load(path)


def test_wrong_dtype_in_file(path):
    rnnkit.save(GRU(3, 4, seed=0), path)                    # float32 metadata
    rewrite(path, change_tensors=lambda t: t.update(weight_hh_l0=t["weight_hh_l0"].astype(np.float64)))
    with pytest.raises(ValueError, match=r"expected float32 tensors, got weight_hh_l0: float64"):
        rnnkit.load(path)


def test_loading_into_a_module_of_another_dtype(path):
    rnnkit.save(GRU(3, 4, seed=0), path)
    target = GRU(3, 4, dtype=np.float64, seed=1)
    before = target.state_dict()
    with pytest.raises(ValueError, match=r"expected float64 tensors, got .*weight_ih_l0: float32"):
        rnnkit.load(path, module=target)
    for key, value in target.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_missing_tensor(path):
    rnnkit.save(LSTM(3, 4, seed=0), path)
    rewrite(path, change_tensors=lambda t: t.pop("bias_hh_l0"))
    with pytest.raises(ValueError, match=r"missing keys \['bias_hh_l0'\]"):
        rnnkit.load(path)


def test_extra_tensor(path):
    rnnkit.save(LSTM(3, 4, seed=0), path)
    rewrite(path, change_tensors=lambda t: t.update(weight_hr_l0=np.zeros((2, 4), np.float32)))
    with pytest.raises(ValueError, match=r"unexpected keys \['weight_hr_l0'\]"):
        rnnkit.load(path)


def test_wrong_shape_tensor(path):
    rnnkit.save(RNN(3, 4, seed=0), path)
    rewrite(path, change_tensors=lambda t: t.update(weight_hh_l0=np.zeros((4, 5), np.float32)))
    with pytest.raises(ValueError, match=r"weight_hh_l0: expected shape \(4, 4\), got \(4, 5\)"):
        rnnkit.load(path)


def test_non_finite_tensor_in_file(path):
    rnnkit.save(Linear(3, 4, seed=0), path)
    rewrite(path, change_tensors=lambda t: t["bias"].__setitem__(1, np.nan))
    with pytest.raises(ValueError, match=r"bias: contains NaN or infinite"):
        rnnkit.load(path)


def test_different_config_is_named(path):
    rnnkit.save(GRU(3, 4, seed=0), path)
    target = GRU(3, 5, seed=1)
    before = target.state_dict()
    with pytest.raises(ValueError) as info:
        rnnkit.load(path, module=target)
    message = str(info.value)
    assert "does not match" in message
    assert "'hidden_size': 4" in message and "'hidden_size': 5" in message
    for key, value in target.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_different_class_is_named(path):
    rnnkit.save(GRU(3, 4, seed=0), path)
    with pytest.raises(ValueError, match=r"holds a GRU\(.*\), which does not match the given LSTM\("):
        rnnkit.load(path, module=LSTM(3, 4, seed=0))


def test_bidirectional_mismatch_is_named(path):
    rnnkit.save(LSTM(3, 4, bidirectional=True, seed=0), path)
    with pytest.raises(ValueError, match=r"'bidirectional': True.*'bidirectional': False"):
        rnnkit.load(path, module=LSTM(3, 4, seed=0))


def test_unknown_class(path):
    rnnkit.save(Linear(3, 4, seed=0), path)
    rewrite(path, change_metadata=lambda m: m.update({"rnnkit.class": "Transformer"}))
    with pytest.raises(ValueError, match=r"holds a 'Transformer', which is not a known rnnkit module class"):
        rnnkit.load(path)


def test_config_that_is_not_json(path):
    rnnkit.save(Linear(3, 4, seed=0), path)
    rewrite(path, change_metadata=lambda m: m.update({"rnnkit.config": "{in_features: 3"}))
    with pytest.raises(ValueError, match="constructor arguments in its metadata are not valid JSON"):
        rnnkit.load(path)


@pytest.mark.parametrize("change, message", [
    ({"rnnkit.config": json.dumps({"in_features": 3, "out_features": 4, "bias": True, "extra": 1})},
     r"cannot rebuild Linear.*extra"),
    ({"rnnkit.config": json.dumps({"in_features": 0, "out_features": 4, "bias": True})},
     r"cannot rebuild Linear.*in_features must be an int >= 1, got 0"),
    ({"rnnkit.config": json.dumps([3, 4])}, r"must be a JSON object, got list"),
    ({"rnnkit.dtype": "float16"}, r"cannot rebuild Linear.*float16"),
    ({"rnnkit.dtype": "bogus"}, r"unknown dtype 'bogus'"),
], ids=["unexpected-argument", "invalid-argument", "not-a-dict", "float16", "bogus-dtype"])
def test_tampered_metadata_is_a_value_error_that_says_why(change, message, path):
    rnnkit.save(Linear(3, 4, seed=0), path)
    rewrite(path, change_metadata=lambda m: m.update(change))
    with pytest.raises(ValueError, match=message):
        rnnkit.load(path)


# --- no pickle ---------------------------------------------------------------------------------
def test_no_pickle_anywhere_in_the_package():
    sources = sorted(SRC.rglob("*.py"))
    assert len(sources) > 10
    forbidden = re.compile(r"^\s*(import\s+(c?pickle|dill|joblib|marshal|shelve)\b"
                           r"|from\s+(c?pickle|dill|joblib|marshal|shelve)\s+import)"
                           r"|allow_pickle\s*=\s*True|torch\.load\(", re.MULTILINE)
    offenders = [f"{p.relative_to(SRC)}: {m.group(0).strip()}" for p in sources for m in forbidden.finditer(p.read_text())]
    assert offenders == []
    assert "import pickle" not in "".join(p.read_text() for p in sources)
