"""``python -m benchmarks.ab``: two source trees timed in alternating processes."""

import os
import statistics
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import ab  # noqa: E402


def test_one_tree_against_itself_prints_a_ratio_per_cell_and_size(capsys):
    source = str(ROOT / "src")
    ab.main([source, source, "--cells", "RNN", "--sizes", "S", "--rounds", "2", "--reps", "1", "--mode", "infer"])
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("infer, 2 rounds x 1 calls")
    row = printed[1].split()
    assert row[:3] == ["RNN", "S", "median"] and row[4] == "rounds"
    rounds = [float(value) for value in row[5:7]]
    assert row[7] == "|" and all(ratio > 0 for ratio in rounds)
    assert abs(float(row[3]) - statistics.median(rounds)) <= 0.01          # the median of the (rounded) round ratios
    assert len(printed) == 2


def test_rounds_alternate_the_trees_and_report_the_median_ratio(tmp_path, monkeypatch, capsys):
    """Round 1 runs old then new, round 2 new then old, ...; the ratio is new/old per round."""
    trees = {}
    for name in ("old", "new"):
        (tmp_path / name / "rnnkit").mkdir(parents=True)
        (tmp_path / name / "rnnkit" / "__init__.py").write_text("")
        trees[name] = str(tmp_path / name)
    medians = {"old": [1.0, 2.0, 4.0], "new": [2.0, 3.0, 2.0]}        # seconds, per round
    calls = []

    def timed(tree, cell, size, mode, reps, given):
        name = os.path.basename(tree)
        index = calls.count(name)
        calls.append(name)
        return {"median": medians[name][index], "max": 2 * medians[name][index], "faults_per_call": 0.0}

    monkeypatch.setattr(ab, "run_one", timed)
    ab.main([trees["old"], trees["new"], "--cells", "GRU", "--sizes", "M", "--rounds", "3", "--mode", "train"])
    assert calls == ["old", "new", "new", "old", "old", "new"]
    row = capsys.readouterr().out.splitlines()[1]
    assert "median 1.50  rounds 2.00 1.50 0.50" in row                  # 2/1, 3/2, 2/4
    assert "slowest call, ms: old 2000/4000/8000, new 4000/6000/4000" in row


def test_a_folder_without_rnnkit_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        ab.main([str(tmp_path), str(ROOT / "src"), "--rounds", "1"])
