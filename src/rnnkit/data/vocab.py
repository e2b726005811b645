"""Vocabularies: text to integer ids and back.

Why one module of about 500 lines: the base ``Vocab`` holds the shared saving, loading and
special-token rules; the kinds of vocabulary are short subclasses beside it.

A vocabulary is an ordered list of tokens; a token's id is its position. The special tokens
come first, in the fixed order ``<pad>``, ``<unk>``, ``<bos>``, ``<eos>`` (each only if used),
so ``<pad>`` is always id 0 when present. The regular tokens follow, most frequent first, ties
broken by the token itself (``"a"`` before ``"b"``), so fitting the same texts always gives
the same ids.

:class:`CharVocab` splits text into characters, :class:`WordVocab` into words and punctuation
(see :data:`WORD_PATTERN`) or with a tokenizer you supply, :class:`ReversibleWordVocab` into
words whose output joins back into text (:mod:`rnnkit.data.tokenizer`), :class:`CorpusWordVocab`
into the words of one running text, pre-tokenised or raw, line ends as ``<eos>`` (word-level
language models). All share :class:`Vocab`.

Shapes: V vocabulary size, T tokens in one text.

>>> vocab = CharVocab().fit(["hello", "world"])
>>> ids = vocab.transform("hello")
>>> ids.tolist()
[8, 7, 4, 4, 5]
>>> vocab.inverse_transform(ids)
'hello'
>>> vocab.transform("hi?").tolist()   # unseen characters map to <unk> (id 1)
[8, 1, 1]
"""

from __future__ import annotations

import json
import numbers
import os
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from rnnkit._validate import check_positive_int
from rnnkit.data import tokenizer

PAD = "<pad>"
UNK = "<unk>"
BOS = "<bos>"
EOS = "<eos>"
# Every special token, in the order they take ids.
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)

# Default word tokenizer: a word is a run of letters, digits or underscores, possibly joined by
# apostrophes ("don't", "o'clock"); every other non-space character is a token of its own.
WORD_PATTERN = re.compile(r"\w+(?:['\u2019]\w+)*|[^\w\s]")

FILE_FORMAT_VERSION = 1


def split_words(text: str) -> list[str]:
    """Split ``text`` into words and single punctuation characters with :data:`WORD_PATTERN`.

    >>> split_words("Don't stop -- it's 3.5 km!")
    ["Don't", 'stop', '-', '-', "it's", '3', '.', '5', 'km', '!']
    """
    return WORD_PATTERN.findall(text)


class Vocab:
    """Shared machinery of :class:`CharVocab` and :class:`WordVocab`.

    Subclasses define ``tokenize(text) -> list[str]`` and ``join(tokens) -> str``.

    Parameters
    ----------
    specials : sequence of str
        Which special tokens to use, any of ``"<pad>"``, ``"<unk>"``, ``"<bos>"``, ``"<eos>"``.
        They always take the first ids in that order, whatever order you list them in.
    min_freq : int
        Tokens seen fewer times than this in :meth:`fit` are left out (they become ``<unk>``).
    max_size : int or None
        At most this many tokens in total, specials included. The most frequent tokens are
        kept; among equally frequent ones, the smallest in string order.
    lower : bool
        Lower-case text before tokenizing, in :meth:`fit` and :meth:`transform` alike.
    """

    kind = "Vocab"

    def __init__(
        self,
        *,
        specials: Sequence[str] = SPECIAL_TOKENS,
        min_freq: int = 1,
        max_size: int | None = None,
        lower: bool = False,
    ):
        if isinstance(specials, str):
            raise TypeError(f"specials must be a sequence of special token strings, got the string {specials!r}")
        specials = list(specials)
        for token in specials:
            if token not in SPECIAL_TOKENS:
                raise ValueError(f"specials may only contain {list(SPECIAL_TOKENS)}, got {token!r}")
        if len(set(specials)) != len(specials):
            raise ValueError(f"specials must not repeat a token, got {specials}")
        self.specials = [token for token in SPECIAL_TOKENS if token in specials]
        self.min_freq = check_positive_int(min_freq, "min_freq", 1)
        if max_size is not None:
            max_size = check_positive_int(max_size, "max_size", len(self.specials) + 1)
        self.max_size = max_size
        if not isinstance(lower, bool):
            raise TypeError(f"lower must be True or False, got {lower!r}")
        self.lower = lower
        self._set_tokens(list(self.specials))
        self.fitted = False

    # ----------------------------------------------------------------- building

    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def join(self, tokens: list[str]) -> str:
        raise NotImplementedError

    def _prepare(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return self.tokenize(text.lower() if self.lower else text)

    def fit(self, texts: str | Iterable[str]) -> "Vocab":
        """Build the vocabulary from ``texts`` (one string or an iterable of strings); returns self.

        Fitting again starts from scratch.
        """
        if isinstance(texts, str):
            texts = [texts]
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(self._prepare(text))
        for token in self.specials:  # a literal "<pad>" in the text is the special, not a word
            counts.pop(token, None)
        regular = [token for token, count in counts.items() if count >= self.min_freq]
        regular.sort(key=lambda token: (-counts[token], token))  # frequency desc, then token
        if self.max_size is not None:
            regular = regular[: self.max_size - len(self.specials)]
        self._set_tokens(list(self.specials) + regular)
        self.counts = {token: counts[token] for token in regular}
        self.fitted = True
        return self

    def _set_tokens(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self._index = {token: index for index, token in enumerate(tokens)}
        self.counts: dict[str, int] = {}

    # ----------------------------------------------------------------- lookup

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={len(self)}, specials={self.specials}, lower={self.lower})"

    @property
    def pad_id(self) -> int | None:
        return self._index.get(PAD) if PAD in self.specials else None

    @property
    def unk_id(self) -> int | None:
        return self._index.get(UNK) if UNK in self.specials else None

    @property
    def bos_id(self) -> int | None:
        return self._index.get(BOS) if BOS in self.specials else None

    @property
    def eos_id(self) -> int | None:
        return self._index.get(EOS) if EOS in self.specials else None

    @property
    def special_ids(self) -> list[int]:
        return [self._index[token] for token in self.specials]

    def token_to_id(self, token: str) -> int:
        """The id of ``token``; ``<unk>``'s id for an unknown token (an error if there is no ``<unk>``)."""
        index = self._index.get(token)
        if index is not None:
            return index
        if UNK in self.specials:
            return self._index[UNK]
        raise KeyError(f"token {token!r} is not in the vocabulary and this vocabulary has no {UNK} token "
                       f"(add {UNK!r} to specials to map unknown tokens to it)")

    def id_to_token(self, index: int) -> str:
        """The token with id ``index``."""
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if not 0 <= index < len(self.tokens):
            raise IndexError(f"index must lie in [0, {len(self.tokens)}), got {index}")
        return self.tokens[int(index)]

    # ----------------------------------------------------------------- encoding

    def transform(
        self, text: str | Sequence[str], add_bos: bool = False, add_eos: bool = False
    ) -> np.ndarray | list[np.ndarray]:
        """Token ids of one text (an int64 array (T,)) or of a list of texts (a list of arrays).

        ``add_bos`` / ``add_eos`` put ``<bos>`` first / ``<eos>`` last; the vocabulary must
        have them. Unknown tokens become ``<unk>``.
        """
        self._check_fitted()
        if add_bos and BOS not in self.specials:
            raise ValueError(f"add_bos=True needs {BOS!r} in specials, which are {self.specials}")
        if add_eos and EOS not in self.specials:
            raise ValueError(f"add_eos=True needs {EOS!r} in specials, which are {self.specials}")
        if isinstance(text, str):
            return self._encode(text, add_bos, add_eos)
        if isinstance(text, (list, tuple)):
            return [self._encode(item, add_bos, add_eos) for item in text]
        raise TypeError(f"text must be a str or a list of str, got {type(text).__name__}")

    def _encode(self, text: str, add_bos: bool, add_eos: bool) -> np.ndarray:
        ids = [self.token_to_id(token) for token in self._prepare(text)]
        if add_bos:
            ids.insert(0, self._index[BOS])
        if add_eos:
            ids.append(self._index[EOS])
        return np.asarray(ids, dtype=np.int64)

    def inverse_transform(self, ids: Any, strip_specials: bool = True) -> str | list[str]:
        """Text from ids: a 1-D sequence (T,) gives a str, a 2-D array (B, T) or a list of
        sequences gives a list of str.

        ``strip_specials`` drops ``<pad>``, ``<bos>`` and ``<eos>``; ``<unk>`` is always kept
        (as the string ``"<unk>"``) so that you can see where something was lost.
        """
        self._check_fitted()
        if isinstance(ids, np.ndarray) and ids.ndim == 2:
            return [self._decode(row, strip_specials) for row in ids]
        if isinstance(ids, (list, tuple)) and ids and not _is_int(ids[0]):
            return [self._decode(row, strip_specials) for row in ids]
        return self._decode(ids, strip_specials)

    def _decode(self, ids: Any, strip_specials: bool) -> str:
        array = np.asarray(ids)
        if array.ndim != 1:
            raise ValueError(f"ids must be a 1-D sequence (T,), got shape {array.shape}")
        if array.size and (array.dtype == bool or not np.issubdtype(array.dtype, np.integer)):
            raise TypeError(f"ids must be integers, got dtype {array.dtype}")
        dropped = {self._index[token] for token in (PAD, BOS, EOS) if token in self.specials} if strip_specials else set()
        return self.join([self.id_to_token(int(index)) for index in array if int(index) not in dropped])

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet: call fit(texts) or load(path) first")

    # ----------------------------------------------------------------- files

    def _config(self) -> dict[str, Any]:
        return {}

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary to ``path`` as JSON (written to a temporary file, then renamed)."""
        self._check_fitted()
        document = {
            "format": "rnnkit-vocab",
            "version": FILE_FORMAT_VERSION,
            "kind": self.kind,
            "specials": self.specials,
            "min_freq": self.min_freq,
            "max_size": self.max_size,
            "lower": self.lower,
            **self._config(),
            "tokens": self.tokens,
            "counts": [self.counts.get(token, 0) for token in self.tokens],
        }
        _atomic_write_text(Path(path), json.dumps(document, ensure_ascii=False, indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike, **options: Any) -> "Vocab":
        """Read a vocabulary written by :meth:`save`, checking the file and saying what is wrong.

        ``Vocab.load`` returns whichever kind the file holds; ``CharVocab.load`` and
        ``WordVocab.load`` insist on their own kind. ``options`` go to the constructor
        (``WordVocab`` needs ``tokenizer=`` back if it was saved with a custom one).
        """
        path = Path(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not a valid vocabulary file, the JSON is broken ({error})") from error
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: not a valid vocabulary file, it is not UTF-8 text ({error})") from error

        def fail(reason: str) -> ValueError:
            return ValueError(f"{path}: not a valid vocabulary file, {reason}")

        if not isinstance(document, dict) or document.get("format") != "rnnkit-vocab":
            raise fail('expected a JSON object with "format": "rnnkit-vocab"')
        if document.get("version") != FILE_FORMAT_VERSION:
            raise fail(f"unsupported version {document.get('version')!r} (this rnnkit reads {FILE_FORMAT_VERSION})")
        for key in ("kind", "specials", "min_freq", "max_size", "lower", "tokens", "counts"):
            if key not in document:
                raise fail(f"the key {key!r} is missing")
        kinds = {subclass.kind: subclass for subclass in (CharVocab, WordVocab, ReversibleWordVocab,
                                                                 CorpusWordVocab)}
        target = kinds.get(document["kind"])
        if target is None:
            raise fail(f"unknown kind {document['kind']!r}, expected one of {sorted(kinds)}")
        if cls is not Vocab and target is not cls:
            raise fail(f"it holds a {document['kind']}, not a {cls.kind} (use Vocab.load to accept either)")
        tokens = document["tokens"]
        if not isinstance(tokens, list) or not all(isinstance(token, str) for token in tokens):
            raise fail('"tokens" must be a list of strings')
        if len(set(tokens)) != len(tokens):
            duplicate = next(token for token, count in Counter(tokens).items() if count > 1)
            raise fail(f'"tokens" repeats {duplicate!r}')
        counts = document["counts"]
        if not isinstance(counts, list) or len(counts) != len(tokens) or not all(_is_int(count) for count in counts):
            raise fail(f'"counts" must be a list of {len(tokens)} ints, one per token')
        try:
            vocab = target(
                specials=document["specials"],
                min_freq=document["min_freq"],
                max_size=document["max_size"],
                lower=document["lower"],
                **target._options_from_file(document, options, fail),
            )
        except (TypeError, ValueError) as error:
            raise fail(str(error)) from error
        if tokens[: len(vocab.specials)] != vocab.specials:
            raise fail(f'"tokens" must start with the specials {vocab.specials}, got {tokens[: len(vocab.specials)]}')
        if vocab.max_size is not None and len(tokens) > vocab.max_size:
            raise fail(f"it has {len(tokens)} tokens but max_size is {vocab.max_size}")
        vocab._set_tokens(tokens)
        vocab.counts = {token: int(count) for token, count in zip(tokens, counts) if token not in vocab.specials}
        vocab.fitted = True
        return vocab

    @classmethod
    def _options_from_file(cls, document: dict, options: dict, fail: Callable[[str], ValueError]) -> dict:
        if options:
            raise TypeError(f"{cls.__name__}.load takes no options, got {sorted(options)}")
        return {}


class CharVocab(Vocab):
    """A vocabulary of single characters.

    ``inverse_transform`` joins the characters back with nothing between them, so
    ``inverse_transform(transform(text)) == text`` whenever every character is known
    (and ``lower=False``).

    >>> vocab = CharVocab(specials=["<pad>", "<unk>", "<eos>"]).fit("abracadabra")
    >>> vocab.tokens
    ['<pad>', '<unk>', '<eos>', 'a', 'b', 'r', 'c', 'd']
    >>> vocab.transform("cab", add_eos=True).tolist()
    [6, 3, 4, 2]
    """

    kind = "CharVocab"

    def tokenize(self, text: str) -> list[str]:
        return list(text)

    def join(self, tokens: list[str]) -> str:
        return "".join(tokens)


class WordVocab(Vocab):
    """A vocabulary of words.

    The default tokenizer is :func:`split_words`: words (letters, digits, underscores, with
    inner apostrophes such as "don't") and single punctuation characters; whitespace only
    separates. Pass ``tokenizer=callable`` (str -> list of str) for anything else.
    ``inverse_transform`` joins tokens with single spaces, so the round trip gives
    ``" ".join(tokenize(text))``, not the original spacing.

    Parameters
    ----------
    tokenizer : callable or None
        ``tokenizer(text) -> list[str]``; None for :func:`split_words`. A vocabulary with a
        custom tokenizer saves fine, but :meth:`load` then needs ``tokenizer=`` again.
    **kwargs
        ``specials``, ``min_freq``, ``max_size``, ``lower``: see :class:`Vocab`.

    >>> vocab = WordVocab(lower=True, min_freq=2).fit(["The cat sat.", "The dog sat!"])
    >>> vocab.tokens
    ['<pad>', '<unk>', '<bos>', '<eos>', 'sat', 'the']
    >>> vocab.inverse_transform(vocab.transform("the cat sat"))
    'the <unk> sat'
    """

    kind = "WordVocab"

    def __init__(self, *, tokenizer: Callable[[str], list[str]] | None = None, **kwargs: Any):
        if tokenizer is not None and not callable(tokenizer):
            raise TypeError(f"tokenizer must be a callable str -> list of str, or None, got {tokenizer!r}")
        self.tokenizer = tokenizer
        super().__init__(**kwargs)

    def tokenize(self, text: str) -> list[str]:
        if self.tokenizer is None:
            return split_words(text)
        tokens = self.tokenizer(text)
        if not isinstance(tokens, (list, tuple)) or not all(isinstance(token, str) for token in tokens):
            raise TypeError(f"tokenizer must return a list of str, got {type(tokens).__name__}")
        return list(tokens)

    def join(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def _config(self) -> dict[str, Any]:
        return {"tokenizer": "default" if self.tokenizer is None else "custom"}

    @classmethod
    def _options_from_file(cls, document: dict, options: dict, fail: Callable[[str], ValueError]) -> dict:
        unknown = sorted(set(options) - {"tokenizer"})
        if unknown:
            raise TypeError(f"WordVocab.load takes only tokenizer=, got {unknown}")
        saved = document.get("tokenizer")
        if saved not in ("default", "custom"):
            raise fail(f'"tokenizer" must be "default" or "custom", got {saved!r}')
        tokenizer = options.get("tokenizer")
        if saved == "custom" and tokenizer is None:
            raise fail("it was saved with a custom tokenizer: pass the same one as load(path, tokenizer=...)")
        return {"tokenizer": tokenizer}


class ReversibleWordVocab(Vocab):
    """A vocabulary of words that joins its output back into ordinary text.

    Tokens come from :func:`rnnkit.data.tokenizer.tokenize`, which marks where a token touches
    its neighbour, so :meth:`inverse_transform` gives text as people write it ("Puis-je
    entrer ?", "don't"), not tokens joined by spaces ("Puis - je", "don ' t"). For a text
    whose tokens are all known, ``inverse_transform(transform(text)) == " ".join(text.split())``
    (with the options off).

    Parameters
    ----------
    strip_accents : bool
        Drop accents before tokenizing ("élève" -> "eleve"), in :meth:`fit` and
        :meth:`transform` alike; the output then has none either.
    **kwargs
        ``specials``, ``min_freq``, ``max_size``, ``lower``: see :class:`Vocab`.

    >>> vocab = ReversibleWordVocab().fit(["Puis-je entrer ?", "Je ne sais pas."])
    >>> vocab.inverse_transform(vocab.transform("Je ne sais pas entrer ?"))
    'Je ne sais pas entrer ?'
    >>> vocab.inverse_transform(vocab.transform("Puis-je ?"))
    'Puis-je ?'
    """

    kind = "ReversibleWordVocab"

    def __init__(self, *, strip_accents: bool = False, **kwargs: Any):
        if not isinstance(strip_accents, bool):
            raise TypeError(f"strip_accents must be True or False, got {strip_accents!r}")
        self.strip_accents = strip_accents
        super().__init__(**kwargs)

    def tokenize(self, text: str) -> list[str]:
        return tokenizer.tokenize(text, strip_accents=self.strip_accents)

    def join(self, tokens: list[str]) -> str:
        return tokenizer.detokenize(tokens)

    def _config(self) -> dict[str, Any]:
        return {"strip_accents": self.strip_accents}

    @classmethod
    def _options_from_file(cls, document: dict, options: dict, fail: Callable[[str], ValueError]) -> dict:
        if options:
            raise TypeError(f"ReversibleWordVocab.load takes no options, got {sorted(options)}")
        return {"strip_accents": document.get("strip_accents", False)}


class CorpusWordVocab(Vocab):
    """A vocabulary of the words of one running text, for word-level language models.

    ``mode`` says how the text is cut (:func:`rnnkit.data.tokenizer.split_running_text`):
    ``"whitespace"`` for a pre-tokenised corpus (WikiText, Penn Treebank: its tokens exactly, its
    own ``<unk>`` being this vocabulary's unknown token) or ``"words"`` for raw text (words and
    punctuation, special tokens such as ``<unk>`` and ``@-@`` kept whole). With ``line_breaks``
    every line end is the token ``<eos>`` (a special, always present then). The output joins back
    into text (:func:`rnnkit.data.tokenizer.join_running_text`): ``<eos>`` is a line end again and
    is never stripped.

    Parameters
    ----------
    mode : {"whitespace", "words"}
    line_breaks : bool
    **kwargs
        ``specials``, ``min_freq``, ``max_size``, ``lower``: see :class:`Vocab`.

    >>> vocab = CorpusWordVocab(mode="whitespace", line_breaks=True, specials=["<unk>"]).fit("a <unk> b\\na b\\n")
    >>> vocab.tokens
    ['<unk>', '<eos>', 'a', 'b']
    >>> vocab.transform("a @-@ b\\n").tolist(), vocab.inverse_transform([2, 0, 1, 3])
    ([2, 0, 3, 1], 'a <unk>\\nb')
    """

    kind = "CorpusWordVocab"

    def __init__(self, *, mode: str = "whitespace", line_breaks: bool = False, **kwargs: Any):
        if mode not in tokenizer.RUNNING_TEXT_MODES:
            raise ValueError(f"mode must be one of {list(tokenizer.RUNNING_TEXT_MODES)}, got {mode!r}")
        if not isinstance(line_breaks, bool):
            raise TypeError(f"line_breaks must be True or False, got {line_breaks!r}")
        self.mode = mode
        self.line_breaks = line_breaks
        if line_breaks:
            specials = list(kwargs.get("specials", SPECIAL_TOKENS))
            kwargs["specials"] = specials + ([EOS] if EOS not in specials else [])
        super().__init__(**kwargs)

    def tokenize(self, text: str) -> list[str]:
        return tokenizer.split_running_text(text, self.mode, self.line_breaks)

    def join(self, tokens: list[str]) -> str:
        return tokenizer.join_running_text(tokens, self.mode)

    def _decode(self, ids: Any, strip_specials: bool) -> str:
        return super()._decode(ids, False)      # <eos> is a line end here, kept; there is no <pad> or <bos>

    def _config(self) -> dict[str, Any]:
        return {"mode": self.mode, "line_breaks": self.line_breaks}

    @classmethod
    def _options_from_file(cls, document: dict, options: dict, fail: Callable[[str], ValueError]) -> dict:
        if options:
            raise TypeError(f"CorpusWordVocab.load takes no options, got {sorted(options)}")
        return {"mode": document.get("mode"), "line_breaks": document.get("line_breaks")}


# ----------------------------------------------------------------- helpers


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``.

    A crash part-way leaves the old file (or none), never half a file.
    """
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)              # mkstemp makes 0600; a vocabulary is for reading
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
