"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_``.

Both work in place on ``Parameter.grad`` and skip parameters with ``requires_grad=False``
(their gradients are never used) or a ``grad`` of ``None``.

>>> import numpy as np
>>> from rnnkit import Parameter
>>> p = Parameter(np.zeros(2))
>>> p.grad[...] = [3.0, 4.0]
>>> clip_grad_norm_(p, max_norm=1.0)
5.0
>>> np.round(p.grad, 6)
array([0.6, 0.8])
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

import numpy as np

from rnnkit.module import Parameter

# Added to the total norm before dividing, as in PyTorch.
NORM_EPSILON = 1e-6


def _gradients(parameters: Parameter | Iterable[Parameter], function: str) -> list[np.ndarray]:
    """The gradients to clip: of a single Parameter or an iterable of them, trainable ones only."""
    if isinstance(parameters, Parameter):
        parameters = [parameters]
    elif isinstance(parameters, (str, bytes, dict)) or not isinstance(parameters, Iterable):
        raise TypeError(f"{function} expects a Parameter or an iterable of Parameters, got {type(parameters).__name__}")
    gradients = []
    for index, parameter in enumerate(parameters):
        if not isinstance(parameter, Parameter):
            raise TypeError(f"{function} expects Parameters, got {type(parameter).__name__} at position {index}")
        if parameter.requires_grad and parameter.grad is not None:
            gradients.append(parameter.grad)
    return gradients


def _check_limit(value: Any, name: str) -> float:
    """A clipping threshold: a real number >= 0 (infinity allowed: no clipping)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or math.isnan(value) or value < 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def _check_norm_type(norm_type: Any) -> float:
    if isinstance(norm_type, str) and norm_type.lower() == "inf":
        return math.inf
    if (
        isinstance(norm_type, (bool, np.bool_))
        or not isinstance(norm_type, numbers.Real)
        or math.isnan(norm_type)
        or norm_type <= 0
    ):
        raise ValueError(f"norm_type must be a number > 0 or 'inf', got {norm_type!r}")
    return float(norm_type)


def _vector_norm(values: np.ndarray, norm_type: float) -> float:
    """The p-norm of all elements of ``values``, computed in float64."""
    if norm_type == 2.0 and values.size > 4096:
        fused = _fused_two_norm(values)                  # one pass, no float64 copy
        if fused is not None:
            return fused
    magnitudes = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    if magnitudes.size == 0:
        return 0.0
    if norm_type == math.inf:
        return float(np.max(magnitudes))
    if norm_type == 2.0:
        return float(np.sqrt(np.dot(magnitudes, magnitudes)))
    if norm_type == 1.0:
        return float(np.sum(magnitudes))
    return float(np.sum(magnitudes**norm_type) ** (1.0 / norm_type))


def _fused_two_norm(values: np.ndarray) -> float | None:
    """:func:`rnnkit.compiled.optim.two_norm` when the compiled loops are on; None otherwise."""
    from rnnkit import compiled

    if not isinstance(values, np.ndarray) or not compiled.enabled():
        return None
    from rnnkit.compiled.optim import two_norm
    return two_norm(values)


def clip_grad_norm_(
    parameters: Parameter | Iterable[Parameter],
    max_norm: float,
    norm_type: float | str = 2.0,
) -> float:
    r"""Scale all gradients together so that their global norm is at most ``max_norm``.

    Parameters
    ----------
    parameters : Parameter or iterable of Parameter
        Whose ``grad`` to clip, in place. Frozen parameters (``requires_grad=False``) are
        ignored, in the norm and in the scaling.
    max_norm : float
        The largest allowed total norm, >= 0.
    norm_type : float or 'inf', default 2.0
        The p of the p-norm, > 0, or ``inf`` (``float('inf')`` or ``'inf'``) for the max-norm.

    Returns
    -------
    float
        The total norm of the gradients before clipping. It may be ``inf`` or ``nan``; this
        function does not raise then, so the caller can decide (e.g. skip the step). As in
        PyTorch, the gradients are still multiplied by the (then 0 or nan) coefficient.

    Notes
    -----
    The norm is taken over the per-parameter norms, as if all gradients were one vector:

    .. math::

        N &= \big\| (\|g_1\|_p, \ldots, \|g_k\|_p) \big\|_p \\
        c &= \min\left(1, \frac{\text{max\_norm}}{N + 10^{-6}}\right) \\
        g_i &\leftarrow c \, g_i

    So a total just above ``max_norm`` ends slightly below it.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit import Parameter
    >>> a, b = Parameter(np.zeros(1)), Parameter(np.zeros(1))
    >>> a.grad[...], b.grad[...] = 3.0, 4.0
    >>> clip_grad_norm_([a, b], max_norm=10.0)   # below the limit: unchanged
    5.0
    >>> float(a.grad[0]), float(b.grad[0])
    (3.0, 4.0)
    """
    gradients = _gradients(parameters, "clip_grad_norm_")
    max_norm = _check_limit(max_norm, "max_norm")
    norm_type = _check_norm_type(norm_type)
    if not gradients:
        return 0.0
    per_parameter = np.array([_vector_norm(gradient, norm_type) for gradient in gradients])  # (k,)
    total = _vector_norm(per_parameter, norm_type)
    coefficient = max_norm / (total + NORM_EPSILON)
    if coefficient < 1.0 or math.isnan(coefficient):
        # A non-finite total gives 0 or nan here; inf * 0 = nan is expected, not worth a warning.
        with np.errstate(invalid="ignore"):
            for gradient in gradients:
                gradient *= coefficient
    return total


def clip_grad_value_(parameters: Parameter | Iterable[Parameter], clip_value: float) -> None:
    r"""Clamp every gradient element into ``[-clip_value, clip_value]``, in place.

    Parameters
    ----------
    parameters : Parameter or iterable of Parameter
        Whose ``grad`` to clip. Frozen parameters (``requires_grad=False``) are ignored.
    clip_value : float
        The largest allowed magnitude, >= 0. NaN gradient elements stay NaN.

    Notes
    -----
    .. math::

        g \leftarrow \min(\max(g, -v), v)

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit import Parameter
    >>> p = Parameter(np.zeros(3))
    >>> p.grad[...] = [-2.0, 0.25, 7.0]
    >>> clip_grad_value_(p, 0.5)
    >>> p.grad
    array([-0.5 ,  0.25,  0.5 ])
    """
    gradients = _gradients(parameters, "clip_grad_value_")
    clip_value = _check_limit(clip_value, "clip_value")
    for gradient in gradients:
        np.clip(gradient, -clip_value, clip_value, out=gradient)
