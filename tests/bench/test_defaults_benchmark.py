"""``python -m benchmarks.defaults``: the rule that picks a winner, and the --quick plumbing on tiny slices."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import defaults, tasks  # noqa: E402

needs_data = pytest.mark.skipif(not tasks.data_dir().exists(),
                                reason=f"the shared data folder {tasks.data_dir()} is absent (set RNNKIT_DATA)")


def test_the_winner_has_the_lowest_mean_rank_not_the_best_single_score():
    # "previous" is far ahead on one data set only; "drop0.3" is a little ahead on the other five.
    names = list(defaults.DATASETS["classify"])
    table = {name: {"previous": (0.70, 0.0, 1), "drop0.3": (0.72, 0.0, 1)} for name in names}
    table[names[0]] = {"previous": (0.99, 0.0, 1), "drop0.3": (0.50, 0.0, 1)}
    order = defaults.ranking("classify", table)
    assert [name for name, _, _ in order] == ["drop0.3", "previous"]
    assert order[0][1] == pytest.approx((1 * 5 + 2) / 6)
    # by mean relative score "previous" would have won: the rule is the rank
    assert order[1][2] > order[0][2]


def test_lower_is_better_for_forecasts_and_ties_share_their_rank():
    table = {"nile": {"previous": (0.9, 0.0, 2), "e50p10": (0.8, 0.0, 2), "e50p10-h32": (0.8, 0.0, 2)}}
    order = dict((name, rank) for name, rank, _ in defaults.ranking("forecast", table))
    assert order == {"e50p10": 1.5, "e50p10-h32": 1.5, "previous": 3.0}


def test_a_candidate_missing_on_some_data_set_takes_no_part():
    table = {"nile": {"previous": (0.9, 0.0, 1), "e50p10": (0.8, 0.0, 1)}, "co2": {"previous": (0.9, 0.0, 1)}}
    assert [name for name, _, _ in defaults.ranking("forecast", table)] == ["previous"]


@pytest.mark.parametrize("task", defaults.TASK_NAMES)
def test_the_current_defaults_are_one_of_the_measured_candidates(task):
    # A default changed without a measurement (or a candidate list that no longer holds the defaults) fails here.
    name = defaults.defaults_candidate(task)
    assert name is not None
    settings = defaults.CANDIDATES[task][name][1]
    assert all(defaults.current_defaults(task)[key] == value for key, value in settings.items())


def test_every_candidate_of_a_task_sets_the_same_options_and_text_only_ones_are_left_out_elsewhere():
    for task, candidates in defaults.CANDIDATES.items():
        keys = {tuple(settings) for _, settings in candidates.values()}
        assert len(keys) == 1, task
    settings = defaults.CANDIDATES["classify"]["drop0.5-word0.2"][1]
    assert "--word-dropout" in defaults.flags(settings, text=True)
    assert "--word-dropout" not in defaults.flags(settings, text=False)
    assert "--no-bidirectional" in defaults.flags(settings)


def test_unknown_names_are_refused():
    for arguments in (["--tasks", "lm"], ["--datasets", "mnist"], ["--candidates", "bigger"], ["--seeds", "a"]):
        with pytest.raises(SystemExit):
            defaults.main(arguments)


@needs_data
def test_series_in_other_layouts_become_one_value_per_row(tmp_path):
    folder = tasks.data_dir()
    arguments, path, _ = defaults.elnino(folder, tmp_path, quick=False)
    rows = path.read_text().splitlines()
    assert rows[0] == "month,temperature" and rows[1] == "1950-01,23.110" and len(rows) == 1 + 61 * 12
    arguments, path, _ = defaults.sunspots_monthly(folder, tmp_path, quick=False)
    rows = path.read_text().splitlines()
    assert rows[1] == "1749-01,58.0" and rows[-1] == "2009-06,2.6"
    assert len(rows) == 1 + (2008 - 1749 + 1) * 12 + 6            # the note lines at the end are not values


@needs_data
def test_quick_mode_runs_every_task_and_writes_its_section(tmp_path, capsys):
    results, store = tmp_path / "RESULTS.md", tmp_path / "results.json"
    tasks.write_section(results, "other", "## Someone else's section\n\nkept")
    arguments = ["--quick", "--datasets", "amazon,vowels,nile,wnut,dates", "--candidates",
                 "previous,drop0.3,e50p10,reg,e10",
                 "--seeds", "0", "--results", str(results), "--json", str(store), "--workdir", str(tmp_path / "runs")]
    assert defaults.main(arguments) == 0
    stored = json.loads(store.read_text())
    assert set(stored) == {"classify", "forecast", "tag", "seq2seq"}
    assert set(stored["classify"]) == {"amazon", "vowels"}
    assert set(stored["classify"]["amazon"]) == {"previous", "drop0.3"}
    for task, data, low, high in (("classify", "amazon", 0, 1), ("forecast", "nile", 0, float("inf")),
                                  ("tag", "wnut", 0, 1), ("seq2seq", "dates", 0, 1)):
        entry = stored[task][data]["e10" if task == "seq2seq" else "previous"]["0"]
        assert low <= entry["value"] <= high and entry["quick"] and entry["command"].startswith(f"rnnkit train {task}")
    # vowels is not text: the word-dropout option is not given to it
    assert "--word-dropout" not in stored["classify"]["vowels"]["drop0.3"]["0"]["command"]
    text = results.read_text()
    assert "kept" in text and text.count("## Defaults: measured across data sets") == 1
    for heading in ("### classify", "### forecast", "### tag", "### seq2seq"):
        assert heading in text
    assert "| UCI sentiment, Amazon (80/20) | test accuracy |" in text and "mean rank" in text
    assert "Winner by the rule" in text
    assert "The defaults on the one data set scored by test RMSE / persistence RMSE:" in text    # e50p10 on nile
    assert str(tasks.data_dir()) not in text                     # no paths of this machine
    assert "rnnkit evaluate RUN --data" in text
    # the generated dates: no data file, scored on the task's own held-out dates
    assert "CANDIDATE --seed S --out RUN`, then `rnnkit evaluate RUN`\n" in text


def test_report_rewrites_the_section_from_the_stored_results_and_runs_nothing(tmp_path):
    results, store = tmp_path / "RESULTS.md", tmp_path / "results.json"
    tasks.write_section(results, "other", "## Someone else's section\n\nkept")
    recorded = json.loads((ROOT / "benchmarks" / "defaults_results.json").read_text())["seq2seq"]["fra_eng"]
    entry = dict(next(iter(recorded["e10"].values())), value=31.5)   # a stored entry's fields, a made-up score
    settings = defaults.CANDIDATES["seq2seq"]
    stored = {"seq2seq": {data: {name: {"0": dict(entry, value=entry["value"] + index)}
                                 for index, name in enumerate(settings)} for data in defaults.DATASETS["seq2seq"]}}
    store.write_text(json.dumps(stored))
    workdir = tmp_path / "runs"
    assert defaults.main(["--report", "--results", str(results), "--json", str(store), "--workdir", str(workdir)]) == 0
    text = results.read_text()
    assert "kept" in text and "### seq2seq" in text
    best, count = list(settings)[-1], len(defaults.DATASETS["seq2seq"])   # the highest score on every data set
    assert (f"Winner by the rule (lowest mean rank over the {count} data sets, ties by mean relative score): `{best}`"
            in text)
    assert f"`{defaults.defaults_candidate('seq2seq')}` **(the defaults now)**" in text
    assert json.loads(store.read_text()) == stored                # nothing ran, nothing was added
    assert not any(workdir.glob("seq2seq-*"))


def test_spreads_never_mix_metrics_and_seeds_are_named_per_data_set_when_they_differ():
    entry = {"seconds": 1.0, "epochs": 1, "stop": "completed", "quick": False, "when": "", "command": "",
             "evaluate": "", "machine": ""}
    default = defaults.defaults_candidate("seq2seq")
    stored = {"seq2seq": {"eng_fra": {default: {"0": dict(entry, value=30.0)}},
                          "fra_eng": {default: {"0": dict(entry, value=50.0)}},
                          "dates": {default: {"0": dict(entry, value=0.9), "1": dict(entry, value=0.95)}}}}
    text = "\n".join(defaults.task_markdown("seq2seq", stored, {}))
    assert "scored by test BLEU (beam 5): min 30.0000, median 40.0000, max 50.0000" in text
    assert "The defaults on the one data set scored by test exact match (beam 5): 0.9250." in text
    assert "Seeds: 0 on Tatoeba English to French" in text and "0, 1 on Generated dates" in text
    stored["seq2seq"]["eng_fra"]["e10"] = {"0": dict(entry, value=25.0)}
    stored["seq2seq"]["eng_fra"]["e14-tied"] = {"0": dict(entry, value=25.0)}
    stored["seq2seq"]["eng_fra"][default]["1"] = dict(entry, value=31.0)     # a second seed for one candidate
    text = "\n".join(defaults.task_markdown("seq2seq", stored, {}))
    assert f"Seeds: 0, 1 ({default}), 0 (the others) on Tatoeba English to French" in text
