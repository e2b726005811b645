"""The singular values of the recurrent weights, and the bound they give on vanishing gradients.

Pascanu, Mikolov and Bengio (2013): the step Jacobian of ``h_t = act(W_hh h_{t-1} + ...)`` is
``diag(act') W_hh`` with ``|act'| <= gamma`` (1 for tanh and relu, 1/4 for sigmoid), so

    ||dh_t/dh_{t-1}|| <= gamma * sigma_max(W_hh)

and ``sigma_max < 1/gamma`` is *sufficient* for the gradient to vanish exponentially with
distance. ``sigma_max > 1/gamma`` (or a spectral radius above 1) is *necessary* for it to
explode, but not sufficient: saturating units can still shrink it. For LSTM and GRU the bound
is reported per gate block of W_hh; their additive state paths (``c_t = f c_{t-1} + ...`` and
``h_t = z h_{t-1} + ...``) are what lets their gradients escape it.

Glossary: H hidden units, P width of h, G gate blocks.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from rnnkit.diagnostics._replay import GATE_NAMES, cell_kind, check_index, gate_activations
from rnnkit.layers.recurrent import RecurrentLayer

GAMMA = {"tanh": 1.0, "relu": 1.0, "sigmoid": 0.25}   # bound on |act'|


@dataclass
class GateSpectrum:
    """One gate block of W_hh: its singular values (descending) and what they imply."""

    gate: str
    activation: str
    singular_values: np.ndarray
    spectral_radius: float          # max |eigenvalue|; NaN when the block is not square (projection)

    @property
    def gamma(self) -> float:
        return GAMMA[self.activation]

    @property
    def largest_singular_value(self) -> float:
        return float(self.singular_values[0])

    @property
    def bound(self) -> float:
        """1/gamma: a largest singular value below it suffices for vanishing gradients."""
        return 1.0 / self.gamma

    @property
    def vanishing_guaranteed(self) -> bool:
        return self.largest_singular_value < self.bound


def recurrent_spectrum(layer: RecurrentLayer, layer_index: int = 0, direction: int = 0) -> list[GateSpectrum]:
    """Per gate block of ``weight_hh``: singular values, spectral radius and the Pascanu bound.

    Examples
    --------
    >>> from rnnkit import LSTM
    >>> blocks = recurrent_spectrum(LSTM(3, 16, seed=0))
    >>> [(block.gate, block.gamma) for block in blocks]
    [('input', 0.25), ('forget', 0.25), ('cell', 1.0), ('output', 0.25)]
    >>> all(block.vanishing_guaranteed for block in blocks)     # small default weights
    True
    """
    check_index(layer, layer_index, direction)
    w_hh = layer.weights[layer_index][direction].weight_hh.data.astype(np.float64)    # (G*H, P)
    hidden = layer.hidden_size
    result = []
    for index, (gate, activation) in enumerate(zip(GATE_NAMES[cell_kind(layer)], gate_activations(layer))):
        block = w_hh[index * hidden:(index + 1) * hidden]                               # (H, P)
        singular_values = np.linalg.svd(block, compute_uv=False)
        radius = float(np.max(np.abs(np.linalg.eigvals(block)))) if block.shape[0] == block.shape[1] else float("nan")
        result.append(GateSpectrum(gate, activation, singular_values, radius))
    return result


def set_spectral_radius(layer: RecurrentLayer, radius: float, gate: int = 0) -> None:
    """Scale gate block ``gate`` of every ``weight_hh`` so its spectral radius is ``radius``.

    The standard way to put a plain RNN in the vanishing (< 1), marginal (= 1) or exploding
    (> 1) regime. Needs square blocks (no LSTM projection).

    >>> from rnnkit import RNN
    >>> rnn = RNN(1, 8, seed=0)
    >>> set_spectral_radius(rnn, 1.5)
    >>> round(recurrent_spectrum(rnn)[0].spectral_radius, 4)
    1.5
    """
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real) or not 0 < radius < math.inf:
        raise ValueError(f"radius must be a finite number > 0, got {radius!r}")
    if isinstance(gate, bool) or not isinstance(gate, numbers.Integral) or not 0 <= gate < layer.num_gates:
        raise ValueError(f"gate must be an int in [0, {layer.num_gates - 1}], got {gate!r}")
    hidden = layer.hidden_size
    blocks = [weights.weight_hh.data[gate * hidden:(gate + 1) * hidden]                 # views, (H, P)
              for per_layer in layer.weights for weights in per_layer]
    currents = []
    for block in blocks:                                  # every block checked before any is scaled
        if block.shape[0] != block.shape[1]:
            raise ValueError(f"set_spectral_radius needs square W_hh blocks, got {block.shape}")
        currents.append(float(np.max(np.abs(np.linalg.eigvals(block.astype(np.float64))))))
        if not currents[-1] > 0:
            raise ValueError("a W_hh block has spectral radius 0 (zero or nilpotent), so no scaling can give it "
                             f"radius {radius}")
    for block, current in zip(blocks, currents):
        block *= block.dtype.type(radius / current)
