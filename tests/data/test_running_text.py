"""Word-level running text for language models: pre-tokenised corpora, special tokens, line breaks."""

import pytest

from rnnkit.data.tokenizer import (LINE_BREAK, join_running_text, line_breaks_carry_meaning, looks_pretokenized,
                                   split_running_text)
from rnnkit.data.vocab import CorpusWordVocab, Vocab

# Four lines in WikiText's layout: a heading, a blank line, a paragraph with <unk> and @-@ / @,@ / @.@.
WIKI = (" = Valkyria Chronicles III = \n"
        " \n"
        " Senjō no Valkyria 3 : <unk> Chronicles is a tactical role @-@ playing game , sold 1 @,@ 000 copies "
        "at 3 @.@ 5 dollars . \n"
        " The game began development in 2010 . \n")


def test_whitespace_mode_keeps_every_corpus_token_whole():
    tokens = split_running_text(WIKI, "whitespace", line_breaks=False)
    assert tokens == WIKI.split()                                  # exactly the corpus's tokens
    assert {"<unk>", "@-@", "@,@", "@.@"} <= set(tokens)
    assert "<" not in tokens and "unk" not in tokens and "@" not in tokens


def test_line_breaks_become_one_token_per_line_end_blank_lines_included():
    tokens = split_running_text(WIKI, "whitespace", line_breaks=True)
    assert tokens.count(LINE_BREAK) == 4                           # four "\n", one of them ending a blank line
    assert tokens[:5] == ["=", "Valkyria", "Chronicles", "III", "="] and tokens[5:7] == [LINE_BREAK, LINE_BREAK]
    assert split_running_text("a b", "whitespace", True) == ["a", "b"]        # no line end, no token
    assert split_running_text("a\r\nb\r\n", "whitespace", True) == ["a", LINE_BREAK, "b", LINE_BREAK]


def test_pieces_that_end_at_line_ends_give_the_tokens_of_the_whole_text():
    lines = WIKI.splitlines(keepends=True)
    for mode in ("whitespace", "words"):
        pieces = [token for line in lines for token in split_running_text(line, mode, True)]
        assert pieces == split_running_text(WIKI, mode, True)


def test_words_mode_splits_raw_text_but_keeps_special_tokens_whole():
    tokens = split_running_text("The <unk>'s price: 1 @,@ 000 dollars.", "words", line_breaks=False)
    assert "<unk>" in tokens and "@,@" in tokens
    assert "unk" not in tokens and "<" not in tokens
    assert tokens[-1] == "\uffed."                                  # punctuation marked where it touches


@pytest.mark.parametrize("mode, text", [
    ("whitespace", "a <unk> of 1 @,@ 000 .\nnext line\n\nafter a blank line"),
    ("words", "Don't stop: it's 3.5 km!\nNext line, here.\n\nA new paragraph."),
])
def test_join_gives_the_text_back(mode, text):
    assert join_running_text(split_running_text(text, mode, True), mode) == text


def test_detection_of_pretokenised_text():
    assert looks_pretokenized(WIKI) == (True, "it holds <unk>, @-@, @,@, @.@")
    assert looks_pretokenized("Hello , world . How are you ? " * 10)[0]
    assert not looks_pretokenized("Hello, world. How are you? " * 10)[0]
    assert not looks_pretokenized("no punctuation at all here")[0]


def test_detection_of_meaningful_line_breaks():
    prose = ("Hard-wrapped prose goes on from one line to the next\n"
             "line, wherever the page ended, and the reader never\n"
             "notices that the line ended in the middle of it all.\n") * 4
    assert not line_breaks_carry_meaning(prose)[0]
    assert line_breaks_carry_meaning("emma\nolivia\nava\nisabella\n" * 5)[0]        # one name per line
    assert line_breaks_carry_meaning(WIKI)[0]                                        # one paragraph per line
    verse = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 4
    assert line_breaks_carry_meaning(verse)[0]


def test_corpus_vocab_maps_the_corpus_unk_to_its_unknown_token_and_round_trips(tmp_path):
    vocab = CorpusWordVocab(mode="whitespace", line_breaks=True, specials=["<unk>"]).fit(WIKI)
    assert vocab.tokens[:2] == ["<unk>", "<eos>"] and "<unk>" not in vocab.tokens[2:]
    ids = vocab.transform(WIKI)
    assert ids.tolist().count(vocab.unk_id) == 1                   # the corpus's own <unk>
    assert vocab.inverse_transform(ids) == "\n".join(" ".join(line.split()) for line in WIKI.split("\n"))
    vocab.save(tmp_path / "vocab.json")
    again = Vocab.load(tmp_path / "vocab.json")
    assert isinstance(again, CorpusWordVocab) and (again.mode, again.line_breaks) == ("whitespace", True)
    assert again.transform(WIKI).tolist() == ids.tolist()


def test_corpus_vocab_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="mode must be one of \\['whitespace', 'words'\\], got 'chars'"):
        CorpusWordVocab(mode="chars")
