"""The GRU's step math and its reference time loops (NumPy).

Glossary: T steps, B batch, H hidden units; gate blocks in PyTorch's order r, z, n.

Equations (one step; the reset gate multiplies the recurrent product INCLUDING its bias)::

    gi = x_t W_ih^T + b_ih,   gh = h_{t-1} W_hh^T + b_hh     # (B, 3H) each, blocks [r z n]
    r = sigmoid(gi_r + gh_r)                                # reset gate
    z = sigmoid(gi_z + gh_z)                                # update gate
    n = tanh(gi_n + r * gh_n)                               # new (candidate) state
    h_t = (1 - z) * n + z * h_{t-1}  =  (h_{t-1} - n) * z + n

Backward, from the cached r, z, n and gh_n::

    dz_n = dh_t * (1 - z) * (1 - n^2)            # = dL/d(gi_n)
    dz_z = dh_t * (h_{t-1} - n) * z (1 - z)
    dz_r = dz_n * gh_n * r (1 - r)
    dgi = [dz_r, dz_z, dz_n],   dgh = [dz_r, dz_z, dz_n * r]
    dh_{t-1} = dh_t * z + dgh W_hh

The GRU's reference kernel; :mod:`rnnkit.cells.gru.compiled` mirrors it function for function
(the kernel contract: :mod:`rnnkit.layers.recurrent`). Its cache is
``(gates (T, B, 3H) time order, recurrent_n (T, B, H) = gh_n per step)``; backward returns
dL/d(gh)'s n block only (T, B, H): its r and z blocks equal d_gi's (both enter one sigmoid).
"""

from __future__ import annotations

import numpy as np

from rnnkit.cells.pointwise import sigmoid, sigmoid_backward, tanh_backward


def step_forward(gi: np.ndarray, b_ih: np.ndarray, gh: np.ndarray, b_hh: np.ndarray, h_prev: np.ndarray,
                 h: np.ndarray) -> None:
    """One GRU step of pointwise math, allocation-free.

    ``gi``, ``gh`` (B, 3H): the input and recurrent products without biases; ``b_ih``, ``b_hh``
    (3H,). On exit ``gi`` holds the activations [r z n] and ``gh`` holds gh + b_hh (its n block
    is gh_n, which backward needs). Writes h_t into ``h`` (B, H).
    """
    H = h.shape[1]
    gi += b_ih
    gh += b_hh
    r, z, n = gi[:, :H], gi[:, H:2 * H], gi[:, 2 * H:]
    gi[:, :2 * H] += gh[:, :2 * H]
    sigmoid(gi[:, :2 * H], out=gi[:, :2 * H])         # r and z together
    np.multiply(r, gh[:, 2 * H:], out=h)              # h is scratch here
    n += h
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)                     # h = (h_prev - n) * z + n
    h *= z
    h += n


def step_backward(dh: np.ndarray, h_prev: np.ndarray, gates: np.ndarray, gh_n: np.ndarray,
                  d_gh: np.ndarray, dh_prev: np.ndarray, scratch: np.ndarray) -> None:
    """Backward of :func:`step_forward`, allocation-free, in place.

    ``gates`` (B, 3H) holds the activations [r z n] on entry and dL/d(gi) on exit; writes
    ``d_gh`` (B, 3H) = dL/d(gh) and the direct part of dL/dh_{t-1}, ``dh * z``, into
    ``dh_prev`` (B, H) (the caller adds ``d_gh W_hh``); ``scratch`` (B, H).
    """
    H = dh.shape[1]
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    np.subtract(1.0, z, out=scratch)
    scratch *= dh                                     # dL/dn = dh * (1 - z)
    tanh_backward(scratch, n, out=d_gh[:, 2 * H:])    # dz_n, kept here while n is still needed
    np.subtract(h_prev, n, out=scratch)
    scratch *= dh                                     # dL/dz = dh * (h_prev - n)
    sigmoid_backward(scratch, z, out=d_gh[:, H:2 * H])
    np.multiply(dh, z, out=dh_prev)
    np.multiply(d_gh[:, 2 * H:], gh_n, out=scratch)   # dL/dr = dz_n * gh_n
    sigmoid_backward(scratch, r, out=d_gh[:, :H])
    n[...] = d_gh[:, 2 * H:]                          # d_gi = [dz_r, dz_z, dz_n]
    d_gh[:, 2 * H:] *= r                              # d_gh = [dz_r, dz_z, dz_n * r]
    gates[:, :2 * H] = d_gh[:, :2 * H]


def forward(layer, gates, reverse, weights, initial, invalid, work):
    """The loop over processing steps (same contract as the LSTM's, see the module docstring).

    gates (T, B, 3H): x W_ih^T, time order, without b_ih; the activations [r z n] on exit.
    """
    steps, batch, _ = gates.shape
    dtype, hidden = gates.dtype, layer.hidden_size
    gi = gates[::-1] if reverse else gates                                    # processing order
    states = work.array("states", (steps + 1, batch, hidden), dtype)         # (T+1, B, H)
    states[0] = initial[0]
    recurrent_n = work.array("recurrent_n", (steps, batch, hidden), dtype)   # gh_n per step
    gh = np.empty((batch, 3 * hidden), dtype=dtype)
    w_hh_t = weights.weight_hh.data.T
    b_ih, b_hh = weights.split_biases()
    for k in range(steps):
        np.matmul(states[k], w_hh_t, out=gh)
        step_forward(gi[k], b_ih, gh, b_hh, states[k], states[k + 1])
        recurrent_n[k] = gh[:, 2 * hidden:]
        if invalid is not None:
            np.copyto(states[k + 1], states[k], where=invalid[k])   # past the length: keep the state
    return states, (states[-1],), (gates, recurrent_n)


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """The loop backward, written over the gate cache: returns d_gi (T, B, 3H), dL/d(gh)'s n
    block (T, B, H) and (dh_0,)."""
    gates, recurrent_n = cache.extra
    states = cache.states
    steps, batch, hidden = d_states.shape
    dtype = d_states.dtype
    d_gi = gates[::-1] if cache.reverse else gates                            # processing order
    valid = None if invalid is None else (~invalid).astype(dtype)
    d_gh_n = np.empty((steps, batch, hidden), dtype=dtype)
    d_gh = np.empty((batch, 3 * hidden), dtype=dtype)                         # one step's dL/d(gh)
    carry = np.zeros((batch, hidden), dtype=dtype)                            # dL/dh_{t-1}
    through_weights = np.empty((batch, hidden), dtype=dtype)
    scratch = np.empty((batch, hidden), dtype=dtype)
    w_hh = weights.weight_hh.data
    for k in reversed(range(steps)):
        dh = d_states[k]
        dh += carry
        step_backward(dh, states[k], d_gi[k], recurrent_n[k], d_gh, carry, scratch)
        if invalid is not None:
            d_gi[k] *= valid[k]
            d_gh *= valid[k]
        d_gh_n[k] = d_gh[:, 2 * hidden:]
        np.matmul(d_gh, w_hh, out=through_weights)
        carry += through_weights
        if invalid is not None:
            np.copyto(carry, dh, where=invalid[k])          # a held state passes dh through
    return d_gi, d_gh_n, (carry,)


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """The forward without a cache (no_grad), batch-major: xw (B, T, 3H) without b_ih,
    overwritten; h_t into output[:, t, column:column + H]. Returns (h_n,)."""
    batch, steps, _ = xw.shape
    hidden = layer.hidden_size
    columns = slice(column, column + hidden)
    gh = np.empty((batch, 3 * hidden), dtype=xw.dtype)
    h_new = np.empty((batch, hidden), dtype=xw.dtype)
    w_hh_t = weights.weight_hh.data.T
    b_ih, b_hh = weights.split_biases()
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        previous = initial[0] if k == 0 else output[:, t + 1 if reverse else t - 1, columns]   # h_{t-1}
        np.matmul(previous, w_hh_t, out=gh)
        step_forward(xw[:, t], b_ih, gh, b_hh, previous, h_new)
        h = output[:, t, columns]
        h[...] = h_new
        if invalid is not None:                              # past the length: keep the state
            np.copyto(h, previous, where=invalid[k])
    return (output[:, 0 if reverse else -1, columns].copy(),)
