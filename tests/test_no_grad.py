"""``rnnkit.no_grad()``: forward passes that keep nothing for backward.

Outputs under no_grad must equal a normal forward's (every configuration of the core tests),
with both kernels, to float rounding: a no_grad forward runs batch-major and takes the input
products from the rows in batch order (some BLAS kernels round a row by where it lies in the
product); a backward after such a forward must raise before it
touches any gradient; the mode is scoped (nesting, exceptions, decorator, threads).
"""

import copy
import threading

import numpy as np
import pytest

import rnnkit
from rnnkit import compiled
from recurrent_cases import CASES, run_backward, run_forward

PATHS = [False] + ([True] if compiled.available() else [])


def assert_same_outputs(ours, reference, use_compiled):
    """Within a few float roundings, with either kernel (``use_compiled`` names the case)."""
    if ours.dtype == np.float64:
        np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-14)
    else:
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)


def forward_outputs(case, layer, inputs):
    y, final = run_forward(layer, case, inputs)
    return [y] + (list(final) if case.kind == "LSTM" else [final])


@pytest.mark.parametrize("use_compiled", PATHS, ids=lambda on: "compiled" if on else "numpy")
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_outputs_equal_a_normal_forward(case, use_compiled):
    compiled.set_enabled(use_compiled)
    try:
        for dtype in (np.float64, np.float32):
            layer = case.build(dtype=dtype, seed=3)
            inputs = case.inputs(seed=4, dtype=dtype)
            expected = forward_outputs(case, layer, inputs)
            with rnnkit.no_grad():
                got = forward_outputs(case, layer, inputs)
            for ours, reference in zip(got, expected):
                assert ours.dtype == reference.dtype == dtype and ours.shape == reference.shape
                assert_same_outputs(ours, reference, use_compiled)
    finally:
        compiled.set_enabled(None)


@pytest.mark.parametrize("use_compiled", PATHS, ids=lambda on: "compiled" if on else "numpy")
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_dropout_in_training_mode_and_strided_inputs_under_no_grad(kind, use_compiled):
    """A training-mode forward under no_grad draws the same dropout masks as a normal one, and
    inputs that are views with odd strides give what their contiguous copies give."""
    compiled.set_enabled(use_compiled)
    try:
        layer = getattr(rnnkit, kind)(3, 5, num_layers=3, dropout=0.4, bidirectional=True, seed=1)
        wide = np.random.default_rng(5).standard_normal((6, 4, 7))
        x = wide[::2, :, 1:7:2].transpose(1, 0, 2)                 # (4, 3, 3), no axis contiguous
        state = copy.deepcopy(layer.rng.bit_generator.state)
        expected = _flatten(layer(np.ascontiguousarray(x)))
        layer.rng.bit_generator.state = state
        with rnnkit.no_grad():
            got = _flatten(layer(x))
        for ours, reference in zip(got, expected):
            assert_same_outputs(ours, reference, use_compiled)
        assert not np.array_equal(got[0], _flatten(layer.eval()(x))[0])   # dropout did act
    finally:
        compiled.set_enabled(None)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_backward_after_no_grad_raises_and_leaves_gradients_alone(kind):
    case = next(c for c in CASES if c.kind == kind and c.num_layers == 2 and c.bidirectional)
    layer = case.build(seed=3)
    inputs = case.inputs(seed=4)
    with rnnkit.no_grad():
        y, final = run_forward(layer, case, inputs)
    grads = (np.ones_like(y), tuple(np.ones_like(f) for f in final)) if kind == "LSTM" else (np.ones_like(y), None)
    with pytest.raises(ValueError, match=r"no_grad\(\) and kept nothing for backward"):
        run_backward(layer, case, grads)
    assert all(not p.grad.any() for p in layer.parameters())
    y, final = run_forward(layer, case, inputs)           # a normal forward afterwards trains again
    run_backward(layer, case, grads)
    assert any(p.grad.any() for p in layer.parameters())


def test_models_and_cells_refuse_backward_before_any_gradient_changes():
    model = rnnkit.models.LanguageModel(11, hidden_size=6, embedding_dim=4, seed=0)
    ids = np.random.default_rng(0).integers(0, 11, size=(2, 5))
    expected, _ = model(ids)
    with rnnkit.no_grad():
        logits, _ = model(ids)
    np.testing.assert_array_equal(logits, expected)
    with pytest.raises(ValueError, match="Linear.backward: the last forward ran under rnnkit.no_grad"):
        model.backward(np.ones_like(logits))
    assert all(not p.grad.any() for p in model.parameters())

    cell = rnnkit.LSTMCell(3, 4, seed=0)
    with rnnkit.no_grad():
        h, c = cell(np.ones((2, 3)))
    with pytest.raises(ValueError, match="LSTMCell.backward"):
        cell.backward(np.ones_like(h))


def test_scope_nesting_exceptions_decorator_and_threads():
    assert rnnkit.is_grad_enabled()
    guard = rnnkit.no_grad()
    with guard:
        with guard:                                         # the same object nested
            assert not rnnkit.is_grad_enabled()
        assert not rnnkit.is_grad_enabled()
    assert rnnkit.is_grad_enabled()
    with pytest.raises(RuntimeError):
        with rnnkit.no_grad():
            raise RuntimeError("boom")
    assert rnnkit.is_grad_enabled()

    @rnnkit.no_grad()
    def evaluate():
        return rnnkit.is_grad_enabled()
    assert evaluate() is False and rnnkit.is_grad_enabled()

    seen = []
    with rnnkit.no_grad():
        thread = threading.Thread(target=lambda: seen.append(rnnkit.is_grad_enabled()))
        thread.start()
        thread.join()
    assert seen == [True]                                   # the mode belongs to the thread that set it


@pytest.mark.parametrize("use_compiled", PATHS, ids=lambda on: "compiled" if on else "numpy")
@pytest.mark.parametrize("shape", [(1, 5), (3, 1), (2, 4)], ids=["B1", "T1", "B2T4"])
def test_outputs_never_alias_what_backward_reads(shape, use_compiled):
    """A one-direction layer without lengths passes its states on without a copy; the y it
    returns must still be the caller's own array (writing to it must not change the gradients)."""
    batch, steps = shape
    compiled.set_enabled(use_compiled)
    try:
        for kind in ("RNN", "LSTM", "GRU"):
            layer = getattr(rnnkit, kind)(3, 4, num_layers=2, seed=0)
            x = np.random.default_rng(1).standard_normal((batch, steps, 3))
            gradients = []
            for scribble in (False, True):
                layer.zero_grad()
                y, _ = layer(x)
                dy = np.cos(y)
                if scribble:
                    y[...] = 1e6
                layer.backward(dy)
                gradients.append([p.grad.copy() for p in layer.parameters()])
            for before, after in zip(*gradients):
                np.testing.assert_array_equal(before, after)
    finally:
        compiled.set_enabled(None)


@pytest.mark.parametrize("use_compiled", PATHS, ids=lambda on: "compiled" if on else "numpy")
def test_work_arrays_reused_under_no_grad_never_reach_the_caller(use_compiled):
    """Forwards under no_grad reuse their large intermediates; what they return stays the caller's."""
    compiled.set_enabled(use_compiled)
    try:
        for kind in ("RNN", "LSTM", "GRU"):
            for batch, steps, bidirectional in ((1, 6, False), (4, 1, False), (3, 5, True)):
                layer = getattr(rnnkit, kind)(3, 4, num_layers=2, bidirectional=bidirectional, seed=0)
                rng = np.random.default_rng(2)
                first, second = (rng.standard_normal((batch, steps, 3)) for _ in range(2))
                expected_first, expected_second = layer(first), layer(second)
                with rnnkit.no_grad():
                    got_first = layer(first)
                    snapshot = [np.copy(a) for a in _flatten(got_first)]
                    got_second = layer(second)
                for kept, now in zip(snapshot, _flatten(got_first)):   # the second call changed nothing
                    np.testing.assert_array_equal(kept, now)
                for ours, reference in zip(_flatten(got_first) + _flatten(got_second),
                                           _flatten(expected_first) + _flatten(expected_second)):
                    assert_same_outputs(ours, reference, use_compiled)
    finally:
        compiled.set_enabled(None)


def _flatten(outputs):
    y, final = outputs
    return [y] + (list(final) if isinstance(final, tuple) else [final])


def test_work_arrays_can_be_released():
    layer = rnnkit.LSTM(64, 256, seed=0)
    x = np.ones((8, 64, 64))
    with rnnkit.no_grad():
        expected, _ = layer(x)
    held = layer.free_work_arrays()
    itemsize = np.dtype(layer.dtype).itemsize
    assert held >= 8 * 64 * 4 * 256 * itemsize       # at least the input products
    assert layer.free_work_arrays() == 0
    assert layer.workspace.nbytes() == 0
    with rnnkit.no_grad():                          # and they come back when needed
        again, _ = layer(x)
    np.testing.assert_array_equal(again, expected)
