"""The tagging task: one tag per token (part of speech, BIO named entities).

Why one module of about 600 lines: a token's inputs (word id with its shape, characters, casing,
feature columns) are built the same way for training, evaluation, prediction and ONNX export, and
each of them is a few lines that read best beside the others and the CRF settings that use them.

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

The model (:class:`~rnnkit.models.SequenceTagger`) may add a CRF output layer (``crf``: the
loss is the CRF's negative log-likelihood, and validation, ``evaluate`` and ``predict`` decode
with Viterbi; ``constraints`` forbids impossible BIO transitions), character features per word
(``char_features``: ``cnn`` or ``lstm``; the character set comes from the training tokens and
travels in ``config.json``), a casing feature (``casing``, on by default: :func:`casing` of each
word as written, embedded) and other columns of the file as embedded features
(``feature_columns``; their value sets travel in ``config.json`` too).
The word embedding may start from pretrained vectors (``vectors``: GloVe, word2vec or fastText
text files; the embedding takes their size, the coverage is printed) and be fine-tuned (the
default) or frozen (``freeze_vectors``). ``evaluate`` counts a token whose tag the training
data never had as an error (with a note) instead of refusing the file.

The defaults (dropout 0.5, input dropout 0.5, casing, a character CNN of 25 filters over 25-wide
character embeddings, 30 epochs with patience 5) won RESULTS.md's measurement across UD English EWT
(UPOS, XPOS) and WNUT-17, two seeds each; runs saved before ``casing``, ``input_dropout`` and
``char_features`` existed resume without them (:data:`rnnkit.train.tasks.FORMER_DEFAULTS`).
``rnnkit export`` writes taggers with the character CNN (graph inputs ``chars`` and
``char_lengths``), not yet with a CRF or the character BiLSTM.

The CRF stays off by default: in RESULTS.md's ablation it raised WNUT-17 test F1 by 0.04 and left
EWT accuracy as it was, and the defaults measurement has tried it only at 10 epochs without
characters (``reg-casing-crf``), not on top of today's defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rnnkit import distributed
from rnnkit.data.batching import pad_sequences
from rnnkit.data.readers import CONLLU_COLUMNS, read_conll, read_conllu, read_lines
from rnnkit.layers.char_encoder import CHAR_ENCODERS, CHAR_SPECIALS, character_ids
from rnnkit.data.vocab import Vocab, WordVocab
from rnnkit.models.metrics import entity_scores, scores_from_counts
from rnnkit.models.tagger import SequenceTagger
from rnnkit.train.classification import check_vectors_options, load_embedding, pretrained_embedding
from rnnkit.train.options import SupervisedOptions, check_common, check_max_vocab, option, regularisers, resolve_monitor
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
    # measured across 3 data sets (RESULTS.md, Defaults: UD English EWT UPOS and XPOS, WNUT-17 NER): dropout 0.5,
    # input dropout 0.5, casing, 30 epochs and patience 5 won over the former no-dropout, no-casing, 10-epoch defaults
    dropout: float = option(0.5, "dropout between layers and before the output layer")
    epochs: int = option(30, "passes over the training data (the time budget or --patience may stop it sooner)")
    patience: int = option(5, "stop after this many epochs without a better monitored metric (0: never)")
    embedding: int = option(64, "word embedding size")
    lower: bool = option(True, "lower-case the words (--no-lower keeps case)")
    min_freq: int = option(1, "words seen fewer times become <unk>")
    max_vocab: int = option(30000, "keep at most this many words (0: all)")
    unk_replace: float = option(0.3, "probability of replacing a word seen once in training by <unk>, per batch")
    unk_shapes: bool = option(True, "unknown words keep their shape (<unk-cap>, <unk-digit>, ...) instead of one <unk>")
    crf: bool = option(False, "a CRF output layer: train on whole tag sequences and decode with Viterbi")
    constraints: str = option("auto", "with --crf: forbid impossible BIO transitions (O -> I-X, B-X -> I-Y): auto "
                                      "(when every tag is O, B-X or I-X), bio (an error if the tags are not BIO) "
                                      "or none", ("auto", "bio", "none"), only=("crf", (True,)))
    # measured the same way later: the character CNN at these sizes won on all three data sets (RESULTS.md)
    char_features: str = option("cnn", "character features per word: none, cnn (convolution + max, Ma & Hovy) "
                                       "or lstm (character BiLSTM, Lample et al.)", CHAR_ENCODERS)
    char_embedding: int = option(25, "character embedding size", only=("char_features", ("cnn", "lstm")))
    char_hidden: int = option(25, "character CNN filters, or character-LSTM units per direction",
                              only=("char_features", ("cnn", "lstm")))
    casing: bool = option(True, "add each word's casing (lower, Title, UPPER, numeric, ...) as an embedded feature "
                                "(--no-casing: without it)")
    feature_columns: str = option("", "other columns fed as embedded features: comma-separated field numbers for "
                                      "conll (e.g. 1,2 for 'word POS chunk NER'), column names for conllu (e.g. xpos)")
    feature_embedding: int = option(16, "embedding size of each feature column and of --casing")
    input_dropout: float = option(0.5, "dropout on each word's representation (word, characters, features) before "
                                       "the recurrent layer")
    vectors: str | None = option(None, "pretrained word vectors for the word embedding, a GloVe, word2vec or fastText "
                                       "text file (the embedding takes its size)")
    freeze_vectors: bool = option(False, "with --vectors: keep the pretrained vectors fixed (default: fine-tune them)")


def check_options(options: TagOptions) -> None:
    check_common(options)
    check_max_vocab(options.max_vocab, 2)
    if options.embedding < 1:
        raise ValueError(f"--embedding must be at least 1, got {options.embedding}")
    if options.min_freq < 1:
        raise ValueError(f"--min-freq must be at least 1, got {options.min_freq}")
    if not 0.0 <= options.unk_replace <= 1.0:
        raise ValueError(f"--unk-replace must lie in [0, 1], got {options.unk_replace}")
    if not 0.0 <= options.input_dropout < 1.0:
        raise ValueError(f"--input-dropout must lie in [0, 1), got {options.input_dropout}")
    for name in ("char_embedding", "char_hidden", "feature_embedding"):
        if getattr(options, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(options, name)}")
    feature_columns(vars(options))                     # an error now if the list does not parse
    check_vectors_options(options)


def feature_columns(options: dict[str, Any]) -> list:
    """The --feature-columns of a run: field numbers (conll) or column names (conllu)."""
    text = options.get("feature_columns") or ""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if options["format"] == "conllu":
        unknown = [item for item in items if item not in CONLLU_COLUMNS]
        if unknown:
            raise ValueError(f"--feature-columns: with --format conllu give column names from "
                             f"{list(CONLLU_COLUMNS)}, got {unknown[0]!r}")
        return items
    try:
        return [int(item) for item in items]
    except ValueError:
        raise ValueError(f"--feature-columns: give field numbers separated by commas (e.g. 1,2), got {text!r}") \
            from None


def looks_like_conllu(path: Path, encoding: str = "utf-8") -> bool:
    """True when the file's first lines are CoNLL-U: ``# sent_id`` / ``# text`` comments or 10 tab fields."""
    with open(path, encoding=encoding, errors="replace") as stream:
        for number, line in enumerate(stream):
            if number > 200:
                break
            if line.startswith(("# sent_id", "# text", "# newdoc", "# newpar")):
                return True
            fields = line.rstrip("\n").split("\t")
            if len(fields) == 10 and fields[0].replace("-", "").replace(".", "").isdigit():
                return True
    return False


def read_sentences(path: str | Path, options: dict[str, Any]) -> list[tuple]:
    """(tokens, tags) per sentence of a file in the run's format, (tokens, tags, columns) with feature columns.

    Errors name the file and line; a CoNLL-U file read as CoNLL is an error that names ``--format conllu``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path}")
    extra = feature_columns(options)
    encoding = options.get("encoding") or "utf-8"
    if options["format"] == "conllu":
        sentences = read_conllu(path, tag=options["tag_field"], features=extra, encoding=encoding)
    else:
        if looks_like_conllu(path, encoding):
            raise ValueError(f"{path} is a CoNLL-U file (Universal Dependencies: '# text' comments, 10 tab-separated "
                             f"columns); give --format conllu to read it (its UPOS tags by default, --tag-field "
                             f"for another column)")
        sep = {"whitespace": None, "tab": "\t", "\\t": "\t"}.get(options["sep"], options["sep"])
        sentences = read_conll(path, token_column=options["token_column"], tag_column=options["tag_column"], sep=sep,
                               feature_columns=extra, encoding=encoding)
    if not sentences:
        raise ValueError(f"{path}: no sentences found (expected {EXPECTED})")
    return sentences


def read_tagged(path: str | Path, options: dict[str, Any]) -> list[tuple[list[str], list[str], list[list[str]]]]:
    """:func:`read_sentences` with every sentence as (tokens, tags, columns); ``columns`` is [] without features."""
    return [sentence if len(sentence) == 3 else (sentence[0], sentence[1], [])
            for sentence in read_sentences(path, options)]


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


CASINGS = ("<pad>", "numeric", "mostly_numeric", "contains_digit", "lower", "upper", "title", "mixed", "punct",
           "other")


def casing(token: str) -> str:
    """The casing class of a word (Reimers & Gurevych's casing feature), one of :data:`CASINGS`.

    >>> [casing(word) for word in ["1984", "3.50%", "A4", "lol", "NASA", "Zanzibar", "iPhone", "?!", ""]]
    ['numeric', 'mostly_numeric', 'contains_digit', 'lower', 'upper', 'title', 'mixed', 'punct', 'other']
    """
    if not token:
        return "other"
    digits = sum(character.isdigit() for character in token)
    if token.isdigit():
        return "numeric"
    if digits / len(token) > 0.5:
        return "mostly_numeric"
    if digits:
        return "contains_digit"
    if token.islower():
        return "lower"
    if token.isupper():
        return "upper"
    if token[0].isupper() and (len(token) == 1 or token[1:].islower() or not any(c.isalpha() for c in token[1:])):
        return "title"
    if any(character.isalpha() for character in token):
        return "mixed"
    if not any(character.isalnum() for character in token):
        return "punct"
    return "other"


# casing() in words, for the users of an exported model who compute the casing column themselves
CASING_RULES = ("rnnkit.train.tagging.casing(token) of each token as written in the file (before any lower-casing); "
                "the first rule that holds: empty -> other; every character a digit (str.isdigit) -> numeric; "
                "more than half of the characters digits -> mostly_numeric; any digit -> contains_digit; "
                "str.islower -> lower; str.isupper -> upper; first character upper case and the rest lower case "
                "or without letters -> title; any letter -> mixed; no letter or digit -> punct; otherwise other")


def feature_inputs(document: dict[str, Any]) -> list[dict[str, Any]]:
    """What each column of a run's feature ids (the tagger's ``features`` (B, T, F)) holds, in order.

    One entry per column: ``column`` (the --feature-columns field number or CoNLL-U name, or
    ``"casing"``), ``values`` (the value of each id: id i is ``values[i]``; 0 is ``<pad>``, the
    id of padded steps, and 1 is ``<unk>``, the id of a value the run never saw) and, for the
    casing column (last), ``computed``: how :func:`casing` derives it from the word. [] without
    feature columns.

    >>> document = {"options": {"format": "conll", "feature_columns": "1"},
    ...             "artifacts": {"features": [["<pad>", "<unk>", "NN"], ["<pad>", "<unk>", "lower"]], "casing": True}}
    >>> [(entry["column"], entry["values"][:3]) for entry in feature_inputs(document)]
    [(1, ['<pad>', '<unk>', 'NN']), ('casing', ['<pad>', '<unk>', 'lower'])]
    """
    artifacts = document.get("artifacts", {})
    tables = artifacts.get("features", [])
    with_casing = bool(artifacts.get("casing"))
    names: list[Any] = feature_columns(document["options"])[:len(tables) - with_casing] + (["casing"] if with_casing
                                                                                         else [])
    if len(names) != len(tables):
        raise ValueError(f"the run has {len(tables)} feature value lists but its options name {len(names)} columns "
                         f"(--feature-columns {document['options'].get('feature_columns')!r}, casing {with_casing})")
    entries = []
    for name, values in zip(names, tables):
        entry: dict[str, Any] = {"column": name, "values": list(values), "padding_id": 0, "unknown_id": 1}
        if name == "casing" and with_casing:
            entry["computed"] = CASING_RULES
        entries.append(entry)
    return entries


MAX_WORD_CHARS = 30   # characters of a word that the character encoder reads (longer words: their first 30)


def character_inputs(characters: list[str]) -> dict[str, Any]:
    """How a run's words become character ids (the tagger's ``chars`` (B, T, W) and ``char_lengths`` (B, T)).

    ``values``: the character of each id (id i is ``values[i]``); a word is the row
    ``<w> c_1 .. c_n </w>`` of its first ``max_word_characters`` characters, as read (no lower-casing),
    a character the run never saw becomes ``unknown_id``, the row is padded with ``padding_id`` to the
    batch's longest, and ``char_lengths`` counts the row's ids before the padding (n + 2); padded
    steps of a sentence have ``char_lengths`` 0.

    >>> character_inputs(["<pad>", "<unk>", "<w>", "</w>", "a"])["values"][4]
    'a'
    """
    return {"values": list(characters), "padding_id": 0, "unknown_id": 1, "word_start_id": 2, "word_end_id": 3,
            "max_word_characters": MAX_WORD_CHARS}


@dataclass
class Encoded:
    """A set of sentences as arrays, one entry per sentence (L tokens each)."""

    ids: list                       # (L,) word ids
    tags: list                      # (L,) tag indices
    chars: list                     # (L, W) character ids, or None per sentence without character features
    char_lengths: list              # (L,) characters per word (with the <w> and </w> marks)
    features: list                  # (L, F) feature ids (casing last), or None without feature columns

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, indices: Sequence[int]) -> "Encoded":
        return Encoded(*([values[i] for i in indices] for values in
                         (self.ids, self.tags, self.chars, self.char_lengths, self.features)))


@dataclass
class TagBatch:
    inputs: np.ndarray              # (B, T) word ids
    lengths: np.ndarray             # (B,)
    tags: np.ndarray                # (B, T) tag indices, -1 past each length
    chars: np.ndarray | None = None          # (B, T, W) character ids
    char_lengths: np.ndarray | None = None   # (B, T), 0 past each length
    features: np.ndarray | None = None       # (B, T, F)

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())

    def model_inputs(self) -> dict[str, Any]:
        """The keyword arguments of :meth:`SequenceTagger.forward` beside ids and lengths."""
        inputs = {}
        if self.chars is not None:
            inputs.update(chars=self.chars, char_lengths=self.char_lengths)
        if self.features is not None:
            inputs["features"] = self.features
        return inputs


def collate(ids: Sequence[np.ndarray], tags: Sequence[np.ndarray] | None = None):
    inputs, lengths = pad_sequences(list(ids))
    padded_tags = None if tags is None else pad_sequences(list(tags), pad_value=-1)[0]
    return inputs, lengths, padded_tags


def collate_encoded(data: Encoded, indices: Sequence[int]) -> TagBatch:
    """A padded batch of the sentences ``indices`` of ``data``."""
    inputs, lengths, tags = collate([data.ids[i] for i in indices], [data.tags[i] for i in indices])
    batch, steps = inputs.shape
    chars = char_lengths = features = None
    if data.chars[indices[0]] is not None:
        width = max(data.chars[i].shape[1] for i in indices)
        chars = np.zeros((batch, steps, width), dtype=np.int64)
        char_lengths = np.zeros((batch, steps), dtype=np.int64)
        for row, i in enumerate(indices):
            length, word_width = data.chars[i].shape
            chars[row, :length, :word_width] = data.chars[i]
            char_lengths[row, :length] = data.char_lengths[i]
    if data.features[indices[0]] is not None:
        features = np.zeros((batch, steps, data.features[indices[0]].shape[1]), dtype=np.int64)
        for row, i in enumerate(indices):
            features[row, :len(data.features[i])] = data.features[i]
    return TagBatch(inputs, lengths, tags, chars, char_lengths, features)


class TaggingTask(BucketedTask):
    """What :class:`~rnnkit.train.Trainer` needs to train a :class:`SequenceTagger`.

    ``train`` and ``val`` are :class:`Encoded` sentences; ``replacement`` (V,) int gives, for
    each word id, the id that replaces it with probability ``unk_replace`` (its unknown-word
    token), or -1 for words never replaced (their characters and features stay as they are).
    """

    def __init__(self, model: SequenceTagger, train: Encoded, val: Encoded, tag_names: list[str], batch_size: int,
                 seed: int = 0, replacement: np.ndarray | None = None, unk_replace: float = 0.0):
        self.model = model
        self.train_data, self.val_data = train, val
        self.tag_names = tag_names
        self.bio = is_bio(tag_names)
        self.replacement, self.unk_replace, self.seed = replacement, unk_replace, seed
        super().__init__(np.array([len(ids) for ids in train.ids]), batch_size, seed)

    def train_batches(self, epoch: int, start: int):
        for number, indices in enumerate(self.iterator.batches(epoch)[start:], start=start):
            mine = self.my_part(indices)        # several processes: this rank's share of the batch
            yield self.make_batch(mine, epoch, number) if len(mine) else distributed.EmptyPart()

    def make_batch(self, indices: np.ndarray, epoch: int = 0, number: int = 0) -> TagBatch:
        batch = collate_encoded(self.train_data, [int(i) for i in indices])
        if self.replacement is not None and self.unk_replace > 0:
            rng = np.random.default_rng([self.seed, epoch, number])
            substitutes = self.replacement[batch.inputs]                       # (B, T), -1: keep
            replace = (substitutes >= 0) & (rng.random(batch.inputs.shape) < self.unk_replace)
            batch.inputs = np.where(replace, substitutes, batch.inputs)
        return batch

    def forward(self, model: SequenceTagger, batch: TagBatch) -> np.ndarray:
        return model(batch.inputs, batch.lengths, **batch.model_inputs())      # (B, T, C)

    def loss(self, logits: np.ndarray, batch: TagBatch) -> tuple[float, np.ndarray]:
        return self.model.loss(logits, batch.tags, batch.lengths)

    def loss_count(self, batch: TagBatch) -> int:
        """The loss is a mean over the real (unpadded) tokens."""
        return int(np.sum(batch.lengths))

    def backward(self, model: SequenceTagger, d_logits: np.ndarray) -> None:
        model.backward(d_logits)

    def evaluate(self, model: SequenceTagger) -> dict[str, float]:
        metrics = evaluate_sentences(model, self.val_data, self.tag_names, self.bio)
        return {key: value for key, value in metrics.items() if not key.startswith("f1_")}

    def evaluate_part(self, model: SequenceTagger, rank: int, size: int) -> dict[str, float]:
        """This rank's share of the validation sentences, as sums (:func:`sentence_sums`)."""
        chosen = distributed.part(len(self.val_data), rank, size)
        return sentence_sums(model, self.val_data.subset(range(chosen.start, chosen.stop)), self.tag_names,
                             self.bio)

    def metrics_from_sums(self, sums: dict[str, float]) -> dict[str, float]:
        return metrics_from_sums(sums)


def evaluate_sentences(model: SequenceTagger, data: Encoded, tag_names: list[str], bio: bool,
                       batch_size: int = 128) -> dict[str, float]:
    """Loss, token accuracy and (BIO tags) entity precision / recall / F1, overall and per type.

    The tags are the model's decoding: Viterbi with a CRF, each token's arg max without.
    """
    total, correct, count, gold_sequences, predicted_sequences = decode_sentences(model, data, tag_names, bio,
                                                                                  batch_size)
    metrics = {"loss": total / count, "accuracy": correct / count}
    if bio:
        scores = entity_scores(gold_sequences, predicted_sequences)
        metrics.update({name: scores["overall"][name] for name in ("precision", "recall", "f1")})
        metrics.update({f"f1_{kind}": value["f1"] for kind, value in scores.items() if kind != "overall"})
    return metrics


def decode_sentences(model: SequenceTagger, data: Encoded, tag_names: list[str], bio: bool,
                     batch_size: int = 128) -> tuple[float, int, int, list, list]:
    """(loss summed over the tokens, correct tags, tokens, gold and predicted tag names per sentence;
    the last two empty unless ``bio``), in eval mode.

    ``tag_names`` may go on past the model's tags with tags it does not know (:func:`encode`'s
    ``unknown_tags``): their tokens are errors, and their sentences stay out of the loss (the
    model has no score for such a tag); the loss sum returned is then the mean over the other
    sentences' tokens times every token.
    """
    known_tags = model.num_tags
    with model.inference():  # eval mode and no_grad until the block ends
        total, correct, count, loss_tokens = 0.0, 0, 0, 0
        gold_sequences, predicted_sequences = [], []
        for indices in eval_batches(np.array([len(item) for item in data.ids]), batch_size):
            batch = collate_encoded(data, [int(i) for i in indices])
            logits = model(batch.inputs, batch.lengths, **batch.model_inputs())   # (B, T, C)
            rows = np.all(batch.tags < known_tags, axis=1)                     # sentences of known tags only
            if np.all(rows):
                loss, _ = model.loss(logits, batch.tags, batch.lengths)
            elif np.any(rows):
                loss, _ = model.loss(logits[rows], batch.tags[rows], batch.lengths[rows])
            else:
                loss = 0.0
            tokens = batch.num_tokens
            total += loss * int(np.sum(batch.lengths[rows]))
            loss_tokens += int(np.sum(batch.lengths[rows]))
            predicted = model.decode(logits, batch.lengths)                   # (B, T), -1 past lengths
            valid = batch.tags >= 0
            correct += int(np.sum((predicted == batch.tags) & valid))
            count += tokens
            if bio:
                for row, length in enumerate(batch.lengths):
                    gold_sequences.append([tag_names[t] for t in batch.tags[row, :length]])
                    predicted_sequences.append([tag_names[t] for t in predicted[row, :length]])
    if loss_tokens != count:
        total = total / loss_tokens * count if loss_tokens else math.nan
    return total, correct, count, gold_sequences, predicted_sequences


def sentence_sums(model: SequenceTagger, data: Encoded, tag_names: list[str], bio: bool,
                  batch_size: int = 128) -> dict[str, float]:
    """What :meth:`TaggingTask.evaluate` reports, as sums that add up across parts of the data: the
    loss summed over the tokens, correct tags, tokens and (BIO tags) the entity counts (correct,
    predicted, gold); :func:`metrics_from_sums` turns their total into the metrics."""
    sums: dict[str, float] = {"loss": 0.0, "correct": 0, "tokens": 0}
    if bio:
        sums.update({"entities_correct": 0, "entities_predicted": 0, "entities_gold": 0})
    if len(data) == 0:
        return sums
    sums["loss"], sums["correct"], sums["tokens"], gold, predicted = decode_sentences(model, data, tag_names, bio,
                                                                                      batch_size)
    if bio:
        overall = entity_scores(gold, predicted)["overall"]
        sums.update({f"entities_{name}": overall[name] for name in ("correct", "predicted", "gold")})
    return sums


def metrics_from_sums(sums: dict[str, float]) -> dict[str, float]:
    """:meth:`TaggingTask.evaluate`'s metrics from :func:`sentence_sums` added up over every part of the data."""
    metrics = {"loss": sums["loss"] / sums["tokens"], "accuracy": sums["correct"] / sums["tokens"]}
    if "entities_correct" in sums:
        counts = [round(sums[f"entities_{name}"]) for name in ("correct", "predicted", "gold")]
        metrics.update({name: value for name, value in scores_from_counts(*counts).items()
                        if name in ("precision", "recall", "f1")})
    return metrics


def train_rare_tags(train: list, held: list) -> tuple[list, list]:
    """Move every held-out sentence with a tag that no training sentence has into training.

    A random validation split can take all sentences of a rare tag; the model then has no output
    for it and cannot be validated on those sentences.
    """
    seen = {tag for sentence in train for tag in sentence[1]}
    moved = [sentence for sentence in held if not set(sentence[1]) <= seen]
    if not moved:
        return train, held
    rare = sorted({tag for sentence in moved for tag in sentence[1]} - seen)
    print(f"note: {len(moved)} held-out sentence{'s' if len(moved) > 1 else ''} moved into training: "
          f"tag{'s' if len(rare) > 1 else ''} {', '.join(rare)} occurred in no training sentence")
    return train + moved, [sentence for sentence in held if set(sentence[1]) <= seen]


def repair_bio(sentences: list, source: str) -> list:
    """Strict BIO for a constrained CRF: an ``I-X`` that follows neither ``B-X`` nor ``I-X`` becomes ``B-X``.

    conlleval reads such an ``I-X`` as the start of an entity anyway, so the entities stay the same.

    >>> repair_bio([(["a", "b", "c"], ["I-PER", "I-PER", "I-LOC"], [])], "x.conll")[0][1]
    note: x.conll: 2 I-X tags that followed no B-X or I-X read as B-X (strict BIO for the CRF's constraints; the entities are the same)
    ['B-PER', 'I-PER', 'B-LOC']
    """
    repaired, changed = [], 0
    for tokens, tags, columns in sentences:
        fixed, previous = [], "O"
        for tag in tags:
            if tag.startswith("I-") and previous[2:] != tag[2:]:
                tag = "B-" + tag[2:]
                changed += 1
            fixed.append(tag)
            previous = tag
        repaired.append((tokens, fixed, columns))
    if changed:
        print(f"note: {source}: {changed} I-X tag{'s' if changed > 1 else ''} that followed no B-X or I-X "
              f"read as B-X (strict BIO for the CRF's constraints; the entities are the same)")
    return repaired


def input_tables(document_artifacts: dict[str, Any]) -> tuple[dict[str, int] | None, list[dict[str, int]]]:
    """The character index and one value index per feature column, from a run's artifacts."""
    chars = document_artifacts.get("chars")
    char_index = None if chars is None else {character: number for number, character in enumerate(chars)}
    feature_index = [{value: number for number, value in enumerate(values)}
                     for values in document_artifacts.get("features", [])]
    return char_index, feature_index


def encode(sentences, vocab: Vocab, tag_names: list[str], source: str, known: str = "one the model knows",
           artifacts: dict[str, Any] | None = None, unknown_tags: list[str] | None = None) -> Encoded:
    """Word ids, tag indices, characters and feature ids per sentence; a tag the run does not know is an error.

    ``artifacts`` holds the run's character set (``chars``) and feature values (``features``;
    ``casing`` True adds the casing column last); values a run has not seen become id 1 (<unk>).
    With a list ``unknown_tags`` (evaluation), a tag the run does not know is appended to it
    and gets index ``len(tag_names) + its position there`` instead of raising.
    """
    artifacts = artifacts or {}
    char_index, feature_index = input_tables(artifacts)
    index = {tag: position for position, tag in enumerate(tag_names)}
    data = Encoded([], [], [], [], [])
    for number, (tokens, sentence_tags, columns) in enumerate(sentences, start=1):
        unknown = [tag for tag in sentence_tags if tag not in index]
        if unknown and unknown_tags is not None:
            for tag in unknown:
                if tag not in unknown_tags:
                    unknown_tags.append(tag)
            sentence_tags = [tag if tag in index else len(tag_names) + unknown_tags.index(tag)
                             for tag in sentence_tags]
            data.tags.append(np.array([index[tag] if isinstance(tag, str) else tag for tag in sentence_tags],
                                      dtype=np.int64))
        elif unknown:
            raise ValueError(f"{source}, sentence {number}: tag {unknown[0]!r} is not {known} "
                             f"({tag_names})")
        else:
            data.tags.append(np.array([index[tag] for tag in sentence_tags], dtype=np.int64))
        data.ids.append(np.array([token_id(token, vocab) for token in tokens], dtype=np.int64))
        if char_index is not None:
            chars, lengths = character_ids(tokens, char_index, MAX_WORD_CHARS)
            data.chars.append(chars)
            data.char_lengths.append(lengths)
        else:
            data.chars.append(None)
            data.char_lengths.append(None)
        data.features.append(feature_ids(tokens, columns, feature_index, artifacts.get("casing", False)))
    return data


def feature_ids(tokens: list[str], columns: list[list[str]], feature_index: list[dict[str, int]],
                with_casing: bool) -> np.ndarray | None:
    """(L, F) ids of a sentence's feature columns (then its casing), or None when the run has none."""
    values = list(columns) + ([[casing(token) for token in tokens]] if with_casing else [])
    if not feature_index:
        return None
    if len(values) != len(feature_index):
        raise ValueError(f"the run reads {len(feature_index)} feature column(s), the sentence has {len(values)}")
    return np.array([[table.get(value, 1) for value in column] for column, table in zip(values, feature_index)],
                    dtype=np.int64).T.reshape(len(tokens), len(feature_index))


def vocab_token(token: str, vocab: Vocab) -> str:
    return token.lower() if vocab.lower else token


def crf_constraint_tags(options: TagOptions, tag_names: list[str]) -> list[str] | None:
    """The tag names the CRF's BIO constraints come from, or None (no constraints)."""
    if not options.crf or options.constraints == "none":
        return None
    if is_bio(tag_names):
        return tag_names
    if options.constraints == "bio":
        bad = [tag for tag in tag_names if not (tag == "O" or (tag[:2] in ("B-", "I-") and len(tag) > 2))]
        raise ValueError(f"{options.data}: --constraints bio needs BIO tags (O, B-X, I-X), but the tags include "
                         f"{bad[:3] if bad else tag_names[:3]}; use --constraints none (or auto) for other tag sets")
    return None


def prepare(options: TagOptions) -> Prepared:
    check_options(options)
    settings = vars(options)
    sentences = read_tagged(options.data, settings)
    if options.val_data:
        train_sentences, val_sentences = sentences, read_tagged(options.val_data, settings)
    else:
        kept, held = random_split(len(sentences), options.val_fraction, options.seed)
        train_sentences, val_sentences = [sentences[i] for i in kept], [sentences[i] for i in held]
        train_sentences, val_sentences = train_rare_tags(train_sentences, val_sentences)
    need_examples(len(train_sentences), 1, options.data, "training sentences")
    need_examples(len(val_sentences), 1, options.val_data or options.data, "validation sentences")
    if options.crf and options.constraints != "none" and is_bio({t for s in train_sentences for t in s[1]}):
        train_sentences = repair_bio(train_sentences, options.data)
        val_sentences = repair_bio(val_sentences, options.val_data or options.data)
    # One token per word: WordVocab's own tokenizer would split "don't" or "#tag", so fit on the words as given.
    vocab = WordVocab(specials=["<pad>", "<unk>"], min_freq=options.min_freq, max_size=options.max_vocab or None,
                      lower=options.lower, tokenizer=str.split)
    words = [vocab_token(token, vocab) for tokens, _, _ in train_sentences for token in tokens]
    if options.unk_shapes:                        # one text repeating each shape token: kept whatever max_vocab
        words += [" ".join([shape] * len(words)) for shape in SHAPES]
    vocab.fit(words)
    vocab.tokenizer = None                        # saved as "default": the run never tokenizes text itself
    tag_names = sorted({tag for _, tags, _ in train_sentences for tag in tags})
    if len(tag_names) < 2:
        raise ValueError(f"{options.data}: every token has the tag {tag_names}; a tagger needs two or more tags "
                         f"(is --tag-column right?)")
    crf_tags = crf_constraint_tags(options, tag_names)
    artifacts: dict[str, Any] = {"tags": tag_names}
    if options.char_features != "none":           # every character of the training tokens, in order of first use
        seen = dict.fromkeys(character for tokens, _, _ in train_sentences for token in tokens for character in token)
        artifacts["chars"] = list(CHAR_SPECIALS) + [character for character in seen if character not in CHAR_SPECIALS]
    columns = len(train_sentences[0][2])
    if columns or options.casing:                  # each column's values, <pad> 0 and <unk> 1 first
        values = [["<pad>", "<unk>"] + sorted({value for _, _, cols in train_sentences for value in cols[column]})
                  for column in range(columns)]
        artifacts["features"] = values + ([list(CASINGS[:1]) + ["<unk>"] + list(CASINGS[1:])] if options.casing
                                          else [])
        artifacts["casing"] = bool(options.casing)
    train = encode(train_sentences, vocab, tag_names, options.data, artifacts=artifacts)
    val = encode(val_sentences, vocab, tag_names, options.val_data or options.data,
                 known="one of the tags in the training data, so the model cannot predict it", artifacts=artifacts)
    replacement = np.full(len(vocab), -1, dtype=np.int64)
    originals = {vocab_token(token, vocab): token for tokens, _, _ in train_sentences for token in tokens}
    for token, count in vocab.counts.items():
        if count == 1:
            shape = word_shape(originals.get(token, token)) if options.unk_shapes else None
            replacement[vocab.token_to_id(token)] = vocab.token_to_id(shape) if shape in vocab else vocab.unk_id
    pretrained = pretrained_embedding(options, vocab, not_words=SHAPES) if options.vectors is not None else None
    if pretrained is not None:
        artifacts["vectors"] = pretrained[1]
    model = SequenceTagger(len(tag_names), vocab_size=len(vocab),
                           embedding_dim=options.embedding if pretrained is None else pretrained[0].shape[1],
                           hidden_size=options.hidden, cell=options.cell, num_layers=options.layers,
                           bidirectional=options.bidirectional, dropout=options.dropout, padding_idx=vocab.pad_id,
                           crf=options.crf, crf_tags=crf_tags, char_encoder=options.char_features,
                           num_chars=len(artifacts["chars"]) if "chars" in artifacts else None,
                           char_embedding_dim=options.char_embedding, char_hidden_size=options.char_hidden,
                           feature_sizes=[len(values) for values in artifacts.get("features", [])] or None,
                           feature_embedding_dim=options.feature_embedding, input_dropout=options.input_dropout,
                           regularisers=regularisers(options) or None, seed=options.seed)
    if pretrained is not None:
        load_embedding(model.inputs.embedding, pretrained[0], options.freeze_vectors)
    task = TaggingTask(model, train, val, tag_names, options.batch, options.seed, replacement=replacement,
                       unk_replace=options.unk_replace)
    task.monitor = resolve_monitor(options.monitor, "f1" if task.bio else "loss",
                                   ("loss", "accuracy", "f1") if task.bio else ("loss", "accuracy"))
    tokens = sum(len(ids) for ids in train.ids)
    pieces = [name for name, used in (("CRF" + (" with BIO constraints" if crf_tags else ""), options.crf),
                                      (f"{options.char_features} character features", options.char_features != "none"),
                                      (f"{columns} feature column{'s' if columns != 1 else ''}", columns),
                                      ("casing", options.casing)) if used]
    description = [f"data: {options.data}: {len(train):,} training sentences ({tokens:,} tokens) and "
                   f"{len(val):,} validation sentences; {len(tag_names)} tags"
                   f"{' (BIO: entity F1 reported)' if task.bio else ''}, vocabulary {len(vocab):,}"
                   + (f"; {', '.join(pieces)}" if pieces else "")]
    if pretrained is not None:
        description.append(pretrained[2])
    return Prepared(model, task, artifacts, {"vocab.json": vocab}, description)


def evaluate_file(model: SequenceTagger, document: dict[str, Any], vocabs: dict[str, Vocab],
                  path: str) -> dict[str, float]:
    """Loss, token accuracy and entity scores (BIO tags) of a run's model on a tagged file."""
    artifacts = document["artifacts"]
    tag_names = artifacts["tags"]
    sentences = read_tagged(path, document["options"])
    if model.crf is not None and model.crf.config.get("allowed") is not None:
        sentences = repair_bio(sentences, path)
    unknown_tags: list[str] = []
    data = encode(sentences, vocabs["vocab.json"], tag_names, path, artifacts=artifacts, unknown_tags=unknown_tags)
    metrics: dict[str, Any] = {**evaluate_sentences(model, data, tag_names + unknown_tags, is_bio(tag_names)),
                               "sentences": len(data), "tokens": int(sum(len(item) for item in data.ids))}
    if unknown_tags:
        tokens = int(sum(np.sum(tags >= len(tag_names)) for tags in data.tags))
        sentences_hit = int(sum(np.any(tags >= len(tag_names)) for tags in data.tags))
        metrics["unknown_tag_tokens"] = tokens
        metrics["note"] = (f"{tokens} token{'s' if tokens != 1 else ''} in {sentences_hit} sentence"
                           f"{'s' if sentences_hit != 1 else ''} carry tags the training data never had "
                           f"({', '.join(repr(tag) for tag in unknown_tags[:10])}"
                           f"{', ...' if len(unknown_tags) > 10 else ''}): counted as errors (and as missed "
                           f"entities), and their sentences left out of the loss")
    return metrics


def predict(model: SequenceTagger, document: dict[str, Any], vocabs: dict[str, Vocab],
            inputs: list[str] | None, file: str | None) -> list[str]:
    """``token/TAG`` for every token of each sentence (sentences split at whitespace); Viterbi with a CRF."""
    encoding = document["options"].get("encoding") or "utf-8"
    texts = read_lines(file, encoding=encoding) if file is not None else list(inputs or [])
    sentences = [text.split() for text in texts if text.split()]
    if not sentences:
        raise ValueError("nothing to predict: give sentences as arguments or --file PATH (one sentence per line)")
    artifacts = document["artifacts"]
    given = len(artifacts.get("features", [])) - bool(artifacts.get("casing"))
    if given:
        raise ValueError(f"this run reads {given} feature column(s) of its CoNLL files (--feature-columns "
                         f"{document['options'].get('feature_columns')}), which plain sentences do not have; "
                         f"use rnnkit evaluate RUN --data FILE on a file with those columns")
    vocab, tag_names = vocabs["vocab.json"], artifacts["tags"]
    data = encode([(tokens, [tag_names[0]] * len(tokens), []) for tokens in sentences], vocab, tag_names, "input",
                  artifacts=artifacts)
    lines = []
    for start in range(0, len(data), 128):
        indices = list(range(start, min(start + 128, len(data))))
        batch = collate_encoded(data, indices)
        predicted = model.predict(batch.inputs, batch.lengths, **batch.model_inputs())   # (B, T)
        for row, tokens in enumerate(sentences[start:start + 128]):
            lines.append(" ".join(f"{token}/{tag_names[tag]}" for token, tag in zip(tokens, predicted[row])))
    return lines


OPTIONS = TagOptions
