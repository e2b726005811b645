"""The LayerNorm GRU layer: :class:`~rnnkit.layers.recurrent.RecurrentLayer` over its kernels
(:mod:`rnnkit.cells.lngru.reference`, mirrored by :mod:`rnnkit.cells.lngru.compiled`).

Glossary: B batch, T time, D input features, H hidden units, L layers, K directions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.cells.layer_norm import parameter_shapes
from rnnkit.cells.lngru.cell import LayerNormGRUCell
from rnnkit.layers.recurrent import DirectionWeights, RecurrentLayer, add_product


class LayerNormGRU(RecurrentLayer):
    """A multi-layer GRU with a layer norm on each of its two products, batch-first.

    For each layer and time step (gate blocks in torch's order r, z, n; each LN normalises the
    whole 3H vector with eps 1e-5 and has its own gain and shift)::

        gi = LN_ih(x_t W_ih^T) + b_ih,   gh = LN_hh(h_{t-1} W_hh^T) + b_hh
        r = sigmoid(gi_r + gh_r),   z = sigmoid(gi_z + gh_z)
        n = tanh(gi_n + r * gh_n)          # the reset gate scales gh_n, b_hn included, as torch's GRU
        h_t = (1 - z) * n + z * h_{t-1}

    Parameters per layer k (and ``_reverse``): ``weight_ih_l{k}`` (3H, D_in), ``weight_hh_l{k}``
    (3H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (3H,), ``ln_ih_weight_l{k}``, ``ln_ih_bias_l{k}``,
    ``ln_hh_weight_l{k}``, ``ln_hh_bias_l{k}`` (3H,). Initialisation: weights and biases uniform
    in (-1/sqrt(H), 1/sqrt(H)) as torch's GRU; every LN gain 1 and shift 0. ``bias=False`` drops
    ``bias_ih`` and ``bias_hh`` only.

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int
    bias : bool
    dropout : float
    bidirectional : bool
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None
    **regularisers
        The regularisers every kind's layer takes (locked dropout, weight drop, zoneout, a
        learnable initial state): see :class:`~rnnkit.layers.recurrent.RecurrentLayer`.

    Shapes
    ------
    ``forward(x (B, T, D), h0 (L*K, B, H) or None, lengths (B,) or None)``
    returns ``y (B, T, K*H), h_n (L*K, B, H)``;
    ``backward(dy (B, T, K*H), dh_n or None)`` returns ``dx (B, T, D), dh0``.

    Examples
    --------
    >>> layer = LayerNormGRU(3, 5, num_layers=2, bidirectional=True, seed=0)
    >>> y, h_n = layer(np.zeros((2, 6, 3)), lengths=[6, 4])
    >>> dx, dh0 = layer.backward(np.ones_like(y))
    >>> y.shape, h_n.shape, dx.shape, layer.ln_hh_bias_l1.shape
    ((2, 6, 10), (4, 2, 5), (2, 6, 3), (15,))
    """

    num_gates = 3
    cell_class = LayerNormGRUCell
    kernels = "rnnkit.cells.lngru"
    fold_recurrent_bias = False      # b_ih and b_hh follow different layer norms (their gradients: the kernel)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False, dtype: Any = np.float32, seed: Any = None,
                 **regularisers: Any):
        super().__init__(input_size, hidden_size, num_layers, bias, dropout, bidirectional,
                         dtype=dtype, seed=seed, **regularisers)
        self.config = self._base_config()

    def _parameter_shapes(self, layer_input: int) -> dict[str, tuple[tuple[int, ...], float | None]]:
        rows = 3 * self.hidden_size
        return {**super()._parameter_shapes(layer_input), **parameter_shapes(ih=rows, hh=rows)}

    def _accumulate_weight_grads(self, weights: DirectionWeights, states: np.ndarray, layer_input: np.ndarray,
                                 d_gi: np.ndarray, d_gh: np.ndarray, reverse: bool) -> None:
        """dW_ih += d_gi^T x and dW_hh += d_gh^T h_prev only: the biases sit after the layer
        norms, so their gradients are not sums of d_gi and d_gh; the kernel added them."""
        x_in = layer_input[::-1] if reverse else layer_input            # processing order, like d_gi
        add_product(weights.weight_ih.grad, d_gi, x_in)
        add_product(weights.weight_hh.grad, d_gh, states[:-1])
