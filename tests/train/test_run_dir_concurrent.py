"""Two real processes on one run directory: exactly one owns it, the other is refused with a clear message.

Each test starts ``rnnkit train lm`` processes, bounds them with a timeout and kills what is left.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from rnnkit.cli import main

TEXT = "Lists are mutable sequences. Tuples are immutable sequences.\n" * 40
# Long enough that a second process starts while the first still trains (the time budget ends it).
TRAIN = ["--hidden", "8", "--embedding", "4", "--batch", "2", "--seq-len", "8", "--epochs", "1000",
         "--sample-length", "5", "--max-minutes", "0.06", "--seed", "1"]


def start(data, out, *extra):
    code = "import sys; from rnnkit.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, "train", "lm", "--data", str(data), "--out", str(out),
                             *TRAIN, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(processes, timeout=120):
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=timeout)
            results.append((process.returncode, out, err))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    return results


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def test_two_runs_started_together_on_one_out_directory(tmp_path, corpus, capsys):
    run = tmp_path / "run"
    results = finish([start(corpus, run), start(corpus, run)])
    codes = sorted(code for code, _, _ in results)
    errors = "".join(err for _, _, err in results)
    assert codes == [0, 2], errors
    assert "Errno" not in errors and "Traceback" not in errors
    assert "is in use" in errors or "already exists and is not empty" in errors
    assert main(["generate", str(run), "--length", "5"]) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["corpus.txt", "run"]


def test_force_on_a_run_that_is_still_training_is_refused(tmp_path, corpus, capsys):
    import signal

    run = tmp_path / "run"
    first = start(corpus, run, "--max-minutes", "1")                 # still training when the second one tries
    try:
        deadline = time.monotonic() + 60
        while not (run / ".rnnkit.lock").exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (run / ".rnnkit.lock").exists(), "the first run never took its directory"
        [(code_second, _, err_second)] = finish([start(corpus, run, "--force")])
        assert first.poll() is None, "the first run ended before the second one tried"
        first.send_signal(signal.SIGINT)                               # then let the first one finish
        [(code_first, _, err_first)] = finish([first], timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)
    assert code_second == 2 and f"in use by the run of process {first.pid}" in err_second
    assert code_first == 0, err_first
    assert main(["generate", str(run), "--length", "5"]) == 0


def wait_for(path, process, seconds=60):
    deadline = time.monotonic() + seconds
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return path.exists()


def test_ctrl_c_validates_saves_and_reports_an_interrupted_run(tmp_path, corpus):
    import signal

    run = tmp_path / "run"
    process = start(corpus, run, "--max-minutes", "1", "--checkpoint-every", "5")
    try:
        assert wait_for(run / "checkpoints" / "last" / "state.json", process), "no checkpoint appeared"
        process.send_signal(signal.SIGINT)
        [(code, out, err)] = finish([process], timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert code == 0, err
    assert "stopped (interrupted)" in out
    for name in ("metrics.csv", "loss.png", "summary.json", "checkpoints/best/state.json"):
        assert (run / name).exists(), name
    assert not (run / ".rnnkit.lock").exists()


def test_a_killed_run_keeps_its_last_checkpoint_and_resumes(tmp_path, corpus, capsys):
    import signal

    run = tmp_path / "run"
    process = start(corpus, run, "--max-minutes", "1", "--checkpoint-every", "5")
    try:
        assert wait_for(run / "checkpoints" / "last" / "state.json", process), "no checkpoint appeared"
        time.sleep(0.3)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert (run / ".rnnkit.lock").exists()                          # it had no chance to give it up
    capsys.readouterr()
    assert main(["train", "lm", "--out", str(run), "--resume", "--max-minutes", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "no longer running" in out and "resuming" in out
    assert main(["generate", str(run), "--length", "5"]) == 0
