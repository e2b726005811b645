"""Data utilities: vocabularies, batching, readers for common text and series formats, and
pretrained word vectors. Pure NumPy and the standard library.

Modules: ``vocab`` (text <-> ids), ``tokenizer`` (words that join back into text, and the
normalisation of case and accents), ``batching`` (padding, one-hot, length buckets,
language-model streams, sliding windows and scaling for time series), ``scaling`` (standard
scaling that does not overflow near the float64 limit), ``readers`` (files), ``embeddings``
(pretrained vectors), ``synthetic`` (long-dependency tasks: adding, copying, temporal order),
``dates`` (a generated date-rewriting task for encoder-decoders).
"""

from rnnkit.data import dates, synthetic
from rnnkit.data.batching import (
    BucketBatchIterator,
    Scaler,
    count_lm_windows,
    lm_stream_batches,
    one_hot,
    pad_sequences,
    sliding_windows,
    time_split,
)
from rnnkit.data.embeddings import read_word_vectors, vectors_for_vocab
from rnnkit.data.readers import (
    read_conll,
    read_conllu,
    read_labelled_text,
    read_lines,
    read_text,
    read_time_series_csv,
    read_ts,
    read_vectors,
)
from rnnkit.data.vocab import CharVocab, Vocab, WordVocab, split_words

__all__ = [
    "dates",
    "synthetic",
    "BucketBatchIterator",
    "CharVocab",
    "Scaler",
    "Vocab",
    "WordVocab",
    "count_lm_windows",
    "lm_stream_batches",
    "one_hot",
    "pad_sequences",
    "read_conll",
    "read_conllu",
    "read_labelled_text",
    "read_lines",
    "read_text",
    "read_time_series_csv",
    "read_ts",
    "read_vectors",
    "read_word_vectors",
    "sliding_windows",
    "split_words",
    "time_split",
    "vectors_for_vocab",
]
