"""Data-parallel training over MPI (rnnkit.distributed): the splitting and the reduction without MPI,
then real runs of two ranks under ``mpiexec -n 2`` compared with one process.

The MPI tests need mpi4py and an ``mpiexec`` (``pip install 'rnnkit[mpi]'``); without them they skip.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rnnkit import distributed
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.language_model import LanguageModel
from rnnkit.optim import Adam
from rnnkit.train.classification import ClassificationTask
from rnnkit.train.language_modeling import LanguageModelTask
from rnnkit.train.trainer import Trainer, TrainerConfig


# --- without MPI -------------------------------------------------------------------------------------
def test_not_launched_means_one_process_and_no_mpi4py():
    assert distributed.launched_under_mpi({}) == 1
    assert distributed.launched_under_mpi({"OMPI_COMM_WORLD_SIZE": "3"}) == 3
    code = "import sys, rnnkit.train, rnnkit.cli.train; print('mpi4py' in sys.modules)"
    environment = {key: value for key, value in os.environ.items() if key not in distributed.SIZE_VARIABLES}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)
    assert result.stdout.strip() == "False", result.stderr
    assert type(distributed.world()) is distributed.Group


def test_launched_without_mpi4py_says_what_to_install(monkeypatch):
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)           # import mpi4py now raises ImportError
    with pytest.raises(distributed.DistributedError, match=r"mpi4py is not installed.*rnnkit\[mpi\]"):
        distributed.world()


@pytest.mark.parametrize("count, size", [(5, 2), (3, 2), (7, 3), (1, 2), (0, 3), (8, 4)])
def test_parts_cover_every_item_once_in_order(count, size):
    parts = [distributed.part(count, rank, size) for rank in range(size)]
    covered = [index for chosen in parts for index in range(count)[chosen]]
    assert covered == list(range(count))
    lengths = [chosen.stop - chosen.start for chosen in parts]
    assert max(lengths) - min(lengths) <= 1


class FakeGroup(distributed.Group):
    """Rank ``rank`` of ``size`` whose allreduce adds the other ranks' buffers given beforehand."""

    def __init__(self, rank: int, size: int, others: list[np.ndarray] | None = None):
        self.rank, self.size, self.others = rank, size, others or []

    def allreduce(self, buffer):
        for other in self.others:
            buffer += other
        return buffer


def test_gradients_and_counts_in_one_buffer_make_the_global_mean():
    """Two parts' loss sums and gradients, summed and divided by the summed count, give the
    gradient of the whole batch's mean, as one process computes it."""
    rng = np.random.default_rng(0)
    logits, targets = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)
    from rnnkit import losses

    _, whole = losses.cross_entropy(logits, targets)

    class Param:
        def __init__(self, grad):
            self.data, self.grad = np.zeros_like(grad), grad

    buffers = []
    for chosen in (distributed.part(5, 0, 2), distributed.part(5, 1, 2)):
        loss, grad = losses.cross_entropy(logits[chosen], targets[chosen])
        count = len(targets[chosen])
        padded = np.zeros_like(logits)
        padded[chosen] = grad                                           # the part's mean gradient
        buffers.append(distributed.flat_gradients([Param(padded)], [loss * count, count, 0, 0, 0], scale=count))
    FakeGroup(0, 2, [buffers[1]]).allreduce(buffers[0])
    param = Param(np.zeros_like(logits))
    figures = distributed.set_gradients([param], buffers[0], 1.0 / buffers[0][-5 + distributed.COUNT])
    assert figures[distributed.COUNT] == 5
    np.testing.assert_allclose(param.grad, whole, rtol=0, atol=1e-15)


def test_lm_task_trains_its_share_of_the_streams():
    ids = np.arange(200) % 7
    task = LanguageModelTask(ids, ids[:50], batch_size=5, seq_len=4)
    whole = next(iter(task.train_batches(0, 0)))
    task.shard(FakeGroup(1, 2))
    mine = next(iter(task.train_batches(0, 0)))
    np.testing.assert_array_equal(mine.inputs, whole.inputs[3:5])
    assert task.loss_count(mine) == 2 * 4
    state = np.arange(2 * 5 * 3, dtype=float).reshape(2, 5, 3)       # (L, B, H) of all five streams
    task.load_state_arrays({"state.0": state})
    np.testing.assert_array_equal(task.state, state[:, 3:5])


def test_more_ranks_than_examples_in_a_batch_are_refused():
    ids = np.arange(200) % 7
    task = LanguageModelTask(ids, ids[:50], batch_size=2, seq_len=4)
    with pytest.raises(distributed.DistributedError, match="3 ranks but a batch of 2 streams"):
        task.shard(FakeGroup(0, 3))


def test_ranks_with_different_options_are_refused():
    class Gathering(FakeGroup):
        def allgather(self, value):
            return [value, '{"lr": 0.1}']

    with pytest.raises(distributed.DistributedError, match="different options: rank 1"):
        distributed.check_same(Gathering(0, 2), "options", {"lr": 0.01})


def test_one_process_group_changes_nothing():
    """Trainer(group=Group()) is the plain Trainer, to the bit."""
    results = []
    for group in (None, distributed.Group()):
        model, task = _lm_setup()
        trainer = Trainer(model, task, Adam(model.parameters(), lr=0.01),
                          TrainerConfig(epochs=1, max_steps=4, progress=False), log=lambda _: None, group=group)
        trainer.fit()
        results.append([param.data.copy() for param in model.parameters()])
    for first, second in zip(*results):
        np.testing.assert_array_equal(first, second)


# --- two ranks under mpiexec ------------------------------------------------------------------------------
def _lm_setup():
    ids = (np.arange(400) * 7 + np.arange(400) // 5) % 11
    model = LanguageModel(11, 8, embedding_dim=4, dtype=np.float64, seed=3)
    return model, LanguageModelTask(ids, ids[:60], batch_size=3, seq_len=5, eval_batch_size=3)


def _classify_setup():
    rng = np.random.default_rng(1)
    examples = [rng.integers(1, 9, size=length) for length in rng.integers(2, 9, size=23)]
    labels = np.array([int(item.sum()) % 3 for item in examples])
    model = SequenceClassifier(3, vocab_size=9, embedding_dim=4, hidden_size=6, padding_idx=0, dtype=np.float64,
                               seed=2)
    # 17 training examples in batches of 4: the last batch has one, so one rank trains on nothing
    return model, ClassificationTask(model, (examples[:17], labels[:17]), (examples[17:], labels[17:]), 4, seed=5)


def _tag_setup():
    """A CRF tagger: its loss adds the transition gradients itself, before backward."""
    from rnnkit.models.tagger import SequenceTagger
    from rnnkit.train.tagging import Encoded, TaggingTask

    rng = np.random.default_rng(4)
    ids = [rng.integers(1, 9, size=length) for length in rng.integers(2, 7, size=14)]
    tags = [item % 3 for item in ids]
    data = Encoded(ids, tags, [None] * 14, [None] * 14, [None] * 14)
    model = SequenceTagger(3, vocab_size=9, embedding_dim=4, hidden_size=5, padding_idx=0, crf=True,
                           dtype=np.float64, seed=6)
    # 11 sentences in batches of 3: uneven parts, and a last batch of 2
    return model, TaggingTask(model, data.subset(range(11)), data.subset(range(11, 14)), ["A", "B", "C"], 3, seed=7)


def _forecast_setup():
    """A GRU forecaster on windows of a series: the loss is a mean over every predicted value."""
    from rnnkit.data.scaling import fit_standard
    from rnnkit.models.forecaster import Forecaster
    from rnnkit.train.forecasting import ForecastingTask, SeriesTransform

    values = np.sin(np.arange(60) * 0.3) + 0.02 * np.arange(60)
    transform = SeriesTransform(False, False)
    transform.scaler = fit_standard(transform.modelled(values[:45]), "a sine")
    inputs, targets, first = transform.windows(values, 6, 2)
    train, val = (inputs[:13], targets[:13], first[:13]), (inputs[40:], targets[40:], first[40:])
    model = Forecaster(1, 1, hidden_size=5, horizon=2, cell="gru", dtype=np.float64, seed=8)
    # 13 windows in batches of 4: a last batch of 1
    return model, ForecastingTask(model, transform, values, train, val, 4, seed=9)


def _seq2seq_setup():
    """Seq2Seq with attention and input feeding: the loss is a mean over the target tokens, and each
    rank pads its share of a batch to its own longest sequence."""
    from rnnkit.models.seq2seq import Seq2Seq
    from rnnkit.train.translation import TranslationTask

    rng = np.random.default_rng(10)
    sources = [rng.integers(4, 10, size=length) for length in rng.integers(2, 7, size=13)]
    targets = [source[::-1] for source in sources]
    model = Seq2Seq(10, 10, bos_id=2, eos_id=3, pad_id=0, embedding_dim=4, hidden_size=5, attention="dot",
                    input_feeding=True, dtype=np.float64, seed=11)
    # 10 pairs in batches of 3: uneven parts, and a last batch of 1
    return model, TranslationTask(model, (sources[:10], targets[:10]), (sources[10:], targets[10:]), 3, seed=12,
                                  max_length=8)


SETUPS = {"lm": _lm_setup, "classify": _classify_setup, "tag": _tag_setup, "forecast": _forecast_setup,
          "seq2seq": _seq2seq_setup}


def train_weights(name: str, group: distributed.Group | None, steps: int) -> dict[str, np.ndarray]:
    """Weights after ``steps`` steps of the task ``name`` (lm, classify, tag, forecast, seq2seq), float64,
    no dropout."""
    model, task = SETUPS[name]()
    trainer = Trainer(model, task, Adam(model.parameters(), lr=0.02),
                      TrainerConfig(epochs=3, max_steps=steps, clip=0.5, progress=False),
                      log=lambda _: None, group=group)
    trainer.fit()
    return {key: param.data.copy() for key, param in model.named_parameters()}


WORKER = textwrap.dedent("""
    import sys
    import numpy as np
    from rnnkit import distributed
    sys.path.insert(0, sys.argv[1])
    from test_distributed import train_weights

    group = distributed.world()
    assert group.size == 2, group.size
    weights = train_weights(sys.argv[2], group, int(sys.argv[3]))
    if group.rank == 0:
        np.savez(sys.argv[4], **weights)
""")


def mpiexec() -> str:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip("mpi4py is not installed (pip install 'rnnkit[mpi]')")
    found = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("no mpiexec on PATH or beside the Python executable (pip install 'rnnkit[mpi]')")
    return found


def run_ranks(arguments: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in distributed.SIZE_VARIABLES}
    environment.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([mpiexec(), "-n", "2", *arguments], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=environment)


@pytest.mark.parametrize("name, steps", [("lm", 6), ("classify", 9), ("tag", 9), ("forecast", 8), ("seq2seq", 9)])
def test_two_ranks_update_like_one_process(tmp_path, name, steps):
    """The weights after several steps on 2 ranks equal one process's with the same global batches
    (the lm's 3 streams split 2 + 1; classify's last batch of 1 leaves a rank with nothing)."""
    (tmp_path / "worker.py").write_text(WORKER)
    result = run_ranks([sys.executable, str(tmp_path / "worker.py"), str(Path(__file__).parent), name, str(steps),
                        str(tmp_path / "weights.npz")], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    two = np.load(tmp_path / "weights.npz")
    one = train_weights(name, None, steps)
    start = train_weights(name, None, 0)
    for key, value in one.items():
        assert not np.array_equal(value, start[key]) or key.startswith("inputs")   # training moved them
        np.testing.assert_allclose(two[key], value, rtol=0, atol=1e-12, err_msg=key)


# --- validation split across ranks ------------------------------------------------------------------------
def _tag_bio_setup():
    """A CRF tagger with BIO tags (entity precision, recall and F1) and 9 validation sentences."""
    from rnnkit.models.tagger import SequenceTagger
    from rnnkit.train.tagging import Encoded, TaggingTask

    rng = np.random.default_rng(14)
    ids = [rng.integers(1, 9, size=length) for length in rng.integers(1, 8, size=20)]
    tags = [item % 3 for item in ids]
    data = Encoded(ids, tags, [None] * 20, [None] * 20, [None] * 20)
    model = SequenceTagger(3, vocab_size=9, embedding_dim=4, hidden_size=5, padding_idx=0, crf=True,
                           dtype=np.float64, seed=6)
    return model, TaggingTask(model, data.subset(range(11)), data.subset(range(11, 20)), ["B-X", "I-X", "O"], 3,
                              seed=7)


def _seq2seq_text_setup():
    """Seq2Seq with attention rewriting texts of a few words ("ab ba a" to "a ab ba"): validation
    reports BLEU and chrF too; 9 validation pairs."""
    from rnnkit.data.vocab import CharVocab
    from rnnkit.models.seq2seq import Seq2Seq
    from rnnkit.train.translation import TranslationTask

    vocab = CharVocab(specials=["<pad>", "<unk>", "<bos>", "<eos>"]).fit("a b")         # a, space, b: ids 4..6
    rng = np.random.default_rng(10)
    sources = [rng.integers(4, 7, size=length) for length in rng.integers(8, 14, size=49)]
    targets = [source[::-1] for source in sources]
    references = [vocab.inverse_transform(target) for target in targets[40:]]
    model = Seq2Seq(7, 7, bos_id=2, eos_id=3, pad_id=0, embedding_dim=8, hidden_size=16, attention="dot",
                    input_feeding=True, dtype=np.float64, seed=11)
    return model, TranslationTask(model, (sources[:40], targets[:40]), (sources[40:], targets[40:]), 8, seed=12,
                                  max_length=16, target_vocab=vocab, val_references=references)


VALIDATION_SETUPS = {"tag": _tag_bio_setup, "forecast": _forecast_setup, "seq2seq": _seq2seq_text_setup}


@functools.cache
def _trained(name: str):
    """``VALIDATION_SETUPS[name]`` after 80 steps of training (enough for the seq2seq's BLEU to be above 0)."""
    model, task = VALIDATION_SETUPS[name]()
    Trainer(model, task, Adam(model.parameters(), lr=0.05), TrainerConfig(epochs=100, max_steps=80, progress=False),
            log=lambda _: None).fit()
    return model, task


def _assert_same_metrics(got: dict, expected: dict) -> None:
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-12, atol=0, err_msg=name)


@pytest.mark.parametrize("size", [2, 3, 12])
@pytest.mark.parametrize("name", ["tag", "forecast", "seq2seq"])
def test_validation_parts_add_up_to_the_whole(name, size):
    """Each rank's ``evaluate_part`` (uneven shares; with 12 ranks some have none), summed, gives the
    one-process ``evaluate`` through ``metrics_from_sums``."""
    model, task = _trained(name)
    whole = task.evaluate(model)
    parts = [task.evaluate_part(model, rank, size) for rank in range(size)]
    assert all(sorted(part) == sorted(parts[0]) for part in parts)         # the same keys on every rank
    sums = {key: sum(part[key] for part in parts) for key in parts[0]}
    _assert_same_metrics(task.metrics_from_sums(sums), whole)
    expected = {"tag": {"loss", "accuracy", "precision", "recall", "f1"},
                "forecast": {"loss", "rmse", "mae", "persistence_rmse", "persistence_mae"},
                "seq2seq": {"loss", "exact_match", "bleu", "chrf"}}[name]
    assert set(whole) == expected
    assert all(whole[key] > 0 for key in expected - {"exact_match"})      # the figures measure something


def test_tag_parts_sum_entity_counts_not_averages():
    model, task = _trained("tag")
    parts = [task.evaluate_part(model, rank, 2) for rank in range(2)]
    for key in ("tokens", "correct", "entities_correct", "entities_predicted", "entities_gold"):
        assert all(float(part[key]).is_integer() for part in parts), key
    assert sum(part["tokens"] for part in parts) == sum(len(ids) for ids in task.val_data.ids)


def test_forecast_parts_stay_finite_near_the_largest_float():
    """Errors near 1e306, whose squares overflow: each part's sums in units of its own peak, rescaled
    to the largest, stay finite and give the one-process RMSE and MAE."""
    from rnnkit.train.forecasting import forecast_metrics, forecast_sums, metrics_from_sums

    model, task = _forecast_setup()
    inputs, targets, first = task.val
    values = task.values * 1e306
    transform = type(task.transform)(False, False, task.transform.scaler)
    transform.scaler = type(task.transform.scaler)()
    transform.scaler.center_, transform.scaler.scale_ = np.asarray(0.0), np.asarray(1e306)
    whole = forecast_metrics(model, transform, values, inputs, targets, first)
    assert all(np.isfinite(value) for value in whole.values())
    parts = [forecast_sums(model, transform, values, *(array[distributed.part(len(inputs), rank, 3)]
                                                       for array in (inputs, targets, first)), rank, 3)
             for rank in range(3)]
    _assert_same_metrics(metrics_from_sums({key: sum(part[key] for part in parts) for key in parts[0]}), whole)


def validation_metrics(name: str, group: distributed.Group | None, steps: int) -> dict[str, list]:
    """``history``: the metrics of every validation of a short run of ``VALIDATION_SETUPS[name]``
    (several ranks: each validates only its share; validating on all the data is an error), and
    ``whole``: the one-process ``evaluate`` of the final weights."""
    model, task = VALIDATION_SETUPS[name]()
    evaluate = task.evaluate
    if group is not None and group.size > 1:
        def whole(_model):
            raise AssertionError("validated on all the data, not on this rank's share")
        task.evaluate = whole
    trainer = Trainer(model, task, Adam(model.parameters(), lr=0.05),
                      TrainerConfig(epochs=100, max_steps=steps, progress=False), log=lambda _: None, group=group)
    trainer.fit()
    history = [{key[4:]: value for key, value in row.items() if key.startswith("val_")}
               for row in trainer.state["history"]]
    assert trainer.state["history"][-1]["step"] == steps                 # the last validation: the final weights
    return {"history": history, "whole": evaluate(model)}


VALIDATION_WORKER = textwrap.dedent("""
    import json
    import sys
    from rnnkit import distributed
    sys.path.insert(0, sys.argv[1])
    from test_distributed import validation_metrics

    group = distributed.world()
    assert group.size == 2, group.size
    metrics = validation_metrics(sys.argv[2], group, int(sys.argv[3]))
    if group.rank == 0:
        with open(sys.argv[4], "w") as stream:
            json.dump(metrics, stream)
""")


@pytest.mark.parametrize("name", ["tag", "forecast", "seq2seq"])
def test_two_ranks_validate_their_shares_like_one_process(tmp_path, name):
    """Trained and validated on 2 ranks, each validating only its share: the last validation equals one
    process's evaluation of the same weights within float rounding, and every epoch's validation equals
    a one-process run's (whose weights agree within 1e-12: the metrics within 1e-9)."""
    (tmp_path / "worker.py").write_text(VALIDATION_WORKER)
    result = run_ranks([sys.executable, str(tmp_path / "worker.py"), str(Path(__file__).parent), name, "80",
                        str(tmp_path / "metrics.json")], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    two = json.loads((tmp_path / "metrics.json").read_text())
    _assert_same_metrics(two["history"][-1], two["whole"])
    one = validation_metrics(name, None, 80)
    assert len(two["history"]) == len(one["history"]) >= 8
    for got, expected in zip(two["history"], one["history"]):
        assert sorted(got) == sorted(expected)
        for key, value in expected.items():
            np.testing.assert_allclose(got[key], value, rtol=1e-9, atol=0, err_msg=key)
    if name == "seq2seq":
        assert one["whole"]["bleu"] > 0


def _cli(arguments: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnkit", *arguments], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


LM_OPTIONS = ["--data", "text.txt", "--hidden", "8", "--embedding", "4", "--seq-len", "8", "--batch", "3",
              "--warmup", "2", "--max-minutes", "0", "--checkpoint-every", "0", "--sample-length", "5"]


@pytest.fixture
def text_dir(tmp_path):
    words = ["river", "stone", "a", "the", "light", "falls", "on", "quiet", "water", "and"]
    rng = np.random.default_rng(0)
    (tmp_path / "text.txt").write_text(" ".join(words[index] for index in rng.integers(0, 10, size=700)))
    return tmp_path


def test_cli_on_two_ranks_then_resumed_on_one(text_dir):
    """``mpiexec -n 2 rnnkit train lm`` writes one run (rank 0); ``--resume`` continues it on one process."""
    first = run_ranks([sys.executable, "-m", "rnnkit", "train", "lm", *LM_OPTIONS, "--epochs", "1", "--out", "run"],
                      text_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.count("run saved in") == 1                  # only rank 0 reports
    summary = json.loads((text_dir / "run" / "summary.json").read_text())
    assert summary["stop_reason"] == "completed" and summary["epochs"] == 1
    resumed = _cli(["train", "lm", "--resume", "--out", "run", "--epochs", "2", "--max-minutes", "0"], text_dir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming run at step {summary['steps']} (epoch 2" in resumed.stdout
    assert json.loads((text_dir / "run" / "summary.json").read_text())["steps"] == 2 * summary["steps"]


def test_cli_refuses_more_ranks_than_streams(text_dir):
    result = run_ranks([sys.executable, "-m", "rnnkit", "train", "lm", *LM_OPTIONS[:-8], "--batch", "1",
                        "--out", "run"], text_dir)
    assert result.returncode != 0
    assert "2 ranks but a batch of 1" in result.stderr
    assert not (text_dir / "run").exists()


def test_cli_refuses_ranks_started_with_different_options(text_dir):
    command = [sys.executable, "-m", "rnnkit", "train", "lm", *LM_OPTIONS, "--out", "run"]
    result = subprocess.run([mpiexec(), "-n", "1", *command, "--lr", "0.01", ":", "-n", "1", *command,
                             "--lr", "0.02"], cwd=text_dir, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "different options" in result.stderr
    assert not (text_dir / "run").exists()


def _rank_process(marker: str, rank: int) -> int | None:
    """The id of the process of rank ``rank`` whose command line holds ``marker`` (Linux /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() in command and b"rnnkit" in command and f"PMI_RANK={rank}".encode() in environment:
            return int(entry.name)
    return None


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the rank's process through /proc (Linux)")
def test_a_rank_killed_mid_run_stops_every_rank_and_the_last_checkpoint_stays(text_dir):
    import signal
    import time

    from rnnkit.train import checkpoint

    marker = str(text_dir / "killed")
    command = [mpiexec(), "-n", "2", sys.executable, "-m", "rnnkit", "train", "lm", *LM_OPTIONS[:-6],
               "--checkpoint-every", "2", "--epochs", "1000", "--max-minutes", "2", "--out", marker]
    process = subprocess.Popen(command, cwd=text_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        last = Path(marker) / "checkpoints" / "last"
        while not last.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        assert last.exists(), process.stderr.read() if process.poll() is not None else "no checkpoint in 60 s"
        rank = _rank_process(marker, 1)
        assert rank is not None
        os.kill(rank, signal.SIGKILL)
        process.wait(timeout=60)                     # rank 0 does not wait forever for the dead one
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0
    state, _ = checkpoint.restore_checkpoint(checkpoint.checkpoint_path(Path(marker) / "checkpoints", "last"),
                                             *_resumable(Path(marker)))
    assert state["step"] >= 2


def _resumable(folder: Path):
    """A model and optimiser of the run's shape, to restore its last checkpoint into."""
    from rnnkit.train import checkpoint

    model = checkpoint.load_model(checkpoint.checkpoint_path(folder / "checkpoints", "last"))
    return model, Adam(model.parameters(), lr=0.01)
