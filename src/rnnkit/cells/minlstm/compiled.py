"""minLSTM's compiled kernel (Numba): :mod:`rnnkit.cells.minlstm.reference`, function for function.

Same names, arguments and cache as the reference; what differs is how (f' = f / (f + i) comes
from the sigmoids where they are accurate, see :func:`forget_share`): each loop takes a
range of rows and of units and does everything for them in one pass per step (activations,
the recurrence, the mask), where the reference makes several passes over (T, B, H) arrays.
Rows and units are independent, so :func:`rnnkit.compiled.split.run` runs disjoint ranges on
all cores at once (the loops release the GIL).

Glossary: T steps, B batch, H hidden.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from rnnkit.compiled import split
from rnnkit.compiled.activations import sigmoid
from rnnkit.compiled.common import JIT_OPTIONS, step_mask


@njit(**JIT_OPTIONS)
def forget_share(z_f, z_i, forget, input_gate, zero, two, quarter):
    """f' = f / (f + i) from the pre-activations and their sigmoids.

    Where f + i >= 1/4 the quotient itself (the sigmoids are accurate there); below, where both
    sigmoids are small and may round to 0, the same value as ``(1 + e^-z_i) / (2 + e^-z_i + e^-z_f)``
    with every exponent shifted by m = max(-z_f, -z_i, 0) so that none overflows.
    """
    total = forget + input_gate
    if total >= quarter:
        return forget / total
    shift = max(max(-z_f, -z_i), zero)
    base = math.exp(-shift)
    e_i = math.exp(-z_i - shift)
    return (base + e_i) / (two * base + e_i + math.exp(-z_f - shift))


# --- the time loops: one range of rows and units each (rnnkit.compiled.split) ------------------
# Units as slices indexed from 0 and time as the outer loop, for the reasons given in
# rnnkit/cells/mingru/compiled.py.
@njit(**JIT_OPTIONS)
def forward_loop(gates, reverse, bias, states, mix, mask, zero, one, two, quarter,
                 row_start, row_stop, unit_start, unit_stop):
    """gates (T, B, 3H), time order: x W_ih^T on entry, [f, i, h~] on exit; mix (T, B, H) = f'
    and states[1:], processing order."""
    steps = gates.shape[0]
    hidden = states.shape[2]
    units = unit_stop - unit_start
    bias_f = bias[unit_start:unit_stop]
    bias_i = bias[hidden + unit_start:hidden + unit_stop]
    bias_h = bias[2 * hidden + unit_start:2 * hidden + unit_stop]
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        for b in range(row_start, row_stop):
            f_row = gates[t, b, unit_start:unit_stop]
            i_row = gates[t, b, hidden + unit_start:hidden + unit_stop]
            h_row = gates[t, b, 2 * hidden + unit_start:2 * hidden + unit_stop]
            previous = states[k, b, unit_start:unit_stop]
            current = states[k + 1, b, unit_start:unit_stop]
            mix_row = mix[k, b, unit_start:unit_stop]
            for j in range(units):
                z_f = f_row[j] + bias_f[j]
                z_i = i_row[j] + bias_i[j]
                candidate = h_row[j] + bias_h[j]
                f = sigmoid(z_f)
                i = sigmoid(z_i)
                forget = forget_share(z_f, z_i, f, i, zero, two, quarter)        # f' = f / (f + i)
                f_row[j] = f
                i_row[j] = i
                h_row[j] = candidate
                mix_row[j] = forget
                current[j] = forget * previous[j] + (one - forget) * candidate
            if mask.shape[0] > 0 and mask[k, b]:                       # past the length: keep the state
                current[:] = previous


@njit(**JIT_OPTIONS)
def backward_loop(d_states, states, d_gates, mix, mask, carry, zero, one, row_start, row_stop, unit_start, unit_stop):
    """d_gates (T, B, 3H), processing order: [f, i, h~] on entry, dL/d[z_f, z_i, h~] on exit.

    d_states (T, B, H): dL/dh from the outputs on entry, the total G on exit; carry (B, H)
    ends as dL/dh_0.
    """
    steps = d_states.shape[0]
    hidden = d_states.shape[2]
    units = unit_stop - unit_start
    carry[row_start:row_stop, unit_start:unit_stop] = zero
    for k in range(steps - 1, -1, -1):
        for b in range(row_start, row_stop):
            f_row = d_gates[k, b, unit_start:unit_stop]
            i_row = d_gates[k, b, hidden + unit_start:hidden + unit_stop]
            h_row = d_gates[k, b, 2 * hidden + unit_start:2 * hidden + unit_stop]
            g_row = d_states[k, b, unit_start:unit_stop]
            previous = states[k, b, unit_start:unit_stop]
            mix_row = mix[k, b, unit_start:unit_stop]
            to_previous = carry[b, unit_start:unit_stop]
            for j in range(units):
                g = g_row[j] + to_previous[j]
                g_row[j] = g
                forget = mix_row[j]
                d_u = g * (previous[j] - h_row[j]) * forget * (one - forget)
                f_row[j] = d_u * (one - f_row[j])                                 # dz_f
                i_row[j] = -d_u * (one - i_row[j])                                # dz_i
                h_row[j] = g * (one - forget)                                     # dh~
                to_previous[j] = g * forget                                       # to h_{t-1}
            if mask.shape[0] > 0 and mask[k, b]:                              # a held state passes G through
                f_row[:] = zero
                i_row[:] = zero
                h_row[:] = zero
                to_previous[:] = g_row


@njit(**JIT_OPTIONS)
def inference_loop(xw, reverse, bias, initial, output, column, mask, zero, one, two, quarter,
                   row_start, row_stop, unit_start, unit_stop):
    """xw (B, T, 3H) without bias, time order, read only; h_t into output[:, t, column:column + H]."""
    steps = output.shape[1]
    hidden = initial.shape[1]
    units = unit_stop - unit_start
    first, last = column + unit_start, column + unit_stop                  # this range's columns of output
    bias_f = bias[unit_start:unit_stop]
    bias_i = bias[hidden + unit_start:hidden + unit_stop]
    bias_h = bias[2 * hidden + unit_start:2 * hidden + unit_stop]
    for b in range(row_start, row_stop):
        for k in range(steps):
            t = steps - 1 - k if reverse else k
            before = t + 1 if reverse else t - 1                          # the time of h_{t-1}
            previous = initial[b, unit_start:unit_stop] if k == 0 else output[b, before, first:last]
            current = output[b, t, first:last]
            f_row = xw[b, t, unit_start:unit_stop]
            i_row = xw[b, t, hidden + unit_start:hidden + unit_stop]
            h_row = xw[b, t, 2 * hidden + unit_start:2 * hidden + unit_stop]
            if mask.shape[0] > 0 and mask[k, b]:
                current[:] = previous
            else:
                for j in range(units):
                    z_f = f_row[j] + bias_f[j]
                    z_i = i_row[j] + bias_i[j]
                    forget = forget_share(z_f, z_i, sigmoid(z_f), sigmoid(z_i), zero, two, quarter)
                    current[j] = forget * previous[j] + (one - forget) * (h_row[j] + bias_h[j])


# --- the kernel: the reference's functions, with the reference's arguments ---------------------
def forward(layer, gates, reverse, weights, initial, invalid, work):
    """:func:`rnnkit.cells.minlstm.reference.forward`, compiled."""
    steps, batch, _ = gates.shape
    dtype, hidden = gates.dtype, layer.hidden_size
    states = work.array("states", (steps + 1, batch, hidden), dtype)             # (T+1, B, H)
    states[0] = initial[0]
    mix = work.array("mix", (steps, batch, hidden), dtype)                      # f', processing order
    split.run(forward_loop, (gates, reverse, weights.input_bias(), states, mix,
                             step_mask(invalid, steps), *_constants(dtype)), batch, hidden, steps)
    return states, (states[-1],), (gates, mix)


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """:func:`rnnkit.cells.minlstm.reference.backward`, compiled."""
    gates, mix = cache.extra
    steps, batch, hidden = d_states.shape
    dtype = d_states.dtype
    d_gi = gates[::-1] if cache.reverse else gates                               # processing order
    carry = np.empty((batch, hidden), dtype=dtype)
    split.run(backward_loop, (d_states, cache.states, d_gi, mix, step_mask(invalid, steps), carry, dtype.type(0),
                              dtype.type(1)), batch, hidden, steps)
    return d_gi, None, (carry,)


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """:func:`rnnkit.cells.minlstm.reference.inference`, compiled."""
    batch, steps = output.shape[:2]
    hidden = layer.hidden_size
    dtype = xw.dtype
    split.run(inference_loop, (xw, reverse, weights.input_bias(), np.ascontiguousarray(initial[0]),
                               output, column, step_mask(invalid, steps), *_constants(dtype)),
              batch, hidden, steps)
    return (output[:, 0 if reverse else -1, column:column + hidden].copy(),)



def _constants(dtype):
    """0, 1, 2 and 1/4 in the loops' dtype."""
    return dtype.type(0), dtype.type(1), dtype.type(2), dtype.type(0.25)
