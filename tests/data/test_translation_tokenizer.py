"""The round-trip word tokeniser (rnnkit.data.tokenizer) and ReversibleWordVocab: golden splits in
English and French, the round trip on made-up and real text, the options, saving and loading."""

import os
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.tokenizer import JOINER, detokenize, normalize, tokenize
from rnnkit.data.vocab import ReversibleWordVocab, Vocab

DATA = Path(os.environ.get("RNNKIT_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
PAIRS = DATA / "translation" / "eng-fra_tatoeba.tsv"
J = JOINER


@pytest.mark.parametrize("text, tokens", [
    ("Puis-je entrer ?", ["Puis", f"{J}-{J}", "je", "entrer", "?"]),
    ("Qu'est-ce que c'est ?", [f"Qu'{J}", "est", f"{J}-{J}", "ce", "que", f"c'{J}", "est", "?"]),
    ("J'ai faim.", [f"J'{J}", "ai", "faim", f"{J}."]),
    ("Aujourd\u2019hui", [f"Aujourd\u2019{J}", "hui"]),
    ("I don't know, Tom's dog.", ["I", "do", f"{J}n't", "know", f"{J},", "Tom", f"{J}'s", "dog", f"{J}."]),
    ("We're here; it's 3.5 km!", ["We", f"{J}'re", "here", f"{J};", "it", f"{J}'s", "3", f"{J}.{J}", "5", "km",
                                   f"{J}!"]),
    ("« Bonjour » (dit-il)", ["«", "Bonjour", "»", f"({J}", "dit", f"{J}-{J}", "il", f"{J})"]),
    ("'quoted'", [f"'{J}", "quoted", f"{J}'"]),
])
def test_golden_splits(text, tokens):
    assert tokenize(text) == tokens
    assert detokenize(tokens) == text


def test_words_never_carry_the_mark():
    for text in ("Puis-je ?", "peut-être", "l'homme", "dit-il.", "Ça va ?"):
        for token in tokenize(text):
            assert not (token[0].isalnum() and token.endswith(JOINER) and token[-2] not in "'\u2019"), token
            assert not (token.startswith(JOINER) and token[1:2].isalpha() and token[1:].lower() != "n't"), token


def test_round_trip_on_random_text(rng):
    alphabet = list("abcXYZéàç019") + list(" .,;:!?'-()«»\"/&$%") + ["  ", "\t", "\u2019", "n't"]
    for _ in range(400):
        text = "".join(rng.choice(alphabet, size=rng.integers(0, 25)))
        assert detokenize(tokenize(text)) == " ".join(text.split()), repr(text)


def test_round_trip_on_the_tatoeba_pairs():
    if not PAIRS.is_file():
        pytest.skip(f"real data absent: {PAIRS} (set RNNKIT_DATA to the shared data folder)")
    lines = PAIRS.read_text(encoding="utf-8").splitlines()
    texts = [part for line in lines for part in line.split("\t")]
    assert len(texts) == 32000
    assert all(detokenize(tokenize(text)) == " ".join(text.split()) for text in texts)


def test_options_lower_and_strip_accents_are_explicit():
    assert normalize("Élève à Noël") == "Élève à Noël"                     # off by default
    assert normalize("Élève à Noël", strip_accents=True) == "Eleve a Noel"
    assert normalize("Élève", lower=True) == "élève"
    assert tokenize("Où est-il ?", lower=True, strip_accents=True) == ["ou", "est", f"{J}-{J}", "il", "?"]


def test_vocab_joins_its_output_and_round_trips_through_a_file(tmp_path):
    vocab = ReversibleWordVocab(strip_accents=True, lower=True).fit(["Puis-je entrer ?", "Élève, viens !"])
    ids = vocab.transform("Puis-je venir, élève ?")
    assert vocab.inverse_transform(ids) == "puis-je <unk>, eleve ?"
    vocab.save(tmp_path / "vocab.json")
    again = Vocab.load(tmp_path / "vocab.json")
    assert isinstance(again, ReversibleWordVocab) and again.strip_accents and again.lower
    assert again.tokens == vocab.tokens
    np.testing.assert_array_equal(again.transform("Puis-je venir, élève ?"), ids)
    with pytest.raises(TypeError, match="strip_accents must be True or False"):
        ReversibleWordVocab(strip_accents="yes")
