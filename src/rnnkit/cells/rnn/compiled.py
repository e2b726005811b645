"""The Elman RNN's compiled kernel (Numba): :mod:`rnnkit.cells.rnn.reference`, function for function.

Same names, arguments and cache as the reference. The step's product is added into the input
products in place (``a_t = xw_t + h_{t-1} W_hh^T``, computed as ``(W_hh h_{t-1}^T)^T`` when
B > 1, see :func:`rnnkit.compiled.products.recurrent_product`) and one SIMD pass per row adds
the bias and writes h_t from there. Backward writes da over d_states where nothing reads
dL/dh_t after its own step (no lengths, no recorded gradients): one (T, B, H) array less.

Glossary: T steps, B batch, H hidden.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnkit.compiled.activations import tanh
from rnnkit.compiled.common import JIT_OPTIONS, backward_scratch, contiguous, step_mask
from rnnkit.compiled.products import backward_product, recurrent_product, transposed


# --- the step math of one row ----------------------------------------------------------------
@njit(**JIT_OPTIONS)
def tanh_bias_into(values, bias, out):
    for j in range(out.shape[0]):
        out[j] = tanh(values[j] + bias[j])


@njit(**JIT_OPTIONS)
def relu_bias_into(values, bias, out, zero):
    for j in range(out.shape[0]):
        out[j] = max(values[j] + bias[j], zero)


# --- the time loops ----------------------------------------------------------------------------


@njit(**JIT_OPTIONS)
def forward_loop(pre, reverse, w_hh, bias, states, mask, relu, zero, one, h_t, product_t):
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
def inference_loop(pre, reverse, w_hh, bias, initial, output, column, mask, relu, zero, one, h_t,
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
def backward_loop(d_states, states, w_hh, w_hh_t, d_pre, carry, mask, relu, zero, one, dz_t, product_t):
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


def gradient_buffer(layer, d_states, invalid):
    """Where backward writes da: over d_states unless dL/dh_t must survive its step (held
    states with lengths, recorded gradients)."""
    if invalid is None and not layer.record_hidden_grads:
        return d_states
    return np.empty_like(d_states)


# --- the kernel: the reference's functions, with the reference's arguments ---------------------
def forward(layer, gates, reverse, weights, initial, invalid, work):
    """:func:`rnnkit.cells.rnn.reference.forward`, compiled."""
    steps, batch, hidden = gates.shape
    dtype = gates.dtype
    states = work.array("states", (steps + 1, batch, hidden), dtype)   # (T+1, B, H)
    states[0] = initial[0]
    forward_loop(gates, reverse, contiguous(weights.weight_hh.data), weights.combined_bias(), states,
                 step_mask(invalid, steps), layer.nonlinearity == "relu", *_scratch(hidden, batch, dtype))
    return states, (states[-1],), ()


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """:func:`rnnkit.cells.rnn.reference.backward`, compiled."""
    steps, batch, hidden = d_states.shape
    dtype = d_states.dtype
    d_pre = gradient_buffer(layer, d_states, invalid)                  # dL/da_t, processing order
    carry = np.empty((batch, hidden), dtype=dtype)
    w_hh = contiguous(weights.weight_hh.data)
    w_hh_t = transposed(w_hh, batch)                               # W_hh^T, or (0, 0): see backward_product
    backward_loop(d_states, cache.states, w_hh, w_hh_t, d_pre, carry, step_mask(invalid, steps),
                  layer.nonlinearity == "relu", dtype.type(0), dtype.type(1), *backward_scratch(w_hh_t, batch))
    return d_pre, d_pre, (carry,)


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """:func:`rnnkit.cells.rnn.reference.inference`, compiled."""
    batch, hidden, dtype = output.shape[0], layer.hidden_size, xw.dtype
    inference_loop(xw, reverse, contiguous(weights.weight_hh.data), weights.combined_bias(),
                   contiguous(initial[0]), output, column, step_mask(invalid, output.shape[1]),
                   layer.nonlinearity == "relu", *_scratch(hidden, batch, dtype))
    return (output[:, 0 if reverse else -1, column:column + hidden].copy(),)


def _scratch(hidden, batch, dtype):
    """0, 1 and the two scratch arrays of the per-step product by columns."""
    return dtype.type(0), dtype.type(1), np.empty((hidden, batch), dtype=dtype), np.empty((hidden, batch), dtype=dtype)
