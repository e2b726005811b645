"""ONNX export of a tagger with a character CNN (``--char-features cnn``).

The graph reads ``chars`` (B, T, W) and ``char_lengths`` (B, T) int64 beside ``tokens`` and
``lengths``; each word's characters go through the embedding, the convolution and the max over
the word's own positions, and the vectors are concatenated after the word embedding and before
any feature column, as ``SequenceTagger.forward`` does. The comparisons call the model's own
``forward`` and ``rnnkit predict`` rather than rnnkit.onnx.check alone, so a mistake shared by the
exporter and its checker would show.
"""

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install \"rnnkit[onnx]\"")
runtime = pytest.importorskip("onnxruntime", reason="the comparisons need onnxruntime: pip install \"rnnkit[onnx]\"")

import rnnkit.onnx  # noqa: E402
from rnnkit.cli import main  # noqa: E402
from rnnkit.layers.char_encoder import character_ids  # noqa: E402
from rnnkit.models import SequenceTagger  # noqa: E402
from rnnkit.onnx.check import run_onnx  # noqa: E402
from rnnkit.train.run_dir import load_vocabs  # noqa: E402
from rnnkit.train.tagging import casing, token_id  # noqa: E402
from test_onnx_tagger_features import assert_predict_matches, casing_conll, metadata_of  # noqa: E402

ATOL = 1e-5
TINY = ["--hidden", "4", "--embedding", "4", "--char-embedding", "3", "--char-hidden", "5", "--epochs", "1",
        "--batch", "8", "--seed", "0"]


def random_words(rng, batch, steps, lengths, num_chars, width):
    """chars (B, T, W) and char_lengths (B, T) as encode makes them: <w> .. </w>, zeros after each word;
    past each sentence's length, garbage ids and lengths that rnnkit never reads."""
    char_lengths = rng.integers(2, width + 1, size=(batch, steps)).astype(np.int64)
    chars = rng.integers(4, num_chars, size=(batch, steps, width)).astype(np.int64)
    chars[..., 0] = 2
    chars[np.arange(width) >= char_lengths[..., None]] = 0
    ends = np.minimum(char_lengths - 1, width - 1)
    np.put_along_axis(chars, ends[..., None], 3, axis=2)
    valid = np.arange(steps)[None, :] < lengths[:, None]                               # (B, T)
    chars[~valid] = num_chars + 5
    char_lengths[~valid] = 0
    return chars, char_lengths, valid


@pytest.mark.parametrize("cell, layers, bidirectional, columns", [("lstm", 2, True, []), ("gru", 1, True, [4, 10]),
                                                                   ("rnn", 1, False, [3])])
def test_character_cnn_vectors_are_concatenated_after_the_words_as_forward_does(cell, layers, bidirectional, columns,
                                                                                 tmp_path):
    model = SequenceTagger(5, vocab_size=12, embedding_dim=4, hidden_size=5, cell=cell, num_layers=layers,
                           bidirectional=bidirectional, padding_idx=0, char_encoder="cnn", num_chars=9,
                           char_embedding_dim=3, char_hidden_size=6, feature_sizes=columns or None,
                           feature_embedding_dim=3, dropout=0.5, input_dropout=0.5, seed=1)
    model.chars.embedding.weight.data[0] = 7.0            # rnnkit zeroes padding whatever row 0 holds; so must ONNX
    rng = np.random.default_rng(0)
    lengths = np.array([7, 1, 3, 6], dtype=np.int64)
    tokens = rng.integers(1, 12, size=(4, 7)).astype(np.int64)
    chars, char_lengths, valid = random_words(rng, 4, 7, lengths, 9, 8)
    feeds = {"tokens": tokens, "lengths": lengths, "chars": chars, "char_lengths": char_lengths}
    extra = {}
    if columns:
        extra["features"] = np.stack([rng.integers(0, size, size=(4, 7)) for size in columns], axis=2).astype(np.int64)
    path = rnnkit.onnx.export(model, tmp_path / "tagger.onnx")
    onnx.checker.check_model(str(path), full_check=True)
    proto = onnx.load(str(path))
    names = ["tokens", "lengths", "chars", "char_lengths"] + (["features"] if columns else [])
    assert [value.name for value in proto.graph.input] == names
    got = run_onnx(path, {**feeds, **extra})["scores"]
    with model.inference():
        expected = model.forward(tokens, lengths, chars=chars, char_lengths=char_lengths, **extra)
    np.testing.assert_allclose(got[valid], expected[valid], rtol=0, atol=ATOL)
    # the characters count: another character in one word changes that sentence's scores, and only its
    changed = chars.copy()
    changed[0, 0, 1] = 4 if changed[0, 0, 1] != 4 else 5
    other = run_onnx(path, {**feeds, "chars": changed, **extra})["scores"]
    assert np.abs(other[0] - got[0]).max() > 1e-4 and np.array_equal(other[1:], got[1:])
    # only a word's own positions compete for the max: with characters after every word's end (which the
    # windows at its last positions read, in both), rnnkit and the graph still agree
    filled = np.where((np.arange(8) >= char_lengths[..., None]) & valid[..., None], 4, chars)
    got = run_onnx(path, {**feeds, "chars": filled, **extra})["scores"]
    with model.inference():
        expected = model.forward(tokens, lengths, chars=filled, char_lengths=char_lengths, **extra)
    np.testing.assert_allclose(got[valid], expected[valid], rtol=0, atol=ATOL)


def test_a_character_lstm_is_still_refused(tmp_path):
    tagger = SequenceTagger(num_tags=3, vocab_size=7, hidden_size=4, char_encoder="lstm", num_chars=5, seed=0)
    with pytest.raises(rnnkit.onnx.ExportError, match="character BiLSTM features .*cnn exports"):
        rnnkit.onnx.export(tagger, tmp_path / "tagger.onnx")
    assert not list(tmp_path.iterdir())


def test_a_default_tag_run_has_the_character_cnn_and_its_file_alone_reproduces_rnnkit_predict(tmp_path, capsys):
    data = casing_conll(tmp_path, np.random.default_rng(3))
    run, out = tmp_path / "run", tmp_path / "tagger.onnx"
    assert main(["train", "tag", "--data", str(data), "--sep", "tab", "--out", str(run), *TINY]) == 0
    capsys.readouterr()
    assert main(["export", str(run), str(out), "--check"]) == 0
    printed = capsys.readouterr().out
    checks = [line for line in printed.splitlines() if line.startswith("check: ")]
    assert checks and all(line.endswith("OK (tolerance 1e-05)") for line in checks), printed
    assert any(line.startswith("check: real inputs (") for line in checks), printed
    assert "inputs tokens, lengths, chars, char_lengths, features" in printed
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert config["options"]["char_features"] == "cnn" and config["options"]["casing"] is True      # the defaults
    metadata = metadata_of(out)
    described = json.loads(metadata["rnnkit.chars"])
    assert described["values"] == config["artifacts"]["chars"]
    assert [described["values"][described[key]] for key in ("padding_id", "unknown_id", "word_start_id",
                                                             "word_end_id")] == ["<pad>", "<unk>", "<w>", "</w>"]
    # a user of the file: word, character and casing ids from the metadata alone, arg max per step
    sentences = ["Anna met BOB in 2024 !", "the dog saw Dora", "Zed x9 Ünïcode"]
    vocab = load_vocabs(run, config)["vocab.json"]
    casing_values = json.loads(metadata["rnnkit.features"])[0]["values"]
    char_index = {value: number for number, value in enumerate(described["values"])}
    split = [sentence.split() for sentence in sentences]
    steps = max(len(words) for words in split)
    rows = [character_ids(words, char_index, described["max_word_characters"]) for words in split]
    width = max(ids.shape[1] for ids, _ in rows)
    tokens = np.zeros((len(split), steps), dtype=np.int64)
    chars = np.zeros((len(split), steps, width), dtype=np.int64)
    char_lengths = np.zeros((len(split), steps), dtype=np.int64)
    features = np.zeros((len(split), steps, 1), dtype=np.int64)
    for row, (words, (ids, counts)) in enumerate(zip(split, rows)):
        tokens[row, :len(words)] = [token_id(word, vocab) for word in words]
        chars[row, :len(words), :ids.shape[1]] = ids
        char_lengths[row, :len(words)] = counts
        features[row, :len(words), 0] = [casing_values.index(casing(word)) if casing(word) in casing_values else 1
                                          for word in words]
    assert_predict_matches(run, out, sentences, {"tokens": tokens, "chars": chars, "char_lengths": char_lengths,
                                                 "features": features}, capsys)
