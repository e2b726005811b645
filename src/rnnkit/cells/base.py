"""What the three single-step cells share: parameters, initialisation and input checks.

Glossary: B batch, D input features, H hidden units, G gates (1 RNN, 4 LSTM, 3 GRU).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from rnnkit import compiled
from rnnkit._validate import as_float_array, check_positive_int
from rnnkit.module import Module, Parameter


def uniform_init(rng: np.random.Generator, shape: tuple[int, ...], bound: float, dtype: np.dtype) -> np.ndarray:
    """Values uniform in (-bound, bound): PyTorch's default for every recurrent parameter."""
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


class RecurrentCell(Module):
    """One time step of a recurrent network, with PyTorch's parameter names.

    Parameters ``weight_ih`` (G*H, D), ``weight_hh`` (G*H, H), ``bias_ih`` (G*H,) and
    ``bias_hh`` (G*H,), initialised uniform in (-1/sqrt(H), 1/sqrt(H)). ``forward`` keeps an
    explicit cache of the activations of the last call and ``backward`` uses it; a cell keeps
    no other state between calls.

    When ``fuse_products`` is True (RNN and LSTM cells, where the two products are summed),
    ``weight_ih`` and ``weight_hh`` are column views of one (G*H, D+H) array, so that a step
    does ONE matrix product ``[x, h] @ [W_ih, W_hh]^T`` (for B = 1 one matrix-vector product
    that is big enough for BLAS to use all its threads). The Parameters behave as before;
    :meth:`share_parameters` (a layer's ``step_cell``) makes the cell use another module's
    Parameters, and it then does the two products separately. (A cell whose weights were
    replaced by hand notices too.)
    """

    num_gates = 1
    fuse_products = False
    kernels = ""            # the package of the cell kind's kernels (rnnkit.cells.lstm ...), set by each cell
    has_recurrent_weights = True    # False for kinds whose gates read x alone (minGRU, minLSTM): no W_hh, no b_hh

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = np.float32, seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.bias = bool(bias)
        self.config = {"input_size": self.input_size, "hidden_size": self.hidden_size, "bias": self.bias}
        bound = 1.0 / np.sqrt(self.hidden_size)
        for name, (shape, init) in self._parameter_shapes().items():
            values = uniform_init(self.rng, shape, bound, self.dtype) if init is None \
                else np.full(shape, init, dtype=self.dtype)
            setattr(self, name, Parameter(values))
        self._fused: np.ndarray | None = None
        if self.fuse_products:
            self._fused = np.concatenate((self.weight_ih.data, self.weight_hh.data), axis=1)  # (G*H, D+H)
            self.weight_ih.data = self._fused[:, :self.input_size]
            self.weight_hh.data = self._fused[:, self.input_size:]
        self._cache: Any = None

    def _parameter_shapes(self) -> dict[str, tuple[tuple[int, ...], float | None]]:
        """The cell's parameters: name -> (shape, init), in registration order; init None is
        uniform in (-1/sqrt(H), 1/sqrt(H)), a number fills the parameter with it. PyTorch's four
        here; a kind with other parameters (minGRU, layer norm) returns its own."""
        rows = self.num_gates * self.hidden_size
        shapes = {"weight_ih": ((rows, self.input_size), None)}
        if self.has_recurrent_weights:
            shapes["weight_hh"] = ((rows, self.hidden_size), None)
        if self.bias:
            shapes["bias_ih"] = ((rows,), None)
            if self.has_recurrent_weights:
                shapes["bias_hh"] = ((rows,), None)
        return shapes

    # --- a step with its cache kept on the cell (forward/backward) or handed back (step) -------
    def forward(self, x: Any, h: Any = None) -> np.ndarray:
        """h' (B, H) from x (B, D) and h (B, H) or None (zeros); the cache stays on the cell.
        (The LSTM cell, whose state is (h, c), has its own.)"""
        h_new, self._cache = self.step(x, h)
        return h_new

    def backward(self, dh_new: Any) -> tuple[np.ndarray, np.ndarray]:
        """(dx (B, D), dh (B, H)) from dL/dh' (B, H), for the last ``forward``."""
        return self.backward_step(self._cache, dh_new)

    def step(self, x: Any, h: Any = None) -> tuple[Any, Any]:
        """``forward`` with its cache returned instead of kept: ``(new state, cache)``."""
        raise NotImplementedError

    def backward_step(self, cache: Any, *grads: Any) -> tuple[np.ndarray, Any]:
        """``backward`` of the step that returned ``cache``: ``(dx, d_state)``."""
        raise NotImplementedError

    def share_parameters(self, weight_ih: Parameter | None = None, weight_hh: Parameter | None = None,
                         bias_ih: Parameter | None = None, bias_hh: Parameter | None = None,
                         **others: Parameter | None) -> None:
        """Use these Parameters (a layer's, for one of its layers) in place of the cell's own.

        Shapes must be the cell's (:meth:`_parameter_shapes`): for PyTorch's cells weight_ih
        (G*H, D), weight_hh (G*H, H), biases (G*H,), and biases given exactly when the cell has
        them; a name the cell has no parameter of must be None. The products then run
        separately (the weights no longer lie in one fused array).
        """
        given = {"weight_ih": weight_ih, "weight_hh": weight_hh, "bias_ih": bias_ih, "bias_hh": bias_hh, **others}
        expected = {name: shape for name, (shape, _) in self._parameter_shapes().items()}
        for name in expected:
            given.setdefault(name, None)
        for name, parameter in given.items():
            shape = None if parameter is None else getattr(parameter, "shape", None)
            if name not in expected:
                if parameter is not None:
                    reason = "a cell with bias=False" if not self.bias and "bias" in name \
                        else f"{type(self).__name__}, which has no such parameter"
                    raise ValueError(f"{name} must be None for {reason}, got a Parameter")
                continue
            if not isinstance(parameter, Parameter) or shape != expected[name] or parameter.data.dtype != self.dtype:
                raise ValueError(f"{name} must be a {np.dtype(self.dtype).name} Parameter of shape {expected[name]}, "
                                 f"got {type(parameter).__name__}"
                                 + ("" if shape is None else f" of shape {shape}"))
        self._fused = None
        for name, parameter in given.items():
            if parameter is not None:
                setattr(self, name, parameter)

    def _steps_compiled(self, x: Any, *states: Any) -> bool:
        """Whether a step can run as one compiled call: fused weights, compiled loops on, and
        x (B, D) and every state (B, H) already ndarrays of our dtype (finiteness is checked
        inside that call)."""
        fused = self._fused
        if (fused is None or self.weight_ih.data.base is not fused or self.weight_hh.data.base is not fused
                or type(x) is not np.ndarray or x.dtype != self.dtype or x.ndim != 2
                or x.shape[1] != self.input_size):
            return False
        expected = (x.shape[0], self.hidden_size)
        for state in states:
            if type(state) is not np.ndarray or state.dtype != self.dtype or state.shape != expected:
                return False
        return compiled.enabled()

    def _fast_checked(self, array: Any, width: int, batch: int | None) -> np.ndarray | None:
        """``array`` itself when it already is a finite ndarray of our dtype and shape, else None.

        The cheap path of the input checks, for per-step calls: a shape/dtype comparison and
        one sum (non-finite if any element is NaN or infinite; a finite sum that overflows
        only sends the array to the full check).
        """
        if (type(array) is np.ndarray and array.dtype == self.dtype and array.ndim == 2
                and array.shape[1] == width and (batch is None or array.shape[0] == batch)
                and np.isfinite(np.add.reduce(array, axis=None))):
            return array
        return None

    def _check_input(self, x: Any) -> np.ndarray:
        fast = self._fast_checked(x, self.input_size, None)
        if fast is not None:
            return fast
        return as_float_array(x, "x", self.dtype, (None, self.input_size), "(B, D)")

    def _check_state(self, state: Any, name: str, batch: int) -> np.ndarray:
        if state is None:
            return np.zeros((batch, self.hidden_size), dtype=self.dtype)
        fast = self._fast_checked(state, self.hidden_size, batch)
        if fast is not None:
            return fast
        return as_float_array(state, name, self.dtype, (batch, self.hidden_size), "(B, H)")

    def _check_grad(self, grad: Any, name: str, batch: int) -> np.ndarray:
        if grad is None:
            return np.zeros((batch, self.hidden_size), dtype=self.dtype)
        return as_float_array(grad, name, self.dtype, (batch, self.hidden_size), "(B, H)")

    def _kernel(self):
        """The kernel module of this step (:func:`rnnkit.compiled.kernel`), chosen once per call."""
        return compiled.kernel(self.kernels)

    def _bias(self) -> np.ndarray:
        """``b_ih + b_hh`` (G*H,), zeros without biases: what cells that sum the two products add."""
        if not self.bias:
            return np.zeros(self.num_gates * self.hidden_size, dtype=self.dtype)
        return self.bias_ih.data + self.bias_hh.data

    def _products(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``x W_ih^T + h W_hh^T`` (B, G*H) without biases, for cells that sum the two products."""
        fused = self._fused
        if fused is not None and self.weight_ih.data.base is fused and self.weight_hh.data.base is fused:
            return np.concatenate((x, h), axis=1) @ fused.T       # one product for both
        gi, gh = self._linear_parts(x, h)
        gi += gh
        return gi

    def _linear_parts(self, x: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(x W_ih^T, h W_hh^T)``, each (B, G*H), without biases."""
        return x @ self.weight_ih.data.T, h @ self.weight_hh.data.T

    def _accumulate_grads(self, x: np.ndarray, h: np.ndarray, d_gi: np.ndarray, d_gh: np.ndarray) -> np.ndarray:
        """Add the parameter gradients of ``_linear_parts`` and return dL/dx (B, D).

        Inside :meth:`deferred_grads` the four arrays are kept and added later, in one product.
        """
        deferred = self.__dict__.get("_deferred")
        if deferred is not None:
            deferred.append((x, h, d_gi, d_gh))
            return d_gi @ self.weight_ih.data
        self.weight_ih.grad += d_gi.T @ x
        self.weight_hh.grad += d_gh.T @ h
        if self.bias:
            self.bias_ih.grad += d_gi.sum(axis=0)
            self.bias_hh.grad += d_gh.sum(axis=0)
        return d_gi @ self.weight_ih.data

    @contextmanager
    def deferred_grads(self) -> Iterator[None]:
        """Within the block, ``backward_step`` adds its parameter gradients only when the block ends.

        A loop that steps the cell itself (a decoder with input feeding) then takes
        ``dW_ih += sum_t d_gi_t^T x_t`` and ``dW_hh += sum_t d_gh_t^T h_t`` as one product each
        over all its steps, (G*H, sum B) x (sum B, D), instead of one thin product per step.
        The sums are the same; only their rounding order differs.
        """
        if self.__dict__.get("_deferred") is not None:
            raise RuntimeError(f"{type(self).__name__}.deferred_grads is already active")
        self.__dict__["_deferred"] = deferred = []
        try:
            yield
        finally:
            self.__dict__["_deferred"] = None
        if deferred:
            x, h = np.concatenate([step[0] for step in deferred]), np.concatenate([step[1] for step in deferred])
            d_gi = np.concatenate([step[2] for step in deferred])                  # (sum B, G*H)
            shared = all(step[2] is step[3] for step in deferred)                  # RNN, LSTM: one d_gates
            d_gh = d_gi if shared else np.concatenate([step[3] for step in deferred])
            self._accumulate_grads(x, h, d_gi, d_gh)

    def _input_bias(self) -> np.ndarray:
        """b_ih, zeros without biases."""
        return self.bias_ih.data if self.bias else np.zeros(self.num_gates * self.hidden_size, dtype=self.dtype)

    def _accumulate_input_grads(self, x: np.ndarray, d_gates: np.ndarray) -> np.ndarray:
        """For cells whose gates read x alone (no ``weight_hh``): add the gradients of
        ``weight_ih`` and ``bias_ih`` and return dL/dx (B, D)."""
        self.weight_ih.grad += d_gates.T @ x
        if self.bias:
            self.bias_ih.grad += d_gates.sum(axis=0)
        return d_gates @ self.weight_ih.data
