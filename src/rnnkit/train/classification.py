"""The sequence-classification task: one label per sequence (sentiment, speaker, digit).

Glossary: N examples, B batch, T steps, D features per step, C classes.

Three input formats (``format``):

- ``"text"``: one example per line, a text and a label (``sentence<TAB>label``, or CSV with
  ``sep=","``); texts become word (or character) ids read through an embedding.
- ``"ts"``: an sktime / UEA ``.ts`` file (:func:`rnnkit.data.readers.read_ts`): real-valued
  series (T_n, D) of varying length with one label each.
- ``"vectors"``: a CSV (optionally gzipped) of numbers, one example per row, the label in
  ``label_column``; the other values are read as ``steps`` rows of D = values / steps
  features, e.g. an 8x8 image as 8 steps of 8 pixels (:func:`rnnkit.data.readers.read_vectors`).

Text may start from pretrained word vectors (``vectors``: a GloVe, word2vec or fastText text
file; :func:`pretrained_embedding`): the embedding takes the file's size, the vectors of the
vocabulary's words found there (the coverage is printed), random rows for the rest, and is then
fine-tuned (``freeze_vectors``: kept fixed).

Real-valued inputs are standardised per feature with the training split's mean and standard
deviation (:func:`rnnkit.data.scaling.fit_standard`, saved with the run). Labels are kept as strings and numbered in sorted order
(numerically when every label is an integer). Validation reports ``loss`` (cross entropy)
and ``accuracy``; the lowest loss picks ``checkpoints/best`` (``monitor="accuracy"``: the
best accuracy, ties kept at the first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rnnkit import distributed
from rnnkit.data.batching import Scaler, pad_sequences
from rnnkit.data.embeddings import read_word_vectors, vectors_for_vocab
from rnnkit.data.readers import read_labelled_text, read_ts, read_vectors
from rnnkit.data.scaling import fit_standard, standardise
from rnnkit.data.vocab import CharVocab, Vocab, WordVocab
from rnnkit.models.classifier import POOLINGS, SequenceClassifier
from rnnkit.train.options import SupervisedOptions, check_common, check_max_vocab, option, regularisers, resolve_monitor
from rnnkit.train.supervised import BucketedTask, Prepared, eval_batches, need_examples, stratified_split

HELP = "classify whole sequences (texts with labels, .ts series, rows of numbers)"
FORMATS = ("text", "ts", "vectors")
EXAMPLE = "reviews.tsv   (lines: sentence<TAB>label)"
MODEL_CLASS = SequenceClassifier
VOCAB_FILES = ("vocab.json",)
EXPECTED = ("a text file with one example per line, the text and its label separated by a tab "
            "(sentence<TAB>label; --text-column, --label-column, --sep), a CSV file with --sep ',', "
            "an sktime .ts file (--format ts) or a CSV of numbers with the label last (--format vectors --steps N)")


@dataclass
class ClassifyOptions(SupervisedOptions):
    """``rnnkit train classify``: the shared options and these."""

    format: str = option("text", "input format: text lines with labels, sktime .ts series, or rows of numbers",
                         FORMATS)
    # measured across 6 data sets (RESULTS.md, Defaults): dropout, word dropout, both directions and early stopping
    # won over the former no-dropout, forwards-only, 10-epoch defaults, which overfit sentences
    bidirectional: bool = option(True, "also read every sequence backwards (--no-bidirectional: forwards only)")
    dropout: float = option(0.5, "dropout between layers and before the output layer")
    epochs: int = option(20, "passes over the training data (the time budget or --patience may stop it sooner)")
    patience: int = option(5, "stop after this many epochs without a better monitored metric (0: never)")
    sep: str = option("tab", "field separator of text and vectors files: 'tab', ',' (CSV with quoting) or "
                             "another string", only=("format", ("text", "vectors")))
    text_column: str = option("0", "text column: index (0 first, -1 last) or header name", only=("format", ("text",)))
    label_column: str = option("-1", "label column: index or header name", only=("format", ("text", "vectors")))
    steps: int = option(0, "vectors format: time steps each row is cut into (0: one value per step)",
                        only=("format", ("vectors",)))
    level: str = option("word", "text format: read words or characters", ("word", "char"), only=("format", ("text",)))
    lower: bool = option(True, "text format: lower-case the text (--no-lower keeps case)", only=("format", ("text",)))
    min_freq: int = option(1, "text format: words seen fewer times become <unk>", only=("format", ("text",)))
    max_vocab: int = option(20000, "text format: keep at most this many tokens (0: all)", only=("format", ("text",)))
    embedding: int = option(64, "text format: embedding size", only=("format", ("text",)))
    pooling: str = option("max", "how the outputs become one vector per sequence", POOLINGS)
    # measured across the 4 text data sets of RESULTS.md, Defaults (with dropout 0.5, both directions)
    word_dropout: float = option(0.2, "text format: probability of replacing a training token by <unk>, per batch "
                                      "(a regulariser for small data sets)", only=("format", ("text",)))
    vectors: str | None = option(None, "text format: pretrained word vectors for the embedding, a GloVe, word2vec or "
                                       "fastText text file (the embedding takes its size)", only=("format", ("text",)))
    freeze_vectors: bool = option(False, "with --vectors: keep the pretrained vectors fixed (default: fine-tune them)",
                                  only=("format", ("text",)))
    val_fraction: float = option(0.1, "part of --data held out (stratified by label) when there is no --val-data",
                                 only=("val_data", (None,)))


def check_options(options: ClassifyOptions) -> None:
    check_common(options)
    check_max_vocab(options.max_vocab, 2)
    if options.format == "text" and options.embedding < 1:
        raise ValueError(f"--embedding must be at least 1 for text, got {options.embedding}")
    if options.steps < 0:
        raise ValueError(f"--steps must be at least 0, got {options.steps}")
    if options.min_freq < 1:
        raise ValueError(f"--min-freq must be at least 1, got {options.min_freq}")
    if not 0.0 <= options.word_dropout < 1.0:
        raise ValueError(f"--word-dropout must lie in [0, 1), got {options.word_dropout}")
    if not options.sep:
        raise ValueError("--sep must not be empty")
    check_vectors_options(options)


def check_vectors_options(options: Any) -> None:
    """--vectors must name a file; --freeze-vectors needs --vectors (classify and tag)."""
    if options.freeze_vectors and not options.vectors:
        raise ValueError("--freeze-vectors has an effect only with --vectors FILE (pretrained word vectors)")
    if options.vectors is not None:
        path = Path(options.vectors)
        if not path.is_file():
            raise FileNotFoundError(f"--vectors: word-vector file not found: {path}")


def pretrained_embedding(options: Any, vocab: Vocab, not_words: Sequence[str] = ()) -> tuple[np.ndarray, dict, str]:
    """The embedding matrix (V, E) for ``vocab`` from the --vectors file, a record for the run, a line to print.

    Found words get their vectors (a word missing in its own case is looked up lower-cased);
    the other words and the special tokens random rows scaled like the found ones, ``<pad>``
    zeros. ``not_words`` are vocabulary entries that no vector file holds (the tagger's
    unknown-word shapes): left out of the coverage. E is the file's; an --embedding other than
    the option's default that disagrees with it is an error.
    """
    wanted = set(vocab.tokens) | {token.lower() for token in vocab.tokens}
    vectors = read_word_vectors(options.vectors, words=wanted, encoding=getattr(options, "encoding", "utf-8"))
    if not vectors:
        raise ValueError(f"--vectors {options.vectors}: none of the {len(vocab):,} vocabulary words has a vector in "
                         f"the file (is it the right language, or are its words cased differently?)")
    size = len(next(iter(vectors.values())))
    default = type(options).__dataclass_fields__["embedding"].default
    if options.embedding not in (default, size):
        raise ValueError(f"--embedding {options.embedding} disagrees with --vectors {options.vectors}, whose vectors "
                         f"have {size} numbers; leave out --embedding (the embedding takes the file's size) or give "
                         f"--embedding {size}")
    matrix, _, missing = vectors_for_vocab(vocab, vectors, seed=options.seed)
    skipped = set(not_words)
    words = [token for token in vocab.tokens if token not in set(vocab.specials) and token not in skipped]
    found = len(words) - len([token for token in missing if token not in skipped])
    record = {"file": Path(options.vectors).name, "size": size, "found": found, "words": len(words),
              "frozen": bool(options.freeze_vectors)}
    line = (f"vectors: {options.vectors}: {found:,} of {len(words):,} vocabulary words found "
            f"({found / max(len(words), 1):.1%}), {size} numbers each; "
            f"{'frozen' if options.freeze_vectors else 'fine-tuned'}")
    return matrix, record, line


def load_embedding(embedding: Any, matrix: np.ndarray, freeze: bool) -> None:
    """Copy ``matrix`` (V, E) into an :class:`~rnnkit.Embedding`; ``freeze`` stops its training."""
    if embedding.weight.data.shape != matrix.shape:
        raise ValueError(f"the embedding is {embedding.weight.data.shape}, the pretrained matrix {matrix.shape}")
    embedding.weight.data[...] = matrix
    embedding.weight.requires_grad = not freeze


def separator(sep: str) -> str:
    """``"tab"`` and ``"\\t"`` written out mean a tab; anything else is itself."""
    return "\t" if sep in ("tab", "\\t") else sep


def column(value: str | int) -> int | str:
    """A column given as text: an index when it reads as an integer, else a header name."""
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except ValueError:
        return value


# --- reading examples ------------------------------------------------------------------------
def read_examples(path: str | Path, options: dict[str, Any], labelled: bool = True, values_per_row: int | None = None):
    """(inputs, labels) of a file in the run's format: texts (list of str) or series (list of (T, D))."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path}")
    kind, encoding = options["format"], options.get("encoding") or "utf-8"
    if kind == "ts":
        series, labels = read_ts(path, encoding=encoding)
        if labelled and labels is None:
            raise ValueError(f"{path}: the .ts file has no class labels (@classLabel false)")
        return series, (None if labels is None else np.array([canonical_label(label) for label in labels]))
    if kind == "vectors":
        series, labels = read_vectors(path, options["steps"], separator(options["sep"]),
                                      column(options["label_column"]), None if labelled else values_per_row,
                                      encoding=encoding)
        return series, (None if labels is None else np.array([canonical_label(label) for label in labels]))
    texts, labels = read_labelled_text(path, separator(options["sep"]), text_column=column(options["text_column"]),
                                       label_column=column(options["label_column"]), label_type=canonical_label,
                                       min_classes=1, encoding=encoding)
    return texts, labels


def canonical_label(label: Any) -> str:
    """A label as text; numbers that are whole (``1``, ``1.0``, `` 01``) all become ``"1"``.

    >>> [canonical_label(text) for text in ("1", "1.0", "01", "1.5", "pos")]
    ['1', '1', '1', '1.5', 'pos']
    """
    text = str(label).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if math.isfinite(number) and number == int(number) else text


def sort_labels(labels: Sequence[str]) -> list[str]:
    """Distinct labels in order: numerically when all are integers, else as strings."""
    distinct = sorted(set(str(label) for label in labels))
    try:
        return sorted(distinct, key=int)
    except ValueError:
        return distinct


class Encoder:
    """Turns a run's raw inputs into model inputs: token ids (text) or standardised series (a :class:`Scaler`)."""

    def __init__(self, options: dict[str, Any], vocab: Vocab | None = None, scaler: Scaler | None = None):
        self.format = options["format"]
        self.vocab = vocab
        self.scaler = scaler

    @classmethod
    def fit(cls, options: dict[str, Any], inputs: list) -> "Encoder":
        if options["format"] == "text":
            vocab_class = WordVocab if options["level"] == "word" else CharVocab
            vocab = vocab_class(specials=["<pad>", "<unk>"], min_freq=options["min_freq"],
                                max_size=options["max_vocab"] or None, lower=options["lower"]).fit(inputs)
            return cls(options, vocab=vocab)
        frames = np.concatenate(inputs, axis=0)                                  # (sum T_n, D)
        return cls(options, scaler=fit_standard(frames, options.get("data") or "the training data"))

    @classmethod
    def from_statistics(cls, options: dict[str, Any], vocab: Vocab | None, statistics: dict[str, Any]) -> "Encoder":
        """The encoder of a saved run: its vocabulary, or the scaling statistics it recorded."""
        if not statistics:
            return cls(options, vocab=vocab)
        scaler = Scaler("standard")
        scaler.center_ = np.asarray(statistics["mean"], dtype=np.float64)
        scaler.scale_ = np.asarray(statistics["std"], dtype=np.float64)
        return cls(options, vocab=vocab, scaler=scaler)

    @property
    def mean(self) -> np.ndarray | None:
        """The per-feature mean (D,) the series are centred on (None for text)."""
        return None if self.scaler is None else self.scaler.center_

    @property
    def std(self) -> np.ndarray | None:
        """The per-feature standard deviation (D,) the series are divided by (None for text)."""
        return None if self.scaler is None else self.scaler.scale_

    @property
    def features(self) -> int:
        """D, the features per step of series (the scaling's width)."""
        return len(self.scaler.center_)

    def statistics(self) -> dict[str, Any]:
        return {} if self.scaler is None else {"mean": self.scaler.center_.tolist(), "std": self.scaler.scale_.tolist()}

    def encode(self, inputs: list) -> list[np.ndarray]:
        """One array per example: ids (T_n,) with at least one token, or (T_n, D) float32."""
        if self.vocab is not None:
            encoded = []
            for text in inputs:
                ids = self.vocab.transform(text)
                encoded.append(ids if len(ids) else np.array([self.vocab.unk_id], dtype=np.int64))
            return encoded
        width = self.features
        for index, series in enumerate(inputs):
            if series.shape[1] != width:
                raise ValueError(f"example {index + 1} has {series.shape[1]} features per step, the model reads {width}")
        return [standardise(self.scaler, series, f"example {index + 1}").astype(np.float32)
                for index, series in enumerate(inputs)]


def collate(encoded: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A batch (B, T) of padded ids or (B, T, D) of zero-padded features, and the lengths (B,)."""
    if encoded[0].ndim == 1:
        return pad_sequences(list(encoded))
    lengths = np.array([len(series) for series in encoded], dtype=np.int64)
    batch = np.zeros((len(encoded), lengths.max(), encoded[0].shape[1]), dtype=np.float32)
    for row, series in enumerate(encoded):
        batch[row, :len(series)] = series
    return batch, lengths


@dataclass
class ClassifyBatch:
    inputs: np.ndarray              # (B, T) ids or (B, T, D) features
    lengths: np.ndarray             # (B,)
    labels: np.ndarray              # (B,) class indices

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())


class ClassificationTask(BucketedTask):
    """What :class:`~rnnkit.train.Trainer` needs to train a :class:`SequenceClassifier`.

    ``train`` and ``val`` are (encoded inputs, class indices) pairs; ``model`` gives the loss
    (binary or softmax cross entropy, by its number of classes).
    """

    def __init__(self, model: SequenceClassifier, train: tuple[list, np.ndarray], val: tuple[list, np.ndarray],
                 batch_size: int, seed: int = 0, word_dropout: float = 0.0, unk_id: int | None = None):
        self.model = model
        self.seed, self.word_dropout, self.unk_id = seed, word_dropout, unk_id
        self.train_inputs, self.train_labels = train
        self.val_inputs, self.val_labels = val
        super().__init__(np.array([len(item) for item in self.train_inputs]), batch_size, seed)

    def train_batches(self, epoch: int, start: int):
        for number, indices in enumerate(self.iterator.batches(epoch)[start:], start=start):
            mine = self.my_part(indices)        # several processes: this rank's share of the batch
            yield self.make_batch(mine, epoch, number) if len(mine) else distributed.EmptyPart()

    def make_batch(self, indices: np.ndarray, epoch: int = 0, number: int = 0) -> ClassifyBatch:
        inputs, lengths = collate([self.train_inputs[index] for index in indices])
        if self.word_dropout > 0 and self.unk_id is not None and inputs.ndim == 2:
            # the draw depends only on (seed, epoch, batch): a resumed run repeats it exactly
            rng = np.random.default_rng([self.seed, epoch, number])
            inputs = np.where(rng.random(inputs.shape) < self.word_dropout, self.unk_id, inputs)
        return ClassifyBatch(inputs, lengths, self.train_labels[indices])

    def forward(self, model: SequenceClassifier, batch: ClassifyBatch) -> np.ndarray:
        return model(batch.inputs, batch.lengths)                              # (B,) or (B, C)

    def loss(self, logits: np.ndarray, batch: ClassifyBatch) -> tuple[float, np.ndarray]:
        return self.model.loss(logits, batch.labels)

    def loss_count(self, batch: ClassifyBatch) -> int:
        """The loss is a mean over the batch's examples."""
        return len(batch.labels)

    def backward(self, model: SequenceClassifier, d_logits: np.ndarray) -> None:
        model.backward(d_logits)

    def evaluate(self, model: SequenceClassifier) -> dict[str, float]:
        return evaluate_examples(model, self.val_inputs, self.val_labels)

    def evaluate_part(self, model: SequenceClassifier, rank: int, size: int) -> dict[str, float]:
        """This rank's share of the validation examples: loss and correct answers summed, and their count."""
        chosen = distributed.part(len(self.val_inputs), rank, size)
        count = chosen.stop - chosen.start
        if count == 0:
            return {"loss": 0.0, "accuracy": 0.0, "count": 0}
        metrics = evaluate_examples(model, self.val_inputs[chosen], self.val_labels[chosen])
        return {"loss": metrics["loss"] * count, "accuracy": metrics["accuracy"] * count, "count": count}

    def metrics_from_sums(self, sums: dict[str, float]) -> dict[str, float]:
        return {"loss": sums["loss"] / sums["count"], "accuracy": sums["accuracy"] / sums["count"]}


def evaluate_examples(model: SequenceClassifier, encoded: list, labels: np.ndarray,
                      batch_size: int = 256) -> dict[str, float]:
    """Mean cross entropy and accuracy over encoded examples (eval mode).

    A label of -1 (a class the model does not know, from :func:`label_indices` with
    ``unknown="count"``) is an error for the accuracy and left out of the loss, which has no
    value for it (the loss is NaN when every label is unknown).
    """
    with model.inference():  # eval mode and no_grad until the block ends
        total, correct, known_count = 0.0, 0, 0
        for indices in eval_batches(np.array([len(item) for item in encoded]), batch_size):
            inputs, lengths = collate([encoded[index] for index in indices])
            logits = model(inputs, lengths)
            targets = labels[indices]
            known = targets >= 0
            if np.any(known):
                loss, _ = model.loss(logits[known], targets[known])
                total += loss * int(np.sum(known))
                known_count += int(np.sum(known))
            predicted = (logits > 0).astype(np.int64) if model.binary else np.argmax(logits, axis=1)
            correct += int(np.sum(predicted == targets))
    return {"loss": total / known_count if known_count else math.nan, "accuracy": correct / len(encoded)}


def label_indices(labels: np.ndarray, classes: list[str], source: str, unknown: str = "error") -> np.ndarray:
    """Class indices (N,) of ``labels``; a label outside ``classes`` is an error, or -1 with ``unknown="count"``."""
    index = {label: position for position, label in enumerate(classes)}
    for position, label in enumerate(classes):           # runs saved with labels such as "1.0"
        index.setdefault(canonical_label(label), position)
    strange = sorted(set(str(label) for label in labels) - set(index))
    if strange and unknown == "error":
        raise ValueError(f"{source}: labels the model does not know: {strange[:10]} (it knows {classes[:20]})")
    return np.array([index.get(str(label), -1) for label in labels], dtype=np.int64)


# --- the run's setup, evaluation and prediction ---------------------------------------------------
def prepare(options: ClassifyOptions) -> Prepared:
    """Read the data, fit the vocabulary or feature scaling, build the model and the task."""
    check_options(options)
    settings = vars(options)
    inputs, labels = read_examples(options.data, settings)
    if options.val_data:
        val_inputs, val_labels = read_examples(options.val_data, settings)
        train_index, val_index = np.arange(len(labels)), None
    else:
        train_index, val_index = stratified_split(labels, options.val_fraction, options.seed)
        val_inputs, val_labels = [inputs[i] for i in val_index], labels[val_index]
    train_inputs, train_labels = [inputs[i] for i in train_index], labels[train_index]
    need_examples(len(train_labels), 2, options.data, "training examples")
    need_examples(len(val_labels), 1, options.val_data or options.data, "validation examples")
    classes = sort_labels(train_labels)
    if len(classes) < 2:
        raise ValueError(f"{options.data}: the labels take only one value ({classes}); a classifier needs two or "
                         f"more (is --label-column right?)")
    encoder = Encoder.fit(settings, train_inputs)
    train = (encoder.encode(train_inputs), label_indices(train_labels, classes, options.data))
    val = (encoder.encode(val_inputs), label_indices(val_labels, classes, options.val_data or options.data))
    pretrained = None
    if options.vectors is not None and encoder.vocab is not None:
        pretrained = pretrained_embedding(options, encoder.vocab)
    model = build_model(options, len(classes), encoder, None if pretrained is None else pretrained[0].shape[1])
    if pretrained is not None:
        load_embedding(model.inputs.embedding, pretrained[0], options.freeze_vectors)
    task = ClassificationTask(model, train, val, options.batch, options.seed, options.word_dropout,
                              encoder.vocab.unk_id if encoder.vocab is not None else None)
    task.monitor = resolve_monitor(options.monitor, "loss", ("loss", "accuracy"))
    artifacts = {"classes": classes, "scaling": encoder.statistics()}
    if pretrained is not None:
        artifacts["vectors"] = pretrained[1]
    vocabs = {"vocab.json": encoder.vocab} if encoder.vocab is not None else {}
    unit = "tokens" if options.format == "text" else "steps"
    description = [f"data: {options.data}: {len(train[1]):,} training and {len(val[1]):,} validation examples, "
                   f"{len(classes)} classes, {int(task.lengths.mean()) if len(task.lengths) else 0} {unit} on average"
                   + (f", vocabulary {len(encoder.vocab):,}" if encoder.vocab is not None else
                      f", {encoder.features} features per step")]
    if pretrained is not None:
        description.append(pretrained[2])
    return Prepared(model, task, artifacts, vocabs, description)


def build_model(options: ClassifyOptions, num_classes: int, encoder: Encoder,
                embedding: int | None = None) -> SequenceClassifier:
    """The classifier for the run; ``embedding`` overrides --embedding (the size of --vectors)."""
    if encoder.vocab is not None:
        shape = {"vocab_size": len(encoder.vocab), "embedding_dim": embedding or options.embedding,
                 "padding_idx": encoder.vocab.pad_id}
    else:
        shape = {"input_size": encoder.features}
    return SequenceClassifier(num_classes, hidden_size=options.hidden, cell=options.cell, num_layers=options.layers,
                              bidirectional=options.bidirectional, pooling=options.pooling, dropout=options.dropout,
                              regularisers=regularisers(options) or None, seed=options.seed, **shape)


def load_encoder(document: dict[str, Any], vocabs: dict[str, Vocab]) -> Encoder:
    return Encoder.from_statistics(document["options"], vocabs.get("vocab.json"),
                                   document["artifacts"].get("scaling") or {})


def evaluate_file(model: SequenceClassifier, document: dict[str, Any], vocabs: dict[str, Vocab],
                  path: str) -> dict[str, float]:
    """Loss and accuracy of a run's model on a labelled file in the run's format.

    Examples whose label the training data never had count as errors (the model cannot give
    that label) and stay out of the loss; ``note`` says how many there were.
    """
    inputs, labels = read_examples(path, document["options"])
    classes = document["artifacts"]["classes"]
    encoded = load_encoder(document, vocabs).encode(inputs)
    indices = label_indices(labels, classes, path, unknown="count")
    metrics: dict[str, Any] = {**evaluate_examples(model, encoded, indices), "examples": len(labels)}
    unknown = indices < 0
    if np.any(unknown):
        strange = sorted({str(label) for label in np.asarray(labels)[unknown]})
        metrics["unknown_label_examples"] = int(np.sum(unknown))
        metrics["note"] = (f"{int(np.sum(unknown))} of {len(labels)} examples have a label the training data never "
                           f"had ({', '.join(repr(label) for label in strange[:10])}"
                           f"{', ...' if len(strange) > 10 else ''}): counted as errors in the accuracy and left "
                           f"out of the loss (the model knows {len(classes)} classes)")
    return metrics


def predict(model: SequenceClassifier, document: dict[str, Any], vocabs: dict[str, Vocab],
            inputs: list[str] | None, file: str | None) -> list[str]:
    """One line per example: the predicted label, its probability and the example (texts)."""
    options = document["options"]
    if file is not None:
        if options["format"] == "text":
            from rnnkit.data.readers import read_lines

            texts = [line.split(separator(options["sep"]))[0] if separator(options["sep"]) == "\t" else line
                     for line in read_lines(file, encoding=options.get("encoding") or "utf-8")]
            raw: list = texts
        else:
            values = None if options["format"] != "vectors" or not options["steps"] else \
                options["steps"] * model.config["input_size"]
            raw, _ = read_examples(file, options, labelled=False, values_per_row=values)
    else:
        if options["format"] != "text":
            raise ValueError(f"this run reads {options['format']} files: give --file PATH in that format")
        raw = list(inputs or [])
    if not raw:
        raise ValueError("nothing to predict: give texts as arguments or --file PATH")
    encoded = load_encoder(document, vocabs).encode(raw)
    classes = document["artifacts"]["classes"]
    lines = []
    for indices in [np.arange(start, min(start + 256, len(encoded))) for start in range(0, len(encoded), 256)]:
        batch, lengths = collate([encoded[index] for index in indices])
        probabilities = model.predict_proba(batch, lengths)                    # (B, C)
        for row, index in enumerate(indices):
            best = int(np.argmax(probabilities[row]))
            shown = f"\t{raw[index]}" if isinstance(raw[index], str) else ""
            lines.append(f"{classes[best]}\t{probabilities[row, best]:.3f}{shown}")
    return lines


OPTIONS = ClassifyOptions
