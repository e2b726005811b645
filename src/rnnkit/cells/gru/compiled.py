"""The GRU's compiled kernel (Numba): :mod:`rnnkit.cells.gru.reference`, function for function.

Same names, arguments, cache and order of operations as the reference; what differs is how:
the step's pointwise math runs row by row in short SIMD passes (one pass per row under
no_grad), and the recurrent product ``gh = h_{t-1} W_hh^T`` of a step runs through NumPy's
OpenBLAS as ``(W_hh h_{t-1}^T)^T`` when B > 1 (:func:`rnnkit.compiled.products.recurrent_product`).
The backward passes write each gradient over the activation it comes from, so their order
matters (docs/compiled-loops.md).

Glossary: T steps, B batch, H hidden.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rnnkit.compiled.activations import sigmoid, tanh
from rnnkit.compiled.common import JIT_OPTIONS, backward_scratch, contiguous, step_mask
from rnnkit.compiled.products import backward_product, recurrent_product, transposed


# --- the step math of one row ----------------------------------------------------------------
@njit(**JIT_OPTIONS)
def gru_step_no_cache(gi, b_ih, gh, b_hh, h_prev, h):
    """One row of a GRU step that keeps no cache (no_grad), in one pass; gi and gh without biases.

    r, u = sigmoid((gi + b_ih) + (gh + b_hh)) for the first two blocks,
    n = tanh(r (gh_n + b_hn) + (gi_n + b_in)), h = (h_prev - n) u + n: the values of
    :func:`gru_gates`, :func:`gru_candidate` and :func:`gru_interpolate` bit for bit, in one
    pass instead of three.
    """
    hidden = h.shape[0]
    for j in range(hidden):
        r = sigmoid((gi[j] + b_ih[j]) + (gh[j] + b_hh[j]))
        u = sigmoid((gi[hidden + j] + b_ih[hidden + j]) + (gh[hidden + j] + b_hh[hidden + j]))
        n = tanh(r * (gh[2 * hidden + j] + b_hh[2 * hidden + j]) + (gi[2 * hidden + j] + b_ih[2 * hidden + j]))
        h[j] = (h_prev[j] - n) * u + n


@njit(**JIT_OPTIONS)
def gru_gates(gi, b_ih, gh, b_hh):
    """gi = sigmoid((gi + b_ih) + (gh + b_hh)) in place (the r and z blocks)."""
    for j in range(gi.shape[0]):
        gi[j] = sigmoid((gi[j] + b_ih[j]) + (gh[j] + b_hh[j]))


@njit(**JIT_OPTIONS)
def add_into(a, b, out):
    for j in range(out.shape[0]):
        out[j] = a[j] + b[j]


@njit(**JIT_OPTIONS)
def gru_candidate(r, gh_n, gi_n, b_in):
    """gi_n = tanh(r * gh_n + (gi_n + b_in)) in place: the candidate n."""
    for j in range(gi_n.shape[0]):
        gi_n[j] = tanh(r[j] * gh_n[j] + (gi_n[j] + b_in[j]))


@njit(**JIT_OPTIONS)
def gru_interpolate(h_prev, n, u, h):
    """h = (h_prev - n) * u + n."""
    for j in range(h.shape[0]):
        h[j] = (h_prev[j] - n[j]) * u[j] + n[j]


@njit(**JIT_OPTIONS)
def gru_total_grad(dh, carry, u):
    """dh = dh + carry (the total dL/dh_t), then carry = dh * u (the direct path to h_{t-1})."""
    for j in range(dh.shape[0]):
        total = dh[j] + carry[j]
        dh[j] = total
        carry[j] = total * u[j]


@njit(**JIT_OPTIONS)
def gru_candidate_grad(n, u, dh, dn, one):
    """dn = dz_n = (1 - n^2) ((1 - u) dh), into a separate buffer (n is still needed)."""
    for j in range(dn.shape[0]):
        dn[j] = (one - n[j] * n[j]) * ((one - u[j]) * dh[j])


@njit(**JIT_OPTIONS)
def gru_update_grad(u, n, h_prev, dh, du_copy, one):
    """u = du = (1 - u) u ((h_prev - n) dh) in place, and a copy in du_copy."""
    for j in range(u.shape[0]):
        u_j = u[j]
        du = (one - u_j) * u_j * ((h_prev[j] - n[j]) * dh[j])
        u[j] = du
        du_copy[j] = du


@njit(**JIT_OPTIONS)
def gru_reset_grad(r, n, dg_r, dg_n, gh_n, one):
    """With dn in dg_n: r = dr = (1 - r) r (dn gh_n), n = dn, dg_r = dr, dg_n = dn r."""
    for j in range(r.shape[0]):
        r_j = r[j]
        dn = dg_n[j]
        dr = (one - r_j) * r_j * (dn * gh_n[j])
        r[j] = dr
        dg_r[j] = dr
        n[j] = dn
        dg_n[j] = dn * r_j



# --- the time loops ----------------------------------------------------------------------------


@njit(**JIT_OPTIONS)
def forward_loop(gates, reverse, w_hh, b_ih, b_hh, states, recurrent_n, gh, mask, zero, one, h_t, product_t):
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
def inference_loop(gates, reverse, w_hh, b_ih, b_hh, initial, output, column, gh, mask, zero, one,
                       h_t, product_t):
    """The forward loop without a cache for backward (no_grad), batch-major.

    gates (B, T, 3H): gi without b_ih, time order, read only. initial (B, H) is h_0; h_t goes
    to output[:, t, column:column + H] of the layer's output (B, T, W). Each row's step is
    one pass over C-contiguous rows (:func:`gru_step_no_cache`).
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
def backward_loop(d_states, states, d_gi, recurrent_n, w_hh, w_hh_t, d_gh_n, dg_step, carry, mask, zero, one,
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


# --- the kernel: the reference's functions, with the reference's arguments ---------------------
def forward(layer, gates, reverse, weights, initial, invalid, work):
    """:func:`rnnkit.cells.gru.reference.forward`, compiled."""
    steps, batch, _ = gates.shape
    dtype, hidden = gates.dtype, layer.hidden_size
    states = work.array("states", (steps + 1, batch, hidden), dtype)          # (T+1, B, H)
    states[0] = initial[0]
    recurrent_n = work.array("recurrent_n", (steps, batch, hidden), dtype)    # gh_n per step
    forward_loop(gates, reverse, *_weights(weights), states, recurrent_n, *_scratch(layer, batch, invalid, steps, dtype))
    return states, (states[-1],), (gates, recurrent_n)


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """:func:`rnnkit.cells.gru.reference.backward`, compiled."""
    gates, recurrent_n = cache.extra
    steps, batch, hidden = d_states.shape
    dtype = d_states.dtype
    d_gi = gates[::-1] if cache.reverse else gates                              # processing order
    d_gh_n = np.empty((steps, batch, hidden), dtype=dtype)          # dL/d(gh_n): the r, z blocks are d_gi's
    carry = np.empty((batch, hidden), dtype=dtype)
    w_hh = contiguous(weights.weight_hh.data)
    w_hh_t = transposed(w_hh, batch)                               # W_hh^T, or (0, 0): see backward_product
    backward_loop(d_states, cache.states, d_gi, recurrent_n, w_hh, w_hh_t,
                  d_gh_n, np.empty((batch, 3 * hidden), dtype=dtype), carry, step_mask(invalid, steps),
                  dtype.type(0), dtype.type(1), *backward_scratch(w_hh_t, batch))
    return d_gi, d_gh_n, (carry,)


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """:func:`rnnkit.cells.gru.reference.inference`, compiled."""
    batch, steps = output.shape[:2]
    inference_loop(xw, reverse, *_weights(weights), contiguous(initial[0]), output, column,
                   *_scratch(layer, batch, invalid, steps, xw.dtype))
    return (output[:, 0 if reverse else -1, column:column + layer.hidden_size].copy(),)


def _weights(weights):
    """W_hh, b_ih and b_hh (zeros without biases), C-contiguous."""
    return (contiguous(weights.weight_hh.data),) + weights.split_biases()


def _scratch(layer, batch, invalid, steps, dtype):
    """gh (B, 3H), the step mask, 0, 1 and the two scratch arrays of the product by columns."""
    hidden = layer.hidden_size
    return (np.empty((batch, 3 * hidden), dtype=dtype), step_mask(invalid, steps), dtype.type(0), dtype.type(1),
            np.empty((hidden, batch), dtype=dtype), np.empty((3 * hidden, batch), dtype=dtype))
