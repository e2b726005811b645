"""RMSprop: gradients divided by a running root-mean-square, optionally centred and with momentum."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from rnnkit.module import Parameter
from rnnkit.optim.optimizer import Optimizer, check_flag, check_non_negative, check_unit_interval, lerp_


class RMSprop(Optimizer):
    r"""RMSprop, exactly as ``torch.optim.RMSprop``.

    Parameters
    ----------
    params : iterable of Parameter
        The parameters to update, e.g. ``model.parameters()``.
    lr : float, default 0.01
        Learning rate gamma, >= 0.
    alpha : float, default 0.99
        Smoothing constant of the running averages, in [0, 1].
    eps : float, default 1e-8
        Added to the denominator, >= 0.
    weight_decay : float, default 0
        L2 penalty lambda, >= 0, added to the gradient.
    momentum : float, default 0
        Momentum factor mu, >= 0. With 0 there is no momentum buffer.
    centered : bool, default False
        Divide by an estimate of the gradient's variance instead of its second moment.

    Notes
    -----
    For each parameter theta with gradient g, with v, m, b starting at zero:

    .. math::

        g &\leftarrow g + \lambda \theta \\
        v &\leftarrow \alpha v + (1 - \alpha) g^2 \\
        m &\leftarrow \alpha m + (1 - \alpha) g \quad \text{(centered)} \\
        d &= \sqrt{v - m^2} + \epsilon \ \text{(centered)}, \qquad d = \sqrt{v} + \epsilon \ \text{(otherwise)} \\
        b &\leftarrow \mu b + g / d, \quad \theta \leftarrow \theta - \gamma b \quad (\mu > 0) \\
        \theta &\leftarrow \theta - \gamma g / d \quad (\mu = 0)

    As in PyTorch, eps is added outside the square root, and ``v - m^2`` is not clamped.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit import Parameter
    >>> p = Parameter(np.array([1.0, -2.0]))
    >>> opt = RMSprop([p], lr=0.1, alpha=0.75, eps=0.0)
    >>> p.grad[...] = [2.0, -4.0]
    >>> opt.step()            # v = 0.25 g^2, so theta moves by lr * g / (|g| / 2)
    >>> np.round(p.data, 12)
    array([ 0.8, -1.8])
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ):
        super().__init__(
            params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered
        )

    @classmethod
    def _check_hyperparameters(cls, hyper: dict[str, Any]) -> dict[str, Any]:
        return {
            "lr": check_non_negative(hyper["lr"], "lr"),
            "alpha": check_unit_interval(hyper["alpha"], "alpha"),
            "eps": check_non_negative(hyper["eps"], "eps"),
            "weight_decay": check_non_negative(hyper["weight_decay"], "weight_decay"),
            "momentum": check_non_negative(hyper["momentum"], "momentum"),
            "centered": check_flag(hyper["centered"], "centered"),
        }

    @classmethod
    def _state_names(cls, hyper: dict[str, Any]) -> tuple[str, ...]:
        names = ("step", "square_avg")
        if hyper["momentum"] > 0:
            names += ("momentum_buffer",)
        if hyper["centered"]:
            names += ("grad_avg",)
        return names

    def _init_state(self, parameter: Parameter) -> dict[str, Any]:
        state: dict[str, Any] = {"step": 0, "square_avg": np.zeros_like(parameter.data)}
        if self.hyperparameters["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(parameter.data)
        if self.hyperparameters["centered"]:
            state["grad_avg"] = np.zeros_like(parameter.data)
        return state

    def _update(self, parameter: Parameter, state: dict[str, Any], hyper: dict[str, Any]) -> None:
        alpha = hyper["alpha"]
        state["step"] += 1
        grad = parameter.grad
        if hyper["weight_decay"] != 0:
            grad = grad + hyper["weight_decay"] * parameter.data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if hyper["centered"]:
            grad_avg = state["grad_avg"]
            lerp_(grad_avg, grad, 1 - alpha)
            denominator = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            denominator = np.sqrt(square_avg)
        denominator += hyper["eps"]
        if hyper["momentum"] > 0:
            buffer = state["momentum_buffer"]
            buffer *= hyper["momentum"]
            buffer += grad / denominator
            parameter.data -= hyper["lr"] * buffer
        else:
            parameter.data += (-hyper["lr"] * grad) / denominator
