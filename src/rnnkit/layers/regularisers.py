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

:class:`Regularised` holds the layer's side of them (the options, the masks of a forward, the
learned initial state); :class:`~rnnkit.layers.recurrent.RecurrentLayer` mixes it in.

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

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnkit._validate import check_positive_int, check_probability
from rnnkit.module import Parameter

if TYPE_CHECKING:
    from rnnkit.layers.recurrent import DirectionWeights

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


class Regularised:
    """The regularisers' part of :class:`~rnnkit.layers.recurrent.RecurrentLayer`: checking and
    keeping the options, the masks each forward uses, the learned initial state and zoneout's
    expectation. Reads the layer's ``training``, ``rng``, ``dtype``, ``weights``, sizes and
    ``_check_states``/``_state_widths``.
    """

    def _check_regularisers(self, locked_input_dropout: Any, locked_dropout: Any, weight_drop: Any, zoneout: Any,
                            zoneout_cell: Any, learn_initial_state: Any) -> None:
        """Check and keep the regulariser options; refuse those this kind cannot apply."""
        kind = type(self).__name__
        self.locked_input_dropout = check_probability(locked_input_dropout, "locked_input_dropout")
        self.locked_dropout = check_probability(locked_dropout, "locked_dropout")
        self.weight_drop = check_probability(weight_drop, "weight_drop")
        self.zoneout = check_probability(zoneout, "zoneout")
        self.zoneout_cell = check_probability(zoneout_cell, "zoneout_cell")
        if not isinstance(learn_initial_state, (bool, np.bool_)):
            raise ValueError(f"learn_initial_state must be True or False, got {learn_initial_state!r}")
        self.learn_initial_state = bool(learn_initial_state)
        if self.weight_drop and not self.has_recurrent_weights:
            raise ValueError(f"weight_drop={weight_drop!r} drops entries of W_hh, and {kind} has no W_hh (its gates "
                             f"read x alone); use locked_dropout or zoneout instead, or weight_drop=0")
        if self.zoneout_cell and self.num_states == 1:
            raise ValueError(f"zoneout_cell={zoneout_cell!r} zones out an LSTM's cell state c, and {kind} has no c; "
                             f"use zoneout (on h) instead, or zoneout_cell=0")
        if (self.zoneout or self.zoneout_cell) and self.proj_size:
            raise ValueError(f"zoneout={zoneout!r}, zoneout_cell={zoneout_cell!r} runs the one-step cell, and an "
                             f"{kind} with proj_size={self.proj_size} has none; use proj_size=0 or no zoneout")

    def _regulariser_config(self) -> dict[str, Any]:
        """The regulariser options that are on (those off stay out, so configs and checkpoints
        written before the options existed still match)."""
        return {name: getattr(self, name) for name, off in REGULARISER_DEFAULTS.items() if getattr(self, name) != off}

    def _initial_parameters(self) -> tuple[Parameter, ...]:
        """The learnable initial states, (initial_h,) or (initial_h, initial_c); () without them."""
        if not self.learn_initial_state:
            return ()
        return tuple(getattr(self, name) for name in ("initial_h", "initial_c")[: self.num_states])

    def initial_state(self, batch: int) -> Any:
        """The state ``forward`` starts from when given none, in the layer's form (h, or (h, c)
        for LSTMs), each (L*K, B, width): the learned initial state broadcast over the batch
        with ``learn_initial_state``, zeros otherwise. For callers that step the one-step
        cells themselves (generation), so that they start where forward does.

        >>> from rnnkit import LSTM
        >>> h0, c0 = LSTM(2, 3, num_layers=2, learn_initial_state=True).initial_state(5)
        >>> h0.shape, c0.shape
        ((2, 5, 3), (2, 5, 3))
        """
        batch = check_positive_int(batch, "batch")
        parts = self._check_states((None,) * self.num_states, batch, ("h0", "c0"))
        self._use_initial_parameters((None,) * self.num_states, parts)
        return parts[0] if self.num_states == 1 else parts

    def zoneout_expectation(self, previous: Any, new: Any) -> Any:
        """``p * previous + (1 - p) * new`` for h (``zoneout``) and c (``zoneout_cell``): the state
        evaluation mode keeps after a step, for callers that step this layer's one-step cells
        themselves (generation). States in the cells' form (h, or (h, c)); ``new`` itself
        without zoneout.

        >>> from rnnkit import GRU
        >>> GRU(2, 3, zoneout=0.25).zoneout_expectation(np.zeros(3), np.ones(3)).tolist()
        [0.75, 0.75, 0.75]
        """
        if not (self.zoneout or self.zoneout_cell):
            return new
        if self.num_states == 1:
            return self.zoneout * previous + (1.0 - self.zoneout) * new
        return tuple(p * old + (1.0 - p) * candidate if p else candidate
                     for p, old, candidate in zip((self.zoneout, self.zoneout_cell), previous, new))

    def _input_mask(self, layer: int, shape: tuple) -> np.ndarray | None:
        """The mask of a layer's input in training: ``dropout``'s (T, B, W) times the locked
        dropout mask (1, B, W), one per sequence for every step; None where neither applies."""
        mask = self._dropout_mask(layer, shape)
        probability = self.locked_input_dropout if layer == 0 else self.locked_dropout
        if not self.training or probability == 0:
            return mask
        pattern = draw_pattern(self, ("locked", layer), shape[1:], 1.0 - probability)         # (B, W)
        locked = scaled_keep_mask(pattern, probability, self.dtype)[None]                      # (1, B, W)
        return locked if mask is None else mask * locked

    def _forward_weights(self, layer: int, direction: int) -> tuple[DirectionWeights, np.ndarray | None]:
        """The weights this forward computes with and the weight-drop mask (G*H, P), scaled by
        1/(1-p): the layer's own and None, or in training with ``weight_drop`` a copy whose
        ``weight_hh`` is W_hh * mask (a Parameter of its own, whose gradient backward masks into
        the layer's)."""
        weights = self.weights[layer][direction]
        if not self.training or self.weight_drop == 0:
            return weights, None
        pattern = draw_pattern(self, ("weight_drop", layer, direction), weights.weight_hh.shape, 1.0 - self.weight_drop)
        mask = scaled_keep_mask(pattern, self.weight_drop, self.dtype)                        # (G*H, P)
        return replace(weights, weight_hh=Parameter(weights.weight_hh.data * mask)), mask

    def _zoneout_fractions(self, layer: int, direction: int, invalid: np.ndarray | None,
                           batch_steps: tuple[int, int]) -> tuple:
        """Per state (h, c), the (T, B, W) fraction of the previous value each unit keeps at each
        processing step (:func:`~rnnkit.layers.regularisers.zoneout_fractions`), or None."""
        steps, batch = batch_steps
        zone = []
        for name, width, probability in zip(("h", "c"), self._state_widths(), (self.zoneout, self.zoneout_cell)):
            pattern = None
            if self.training and probability > 0:                              # (T, B, W) time order
                pattern = draw_pattern(self, ("zoneout", layer, direction, name), (steps, batch, width), probability)
                pattern = pattern[::-1] if direction == 1 else pattern           # processing order
            zone.append(zoneout_fractions(probability, pattern, invalid, (steps, batch, width), self.dtype))
        return tuple(zone)

    def _use_initial_parameters(self, given: tuple, initial: tuple[np.ndarray, ...]) -> tuple[bool, ...]:
        """With ``learn_initial_state``, write the learned state (broadcast over the batch) into
        each part of ``initial`` that was not given; which parts that was."""
        learned = tuple(state is None for state in given) if self.learn_initial_state else ()
        for use, part, parameter in zip(learned, initial, self._initial_parameters()):
            if use:
                part[...] = parameter.data[:, None, :]                            # (L*K, B, width)
        return learned

    def _mask_weight_drop_grad(self, used: DirectionWeights, mask: np.ndarray | None, layer: int,
                               direction: int) -> None:
        """With weight drop, dL/dW_hh = mask * dL/d(W_hh * mask): move the gradient the masked
        copy collected into the layer's own ``weight_hh`` (so a second backward adds it again)."""
        if mask is None:
            return
        own = self.weights[layer][direction].weight_hh
        own.grad += used.weight_hh.grad * mask
        used.weight_hh.grad.fill(0)
