"""Tests of rnnkit.losses that need no PyTorch: gradient checks, golden values, extremes, errors.

PyTorch parity lives in test_losses_torch.py so that these still run when torch is absent.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import pytest

from rnnkit.losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge,
    huber,
    log_softmax,
    mse,
    softmax,
)

B, T, V, D = 3, 4, 5, 2


# --- helpers --------------------------------------------------------------------------------


def numerical_gradient(loss_of, x, step=1e-6):
    """Central differences of the scalar ``loss_of(x)`` with respect to every entry of float64 ``x``."""
    x = x.copy()
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + step
        plus = loss_of(x)
        x[index] = original - step
        minus = loss_of(x)
        x[index] = original
        grad[index] = (plus - minus) / (2 * step)
    return grad


def check_gradient(loss_fn, x, *args, **kwargs):
    loss, grad = loss_fn(x, *args, **kwargs)
    assert isinstance(loss, float)
    assert grad.shape == x.shape and grad.dtype == x.dtype
    expected = numerical_gradient(lambda z: loss_fn(z, *args, **kwargs)[0], x)
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-8)
    return grad


@contextlib.contextmanager
def no_numerical_warnings():
    """Fail on any Python warning and on NumPy overflow / divide-by-zero / invalid operations."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            yield


def away_from(values, kink, gap=0.05):
    """Shift entries of ``values`` within ``gap`` of ``kink`` so a finite difference cannot straddle it."""
    return np.where(np.abs(values - kink) < gap, values + 2 * gap, values)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def random_mask(rng, shape):
    mask = rng.random(shape) < 0.6
    mask.flat[0] = True  # at least one counted position
    mask.flat[-1] = False  # at least one padded position
    return mask


MASK_SHAPES = [None, (B,), (B, T)]


# --- gradient checks ------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("mask_shape", MASK_SHAPES)
def test_mse_gradient(rng, reduction, mask_shape):
    pred, target = rng.normal(size=(2, B, T, D))
    mask = None if mask_shape is None else random_mask(rng, mask_shape)
    grad = check_gradient(mse, pred, target, reduction=reduction, mask=mask)
    if mask is not None:
        assert np.all(grad[~mask] == 0)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("mask_shape", MASK_SHAPES)
@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_gradient(rng, reduction, mask_shape, delta):
    target = rng.normal(size=(B, T, D))
    difference = rng.normal(scale=2 * delta, size=(B, T, D))
    difference = np.sign(difference) * away_from(np.abs(difference), delta)  # both regimes, no kink
    mask = None if mask_shape is None else random_mask(rng, mask_shape)
    check_gradient(huber, target + difference, target, delta=delta, reduction=reduction, mask=mask)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("mask_shape", MASK_SHAPES)
@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_gradient(rng, reduction, mask_shape, ignore_index, label_smoothing):
    logits = rng.normal(scale=2.0, size=(B, T, V))
    targets = rng.integers(0, V, size=(B, T))
    targets[0, 1] = ignore_index
    targets[2, 0] = ignore_index
    mask = None if mask_shape is None else random_mask(rng, mask_shape)
    grad = check_gradient(
        cross_entropy,
        logits,
        targets,
        ignore_index=ignore_index,
        reduction=reduction,
        mask=mask,
        label_smoothing=label_smoothing,
    )
    assert np.all(grad[targets == ignore_index] == 0)


def test_cross_entropy_gradient_2d(rng):
    logits = rng.normal(size=(B, V))
    check_gradient(cross_entropy, logits, rng.integers(0, V, size=B))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("mask_shape", MASK_SHAPES)
@pytest.mark.parametrize("pos_weight", [None, "scalar", "per_label"])
def test_bce_with_logits_gradient(rng, reduction, mask_shape, pos_weight):
    logits = rng.normal(scale=3.0, size=(B, T, D))
    targets = rng.random((B, T, D))
    targets[0, 0] = [0.0, 1.0]
    weights = {None: None, "scalar": 2.5, "per_label": rng.uniform(0.2, 4.0, size=D)}[pos_weight]
    mask = None if mask_shape is None else random_mask(rng, mask_shape)
    check_gradient(
        binary_cross_entropy_with_logits, logits, targets, reduction=reduction, mask=mask, pos_weight=weights
    )


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("mask_shape", MASK_SHAPES)
@pytest.mark.parametrize("margin", [0.0, 1.0])
def test_binary_hinge_gradient(rng, reduction, mask_shape, margin):
    targets = rng.choice([-1.0, 1.0], size=(B, T))
    scores = rng.normal(scale=2.0, size=(B, T))
    scores = targets * (margin - away_from(margin - targets * scores, 0.0))  # no violation near 0
    mask = None if mask_shape is None else random_mask(rng, mask_shape[:2])
    check_gradient(hinge, scores, targets, margin=margin, reduction=reduction, mask=mask)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("mask_shape", MASK_SHAPES)
@pytest.mark.parametrize("margin", [0.5, 1.0])
def test_multi_class_hinge_gradient(rng, reduction, mask_shape, margin):
    targets = rng.integers(0, V, size=(B, T))
    while True:  # redraw until no pairwise violation sits at the kink
        scores = rng.normal(size=(B, T, V))
        target_scores = np.take_along_axis(scores, targets[..., None], axis=-1)
        if np.min(np.abs(margin - target_scores + scores)) > 1e-3:
            break
    mask = None if mask_shape is None else random_mask(rng, mask_shape)
    check_gradient(hinge, scores, targets, margin=margin, reduction=reduction, mask=mask)


# --- masks are the same as selecting the counted positions ----------------------------------


@pytest.mark.parametrize("mask_shape", [(B,), (B, T), (B, T, D)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mask_equals_selection(rng, mask_shape, reduction):
    pred, target = rng.normal(size=(2, B, T, D))
    mask = random_mask(rng, mask_shape)
    for loss_fn in (mse, huber):
        loss, grad = loss_fn(pred, target, reduction=reduction, mask=mask)
        selected_loss, selected_grad = loss_fn(pred[mask], target[mask], reduction=reduction)
        assert loss == pytest.approx(selected_loss, rel=1e-14)
        np.testing.assert_allclose(grad[mask], selected_grad, rtol=1e-14)
        assert np.all(grad[~mask] == 0)


def test_cross_entropy_mask_and_ignore_index_combine(rng):
    logits = rng.normal(size=(B, T, V))
    targets = rng.integers(0, V, size=(B, T))
    targets[0, 0] = -100
    mask = np.ones((B, T), dtype=bool)
    mask[1, 2:] = False
    loss, grad = cross_entropy(logits, targets, mask=mask)
    counted = mask & (targets != -100)
    selected_loss, selected_grad = cross_entropy(logits[counted], targets[counted])
    assert loss == pytest.approx(selected_loss, rel=1e-14)
    np.testing.assert_allclose(grad[counted], selected_grad, rtol=1e-14)
    assert np.all(grad[~counted] == 0)


# --- golden values (hand-computed; guard without PyTorch) ----------------------------------


def test_mse_golden():
    loss, grad = mse([[1.0, 2.0, 3.0], [0.0, 0.0, 9.0]], [[1.0, 1.0, 1.0], [5.0, 5.0, 5.0]], mask=np.array([True, False]))
    assert loss == pytest.approx(5.0 / 3.0, rel=1e-15)
    np.testing.assert_allclose(grad, [[0.0, 2.0 / 3.0, 4.0 / 3.0], [0.0, 0.0, 0.0]], rtol=1e-15)
    loss, _ = mse(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]), reduction="sum")
    assert loss == 5.0


def test_huber_golden():
    pred, target = np.array([0.5, 2.0, -3.0]), np.zeros(3)
    loss, grad = huber(pred, target)  # terms 0.125, 1.5, 2.5
    assert loss == pytest.approx(4.125 / 3, rel=1e-15)
    np.testing.assert_allclose(grad, [0.5 / 3, 1.0 / 3, -1.0 / 3], rtol=1e-15)
    loss, grad = huber(pred, target, delta=2.0, reduction="sum")  # 0.125, 2.0, 2 * (3 - 1)
    assert loss == pytest.approx(6.125, rel=1e-15)
    np.testing.assert_allclose(grad, [0.5, 2.0, -2.0], rtol=1e-15)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_uniform_logits_is_log_v(label_smoothing):
    targets = np.array([[0, 4, 2, 1], [3, 3, 0, 1], [2, 2, 2, 2]])
    loss, grad = cross_entropy(np.zeros((B, T, V)), targets, label_smoothing=label_smoothing)
    assert loss == pytest.approx(math.log(V), rel=1e-14)
    one_hot = np.eye(V)[targets]
    expected = (1 - label_smoothing) * (1.0 / V - one_hot) / (B * T)
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-16)


def test_cross_entropy_golden_probability():
    logits = np.log([[1.0, 3.0], [1.0, 1.0]])  # probabilities (0.25, 0.75) and (0.5, 0.5)
    loss, grad = cross_entropy(logits, [1, 0], reduction="sum")
    assert loss == pytest.approx(-math.log(0.75) + math.log(2.0), rel=1e-14)
    np.testing.assert_allclose(grad, [[0.25, -0.25], [-0.5, 0.5]], rtol=1e-14)
    # ignore_index may be a real class (e.g. padding id 0): only the first row counts
    loss, grad = cross_entropy(logits, [1, 0], ignore_index=0)
    assert loss == pytest.approx(-math.log(0.75), rel=1e-14)
    assert np.all(grad[1] == 0)


def test_bce_with_logits_golden():
    loss, grad = binary_cross_entropy_with_logits(np.zeros(4), np.array([0.0, 1.0, 0.5, 0.25]))
    assert loss == pytest.approx(math.log(2.0), rel=1e-15)
    np.testing.assert_allclose(grad, np.array([0.5, -0.5, 0.0, 0.25]) / 4, atol=1e-16)
    loss, grad = binary_cross_entropy_with_logits(np.log([3.0]), np.array([1.0]))  # sigmoid = 0.75
    assert loss == pytest.approx(-math.log(0.75), rel=1e-14)
    assert grad[0] == pytest.approx(-0.25, rel=1e-14)
    loss, grad = binary_cross_entropy_with_logits(np.zeros(2), np.array([1.0, 0.0]), pos_weight=3.0, reduction="sum")
    assert loss == pytest.approx(4 * math.log(2.0), rel=1e-15)  # 3 ln 2 + ln 2
    np.testing.assert_allclose(grad, [0.5 * 3 - 3, 0.5], rtol=1e-15)


def test_hinge_golden():
    loss, grad = hinge(np.array([2.0, 0.5, -1.0, -3.0]), np.array([1, 1, 1, -1]))
    assert loss == pytest.approx(2.5 / 4, rel=1e-15)
    np.testing.assert_array_equal(grad, [0.0, -0.25, -0.25, 0.0])
    loss, grad = hinge(np.array([0.5]), np.array([-1.0]), margin=2.0, reduction="sum")
    assert loss == 2.5 and grad.tolist() == [1.0]
    # multi-class, V = 3, target 0: violations 1 - 1 + 2 = 2 and max(0, 1 - 1 - 0.5) = 0
    loss, grad = hinge(np.array([[1.0, 2.0, -0.5], [5.0, 0.0, 0.0]]), np.array([0, 0]))
    assert loss == pytest.approx((2.0 / 3) / 2, rel=1e-15)
    np.testing.assert_allclose(grad, [[-1 / 6, 1 / 6, 0.0], [0.0, 0.0, 0.0]], rtol=1e-15)


def test_softmax_golden():
    np.testing.assert_allclose(softmax(np.log([[1.0, 3.0], [2.0, 2.0]])), [[0.25, 0.75], [0.5, 0.5]], rtol=1e-15)
    x = np.log(np.array([[1.0, 2.0], [1.0, 2.0]]))
    np.testing.assert_allclose(softmax(x, axis=0), np.full((2, 2), 0.5), rtol=1e-15)
    np.testing.assert_allclose(log_softmax(np.zeros((2, 4))), np.full((2, 4), -math.log(4)), rtol=1e-15)
    np.testing.assert_allclose(np.exp(log_softmax(x, axis=1)), softmax(x, axis=1), rtol=1e-15)


# --- nothing counted -----------------------------------------------------------------------


def all_losses(rng, mask):
    """(name, loss, grad, input) for every loss with the given (B, T) mask."""
    x = rng.normal(size=(B, T, D))
    y = rng.random((B, T, D))
    signs = rng.choice([-1.0, 1.0], size=(B, T, D))
    logits = rng.normal(size=(B, T, V))
    classes = rng.integers(0, V, size=(B, T))
    calls = {
        "mse": (mse, x, y),
        "huber": (huber, x, y),
        "bce": (binary_cross_entropy_with_logits, x, y),
        "hinge": (hinge, x, signs),
        "multi_hinge": (hinge, logits, classes),
        "cross_entropy": (cross_entropy, logits, classes),
    }
    for name, (loss_fn, inputs, targets) in calls.items():
        for reduction in ("mean", "sum"):
            loss, grad = loss_fn(inputs, targets, reduction=reduction, mask=mask)
            yield name, loss, grad, inputs


def test_nothing_counted_gives_zero(rng):
    for name, loss, grad, inputs in all_losses(rng, np.zeros((B, T), dtype=bool)):
        assert loss == 0.0 and isinstance(loss, float), name
        assert grad.shape == inputs.shape and not np.any(grad), name


def test_all_targets_ignored_gives_zero():
    loss, grad = cross_entropy(np.ones((2, 3)), np.array([-100, -100]))
    assert loss == 0.0 and not np.any(grad)


def test_empty_batch_gives_zero():
    loss, grad = cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int))
    assert loss == 0.0 and grad.shape == (0, 3)
    loss, grad = mse(np.zeros((0, 2)), np.zeros((0, 2)))
    assert loss == 0.0 and grad.shape == (0, 2)


# --- dtypes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_keeps_input_dtype(rng, dtype):
    x = rng.normal(size=(B, T, D)).astype(dtype)
    logits = rng.normal(size=(B, T, V)).astype(dtype)
    classes = rng.integers(0, V, size=(B, T))
    results = [
        mse(x, np.zeros((B, T, D))),
        huber(x, np.zeros((B, T, D))),
        binary_cross_entropy_with_logits(x, np.full((B, T, D), 0.5)),
        hinge(x, np.ones((B, T, D))),
        hinge(logits, classes),
        cross_entropy(logits, classes),
    ]
    for loss, grad in results:
        assert isinstance(loss, float)
        assert grad.dtype == dtype
    assert softmax(logits).dtype == dtype and log_softmax(logits).dtype == dtype


def test_float32_matches_float64(rng):
    logits = rng.normal(size=(B, T, V))
    classes = rng.integers(0, V, size=(B, T))
    loss64, grad64 = cross_entropy(logits, classes)
    loss32, grad32 = cross_entropy(logits.astype(np.float32), classes)
    assert loss32 == pytest.approx(loss64, rel=1e-6)
    np.testing.assert_allclose(grad32, grad64, rtol=1e-5, atol=1e-7)


def test_integer_and_list_inputs_read_as_float64():
    loss, grad = mse([1, 2, 3], [1, 1, 1])
    assert loss == pytest.approx(5 / 3) and grad.dtype == np.float64


# --- extreme values -------------------------------------------------------------------------


@pytest.mark.parametrize("big", [1000.0, 1e4])
def test_cross_entropy_extreme_logits(big):
    logits = np.array([[big, -big, -big], [-big, big, -big]])
    with no_numerical_warnings():
        right, right_grad = cross_entropy(logits, [0, 1], reduction="sum")
        wrong, wrong_grad = cross_entropy(logits, [1, 2], reduction="sum")
        smooth, smooth_grad = cross_entropy(logits, [0, 1], reduction="sum", label_smoothing=0.1)
        log_probs = log_softmax(logits)
        probs = softmax(logits)
    assert right == 0.0
    assert not np.any(right_grad)
    assert wrong == pytest.approx(4 * big, rel=1e-15)  # each row: 2 * big
    np.testing.assert_array_equal(wrong_grad, [[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]])
    # smoothing puts eps / V on every class: each row costs eps / V * (0 + 2 * big + 2 * big)
    assert smooth == pytest.approx(2 * (0.1 / 3) * 4 * big, rel=1e-14)
    assert np.all(np.isfinite(smooth_grad))
    np.testing.assert_array_equal(log_probs, [[0.0, -2 * big, -2 * big], [-2 * big, 0.0, -2 * big]])
    np.testing.assert_array_equal(probs, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


@pytest.mark.parametrize("big", [1000.0, 1e4])
def test_bce_with_logits_extreme_logits(big):
    logits = np.array([big, -big])
    with no_numerical_warnings():
        right, right_grad = binary_cross_entropy_with_logits(logits, np.array([1.0, 0.0]), reduction="sum")
        wrong, wrong_grad = binary_cross_entropy_with_logits(logits, np.array([0.0, 1.0]), reduction="sum")
        weighted, weighted_grad = binary_cross_entropy_with_logits(
            logits, np.array([0.0, 1.0]), reduction="sum", pos_weight=np.array(2.0)
        )
        half, _ = binary_cross_entropy_with_logits(logits, np.array([0.5, 0.5]), reduction="sum")
    assert right == 0.0
    np.testing.assert_array_equal(right_grad, [0.0, 0.0])
    assert wrong == pytest.approx(2 * big, rel=1e-15)
    np.testing.assert_array_equal(wrong_grad, [1.0, -1.0])
    assert weighted == pytest.approx(3 * big, rel=1e-15)  # big + 2 * big
    np.testing.assert_array_equal(weighted_grad, [1.0, -2.0])
    assert half == pytest.approx(big, rel=1e-15)


def test_regression_and_hinge_extreme_values():
    big = np.array([1000.0, -1000.0])
    with no_numerical_warnings():
        mse_loss, mse_grad = mse(big, -big, reduction="sum")
        huber_loss, huber_grad = huber(big, -big, reduction="sum")
        hinge_loss, hinge_grad = hinge(big, np.array([-1.0, 1.0]), reduction="sum")
        multi_loss, multi_grad = hinge(np.array([[1000.0, -1000.0]]), np.array([1]), reduction="sum")
    assert mse_loss == 8e6 and mse_grad.tolist() == [4000.0, -4000.0]
    assert huber_loss == 2 * (2000.0 - 0.5) and huber_grad.tolist() == [1.0, -1.0]
    assert hinge_loss == 2002.0 and hinge_grad.tolist() == [1.0, -1.0]
    assert multi_loss == 2001.0 / 2 and multi_grad.tolist() == [[0.5, -0.5]]


# --- bad input ------------------------------------------------------------------------------

ELEMENTWISE = [mse, huber, binary_cross_entropy_with_logits]


@pytest.mark.parametrize("loss_fn", ELEMENTWISE)
def test_shape_mismatch_is_never_broadcast(loss_fn):
    with pytest.raises(ValueError, match=r"must have the same shape as .*\(2, 3\), got \(3,\)"):
        loss_fn(np.zeros((2, 3)), np.zeros(3))


@pytest.mark.parametrize("loss_fn", ELEMENTWISE + [hinge])
def test_unknown_reduction(loss_fn):
    with pytest.raises(ValueError, match=r"reduction must be one of \['mean', 'sum'\], got 'none'"):
        loss_fn(np.zeros(3), np.ones(3), reduction="none")


def test_cross_entropy_unknown_reduction():
    with pytest.raises(ValueError, match=r"reduction must be one of .*got 'avg'"):
        cross_entropy(np.zeros((2, 3)), [0, 1], reduction="avg")


@pytest.mark.parametrize("loss_fn", ELEMENTWISE)
def test_mask_with_wrong_shape(loss_fn):
    with pytest.raises(ValueError, match=r"mask must have the leading shape of .*\(2, 3\).*got \(3,\)"):
        loss_fn(np.zeros((2, 3)), np.zeros((2, 3)), mask=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match=r"mask must have the leading shape.*got \(2, 3, 1\)"):
        loss_fn(np.zeros((2, 3)), np.zeros((2, 3)), mask=np.ones((2, 3, 1), dtype=bool))


@pytest.mark.parametrize("loss_fn", ELEMENTWISE)
def test_mask_with_non_bool_dtype(loss_fn):
    with pytest.raises(TypeError, match=r"mask must be a boolean array .*got dtype int64"):
        loss_fn(np.zeros((2, 3)), np.zeros((2, 3)), mask=np.ones(2, dtype=np.int64))


def test_cross_entropy_and_hinge_mask_errors():
    with pytest.raises(ValueError, match=r"mask must have the leading shape of targets \(2, 4\).*got \(4,\)"):
        cross_entropy(np.zeros((2, 4, 3)), np.zeros((2, 4), dtype=int), mask=np.ones(4, dtype=bool))
    with pytest.raises(TypeError, match=r"mask must be a boolean array.*float64"):
        hinge(np.zeros((2, 3)), np.zeros(2, dtype=int), mask=np.ones(2))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs(bad):
    x = np.array([0.0, bad])
    with pytest.raises(ValueError, match="pred contains NaN or infinite"):
        mse(x, np.zeros(2))
    with pytest.raises(ValueError, match="target contains NaN or infinite"):
        huber(np.zeros(2), x)
    with pytest.raises(ValueError, match="logits contains NaN or infinite"):
        binary_cross_entropy_with_logits(x, np.zeros(2))
    with pytest.raises(ValueError, match="logits contains NaN or infinite"):
        cross_entropy(x[None], [0])
    with pytest.raises(ValueError, match="scores contains NaN or infinite"):
        hinge(x, np.ones(2))
    with pytest.raises(ValueError, match="logits contains NaN or infinite"):
        softmax(x)
    with pytest.raises(ValueError, match="pos_weight contains NaN or infinite"):
        binary_cross_entropy_with_logits(np.zeros(2), np.zeros(2), pos_weight=x)


def test_unsupported_float_dtype():
    with pytest.raises(TypeError, match="pred must be float32 or float64.*got dtype float16"):
        mse(np.zeros(2, dtype=np.float16), np.zeros(2))


def test_cross_entropy_rank_and_shape_errors():
    with pytest.raises(ValueError, match=r"targets must have shape logits.shape\[:-1\] = \(2, 4\).*got targets shape \(2, 4, 3\)"):
        cross_entropy(np.zeros((2, 4, 3)), np.zeros((2, 4, 3), dtype=int))
    with pytest.raises(ValueError, match=r"targets must have shape logits.shape\[:-1\] = \(2,\).*got targets shape \(3,\)"):
        cross_entropy(np.zeros((2, 3)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match=r"logits must have shape \(\.\.\., V\) with V >= 1.*got shape \(\)"):
        cross_entropy(np.float64(1.0), 0)
    with pytest.raises(ValueError, match=r"V >= 1.*got shape \(2, 0\)"):
        cross_entropy(np.zeros((2, 0)), np.zeros(2, dtype=int))


def test_cross_entropy_target_errors():
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\), got 3"):
        cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\), got -1"):
        cross_entropy(np.zeros((2, 3)), np.array([-1, 0]))  # -1 is not the ignore_index
    with pytest.raises(TypeError, match=r"targets must be an integer array, got dtype float64 \(cast it"):
        cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match=r"targets must be an integer array, got dtype bool"):
        cross_entropy(np.zeros((2, 3)), np.array([True, False]))
    with pytest.raises(TypeError, match=r"ignore_index must be an int, got 1.5"):
        cross_entropy(np.zeros((2, 3)), np.array([0, 1]), ignore_index=1.5)
    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\], got 1.5"):
        cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=1.5)


def test_bce_target_and_pos_weight_errors():
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\], got values from -0.5 to 1.0"):
        binary_cross_entropy_with_logits(np.zeros(2), np.array([-0.5, 1.0]))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\], got values from 0.0 to 2.0"):
        binary_cross_entropy_with_logits(np.zeros(2), np.array([0.0, 2.0]))
    with pytest.raises(TypeError, match=r"targets must be a real-valued numeric array, got dtype bool"):
        binary_cross_entropy_with_logits(np.zeros(2), np.array([True, False]))
    with pytest.raises(ValueError, match=r"pos_weight must be a scalar or have the trailing shape of targets \(4, 2\).*got \(4,\)"):
        binary_cross_entropy_with_logits(np.zeros((4, 2)), np.zeros((4, 2)), pos_weight=np.ones(4))
    with pytest.raises(ValueError, match=r"pos_weight must be >= 0, got a minimum of -1.0"):
        binary_cross_entropy_with_logits(np.zeros((4, 2)), np.zeros((4, 2)), pos_weight=np.array([1.0, -1.0]))


def test_hinge_target_errors():
    with pytest.raises(ValueError, match=r"targets must be -1 or \+1 for the binary hinge loss, got \[0.0\] \(map 0/1"):
        hinge(np.zeros(3), np.array([1, 0, -1]))
    with pytest.raises(ValueError, match=r"got \[0.5, 2.0\]"):
        hinge(np.zeros(3), np.array([0.5, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"targets must have the shape of scores \(2, 3\).*or scores.shape\[:-1\] = \(2,\).*got \(3,\)"):
        hinge(np.zeros((2, 3)), np.ones(3))
    with pytest.raises(TypeError, match=r"targets must be integer class indices for the multi-class hinge.*float64"):
        hinge(np.zeros((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match=r"targets must have the shape of scores \(2, 4, 3\).*= \(2, 4\).*got \(4, 2\)"):
        hinge(np.zeros((2, 4, 3)), np.zeros((4, 2), dtype=int))
    with pytest.raises(ValueError, match=r"scores must have shape \(\.\.\., V\) with V >= 1.*got shape \(0, 0\)"):
        hinge(np.zeros((0, 0)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\), got 3"):
        hinge(np.zeros((2, 3)), np.array([0, 3]))


@pytest.mark.parametrize("delta", [0.0, -1.0, np.inf, np.nan])
def test_huber_bad_delta(delta):
    with pytest.raises(ValueError, match=r"delta must be a finite number > 0, got"):
        huber(np.zeros(2), np.zeros(2), delta=delta)


def test_huber_and_hinge_non_numeric_parameters():
    with pytest.raises(TypeError, match=r"delta must be a real number > 0, got '1'"):
        huber(np.zeros(2), np.zeros(2), delta="1")
    with pytest.raises(TypeError, match=r"margin must be a real number >= 0, got True"):
        hinge(np.zeros(2), np.ones(2), margin=True)


@pytest.mark.parametrize("margin", [-0.5, np.inf])
def test_hinge_bad_margin(margin):
    with pytest.raises(ValueError, match=r"margin must be a finite number >= 0, got"):
        hinge(np.zeros(2), np.ones(2), margin=margin)


def test_softmax_errors():
    with pytest.raises(ValueError, match=r"axis must be an int in \[-2, 2\).*got 2"):
        softmax(np.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match=r"axis must be an int.*got 0.5"):
        log_softmax(np.zeros((2, 3)), axis=0.5)
    with pytest.raises(ValueError, match=r"at least one entry along axis 1, got shape \(2, 0\)"):
        log_softmax(np.zeros((2, 0)))
    with pytest.raises(TypeError, match=r"logits must be a real-valued numeric array, got dtype <U1"):
        softmax(np.array(["a"]))
