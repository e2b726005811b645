"""The one-step cells' explicit-cache API: ``step`` returns its cache, ``backward_step`` takes it.

What a decoder that steps a cell many times (Seq2Seq) needs: several caches alive at once,
backward in any order, and the same numbers as ``forward``/``backward`` one step at a time.
"""

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
