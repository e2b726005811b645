"""A generated sequence-to-sequence task: rewrite human-written dates in ISO form.

Each example is a pair ``(source, target)`` of strings, e.g. ``("Wed 3 Mar 2021",
"2021-03-03")``. Sources use one of :data:`FORMATS` (numeric, spelled-out, abbreviated,
with or without weekday, in several letter cases); the target is always ``YYYY-MM-DD``.
Dates lie between :data:`FIRST_DATE` and :data:`LAST_DATE`. Two-digit years (``03/03/21``)
read 50-99 as 19xx and 00-49 as 20xx; slash dates are month first (US order), dotted dates
with a four-digit year at the end are day first (European order).

The held-out split is fixed by the calendar, not by the seed: a date belongs to the test
split when :func:`is_held_out` says so (about 10% of all dates), so no test date is ever seen
in training, in any format, whatever seed draws the training pairs.

>>> train, test = date_pairs(5, 3, seed=0)
>>> len(train), len(test)
(5, 3)
>>> all(len(target) == 10 and target[4] == "-" for _, target in train + test)
True
>>> format_date(datetime.date(2021, 3, 3), "{d} {Month} {Y}")
'3 March 2021'
"""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np

from rnnkit._validate import check_positive_int, make_rng

FIRST_DATE = datetime.date(1950, 1, 1)
LAST_DATE = datetime.date(2049, 12, 31)

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Source formats. Fields: {d} day, {dd} two-digit day, {m} month, {mm} two-digit month,
# {Month} / {Mon} month name / its first three letters, {Weekday} / {Wkd} likewise,
# {Y} four-digit year, {yy} two-digit year, {ord} day with its English suffix ("3rd").
FORMATS = (
    "{d} {Month} {Y}",              # 3 March 2021
    "{Month} {d}, {Y}",             # March 3, 2021
    "{mm}/{dd}/{yy}",               # 03/03/21 (month first)
    "{m}/{d}/{Y}",                  # 3/3/2021 (month first)
    "{Y}.{m}.{d}",                  # 2021.3.3
    "{Wkd} {d} {Mon} {Y}",          # Wed 3 Mar 2021
    "{Weekday}, {Month} {d}, {Y}",  # Wednesday, March 3, 2021
    "{d} {Mon} {Y}",                # 3 Mar 2021
    "{Mon} {d} {Y}",                # Mar 3 2021
    "{dd}.{mm}.{Y}",                # 03.03.2021 (day first)
    "{Y}{mm}{dd}",                  # 20210303
    "{ord} of {Month} {Y}",         # 3rd of March 2021
    "{Month} {ord}, {Y}",           # March 3rd, 2021
    "{Y}-{m}-{d}",                  # 2021-3-3
    "{dd} {Mon} {yy}",              # 03 Mar 21
)
CASES = ("as is", "lower", "upper")


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def format_date(date: datetime.date, pattern: str, case: str = "as is") -> str:
    """Write ``date`` in ``pattern`` (fields as in :data:`FORMATS`), then apply ``case``.

    >>> format_date(datetime.date(2021, 3, 3), "{Wkd} {ord} {Mon} {yy}", case="upper")
    'WED 3RD MAR 21'
    """
    if case not in CASES:
        raise ValueError(f"case must be one of {list(CASES)}, got {case!r}")
    month, weekday = MONTHS[date.month - 1], WEEKDAYS[date.weekday()]
    text = pattern.format(d=date.day, dd=f"{date.day:02d}", m=date.month, mm=f"{date.month:02d}", Month=month,
                          Mon=month[:3], Weekday=weekday, Wkd=weekday[:3], Y=f"{date.year:04d}",
                          yy=f"{date.year % 100:02d}", ord=_ordinal(date.day))
    return text.lower() if case == "lower" else text.upper() if case == "upper" else text


def is_held_out(date: datetime.date) -> bool:
    """True for the ~10% of calendar dates reserved for the test split (a fixed hash of the day)."""
    return (date.toordinal() * 2654435761) % 4294967296 % 10 == 0


def _random_pairs(rng: np.random.Generator, count: int, held_out: bool) -> list[tuple[str, str]]:
    first, span = FIRST_DATE.toordinal(), LAST_DATE.toordinal() - FIRST_DATE.toordinal() + 1
    pairs = []
    while len(pairs) < count:
        date = datetime.date.fromordinal(first + int(rng.integers(span)))
        if is_held_out(date) != held_out:
            continue
        pattern = FORMATS[int(rng.integers(len(FORMATS)))]
        case = CASES[0] if rng.random() < 0.6 else CASES[1 + int(rng.integers(2))]
        pairs.append((format_date(date, pattern, case), date.isoformat()))
    return pairs


def date_pairs(train_size: int = 10000, test_size: int = 1000, seed: Any = 0,
               test_seed: int = 12345) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Training and held-out ``(source, target)`` pairs.

    Parameters
    ----------
    train_size, test_size : int
        Number of pairs in each split.
    seed : int, numpy.random.Generator or None
        Draws the training pairs (dates, formats, cases).
    test_seed : int
        Draws the test pairs; keep the default for the standard, fixed test set.

    Returns
    -------
    train, test : list of (str, str)
        Sources in mixed formats, targets ``YYYY-MM-DD``. Test dates never occur in training.
    """
    train_size = check_positive_int(train_size, "train_size")
    test_size = check_positive_int(test_size, "test_size")
    train = _random_pairs(make_rng(seed), train_size, held_out=False)
    test = _random_pairs(np.random.default_rng(check_positive_int(test_seed, "test_seed", minimum=0)), test_size,
                         held_out=True)
    return train, test
