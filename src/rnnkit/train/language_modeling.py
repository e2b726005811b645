"""The language-modelling task: text in, next-token prediction with truncated BPTT.

Glossary: B batch (parallel streams), T window length (the BPTT truncation), V vocabulary,
N tokens in the text.

The training text becomes one id stream cut into B contiguous rows
(:func:`rnnkit.data.lm_stream_batches`); window w+1 continues every row where window w
stopped. So the final hidden state of one window is the right initial state of the next: the
task carries it over (its values only), and ignores the initial-state gradient that
``backward`` returns, which cuts the gradient at the window boundary.

Metrics: ``loss`` (mean cross entropy, nats per token), ``perplexity`` = exp(loss) and
``bpc`` / ``bits_per_word`` = loss / ln 2 (per character for characters, per word for words).

``rnnkit train lm`` runs this task like every other (:mod:`rnnkit.train.tasks`): with no
``--data`` it learns from the documentation text that ships with every Python
(``pydoc_data.topics``), prints a sample after each validation, and ends with text generated
by the best checkpoint (saved in ``summary.md``). ``--resume`` reads the text through the
run's own ``vocab.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from rnnkit import distributed, losses
from rnnkit.data.batching import count_lm_windows, lm_stream_batches
from rnnkit.data.readers import read_text
from rnnkit.data.vocab import CharVocab, Vocab, WordVocab
from rnnkit.models.language_model import LanguageModel
from rnnkit.registry import CELL_NAMES
from rnnkit.train.checkpoint import CheckpointError
from rnnkit.train.options import check_max_vocab, check_model_size, flag, option
from rnnkit.train.schedules import SCHEDULES
from rnnkit.train.supervised import Prepared

LEVELS = ("char", "word")
# Where the default text comes from: the documentation topics that ship with every Python.
DEFAULT_CORPUS = "pydoc_data.topics"

HELP = "character or word language model (default data: Python's documentation)"
EXPECTED = "a UTF-8 text file"
EXAMPLE = "my.txt"
HAS_DEFAULT_DATA = True
MODEL_CLASS = LanguageModel
VOCAB_FILE = "vocab.json"
VOCAB_FILES = (VOCAB_FILE,)


@dataclass
class LMOptions:
    """Every option of ``rnnkit train lm``; each field is a command-line option and a TOML key."""

    data: str | None = option(None, "UTF-8 text file to learn from (default: Python's own documentation, "
                                    "pydoc_data.topics)")
    level: str = option("char", "model characters or words", LEVELS)
    cell: str = option("lstm", "recurrent layer", CELL_NAMES)
    hidden: int = option(256, "hidden units per layer")
    layers: int = option(1, "stacked recurrent layers")
    embedding: int = option(32, "embedding size; 0 feeds one-hot vectors instead")
    dropout: float = option(0.0, "dropout between layers and before the output layer")
    epochs: int = option(10, "passes over the training text (the time budget may stop it sooner)")
    seq_len: int = option(64, "time steps per window: how far back the gradient reaches (truncated BPTT)")
    batch: int = option(32, "parallel streams per step")
    lr: float = option(5e-3, "peak learning rate (Adam)")
    schedule: str = option("cosine", "learning-rate schedule after the warmup", SCHEDULES)
    warmup: int = option(20, "warmup steps (learning rate rising linearly)")
    clip: float = option(1.0, "maximum global gradient norm")
    patience: int = option(3, "stop after this many epochs without a better validation loss (0: never)")
    val_fraction: float = option(0.1, "the last part of the text held out for validation")
    max_vocab: int = option(0, "keep only the most frequent tokens (0: all; word level: 10000)")
    seed: int = option(0, "random seed: the same seed gives the same run")
    max_minutes: float = option(3.0, "time budget in minutes: stop, validate and save when it runs out (0: none)")
    checkpoint_every: int = option(100, "also save checkpoints/last every N steps (0: only at validations)")
    sample_length: int = option(600, "tokens to generate at the end")
    temperature: float = option(0.7, "sampling temperature of the final sample")
    prime: str = option("The ", "text the final sample starts from")
    out: str | None = option(None, "run directory (default: runs/lm-YYYYmmdd-HHMMSS-xxxxxx); must be new or empty")


OPTIONS = LMOptions


def check_options(options: LMOptions) -> None:
    """Range checks of every option, before anything is read or built; errors name the option."""
    positive = ("hidden", "layers", "epochs", "seq_len", "batch", "sample_length")
    non_negative = ("embedding", "warmup", "patience", "max_vocab", "seed", "checkpoint_every")
    for name in positive:
        if getattr(options, name) < 1:
            raise ValueError(f"{flag(name)} must be at least 1, got {getattr(options, name)}")
    for name in non_negative:
        if getattr(options, name) < 0:
            raise ValueError(f"{flag(name)} must be at least 0, got {getattr(options, name)}")
    for name, low, high in (("dropout", 0.0, 0.99), ("val_fraction", 0.01, 0.5)):
        if not low <= getattr(options, name) <= high:
            raise ValueError(f"{flag(name)} must lie in [{low}, {high}], got {getattr(options, name)}")
    check_max_vocab(options.max_vocab, 1)
    check_model_size(options, options.max_vocab)
    for name in ("lr", "clip"):
        if not getattr(options, name) > 0:
            raise ValueError(f"--{name} must be > 0, got {getattr(options, name)}")
    for name in ("max_minutes", "temperature"):
        if not 0 <= getattr(options, name) < float("inf"):          # NaN fails this too
            raise ValueError(f"{flag(name)} must be a finite number >= 0, got {getattr(options, name)}")
    if not options.prime.strip() if options.level == "word" else not options.prime:
        raise ValueError(f"--prime must hold at least one {'word' if options.level == 'word' else 'character'}, "
                         f"got {options.prime!r}")


def load_corpus(path: str | None) -> tuple[str, str]:
    """The training text and a name for it: the file at ``path``, or Python's documentation.

    Raises a ValueError naming the file and the reason for an empty, undecodable or binary
    file, and FileNotFoundError for a missing one.
    """
    if path is None:
        import pydoc_data.topics

        text = "".join(pydoc_data.topics.topics.values())
        return text, f"Python's documentation ({DEFAULT_CORPUS}, {len(text):,} characters)"
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"data file not found: {file}")
    if not file.is_file():
        raise ValueError(f"{file}: not a regular file (expected a UTF-8 text file)")
    text = read_text(file)
    if not text.strip():
        raise ValueError(f"{file}: the file is empty (expected UTF-8 text to learn from)")
    if "\x00" in text:
        raise ValueError(f"{file}: the file holds NUL bytes; it looks binary, expected UTF-8 text")
    return text, f"{file} ({len(text):,} characters)"


def split_text(text: str, val_fraction: float) -> tuple[str, str]:
    """The first (1 - val_fraction) of the text for training, the rest for validation.

    The cut moves forward to the next whitespace so no word is split between the two.
    """
    cut = int(len(text) * (1.0 - val_fraction))
    while cut < len(text) and not text[cut].isspace():
        cut += 1
    return text[:cut], text[cut:]


def build_vocab(level: str, train_text: str, max_vocab: int | None = None) -> Vocab:
    """A character or word vocabulary fitted on the training text, with ``<unk>`` as id 0."""
    if level == "char":
        return CharVocab(specials=["<unk>"], max_size=max_vocab).fit(train_text)
    if level == "word":
        return WordVocab(specials=["<unk>"], max_size=max_vocab).fit(train_text)
    raise ValueError(f"level must be one of {list(LEVELS)}, got {level!r}")


@dataclass
class Batch:
    """One window: ``inputs`` and ``targets`` (B, T) int64, targets shifted by one."""

    inputs: np.ndarray
    targets: np.ndarray

    @property
    def num_tokens(self) -> int:
        return int(self.targets.size)


class LanguageModelTask:
    """What :class:`~rnnkit.train.Trainer` needs to train a :class:`LanguageModel` on text.

    Parameters
    ----------
    train_ids, val_ids : 1-D int arrays
        The training and validation token streams.
    batch_size, seq_len : int
        B streams, windows of T steps.
    level : {"char", "word"}
        Names the bits metric: ``bpc`` (characters) or ``bits_per_word``.
    source : str
        Where the text came from, for error messages.
    eval_batch_size : int
        Rows of the validation stream read in parallel (no backward there, so more rows
        only make it faster).
    """

    def __init__(self, train_ids: np.ndarray, val_ids: np.ndarray, batch_size: int, seq_len: int,
                 level: str = "char", source: str = "the text", eval_batch_size: int = 128):
        self.train_ids = np.asarray(train_ids, dtype=np.int64)
        self.val_ids = np.asarray(val_ids, dtype=np.int64)
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.level = level
        self.eval_batch_size = eval_batch_size
        unit = "characters" if level == "char" else "words"
        needed = batch_size * (seq_len + 1)
        if len(self.train_ids) < needed:
            raise ValueError(
                f"{source}: too little text: its training part has {len(self.train_ids):,} {unit}, and "
                f"--batch {batch_size} x --seq-len {seq_len} needs at least {needed:,}; "
                f"give more text or lower --batch / --seq-len")
        if len(self.val_ids) < 2:
            raise ValueError(f"{source}: too little text for validation: its last part has "
                             f"{len(self.val_ids)} {unit}, need at least 2")
        self.steps_per_epoch = count_lm_windows(len(self.train_ids), batch_size, seq_len)
        self.state: Any = None          # the hidden state carried from window to window
        self.bits_name = "bpc" if level == "char" else "bits_per_word"
        self.group: distributed.Group = distributed.Group()
        self.rows = slice(0, batch_size)  # the streams this process trains (all but with several processes)

    # --- several processes (rnnkit.distributed) ---------------------------------------------
    def shard(self, group: distributed.Group) -> None:
        """From now on train only this rank's contiguous share of the B streams (and carry its state)."""
        distributed.check_batch(group, self.batch_size, "streams")
        self.group = group
        self.rows = distributed.part(self.batch_size, group.rank, group.size)

    def loss_count(self, batch: Batch) -> int:
        """The number :meth:`loss` averages over: every target of the window."""
        return batch.num_tokens

    # --- the training loop's pieces ---------------------------------------------------------
    def train_batches(self, epoch: int, start: int) -> Iterator[Batch]:
        """The windows of one epoch from window ``start`` on (the same every epoch)."""
        if start == 0:
            self.state = None           # each epoch reads the streams from their beginning
        for inputs, targets in lm_stream_batches(self.train_ids, self.batch_size, self.seq_len, start=start):
            yield Batch(inputs[self.rows], targets[self.rows])          # (B_r, T): this process's streams

    def forward(self, model: LanguageModel, batch: Batch) -> np.ndarray:
        """Logits (B, T, V); starts from the previous window's final state (values only)."""
        logits, self.state = model(batch.inputs, self.state)
        return logits

    def loss(self, logits: np.ndarray, batch: Batch) -> tuple[float, np.ndarray]:
        """Mean cross entropy over all B*T targets and its gradient (B, T, V)."""
        return losses.cross_entropy(logits, batch.targets)

    def backward(self, model: LanguageModel, d_logits: np.ndarray) -> None:
        model.backward(d_logits)        # the initial-state gradient is dropped: truncated BPTT

    # --- validation -------------------------------------------------------------------------
    def evaluate(self, model: LanguageModel) -> dict[str, float]:
        """Loss, perplexity and bits per token on the validation stream (eval mode)."""
        return evaluate_stream(model, self.val_ids, self.eval_batch_size, self.seq_len, self.bits_name)

    def evaluate_part(self, model: LanguageModel, rank: int, size: int) -> dict[str, float]:
        """This rank's share of the validation streams: ``{"loss": nats summed, "count": tokens}``."""
        with model.inference():
            total, count = stream_loss_sum(model, self.val_ids, self.eval_batch_size, self.seq_len, rank, size)
        return {"loss": total, "count": count}

    def metrics_from_sums(self, sums: dict[str, float]) -> dict[str, float]:
        return stream_metrics(sums["loss"] / sums["count"], self.bits_name)

    # --- what a checkpoint must hold to resume mid-epoch ---------------------------------------
    def state_arrays(self) -> dict[str, np.ndarray]:
        """The carried state, all B streams (several processes: gathered from every rank, a collective)."""
        parts = self.state if isinstance(self.state, tuple) else (self.state,)
        if self.group.size > 1:
            gathered = self.group.allgather(parts)
            if any(item[0] is None for item in gathered):
                return {}
            parts = tuple(np.concatenate([item[index] for item in gathered], axis=1)     # (L, B, H)
                          for index in range(len(parts)))
        if parts[0] is None:
            return {}
        return {f"state.{index}": part for index, part in enumerate(parts)}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """The carried state of all B streams; several processes keep their own streams' rows."""
        parts = [arrays[f"state.{index}"][:, self.rows] for index in range(len(arrays))]     # (L, B_r, H)
        self.state = None if not parts else (tuple(parts) if len(parts) > 1 else parts[0])


def evaluate_stream(model: LanguageModel, ids: np.ndarray, batch_size: int, seq_len: int,
                    bits_name: str = "bpc") -> dict[str, float]:
    """Mean cross entropy of predicting every id of ``ids`` from the ones before it.

    The stream is cut into at most ``batch_size`` rows read in windows of ``seq_len`` with the
    state carried across windows, in eval mode (no dropout). Returns ``loss`` (nats per
    token), ``perplexity`` and ``bits_name`` (bits per token).
    """
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) < 2:
        raise ValueError(f"need at least 2 tokens to evaluate, got {len(ids)}")
    with model.inference():  # eval mode and no_grad until the block ends
        total, count = stream_loss_sum(model, ids, batch_size, seq_len)
    return stream_metrics(total / count, bits_name)


def stream_loss_sum(model: LanguageModel, ids: np.ndarray, batch_size: int, seq_len: int, rank: int = 0,
                    size: int = 1) -> tuple[float, int]:
    """Cross entropy summed over the stream's targets, and their number: :func:`evaluate_stream`'s
    work, of the rows ``rank`` reads when ``size`` processes share them (all of them by default)."""
    streams = max(1, min(batch_size, len(ids) // (seq_len + 1)))
    rows = distributed.part(streams, rank, size)
    total, count, state = 0.0, 0, None
    if rows.start == rows.stop:
        return total, count
    for inputs, targets in lm_stream_batches(ids, streams, seq_len, drop_last=False):
        logits, state = model(inputs[rows], state)                                # (B_r, T, V)
        loss, _ = losses.cross_entropy(logits, targets[rows], reduction="sum")
        total += loss
        count += targets[rows].size
    return total, count


def stream_metrics(mean: float, bits_name: str) -> dict[str, float]:
    """``loss`` (the mean cross entropy), ``perplexity`` and bits per token."""
    perplexity = math.exp(mean) if mean < 709.0 else math.inf        # exp overflows float64 above ~709.78
    return {"loss": mean, "perplexity": perplexity, bits_name: mean / math.log(2)}


def generate_text(model: LanguageModel, vocab: Vocab, prime: str, length: int, temperature: float = 1.0,
                  top_k: int | None = None, top_p: float | None = None, seed: Any = None) -> str:
    """``prime`` followed by ``length`` sampled tokens, as text.

    Characters (or words) of the prime that the vocabulary lacks become ``<unk>``.
    """
    if not isinstance(prime, str) or not prime:
        raise ValueError(f"prime must be a non-empty string, got {prime!r}")
    prime_ids = vocab.transform(prime)
    if prime_ids.size == 0:
        raise ValueError(f"prime {prime!r} holds no token the vocabulary can read")
    new_ids = model.generate(prime_ids, length, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    continuation = vocab.inverse_transform(new_ids)
    if isinstance(vocab, WordVocab):
        return prime + " " + continuation
    return prime + continuation


# --- the run's setup, evaluation ----------------------------------------------------------------
def prepare(options: LMOptions) -> Prepared:
    """Read the text, fit the vocabulary on its training part, build the model and the task."""
    return _prepare(options, None)


def prepare_resumed(options: LMOptions, vocabs: dict[str, Vocab]) -> Prepared:
    """:func:`prepare` for ``--resume``: the text read through the run's own vocabulary."""
    return _prepare(options, vocabs[VOCAB_FILE])


def _prepare(options: LMOptions, vocab: Vocab | None) -> Prepared:
    check_options(options)
    text, source = load_corpus(options.data)
    train_text, val_text = split_text(text, options.val_fraction)
    if vocab is None:
        vocab = build_vocab(options.level, train_text, options.max_vocab or (10000 if options.level == "word" else None))
    task = LanguageModelTask(vocab.transform(train_text), vocab.transform(val_text), options.batch, options.seq_len,
                             level=options.level, source=options.data or "the default text")
    model = LanguageModel(len(vocab), options.hidden, num_layers=options.layers, cell=options.cell,
                          embedding_dim=options.embedding or None, dropout=options.dropout, seed=options.seed)

    def show_sample(trainer: Any, metrics: dict) -> None:
        sample = generate_text(trainer.model, vocab, options.prime, min(160, options.sample_length),
                               temperature=options.temperature, seed=options.seed)
        trainer.log("  sample: " + sample.replace("\n", "\n          "))

    def final_sample(best_model: LanguageModel) -> str:
        return generate_text(best_model, vocab, options.prime, options.sample_length, temperature=options.temperature,
                             seed=options.seed)

    unit = "characters" if options.level == "char" else "words"
    description = [f"data: {source}; {len(task.train_ids):,} training and {len(task.val_ids):,} validation {unit}, "
                   f"vocabulary {len(vocab)}"]
    return Prepared(model, task, {}, {VOCAB_FILE: vocab}, description, on_validation=show_sample,
                    sample=final_sample, data_name=source, batch_name="window",
                    batch_text=f"{options.batch} x {options.seq_len} tokens")


def check_model(model: LanguageModel, vocabs: dict[str, Vocab], path: Path, folder: Path) -> None:
    """Refuse a checkpoint whose output layer does not fit the run's vocabulary."""
    vocab = vocabs[VOCAB_FILE]
    if model.vocab_size != len(vocab):
        raise CheckpointError(f"{path} does not match {Path(folder) / VOCAB_FILE}: the model predicts "
                              f"{model.vocab_size} tokens, the vocabulary has {len(vocab)}")


def evaluate_file(model: LanguageModel, document: dict[str, Any], vocabs: dict[str, Vocab],
                  path: str) -> dict[str, float]:
    """Loss, perplexity and bits per token of a run's model on a text file (read with the run's vocabulary)."""
    text, _ = load_corpus(path)
    ids = vocabs[VOCAB_FILE].transform(text)
    if len(ids) < 2:
        raise ValueError(f"{path}: too little text to evaluate: {len(ids)} tokens, need at least 2")
    options = document["options"]
    bits_name = "bpc" if options.get("level", "char") == "char" else "bits_per_word"
    return evaluate_stream(model, ids, 128, int(options.get("seq_len", 64)), bits_name)
