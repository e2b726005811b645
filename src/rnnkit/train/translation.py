"""The sequence-to-sequence task: rewrite a source sequence as a target sequence.

Glossary: N pairs, B batch, S source steps, T target steps, V target vocabulary.

Input: a text file of pairs, one per line, ``source<TAB>target`` (``sep`` to change the
separator). Without a file the task is generated: rewrite dates written by people
("Wed 3 Mar 2021", "03/03/21", ...) in ISO form (:mod:`rnnkit.data.dates`), with a held-out
test split of calendar dates never seen in training, reported after training.

Sources and targets have their own character (or word) vocabularies with ``<pad>``,
``<unk>``, ``<bos>`` and ``<eos>``. Words come from :mod:`rnnkit.data.tokenizer`, whose
tokens join back into ordinary text ("Puis-je entrer ?", not "Puis - je entrer ?"); ``--lower``
and ``--strip-accents`` normalise sources and targets (and so the outputs), and are never
applied unless asked for.

The model is :class:`~rnnkit.models.Seq2Seq` trained with teacher forcing (``--label-smoothing``
optional): ``--layers`` stacked layers on both sides, Luong attention with input feeding,
``--dropout`` between layers and before the output layer. Validation reports ``loss`` (cross
entropy per target token), ``exact_match`` (the fraction of sources whose greedy decoding
equals the target exactly), and corpus ``bleu`` and ``chrf`` (:mod:`rnnkit.models.translation_metrics`,
as sacreBLEU computes them) of the greedy outputs, detokenised, against the target texts
(normalised as the sources are). The best BLEU picks ``checkpoints/best`` for a file of pairs,
the best exact match for the generated dates task. ``rnnkit evaluate`` and ``rnnkit predict``
decode with beam search (``--beam``, default 5) and length normalisation (``--length-penalty``,
default 1: candidates compared by their mean log-probability per token), stored with the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from rnnkit.data import dates
from rnnkit.data.batching import pad_sequences
from rnnkit.data.readers import read_labelled_text
from rnnkit.data.tokenizer import normalize
from rnnkit.data.vocab import CharVocab, ReversibleWordVocab, Vocab
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit import distributed
from rnnkit.models.translation_metrics import (MAX_ORDER, bleu_from_statistics, bleu_statistics,
                                               chrf_from_statistics, chrf_statistics, translation_scores)
from rnnkit.train.classification import separator
from rnnkit.train.options import SupervisedOptions, check_common, flag, option, regularisers, resolve_monitor
from rnnkit.train.supervised import BucketedTask, Prepared, eval_batches, need_examples, random_split

HELP = "rewrite sequences (source<TAB>target pairs; default: the generated date-rewriting task)"
EXPECTED = "a text file of pairs, one per line: source<TAB>target (--sep to change the separator)"
EXAMPLE = "pairs.tsv   (or no --data: the generated date-rewriting task)"
HAS_DEFAULT_DATA = True
MODEL_CLASS = Seq2Seq
VOCAB_FILES = ("source_vocab.json", "target_vocab.json")
ATTENTION = ("none", "dot", "general")
METRICS = ("loss", "exact_match", "bleu", "chrf")
# Decoding settings of runs saved before they were options (beam search is the default now too).
DEFAULT_BEAM, DEFAULT_LENGTH_PENALTY = 5, 1.0


# The default learning rate by cell. With the other defaults (one seed, one core each) the tanh RNN reached
# Tatoeba test BLEU 1.65 (English to French) and 1.37 (French to English) and 0.405 exact match on the
# generated dates at 5e-3, and 25.46, 43.67 and 1.000 at 1e-3.
LSTM_GRU_LR, RNN_LR = 5e-3, 1e-3


@dataclass
class Seq2SeqOptions(SupervisedOptions):
    """``rnnkit train seq2seq``: the shared options and these."""

    data: str | None = option(None, "text file of source<TAB>target pairs (default: the generated "
                                    "date-rewriting task, rnnkit.data.dates)")
    # Defaults of their own, measured on Tatoeba English to French and French to English (RESULTS.md, Defaults):
    # tied output embeddings with dropout 0.4 won there; 14 epochs of the default model fit in 10 minutes on 2 cores.
    hidden: int = option(256, "hidden units per layer and direction")
    dropout: float = option(0.4, "dropout between layers and on the attentional vector before the output layer")
    epochs: int = option(14, "passes over the training data (the time budget may stop it sooner)")
    lr: float | None = option(None, f"peak learning rate (Adam; default: {LSTM_GRU_LR:g}, and {RNN_LR:g} with "
                                    f"--cell rnn, whose translations fell apart at {LSTM_GRU_LR:g})")
    sep: str = option("tab", "separator between source and target: 'tab' or another string")
    level: str = option("char", "read characters or words", ("char", "word"))
    embedding: int | None = option(None, "embedding size, source and target (default: --hidden, as tied "
                                         "embeddings need)")
    attention: str = option("general", "Luong attention score ('none': the decoder sees only the final state)",
                            ATTENTION)
    train_size: int = option(10000, "generated task: training pairs (validation is --val-fraction of them)",
                             only=("data", (None,)))
    test_size: int = option(1000, "generated task: held-out test pairs (dates never seen in training)",
                            only=("data", (None,)))
    max_length: int = option(0, "longest output decoded (0: the longest training target + 5)")
    min_freq: int = option(1, "words (or characters) seen fewer times in training become <unk> (a smaller, "
                              "faster output layer)")
    lower: bool = option(False, "lower-case sources and targets (outputs are then lower-case too)")
    strip_accents: bool = option(False, "drop accents from sources and targets ('élève' -> 'eleve'; outputs too)")
    input_feeding: bool = option(True, "feed the previous attentional vector with the next decoder input "
                                       "(Luong; --no-input-feeding: off)", only=("attention", ("dot", "general")))
    tie_embeddings: bool = option(True, "use the target embedding table as the output layer's weight (Press & "
                                        "Wolf 2017; needs --embedding equal to --hidden; --no-tie-embeddings: a "
                                        "weight of its own)")
    label_smoothing: float = option(0.1, "train towards (1 - eps) one-hot + eps / V (0: plain cross entropy; "
                                         "validation loss is always plain)")
    beam: int = option(DEFAULT_BEAM, "beam size of rnnkit evaluate / predict and the final test report "
                                     "(1: greedy); validation during training decodes greedily")
    length_penalty: float = option(DEFAULT_LENGTH_PENALTY, "beam search ranks finished outputs by summed "
                                   "log-probability / (tokens + 1) ** this (0: no length normalisation)")


def check_options(options: Seq2SeqOptions) -> None:
    if options.lr is None:                       # the cell's default, recorded in config.json as a number
        options.lr = RNN_LR if options.cell == "rnn" else LSTM_GRU_LR
    check_common(options)
    for name in ("embedding", "train_size", "test_size", "min_freq"):
        if getattr(options, name) is not None and getattr(options, name) < 1:
            raise ValueError(f"{flag(name)} must be at least 1, got {getattr(options, name)}")
    if options.max_length < 0:
        raise ValueError(f"--max-length must be at least 0, got {options.max_length}")
    if options.beam < 1:
        raise ValueError(f"--beam must be at least 1, got {options.beam}")
    if not 0.0 <= options.length_penalty <= 5.0:
        raise ValueError(f"--length-penalty must lie in [0, 5], got {options.length_penalty}")
    if not 0.0 <= options.label_smoothing < 1.0:
        raise ValueError(f"--label-smoothing must lie in [0, 1), got {options.label_smoothing}")
    if options.tie_embeddings and options.embedding not in (None, options.hidden):
        raise ValueError(f"tied embeddings (the default) need --embedding equal to --hidden (the output layer reads "
                         f"vectors of the hidden size), got --embedding {options.embedding} and --hidden "
                         f"{options.hidden}; leave --embedding out, or add --no-tie-embeddings")
    if options.attention == "dot" and options.bidirectional:
        raise ValueError("--attention dot needs a unidirectional encoder; use --attention general with "
                         "--bidirectional")


def read_pairs(path: str | Path, sep: str = "tab", encoding: str = "utf-8") -> list[tuple[str, str]]:
    """(source, target) pairs of a file, one per line; errors name the file and line."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path}")
    sources, targets = read_labelled_text(path, separator(sep), text_column=0, label_column=1, label_type=str,
                                          min_classes=1, encoding=encoding)
    pairs = list(zip(sources, [str(target) for target in targets]))
    for number, (source, target) in enumerate(pairs, start=1):
        if not source.strip() or not target.strip():
            raise ValueError(f"{path}: pair {number} has an empty {'source' if not source.strip() else 'target'}")
    return pairs


def make_vocab(level: str, lower: bool, strip_accents: bool = False, min_freq: int = 1) -> Vocab:
    specials = ["<pad>", "<unk>", "<bos>", "<eos>"]
    if level == "char":
        if strip_accents:
            raise ValueError("--strip-accents is for --level word")
        return CharVocab(specials=specials, lower=lower, min_freq=min_freq)
    return ReversibleWordVocab(specials=specials, lower=lower, strip_accents=strip_accents, min_freq=min_freq)


def reference_text(text: str, vocab: Vocab) -> str:
    """A target as the outputs are compared with it: normalised as ``vocab`` does, spaces collapsed."""
    text = normalize(text, lower=vocab.lower, strip_accents=getattr(vocab, "strip_accents", False))
    return " ".join(text.split()) if isinstance(vocab, ReversibleWordVocab) else text


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


def sort_keys(sources: list, targets: list) -> np.ndarray:
    """(N,) keys that order pairs by source length, then target length, for the length buckets.

    Sorting by the source alone left a third of the decoder's steps (and its output rows)
    padding on Tatoeba English-French; by both, 8% (source padding 1% either way).
    """
    source_lengths = np.array([len(source) for source in sources], dtype=np.int64)
    target_lengths = np.array([len(target) for target in targets], dtype=np.int64)
    return source_lengths * (int(target_lengths.max(initial=0)) + 1) + target_lengths


class TranslationTask(BucketedTask):
    """What :class:`~rnnkit.train.Trainer` needs to train a :class:`Seq2Seq` on (source, target) id pairs."""

    def __init__(self, model: Seq2Seq, train: tuple[list, list], val: tuple[list, list], batch_size: int,
                 seed: int = 0, max_length: int = 50, target_vocab: Vocab | None = None,
                 val_references: list[str] | None = None, label_smoothing: float = 0.0):
        self.model = model
        self.train_sources, self.train_targets = train
        self.val_sources, self.val_targets = val
        self.max_length = max_length
        self.target_vocab, self.val_references = target_vocab, val_references      # for BLEU and chrF
        self.label_smoothing = label_smoothing
        super().__init__(sort_keys(self.train_sources, self.train_targets), batch_size, seed)

    def make_batch(self, indices: np.ndarray) -> PairBatch:
        return make_batch(self.model, [self.train_sources[i] for i in indices], [self.train_targets[i] for i in indices])

    def forward(self, model: Seq2Seq, batch: PairBatch) -> np.ndarray:
        return model(batch.source, batch.source_lengths, batch.decoder_inputs)    # (B, T, V)

    def loss(self, logits: np.ndarray, batch: PairBatch) -> tuple[float, np.ndarray]:
        return self.model.loss(logits, batch.decoder_targets, batch.target_lengths, self.label_smoothing)

    def loss_count(self, batch: PairBatch) -> int:
        """The loss is a mean over the target tokens the decoder predicts (padding masked out)."""
        return int(np.sum(batch.target_lengths))

    def backward(self, model: Seq2Seq, d_logits: np.ndarray) -> None:
        model.backward(d_logits)

    def evaluate(self, model: Seq2Seq) -> dict[str, float]:
        return evaluate_pairs(model, self.val_sources, self.val_targets, self.max_length,
                              target_vocab=self.target_vocab, references=self.val_references)

    def evaluate_part(self, model: Seq2Seq, rank: int, size: int) -> dict[str, float]:
        """This rank's share of the validation pairs, as sums (:func:`pair_sums`)."""
        chosen = distributed.part(len(self.val_sources), rank, size)
        references = None if self.val_references is None else self.val_references[chosen]
        return pair_sums(model, self.val_sources[chosen], self.val_targets[chosen], self.max_length,
                         target_vocab=self.target_vocab, references=references)

    def metrics_from_sums(self, sums: dict[str, float]) -> dict[str, float]:
        return metrics_from_sums(sums)


def decode(model: Seq2Seq, source: np.ndarray, lengths: np.ndarray, max_length: int, beam: int = 1,
           length_penalty: float = 0.0) -> list[list[int]]:
    """Greedy decoding (``beam`` 1) or beam search."""
    if beam > 1:
        return model.beam_search(source, lengths, beam_size=beam, max_length=max_length,
                                 length_penalty=length_penalty)
    return model.greedy_decode(source, lengths, max_length)


def evaluate_pairs(model: Seq2Seq, sources: list, targets: list, max_length: int, batch_size: int = 256,
                   target_vocab: Vocab | None = None, references: list[str] | None = None, beam: int = 1,
                   length_penalty: float = 0.0) -> dict[str, float]:
    """Teacher-forced loss per target token, exact match, and (given the target vocabulary and
    texts) corpus BLEU and chrF of the detokenised outputs; greedy or beam decoding, eval mode."""
    total, tokens, exact, outputs = decode_pairs(model, sources, targets, max_length, batch_size,
                                                 target_vocab, beam, length_penalty)
    metrics = {"loss": total / tokens, "exact_match": exact / len(sources)}
    if target_vocab is not None and references is not None:
        metrics.update(translation_scores(outputs, references))
    return metrics


def decode_pairs(model: Seq2Seq, sources: list, targets: list, max_length: int, batch_size: int = 256,
                 target_vocab: Vocab | None = None, beam: int = 1,
                 length_penalty: float = 0.0) -> tuple[float, int, int, list[str]]:
    """(loss summed over the target tokens, target tokens, exact matches, detokenised outputs; "" each
    without ``target_vocab``) of the pairs, in eval mode."""
    outputs: list[str] = [""] * len(sources)
    with model.inference():  # eval mode and no_grad until the block ends
        total, tokens, exact = 0.0, 0, 0
        for indices in eval_batches(np.array([len(source) for source in sources]), batch_size):
            batch = make_batch(model, [sources[i] for i in indices], [targets[i] for i in indices])
            logits = model(batch.source, batch.source_lengths, batch.decoder_inputs)
            loss, _ = model.loss(logits, batch.decoder_targets, batch.target_lengths)
            total += loss * batch.num_tokens
            tokens += batch.num_tokens
            decoded = decode(model, batch.source, batch.source_lengths, max_length, beam, length_penalty)
            exact += sum(list(map(int, targets[i])) == output for i, output in zip(indices, decoded))
            if target_vocab is not None:
                for i, output in zip(indices, decoded):
                    outputs[i] = target_vocab.inverse_transform(np.array(output, dtype=np.int64))
    return total, tokens, exact, outputs


def pair_sums(model: Seq2Seq, sources: list, targets: list, max_length: int, batch_size: int = 256,
              target_vocab: Vocab | None = None, references: list[str] | None = None) -> dict[str, float]:
    """What :func:`evaluate_pairs` computes, as sums over the pairs that add up across parts of the
    data (loss, target tokens, exact matches, pairs; the BLEU and chrF statistics, given the target
    vocabulary and texts); :func:`metrics_from_sums` turns their total into the metrics. Greedy decoding."""
    sums: dict[str, float] = {"loss": 0.0, "tokens": 0, "exact": 0, "pairs": len(sources)}
    outputs: list[str] = []
    if len(sources):
        sums["loss"], sums["tokens"], sums["exact"], outputs = decode_pairs(
            model, sources, targets, max_length, batch_size, target_vocab)
    if target_vocab is not None and references is not None:
        bleu, chrf = bleu_statistics(outputs, references), chrf_statistics(outputs, references)
        sums.update({f"bleu.{index}": value for index, value in enumerate(bleu)})
        sums.update({f"chrf.{index}": value for index, value in enumerate(chrf)})
    return sums


def metrics_from_sums(sums: dict[str, float]) -> dict[str, float]:
    """The metrics of :func:`evaluate_pairs` from :func:`pair_sums` added up over every part of the data."""
    metrics = {"loss": sums["loss"] / sums["tokens"], "exact_match": sums["exact"] / sums["pairs"]}
    if "bleu.0" in sums:
        bleu = [sums[f"bleu.{index}"] for index in range(2 + 2 * MAX_ORDER)]
        chrf = [sums[key] for key in sorted((key for key in sums if key.startswith("chrf.")),
                                            key=lambda key: int(key[5:]))]
        metrics.update({"bleu": bleu_from_statistics(bleu).score, "chrf": chrf_from_statistics(chrf)})
    return metrics


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
        pairs = read_pairs(options.data, options.sep, options.encoding)
        source_name = f"{options.data}: {len(pairs):,} pairs"
    if options.val_data:
        train_pairs, val_pairs = pairs, read_pairs(options.val_data, options.sep, options.encoding)
    else:
        kept, held = random_split(len(pairs), options.val_fraction, options.seed)
        train_pairs, val_pairs = [pairs[i] for i in kept], [pairs[i] for i in held]
    need_examples(len(train_pairs), 1, options.data or "the generated task", "training pairs")
    need_examples(len(val_pairs), 1, options.val_data or options.data or "the generated task", "validation pairs")
    source_vocab = make_vocab(options.level, options.lower, options.strip_accents, options.min_freq).fit(
        [source for source, _ in train_pairs])
    target_vocab = make_vocab(options.level, options.lower, options.strip_accents, options.min_freq).fit(
        [target for _, target in train_pairs])
    train = encode_pairs(train_pairs, source_vocab, target_vocab)
    val = encode_pairs(val_pairs, source_vocab, target_vocab)
    max_length = options.max_length or max(len(target) for target in train[1]) + 5
    model = Seq2Seq(len(source_vocab), len(target_vocab), bos_id=target_vocab.bos_id, eos_id=target_vocab.eos_id,
                    pad_id=target_vocab.pad_id, embedding_dim=options.embedding or options.hidden,
                    hidden_size=options.hidden,
                    cell=options.cell, num_layers=options.layers, bidirectional=options.bidirectional,
                    attention=None if options.attention == "none" else options.attention, dropout=options.dropout,
                    decoder_layers=options.layers, input_feeding=options.input_feeding and options.attention != "none",
                    decoder_dropout=options.dropout, regularisers=regularisers(options) or None,
                    tie_embeddings=options.tie_embeddings, seed=options.seed)
    references = [reference_text(target, target_vocab) for _, target in val_pairs]
    task = TranslationTask(model, train, val, options.batch, options.seed, max_length, target_vocab, references,
                           options.label_smoothing)
    if options.monitor == "auto":          # translation data: BLEU; the generated dates: exact match
        task.monitor = ("bleu", "max") if options.data is not None else ("exact_match", "max")
    elif options.monitor in ("bleu", "chrf"):
        task.monitor = (options.monitor, "max")
    else:
        task.monitor = resolve_monitor(options.monitor, "exact_match", METRICS)
    test = encode_pairs(test_pairs, source_vocab, target_vocab) if test_pairs else None
    test_references = [reference_text(target, target_vocab) for _, target in test_pairs]

    def final_report(best_model: Seq2Seq) -> dict[str, float]:
        if test is None:
            return {}
        return {**evaluate_pairs(best_model, *test, max_length, target_vocab=target_vocab, references=test_references,
                                 beam=options.beam, length_penalty=options.length_penalty),
                "pairs": len(test[0]), "beam": options.beam}

    description = [f"data: {source_name}; {len(train[0]):,} training and {len(val[0]):,} validation pairs; "
                   f"vocabularies {len(source_vocab)} (source) and {len(target_vocab)} (target)"]
    return Prepared(model, task, {"max_length": max_length},
                    {"source_vocab.json": source_vocab, "target_vocab.json": target_vocab}, description, final_report)


def decoding_options(document: dict[str, Any], beam: int | None = None) -> tuple[int, float]:
    """(beam size, length penalty) of a run: ``beam`` if given, else the run's own (5 and 1.0 for
    runs saved before these were options)."""
    options = document["options"]
    if beam is None:
        beam = int(options.get("beam", DEFAULT_BEAM))
    return beam, float(options.get("length_penalty", DEFAULT_LENGTH_PENALTY))


def evaluate_file(model: Seq2Seq, document: dict[str, Any], vocabs: dict[str, Vocab], path: str | None,
                  beam: int | None = None) -> dict:
    """Loss, exact match, BLEU and chrF on a file of pairs (None: the generated task's held-out
    test pairs), decoded with the run's beam search (``beam``: another beam size; 1: greedy)."""
    options = document["options"]
    if path is None:
        if options["data"] is not None:
            raise ValueError("--data PATH is needed: this run was trained on a file, not on the generated task")
        _, pairs = dates.date_pairs(1, options["test_size"])
    else:
        pairs = read_pairs(path, options["sep"], options.get("encoding") or "utf-8")
    target_vocab = vocabs["target_vocab.json"]
    sources, targets = encode_pairs(pairs, vocabs["source_vocab.json"], target_vocab)
    beam, length_penalty = decoding_options(document, beam)
    references = [reference_text(target, target_vocab) for _, target in pairs]
    metrics = evaluate_pairs(model, sources, targets, document["artifacts"]["max_length"], target_vocab=target_vocab,
                             references=references, beam=beam, length_penalty=length_penalty)
    return {**metrics, "pairs": len(pairs), "beam": beam}


def predict(model: Seq2Seq, document: dict[str, Any], vocabs: dict[str, Vocab], inputs: list[str] | None,
            file: str | None, beam: int | None = None, chunk: int = 64) -> Iterator[str]:
    """``source<TAB>output`` for each source, as soon as each chunk of ``chunk`` sources is decoded.

    Sources are the arguments, or the lines of ``file`` read as they come (a
    ``source<TAB>target`` line uses its source). Beam search with the run's length penalty
    (``beam``: the run's beam size when None; 1: greedy).
    """
    options = document["options"]
    if file is not None:
        texts: Iterable[str] = _sources_of_file(file, separator(options["sep"]), options.get("encoding") or "utf-8")
    else:
        texts = list(inputs or [])
        if not texts:
            raise ValueError("nothing to predict: give sources as arguments or --file PATH (one per line)")
    beam, length_penalty = decoding_options(document, beam)
    source_vocab, target_vocab = vocabs["source_vocab.json"], vocabs["target_vocab.json"]
    max_length = document["artifacts"]["max_length"]
    pending: list[str] = []
    for text in [*texts, None]:                                        # None: the end, decode what is left
        if text is not None:
            pending.append(text)
        if pending and (text is None or len(pending) == chunk):
            sources, _ = encode_pairs([(item, "") for item in pending], source_vocab, target_vocab)
            source, lengths = pad_sequences(sources, pad_value=model.pad_id)
            for item, ids in zip(pending, decode(model, source, lengths, max_length, beam, length_penalty)):
                yield f"{item}\t{target_vocab.inverse_transform(np.array(ids, dtype=np.int64))}"
            pending = []


def _sources_of_file(path: str, sep: str, encoding: str = "utf-8") -> Iterator[str]:
    """The source of each non-empty line of ``path``, read lazily."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    found = False
    with open(path, encoding=encoding) as stream:
        for line in stream:
            line = line.rstrip("\r\n")
            if line.strip():
                found = True
                yield line.split(sep)[0]
    if not found:
        raise ValueError(f"nothing to predict: {path} has no non-empty line")


OPTIONS = Seq2SeqOptions
