"""The optimiser base class: parameter bookkeeping, ``step``, ``zero_grad`` and state dicts.

An optimiser holds a list of :class:`~rnnkit.module.Parameter` objects, a dict of
hyper-parameters (checked at construction) and per-parameter state keyed by the
parameter's index in that list. Subclasses implement three small hooks:

- ``_check_hyperparameters(hyper)``: validate and normalise the hyper-parameter dict;
- ``_state_names(hyper)``: the names of the per-parameter state entries;
- ``_update(parameter, state, hyper)``: apply one update to ``parameter.data`` in place.

Per-parameter state is created lazily, on the first step that updates the parameter, as in
PyTorch. Parameters with ``requires_grad=False`` (or a ``grad`` of ``None``) are skipped.

Every update happens in place: ``parameter.data`` stays the same array object, because
layers hold references to it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

import numpy as np

from rnnkit._validate import check_probability
from rnnkit.module import Parameter

# Per-parameter state entries that are step counters (ints), not arrays.
COUNT_NAMES = ("step",)
STATE_DICT_KEYS = ("optimizer", "hyperparameters", "step_count", "num_parameters", "state")


# --- hyper-parameter checks ---------------------------------------------------------------
def check_non_negative(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite real number >= 0."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_unit_interval(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a real number in [0, 1]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_betas(betas: Any) -> tuple[float, float]:
    """Return ``betas`` as a pair of floats, each in [0, 1)."""
    if isinstance(betas, (str, bytes)) or not isinstance(betas, Iterable):
        raise ValueError(f"betas must be a pair (beta1, beta2) of numbers in [0, 1), got {betas!r}")
    pair = tuple(betas)
    if len(pair) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2) of numbers in [0, 1), got {len(pair)} values {betas!r}")
    return check_probability(pair[0], "betas[0]"), check_probability(pair[1], "betas[1]")


def lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start <- start + weight * (end - start)`` in place, rounded as ``torch.lerp`` rounds.

    PyTorch switches formula at ``weight = 0.5`` for accuracy; matching it keeps the
    parity tests at 1e-12 for every choice of betas / alpha.
    """
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1.0 - weight)


def _as_count(value: Any) -> int | None:
    """``value`` as a non-negative int (a Python or NumPy integer, or a 0-d integer array), else None."""
    array = np.asarray(value)
    if array.ndim != 0 or array.dtype == bool:
        return None
    if np.issubdtype(array.dtype, np.integer):
        count = int(array)
    elif np.issubdtype(array.dtype, np.floating) and np.isfinite(array) and float(array).is_integer():
        count = int(array)
    else:
        return None
    return count if count >= 0 else None


def _as_parameter_list(params: Any, owner: str) -> list[Parameter]:
    if isinstance(params, Parameter):
        raise TypeError(
            f"{owner} expects an iterable of Parameters, got a single Parameter: wrap it in a list, [parameter]"
        )
    if isinstance(params, (str, bytes, dict)) or not isinstance(params, Iterable):
        raise TypeError(
            f"{owner} expects an iterable of Parameters (e.g. model.parameters()), got {type(params).__name__}"
        )
    parameters = list(params)
    if not parameters:
        raise ValueError(f"{owner} got an empty parameter list: it needs at least one Parameter")
    seen: dict[int, int] = {}
    for index, parameter in enumerate(parameters):
        if not isinstance(parameter, Parameter):
            raise TypeError(f"{owner} expects Parameters, got {type(parameter).__name__} at position {index}")
        if id(parameter) in seen:
            raise ValueError(
                f"{owner} got the same Parameter twice (positions {seen[id(parameter)]} and {index}): "
                "it would be updated twice per step"
            )
        seen[id(parameter)] = index
    return parameters


class Optimizer:
    """Base class of the optimisers: holds the parameters, hyper-parameters and state.

    Parameters
    ----------
    params : iterable of Parameter
        The parameters to update, e.g. ``model.parameters()``. Must be non-empty and contain
        no duplicates. Their order fixes the indices of the per-parameter state.
    **hyperparameters
        Passed to the subclass's ``_check_hyperparameters``.

    Attributes
    ----------
    params : list of Parameter
    hyperparameters : dict
        The checked hyper-parameters. ``lr`` is also available as the ``lr`` property,
        which schedulers set.
    state : dict of int -> dict
        Per-parameter state (moment estimates, step counts, ...), keyed by the parameter's
        index in ``params``; empty until a step has updated that parameter.
    step_count : int
        How many times ``step()`` has been called.
    """

    def __init__(self, params: Iterable[Parameter], **hyperparameters: Any):
        self.params: list[Parameter] = _as_parameter_list(params, type(self).__name__)
        self.hyperparameters: dict[str, Any] = self._check_hyperparameters(hyperparameters)
        self.state: dict[int, dict[str, Any]] = {}
        self.step_count = 0

    # --- hooks for subclasses -----------------------------------------------------------
    @classmethod
    def _check_hyperparameters(cls, hyper: dict[str, Any]) -> dict[str, Any]:
        """Validate ``hyper`` and return it with normalised values (floats, bools, tuples)."""
        raise NotImplementedError(f"{cls.__name__} does not implement _check_hyperparameters")

    @classmethod
    def _state_names(cls, hyper: dict[str, Any]) -> tuple[str, ...]:
        """Names of the per-parameter state entries under these hyper-parameters."""
        raise NotImplementedError(f"{cls.__name__} does not implement _state_names")

    def _init_state(self, parameter: Parameter) -> dict[str, Any]:
        """Fresh state for a parameter's first update; subclasses override."""
        return {}

    def _update(self, parameter: Parameter, state: dict[str, Any], hyper: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement _update")

    # --- learning rate ------------------------------------------------------------------
    @property
    def lr(self) -> float:
        """The learning rate; settable (schedulers set it between steps)."""
        return self.hyperparameters["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        self.hyperparameters["lr"] = check_non_negative(value, "lr")

    # --- the update ---------------------------------------------------------------------
    def _trainable(self) -> list[tuple[int, Parameter]]:
        return [
            (index, parameter)
            for index, parameter in enumerate(self.params)
            if parameter.requires_grad and parameter.grad is not None
        ]

    def step(self) -> None:
        """Update every trainable parameter once from its current ``grad``.

        All gradient shapes, and the shapes of the state kept from earlier steps (a parameter
        reshaped since then), are checked before anything is updated.
        """
        trainable = self._trainable()
        for index, parameter in trainable:
            if parameter.grad.shape != parameter.data.shape:
                raise ValueError(
                    f"{type(self).__name__}.step: parameter {index} has shape {parameter.data.shape} "
                    f"but its grad has shape {parameter.grad.shape}"
                )
            for name, value in (self.state.get(index) or {}).items():
                if isinstance(value, np.ndarray) and value.shape != parameter.data.shape:
                    raise ValueError(
                        f"{type(self).__name__}.step: parameter {index} has shape {parameter.data.shape} but its "
                        f"state {name!r} from earlier steps has shape {value.shape} (was the parameter reshaped or "
                        f"replaced?); no parameter was updated"
                    )
        for index, parameter in trainable:
            state = self.state.get(index)
            if state is None:
                state = self._init_state(parameter)
                self.state[index] = state
            self._update(parameter, state, self.hyperparameters)
        self.step_count += 1

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to zero, in place."""
        for parameter in self.params:
            if parameter.grad is not None:
                parameter.zero_grad()

    # --- state --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the optimiser: plain dicts of numbers and copied arrays.

        Returns
        -------
        dict
            ``optimizer`` (class name), ``hyperparameters`` (dict), ``step_count`` (int),
            ``num_parameters`` (int) and ``state``: parameter index -> dict of state name ->
            array copy (or int for ``step``). Parameters not yet updated have no entry.
        """
        state = {}
        for index, entries in self.state.items():
            if entries:
                state[index] = {
                    name: (value.copy() if isinstance(value, np.ndarray) else value) for name, value in entries.items()
                }
        return {
            "optimizer": type(self).__name__,
            "hyperparameters": dict(self.hyperparameters),
            "step_count": self.step_count,
            "num_parameters": len(self.params),
            "state": state,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters, step count and per-parameter state from ``state_dict``.

        Everything is checked first (optimiser type, number of parameters, hyper-parameter
        names and values, state names, array shapes); if anything differs a ``ValueError``
        lists every difference and the optimiser is left as it was. Arrays are copied and
        cast to their parameter's dtype.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict):
            raise TypeError(
                f"{name}.load_state_dict expected a dict from state_dict(), got {type(state_dict).__name__}"
            )
        missing = [key for key in STATE_DICT_KEYS if key not in state_dict]
        unexpected = [key for key in state_dict if key not in STATE_DICT_KEYS]
        if missing or unexpected:
            raise ValueError(
                f"cannot load state dict into {name}: expected keys {list(STATE_DICT_KEYS)}, "
                f"missing {missing}, unexpected {unexpected}"
            )
        problems: list[str] = []

        if state_dict["optimizer"] != name:
            problems.append(f"it was saved from {state_dict['optimizer']!r}, not {name!r}")

        num_parameters = _as_count(state_dict["num_parameters"])
        if num_parameters != len(self.params):
            problems.append(
                f"it has {state_dict['num_parameters']!r} parameters, this optimiser has {len(self.params)}"
            )

        step_count = _as_count(state_dict["step_count"])
        if step_count is None:
            problems.append(f"step_count must be an int >= 0, got {state_dict['step_count']!r}")

        hyper = None
        saved_hyper = state_dict["hyperparameters"]
        if not isinstance(saved_hyper, dict):
            problems.append(f"hyperparameters must be a dict, got {type(saved_hyper).__name__}")
        elif set(saved_hyper) != set(self.hyperparameters):
            problems.append(
                f"hyperparameter names differ: missing {sorted(set(self.hyperparameters) - set(saved_hyper))}, "
                f"unexpected {sorted(set(saved_hyper) - set(self.hyperparameters))}"
            )
        else:
            try:
                hyper = self._check_hyperparameters(dict(saved_hyper))
            except ValueError as error:
                problems.append(f"bad hyperparameter: {error}")

        new_state: dict[int, dict[str, Any]] = {}
        saved_state = state_dict["state"]
        if not isinstance(saved_state, dict):
            problems.append(f"state must be a dict of parameter index -> dict, got {type(saved_state).__name__}")
            saved_state = {}
        expected_names = set(self._state_names(hyper)) if hyper is not None else None
        for index, entries in saved_state.items():
            is_index = isinstance(index, numbers.Integral) and not isinstance(index, (bool, np.bool_))
            if not is_index or not 0 <= index < len(self.params):
                problems.append(f"state key {index!r} is not a parameter index in [0, {len(self.params)})")
                continue
            index = int(index)
            if not isinstance(entries, dict):
                problems.append(f"state of parameter {index} must be a dict, got {type(entries).__name__}")
                continue
            if expected_names is not None and set(entries) != expected_names:
                problems.append(
                    f"state of parameter {index} has names {sorted(entries)}, expected {sorted(expected_names)}"
                )
                continue
            parameter = self.params[index]
            converted: dict[str, Any] = {}
            for entry_name, value in entries.items():
                if entry_name in COUNT_NAMES:
                    count = _as_count(value)
                    if count is None:
                        problems.append(f"state {index}.{entry_name} must be an int >= 0, got {value!r}")
                    converted[entry_name] = count
                    continue
                array = np.asarray(value)
                if array.dtype == bool or not (
                    np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
                ):
                    problems.append(f"state {index}.{entry_name} must be a real array, got dtype {array.dtype}")
                elif array.shape != parameter.data.shape:
                    problems.append(
                        f"state {index}.{entry_name} has shape {array.shape}, "
                        f"expected the parameter's shape {parameter.data.shape}"
                    )
                else:
                    converted[entry_name] = np.array(array, dtype=parameter.data.dtype)
            new_state[index] = converted

        if problems:
            raise ValueError(f"cannot load state dict into {name}: " + "; ".join(problems))
        self.hyperparameters = hyper
        self.step_count = step_count
        self.state = new_state

    def __repr__(self) -> str:
        settings = ", ".join(f"{key}={value!r}" for key, value in self.hyperparameters.items())
        return f"{type(self).__name__}({len(self.params)} parameters, {settings})"
