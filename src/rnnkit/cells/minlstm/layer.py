"""The minLSTM layer: :class:`~rnnkit.layers.recurrent.RecurrentLayer` over minLSTM's kernels
(:mod:`rnnkit.cells.minlstm.reference`, mirrored by :mod:`rnnkit.cells.minlstm.compiled`).

Glossary: B batch, T time, D input features, H hidden units, L layers, K directions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.cells.minlstm.cell import MinLSTMCell
from rnnkit.layers.recurrent import RecurrentLayer


class MinLSTM(RecurrentLayer):
    """A multi-layer minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"), batch-first.

    For each layer and time step (row blocks of ``weight_ih`` and ``bias_ih`` in the order f, i, h~)::

        f_t = sigmoid(x_t W_f^T + b_f),   i_t = sigmoid(x_t W_i^T + b_i),   h~_t = x_t W_h^T + b_h
        f'_t = f_t / (f_t + i_t),   i'_t = i_t / (f_t + i_t)
        h_t = f'_t * h_{t-1} + i'_t * h~_t

    No gate reads h_{t-1}: every product is one matrix product before the loop, and the loop is
    the linear recurrence ``h_t = a_t h_{t-1} + b_t`` (:mod:`rnnkit.cells.scan`), compiled and
    split across cores by rows and units. Parameters per layer k and direction:
    ``weight_ih_l{k}`` (3H, D_in) and ``bias_ih_l{k}`` (3H,), uniform in (-1/sqrt(H), 1/sqrt(H)).

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
    >>> layer = MinLSTM(3, 5, num_layers=2, bidirectional=True, seed=0)
    >>> y, h_n = layer(np.zeros((2, 6, 3)), lengths=[6, 4])
    >>> dx, dh0 = layer.backward(np.ones_like(y))
    >>> y.shape, h_n.shape, dx.shape
    ((2, 6, 10), (4, 2, 5), (2, 6, 3))
    """

    num_gates = 3
    cell_class = MinLSTMCell
    kernels = "rnnkit.cells.minlstm"
    has_recurrent_weights = False

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False, dtype: Any = np.float32, seed: Any = None,
                 **regularisers: Any):
        super().__init__(input_size, hidden_size, num_layers, bias, dropout, bidirectional,
                         dtype=dtype, seed=seed, **regularisers)
        self.config = self._base_config()
