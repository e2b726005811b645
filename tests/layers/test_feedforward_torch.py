"""Parity of Linear and Embedding with torch.nn on identical weights: outputs and gradients, float64."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need it (pip install torch==2.13.0)")

from rnnkit import Embedding, Linear  # noqa: E402  (after the importorskip on purpose)

RTOL = 1e-12
ATOL = 1e-14


def close(ours, theirs, name):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3), (2, 2, 2, 3), (3,)], ids=["B-D", "B-T-D", "4d", "D"])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(shape, bias, rng):
    ours = Linear(3, 7, bias=bias, dtype=np.float64, seed=0)
    theirs = torch.nn.Linear(3, 7, bias=bias, dtype=torch.float64)
    theirs.load_state_dict({name: torch.from_numpy(array) for name, array in ours.state_dict().items()})

    x = rng.standard_normal(shape)
    x_torch = torch.from_numpy(x.copy()).requires_grad_(True)
    y = ours(x)
    y_torch = theirs(x_torch)
    close(y, y_torch, "y")

    dy = rng.standard_normal(y.shape)
    dx = ours.backward(dy)
    y_torch.backward(torch.from_numpy(dy))
    close(dx, x_torch.grad, "dx")
    for name, parameter in theirs.named_parameters():
        close(getattr(ours, name).grad, parameter.grad, name)


def test_linear_gradients_accumulate_like_torch(rng):
    ours = Linear(4, 2, dtype=np.float64, seed=1)
    theirs = torch.nn.Linear(4, 2, dtype=torch.float64)
    theirs.load_state_dict({name: torch.from_numpy(array) for name, array in ours.state_dict().items()})
    for _ in range(3):
        x = rng.standard_normal((5, 4))
        dy = rng.standard_normal((5, 2))
        ours(x)
        ours.backward(dy)
        theirs(torch.from_numpy(x)).backward(torch.from_numpy(dy))
    for name, parameter in theirs.named_parameters():
        close(getattr(ours, name).grad, parameter.grad, name)


def test_linear_extreme_inputs_match_torch(rng):
    ours = Linear(3, 2, dtype=np.float64, seed=0)
    theirs = torch.nn.Linear(3, 2, dtype=torch.float64)
    theirs.load_state_dict({name: torch.from_numpy(array) for name, array in ours.state_dict().items()})
    x = rng.choice([-300.0, 300.0], size=(4, 3))
    close(ours(x), theirs(torch.from_numpy(x)), "y at +-300")


@pytest.mark.parametrize("padding_idx", [None, 0, 3, -2])
@pytest.mark.parametrize("ids_shape", [(7,), (3, 6), (2, 3, 4)], ids=["N", "B-T", "3d"])
def test_embedding_matches_torch(padding_idx, ids_shape, rng):
    V, E = 8, 5
    ours = Embedding(V, E, padding_idx=padding_idx, dtype=np.float64, seed=0)
    theirs = torch.nn.Embedding(V, E, padding_idx=padding_idx, dtype=torch.float64)
    theirs.load_state_dict({"weight": torch.from_numpy(ours.weight.data.copy())})
    assert ours.padding_idx == theirs.padding_idx

    ids = rng.integers(0, V, size=ids_shape)
    ids.flat[0] = ids.flat[-1] = 3                              # a repeated id (and padding when 3)
    if padding_idx is not None:
        ids.flat[1] = padding_idx % V
    y = ours(ids)
    y_torch = theirs(torch.from_numpy(ids))
    close(y, y_torch, "y")

    dy = rng.standard_normal(y.shape)
    ours.backward(dy)
    y_torch.backward(torch.from_numpy(dy))
    close(ours.weight.grad, theirs.weight.grad, "weight.grad")


def test_fresh_embedding_padding_row_is_zero_like_torch():
    ours = Embedding(6, 4, padding_idx=2, seed=0)
    theirs = torch.nn.Embedding(6, 4, padding_idx=2)
    np.testing.assert_array_equal(ours.weight.data[2], theirs.weight.detach().numpy()[2])
    assert not np.any(ours.weight.data[2])


@pytest.mark.parametrize("freeze", [True, False])
def test_from_pretrained_matches_torch(freeze, rng):
    matrix = rng.standard_normal((6, 3))
    ours = Embedding.from_pretrained(matrix, freeze=freeze, padding_idx=1, dtype=np.float64)
    theirs = torch.nn.Embedding.from_pretrained(torch.from_numpy(matrix.copy()), freeze=freeze, padding_idx=1)
    assert ours.weight.requires_grad == theirs.weight.requires_grad
    ids = np.array([[1, 2, 2, 5]])
    y_torch = theirs(torch.from_numpy(ids))
    close(ours(ids), y_torch, "y")
    dy = rng.standard_normal((1, 4, 3))
    ours.backward(dy)
    if not freeze:
        y_torch.backward(torch.from_numpy(dy))
        close(ours.weight.grad, theirs.weight.grad, "weight.grad")
    else:
        assert not y_torch.requires_grad and not np.any(ours.weight.grad)
