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
@njit(**JIT_OPTIONS)
def forward_loop(gates, reverse, bias, states, mix, mask, zero, one, two, quarter,
                 row_start, row_stop, unit_start, unit_stop):
    """gates (T, B, 3H), time order: x W_ih^T on entry, [f, i, h~] on exit; mix (T, B, H) = f'
    and states[1:], processing order."""
    steps = gates.shape[0]
    hidden = states.shape[2]
    for b in range(row_start, row_stop):
        for k in range(steps):
            t = steps - 1 - k if reverse else k
            row = gates[t, b]
            previous = states[k, b]
            current = states[k + 1, b]
            mix_row = mix[k, b]
            for j in range(unit_start, unit_stop):
                z_f = row[j] + bias[j]
                z_i = row[hidden + j] + bias[hidden + j]
                candidate = row[2 * hidden + j] + bias[2 * hidden + j]
                f = sigmoid(z_f)
                i = sigmoid(z_i)
                forget = forget_share(z_f, z_i, f, i, zero, two, quarter)        # f' = f / (f + i)
                row[j] = f
                row[hidden + j] = i
                row[2 * hidden + j] = candidate
                mix_row[j] = forget
                current[j] = forget * previous[j] + (one - forget) * candidate
            if mask.shape[0] > 0 and mask[k, b]:                       # past the length: keep the state
                for j in range(unit_start, unit_stop):
                    current[j] = previous[j]


@njit(**JIT_OPTIONS)
def backward_loop(d_states, states, d_gates, mix, mask, carry, zero, one, row_start, row_stop, unit_start, unit_stop):
    """d_gates (T, B, 3H), processing order: [f, i, h~] on entry, dL/d[z_f, z_i, h~] on exit.

    d_states (T, B, H): dL/dh from the outputs on entry, the total G on exit; carry (B, H)
    ends as dL/dh_0.
    """
    steps = d_states.shape[0]
    hidden = d_states.shape[2]
    for b in range(row_start, row_stop):
        for j in range(unit_start, unit_stop):
            carry[b, j] = zero
        for k in range(steps - 1, -1, -1):
            row = d_gates[k, b]
            g_row = d_states[k, b]
            previous = states[k, b]
            mix_row = mix[k, b]
            for j in range(unit_start, unit_stop):
                g = g_row[j] + carry[b, j]
                g_row[j] = g
                forget = mix_row[j]
                d_u = g * (previous[j] - row[2 * hidden + j]) * forget * (one - forget)
                row[j] = d_u * (one - row[j])                                     # dz_f
                row[hidden + j] = -d_u * (one - row[hidden + j])                  # dz_i
                row[2 * hidden + j] = g * (one - forget)                          # dh~
                carry[b, j] = g * forget                                          # to h_{t-1}
            if mask.shape[0] > 0 and mask[k, b]:                              # a held state passes G through
                for j in range(unit_start, unit_stop):
                    row[j] = zero
                    row[hidden + j] = zero
                    row[2 * hidden + j] = zero
                    carry[b, j] = g_row[j]


@njit(**JIT_OPTIONS)
def inference_loop(xw, reverse, bias, initial, output, column, mask, zero, one, two, quarter,
                   row_start, row_stop, unit_start, unit_stop):
    """xw (B, T, 3H) without bias, time order, read only; h_t into output[:, t, column:column + H]."""
    steps = output.shape[1]
    hidden = initial.shape[1]
    end = column + hidden
    for b in range(row_start, row_stop):
        for k in range(steps):
            t = steps - 1 - k if reverse else k
            before = t + 1 if reverse else t - 1                          # the time of h_{t-1}
            previous = initial[b] if k == 0 else output[b, before, column:end]
            current = output[b, t, column:end]
            row = xw[b, t]
            if mask.shape[0] > 0 and mask[k, b]:
                for j in range(unit_start, unit_stop):
                    current[j] = previous[j]
            else:
                for j in range(unit_start, unit_stop):
                    z_f = row[j] + bias[j]
                    z_i = row[hidden + j] + bias[hidden + j]
                    forget = forget_share(z_f, z_i, sigmoid(z_f), sigmoid(z_i), zero, two, quarter)
                    current[j] = forget * previous[j] + (one - forget) * (row[2 * hidden + j] + bias[2 * hidden + j])


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
