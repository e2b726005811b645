"""The Elman RNN's forward and backward time loops of one direction, compiled with Numba.

Same equations as the NumPy loops in :mod:`rnnkit.layers.rnn` (the reference), with the
biases added in the activation pass rather than to ``xw`` first (the sums associate differently,
within float rounding). The step's product is added into the input products in place
(``a_t = xw_t + h_{t-1} W_hh^T``, computed as ``(W_hh h_{t-1}^T)^T`` when B > 1, see
:func:`rnnkit.compiled.products.gemm_nt_by_columns`) and the activation pass adds the bias and
writes h_t from there.

Glossary: T steps, B batch, H hidden.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnkit.compiled.common import (JIT_OPTIONS, CompiledExtra, backward_scratch, combined_bias, contiguous,
                                     last_state, step_mask, time_order)
from rnnkit.compiled.products import backward_product, recurrent_product, transposed
from rnnkit.compiled.vector import relu_bias_into, tanh_bias_into
from rnnkit.grad_mode import recycled_array


@njit(**JIT_OPTIONS)
def rnn_forward_loop(pre, reverse, w_hh, bias, states, mask, relu, zero, one, h_t, product_t):
    """pre (T, B, H): xw without biases on entry (time order), overwritten; fills states[1:].

    bias (H) = b_ih + b_hh: h_t = f(xw_t + h_{t-1} W_hh^T + bias).
    """
    steps, batch, hidden = pre.shape
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        recurrent_product(states[k], w_hh, pre[t], True, h_t, product_t, zero, one)    # a_t = xw_t + h W_hh^T
        for b in range(batch):
            if relu:
                relu_bias_into(pre[t, b], bias, states[k + 1, b], zero)
            else:
                tanh_bias_into(pre[t, b], bias, states[k + 1, b])
            if mask.shape[0] > 0 and mask[k, b]:                       # past the length: keep the state
                states[k + 1, b, :] = states[k, b, :]


@njit(**JIT_OPTIONS)
def rnn_inference_loop(pre, reverse, w_hh, bias, initial, output, column, mask, relu, zero, one, h_t,
                       product_t):
    """The forward loop under no_grad (no cache), batch-major, h_t straight into the output.

    pre (B, T, H): xw without biases, time order, overwritten (a_t = xw_t + h_{t-1} W_hh^T).
    initial (B, H) is h_0; h_t goes to output[:, t, column:column + H] of the layer's output
    (B, T, W). A step's rows are strided views for the products; the pointwise pass takes
    each row as a C-contiguous row (Numba vectorises no loop over a row of unknown stride).
    """
    batch, steps, _ = output.shape
    end = column + w_hh.shape[1]
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        before = t + 1 if reverse else t - 1                        # the time of h_{t-1}
        previous = initial if k == 0 else output[:, before, column:end]
        recurrent_product(previous, w_hh, pre[:, t], True, h_t, product_t, zero, one)
        for b in range(batch):
            row = pre[b, t]
            h = output[b, t, column:end]
            if relu:
                relu_bias_into(row, bias, h, zero)
            else:
                tanh_bias_into(row, bias, h)
            if mask.shape[0] > 0 and mask[k, b]:                       # past the length: keep the state
                h[:] = previous[b]


@njit(**JIT_OPTIONS)
def rnn_backward_loop(d_states, states, w_hh, w_hh_t, d_pre, carry, mask, relu, zero, one, dz_t, product_t):
    """Fills d_pre (T, B, H) and carry = dL/dh_0; adds the recurrent part into d_states."""
    steps, batch, hidden = d_states.shape
    carry[:, :] = zero
    for k in range(steps - 1, -1, -1):
        for b in range(batch):
            dh = d_states[k, b]
            c = carry[b]
            h = states[k + 1, b]
            da = d_pre[k, b]
            if relu:
                for j in range(hidden):
                    total = dh[j] + c[j]
                    dh[j] = total
                    da[j] = (one if h[j] > zero else zero) * total
            else:
                for j in range(hidden):
                    total = dh[j] + c[j]
                    dh[j] = total
                    da[j] = (one - h[j] * h[j]) * total
            if mask.shape[0] > 0 and mask[k, b]:
                da[:] = zero
        backward_product(d_pre[k], w_hh, w_hh_t, carry, False, dz_t, product_t, zero, one)   # dL/dh_{t-1} = da W_hh
        if mask.shape[0] > 0:
            for b in range(batch):
                if mask[k, b]:                                         # a held state passes dh through
                    carry[b, :] = d_states[k, b, :]


def forward(layer, xw, weights, initial, invalid):
    """``RNN._direction_forward`` through the compiled loop (same contract, xw without biases)."""
    pre, reverse = time_order(xw)                                   # consumed in place
    steps, batch, hidden = pre.shape
    dtype = layer.dtype
    states = recycled_array((steps + 1, batch, hidden), dtype)   # (T+1, B, H)
    states[0] = initial[0]
    rnn_forward_loop(pre, reverse, contiguous(weights.weight_hh.data), combined_bias(weights, True, hidden, dtype),
                     states, step_mask(invalid, steps),
                     layer.nonlinearity == "relu", dtype.type(0), dtype.type(1),
                     np.empty((hidden, batch), dtype=dtype), np.empty((hidden, batch), dtype=dtype))
    return states, (states[-1],), CompiledExtra(())


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """``RNN._direction_inference`` through the compiled loop (same contract)."""
    batch, hidden, dtype = output.shape[0], layer.hidden_size, layer.dtype
    rnn_inference_loop(xw, reverse, contiguous(weights.weight_hh.data),
                       combined_bias(weights, True, hidden, dtype), contiguous(initial[0]), output, column,
                       step_mask(invalid, output.shape[1]), layer.nonlinearity == "relu", dtype.type(0),
                       dtype.type(1), np.empty((hidden, batch), dtype=dtype), np.empty((hidden, batch), dtype=dtype))
    return (last_state(output, column, hidden, reverse),)


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """``RNN._direction_backward`` through the compiled loop (same contract)."""
    steps, batch, hidden = d_states.shape
    dtype = layer.dtype
    if invalid is None and not layer.record_hidden_grads:
        # dL/da_t overwrites dL/dh_t in place: nothing reads dL/dh_t after its own step.
        d_pre = d_states
    else:                               # d_states must keep dL/dh_t (held states, recorded grads)
        d_pre = np.empty((steps, batch, hidden), dtype=dtype)      # dL/da_t, processing order
    carry = np.empty((batch, hidden), dtype=dtype)
    w_hh = contiguous(weights.weight_hh.data)
    w_hh_t = transposed(w_hh, batch)                               # W_hh^T, or (0, 0): see backward_product
    rnn_backward_loop(d_states, cache.states, w_hh, w_hh_t, d_pre, carry,
                      step_mask(invalid, steps), layer.nonlinearity == "relu", dtype.type(0), dtype.type(1),
                      *backward_scratch(w_hh_t, batch))
    return d_pre, d_pre, (carry,)
