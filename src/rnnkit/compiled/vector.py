"""One-dimensional pointwise passes that LLVM vectorises (SIMD), used by the compiled loops.

Each pass walks few enough arrays (at most six, few of them written) that the runtime aliasing
checks LLVM's vectoriser needs stay within its limit: a loop that writes too many arrays at
once falls back to scalar code, several times slower. Every pass here compiles to packed
SIMD instructions. A helper returning a tuple is not inlined into such a loop and also keeps
it scalar. The measurements behind these choices: docs/compiled-loops.md.

The backward passes write each gate's gradient over the gate's activation (the compiled
backward loops reuse the gate cache as the gradient buffer), so their order matters: a pass
runs before any pass that overwrites a value it reads.
"""

from __future__ import annotations

from numba import njit

from rnnkit.compiled.activations import sigmoid, tanh
from rnnkit.compiled.common import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def sigmoid_inplace(values):
    for j in range(values.shape[0]):
        values[j] = sigmoid(values[j])


@njit(**JIT_OPTIONS)
def tanh_inplace(values):
    """In place: ``tanh_into(v, v)`` would stay scalar (see :func:`tanh_into`)."""
    for j in range(values.shape[0]):
        values[j] = tanh(values[j])


@njit(**JIT_OPTIONS)
def tanh_into(values, out):
    """out = tanh(values). ``tanh_into(v, v)`` stays scalar (aliased arguments), so in place
    use :func:`tanh_inplace`."""
    for j in range(out.shape[0]):
        out[j] = tanh(values[j])


@njit(**JIT_OPTIONS)
def tanh_bias_into(values, bias, out):
    for j in range(out.shape[0]):
        out[j] = tanh(values[j] + bias[j])


@njit(**JIT_OPTIONS)
def relu_bias_into(values, bias, out, zero):
    for j in range(out.shape[0]):
        out[j] = max(values[j] + bias[j], zero)


@njit(**JIT_OPTIONS)
def multiply_into(a, b, out):
    for j in range(out.shape[0]):
        out[j] = a[j] * b[j]


@njit(**JIT_OPTIONS)
def lstm_cell_update(i, f, g, c_prev, c):
    """c = f * c_prev + i * g."""
    for j in range(c.shape[0]):
        c[j] = f[j] * c_prev[j] + i[j] * g[j]


@njit(**JIT_OPTIONS)
def lstm_gates_and_cell(z, bias, c_prev, c):
    """z = [i f g o] = [sigmoid sigmoid tanh sigmoid](z + bias) in place, and c = f c_prev + i g.

    With :func:`lstm_output` a whole LSTM step of one row that keeps the cache for backward,
    in two passes instead of six (faster, same values).
    """
    hidden = c.shape[0]
    for j in range(hidden):
        i = sigmoid(z[j] + bias[j])
        f = sigmoid(z[hidden + j] + bias[hidden + j])
        g = tanh(z[2 * hidden + j] + bias[2 * hidden + j])
        o = sigmoid(z[3 * hidden + j] + bias[3 * hidden + j])
        z[j] = i
        z[hidden + j] = f
        z[2 * hidden + j] = g
        z[3 * hidden + j] = o
        c[j] = f * c_prev[j] + i * g


@njit(**JIT_OPTIONS)
def lstm_output(o, c, tanh_c, h):
    """tanh_c = tanh(c) and h = o * tanh(c)."""
    for j in range(h.shape[0]):
        tanh_c_j = tanh(c[j])
        tanh_c[j] = tanh_c_j
        h[j] = o[j] * tanh_c_j


@njit(**JIT_OPTIONS)
def lstm_step_no_cache(z, bias, c, h):
    """One row of an LSTM step that keeps no cache (no_grad), in one pass.

    z (4H) = x W_ih^T + h W_hh^T (no bias), c (H) updated in place, h (H) written:
    [i f g o] = [sigmoid sigmoid tanh sigmoid](z + bias), c = f c + i g, h = o tanh(c).
    Only four arrays, so LLVM's runtime aliasing checks stay few enough to vectorise it; the
    values equal those of the passes it replaces, bit for bit. (Writing the activations back
    as well, for backward, makes one pass with too many arrays.) The four gate lines repeat
    those of :func:`lstm_gates_and_cell` on purpose: a shared helper returning the tuple is not
    inlined and the loop stays scalar.
    """
    hidden = c.shape[0]
    for j in range(hidden):
        i = sigmoid(z[j] + bias[j])
        f = sigmoid(z[hidden + j] + bias[hidden + j])
        g = tanh(z[2 * hidden + j] + bias[2 * hidden + j])
        o = sigmoid(z[3 * hidden + j] + bias[3 * hidden + j])
        c_j = f * c[j] + i * g
        c[j] = c_j
        h[j] = o * tanh(c_j)


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


# --- backward passes: gradients written over the activations they come from -------------
@njit(**JIT_OPTIONS)
def add_inplace(values, other):
    for j in range(values.shape[0]):
        values[j] += other[j]


@njit(**JIT_OPTIONS)
def lstm_cell_grad(dh, tanh_c, o, dc_next, dc, one):
    """dc = (1 - tanh(c)^2) * dh * o + dc_next: the total gradient reaching c_t."""
    for j in range(dc.shape[0]):
        dc[j] = (one - tanh_c[j] * tanh_c[j]) * dh[j] * o[j] + dc_next[j]


@njit(**JIT_OPTIONS)
def lstm_output_gate_grad(o, dh, tanh_c, one):
    """o = (1 - o) * o * (dh * tanh(c)) in place: dz_o."""
    for j in range(o.shape[0]):
        o[j] = (one - o[j]) * o[j] * (dh[j] * tanh_c[j])


@njit(**JIT_OPTIONS)
def lstm_input_candidate_grad(i, g, dc, one):
    """i = dz_i = (1 - i) i (dc g) and g = dz_g = (1 - g^2) dc i, in place."""
    for j in range(i.shape[0]):
        i_j = i[j]
        g_j = g[j]
        i[j] = (one - i_j) * i_j * (dc[j] * g_j)
        g[j] = (one - g_j * g_j) * dc[j] * i_j


@njit(**JIT_OPTIONS)
def lstm_forget_grad(f, c_prev, dc, one):
    """f = dz_f = (1 - f) f (dc c_prev) in place, and dc = dc * f (dL/dc_{t-1})."""
    for j in range(f.shape[0]):
        f_j = f[j]
        dc_j = dc[j]
        f[j] = (one - f_j) * f_j * (dc_j * c_prev[j])
        dc[j] = dc_j * f_j


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
