"""The LSTM's forward and backward time loops of one direction, compiled with Numba.

Same equations, same cache contents and same order of floating-point operations as the NumPy
loops in :mod:`rnnkit.layers.lstm` (the reference), with three differences in how:

* one matrix product per step, through NumPy's OpenBLAS, added straight into the gate buffer
  (``z_t += h_{t-1} W_hh^T``), computed as ``(W_hh h_{t-1}^T)^T``, the orientation OpenBLAS
  runs fastest (:func:`rnnkit.compiled.products.gemm_nt_by_columns`);
* the input products ``xw`` become the gate cache in place (they are not needed afterwards),
  and backward writes dL/dz over that cache: no other (T, B, 4H) array in either direction
  (a second backward of one forward rebuilds the cache, see
  :meth:`rnnkit.layers.recurrent.RecurrentLayer._rebuild_direction_cache`);
* the pointwise math of a step is a few SIMD passes per row (:mod:`rnnkit.compiled.vector`)
  instead of about ten NumPy calls over the whole batch.

Glossary: T steps, B batch, H hidden, P width of h (P = H without projection).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnkit.compiled.common import JIT_OPTIONS, CompiledExtra, contiguous, step_mask, time_order
from rnnkit.compiled.products import gemm_nn, gemm_nt, recurrent_product
from rnnkit.compiled.vector import (add_inplace, lstm_cell_grad, lstm_cell_update, lstm_forget_grad,
                                    lstm_input_candidate_grad, lstm_output_gate_grad, multiply_into,
                                    sigmoid_inplace, tanh_inplace, tanh_into)
from rnnkit.grad_mode import empty


@njit(**JIT_OPTIONS)
def lstm_forward_loop(gates, reverse, w_hh, w_hr, states, cells, tanh_c, unprojected, mask, projected,
                      zero, one, h_t, product_t):
    """gates (T, B, 4H): xw on entry (time order), activations [i f g o] on exit.

    states (T+1, B, P), cells (T+1, B, H), tanh_c (T, B, H), unprojected (T, B, H) when
    projected: processing order, index 0 of states and cells filled by the caller.
    Without a cache for backward (no_grad), cells may be a ring of 2 rows and tanh_c and
    unprojected of 1: step k uses row k modulo their length.
    """
    steps, batch, _ = gates.shape
    hidden = cells.shape[2]
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        c_prev, c_next = cells[k % cells.shape[0]], cells[(k + 1) % cells.shape[0]]
        tanh_row = tanh_c[k % tanh_c.shape[0]]
        recurrent_product(states[k], w_hh, gates[t], True, h_t, product_t, zero, one)   # z_t = xw_t + h W_hh^T
        for b in range(batch):
            z = gates[t, b]
            h = unprojected[k % unprojected.shape[0], b] if projected else states[k + 1, b]
            sigmoid_inplace(z[:2 * hidden])                             # i and f
            tanh_inplace(z[2 * hidden:3 * hidden])                        # g
            sigmoid_inplace(z[3 * hidden:])                             # o
            lstm_cell_update(z[:hidden], z[hidden:2 * hidden], z[2 * hidden:3 * hidden], c_prev[b], c_next[b])
            tanh_into(c_next[b], tanh_row[b])
            multiply_into(z[3 * hidden:], tanh_row[b], h)               # h = o * tanh(c)
        if projected:
            gemm_nt(unprojected[k % unprojected.shape[0]], w_hr, states[k + 1], zero)   # h_t = h~_t W_hr^T
        if mask.shape[0] > 0:
            for b in range(batch):
                if mask[k, b]:                                          # past the length: keep the state
                    states[k + 1, b, :] = states[k, b, :]
                    c_next[b, :] = c_prev[b, :]


@njit(**JIT_OPTIONS)
def lstm_backward_loop(d_states, dh_carry, dc_carry, dc_prev, cells, tanh_c, w_hh, w_hr,
                       d_unprojected, d_gates, mask, projected, zero, one):
    """d_gates (T, B, 4H, processing order): the activations [i f g o] on entry, dL/dz_t on exit.

    Adds the recurrent part into d_states. Each pass of a row is a short SIMD loop
    (:mod:`rnnkit.compiled.vector`) that writes a gate's gradient over the gate.

    dc_carry holds dL/dc_n on entry; returns the buffer that holds dL/dc_0 (dh_carry ends as dL/dh_0).
    """
    steps, batch, width = d_states.shape
    hidden = cells.shape[2]
    dh_carry[:, :] = zero
    for k in range(steps - 1, -1, -1):
        for b in range(batch):
            dh_row = d_states[k, b]
            carry_row = dh_carry[b]
            add_inplace(dh_row, carry_row)
        if projected:
            gemm_nn(d_states[k], w_hr, d_unprojected, zero)             # dL/dh~ = dh W_hr
        for b in range(batch):
            dh = d_unprojected[b] if projected else d_states[k, b]
            z = d_gates[k, b]                  # the activations [i f g o] of this step, then their gradients
            dc = dc_prev[b]
            lstm_cell_grad(dh, tanh_c[k, b], z[3 * hidden:], dc_carry[b], dc, one)
            lstm_output_gate_grad(z[3 * hidden:], dh, tanh_c[k, b], one)
            lstm_input_candidate_grad(z[:hidden], z[2 * hidden:3 * hidden], dc, one)
            lstm_forget_grad(z[hidden:2 * hidden], cells[k, b], dc, one)
            if mask.shape[0] > 0 and mask[k, b]:                        # a held state passes dc through
                z[:] = zero
                dc[:] = dc_carry[b, :]
        gemm_nn(d_gates[k], w_hh, dh_carry, zero)                      # dL/dh_{t-1} = dz W_hh
        if mask.shape[0] > 0:
            for b in range(batch):
                if mask[k, b]:
                    dh_carry[b, :] = d_states[k, b, :]
        dc_carry, dc_prev = dc_prev, dc_carry
    return dc_carry


def forward(layer, xw, weights, initial, invalid, work=None):
    """``LSTM._direction_forward`` through the compiled loop (same contract).

    work (a key prefix, under no_grad): no cache, so c and tanh(c) live in rings of 2 and 1 rows
    instead of T+1 and T, and the states come from :func:`rnnkit.grad_mode.work_array`.
    """
    gates, reverse = time_order(xw)                                  # consumed: becomes the gate cache
    steps, batch, _ = gates.shape
    dtype = layer.dtype
    hidden = layer.hidden_size
    projected = layer.proj_size > 0
    keep = work is None
    states = empty(work, "states", (steps + 1, batch, layer.output_size), dtype)   # h: (T+1, B, P)
    cells = np.empty((steps + 1 if keep else 2, batch, hidden), dtype=dtype)  # c: (T+1, B, H) or a ring
    states[0], cells[0] = initial
    tanh_c = np.empty((steps if keep else 1, batch, hidden), dtype=dtype)
    unprojected = np.empty(((steps if keep else 1) if projected else 0, batch, hidden), dtype=dtype)
    w_hr = contiguous(weights.weight_hr.data) if projected else np.empty((0, 0), dtype=dtype)
    lstm_forward_loop(gates, reverse, contiguous(weights.weight_hh.data), w_hr, states, cells, tanh_c,
                      unprojected, step_mask(invalid, steps), projected, dtype.type(0), dtype.type(1),
                      np.empty((layer.output_size, batch), dtype=dtype), np.empty((4 * hidden, batch), dtype=dtype))
    extra = CompiledExtra((cells, gates, reverse, tanh_c, unprojected if projected else None))
    return states, (states[-1], cells[steps % cells.shape[0]]), extra


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """``LSTM._direction_backward`` through the compiled loop (same contract)."""
    cells, gates, reverse, tanh_c, unprojected = cache.extra
    steps, batch, width = d_states.shape
    dtype = layer.dtype
    hidden = layer.hidden_size
    projected = unprojected is not None
    # dL/dz_t, processing order, written over the gate cache: step k reads its own gates
    # before writing their gradients, and no later step reads them. A second backward rebuilds the cache
    # (RecurrentLayer._rebuild_direction_cache).
    d_gates = gates[::-1] if reverse else gates
    cache.consumed = True
    dh_carry = np.empty((batch, width), dtype=dtype)
    dc_carry = np.array(d_final_extra[0], dtype=dtype, order="C")             # dL/dc_n, (B, H)
    dc_prev = np.empty((batch, hidden), dtype=dtype)
    d_unprojected = np.empty((batch, hidden), dtype=dtype)
    w_hr = contiguous(weights.weight_hr.data) if projected else np.empty((0, 0), dtype=dtype)
    mask = step_mask(invalid, steps)
    dc_initial = lstm_backward_loop(d_states, dh_carry, dc_carry, dc_prev, cells, tanh_c,
                                    contiguous(weights.weight_hh.data), w_hr, d_unprojected, d_gates, mask,
                                    projected, dtype.type(0), dtype.type(1))
    if projected:
        d_projection = d_states if invalid is None else d_states * (~invalid).astype(dtype)
        weights.weight_hr.grad += np.tensordot(d_projection, unprojected, axes=([0, 1], [0, 1]))
    return d_gates, d_gates, (dh_carry, dc_initial)
