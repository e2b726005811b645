"""Pretrained word vectors (GloVe, word2vec, fastText text format) for an embedding layer.

The text format has one word per line followed by its E numbers, separated by single spaces.
word2vec and fastText files start with a header line ``"<count> <E>"``; GloVe files do not.
:func:`read_word_vectors` tells them apart by the first line: exactly two fields that are both
integers is a header.

Shapes: V vocabulary size, E embedding size.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "vectors.txt")
>>> _ = open(path, "w").write("2 3\\ncat 1 0 0\\ndog 0 1 0\\n")
>>> vectors = read_word_vectors(path)
>>> sorted(vectors), vectors["dog"].tolist()
(['cat', 'dog'], [0.0, 1.0, 0.0])
>>> matrix, coverage, missing = vectors_for_vocab(["<pad>", "<unk>", "cat", "emu"], vectors, seed=0)
>>> matrix.shape, coverage, missing
((4, 3), 0.5, ['emu'])
>>> matrix[0].tolist(), matrix[2].tolist()
([0.0, 0.0, 0.0], [1.0, 0.0, 0.0])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Collection, Mapping, Sequence

import numpy as np

from rnnkit._validate import check_dtype, check_positive_int, make_rng
from rnnkit.data.vocab import PAD, SPECIAL_TOKENS, Vocab


def read_word_vectors(
    path: str | os.PathLike,
    *,
    words: Collection[str] | None = None,
    max_words: int | None = None,
    dtype: Any = np.float32,
    encoding: str = "utf-8",
) -> dict[str, np.ndarray]:
    """Read a text-format vector file into ``{word: vector (E,)}``, in file order.

    Parameters
    ----------
    words : collection of str or None
        Keep only these words (saves memory with large files; pass ``vocab.tokens``).
    max_words : int or None
        Stop after this many lines of vectors (files are usually sorted by frequency).
    dtype : float32 or float64

    A word that appears twice keeps its first vector. Every line must have the same E (the
    header's, or the first line's); a line that does not, or holds something that is not a
    number, is an error naming the line.
    """
    path = Path(path)
    dtype = check_dtype(dtype)
    if max_words is not None:
        max_words = check_positive_int(max_words, "max_words")
    wanted = None if words is None else set(words)
    vectors: dict[str, np.ndarray] = {}
    size: int | None = None  # E
    declared_count: int | None = None
    read = 0
    with open(path, encoding=encoding, newline="\n") as handle:  # newline="\n": break lines only at "\n"
        for number, line in enumerate(handle, start=1):
            fields = line.rstrip("\r\n").rstrip(" ").split(" ")
            if number == 1 and len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
                declared_count, size = int(fields[0]), int(fields[1])
                if size < 1:
                    raise ValueError(f"{path}, line 1: the header declares vector size {size}, need at least 1")
                continue
            if fields == [""]:
                continue  # a blank line
            if size is None:
                size = len(fields) - 1
                if size < 1:
                    raise ValueError(f"{path}, line {number}: expected a word followed by its numbers, got {line[:80]!r}")
            if len(fields) < size + 1:
                raise ValueError(f"{path}, line {number}: expected a word and {size} numbers, got {len(fields)} fields")
            word = " ".join(fields[: len(fields) - size])  # a word may itself hold spaces
            read += 1
            if (wanted is None or word in wanted) and word not in vectors:
                try:
                    vectors[word] = np.array(fields[len(fields) - size:], dtype=dtype)  # (E,)
                except ValueError as error:
                    raise ValueError(f"{path}, line {number}: the vector of {word!r} holds something that is not a number ({error})") from error
            if max_words is not None and read >= max_words:
                break
    if size is None:
        raise ValueError(f"{path}: the file holds no vectors")
    if declared_count is not None and max_words is None and read != declared_count:
        raise ValueError(f"{path}: the header declares {declared_count} vectors but the file has {read}")
    return vectors


def vectors_for_vocab(
    vocab: Vocab | Sequence[str],
    vectors: Mapping[str, np.ndarray],
    *,
    seed: Any = 0,
    scale: float | None = None,
    dtype: Any = np.float32,
    lowercase_fallback: bool = True,
) -> tuple[np.ndarray, float, list[str]]:
    """An embedding matrix for ``vocab``: pretrained rows where there are any, random elsewhere.

    Row i belongs to token i. A token found in ``vectors`` (or, with ``lowercase_fallback``,
    whose lower-case form is found) gets that vector. Every other token, the specials
    ``<unk>``, ``<bos>``, ``<eos>`` included, gets ``normal(0, scale)`` numbers; ``<pad>`` gets
    zeros.

    Parameters
    ----------
    vocab : Vocab or sequence of str
        The tokens, id order. In a plain list, tokens spelled like the specials count as such.
    vectors : mapping str -> array (E,)
        E.g. from :func:`read_word_vectors`.
    seed : int, Generator or None
        For the random rows.
    scale : float or None
        Standard deviation of the random rows. None: that of the pretrained rows found, so
        new rows look like old ones (``1/sqrt(E)`` when none was found).

    Returns
    -------
    matrix : ndarray (V, E)
    coverage : float
        Found tokens / regular (non-special) tokens; 0.0 when there are none.
    missing : list of str
        The regular tokens that got random rows, in id order.
    """
    dtype = check_dtype(dtype)
    rng = make_rng(seed)
    if isinstance(vocab, Vocab):
        tokens, specials = list(vocab.tokens), set(vocab.specials)
    elif isinstance(vocab, (list, tuple)) and all(isinstance(token, str) for token in vocab):
        tokens, specials = list(vocab), {token for token in vocab if token in SPECIAL_TOKENS}
    else:
        raise TypeError(f"vocab must be a Vocab or a list of str, got {type(vocab).__name__}")
    if not vectors:
        raise ValueError("vectors is empty")
    size = len(np.asarray(next(iter(vectors.values()))))  # E

    matrix = np.zeros((len(tokens), size), dtype=np.float64)  # (V, E)
    found = np.zeros(len(tokens), dtype=bool)  # (V,)
    missing: list[str] = []
    for index, token in enumerate(tokens):
        if token in specials:
            continue
        vector = vectors.get(token)
        if vector is None and lowercase_fallback:
            vector = vectors.get(token.lower())
        if vector is None:
            missing.append(token)
            continue
        vector = np.asarray(vector, dtype=np.float64)
        if vector.shape != (size,):
            raise ValueError(f"every vector must have shape ({size},), the vector of {token!r} has {vector.shape}")
        matrix[index] = vector
        found[index] = True

    if scale is None:
        scale = float(matrix[found].std()) if found.any() else 1.0 / np.sqrt(size)
    elif not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale < 0:
        raise ValueError(f"scale must be a number >= 0 or None, got {scale!r}")
    random_rows = ~found & np.array([token != PAD or PAD not in specials for token in tokens])  # (V,)
    matrix[random_rows] = rng.normal(0.0, scale, size=(int(random_rows.sum()), size))
    regular = len(tokens) - len(specials)
    coverage = float(found.sum()) / regular if regular else 0.0
    return matrix.astype(dtype), coverage, missing
