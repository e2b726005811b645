"""minGRU's compiled kernel (Numba): :mod:`rnnkit.cells.mingru.reference`, function for function.

Same names, arguments and cache as the reference; what differs is how: each loop takes a
range of rows and of units and does everything for them in one pass per step (activations,
the recurrence, the mask), where the reference makes several passes over (T, B, H) arrays.
Rows and units are independent, so :func:`rnnkit.compiled.split.run` runs disjoint ranges on
all cores at once (the loops release the GIL).

Glossary: T steps, B batch, H hidden.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnkit.compiled import split
from rnnkit.compiled.activations import sigmoid
from rnnkit.compiled.common import JIT_OPTIONS, step_mask


# --- the time loops: one range of rows and units each (rnnkit.compiled.split) ------------------
# Each loop takes its units as slices and indexes them from 0: with indices from range(start,
# stop) Numba must allow for negative ones, and the inner loops stop vectorising (measured 4-5x
# slower, docs/compiled-loops.md). Time is the outer loop: each step reads one contiguous slab.
@njit(**JIT_OPTIONS)
def forward_loop(gates, reverse, bias, states, mask, one, row_start, row_stop, unit_start, unit_stop):
    """gates (T, B, 2H), time order: x W_ih^T on entry, [z, h~] on exit; fills states[1:]."""
    steps = gates.shape[0]
    hidden = states.shape[2]
    units = unit_stop - unit_start
    bias_z, bias_h = bias[unit_start:unit_stop], bias[hidden + unit_start:hidden + unit_stop]
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        for b in range(row_start, row_stop):
            z_row = gates[t, b, unit_start:unit_stop]
            h_row = gates[t, b, hidden + unit_start:hidden + unit_stop]
            previous = states[k, b, unit_start:unit_stop]
            current = states[k + 1, b, unit_start:unit_stop]
            for j in range(units):
                z = sigmoid(z_row[j] + bias_z[j])
                candidate = h_row[j] + bias_h[j]
                z_row[j] = z
                h_row[j] = candidate
                current[j] = (one - z) * previous[j] + z * candidate
            if mask.shape[0] > 0 and mask[k, b]:                       # past the length: keep the state
                current[:] = previous


@njit(**JIT_OPTIONS)
def backward_loop(d_states, states, d_gates, mask, carry, zero, one, row_start, row_stop, unit_start, unit_stop):
    """d_gates (T, B, 2H), processing order: [z, h~] on entry, dL/d[z_pre, h~] on exit.

    d_states (T, B, H): dL/dh from the outputs on entry, the total G on exit; carry (B, H)
    ends as dL/dh_0.
    """
    steps = d_states.shape[0]
    hidden = d_states.shape[2]
    units = unit_stop - unit_start
    carry[row_start:row_stop, unit_start:unit_stop] = zero
    for k in range(steps - 1, -1, -1):
        for b in range(row_start, row_stop):
            z_row = d_gates[k, b, unit_start:unit_stop]
            h_row = d_gates[k, b, hidden + unit_start:hidden + unit_stop]
            g_row = d_states[k, b, unit_start:unit_stop]
            previous = states[k, b, unit_start:unit_stop]
            to_previous = carry[b, unit_start:unit_stop]
            for j in range(units):
                g = g_row[j] + to_previous[j]
                g_row[j] = g
                z = z_row[j]
                d_z = g * (h_row[j] - previous[j])
                h_row[j] = g * z                                          # dh~ = G z
                z_row[j] = d_z * z * (one - z)                            # dz_pre
                to_previous[j] = g * (one - z)                            # to h_{t-1}
            if mask.shape[0] > 0 and mask[k, b]:                          # a held state passes G through
                z_row[:] = zero
                h_row[:] = zero
                to_previous[:] = g_row


@njit(**JIT_OPTIONS)
def inference_loop(xw, reverse, bias, initial, output, column, mask, one, row_start, row_stop, unit_start, unit_stop):
    """xw (B, T, 2H) without bias, time order, read only; h_t into output[:, t, column:column + H]."""
    steps = output.shape[1]
    hidden = initial.shape[1]
    units = unit_stop - unit_start
    first, last = column + unit_start, column + unit_stop                  # this range's columns of output
    bias_z, bias_h = bias[unit_start:unit_stop], bias[hidden + unit_start:hidden + unit_stop]
    for b in range(row_start, row_stop):
        for k in range(steps):
            t = steps - 1 - k if reverse else k
            before = t + 1 if reverse else t - 1                          # the time of h_{t-1}
            previous = initial[b, unit_start:unit_stop] if k == 0 else output[b, before, first:last]
            current = output[b, t, first:last]
            z_row = xw[b, t, unit_start:unit_stop]
            h_row = xw[b, t, hidden + unit_start:hidden + unit_stop]
            if mask.shape[0] > 0 and mask[k, b]:
                current[:] = previous
            else:
                for j in range(units):
                    z = sigmoid(z_row[j] + bias_z[j])
                    current[j] = (one - z) * previous[j] + z * (h_row[j] + bias_h[j])


# --- the kernel: the reference's functions, with the reference's arguments ---------------------
def forward(layer, gates, reverse, weights, initial, invalid, work):
    """:func:`rnnkit.cells.mingru.reference.forward`, compiled."""
    steps, batch, _ = gates.shape
    dtype, hidden = gates.dtype, layer.hidden_size
    states = work.array("states", (steps + 1, batch, hidden), dtype)             # (T+1, B, H)
    states[0] = initial[0]
    split.run(forward_loop, (gates, reverse, weights.input_bias(), states,
                             step_mask(invalid, steps), dtype.type(1)), batch, hidden, steps)
    return states, (states[-1],), (gates,)


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """:func:`rnnkit.cells.mingru.reference.backward`, compiled."""
    (gates,) = cache.extra
    steps, batch, hidden = d_states.shape
    dtype = d_states.dtype
    d_gi = gates[::-1] if cache.reverse else gates                               # processing order
    carry = np.empty((batch, hidden), dtype=dtype)
    split.run(backward_loop, (d_states, cache.states, d_gi, step_mask(invalid, steps), carry, dtype.type(0),
                              dtype.type(1)), batch, hidden, steps)
    return d_gi, None, (carry,)


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """:func:`rnnkit.cells.mingru.reference.inference`, compiled."""
    batch, steps = output.shape[:2]
    hidden = layer.hidden_size
    split.run(inference_loop, (xw, reverse, weights.input_bias(), np.ascontiguousarray(initial[0]),
                               output, column, step_mask(invalid, steps), xw.dtype.type(1)), batch, hidden, steps)
    return (output[:, 0 if reverse else -1, column:column + hidden].copy(),)
