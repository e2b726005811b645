"""The LayerNorm GRU's compiled kernel (Numba): :mod:`rnnkit.cells.lngru.reference`, function
for function.

Same names, arguments and cache as the reference; what differs is how: each row's step is the
GRU's compiled row functions (:mod:`rnnkit.cells.gru.compiled`) after the row's layer norms,
and the recurrent product runs through NumPy's OpenBLAS (:mod:`rnnkit.compiled.products`).
The biases', gains' and shifts' gradients are summed row by row in the loop. Kept simple: one
core, no split by rows.

Glossary: T steps, B batch, H hidden.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnkit.cells.gru.compiled import (add_into, gru_candidate, gru_candidate_grad, gru_gates, gru_interpolate,
                                       gru_reset_grad, gru_total_grad, gru_update_grad)
from rnnkit.cells.layer_norm import EPS
from rnnkit.cells.lngru.reference import NORM_NAMES
from rnnkit.compiled.common import JIT_OPTIONS, backward_scratch, contiguous, step_mask
from rnnkit.compiled.layer_norm import affine_grads_row, normalize_row, normalize_row_backward
from rnnkit.compiled.products import backward_product, recurrent_product, transposed


# --- the step math of one row ----------------------------------------------------------------
@njit(**JIT_OPTIONS)
def normalize_into(values, normed, gain, shift, out, eps, zero):
    """normed = values normalised (``normed`` may be ``values``), out = gain * normed + shift; returns rstd."""
    rstd = normalize_row(values, normed, eps, zero)
    for j in range(out.shape[0]):
        out[j] = normed[j] * gain[j] + shift[j]
    return rstd


@njit(**JIT_OPTIONS)
def gru_row(z, b_ih, gh, b_hh, gh_n, h_prev, h):
    """The GRU's step on one row: z = LN_ih(x W_ih^T) on entry, [r z n] on exit; gh = LN_hh(h W_hh^T);
    gh_n = gh's n block + b_hn (what backward needs)."""
    hidden = h.shape[0]
    gru_gates(z[:2 * hidden], b_ih[:2 * hidden], gh[:2 * hidden], b_hh[:2 * hidden])     # r, z
    add_into(gh[2 * hidden:], b_hh[2 * hidden:], gh_n)
    gru_candidate(z[:hidden], gh_n, z[2 * hidden:], b_ih[2 * hidden:])                     # n
    gru_interpolate(h_prev, z[2 * hidden:], z[hidden:2 * hidden], h)


# --- the time loops ----------------------------------------------------------------------------
@njit(**JIT_OPTIONS)
def forward_loop(z, w_hh, b_ih, b_hh, norms, states, recurrent_n, input_normed, input_rstd, recurrent_normed,
                 recurrent_rstd, gh, mask, eps, zero, one, h_t, product_t):
    """z (T, B, 3H) processing order: x W_ih^T on entry, [r z n] on exit; norms: the gains and
    shifts (ih, hh). Fills states[1:], recurrent_n and the layer norms' cache."""
    ih_gain, ih_shift, hh_gain, hh_shift = norms
    steps, batch, _ = z.shape
    for k in range(steps):                                   # LN_ih for every step first
        for b in range(batch):
            input_rstd[k, b, 0] = normalize_into(z[k, b], input_normed[k, b], ih_gain, ih_shift, z[k, b], eps, zero)
    for k in range(steps):
        recurrent_product(states[k], w_hh, recurrent_normed[k], False, h_t, product_t, zero, one)   # h W_hh^T
        for b in range(batch):
            recurrent_rstd[k, b, 0] = normalize_into(recurrent_normed[k, b], recurrent_normed[k, b], hh_gain, hh_shift,
                                                     gh[b], eps, zero)
            gru_row(z[k, b], b_ih, gh[b], b_hh, recurrent_n[k, b], states[k, b], states[k + 1, b])
            if mask.shape[0] > 0 and mask[k, b]:                 # past the length: keep the state
                states[k + 1, b, :] = states[k, b, :]


@njit(**JIT_OPTIONS)
def backward_loop(d_states, states, d_gi, recurrent_n, input_normed, input_rstd, recurrent_normed, recurrent_rstd,
                  w_hh, w_hh_t, norms, grads, carry, dg_step, mask, zero, one, dz_t, product_t):
    """d_gi (T, B, 3H) processing order: [r z n] on entry, dL/d(gi) on exit; input_normed and
    recurrent_normed become d(x W_ih^T) and d(h W_hh^T). grads: the gradients of b_ih, b_hh
    and the four gains and shifts. carry ends as dL/dh_0."""
    ih_gain, ih_shift, hh_gain, hh_shift = norms
    b_ih_grad, b_hh_grad, ih_gain_grad, ih_shift_grad, hh_gain_grad, hh_shift_grad = grads
    steps, batch, hidden = d_states.shape
    d_row = np.empty(3 * hidden, dtype=d_states.dtype)
    carry[:, :] = zero
    for k in range(steps - 1, -1, -1):
        for b in range(batch):
            dh = d_states[k, b]
            z = d_gi[k, b]
            dg = dg_step[b]                                      # this row's dL/d(gh)
            r, u, n = z[:hidden], z[hidden:2 * hidden], z[2 * hidden:]
            gru_total_grad(dh, carry[b], u)                      # carry = dh * u: h_{t-1} -> h_t
            gru_candidate_grad(n, u, dh, dg[2 * hidden:], one)
            gru_update_grad(u, n, states[k, b], dh, dg[hidden:2 * hidden], one)
            gru_reset_grad(r, n, dg[:hidden], dg[2 * hidden:], recurrent_n[k, b], one)
            if mask.shape[0] > 0 and mask[k, b]:
                z[:] = zero
                dg[:] = zero
            for j in range(3 * hidden):
                b_hh_grad[j] += dg[j]
            affine_grads_row(dg, recurrent_normed[k, b], hh_gain, hh_gain_grad, hh_shift_grad, d_row)
            normalize_row_backward(d_row, recurrent_normed[k, b], recurrent_rstd[k, b, 0], recurrent_normed[k, b], zero)
        backward_product(recurrent_normed[k], w_hh, w_hh_t, carry, True, dz_t, product_t, zero, one)   # += d(hW) W_hh
        if mask.shape[0] > 0:
            for b in range(batch):
                if mask[k, b]:                                   # a held state passes dh through
                    carry[b, :] = d_states[k, b, :]
    for k in range(steps):                                   # b_ih and LN_ih, every step
        for b in range(batch):
            row = d_gi[k, b]
            for j in range(3 * hidden):
                b_ih_grad[j] += row[j]
            affine_grads_row(row, input_normed[k, b], ih_gain, ih_gain_grad, ih_shift_grad, d_row)
            normalize_row_backward(d_row, input_normed[k, b], input_rstd[k, b, 0], input_normed[k, b], zero)


@njit(**JIT_OPTIONS)
def inference_loop(xw, reverse, w_hh, b_ih, b_hh, norms, initial, output, column, recurrent, gh, mask, eps, zero, one,
                   h_t, product_t):
    """xw (B, T, 3H) time order, overwritten; h_t into output[:, t, column:column + H]."""
    ih_gain, ih_shift, hh_gain, hh_shift = norms
    batch, steps, _ = xw.shape
    hidden = initial.shape[1]
    end = column + hidden
    normed = np.empty(3 * hidden, dtype=xw.dtype)
    gh_n = np.empty(hidden, dtype=xw.dtype)
    for b in range(batch):
        for t in range(steps):
            normalize_into(xw[b, t], normed, ih_gain, ih_shift, xw[b, t], eps, zero)
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        before = t + 1 if reverse else t - 1                          # the time of h_{t-1}
        previous = initial if k == 0 else output[:, before, column:end]
        recurrent_product(previous, w_hh, recurrent, False, h_t, product_t, zero, one)
        for b in range(batch):
            h_prev = initial[b] if k == 0 else output[b, before, column:end]
            if mask.shape[0] > 0 and mask[k, b]:                      # past the length: keep the state
                output[b, t, column:end] = h_prev
            else:
                normalize_into(recurrent[b], recurrent[b], hh_gain, hh_shift, gh[b], eps, zero)
                gru_row(xw[b, t], b_ih, gh[b], b_hh, gh_n, h_prev, output[b, t, column:end])


# --- the kernel: the reference's functions, with the reference's arguments ---------------------
def _norms(weights):
    """The four gains and shifts (ih, hh), C-contiguous, in NORM_NAMES order."""
    return tuple(contiguous(weights.extra[name].data) for name in NORM_NAMES)


def _scratch(hidden, batch, dtype):
    """h_t (H, B) and product_t (3H, B): the scratch of the per-step product by columns."""
    return np.empty((hidden, batch), dtype=dtype), np.empty((3 * hidden, batch), dtype=dtype)


def forward(layer, gates, reverse, weights, initial, invalid, work):
    """:func:`rnnkit.cells.lngru.reference.forward`, compiled."""
    steps, batch, _ = gates.shape
    dtype, hidden = gates.dtype, layer.hidden_size
    z = gates[::-1] if reverse else gates                                     # processing order
    input_normed = work.array("input_normed", (steps, batch, 3 * hidden), dtype)
    input_rstd = work.array("input_rstd", (steps, batch, 1), dtype)
    states = work.array("states", (steps + 1, batch, hidden), dtype)
    states[0] = initial[0]
    recurrent_n = work.array("recurrent_n", (steps, batch, hidden), dtype)
    recurrent_normed = work.array("recurrent_normed", (steps, batch, 3 * hidden), dtype)
    recurrent_rstd = work.array("recurrent_rstd", (steps, batch, 1), dtype)
    forward_loop(z, contiguous(weights.weight_hh.data), *weights.split_biases(), _norms(weights), states, recurrent_n,
                 input_normed, input_rstd, recurrent_normed, recurrent_rstd, np.empty((batch, 3 * hidden), dtype=dtype),
                 step_mask(invalid, steps), dtype.type(EPS), dtype.type(0), dtype.type(1),
                 *_scratch(hidden, batch, dtype))
    return states, (states[-1],), (gates, recurrent_n, input_normed, input_rstd, recurrent_normed, recurrent_rstd)


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """:func:`rnnkit.cells.lngru.reference.backward`, compiled."""
    gates, recurrent_n, input_normed, input_rstd, recurrent_normed, recurrent_rstd = cache.extra
    steps, batch, hidden = d_states.shape
    dtype = d_states.dtype
    d_gi = gates[::-1] if cache.reverse else gates                            # processing order
    w_hh = contiguous(weights.weight_hh.data)
    w_hh_t = transposed(w_hh, batch)
    throwaway = np.zeros(3 * hidden, dtype=dtype)                             # bias gradients without biases
    bias_grads = (weights.bias_ih.grad, weights.bias_hh.grad) if weights.bias_ih is not None else (throwaway,) * 2
    grads = bias_grads + tuple(weights.extra[name].grad for name in NORM_NAMES)
    carry = np.empty((batch, hidden), dtype=dtype)
    backward_loop(d_states, cache.states, d_gi, recurrent_n, input_normed, input_rstd, recurrent_normed, recurrent_rstd,
                  w_hh, w_hh_t, _norms(weights), grads, carry, np.empty((batch, 3 * hidden), dtype=dtype),
                  step_mask(invalid, steps), dtype.type(0), dtype.type(1), *backward_scratch(w_hh_t, batch))
    return input_normed, recurrent_normed, (carry,)


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """:func:`rnnkit.cells.lngru.reference.inference`, compiled."""
    batch, steps, _ = xw.shape
    dtype, hidden = xw.dtype, layer.hidden_size
    inference_loop(xw, reverse, contiguous(weights.weight_hh.data), *weights.split_biases(), _norms(weights),
                   contiguous(initial[0]), output, column, np.empty((batch, 3 * hidden), dtype=dtype),
                   np.empty((batch, 3 * hidden), dtype=dtype), step_mask(invalid, steps), dtype.type(EPS),
                   dtype.type(0), dtype.type(1), *_scratch(hidden, batch, dtype))
    return (output[:, 0 if reverse else -1, column:column + hidden].copy(),)
