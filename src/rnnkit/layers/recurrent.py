"""What RNN, LSTM and GRU layers share: parameters, stacking, directions, lengths, dropout,
and the seam to each cell kind's kernels.

Why one module of about 600 lines: the kernel contract (below) and the one loop over layers
and directions that keeps it, with its backward mirror, read best together; each kind's own
code is in ``rnnkit/cells/<kind>/``.

Glossary: B batch, T time, D input features, H hidden units, P projection size (LSTM only;
P = H without projection), G gates (1 RNN, 4 LSTM, 3 GRU), L layers, K directions (1 or 2).

Data flow of ``forward`` in training (time-major inside, batch-first at the edges)::

    x (B, T, D) -> x_tm (T, B, D)
    for each layer l, for each direction:
        xw = x_in W_ih^T                      # (T, B, G*H): one product for all steps, no biases
        states, cache = kernel.forward(xw)    # (T+1, B, P): states[0] = h0, states[k+1] after step k
        output slice = states[1:] in time order, zero past each sequence's length
    layer output (T, B, K*P), dropout between layers in training -> next layer's input
    y (B, T, K*P), h_n (L*K, B, P)

Under ``rnnkit.no_grad()`` nothing is cached for backward and the same loop runs batch-major
(``kernel.inference``): the input products come from x's (B*T, D) rows as they lie, and each
step's h_t goes straight into y's rows.

The kernels. Each cell kind has one place, ``rnnkit/cells/<kind>/``, with a reference kernel
(``reference.py``: the step math and the time loops in NumPy) and a compiled kernel
(``compiled.py``: the same functions in Numba, same names, arguments and cache). The layer
picks one kernel per call (:func:`rnnkit.compiled.kernel`), the cache records which one wrote
it, and backward asks that one. A kernel module provides::

    forward(layer, gates, reverse, weights, initial, invalid, work) -> states, finals, extra
        gates (T, B, G*H): x W_ih^T, time order, without biases (the kernel adds them in its
        step); it becomes the gate cache in place. Processing step k is time T-1-k when
        ``reverse``. initial: the states (B, width); invalid (T, B, 1) processing order, True
        past a sequence's length, or None; work: the direction's workspace scope.
        states (T+1, B, P), processing order; finals: the final states; extra: the cache.
    backward(layer, cache, weights, d_states, d_final_extra, invalid) -> d_gi, d_gh, d_initial
        d_states (T, B, P): dL/dh from the outputs (the loop adds the recurrent part in place);
        writes the gradients over the gate cache (the cache is consumed). d_gi, d_gh: the
        gradients of the input and recurrent products (the same array where they are summed;
        d_gh None for a kind without W_hh, as minGRU and minLSTM).
    inference(layer, xw, reverse, weights, initial, invalid, output, column) -> finals
        xw (B, T, G*H) batch-major; h_t into output[:, t, column:column + P] of (B, T, W).

With ``lengths``, step k of a sequence whose length it exceeds keeps the state unchanged
(forward: after the last valid step, so h_n is the state there; reverse: before the first
valid step, so the reverse pass starts at the sequence's own last step), which is exactly
PyTorch's packed-sequence result.

``backward`` walks the same structure in reverse; the weight gradients are one product each
after the loop: ``dW_ih += d_gi^T x_in``, ``dW_hh += d_gh^T h_{prev}``, ``dx_in = d_gi W_ih``.

The parameters. A layer class declares those of one layer and direction in
``_parameter_shapes(layer_input)`` (name -> shape and initial value, in registration order):
PyTorch's ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` (``weight_hr``) by default;
kinds whose gates read x alone (minGRU, minLSTM: ``has_recurrent_weights = False``) have
``weight_ih`` and ``bias_ih`` only. The layer registers each as
``name_l{k}{sfx}`` and hands them to the kernels in :class:`DirectionWeights` (a kind's own
names beyond PyTorch's in its ``extra``); a kind whose parameters' gradients are not the
products above overrides ``_accumulate_weight_grads`` (or its kernel adds them, as the
LSTM's does for ``weight_hr``).

The regularisers (:mod:`rnnkit.layers.regularisers`, all off by default): locked dropout is a
(1, B, W) mask on a layer's input next to the ``dropout`` mask; weight drop hands the kernels
DirectionWeights whose ``weight_hh`` is a masked copy, and backward masks its gradient into the
layer's own; a learnable initial state is broadcast over the batch where no h0 (c0) is given,
and its gradient is d_initial summed over the batch. Zoneout is the one that mixes states
between steps: with it, each direction runs its one-step cell's ``step``/``backward_step``
(:func:`~rnnkit.layers.regularisers.zoneout_forward`) in place of the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnkit._validate import as_float_array, as_index_array, check_positive_int, check_probability
from rnnkit.cells.base import uniform_init
from rnnkit import compiled
from rnnkit.grad_mode import is_grad_enabled
from rnnkit.layers.regularisers import Regularised, ZoneoutCache, zoneout_backward, zoneout_forward
from rnnkit.module import Module, Parameter
from rnnkit.workspace import Workspace


@dataclass
class DirectionWeights:
    """The parameters of one layer and direction (PyTorch names without the suffix).

    A kind without some of them (minGRU has no W_hh) leaves them None; a kind's own parameters
    beyond PyTorch's (layer-norm gains and shifts) are in ``extra`` by name.
    """

    weight_ih: Parameter | None = None  # (G*H, D_in)
    weight_hh: Parameter | None = None  # (G*H, P)
    bias_ih: Parameter | None = None    # (G*H,)
    bias_hh: Parameter | None = None    # (G*H,)
    weight_hr: Parameter | None = None  # (P, H), LSTM projection
    extra: dict[str, Parameter] = field(default_factory=dict)

    def add(self, name: str, parameter: Parameter) -> None:
        """Keep ``parameter`` under ``name`` (a field of this class, else in ``extra``)."""
        if name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"):
            setattr(self, name, parameter)
        else:
            self.extra[name] = parameter

    def named(self) -> dict[str, Parameter | None]:
        """Every parameter a one-step cell can share, by name (None where this kind has none)."""
        return {"weight_ih": self.weight_ih, "weight_hh": self.weight_hh, "bias_ih": self.bias_ih,
                "bias_hh": self.bias_hh, **self.extra}

    def combined_bias(self) -> np.ndarray:
        """``b_ih + b_hh`` (G*H,), zeros without biases: what RNN and LSTM steps add."""
        if self.bias_ih is None:
            return np.zeros(self.weight_ih.shape[0], dtype=self.weight_ih.data.dtype)
        return self.bias_ih.data + self.bias_hh.data

    def input_bias(self) -> np.ndarray:
        """``b_ih`` (G*H,) C-contiguous, zeros without a bias: what kinds whose gates read x alone add."""
        if self.bias_ih is None:
            return np.zeros(self.weight_ih.shape[0], dtype=self.weight_ih.data.dtype)
        return np.ascontiguousarray(self.bias_ih.data)

    def split_biases(self) -> tuple[np.ndarray, np.ndarray]:
        """``(b_ih, b_hh)``, each (G*H,) C-contiguous, zeros without biases: what a GRU step adds."""
        if self.bias_hh is None:
            return self.input_bias(), np.zeros(self.weight_ih.shape[0], dtype=self.weight_ih.data.dtype)
        return self.input_bias(), np.ascontiguousarray(self.bias_hh.data)


@dataclass
class DirectionCache:
    """What backward needs from one direction's forward."""

    states: np.ndarray          # (T+1, B, P) in processing order, states[0] = initial state
    extra: tuple                # the kernel's cached activations (the same layout in both kernels)
    reverse: bool
    kernel: Any                 # the kernel module that wrote it: backward asks the same one
    consumed: bool = False      # a backward wrote its gradients over ``extra`` (a second one rebuilds it)


def add_product(grad: np.ndarray, d_gates: np.ndarray, inputs: np.ndarray) -> None:
    """``grad += sum over steps t and rows b of d_gates[t, b]^T inputs[t, b]``, one matrix product.

    d_gates (T, B, G), inputs (T, B, W), grad (G, W). Two reversed views (a reverse direction's
    gradients and inputs) are both turned the other way round: the sum runs over all steps in
    either order, and neither needs a contiguous copy then.
    """
    if d_gates.strides[0] < 0 and inputs.strides[0] < 0:
        d_gates, inputs = d_gates[::-1], inputs[::-1]
    rows = d_gates.reshape(-1, d_gates.shape[2])                       # (T*B, G): a view where it can be
    grad += rows.T @ inputs.reshape(-1, inputs.shape[2])


class RecurrentLayer(Regularised, Module):
    """Base class of :class:`~rnnkit.RNN`, :class:`~rnnkit.LSTM`, :class:`~rnnkit.GRU`,
    :class:`~rnnkit.MinGRU` and :class:`~rnnkit.MinLSTM`.

    Subclasses (``rnnkit/cells/<kind>/layer.py``) set ``num_gates``, ``num_states`` (1, or 2
    for LSTM's (h, c)), ``fold_recurrent_bias`` (True when the two products and both biases
    enter one sum, so that dL/d(gh) = dL/d(gi)), ``cell_class`` and ``kernels`` (the package
    of the kind's reference and compiled kernels; see the module docstring),
    ``has_recurrent_weights`` (False when no gate reads h_{t-1}: no W_hh, no b_hh), and
    override ``_parameter_shapes`` when their parameters are other still (layer norm).

    Set ``record_hidden_grads = True`` to keep dL/dh_t of every step after ``backward`` in
    ``hidden_grads[layer][direction]`` (B, T, P), time order; it costs nothing otherwise.

    Regularisers (keyword options of every kind's layer; off by default, and then the layer
    computes exactly what it computes without them; see :mod:`rnnkit.layers.regularisers`):

    locked_input_dropout, locked_dropout : float in [0, 1)
        Variational dropout: one mask (B, D) per sequence, the same at every step, on the input
        of the first layer / of each later layer (with ``dropout`` too, both masks apply).
    weight_drop : float in [0, 1)
        DropConnect on every ``weight_hh_l{k}``: one mask per forward pass. Kinds without W_hh
        (minGRU, minLSTM) refuse it.
    zoneout, zoneout_cell : float in [0, 1)
        The probability that a unit of h / of c (LSTM kinds only) keeps its previous value at a
        step in training; evaluation uses the expectation. Not with an LSTM's ``proj_size``.
    learn_initial_state : bool
        Parameters ``initial_h`` (L*K, P) (and ``initial_c`` (L*K, H) for LSTMs), zeros at
        first, used for every sequence where forward is given no h0 (c0).

    Masks come from ``self.rng``; ``fixed_masks`` (dict, keys in
    :mod:`rnnkit.layers.regularisers`) fixes any of them and ``last_masks`` holds the last ones.

    >>> from rnnkit import GRU
    >>> gru = GRU(3, 4, num_layers=2, locked_dropout=0.3, zoneout=0.1, learn_initial_state=True, seed=0)
    >>> y, h_n = gru(np.ones((2, 5, 3)))
    >>> sorted(key[0] for key in gru.last_masks), gru.initial_h.shape
    (['locked', 'zoneout', 'zoneout'], (2, 4))
    """

    num_gates = 1
    projects = False                 # whether proj_size (h = h~ W_hr^T) is offered: the LSTM's alone
    num_states = 1
    fold_recurrent_bias = True
    cell_class: type = None      # the one-step cell of this kind (rnnkit.cells), set by each layer
    kernels = ""                 # the package of the kind's kernels ("rnnkit.cells.lstm"), set by each layer
    has_recurrent_weights = True     # False for kinds whose gates read x alone (minGRU, minLSTM): no W_hh, no b_hh

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 dtype: Any = np.float32, seed: Any = None, *, locked_input_dropout: float = 0.0,
                 locked_dropout: float = 0.0, weight_drop: float = 0.0, zoneout: float = 0.0,
                 zoneout_cell: float = 0.0, learn_initial_state: bool = False):
        super().__init__(dtype=dtype, seed=seed)
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.bias = bool(bias)
        self.dropout = check_probability(dropout, "dropout")
        self.bidirectional = bool(bidirectional)
        self.proj_size = check_positive_int(proj_size, "proj_size", minimum=0)
        if self.proj_size and not self.projects:
            raise TypeError(f"{type(self).__name__} got an unexpected keyword argument 'proj_size' (only the LSTM "
                            f"projects h; got proj_size={self.proj_size})")
        if self.proj_size >= self.hidden_size:
            raise ValueError(f"proj_size must be smaller than hidden_size ({self.hidden_size}), got {self.proj_size}")
        self.num_directions = 2 if self.bidirectional else 1
        self.output_size = self.proj_size or self.hidden_size   # P, the width of h
        self.record_hidden_grads = False
        self.hidden_grads: list[list[np.ndarray]] | None = None
        self._cache: Any = None
        self.workspace = Workspace()     # the work arrays of forward and backward, named by role
        self.weights: list[list[DirectionWeights]] = []
        self._check_regularisers(locked_input_dropout, locked_dropout, weight_drop, zoneout, zoneout_cell,
                                 learn_initial_state)
        self.fixed_masks: dict | None = None     # key -> 0/1 pattern replacing a drawn mask (tests)
        self.last_masks: dict = {}               # key -> the bool pattern each regulariser used last
        self._create_parameters()

    def _parameter_shapes(self, layer_input: int) -> dict[str, tuple[tuple[int, ...], float | None]]:
        """The parameters of one layer and direction whose input has width ``layer_input``:
        name (without the ``_l{k}`` suffix) -> (shape, init), in registration order; init None
        is uniform in (-1/sqrt(H), 1/sqrt(H)), a number fills the parameter with it.

        This is PyTorch's set and order; a kind with other parameters (minGRU, layer norm)
        returns its own, and then also overrides ``_accumulate_weight_grads``.
        """
        gates_rows = self.num_gates * self.hidden_size
        shapes = {"weight_ih": ((gates_rows, layer_input), None)}
        if self.has_recurrent_weights:
            shapes["weight_hh"] = ((gates_rows, self.output_size), None)
        if self.bias:
            shapes["bias_ih"] = ((gates_rows,), None)
            if self.has_recurrent_weights:
                shapes["bias_hh"] = ((gates_rows,), None)
        if self.proj_size:
            shapes["weight_hr"] = ((self.proj_size, self.hidden_size), None)
        return shapes

    def _create_parameters(self) -> None:
        """Register ``weight_ih_l{k}{sfx}`` etc. (:meth:`_parameter_shapes`) and initialise them."""
        bound = 1.0 / np.sqrt(self.hidden_size)
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.num_directions * self.output_size
            per_direction = []
            for direction in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                weights = DirectionWeights()
                for name, (shape, init) in self._parameter_shapes(layer_input).items():
                    values = uniform_init(self.rng, shape, bound, self.dtype) if init is None \
                        else np.full(shape, init, dtype=self.dtype)
                    parameter = Parameter(values)
                    weights.add(name, parameter)
                    setattr(self, name + suffix, parameter)
                per_direction.append(weights)
            self.weights.append(per_direction)
        if self.learn_initial_state:                 # (L*K, width) each, zeros: the usual start at first
            for name, width in zip(("initial_h", "initial_c"), self._state_widths()):
                shape = (self.num_layers * self.num_directions, width)
                setattr(self, name, Parameter(np.zeros(shape, dtype=self.dtype)))

    def step_cell(self, layer: int = 0, direction: int = 0):
        """A one-step cell that computes one time step of ``layer`` (and ``direction``) with this
        layer's own Parameters, not copies: what generation and decoders step token by token.

        The cell's ``weight_ih`` is this layer's ``weight_ih_l{layer}`` (and so on); training the
        layer changes the cell, and the cell's gradients accumulate into the layer's Parameters.
        An LSTM with ``proj_size`` has no one-step cell and is refused.

        >>> from rnnkit import LSTM
        >>> lstm = LSTM(3, 4, num_layers=2, seed=0)
        >>> cell = lstm.step_cell(1)
        >>> cell.weight_hh is lstm.weight_hh_l1, cell.input_size
        (True, 4)
        """
        if self.proj_size:
            raise ValueError(f"{type(self).__name__} with proj_size={self.proj_size} has no one-step cell "
                             f"(the cells have no projection)")
        for name, value, count in (("layer", layer, self.num_layers), ("direction", direction, self.num_directions)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < count:
                raise ValueError(f"{name} must be an int in [0, {count}), got {value!r}")
        return self._cell_for(self.weights[layer][direction])

    def _cell_for(self, weights: DirectionWeights):
        """A one-step cell of this kind that computes with ``weights``' Parameters."""
        cell = self.cell_class(weights.weight_ih.shape[1], self.hidden_size, bias=self.bias, dtype=self.dtype,
                               seed=0, **self._cell_options())
        cell.share_parameters(**weights.named())
        return cell

    def _cell_options(self) -> dict[str, Any]:
        """Constructor options of the matching one-step cell beyond the sizes (RNN: nonlinearity)."""
        return {}

    def _base_config(self) -> dict[str, Any]:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "bias": self.bias, "dropout": self.dropout, "bidirectional": self.bidirectional,
                **self._regulariser_config()}

    # --- shapes of states ---------------------------------------------------------------
    def _state_widths(self) -> tuple[int, ...]:
        """Width of each state: (P,) or, for LSTM, (P, H)."""
        return (self.output_size, self.hidden_size)[: self.num_states]

    def _check_states(self, states: tuple, batch: int, names: tuple[str, ...]) -> tuple[np.ndarray, ...]:
        """Each initial state or state gradient as (L*K, B, width), zeros where None."""
        checked = []
        for state, width, name in zip(states, self._state_widths(), names):
            shape = (self.num_layers * self.num_directions, batch, width)
            if state is None:
                checked.append(np.zeros(shape, dtype=self.dtype))
            else:
                checked.append(as_float_array(state, name, self.dtype, shape, "(num_layers * num_directions, B, H)"))
        return tuple(checked)

    def check_state_gradient(self, d_state: Any, batch: int) -> None:
        """Raise the error ``backward`` would raise for ``d_state``, computing nothing.

        For a model whose backward runs other modules first (a head adds its gradients): it
        checks here, so that a bad ``d_state`` changes no gradient.
        """
        if self.num_states == 1:
            parts = (d_state,)
        else:
            from rnnkit.cells.lstm.cell import _split_state
            parts = (None, None) if d_state is None else _split_state(d_state)
        self._check_states(parts, batch, ("dh_n", "dc_n")[: self.num_states])

    def _check_lengths(self, lengths: Any, batch: int, steps: int) -> np.ndarray | None:
        if lengths is None:
            return None
        array = as_index_array(lengths, "lengths")
        if array.shape != (batch,):
            raise ValueError(f"lengths must have shape ({batch},), one per sequence in the batch, got {array.shape}")
        if np.any(array < 1) or np.any(array > steps):
            bad = array[(array < 1) | (array > steps)][0]
            raise ValueError(f"lengths must lie in [1, T={steps}], got {bad}")
        return array

    # --- forward ------------------------------------------------------------------------
    def forward(self, x: Any, h0: Any = None, lengths: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """``y (B, T, K*H), h_n (L*K, B, H)`` from ``x (B, T, D)``, ``h0 (L*K, B, H)`` or None
        (zeros) and ``lengths (B,)`` or None. (The LSTM, whose state is (h, c), has its own.)"""
        y, (h_n,) = self._forward(x, (h0,), lengths, ("h0",))
        return y, h_n

    def backward(self, dy: Any, dh_n: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """``dx (B, T, D), dh0 (L*K, B, H)`` from ``dy`` (the shape of y) and ``dh_n`` or None."""
        dx, (dh0,) = self._backward(dy, (dh_n,), ("dh_n",))
        return dx, dh0

    def _forward(self, x: Any, initial_states: tuple, lengths: Any, state_names: tuple[str, ...]):
        """Shared forward: returns y (B, T, K*P) and the final states, each (L*K, B, width)."""
        x = as_float_array(x, "x", self.dtype, (None, None, self.input_size), "(B, T, D)")
        batch, steps, _ = x.shape
        if batch == 0 or steps == 0:
            raise ValueError(f"x must have at least one sequence and one step, got shape {x.shape}")
        initial = self._check_states(initial_states, batch, state_names)
        learned = self._use_initial_parameters(initial_states, initial)
        lengths = self._check_lengths(lengths, batch, steps)
        invalid = None if lengths is None else (np.arange(steps)[:, None] >= lengths[None, :])[:, :, None]  # (T, B, 1)
        self._cache = None                           # a new forward replaces the last one's cache
        self.last_masks = {}
        training = is_grad_enabled()                 # False under rnnkit.no_grad(): no cache, batch-major
        kernel = compiled.kernel(self.kernels)       # chosen once per call
        stepped = bool(self.zoneout or self.zoneout_cell)   # zoneout: the cell's step loop in place of the kernel
        work = self.workspace
        if training:                                 # (T, B, D): the cache's layout, never the caller's array
            layer_input = work.array(("input",), (steps, batch, self.input_size), self.dtype)
            np.copyto(layer_input, x.transpose(1, 0, 2))
        else:                                        # (B, T, D) as it lies, read only
            layer_input = np.ascontiguousarray(x)
        width = self.num_directions * self.output_size
        finals = [np.empty_like(state) for state in initial]
        caches, inputs, dropout_masks, used_weights, weight_masks = [], [], [], [], []
        for layer in range(self.num_layers):
            mask = self._input_mask(layer, (steps, batch, layer_input.shape[2]))     # (T or 1, B, W) in both layouts
            if mask is not None:
                layer_input = layer_input * (mask if training else mask.transpose(1, 0, 2))
            dropout_masks.append(mask)
            inputs.append(layer_input)
            # The last layer writes straight into y (B, T, K*P), the caller's; without a cache every
            # layer's output is batch-major.
            batch_major = layer == self.num_layers - 1 or not training
            shape = (batch, steps, width) if batch_major else (steps, batch, width)
            output = work.array(("output", layer), shape, self.dtype)
            layer_caches, layer_weights, layer_weight_masks = [], [], []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                reverse = direction == 1
                weights, weight_mask = self._forward_weights(layer, direction)
                step_invalid = None if invalid is None else (invalid[::-1] if reverse else invalid)
                start = tuple(state[index] for state in initial)
                states = None                        # (T+1, B, P) processing order, where the path keeps them
                if stepped:
                    # Zoneout mixes states between steps, so it runs the cell's step loop: a regulariser
                    # of training, where one generic loop for every kind beats speed.
                    sequences = tuple(np.empty((steps + 1, batch, state_width), dtype=self.dtype)
                                      for state_width in self._state_widths())            # (T+1, B, W) each
                    states = sequences[0]
                    zone = self._zoneout_fractions(layer, direction, step_invalid, (steps, batch))
                    cell = self._cell_for(weights)
                    time_major = layer_input if training else layer_input.transpose(1, 0, 2)   # (T, B, D_in)
                    final, step_caches = zoneout_forward(cell, time_major, reverse, start, zone, sequences)
                    direction_cache = ZoneoutCache(states, reverse, cell, step_caches, zone, weights, sequences[1:])
                elif training:
                    xw = self._project_inputs(layer_input, weights, ("xw", layer, direction))  # (T, B, G*H)
                    states, final, extra = kernel.forward(self, xw, reverse, weights, start, step_invalid,
                                                          work.scope(layer, direction))
                    direction_cache = DirectionCache(states, extra, reverse, kernel)
                    if not any(np.may_share_memory(xw, part) for part in extra if part is not None):
                        work.release(("xw", layer, direction))   # not in the cache (RNN): freed now, not kept
                else:
                    xw = self._project_inputs(layer_input, weights, ("xw", layer, direction))  # (B, T, G*H)
                    final = kernel.inference(self, xw, reverse, weights, start, step_invalid, output,
                                             direction * self.output_size)
                if states is not None:
                    columns = slice(direction * self.output_size, (direction + 1) * self.output_size)
                    target = output[:, :, columns]
                    target = target.transpose(1, 0, 2) if batch_major else target                # (T, B, P)
                    target[...] = states[1:][::-1] if reverse else states[1:]                      # time order
                if training:
                    layer_caches.append(direction_cache)
                layer_weights.append(weights)
                layer_weight_masks.append(weight_mask)
                for target_state, value in zip(finals, final):
                    target_state[index] = value
            if invalid is not None:                                                # outputs past a length are zero
                np.copyto(output, 0.0, where=invalid.transpose(1, 0, 2) if batch_major else invalid)
            caches.append(layer_caches)
            used_weights.append(layer_weights)
            weight_masks.append(layer_weight_masks)
            layer_input = output
        self._cache = self._keep({"inputs": inputs, "caches": caches, "masks": dropout_masks, "invalid": invalid,
                                  "shape": (batch, steps), "weights": used_weights, "weight_masks": weight_masks,
                                  "learned": learned})
        return layer_input, tuple(finals)                                      # y: (B, T, K*P)

    def _dropout_mask(self, layer: int, shape: tuple) -> np.ndarray | None:
        """The dropout mask of a layer's input (T, B, W) in training, kept units scaled by 1/(1-p);
        None for the first layer, in eval mode, or without dropout."""
        if layer == 0 or not self.training or self.dropout == 0:
            return None
        keep_probability = 1.0 - self.dropout
        return (self.rng.random(shape) < keep_probability).astype(self.dtype) / self.dtype.type(keep_probability)

    def _project_inputs(self, layer_input: np.ndarray, weights: DirectionWeights, role: tuple) -> np.ndarray:
        """``x W_ih^T`` for all steps and rows, without biases (the kernels add them in their
        steps), in the layout of layer_input: (T, B, G*H) from (T, B, D_in), or (B, T, G*H)
        from (B, T, D_in)."""
        first, second, features = layer_input.shape
        xw = self.workspace.array(role, (first * second, weights.weight_ih.shape[0]), self.dtype)
        np.matmul(layer_input.reshape(first * second, features), weights.weight_ih.data.T, out=xw)
        return xw.reshape(first, second, -1)

    # --- backward -----------------------------------------------------------------------
    def _backward(self, dy: Any, final_grads: tuple, grad_names: tuple[str, ...]):
        """Shared backward: returns dx (B, T, D) and the initial-state gradients."""
        cache = self._require_cache(self._cache)
        batch, steps = cache["shape"]
        dy = as_float_array(dy, "dy", self.dtype, (batch, steps, self.num_directions * self.output_size),
                            "(B, T, num_directions * H), the shape of y")
        d_finals = self._check_states(final_grads, batch, grad_names)
        invalid = cache["invalid"]
        valid = None if invalid is None else (~invalid).astype(self.dtype)                # (T, B, 1)
        d_output = dy.transpose(1, 0, 2)                                                   # (T, B, K*P)
        d_initial = [np.empty_like(d) for d in d_finals]
        hidden_grads = [[None] * self.num_directions for _ in range(self.num_layers)]
        work = self.workspace
        for layer in reversed(range(self.num_layers)):
            layer_input = cache["inputs"][layer]
            d_input = None                                   # dL/d(layer input), (T, B, D_in)
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                weights = cache["weights"][layer][direction]     # the layer's, or with W_hh masked (weight drop)
                direction_cache = cache["caches"][layer][direction]
                if direction_cache.consumed:                 # a second backward of one forward
                    direction_cache = self._rebuild_direction_cache(cache, layer, direction)
                reverse = direction_cache.reverse
                columns = slice(direction * self.output_size, (direction + 1) * self.output_size)
                d_states = d_output[:, :, columns]
                if valid is not None:
                    d_states = d_states * valid              # outputs past a length are constants
                # A (T, B, P) array of our own in processing order: the loop adds to it in place.
                from_outputs = d_states[::-1] if reverse else d_states
                d_states = work.array(("d_states",), from_outputs.shape, self.dtype)
                np.copyto(d_states, from_outputs)
                d_states[-1] += d_finals[0][index]
                d_final_extra = tuple(d[index] for d in d_finals[1:])
                if isinstance(direction_cache, ZoneoutCache):   # the cell's steps added the parameter gradients
                    d_gi = None
                    dx, d_init = zoneout_backward(direction_cache, d_states, d_final_extra, layer_input.shape[2])
                else:
                    step_invalid = None if invalid is None else (invalid[::-1] if reverse else invalid)
                    d_gi, d_gh, d_init = direction_cache.kernel.backward(
                        self, direction_cache, weights, d_states, d_final_extra, step_invalid)
                    direction_cache.consumed = True          # its gate cache now holds gradients
                    self._accumulate_weight_grads(weights, direction_cache.states, layer_input, d_gi, d_gh, reverse)
                    del d_gh
                self._mask_weight_drop_grad(weights, cache["weight_masks"][layer][direction], layer, direction)
                for target, value in zip(d_initial, d_init):
                    target[index] = value
                if self.record_hidden_grads:
                    ordered = d_states[::-1] if reverse else d_states
                    hidden_grads[layer][direction] = np.ascontiguousarray(ordered.transpose(1, 0, 2))
                if d_states is not d_gi:                     # it dies before dx: freed with it, not kept resident
                    work.release(("d_states",))
                del d_states                                 # free it before the dx product (peak memory)
                if layer == 0 and self.num_directions == 1:  # straight into the caller's (B, T, D) layout
                    if d_gi is not None:
                        dx = self._input_grads_batch_first(d_gi, weights)
                    else:                                    # the steps' dx (T, B, D) in time order
                        time_major = dx
                        dx = work.array(("dx",), (batch, steps, time_major.shape[2]), self.dtype)
                        np.copyto(dx, time_major.transpose(1, 0, 2))
                    if cache["masks"][0] is not None:
                        dx *= cache["masks"][0].transpose(1, 0, 2)
                    return self._finish_backward(cache, dx, d_initial, hidden_grads)
                if d_gi is not None:
                    dx = d_gi.reshape(steps * batch, -1) @ weights.weight_ih.data
                    dx = dx.reshape(steps, batch, -1)
                dx = dx[::-1] if reverse else dx
                if d_input is None:                          # the first direction's part is the sum so far
                    d_input = dx
                else:
                    d_input += dx
            if cache["masks"][layer] is not None:
                d_input *= cache["masks"][layer]
            d_output = d_input
        dx = work.array(("dx",), (batch, steps, d_output.shape[2]), self.dtype)         # (B, T, D)
        np.copyto(dx, d_output.transpose(1, 0, 2))
        return self._finish_backward(cache, dx, d_initial, hidden_grads)

    def _finish_backward(self, cache: dict, dx: np.ndarray, d_initial: list, hidden_grads: list):
        """Keep the recorded hidden gradients, add the learned initial states' gradients
        (d_initial summed over the batch) and return ``(dx, d_initial)``."""
        self.hidden_grads = hidden_grads if self.record_hidden_grads else None
        for use, parameter, d_state in zip(cache["learned"], self._initial_parameters(), d_initial):
            if use:
                parameter.grad += d_state.sum(axis=1)                          # (L*K, width)
        return dx, tuple(d_initial)

    def _input_grads_batch_first(self, d_gi: np.ndarray, weights: DirectionWeights, chunks: int = 8) -> np.ndarray:
        """``dx = d_gi W_ih`` as (B, T, D) from d_gi (T, B, G*H) in time order.

        The product runs on a few blocks of steps, each transposed into place, so that no
        second (T, B, D) array exists next to the result.
        """
        steps, batch, _ = d_gi.shape
        w_ih = weights.weight_ih.data                                     # (G*H, D)
        dx = self.workspace.array(("dx",), (batch, steps, w_ih.shape[1]), d_gi.dtype)   # (B, T, D)
        block = -(-steps // chunks)
        scratch = np.empty((block, batch, w_ih.shape[1]), dtype=d_gi.dtype)
        for start in range(0, steps, block):
            stop = min(start + block, steps)
            part = scratch[:stop - start]                                 # (t, B, D)
            np.matmul(d_gi[start:stop].reshape(-1, d_gi.shape[2]), w_ih, out=part.reshape(-1, w_ih.shape[1]))
            dx[:, start:stop] = part.transpose(1, 0, 2)
        return dx

    def _rebuild_direction_cache(self, cache: dict, layer: int, direction: int) -> DirectionCache:
        """Re-run one direction's forward, with the kernel that wrote its cache, from the cached
        input and initial state.

        A backward writes its gradients over the gate cache (saving a (T, B, G*H) array); a
        second backward of the same forward (diagnostics do that) rebuilds the cache here.
        The rebuilt states must equal the cached ones bit for bit; they differ only if the
        weights changed since forward, which is an error, as in PyTorch.
        """
        old = cache["caches"][layer][direction]
        weights = cache["weights"][layer][direction]
        xw = self._project_inputs(cache["inputs"][layer], weights, ("xw", layer, direction))   # (T, B, G*H)
        invalid = cache["invalid"]
        step_invalid = None if invalid is None else (invalid[::-1] if old.reverse else invalid)
        states, _, extra = old.kernel.forward(self, xw, old.reverse, weights, self._initial_states_of(old),
                                              step_invalid, self.workspace.scope(layer, direction))
        if not np.array_equal(states, old.states):
            raise ValueError(f"{type(self).__name__}.backward called again after the weights changed since "
                             f"forward: call forward again")
        rebuilt = DirectionCache(old.states, extra, old.reverse, old.kernel)
        cache["caches"][layer][direction] = rebuilt
        return rebuilt

    def _initial_states_of(self, direction_cache: DirectionCache) -> tuple:
        """The initial states (B, width) a direction's forward started from."""
        return (direction_cache.states[0],)

    def _accumulate_weight_grads(self, weights: DirectionWeights, states: np.ndarray, layer_input: np.ndarray,
                                 d_gi: np.ndarray, d_gh: np.ndarray, reverse: bool) -> None:
        """One product each: dW_ih += d_gi^T x, dW_hh += d_gh^T h_prev (all steps and rows).

        A kind without W_hh (minGRU, minLSTM: d_gh is None) has only the first and b_ih."""
        x_in = layer_input[::-1] if reverse else layer_input          # processing order, like d_gi
        add_product(weights.weight_ih.grad, d_gi, x_in)
        if weights.weight_hh is not None:
            add_product(weights.weight_hh.grad, d_gh, states[:-1])
        if weights.bias_ih is not None:
            d_bias_ih = d_gi.sum(axis=(0, 1))
            weights.bias_ih.grad += d_bias_ih
            if weights.bias_hh is not None:
                weights.bias_hh.grad += d_bias_ih if self.fold_recurrent_bias else d_gh.sum(axis=(0, 1))
