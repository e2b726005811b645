"""Seeded generators of synthetic long-dependency tasks.

Glossary: B batch, T time steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit._validate import check_positive_int, make_rng


def adding_problem(batch_size: int, steps: int, seed: Any = None, dtype: Any = np.float32):
    """The adding problem (Le, Jaitly and Hinton 2015 form).

    Each step has two channels: a value uniform in [0, 1) and a marker. Exactly one marker is
    1 in the first half of the sequence and one in the second half; the target is the sum of
    the two marked values. Always predicting 1.0 (the mean target) gives a mean squared error
    of about 1/6 = 0.167: the baseline a model must beat, which needs memory across up to
    T steps.

    Returns ``x`` (B, T, 2) and ``y`` (B, 1).

    >>> x, y = adding_problem(4, 10, seed=0)
    >>> x.shape, y.shape, x[:, :, 1].sum(axis=1).tolist()
    ((4, 10, 2), (4, 1), [2.0, 2.0, 2.0, 2.0])
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    steps = check_positive_int(steps, "steps", minimum=2)
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
