"""Training forwards and backwards recycle the memory of their large intermediates.

:func:`rnnkit.grad_mode.recycled_array` hands memory out again only once no array, view or
cache refers to it. These tests lower its size threshold to zero, so that every intermediate
of the small test layers goes through it, and check that training gives the same numbers,
that nothing a caller or a cache still holds is ever overwritten, and that the pool stays
bounded.
"""

import numpy as np
import pytest

from rnnkit import compiled, grad_mode
from recurrent_cases import CASES, run_backward, run_forward

PATHS = [False] + ([True] if compiled.available() else [])


@pytest.fixture
def recycle_everything(monkeypatch):
    grad_mode.free_work_arrays()
    monkeypatch.setattr(grad_mode, "RECYCLE_MIN_BYTES", 0)
    yield
    grad_mode.free_work_arrays()


def address(array):
    return array.__array_interface__["data"][0]


def test_memory_comes_back_only_once_nothing_refers_to_it(recycle_everything):
    first = grad_mode.recycled_array((10, 100), np.float64)
    view = first[1:].T
    first_address = address(first)
    del first
    second = grad_mode.recycled_array((10, 100), np.float64)     # the view still holds the memory
    assert address(second) != first_address
    freed = {first_address, address(second)}
    del view
    third = grad_mode.recycled_array((10, 100), np.float64)
    assert address(third) == first_address
    assert third.shape == (10, 100) and third.dtype == np.float64 and third.flags.c_contiguous
    del second, third
    larger = grad_mode.recycled_array((1010,), np.float64)     # 8,080 bytes: 8,000's size class (8,192)
    assert address(larger) in freed and larger.shape == (1010,)
    as_float32 = grad_mode.recycled_array((2, 1000), np.float32)
    assert address(as_float32) in freed - {address(larger)} and as_float32.dtype == np.float32


def test_small_arrays_are_plain_numpy_arrays():
    grad_mode.free_work_arrays()
    array = grad_mode.recycled_array((4, 4), np.float32)       # below RECYCLE_MIN_BYTES
    assert array.flags.owndata
    assert grad_mode.free_work_arrays() == 0


def test_the_pool_stays_within_twice_its_high_water(recycle_everything):
    pool_bytes = []
    for size in range(1000, 3000, 37):                         # ever-changing shapes
        array = grad_mode.recycled_array((size,), np.float64)
        array[:] = 1.0
        del array
        buffers = grad_mode._local.recycled["buffers"]
        pool_bytes.append(sum(buffer.nbytes for buffer in buffers))
        assert pool_bytes[-1] <= 2 * grad_mode._local.recycled["high_water"]
    assert max(pool_bytes) < 4 * 3000 * 8


def test_free_work_arrays_releases_the_free_memory(recycle_everything):
    kept = grad_mode.recycled_array((100,), np.float64)
    released = grad_mode.recycled_array((200,), np.float64)
    del released
    assert grad_mode.free_work_arrays() >= 200 * 8
    kept[:] = 2.0                                              # still the caller's
    assert np.all(kept == 2.0)


def _train(case, layer, inputs, grads):
    y, final = run_forward(layer, case, inputs)
    layer.zero_grad()
    input_grads = run_backward(layer, case, grads)
    outputs = [y] + (list(final) if case.kind == "LSTM" else [final])
    return outputs, input_grads, [parameter.grad.copy() for parameter in layer.parameters()]


def _grads_like(case, outputs, seed):
    rng = np.random.default_rng(seed)
    fresh = [rng.standard_normal(output.shape).astype(output.dtype) for output in outputs]
    return (fresh[0], tuple(fresh[1:])) if case.kind == "LSTM" else (fresh[0], fresh[1])


@pytest.mark.parametrize("use_compiled", PATHS, ids=lambda on: "compiled" if on else "numpy")
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_training_with_recycled_memory_gives_the_same_numbers(case, use_compiled, monkeypatch):
    """Two steps with recycling equal two steps without, and step 1's results survive step 2."""
    compiled.set_enabled(use_compiled)
    try:
        results = {}
        for threshold in (1 << 62, 0):                        # never recycle, then recycle everything
            grad_mode.free_work_arrays()
            monkeypatch.setattr(grad_mode, "RECYCLE_MIN_BYTES", threshold)
            layer = case.build(dtype=np.float32, seed=3)
            first, second = case.inputs(seed=4, dtype=np.float32), case.inputs(seed=5, dtype=np.float32)
            probe, final = run_forward(layer, case, first)
            grads = _grads_like(case, [probe] + (list(final) if case.kind == "LSTM" else [final]), seed=6)
            step_one = _train(case, layer, first, grads)
            snapshot = [np.copy(a) for a in step_one[0] + list(step_one[1].values())]
            step_two = _train(case, layer, second, grads)
            for kept, now in zip(snapshot, step_one[0] + list(step_one[1].values())):
                np.testing.assert_array_equal(kept, now)               # step 2 overwrote nothing of step 1's
            results[threshold] = (step_one, step_two)
        for plain, recycled in zip(results[1 << 62], results[0]):
            for a, b in zip(plain[0] + list(plain[1].values()) + plain[2],
                            recycled[0] + list(recycled[1].values()) + recycled[2]):
                np.testing.assert_array_equal(a, b)
    finally:
        compiled.set_enabled(None)
        grad_mode.free_work_arrays()


def test_a_second_backward_still_sees_its_forward(recycle_everything):
    """The cache of a forward stays intact for a second backward, whatever ran in between."""
    import rnnkit

    layer = rnnkit.LSTM(3, 5, num_layers=2, bidirectional=True, seed=0)
    other = rnnkit.GRU(3, 5, seed=1)
    x = np.random.default_rng(0).standard_normal((4, 6, 3))
    y, _ = layer(x)
    dy = np.ones_like(y)
    dx_first, _ = layer.backward(dy)
    other_y, _ = other(x)                                      # another layer's step in between
    other.backward(np.ones_like(other_y))
    dx_second, _ = layer.backward(dy)
    np.testing.assert_array_equal(dx_first, dx_second)


def test_forget_takes_memory_out_of_the_pool(recycle_everything):
    kept = grad_mode.recycled_array((50, 20), np.float64)
    dying = grad_mode.recycled_array((50, 20), np.float64)
    assert len(grad_mode._local.recycled["buffers"]) == 2
    grad_mode.forget(dying[3:].T)                              # any view finds its memory's owner
    assert len(grad_mode._local.recycled["buffers"]) == 1
    grad_mode.forget(np.ones(3))                               # memory the pool never had: nothing happens
    assert len(grad_mode._local.recycled["buffers"]) == 1
    kept[:] = 1.0
    dying[:] = 2.0                                             # still a valid array of its own
    assert np.all(kept == 1.0)
