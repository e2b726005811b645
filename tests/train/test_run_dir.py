"""Run directories: data fingerprints on --resume, ownership (locks), --force, integrity, the final validation.

Each test reproduces one way a user's work used to be lost or silently corrupted (issue 20, items 1-5).
Helpers here are shared by tests/test_run_dir_concurrent.py.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time

import pytest

from rnnkit.cli import main
from rnnkit.train import checkpoint
from rnnkit.train.checkpoint import document_checksum

TINY = ["--hidden", "8", "--embedding", "4", "--batch", "2", "--seq-len", "8", "--epochs", "1",
        "--sample-length", "5", "--max-minutes", "0", "--seed", "1"]
TEXT = "Lists are mutable sequences. Tuples are immutable sequences.\n" * 8


def lm(out, data="corpus.txt", *extra):
    return main(["train", "lm", "--data", str(data), "--out", str(out), *TINY, *extra])


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    """``corpus.txt`` in a folder ``a`` that is the current directory."""
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "corpus.txt").write_text(TEXT, encoding="utf-8")
    monkeypatch.chdir(folder)
    return folder / "corpus.txt"


# --- 1. where the data came from --------------------------------------------------------------------
def test_resume_reads_the_recorded_file_not_a_namesake_in_the_current_directory(tmp_path, corpus, monkeypatch,
                                                                                  capsys):
    run = tmp_path / "run"
    assert lm(run) == 0                                   # --data corpus.txt, relative
    config = json.loads((run / "config.json").read_text())
    recorded = config["data_files"]["data"]
    assert recorded["path"] == str(corpus) and recorded["size"] == len(TEXT)
    other = tmp_path / "b"
    other.mkdir()
    (other / "corpus.txt").write_text("Something else entirely. " * 40, encoding="utf-8")
    monkeypatch.chdir(other)
    capsys.readouterr()
    assert main(["train", "lm", "--out", str(run), "--resume", "--epochs", "2"]) == 0
    assert json.loads((run / "config.json").read_text())["options"]["data"] == str(corpus)
    # The recorded file itself changed: refused, saying what differs, unless --allow-other-data.
    corpus.write_text(TEXT.replace("Lists", "Lusts"), encoding="utf-8")
    assert main(["train", "lm", "--out", str(run), "--resume", "--epochs", "3"]) == 2
    error = capsys.readouterr().err
    assert "other data" in error and "different contents" in error and "--allow-other-data" in error
    assert main(["train", "lm", "--out", str(run), "--resume", "--epochs", "3", "--allow-other-data"]) == 0
    assert "resuming on other data" in capsys.readouterr().out


def test_resume_of_a_task_refuses_a_changed_data_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    lines = [f"{word} {i}\t{label}" for i in range(20) for word, label in (("good film", 1), ("bad film", 0))]
    (tmp_path / "reviews.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    arguments = ["train", "classify", "--data", "reviews.tsv", "--out", "run", "--hidden", "4", "--embedding", "4",
                 "--epochs", "1", "--batch", "8"]
    assert main(arguments) == 0
    swapped = [line.replace("\t1", "\tX").replace("\t0", "\t1").replace("\tX", "\t0") for line in lines]
    (tmp_path / "reviews.tsv").write_text("\n".join(swapped) + "\n", encoding="utf-8")   # same size, same words
    capsys.readouterr()
    assert main(["train", "classify", "--out", "run", "--resume", "--epochs", "2"]) == 2
    assert "different contents" in capsys.readouterr().err


# --- 2. one owner per run directory -------------------------------------------------------------------
@pytest.fixture
def live_process():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait(timeout=10)


def write_lock(run, pid, host=None):
    import socket

    (run / ".rnnkit.lock").write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(),
                                                  "started": "2026-01-01 00:00:00"}))


def test_a_run_directory_in_use_is_refused_to_force_and_resume(tmp_path, corpus, live_process, capsys):
    run = tmp_path / "run"
    assert lm(run) == 0
    before = (run / "config.json").read_bytes()
    write_lock(run, live_process.pid)                      # as if that process were training in it
    capsys.readouterr()
    assert lm(run, "corpus.txt", "--force") == 2
    assert f"in use by the run of process {live_process.pid}" in capsys.readouterr().err
    assert main(["train", "lm", "--out", str(run), "--resume", "--epochs", "2"]) == 2
    assert "in use" in capsys.readouterr().err
    assert (run / "config.json").read_bytes() == before and (run / "checkpoints" / "best").is_dir()


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_note(tmp_path, corpus, capsys):
    run = tmp_path / "run"
    assert lm(run) == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    write_lock(run, dead.pid)
    capsys.readouterr()
    assert main(["train", "lm", "--out", str(run), "--resume", "--epochs", "2"]) == 0
    assert "no longer running" in capsys.readouterr().out
    assert not (run / ".rnnkit.lock").exists()              # released at the end


def test_default_names_do_not_collide_within_one_second(tmp_path, corpus, monkeypatch, capsys):
    monkeypatch.setattr(time, "strftime", lambda pattern, *args: pattern.replace("%Y%m%d-%H%M%S", "20260101-000000")
                        .replace("%Y-%m-%d %H:%M:%S", "2026-01-01 00:00:00"))
    for _ in range(2):
        assert main(["train", "lm", "--data", "corpus.txt", *TINY]) == 0
    runs = sorted((corpus.parent / "runs").iterdir())
    assert len(runs) == 2 and all(path.name.startswith("lm-20260101-000000-") for path in runs)


# --- 3. --force replaces only an rnnkit run, and only once the new one has something -----------------------
def test_force_refuses_a_run_directory_holding_files_rnnkit_did_not_write(tmp_path, corpus, capsys):
    run = tmp_path / "run"
    assert lm(run) == 0
    (run / "checkpoints" / "important.pt").write_bytes(b"mine")
    assert lm(run, "corpus.txt", "--force") == 2
    assert "checkpoints/important.pt" in capsys.readouterr().err
    assert (run / "checkpoints" / "important.pt").read_bytes() == b"mine"
    assert (run / "config.json").exists() and (run / "checkpoints" / "best").is_dir()


def test_force_refuses_a_directory_that_is_not_a_run(tmp_path, corpus, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "settings"}')
    assert lm(mine, "corpus.txt", "--force") == 2
    assert "not an rnnkit run directory" in capsys.readouterr().err
    assert (mine / "config.json").read_text() == '{"my": "settings"}'


def test_a_forced_run_that_fails_before_its_first_checkpoint_leaves_the_old_run_whole(tmp_path, corpus, monkeypatch,
                                                                                    capsys):
    from rnnkit.train.trainer import Trainer, TrainingDiverged

    run = tmp_path / "run"
    assert lm(run) == 0
    before = {path.relative_to(run): path.read_bytes() for path in run.rglob("*") if path.is_file()}

    def fail(self):
        raise TrainingDiverged("training stopped: the loss is nan at step 1")
    fit = Trainer.fit
    monkeypatch.setattr(Trainer, "fit", fail)
    assert lm(run, "corpus.txt", "--force", "--hidden", "16") == 3
    after = {path.relative_to(run): path.read_bytes() for path in run.rglob("*") if path.is_file()}
    assert after == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a", "run"]     # no temporary sibling left
    monkeypatch.setattr(Trainer, "fit", fit)
    assert main(["generate", str(run), "--length", "5"]) == 0


def test_a_new_run_that_fails_before_its_first_checkpoint_leaves_no_directory(tmp_path, corpus, monkeypatch):
    from rnnkit.train.trainer import Trainer, TrainingDiverged

    def fail(self):
        raise TrainingDiverged("training stopped: the loss is nan at step 1")
    fit = Trainer.fit
    monkeypatch.setattr(Trainer, "fit", fail)
    assert lm(tmp_path / "new") == 3
    assert not (tmp_path / "new").exists()
    monkeypatch.setattr(Trainer, "fit", fit)
    assert lm(tmp_path / "new") == 0                        # a rerun needs no --force


def test_force_replaces_a_finished_run_once_the_new_one_has_a_checkpoint(tmp_path, corpus):
    run = tmp_path / "run"
    assert lm(run) == 0
    assert lm(run, "corpus.txt", "--force", "--hidden", "6") == 0
    assert json.loads((run / "config.json").read_text())["options"]["hidden"] == 6
    assert (run / ".rnnkit-run").is_file() and not (run / ".rnnkit.lock").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a", "run"]


# --- 4. everything in the run directory is checked --------------------------------------------------------
def test_a_shuffled_vocabulary_of_the_same_size_is_refused(tmp_path, corpus, capsys):
    run = tmp_path / "run"
    assert lm(run) == 0
    vocab = json.loads((run / "vocab.json").read_text())
    tokens = vocab["tokens"]
    shuffled = tokens[:1] + random.Random(0).sample(tokens[1:], len(tokens) - 1)
    assert shuffled != tokens
    vocab["tokens"] = shuffled
    (run / "vocab.json").write_text(json.dumps(vocab))
    capsys.readouterr()
    assert main(["generate", str(run), "--length", "5"]) == 2
    assert "vocab.json does not match" in capsys.readouterr().err
    assert main(["train", "lm", "--out", str(run), "--resume", "--epochs", "2"]) == 2


def edit_state(run, change, keep_checksum=False):
    path = run / "checkpoints" / "last" / "state.json"
    document = json.loads(path.read_text())
    change(document)
    if keep_checksum:
        document["checksum"] = document_checksum(document)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize("change, keep_checksum, message", [
    (lambda document: document["trainer"].update(epoch=-1), False, "changed after it was written"),
    (lambda document: document["trainer"].update(epoch=-1), True, "trainer field 'epoch'"),
    (lambda document: document["trainer"].update(history=[[]]), True, "trainer field 'history'"),
    (lambda document: document["trainer"].update(best_loss="low"), True, "trainer field 'best_loss'"),
    (lambda document: document["optimizer"].update(counts=[]), True, "optimiser state does not fit"),
    (lambda document: document["trainer"].update(window=10 ** 6), True, "windows"),
])
def test_a_hand_edited_state_json_is_refused_before_resuming(tmp_path, corpus, capsys, change, keep_checksum,
                                                             message):
    run = tmp_path / "run"
    assert lm(run) == 0
    edit_state(run, change, keep_checksum)
    capsys.readouterr()
    assert main(["train", "lm", "--out", str(run), "--resume", "--epochs", "2"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "resuming" not in captured.out


# --- 5. a stop that lands on a periodic checkpoint still validates ------------------------------------------
def test_a_stop_on_a_periodic_checkpoint_step_still_validates_and_saves_best(tmp_path):
    from trainer_runs import make_run

    trainer = make_run(tmp_path, epochs=5, max_steps=2, checkpoint_every=2)
    summary = trainer.fit()
    assert summary["stop_reason"] == "step limit" and summary["steps"] == 2
    assert summary["best"]["step"] == 2 and "loss" in summary["best"]
    assert (tmp_path / "metrics.csv").is_file() and (tmp_path / "loss.png").is_file()
    checkpoint.read_checkpoint(tmp_path / "checkpoints" / "best")


def test_a_build_left_by_a_killed_run_is_cleaned_up_by_the_next_run(tmp_path, corpus, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    run = tmp_path / "run"
    run.mkdir()
    write_lock(run, dead.pid)                                   # killed while building its first checkpoint
    left = tmp_path / f".run.new-{dead.pid}"
    left.mkdir()
    (left / "config.json").write_text("{}")
    assert lm(run) == 0                                         # no --force: nothing was ever committed
    assert not left.exists() and "unfinished build" in capsys.readouterr().out
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a", "run"]


def test_a_run_saved_before_data_fingerprints_still_resumes_with_a_note(tmp_path, corpus, capsys):
    run = tmp_path / "run"
    assert lm(run) == 0
    config = json.loads((run / "config.json").read_text())        # as an older rnnkit wrote it
    del config["data_files"]
    (run / "config.json").write_text(json.dumps(config))
    (run / ".rnnkit-run").unlink()
    for state_path in run.glob("checkpoints/*/state.json"):
        state = json.loads(state_path.read_text())
        state.pop("run_files"), state.pop("checksum")
        state["trainer"].pop("start_loss"), state["trainer"].pop("last_validation_step")
        state_path.write_text(json.dumps(state))
    capsys.readouterr()
    assert main(["train", "lm", "--out", str(run), "--resume", "--epochs", "2"]) == 0
    assert "did not record its data files" in capsys.readouterr().out
    assert lm(run, "corpus.txt", "--force") == 0                # an older run directory may be replaced


@pytest.mark.parametrize("change, message", [
    ({"hidden": "8"}, "does not match checkpoint"),                          # caught by the checkpoint's hashes
    ({"cell": "transformer"}, "must be one of"),                             # and, were the hashes fixed, by type
])
def test_a_hand_edited_config_json_is_refused_before_resuming(tmp_path, corpus, capsys, change, message):
    run = tmp_path / "run"
    assert lm(run) == 0
    config = json.loads((run / "config.json").read_text())
    config["options"].update(change)
    (run / "config.json").write_text(json.dumps(config))
    if message == "must be one of":
        from rnnkit.train.checkpoint import file_sha256

        edit_state(run, lambda document: document["run_files"].update({"config.json": file_sha256(
            run / "config.json")}), keep_checksum=True)
    capsys.readouterr()
    assert main(["train", "lm", "--out", str(run), "--resume", "--epochs", "2"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err and "resuming" not in captured.out


def test_the_current_directory_is_refused_as_out(tmp_path, corpus, capsys):
    assert lm(".") == 2
    assert "give a directory below this one" in capsys.readouterr().err
    assert sorted(path.name for path in corpus.parent.iterdir()) == ["corpus.txt"]


def test_a_trainer_field_too_large_for_a_float_is_refused_with_its_name(tmp_path, corpus, capsys):
    run = tmp_path / "run"
    assert lm(run) == 0
    edit_state(run, lambda document: document["trainer"].update(best_loss=10 ** 400), keep_checksum=True)
    capsys.readouterr()
    assert main(["train", "lm", "--out", str(run), "--resume", "--epochs", "2"]) == 2
    assert "trainer field 'best_loss' must be a finite number" in capsys.readouterr().err
