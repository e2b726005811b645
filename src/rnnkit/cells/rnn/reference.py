"""The Elman RNN's step math and its reference time loops (NumPy).

Glossary: T steps, B batch, H hidden units.

Equations (one step)::

    a_t = x_t W_ih^T + h_{t-1} W_hh^T + (b_ih + b_hh)    # (B, H) pre-activation
    h_t = act(a_t)                                        # act = tanh or relu

Backward, from the cached output h_t::

    da_t      = dh_t * act'(a_t)      # tanh' = 1 - h_t^2, relu' = [h_t > 0]
    dh_{t-1}  = da_t W_hh
    dW_ih    += da_t^T x_t,  dW_hh += da_t^T h_{t-1},  db_ih += sum_B da_t,  db_hh likewise

The RNN's reference kernel; :mod:`rnnkit.cells.rnn.compiled` mirrors it function for function
(the kernel contract: :mod:`rnnkit.layers.recurrent`). The states are the whole cache: the
cache of ``forward`` is empty.
"""

from __future__ import annotations

import numpy as np

from rnnkit.cells.pointwise import relu_backward, tanh_backward

NONLINEARITIES = ("tanh", "relu")


def step_forward(pre_activation: np.ndarray, bias: np.ndarray, nonlinearity: str, h: np.ndarray) -> np.ndarray:
    """h_t = act(pre_activation + bias) into ``h`` (B, H); pre_activation (B, H) = x W_ih^T + h W_hh^T
    is overwritten (it may be ``h`` itself); bias (H,) = b_ih + b_hh."""
    np.add(pre_activation, bias, out=h)
    if nonlinearity == "tanh":
        return np.tanh(h, out=h)
    return np.maximum(h, 0.0, out=h)


def step_backward(dh: np.ndarray, h: np.ndarray, nonlinearity: str, d_pre: np.ndarray) -> np.ndarray:
    """Write ``dL/da_t`` (B, H) into ``d_pre`` from ``dh`` = dL/dh_t and the cached ``h`` = h_t."""
    if nonlinearity == "tanh":
        return tanh_backward(dh, h, out=d_pre)
    return relu_backward(dh, h, out=d_pre)


def forward(layer, gates, reverse, weights, initial, invalid, work):
    """The loop over processing steps: gates (T, B, H) = x W_ih^T, time order, no biases
    (overwritten with a_t). Returns states (T+1, B, H), (h_n,) and the empty cache."""
    steps, batch, hidden = gates.shape
    pre = gates[::-1] if reverse else gates                                   # processing order
    states = work.array("states", (steps + 1, batch, hidden), gates.dtype)   # (T+1, B, H)
    states[0] = initial[0]
    w_hh_t, bias = weights.weight_hh.data.T, weights.combined_bias()
    product = np.empty((batch, hidden), dtype=gates.dtype)
    for k in range(steps):
        np.matmul(states[k], w_hh_t, out=product)
        pre[k] += product
        step_forward(pre[k], bias, layer.nonlinearity, states[k + 1])
        if invalid is not None:
            np.copyto(states[k + 1], states[k], where=invalid[k])       # past the length: keep the state
    return states, (states[-1],), ()


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """The loop backward: returns d_gi = d_gh = dL/da (T, B, H) and (dh_0,)."""
    states = cache.states
    steps, batch, hidden = d_states.shape
    valid = None if invalid is None else (~invalid).astype(d_states.dtype)
    d_pre = np.empty_like(d_states)                                           # dL/da_t, (T, B, H)
    carry = np.zeros((batch, hidden), dtype=d_states.dtype)                   # dL/dh_{t-1} through step t
    w_hh = weights.weight_hh.data
    for k in reversed(range(steps)):
        dh = d_states[k]
        dh += carry
        step_backward(dh, states[k + 1], layer.nonlinearity, d_pre[k])
        if invalid is not None:
            d_pre[k] *= valid[k]
        np.matmul(d_pre[k], w_hh, out=carry)
        if invalid is not None:
            np.copyto(carry, dh, where=invalid[k])         # a held state passes dh through
    return d_pre, d_pre, (carry,)


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """The forward without a cache (no_grad), batch-major: xw (B, T, H) without biases,
    overwritten; h_t into output[:, t, column:column + H]. Returns (h_n,)."""
    batch, steps, hidden = xw.shape
    columns = slice(column, column + hidden)
    w_hh_t, bias = weights.weight_hh.data.T, weights.combined_bias()
    product = np.empty((batch, hidden), dtype=xw.dtype)
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        previous = initial[0] if k == 0 else output[:, t + 1 if reverse else t - 1, columns]   # h_{t-1}
        np.matmul(previous, w_hh_t, out=product)
        pre = xw[:, t]
        pre += product
        h = output[:, t, columns]
        step_forward(pre, bias, layer.nonlinearity, h)
        if invalid is not None:                              # past the length: keep the state
            np.copyto(h, previous, where=invalid[k])
    return (output[:, 0 if reverse else -1, columns].copy(),)
