"""A layer's work arrays (:mod:`rnnkit.workspace`): reused by role, never while still held.

The workspace hands a role's memory out again only once no array, view or cache refers to it.
These tests lower its size threshold to zero, so that every intermediate of the small test
layers goes through it, and check that training gives the same numbers, that nothing a caller
or a cache still holds is ever overwritten, and that released roles are not kept.
"""

import copy
import pickle

import numpy as np
import pytest

import rnnkit
from rnnkit import compiled
from rnnkit.workspace import Workspace
from recurrent_cases import CASES, run_backward, run_forward

PATHS = [False] + ([True] if compiled.available() else [])


def address(array):
    return array.__array_interface__["data"][0]


def test_a_role_gets_its_memory_back_only_when_nothing_holds_it():
    work = Workspace(min_bytes=0)
    first = work.array(("a",), (10, 100), np.float64)
    view = first[3:].T
    del first
    second = work.array(("a",), (10, 100), np.float64)     # the view still holds the memory
    assert not np.shares_memory(second, view)
    kept = address(second)
    del view, second
    third = work.array(("a",), (5, 200), np.float64)       # free now: the same memory, any shape
    assert address(third) == kept
    other = work.array(("b",), (5, 200), np.float64)       # another role: its own memory
    assert not np.shares_memory(third, other)
    del third
    larger = work.array(("a",), (1010,), np.float64)       # within 8,000 bytes' size class (8,192)
    assert address(larger) == kept
    del larger
    as_float32 = work.array(("a",), (2, 1000), np.float32)
    assert address(as_float32) == kept and as_float32.dtype == np.float32


def test_small_arrays_are_plain_and_release_and_clear_drop_roles():
    work = Workspace()                                      # 1 MiB threshold
    small = work.array(("a",), (4, 4), np.float32)
    assert small.base is None and work.nbytes() == 0
    big = work.array(("b",), (1 << 18, 2), np.float32)     # 2 MiB
    assert work.nbytes() >= big.nbytes
    assert work.release(("b",)) >= big.nbytes and work.nbytes() == 0
    assert work.release(("b",)) == 0                        # nothing left to release
    big[:] = 1.0                                            # still a valid array of its own
    kept = work.array(("c",), (1 << 18, 2), np.float32)
    free = work.array(("d",), (1 << 18, 2), np.float32)
    del free
    assert work.clear() == 1 << 21                          # only the free one counts
    kept[:] = 3.0                                           # still its caller's
    assert work.nbytes() == 0 and np.all(kept == 3.0)


def test_copies_and_pickles_of_a_layer_start_with_an_empty_workspace():
    layer = rnnkit.LSTM(64, 256, seed=0)
    with rnnkit.no_grad():
        layer(np.ones((8, 64, 64)))
    assert layer.workspace.nbytes() > 0
    for twin in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert twin.workspace is not layer.workspace and twin.workspace.nbytes() == 0
        assert twin.workspace.min_bytes == layer.workspace.min_bytes


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
def test_training_with_reused_memory_gives_the_same_numbers(case, use_compiled):
    """Two steps with reuse equal two steps without, and step 1's results survive step 2."""
    compiled.set_enabled(use_compiled)
    try:
        results = {}
        for threshold in (1 << 62, 0):                        # never reuse, then reuse everything
            layer = case.build(dtype=np.float32, seed=3)
            layer.workspace.min_bytes = threshold
            first, second = case.inputs(seed=4, dtype=np.float32), case.inputs(seed=5, dtype=np.float32)
            probe, final = run_forward(layer, case, first)
            grads = _grads_like(case, [probe] + (list(final) if case.kind == "LSTM" else [final]), seed=6)
            step_one = _train(case, layer, first, grads)
            snapshot = [np.copy(a) for a in step_one[0] + list(step_one[1].values())]
            step_two = _train(case, layer, second, grads)
            for kept, now in zip(snapshot, step_one[0] + list(step_one[1].values())):
                np.testing.assert_array_equal(kept, now)               # step 2 overwrote nothing of step 1's
            if threshold == 0:
                assert layer.workspace.nbytes() > 0                    # the roles did go through it
            results[threshold] = (step_one, step_two)
        for plain, reused in zip(results[1 << 62], results[0]):
            for a, b in zip(plain[0] + list(plain[1].values()) + plain[2],
                            reused[0] + list(reused[1].values()) + reused[2]):
                np.testing.assert_array_equal(a, b)
    finally:
        compiled.set_enabled(None)


def test_a_second_backward_still_sees_its_forward():
    """The cache of a forward stays intact for a second backward, whatever ran in between."""
    layer = rnnkit.LSTM(3, 5, num_layers=2, bidirectional=True, seed=0)
    other = rnnkit.GRU(3, 5, seed=1)
    layer.workspace.min_bytes = other.workspace.min_bytes = 0
    x = np.random.default_rng(0).standard_normal((4, 6, 3))
    y, _ = layer(x)
    dy = np.ones_like(y)
    dx_first, _ = layer.backward(dy)
    dx_first = dx_first.copy()
    other_y, _ = other(x)                                      # another layer's step in between
    other.backward(np.ones_like(other_y))
    dx_second, _ = layer.backward(dy)
    np.testing.assert_array_equal(dx_first, dx_second)
