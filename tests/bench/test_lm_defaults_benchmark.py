"""``python -m benchmarks.lm_defaults``: corpora, splits, the pick rule, and the --quick plumbing in seconds."""

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import lm_defaults  # noqa: E402


def test_blocks_split_every_line_once_about_80_10_10_and_spread_over_the_text():
    lines = [f"line {index:04d} " + "x" * (index % 7) + "\n" for index in range(2000)]
    train, val, test = lm_defaults.split_blocks(lines)
    assert sorted(train + val + test) == sorted(lines)
    sizes = [sum(map(len, part)) for part in (train, val, test)]
    total = sum(sizes)
    assert abs(sizes[0] / total - 0.8) < 0.01 and abs(sizes[1] / total - 0.1) < 0.01
    assert test[0] < lines[300] and test[-1] == lines[-1]     # test lines from the first block and the last
    assert not set(test) & set(train)


def test_wikitext_style_keeps_frequent_training_tokens_and_marks_the_rest_unknown():
    parts = (["a-b a-b a-b , , ,\n", "a , rare\n", "a\n"], ["a b\n"], ["a , new\n"])
    train, val, test = lm_defaults.wikitext_parts(parts)
    assert train[0] == "a @-@ b a @-@ b a @-@ b , , ,\n"
    assert train[1] == "a , <unk>\n" and val == ["a b\n"] and test == ["a , <unk>\n"]     # b: 3 times; rare: once


def test_the_pick_needs_every_corpus_and_a_margin():
    def entry(perplexity):
        return {"test_perplexity": perplexity}

    results = {"shakespeare-words": {"defaults": entry(100.0), "dropout": entry(80.0), "tied": entry(99.5)},
               "shakespeare-wikitext": {"defaults": entry(100.0), "dropout": entry(120.0), "tied": entry(99.5)},
               "pydoc-words": {"defaults": entry(50.0), "dropout": entry(50.0), "tied": entry(49.8)}}
    winner, means = lm_defaults.pick(results, lm_defaults.WORD_CORPORA)
    assert math.isclose(means["dropout"], (0.8 * 1.2) ** (1 / 3))
    assert winner == "dropout"                                      # 0.987: 1.3% better in geometric mean
    results["shakespeare-wikitext"]["dropout"] = entry(130.0)       # one corpus's gain does not decide alone
    assert lm_defaults.pick(results, lm_defaults.WORD_CORPORA)[0] == "defaults"   # tied: under 1% better
    del results["pydoc-words"]["tied"]
    assert "tied" not in lm_defaults.pick(results, lm_defaults.WORD_CORPORA)[1]


def test_the_level_summary_names_the_closest_rival_and_runs_that_ended_before_the_budget():
    def entry(perplexity, seconds):
        return {"test_perplexity": perplexity, "test_kn_bigram_perplexity": 11.8, "training_s": seconds}

    budget = 60 * lm_defaults.DEFAULT_MINUTES
    results = {"shakespeare-chars": {"defaults": entry(4.07, budget), "dropout": entry(4.09, budget)},
               "names-chars": {"defaults": entry(12.5, 50.0), "dropout": entry(12.4, 50.0)}}
    corpora = ("shakespeare-chars", "names-chars")
    winner, means = lm_defaults.pick(results, corpora)
    first, ended, kn = lm_defaults.level_summary(results, "character", corpora, winner, means)
    assert winner == "defaults" and "closest: dropout, ratio 0.998" in first       # never the defaults themselves
    assert ended.startswith("On names-chars the defaults end before the time budget")
    assert kn.startswith("The defaults beat the Kneser-Ney bigram on 1 of 2 character corpora (shakespeare-chars)")
    assert lm_defaults.shown_perplexity(4.066) == "4.07" and lm_defaults.shown_perplexity(63.31) == "63.3"


def test_quick_mode_trains_evaluates_and_writes_the_json_and_section(tmp_path, capsys):
    results, store = tmp_path / "RESULTS.md", tmp_path / "results.json"
    corpora = "pydoc-words,pydoc-chars,shakespeare-wikitext"
    arguments = ["--quick", "--corpora", corpora, "--configs", "defaults,dropout", "--results", str(results),
                 "--json", str(store), "--workdir", str(tmp_path / "runs")]
    assert lm_defaults.main(arguments) == 0
    printed = capsys.readouterr().out
    stored = json.loads(store.read_text())
    for corpus in ("pydoc-words", "pydoc-chars"):
        assert set(stored[corpus]) == {"defaults", "dropout"}
        entry = stored[corpus]["dropout"]
        assert entry["quick"] and entry["steps"] >= 1 and entry["test_tokens"] > 0
        assert 1.0 < entry["test_perplexity"] < float("inf") and entry["test_kn_bigram_perplexity"] > 1.0
        assert "--dropout 0.2" in entry["commands"][0] and str(tmp_path) not in entry["commands"][0]
    text = results.read_text()
    assert "<!-- section lm-defaults -->" in text and "pydoc-chars" in text
    assert "Kneser-Ney bigram" in text and "### Word level" in text and "### Character level" in text
    if lm_defaults.data_dir().joinpath("text", "tinyshakespeare.txt").exists():
        assert "whitespace (auto" in stored["shakespeare-wikitext"]["defaults"]["reading"]
    else:
        assert "shakespeare-wikitext: skipped" in printed
    assert not list(ROOT.glob("*.train.txt"))                      # corpora stay in the work folder


def test_unknown_corpus_or_configuration_is_refused():
    with pytest.raises(SystemExit):
        lm_defaults.main(["--corpora", "nope"])
    with pytest.raises(SystemExit):
        lm_defaults.main(["--configs", "batchnorm"])
