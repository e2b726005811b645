"""The GRU's forward and backward time loops of one direction, compiled with Numba.

Same equations and order of operations as the NumPy loops in :mod:`rnnkit.layers.gru` (the
reference). The input products ``xw`` become the gate cache [r z n] in place, and backward
writes dL/d(gi) over that cache (a second backward of one forward rebuilds it); the recurrent
product ``gh = h_{t-1} W_hh^T`` of a step (as ``(W_hh h_{t-1}^T)^T`` when B > 1, see
:func:`rnnkit.compiled.products.gemm_nt_by_columns`) goes to a (B, 3H) scratch buffer, and
``b_ih`` and ``b_hh`` are added inside the pointwise passes.

Glossary: T steps, B batch, H hidden.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnkit.compiled.common import (JIT_OPTIONS, CompiledExtra, backward_scratch, combined_bias, contiguous,
                                     last_state, step_mask, time_order)
from rnnkit.compiled.products import backward_product, recurrent_product, transposed
from rnnkit.compiled.vector import (add_into, gru_candidate, gru_candidate_grad, gru_gates, gru_interpolate,
                                    gru_reset_grad, gru_step_no_cache, gru_total_grad, gru_update_grad)
from rnnkit.grad_mode import recycled_array


@njit(**JIT_OPTIONS)
def gru_forward_loop(gates, reverse, w_hh, b_ih, b_hh, states, recurrent_n, gh, mask, zero, one, h_t, product_t):
    """gates (T, B, 3H): xw = gi without b_ih on entry (time order), activations [r z n] on exit.

    Fills states[1:] and recurrent_n (T, B, H) = gh_n (with b_hn), processing order.
    """
    steps, batch, _ = gates.shape
    hidden = states.shape[2]
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        gh_n = recurrent_n[k]
        recurrent_product(states[k], w_hh, gh, False, h_t, product_t, zero, one)       # gh = h W_hh^T
        for b in range(batch):
            z = gates[t, b]
            g = gh[b]
            h_prev = states[k, b]
            gru_gates(z[:2 * hidden], b_ih[:2 * hidden], g[:2 * hidden], b_hh[:2 * hidden])   # r, z
            add_into(g[2 * hidden:], b_hh[2 * hidden:], gh_n[b])              # gh_n with b_hn
            gru_candidate(z[:hidden], gh_n[b], z[2 * hidden:], b_ih[2 * hidden:])   # n
            gru_interpolate(h_prev, z[2 * hidden:], z[hidden:2 * hidden], states[k + 1, b])
            if mask.shape[0] > 0 and mask[k, b]:                      # past the length: keep the state
                states[k + 1, b, :] = h_prev[:]


@njit(**JIT_OPTIONS)
def gru_inference_loop(gates, reverse, w_hh, b_ih, b_hh, initial, output, column, gh, mask, zero, one,
                       h_t, product_t):
    """The forward loop without a cache for backward (no_grad), batch-major.

    gates (B, T, 3H): gi without b_ih, time order, read only. initial (B, H) is h_0; h_t goes
    to output[:, t, column:column + H] of the layer's output (B, T, W). Each row's step is
    one pass over C-contiguous rows (:func:`rnnkit.compiled.vector.gru_step_no_cache`).
    """
    batch, steps, _ = output.shape
    end = column + w_hh.shape[1]
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        before = t + 1 if reverse else t - 1                          # the time of h_{t-1}
        previous = initial if k == 0 else output[:, before, column:end]
        recurrent_product(previous, w_hh, gh, False, h_t, product_t, zero, one)        # gh = h W_hh^T
        for b in range(batch):
            h_prev = initial[b] if k == 0 else output[b, before, column:end]     # a C row: previous[b] is not
            if mask.shape[0] > 0 and mask[k, b]:                      # past the length: keep the state
                output[b, t, column:end] = h_prev
            else:
                gru_step_no_cache(gates[b, t], b_ih, gh[b], b_hh, h_prev,
                                  output[b, t, column:end])


@njit(**JIT_OPTIONS)
def gru_backward_loop(d_states, states, d_gi, recurrent_n, w_hh, w_hh_t, d_gh_n, dg_step, carry, mask, zero, one,
                      dz_t, product_t):
    """d_gi (T, B, 3H, processing order): the activations [r z n] on entry, dL/d(gi) on exit.

    Fills d_gh_n (T, B, H) with dL/d(gh)'s n block (its r and z blocks equal d_gi's) and
    carry = dL/dh_0; adds into d_states. dg_step (B, 3H) holds one step's dL/d(gh) for the
    product with W_hh. Each pass of a row is a short SIMD loop (:mod:`rnnkit.compiled.vector`);
    dn waits in dg_step's n block until n is no longer needed.
    """
    steps, batch, hidden = d_states.shape
    carry[:, :] = zero
    for k in range(steps - 1, -1, -1):
        for b in range(batch):
            dh = d_states[k, b]
            z = d_gi[k, b]
            dg = dg_step[b]
            r, u, n = z[:hidden], z[hidden:2 * hidden], z[2 * hidden:]
            gru_total_grad(dh, carry[b], u)                              # carry = dh * u: h_{t-1} -> h_t
            gru_candidate_grad(n, u, dh, dg[2 * hidden:], one)
            gru_update_grad(u, n, states[k, b], dh, dg[hidden:2 * hidden], one)
            gru_reset_grad(r, n, dg[:hidden], dg[2 * hidden:], recurrent_n[k, b], one)
            if mask.shape[0] > 0 and mask[k, b]:
                z[:] = zero
                dg[:] = zero
            d_gh_n[k, b, :] = dg[2 * hidden:]
        backward_product(dg_step, w_hh, w_hh_t, carry, True, dz_t, product_t, zero, one)   # carry += dgh W_hh
        if mask.shape[0] > 0:
            for b in range(batch):
                if mask[k, b]:                                         # a held state passes dh through
                    carry[b, :] = d_states[k, b, :]


def forward(layer, xw, weights, initial, invalid):
    """``GRU._direction_forward`` through the compiled loop (same contract; xw without b_ih)."""
    gates, reverse = time_order(xw)                                  # consumed: becomes the gate cache
    steps, batch, _ = gates.shape
    hidden = layer.hidden_size
    states = recycled_array((steps + 1, batch, hidden), layer.dtype)   # (T+1, B, H)
    states[0] = initial[0]
    recurrent_n = recycled_array((steps, batch, hidden), layer.dtype)   # gh_n per step
    gru_forward_loop(gates, reverse, *_weights(layer, weights), states, recurrent_n,
                     *_scratch(layer, batch, invalid, steps))
    return states, (states[-1],), CompiledExtra((gates, reverse, recurrent_n))


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """``GRU._direction_inference`` through the compiled loop (same contract): no cache."""
    batch, steps = output.shape[:2]
    gru_inference_loop(xw, reverse, *_weights(layer, weights), contiguous(initial[0]), output, column,
                       *_scratch(layer, batch, invalid, steps))
    return (last_state(output, column, layer.hidden_size, reverse),)


def _weights(layer, weights):
    """W_hh, b_ih and b_hh (zeros without biases), C-contiguous."""
    rows, dtype = 3 * layer.hidden_size, layer.dtype
    b_hh = np.zeros(rows, dtype=dtype) if weights.bias_hh is None else contiguous(weights.bias_hh.data)
    return contiguous(weights.weight_hh.data), combined_bias(weights, False, rows, dtype), b_hh


def _scratch(layer, batch, invalid, steps):
    """gh (B, 3H), the step mask, 0, 1 and the two scratch arrays of the product by columns."""
    hidden, dtype = layer.hidden_size, layer.dtype
    return (np.empty((batch, 3 * hidden), dtype=dtype), step_mask(invalid, steps), dtype.type(0), dtype.type(1),
            np.empty((hidden, batch), dtype=dtype), np.empty((3 * hidden, batch), dtype=dtype))


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """``GRU._direction_backward`` through the compiled loop (same contract)."""
    gates, reverse, recurrent_n = cache.extra
    steps, batch, hidden = d_states.shape
    dtype = layer.dtype
    # dL/d(gi), processing order, written over the gate cache: step k reads its own gates
    # before writing their gradients, and no later step reads them. A second backward rebuilds the cache
    # (RecurrentLayer._rebuild_direction_cache).
    d_gi = gates[::-1] if reverse else gates
    cache.consumed = True
    d_gh_n = np.empty((steps, batch, hidden), dtype=dtype)          # dL/d(gh_n): the r, z blocks are d_gi's
    carry = np.empty((batch, hidden), dtype=dtype)
    w_hh = contiguous(weights.weight_hh.data)
    w_hh_t = transposed(w_hh, batch)                               # W_hh^T, or (0, 0): see backward_product
    gru_backward_loop(d_states, cache.states, d_gi, recurrent_n, w_hh, w_hh_t,
                      d_gh_n, np.empty((batch, 3 * hidden), dtype=dtype), carry, step_mask(invalid, steps),
                      dtype.type(0), dtype.type(1), *backward_scratch(w_hh_t, batch))
    return d_gi, d_gh_n, (carry,)
