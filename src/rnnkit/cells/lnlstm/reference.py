"""The LayerNorm LSTM's step math and its reference time loops (NumPy).

Glossary: T steps, B batch, H hidden units; gate blocks in PyTorch's order i, f, g, o.

Equations (Ba, Kiros & Hinton 2016, as the Haste library computes them; LN is
:mod:`rnnkit.cells.layer_norm`, each with its own gain and shift)::

    z_t = LN_ih(x_t W_ih^T) + LN_hh(h_{t-1} W_hh^T) + bias      # (B, 4H), blocks [i f g o]
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);   g = tanh(z_g)
    c_t = f * c_{t-1} + i * g                                   # (B, H)
    h_t = o * tanh(LN_c(c_t))                                   # (B, H)

LN_ih reads x_t alone, so it runs on all steps' products at once before the loop, like the
product itself (the loop then adds only the recurrent part). Backward, from the cached gates,
c_{t-1}, the normalised values and tanh(LN_c(c_t)) (n = LN_c(c_t))::

    dn    = dh_t * o * (1 - tanh(n)^2)
    dc    = dc_t + LN_c backward of dn               # total gradient reaching c_t
    dz_o  = dh_t * tanh(n) * o (1 - o)
    dz_i  = dc * g * i (1 - i),   dz_f = dc * c_{t-1} * f (1 - f),   dz_g = dc * i * (1 - g^2)
    dbias = dshift_ih = dshift_hh = sum of dz;   dgain_hh = sum of dz * (h W_hh^T)^
    d(h W_hh^T) = LN_hh backward of dz,   dh_{t-1} = d(h W_hh^T) W_hh,   dc_{t-1} = dc * f
    d(x W_ih^T) = LN_ih backward of dz        (after the loop, for all steps at once)

The kernel contract is written once in :mod:`rnnkit.layers.recurrent`. The cache is
``(cells (T+1, B, H), gates (T, B, 4H) time order, input_normed (T, B, 4H), input_rstd
(T, B, 1), recurrent_normed (T, B, 4H), recurrent_rstd (T, B, 1), cell_normed (T, B, H),
cell_rstd (T, B, 1), tanh_n (T, B, H))``, all but ``gates`` in processing order.
``backward`` returns d_gi (over input_normed) and d_gh (over recurrent_normed), the
gradients of the two products before their layer norms, and adds the gradients of ``bias``
and of every gain and shift itself (the layer's products give only dW_ih and dW_hh).
"""

from __future__ import annotations

import numpy as np

from rnnkit.cells.layer_norm import add_affine_grads, affine, normalize, normalize_backward
from rnnkit.cells.pointwise import sigmoid, tanh_backward

# The layer norms' parameters, in registration order after weight_ih, weight_hh and bias.
NORM_NAMES = ("ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias", "ln_c_weight", "ln_c_bias")


def normalize_inputs(products: np.ndarray, parameters: dict, input_normed: np.ndarray,
                     input_rstd: np.ndarray) -> None:
    """``products`` (..., 4H) = x W_ih^T on entry, ``LN_ih(x W_ih^T) + bias`` on exit; keeps the
    normalised products (..., 4H) and their rstd (..., 1) for backward."""
    normalize(products, input_normed, input_rstd)
    affine(input_normed, parameters["ln_ih_weight"].data, parameters["ln_ih_bias"].data, out=products)
    if parameters.get("bias") is not None:
        products += parameters["bias"].data


def step_forward(gates: np.ndarray, recurrent: np.ndarray, recurrent_rstd: np.ndarray, parameters: dict,
                 c_prev: np.ndarray, c: np.ndarray, cell_normed: np.ndarray, cell_rstd: np.ndarray,
                 tanh_n: np.ndarray, h: np.ndarray) -> None:
    """One step after the input part.

    ``gates`` (B, 4H): LN_ih(x W_ih^T) + bias on entry, the activations [i f g o] on exit.
    ``recurrent`` (B, 4H): h_{t-1} W_hh^T on entry, its normalised form on exit, with
    ``recurrent_rstd`` (B, 1). ``parameters``: name -> Parameter (:data:`NORM_NAMES`). Writes
    c_t into ``c``, LN_c's normalised c_t and rstd into ``cell_normed`` and ``cell_rstd``,
    tanh(LN_c(c_t)) into ``tanh_n`` and h_t into ``h``, each (B, H) (rstd (B, 1)).
    """
    H = c.shape[1]
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    normalize(recurrent, recurrent, recurrent_rstd)
    gates += recurrent * parameters["ln_hh_weight"].data                      # z = ... + LN_hh(h W_hh^T)
    gates += parameters["ln_hh_bias"].data
    sigmoid(gates[:, :2 * H], out=gates[:, :2 * H])   # i and f together
    np.tanh(g, out=g)
    sigmoid(o, out=o)
    np.multiply(f, c_prev, out=c)
    np.multiply(i, g, out=h)                          # h is scratch here
    c += h
    normalize(c, cell_normed, cell_rstd)
    affine(cell_normed, parameters["ln_c_weight"].data, parameters["ln_c_bias"].data, out=tanh_n)
    np.tanh(tanh_n, out=tanh_n)
    np.multiply(o, tanh_n, out=h)


def step_backward(dh: np.ndarray, dc: np.ndarray, gates: np.ndarray, c_prev: np.ndarray, cell_normed: np.ndarray,
                  cell_rstd: np.ndarray, tanh_n: np.ndarray, recurrent_normed: np.ndarray,
                  recurrent_rstd: np.ndarray, parameters: dict, dc_prev: np.ndarray) -> None:
    """Backward of :func:`step_forward`, in place.

    ``dh``, ``dc`` (B, H): dL/dh_t and the dL/dc_t arriving from step t+1. ``gates`` (B, 4H)
    holds [i f g o] on entry and dL/dz_t on exit; ``recurrent_normed`` (B, 4H) holds the
    normalised h_{t-1} W_hh^T on entry and its gradient d(h_{t-1} W_hh^T) on exit; writes
    ``dc_prev`` = dL/dc_{t-1}. Adds the gradients of LN_c's and LN_hh's gains and shifts.
    dL/dh_{t-1} = d(h_{t-1} W_hh^T) W_hh is left to the caller (the step's matrix product);
    ``bias`` and LN_ih take dL/dz_t afterwards (:func:`input_backward`).
    """
    H = dh.shape[1]
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    d_tanh = tanh_backward(dh * o, tanh_n, out=np.empty_like(dh))          # dL/dn, n = LN_c(c_t)
    add_affine_grads(d_tanh, cell_normed, parameters["ln_c_weight"], parameters["ln_c_bias"])
    d_tanh *= parameters["ln_c_weight"].data                                 # dL/dc^ (normalised c)
    dc_total = dc_prev                                                       # reuse the output buffer
    normalize_backward(d_tanh, cell_normed, cell_rstd, out=dc_total)
    dc_total += dc                                    # dc = dc_t + LN_c backward of dn
    d_o = dh * tanh_n                                 # dL/do
    d_i = dc_total * g                                # dL/di
    d_g = dc_total * i                                # dL/dg
    d_f = dc_total * c_prev                           # dL/df
    dc_total *= f                                     # dc_{t-1} = dc * f
    np.multiply(d_o, o * (1.0 - o), out=o)            # dz_o: each gate's gradient over the gate
    np.multiply(d_i, i * (1.0 - i), out=i)            # dz_i
    np.multiply(d_f, f * (1.0 - f), out=f)            # dz_f
    np.multiply(d_g, 1.0 - g * g, out=g)              # dz_g
    add_affine_grads(gates, recurrent_normed, parameters["ln_hh_weight"], parameters["ln_hh_bias"])
    normalize_backward(gates * parameters["ln_hh_weight"].data, recurrent_normed, recurrent_rstd,
                       out=recurrent_normed)          # d(h_{t-1} W_hh^T)


def input_backward(d_gates: np.ndarray, input_normed: np.ndarray, input_rstd: np.ndarray,
                   parameters: dict) -> None:
    """``input_normed`` (..., 4H) = d(x W_ih^T) on exit, from dL/dz ``d_gates`` (..., 4H);
    adds the gradients of ``bias`` and of LN_ih's gain and shift."""
    if parameters.get("bias") is not None:
        parameters["bias"].grad += d_gates.reshape(-1, d_gates.shape[-1]).sum(axis=0)
    add_affine_grads(d_gates, input_normed, parameters["ln_ih_weight"], parameters["ln_ih_bias"])
    normalize_backward(d_gates * parameters["ln_ih_weight"].data, input_normed, input_rstd, out=input_normed)


def forward(layer, gates, reverse, weights, initial, invalid, work):
    """The loop over processing steps k = 0..T-1 (time T-1-k in reverse).

    gates (T, B, 4H): x W_ih^T for every step, time order, without biases; the activations on
    exit. initial (h_0, c_0), each (B, H); invalid (T, B, 1) True past a length, processing
    order, or None. Returns states (T+1, B, H), the final (h, c), and the cache.
    """
    steps, batch, _ = gates.shape
    dtype, hidden = gates.dtype, layer.hidden_size
    parameters = weights.extra                  # bias (if any), gains and shifts
    z = gates[::-1] if reverse else gates                                     # processing order
    input_normed = work.array("input_normed", (steps, batch, 4 * hidden), dtype)
    input_rstd = work.array("input_rstd", (steps, batch, 1), dtype)
    normalize_inputs(z, parameters, input_normed, input_rstd)                 # every step at once
    states = work.array("states", (steps + 1, batch, hidden), dtype)         # h: (T+1, B, H)
    cells = work.array("cells", (steps + 1, batch, hidden), dtype)           # c: (T+1, B, H)
    states[0], cells[0] = initial
    recurrent_normed = work.array("recurrent_normed", (steps, batch, 4 * hidden), dtype)
    recurrent_rstd = work.array("recurrent_rstd", (steps, batch, 1), dtype)
    cell_normed = work.array("cell_normed", (steps, batch, hidden), dtype)
    cell_rstd = work.array("cell_rstd", (steps, batch, 1), dtype)
    tanh_n = work.array("tanh_n", (steps, batch, hidden), dtype)
    w_hh_t = weights.weight_hh.data.T
    for k in range(steps):
        np.matmul(states[k], w_hh_t, out=recurrent_normed[k])               # h_{t-1} W_hh^T
        step_forward(z[k], recurrent_normed[k], recurrent_rstd[k], parameters, cells[k], cells[k + 1],
                     cell_normed[k], cell_rstd[k], tanh_n[k], states[k + 1])
        if invalid is not None:                              # past the length: keep the state
            np.copyto(states[k + 1], states[k], where=invalid[k])
            np.copyto(cells[k + 1], cells[k], where=invalid[k])
    cache = (cells, gates, input_normed, input_rstd, recurrent_normed, recurrent_rstd, cell_normed, cell_rstd, tanh_n)
    return states, (states[-1], cells[-1]), cache


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """The loop backward over the cache of :func:`forward` (consumed).

    d_states (T, B, H) holds dL/dh from the outputs; the loop adds the recurrent part in place.
    d_final_extra: (dL/dc_n,). Returns d_gi, d_gh (T, B, 4H, processing order): the gradients
    of x W_ih^T and h W_hh^T, and the initial-state gradients (dh_0, dc_0).
    """
    cells, gates, input_normed, input_rstd, recurrent_normed, recurrent_rstd, cell_normed, cell_rstd, tanh_n = \
        cache.extra
    steps, batch, hidden = d_states.shape
    dtype = d_states.dtype
    parameters = weights.extra                  # bias (if any), gains and shifts
    d_gates = gates[::-1] if cache.reverse else gates                         # processing order
    valid = None if invalid is None else (~invalid).astype(dtype)
    dh_carry = np.zeros((batch, hidden), dtype=dtype)                         # dL/dh_{t-1}
    dc_carry = np.array(d_final_extra[0], dtype=dtype)                        # dL/dc_t, (B, H)
    dc_prev = np.empty((batch, hidden), dtype=dtype)
    w_hh = weights.weight_hh.data
    for k in reversed(range(steps)):
        dh = d_states[k]
        dh += dh_carry
        if invalid is None:
            step_backward(dh, dc_carry, d_gates[k], cells[k], cell_normed[k], cell_rstd[k], tanh_n[k],
                          recurrent_normed[k], recurrent_rstd[k], parameters, dc_prev)
        else:                                                # held rows: no gradient through the step
            step_backward(dh * valid[k], dc_carry * valid[k], d_gates[k], cells[k], cell_normed[k], cell_rstd[k],
                          tanh_n[k], recurrent_normed[k], recurrent_rstd[k], parameters, dc_prev)
            np.copyto(dc_prev, dc_carry, where=invalid[k])  # a held state passes dc through
        np.matmul(recurrent_normed[k], w_hh, out=dh_carry)
        if invalid is not None:
            np.copyto(dh_carry, dh, where=invalid[k])       # ... and dh
        dc_carry, dc_prev = dc_prev, dc_carry
    input_backward(d_gates, input_normed, input_rstd, parameters)            # every step at once
    return input_normed, recurrent_normed, (dh_carry, dc_carry)


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """The forward without a cache (no_grad), batch-major.

    xw (B, T, 4H): x W_ih^T without biases, time order, overwritten. h_t goes to
    output[:, t, column:column + H] of the layer's output (B, T, W). Returns the final (h, c).
    """
    batch, steps, _ = xw.shape
    dtype, hidden = xw.dtype, layer.hidden_size
    parameters = weights.extra                  # bias (if any), gains and shifts
    columns = slice(column, column + hidden)
    normalize_inputs(xw, parameters, xw, np.empty((batch, steps, 1), dtype=dtype))
    cell, cell_next = np.array(initial[1], dtype=dtype), np.empty((batch, hidden), dtype=dtype)
    recurrent = np.empty((batch, 4 * hidden), dtype=dtype)
    recurrent_rstd = np.empty((batch, 1), dtype=dtype)
    cell_normed, cell_rstd = np.empty((batch, hidden), dtype=dtype), np.empty((batch, 1), dtype=dtype)
    tanh_n, h_new = np.empty((batch, hidden), dtype=dtype), np.empty((batch, hidden), dtype=dtype)
    w_hh_t = weights.weight_hh.data.T
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        previous = initial[0] if k == 0 else output[:, t + 1 if reverse else t - 1, columns]   # h_{t-1}
        np.matmul(previous, w_hh_t, out=recurrent)
        step_forward(xw[:, t], recurrent, recurrent_rstd, parameters, cell, cell_next, cell_normed, cell_rstd,
                     tanh_n, h_new)
        h = output[:, t, columns]
        h[...] = h_new
        if invalid is not None:                              # past the length: keep the state
            np.copyto(h, previous, where=invalid[k])
            np.copyto(cell_next, cell, where=invalid[k])
        cell, cell_next = cell_next, cell
    return output[:, 0 if reverse else -1, columns].copy(), cell
