"""The GRU's forward and backward time loops of one direction, compiled with Numba.

Same equations and order of operations as the NumPy loops in :mod:`rnnkit.layers.gru` (the
reference). The input products ``xw`` become the gate cache [r z n] in place; the recurrent
product ``gh = h_{t-1} W_hh^T`` of a step goes to a (B, 3H) scratch buffer and ``b_hh`` is
added inside the pointwise pass.

Glossary: T steps, B batch, H hidden.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnkit.compiled.common import JIT_OPTIONS, CompiledExtra, contiguous, step_mask, time_order
from rnnkit.compiled.products import gemm_nn, gemm_nt
from rnnkit.compiled.vector import add_into, gru_candidate, gru_gates, gru_interpolate


@njit(**JIT_OPTIONS)
def gru_forward_loop(gates, reverse, w_hh, b_hh, states, recurrent_n, gh, mask, zero):
    """gates (T, B, 3H): xw = gi on entry (time order), activations [r z n] on exit.

    Fills states[1:] and recurrent_n (T, B, H) = gh_n (with b_hn), processing order.
    """
    steps, batch, _ = gates.shape
    hidden = states.shape[2]
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        gemm_nt(states[k], w_hh, gh, zero)                            # gh = h W_hh^T
        for b in range(batch):
            z = gates[t, b]
            g = gh[b]
            h_prev = states[k, b]
            gru_gates(z[:2 * hidden], g[:2 * hidden], b_hh[:2 * hidden])      # r, z
            add_into(g[2 * hidden:], b_hh[2 * hidden:], recurrent_n[k, b])    # gh_n with b_hn
            gru_candidate(z[:hidden], recurrent_n[k, b], z[2 * hidden:])      # n
            gru_interpolate(h_prev, z[2 * hidden:], z[hidden:2 * hidden], states[k + 1, b])
            if mask.shape[0] > 0 and mask[k, b]:                      # past the length: keep the state
                states[k + 1, b, :] = h_prev[:]


@njit(**JIT_OPTIONS)
def gru_backward_loop(d_states, states, gates, reverse, recurrent_n, w_hh, d_gi, d_gh, carry, mask, zero, one):
    """Fills d_gi, d_gh (T, B, 3H, processing order) and carry = dL/dh_0; adds into d_states."""
    steps, batch, hidden = d_states.shape
    carry[:, :] = zero
    for k in range(steps - 1, -1, -1):
        t = steps - 1 - k if reverse else k
        for b in range(batch):
            dh = d_states[k, b]
            c = carry[b]
            z = gates[t, b]
            h_prev = states[k, b]
            gh_n = recurrent_n[k, b]
            di = d_gi[k, b]
            dg = d_gh[k, b]
            for j in range(hidden):
                total = dh[j] + c[j]
                dh[j] = total
                r = z[j]
                u = z[hidden + j]
                n = z[2 * hidden + j]
                dn = (one - n * n) * ((one - u) * total)
                du = (one - u) * u * ((h_prev[j] - n) * total)
                dr = (one - r) * r * (dn * gh_n[j])
                di[j] = dr
                di[hidden + j] = du
                di[2 * hidden + j] = dn
                dg[j] = dr
                dg[hidden + j] = du
                dg[2 * hidden + j] = dn * r
                c[j] = total * u                                        # the direct path h_{t-1} -> h_t
            if mask.shape[0] > 0 and mask[k, b]:
                di[:] = zero
                dg[:] = zero
        gemm_nn(d_gh[k], w_hh, carry, one)                             # carry += dgh W_hh
        if mask.shape[0] > 0:
            for b in range(batch):
                if mask[k, b]:                                         # a held state passes dh through
                    carry[b, :] = d_states[k, b, :]


def forward(layer, xw, weights, initial, invalid):
    """``GRU._direction_forward`` through the compiled loop (same contract)."""
    gates, reverse = time_order(xw)                                  # consumed: becomes the gate cache
    steps, batch, _ = gates.shape
    dtype = layer.dtype
    hidden = layer.hidden_size
    states = np.empty((steps + 1, batch, hidden), dtype=dtype)     # (T+1, B, H)
    states[0] = initial[0]
    recurrent_n = np.empty((steps, batch, hidden), dtype=dtype)    # gh_n per step
    gh = np.empty((batch, 3 * hidden), dtype=dtype)
    b_hh = np.zeros(3 * hidden, dtype=dtype) if weights.bias_hh is None else contiguous(weights.bias_hh.data)
    gru_forward_loop(gates, reverse, contiguous(weights.weight_hh.data), b_hh, states, recurrent_n, gh,
                     step_mask(invalid, steps), dtype.type(0))
    return states, (states[-1],), CompiledExtra((gates, reverse, recurrent_n))


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """``GRU._direction_backward`` through the compiled loop (same contract)."""
    gates, reverse, recurrent_n = cache.extra
    steps, batch, hidden = d_states.shape
    dtype = layer.dtype
    d_gi = np.empty((steps, batch, 3 * hidden), dtype=dtype)       # dL/d(gi), processing order
    d_gh = np.empty((steps, batch, 3 * hidden), dtype=dtype)       # dL/d(gh)
    carry = np.empty((batch, hidden), dtype=dtype)
    gru_backward_loop(d_states, cache.states, gates, reverse, recurrent_n, contiguous(weights.weight_hh.data),
                      d_gi, d_gh, carry, step_mask(invalid, steps), dtype.type(0), dtype.type(1))
    return d_gi, d_gh, (carry,)
