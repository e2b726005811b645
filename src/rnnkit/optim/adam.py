"""Adam and AdamW: bias-corrected moment estimates, with L2 or decoupled weight decay."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from rnnkit.module import Parameter
from rnnkit.optim.optimizer import Optimizer, check_betas, check_flag, check_non_negative, lerp_


class Adam(Optimizer):
    r"""Adam, exactly as ``torch.optim.Adam``.

    Parameters
    ----------
    params : iterable of Parameter
        The parameters to update, e.g. ``model.parameters()``.
    lr : float, default 1e-3
        Learning rate gamma, >= 0.
    betas : (float, float), default (0.9, 0.999)
        Decay rates beta1, beta2 of the first and second moment estimates, each in [0, 1).
    eps : float, default 1e-8
        Added to the denominator, after the square root and bias correction, >= 0.
    weight_decay : float, default 0
        L2 penalty lambda, >= 0, added to the gradient (see :class:`AdamW` for the decoupled
        form).
    amsgrad : bool, default False
        Normalise by the running maximum of the second moment (AMSGrad).

    Notes
    -----
    For each parameter theta with gradient g, at step t (counted from 1), with m, v and
    v_max starting at zero:

    .. math::

        g &\leftarrow g + \lambda \theta \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2) g^2 \\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \ \text{(amsgrad)}, \qquad \hat v_t = v_t \ \text{(otherwise)} \\
        \theta &\leftarrow \theta - \frac{\gamma}{1 - \beta_1^t} \, m_t \Big/
            \left( \frac{\sqrt{\hat v_t}}{\sqrt{1 - \beta_2^t}} + \epsilon \right)

    The order matters for parity: the square root is taken of the uncorrected v, then divided
    by sqrt(1 - beta2^t), then eps is added.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit import Parameter
    >>> p = Parameter(np.array([1.0, -2.0]))
    >>> opt = Adam([p], lr=0.1, eps=0.0)
    >>> p.grad[...] = [0.5, -3.0]
    >>> opt.step()            # the first step moves every element by lr * sign(g)
    >>> np.round(p.data, 12)
    array([ 0.9, -1.9])
    """

    # AdamW sets this: weight decay shrinks theta directly instead of joining the gradient.
    decoupled_weight_decay = False

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)

    @classmethod
    def _check_hyperparameters(cls, hyper: dict[str, Any]) -> dict[str, Any]:
        return {
            "lr": check_non_negative(hyper["lr"], "lr"),
            "betas": check_betas(hyper["betas"]),
            "eps": check_non_negative(hyper["eps"], "eps"),
            "weight_decay": check_non_negative(hyper["weight_decay"], "weight_decay"),
            "amsgrad": check_flag(hyper["amsgrad"], "amsgrad"),
        }

    @classmethod
    def _state_names(cls, hyper: dict[str, Any]) -> tuple[str, ...]:
        names = ("step", "exp_avg", "exp_avg_sq")
        if hyper["amsgrad"]:
            names += ("max_exp_avg_sq",)
        return names

    def _init_state(self, parameter: Parameter) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": 0,
            "exp_avg": np.zeros_like(parameter.data),
            "exp_avg_sq": np.zeros_like(parameter.data),
        }
        if self.hyperparameters["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(parameter.data)
        return state

    def _update(self, parameter: Parameter, state: dict[str, Any], hyper: dict[str, Any]) -> None:
        lr, weight_decay = hyper["lr"], hyper["weight_decay"]
        beta1, beta2 = hyper["betas"]
        state["step"] += 1
        step = state["step"]
        grad = parameter.grad
        if weight_decay != 0:
            if self.decoupled_weight_decay:
                parameter.data *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * parameter.data

        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        if not hyper["amsgrad"] and _fused_update(parameter.data, grad, exp_avg, exp_avg_sq, beta1, beta2,
                                                  hyper["eps"], step_size, bias_correction2_sqrt):
            return                                           # the same numbers, one pass (rnnkit.compiled.optim)

        lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        if hyper["amsgrad"]:
            max_exp_avg_sq = state["max_exp_avg_sq"]
            np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            denominator = np.sqrt(max_exp_avg_sq) / bias_correction2_sqrt
        else:
            denominator = np.sqrt(exp_avg_sq) / bias_correction2_sqrt
        denominator += hyper["eps"]
        parameter.data += (-step_size * exp_avg) / denominator


def _fused_update(*arguments: Any) -> bool:
    """:func:`rnnkit.compiled.optim.adam_update` when the compiled loops are on; False otherwise."""
    from rnnkit import compiled

    if not compiled.enabled():
        return False
    from rnnkit.compiled.optim import adam_update
    return adam_update(*arguments)


class AdamW(Adam):
    r"""AdamW (Adam with decoupled weight decay), exactly as ``torch.optim.AdamW``.

    Parameters
    ----------
    params : iterable of Parameter
        The parameters to update, e.g. ``model.parameters()``.
    lr : float, default 1e-3
        Learning rate gamma, >= 0.
    betas : (float, float), default (0.9, 0.999)
        Decay rates beta1, beta2 of the moment estimates, each in [0, 1).
    eps : float, default 1e-8
        Added to the denominator, >= 0.
    weight_decay : float, default 1e-2
        Decoupled weight decay lambda, >= 0.
    amsgrad : bool, default False
        Normalise by the running maximum of the second moment (AMSGrad).

    Notes
    -----
    The same as :class:`Adam` with weight_decay 0, preceded by a shrink of the parameter that
    does not pass through the moment estimates:

    .. math::

        \theta \leftarrow \theta (1 - \gamma \lambda)

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit import Parameter
    >>> p = Parameter(np.array([1.0, -2.0]))
    >>> opt = AdamW([p], lr=0.1, eps=0.0, weight_decay=0.5)
    >>> p.grad[...] = [0.5, -3.0]
    >>> opt.step()            # shrink by 1 - 0.1 * 0.5, then move by lr * sign(g)
    >>> np.round(p.data, 12)
    array([ 0.85, -1.8 ])
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
