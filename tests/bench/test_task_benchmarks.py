"""``python -m benchmarks.tasks --quick``: the benchmark's plumbing on tiny slices, in seconds."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import tasks  # noqa: E402


def test_quick_mode_writes_results_for_the_chosen_tasks_and_cells(tmp_path, capsys):
    results, store = tmp_path / "RESULTS.md", tmp_path / "results.json"
    arguments = ["--quick", "--tasks", "dates,digits", "--cells", "gru,lstm", "--results", str(results),
                 "--json", str(store), "--workdir", str(tmp_path / "runs")]
    assert tasks.main(arguments) == 0
    printed = capsys.readouterr().out
    stored = json.loads(store.read_text())
    assert set(stored["dates"]) == {"gru", "lstm"}
    assert 0.0 <= stored["dates"]["lstm"]["value"] <= 1.0 and stored["dates"]["lstm"]["quick"]
    table = results.read_text()
    assert "date rewriting" in table and "rnnkit train seq2seq" in table and "not run" in table
    if not tasks.data_dir().exists():
        assert "digits: skipped" in printed
    else:
        assert "sklearn digits" in table


def test_unknown_task_or_cell_is_refused():
    with pytest.raises(SystemExit):
        tasks.main(["--tasks", "nope"])
    with pytest.raises(SystemExit):
        tasks.main(["--cells", "transformer"])


def test_sections_written_by_other_scripts_survive_a_rewrite_and_are_replaced_in_place(tmp_path):
    path = tmp_path / "RESULTS.md"
    tasks.write_markdown({}, path)
    tasks.write_section(path, "lm", "## Language models\n\nalpha text")
    tasks.write_section(path, "defaults", "## Defaults\n\nd")
    tasks.write_section(path, "lm", "## Language models\n\nbeta text")
    tasks.write_markdown({}, path)                  # benchmarks.tasks rewrites its own parts only
    text = path.read_text()
    assert "alpha text" not in text and text.count("beta text") == 1 and text.count("## Defaults") == 1
    assert text.index("beta text") < text.index("## Defaults") < text.index("## Details")
