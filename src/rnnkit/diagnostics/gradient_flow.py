"""How large dL/dh_t is at every step: vanishing and exploding gradients, measured.

The recurrent layers can keep the total gradient of every hidden state after ``backward``
(``record_hidden_grads``, filled inside the BPTT loop). With a loss on the last step only, its
size against the distance T - t shows directly how far back a training signal reaches: it
falls like ``gamma^(T - t)`` when gradients vanish and grows when they explode.

Glossary: B batch, T time, P width of h, K directions, L layers.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from rnnkit._validate import as_float_array
from rnnkit.layers.recurrent import RecurrentLayer


@contextmanager
def recording_hidden_grads(layer: RecurrentLayer) -> Iterator[RecurrentLayer]:
    """Within the block, ``layer.backward`` keeps dL/dh_t in ``layer.hidden_grads``.

    >>> import numpy as np
    >>> from rnnkit import GRU
    >>> gru = GRU(2, 3, seed=0)
    >>> with recording_hidden_grads(gru):
    ...     y, _ = gru(np.ones((1, 4, 2)))
    ...     _ = gru.backward(np.ones_like(y))
    >>> gru.hidden_grads[0][0].shape, gru.record_hidden_grads
    ((1, 4, 3), False)
    """
    previous = layer.record_hidden_grads
    layer.record_hidden_grads = True
    try:
        yield layer
    finally:
        layer.record_hidden_grads = previous


def hidden_grad_norms(layer: RecurrentLayer) -> list[list[np.ndarray]]:
    """``norms[layer][direction]`` (T,): the batch mean of ||dL/dh_t||_2, time order.

    Reads ``layer.hidden_grads``, filled by a ``backward`` run with recording on.
    """
    if layer.hidden_grads is None:
        raise ValueError("no hidden-state gradients recorded: run backward inside recording_hidden_grads(layer) "
                         "or with layer.record_hidden_grads = True")
    return [[np.linalg.norm(grads.astype(np.float64), axis=-1).mean(axis=0) for grads in per_layer]
            for per_layer in layer.hidden_grads]


@dataclass
class GradientFlow:
    """dL/dh_t for a loss on the last time step, per layer and direction.

    ``norms[layer][direction]`` (T,) is the batch-mean norm at each time step t (time order);
    ``distance`` (T,) is T - 1 - t, the number of steps back from the loss.
    """

    norms: list[list[np.ndarray]]

    @property
    def distance(self) -> np.ndarray:
        steps = len(self.norms[0][0])
        return np.arange(steps)[::-1]

    def relative(self, layer: int = -1, direction: int = 0) -> np.ndarray:
        """Norms divided by the norm at the last step (distance 0)."""
        norms = self.norms[layer][direction]
        return norms / max(float(norms[-1]), 1e-300)


def gradient_flow(layer: RecurrentLayer, x: Any, d_last: Any = None, seed: Any = 0) -> GradientFlow:
    """Run ``layer`` on ``x`` and backpropagate a loss on the last output step only.

    Parameters
    ----------
    layer : RNN, LSTM or GRU
    x : array (B, T, D)
    d_last : array (B, K*P), optional
        dL/dy at the last step; default random unit vectors per sequence (seeded by ``seed``),
        so every direction of h_T gets the same weight.

    The parameters' ``.grad`` are accumulated into as by any backward: zero them afterwards
    if the layer is being trained.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit import RNN
    >>> rnn = RNN(1, 8, seed=0)
    >>> flow = gradient_flow(rnn, np.zeros((4, 30, 1)))
    >>> flow.norms[0][0].shape, bool(flow.relative()[0] < flow.relative()[-1])   # it vanished
    ((30,), True)
    """
    y, _ = layer(x)                                                   # (B, T, K*P)
    batch, steps, width = y.shape
    if d_last is None:
        d_last = np.random.default_rng(seed).standard_normal((batch, width))
        d_last /= np.linalg.norm(d_last, axis=1, keepdims=True)
    else:
        d_last = as_float_array(d_last, "d_last", y.dtype, (batch, width), "(B, K*P), one gradient per sequence")
    dy = np.zeros_like(y)
    dy[:, -1] = d_last
    with recording_hidden_grads(layer):
        layer.backward(dy)
    return GradientFlow(hidden_grad_norms(layer))
