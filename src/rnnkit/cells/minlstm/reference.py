"""minLSTM's step math and its reference time loops (NumPy).

Glossary: T steps, B batch, H hidden units; gate blocks in the order f, i, h~.

Equations (Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024, "Were RNNs All We Needed?")::

    [z_f, z_i, h~] = x_t W_ih^T + b_ih       # (B, 3H): no product with h_{t-1}
    f = sigmoid(z_f),   i = sigmoid(z_i)
    f' = f / (f + i),   i' = i / (f + i) = 1 - f'
    h_t = f' * h_{t-1} + i' * h~             # = a_t h_{t-1} + b_t, a = f', b = (1 - f') h~

f' is computed as ``sigmoid(softplus(-z_i) - softplus(-z_f))`` (= f / (f + i), since
log f = -softplus(-z_f)): it stays finite where both sigmoids round to 0. With u that
difference, du/dz_f = 1 - f and du/dz_i = -(1 - i). Backward, from the cached f, i, h~, f'::

    G_t = dL/dh_t (all paths) = g_t + f'_{t+1} G_{t+1}
    du = G_t (h_{t-1} - h~) f' (1 - f')
    dz_f = du (1 - f),   dz_i = -du (1 - i),   dh~ = G_t (1 - f'),   dh_{t-1} (direct) = G_t f'

The kernel contract is written once in :mod:`rnnkit.layers.recurrent`; the cache is
``(gates, mix)``: gates (T, B, 3H), time order, holding [f, i, h~], and mix (T, B, H) = f' in
processing order. ``backward`` writes dL/d[z_f, z_i, h~] over gates and returns no
recurrent-product gradient (there is no W_hh).
"""

from __future__ import annotations

import numpy as np

from rnnkit.cells.pointwise import sigmoid
from rnnkit.cells.scan import hold_past_lengths, linear_recurrence, linear_recurrence_backward


def activate(gates: np.ndarray, bias: np.ndarray, mix: np.ndarray) -> None:
    """gates (..., 3H) = x W_ih^T on entry, [f, i, h~] on exit; mix (..., H) = f'; bias (3H,)."""
    hidden = mix.shape[-1]
    gates += bias
    z_f, z_i = gates[..., :hidden], gates[..., hidden:2 * hidden]
    np.subtract(np.logaddexp(0.0, -z_i), np.logaddexp(0.0, -z_f), out=mix)   # log f - log i
    sigmoid(mix, out=mix)                                                     # f' = f / (f + i)
    sigmoid(gates[..., :2 * hidden], out=gates[..., :2 * hidden])             # f and i


def coefficients(gates: np.ndarray, mix: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """a = f' and b = (1 - f') h~ (each (..., H))."""
    hidden = mix.shape[-1]
    a[...] = mix
    np.subtract(1.0, mix, out=b)
    b *= gates[..., 2 * hidden:]


def gate_gradients(d_h: np.ndarray, h_prev: np.ndarray, gates: np.ndarray, mix: np.ndarray) -> None:
    """d_h (..., H) = G, the total dL/dh_t; gates [f, i, h~] on entry, dL/d[z_f, z_i, h~] on exit."""
    hidden = mix.shape[-1]
    f, i, candidate = gates[..., :hidden], gates[..., hidden:2 * hidden], gates[..., 2 * hidden:]
    d_u = h_prev - candidate                                 # dL/df' = G (h_{t-1} - h~)
    d_u *= d_h
    d_u *= mix
    np.subtract(1.0, mix, out=candidate)                     # 1 - f'
    d_u *= candidate                                         # du = dL/df' f' (1 - f')
    candidate *= d_h                                         # dh~ = G (1 - f')
    np.subtract(1.0, f, out=f)
    f *= d_u                                                 # dz_f = du (1 - f)
    np.subtract(i, 1.0, out=i)
    i *= d_u                                                 # dz_i = -du (1 - i)


def step_forward(gates: np.ndarray, bias: np.ndarray, mix: np.ndarray, h_prev: np.ndarray, h: np.ndarray) -> None:
    """One step: gates (B, 3H) = x W_ih^T on entry, [f, i, h~] on exit; mix (B, H) = f'; h = h_t."""
    activate(gates, bias, mix)
    b = np.empty_like(h)
    coefficients(gates, mix, h, b)                           # h = a = f'
    h *= h_prev
    h += b


def forward(layer, gates, reverse, weights, initial, invalid, work):
    """gates (T, B, 3H): x W_ih^T for every step, time order, without bias; the activations
    [f, i, h~] on exit. Returns states (T+1, B, H), (h_n,), (gates, mix)."""
    steps, batch, _ = gates.shape
    dtype, hidden = gates.dtype, layer.hidden_size
    ordered = gates[::-1] if reverse else gates                                  # processing order
    mix = work.array("mix", (steps, batch, hidden), dtype)                      # f', processing order
    activate(ordered, weights.input_bias(), mix)
    a = np.empty((steps, batch, hidden), dtype=dtype)
    b = np.empty((steps, batch, hidden), dtype=dtype)
    coefficients(ordered, mix, a, b)
    hold_past_lengths(a, b, invalid)
    states = work.array("states", (steps + 1, batch, hidden), dtype)             # (T+1, B, H)
    states[0] = initial[0]
    linear_recurrence(a, b, states)
    return states, (states[-1],), (gates, mix)


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """The same recurrence run backwards, then every gate gradient at once, written over the
    gate cache. Returns d_gi (T, B, 3H, processing order), None (no W_hh), (dh_0,)."""
    gates, mix = cache.extra
    steps, batch, hidden = d_states.shape
    d_gi = gates[::-1] if cache.reverse else gates                               # processing order
    a = mix.copy()
    if invalid is not None:
        np.copyto(a, 1.0, where=invalid)
    d_initial = np.empty((batch, hidden), dtype=d_states.dtype)
    linear_recurrence_backward(a, d_states, d_initial)                           # d_states = G
    gate_gradients(d_states, cache.states[:-1], d_gi, mix)
    if invalid is not None:
        d_gi *= ~invalid                                                         # held steps: no gate gradient
    return d_gi, None, (d_initial,)


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """The forward without a cache (no_grad), batch-major: xw (B, T, 3H) without bias,
    overwritten; h_t into output[:, t, column:column + H]. Returns (h_n,)."""
    batch, steps, _ = xw.shape
    hidden = layer.hidden_size
    columns = slice(column, column + hidden)
    mix = np.empty((batch, steps, hidden), dtype=xw.dtype)
    activate(xw, weights.input_bias(), mix)
    a = np.empty((batch, hidden), dtype=xw.dtype)
    b = np.empty((batch, hidden), dtype=xw.dtype)
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        previous = initial[0] if k == 0 else output[:, t + 1 if reverse else t - 1, columns]   # h_{t-1}
        coefficients(xw[:, t], mix[:, t], a, b)
        h = output[:, t, columns]
        np.multiply(a, previous, out=h)
        h += b
        if invalid is not None:                                                  # past the length: keep the state
            np.copyto(h, previous, where=invalid[k])
    return (output[:, 0 if reverse else -1, columns].copy(),)
