"""Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from rnnkit.module import Parameter
from rnnkit.optim.optimizer import Optimizer, check_flag, check_non_negative, check_unit_interval


class SGD(Optimizer):
    r"""Stochastic gradient descent, exactly as ``torch.optim.SGD``.

    Parameters
    ----------
    params : iterable of Parameter
        The parameters to update, e.g. ``model.parameters()``.
    lr : float
        Learning rate gamma, >= 0.
    momentum : float, default 0
        Momentum factor mu, >= 0. With 0 there is no momentum buffer.
    dampening : float, default 0
        Dampening tau in [0, 1] of the gradient added to the buffer.
    weight_decay : float, default 0
        L2 penalty lambda, >= 0, added to the gradient.
    nesterov : bool, default False
        Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.

    Notes
    -----
    For each parameter theta with gradient g, at step t:

    .. math::

        g &\leftarrow g + \lambda \theta \\
        b_t &\leftarrow g \quad (t = 1), \qquad
            b_t \leftarrow \mu b_{t-1} + (1 - \tau) g \quad (t > 1) \\
        g &\leftarrow g + \mu b_t \ \text{(nesterov)}, \qquad g \leftarrow b_t \ \text{(otherwise)} \\
        \theta &\leftarrow \theta - \gamma g

    The momentum lines apply only when mu != 0. The first buffer is the gradient itself,
    undampened, as in PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit import Parameter
    >>> p = Parameter(np.array([1.0, -2.0]))
    >>> opt = SGD([p], lr=0.1, momentum=0.9)
    >>> p.grad[...] = [0.5, 1.0]
    >>> opt.step()
    >>> p.grad[...] = [-1.0, 2.0]
    >>> opt.step()            # buffer 0.9 * [0.5, 1] + [-1, 2] = [-0.55, 2.9]
    >>> np.round(p.data, 12)
    array([ 1.005, -2.39 ])
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        super().__init__(
            params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov
        )

    @classmethod
    def _check_hyperparameters(cls, hyper: dict[str, Any]) -> dict[str, Any]:
        checked = {
            "lr": check_non_negative(hyper["lr"], "lr"),
            "momentum": check_non_negative(hyper["momentum"], "momentum"),
            "dampening": check_unit_interval(hyper["dampening"], "dampening"),
            "weight_decay": check_non_negative(hyper["weight_decay"], "weight_decay"),
            "nesterov": check_flag(hyper["nesterov"], "nesterov"),
        }
        if checked["nesterov"] and (checked["momentum"] <= 0 or checked["dampening"] != 0):
            raise ValueError(
                "nesterov=True requires momentum > 0 and dampening == 0, "
                f"got momentum={checked['momentum']!r}, dampening={checked['dampening']!r}"
            )
        return checked

    @classmethod
    def _state_names(cls, hyper: dict[str, Any]) -> tuple[str, ...]:
        return ("momentum_buffer",) if hyper["momentum"] != 0 else ()

    def _update(self, parameter: Parameter, state: dict[str, Any], hyper: dict[str, Any]) -> None:
        momentum = hyper["momentum"]
        grad = parameter.grad
        if hyper["weight_decay"] != 0:
            grad = grad + hyper["weight_decay"] * parameter.data  # a new array: .grad is left alone
        if momentum != 0:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = np.array(grad, dtype=parameter.data.dtype)  # first step: the gradient, undampened
                state["momentum_buffer"] = buffer
            else:
                buffer *= momentum
                buffer += (1 - hyper["dampening"]) * grad
            if hyper["nesterov"]:
                grad = grad + momentum * buffer
            else:
                grad = buffer
        parameter.data -= hyper["lr"] * grad
