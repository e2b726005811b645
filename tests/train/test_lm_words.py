"""rnnkit train lm --level word on pre-tokenised text; streaming evaluation; the count baselines beside it."""

import json
import tracemalloc

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.data.vocab import CorpusWordVocab
from rnnkit.models.language_model import LanguageModel
from rnnkit.train import language_modeling
from rnnkit.train.language_modeling import (LMOptions, StreamEvaluator, embedding_size, evaluate_file,
                                            evaluate_stream, prepare, read_text_pieces)

WIKI_LINES = [" = Valkyria Chronicles = ", " ",
              " the <unk> of 1 @,@ 000 men went to the town @-@ hall . ",
              " the men went home , and the town slept . ",
              " a man of the town went to the <unk> . "]
TINY = ["--hidden", "8", "--batch", "2", "--seq-len", "6", "--epochs", "1", "--progress", "never",
        "--sample-length", "12"]


@pytest.fixture
def wiki(tmp_path):
    path = tmp_path / "wiki.train.tokens"
    path.write_text("\n".join(WIKI_LINES * 30) + "\n", encoding="utf-8")
    return path


def test_word_level_reads_pretokenised_text_whole_and_reports_unknowns_and_baselines(wiki, tmp_path, capsys):
    assert main(["train", "lm", "--data", str(wiki), "--level", "word", "--out", str(tmp_path / "run"), *TINY]) == 0
    out = capsys.readouterr().out
    assert "words: whitespace (auto: it holds <unk>, @-@, @,@)" in out
    assert "line ends: the token <eos>" in out
    assert "unknown tokens (<unk>): " in out and "count baselines on the validation text: unigram perplexity" in out
    vocab = json.loads((tmp_path / "run" / "vocab.json").read_text())
    assert vocab["kind"] == "CorpusWordVocab" and vocab["mode"] == "whitespace" and vocab["line_breaks"]
    assert {"@-@", "@,@", "<eos>"} <= set(vocab["tokens"]) and vocab["tokens"].count("<unk>") == 1
    assert not {"<", "unk", ">", "@"} & set(vocab["tokens"])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    for key in ("perplexity", "unk_rate", "unigram_perplexity", "kn_bigram_perplexity"):
        assert summary["best"][key] > 0, key
    sample = out.split("--- sample")[1]
    assert "< unk >" not in sample and "@ - @" not in sample


def test_evaluate_streams_the_file_and_prints_tokens_unknowns_and_baselines(wiki, tmp_path, capsys):
    assert main(["train", "lm", "--data", str(wiki), "--level", "word", "--out", str(tmp_path / "run"), *TINY]) == 0
    test = tmp_path / "test.tokens"
    test.write_text(" the <unk> of the town went home . \n the zebra went home . \n" * 5, encoding="utf-8")
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--data", str(test), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["tokens"] == (8 + 1 + 5 + 1) * 5                 # the words and a line end per line
    assert metrics["unk_rate"] == pytest.approx(10 / 75)            # 5 of the text's own <unk>, 5 zebras
    assert metrics["kn_bigram_perplexity"] > 1 and metrics["unigram_perplexity"] > metrics["kn_bigram_perplexity"]


def test_evaluate_equals_the_validation_on_the_same_text_and_any_piece_size(wiki, tmp_path, monkeypatch):
    options = LMOptions(data=str(wiki), level="word", hidden=8, batch=2, seq_len=6, progress="never")
    prepared = prepare(options)
    model, task = prepared.model, prepared.task
    vocab = prepared.vocabs["vocab.json"]
    _, val_text = language_modeling.split_text(wiki.read_text(encoding="utf-8"), options.val_fraction)
    (tmp_path / "val.txt").write_text(val_text, encoding="utf-8")
    document = {"options": {**vars(options)}, "data_files": {}}
    whole = evaluate_file(model, document, {"vocab.json": vocab}, str(tmp_path / "val.txt"))
    validation = task.evaluate(model)
    assert whole["tokens"] == len(task.val_ids)
    for key in ("loss", "unk_rate", "unigram_perplexity", "kn_bigram_perplexity"):
        assert whole[key] == pytest.approx(validation[key], rel=1e-12), key
    monkeypatch.setattr(language_modeling, "READ_CHUNK_BYTES", 37)            # many pieces, cut at line ends
    pieces = list(read_text_pieces(tmp_path / "val.txt", chunk_bytes=37))
    assert len(pieces) > 3 and "".join(text for text, _ in pieces) == val_text
    small = evaluate_file(model, document, {"vocab.json": vocab}, str(tmp_path / "val.txt"))
    assert small["loss"] == pytest.approx(whole["loss"], rel=1e-12) and small["tokens"] == whole["tokens"]


@pytest.mark.parametrize("count", [2, 3, 17, 64 * 3 + 5, 1000])
def test_every_token_after_the_first_is_scored_once_whatever_the_pieces(count):
    model = LanguageModel(9, 4, embedding_dim=3, dtype=np.float64, seed=0)
    ids = np.random.default_rng(count).integers(0, 9, size=count)
    with model.inference():
        logits, _ = model(ids[None, :-1])
    expected = -np.sum(np.log(np.exp(logits[0]) / np.exp(logits[0]).sum(-1, keepdims=True))[np.arange(count - 1),
                                                                                          ids[1:]])
    for rows, row_tokens, pieces in ((1, 10_000, 1), (3, 7, 4), (32, 50, 9)):
        evaluator = StreamEvaluator(model, rows=rows, min_row=1, row_tokens=row_tokens)
        with model.inference():
            for part in np.array_split(ids, pieces):
                evaluator.feed(part)
            total, scored = evaluator.finish()
        assert scored == count - 1
        if rows == 1:                                   # one row: the state runs through the whole stream
            assert total == pytest.approx(expected, rel=1e-10)


def test_ranks_share_the_rows_and_add_up_to_one_process():
    model = LanguageModel(9, 4, embedding_dim=3, dtype=np.float64, seed=0)
    ids = np.random.default_rng(0).integers(0, 9, size=700)
    whole = evaluate_stream(model, ids, 5, 8)
    sums = [0.0, 0]
    for rank in range(3):
        evaluator = StreamEvaluator(model, 5, 8, rank=rank, size=3)
        with model.inference():
            evaluator.feed(ids)
            total, count = evaluator.finish()
        sums = [sums[0] + total, sums[1] + count]
    assert sums[1] == 699 and sums[0] / sums[1] == pytest.approx(whole["loss"], rel=1e-12)


@pytest.mark.slow
def test_five_million_tokens_evaluate_in_bounded_memory(tmp_path):
    """A 5,000,000-token file (about 22 MB) is evaluated in pieces: the peak of the Python and NumPy
    allocations (traced after a first call has loaded the code) stays under 40 MB, where the file's
    text, its token list and its ids alone would take several hundred."""
    words = [f"w{index}" for index in range(40)]
    rng = np.random.default_rng(0)
    line = 20                                           # 19 words and a line end per line
    lines = 5_000_000 // line
    chosen = np.array(words)[rng.integers(0, len(words), size=(lines, line - 1))]
    path = tmp_path / "big.txt"
    with open(path, "w", encoding="utf-8") as handle:
        for start in range(0, lines, 10_000):
            handle.write("\n".join(" ".join(row) for row in chosen[start:start + 10_000]) + "\n")
    del chosen
    train = tmp_path / "train.txt"
    train.write_text("\n".join(" ".join(words[i % 40] for i in range(j, j + 19)) for j in range(200)) + "\n")
    vocab = CorpusWordVocab(mode="whitespace", line_breaks=True, specials=["<unk>"]).fit(train.read_text())
    model = LanguageModel(len(vocab), 8, embedding_dim=4, seed=0)
    document = {"options": {"level": "word", "seq_len": 32, "data": str(train), "val_fraction": 0.1,
                            "progress": "never"}, "data_files": {}}
    evaluate_file(model, document, {"vocab.json": vocab}, str(train))    # the first call loads compiled kernels
    tracemalloc.start()
    try:
        metrics = evaluate_file(model, document, {"vocab.json": vocab}, str(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert metrics["tokens"] == 5_000_000
    assert metrics["unk_rate"] == 0 and np.isfinite(metrics["loss"])
    assert peak < 40 * 2 ** 20, f"peak {peak / 2 ** 20:.1f} MB"


def test_embedding_and_vocabulary_follow_the_vocabulary_at_word_level():
    assert embedding_size(LMOptions(level="word"), 33_278) == 256              # the rule gives 545, capped at --hidden
    assert embedding_size(LMOptions(level="word", hidden=1024), 33_278) == 545
    assert embedding_size(LMOptions(level="word", tie_embeddings=True, hidden=200), 50) == 200
    assert embedding_size(LMOptions(level="char"), 90) == 32                   # characters: as before
    assert embedding_size(LMOptions(level="word", embedding=48), 33_278) == 48


def test_raw_text_keeps_words_seen_twice_and_says_so(tmp_path, capsys):
    text = "The cat sat on the mat. The dog sat on the rug, happily.\n" * 40 + "A zebra appeared once.\n"
    (tmp_path / "raw.txt").write_text(text, encoding="utf-8")
    prepared = prepare(LMOptions(data=str(tmp_path / "raw.txt"), level="word", hidden=8, batch=2, seq_len=6))
    vocab = prepared.vocabs["vocab.json"]
    assert vocab.mode == "words" and "zebra" not in vocab and "cat" in vocab
    assert any("words seen at least twice, at most 50,000" in line for line in prepared.description)
    generated = language_modeling.generate_text(prepared.model, vocab, "The cat", 30, seed=0)
    assert "\uffed" not in generated                                          # the joiner marks never show


@pytest.mark.parametrize("arguments, message", [
    (["--tokenizer", "whitespace"], "--tokenizer has an effect only with --level word"),
    (["--level", "word", "--tie-embeddings", "--embedding", "16"], "--tie-embeddings needs the embedding as wide"),
    (["--embedding", "0", "--embedding-dropout", "0.1"], "--embedding 0 has none"),
    (["--embedding-dropout", "1.5"], r"--embedding-dropout must lie in \[0.0, 0.99\]"),
    (["--encoding", "klingon"], "--encoding 'klingon' is not a text encoding"),
])
def test_bad_options_are_refused(arguments, message, wiki, tmp_path, capsys):
    assert main(["train", "lm", "--data", str(wiki), "--out", str(tmp_path / "run"), *TINY, *arguments]) == 2
    assert pytest.importorskip("re").search(message, capsys.readouterr().err)


def test_encoding_reads_a_latin_1_file(tmp_path, capsys):
    path = tmp_path / "latin.txt"
    path.write_bytes(("Élève à Noël, café crème.\n" * 80).encode("latin-1"))
    assert main(["train", "lm", "--data", str(path), "--out", str(tmp_path / "bad"), *TINY]) == 2
    assert "cannot decode the file as utf-8" in capsys.readouterr().err
    assert main(["train", "lm", "--data", str(path), "--out", str(tmp_path / "run"), "--encoding", "latin-1",
                 *TINY]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--data", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == 80 * 26


def test_evaluate_shows_a_progress_bar_with_the_token_count_on_a_terminal(wiki, tmp_path, capsys, monkeypatch):
    assert main(["train", "lm", "--data", str(wiki), "--level", "word", "--out", str(tmp_path / "run"), *TINY]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--file", str(wiki)]) == 0
    assert "evaluating" not in capsys.readouterr().err                       # not a terminal: no bar
    monkeypatch.setattr(language_modeling.report, "show_progress", lambda *args, **kwargs: True)
    assert main(["evaluate", str(tmp_path / "run"), "--file", str(wiki)]) == 0
    captured = capsys.readouterr()
    assert "evaluating wiki.train.tokens" in captured.err and "1,290 tokens" in captured.err
    assert "tokens 1290," in captured.out             # and in the metrics: 30 x (5 + 1 + 15 + 11 + 11) with line ends


def test_validation_bar_only_when_asked(wiki, tmp_path, capsys):
    arguments = ["train", "lm", "--data", str(wiki), "--level", "word", *TINY[:-4], "--sample-length", "5"]
    assert main([*arguments, "--out", str(tmp_path / "a"), "--progress", "never"]) == 0
    assert "validation:" not in capsys.readouterr().err
    assert main([*arguments, "--out", str(tmp_path / "b"), "--progress", "always"]) == 0
    assert "validation:" in capsys.readouterr().err


def test_baselines_read_the_training_text_in_its_own_encoding_or_say_why_not(tmp_path, capsys):
    train = tmp_path / "train.txt"
    train.write_text("Élève à Noël, café crème.\n" * 80, encoding="utf-8")
    assert main(["train", "lm", "--data", str(train), "--out", str(tmp_path / "run"), *TINY]) == 0
    latin = tmp_path / "latin.txt"
    latin.write_bytes(("Élève à Noël.\n" * 10).encode("latin-1"))
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--file", str(latin), "--encoding", "latin-1", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["tokens"] == 14 * 10 and "note" not in metrics
    assert 1 < metrics["kn_bigram_perplexity"] < metrics["unigram_perplexity"]
    train.write_text("something else entirely\n", encoding="utf-8")
    assert main(["evaluate", str(tmp_path / "run"), "--file", str(latin), "--encoding", "latin-1"]) == 0
    out = capsys.readouterr().out
    assert "note: no count baselines: the run's training text is not as it was" in out
    assert "kn_bigram_perplexity" not in out and "perplexity" in out
