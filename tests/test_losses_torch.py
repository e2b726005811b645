"""Parity of rnnkit.losses with PyTorch: loss values and gradients (torch autograd).

A mask is emulated in PyTorch by selecting the counted positions (``input[mask]``) before the
loss, which is what rnnkit's masked mean means; the gradient then flows back into the full input
with zeros at the masked positions. PyTorch puts the class axis of cross_entropy at axis 1, so
logits are flattened to (N, V) first.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need it (pip install torch==2.13.0)")
functional = torch.nn.functional

from rnnkit.losses import (  # noqa: E402  (after the importorskip on purpose)
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge,
    huber,
    log_softmax,
    mse,
    softmax,
)

B, T, V, D = 3, 5, 7, 4
RTOL = 1e-12  # float64 on both sides
ATOL = 1e-15


def random_mask(rng, shape):
    mask = rng.random(shape) < 0.6
    mask.flat[0] = True
    mask.flat[-1] = False
    return mask


def torch_loss_and_grad(loss_of, x, mask):
    """Loss and d loss / d x of ``loss_of(selected x)`` in PyTorch (float64)."""
    x_torch = torch.tensor(x, requires_grad=True)
    selected = x_torch if mask is None else x_torch[torch.from_numpy(mask)]
    loss = loss_of(selected, mask)
    loss.backward()
    return loss.item(), x_torch.grad.numpy()


def select(array, mask):
    return torch.tensor(array if mask is None else array[mask])


def assert_parity(ours, theirs):
    (loss, grad), (torch_loss, torch_grad) = ours, theirs
    assert loss == pytest.approx(torch_loss, rel=RTOL, abs=ATOL)
    np.testing.assert_allclose(grad, torch_grad, rtol=RTOL, atol=ATOL)


MASK_SHAPES = [None, (B,), (B, T)]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("mask_shape", MASK_SHAPES)
def test_mse_parity(rng, reduction, mask_shape):
    pred, target = rng.normal(size=(2, B, T, D))
    mask = None if mask_shape is None else random_mask(rng, mask_shape)
    theirs = torch_loss_and_grad(
        lambda x, m: functional.mse_loss(x, select(target, m), reduction=reduction), pred, mask
    )
    assert_parity(mse(pred, target, reduction=reduction, mask=mask), theirs)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("mask_shape", MASK_SHAPES)
@pytest.mark.parametrize("delta", [0.3, 1.0, 2.5])
def test_huber_parity(rng, reduction, mask_shape, delta):
    pred, target = rng.normal(scale=2.0, size=(2, B, T, D))
    mask = None if mask_shape is None else random_mask(rng, mask_shape)
    theirs = torch_loss_and_grad(
        lambda x, m: functional.huber_loss(x, select(target, m), reduction=reduction, delta=delta), pred, mask
    )
    assert_parity(huber(pred, target, delta=delta, reduction=reduction, mask=mask), theirs)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("mask_shape", MASK_SHAPES)
@pytest.mark.parametrize("ignore_index", [-100, 0])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.15])
def test_cross_entropy_parity(rng, reduction, mask_shape, ignore_index, label_smoothing):
    logits = rng.normal(scale=3.0, size=(B, T, V))
    targets = rng.integers(0, V, size=(B, T))
    targets[rng.random((B, T)) < 0.25] = ignore_index
    targets[0, 0] = 3  # at least one counted target
    mask = None if mask_shape is None else random_mask(rng, mask_shape)

    def torch_cross_entropy(x, m):
        return functional.cross_entropy(
            x.reshape(-1, V),
            select(targets, m).reshape(-1),
            ignore_index=ignore_index,
            reduction=reduction,
            label_smoothing=label_smoothing,
        )

    theirs = torch_loss_and_grad(torch_cross_entropy, logits, mask)
    ours = cross_entropy(
        logits, targets, ignore_index=ignore_index, reduction=reduction, mask=mask, label_smoothing=label_smoothing
    )
    assert_parity(ours, theirs)


def test_cross_entropy_parity_2d_extreme(rng):
    logits = rng.choice([-1000.0, 0.0, 1000.0], size=(6, V)) + rng.normal(size=(6, V))
    targets = rng.integers(0, V, size=6)
    theirs = torch_loss_and_grad(lambda x, m: functional.cross_entropy(x, torch.from_numpy(targets)), logits, None)
    assert_parity(cross_entropy(logits, targets), theirs)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("mask_shape", MASK_SHAPES)
@pytest.mark.parametrize("use_pos_weight", [False, True])
def test_bce_with_logits_parity(rng, reduction, mask_shape, use_pos_weight):
    logits = rng.normal(scale=4.0, size=(B, T, D))
    logits[0, 0] = [1000.0, -1000.0, 30.0, -30.0]
    targets = rng.random((B, T, D))
    targets[1, 1] = [0.0, 1.0, 1.0, 0.0]
    pos_weight = rng.uniform(0.1, 5.0, size=D) if use_pos_weight else None
    mask = None if mask_shape is None else random_mask(rng, mask_shape)

    def torch_bce(x, m):
        weight = None if pos_weight is None else torch.tensor(pos_weight)
        return functional.binary_cross_entropy_with_logits(
            x, select(targets, m), reduction=reduction, pos_weight=weight
        )

    theirs = torch_loss_and_grad(torch_bce, logits, mask)
    ours = binary_cross_entropy_with_logits(logits, targets, reduction=reduction, mask=mask, pos_weight=pos_weight)
    assert_parity(ours, theirs)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("mask_shape", MASK_SHAPES)
@pytest.mark.parametrize("margin", [0.0, 1.0, 2.0])
def test_binary_hinge_parity(rng, reduction, mask_shape, margin):
    # PyTorch has no binary hinge with -1/+1 targets; written with relu, the definition itself.
    scores = rng.normal(scale=2.0, size=(B, T, D))
    targets = rng.choice([-1.0, 1.0], size=(B, T, D))
    mask = None if mask_shape is None else random_mask(rng, mask_shape)

    def torch_hinge(x, m):
        terms = torch.relu(margin - select(targets, m) * x)
        return terms.mean() if reduction == "mean" else terms.sum()

    theirs = torch_loss_and_grad(torch_hinge, scores, mask)
    assert_parity(hinge(scores, targets, margin=margin, reduction=reduction, mask=mask), theirs)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("mask_shape", MASK_SHAPES)
@pytest.mark.parametrize("margin", [0.5, 1.0, 3.0])
def test_multi_class_hinge_parity(rng, reduction, mask_shape, margin):
    scores = rng.normal(scale=1.5, size=(B, T, V))
    targets = rng.integers(0, V, size=(B, T))
    mask = None if mask_shape is None else random_mask(rng, mask_shape)

    def torch_multi_margin(x, m):
        return functional.multi_margin_loss(
            x.reshape(-1, V), select(targets, m).reshape(-1), p=1, margin=margin, reduction=reduction
        )

    theirs = torch_loss_and_grad(torch_multi_margin, scores, mask)
    assert_parity(hinge(scores, targets, margin=margin, reduction=reduction, mask=mask), theirs)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_parity(rng, axis):
    logits = rng.normal(scale=5.0, size=(B, T, V))
    logits[0, 0, 0] = 1000.0
    logits[1, 1, 1] = -1000.0
    x = torch.tensor(logits)
    np.testing.assert_allclose(softmax(logits, axis=axis), torch.softmax(x, dim=axis).numpy(), rtol=RTOL, atol=1e-300)
    np.testing.assert_allclose(
        log_softmax(logits, axis=axis), torch.log_softmax(x, dim=axis).numpy(), rtol=RTOL, atol=ATOL
    )


def test_float32_parity(rng):
    """float32 in, float32 out; rnnkit computes in float64, so it agrees with torch to float32 rounding."""
    logits = rng.normal(scale=3.0, size=(B, T, V)).astype(np.float32)
    targets = rng.integers(0, V, size=(B, T))
    x = torch.tensor(logits, requires_grad=True)
    torch_loss = functional.cross_entropy(x.reshape(-1, V), torch.from_numpy(targets).reshape(-1))
    torch_loss.backward()
    loss, grad = cross_entropy(logits, targets)
    assert grad.dtype == np.float32
    assert loss == pytest.approx(torch_loss.item(), rel=1e-6)
    np.testing.assert_allclose(grad, x.grad.numpy(), rtol=1e-5, atol=1e-7)

    pred, target = rng.normal(size=(2, B, T, D)).astype(np.float32)
    p = torch.tensor(pred, requires_grad=True)
    torch_loss = functional.binary_cross_entropy_with_logits(p, torch.sigmoid(torch.tensor(target)))
    torch_loss.backward()
    loss, grad = binary_cross_entropy_with_logits(pred, torch.sigmoid(torch.tensor(target)).numpy())
    assert grad.dtype == np.float32
    assert loss == pytest.approx(torch_loss.item(), rel=1e-6)
    np.testing.assert_allclose(grad, p.grad.numpy(), rtol=1e-5, atol=1e-7)
