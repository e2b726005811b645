"""Parity of the optimisers and gradient clipping with torch.optim and torch.nn.utils (float64)."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need it (pip install torch==2.13.0)")

from rnnkit import Parameter  # noqa: E402
from rnnkit import optim  # noqa: E402
from rnnkit.clip import clip_grad_norm_, clip_grad_value_  # noqa: E402

RTOL = 1e-12
ATOL = 1e-15  # for elements that pass through ~0
SHAPES = [(3, 4), (5,), (2, 1, 3)]
STEPS = 5

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1, "nesterov": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-3}),
    ("RMSprop", {}),
    ("RMSprop", {"centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.3, "centered": True, "eps": 1e-6}),  # lerp weight >= 0.5
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.5), "amsgrad": True, "eps": 1e-4}),  # lerp weight >= 0.5
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "betas": (0.0, 0.0), "weight_decay": 0.5}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kwargs.items()) or 'defaults'}" for name, kwargs in CASES]


def make_pair(name, kwargs, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    initial = [rng.normal(size=shape).astype(dtype) for shape in SHAPES]
    ours = [Parameter(array.copy()) for array in initial]
    theirs = [torch.tensor(array.copy(), requires_grad=True) for array in initial]
    our_optimizer = getattr(optim, name)(ours, **kwargs)
    # foreach=False: torch's single-tensor path, which is what rnnkit mirrors.
    their_optimizer = getattr(torch.optim, name)(theirs, **kwargs, foreach=False)
    return rng, ours, theirs, our_optimizer, their_optimizer


def feed(rng, ours, theirs, dtype):
    for mine, yours in zip(ours, theirs):
        # Varying scale so that AMSGrad's running maximum matters.
        gradient = (rng.normal(size=mine.shape) * rng.uniform(0.1, 3.0)).astype(dtype)
        mine.grad[...] = gradient
        yours.grad = torch.tensor(gradient.copy())


@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
def test_optimizer_matches_torch(name, kwargs):
    rng, ours, theirs, our_optimizer, their_optimizer = make_pair(name, kwargs)
    data = [p.data for p in ours]
    for step in range(STEPS):
        feed(rng, ours, theirs, np.float64)
        our_optimizer.step()
        their_optimizer.step()
        for index, (mine, yours) in enumerate(zip(ours, theirs)):
            np.testing.assert_allclose(
                mine.data, yours.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=f"step {step + 1}, parameter {index}"
            )
    assert all(p.data is array for p, array in zip(ours, data))


@pytest.mark.parametrize("name, kwargs", [CASES[2], CASES[8], CASES[13], CASES[17]], ids=[IDS[2], IDS[8], IDS[13], IDS[17]])
def test_lr_change_and_frozen_parameter_match_torch(name, kwargs):
    rng, ours, theirs, our_optimizer, their_optimizer = make_pair(name, kwargs, seed=1)
    ours[1].requires_grad = False  # torch: a None grad, skipped the same way
    for step in range(STEPS):
        feed(rng, ours, theirs, np.float64)
        theirs[1].grad = None
        if step == 2:  # what a scheduler does
            our_optimizer.lr = our_optimizer.lr * 0.3
            their_optimizer.param_groups[0]["lr"] *= 0.3
        our_optimizer.step()
        their_optimizer.step()
        for mine, yours in zip(ours, theirs):
            np.testing.assert_allclose(mine.data, yours.detach().numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name, kwargs", [CASES[1], CASES[12], CASES[16], CASES[19]], ids=[IDS[1], IDS[12], IDS[16], IDS[19]])
def test_optimizer_matches_torch_float32(name, kwargs):
    rng, ours, theirs, our_optimizer, their_optimizer = make_pair(name, kwargs, dtype=np.float32)
    for _ in range(STEPS):
        feed(rng, ours, theirs, np.float32)
        our_optimizer.step()
        their_optimizer.step()
    for mine, yours in zip(ours, theirs):
        assert mine.data.dtype == np.float32
        np.testing.assert_allclose(mine.data, yours.detach().numpy(), rtol=1e-5, atol=1e-6)


# --- clipping ---------------------------------------------------------------------------------------
def make_gradients(shapes, scale, seed):
    rng = np.random.default_rng(seed)
    gradients = [rng.normal(size=shape) * scale for shape in shapes]
    ours = []
    theirs = []
    for gradient in gradients:
        mine = Parameter(np.zeros(gradient.shape))
        mine.grad[...] = gradient
        ours.append(mine)
        yours = torch.zeros(gradient.shape, dtype=torch.float64, requires_grad=True)
        yours.grad = torch.tensor(gradient.copy())
        theirs.append(yours)
    return ours, theirs


CLIP_SHAPES = [[(4,)], [(3, 4), (5,), (2, 2, 2)], [(1,), (7, 3)]]


@pytest.mark.parametrize("shapes", CLIP_SHAPES, ids=["one", "three", "two"])
@pytest.mark.parametrize("norm_type", [2.0, math.inf, 1.0, 3.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e3], ids=["fires", "below"])
def test_clip_grad_norm_matches_torch(shapes, norm_type, max_norm):
    ours, theirs = make_gradients(shapes, scale=2.0, seed=len(shapes))
    our_total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    their_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type, foreach=False)
    assert isinstance(our_total, float)
    assert our_total == pytest.approx(float(their_total), rel=RTOL)
    for mine, yours in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad, yours.grad.numpy(), rtol=RTOL, atol=ATOL)
    if max_norm < our_total:
        assert _total(ours, norm_type) <= max_norm


def _total(parameters, norm_type):
    flat = np.concatenate([p.grad.ravel() for p in parameters])
    return np.max(np.abs(flat)) if norm_type == math.inf else np.sum(np.abs(flat) ** norm_type) ** (1 / norm_type)


@pytest.mark.parametrize("bad", [math.inf, math.nan])
@pytest.mark.parametrize("norm_type", [2.0, math.inf])
def test_clip_grad_norm_non_finite_matches_torch(bad, norm_type):
    ours, theirs = make_gradients([(3,), (2, 2)], scale=1.0, seed=0)
    ours[1].grad[0, 1] = bad
    theirs[1].grad[0, 1] = bad
    our_total = clip_grad_norm_(ours, 1.0, norm_type=norm_type)
    their_total = float(torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type, foreach=False))
    assert not math.isfinite(our_total)
    np.testing.assert_equal(our_total, their_total)  # nan == nan here
    for mine, yours in zip(ours, theirs):
        np.testing.assert_array_equal(mine.grad, yours.grad.numpy())


@pytest.mark.parametrize("shapes", CLIP_SHAPES, ids=["one", "three", "two"])
@pytest.mark.parametrize("clip_value", [0.0, 0.7, 100.0])
def test_clip_grad_value_matches_torch(shapes, clip_value):
    ours, theirs = make_gradients(shapes, scale=1.5, seed=3)
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value, foreach=False)
    for mine, yours in zip(ours, theirs):
        np.testing.assert_array_equal(mine.grad, yours.grad.numpy())
