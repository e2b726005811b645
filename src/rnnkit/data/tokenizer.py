"""A word tokeniser that round-trips: what it splits, :func:`detokenize` joins back.

Words are runs of letters and digits; every other visible character (punctuation, hyphens,
apostrophes) is a token of its own, except the apostrophes of elisions and clitics, which stay
with their word: French ``l'`` ``qu'`` ``jusqu'`` (``l'homme`` -> ``l'`` ``homme``) and English
``'s`` ``'re`` ``'ve`` ``'ll`` ``'d`` ``'m`` ``n't`` (``don't`` -> ``do`` ``n't``).

A token written against its neighbour with no space between them carries the mark
:data:`JOINER` on that side, so the spacing of the text is part of the tokens::

    "Puis-je entrer ?"  ->  Puis  ￭-￭  je  entrer  ?
    "Can't you?"        ->  Ca  ￭n't  you  ￭?
    "l'homme, 3.5 km."  ->  l'￭  homme  ￭,  3  ￭.￭  5  km  ￭.

Words themselves never carry the mark (the mark goes on the punctuation side of each join), so
"je" in "Puis-je" is the same token as "je" anywhere else. :func:`detokenize` puts a space
between two tokens unless a mark says they touch:
``detokenize(tokenize(text)) == " ".join(text.split())`` for every text without the mark
character itself (runs of whitespace become one space; that is the only change).

Options, never applied silently: ``lower`` (lower-case first) and ``strip_accents`` (drop
combining accents after Unicode NFD: "élève" -> "eleve"); both change the text that comes back.

>>> tokenize("Qu'est-ce que c'est ?")
["Qu'￭", 'est', '￭-￭', 'ce', 'que', "c'￭", 'est', '?']
>>> detokenize(tokenize("Qu'est-ce que c'est ?"))
"Qu'est-ce que c'est ?"
>>> tokenize("I don't know, Tom's dog.")
['I', 'do', "￭n't", 'know', '￭,', 'Tom', "￭'s", 'dog', '￭.']
"""

from __future__ import annotations

import re
import unicodedata

JOINER = "\uffed"   # "￭": this side of the token touches its neighbour (no space between)

APOSTROPHES = "'\u2019"
# English clitics that take the apostrophe with them ("Tom's" -> "Tom" "'s").
ENGLISH_CLITICS = ("s", "re", "ve", "ll", "d", "m")

# A text is words (letters and digits, "_" too), single visible other characters, or spaces.
_PIECES = re.compile(r"[^\W_]+|\s+|.", re.DOTALL)


def normalize(text: str, lower: bool = False, strip_accents: bool = False) -> str:
    """``text`` lower-cased and/or without accents (both off by default: the text unchanged).

    >>> normalize("Élève à Noël", lower=True, strip_accents=True)
    'eleve a noel'
    """
    if lower:
        text = text.lower()
    if strip_accents:
        decomposed = unicodedata.normalize("NFD", text)
        text = unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))
    return text


def _words_and_marks(text: str) -> list[tuple[str, bool]]:
    """(piece, touches the previous piece) for each non-space piece, apostrophes already grouped."""
    raw: list[tuple[str, bool]] = []
    touching = False
    for match in _PIECES.finditer(text):
        piece = match.group()
        if piece.isspace():
            touching = False
            continue
        raw.append((piece, touching and bool(raw)))
        touching = True
    # group apostrophes: X ' Y (all touching, X and Y words) becomes "X'" "Y" or "X" "'Y" / "n't"
    pieces: list[tuple[str, bool]] = []
    index = 0
    while index < len(raw):
        piece, touches = raw[index]
        if (index + 2 < len(raw) and _is_word(piece) and raw[index + 1][0] in APOSTROPHES and raw[index + 1][1]
                and _is_word(raw[index + 2][0]) and raw[index + 2][1]):
            apostrophe, after = raw[index + 1][0], raw[index + 2][0]
            if after.lower() == "t" and piece.lower().endswith("n") and len(piece) > 1:
                pieces += [(piece[:-1], touches), (piece[-1] + apostrophe + after, True)]     # do n't
            elif after.lower() in ENGLISH_CLITICS:
                pieces += [(piece, touches), (apostrophe + after, True)]                     # Tom 's
            else:
                pieces += [(piece + apostrophe, touches), (after, True)]                     # l' homme
            index += 3
            continue
        pieces.append((piece, touches))
        index += 1
    return pieces


def _is_word(piece: str) -> bool:
    return piece[:1].isalnum()


def tokenize(text: str, lower: bool = False, strip_accents: bool = False) -> list[str]:
    """Tokens of ``text`` with :data:`JOINER` marks where they touch (see the module docstring)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    pieces = _words_and_marks(normalize(text, lower, strip_accents))
    tokens = [piece for piece, _ in pieces]
    for index in range(1, len(pieces)):
        if not pieces[index][1]:
            continue
        previous, current = pieces[index - 1][0], pieces[index][0]
        # the mark goes on the punctuation side (an elision "l'", a clitic "'s", a symbol), so a
        # word keeps one spelling wherever it stands
        if previous[-1] in APOSTROPHES and _is_word(previous):
            tokens[index - 1] = tokens[index - 1] + JOINER
        elif not _is_word(current) or current.lower() == "n't" or _is_word(previous):
            tokens[index] = JOINER + tokens[index]
        else:
            tokens[index - 1] = tokens[index - 1] + JOINER
    return tokens


def detokenize(tokens: list[str]) -> str:
    """The text of ``tokens``: a space between two tokens unless a :data:`JOINER` says they touch."""
    parts: list[str] = []
    glue = True                                           # no space before the first token
    for token in tokens:
        starts, ends = token.startswith(JOINER), token.endswith(JOINER) and len(token) > 1
        if not (glue or starts):
            parts.append(" ")
        parts.append(token.strip(JOINER) or token)
        glue = ends
    return "".join(parts)


# --- running text for language models ------------------------------------------------------------
# A word-level language model reads one long text. Two ways to cut it into words:
#
#   "whitespace"  the text is already tokenised (WikiText, Penn Treebank): its tokens are exactly
#                 what whitespace separates, "<unk>" and WikiText's "@-@" included; joined back
#                 with single spaces, the corpus's own spelling.
#   "words"       raw text: :func:`tokenize` (words, punctuation marked where it touches), except
#                 that special tokens ("<unk>", "<eos>", "@-@", "@,@", "@.@") stay whole; joined
#                 back with :func:`detokenize`, so generated text reads as text.
#
# Line breaks become the token LINE_BREAK (one per line end, blank lines included, as in the usual
# WikiText setup) when they carry meaning, and plain spaces in hard-wrapped prose, where a line
# ends wherever the page did (:func:`line_breaks_carry_meaning`).
RUNNING_TEXT_MODES = ("whitespace", "words")
LINE_BREAK = "<eos>"
# Tokens a pre-tokenised corpus writes as one unit: "<unk>", "<eos>" ..., and WikiText's joined
# separators "@-@" (hyphen), "@,@" (thousands), "@.@" (decimal point).
SPECIAL_TOKEN = re.compile(r"<[A-Za-z_]+>|@[^\s@]@")
WIKITEXT_MARKERS = ("<unk>", "@-@", "@,@", "@.@")
_SENTENCE_PUNCTUATION = frozenset(".,;:!?")


def looks_pretokenized(text: str, sample_chars: int = 2_000_000) -> tuple[bool, str]:
    """Whether ``text`` is already tokenised, and why (read from its first ``sample_chars``).

    Yes when its whitespace-separated tokens include ``<unk>`` or WikiText's ``@-@``, ``@,@``,
    ``@.@``, or when at least 20 of its tokens are or end in , . ; : ! ? and at least 80% of those
    are the mark alone (punctuation already split from the words, as in "Hello , world .").

    >>> looks_pretokenized("the <unk> of 1 @,@ 000 men .")
    (True, 'it holds <unk>, @,@')
    >>> looks_pretokenized("Hello, world. " * 30)[0], looks_pretokenized("Hello , world . " * 30)[0]
    (False, True)
    """
    tokens = text[:sample_chars].split()
    present = set(tokens)
    markers = [marker for marker in WIKITEXT_MARKERS if marker in present]
    if markers:
        return True, f"it holds {', '.join(markers)}"
    alone = sum(1 for token in tokens if token in _SENTENCE_PUNCTUATION)
    attached = sum(1 for token in tokens if len(token) > 1 and token[-1] in _SENTENCE_PUNCTUATION)
    if alone + attached >= 20 and alone >= 0.8 * (alone + attached):
        return True, f"{alone / (alone + attached):.0%} of its punctuation stands apart from the words"
    if alone + attached < 20:
        return False, "it has too little punctuation to tell"
    return False, f"only {alone / (alone + attached):.0%} of its punctuation stands apart from the words"


def line_breaks_carry_meaning(text: str, sample_chars: int = 2_000_000) -> tuple[bool, str]:
    """Whether the line ends of ``text`` mean something (verse, one item or paragraph per line), and why.

    Hard-wrapped prose breaks long lines inside sentences: a line ends in a letter, digit or
    comma and the next one goes on in lower case. When more than a quarter of the breaks between
    two non-empty lines look like that and the median non-empty line is at least 40 characters
    long, the text is hard-wrapped and its line breaks are spaces; otherwise every line end is a
    token (verse, one name or item per line, one paragraph per line as in WikiText).

    >>> wrapped = ("The cat sat on the long mat of the old stone\\nhouse, and the dog lay on the warm boards of\\n"
    ...            "the floor by the fire until the night was over.\\n")
    >>> line_breaks_carry_meaning(wrapped * 5)
    (False, '71% of its line breaks fall inside a sentence, in lines of 44 characters (median): hard-wrapped')
    >>> line_breaks_carry_meaning("First Citizen:\\nBefore we proceed,\\nHear me speak.\\n" * 5)[0]
    True
    """
    lines = text[:sample_chars].split("\n")
    lengths = sorted(len(line.strip()) for line in lines if line.strip())
    median = lengths[len(lengths) // 2] if lengths else 0
    pairs = continued = 0
    for before, after in zip(lines, lines[1:]):
        before, after = before.rstrip(), after.lstrip()
        if not before or not after:
            continue
        pairs += 1
        if (before[-1].isalnum() or before[-1] == ",") and after[0].islower():
            continued += 1
    if pairs == 0:
        return True, "it has no consecutive non-empty lines"
    share = continued / pairs
    if share > 0.25 and median >= 40:
        return False, f"{share:.0%} of its line breaks fall inside a sentence, in lines of {median} characters " \
                      f"(median): hard-wrapped"
    if share > 0.25:
        return True, f"its lines are short ({median} characters, median): one item per line"
    return True, f"only {share:.0%} of its line breaks fall inside a sentence"


def _words_keeping_specials(line: str) -> list[str]:
    """:func:`tokenize` of ``line`` with :data:`SPECIAL_TOKEN` matches kept whole (as separate words)."""
    tokens: list[str] = []
    start = 0
    for match in SPECIAL_TOKEN.finditer(line):
        tokens += tokenize(line[start:match.start()])
        tokens.append(match.group())
        start = match.end()
    return tokens + tokenize(line[start:])


def split_running_text(text: str, mode: str, line_breaks: bool) -> list[str]:
    """The tokens of ``text`` read as running text (see :data:`RUNNING_TEXT_MODES`).

    With ``line_breaks`` every line end ("\\n", "\\r\\n") adds :data:`LINE_BREAK`; a last line
    without one adds none. Lines are cut one by one, so a text read in pieces that end at line
    ends gives the same tokens as the whole text.

    >>> split_running_text("a <unk> of 1 @,@ 000 .\\n\\n", "whitespace", line_breaks=True)
    ['a', '<unk>', 'of', '1', '@,@', '000', '.', '<eos>', '<eos>']
    >>> split_running_text("It's <unk>-free.", "words", line_breaks=False)
    ['It', "￭'s", '<unk>', '-￭', 'free', '￭.']
    """
    if mode not in RUNNING_TEXT_MODES:
        raise ValueError(f"mode must be one of {list(RUNNING_TEXT_MODES)}, got {mode!r}")
    split = str.split if mode == "whitespace" else _words_keeping_specials
    tokens: list[str] = []
    lines = text.split("\n")
    for index, line in enumerate(lines):
        tokens += split(line)
        if line_breaks and index < len(lines) - 1:
            tokens.append(LINE_BREAK)
    return tokens


def join_running_text(tokens: list[str], mode: str) -> str:
    """The text of ``tokens`` (from :func:`split_running_text`): :data:`LINE_BREAK` is a line end.

    >>> join_running_text(['a', '<unk>', 'of', '1', '@,@', '000', '<eos>', 'b'], "whitespace")
    'a <unk> of 1 @,@ 000\\nb'
    >>> join_running_text(split_running_text("It's <unk>-free.\\nYes!", "words", True), "words")
    "It's <unk> -free.\\nYes!"
    """
    if mode not in RUNNING_TEXT_MODES:
        raise ValueError(f"mode must be one of {list(RUNNING_TEXT_MODES)}, got {mode!r}")
    lines: list[list[str]] = [[]]
    for token in tokens:
        if token == LINE_BREAK:
            lines.append([])
        else:
            lines[-1].append(token)
    join = " ".join if mode == "whitespace" else detokenize
    return "\n".join(join(line) for line in lines)
