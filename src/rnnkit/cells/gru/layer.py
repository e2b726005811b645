"""The GRU layer: :class:`~rnnkit.layers.recurrent.RecurrentLayer` over the GRU's kernels
(:mod:`rnnkit.cells.gru.reference`, mirrored by :mod:`rnnkit.cells.gru.compiled`).

Glossary: B batch, T time, D input features, H hidden units, L layers, K directions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.cells.gru.cell import GRUCell
from rnnkit.layers.recurrent import DirectionWeights, RecurrentLayer, add_product


class GRU(RecurrentLayer):
    """A multi-layer GRU, numerically identical to ``torch.nn.GRU(batch_first=True)``.

    For each layer and time step (gate blocks in the order r, z, n)::

        gi = x_t W_ih^T + b_ih,   gh = h_{t-1} W_hh^T + b_hh
        r = sigmoid(gi_r + gh_r),   z = sigmoid(gi_z + gh_z)
        n = tanh(gi_n + r * gh_n)          # the reset gate scales the recurrent part AND b_hn
        h_t = (1 - z) * n + z * h_{t-1}

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
        ``locked_input_dropout``, ``locked_dropout``, ``weight_drop``, ``zoneout``, ``zoneout_cell``,
        ``learn_initial_state``: see :class:`~rnnkit.layers.recurrent.RecurrentLayer`.

    Shapes
    ------
    ``forward(x (B, T, D), h0 (L*K, B, H) or None, lengths (B,) or None)``
    returns ``y (B, T, K*H), h_n (L*K, B, H)``;
    ``backward(dy (B, T, K*H), dh_n or None)`` returns ``dx (B, T, D), dh0``.

    Examples
    --------
    >>> gru = GRU(3, 5, num_layers=2, seed=0)
    >>> y, h_n = gru(np.zeros((2, 6, 3)))
    >>> dx, dh0 = gru.backward(np.ones_like(y), dh_n=np.ones_like(h_n))
    >>> y.shape, dx.shape
    ((2, 6, 5), (2, 6, 3))
    """

    num_gates = 3
    cell_class = GRUCell
    kernels = "rnnkit.cells.gru"
    fold_recurrent_bias = False      # b_hn sits inside r * (...): it cannot join b_ih

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False, dtype: Any = np.float32, seed: Any = None,
                 **regularisers: Any):
        super().__init__(input_size, hidden_size, num_layers, bias, dropout, bidirectional,
                         dtype=dtype, seed=seed, **regularisers)
        self.config = self._base_config()

    def _accumulate_weight_grads(self, weights: DirectionWeights, states: np.ndarray, layer_input: np.ndarray,
                                 d_gi: np.ndarray, d_gh: np.ndarray, reverse: bool) -> None:
        """The base class's products, with d_gh (T, B, H) the n block of dL/d(gh) only.

        dL/d(gh) equals dL/d(gi) in the r and z blocks (both enter the same sigmoid), so those
        rows of dW_hh and b_hh come from d_gi; keeping just the n block saves a (T, B, 2H) array.
        """
        hidden = self.hidden_size
        x_in = layer_input[::-1] if reverse else layer_input            # processing order, like d_gi
        add_product(weights.weight_ih.grad, d_gi, x_in)
        add_product(weights.weight_hh.grad[:2 * hidden], d_gi[:, :, :2 * hidden], states[:-1])
        add_product(weights.weight_hh.grad[2 * hidden:], d_gh, states[:-1])
        if weights.bias_ih is not None:
            d_bias_ih = d_gi.sum(axis=(0, 1))
            weights.bias_ih.grad += d_bias_ih
            weights.bias_hh.grad[:2 * hidden] += d_bias_ih[:2 * hidden]
            weights.bias_hh.grad[2 * hidden:] += d_gh.sum(axis=(0, 1))
