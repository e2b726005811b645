"""The language-modelling task: text in, next-token prediction with truncated BPTT.

Glossary: B batch (parallel streams), T window length (the BPTT truncation), V vocabulary,
N tokens in the text.

The training text becomes one id stream cut into B contiguous rows
(:func:`rnnkit.data.lm_stream_batches`); window w+1 continues every row where window w
stopped. So the final hidden state of one window is the right initial state of the next: the
task carries it over (its values only), and ignores the initial-state gradient that
``backward`` returns, which cuts the gradient at the window boundary.

Metrics: ``loss`` (mean cross entropy, nats per token), ``perplexity`` = exp(loss) and
``bpc`` / ``bits_per_word`` = loss / ln 2 (per character for characters, per word for words);
beside them ``unk_rate`` (the share of tokens that are the unknown token ``<unk>``, the text's own
included) and the perplexities of two count baselines fitted on the same training tokens and
scoring the same tokens (:mod:`rnnkit.models.count_baselines`): ``unigram_perplexity`` and
``kn_bigram_perplexity`` (interpolated Kneser-Ney). A model that does not beat the bigram has
learned little that counting pairs would not give.

Words (``--level word``). ``--tokenizer whitespace`` takes a pre-tokenised corpus (WikiText,
Penn Treebank) as it is: its tokens are what whitespace separates, so ``<unk>`` and ``@-@`` stay
whole and the corpus's ``<unk>`` is the vocabulary's unknown token; ``--tokenizer words`` splits
raw text into words and punctuation (special tokens kept whole) and joins generated words back
into text; ``auto`` (the default) takes ``whitespace`` when the text looks pre-tokenised
(:func:`rnnkit.data.tokenizer.looks_pretokenized`: it holds ``<unk>`` or ``@-@``, or its
punctuation stands apart). ``--line-breaks token`` makes every line end the token ``<eos>``
(one paragraph or verse line per line, one name per line); ``space`` treats line ends as
spaces; ``auto`` (the default) takes ``space`` only for hard-wrapped prose, whose lines break
inside sentences (:func:`rnnkit.data.tokenizer.line_breaks_carry_meaning`). The run prints
what it chose and why.

Sizes that follow the vocabulary (word level, unless given): ``--max-vocab 0`` keeps every word
seen at least twice in the training text (at most 50,000, the most frequent), or every token of
a pre-tokenised text that has its own ``<unk>`` (the corpus has chosen its vocabulary);
``--embedding`` (unset) is ``min(--hidden, max(32, round(1.6 V^0.56)))`` for V words (fastai's
rule of thumb, capped at the hidden size), ``--hidden`` with ``--tie-embeddings``, and 32 for
characters.

Evaluation streams: the text (a file, read in pieces of about a megabyte that end at line ends,
or the validation ids) is scored in blocks of ``EVAL_ROWS`` rows of ``EVAL_ROW_TOKENS`` tokens,
each row read in windows with its state carried, under :func:`rnnkit.no_grad`, with at most
``LOGIT_BUDGET`` logits alive at once; memory stays bounded whatever the file's size. Every
token after the first is scored once (a row starts from a zero state once per block).

``rnnkit train lm`` runs this task like every other (:mod:`rnnkit.train.tasks`): with no
``--data`` it learns from the documentation text that ships with every Python
(``pydoc_data.topics``), prints a sample after each validation, and ends with text generated
by the best checkpoint (saved in ``summary.md``). ``--resume`` reads the text through the
run's own ``vocab.json``.
"""

from __future__ import annotations

import codecs
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from rnnkit import distributed, losses
from rnnkit.data import tokenizer
from rnnkit.data.batching import count_lm_windows, lm_stream_batches
from rnnkit.data.readers import read_text
from rnnkit.data.vocab import UNK, CharVocab, CorpusWordVocab, Vocab, WordVocab
from rnnkit.models.count_baselines import KneserNeyBigram, StreamScore, Unigram
from rnnkit.models.language_model import LanguageModel
from rnnkit.registry import CELL_NAMES
from rnnkit.train import report
from rnnkit.train.checkpoint import CheckpointError
from rnnkit.train.options import (PROGRESS_CHOICES, REGULARISER_OPTIONS, check_max_vocab, check_model_size,
                                  check_output_options, flag, option, regularisers)
from rnnkit.train.schedules import SCHEDULES
from rnnkit.train.supervised import Prepared

LEVELS = ("char", "word")
TOKENIZERS = ("auto", "whitespace", "words")
LINE_BREAKS = ("auto", "token", "space")
# Word level, --max-vocab 0 on raw text: words seen at least this often, at most this many of them.
WORD_MIN_COUNT, WORD_VOCAB_CAP = 2, 50_000
# Streaming evaluation: rows scored in parallel, tokens per row and block, logits alive at once.
EVAL_ROWS, EVAL_ROW_TOKENS, LOGIT_BUDGET = 32, 4096, 1 << 20
# Bytes read from a file at a time when evaluating (pieces end at line ends).
READ_CHUNK_BYTES = 1 << 19
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

    data: str | None = option(None, "text file to learn from (default: Python's own documentation, "
                                    "pydoc_data.topics)")
    level: str = option("char", "model characters or words", LEVELS)
    cell: str = option("lstm", "recurrent layer", CELL_NAMES)
    hidden: int = option(256, "hidden units per layer")
    layers: int = option(1, "stacked recurrent layers")
    embedding: int | None = option(None, "embedding size; 0 feeds one-hot vectors instead (default: 32 for "
                                         "characters; for words min(--hidden, max(32, round(1.6 V^0.56))) with V "
                                         "the vocabulary size; --hidden with --tie-embeddings)")
    tie_embeddings: bool = option(False, "use the embedding table as the output layer's weight (needs the "
                                         "embedding as wide as --hidden)")
    embedding_dropout: float = option(0.0, "drop whole words: each step zeroes a word's embedding row with this "
                                           "probability and scales the rest (Gal & Ghahramani; Merity et al.)")
    dropout: float = option(0.0, "dropout between layers and before the output layer")
    locked_dropout: float = option(0.0, "variational dropout between recurrent layers: one mask per stream, "
                                        "the same at every step (Gal & Ghahramani 2016)")
    locked_input_dropout: float = option(0.0, "variational dropout on the first recurrent layer's input")
    weight_drop: float = option(0.0, "DropConnect on each W_hh: one mask per forward pass (Merity et al. 2017; not "
                                     "minGRU/minLSTM)")
    zoneout: float = option(0.0, "zoneout on h: in training each unit keeps its previous value with this "
                                 "probability at each step (Krueger et al. 2017); runs the one-step cells")
    zoneout_cell: float = option(0.0, "zoneout on the cell state c of the LSTM kinds")
    learn_initial_state: bool = option(False, "learn each layer's initial state instead of starting from zeros")
    epochs: int = option(10, "passes over the training text (the time budget may stop it sooner)")
    seq_len: int = option(64, "time steps per window: how far back the gradient reaches (truncated BPTT)")
    batch: int = option(32, "parallel streams per step")
    lr: float = option(5e-3, "peak learning rate (Adam)")
    schedule: str = option("cosine", "learning-rate schedule after the warmup", SCHEDULES)
    warmup: int = option(20, "warmup steps (learning rate rising linearly)")
    clip: float = option(1.0, "maximum global gradient norm")
    patience: int = option(3, "stop after this many epochs without a better validation loss (0: never)")
    val_fraction: float = option(0.1, "the last part of the text held out for validation")
    max_vocab: int = option(0, "keep only the N most frequent tokens (0: characters: all; words: those seen at "
                               "least twice, at most 50,000, or every token of a pre-tokenised text with its own <unk>)")
    tokenizer: str = option("auto", "how words are cut: whitespace (a pre-tokenised corpus such as WikiText, <unk> "
                                    "and @-@ kept whole), words (raw text: words and punctuation), auto (whitespace "
                                    "when the text looks pre-tokenised)", TOKENIZERS, only=("level", ("word",)))
    line_breaks: str = option("auto", "line ends: token (each is the token <eos>), space, or auto (space only for "
                                      "hard-wrapped prose, whose lines break inside sentences)", LINE_BREAKS,
                              only=("level", ("word",)))
    seed: int = option(0, "random seed: the same seed gives the same run")
    max_minutes: float = option(3.0, "time budget in minutes: stop, validate and save when it runs out (0: none)")
    checkpoint_every: int = option(100, "also save checkpoints/last every N steps (0: only at validations)")
    sample_length: int = option(600, "tokens to generate at the end")
    temperature: float = option(0.7, "sampling temperature of the final sample")
    prime: str = option("The ", "text the final sample starts from")
    out: str | None = option(None, "run directory (default: runs/lm-YYYYmmdd-HHMMSS-xxxxxx); must be new or empty")
    progress: str = option("auto", "progress bars: auto (only when stderr is a terminal, so redirected output holds "
                                   "no carriage returns), always or never", PROGRESS_CHOICES)
    quiet: bool = option(False, "print only errors and the final summary: no progress bars, no per-epoch lines")
    encoding: str = option("utf-8", "text encoding of the text files, in training and evaluate (e.g. latin-1, "
                                    "cp1252, utf-16)")


OPTIONS = LMOptions


def check_options(options: LMOptions) -> None:
    """Range checks of every option, before anything is read or built; errors name the option."""
    positive = ("hidden", "layers", "epochs", "seq_len", "batch", "sample_length")
    non_negative = ("embedding", "warmup", "patience", "max_vocab", "seed", "checkpoint_every")
    for name in positive:
        if getattr(options, name) < 1:
            raise ValueError(f"{flag(name)} must be at least 1, got {getattr(options, name)}")
    for name in non_negative:
        if getattr(options, name) is not None and getattr(options, name) < 0:
            raise ValueError(f"{flag(name)} must be at least 0, got {getattr(options, name)}")
    if options.tie_embeddings and options.embedding is not None and options.embedding != options.hidden:
        raise ValueError(f"--tie-embeddings needs the embedding as wide as the hidden layer (--hidden "
                         f"{options.hidden}), got --embedding {options.embedding}; leave --embedding out or give "
                         f"--embedding {options.hidden}")
    if options.embedding == 0 and options.embedding_dropout > 0:
        raise ValueError("--embedding-dropout drops rows of the embedding table; --embedding 0 has none (one-hot input)")
    check_output_options(options)
    ranges = [("dropout", 0.0, 0.99), ("val_fraction", 0.01, 0.5), ("embedding_dropout", 0.0, 0.99)]
    ranges += [(name, 0.0, 0.99) for name in REGULARISER_OPTIONS if name != "learn_initial_state"]
    for name, low, high in ranges:
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


def load_corpus(path: str | None, encoding: str = "utf-8") -> tuple[str, str]:
    """The training text and a name for it: the file at ``path`` (read as ``encoding``), or Python's
    documentation.

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
        raise ValueError(f"{file}: not a regular file (expected a text file)")
    text = read_text(file, encoding)
    if not text.strip():
        raise ValueError(f"{file}: the file is empty (expected text to learn from)")
    if "\x00" in text:
        raise ValueError(f"{file}: the file holds NUL bytes; it looks binary, expected {encoding} text")
    return text, f"{file} ({len(text):,} characters)"


def split_text(text: str, val_fraction: float) -> tuple[str, str]:
    """The first (1 - val_fraction) of the text for training, the rest for validation.

    The cut moves forward to the next whitespace so no word is split between the two.
    """
    cut = int(len(text) * (1.0 - val_fraction))
    while cut < len(text) and not text[cut].isspace():
        cut += 1
    return text[:cut], text[cut:]


def build_vocab(level: str, train_text: str, max_vocab: int | None = None, tokenizer_choice: str = "auto",
                line_breaks: str = "auto") -> Vocab:
    """A character or word vocabulary fitted on the training text, with ``<unk>`` as id 0.

    Words: a :class:`~rnnkit.data.vocab.CorpusWordVocab` read as :func:`word_reading` decides,
    limited as :func:`word_vocab_limits` says (``max_vocab`` None or 0: the rule that follows
    the text).
    """
    return build_vocab_with_notes(level, train_text, max_vocab, tokenizer_choice, line_breaks)[0]


def build_vocab_with_notes(level: str, train_text: str, max_vocab: int | None = None, tokenizer_choice: str = "auto",
                           line_breaks: str = "auto") -> tuple[Vocab, list[str]]:
    """:func:`build_vocab`, and lines that say what was chosen and why (printed as the run starts)."""
    if level == "char":
        return CharVocab(specials=[UNK], max_size=max_vocab or None).fit(train_text), []
    if level != "word":
        raise ValueError(f"level must be one of {list(LEVELS)}, got {level!r}")
    mode, breaks, notes = word_reading(train_text, tokenizer_choice, line_breaks)
    min_count, limit, rule = word_vocab_limits(train_text, max_vocab)
    vocab = CorpusWordVocab(mode=mode, line_breaks=breaks, specials=[UNK], min_freq=min_count,
                            max_size=limit).fit(train_text)
    return vocab, notes + [f"vocabulary: {len(vocab):,} tokens ({rule})"]


def word_reading(text: str, tokenizer_choice: str = "auto", line_breaks: str = "auto") -> tuple[str, bool, list[str]]:
    """How to read ``text`` as words: the tokenizer mode, whether line ends are tokens, and why."""
    if tokenizer_choice not in TOKENIZERS:
        raise ValueError(f"--tokenizer must be one of {list(TOKENIZERS)}, got {tokenizer_choice!r}")
    if line_breaks not in LINE_BREAKS:
        raise ValueError(f"--line-breaks must be one of {list(LINE_BREAKS)}, got {line_breaks!r}")
    if tokenizer_choice == "auto":
        pretokenized, why = tokenizer.looks_pretokenized(text)
        mode = "whitespace" if pretokenized else "words"
        mode_note = f"{mode} (auto: {why})"
    else:
        mode, mode_note = tokenizer_choice, f"{tokenizer_choice} (--tokenizer)"
    if line_breaks == "auto":
        breaks, why = tokenizer.line_breaks_carry_meaning(text)
        breaks_note = f"{'the token <eos>' if breaks else 'spaces'} (auto: {why})"
    else:
        breaks = line_breaks == "token"
        breaks_note = f"{'the token <eos>' if breaks else 'spaces'} (--line-breaks)"
    return mode, breaks, [f"words: {mode_note}; line ends: {breaks_note}"]


_OWN_UNK = re.compile(r"(?<!\S)<unk>(?!\S)")


def word_vocab_limits(text: str, max_vocab: int | None) -> tuple[int, int | None, str]:
    """``(min_count, max_size, the rule in words)`` of a word vocabulary for ``text``.

    >>> word_vocab_limits("a b a", 0)
    (2, 50000, 'words seen at least twice, at most 50,000')
    >>> word_vocab_limits("a <unk> b", 0)[:2], word_vocab_limits("a b", 500)
    ((1, None), (1, 500, '--max-vocab 500'))
    """
    if max_vocab:
        return 1, max_vocab, f"--max-vocab {max_vocab}"
    if _OWN_UNK.search(text):
        return 1, None, "every token: the text has its own <unk>, so its vocabulary is chosen already"
    return WORD_MIN_COUNT, WORD_VOCAB_CAP, f"words seen at least twice, at most {WORD_VOCAB_CAP:,}"


def embedding_size(options: Any, vocab_size: int) -> int | None:
    """The embedding width of a run (None: one-hot input), from ``--embedding`` or the rule in the module
    docstring.

    >>> embedding_size(LMOptions(level="word"), 10000), embedding_size(LMOptions(level="word"), 300)
    (256, 39)
    >>> embedding_size(LMOptions(), 80), embedding_size(LMOptions(embedding=0), 80)
    (32, None)
    """
    if options.embedding is not None:
        return options.embedding or None
    if options.tie_embeddings:
        return options.hidden
    if options.level == "char":
        return 32
    return min(options.hidden, max(32, round(1.6 * vocab_size ** 0.56)))


def unk_rate(ids: np.ndarray, vocab: Vocab) -> float:
    """The share of ``ids`` that are the vocabulary's unknown token (0 for an empty stream)."""
    if vocab.unk_id is None or len(ids) == 0:
        return 0.0
    return float(np.count_nonzero(np.asarray(ids) == vocab.unk_id)) / len(ids)


def fit_baselines(train_ids: np.ndarray, vocab_size: int) -> dict[str, Any]:
    """The count baselines fitted on the training ids, by metric name."""
    return {"unigram_perplexity": Unigram(vocab_size).fit(train_ids),
            "kn_bigram_perplexity": KneserNeyBigram(vocab_size).fit(train_ids)}


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
    extra_metrics : dict or None
        Figures of the validation text that training does not change (``unk_rate``, the count
        baselines' perplexities), added to every validation's metrics.
    progress : bool
        Show a progress bar while validating.
    """

    def __init__(self, train_ids: np.ndarray, val_ids: np.ndarray, batch_size: int, seq_len: int,
                 level: str = "char", source: str = "the text", eval_batch_size: int = EVAL_ROWS,
                 extra_metrics: dict[str, float] | None = None, progress: bool = False):
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
        self.extra_metrics = dict(extra_metrics or {})
        self.progress = progress

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
        """Loss, perplexity and bits per token on the validation stream (eval mode), and the extra metrics."""
        return self.metrics_from_sums(self.evaluate_part(model, 0, 1))

    def evaluate_part(self, model: LanguageModel, rank: int, size: int) -> dict[str, float]:
        """This rank's share of the validation rows: ``{"loss": nats summed, "count": tokens}``."""
        bar = report.progress_bar(total=len(self.val_ids), desc="validation", unit="tok") if self.progress else None
        evaluator = StreamEvaluator(model, self.eval_batch_size, self.seq_len, rank=rank, size=size,
                                    on_scored=None if bar is None else bar.update)
        try:
            with model.inference():
                evaluator.feed(self.val_ids)
                total, count = evaluator.finish()
        finally:
            if bar is not None:
                bar.close()
        return {"loss": total, "count": count}

    def metrics_from_sums(self, sums: dict[str, float]) -> dict[str, float]:
        return {**stream_metrics(sums["loss"] / sums["count"], self.bits_name), **self.extra_metrics}

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


def evaluate_stream(model: LanguageModel, ids: np.ndarray, batch_size: int = EVAL_ROWS, seq_len: int = 64,
                    bits_name: str = "bpc") -> dict[str, float]:
    """Mean cross entropy of predicting every id of ``ids`` after the first from the ones before it.

    Scored as :class:`StreamEvaluator` does, with ``batch_size`` rows, in eval mode (no dropout)
    under no_grad. Returns ``loss`` (nats per token), ``perplexity`` and ``bits_name`` (bits per
    token).
    """
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) < 2:
        raise ValueError(f"need at least 2 tokens to evaluate, got {len(ids)}")
    evaluator = StreamEvaluator(model, batch_size, seq_len)
    with model.inference():  # eval mode and no_grad until the block ends
        evaluator.feed(ids)
        total, count = evaluator.finish()
    return stream_metrics(total / count, bits_name)


class StreamEvaluator:
    """The model's cross entropy summed over a token stream fed in pieces, in bounded memory.

    The stream is cut into blocks of ``rows * row_tokens`` targets; a block is ``rows``
    contiguous rows read in parallel, each in windows with its state carried from window to
    window and starting from a zero state. The last, shorter block has as many rows as hold
    ``min_row`` tokens each (at least one) and one more row for what does not divide evenly.
    Every id after the stream's first is a target exactly once, whatever the pieces fed.

    Memory: the block's ids, and logits of at most :data:`LOGIT_BUDGET` floats per window (the
    window is shortened for a large vocabulary). Call it inside ``model.inference()``.

    With ``size`` processes, this one scores the rows ``rank`` owns (:func:`rnnkit.distributed.part`);
    the sums over every rank give the one-process sums. ``on_scored(n)`` is called after each
    window with the number of targets it scored (for a progress bar).
    """

    def __init__(self, model: LanguageModel, rows: int = EVAL_ROWS, min_row: int = 64,
                 row_tokens: int = EVAL_ROW_TOKENS, rank: int = 0, size: int = 1,
                 on_scored: Callable[[int], Any] | None = None):
        self.model = model
        self.rows, self.min_row, self.row_tokens = max(1, rows), max(1, min_row), max(1, row_tokens)
        self.rank, self.size = rank, size
        self.on_scored = on_scored
        self.buffer = np.empty(0, dtype=np.int64)
        self.total, self.count = 0.0, 0

    def feed(self, ids: Any) -> None:
        """Score every full block the stream now holds; keep the rest (and the last id, a context)."""
        self.buffer = np.concatenate([self.buffer, np.asarray(ids, dtype=np.int64).reshape(-1)])
        block = self.rows * self.row_tokens
        while len(self.buffer) > block:
            self._score_block(self.buffer[:block + 1])
            self.buffer = self.buffer[block:]

    def finish(self) -> tuple[float, int]:
        """Score what is left; return (nats summed, targets scored) over the whole stream."""
        if len(self.buffer) >= 2:
            self._score_block(self.buffer)
            self.buffer = self.buffer[-1:]
        return self.total, self.count

    def _score_block(self, block: np.ndarray) -> None:
        targets = len(block) - 1
        rows = max(1, min(self.rows, targets // self.min_row))
        per_row = targets // rows
        even = rows * per_row
        self._score_rows(block[:even].reshape(rows, per_row), block[1:even + 1].reshape(rows, per_row))   # (R, Q)
        if even < targets:                                                          # the few left over: one row
            self._score_rows(block[even:targets][None, :], block[even + 1:][None, :])

    def _score_rows(self, inputs: np.ndarray, targets: np.ndarray) -> None:
        mine = distributed.part(inputs.shape[0], self.rank, self.size)
        inputs, targets = inputs[mine], targets[mine]                               # (R_r, Q)
        if inputs.shape[0] == 0:
            return
        steps = max(1, min(inputs.shape[1], LOGIT_BUDGET // (inputs.shape[0] * self.model.vocab_size)))
        state = None
        for start in range(0, inputs.shape[1], steps):
            window = slice(start, start + steps)
            logits, state = self.model(inputs[:, window], state)                    # (R_r, T, V)
            self.total += target_nll_sum(logits, targets[:, window])
            self.count += targets[:, window].size
            if self.on_scored is not None:
                self.on_scored(targets[:, window].size)


def target_nll_sum(logits: np.ndarray, targets: np.ndarray, work_floats: int = 1 << 19) -> float:
    """``sum -log softmax(logits)[target]`` over every position, in float64, without a gradient; rows
    taken a few at a time so that the float64 temporary holds at most ``work_floats`` numbers.

    >>> round(target_nll_sum(np.zeros((1, 2, 4), np.float32), np.array([[1, 3]])), 6) == round(2 * math.log(4), 6)
    True
    """
    rows = logits.reshape(-1, logits.shape[-1])                                     # (N, V)
    flat = targets.reshape(-1)
    step = max(1, work_floats // rows.shape[1])
    total = 0.0
    for start in range(0, len(flat), step):
        work = rows[start:start + step].astype(np.float64)                          # (n, V) the one temporary
        peak = work.max(axis=1)                                                     # (n,)
        picked = work[np.arange(len(work)), flat[start:start + step]]               # (n,)
        work -= peak[:, None]
        np.exp(work, out=work)
        total += float(np.sum(np.log(work.sum(axis=1)) + peak - picked))            # logsumexp - target logit
    return total


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
    if isinstance(vocab, CorpusWordVocab):      # no space before a line end or punctuation that touches the prime
        first = vocab.id_to_token(int(new_ids[0])) if len(new_ids) else ""
        touches = not first or first == tokenizer.LINE_BREAK or first.startswith(tokenizer.JOINER)
        return prime.rstrip(" ") + ("" if touches else " ") + continuation
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
    text, source = load_corpus(options.data, options.encoding)
    train_text, val_text = split_text(text, options.val_fraction)
    notes: list[str] = []
    if vocab is None:
        vocab, notes = build_vocab_with_notes(options.level, train_text, options.max_vocab, options.tokenizer,
                                              options.line_breaks)
    train_ids, val_ids = vocab.transform(train_text), vocab.transform(val_text)
    extra = {"unk_rate": unk_rate(val_ids, vocab)}
    if len(val_ids) >= 2 and len(train_ids) >= 2:
        for name, baseline in fit_baselines(train_ids, len(vocab)).items():
            extra[name] = baseline.perplexity(val_ids)
    task = LanguageModelTask(train_ids, val_ids, options.batch, options.seq_len, level=options.level,
                             source=options.data or "the default text", extra_metrics=extra,
                             progress=report.show_progress(options.progress, options.quiet))
    embedding = embedding_size(options, len(vocab))
    model = LanguageModel(len(vocab), options.hidden, num_layers=options.layers, cell=options.cell,
                          embedding_dim=embedding, dropout=options.dropout, seed=options.seed,
                          tie_embeddings=options.tie_embeddings, embedding_dropout=options.embedding_dropout,
                          regularisers=regularisers(options) or None)

    def show_sample(trainer: Any, metrics: dict) -> None:
        sample = generate_text(trainer.model, vocab, options.prime, min(160, options.sample_length),
                               temperature=options.temperature, seed=options.seed)
        trainer.log("  sample: " + sample.replace("\n", "\n          "))

    def final_sample(best_model: LanguageModel) -> str:
        return generate_text(best_model, vocab, options.prime, options.sample_length, temperature=options.temperature,
                             seed=options.seed)

    unit = "characters" if options.level == "char" else "words"
    embedded = "one-hot input" if embedding is None else f"embedding {embedding} wide" + (
        " (tied with the output layer)" if options.tie_embeddings else "")
    description = [f"data: {source}; {len(task.train_ids):,} training and {len(task.val_ids):,} validation {unit}, "
                   f"vocabulary {len(vocab)}, {embedded}", *notes,
                   f"unknown tokens (<unk>): {unk_rate(train_ids, vocab):.2%} of the training and "
                   f"{extra['unk_rate']:.2%} of the validation {unit}"]
    if "kn_bigram_perplexity" in extra:
        description.append(f"count baselines on the validation text: unigram perplexity "
                           f"{extra['unigram_perplexity']:.2f}, Kneser-Ney bigram perplexity "
                           f"{extra['kn_bigram_perplexity']:.2f} (the model should beat both)")
    return Prepared(model, task, {}, {VOCAB_FILE: vocab}, description, on_validation=show_sample,
                    sample=final_sample, data_name=source, batch_name="window",
                    batch_text=f"{options.batch} x {options.seq_len} tokens")


def check_model(model: LanguageModel, vocabs: dict[str, Vocab], path: Path, folder: Path) -> None:
    """Refuse a checkpoint whose output layer does not fit the run's vocabulary."""
    vocab = vocabs[VOCAB_FILE]
    if model.vocab_size != len(vocab):
        raise CheckpointError(f"{path} does not match {Path(folder) / VOCAB_FILE}: the model predicts "
                              f"{model.vocab_size} tokens, the vocabulary has {len(vocab)}")


def read_text_pieces(path: str | Path, encoding: str = "utf-8",
                     chunk_bytes: int = READ_CHUNK_BYTES) -> Iterator[tuple[str, int]]:
    """``(text, bytes read for it)`` pieces of a text file, each ending at a line end (the last at the end
    of the file), so that tokenizing piece by piece gives the tokens of the whole text. A line longer
    than ``chunk_bytes`` is cut at its last whitespace instead. A byte-order mark is dropped.

    Raises ValueError (naming the file) for an unknown encoding, undecodable bytes or NUL bytes.
    """
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"data file not found: {file}")
    if not file.is_file():
        raise ValueError(f"{file}: not a regular file (expected a text file)")
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError as error:
        raise ValueError(f"{file}: {encoding!r} is not a text encoding Python knows ({error})") from error
    pending, started = "", False
    with open(file, "rb") as handle:
        while True:
            raw = handle.read(chunk_bytes)
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as error:
                raise ValueError(f"{file}: cannot decode the file as {encoding} ({error}); if it is written in "
                                 f"another encoding, name it (--encoding latin-1, cp1252, utf-16, ...)") from error
            if not started and text:
                started = True
                text = text[1:] if text.startswith("\ufeff") else text
            if "\x00" in text:
                raise ValueError(f"{file}: the file holds NUL bytes; it looks binary, expected {encoding} text")
            text = pending + text
            if not raw:
                if text:
                    yield text, 0
                return
            cut = text.rfind("\n") + 1
            if cut == 0 and len(text) > chunk_bytes:                     # one very long line: cut at a space
                cut = max(text.rfind(" "), text.rfind("\t")) + 1
            pending = text[cut:]
            yield text[:cut], len(raw)


def training_baselines(document: dict[str, Any], vocab: Vocab) -> tuple[dict[str, Any] | None, str | None]:
    """The count baselines of a run, fitted again on its training tokens: ``(baselines, None)``, or
    ``(None, why not)`` when the run's training text is not here as it was. The text is read in the
    run's encoding (``document["run_encoding"]`` when ``rnnkit evaluate --encoding`` names another
    one for the evaluated file)."""
    from rnnkit.train.run_dir import data_differences

    options = document["options"]
    data = options.get("data")
    if data is not None:
        recorded = (document.get("data_files") or {}).get("data")
        differences = data_differences(recorded, data) if recorded else ([] if Path(data).is_file()
                                                                        else [f"{data} is not here"])
        if differences:
            return None, f"the run's training text is not as it was ({'; '.join(differences)})"
    try:
        text, _ = load_corpus(data, document.get("run_encoding", options.get("encoding", "utf-8")))
    except (OSError, ValueError) as error:
        return None, f"the run's training text cannot be read ({error})"
    train_text, _ = split_text(text, float(options.get("val_fraction", 0.1)))
    train_ids = vocab.transform(train_text)
    if len(train_ids) < 2:
        return None, "the run's training text has fewer than 2 tokens"
    return fit_baselines(train_ids, len(vocab)), None


def evaluate_file(model: LanguageModel, document: dict[str, Any], vocabs: dict[str, Vocab],
                  path: str) -> dict[str, Any]:
    """Loss, perplexity, bits per token, tokens, unknown-token rate and the count baselines' perplexities of
    a run's model on a text file, read with the run's vocabulary and encoding and streamed in pieces
    (:func:`read_text_pieces`, :class:`StreamEvaluator`): memory stays bounded whatever the file's size.

    A progress bar (bytes read, tokens so far) shows when stderr is a terminal.
    """
    options = document["options"]
    vocab = vocabs[VOCAB_FILE]
    bits_name = "bpc" if options.get("level", "char") == "char" else "bits_per_word"
    baselines, why_not = training_baselines(document, vocab)
    scores = {name: StreamScore(model_) for name, model_ in (baselines or {}).items()}
    show = report.show_progress("auto")        # the command's own terminal decides, not the training run's options
    bar = report.progress_bar(total=Path(path).stat().st_size, desc=f"evaluating {Path(path).name}", unit="B",
                              unit_scale=True) if show and Path(path).is_file() else None
    evaluator = StreamEvaluator(model, EVAL_ROWS, int(options.get("seq_len", 64)))
    tokens = unknown = 0
    try:
        with model.inference():     # eval mode and no_grad until the block ends
            for text, size in read_text_pieces(path, options.get("encoding", "utf-8")):
                ids = vocab.transform(text)
                evaluator.feed(ids)
                for score in scores.values():
                    score.feed(ids)
                tokens += len(ids)
                unknown += int(np.count_nonzero(ids == vocab.unk_id)) if vocab.unk_id is not None else 0
                if bar is not None:
                    bar.update(size)
                    bar.set_postfix_str(f"{tokens:,} tokens")
            if tokens < 2:
                raise ValueError(f"{path}: too little text to evaluate: {tokens} tokens, need at least 2")
            total, count = evaluator.finish()
    finally:
        if bar is not None:
            bar.close()
    metrics: dict[str, Any] = {**stream_metrics(total / count, bits_name), "tokens": tokens,
                               "unk_rate": unknown / tokens}
    for name, score in scores.items():
        metrics[name] = score.perplexity()
    if why_not is not None:
        metrics["note"] = f"no count baselines: {why_not}"
    return metrics
