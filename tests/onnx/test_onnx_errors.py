"""Bad input to the ONNX export and import: files that cannot be written, onnx not installed,
runs and ONNX nodes that rnnkit cannot express. Each error must say what is wrong."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install \"rnnkit[onnx]\"")

import rnnkit  # noqa: E402
import rnnkit.onnx  # noqa: E402
import rnnkit.onnx.graph  # noqa: E402
from rnnkit.cli import main  # noqa: E402
from rnnkit.onnx.layers import onnx_weights  # noqa: E402

SRC = str(__import__("pathlib").Path(rnnkit.__file__).resolve().parents[1])


# --- writing ---------------------------------------------------------------------------------------
def test_missing_folder_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder .*missing.* does not exist"):
        rnnkit.onnx.export(rnnkit.GRU(2, 3, seed=0), tmp_path / "missing" / "gru.onnx")
    assert not list(tmp_path.iterdir())


def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        rnnkit.onnx.export(rnnkit.GRU(2, 3, seed=0), tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a folder this user cannot write to")
def test_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            rnnkit.onnx.export(rnnkit.RNN(2, 3, seed=0), folder / "rnn.onnx")
        assert not list(folder.iterdir())
    finally:
        folder.chmod(0o700)


def test_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "lstm.onnx"
    rnnkit.onnx.export(rnnkit.LSTM(2, 3, seed=0), path)
    before = path.read_bytes()

    def crash(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(rnnkit.onnx.graph.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        rnnkit.onnx.export(rnnkit.LSTM(2, 3, seed=1), path)
    assert path.read_bytes() == before
    assert sorted(item.name for item in tmp_path.iterdir()) == ["lstm.onnx"]


# --- onnx not installed ----------------------------------------------------------------------------
def run_without_onnx(code: str) -> subprocess.CompletedProcess:
    blocked = "import sys; sys.modules['onnx'] = None; sys.modules['onnxruntime'] = None\n"
    return subprocess.run([sys.executable, "-c", blocked + code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": SRC})


def test_without_onnx_rnnkit_imports_and_export_names_the_extra():
    result = run_without_onnx(
        "import rnnkit, rnnkit.onnx\n"
        "try:\n"
        "    rnnkit.onnx.export(rnnkit.LSTM(2, 3, seed=0), 'x.onnx')\n"
        "except ImportError as error:\n"
        "    print('ImportError:', error)\n")
    assert result.returncode == 0, result.stderr
    assert 'pip install "rnnkit[onnx]"' in result.stdout and "onnx package" in result.stdout


def test_without_onnx_the_command_says_what_to_install(tmp_path):
    result = run_without_onnx(f"from rnnkit.cli import main; raise SystemExit(main(['export', {str(tmp_path)!r}, "
                              f"{str(tmp_path / 'out.onnx')!r}]))")
    assert result.returncode == 2
    assert 'pip install "rnnkit[onnx]"' in result.stderr and not (tmp_path / "out.onnx").exists()


def test_importing_rnnkit_and_its_command_line_does_not_import_onnx():
    code = ("import sys, rnnkit, rnnkit.onnx\nfrom rnnkit.cli import build_parser\nbuild_parser()\n"
            "print(sorted(name for name in ('onnx', 'onnxruntime') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": SRC})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- runs that cannot be exported ------------------------------------------------------------------
def test_seq2seq_run_is_refused(tmp_path, capsys):
    run = tmp_path / "dates"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"task": "seq2seq", "options": {}}), encoding="utf-8")
    assert main(["export", str(run), str(tmp_path / "dates.onnx")]) == 2
    assert "Seq2Seq has no ONNX export" in capsys.readouterr().err
    assert not (tmp_path / "dates.onnx").exists()


def test_missing_run_is_refused(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nowhere"), str(tmp_path / "x.onnx")]) == 2
    assert "run directory not found" in capsys.readouterr().err


# --- ONNX nodes rnnkit cannot express ---------------------------------------------------------------
def recurrent_file(kind="GRU", hidden=3, inputs=2, **attributes):
    """A one-node ONNX model holding rnnkit's weights of ``kind`` in ONNX's layout."""
    layer = getattr(rnnkit, kind)(inputs, hidden, seed=0)
    weight, recurrent, bias = onnx_weights(layer, 0)
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    node = helper.make_node(kind, ["X", "W", "R", "B"], ["Y"], name="rec", hidden_size=hidden, **attributes)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, ["T", "B", inputs])],
        [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(array, name) for array, name in
                     ((weight, "W"), (recurrent, "R"), (bias, "B"))])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_round_trip_of_a_hand_made_node_keeps_the_weights():
    layer = rnnkit.onnx.load_recurrent(recurrent_file("GRU", linear_before_reset=1))[0]
    original = rnnkit.GRU(2, 3, seed=0)
    for name, parameter in original.named_parameters():
        assert np.array_equal(getattr(layer, name).data, parameter.data), name


@pytest.mark.parametrize("kind, attributes, message", [
    ("GRU", {"linear_before_reset": 0}, "linear_before_reset = 0"),
    ("GRU", {}, "linear_before_reset = 0"),                                 # ONNX's default is 0
    ("LSTM", {"direction": "reverse"}, "direction 'reverse'"),
    ("LSTM", {"clip": 5.0}, "clip"),
    ("LSTM", {"input_forget": 1}, "input_forget"),
    ("LSTM", {"activations": ["Sigmoid", "Relu", "Tanh"]}, "activations"),
    ("RNN", {"activations": ["Sigmoid"]}, "Tanh or Relu"),
])
def test_nodes_rnnkit_cannot_compute_are_refused(kind, attributes, message):
    with pytest.raises(ValueError, match=f"{kind} node 'rec'.*{message}"):
        rnnkit.onnx.load_recurrent(recurrent_file(kind, **attributes))


def test_weights_computed_in_the_graph_and_files_without_nodes_are_refused():
    model = recurrent_file("LSTM")
    model.graph.node[0].input[1] = "W_computed"
    with pytest.raises(ValueError, match="W .*'W_computed'.* computed in the graph"):
        rnnkit.onnx.load_recurrent(model)
    empty = onnx.helper.make_model(onnx.helper.make_graph([], "empty", [], []))
    with pytest.raises(ValueError, match="has no RNN, LSTM or GRU node"):
        rnnkit.onnx.load_recurrent(empty)


def test_stack_refuses_nodes_that_are_not_a_stack(tmp_path):
    gru_then_lstm = [recurrent_file("GRU", linear_before_reset=1), recurrent_file("LSTM")]
    model = gru_then_lstm[0]
    model.graph.node.extend(gru_then_lstm[1].graph.node)
    for tensor in gru_then_lstm[1].graph.initializer:
        tensor.name = tensor.name + "2"
        model.graph.initializer.append(tensor)
    model.graph.node[1].input[1:4] = ["W2", "R2", "B2"]
    assert [type(layer).__name__ for layer in rnnkit.onnx.load_recurrent(model)] == ["GRU", "LSTM"]
    with pytest.raises(ValueError, match="stack=True: recurrent node 1 .*LSTM.* does not continue node 0"):
        rnnkit.onnx.load_recurrent(model, stack=True)


@pytest.mark.parametrize("options, words", [({"crf": True}, "a CRF output layer"),
                                            ({"char_encoder": "lstm", "num_chars": 5}, "character BiLSTM features"),
                                            ({"crf": True, "feature_sizes": [3]}, "a CRF output layer (")])
def test_a_tagger_with_pieces_onnx_lacks_is_refused(options, words, tmp_path):
    """A CRF and a character BiLSTM have no export; feature columns and the character CNN do
    (test_onnx_tagger_features.py, test_onnx_tagger_chars.py)."""
    from rnnkit.models import SequenceTagger
    tagger = SequenceTagger(num_tags=3, vocab_size=7, hidden_size=4, seed=0, **options)
    with pytest.raises(rnnkit.onnx.ExportError, match="has no ONNX export yet") as error:
        rnnkit.onnx.export(tagger, tmp_path / "tagger.onnx")
    assert words in str(error.value) and "feature columns" not in str(error.value)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("options, words", [({"zoneout": 0.1}, "zoneout"), ({"zoneout_cell": 0.1}, "zoneout"),
                                            ({"learn_initial_state": True}, "initial_h")])
def test_regularisers_onnx_cannot_express_are_refused(tmp_path, options, words):
    """Zoneout changes evaluation and a learned initial state is a parameter the ONNX operator lacks."""
    layer = rnnkit.LSTM(3, 4, seed=0, **options).eval()
    with pytest.raises(rnnkit.onnx.ExportError, match=words):
        rnnkit.onnx.export(layer, tmp_path / "lstm.onnx")
    assert not list(tmp_path.iterdir())


def test_regularisers_that_are_off_in_evaluation_export(tmp_path):
    layer = rnnkit.GRU(3, 4, num_layers=2, locked_dropout=0.3, weight_drop=0.2, seed=0).eval()
    rnnkit.onnx.export(layer, tmp_path / "gru.onnx")
    assert (tmp_path / "gru.onnx").stat().st_size > 0
