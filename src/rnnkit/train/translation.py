"""The sequence-to-sequence task: rewrite a source sequence as a target sequence.

Glossary: N pairs, B batch, S source steps, T target steps, V target vocabulary.

Input: a text file of pairs, one per line, ``source<TAB>target`` (``sep`` to change the
separator). Without a file the task is generated: rewrite dates written by people
("Wed 3 Mar 2021", "03/03/21", ...) in ISO form (:mod:`rnnkit.data.dates`), with a held-out
test split of calendar dates never seen in training, reported after training.

Sources and targets have their own character (or word) vocabularies with ``<pad>``,
``<unk>``, ``<bos>`` and ``<eos>``. The model is :class:`~rnnkit.models.Seq2Seq` trained with
teacher forcing. Validation reports ``loss`` (cross entropy per target token) and
``exact_match``: the fraction of sources whose greedy decoding equals the target exactly;
the best exact match picks ``checkpoints/best``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data import dates
from rnnkit.data.batching import pad_sequences
from rnnkit.data.readers import read_labelled_text, read_lines
from rnnkit.data.vocab import CharVocab, Vocab, WordVocab
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.train.classification import separator
from rnnkit.train.options import SupervisedOptions, check_common, flag, option, resolve_monitor
from rnnkit.train.supervised import BucketedTask, Prepared, eval_batches, need_examples, random_split

HELP = "rewrite sequences (source<TAB>target pairs; default: the generated date-rewriting task)"
EXPECTED = "a text file of pairs, one per line: source<TAB>target (--sep to change the separator)"
EXAMPLE = "pairs.tsv   (or no --data: the generated date-rewriting task)"
HAS_DEFAULT_DATA = True
MODEL_CLASS = Seq2Seq
VOCAB_FILES = ("source_vocab.json", "target_vocab.json")
ATTENTION = ("none", "dot", "general")


@dataclass
class Seq2SeqOptions(SupervisedOptions):
    """``rnnkit train seq2seq``: the shared options and these."""

    data: str | None = option(None, "text file of source<TAB>target pairs (default: the generated "
                                    "date-rewriting task, rnnkit.data.dates)")
    sep: str = option("tab", "separator between source and target: 'tab' or another string")
    level: str = option("char", "read characters or words", ("char", "word"))
    embedding: int = option(32, "embedding size (source and target)")
    attention: str = option("general", "Luong attention score ('none': the decoder sees only the final state)",
                            ATTENTION)
    train_size: int = option(10000, "generated task: training pairs (validation is --val-fraction of them)",
                             only=("data", (None,)))
    test_size: int = option(1000, "generated task: held-out test pairs (dates never seen in training)",
                            only=("data", (None,)))
    max_length: int = option(0, "longest output decoded (0: the longest training target + 5)")
    lower: bool = option(False, "lower-case sources and targets")


def check_options(options: Seq2SeqOptions) -> None:
    check_common(options)
    for name in ("embedding", "train_size", "test_size"):
        if getattr(options, name) < 1:
            raise ValueError(f"{flag(name)} must be at least 1, got {getattr(options, name)}")
    if options.max_length < 0:
        raise ValueError(f"--max-length must be at least 0, got {options.max_length}")
    if options.attention == "dot" and options.bidirectional:
        raise ValueError("--attention dot needs a unidirectional encoder; use --attention general with "
                         "--bidirectional")


def read_pairs(path: str | Path, sep: str = "tab") -> list[tuple[str, str]]:
    """(source, target) pairs of a file, one per line; errors name the file and line."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path}")
    sources, targets = read_labelled_text(path, separator(sep), text_column=0, label_column=1, label_type=str,
                                          min_classes=1)
    pairs = list(zip(sources, [str(target) for target in targets]))
    for number, (source, target) in enumerate(pairs, start=1):
        if not source.strip() or not target.strip():
            raise ValueError(f"{path}: pair {number} has an empty {'source' if not source.strip() else 'target'}")
    return pairs


def make_vocab(level: str, lower: bool) -> Vocab:
    kind = CharVocab if level == "char" else WordVocab
    return kind(specials=["<pad>", "<unk>", "<bos>", "<eos>"], lower=lower)


@dataclass
class PairBatch:
    source: np.ndarray              # (B, S) ids
    source_lengths: np.ndarray      # (B,)
    decoder_inputs: np.ndarray      # (B, T) <bos> y_1 .. y_n
    decoder_targets: np.ndarray     # (B, T) y_1 .. y_n <eos>
    target_lengths: np.ndarray      # (B,) n + 1

    @property
    def num_tokens(self) -> int:
        return int(self.target_lengths.sum())


def make_batch(model: Seq2Seq, sources: list[np.ndarray], targets: list[np.ndarray]) -> PairBatch:
    source, source_lengths = pad_sequences(sources, pad_value=model.pad_id)
    inputs, outputs, lengths = model.prepare_targets(targets)
    return PairBatch(source, source_lengths, inputs, outputs, lengths)


class TranslationTask(BucketedTask):
    """What :class:`~rnnkit.train.Trainer` needs to train a :class:`Seq2Seq` on (source, target) id pairs."""

    def __init__(self, model: Seq2Seq, train: tuple[list, list], val: tuple[list, list], batch_size: int,
                 seed: int = 0, max_length: int = 50):
        self.model = model
        self.train_sources, self.train_targets = train
        self.val_sources, self.val_targets = val
        self.max_length = max_length
        super().__init__(np.array([len(source) for source in self.train_sources]), batch_size, seed)

    def make_batch(self, indices: np.ndarray) -> PairBatch:
        return make_batch(self.model, [self.train_sources[i] for i in indices], [self.train_targets[i] for i in indices])

    def forward(self, model: Seq2Seq, batch: PairBatch) -> np.ndarray:
        return model(batch.source, batch.source_lengths, batch.decoder_inputs)    # (B, T, V)

    def loss(self, logits: np.ndarray, batch: PairBatch) -> tuple[float, np.ndarray]:
        return self.model.loss(logits, batch.decoder_targets, batch.target_lengths)

    def backward(self, model: Seq2Seq, d_logits: np.ndarray) -> None:
        model.backward(d_logits)

    def evaluate(self, model: Seq2Seq) -> dict[str, float]:
        return evaluate_pairs(model, self.val_sources, self.val_targets, self.max_length)


def evaluate_pairs(model: Seq2Seq, sources: list, targets: list, max_length: int,
                   batch_size: int = 256) -> dict[str, float]:
    """Teacher-forced loss per target token and greedy exact-match accuracy (eval mode)."""
    with model.inference():  # eval mode and no_grad until the block ends
        total, tokens, exact = 0.0, 0, 0
        for indices in eval_batches(np.array([len(source) for source in sources]), batch_size):
            batch = make_batch(model, [sources[i] for i in indices], [targets[i] for i in indices])
            logits = model(batch.source, batch.source_lengths, batch.decoder_inputs)
            loss, _ = model.loss(logits, batch.decoder_targets, batch.target_lengths)
            total += loss * batch.num_tokens
            tokens += batch.num_tokens
            decoded = model.greedy_decode(batch.source, batch.source_lengths, max_length)
            exact += sum(list(map(int, targets[i])) == output for i, output in zip(indices, decoded))
    return {"loss": total / tokens, "exact_match": exact / len(sources)}


def encode_pairs(pairs, source_vocab: Vocab, target_vocab: Vocab) -> tuple[list, list]:
    sources, targets = [], []
    for source, target in pairs:
        source_ids = source_vocab.transform(source)
        sources.append(source_ids if len(source_ids) else np.array([source_vocab.unk_id]))
        targets.append(target_vocab.transform(target))
    return sources, targets


def prepare(options: Seq2SeqOptions) -> Prepared:
    check_options(options)
    test_pairs: list[tuple[str, str]] = []
    if options.data is None:
        pairs, test_pairs = dates.date_pairs(options.train_size, options.test_size, seed=options.seed)
        source_name = (f"the generated date-rewriting task (rnnkit.data.dates): {options.train_size:,} pairs, "
                       f"{options.test_size:,} held-out test pairs")
    else:
        pairs = read_pairs(options.data, options.sep)
        source_name = f"{options.data}: {len(pairs):,} pairs"
    if options.val_data:
        train_pairs, val_pairs = pairs, read_pairs(options.val_data, options.sep)
    else:
        kept, held = random_split(len(pairs), options.val_fraction, options.seed)
        train_pairs, val_pairs = [pairs[i] for i in kept], [pairs[i] for i in held]
    need_examples(len(train_pairs), 1, options.data or "the generated task", "training pairs")
    need_examples(len(val_pairs), 1, options.val_data or options.data or "the generated task", "validation pairs")
    source_vocab = make_vocab(options.level, options.lower).fit([source for source, _ in train_pairs])
    target_vocab = make_vocab(options.level, options.lower).fit([target for _, target in train_pairs])
    train = encode_pairs(train_pairs, source_vocab, target_vocab)
    val = encode_pairs(val_pairs, source_vocab, target_vocab)
    max_length = options.max_length or max(len(target) for target in train[1]) + 5
    model = Seq2Seq(len(source_vocab), len(target_vocab), bos_id=target_vocab.bos_id, eos_id=target_vocab.eos_id,
                    pad_id=target_vocab.pad_id, embedding_dim=options.embedding, hidden_size=options.hidden,
                    cell=options.cell, num_layers=options.layers, bidirectional=options.bidirectional,
                    attention=None if options.attention == "none" else options.attention, dropout=options.dropout,
                    seed=options.seed)
    task = TranslationTask(model, train, val, options.batch, options.seed, max_length)
    task.monitor = resolve_monitor(options.monitor, "exact_match", ("loss", "exact_match"))
    test = encode_pairs(test_pairs, source_vocab, target_vocab) if test_pairs else None

    def final_report(best_model: Seq2Seq) -> dict[str, float]:
        if test is None:
            return {}
        return {**evaluate_pairs(best_model, *test, max_length), "pairs": len(test[0])}

    description = [f"data: {source_name}; {len(train[0]):,} training and {len(val[0]):,} validation pairs; "
                   f"vocabularies {len(source_vocab)} (source) and {len(target_vocab)} (target)"]
    return Prepared(model, task, {"max_length": max_length},
                    {"source_vocab.json": source_vocab, "target_vocab.json": target_vocab}, description, final_report)


def evaluate_file(model: Seq2Seq, document: dict[str, Any], vocabs: dict[str, Vocab], path: str | None) -> dict:
    """Loss and exact match on a file of pairs (None: the generated task's held-out test pairs)."""
    options = document["options"]
    if path is None:
        if options["data"] is not None:
            raise ValueError("--data PATH is needed: this run was trained on a file, not on the generated task")
        _, pairs = dates.date_pairs(1, options["test_size"])
    else:
        pairs = read_pairs(path, options["sep"])
    sources, targets = encode_pairs(pairs, vocabs["source_vocab.json"], vocabs["target_vocab.json"])
    return {**evaluate_pairs(model, sources, targets, document["artifacts"]["max_length"]), "pairs": len(pairs)}


def predict(model: Seq2Seq, document: dict[str, Any], vocabs: dict[str, Vocab], inputs: list[str] | None,
            file: str | None, beam: int = 1) -> list[str]:
    """The decoded target of each source (greedy, or beam search with ``beam`` > 1)."""
    options = document["options"]
    if file is not None:
        sep = separator(options["sep"])
        texts = [line.split(sep)[0] for line in read_lines(file)]
    else:
        texts = list(inputs or [])
    if not texts:
        raise ValueError("nothing to predict: give sources as arguments or --file PATH (one per line)")
    source_vocab, target_vocab = vocabs["source_vocab.json"], vocabs["target_vocab.json"]
    sources, _ = encode_pairs([(text, "") for text in texts], source_vocab, target_vocab)
    max_length = document["artifacts"]["max_length"]
    lines = []
    for start in range(0, len(sources), 256):
        source, lengths = pad_sequences(sources[start:start + 256], pad_value=model.pad_id)
        if beam > 1:
            decoded = model.beam_search(source, lengths, beam_size=beam, max_length=max_length)
        else:
            decoded = model.greedy_decode(source, lengths, max_length)
        for text, ids in zip(texts[start:start + 256], decoded):
            lines.append(f"{text}\t{target_vocab.inverse_transform(np.array(ids, dtype=np.int64))}")
    return lines


OPTIONS = Seq2SeqOptions
