"""Tests of rnnkit.data.synthetic: structure of each task and its stated memoryless baseline."""

import numpy as np
import pytest

from rnnkit.data.synthetic import (
    ADDING_BASELINE,
    COPY_DELIMITER,
    ORDER_BASELINE,
    ORDER_SYMBOLS,
    adding_problem,
    copying_baseline,
    copying_memory,
    temporal_order,
)


def test_adding_baseline_of_predicting_one():
    _, y = adding_problem(40000, 20, seed=0)
    mse = float(np.mean((y.astype(np.float64) - 1.0) ** 2))
    # Var((s - 1)^2) for s = U + U is 1/15 - 1/36 = 0.039; 4 standard errors of the mean:
    assert mse == pytest.approx(ADDING_BASELINE, abs=4 * np.sqrt(0.039 / 40000))


def test_adding_markers_one_per_half():
    x, y = adding_problem(64, 11, seed=1)
    markers = x[:, :, 1]
    assert (markers[:, :5].sum(axis=1) == 1).all() and (markers[:, 5:].sum(axis=1) == 1).all()
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * markers).sum(axis=1), rtol=1e-6)


@pytest.mark.parametrize("blanks", [5, 30])
def test_copying_memoryless_baseline(blanks):
    """The best predictor that sees only the position (empirical marginals) scores 10 ln 8 / (T + 20)."""
    x, y = copying_memory(20000, blanks, seed=0)
    steps = blanks + 20
    losses = []
    for t in range(steps):
        counts = np.bincount(y[:, t], minlength=10) / len(y)
        losses.append(-np.mean(np.log(counts[y[:, t]])))
    # Each of the 10 symbol steps: entropy estimate of 8 uniform classes, error ~ 1e-3.
    assert np.mean(losses) == pytest.approx(copying_baseline(blanks), abs=10 * 0.002 / steps)
    assert copying_baseline(blanks) == pytest.approx(10 * np.log(8) / (blanks + 20))


def test_copying_structure():
    x, y = copying_memory(8, 7, seed=3)
    ids = x.argmax(-1)
    assert x.shape == (8, 27, 10) and (x.sum(-1) == 1).all()
    assert ((ids[:, :10] >= 1) & (ids[:, :10] <= 8)).all()
    assert (ids[:, 16] == COPY_DELIMITER).all()
    assert (ids[:, 10:16] == 0).all() and (ids[:, 17:] == 0).all()
    assert (y[:, :17] == 0).all() and (y[:, 17:] == ids[:, :10]).all()


def test_temporal_order_structure_and_chance():
    x, y = temporal_order(4000, steps=100, seed=0)
    ids = x.argmax(-1)
    marks = np.isin(ids, [ORDER_SYMBOLS.index("X"), ORDER_SYMBOLS.index("Y")])
    assert (marks.sum(axis=1) == 2).all()
    first = marks.argmax(axis=1)
    second = 99 - marks[:, ::-1].argmax(axis=1)
    assert first.min() >= 10 and first.max() <= 20 and second.min() >= 50 and second.max() <= 60
    is_y = ids == ORDER_SYMBOLS.index("Y")
    rows = np.arange(4000)
    np.testing.assert_array_equal(y, 2 * is_y[rows, first] + is_y[rows, second])
    frequencies = np.bincount(y, minlength=4) / len(y)
    chance = -np.sum(frequencies * np.log(frequencies))         # best constant prediction
    assert chance == pytest.approx(ORDER_BASELINE, abs=0.005)


def test_generators_are_seeded_and_checked():
    for make in (lambda s: adding_problem(3, 10, seed=s), lambda s: copying_memory(3, 4, seed=s),
                 lambda s: temporal_order(3, 20, seed=s)):
        a, b = make(5), make(5)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="blanks"):
        copying_memory(2, 0)
    with pytest.raises(ValueError, match="steps"):
        temporal_order(2, steps=5)
    with pytest.raises(TypeError, match="dtype"):
        temporal_order(2, dtype=np.int32)
    with pytest.raises(TypeError, match="dtype must be numpy.float32 or numpy.float64, got int64"):
        adding_problem(2, 4, dtype=np.int64)                  # would truncate the U(0, 1) values to 0
