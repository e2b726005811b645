"""Corpus BLEU and chrF: how close translations are to their references, as sacreBLEU reports them.

Both scores compare detokenised text (what a reader sees), so two systems tokenised differently
are compared on the same footing. Our own implementation of the published definitions, with
sacreBLEU's defaults:

BLEU (Papineni et al., 2002) with the ``13a`` tokenisation of mteval-v13a (:func:`tokenize_13a`)::

    p_n   = sum over sentences of matched n-grams / sum of hypothesis n-grams   (n = 1..4)
            matched: each hypothesis n-gram counts at most as often as in the reference
            (with several references, as often as in the one holding it most)
    r     = sum over sentences of the reference length (the closest one; ties: the shorter)
    c     = sum of the hypothesis lengths
    BP    = 1 if c > r else exp(1 - r / c)           (0 when c = 0)
    BLEU  = 100 * BP * exp(mean_n log p_n)

A zero count gets sacreBLEU's default ``"exp"`` smoothing: the k-th order with no match
counts as p_n = 1 / (2^k * hypothesis n-grams); ``smooth="none"`` gives BLEU 0 instead.
BLEU is 0 when nothing matches at all.

chrF (Popovic, 2015), character n-grams of orders 1..6 with spaces removed, beta = 2::

    for each order n: precision P_n = matched / hypothesis n-grams, recall R_n = matched /
                      reference n-grams (counts summed over the corpus; a sentence whose
                      reference is shorter than n adds nothing to either count, as in sacreBLEU)
    P, R  = means of P_n and R_n over the orders both sides have n-grams of
    chrF  = 100 * (1 + beta^2) P R / (beta^2 P + R)

With several references chrF takes, sentence by sentence, the reference that scores best.

>>> hypotheses = ["The cat sat on the mat.", "Puis-je entrer ?"]
>>> references = ["The cat sat on the mat.", "Puis-je entrer ?"]
>>> round(corpus_bleu(hypotheses, references).score, 6), round(corpus_chrf(hypotheses, references), 6)
(100.0, 100.0)
>>> tokenize_13a("Puis-je payer 3,50 $, s'il vous plaît?")
"Puis-je payer 3,50 $ , s'il vous plaît ?"
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

MAX_ORDER = 4          # BLEU's n-gram orders 1..4
CHAR_ORDER = 6         # chrF's character n-gram orders 1..6
BETA = 2               # chrF weighs recall beta times as much as precision

# mteval-v13a's tokenisation, in its order: these ASCII symbols become tokens of their own
# ({|}~ [\]^_` space to & ( to + :;<=>? @ /), but not the apostrophe, the hyphen, "." or ",";
# "." and "," only when not between digits ("3.5" and "1,000" stay whole); "-" after a digit.
_SYMBOLS = re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])")
_PERIOD_COMMA_AFTER_NON_DIGIT = re.compile(r"([^0-9])([\.,])")
_PERIOD_COMMA_BEFORE_NON_DIGIT = re.compile(r"([\.,])([^0-9])")
_DASH_AFTER_DIGIT = re.compile(r"([0-9])(-)")
_ENTITIES = (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"))


def tokenize_13a(text: str) -> str:
    """The ``13a`` tokenisation (mteval-v13a, sacreBLEU's default): tokens joined by single spaces.

    >>> tokenize_13a('He said: "3.5 km, 1,000 m."')
    'He said : " 3.5 km , 1,000 m . "'
    >>> tokenize_13a("l'homme est grand-p\u00e8re, 1990-2000")
    "l'homme est grand-p\u00e8re , 1990 - 2000"
    """
    text = text.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in text:
        for entity, character in _ENTITIES:
            text = text.replace(entity, character)
    text = f" {text} "
    text = _SYMBOLS.sub(r" \1 ", text)
    text = _PERIOD_COMMA_AFTER_NON_DIGIT.sub(r"\1 \2 ", text)
    text = _PERIOD_COMMA_BEFORE_NON_DIGIT.sub(r" \1 \2", text)
    text = _DASH_AFTER_DIGIT.sub(r"\1 \2 ", text)
    return " ".join(text.split())


def _ngrams(tokens: Sequence[str], order: int) -> Counter:
    return Counter(tuple(tokens[start:start + order]) for start in range(len(tokens) - order + 1))


@dataclass
class BLEUScore:
    """A corpus BLEU score and the statistics behind it (``score`` in [0, 100])."""

    score: float
    precisions: list[float]          # p_1 .. p_4 in percent (smoothed where a count was 0)
    brevity_penalty: float
    hypothesis_length: int           # c
    reference_length: int            # r
    matches: list[int]               # matched n-grams per order
    totals: list[int]                # hypothesis n-grams per order

    def __str__(self) -> str:
        shown = "/".join(f"{precision:.1f}" for precision in self.precisions)
        return (f"BLEU = {self.score:.2f} {shown} (BP = {self.brevity_penalty:.3f} "
                f"ratio = {self.hypothesis_length / max(self.reference_length, 1):.3f} "
                f"hyp_len = {self.hypothesis_length} ref_len = {self.reference_length})")


def _reference_sets(hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]]):
    """One list of references per hypothesis; errors say which sizes differ."""
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError("hypotheses and references must be lists of strings, not a single string")
    hypotheses = list(hypotheses)
    references = list(references)
    if references and not isinstance(references[0], str):
        # sacreBLEU's layout: one stream per reference, each as long as the hypotheses
        streams = [list(stream) for stream in references]
        for number, stream in enumerate(streams):
            if len(stream) != len(hypotheses):
                raise ValueError(f"reference stream {number} has {len(stream)} sentences, "
                                 f"the hypotheses {len(hypotheses)}")
        sets = [list(group) for group in zip(*streams)] if streams else []
    else:
        if len(references) != len(hypotheses):
            raise ValueError(f"got {len(hypotheses)} hypotheses and {len(references)} references; "
                             f"they must pair up one to one")
        sets = [[reference] for reference in references]
    for index, text in enumerate(hypotheses):
        if not isinstance(text, str):
            raise TypeError(f"hypotheses[{index}] must be a str, got {type(text).__name__}")
    return hypotheses, sets


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]],
                smooth: str = "exp", lowercase: bool = False, tokenize: bool = True) -> BLEUScore:
    """Corpus BLEU of detokenised ``hypotheses`` against ``references`` (sacreBLEU's defaults).

    Parameters
    ----------
    hypotheses : list of str
        One system output per sentence.
    references : list of str, or list of reference streams
        One reference per hypothesis, or (as sacreBLEU takes them) a list of streams, each a
        list with one reference per hypothesis.
    smooth : {"exp", "none"}
        What a zero n-gram count gives (see the module docstring).
    lowercase : bool
        Compare lower-cased text.
    tokenize : bool
        Apply :func:`tokenize_13a` first (False: split at whitespace only).
    """
    if smooth not in ("exp", "none"):
        raise ValueError(f"smooth must be 'exp' or 'none', got {smooth!r}")
    return bleu_from_statistics(bleu_statistics(hypotheses, references, lowercase, tokenize), smooth)


def bleu_statistics(hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]],
                    lowercase: bool = False, tokenize: bool = True) -> list[int]:
    """The counts corpus BLEU is computed from, which add up over parts of a corpus.

    ``[c, r, matches_1, .., matches_4, totals_1, .., totals_4]``: hypothesis and reference
    lengths, matched and hypothesis n-grams per order (see :func:`corpus_bleu` for the arguments).
    The element-wise sum of the statistics of the parts of a corpus, given to
    :func:`bleu_from_statistics`, gives the corpus's BLEU.

    >>> first = bleu_statistics(["the cat sat"], ["the cat sat down"])
    >>> second = bleu_statistics(["a dog"], ["a dog"])
    >>> first
    [3, 4, 3, 2, 1, 0, 3, 2, 1, 0]
    >>> bleu_from_statistics([a + b for a, b in zip(first, second)]).score == corpus_bleu(
    ...     ["the cat sat", "a dog"], ["the cat sat down", "a dog"]).score
    True
    """
    hypotheses, reference_sets = _reference_sets(hypotheses, references)

    def prepare(text: str) -> list[str]:
        text = text.lower() if lowercase else text
        return (tokenize_13a(text) if tokenize else text).split()

    matches, totals = [0] * MAX_ORDER, [0] * MAX_ORDER
    hypothesis_length = reference_length = 0
    for hypothesis, group in zip(hypotheses, reference_sets):
        tokens = prepare(hypothesis)
        reference_tokens = [prepare(reference) for reference in group]
        hypothesis_length += len(tokens)
        # the reference length closest to the hypothesis length; a tie goes to the shorter one
        reference_length += min((abs(len(ref) - len(tokens)), len(ref)) for ref in reference_tokens)[1]
        for order in range(1, MAX_ORDER + 1):
            counts = _ngrams(tokens, order)
            most: Counter = Counter()
            for ref in reference_tokens:
                most |= _ngrams(ref, order)                       # per n-gram: the largest count
            matches[order - 1] += sum(min(count, most[gram]) for gram, count in counts.items())
            totals[order - 1] += max(len(tokens) - order + 1, 0)
    return [hypothesis_length, reference_length, *matches, *totals]


def bleu_from_statistics(statistics: Sequence[float], smooth: str = "exp") -> BLEUScore:
    """Corpus BLEU from :func:`bleu_statistics` (summed over the parts of a corpus); counts given
    as floats (an MPI sum) are read as the integers they hold."""
    if smooth not in ("exp", "none"):
        raise ValueError(f"smooth must be 'exp' or 'none', got {smooth!r}")
    if len(statistics) != 2 + 2 * MAX_ORDER:
        raise ValueError(f"expected {2 + 2 * MAX_ORDER} BLEU statistics (c, r, matches and totals per order), "
                         f"got {len(statistics)}")
    counts = [round(value) for value in statistics]
    hypothesis_length, reference_length = counts[0], counts[1]
    matches, totals = counts[2:2 + MAX_ORDER], counts[2 + MAX_ORDER:]
    if hypothesis_length == 0:
        brevity_penalty = 0.0
    elif hypothesis_length < reference_length:
        brevity_penalty = math.exp(1.0 - reference_length / hypothesis_length)
    else:
        brevity_penalty = 1.0
    precisions = [0.0] * MAX_ORDER
    if not any(matches):
        return BLEUScore(0.0, precisions, brevity_penalty, hypothesis_length, reference_length, matches, totals)
    unmatched_orders = 0
    for order in range(MAX_ORDER):
        if totals[order] == 0:                                    # sentences too short for this order
            break
        if matches[order] > 0:
            precisions[order] = 100.0 * matches[order] / totals[order]
        elif smooth == "exp":
            unmatched_orders += 1
            precisions[order] = 100.0 / (2 ** unmatched_orders * totals[order])
    if min(precisions) == 0.0:
        score = 0.0
    else:
        score = brevity_penalty * math.exp(sum(math.log(p) for p in precisions) / MAX_ORDER)
    return BLEUScore(score, precisions, brevity_penalty, hypothesis_length, reference_length, matches, totals)


def _char_ngrams(text: str, order: int) -> Counter:
    return Counter(text[start:start + order] for start in range(len(text) - order + 1))


def _chrf_statistics(hypothesis: str, reference: str) -> list[int]:
    """(hypothesis n-grams, reference n-grams, matches) for each order 1..6, flattened."""
    hypothesis, reference = "".join(hypothesis.split()), "".join(reference.split())
    statistics = []
    for order in range(1, CHAR_ORDER + 1):
        hyp, ref = _char_ngrams(hypothesis, order), _char_ngrams(reference, order)
        if not ref:                    # a reference too short for this order: it counts for neither side
            hyp = Counter()
        statistics += [sum(hyp.values()), sum(ref.values()), sum((hyp & ref).values())]
    return statistics


def _chrf_from_statistics(statistics: Sequence[float]) -> float:
    precision = recall = 0.0
    orders = 0
    for order in range(CHAR_ORDER):
        hypothesis_count, reference_count, matched = statistics[3 * order: 3 * order + 3]
        if hypothesis_count > 0 and reference_count > 0:
            precision += matched / hypothesis_count
            recall += matched / reference_count
            orders += 1
    if orders == 0:
        return 0.0
    precision, recall = precision / orders, recall / orders
    if precision + recall == 0.0:
        return 0.0
    factor = BETA ** 2
    return 100.0 * (1 + factor) * precision * recall / (factor * precision + recall)


def chrf_statistics(hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]],
                    lowercase: bool = False) -> list[int]:
    """The counts corpus chrF is computed from, which add up over parts of a corpus.

    For each character n-gram order 1..6: hypothesis n-grams, reference n-grams and matches
    (18 numbers), summed over the sentences, each sentence with the reference that scores best.
    The element-wise sum over the parts of a corpus, given to :func:`chrf_from_statistics`,
    gives the corpus's chrF.

    >>> first, second = chrf_statistics(["abc"], ["abd"]), chrf_statistics(["xyz"], ["xyz"])
    >>> chrf_from_statistics([a + b for a, b in zip(first, second)]) == corpus_chrf(["abc", "xyz"], ["abd", "xyz"])
    True
    """
    hypotheses, reference_sets = _reference_sets(hypotheses, references)
    totals = [0] * (3 * CHAR_ORDER)
    for hypothesis, group in zip(hypotheses, reference_sets):
        if lowercase:
            hypothesis, group = hypothesis.lower(), [reference.lower() for reference in group]
        candidates = [_chrf_statistics(hypothesis, reference) for reference in group]
        best = max(candidates, key=_chrf_from_statistics)         # first of equals wins
        totals = [total + value for total, value in zip(totals, best)]
    return totals


def chrf_from_statistics(statistics: Sequence[float]) -> float:
    """Corpus chrF from :func:`chrf_statistics` (summed over the parts of a corpus), in [0, 100]."""
    if len(statistics) != 3 * CHAR_ORDER:
        raise ValueError(f"expected {3 * CHAR_ORDER} chrF statistics (hypothesis, reference and matched "
                         f"n-grams per order), got {len(statistics)}")
    return _chrf_from_statistics([round(value) for value in statistics])


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]],
                lowercase: bool = False) -> float:
    """Corpus chrF (character 6-grams, beta 2, spaces ignored), in [0, 100]; sacreBLEU's ``CHRF()``."""
    return _chrf_from_statistics(chrf_statistics(hypotheses, references, lowercase))


def translation_scores(hypotheses: Iterable[str], references: Iterable[str]) -> dict[str, float]:
    """``{"bleu": ..., "chrf": ...}`` of detokenised outputs against one reference each."""
    hypotheses, references = list(hypotheses), list(references)
    return {"bleu": corpus_bleu(hypotheses, references).score, "chrf": corpus_chrf(hypotheses, references)}
