"""Jacobian products ``dh_T/dh_k``: how much of step k is still felt at the last step T.

Backpropagation through time multiplies one step Jacobian per step::

    dL/dh_k = dL/dh_T  dh_T/dh_k,      dh_T/dh_k = J_T J_{T-1} ... J_{k+1},  J_t = dh_t/dh_{t-1}

so the size of the product decides whether the gradient from the end of a sequence reaches
its beginning. The step Jacobians, per sequence in the batch, from the recomputed gates::

    RNN   J_t = diag(act'(a_t)) W_hh                  (tanh' = 1 - h_t^2, relu' = [h_t > 0])
    GRU   J_t = diag(z) + diag(1 - z) dn/dh + diag(h_{t-1} - n) dz/dh
          dz/dh = diag(z (1 - z)) W_hz,   dr/dh = diag(r (1 - r)) W_hr
          dn/dh = diag(1 - n^2) (diag(gh_n) dr/dh + diag(r) W_hn),  gh_n = h_{t-1} W_hn^T + b_hn
    LSTM  the state is (h, c); J_t is the (P+H) x (P+H) Jacobian of (h_t, c_t) on (h_{t-1}, c_{t-1})
          dc_t/dh = diag(c_{t-1}) df/dh + diag(g) di/dh + diag(i) dg/dh,   dc_t/dc_{t-1} = diag(f)
          dh_t/dh = diag(tanh c_t) do/dh + diag(o (1 - tanh^2 c_t)) dc_t/dh   (then W_hr, if P < H)
          dh_T/dh_k is the (h, h) block of the product: c_k held fixed, as BPTT treats it.

A step past a sequence's length keeps the state, so its Jacobian is the identity.

Glossary: T steps, B batch, H hidden, P width of h, S state width (P, or P + H for LSTM).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.diagnostics._replay import replay
from rnnkit.layers.recurrent import RecurrentLayer


@dataclass
class JacobianProducts:
    """``dh_T/dh_k`` for k = 0..T, processing order (k = T is the identity).

    ``norms[b, k]`` is the spectral norm (largest singular value) of sequence b's product;
    ``mean_norms`` (T+1,) averages it over the batch and ``distance`` (T+1,) is T - k.
    ``matrices`` (B, T+1, P, P) holds the products themselves when requested.
    """

    norms: np.ndarray
    matrices: np.ndarray | None = None

    @property
    def mean_norms(self) -> np.ndarray:
        return self.norms.mean(axis=0)

    @property
    def distance(self) -> np.ndarray:
        return np.arange(self.norms.shape[1])[::-1]


def _rows(scale: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``diag(scale) @ matrix`` per sequence: scale (B, H), matrix (H, P) -> (B, H, P)."""
    return scale[:, :, None] * matrix[None]


def step_jacobians(layer: RecurrentLayer, layer_index: int = 0, direction: int = 0) -> np.ndarray:
    """The step Jacobians ``J_k`` = d state_{k+1} / d state_k of the last forward: (T, B, S, S).

    Processing order, float64; S = P (RNN, GRU) or P + H (LSTM, state (h, c)).
    """
    rep = replay(layer, layer_index, direction)
    weights = layer._cache["weights"][layer_index][direction]         # with W_hh masked where weight drop ran
    w_hh = weights.weight_hh.data.astype(np.float64)                  # (G*H, P)
    hidden = layer.hidden_size
    w = [w_hh[index * hidden:(index + 1) * hidden] for index in range(layer.num_gates)]   # (H, P) blocks
    steps, batch, width = rep.h.shape[0] - 1, rep.h.shape[1], rep.h.shape[2]
    if rep.kind == "LSTM":
        size = width + hidden
    else:
        size = width
    jacobians = np.empty((steps, batch, size, size))
    eye_h = np.eye(hidden)
    for k in range(steps):
        if rep.kind == "RNN":
            h = rep.gates["h"][k]
            derivative = 1.0 - h**2 if layer.nonlinearity == "tanh" else (h > 0).astype(np.float64)
            jacobians[k] = _rows(derivative, w[0])
        elif rep.kind == "GRU":
            r, z, n = rep.gates["reset"][k], rep.gates["update"][k], rep.gates["new"][k]
            dz = _rows(z * (1 - z), w[1])
            dr = _rows(r * (1 - r), w[0])
            dn = (1 - n**2)[:, :, None] * (rep.recurrent_new[k][:, :, None] * dr + _rows(r, w[2]))
            jacobians[k] = (1 - z)[:, :, None] * dn + (rep.h[k] - n)[:, :, None] * dz + z[:, :, None] * eye_h
        else:
            i, f, g, o = (rep.gates[name][k] for name in ("input", "forget", "cell", "output"))
            c_prev, c = rep.cells[k], rep.cells[k + 1]
            tanh_c = np.tanh(c)
            dc_dh = (c_prev[:, :, None] * _rows(f * (1 - f), w[1]) + g[:, :, None] * _rows(i * (1 - i), w[0])
                     + i[:, :, None] * _rows(1 - g**2, w[2]))               # (B, H, P)
            dc_dc = f[:, :, None] * eye_h                                      # (B, H, H)
            through_c = o * (1 - tanh_c**2)                                    # dh/dc_t, (B, H)
            du_dh = tanh_c[:, :, None] * _rows(o * (1 - o), w[3]) + through_c[:, :, None] * dc_dh
            du_dc = (through_c * f)[:, :, None] * eye_h
            if weights.weight_hr is not None:                                  # h = W_hr u
                w_hr = weights.weight_hr.data.astype(np.float64)              # (P, H)
                du_dh, du_dc = w_hr @ du_dh, w_hr @ du_dc
            jacobians[k, :, :width, :width] = du_dh
            jacobians[k, :, :width, width:] = du_dc
            jacobians[k, :, width:, :width] = dc_dh
            jacobians[k, :, width:, width:] = dc_dc
        if rep.invalid is not None:                                            # held state: identity
            held = rep.invalid[k, :, 0]
            jacobians[k, held] = np.eye(size)
    return jacobians


def jacobian_products(layer: RecurrentLayer, layer_index: int = 0, direction: int = 0,
                      return_matrices: bool = False) -> JacobianProducts:
    """Norms of ``dh_T/dh_k`` for every k, from ``layer``'s last forward (read-only).

    Parameters
    ----------
    layer : RNN, LSTM or GRU
        Called on a batch just before; its cache is read, not changed.
    layer_index, direction : int
        Which layer of the stack and which direction (processing order: for the reverse
        direction, "T" is the first time step).
    return_matrices : bool
        Also keep the products, (B, T+1, P, P).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit import RNN
    >>> rnn = RNN(2, 4, seed=0)
    >>> _ = rnn(np.zeros((3, 6, 2)))
    >>> products = jacobian_products(rnn)
    >>> products.norms.shape, float(products.mean_norms[-1])    # k = T: the identity
    ((3, 7), 1.0)
    """
    jacobians = step_jacobians(layer, layer_index, direction)          # (T, B, S, S)
    steps, batch, size, _ = jacobians.shape
    width = layer.output_size
    norms = np.empty((batch, steps + 1))
    matrices = np.empty((batch, steps + 1, width, width)) if return_matrices else None
    product = np.broadcast_to(np.eye(size), (batch, size, size)).copy()  # d state_T / d state_k
    for k in range(steps, -1, -1):
        if k < steps:
            product = product @ jacobians[k]
        block = product[:, :width, :width]                              # dh_T/dh_k
        norms[:, k] = np.linalg.norm(block, ord=2, axis=(1, 2))
        if return_matrices:
            matrices[:, k] = block
    return JacobianProducts(norms, matrices)
