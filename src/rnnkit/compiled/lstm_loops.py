"""The LSTM's forward and backward time loops of one direction, compiled with Numba.

Same equations and same cache contents as the NumPy loops in :mod:`rnnkit.layers.lstm` (the
reference), with these differences in how:

* one matrix product per step, through NumPy's OpenBLAS, added straight into the gate buffer
  (``z_t += h_{t-1} W_hh^T``), computed as ``(W_hh h_{t-1}^T)^T``, the orientation OpenBLAS
  runs fastest (:func:`rnnkit.compiled.products.gemm_nt_by_columns`);
* the input products ``xw`` become the gate cache in place (they are not needed afterwards),
  and backward writes dL/dz over that cache: no other (T, B, 4H) array in either direction
  (a second backward of one forward rebuilds the cache, see
  :meth:`rnnkit.layers.recurrent.RecurrentLayer._rebuild_direction_cache`);
* the biases b_ih + b_hh are added in the activation pass, not to ``xw`` beforehand (one pass
  over a (T, B, 4H) array less; the sums associate differently from the reference's, within
  float rounding);
* the pointwise math of a step is two SIMD passes per row (:mod:`rnnkit.compiled.vector`)
  instead of about ten NumPy calls over the whole batch, one pass under no_grad
  (:func:`lstm_inference_loop`).

Glossary: T steps, B batch, H hidden, P width of h (P = H without projection).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnkit.compiled.common import (JIT_OPTIONS, CompiledExtra, backward_scratch, combined_bias, contiguous,
                                     last_state, step_mask, time_order)
from rnnkit.compiled.products import backward_product, gemm_nn, gemm_nt, recurrent_product, transposed
from rnnkit.compiled.vector import (add_inplace, lstm_cell_grad, lstm_forget_grad, lstm_gates_and_cell,
                                    lstm_input_candidate_grad, lstm_output, lstm_output_gate_grad,
                                    lstm_step_no_cache)
from rnnkit.grad_mode import recycled_array


@njit(**JIT_OPTIONS)
def lstm_forward_loop(gates, reverse, w_hh, bias, w_hr, states, cells, tanh_c, unprojected, mask, projected,
                      zero, one, h_t, product_t):
    """gates (T, B, 4H): xw without biases on entry (time order), activations [i f g o] on exit.

    bias (4H) = b_ih + b_hh, added in the activation passes. states (T+1, B, P),
    cells (T+1, B, H), tanh_c (T, B, H), unprojected (T, B, H) when projected: processing
    order, index 0 of states and cells filled by the caller.
    """
    steps, batch, _ = gates.shape
    hidden = cells.shape[2]
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        recurrent_product(states[k], w_hh, gates[t], True, h_t, product_t, zero, one)   # z_t = xw_t + h W_hh^T
        for b in range(batch):
            z = gates[t, b]
            h = unprojected[k, b] if projected else states[k + 1, b]
            lstm_gates_and_cell(z, bias, cells[k, b], cells[k + 1, b])      # [i f g o], c
            lstm_output(z[3 * hidden:], cells[k + 1, b], tanh_c[k, b], h)   # tanh(c), h = o tanh(c)
        if projected:
            gemm_nt(unprojected[k], w_hr, states[k + 1], zero)              # h_t = h~_t W_hr^T
        if mask.shape[0] > 0:
            for b in range(batch):
                if mask[k, b]:                                          # past the length: keep the state
                    states[k + 1, b, :] = states[k, b, :]
                    cells[k + 1, b, :] = cells[k, b, :]


@njit(**JIT_OPTIONS)
def lstm_inference_loop(gates, reverse, w_hh, bias, w_hr, initial, output, column, cell, unprojected,
                        mask, projected, zero, one, h_t, product_t):
    """The forward loop without a cache for backward (no_grad), batch-major.

    gates (B, T, 4H): xw without biases, time order, overwritten. initial (B, P) is h_0; h_t
    goes to output[:, t, column:column + P] of the layer's output (B, T, W). cell (B, H):
    c_0 on entry, c_n on exit, updated in place; unprojected (B, H) when projected. Each
    row's step is one pass over C-contiguous rows
    (:func:`rnnkit.compiled.vector.lstm_step_no_cache`); a row past its length is skipped,
    which keeps its h and c.
    """
    batch, steps, _ = output.shape
    end = column + w_hh.shape[1]
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        before = t + 1 if reverse else t - 1                            # the time of h_{t-1}
        previous = initial if k == 0 else output[:, before, column:end]
        recurrent_product(previous, w_hh, gates[:, t], True, h_t, product_t,
                          zero, one)                                    # z_t = xw_t + h W_hh^T
        for b in range(batch):
            if mask.shape[0] > 0 and mask[k, b]:                        # past the length: keep the state
                output[b, t, column:end] = previous[b]
                if projected:
                    unprojected[b, :] = zero                                # its row of the projection
            else:
                lstm_step_no_cache(gates[b, t], bias, cell[b],
                                   unprojected[b] if projected else output[b, t, column:end])
        if projected:
            gemm_nt(unprojected, w_hr, output[:, t, column:end], zero)      # h_t = h~_t W_hr^T
            if mask.shape[0] > 0:
                for b in range(batch):
                    if mask[k, b]:
                        output[b, t, column:end] = previous[b]


@njit(**JIT_OPTIONS)
def lstm_backward_loop(d_states, dh_carry, dc_carry, dc_prev, cells, tanh_c, w_hh, w_hh_t, w_hr,
                       d_unprojected, d_gates, mask, projected, zero, one, dz_t, product_t):
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
        backward_product(d_gates[k], w_hh, w_hh_t, dh_carry, False, dz_t, product_t, zero, one)  # dL/dh_{t-1} = dz W_hh
        if mask.shape[0] > 0:
            for b in range(batch):
                if mask[k, b]:
                    dh_carry[b, :] = d_states[k, b, :]
        dc_carry, dc_prev = dc_prev, dc_carry
    return dc_carry


def forward(layer, xw, weights, initial, invalid):
    """``LSTM._direction_forward`` through the compiled loop (same contract; xw without biases)."""
    gates, reverse = time_order(xw)                                  # consumed: becomes the gate cache
    steps, batch, _ = gates.shape
    dtype = layer.dtype
    hidden = layer.hidden_size
    projected = layer.proj_size > 0
    states = recycled_array((steps + 1, batch, layer.output_size), dtype)   # h: (T+1, B, P)
    states[0] = initial[0]
    cells = recycled_array((steps + 1, batch, hidden), dtype)             # c: (T+1, B, H)
    cells[0] = initial[1]
    tanh_c = recycled_array((steps, batch, hidden), dtype)
    unprojected = recycled_array((steps if projected else 0, batch, hidden), dtype)
    lstm_forward_loop(gates, reverse, *_weights(layer, weights), states, cells, tanh_c, unprojected,
                      step_mask(invalid, steps), projected, *_scratch(layer, batch))
    extra = CompiledExtra((cells, gates, reverse, tanh_c, unprojected if projected else None))
    return states, (states[-1], cells[-1]), extra


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """``LSTM._direction_inference`` through the compiled loop (same contract): no cache, so
    the loop keeps one c (B, H) instead of T+1."""
    batch, steps = output.shape[:2]
    dtype = layer.dtype
    projected = layer.proj_size > 0
    cell = np.array(initial[1], dtype=dtype, order="C")                       # c: (B, H), in place
    unprojected = np.empty((batch if projected else 0, layer.hidden_size), dtype=dtype)
    lstm_inference_loop(xw, reverse, *_weights(layer, weights), contiguous(initial[0]), output, column,
                        cell, unprojected, step_mask(invalid, steps), projected, *_scratch(layer, batch))
    return last_state(output, column, layer.output_size, reverse), cell


def _weights(layer, weights):
    """W_hh, b_ih + b_hh and W_hr ((0, 0) without a projection), C-contiguous."""
    dtype = layer.dtype
    w_hr = contiguous(weights.weight_hr.data) if layer.proj_size else np.empty((0, 0), dtype=dtype)
    return contiguous(weights.weight_hh.data), combined_bias(weights, True, 4 * layer.hidden_size, dtype), w_hr


def _scratch(layer, batch):
    """0, 1 and the two scratch arrays of the per-step product by columns."""
    dtype = layer.dtype
    return (dtype.type(0), dtype.type(1), np.empty((layer.output_size, batch), dtype=dtype),
            np.empty((4 * layer.hidden_size, batch), dtype=dtype))


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
    w_hh = contiguous(weights.weight_hh.data)
    w_hh_t = transposed(w_hh, batch)                               # W_hh^T, or (0, 0): see backward_product
    dc_initial = lstm_backward_loop(d_states, dh_carry, dc_carry, dc_prev, cells, tanh_c, w_hh,
                                    w_hh_t, w_hr, d_unprojected, d_gates, mask, projected,
                                    dtype.type(0), dtype.type(1), *backward_scratch(w_hh_t, batch))
    if projected:
        d_projection = d_states if invalid is None else d_states * (~invalid).astype(dtype)
        weights.weight_hr.grad += np.tensordot(d_projection, unprojected, axes=([0, 1], [0, 1]))
    return d_gates, d_gates, (dh_carry, dc_initial)
