"""Adagrad: per-element learning rates from the running sum of squared gradients."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from rnnkit.module import Parameter
from rnnkit.optim.optimizer import Optimizer, check_non_negative


class Adagrad(Optimizer):
    r"""Adagrad, exactly as ``torch.optim.Adagrad``.

    Parameters
    ----------
    params : iterable of Parameter
        The parameters to update, e.g. ``model.parameters()``.
    lr : float, default 0.01
        Learning rate gamma, >= 0.
    lr_decay : float, default 0
        Learning-rate decay eta, >= 0.
    weight_decay : float, default 0
        L2 penalty lambda, >= 0, added to the gradient.
    initial_accumulator_value : float, default 0
        Starting value of the sum of squares, >= 0.
    eps : float, default 1e-10
        Added to the denominator, >= 0.

    Notes
    -----
    For each parameter theta with gradient g, at step t (counted from 1), with the sum
    ``s_0 = initial_accumulator_value``:

    .. math::

        g &\leftarrow g + \lambda \theta \\
        \tilde\gamma &= \gamma / (1 + (t - 1) \eta) \\
        s_t &= s_{t-1} + g^2 \\
        \theta &\leftarrow \theta - \tilde\gamma \, g / (\sqrt{s_t} + \epsilon)

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit import Parameter
    >>> p = Parameter(np.array([1.0, -2.0]))
    >>> opt = Adagrad([p], lr=0.1, eps=0.0)
    >>> p.grad[...] = [3.0, -4.0]
    >>> opt.step()            # each step moves by lr * g / |g| on the first step
    >>> np.round(p.data, 12)
    array([ 0.9, -1.9])
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 0.01,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ):
        super().__init__(
            params,
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )

    @classmethod
    def _check_hyperparameters(cls, hyper: dict[str, Any]) -> dict[str, Any]:
        return {
            "lr": check_non_negative(hyper["lr"], "lr"),
            "lr_decay": check_non_negative(hyper["lr_decay"], "lr_decay"),
            "weight_decay": check_non_negative(hyper["weight_decay"], "weight_decay"),
            "initial_accumulator_value": check_non_negative(
                hyper["initial_accumulator_value"], "initial_accumulator_value"
            ),
            "eps": check_non_negative(hyper["eps"], "eps"),
        }

    @classmethod
    def _state_names(cls, hyper: dict[str, Any]) -> tuple[str, ...]:
        return ("step", "sum")

    def _init_state(self, parameter: Parameter) -> dict[str, Any]:
        return {
            "step": 0,
            "sum": np.full_like(parameter.data, self.hyperparameters["initial_accumulator_value"]),
        }

    def _update(self, parameter: Parameter, state: dict[str, Any], hyper: dict[str, Any]) -> None:
        state["step"] += 1
        grad = parameter.grad
        if hyper["weight_decay"] != 0:
            grad = grad + hyper["weight_decay"] * parameter.data
        decayed_lr = hyper["lr"] / (1 + (state["step"] - 1) * hyper["lr_decay"])
        square_sum = state["sum"]
        square_sum += grad * grad
        denominator = np.sqrt(square_sum) + hyper["eps"]
        parameter.data += (-decayed_lr * grad) / denominator
