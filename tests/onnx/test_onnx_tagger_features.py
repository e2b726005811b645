"""ONNX export of a tagger with feature columns: ``--casing`` and other columns of the file.

The graph reads ``features`` (B, T, F) int64 beside ``tokens`` and ``lengths``; each column
goes through its own embedding table and is concatenated after the word embedding, as
``SequenceTagger.forward`` does. The comparisons call the model's own ``forward`` and
``predict`` (and ``rnnkit predict``) rather than rnnkit.onnx.check alone, so a mistake shared
by the exporter and its checker would show.
"""

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install \"rnnkit[onnx]\"")
runtime = pytest.importorskip("onnxruntime", reason="the comparisons need onnxruntime: pip install \"rnnkit[onnx]\"")

import rnnkit.onnx  # noqa: E402
from rnnkit.cli import main  # noqa: E402
from rnnkit.models import SequenceTagger  # noqa: E402
from rnnkit.onnx.check import run_onnx  # noqa: E402
from rnnkit.train.run_dir import load_vocabs  # noqa: E402
from rnnkit.train.tagging import CASINGS, casing, token_id  # noqa: E402
from real_data import data_file, head_blocks  # noqa: E402

ATOL = 1e-5
# without the character CNN (on by default; its inputs: test_onnx_tagger_chars.py), to see the columns alone
TINY = ["--hidden", "4", "--embedding", "4", "--feature-embedding", "3", "--epochs", "1", "--batch", "8",
        "--seed", "0", "--char-features", "none"]


def metadata_of(path):
    return {entry.key: entry.value for entry in onnx.load(str(path)).metadata_props}


@pytest.mark.parametrize("cell, layers, bidirectional", [("lstm", 2, True), ("gru", 1, True), ("rnn", 1, False)])
def test_feature_columns_are_embedded_and_concatenated_as_forward_does(cell, layers, bidirectional, tmp_path):
    # two columns of different sizes (the second like casing's 10 values), dropout and input dropout set:
    # both are off in inference, in rnnkit and in the graph
    model = SequenceTagger(5, vocab_size=12, embedding_dim=4, hidden_size=5, cell=cell, num_layers=layers,
                           bidirectional=bidirectional, padding_idx=0, feature_sizes=[4, 10], feature_embedding_dim=3,
                           dropout=0.5, input_dropout=0.5, seed=1)
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 12, size=(4, 7)).astype(np.int64)
    lengths = np.array([7, 1, 3, 6], dtype=np.int64)
    features = np.stack([rng.integers(0, 4, size=(4, 7)), rng.integers(0, 10, size=(4, 7))], axis=2).astype(np.int64)
    valid = np.arange(7)[None, :] < lengths[:, None]                                   # (B, T)
    features[~valid] = 99                         # past each length: ids no table has, as rnnkit ignores them
    path = rnnkit.onnx.export(model, tmp_path / "tagger.onnx")
    onnx.checker.check_model(str(path), full_check=True)
    proto = onnx.load(str(path))
    assert [value.name for value in proto.graph.input] == ["tokens", "lengths", "features"]
    shape = [dim.dim_param or dim.dim_value for dim in proto.graph.input[2].type.tensor_type.shape.dim]
    assert shape == ["batch", "steps", 2] and proto.graph.input[2].type.tensor_type.elem_type == onnx.TensorProto.INT64
    got = run_onnx(path, {"tokens": tokens, "lengths": lengths, "features": features})["scores"]
    with model.inference():
        expected = model.forward(tokens, lengths, features=features)
    np.testing.assert_allclose(got[valid], expected[valid], rtol=0, atol=ATOL)
    assert np.array_equal(np.where(valid, got.argmax(-1), -1), model.predict(tokens, lengths, features=features))
    # the columns are not interchangeable: swapping them changes the scores (the order is part of the graph)
    swapped = np.ascontiguousarray(np.minimum(features[:, :, ::-1], 3))
    other = run_onnx(path, {"tokens": tokens, "lengths": lengths, "features": swapped})["scores"]
    assert np.abs(other[valid] - got[valid]).max() > 1e-3
    assert json.loads(metadata_of(path)["rnnkit.config"])["feature_sizes"] == [4, 10]


def casing_conll(folder, rng, columns=False):
    """Sentences whose tags depend on case (PER for capitalised names), optionally with a POS column."""
    names, words = ["Anna", "BOB", "Carl", "Dora"], ["met", "saw", "the", "a", "dog", "in", "2024", "x9", "!"]
    lines = []
    for _ in range(40):
        sentence = list(rng.choice(names + words, size=rng.integers(2, 8)))
        for word in sentence:
            tag = "B-PER" if word in names else "O"
            pos = "NNP" if word in names else ("CD" if word[0].isdigit() else "X")
            lines.append(f"{word}\t{pos}\t{tag}" if columns else f"{word}\t{tag}")
        lines.append("")
    path = folder / ("pos.conll" if columns else "casing.conll")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def export_check(run, out, capsys):
    capsys.readouterr()
    assert main(["export", str(run), str(out), "--check"]) == 0
    printed = capsys.readouterr().out
    onnx.checker.check_model(str(out), full_check=True)
    checks = [line for line in printed.splitlines() if line.startswith("check: ")]
    assert checks and all(line.endswith("OK (tolerance 1e-05)") for line in checks), printed
    assert any(line.startswith("check: real inputs (") for line in checks), printed   # the run's own data too
    assert "inputs tokens, lengths, features" in printed
    return printed


def test_a_casing_run_and_its_file_alone_reproduce_rnnkit_predict(tmp_path, capsys):
    data = casing_conll(tmp_path, np.random.default_rng(0))
    run, out = tmp_path / "run", tmp_path / "tagger.onnx"
    assert main(["train", "tag", "--data", str(data), "--sep", "tab", "--out", str(run), *TINY]) == 0
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert config["options"]["casing"] is True and config["artifacts"]["casing"] is True     # by default
    export_check(run, out, capsys)
    metadata = metadata_of(out)
    columns = json.loads(metadata["rnnkit.features"])
    assert [column["column"] for column in columns] == ["casing"]
    assert columns[0]["values"] == config["artifacts"]["features"][0]
    assert columns[0]["values"][columns[0]["padding_id"]] == "<pad>"
    assert columns[0]["values"][columns[0]["unknown_id"]] == "<unk>"
    computed = columns[0]["computed"]
    assert "rnnkit.train.tagging.casing" in computed and "before any lower-casing" in computed
    assert set(CASINGS) <= set(columns[0]["values"])
    # a user of the file: word ids from the vocabulary, casing ids from the metadata's values, arg max per step
    sentences = ["Anna met BOB in 2024 !", "the dog saw Dora", "Zed x9"]
    vocab = load_vocabs(run, config)["vocab.json"]
    index = {value: number for number, value in enumerate(columns[0]["values"])}
    split = [sentence.split() for sentence in sentences]
    steps = max(len(tokens) for tokens in split)
    tokens = np.zeros((len(split), steps), dtype=np.int64)
    features = np.zeros((len(split), steps, 1), dtype=np.int64)
    for row, words in enumerate(split):
        tokens[row, :len(words)] = [token_id(word, vocab) for word in words]
        features[row, :len(words), 0] = [index.get(casing(word), columns[0]["unknown_id"]) for word in words]
    assert_predict_matches(run, out, sentences, {"tokens": tokens, "features": features}, capsys)


def assert_predict_matches(run, out, sentences, feeds, capsys):
    """The file's arg max tags on ``feeds`` (built from the metadata alone) print as ``rnnkit predict`` does."""
    split = [sentence.split() for sentence in sentences]
    lengths = np.array([len(words) for words in split], dtype=np.int64)
    scores = run_onnx(out, {**feeds, "lengths": lengths})["scores"]
    tags = json.loads(metadata_of(out)["rnnkit.tags"])
    from_onnx = [" ".join(f"{word}/{tags[tag]}" for word, tag in zip(words, scores[row].argmax(-1)))
                 for row, words in enumerate(split)]
    capsys.readouterr()
    assert main(["predict", str(run), *sentences]) == 0
    assert capsys.readouterr().out.splitlines() == from_onnx


def test_a_file_column_and_casing_export_in_column_order(tmp_path, capsys):
    data = casing_conll(tmp_path, np.random.default_rng(1), columns=True)
    run, out = tmp_path / "run", tmp_path / "tagger.onnx"
    assert main(["train", "tag", "--data", str(data), "--sep", "tab", "--feature-columns", "1", "--out", str(run),
                 *TINY]) == 0
    export_check(run, out, capsys)
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    columns = json.loads(metadata_of(out)["rnnkit.features"])
    assert [column["column"] for column in columns] == [1, "casing"]             # the file's columns, then casing
    assert [column["values"] for column in columns] == config["artifacts"]["features"]
    assert columns[0]["values"][:2] == ["<pad>", "<unk>"] and "NNP" in columns[0]["values"]
    assert "computed" not in columns[0] and "computed" in columns[1]
    proto = onnx.load(str(out))
    assert [dim.dim_value for dim in proto.graph.input[2].type.tensor_type.shape.dim][2] == 2


def test_no_casing_exports_without_a_features_input(tmp_path, capsys):
    data = casing_conll(tmp_path, np.random.default_rng(2))
    run, out = tmp_path / "run", tmp_path / "tagger.onnx"
    assert main(["train", "tag", "--data", str(data), "--sep", "tab", "--no-casing", "--out", str(run), *TINY]) == 0
    capsys.readouterr()
    assert main(["export", str(run), str(out), "--check"]) == 0
    assert "inputs tokens, lengths; outputs scores" in capsys.readouterr().out
    assert "rnnkit.features" not in metadata_of(out)


def test_real_conllu_with_an_xpos_column_and_casing(tmp_path, capsys):
    data = head_blocks(data_file("tagging/en_ewt-ud-dev.conllu"), tmp_path / "ewt.conllu", 40)
    run, out = tmp_path / "run", tmp_path / "tagger.onnx"
    assert main(["train", "tag", "--data", str(data), "--format", "conllu", "--feature-columns", "xpos",
                 "--out", str(run), *TINY]) == 0
    printed = export_check(run, out, capsys)
    assert "FAILED" not in printed
    assert [column["column"] for column in json.loads(metadata_of(out)["rnnkit.features"])] == ["xpos", "casing"]
