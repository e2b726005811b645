"""Gradient clipping without PyTorch: golden values, no-op below the limit, validation."""

import math

import numpy as np
import pytest

from rnnkit import Parameter
from rnnkit.clip import clip_grad_norm_, clip_grad_value_


def with_grad(values):
    parameter = Parameter(np.zeros(np.shape(values)))
    parameter.grad[...] = values
    return parameter


def test_norm_golden_3_4_5():
    a, b = with_grad([3.0]), with_grad([[4.0]])
    grads = [a.grad, b.grad]
    total = clip_grad_norm_([a, b], max_norm=1.0)
    assert total == 5.0
    # coef = 1 / (5 + 1e-6) = 0.19999996..., so 3 * coef = 0.59999988, 4 * coef = 0.79999984
    np.testing.assert_allclose(a.grad, [3.0 / 5.000001], rtol=1e-15)
    np.testing.assert_allclose(b.grad, [[4.0 / 5.000001]], rtol=1e-15)
    np.testing.assert_allclose(a.grad, [0.6], atol=1e-6)
    np.testing.assert_allclose(b.grad, [[0.8]], atol=1e-6)
    assert a.grad is grads[0] and b.grad is grads[1]  # in place


def test_norm_no_op_below_limit():
    a = with_grad([3.0, -4.0])
    assert clip_grad_norm_(a, max_norm=5.1) == 5.0
    np.testing.assert_array_equal(a.grad, [3.0, -4.0])
    # exactly at the limit, the 1e-6 keeps the coefficient just under 1: a tiny shrink, as in torch
    assert clip_grad_norm_(a, max_norm=5.0) == 5.0
    np.testing.assert_allclose(a.grad, [3.0 * 5 / 5.000001, -4.0 * 5 / 5.000001], rtol=1e-15)


def test_norm_inf_and_one():
    a, b = with_grad([1.0, -6.0]), with_grad([2.0])
    assert clip_grad_norm_([a, b], max_norm=3.0, norm_type=math.inf) == 6.0
    np.testing.assert_allclose(a.grad, [0.5, -3.0], rtol=1e-6)
    np.testing.assert_allclose(b.grad, [1.0], rtol=1e-6)
    c = with_grad([1.0, -6.0, 2.0])
    assert clip_grad_norm_(c, max_norm=100.0, norm_type="inf") == 6.0
    assert clip_grad_norm_(c, max_norm=100.0, norm_type=1) == 9.0


def test_norm_skips_frozen_and_empty():
    a = with_grad([3.0, 4.0])
    frozen = Parameter(np.zeros(1), requires_grad=False)
    frozen.grad[...] = 100.0
    assert clip_grad_norm_([a, frozen], max_norm=10.0) == 5.0
    np.testing.assert_array_equal(frozen.grad, [100.0])
    assert clip_grad_norm_([], max_norm=1.0) == 0.0
    assert clip_grad_norm_([frozen], max_norm=1.0) == 0.0


def test_norm_returns_non_finite_without_raising():
    a, b = with_grad([3.0, np.inf]), with_grad([1.0])
    assert clip_grad_norm_([a, b], max_norm=1.0) == math.inf
    # as torch: coefficient 1 / inf = 0, so finite entries become 0 and inf * 0 = nan
    np.testing.assert_array_equal(b.grad, [0.0])
    assert math.isnan(a.grad[1])
    c = with_grad([np.nan, 1.0])
    assert math.isnan(clip_grad_norm_(c, max_norm=1.0))


def test_value_golden_and_in_place():
    a, b = with_grad([-2.0, 0.25, 7.0]), with_grad([[0.5, -0.5000001]])
    grad = a.grad
    assert clip_grad_value_([a, b], 0.5) is None
    assert a.grad is grad
    np.testing.assert_array_equal(a.grad, [-0.5, 0.25, 0.5])
    np.testing.assert_array_equal(b.grad, [[0.5, -0.5]])


def test_value_keeps_nan_and_skips_frozen():
    a = with_grad([np.nan, -3.0])
    frozen = Parameter(np.zeros(1), requires_grad=False)
    frozen.grad[...] = 9.0
    clip_grad_value_([a, frozen], 1.0)
    assert math.isnan(a.grad[0]) and a.grad[1] == -1.0
    assert frozen.grad[0] == 9.0


def test_float32_grads_stay_float32():
    a = Parameter(np.zeros(2, dtype=np.float32))
    a.grad[...] = [30.0, 40.0]
    assert clip_grad_norm_(a, 5.0) == pytest.approx(50.0)
    clip_grad_value_(a, 1.0)
    assert a.grad.dtype == np.float32


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda p: clip_grad_norm_(p, -1.0), ValueError, r"max_norm must be a number >= 0, got -1.0"),
        (lambda p: clip_grad_norm_(p, math.nan), ValueError, r"max_norm must be a number >= 0, got nan"),
        (lambda p: clip_grad_norm_(p, 1.0, norm_type=0), ValueError, r"norm_type must be a number > 0 or 'inf', got 0"),
        (lambda p: clip_grad_norm_(p, 1.0, norm_type="two"), ValueError, r"norm_type must be a number > 0 or 'inf', got 'two'"),
        (lambda p: clip_grad_value_(p, -0.1), ValueError, r"clip_value must be a number >= 0, got -0.1"),
        (lambda p: clip_grad_norm_([p, np.ones(2)], 1.0), TypeError, r"expects Parameters, got ndarray at position 1"),
        (lambda p: clip_grad_value_(p.grad, 1.0), TypeError, r"expects Parameters, got float64 at position 0"),
        (lambda p: clip_grad_value_(5, 1.0), TypeError, r"a Parameter or an iterable of Parameters, got int"),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call(with_grad([1.0, 2.0]))
