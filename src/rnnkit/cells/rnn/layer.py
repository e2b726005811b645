"""The Elman RNN layer: :class:`~rnnkit.layers.recurrent.RecurrentLayer` over the RNN's kernels
(:mod:`rnnkit.cells.rnn.reference`, mirrored by :mod:`rnnkit.cells.rnn.compiled`).

Glossary: B batch, T time, D input features, H hidden units, L layers, K directions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit._validate import check_choice
from rnnkit.cells.rnn.cell import RNNCell
from rnnkit.cells.rnn.reference import NONLINEARITIES
from rnnkit.layers.recurrent import RecurrentLayer


class RNN(RecurrentLayer):
    """A multi-layer Elman RNN, numerically identical to ``torch.nn.RNN(batch_first=True)``.

    For each layer and time step::

        h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),   act = tanh or relu

    where x_t is the input (layer 0) or the previous layer's output at step t (with dropout
    between layers in training mode). Bidirectional layers concatenate a forward and a reverse
    pass: ``y_t = [h_t^fwd, h_t^rev]``.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    num_layers : int
        L, stacked layers.
    nonlinearity : {"tanh", "relu"}
    bias : bool
        Whether the ``bias_ih_l{k}`` and ``bias_hh_l{k}`` parameters exist.
    dropout : float
        Dropout probability on the outputs of every layer but the last, in training mode.
    bidirectional : bool
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None
        Seeds the initial weights (uniform in +-1/sqrt(H)) and the dropout masks.
    **regularisers
        ``locked_input_dropout``, ``locked_dropout``, ``weight_drop``, ``zoneout``, ``zoneout_cell``,
        ``learn_initial_state``: see :class:`~rnnkit.layers.recurrent.RecurrentLayer`.

    Shapes
    ------
    ``forward(x (B, T, D), h0 (L*K, B, H) or None, lengths (B,) or None)``
    returns ``y (B, T, K*H), h_n (L*K, B, H)``;
    ``backward(dy (B, T, K*H), dh_n (L*K, B, H) or None)`` returns ``dx (B, T, D), dh0``.

    Examples
    --------
    >>> rnn = RNN(input_size=3, hidden_size=5, num_layers=2, seed=0)
    >>> y, h_n = rnn(np.zeros((4, 7, 3)))
    >>> y.shape, h_n.shape
    ((4, 7, 5), (2, 4, 5))
    >>> dx, dh0 = rnn.backward(np.ones_like(y))
    >>> dx.shape, dh0.shape
    ((4, 7, 3), (2, 4, 5))
    """

    num_gates = 1
    cell_class = RNNCell
    kernels = "rnnkit.cells.rnn"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = np.float32, seed: Any = None, **regularisers: Any):
        check_choice(nonlinearity, "nonlinearity", NONLINEARITIES)
        super().__init__(input_size, hidden_size, num_layers, bias, dropout, bidirectional,
                         dtype=dtype, seed=seed, **regularisers)
        self.nonlinearity = nonlinearity
        self.config = {**self._base_config(), "nonlinearity": nonlinearity}

    def _cell_options(self) -> dict[str, Any]:
        return {"nonlinearity": self.nonlinearity}
