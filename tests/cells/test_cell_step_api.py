"""The one-step cells' explicit-cache API: ``step`` returns its cache, ``backward_step`` takes it.

What a decoder that steps a cell many times (Seq2Seq) needs: several caches alive at once,
backward in any order, and the same numbers as ``forward``/``backward`` one step at a time.
"""

from contextlib import nullcontext

import numpy as np
import pytest

import rnnkit
from rnnkit.registry import cell_kind


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_steps_backward_in_reverse_order_equal_forward_backward(name):
    kind = cell_kind(name)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((3, 4)) for _ in range(3)]
    dhs = [rng.standard_normal((3, 5)) for _ in range(3)]

    def plain():
        cell = kind.cell(4, 5, dtype=np.float64, seed=1)
        state, grads = None, []
        for x, dh in zip(xs, dhs):                       # forward and backward of each step at once
            state = cell(x, state)
            grads.append(cell.backward(*kind.as_tuple(kind.hidden_gradient(dh)))[0])
        return grads, {n: p.grad.copy() for n, p in cell.named_parameters()}

    def explicit():
        cell = kind.cell(4, 5, dtype=np.float64, seed=1)
        state, caches = None, []
        for x in xs:                                     # all forwards first, caches kept by the caller
            state, cache = cell.step(x, state)
            caches.append(cache)
        assert cell._cache is None                       # the cell itself kept nothing
        grads = [None] * 3
        for t in reversed(range(3)):                     # backward in reverse order
            grads[t] = cell.backward_step(caches[t], *kind.as_tuple(kind.hidden_gradient(dhs[t])))[0]
        return grads, {n: p.grad.copy() for n, p in cell.named_parameters()}

    (plain_dx, plain_params), (explicit_dx, explicit_params) = plain(), explicit()
    for a, b in zip(plain_dx, explicit_dx):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
    for parameter in plain_params:
        np.testing.assert_allclose(explicit_params[parameter], plain_params[parameter], rtol=1e-12, atol=1e-13)


def test_backward_step_refuses_a_cache_from_no_grad():
    cell = rnnkit.GRUCell(2, 3, seed=0)
    with rnnkit.no_grad():
        _, cache = cell.step(np.ones((1, 2)))
    with pytest.raises(ValueError, match="no_grad"):
        cell.backward_step(cache, np.ones((1, 3)))


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_deferred_grads_add_the_same_gradients_after_the_block(name):
    kind = cell_kind(name)
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((3, 4)) for _ in range(4)]
    dhs = [rng.standard_normal((3, 5)) for _ in range(4)]

    def run(defer):
        cell = kind.cell(4, 5, dtype=np.float64, seed=3)
        for parameter in cell.parameters():
            parameter.grad[...] = 0.5                    # gradients already there are added to
        state, caches = None, []
        for x in xs:
            state, cache = cell.step(x, state)
            caches.append(cache)
        d_inputs = []
        with cell.deferred_grads() if defer else nullcontext():
            for t in reversed(range(4)):
                d_inputs.append(cell.backward_step(caches[t], *kind.as_tuple(kind.hidden_gradient(dhs[t])))[0])
                if defer:
                    assert np.all(cell.weight_ih.grad == 0.5)    # nothing added inside the block
        return d_inputs, {n: p.grad.copy() for n, p in cell.named_parameters()}

    (d_now, now), (d_later, later) = run(False), run(True)
    for a, b in zip(d_now, d_later):
        np.testing.assert_array_equal(a, b)              # dL/dx is not deferred
    for parameter in now:
        np.testing.assert_allclose(later[parameter], now[parameter], rtol=1e-12, atol=1e-14)
        assert np.any(now[parameter] != 0.5)


def test_deferred_grads_cannot_nest_and_end_on_errors():
    cell = cell_kind("lstm").cell(2, 3, seed=0)
    with pytest.raises(RuntimeError, match="already active"):
        with cell.deferred_grads(), cell.deferred_grads():
            pass
    with pytest.raises(ValueError):
        with cell.deferred_grads():
            raise ValueError("inside")
    assert cell.__dict__.get("_deferred") is None        # the next backward adds at once again
