"""Linear, Embedding and Dropout without PyTorch: float64 central-difference gradient checks,
golden values, dropout statistics, frozen pretrained tables and index checks.

The loss in every gradient check is a fixed random linear function of the output,
``L = sum(R * y)``, so dL/dy = R and the checks need no loss module.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import Dropout, Embedding, Linear
from rnnkit.optim import SGD

EPS = 1e-6
RTOL = 1e-7


def numerical_gradient(loss, array):
    """dloss/darray by central differences, perturbing ``array`` in place one element at a time."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + EPS
        plus = loss()
        array[index] = original - EPS
        minus = loss()
        array[index] = original
        grad[index] = (plus - minus) / (2 * EPS)
    return grad


def assert_close(analytic, numeric, name):
    scale = max(1.0, float(np.max(np.abs(numeric))))
    np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=RTOL * scale, err_msg=name)


# --- Linear ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3), (3,)], ids=["B-D", "B-T-D", "D"])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients(shape, bias, rng):
    layer = Linear(3, 2, bias=bias, dtype=np.float64, seed=0)
    x = rng.standard_normal(shape)
    y = layer(x)
    assert y.shape == shape[:-1] + (2,)
    weights = rng.standard_normal(y.shape)                       # dL/dy

    def loss():
        return float(np.sum(weights * layer(x)))

    layer(x)
    dx = layer.backward(weights)
    assert dx.shape == x.shape
    assert_close(dx, numerical_gradient(loss, x), "x")
    for name, parameter in layer.named_parameters():
        assert_close(parameter.grad, numerical_gradient(loss, parameter.data), name)
    assert [name for name, _ in layer.named_parameters()] == (["weight", "bias"] if bias else ["weight"])


def test_linear_golden_values():
    layer = Linear(2, 3, dtype=np.float64, seed=0)
    layer.weight.data[...] = [[1.0, 2.0], [0.0, -1.0], [0.5, 0.5]]
    layer.bias.data[...] = [0.1, 0.2, 0.3]
    y = layer(np.array([[1.0, 1.0], [2.0, -1.0]]))
    np.testing.assert_allclose(y, [[3.1, -0.8, 1.3], [0.1, 1.2, 0.8]], rtol=1e-15)
    dx = layer.backward(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 2.0]]))
    np.testing.assert_allclose(dx, [[1.0, 2.0], [1.0, 0.0]], rtol=1e-15)
    np.testing.assert_allclose(layer.weight.grad, [[1.0, 1.0], [2.0, -1.0], [4.0, -2.0]], rtol=1e-15)
    np.testing.assert_allclose(layer.bias.grad, [1.0, 1.0, 2.0], rtol=1e-15)


def test_linear_frozen_weight_gets_no_gradient(rng):
    layer = Linear(3, 2, dtype=np.float64, seed=0)
    layer.weight.requires_grad = False
    layer(rng.standard_normal((4, 3)))
    dx = layer.backward(np.ones((4, 2)))
    assert not np.any(layer.weight.grad)
    np.testing.assert_allclose(layer.bias.grad, [4.0, 4.0])
    np.testing.assert_allclose(dx, np.ones((4, 2)) @ layer.weight.data)


def test_linear_float32_matches_float64(rng):
    x = rng.standard_normal((4, 6, 3))
    single, double = Linear(3, 5, seed=2), Linear(3, 5, dtype=np.float64, seed=2)
    np.testing.assert_allclose(single(x), double(x), rtol=1e-5, atol=1e-6)


# --- Embedding ---------------------------------------------------------------------------------
def test_embedding_forward_is_row_lookup():
    table = Embedding(6, 3, dtype=np.float64, seed=0)
    ids = np.array([[1, 5, 1], [0, 2, 4]])
    y = table(ids)
    assert y.shape == (2, 3, 3)
    for b in range(2):
        for t in range(3):
            np.testing.assert_array_equal(y[b, t], table.weight.data[ids[b, t]])


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_gradients_with_repeats_and_padding(padding_idx, rng):
    table = Embedding(6, 3, padding_idx=padding_idx, dtype=np.float64, seed=0)
    ids = np.array([[1, 2, 1, 1], [2, 5, 0, 1]])                 # repeated ids, padding id 2 twice
    if padding_idx is not None:
        row = padding_idx % 6
        assert table.padding_idx == row
        assert not np.any(table.weight.data[row]), "the padding row starts at zero"
    weights = rng.standard_normal(ids.shape + (3,))

    def loss():
        return float(np.sum(weights * table(ids)))

    table(ids)
    assert table.backward(weights) is None
    numeric = numerical_gradient(loss, table.weight.data)
    expected = numeric.copy()
    if padding_idx is not None:
        expected[padding_idx % 6] = 0.0                          # like PyTorch: no gradient, ever
    assert_close(table.weight.grad, expected, "weight")
    # repeated id 1 appears three times: its gradient is the sum of the three output gradients
    np.testing.assert_allclose(table.weight.grad[1], weights[0, 0] + weights[0, 2] + weights[0, 3] + weights[1, 3],
                               rtol=1e-14)
    assert not np.any(table.weight.grad[3]), "an id that never appears gets no gradient"


def test_embedding_padding_row_stays_zero_grad_across_calls(rng):
    table = Embedding(5, 2, padding_idx=0, dtype=np.float64, seed=0)
    for _ in range(3):
        ids = rng.integers(0, 5, size=(4, 7))
        ids[0, 0] = 0
        table(ids)
        table.backward(rng.standard_normal((4, 7, 2)))
    assert not np.any(table.weight.grad[0])
    assert np.all(np.any(table.weight.grad[1:] != 0, axis=1))


def test_embedding_init_is_standard_normal():
    weight = Embedding(1000, 50, dtype=np.float64, seed=0).weight.data
    assert abs(weight.mean()) < 0.01 and abs(weight.std() - 1.0) < 0.01


@pytest.mark.parametrize("ids, error, message", [
    (np.array([0, 10]), ValueError, r"ids must lie in \[0, 10\), got 10 \(and 0 others out of range\)"),
    (np.array([[3, -1], [12, 11]]), ValueError, r"ids must lie in \[0, 10\), got -1 \(and 2 others out of range\)"),
    (np.array([1.0, 2.0]), TypeError, r"ids must be an integer array, got dtype float64 \(cast it"),
    (np.array([1.5]), TypeError, r"ids must be an integer array, got dtype float64"),
    (np.array([True]), TypeError, r"ids must be an integer array, got dtype bool"),
])
def test_embedding_ids_out_of_range_or_not_integers(ids, error, message):
    with pytest.raises(error, match=message):
        Embedding(10, 3, seed=0)(ids)


def test_embedding_bad_arguments():
    with pytest.raises(ValueError, match=r"padding_idx must lie in \[-4, 4\), got 4"):
        Embedding(4, 2, padding_idx=4)
    with pytest.raises(ValueError, match="num_embeddings must be an int >= 1, got 0"):
        Embedding(0, 2)
    for bad in (1.7, True, "2"):                              # never truncated or parsed
        with pytest.raises(TypeError, match=f"padding_idx must be an int or None, got {bad!r}"):
            Embedding(4, 2, padding_idx=bad)
    assert Embedding(4, 2, padding_idx=np.int64(-1)).padding_idx == 3
    table = Embedding(4, 2, seed=0)
    with pytest.raises(ValueError, match="Embedding.backward called before forward"):
        table.backward(np.zeros((1, 2)))
    table(np.array([[1, 2]]))
    with pytest.raises(ValueError, match=r"dy must have shape \(1, 2, 2\).*got \(1, 2, 3\)"):
        table.backward(np.zeros((1, 2, 3)))


# --- Embedding.from_pretrained -----------------------------------------------------------------
def test_from_pretrained_frozen_is_not_trained(rng):
    matrix = rng.standard_normal((5, 3))
    table = Embedding.from_pretrained(matrix, freeze=True, dtype=np.float64)
    np.testing.assert_array_equal(table.weight.data, matrix)
    assert table.weight.requires_grad is False
    ids = np.array([[0, 4, 4]])
    np.testing.assert_array_equal(table(ids), matrix[ids])
    table.backward(np.ones((1, 3, 3)))
    assert not np.any(table.weight.grad)
    SGD(table.parameters(), lr=0.5).step()
    np.testing.assert_array_equal(table.weight.data, matrix)


def test_from_pretrained_unfrozen_trains(rng):
    matrix = rng.standard_normal((5, 3))
    table = Embedding.from_pretrained(matrix, freeze=False, dtype=np.float64)
    assert table.weight.requires_grad is True
    ids = np.array([[0, 4, 4]])
    table(ids)
    table.backward(np.ones((1, 3, 3)))
    np.testing.assert_array_equal(table.weight.grad, [[1, 1, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0], [2, 2, 2]])
    SGD(table.parameters(), lr=0.5).step()
    np.testing.assert_allclose(table.weight.data, matrix - 0.5 * table.weight.grad, rtol=1e-15)


def test_from_pretrained_copies_and_casts(rng):
    matrix = rng.standard_normal((4, 2))
    table = Embedding.from_pretrained(matrix)
    assert table.weight.dtype == np.float32
    np.testing.assert_allclose(table.weight.data, matrix, rtol=1e-6)
    matrix[...] = 0.0
    assert np.any(table.weight.data != 0), "the table must not alias the given matrix"
    with pytest.raises(ValueError, match=r"matrix must have 2 dimensions \(V, E\), got 1"):
        Embedding.from_pretrained(np.zeros(3))
    bad = np.ones((2, 2))
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="matrix contains NaN or infinite values"):
        Embedding.from_pretrained(bad)


def test_from_pretrained_keeps_a_nonzero_padding_row_but_gives_it_no_gradient():
    matrix = np.arange(6.0).reshape(3, 2) + 1.0
    table = Embedding.from_pretrained(matrix, freeze=False, padding_idx=1, dtype=np.float64)
    np.testing.assert_array_equal(table.weight.data, matrix)     # as torch: the row is not zeroed
    table(np.array([1, 1, 2]))
    table.backward(np.ones((3, 2)))
    np.testing.assert_array_equal(table.weight.grad, [[0, 0], [0, 0], [1, 1]])


# --- Dropout -----------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.0, 0.3, 0.9])
def test_dropout_eval_is_identity(p, rng):
    drop = Dropout(p, dtype=np.float64, seed=0).eval()
    x = rng.standard_normal((4, 5, 6))
    y = drop(x)
    np.testing.assert_array_equal(y, x)
    assert y is not x
    dy = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(drop.backward(dy), dy)


def test_dropout_zero_is_identity_in_training(rng):
    drop = Dropout(0.0, dtype=np.float64, seed=0)
    x = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(drop(x), x)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_training_statistics_and_scaling(p, dtype, rng):
    drop = Dropout(p, dtype=dtype, seed=0)
    x = rng.uniform(0.5, 1.5, size=(1000, 1000))                   # never zero: a zero output means dropped
    y = drop(x)
    assert y.dtype == dtype
    kept = y != 0
    # 1e6 Bernoulli(1 - p) draws: the standard deviation of the fraction is below 5e-4
    assert abs(kept.mean() - (1 - p)) < 0.003
    expected = x.astype(dtype) / dtype(1 - p)
    np.testing.assert_allclose(y[kept], expected[kept], rtol=2e-7 if dtype == np.float32 else 1e-15)
    np.testing.assert_allclose(y.astype(np.float64).mean(), x.mean(), rtol=0.01)   # unbiased


def test_dropout_backward_uses_the_forward_mask(rng):
    p = 0.4
    drop = Dropout(p, dtype=np.float64, seed=3)
    x = rng.uniform(0.5, 1.5, size=(50, 40))
    y = drop(x)
    dy = rng.standard_normal(x.shape)
    dx = drop.backward(dy)
    kept = y != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_array_equal(dx[~kept], 0.0)
    np.testing.assert_allclose(dx[kept], dy[kept] / (1 - p), rtol=1e-15)
    np.testing.assert_allclose(dx, dy * y / x, rtol=1e-14)         # the Jacobian of y = x * m is diag(m)
    np.testing.assert_array_equal(drop.backward(dy), dx)           # backward does not resample
    drop(x)
    assert not np.array_equal(drop.backward(dy), dx), "each forward draws a new mask"


def test_dropout_masks_are_seeded():
    x = np.ones((20, 20))
    np.testing.assert_array_equal(Dropout(0.5, seed=7)(x), Dropout(0.5, seed=7)(x))
    assert not np.array_equal(Dropout(0.5, seed=7)(x), Dropout(0.5, seed=8)(x))


def test_dropout_bad_input():
    with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\), got 1.0"):
        Dropout(1.0)
    with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\), got -0.1"):
        Dropout(-0.1)
    drop = Dropout(0.5, seed=0)
    with pytest.raises(ValueError, match="Dropout.backward called before forward"):
        drop.backward(np.zeros(3))
    drop(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"dy must have the shape of the forward output, \(2, 3\), got \(3, 2\)"):
        drop.backward(np.ones((3, 2)))
    with pytest.raises(ValueError, match="x contains NaN or infinite values"):
        drop(np.array([1.0, np.nan]))
