"""minGRU's step math and its reference time loops (NumPy).

Glossary: T steps, B batch, H hidden units; gate blocks in the order z, h~.

Equations (Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024, "Were RNNs All We Needed?")::

    [z_pre, h~] = x_t W_ih^T + b_ih          # (B, 2H), blocks [z h~]: no product with h_{t-1}
    z = sigmoid(z_pre)                       # update gate
    h_t = (1 - z) * h_{t-1} + z * h~         # = a_t h_{t-1} + b_t, a = 1 - z, b = z h~

Every product is outside the loop; the loop is the linear recurrence of
:mod:`rnnkit.cells.scan`. Backward, from the cached z, h~ and the states::

    G_t = dL/dh_t (all paths) = g_t + (1 - z_{t+1}) G_{t+1}
    dz_pre = G_t (h~ - h_{t-1}) z (1 - z),   dh~ = G_t z,   dh_{t-1} (direct) = G_t (1 - z)

The kernel contract is written once in :mod:`rnnkit.layers.recurrent`; the cache is
``(gates,)``: gates (T, B, 2H), time order, holding [z, h~] after forward. ``backward`` writes
dL/d[z_pre, h~] over it and returns no recurrent-product gradient (there is no W_hh).
"""

from __future__ import annotations

import numpy as np

from rnnkit.cells.pointwise import sigmoid
from rnnkit.cells.scan import hold_past_lengths, linear_recurrence, linear_recurrence_backward


def activate(gates: np.ndarray, bias: np.ndarray) -> None:
    """gates (..., 2H) = x W_ih^T on entry, [z, h~] on exit; bias (2H,)."""
    hidden = gates.shape[-1] // 2
    gates += bias
    sigmoid(gates[..., :hidden], out=gates[..., :hidden])


def coefficients(gates: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """a = 1 - z and b = z h~ (each (..., H)) from the activations [z, h~]."""
    hidden = a.shape[-1]
    z, candidate = gates[..., :hidden], gates[..., hidden:]
    np.subtract(1.0, z, out=a)
    np.multiply(z, candidate, out=b)


def gate_gradients(d_h: np.ndarray, h_prev: np.ndarray, gates: np.ndarray) -> None:
    """d_h (..., H) = G, the total dL/dh_t; gates [z, h~] on entry, dL/d[z_pre, h~] on exit."""
    hidden = d_h.shape[-1]
    z, candidate = gates[..., :hidden], gates[..., hidden:]
    d_z = candidate - h_prev                            # h~ - h_{t-1}
    d_z *= d_h                                          # dL/dz
    np.multiply(d_h, z, out=candidate)                  # dh~ = G z
    d_z *= z
    np.subtract(1.0, z, out=z)
    z *= d_z                                            # dz_pre = dL/dz z (1 - z)


def step_forward(gates: np.ndarray, bias: np.ndarray, h_prev: np.ndarray, h: np.ndarray) -> None:
    """One step: gates (B, 2H) = x W_ih^T on entry, [z, h~] on exit; h (B, H) = h_t."""
    activate(gates, bias)
    a, b = np.empty_like(h), np.empty_like(h)
    coefficients(gates, a, b)
    np.multiply(a, h_prev, out=h)
    h += b


def forward(layer, gates, reverse, weights, initial, invalid, work):
    """gates (T, B, 2H): x W_ih^T for every step, time order, without bias; the activations
    [z, h~] on exit. Returns states (T+1, B, H), (h_n,), (gates,)."""
    steps, batch, _ = gates.shape
    dtype, hidden = gates.dtype, layer.hidden_size
    ordered = gates[::-1] if reverse else gates                                  # processing order
    activate(ordered, weights.input_bias())
    a = np.empty((steps, batch, hidden), dtype=dtype)
    b = np.empty((steps, batch, hidden), dtype=dtype)
    coefficients(ordered, a, b)
    hold_past_lengths(a, b, invalid)
    states = work.array("states", (steps + 1, batch, hidden), dtype)             # (T+1, B, H)
    states[0] = initial[0]
    linear_recurrence(a, b, states)
    return states, (states[-1],), (gates,)


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """The same recurrence run backwards, then every gate gradient at once, written over the
    gate cache. Returns d_gi (T, B, 2H, processing order), None (no W_hh), (dh_0,)."""
    (gates,) = cache.extra
    steps, batch, hidden = d_states.shape
    d_gi = gates[::-1] if cache.reverse else gates                               # processing order
    a = 1.0 - d_gi[:, :, :hidden]                                                # (T, B, H)
    if invalid is not None:
        np.copyto(a, 1.0, where=invalid)
    d_initial = np.empty((batch, hidden), dtype=d_states.dtype)
    linear_recurrence_backward(a, d_states, d_initial)                           # d_states = G
    gate_gradients(d_states, cache.states[:-1], d_gi)
    if invalid is not None:
        d_gi *= ~invalid                                                         # held steps: no gate gradient
    return d_gi, None, (d_initial,)


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """The forward without a cache (no_grad), batch-major: xw (B, T, 2H) without bias,
    overwritten; h_t into output[:, t, column:column + H]. Returns (h_n,)."""
    batch, steps, _ = xw.shape
    hidden = layer.hidden_size
    columns = slice(column, column + hidden)
    activate(xw, weights.input_bias())
    a = np.empty((batch, hidden), dtype=xw.dtype)
    b = np.empty((batch, hidden), dtype=xw.dtype)
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        previous = initial[0] if k == 0 else output[:, t + 1 if reverse else t - 1, columns]   # h_{t-1}
        coefficients(xw[:, t], a, b)
        h = output[:, t, columns]
        np.multiply(a, previous, out=h)
        h += b
        if invalid is not None:                                                  # past the length: keep the state
            np.copyto(h, previous, where=invalid[k])
    return (output[:, 0 if reverse else -1, columns].copy(),)
