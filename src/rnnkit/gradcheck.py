"""A numerical gradient checker for any Module: central differences in float64.

The check compares what ``backward`` accumulated into every parameter's ``.grad`` (and the
gradients it returned for the inputs) with

    dL/dw ~ (L(w + eps) - L(w - eps)) / (2 eps)

for every element w. The loss L is a fixed random linear function of the outputs,
``L = sum_i <R_i, output_i>``, so its gradient with respect to each output is just ``R_i``.

Use it on modules built with ``dtype=numpy.float64`` (float32 has too few digits for
central differences) and with dropout off.

>>> import numpy as np
>>> from rnnkit import GRU
>>> gru = GRU(3, 4, dtype=np.float64, seed=0)
>>> x = np.random.default_rng(1).standard_normal((2, 5, 3))
>>> report = check_gradients(gru, {"x": x},
...     forward=lambda m, inputs: m(inputs["x"]),
...     backward=lambda m, grads: {"x": m.backward(grads[0], grads[1])[0]})
>>> report.worst < 1e-7
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from rnnkit.module import Module


def _flatten(outputs: Any) -> list[np.ndarray]:
    """The arrays of a nested tuple/list of outputs, depth-first."""
    if isinstance(outputs, np.ndarray):
        return [outputs]
    if isinstance(outputs, (tuple, list)):
        return [array for item in outputs for array in _flatten(item)]
    raise TypeError(f"outputs must be arrays or nested tuples of arrays, got {type(outputs).__name__}")


def _unflatten(template: Any, arrays: list[np.ndarray]) -> Any:
    """Arrays arranged like ``template`` (consumes ``arrays`` from the front)."""
    if isinstance(template, np.ndarray):
        return arrays.pop(0)
    return tuple(_unflatten(item, arrays) for item in template)


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``max |a - n| / max(max |a|, max |n|, 1e-8)``: one number per tensor."""
    scale = max(float(np.max(np.abs(analytic), initial=0.0)), float(np.max(np.abs(numeric), initial=0.0)), 1e-8)
    return float(np.max(np.abs(analytic - numeric), initial=0.0)) / scale


@dataclass
class GradientReport:
    """Relative error of every checked tensor; ``worst`` is the largest."""

    errors: dict[str, float] = field(default_factory=dict)

    @property
    def worst(self) -> float:
        return max(self.errors.values(), default=0.0)

    def __str__(self) -> str:
        width = max((len(name) for name in self.errors), default=4)
        lines = [f"{'tensor':<{width}}  relative error"]
        lines += [f"{name:<{width}}  {error:.2e}" for name, error in self.errors.items()]
        return "\n".join(lines)


def check_gradients(
    module: Module,
    inputs: dict[str, np.ndarray],
    forward: Callable[[Module, dict[str, np.ndarray]], Any],
    backward: Callable[[Module, Any], dict[str, np.ndarray]],
    eps: float = 1e-6,
    seed: int = 0,
    check_inputs: tuple[str, ...] | None = None,
) -> GradientReport:
    """Compare ``backward``'s gradients with central differences of a random linear loss.

    Parameters
    ----------
    module : Module
        float64, dropout off (or reseeded inside ``forward``).
    inputs : dict of name -> float64 array
        Everything ``forward`` reads; the listed ones (``check_inputs``, default all) are
        perturbed too, in place and restored.
    forward : callable(module, inputs) -> outputs
        Runs the module; outputs is an array or a nested tuple of arrays.
    backward : callable(module, output_grads) -> dict of name -> gradient
        Given gradients shaped like the outputs (same nesting), runs the module's backward and
        returns the gradients of the inputs to check.
    """
    rng = np.random.default_rng(seed)
    template = forward(module, inputs)
    weights = [rng.standard_normal(array.shape) for array in _flatten(template)]

    def loss() -> float:
        return float(sum(np.sum(w * out) for w, out in zip(weights, _flatten(forward(module, inputs)))))

    module.zero_grad()
    forward(module, inputs)
    input_grads = backward(module, _unflatten(template, list(weights)))
    report = GradientReport()
    targets = [(name, p.data, p.grad.copy()) for name, p in module.named_parameters() if p.requires_grad]
    for name in inputs if check_inputs is None else check_inputs:
        targets.append(("input " + name, inputs[name], np.asarray(input_grads[name])))
    for name, array, analytic in targets:
        numeric = np.zeros_like(array, dtype=np.float64)
        for index in np.ndindex(array.shape):
            original = array[index]
            array[index] = original + eps
            plus = loss()
            array[index] = original - eps
            minus = loss()
            array[index] = original
            numeric[index] = (plus - minus) / (2 * eps)
        report.errors[name] = relative_error(analytic, numeric)
    return report
