"""The tagging task: one tag per token (part of speech, BIO named entities).

Glossary: N sentences, B batch, T tokens, C tags.

Input: a CoNLL file (one token and its tag per line, fields split by ``sep`` or whitespace,
a blank line between sentences; ``token_column`` / ``tag_column`` pick the fields) or, with
``format="conllu"``, Universal Dependencies CoNLL-U (``tag_field``: ``upos`` by default).

Tokens become word ids (lower-cased by default). A word the vocabulary lacks becomes an
unknown-word token that keeps its shape (``unk_shapes``, on by default): ``<unk-cap>`` for
"Zanzibar", ``<unk-digit>`` for "1984", ``<unk-hashtag>``, ``<unk-mention>``, ``<unk-url>``, ...
(see :func:`word_shape`), so capitalisation and form survive even where the word does not.
Words seen only once in training are replaced by their unknown-word token with probability
``unk_replace`` in each training batch, so the model learns what to do with words it has never
seen; the draw depends only on the seed, the epoch and the batch, so a resumed run repeats it
exactly.

Validation reports ``loss`` (cross entropy over real tokens), ``accuracy`` (token accuracy)
and, when every tag is ``O``, ``B-X`` or ``I-X``, entity-level ``precision``, ``recall`` and
``f1`` (conlleval rules: :mod:`rnnkit.models.metrics`); ``evaluate`` adds ``f1_X`` per type.
The best entity F1 (for tags that are not BIO: the lowest loss) picks ``checkpoints/best``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rnnkit.data.batching import pad_sequences
from rnnkit.data.readers import CONLLU_COLUMNS, read_conll, read_conllu, read_lines
from rnnkit.data.vocab import Vocab, WordVocab
from rnnkit.models.metrics import entity_scores
from rnnkit.models.tagger import SequenceTagger
from rnnkit.train.options import SupervisedOptions, check_common, check_max_vocab, option, resolve_monitor
from rnnkit.train.supervised import BucketedTask, Prepared, eval_batches, need_examples, random_split

HELP = "tag every token of a sentence (CoNLL or CoNLL-U files)"
EXPECTED = ("a CoNLL file: one token and its tag per line separated by a tab or spaces, a blank line between "
            "sentences (--token-column, --tag-column), or a CoNLL-U file with --format conllu (UPOS tags)")
EXAMPLE = "train.conll   (or: --format conllu --data en_ewt-ud-dev.conllu)"
MODEL_CLASS = SequenceTagger
VOCAB_FILES = ("vocab.json",)
FORMATS = ("conll", "conllu")


@dataclass
class TagOptions(SupervisedOptions):
    """``rnnkit train tag``: the shared options and these."""

    format: str = option("conll", "input format: CoNLL (token and tag columns) or CoNLL-U", FORMATS)
    token_column: int = option(0, "conll: the token's field (0 first, -1 last)", only=("format", ("conll",)))
    tag_column: int = option(-1, "conll: the tag's field", only=("format", ("conll",)))
    sep: str = option("whitespace", "conll: field separator: 'whitespace' (any run of spaces or tabs), 'tab' "
                                    "or another string", only=("format", ("conll",)))
    tag_field: str = option("upos", "conllu: the column used as the tag", tuple(CONLLU_COLUMNS),
                            only=("format", ("conllu",)))
    bidirectional: bool = option(True, "also read every sentence backwards (--no-bidirectional: forwards only)")
    embedding: int = option(64, "word embedding size")
    lower: bool = option(True, "lower-case the words (--no-lower keeps case)")
    min_freq: int = option(1, "words seen fewer times become <unk>")
    max_vocab: int = option(30000, "keep at most this many words (0: all)")
    unk_replace: float = option(0.3, "probability of replacing a word seen once in training by <unk>, per batch")
    unk_shapes: bool = option(True, "unknown words keep their shape (<unk-cap>, <unk-digit>, ...) instead of one <unk>")


def check_options(options: TagOptions) -> None:
    check_common(options)
    check_max_vocab(options.max_vocab, 2)
    if options.embedding < 1:
        raise ValueError(f"--embedding must be at least 1, got {options.embedding}")
    if options.min_freq < 1:
        raise ValueError(f"--min-freq must be at least 1, got {options.min_freq}")
    if not 0.0 <= options.unk_replace <= 1.0:
        raise ValueError(f"--unk-replace must lie in [0, 1], got {options.unk_replace}")


def read_sentences(path: str | Path, options: dict[str, Any]) -> list[tuple[list[str], list[str]]]:
    """(tokens, tags) per sentence of a file in the run's format; errors name the file and line."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path}")
    if options["format"] == "conllu":
        sentences = read_conllu(path, tag=options["tag_field"])
    else:
        sep = {"whitespace": None, "tab": "\t", "\\t": "\t"}.get(options["sep"], options["sep"])
        sentences = read_conll(path, token_column=options["token_column"], tag_column=options["tag_column"], sep=sep)
    if not sentences:
        raise ValueError(f"{path}: no sentences found (expected {EXPECTED})")
    return sentences


SHAPES = ("<unk-url>", "<unk-mention>", "<unk-hashtag>", "<unk-digit>", "<unk-upper>", "<unk-cap>", "<unk-lower>",
          "<unk-punct>", "<unk-other>")


def word_shape(token: str) -> str:
    """The unknown-word token for ``token``, by its form.

    >>> [word_shape(word) for word in ["Zanzibar", "NASA", "1984", "#tbt", "@bob", "http://x.y", "lol", "?!"]]
    ['<unk-cap>', '<unk-upper>', '<unk-digit>', '<unk-hashtag>', '<unk-mention>', '<unk-url>', '<unk-lower>', '<unk-punct>']
    """
    if token.startswith(("http:", "https:", "www.")):
        return "<unk-url>"
    if token.startswith("@") and len(token) > 1:
        return "<unk-mention>"
    if token.startswith("#") and len(token) > 1:
        return "<unk-hashtag>"
    if any(character.isdigit() for character in token):
        return "<unk-digit>"
    if token.isalpha() or "-" in token or "'" in token:
        if token.isupper() and len(token) > 1:
            return "<unk-upper>"
        if token[:1].isupper():
            return "<unk-cap>"
        if token.islower():
            return "<unk-lower>"
    if not any(character.isalnum() for character in token):
        return "<unk-punct>"
    return "<unk-other>"


def token_id(token: str, vocab: Vocab) -> int:
    """The word's id, or (when the vocabulary has shape tokens) its shape token's id if unknown."""
    key = vocab_token(token, vocab)
    if key in vocab:
        return vocab.token_to_id(key)
    shape = word_shape(token)
    return vocab.token_to_id(shape) if shape in vocab else vocab.unk_id


def is_bio(tags: Sequence[str]) -> bool:
    """True when every tag is ``O``, ``B-X`` or ``I-X`` (so entity scores make sense)."""
    return all(tag == "O" or (tag[:2] in ("B-", "I-") and len(tag) > 2) for tag in tags) and any(
        tag != "O" for tag in tags)


@dataclass
class TagBatch:
    inputs: np.ndarray              # (B, T) word ids
    lengths: np.ndarray             # (B,)
    tags: np.ndarray                # (B, T) tag indices, -1 past each length

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())


def collate(ids: Sequence[np.ndarray], tags: Sequence[np.ndarray] | None = None):
    inputs, lengths = pad_sequences(list(ids))
    padded_tags = None if tags is None else pad_sequences(list(tags), pad_value=-1)[0]
    return inputs, lengths, padded_tags


class TaggingTask(BucketedTask):
    """What :class:`~rnnkit.train.Trainer` needs to train a :class:`SequenceTagger`.

    ``train`` and ``val`` are (word ids per sentence, tag indices per sentence);
    ``replacement`` (V,) int gives, for each word id, the id that replaces it with probability
    ``unk_replace`` (its unknown-word token), or -1 for words never replaced.
    """

    def __init__(self, model: SequenceTagger, train, val, tag_names: list[str], batch_size: int, seed: int = 0,
                 replacement: np.ndarray | None = None, unk_replace: float = 0.0):
        self.model = model
        self.train_ids, self.train_tags = train
        self.val_ids, self.val_tags = val
        self.tag_names = tag_names
        self.bio = is_bio(tag_names)
        self.replacement, self.unk_replace, self.seed = replacement, unk_replace, seed
        super().__init__(np.array([len(ids) for ids in self.train_ids]), batch_size, seed)
        self._epoch_batches: dict[int, int] = {}

    def train_batches(self, epoch: int, start: int):
        for number, indices in enumerate(self.iterator.batches(epoch)[start:], start=start):
            yield self.make_batch(indices, epoch, number)

    def make_batch(self, indices: np.ndarray, epoch: int = 0, number: int = 0) -> TagBatch:
        inputs, lengths, tags = collate([self.train_ids[i] for i in indices], [self.train_tags[i] for i in indices])
        if self.replacement is not None and self.unk_replace > 0:
            rng = np.random.default_rng([self.seed, epoch, number])
            substitutes = self.replacement[inputs]                             # (B, T), -1: keep
            replace = (substitutes >= 0) & (rng.random(inputs.shape) < self.unk_replace)
            inputs = np.where(replace, substitutes, inputs)
        return TagBatch(inputs, lengths, tags)

    def forward(self, model: SequenceTagger, batch: TagBatch) -> np.ndarray:
        return model(batch.inputs, batch.lengths)                              # (B, T, C)

    def loss(self, logits: np.ndarray, batch: TagBatch) -> tuple[float, np.ndarray]:
        return self.model.loss(logits, batch.tags, batch.lengths)

    def backward(self, model: SequenceTagger, d_logits: np.ndarray) -> None:
        model.backward(d_logits)

    def evaluate(self, model: SequenceTagger) -> dict[str, float]:
        metrics = evaluate_sentences(model, self.val_ids, self.val_tags, self.tag_names, self.bio)
        return {key: value for key, value in metrics.items() if not key.startswith("f1_")}


def evaluate_sentences(model: SequenceTagger, ids: list, tags: list, tag_names: list[str], bio: bool,
                       batch_size: int = 128) -> dict[str, float]:
    """Loss, token accuracy and (BIO tags) entity precision / recall / F1, overall and per type."""
    with model.inference():  # eval mode and no_grad until the block ends
        total, correct, count = 0.0, 0, 0
        gold_sequences, predicted_sequences = [], []
        for indices in eval_batches(np.array([len(item) for item in ids]), batch_size):
            inputs, lengths, gold = collate([ids[i] for i in indices], [tags[i] for i in indices])
            logits = model(inputs, lengths)                                    # (B, T, C)
            loss, _ = model.loss(logits, gold, lengths)
            tokens = int(lengths.sum())
            total += loss * tokens
            predicted = np.argmax(logits, axis=-1)
            valid = gold >= 0
            correct += int(np.sum((predicted == gold) & valid))
            count += tokens
            if bio:
                for row, length in enumerate(lengths):
                    gold_sequences.append([tag_names[t] for t in gold[row, :length]])
                    predicted_sequences.append([tag_names[t] for t in predicted[row, :length]])
    metrics = {"loss": total / count, "accuracy": correct / count}
    if bio:
        scores = entity_scores(gold_sequences, predicted_sequences)
        metrics.update({name: scores["overall"][name] for name in ("precision", "recall", "f1")})
        metrics.update({f"f1_{kind}": value["f1"] for kind, value in scores.items() if kind != "overall"})
    return metrics


def train_rare_tags(train: list, held: list) -> tuple[list, list]:
    """Move every held-out sentence with a tag that no training sentence has into training.

    A random validation split can take all sentences of a rare tag; the model then has no output
    for it and cannot be validated on those sentences.
    """
    seen = {tag for _, tags in train for tag in tags}
    moved = [sentence for sentence in held if not set(sentence[1]) <= seen]
    if not moved:
        return train, held
    rare = sorted({tag for _, tags in moved for tag in tags} - seen)
    print(f"note: {len(moved)} held-out sentence{'s' if len(moved) > 1 else ''} moved into training: "
          f"tag{'s' if len(rare) > 1 else ''} {', '.join(rare)} occurred in no training sentence")
    return train + moved, [sentence for sentence in held if set(sentence[1]) <= seen]


def encode(sentences, vocab: Vocab, tag_names: list[str], source: str, known: str = "one the model knows"):
    """Word ids and tag indices per sentence; a tag the run does not know is an error."""
    index = {tag: position for position, tag in enumerate(tag_names)}
    ids, tags = [], []
    for number, (tokens, sentence_tags) in enumerate(sentences, start=1):
        unknown = [tag for tag in sentence_tags if tag not in index]
        if unknown:
            raise ValueError(f"{source}, sentence {number}: tag {unknown[0]!r} is not {known} "
                             f"({tag_names})")
        ids.append(np.array([token_id(token, vocab) for token in tokens], dtype=np.int64))
        tags.append(np.array([index[tag] for tag in sentence_tags], dtype=np.int64))
    return ids, tags


def vocab_token(token: str, vocab: Vocab) -> str:
    return token.lower() if vocab.lower else token


def prepare(options: TagOptions) -> Prepared:
    check_options(options)
    settings = vars(options)
    sentences = read_sentences(options.data, settings)
    if options.val_data:
        train_sentences, val_sentences = sentences, read_sentences(options.val_data, settings)
    else:
        kept, held = random_split(len(sentences), options.val_fraction, options.seed)
        train_sentences, val_sentences = [sentences[i] for i in kept], [sentences[i] for i in held]
        train_sentences, val_sentences = train_rare_tags(train_sentences, val_sentences)
    need_examples(len(train_sentences), 1, options.data, "training sentences")
    need_examples(len(val_sentences), 1, options.val_data or options.data, "validation sentences")
    # One token per word: WordVocab's own tokenizer would split "don't" or "#tag", so fit on the words as given.
    vocab = WordVocab(specials=["<pad>", "<unk>"], min_freq=options.min_freq, max_size=options.max_vocab or None,
                      lower=options.lower, tokenizer=str.split)
    words = [vocab_token(token, vocab) for tokens, _ in train_sentences for token in tokens]
    if options.unk_shapes:                        # one text repeating each shape token: kept whatever max_vocab
        words += [" ".join([shape] * len(words)) for shape in SHAPES]
    vocab.fit(words)
    vocab.tokenizer = None                        # saved as "default": the run never tokenizes text itself
    tag_names = sorted({tag for _, tags in train_sentences for tag in tags})
    if len(tag_names) < 2:
        raise ValueError(f"{options.data}: every token has the tag {tag_names}; a tagger needs two or more tags "
                         f"(is --tag-column right?)")
    train = encode(train_sentences, vocab, tag_names, options.data)
    val = encode(val_sentences, vocab, tag_names, options.val_data or options.data,
                 known="one of the tags in the training data, so the model cannot predict it")
    replacement = np.full(len(vocab), -1, dtype=np.int64)
    originals = {vocab_token(token, vocab): token for tokens, _ in train_sentences for token in tokens}
    for token, count in vocab.counts.items():
        if count == 1:
            shape = word_shape(originals.get(token, token)) if options.unk_shapes else None
            replacement[vocab.token_to_id(token)] = vocab.token_to_id(shape) if shape in vocab else vocab.unk_id
    model = SequenceTagger(len(tag_names), vocab_size=len(vocab), embedding_dim=options.embedding,
                           hidden_size=options.hidden, cell=options.cell, num_layers=options.layers,
                           bidirectional=options.bidirectional, dropout=options.dropout, padding_idx=vocab.pad_id,
                           seed=options.seed)
    task = TaggingTask(model, train, val, tag_names, options.batch, options.seed, replacement=replacement,
                       unk_replace=options.unk_replace)
    task.monitor = resolve_monitor(options.monitor, "f1" if task.bio else "loss",
                                   ("loss", "accuracy", "f1") if task.bio else ("loss", "accuracy"))
    tokens = sum(len(ids) for ids in train[0])
    description = [f"data: {options.data}: {len(train[0]):,} training sentences ({tokens:,} tokens) and "
                   f"{len(val[0]):,} validation sentences; {len(tag_names)} tags"
                   f"{' (BIO: entity F1 reported)' if task.bio else ''}, vocabulary {len(vocab):,}"]
    return Prepared(model, task, {"tags": tag_names}, {"vocab.json": vocab}, description)


def evaluate_file(model: SequenceTagger, document: dict[str, Any], vocabs: dict[str, Vocab],
                  path: str) -> dict[str, float]:
    """Loss, token accuracy and entity scores (BIO tags) of a run's model on a tagged file."""
    tag_names = document["artifacts"]["tags"]
    sentences = read_sentences(path, document["options"])
    ids, tags = encode(sentences, vocabs["vocab.json"], tag_names, path)
    metrics = evaluate_sentences(model, ids, tags, tag_names, is_bio(tag_names))
    return {**metrics, "sentences": len(ids), "tokens": int(sum(len(item) for item in ids))}


def predict(model: SequenceTagger, document: dict[str, Any], vocabs: dict[str, Vocab],
            inputs: list[str] | None, file: str | None) -> list[str]:
    """``token/TAG`` for every token of each sentence (sentences split at whitespace)."""
    texts = read_lines(file) if file is not None else list(inputs or [])
    sentences = [text.split() for text in texts if text.split()]
    if not sentences:
        raise ValueError("nothing to predict: give sentences as arguments or --file PATH (one sentence per line)")
    vocab, tag_names = vocabs["vocab.json"], document["artifacts"]["tags"]
    ids = [np.array([token_id(token, vocab) for token in tokens], dtype=np.int64) for tokens in sentences]
    lines = []
    for start in range(0, len(ids), 128):
        inputs, lengths, _ = collate(ids[start:start + 128])
        predicted = model.predict(inputs, lengths)                             # (B, T)
        for row, tokens in enumerate(sentences[start:start + 128]):
            lines.append(" ".join(f"{token}/{tag_names[tag]}" for token, tag in zip(tokens, predicted[row])))
    return lines


OPTIONS = TagOptions
