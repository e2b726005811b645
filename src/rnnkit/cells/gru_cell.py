"""The GRU cell: one time step, forward and backward.

Glossary: B batch, D input features, H hidden units; gate blocks in PyTorch's order r, z, n.

Equations (one step; the reset gate multiplies the recurrent product INCLUDING its bias)::

    gi = x_t W_ih^T + b_ih,   gh = h_{t-1} W_hh^T + b_hh     # (B, 3H) each, blocks [r z n]
    r = sigmoid(gi_r + gh_r)                                # reset gate
    z = sigmoid(gi_z + gh_z)                                # update gate
    n = tanh(gi_n + r * gh_n)                               # new (candidate) state
    h_t = (1 - z) * n + z * h_{t-1}

Backward, from the cached r, z, n and gh_n::

    dz_n = dh_t * (1 - z) * (1 - n^2)            # = dL/d(gi_n)
    dz_z = dh_t * (h_{t-1} - n) * z (1 - z)
    dz_r = dz_n * gh_n * r (1 - r)
    dgi = [dz_r, dz_z, dz_n],   dgh = [dz_r, dz_z, dz_n * r]
    dh_{t-1} = dh_t * z + dgh W_hh
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.pointwise import sigmoid, sigmoid_backward, tanh_backward


def gru_step_forward(gi: np.ndarray, gh: np.ndarray, h_prev: np.ndarray, gates: np.ndarray,
                     h: np.ndarray) -> None:
    """One GRU step of pointwise math, allocation-free.

    ``gi``, ``gh`` (B, 3H): input and recurrent products with their biases. Writes the
    activations [r z n] into ``gates`` (B, 3H) and h_t into ``h`` (B, H). Backward also needs
    ``gh[:, 2H:]`` (gh_n), which the caller keeps.
    """
    H = h.shape[1]
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    np.add(gi[:, :2 * H], gh[:, :2 * H], out=gates[:, :2 * H])
    sigmoid(gates[:, :2 * H], out=gates[:, :2 * H])   # r and z together
    np.multiply(r, gh[:, 2 * H:], out=n)
    n += gi[:, 2 * H:]
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)                     # h = n + z * (h_prev - n)
    h *= z
    h += n


def gru_step_backward(dh: np.ndarray, h_prev: np.ndarray, gates: np.ndarray, gh_n: np.ndarray,
                      d_gi: np.ndarray, d_gh: np.ndarray, dh_prev: np.ndarray) -> None:
    """Backward of :func:`gru_step_forward`, allocation-free.

    Writes ``d_gi`` and ``d_gh`` (B, 3H), the gradients of the input and recurrent products,
    and the direct part of dL/dh_{t-1}, ``dh * z``, into ``dh_prev`` (B, H); the caller adds
    ``d_gh W_hh``.
    """
    H = dh.shape[1]
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    dr, dz, dn = d_gi[:, :H], d_gi[:, H:2 * H], d_gi[:, 2 * H:]
    np.subtract(1.0, z, out=dh_prev)                  # dh_prev is scratch until the end
    dh_prev *= dh                                     # dL/dn = dh * (1 - z)
    tanh_backward(dh_prev, n, out=dn)
    np.subtract(h_prev, n, out=dh_prev)
    dh_prev *= dh                                     # dL/dz = dh * (h_prev - n)
    sigmoid_backward(dh_prev, z, out=dz)
    np.multiply(dn, gh_n, out=dh_prev)                # dL/dr = dz_n * gh_n
    sigmoid_backward(dh_prev, r, out=dr)
    d_gh[:, :2 * H] = d_gi[:, :2 * H]
    np.multiply(dn, r, out=d_gh[:, 2 * H:])
    np.multiply(dh, z, out=dh_prev)


class GRUCell(RecurrentCell):
    """One GRU step: ``h' = cell(x, h)``, equations in the module docstring.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H. The stacked weights are ``weight_ih`` (3H, D) and ``weight_hh`` (3H, H).
    bias : bool
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None

    Shapes: ``forward(x (B, D), h (B, H) or None) -> h' (B, H)``;
    ``backward(dh' (B, H)) -> (dx (B, D), dh (B, H))``.

    >>> cell = GRUCell(3, 4, seed=0)
    >>> h = cell(np.ones((2, 3)))
    >>> dx, dh = cell.backward(np.ones((2, 4)))
    >>> h.shape, dx.shape, dh.shape
    ((2, 4), (2, 3), (2, 4))
    """

    num_gates = 3

    def forward(self, x: Any, h: Any = None) -> np.ndarray:
        x = self._check_input(x)
        h = self._check_state(h, "h", x.shape[0])
        gi, gh = self._linear_parts(x, h)
        gates = np.empty_like(gi)
        h_new = np.empty_like(h)
        gru_step_forward(gi, gh, h, gates, h_new)
        self._cache = self._keep((x, h, gates, gh[:, 2 * self.hidden_size:].copy()))
        return h_new

    def backward(self, dh_new: Any) -> tuple[np.ndarray, np.ndarray]:
        x, h, gates, gh_n = self._require_cache(self._cache)
        dh_new = self._check_grad(dh_new, "dh", x.shape[0])
        d_gi = np.empty_like(gates)
        d_gh = np.empty_like(gates)
        dh = np.empty_like(h)
        gru_step_backward(dh_new, h, gates, gh_n, d_gi, d_gh, dh)
        dx = self._accumulate_grads(x, h, d_gi, d_gh)
        dh += d_gh @ self.weight_hh.data
        return dx, dh
