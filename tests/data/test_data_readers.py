"""Tests for rnnkit.data.readers and rnnkit.data.embeddings, on small files written here and on the
real files of the shared data folder (skipped when it is absent)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data import (
    WordVocab,
    read_conll,
    read_conllu,
    read_labelled_text,
    read_lines,
    read_text,
    read_time_series_csv,
    read_word_vectors,
    sliding_windows,
    time_split,
    vectors_for_vocab,
)


def data_dir() -> Path:
    return Path(os.environ.get("RNNKIT_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


def require_data(relative: str) -> Path:
    path = data_dir() / relative
    if not path.exists():
        pytest.skip(f"real data file {path} is absent (set RNNKIT_DATA to the shared data folder)")
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))  # bytes: no newline translation
    return path


# ----------------------------------------------------------------- read_text / read_lines


def test_read_text_and_lines_split_on_newline_only(tmp_path):
    path = write(tmp_path, "a.txt", "one\u0085still one\r\n\n  \ntwo\n")
    assert read_text(path) == "one\u0085still one\r\n\n  \ntwo\n"
    assert read_lines(path) == ["one\u0085still one", "two"]
    assert read_lines(path, skip_empty=False) == ["one\u0085still one", "", "  ", "two"]


def test_read_text_names_the_file_on_bad_encoding(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(b"caf\xe9")
    with pytest.raises(ValueError, match="latin.txt: cannot decode the file as utf-8"):
        read_text(path)
    assert read_text(path, encoding="latin-1") == "café"


# ----------------------------------------------------------------- read_labelled_text


def test_labelled_tsv(tmp_path):
    path = write(tmp_path, "s.tsv", 'Good "stuff", really.\t1\nBad\x85 stuff.  \t0\r\n\nmeh\t 0 \n')
    texts, labels = read_labelled_text(path)
    assert texts == ['Good "stuff", really.', "Bad\x85 stuff.  ", "meh"]
    assert labels.tolist() == [1, 0, 0] and labels.dtype == np.int64


def test_labelled_csv_by_name(tmp_path):
    path = write(tmp_path, "s.csv", 'id,review,sentiment\n1,"Fine, ""really""\nfine",pos\n2,awful,neg\n')
    texts, labels = read_labelled_text(path, sep=",", text_column="review", label_column="sentiment", label_type=str)
    assert texts == ['Fine, "really"\nfine', "awful"]
    assert labels.tolist() == ["pos", "neg"]


def test_labelled_by_position_with_header(tmp_path):
    path = write(tmp_path, "s.tsv", "label\ttext\n1\ta\n0\tb\n")
    texts, labels = read_labelled_text(path, text_column=1, label_column=0, header=True)
    assert texts == ["a", "b"] and labels.tolist() == [1, 0]


@pytest.mark.parametrize("content, kwargs, message", [
    ("", {}, r"e\.txt: the file is empty"),
    ("\n  \n", {}, r"e\.txt: the file is empty"),
    ("a\t1\nb\t0\tx\n", {}, r"e\.txt, line 2: expected 2 columns separated by '\\t', got 3"),
    ("a\t1\n\nb\n", {}, r"e\.txt, line 3: expected 2 columns separated by '\\t', got 1"),
    ("a\t1\nb\tzero\n", {}, r"e\.txt, line 2: cannot read the label 'zero' as int"),
    ("a\t1\nb\t1\nc\t1\n", {}, r"e\.txt: the label column has only 1 class \(\['1'\]\) in 3 lines, need at least 2"),
    ("text,label\na,1\nb,0\n", {"sep": ",", "text_column": "sentence"}, r"no column named 'sentence' for text_column; the header has \['text', 'label'\]"),
    ("text,label\n", {"sep": ",", "text_column": "text", "label_column": "label"}, "has a header line but no data lines"),
    ("text,label\na,1,2\n", {"sep": ",", "text_column": "text", "label_column": "label"}, r"line 2: expected 2 columns"),
    ("a\t1\n", {"text_column": 5}, "text_column=5 is out of range, the first line has 2 columns"),
    ("a\t1\n", {"text_column": 1}, "text_column and label_column are the same column"),
    ("a\t1\n", {"text_column": "text", "header": False}, "columns given by name need header=True"),
])
def test_labelled_errors(tmp_path, content, kwargs, message):
    path = write(tmp_path, "e.txt", content)
    with pytest.raises(ValueError, match=message):
        read_labelled_text(path, **kwargs)


def test_labelled_single_class_allowed_on_request(tmp_path):
    path = write(tmp_path, "one.txt", "a\t1\nb\t1\n")
    assert read_labelled_text(path, min_classes=1)[1].tolist() == [1, 1]


@pytest.mark.parametrize("name", ["amazon_cells", "imdb", "yelp"])
def test_uci_sentiment_files(name):
    path = require_data(f"sentiment/uci/{name}_labelled.txt")
    texts, labels = read_labelled_text(path)
    assert len(texts) == len(labels) == 1000
    assert Counter(labels.tolist()) == {0: 500, 1: 500}
    assert all(text.strip() for text in texts)
    if name == "imdb":
        assert sum("\u0085" in text for text in texts) == 2  # kept inside their sentences


# ----------------------------------------------------------------- read_conll


def test_conll_sentences(tmp_path):
    content = "-DOCSTART-\tO\n\n#hashtag\tO\nParis\tB-loc\n\t\n\n\nNew  York\tB-loc I-loc\n"
    path = write(tmp_path, "n.conll", content)
    assert read_conll(path) == [(["#hashtag", "Paris"], ["O", "B-loc"]), (["New"], ["I-loc"])]
    assert read_conll(path, tag_column=1, sep="\t") == [(["#hashtag", "Paris"], ["O", "B-loc"]), (["New  York"], ["B-loc I-loc"])]
    assert read_conll(path, comment_prefix="#") == [(["Paris"], ["B-loc"]), (["New"], ["I-loc"])]
    assert read_conll(path, skip_docstart=False)[0] == (["-DOCSTART-"], ["O"])


def test_conll_columns(tmp_path):
    path = write(tmp_path, "c.conll", "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n")
    assert read_conll(path, tag_column=1) == [(["EU", "rejects"], ["NNP", "VBZ"])]
    assert read_conll(path) == [(["EU", "rejects"], ["B-ORG", "O"])]


@pytest.mark.parametrize("content, kwargs", [
    ("a\tO\nb\n", {}),
    ("a\tO\tX\nb\tO\n", {"tag_column": 2}),
    ("a\tO\nb\t\n", {"sep": "\t"}),
    ("a\tO\n\tO\n", {"sep": "\t"}),
])
def test_conll_token_without_tag(tmp_path, content, kwargs):
    path = write(tmp_path, "bad.conll", content)
    with pytest.raises(ValueError, match=r"bad\.conll, line 2: a token line needs a token .* and a different tag column"):
        read_conll(path, **kwargs)


def test_wnut17_files():
    train = read_conll(require_data("tagging/wnut17_wnut17train.conll"))
    assert len(train) == 3394
    assert sum(tags.count("B-person") for _, tags in train) == 660
    assert all(len(tokens) == len(tags) > 0 for tokens, tags in train)
    kinds = {tag.split("-", 1)[1] for _, tags in train for tag in tags if tag != "O"}
    assert kinds == {"person", "location", "group", "corporation", "product", "creative-work"}
    assert len(read_conll(require_data("tagging/wnut17_emerging.dev.conll"))) == 1009
    assert len(read_conll(require_data("tagging/wnut17_emerging.test.annotated"))) == 1287


# ----------------------------------------------------------------- read_conllu

CONLLU = """# sent_id = 1
# text = Don't go.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_
3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
3.1\tgone\t_\t_\t_\t_\t_\t_\t3:x\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

# sent_id = 2
1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def test_conllu_sentences(tmp_path):
    path = write(tmp_path, "t.conllu", CONLLU)
    assert read_conllu(path) == [(["Do", "n't", "go", "."], ["AUX", "PART", "VERB", "PUNCT"]), (["Hi"], ["INTJ"])]
    assert read_conllu(path, tag="xpos")[0][1] == ["VBP", "RB", "VB", "."]
    assert read_conllu(path, tag="deprel")[1] == (["Hi"], ["root"])


def test_conllu_errors(tmp_path):
    path = write(tmp_path, "w.conllu", "1\tHi\thi\tINTJ\n")
    with pytest.raises(ValueError, match=r"w\.conllu, line 1: a CoNLL-U word line has 10 tab-separated columns, got 4"):
        read_conllu(path)
    path = write(tmp_path, "m.conllu", "# c\n1\tHi\thi\t_\tUH\t_\t0\troot\t_\t_\n")
    with pytest.raises(ValueError, match=r"m\.conllu, line 2: the word 'Hi' has no upos tag"):
        read_conllu(path)
    with pytest.raises(ValueError, match="tag must be one of"):
        read_conllu(path, tag="pos")


def test_ewt_dev_and_test():
    dev = read_conllu(require_data("tagging/en_ewt-ud-dev.conllu"))
    assert len(dev) == 2001
    tags = {tag for _, sentence_tags in dev for tag in sentence_tags}
    assert len(tags) == 17
    assert {"NOUN", "VERB", "PUNCT", "PROPN", "X", "SYM"} <= tags
    assert dev[0] == (["From", "the", "AP", "comes", "this", "story", ":"], ["ADP", "DET", "PROPN", "VERB", "DET", "NOUN", "PUNCT"])
    assert len(read_conllu(require_data("tagging/en_ewt-ud-test.conllu"))) == 2077


# ----------------------------------------------------------------- read_time_series_csv


def test_time_series_by_name_and_position(tmp_path):
    path = write(tmp_path, "t.csv", '"YEAR","VALUE"\n1700,5\n1701,11.5\n\n1702,-2e1\n')
    np.testing.assert_array_equal(read_time_series_csv(path, "VALUE"), [5.0, 11.5, -20.0])
    values, dates = read_time_series_csv(path, 1, date_column="YEAR")
    assert dates == ["1700", "1701", "1702"] and values.dtype == np.float64


MISSING = "date,co2\n1,10\n2,\n3,NA\n4,16\n5,nan\n6,20\n"


def test_time_series_missing_error_lists_the_lines(tmp_path):
    path = write(tmp_path, "m.csv", MISSING)
    with pytest.raises(ValueError, match=r"m\.csv: 3 missing values in column 'co2' \(lines 3, 4, 6\); pass missing="):
        read_time_series_csv(path, "co2")


@pytest.mark.parametrize("missing, expected_values, expected_dates", [
    ("drop", [10.0, 16.0, 20.0], ["1", "4", "6"]),
    ("interpolate", [10.0, 12.0, 14.0, 16.0, 18.0, 20.0], ["1", "2", "3", "4", "5", "6"]),
    ("ffill", [10.0, 10.0, 10.0, 16.0, 16.0, 20.0], ["1", "2", "3", "4", "5", "6"]),
])
def test_time_series_missing_handled(tmp_path, missing, expected_values, expected_dates):
    path = write(tmp_path, "m.csv", MISSING)
    with pytest.warns(UserWarning, match=r"3 missing values in column 'co2' \(lines 3, 4, 6\) were"):
        values, dates = read_time_series_csv(path, "co2", date_column="date", missing=missing)
    np.testing.assert_allclose(values, expected_values)
    assert dates == expected_dates


def test_time_series_missing_at_the_ends(tmp_path):
    path = write(tmp_path, "ends.csv", "v\nNA\n2\n4\n\u0020\n")  # the last line is a blank row, skipped
    with pytest.warns(UserWarning):
        np.testing.assert_array_equal(read_time_series_csv(path, "v", missing="interpolate"), [2.0, 2.0, 4.0])
    with pytest.raises(ValueError, match="the first value is missing, so there is nothing to carry forward"):
        read_time_series_csv(path, "v", missing="ffill")
    path = write(tmp_path, "none.csv", "v\nNA\n?\n")
    with pytest.raises(ValueError, match="every value is missing"):
        read_time_series_csv(path, "v", missing="drop")


@pytest.mark.parametrize("content, kwargs, message", [
    ("", {}, r"bad\.csv: the file is empty"),
    ("a,b\n", {}, "has a header line but no data lines"),
    ("a,b\n1,2\n3\n", {}, r"bad\.csv, line 3: expected 2 columns as in the header, got 1"),
    ("a,b\n1,2\n3,x1\n", {}, r"bad\.csv, line 3: 'x1' in column 'b' is not a number"),
    ("a,b\n1,2\n", {"column": "c"}, r"no column named 'c' for column; the header has \['a', 'b'\]"),
    ("a,b\n1,2\n", {"date_column": "day"}, "no column named 'day' for date_column"),
    ("a,b\n1,2\n", {"missing": "zero"}, "missing must be one of"),
])
def test_time_series_errors(tmp_path, content, kwargs, message):
    path = write(tmp_path, "bad.csv", content)
    with pytest.raises(ValueError, match=message):
        read_time_series_csv(path, **{"column": "b", **kwargs})


def test_sunspots_yearly():
    values, years = read_time_series_csv(require_data("timeseries/sunspots_yearly.csv"), "SUNACTIVITY", date_column="YEAR")
    assert len(values) == 309
    assert years[0] == "1700" and years[-1] == "2008"
    assert values[:3].tolist() == [5.0, 11.0, 16.0] and values[-1] == 2.9
    train, val, test, scaler = time_split(values, 0.15, 0.15)
    assert scaler.center_ == pytest.approx(values[: len(train)].mean())
    inputs, targets = sliding_windows(train, window=20, horizon=1)
    assert inputs.shape == (len(train) - 20, 20, 1) and targets.shape == (len(train) - 20, 1)


def test_co2_weekly_has_59_missing_values():
    path = require_data("timeseries/co2_weekly.csv")
    with pytest.raises(ValueError, match="59 missing values in column 'co2'"):
        read_time_series_csv(path, "co2")
    with pytest.warns(UserWarning, match="were interpolated"):
        values = read_time_series_csv(path, "co2", missing="interpolate")
    assert len(values) == 2284 and np.all(np.isfinite(values))
    with pytest.warns(UserWarning, match="were dropped"):
        assert len(read_time_series_csv(path, "co2", missing="drop")) == 2284 - 59


def test_makemore_names():
    names = read_lines(require_data("text/makemore_names.txt"))
    # 32,033 names; `wc -l` says 32,032 because the last line has no newline
    assert len(names) == 32033 and names[0] == "emma"


# ----------------------------------------------------------------- word vectors


def test_read_glove_and_word2vec_formats(tmp_path):
    glove = write(tmp_path, "glove.txt", "the 0.1 0.2 -0.3\n, 1 2 3 \nthe 9 9 9\n. . . 4 5 6\n")
    vectors = read_word_vectors(glove)
    assert list(vectors) == ["the", ",", ". . ."]  # file order, first vector of a repeated word kept
    np.testing.assert_allclose(vectors["the"], [0.1, 0.2, -0.3])
    assert vectors["the"].dtype == np.float32
    word2vec = write(tmp_path, "w2v.txt", "3 2\nking 1 2\nqueen 3 4\nemu 5 6\n")
    vectors = read_word_vectors(word2vec, dtype=np.float64)
    assert list(vectors) == ["king", "queen", "emu"] and vectors["emu"].dtype == np.float64
    assert list(read_word_vectors(word2vec, words={"emu", "cat"})) == ["emu"]
    assert list(read_word_vectors(word2vec, max_words=2)) == ["king", "queen"]


@pytest.mark.parametrize("content, message", [
    ("", r"v\.txt: the file holds no vectors"),
    ("a 1 2\nb 1\n", r"v\.txt, line 2: expected a word and 2 numbers, got 2 fields"),
    ("a 1 2\nb 1 x\n", r"v\.txt, line 2: the vector of 'b' holds something that is not a number"),
    ("3 2\na 1 2\nb 1 2\n", "the header declares 3 vectors but the file has 2"),
    ("lonely\n", r"v\.txt, line 1: expected a word followed by its numbers"),
])
def test_read_word_vectors_errors(tmp_path, content, message):
    with pytest.raises(ValueError, match=message):
        read_word_vectors(write(tmp_path, "v.txt", content))


def test_vectors_for_vocab():
    vocab = WordVocab(specials=["<pad>", "<unk>"]).fit(["Cat dog dog emu emu emu"])  # emu, dog, Cat
    vectors = {"dog": np.array([1.0, 2.0]), "cat": np.array([3.0, 5.0])}
    matrix, coverage, missing = vectors_for_vocab(vocab, vectors, seed=0)
    assert matrix.shape == (5, 2) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[0], [0.0, 0.0])  # <pad>
    np.testing.assert_array_equal(matrix[vocab.token_to_id("dog")], [1.0, 2.0])
    np.testing.assert_array_equal(matrix[vocab.token_to_id("Cat")], [3.0, 5.0])  # lower-case fallback
    assert coverage == pytest.approx(2 / 3) and missing == ["emu"]
    assert np.all(matrix[1] != 0) and np.all(matrix[vocab.token_to_id("emu")] != 0)
    again, _, _ = vectors_for_vocab(vocab, vectors, seed=0)
    np.testing.assert_array_equal(matrix, again)  # seeded
    _, coverage, missing = vectors_for_vocab(vocab, vectors, lowercase_fallback=False)
    assert coverage == pytest.approx(1 / 3) and missing == ["emu", "Cat"]


def test_vectors_for_vocab_random_scale():
    tokens = ["<pad>"] + [f"w{i}" for i in range(2000)]
    matrix, coverage, missing = vectors_for_vocab(tokens, {"other": np.zeros(50)}, scale=0.5, seed=1, dtype=np.float64)
    assert coverage == 0.0 and len(missing) == 2000
    assert matrix[1:].std() == pytest.approx(0.5, rel=0.02)
    np.testing.assert_array_equal(matrix[0], 0.0)
    found = {f"w{i}": np.full(4, 3.0 * (-1) ** i) for i in range(100)}
    matrix, _, _ = vectors_for_vocab(tokens, found, seed=1)  # scale from the found rows: std 3
    assert matrix[101:].std() == pytest.approx(3.0, rel=0.05)


def test_vectors_for_vocab_errors():
    with pytest.raises(ValueError, match="vectors is empty"):
        vectors_for_vocab(["a"], {})
    with pytest.raises(ValueError, match=r"the vector of 'b' has \(3,\)"):
        vectors_for_vocab(["a", "b"], {"a": np.zeros(2), "b": np.zeros(3)})
    with pytest.raises(TypeError, match="vocab must be a Vocab or a list of str"):
        vectors_for_vocab("abc", {"a": np.zeros(2)})
    with pytest.raises(ValueError, match="scale must be a number >= 0"):
        vectors_for_vocab(["a"], {"a": np.zeros(2)}, scale=-1.0)
