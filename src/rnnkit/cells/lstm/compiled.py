"""The LSTM's compiled kernel (Numba): :mod:`rnnkit.cells.lstm.reference`, function for function.

Same names, arguments and cache as the reference; what differs is how:

* the step's pointwise math runs row by row in short SIMD passes (two per row forward, four
  backward) instead of about ten NumPy calls over the whole batch, one pass under no_grad;
* the step's matrix product is added straight into the gate buffer through NumPy's OpenBLAS,
  as ``(W_hh h_{t-1}^T)^T``, the orientation OpenBLAS runs fastest
  (:func:`rnnkit.compiled.products.recurrent_product`).

Each pass walks few enough arrays that LLVM vectorises it; a helper returning a tuple would not
be inlined and would keep the loop scalar, which is why :func:`row_step_no_cache` repeats the
gate lines of :func:`row_gates_and_cell` (docs/compiled-loops.md). The backward passes write
each gate's gradient over the gate's activation, so their order matters: a pass runs before
any pass that overwrites a value it reads.

Glossary: T steps, B batch, H hidden, P width of h (P = H without projection).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnkit.compiled.activations import sigmoid, tanh
from rnnkit.compiled.common import JIT_OPTIONS, backward_scratch, contiguous, step_mask
from rnnkit.compiled.products import backward_product, gemm_nn, gemm_nt, recurrent_product, transposed


# --- the step math of one row ----------------------------------------------------------------
@njit(**JIT_OPTIONS)
def add_inplace(values, other):
    for j in range(values.shape[0]):
        values[j] += other[j]


@njit(**JIT_OPTIONS)
def row_gates_and_cell(z, bias, c_prev, c):
    """z = [i f g o] = [sigmoid sigmoid tanh sigmoid](z + bias) in place, and c = f c_prev + i g."""
    hidden = c.shape[0]
    for j in range(hidden):
        i = sigmoid(z[j] + bias[j])
        f = sigmoid(z[hidden + j] + bias[hidden + j])
        g = tanh(z[2 * hidden + j] + bias[2 * hidden + j])
        o = sigmoid(z[3 * hidden + j] + bias[3 * hidden + j])
        z[j] = i
        z[hidden + j] = f
        z[2 * hidden + j] = g
        z[3 * hidden + j] = o
        c[j] = f * c_prev[j] + i * g


@njit(**JIT_OPTIONS)
def row_output(o, c, tanh_c, h):
    """tanh_c = tanh(c) and h = o * tanh(c)."""
    for j in range(h.shape[0]):
        tanh_c_j = tanh(c[j])
        tanh_c[j] = tanh_c_j
        h[j] = o[j] * tanh_c_j


@njit(**JIT_OPTIONS)
def row_step_no_cache(z, bias, c, h):
    """A whole step of one row without a cache (no_grad), in one pass: c updated in place."""
    hidden = c.shape[0]
    for j in range(hidden):
        i = sigmoid(z[j] + bias[j])
        f = sigmoid(z[hidden + j] + bias[hidden + j])
        g = tanh(z[2 * hidden + j] + bias[2 * hidden + j])
        o = sigmoid(z[3 * hidden + j] + bias[3 * hidden + j])
        c_j = f * c[j] + i * g
        c[j] = c_j
        h[j] = o * tanh(c_j)


@njit(**JIT_OPTIONS)
def row_cell_grad(dh, tanh_c, o, dc_next, dc, one):
    """dc = (1 - tanh(c)^2) * dh * o + dc_next: the total gradient reaching c_t."""
    for j in range(dc.shape[0]):
        dc[j] = (one - tanh_c[j] * tanh_c[j]) * dh[j] * o[j] + dc_next[j]


@njit(**JIT_OPTIONS)
def row_output_gate_grad(o, dh, tanh_c, one):
    """o = dz_o = (1 - o) o (dh tanh(c)) in place."""
    for j in range(o.shape[0]):
        o[j] = (one - o[j]) * o[j] * (dh[j] * tanh_c[j])


@njit(**JIT_OPTIONS)
def row_input_candidate_grad(i, g, dc, one):
    """i = dz_i = (1 - i) i (dc g) and g = dz_g = (1 - g^2) dc i, in place."""
    for j in range(i.shape[0]):
        i_j = i[j]
        g_j = g[j]
        i[j] = (one - i_j) * i_j * (dc[j] * g_j)
        g[j] = (one - g_j * g_j) * dc[j] * i_j


@njit(**JIT_OPTIONS)
def row_forget_grad(f, c_prev, dc, one):
    """f = dz_f = (1 - f) f (dc c_prev) in place, and dc = dc f (dL/dc_{t-1})."""
    for j in range(f.shape[0]):
        f_j = f[j]
        dc_j = dc[j]
        f[j] = (one - f_j) * f_j * (dc_j * c_prev[j])
        dc[j] = dc_j * f_j


@njit(**JIT_OPTIONS)
def step_forward(gates, bias, c_prev, c, tanh_c, h):
    """:func:`rnnkit.cells.lstm.reference.step_forward`, rows C-contiguous, bias (4H,) always."""
    hidden = c.shape[1]
    for b in range(gates.shape[0]):
        row_gates_and_cell(gates[b], bias, c_prev[b], c[b])
        row_output(gates[b, 3 * hidden:], c[b], tanh_c[b], h[b])


# --- the time loops ----------------------------------------------------------------------------
@njit(**JIT_OPTIONS)
def forward_loop(gates, reverse, w_hh, bias, w_hr, states, cells, tanh_c, unprojected, mask, projected,
                 zero, one, h_t, product_t):
    """gates (T, B, 4H): xw without biases on entry (time order), activations [i f g o] on exit."""
    steps, batch, _ = gates.shape
    hidden = cells.shape[2]
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        recurrent_product(states[k], w_hh, gates[t], True, h_t, product_t, zero, one)   # z_t = xw_t + h W_hh^T
        for b in range(batch):
            z = gates[t, b]
            h = unprojected[k, b] if projected else states[k + 1, b]
            row_gates_and_cell(z, bias, cells[k, b], cells[k + 1, b])      # [i f g o], c
            row_output(z[3 * hidden:], cells[k + 1, b], tanh_c[k, b], h)   # tanh(c), h = o tanh(c)
        if projected:
            gemm_nt(unprojected[k], w_hr, states[k + 1], zero)             # h_t = h~_t W_hr^T
        if mask.shape[0] > 0:
            for b in range(batch):
                if mask[k, b]:                                         # past the length: keep the state
                    states[k + 1, b, :] = states[k, b, :]
                    cells[k + 1, b, :] = cells[k, b, :]


@njit(**JIT_OPTIONS)
def backward_loop(d_states, dh_carry, dc_carry, dc_prev, cells, tanh_c, w_hh, w_hh_t, w_hr, d_unprojected,
                  d_gates, mask, projected, zero, one, dz_t, product_t):
    """d_gates (T, B, 4H, processing order): the activations [i f g o] on entry, dL/dz_t on exit.

    dc_carry holds dL/dc_n on entry; returns the buffer that holds dL/dc_0 (dh_carry ends as dL/dh_0).
    """
    steps, batch, width = d_states.shape
    hidden = cells.shape[2]
    dh_carry[:, :] = zero
    for k in range(steps - 1, -1, -1):
        for b in range(batch):
            add_inplace(d_states[k, b], dh_carry[b])
        if projected:
            gemm_nn(d_states[k], w_hr, d_unprojected, zero)             # dL/dh~ = dh W_hr
        for b in range(batch):
            dh = d_unprojected[b] if projected else d_states[k, b]
            z = d_gates[k, b]                  # the activations [i f g o] of this step, then their gradients
            dc = dc_prev[b]
            row_cell_grad(dh, tanh_c[k, b], z[3 * hidden:], dc_carry[b], dc, one)
            row_output_gate_grad(z[3 * hidden:], dh, tanh_c[k, b], one)
            row_input_candidate_grad(z[:hidden], z[2 * hidden:3 * hidden], dc, one)
            row_forget_grad(z[hidden:2 * hidden], cells[k, b], dc, one)
            if mask.shape[0] > 0 and mask[k, b]:                        # a held state passes dc through
                z[:] = zero
                dc[:] = dc_carry[b, :]
        backward_product(d_gates[k], w_hh, w_hh_t, dh_carry, False, dz_t, product_t, zero, one)  # dh_{t-1} = dz W_hh
        if mask.shape[0] > 0:
            for b in range(batch):
                if mask[k, b]:
                    dh_carry[b, :] = d_states[k, b, :]
        dc_carry, dc_prev = dc_prev, dc_carry
    return dc_carry


@njit(**JIT_OPTIONS)
def inference_loop(xw, reverse, w_hh, bias, w_hr, initial, output, column, cell, unprojected,
                   mask, projected, zero, one, h_t, product_t):
    """xw (B, T, 4H) without biases, time order, overwritten; h_t into output[:, t, column:+P]."""
    batch, steps, _ = output.shape
    end = column + w_hh.shape[1]
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        before = t + 1 if reverse else t - 1                            # the time of h_{t-1}
        previous = initial if k == 0 else output[:, before, column:end]
        recurrent_product(previous, w_hh, xw[:, t], True, h_t, product_t, zero, one)   # z_t = xw_t + h W_hh^T
        for b in range(batch):
            if mask.shape[0] > 0 and mask[k, b]:                        # past the length: keep the state
                output[b, t, column:end] = previous[b]
                if projected:
                    unprojected[b, :] = zero                                # its row of the projection
            else:
                row_step_no_cache(xw[b, t], bias, cell[b], unprojected[b] if projected else output[b, t, column:end])
        if projected:
            gemm_nt(unprojected, w_hr, output[:, t, column:end], zero)      # h_t = h~_t W_hr^T
            if mask.shape[0] > 0:
                for b in range(batch):
                    if mask[k, b]:
                        output[b, t, column:end] = previous[b]


@njit(**JIT_OPTIONS)
def fused_cell_step(x, h, c_prev, weights, bias):
    """A whole step of a cell whose weights share one array: ``[x, h] [W_ih, W_hh]^T``.

    x (B, D), h and c_prev (B, H), weights (4H, D+H), bias (4H,) = b_ih + b_hh. Returns the
    activations [i f g o] (B, 4H), c, tanh(c), h (B, H), and the sum of every element of x, h
    and c_prev: not finite whenever one of them holds a NaN or an infinity (the caller then
    runs its full input checks, which say which one).
    """
    batch, features = x.shape
    hidden = h.shape[1]
    xh = np.empty((batch, features + hidden), dtype=x.dtype)                # [x, h]
    total = x.dtype.type(0)
    for b in range(batch):
        for j in range(features):
            xh[b, j] = x[b, j]
            total += x[b, j]
        for j in range(hidden):
            xh[b, features + j] = h[b, j]
            total += h[b, j] + c_prev[b, j]
    gates = np.empty((batch, 4 * hidden), dtype=x.dtype)
    gemm_nt(xh, weights, gates, x.dtype.type(0))
    c = np.empty((batch, hidden), dtype=x.dtype)
    tanh_c = np.empty((batch, hidden), dtype=x.dtype)
    h_new = np.empty((batch, hidden), dtype=x.dtype)
    step_forward(gates, bias, c_prev, c, tanh_c, h_new)
    return gates, c, tanh_c, h_new, total


# --- the kernel: the reference's functions, with the reference's arguments ---------------------
def forward(layer, gates, reverse, weights, initial, invalid, work):
    """:func:`rnnkit.cells.lstm.reference.forward`, compiled."""
    steps, batch, _ = gates.shape
    dtype, hidden = gates.dtype, layer.hidden_size
    projected = layer.proj_size > 0
    states = work.array("states", (steps + 1, batch, layer.output_size), dtype)     # h: (T+1, B, P)
    cells = work.array("cells", (steps + 1, batch, hidden), dtype)                  # c: (T+1, B, H)
    states[0], cells[0] = initial
    tanh_c = work.array("tanh_c", (steps, batch, hidden), dtype)
    unprojected = work.array("unprojected", (steps if projected else 0, batch, hidden), dtype)
    forward_loop(gates, reverse, *_weights(layer, weights, dtype), states, cells, tanh_c, unprojected,
                 step_mask(invalid, steps), projected, *_scratch(layer, batch, dtype))
    return states, (states[-1], cells[-1]), (cells, gates, tanh_c, unprojected if projected else None)


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """:func:`rnnkit.cells.lstm.reference.backward`, compiled."""
    cells, gates, tanh_c, unprojected = cache.extra
    steps, batch, width = d_states.shape
    dtype, hidden = d_states.dtype, layer.hidden_size
    d_gates = gates[::-1] if cache.reverse else gates                        # processing order
    projected = unprojected is not None
    dh_carry = np.empty((batch, width), dtype=dtype)
    dc_carry = np.array(d_final_extra[0], dtype=dtype, order="C")             # dL/dc_n, (B, H)
    dc_prev = np.empty((batch, hidden), dtype=dtype)
    d_unprojected = np.empty((batch, hidden), dtype=dtype)
    w_hr = contiguous(weights.weight_hr.data) if projected else np.empty((0, 0), dtype=dtype)
    w_hh = contiguous(weights.weight_hh.data)
    w_hh_t = transposed(w_hh, batch)                               # W_hh^T, or (0, 0): see backward_product
    dc_initial = backward_loop(d_states, dh_carry, dc_carry, dc_prev, cells, tanh_c, w_hh, w_hh_t, w_hr,
                               d_unprojected, d_gates, step_mask(invalid, steps), projected,
                               dtype.type(0), dtype.type(1), *backward_scratch(w_hh_t, batch))
    if projected:
        d_projection = d_states if invalid is None else d_states * (~invalid).astype(dtype)
        weights.weight_hr.grad += np.tensordot(d_projection, unprojected, axes=([0, 1], [0, 1]))
    return d_gates, d_gates, (dh_carry, dc_initial)


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """:func:`rnnkit.cells.lstm.reference.inference`, compiled."""
    batch, steps = output.shape[:2]
    dtype = xw.dtype
    projected = layer.proj_size > 0
    cell = np.array(initial[1], dtype=dtype, order="C")                       # c: (B, H), in place
    unprojected = np.empty((batch if projected else 0, layer.hidden_size), dtype=dtype)
    inference_loop(xw, reverse, *_weights(layer, weights, dtype), contiguous(initial[0]), output, column,
                   cell, unprojected, step_mask(invalid, steps), projected, *_scratch(layer, batch, dtype))
    return output[:, 0 if reverse else -1, column:column + layer.output_size].copy(), cell


def _weights(layer, weights, dtype):
    """W_hh, b_ih + b_hh (zeros without biases, see ``DirectionWeights.combined_bias``) and W_hr ((0, 0) without a projection), C-contiguous."""
    w_hr = contiguous(weights.weight_hr.data) if layer.proj_size else np.empty((0, 0), dtype=dtype)
    return contiguous(weights.weight_hh.data), weights.combined_bias(), w_hr


def _scratch(layer, batch, dtype):
    """0, 1 and the two scratch arrays of the per-step product by columns."""
    return (dtype.type(0), dtype.type(1), np.empty((layer.output_size, batch), dtype=dtype),
            np.empty((4 * layer.hidden_size, batch), dtype=dtype))
