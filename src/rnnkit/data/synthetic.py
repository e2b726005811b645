"""Seeded generators of synthetic long-dependency tasks.

Each task can only be solved by remembering something across many steps, and each has a
known "memoryless" baseline: the loss of the best predictor that ignores the far past. A
model that stays at the baseline has not learnt the long dependency.

======================  =========================  ==================================
task                    baseline                   source
======================  =========================  ==================================
``adding_problem``      MSE 1/6 ~ 0.167            Le, Jaitly and Hinton 2015
``copying_memory``      CE 10 ln 8 / (T + 20)      Arjovsky, Shah and Bengio 2016
``temporal_order``      CE ln 4 ~ 1.386            Hochreiter and Schmidhuber 1997, 6a
======================  =========================  ==================================

Glossary: B batch, T time steps (or blanks, for the copying task), V categories.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit._validate import check_dtype, check_positive_int, make_rng


ADDING_BASELINE = 1.0 / 6.0       # MSE of always predicting 1.0: the variance of U(0,1) + U(0,1)


def adding_problem(batch_size: int, steps: int, seed: Any = None, dtype: Any = np.float32):
    """The adding problem (Le, Jaitly and Hinton 2015 form).

    Each step has two channels: a value uniform in [0, 1) and a marker. Exactly one marker is
    1 in the first half of the sequence and one in the second half; the target is the sum of
    the two marked values. Always predicting 1.0 (the mean target) gives a mean squared error
    of about 1/6 = 0.167: the baseline a model must beat, which needs memory across up to
    T steps.

    Returns ``x`` (B, T, 2) and ``y`` (B, 1).
    See :data:`ADDING_BASELINE`.

    >>> x, y = adding_problem(4, 10, seed=0)
    >>> x.shape, y.shape, x[:, :, 1].sum(axis=1).tolist()
    ((4, 10, 2), (4, 1), [2.0, 2.0, 2.0, 2.0])
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    steps = check_positive_int(steps, "steps", minimum=2)
    dtype = check_dtype(dtype)
    rng = make_rng(seed)
    values = rng.random((batch_size, steps))
    half = steps // 2
    first = rng.integers(0, half, size=batch_size)
    second = rng.integers(half, steps, size=batch_size)
    markers = np.zeros((batch_size, steps))
    rows = np.arange(batch_size)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(dtype)          # (B, T, 2)
    y = (values[rows, first] + values[rows, second])[:, None].astype(dtype)
    return x, y


# --- copying memory ---------------------------------------------------------------------------

COPY_BLANK = 0                   # category 0: the blank
COPY_DELIMITER = 9               # category 9: "now reproduce the symbols"
COPY_NUM_SYMBOLS = 8             # categories 1..8: the symbols to remember
COPY_NUM_CATEGORIES = 10         # V of the inputs and of the targets
COPY_LENGTH = 10                 # how many symbols are shown, then reproduced


def copying_baseline(blanks: int) -> float:
    """The memoryless cross-entropy of :func:`copying_memory`: ``10 ln 8 / (T + 20)``.

    A model that outputs the blank for the first T + 10 steps (always right) and a uniform
    guess over the 8 symbols for the last 10 steps pays ln 8 on 10 of the T + 20 steps.

    >>> round(copying_baseline(100), 4)
    0.1733
    """
    blanks = check_positive_int(blanks, "blanks")
    return COPY_LENGTH * float(np.log(COPY_NUM_SYMBOLS)) / (blanks + 2 * COPY_LENGTH)


def copying_memory(batch_size: int, blanks: int, seed: Any = None, dtype: Any = np.float32):
    """The copying memory task (Arjovsky, Shah and Bengio 2016).

    The input is 10 symbols drawn uniformly from categories 1..8, then T - 1 blanks (0), a
    delimiter (9), and 10 more blanks: T + 20 steps. The target is blank for the first T + 10
    steps, then the 10 symbols in their original order. Remembering the symbols across T
    steps is the whole task; the memoryless baseline is :func:`copying_baseline`.

    Returns ``x`` (B, T + 20, 10) one-hot inputs in ``dtype`` and ``y`` (B, T + 20) int64
    category targets (train with a cross-entropy over all steps).

    >>> x, y = copying_memory(2, blanks=5, seed=0)
    >>> x.shape, y.shape
    ((2, 25, 10), (2, 25))
    >>> bool((y[:, -10:] == x[:, :10].argmax(-1)).all()), int(x[0, 14].argmax())  # delimiter at T + 9
    (True, 9)
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    blanks = check_positive_int(blanks, "blanks")
    dtype = check_dtype(dtype)
    rng = make_rng(seed)
    steps = blanks + 2 * COPY_LENGTH
    symbols = rng.integers(1, COPY_NUM_SYMBOLS + 1, size=(batch_size, COPY_LENGTH))   # (B, 10)
    ids = np.full((batch_size, steps), COPY_BLANK, dtype=np.int64)                   # (B, T+20)
    ids[:, :COPY_LENGTH] = symbols
    ids[:, blanks + COPY_LENGTH - 1] = COPY_DELIMITER
    targets = np.full((batch_size, steps), COPY_BLANK, dtype=np.int64)
    targets[:, -COPY_LENGTH:] = symbols
    x = np.zeros((batch_size, steps, COPY_NUM_CATEGORIES), dtype=dtype)
    np.put_along_axis(x, ids[:, :, None], 1.0, axis=-1)
    return x, targets


# --- temporal order ---------------------------------------------------------------------------

ORDER_SYMBOLS = ("a", "b", "c", "d", "B", "E", "X", "Y")    # input categories, in this order
ORDER_CLASSES = ("XX", "XY", "YX", "YY")                    # target classes
ORDER_BASELINE = float(np.log(len(ORDER_CLASSES)))          # chance cross-entropy, ln 4


def temporal_order(batch_size: int, steps: int = 100, seed: Any = None, dtype: Any = np.float32):
    """The temporal order task (Hochreiter and Schmidhuber 1997, experiment 6a).

    A sequence of ``steps`` symbols starts with ``B`` and ends with ``E``; between them every
    symbol is noise drawn from ``a b c d`` except two, each ``X`` or ``Y``: one at a step in
    [0.1 T, 0.2 T] and one in [0.5 T, 0.6 T] (steps 10-20 and 50-60 for T = 100, as in the
    paper). The class is the order of the two marks: XX, XY, YX or YY. Nothing but the two
    far-apart marks carries information, so a model without memory scores chance, ln 4.

    Returns ``x`` (B, T, 8) one-hot over :data:`ORDER_SYMBOLS` in ``dtype`` and ``y`` (B,)
    int64 class indices into :data:`ORDER_CLASSES`.

    >>> x, y = temporal_order(3, steps=100, seed=0)
    >>> x.shape, y.shape, bool((x[:, 0, 4] == 1).all() and (x[:, -1, 5] == 1).all())
    ((3, 100, 8), (3,), True)
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    steps = check_positive_int(steps, "steps", minimum=10)
    dtype = check_dtype(dtype)
    rng = make_rng(seed)
    begin, end, mark_x = ORDER_SYMBOLS.index("B"), ORDER_SYMBOLS.index("E"), ORDER_SYMBOLS.index("X")
    ids = rng.integers(0, 4, size=(batch_size, steps))                              # noise a..d
    ids[:, 0], ids[:, -1] = begin, end
    first = rng.integers(steps // 10, steps // 5 + 1, size=batch_size)             # in [0.1T, 0.2T]
    second = rng.integers(steps // 2, (6 * steps) // 10 + 1, size=batch_size)      # in [0.5T, 0.6T]
    first_is_y = rng.integers(0, 2, size=batch_size)
    second_is_y = rng.integers(0, 2, size=batch_size)
    rows = np.arange(batch_size)
    ids[rows, first] = mark_x + first_is_y
    ids[rows, second] = mark_x + second_is_y
    x = np.zeros((batch_size, steps, len(ORDER_SYMBOLS)), dtype=dtype)
    np.put_along_axis(x, ids[:, :, None], 1.0, axis=-1)
    y = (2 * first_is_y + second_is_y).astype(np.int64)                            # XX=0 XY=1 YX=2 YY=3
    return x, y
