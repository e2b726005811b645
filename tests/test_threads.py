"""rnnkit.set_num_threads: one knob for the BLAS pool and rnnkit's split loops; the same results
at one thread and at two."""

import numpy as np
import pytest

import rnnkit
from rnnkit import compiled
from rnnkit.compiled import split

threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.fixture
def restore_threads():
    before = rnnkit.get_num_threads()
    yield
    rnnkit.set_num_threads(before)
    compiled.set_enabled(None)


def _blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"}


def test_set_num_threads_sets_the_blas_pool_and_the_split_loops(restore_threads):
    rnnkit.set_num_threads(1)
    assert rnnkit.get_num_threads() == 1 and split.cores() == 1
    assert _blas_threads() == {1}
    assert split.ranges(8, 256, 1000) == [(0, 8, 0, 256)]            # one block: the calling thread
    rnnkit.set_num_threads(2)
    assert rnnkit.get_num_threads() == 2 and _blas_threads() == {2}
    assert len(split.ranges(8, 256, 1000)) == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None])
def test_set_num_threads_refuses_what_is_not_a_positive_count(bad, restore_threads):
    with pytest.raises((TypeError, ValueError), match="positive integer number of threads"):
        rnnkit.set_num_threads(bad)


def test_default_is_the_environment_or_the_cores(monkeypatch):
    from rnnkit import threads

    monkeypatch.setattr(threads, "_chosen", None)
    monkeypatch.setenv("RNNKIT_THREADS", "3")
    assert rnnkit.get_num_threads() == 3
    monkeypatch.setenv("RNNKIT_THREADS", "no")
    assert rnnkit.get_num_threads() == threads.available_cores()


def _train_step(cell: str, use_compiled: bool) -> list[np.ndarray]:
    compiled.set_enabled(use_compiled)
    layer = getattr(rnnkit, cell)(48, 96, num_layers=2, bidirectional=True, dtype=np.float32, seed=0)
    x = np.random.default_rng(1).standard_normal((16, 70, 48)).astype(np.float32)
    y, _ = layer(x)
    dx, _ = layer.backward(np.cos(y))
    return [y, dx] + [parameter.grad.copy() for parameter in layer.parameters()]


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "MinGRU"])
@pytest.mark.parametrize("use_compiled", [False] + ([True] if compiled.available() else []))
def test_results_at_one_and_two_threads_agree_within_rounding(cell, use_compiled, restore_threads):
    rnnkit.set_num_threads(1)
    one = _train_step(cell, use_compiled)
    rnnkit.set_num_threads(2)
    two = _train_step(cell, use_compiled)
    for a, b in zip(one, two):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5 * float(np.abs(a).max()))


def test_mpi_ranks_on_one_machine_share_its_cores(monkeypatch):
    from rnnkit import threads

    monkeypatch.setattr(threads, "_chosen", None)
    monkeypatch.delenv("RNNKIT_THREADS", raising=False)
    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    monkeypatch.setenv("MPI_LOCALNRANKS", "3")
    assert rnnkit.get_num_threads() == 2
    monkeypatch.setenv("MPI_LOCALNRANKS", "16")
    assert rnnkit.get_num_threads() == 1                     # never below one
    monkeypatch.setenv("RNNKIT_THREADS", "4")
    assert rnnkit.get_num_threads() == 4                     # the environment wins


def test_the_command_line_takes_threads_anywhere_and_sets_the_pools(restore_threads, capsys):
    from rnnkit.cli import main, take_threads

    assert take_threads(["lab", "--threads=3", "memory"]) == (3, ["lab", "memory"])
    assert take_threads(["demo"]) == (None, ["demo"])
    for bad in (["--threads"], ["--threads", "0"], ["--threads", "two"], ["--threads=-1"]):
        with pytest.raises(ValueError, match="--threads expects a positive whole number"):
            take_threads(bad)
    with pytest.raises(SystemExit):
        main(["demo", "--threads", "0"])
    assert "--threads expects a positive whole number of threads, got '0'" in capsys.readouterr().err
    rnnkit.set_num_threads(2)
    assert main(["predict", "no-such-run", "--threads", "1", "text"]) == 2      # fails after the threads are set
    assert rnnkit.get_num_threads() == 1 and _blas_threads() == {1}


def test_apply_default_leaves_a_plain_process_alone_and_limits_an_mpi_rank(monkeypatch, restore_threads):
    from rnnkit import threads

    calls = []
    monkeypatch.setattr(threads, "set_num_threads", calls.append)
    monkeypatch.setattr(threads, "_chosen", None)
    monkeypatch.delenv("RNNKIT_THREADS", raising=False)
    monkeypatch.delenv("MPI_LOCALNRANKS", raising=False)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    threads.apply_default()
    assert calls == []
    monkeypatch.setenv("MPI_LOCALNRANKS", "2")
    threads.apply_default()
    assert calls == [1]
