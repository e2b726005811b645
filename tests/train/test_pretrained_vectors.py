"""--vectors FILE and --freeze-vectors for classify and tag; unknown labels and tags in evaluated files.

The vector files are written here, in the three text layouts (GloVe: no header; word2vec and
fastText .vec: a "count size" header line).
"""

import json

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.cli.generate import evaluate_run
from rnnkit.train.checkpoint import load_model

TINY = ["--hidden", "6", "--epochs", "2", "--batch", "4", "--seed", "1"]
WORDS = {"good": [1.0, 0.5, 0.0], "bad": [-1.0, 0.5, 0.0], "film": [0.0, 0.0, 1.0], "great": [0.9, 0.4, 0.1]}


def vector_file(path, header):
    lines = [f"{len(WORDS)} 3"] if header else []
    lines += [f"{word} {' '.join(str(value) for value in vector)}" for word, vector in WORDS.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def sentiment_file(tmp_path):
    lines = [f"a good great film number {index}\t1\na bad film number {index}\t0" for index in range(12)]
    path = tmp_path / "sentiment.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def ner_file(tmp_path):
    sentences = ["Anna\tB-person\nsaw\tO\na\tO\ngood\tO\nfilm\tO\n", "Bob\tB-person\nhad\tO\na\tO\nbad\tO\nday\tO\n"]
    path = tmp_path / "ner.conll"
    path.write_text("\n".join(sentences * 6), encoding="utf-8")
    return path


def classify(tmp_path, data, *arguments, out="run"):
    return main(["train", "classify", "--data", str(data), "--out", str(tmp_path / out), *TINY, *arguments])


def embedding_of(run):
    model = load_model(run / "checkpoints" / "best")
    return model.inputs.embedding.weight.data


def vocab_tokens(run):
    return json.loads((run / "vocab.json").read_text(encoding="utf-8"))["tokens"]


@pytest.mark.parametrize("header", [False, True], ids=["glove", "word2vec-or-fasttext"])
def test_classify_frozen_vectors_are_the_files(tmp_path, sentiment_file, header, capsys):
    vectors = vector_file(tmp_path / "vectors.txt", header)
    assert classify(tmp_path, sentiment_file, "--vectors", str(vectors), "--freeze-vectors") == 0
    printed = capsys.readouterr().out
    run = tmp_path / "run"
    tokens = vocab_tokens(run)
    words = [token for token in tokens if token not in ("<pad>", "<unk>")]
    assert f"{len(WORDS)} of {len(words)} vocabulary words found" in printed and "frozen" in printed
    table = embedding_of(run)
    assert table.shape == (len(tokens), 3)                          # E from the file, not --embedding's 64
    for word, vector in WORDS.items():                              # frozen: still exactly the file's numbers
        np.testing.assert_array_equal(table[tokens.index(word)], np.float32(vector))
    np.testing.assert_array_equal(table[tokens.index("<pad>")], 0.0)
    config = json.loads((run / "config.json").read_text())
    assert config["artifacts"]["vectors"] == {"file": "vectors.txt", "size": 3, "found": 4, "words": len(words),
                                              "frozen": True}
    assert config["data_files"]["vectors"]["sha256"]                # the file is fingerprinted like --data


def test_classify_vectors_are_fine_tuned_by_default(tmp_path, sentiment_file):
    vectors = vector_file(tmp_path / "vectors.vec", header=True)
    assert classify(tmp_path, sentiment_file, "--vectors", str(vectors), "--lr", "0.05") == 0
    run = tmp_path / "run"
    tokens = vocab_tokens(run)
    table = embedding_of(run)
    assert not np.allclose(table[tokens.index("good")], WORDS["good"])      # trained away from the file's
    assert np.abs(table[tokens.index("good")] - np.float32(WORDS["good"])).max() < 1.0


def test_embedding_that_disagrees_with_the_vectors_is_refused(tmp_path, sentiment_file, capsys):
    vectors = vector_file(tmp_path / "vectors.txt", header=False)
    assert classify(tmp_path, sentiment_file, "--vectors", str(vectors), "--embedding", "50") == 2
    error = capsys.readouterr().err
    assert "--embedding 50 disagrees with --vectors" in error and "have 3 numbers" in error
    assert classify(tmp_path, sentiment_file, "--vectors", str(vectors), "--embedding", "3") == 0


@pytest.mark.parametrize("arguments, words", [
    (["--freeze-vectors"], ["--freeze-vectors has an effect only with --vectors"]),
    (["--vectors", "missing.txt"], ["--vectors", "missing.txt", "not found"]),
])
def test_bad_vectors_options(tmp_path, sentiment_file, arguments, words, capsys):
    assert classify(tmp_path, sentiment_file, *arguments) == 2
    error = capsys.readouterr().err
    assert all(word in error for word in words)


def test_vectors_with_no_vocabulary_word_are_refused(tmp_path, sentiment_file, capsys):
    path = tmp_path / "other.txt"
    path.write_text("zebra 1 2 3\nyak 3 2 1\n", encoding="utf-8")
    assert classify(tmp_path, sentiment_file, "--vectors", str(path)) == 2
    assert "none of the" in capsys.readouterr().err


def test_vectors_are_for_text_only(tmp_path, capsys):
    series = tmp_path / "rows.csv"
    series.write_text("".join(f"{i},{i + 1},{i % 2}\n" for i in range(20)))
    vectors = vector_file(tmp_path / "vectors.txt", header=False)
    assert main(["train", "classify", "--data", str(series), "--format", "vectors", "--sep", ",", "--vectors",
                 str(vectors), "--out", str(tmp_path / "run"), *TINY]) == 2
    assert "--vectors has an effect only with --format text" in capsys.readouterr().err


def test_tagger_vectors_cover_words_not_shapes(tmp_path, ner_file, capsys):
    vectors = vector_file(tmp_path / "vectors.txt", header=False)
    assert main(["train", "tag", "--data", str(ner_file), "--sep", "tab", "--vectors", str(vectors),
                 "--freeze-vectors", "--out", str(tmp_path / "run"), *TINY]) == 0
    printed = capsys.readouterr().out
    run = tmp_path / "run"
    tokens = vocab_tokens(run)
    words = [token for token in tokens if not token.startswith("<")]
    assert f"3 of {len(words)} vocabulary words found" in printed      # good, bad, film; not the <unk-...> shapes
    table = embedding_of(run)
    np.testing.assert_array_equal(table[tokens.index("film")], np.float32(WORDS["film"]))


def test_classify_evaluate_counts_unknown_labels_as_errors(tmp_path, sentiment_file, capsys):
    assert classify(tmp_path, sentiment_file, "--embedding", "4") == 0
    test = tmp_path / "test.tsv"
    test.write_text("a good film\t1\na bad film\t0\na so-so film\tneutral\nmeh\tneutral\n", encoding="utf-8")
    metrics = evaluate_run(str(tmp_path / "run"), str(test))
    assert metrics["examples"] == 4 and metrics["unknown_label_examples"] == 2
    assert metrics["accuracy"] <= 0.5                                  # the two unknown ones are errors
    assert "'neutral'" in metrics["note"] and "counted as errors" in metrics["note"]
    assert np.isfinite(metrics["loss"])                               # over the two known examples
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--data", str(test)]) == 0
    assert "note: 2 of 4 examples have a label the training data never had" in capsys.readouterr().out


def test_tag_evaluate_counts_unknown_tags_as_errors(tmp_path, ner_file, capsys):
    assert main(["train", "tag", "--data", str(ner_file), "--sep", "tab", "--out", str(tmp_path / "run"),
                 *TINY]) == 0
    test = tmp_path / "test.conll"
    test.write_text("Anna\tB-person\nsaw\tO\nParis\tB-location\n\nBob\tB-person\nhad\tO\n", encoding="utf-8")
    metrics = evaluate_run(str(tmp_path / "run"), str(test))
    assert metrics["unknown_tag_tokens"] == 1 and metrics["tokens"] == 5
    assert metrics["accuracy"] <= 0.8                                  # Paris/B-location cannot be right
    assert metrics["recall"] <= 2 / 3                                  # the location is a gold entity missed
    assert "'B-location'" in metrics["note"] and np.isfinite(metrics["loss"])
