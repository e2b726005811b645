"""The regularisers of the recurrent layers that act inside a layer: locked (variational)
dropout, weight drop on W_hh, zoneout, and the masks they draw.

Glossary: B batch, T time, D input features of a layer, H hidden units, P the width of h
(H without projection), G gates, W the width of a state (P for h, H for an LSTM's c).

:class:`~rnnkit.layers.recurrent.RecurrentLayer` takes them as keyword options (all off by
default, and then nothing here runs):

- ``locked_input_dropout`` / ``locked_dropout``: one dropout mask per sequence (B, D), the same
  at every step, on the input of the first layer / of every later layer (Gal & Ghahramani 2016,
  "A Theoretically Grounded Application of Dropout in Recurrent Neural Networks").
- ``weight_drop``: DropConnect on each layer's and direction's W_hh, one mask (G*H, P) per
  forward pass, kept entries scaled by 1/(1-p) (Merity, Keskar & Socher 2017, "Regularizing and
  Optimizing LSTM Language Models"). The kernels receive the masked matrix; its gradient is
  masked the same way.
- ``zoneout`` / ``zoneout_cell``: each unit of h (of c) keeps its previous value with
  probability p at each step (Krueger et al. 2017, "Zoneout")::

      training:   h_t = m_t * h_{t-1} + (1 - m_t) * h~_t,   m_t ~ Bernoulli(p), (B, W) per step
      evaluation: h_t = p * h_{t-1} + (1 - p) * h~_t          (the expectation)

  where ``h~_t`` is what the cell computes from the previous (zoned-out) state; an LSTM's
  ``h~_t = o * tanh(c~_t)`` reads the cell's own ``c~_t``, before c is zoned out. Steps past a
  sequence's length keep the state (m = 1), which is the layer's rule for lengths anyway.

Zoneout mixes two states at every step, so it runs inside the time loop. Rather than a second
copy of every kind's kernel, the layer then runs :func:`zoneout_forward` over the one-step
cell's ``step``/``backward_step`` (the same parameters, not copies): a regulariser of training
runs, where generality matters more than speed.

Masks are 0/1 patterns drawn from the layer's generator (``layer.rng``), so a seed makes a run
reproducible; ``layer.fixed_masks`` (a dict from the keys below to arrays) replaces any of them,
for tests, and ``layer.last_masks`` holds the patterns of the last forward:

=====================================  ==============  ===============================================
key                                    shape           True means
=====================================  ==============  ===============================================
``("locked", layer)``                  (B, D_layer)    keep the input feature (scaled by 1/(1-p))
``("weight_drop", layer, direction)``  (G*H, P)        keep the entry of W_hh (scaled by 1/(1-p))
``("zoneout", layer, direction, s)``   (T, B, W)       state s ("h" or "c") keeps its previous value
                                                       at time t (time order, either direction)
=====================================  ==============  ===============================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# The regulariser options of every recurrent layer and their "off" values, in config order.
REGULARISER_DEFAULTS: dict[str, Any] = {
    "locked_input_dropout": 0.0,
    "locked_dropout": 0.0,
    "weight_drop": 0.0,
    "zoneout": 0.0,
    "zoneout_cell": 0.0,
    "learn_initial_state": False,
}


def draw_pattern(layer: Any, key: tuple, shape: tuple[int, ...], probability: float) -> np.ndarray:
    """A bool pattern of ``shape``, True with ``probability`` per element, from ``layer.rng``;
    or ``layer.fixed_masks[key]`` when the caller fixed it. Recorded in ``layer.last_masks``."""
    fixed = layer.fixed_masks
    if fixed is not None and key in fixed:
        pattern = np.asarray(fixed[key])
        if pattern.shape != shape:
            raise ValueError(f"fixed_masks[{key!r}] must have shape {shape}, got {pattern.shape}")
        if not np.all((pattern == 0) | (pattern == 1)):
            raise ValueError(f"fixed_masks[{key!r}] must hold only 0 and 1 (or False and True)")
        pattern = pattern.astype(bool)
    else:
        pattern = layer.rng.random(shape) < probability
    layer.last_masks[key] = pattern
    return pattern


def scaled_keep_mask(pattern: np.ndarray, drop_probability: float, dtype: np.dtype) -> np.ndarray:
    """Inverted dropout's mask: kept elements 1/(1-p), dropped ones 0, in ``dtype``."""
    keep = 1.0 - drop_probability
    return pattern.astype(dtype) / np.dtype(dtype).type(keep)


@dataclass
class ZoneoutCache:
    """What backward needs from one direction run by :func:`zoneout_forward`."""

    states: np.ndarray            # (T+1, B, P) processing order, states[0] = initial h
    reverse: bool
    cell: Any                     # the one-step cell (the layer's Parameters) that ran the steps
    step_caches: list             # the cell's cache of each step, processing order
    zone: tuple                   # per state: (T, B, W) kept fraction of the previous value, or None
    weights: Any                  # the DirectionWeights the steps used (W_hh masked with weight drop)
    extra: tuple = ()             # the states beyond h, each (T+1, B, W) processing order: an LSTM's c,
                                  # first, as in the kernels' caches (the layer reads c0 there)
    consumed: bool = False        # never: the cells' caches survive a backward


def zoneout_fractions(probability: float, pattern: np.ndarray | None, invalid: np.ndarray | None,
                      shape: tuple[int, int, int], dtype: np.dtype) -> np.ndarray | None:
    """The fraction of the previous state each unit keeps at each step, (T, B, W) processing order.

    ``pattern`` (T, B, W) bool in training (a unit keeps all or nothing), None in evaluation
    (each keeps ``probability``: the expectation); ``invalid`` (T, B, 1) marks steps past a
    sequence's length, which keep everything. None when nothing is ever kept (p = 0, no lengths).
    """
    if pattern is not None:
        fractions = pattern.astype(dtype)
    elif probability > 0.0:
        fractions = np.full(shape, probability, dtype=dtype)
    elif invalid is not None:
        fractions = np.zeros(shape, dtype=dtype)
    else:
        return None
    if invalid is not None:
        np.copyto(fractions, 1.0, where=invalid)
    return fractions


def zoneout_forward(cell: Any, inputs: np.ndarray, reverse: bool, initial: tuple, zone: tuple,
                    sequences: tuple) -> tuple[tuple, list]:
    """Run ``cell`` over ``inputs`` (T, B, D) time order, mixing each new state with the last.

    ``initial``: the states (B, W) before the first processed step; ``zone``: per state, the
    (T, B, W) fractions kept (processing order, :func:`zoneout_fractions`) or None. Writes
    each state (h, c) into its sequence in ``sequences`` ((T+1, B, W) each, processing order,
    [0] the initial state) and returns the final states and each step's cell cache.
    """
    steps = inputs.shape[0]
    single = len(initial) == 1
    state = list(initial)
    for sequence, value in zip(sequences, state):
        sequence[0] = value
    step_caches = []
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        new, cache = cell.step(inputs[t], state[0] if single else tuple(state))
        new = (new,) if single else tuple(new)
        state = [candidate if kept is None else kept[k] * previous + (1.0 - kept[k]) * candidate
                 for kept, previous, candidate in zip(zone, state, new)]
        for sequence, value in zip(sequences, state):
            sequence[k + 1] = value
        step_caches.append(cache)
    return tuple(state), step_caches


def zoneout_backward(cache: ZoneoutCache, d_states: np.ndarray, d_final_extra: tuple,
                     input_width: int) -> tuple[np.ndarray, tuple]:
    """BPTT of :func:`zoneout_forward`: ``(dx (T, B, D) processing order, d_initial)``.

    ``d_states`` (T, B, P): dL/dh_t from the outputs (and h_n at the last step), processing
    order; like the kernels, the loop adds the recurrent part in place, so it ends as the total
    dL/dh_t. ``d_final_extra``: dL/dc_n for an LSTM. The cell adds the parameter gradients.

    For ``s_t = m * s_{t-1} + (1 - m) * s~_t``: dL/ds~_t = (1 - m) dL/ds_t goes into the cell's
    backward, and dL/ds_{t-1} = m dL/ds_t + what the cell returns.
    """
    steps, batch, _ = d_states.shape
    cell, zone = cache.cell, cache.zone
    single = len(zone) == 1
    dx = np.empty((steps, batch, input_width), dtype=d_states.dtype)
    d_carry = [np.zeros_like(d_states[0])] + list(d_final_extra)      # dL/d(state after step k), beyond the outputs
    for k in reversed(range(steps)):
        d_carry[0] = d_carry[0] + d_states[k]
        d_states[k] = d_carry[0]                                        # the total dL/dh_k
        d_new = [d if kept is None else (1.0 - kept[k]) * d for kept, d in zip(zone, d_carry)]
        dx[k], d_previous = cell.backward_step(cache.step_caches[k], *d_new)
        d_previous = (d_previous,) if single else tuple(d_previous)
        d_carry = [through if kept is None else kept[k] * d + through
                   for kept, d, through in zip(zone, d_carry, d_previous)]
    return dx, tuple(d_carry)
