"""The LayerNorm GRU's step math and its reference time loops (NumPy).

Glossary: T steps, B batch, H hidden units; gate blocks in PyTorch's order r, z, n.

Equations (torch's GRU with a layer norm on each product; LN is :mod:`rnnkit.cells.layer_norm`,
each with its own gain and shift, over the whole 3H vector)::

    gi = LN_ih(x_t W_ih^T) + b_ih,   gh = LN_hh(h_{t-1} W_hh^T) + b_hh   # (B, 3H), blocks [r z n]
    r = sigmoid(gi_r + gh_r),   z = sigmoid(gi_z + gh_z)
    n = tanh(gi_n + r * gh_n)                 # the reset gate scales gh_n, b_hn included
    h_t = (1 - z) * n + z * h_{t-1}

After the two layer norms this is the GRU's own step, so :func:`rnnkit.cells.gru.reference.step_forward`
and ``step_backward`` compute it (one copy of the GRU's math). LN_ih reads x_t alone, so it runs on
all steps' products at once before the loop, like the product itself. Backward: the GRU step gives
dL/d(gi) and dL/d(gh); then::

    db_hh = dshift_hh = sum of dL/d(gh),   dgain_hh = sum of dL/d(gh) * (h W_hh^T)^
    d(h_{t-1} W_hh^T) = LN_hh backward of dL/d(gh),   dh_{t-1} = dh_t * z + d(h_{t-1} W_hh^T) W_hh
    db_ih, dshift_ih, dgain_ih and d(x W_ih^T) = LN_ih backward of dL/d(gi)   (after the loop)

The kernel contract is written once in :mod:`rnnkit.layers.recurrent`. The cache is ``(gates
(T, B, 3H) time order, recurrent_n (T, B, H) = gh_n, input_normed (T, B, 3H), input_rstd
(T, B, 1), recurrent_normed (T, B, 3H), recurrent_rstd (T, B, 1))``, all but ``gates`` in
processing order. ``backward`` returns d_gi (over input_normed) and d_gh (over
recurrent_normed), the gradients of the two products before their layer norms, and adds the
gradients of the biases, gains and shifts itself (the layer's products give dW_ih and dW_hh).
"""

from __future__ import annotations

import numpy as np

from rnnkit.cells.gru.reference import step_backward as gru_step_backward
from rnnkit.cells.gru.reference import step_forward as gru_step_forward
from rnnkit.cells.layer_norm import add_affine_grads, affine, normalize, normalize_backward

# The layer norms' parameters, in registration order after weight_ih, weight_hh, bias_ih, bias_hh.
NORM_NAMES = ("ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias")


def biases(parameters: dict, dtype, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(b_ih, b_hh), each (3H,), zeros where the kind was built with bias=False."""
    zeros = np.zeros(rows, dtype=dtype)
    return tuple(zeros if parameters.get(name) is None else parameters[name].data for name in ("bias_ih", "bias_hh"))


def normalize_inputs(products: np.ndarray, parameters: dict, input_normed: np.ndarray,
                     input_rstd: np.ndarray) -> None:
    """``products`` (..., 3H) = x W_ih^T on entry, LN_ih(x W_ih^T) on exit (the step adds b_ih);
    keeps the normalised products (..., 3H) and their rstd (..., 1) for backward."""
    normalize(products, input_normed, input_rstd)
    affine(input_normed, parameters["ln_ih_weight"].data, parameters["ln_ih_bias"].data, out=products)


def normalize_recurrent(recurrent: np.ndarray, recurrent_rstd: np.ndarray, parameters: dict,
                        gh: np.ndarray) -> None:
    """``recurrent`` (B, 3H) = h_{t-1} W_hh^T on entry, normalised on exit (rstd (B, 1));
    ``gh`` = LN_hh(h_{t-1} W_hh^T) (the step adds b_hh)."""
    normalize(recurrent, recurrent, recurrent_rstd)
    affine(recurrent, parameters["ln_hh_weight"].data, parameters["ln_hh_bias"].data, out=gh)


def recurrent_backward(d_gh: np.ndarray, recurrent_normed: np.ndarray, recurrent_rstd: np.ndarray,
                       parameters: dict) -> None:
    """``recurrent_normed`` (B, 3H) = d(h_{t-1} W_hh^T) on exit, from ``d_gh`` = dL/d(gh);
    adds the gradients of b_hh and of LN_hh's gain and shift."""
    if parameters.get("bias_hh") is not None:
        parameters["bias_hh"].grad += d_gh.sum(axis=0)
    add_affine_grads(d_gh, recurrent_normed, parameters["ln_hh_weight"], parameters["ln_hh_bias"])
    normalize_backward(d_gh * parameters["ln_hh_weight"].data, recurrent_normed, recurrent_rstd, out=recurrent_normed)


def input_backward(d_gi: np.ndarray, input_normed: np.ndarray, input_rstd: np.ndarray, parameters: dict) -> None:
    """``input_normed`` (..., 3H) = d(x W_ih^T) on exit, from ``d_gi`` = dL/d(gi) (..., 3H);
    adds the gradients of b_ih and of LN_ih's gain and shift."""
    if parameters.get("bias_ih") is not None:
        parameters["bias_ih"].grad += d_gi.reshape(-1, d_gi.shape[-1]).sum(axis=0)
    add_affine_grads(d_gi, input_normed, parameters["ln_ih_weight"], parameters["ln_ih_bias"])
    normalize_backward(d_gi * parameters["ln_ih_weight"].data, input_normed, input_rstd, out=input_normed)


def forward(layer, gates, reverse, weights, initial, invalid, work):
    """The loop over processing steps (the contract of :mod:`rnnkit.layers.recurrent`).

    gates (T, B, 3H): x W_ih^T, time order, without biases; the activations [r z n] on exit.
    Returns states (T+1, B, H), (h_n,) and the cache.
    """
    steps, batch, _ = gates.shape
    dtype, hidden = gates.dtype, layer.hidden_size
    parameters = weights.named()                                              # biases, gains and shifts
    gi = gates[::-1] if reverse else gates                                    # processing order
    input_normed = work.array("input_normed", (steps, batch, 3 * hidden), dtype)
    input_rstd = work.array("input_rstd", (steps, batch, 1), dtype)
    normalize_inputs(gi, parameters, input_normed, input_rstd)                # every step at once
    states = work.array("states", (steps + 1, batch, hidden), dtype)         # (T+1, B, H)
    states[0] = initial[0]
    recurrent_n = work.array("recurrent_n", (steps, batch, hidden), dtype)   # gh_n per step
    recurrent_normed = work.array("recurrent_normed", (steps, batch, 3 * hidden), dtype)
    recurrent_rstd = work.array("recurrent_rstd", (steps, batch, 1), dtype)
    gh = np.empty((batch, 3 * hidden), dtype=dtype)
    w_hh_t = weights.weight_hh.data.T
    b_ih, b_hh = biases(parameters, dtype, 3 * hidden)
    for k in range(steps):
        np.matmul(states[k], w_hh_t, out=recurrent_normed[k])               # h_{t-1} W_hh^T
        normalize_recurrent(recurrent_normed[k], recurrent_rstd[k], parameters, gh)
        gru_step_forward(gi[k], b_ih, gh, b_hh, states[k], states[k + 1])
        recurrent_n[k] = gh[:, 2 * hidden:]
        if invalid is not None:
            np.copyto(states[k + 1], states[k], where=invalid[k])   # past the length: keep the state
    return states, (states[-1],), (gates, recurrent_n, input_normed, input_rstd, recurrent_normed, recurrent_rstd)


def backward(layer, cache, weights, d_states, d_final_extra, invalid):
    """The loop backward over the cache of :func:`forward` (consumed): returns d_gi and d_gh
    (T, B, 3H, processing order), the gradients of x W_ih^T and h W_hh^T, and (dh_0,)."""
    gates, recurrent_n, input_normed, input_rstd, recurrent_normed, recurrent_rstd = cache.extra
    states = cache.states
    steps, batch, hidden = d_states.shape
    dtype = d_states.dtype
    parameters = weights.named()
    d_gi = gates[::-1] if cache.reverse else gates                            # processing order
    valid = None if invalid is None else (~invalid).astype(dtype)
    d_gh = np.empty((batch, 3 * hidden), dtype=dtype)                         # one step's dL/d(gh)
    carry = np.zeros((batch, hidden), dtype=dtype)                            # dL/dh_{t-1}
    scratch = np.empty((batch, hidden), dtype=dtype)
    w_hh = weights.weight_hh.data
    for k in reversed(range(steps)):
        dh = d_states[k]
        dh += carry
        gru_step_backward(dh, states[k], d_gi[k], recurrent_n[k], d_gh, carry, scratch)   # carry = dh * z
        if invalid is not None:
            d_gi[k] *= valid[k]
            d_gh *= valid[k]
        recurrent_backward(d_gh, recurrent_normed[k], recurrent_rstd[k], parameters)
        carry += recurrent_normed[k] @ w_hh
        if invalid is not None:
            np.copyto(carry, dh, where=invalid[k])          # a held state passes dh through
    input_backward(d_gi, input_normed, input_rstd, parameters)                # every step at once
    return input_normed, recurrent_normed, (carry,)


def inference(layer, xw, reverse, weights, initial, invalid, output, column):
    """The forward without a cache (no_grad), batch-major: xw (B, T, 3H) without biases,
    overwritten; h_t into output[:, t, column:column + H]. Returns (h_n,)."""
    batch, steps, _ = xw.shape
    dtype, hidden = xw.dtype, layer.hidden_size
    parameters = weights.named()
    columns = slice(column, column + hidden)
    normalize_inputs(xw, parameters, xw, np.empty((batch, steps, 1), dtype=dtype))
    recurrent, recurrent_rstd = np.empty((batch, 3 * hidden), dtype=dtype), np.empty((batch, 1), dtype=dtype)
    gh, h_new = np.empty((batch, 3 * hidden), dtype=dtype), np.empty((batch, hidden), dtype=dtype)
    w_hh_t = weights.weight_hh.data.T
    b_ih, b_hh = biases(parameters, dtype, 3 * hidden)
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        previous = initial[0] if k == 0 else output[:, t + 1 if reverse else t - 1, columns]   # h_{t-1}
        np.matmul(previous, w_hh_t, out=recurrent)
        normalize_recurrent(recurrent, recurrent_rstd, parameters, gh)
        step_input = xw[:, t]
        gru_step_forward(step_input, b_ih, gh, b_hh, previous, h_new)
        h = output[:, t, columns]
        h[...] = h_new
        if invalid is not None:                              # past the length: keep the state
            np.copyto(h, previous, where=invalid[k])
    return (output[:, 0 if reverse else -1, columns].copy(),)
