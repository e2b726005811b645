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
