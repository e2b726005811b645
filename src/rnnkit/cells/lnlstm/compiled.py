"""The LayerNorm LSTM's compiled kernel (Numba): :mod:`rnnkit.cells.lnlstm.reference`, function
for function.

Same names, arguments and cache as the reference; what differs is how: each row's step (the
recurrent layer norm, the gates, the cell's layer norm) is one compiled pass over the row, and
the recurrent product runs through NumPy's OpenBLAS (:mod:`rnnkit.compiled.products`). The
gains' and shifts' gradients are summed row by row in the loop. Kept simple: one core, no
split by rows.

Glossary: T steps, B batch, H hidden.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnkit.cells.layer_norm import EPS
from rnnkit.cells.lnlstm.reference import NORM_NAMES
from rnnkit.compiled.activations import sigmoid, tanh
from rnnkit.compiled.common import JIT_OPTIONS, backward_scratch, contiguous, step_mask
from rnnkit.compiled.layer_norm import affine_grads_row, normalize_row, normalize_row_backward
from rnnkit.compiled.products import backward_product, recurrent_product, transposed


# --- the step math of one row ----------------------------------------------------------------
@njit(**JIT_OPTIONS)
def normalize_input_row(z, normed, gain, shift, bias, eps, zero):
    """z (4H,) = x W_ih^T on entry, LN_ih(x W_ih^T) + bias on exit; returns rstd."""
    rstd = normalize_row(z, normed, eps, zero)
    for j in range(z.shape[0]):
        z[j] = normed[j] * gain[j] + shift[j] + bias[j]
    return rstd


@njit(**JIT_OPTIONS)
def step_row(z, recurrent, hh_gain, hh_shift, c_prev, c, cell_normed, c_gain, c_shift, tanh_n, h, eps, zero):
    """One row of a step: z (4H,) = LN_ih(x W_ih^T) + bias on entry, [i f g o] on exit;
    recurrent (4H,) = h W_hh^T on entry, normalised on exit. Returns (rstd_hh, rstd_c)."""
    hidden = c.shape[0]
    rstd_hh = normalize_row(recurrent, recurrent, eps, zero)
    for j in range(4 * hidden):
        z[j] += recurrent[j] * hh_gain[j] + hh_shift[j]
    for j in range(hidden):
        i = sigmoid(z[j])
        f = sigmoid(z[hidden + j])
        g = tanh(z[2 * hidden + j])
        o = sigmoid(z[3 * hidden + j])
        z[j], z[hidden + j], z[2 * hidden + j], z[3 * hidden + j] = i, f, g, o
        c[j] = f * c_prev[j] + i * g
    rstd_c = normalize_row(c, cell_normed, eps, zero)
    for j in range(hidden):
        value = tanh(cell_normed[j] * c_gain[j] + c_shift[j])
        tanh_n[j] = value
        h[j] = z[3 * hidden + j] * value
    return rstd_hh, rstd_c


@njit(**JIT_OPTIONS)
def step_row_backward(dh, dc, z, c_prev, cell_normed, rstd_c, tanh_n, recurrent_normed, rstd_hh, c_gain, c_gain_grad,
                      c_shift_grad, hh_gain, hh_gain_grad, hh_shift_grad, d_cell, d_gates, dc_prev, zero, one):
    """Backward of :func:`step_row`: z holds [i f g o] on entry and dL/dz on exit;
    recurrent_normed becomes d(h W_hh^T); dc_prev = dL/dc_{t-1}. Scratch d_cell (H,), d_gates (4H,)."""
    hidden = dh.shape[0]
    for j in range(hidden):
        value = tanh_n[j]
        d_cell[j] = dh[j] * z[3 * hidden + j] * (one - value * value)        # dL/dn
    affine_grads_row(d_cell, cell_normed, c_gain, c_gain_grad, c_shift_grad, d_cell)
    normalize_row_backward(d_cell, cell_normed, rstd_c, d_cell, zero)       # LN_c backward
    for j in range(hidden):
        i, f, g, o = z[j], z[hidden + j], z[2 * hidden + j], z[3 * hidden + j]
        total = d_cell[j] + dc[j]                                            # dL/dc_t
        z[3 * hidden + j] = dh[j] * tanh_n[j] * o * (one - o)
        z[j] = total * g * i * (one - i)
        z[hidden + j] = total * c_prev[j] * f * (one - f)
        z[2 * hidden + j] = total * i * (one - g * g)
        dc_prev[j] = total * f
    affine_grads_row(z, recurrent_normed, hh_gain, hh_gain_grad, hh_shift_grad, d_gates)
    normalize_row_backward(d_gates, recurrent_normed, rstd_hh, recurrent_normed, zero)


# --- the time loops ----------------------------------------------------------------------------
@njit(**JIT_OPTIONS)
def forward_loop(z, w_hh, bias, norms, states, cells, input_normed, input_rstd, recurrent_normed, recurrent_rstd,
                 cell_normed, cell_rstd, tanh_n, mask, eps, zero, one, h_t, product_t):
    """z (T, B, 4H) processing order: x W_ih^T on entry, [i f g o] on exit. norms: the six
    gains and shifts (ih, hh, c). Fills states[1:], cells[1:] and the cache."""
    ih_gain, ih_shift, hh_gain, hh_shift, c_gain, c_shift = norms
    steps, batch, _ = z.shape
    for k in range(steps):                                   # LN_ih for every step first
        for b in range(batch):
            input_rstd[k, b, 0] = normalize_input_row(z[k, b], input_normed[k, b], ih_gain, ih_shift, bias, eps, zero)
    for k in range(steps):
        recurrent_product(states[k], w_hh, recurrent_normed[k], False, h_t, product_t, zero, one)   # h W_hh^T
        for b in range(batch):
            rstd_hh, rstd_c = step_row(z[k, b], recurrent_normed[k, b], hh_gain, hh_shift, cells[k, b], cells[k + 1, b],
                                       cell_normed[k, b], c_gain, c_shift, tanh_n[k, b], states[k + 1, b], eps, zero)
            recurrent_rstd[k, b, 0] = rstd_hh
            cell_rstd[k, b, 0] = rstd_c
            if mask.shape[0] > 0 and mask[k, b]:                 # past the length: keep the state
                states[k + 1, b, :] = states[k, b, :]
                cells[k + 1, b, :] = cells[k, b, :]


@njit(**JIT_OPTIONS)
def backward_loop(d_states, dc_carry, d_gates, cells, input_normed, input_rstd, recurrent_normed, recurrent_rstd,
                  cell_normed, cell_rstd, tanh_n, w_hh, w_hh_t, norms, grads, dh_carry, dc_prev, mask, zero, one,
                  dz_t, product_t):
    """d_gates (T, B, 4H) processing order: [i f g o] on entry, dL/dz on exit; input_normed and
    recurrent_normed become d(x W_ih^T) and d(h W_hh^T). grads: the gradients of bias and of
    the six gains and shifts. dh_carry and dc_carry end as dL/dh_0 and dL/dc_0."""
    ih_gain, ih_shift, hh_gain, hh_shift, c_gain, c_shift = norms
    bias_grad, ih_gain_grad, ih_shift_grad, hh_gain_grad, hh_shift_grad, c_gain_grad, c_shift_grad = grads
    steps, batch, hidden = d_states.shape
    d_cell = np.empty(hidden, dtype=d_states.dtype)
    d_row = np.empty(4 * hidden, dtype=d_states.dtype)
    dh_carry[:, :] = zero
    for k in range(steps - 1, -1, -1):
        for b in range(batch):
            dh = d_states[k, b]
            for j in range(hidden):
                dh[j] += dh_carry[b, j]
            if mask.shape[0] > 0 and mask[k, b]:                 # held: dh and dc pass through
                d_gates[k, b, :] = zero
                recurrent_normed[k, b, :] = zero
                dc_prev[b, :] = dc_carry[b, :]
            else:
                step_row_backward(dh, dc_carry[b], d_gates[k, b], cells[k, b], cell_normed[k, b], cell_rstd[k, b, 0],
                                  tanh_n[k, b], recurrent_normed[k, b], recurrent_rstd[k, b, 0], c_gain, c_gain_grad,
                                  c_shift_grad, hh_gain, hh_gain_grad, hh_shift_grad, d_cell, d_row, dc_prev[b],
                                  zero, one)
        backward_product(recurrent_normed[k], w_hh, w_hh_t, dh_carry, False, dz_t, product_t, zero, one)
        if mask.shape[0] > 0:
            for b in range(batch):
                if mask[k, b]:
                    dh_carry[b, :] = d_states[k, b, :]
        dc_carry[:, :] = dc_prev[:, :]
    for k in range(steps):                                   # bias and LN_ih, every step
        for b in range(batch):
            row = d_gates[k, b]
            for j in range(4 * hidden):
                bias_grad[j] += row[j]
            affine_grads_row(row, input_normed[k, b], ih_gain, ih_gain_grad, ih_shift_grad, d_row)
            normalize_row_backward(d_row, input_normed[k, b], input_rstd[k, b, 0], input_normed[k, b], zero)


@njit(**JIT_OPTIONS)
def inference_loop(xw, reverse, w_hh, bias, norms, initial_h, cell, cell_next, output, column, recurrent, mask, eps,
                   zero, one, h_t, product_t):
    """xw (B, T, 4H) time order, overwritten; h_t into output[:, t, column:column + H]; cell
    (B, H) starts as c_0 and ends as c_n (cell_next is scratch)."""
    ih_gain, ih_shift, hh_gain, hh_shift, c_gain, c_shift = norms
    batch, steps, _ = xw.shape
    hidden = cell.shape[1]
    end = column + hidden
    normed = np.empty(4 * hidden, dtype=xw.dtype)
    cell_normed = np.empty(hidden, dtype=xw.dtype)
    tanh_n = np.empty(hidden, dtype=xw.dtype)
    for b in range(batch):
        for t in range(steps):
            normalize_input_row(xw[b, t], normed, ih_gain, ih_shift, bias, eps, zero)
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        before = t + 1 if reverse else t - 1                          # the time of h_{t-1}
        previous = initial_h if k == 0 else output[:, before, column:end]
        recurrent_product(previous, w_hh, recurrent, False, h_t, product_t, zero, one)
        for b in range(batch):
            h_prev = initial_h[b] if k == 0 else output[b, before, column:end]
            if mask.shape[0] > 0 and mask[k, b]:                      # past the length: keep the state
                output[b, t, column:end] = h_prev
                cell_next[b, :] = cell[b, :]
            else:
                step_row(xw[b, t], recurrent[b], hh_gain, hh_shift, cell[b], cell_next[b], cell_normed, c_gain, c_shift,
                         tanh_n, output[b, t, column:end], eps, zero)
        cell[:, :] = cell_next[:, :]


# --- the kernel: the reference's functions, with the reference's arguments ---------------------
def _norms(weights):
    """The six gains and shifts (ih, hh, c), C-contiguous, in NORM_NAMES order."""
    return tuple(contiguous(weights.extra[name].data) for name in NORM_NAMES)


def _bias(weights, rows, dtype):
    """bias (4H,) and the array its gradient goes to (a throwaway one without a bias)."""
    bias = weights.extra.get("bias")
    if bias is None:
        return np.zeros(rows, dtype=dtype), np.zeros(rows, dtype=dtype)
    return contiguous(bias.data), bias.grad


def _product_scratch(hidden, batch, dtype):
    """h_t (H, B) and product_t (4H, B): the scratch of the per-step product by columns."""
    return np.empty((hidden, batch), dtype=dtype), np.empty((4 * hidden, batch), dtype=dtype)


def forward(layer, gates, reverse, weights, initial, invalid, work):
    """:func:`rnnkit.cells.lnlstm.reference.forward`, compiled."""
    steps, batch, _ = gates.shape
    dtype, hidden = gates.dtype, layer.hidden_size
    z = gates[::-1] if reverse else gates                                     # processing order
    input_normed = work.array("input_normed", (steps, batch, 4 * hidden), dtype)
    input_rstd = work.array("input_rstd", (steps, batch, 1), dtype)
    states = work.array("states", (steps + 1, batch, hidden), dtype)
    cells = work.array("cells", (steps + 1, batch, hidden), dtype)
    states[0], cells[0] = initial
    recurrent_normed = work.array("recurrent_normed", (steps, batch, 4 * hidden), dtype)
    recurrent_rstd = work.array("recurrent_rstd", (steps, batch, 1), dtype)
    cell_normed = work.array("cell_normed", (steps, batch, hidden), dtype)
    cell_rstd = work.array("cell_rstd", (steps, batch, 1), dtype)
    tanh_n = work.array("tanh_n", (steps, batch, hidden), dtype)
    forward_loop(z, contiguous(weights.weight_hh.data), _bias(weights, 4 * hidden, dtype)[0], _norms(weights),
                 states, cells, input_normed, input_rstd, recurrent_normed, recurrent_rstd, cell_normed, cell_rstd,
                 tanh_n, step_mask(invalid, steps), dtype.type(EPS), dtype.type(0), dtype.type(1),
                 *_product_scratch(hidden, batch, dtype))
    cache = (cells, gates, input_normed, input_rstd, recurrent_normed, recurrent_rstd, cell_normed, cell_rstd, tanh_n)
    return states, (states[-1], cells[-1]), cache


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """:func:`rnnkit.cells.lnlstm.reference.backward`, compiled."""
    cells, gates, input_normed, input_rstd, recurrent_normed, recurrent_rstd, cell_normed, cell_rstd, tanh_n = \
        cache.extra
    steps, batch, hidden = d_states.shape
    dtype = d_states.dtype
    d_gates = gates[::-1] if cache.reverse else gates                         # processing order
    w_hh = contiguous(weights.weight_hh.data)
    w_hh_t = transposed(w_hh, batch)
    grads = (_bias(weights, 4 * hidden, dtype)[1],) + tuple(weights.extra[name].grad for name in NORM_NAMES)
    dh_carry = np.empty((batch, hidden), dtype=dtype)
    dc_carry = np.array(d_final_extra[0], dtype=dtype)
    backward_loop(d_states, dc_carry, d_gates, cells, input_normed, input_rstd, recurrent_normed, recurrent_rstd,
                  cell_normed, cell_rstd, tanh_n, w_hh, w_hh_t, _norms(weights), grads, dh_carry,
                  np.empty((batch, hidden), dtype=dtype), step_mask(invalid, steps), dtype.type(0), dtype.type(1),
                  *backward_scratch(w_hh_t, batch))
    return input_normed, recurrent_normed, (dh_carry, dc_carry)


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """:func:`rnnkit.cells.lnlstm.reference.inference`, compiled."""
    batch, steps, _ = xw.shape
    dtype, hidden = xw.dtype, layer.hidden_size
    cell = np.array(initial[1], dtype=dtype)
    inference_loop(xw, reverse, contiguous(weights.weight_hh.data), _bias(weights, 4 * hidden, dtype)[0],
                   _norms(weights), contiguous(initial[0]), cell, np.empty_like(cell), output, column,
                   np.empty((batch, 4 * hidden), dtype=dtype), step_mask(invalid, steps), dtype.type(EPS),
                   dtype.type(0), dtype.type(1), *_product_scratch(hidden, batch, dtype))
    return output[:, 0 if reverse else -1, column:column + hidden].copy(), cell
