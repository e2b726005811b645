"""The LSTM's step math and its reference time loops (NumPy).

Glossary: T steps, B batch, H hidden units, P width of h (P = H without projection); gate
blocks in PyTorch's order i, f, g, o.

Equations (one step)::

    z_t = x_t W_ih^T + h_{t-1} W_hh^T + (b_ih + b_hh)    # (B, 4H), blocks [i f g o]
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)  # input, forget, output gates
    g = tanh(z_g)                                       # cell candidate
    c_t = f * c_{t-1} + i * g                           # (B, H) cell state
    h_t = o * tanh(c_t)                                 # (B, H) hidden state
                                                        # (h_t = h_t W_hr^T with proj_size P)

Backward, from the cached gates, c_{t-1} and tanh(c_t)::

    dc    = dc_t + dh_t * o * (1 - tanh(c_t)^2)   # total gradient reaching c_t
    dz_o  = dh_t * tanh(c_t) * o (1 - o)
    dz_i  = dc * g * i (1 - i)
    dz_f  = dc * c_{t-1} * f (1 - f)
    dz_g  = dc * i * (1 - g^2)
    dc_{t-1} = dc * f,   dh_{t-1} = dz W_hh

This module is the LSTM's reference kernel; :mod:`rnnkit.cells.lstm.compiled` mirrors it
function for function (same names, same arguments, same cache). The kernel contract is
written once in :mod:`rnnkit.layers.recurrent`:

* ``forward`` turns the input products ``gates`` (T, B, 4H, time order, no biases) into the
  gate cache [i f g o] in place and returns the states (T+1, B, P), the final (h, c) and the
  cache ``(cells (T+1, B, H), gates, tanh_c (T, B, H), unprojected (T, B, H) or None)``;
* ``backward`` writes dL/dz over that gate cache (the cache is consumed);
* ``inference`` is the forward without a cache (no_grad), batch-major.
"""

from __future__ import annotations

import numpy as np

from rnnkit.cells.pointwise import sigmoid, tanh_backward


def step_forward(gates: np.ndarray, bias: np.ndarray | None, c_prev: np.ndarray, c: np.ndarray,
                 tanh_c: np.ndarray, h: np.ndarray) -> None:
    """One LSTM step of pointwise math, allocation-free.

    ``gates`` (B, 4H) holds ``x W_ih^T + h W_hh^T`` on entry and the activations [i f g o] on
    exit (the cache backward needs); ``bias`` (4H,) = b_ih + b_hh, or None. Writes ``c`` = c_t,
    ``tanh_c`` = tanh(c_t) and ``h`` = h_t, each (B, H).
    """
    H = c.shape[1]
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    if bias is not None:
        gates += bias
    sigmoid(gates[:, :2 * H], out=gates[:, :2 * H])   # i and f together
    np.tanh(g, out=g)
    sigmoid(o, out=o)
    np.multiply(f, c_prev, out=c)
    np.multiply(i, g, out=h)                          # h is scratch here
    c += h
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=h)


def step_backward(dh: np.ndarray, dc: np.ndarray, gates: np.ndarray, c_prev: np.ndarray, tanh_c: np.ndarray,
                  dc_prev: np.ndarray, scratch: np.ndarray) -> None:
    """Backward of :func:`step_forward`, allocation-free, in place.

    ``dh``, ``dc`` (B, H): dL/dh_t and the dL/dc_t arriving from step t+1. ``gates`` (B, 4H)
    holds the activations [i f g o] on entry and dL/dz_t on exit; writes ``dc_prev`` (B, H) =
    dL/dc_{t-1}; ``scratch`` (B, H). dL/dh_{t-1} = dL/dz_t W_hh is left to the caller (it is the
    one matrix product of the step). Each gate is read before its gradient is written over it.
    """
    H = dh.shape[1]
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    dc_total = dc_prev                                # reuse the output buffer
    tanh_backward(dh, tanh_c, out=dc_total)
    dc_total *= o
    dc_total += dc                                    # dc = dc_t + dh * o * (1 - tanh(c)^2)
    np.multiply(dh, tanh_c, out=scratch)              # dL/do
    scratch *= o
    np.subtract(1.0, o, out=o)
    o *= scratch                                      # dz_o = dL/do * o (1 - o)
    np.multiply(dc_total, g, out=scratch)             # dL/di
    np.multiply(g, g, out=g)
    np.subtract(1.0, g, out=g)
    g *= dc_total
    g *= i                                            # dz_g = dc * i * (1 - g^2)
    scratch *= i
    np.subtract(1.0, i, out=i)
    i *= scratch                                      # dz_i = dL/di * i (1 - i)
    np.multiply(dc_total, c_prev, out=scratch)        # dL/df
    scratch *= f
    dc_total *= f                                     # dc_{t-1} = dc * f
    np.subtract(1.0, f, out=f)
    f *= scratch                                      # dz_f = dL/df * f (1 - f)


def forward(layer, gates, reverse, weights, initial, invalid, work):
    """The loop over processing steps k = 0..T-1 (time T-1-k in reverse).

    gates (T, B, 4H): x W_ih^T for every step, time order, without biases; overwritten with
    the activations. initial (h_0 (B, P), c_0 (B, H)); invalid (T, B, 1) True past a length,
    processing order, or None; work: the direction's :class:`~rnnkit.workspace.Scope`.
    Returns states (T+1, B, P), the final (h, c), and the cache.
    """
    steps, batch, _ = gates.shape
    dtype, hidden, width = gates.dtype, layer.hidden_size, layer.output_size
    z = gates[::-1] if reverse else gates                                     # processing order
    states = work.array("states", (steps + 1, batch, width), dtype)          # h: (T+1, B, P)
    cells = work.array("cells", (steps + 1, batch, hidden), dtype)           # c: (T+1, B, H)
    states[0], cells[0] = initial
    tanh_c = work.array("tanh_c", (steps, batch, hidden), dtype)
    projected = layer.proj_size > 0
    unprojected = work.array("unprojected", (steps, batch, hidden), dtype) if projected else None
    w_hh_t, bias = weights.weight_hh.data.T, weights.combined_bias()
    w_hr_t = weights.weight_hr.data.T if projected else None
    product = np.empty((batch, 4 * hidden), dtype=dtype)
    for k in range(steps):
        np.matmul(states[k], w_hh_t, out=product)
        z[k] += product                                                       # z_t without biases
        h_out = unprojected[k] if projected else states[k + 1]
        step_forward(z[k], bias, cells[k], cells[k + 1], tanh_c[k], h_out)
        if projected:
            np.matmul(unprojected[k], w_hr_t, out=states[k + 1])
        if invalid is not None:                              # past the length: keep the state
            np.copyto(states[k + 1], states[k], where=invalid[k])
            np.copyto(cells[k + 1], cells[k], where=invalid[k])
    return states, (states[-1], cells[-1]), (cells, gates, tanh_c, unprojected)


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """The loop backward over the cache of :func:`forward`, written over its gate cache.

    d_states (T, B, P) holds dL/dh from the outputs; the loop adds the recurrent part in place.
    d_final_extra: (dL/dc_n,). Returns d_gi = d_gh = dL/dz (T, B, 4H, processing order) and
    the initial-state gradients (dh_0, dc_0).
    """
    cells, gates, tanh_c, unprojected = cache.extra
    steps, batch, width = d_states.shape
    dtype, hidden = d_states.dtype, layer.hidden_size
    d_gates = gates[::-1] if cache.reverse else gates                         # processing order
    valid = None if invalid is None else (~invalid).astype(dtype)
    dh_carry = np.zeros((batch, width), dtype=dtype)                          # dL/dh_{t-1}
    dc_carry = np.array(d_final_extra[0], dtype=dtype)                        # dL/dc_t, (B, H)
    dc_prev = np.empty((batch, hidden), dtype=dtype)
    scratch = np.empty((batch, hidden), dtype=dtype)
    projected = unprojected is not None
    d_unprojected = np.empty((batch, hidden), dtype=dtype) if projected else None
    w_hh = weights.weight_hh.data
    for k in reversed(range(steps)):
        dh = d_states[k]
        dh += dh_carry
        if projected:
            np.matmul(dh, weights.weight_hr.data, out=d_unprojected)
        step_backward(d_unprojected if projected else dh, dc_carry, d_gates[k], cells[k], tanh_c[k], dc_prev,
                      scratch)
        if invalid is not None:
            d_gates[k] *= valid[k]
            np.copyto(dc_prev, dc_carry, where=invalid[k])      # a held state passes dc through
        np.matmul(d_gates[k], w_hh, out=dh_carry)
        if invalid is not None:
            np.copyto(dh_carry, dh, where=invalid[k])
        dc_carry, dc_prev = dc_prev, dc_carry
    if projected:
        d_projection = d_states if invalid is None else d_states * valid
        weights.weight_hr.grad += np.tensordot(d_projection, unprojected, axes=([0, 1], [0, 1]))
    return d_gates, d_gates, (dh_carry, dc_carry)


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """The forward without a cache (no_grad), batch-major.

    xw (B, T, 4H): x W_ih^T without biases, time order, overwritten. h_t goes to
    output[:, t, column:column + P] of the layer's output (B, T, W); the loop keeps one c
    (B, H) instead of T+1. Returns the final (h, c).
    """
    batch, steps, _ = xw.shape
    dtype, hidden, width = xw.dtype, layer.hidden_size, layer.output_size
    columns = slice(column, column + width)
    cell, cell_next = np.array(initial[1], dtype=dtype), np.empty((batch, hidden), dtype=dtype)
    tanh_c = np.empty((batch, hidden), dtype=dtype)
    projected = layer.proj_size > 0
    h_new = np.empty((batch, hidden if projected else width), dtype=dtype)              # h~_t, or h_t
    h_projected = np.empty((batch, width), dtype=dtype) if projected else None         # h_t = h~_t W_hr^T
    w_hh_t, bias = weights.weight_hh.data.T, weights.combined_bias()
    product = np.empty((batch, 4 * hidden), dtype=dtype)
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        previous = initial[0] if k == 0 else output[:, t + 1 if reverse else t - 1, columns]   # h_{t-1}
        z = xw[:, t]                                                          # (B, 4H)
        np.matmul(previous, w_hh_t, out=product)
        z += product
        step_forward(z, bias, cell, cell_next, tanh_c, h_new)
        h = output[:, t, columns]
        if projected:
            np.matmul(h_new, weights.weight_hr.data.T, out=h_projected)
        h[...] = h_projected if projected else h_new
        if invalid is not None:                              # past the length: keep the state
            np.copyto(h, previous, where=invalid[k])
            np.copyto(cell_next, cell, where=invalid[k])
        cell, cell_next = cell_next, cell
    last = output[:, 0 if reverse else -1, columns].copy()
    return last, cell
