"""Tests for rnnkit.data.vocab: CharVocab and WordVocab."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data import CharVocab, Vocab, WordVocab, split_words


def data_dir() -> Path:
    return Path(os.environ.get("RNNKIT_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


def require_data(relative: str) -> Path:
    path = data_dir() / relative
    if not path.exists():
        pytest.skip(f"real data file {path} is absent (set RNNKIT_DATA to the shared data folder)")
    return path


# ----------------------------------------------------------------- ids and order


def test_specials_come_first_in_fixed_order_and_pad_is_zero():
    vocab = CharVocab(specials=["<eos>", "<pad>", "<unk>"]).fit("ab")
    assert vocab.tokens[:3] == ["<pad>", "<unk>", "<eos>"]
    assert vocab.pad_id == 0 and vocab.unk_id == 1 and vocab.eos_id == 2 and vocab.bos_id is None
    assert vocab.special_ids == [0, 1, 2]


def test_ids_follow_frequency_then_token():
    vocab = WordVocab(specials=["<pad>", "<unk>"]).fit(["b a c b", "c b d"])
    # b: 3, c: 2, a and d: 1 (a before d)
    assert vocab.tokens == ["<pad>", "<unk>", "b", "c", "a", "d"]
    assert vocab.counts == {"b": 3, "c": 2, "a": 1, "d": 1}


def test_min_freq_drops_rare_tokens_to_unk():
    vocab = WordVocab(specials=["<pad>", "<unk>"], min_freq=2).fit(["x y y z z z"])
    assert vocab.tokens == ["<pad>", "<unk>", "z", "y"]
    assert vocab.transform("x y z").tolist() == [1, 3, 2]


def test_max_size_counts_specials_and_breaks_ties_by_token():
    vocab = CharVocab(specials=["<pad>", "<unk>"], max_size=4).fit(["dcba", "e"])  # every char once
    assert vocab.tokens == ["<pad>", "<unk>", "a", "b"]
    assert len(vocab) == 4
    again = CharVocab(specials=["<pad>", "<unk>"], max_size=4).fit(["e", "abcd"])
    assert again.tokens == vocab.tokens  # order of the texts does not matter


def test_fit_again_starts_from_scratch():
    vocab = CharVocab().fit("abc")
    vocab.fit("xy")
    assert "a" not in vocab and "x" in vocab and len(vocab) == 6


def test_lower_applies_to_fit_and_transform():
    vocab = WordVocab(lower=True, specials=["<unk>"]).fit(["Hello HELLO world"])
    assert vocab.tokens == ["<unk>", "hello", "world"]
    assert vocab.transform("HeLLo World").tolist() == [1, 2]


def test_literal_special_strings_in_text_are_not_counted_twice():
    vocab = WordVocab(tokenizer=str.split).fit(["<pad> a"])
    assert vocab.tokens.count("<pad>") == 1


# ----------------------------------------------------------------- encoding


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="abcxyz \n\u0085é", min_size=1, max_size=40))
def test_char_round_trip(text):
    vocab = CharVocab().fit(text)
    assert vocab.inverse_transform(vocab.transform(text)) == text


def test_word_round_trip_gives_tokens_joined_by_spaces():
    text = "Don't panic, it's fine!"
    vocab = WordVocab().fit(text)
    assert vocab.inverse_transform(vocab.transform(text)) == "Don't panic , it's fine !"


def test_split_words():
    assert split_words("A cat's toy (new)\tcosts 3.5$") == ["A", "cat's", "toy", "(", "new", ")", "costs", "3", ".", "5", "$"]
    assert split_words("   ") == []


def test_custom_tokenizer():
    vocab = WordVocab(tokenizer=lambda text: text.split("|"), specials=["<unk>"]).fit("a b|c")
    assert vocab.tokens == ["<unk>", "a b", "c"]
    with pytest.raises(TypeError, match="tokenizer must return a list of str"):
        WordVocab(tokenizer=lambda text: text).fit("abc")
    with pytest.raises(TypeError, match="tokenizer must be a callable"):
        WordVocab(tokenizer="split")


def test_transform_list_gives_list_of_int_arrays():
    vocab = CharVocab().fit(["ab", "ba"])
    encoded = vocab.transform(["ab", "", "b"])
    assert isinstance(encoded, list) and len(encoded) == 3
    assert all(array.dtype == np.int64 and array.ndim == 1 for array in encoded)
    assert [array.tolist() for array in encoded] == [[4, 5], [], [5]]


def test_unknown_tokens_map_to_unk():
    vocab = CharVocab().fit("ab")
    assert vocab.transform("azb").tolist() == [4, 1, 5]
    assert vocab.token_to_id("z") == vocab.unk_id
    assert vocab.inverse_transform([4, 1, 5]) == "a<unk>b"


def test_unknown_token_without_unk_is_a_clear_error():
    vocab = CharVocab(specials=["<pad>"]).fit("ab")
    with pytest.raises(KeyError, match=r"'z' is not in the vocabulary and this vocabulary has no <unk>"):
        vocab.transform("az")


def test_bos_eos_and_strip_specials():
    vocab = CharVocab().fit("ab")
    ids = vocab.transform("ab", add_bos=True, add_eos=True)
    assert ids.tolist() == [2, 4, 5, 3]
    assert vocab.inverse_transform(ids) == "ab"
    assert vocab.inverse_transform(ids, strip_specials=False) == "<bos>ab<eos>"
    padded = np.array([[4, 5, 0], [5, 0, 0]])
    assert vocab.inverse_transform(padded) == ["ab", "b"]
    assert vocab.inverse_transform([[4], [5, 4]]) == ["a", "ba"]
    no_bos = CharVocab(specials=["<pad>", "<unk>"]).fit("ab")
    with pytest.raises(ValueError, match="add_bos=True needs '<bos>'"):
        no_bos.transform("a", add_bos=True)
    with pytest.raises(ValueError, match="add_eos=True needs '<eos>'"):
        no_bos.transform("a", add_eos=True)


def test_id_to_token_checks_range_and_type():
    vocab = CharVocab().fit("ab")
    assert vocab.id_to_token(4) == "a"
    with pytest.raises(IndexError, match=r"index must lie in \[0, 6\), got 6"):
        vocab.id_to_token(6)
    with pytest.raises(TypeError, match="index must be an int"):
        vocab.id_to_token(1.0)
    with pytest.raises(IndexError):
        vocab.inverse_transform([0, 99])
    with pytest.raises(TypeError, match="ids must be integers"):
        vocab.inverse_transform(np.array([1.0, 2.0]))


def test_bad_arguments():
    with pytest.raises(RuntimeError, match="not fitted"):
        CharVocab().transform("a")
    with pytest.raises(ValueError, match="specials may only contain"):
        CharVocab(specials=["<mask>"])
    with pytest.raises(TypeError, match="specials must be a sequence"):
        CharVocab(specials="<pad>")
    with pytest.raises(ValueError, match="must not repeat"):
        CharVocab(specials=["<pad>", "<pad>"])
    with pytest.raises(ValueError, match="min_freq must be an int >= 1, got 0"):
        CharVocab(min_freq=0)
    with pytest.raises(ValueError, match="max_size must be an int >= 5"):
        CharVocab(max_size=4)
    with pytest.raises(TypeError, match="lower must be True or False"):
        CharVocab(lower=1)
    with pytest.raises(TypeError, match="text must be a str or a list of str"):
        CharVocab().fit("a").transform(5)
    with pytest.raises(TypeError, match="text must be a str, got int"):
        CharVocab().fit([1, 2])


# ----------------------------------------------------------------- files


@pytest.mark.parametrize("make", [
    lambda: CharVocab(specials=["<pad>", "<unk>", "<eos>"], min_freq=1, lower=True).fit(["Hello", "wörld"]),
    lambda: WordVocab(max_size=6).fit(["the cat, the dog", "a cat"]),
])
def test_save_load_round_trip(tmp_path, make):
    vocab = make()
    path = tmp_path / "vocab.json"
    vocab.save(path)
    loaded = Vocab.load(path)
    assert type(loaded) is type(vocab)
    assert loaded.tokens == vocab.tokens
    assert loaded.specials == vocab.specials and loaded.lower == vocab.lower
    assert loaded.min_freq == vocab.min_freq and loaded.max_size == vocab.max_size
    assert loaded.counts == vocab.counts
    text = "Hello the cat"
    assert loaded.transform(text).tolist() == vocab.transform(text).tolist()
    assert type(vocab).load(path).tokens == vocab.tokens
    assert os.listdir(tmp_path) == ["vocab.json"]  # the temporary file was renamed, not left behind


def test_save_overwrites_atomically(tmp_path):
    path = tmp_path / "vocab.json"
    CharVocab().fit("abc").save(path)
    CharVocab().fit("xy").save(path)
    assert Vocab.load(path).tokens[4:] == ["x", "y"]
    assert os.listdir(tmp_path) == ["vocab.json"]


def test_custom_tokenizer_must_be_given_back_on_load(tmp_path):
    path = tmp_path / "vocab.json"
    WordVocab(tokenizer=str.split).fit("a,b c").save(path)
    with pytest.raises(ValueError, match="custom tokenizer: pass the same one"):
        WordVocab.load(path)
    assert WordVocab.load(path, tokenizer=str.split).transform("a,b c").tolist() == [4, 5]


def test_load_refuses_the_wrong_kind(tmp_path):
    path = tmp_path / "vocab.json"
    WordVocab().fit("a b").save(path)
    with pytest.raises(ValueError, match="it holds a WordVocab, not a CharVocab"):
        CharVocab.load(path)


def _write_document(path: Path, **changes) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None and key != "max_size":
            del document[key]
        else:
            document[key] = value
    path.write_text(json.dumps(document), encoding="utf-8")


@pytest.mark.parametrize("changes, message", [
    ({"tokens": ["<pad>", "<unk>", "<bos>", "<eos>", "a", "a"], "counts": [0, 0, 0, 0, 1, 1]}, "repeats 'a'"),
    ({"tokens": ["<unk>", "<pad>", "<bos>", "<eos>", "a", "b"]}, "must start with the specials"),
    ({"tokens": "ab"}, '"tokens" must be a list of strings'),
    ({"counts": [1, 2]}, '"counts" must be a list of 6 ints'),
    ({"kind": "ByteVocab"}, "unknown kind 'ByteVocab'"),
    ({"version": 99}, "unsupported version 99"),
    ({"format": "other"}, '"format": "rnnkit-vocab"'),
    ({"lower": None}, "the key 'lower' is missing"),
    ({"min_freq": -1}, "min_freq must be an int >= 1"),
    ({"max_size": 5}, "it has 6 tokens but max_size is 5"),
])
def test_load_refuses_a_bad_file(tmp_path, changes, message):
    path = tmp_path / "vocab.json"
    CharVocab().fit("ab").save(path)
    _write_document(path, **changes)
    with pytest.raises(ValueError, match=message):
        Vocab.load(path)


def test_load_refuses_broken_json(tmp_path):
    path = tmp_path / "vocab.json"
    CharVocab().fit("ab").save(path)
    path.write_text(path.read_text()[:-10], encoding="utf-8")  # cut short, as by a crash
    with pytest.raises(ValueError, match="vocab.json: not a valid vocabulary file, the JSON is broken"):
        Vocab.load(path)
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="not UTF-8"):
        Vocab.load(path)


# ----------------------------------------------------------------- real data


def test_tinyshakespeare_has_65_symbols_and_round_trips():
    text = require_data("text/tinyshakespeare.txt").read_text(encoding="utf-8")
    vocab = CharVocab(specials=[]).fit(text)
    assert len(vocab) == 65
    assert vocab.tokens[0] == " "  # the most frequent character
    sample = text[:5000]
    assert vocab.inverse_transform(vocab.transform(sample)) == sample
