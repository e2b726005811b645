"""``python -m benchmarks.ab``: two source trees timed in alternating processes."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import ab  # noqa: E402


def test_one_tree_against_itself_prints_a_ratio_per_cell_and_size(capsys):
    source = str(ROOT / "src")
    ab.main([source, source, "--cells", "RNN", "--sizes", "S", "--rounds", "2", "--reps", "1", "--mode", "infer"])
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("infer, 2 rounds x 1 calls")
    row = printed[1].split()
    assert row[:3] == ["RNN", "S", "median"] and float(row[3]) > 0
    assert len(printed) == 2


def test_a_folder_without_rnnkit_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        ab.main([str(tmp_path), str(ROOT / "src"), "--rounds", "1"])
