"""Loss functions that return the loss together with its gradient with respect to the input.

Why one module of about 600 lines: five losses, each a forward formula with its gradient
written right below it and extreme-value doctests, sharing the checks and reductions at the top.

Every loss is a plain function ``loss, grad = f(input, target, ...)``: there is no autodiff, the
gradient is written out right below the forward formula. ``loss`` is a Python float; ``grad`` has
the shape and dtype of the input (float32 in, float32 out; integer or list input is read as
float64). The arithmetic is done in float64 and only the returned gradient is cast back, so a
float32 caller sees one rounding, not a chain of them.

Shapes use these letters: B batch, T time, V vocabulary (classes), D features. ``...`` is any
number of leading axes, e.g. ``(B, T)`` for a sequence model or ``(B,)`` for a classifier.

Conventions shared by every loss:

``reduction``
    ``"mean"`` divides the sum of the counted terms by how many terms were counted; ``"sum"``
    does not divide. Elementwise losses (``mse``, ``huber``, ``binary_cross_entropy_with_logits``,
    binary ``hinge``) count every element of a counted position, as PyTorch's elementwise mean
    does. Per-target losses (``cross_entropy``, multi-class ``hinge``) count targets.
``mask``
    Optional boolean array over the leading axes of the targets, ``mask.shape ==
    targets.shape[:mask.ndim]``, True where the position counts (False for padded time steps).
    A ``(B, T)`` mask on ``(B, T, D)`` targets masks whole feature vectors. A masked position
    adds nothing to the loss, gets a zero gradient and is not counted by ``"mean"``.
nothing counted
    When no term counts (everything masked or ignored, or an empty batch) the loss is ``0.0`` and
    the gradient is all zeros, for both reductions. PyTorch's mean returns NaN there; a batch
    whose steps are all padding should not poison a training run.

Inputs are never broadcast, and NaN or infinite inputs are rejected with ``ValueError``.
"""

from __future__ import annotations

import numbers
import sys
from typing import Any

import numpy as np

from rnnkit._validate import FLOAT_DTYPES, as_float_array, as_index_array, check_choice, check_same_shape

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge",
    "huber",
    "log_softmax",
    "mse",
    "softmax",
]

REDUCTIONS = ("mean", "sum")


# --- input checks ---------------------------------------------------------------------------


def _result_dtype(x: Any, name: str) -> np.dtype:
    """The dtype the result is returned in: the input's float dtype, float64 for ints and lists."""
    dtype = getattr(x, "dtype", None)
    if isinstance(dtype, np.dtype) and np.issubdtype(dtype, np.floating):
        if dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name} must be float32 or float64 (or integers, read as float64), got dtype {dtype}")
        return dtype
    return np.dtype(np.float64)


def _as_input(x: Any, name: str) -> tuple[np.ndarray, np.dtype]:
    """``x`` as a finite float64 array, and the dtype its gradient is returned in."""
    dtype = _result_dtype(x, name)
    return as_float_array(x, name, np.float64), dtype


def _check_reduction(reduction: Any) -> str:
    return check_choice(reduction, "reduction", REDUCTIONS)


def _check_number(value: Any, name: str, allow_zero: bool) -> float:
    """A finite real number > 0 (or >= 0 with ``allow_zero``)."""
    bound = ">= 0" if allow_zero else "> 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number {bound}, got {value!r}")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def _check_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    return int(value)


def _check_axis(axis: Any, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -ndim <= axis < ndim:
        raise ValueError(f"axis must be an int in [{-ndim}, {ndim}) for an array with {ndim} dimensions, got {axis!r}")
    return int(axis) % ndim


def _check_mask(mask: Any, target_shape: tuple[int, ...], target_name: str) -> np.ndarray | None:
    """``mask`` as a bool array whose shape is a leading part of ``target_shape``."""
    if mask is None:
        return None
    array = np.asarray(mask)
    if array.dtype != bool:
        raise TypeError(f"mask must be a boolean array (True where the position counts), got dtype {array.dtype}")
    if array.ndim > len(target_shape) or array.shape != target_shape[: array.ndim]:
        raise ValueError(
            f"mask must have the leading shape of {target_name} {target_shape} "
            f"(mask.shape == {target_name}.shape[:mask.ndim]), got {array.shape}"
        )
    return array


def _counted(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """Bool array of ``shape``: True where a term counts (the mask spread over trailing axes)."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    trailing = (1,) * (len(shape) - mask.ndim)
    return np.broadcast_to(mask.reshape(mask.shape + trailing), shape)


def _reduce(
    terms: np.ndarray, term_grads: np.ndarray, counted: np.ndarray, reduction: str, dtype: np.dtype
) -> tuple[float, np.ndarray]:
    """Sum the counted ``terms`` (divided by their number for "mean") and zero the other gradients.

    ``terms`` and ``counted`` share a shape S; ``term_grads`` (d term / d input) has shape S or S
    plus a trailing class axis.
    """
    count = int(np.count_nonzero(counted))
    if count == 0:
        return 0.0, np.zeros(term_grads.shape, dtype=dtype)
    total = float(np.sum(terms[counted]))
    scale = 1.0 / count if reduction == "mean" else 1.0
    loss = total / count if reduction == "mean" else total
    class_axes = (1,) * (term_grads.ndim - counted.ndim)
    grad = np.where(counted.reshape(counted.shape + class_axes), term_grads * scale, 0.0)
    return loss, grad.astype(dtype, copy=False)


# --- stable building blocks (float64 in, float64 out, no checks) ---------------------------


def _log_softmax64(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)  # largest entry is 0: exp cannot overflow
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _sigmoid64(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus64(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


# --- public helpers -------------------------------------------------------------------------


def log_softmax(logits: Any, axis: int = -1) -> np.ndarray:
    """Logarithm of the softmax along ``axis``, computed stably.

    Parameters
    ----------
    logits : array_like, float32 or float64, any shape with at least one entry along ``axis``
    axis : int
        The class axis (default the last, e.g. V of ``(B, T, V)``).

    Returns
    -------
    ndarray
        Same shape and float dtype as ``logits``.

    Equations
    ---------
    ::

        m = max_j x_j
        log_softmax(x)_i = (x_i - m) - log(sum_j exp(x_j - m))

    Subtracting the maximum keeps every exponent <= 0, so logits of +-1000 give exact results.

    Examples
    --------
    >>> import numpy as np
    >>> log_softmax(np.array([1000.0, 0.0, -1000.0])).round(6).tolist()
    [0.0, -1000.0, -2000.0]
    """
    x, dtype = _as_input(logits, "logits")
    axis = _check_axis(axis, x.ndim)
    if x.shape[axis] == 0:
        raise ValueError(f"logits must have at least one entry along axis {axis}, got shape {x.shape}")
    return _log_softmax64(x, axis).astype(dtype, copy=False)


def softmax(logits: Any, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, computed stably.

    Parameters
    ----------
    logits : array_like, float32 or float64, any shape with at least one entry along ``axis``
    axis : int
        The class axis (default the last, e.g. V of ``(B, T, V)``).

    Returns
    -------
    ndarray
        Same shape and float dtype as ``logits``; entries in [0, 1] summing to 1 along ``axis``.

    Equations
    ---------
    ::

        m = max_j x_j
        softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m)

    Examples
    --------
    >>> import numpy as np
    >>> softmax(np.log(np.array([1.0, 3.0]))).round(6).tolist()
    [0.25, 0.75]
    """
    x, dtype = _as_input(logits, "logits")
    axis = _check_axis(axis, x.ndim)
    if x.shape[axis] == 0:
        raise ValueError(f"logits must have at least one entry along axis {axis}, got shape {x.shape}")
    exponentials = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return (exponentials / np.sum(exponentials, axis=axis, keepdims=True)).astype(dtype, copy=False)


# --- regression losses ----------------------------------------------------------------------


def mse(pred: Any, target: Any, reduction: str = "mean", mask: Any = None) -> tuple[float, np.ndarray]:
    """Mean squared error and its gradient with respect to ``pred``.

    Parameters
    ----------
    pred : array_like, float32 or float64, shape (...), e.g. (B, T, D)
    target : array_like, same shape as ``pred`` (never broadcast)
    reduction : {"mean", "sum"}
        "mean" divides by the number of counted elements.
    mask : array_like of bool, optional
        ``mask.shape == target.shape[:mask.ndim]``, e.g. (B, T); False marks padding.

    Returns
    -------
    loss : float
    grad : ndarray
        dloss/dpred, shape and dtype of ``pred``; zero at masked positions.

    Equations
    ---------
    ::

        l_i = (x_i - y_i)^2
        loss = sum_{i counted} l_i / N          (N = number of counted elements; N = 1 for "sum")
        dloss/dx_i = 2 (x_i - y_i) / N           (0 where not counted)

    Examples
    --------
    >>> import numpy as np
    >>> loss, grad = mse(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]))
    >>> round(loss, 6), grad.round(6).tolist()
    (1.666667, [0.0, 0.666667, 1.333333])
    """
    _check_reduction(reduction)
    x, dtype = _as_input(pred, "pred")
    y = as_float_array(target, "target", np.float64)
    check_same_shape(x, y, "pred", "target")
    mask = _check_mask(mask, y.shape, "target")

    difference = x - y
    return _reduce(difference**2, 2.0 * difference, _counted(mask, y.shape), reduction, dtype)


def huber(
    pred: Any, target: Any, delta: float = 1.0, reduction: str = "mean", mask: Any = None
) -> tuple[float, np.ndarray]:
    """Huber loss (PyTorch's ``HuberLoss``) and its gradient with respect to ``pred``.

    Quadratic for errors smaller than ``delta``, linear beyond, so outliers pull with a bounded
    gradient.

    Parameters
    ----------
    pred : array_like, float32 or float64, shape (...), e.g. (B, T, D)
    target : array_like, same shape as ``pred`` (never broadcast)
    delta : float
        Where the quadratic part turns linear; must be > 0.
    reduction : {"mean", "sum"}
        "mean" divides by the number of counted elements.
    mask : array_like of bool, optional
        ``mask.shape == target.shape[:mask.ndim]``, e.g. (B, T); False marks padding.

    Returns
    -------
    loss : float
    grad : ndarray
        dloss/dpred, shape and dtype of ``pred``; zero at masked positions.

    Equations
    ---------
    ::

        d_i = x_i - y_i
        l_i = 0.5 d_i^2                      if |d_i| < delta
              delta (|d_i| - 0.5 delta)      otherwise
        loss = sum_{i counted} l_i / N          (N = number of counted elements; N = 1 for "sum")
        dloss/dx_i = clip(d_i, -delta, delta) / N

    Examples
    --------
    >>> import numpy as np
    >>> loss, grad = huber(np.array([0.5, 2.0, -3.0]), np.zeros(3), delta=1.0, reduction="sum")
    >>> round(loss, 6), grad.round(6).tolist()
    (4.125, [0.5, 1.0, -1.0])
    """
    _check_reduction(reduction)
    delta = _check_number(delta, "delta", allow_zero=False)
    x, dtype = _as_input(pred, "pred")
    y = as_float_array(target, "target", np.float64)
    check_same_shape(x, y, "pred", "target")
    mask = _check_mask(mask, y.shape, "target")

    difference = x - y
    absolute = np.abs(difference)
    terms = np.where(absolute < delta, 0.5 * difference**2, delta * (absolute - 0.5 * delta))
    term_grads = np.clip(difference, -delta, delta)
    return _reduce(terms, term_grads, _counted(mask, y.shape), reduction, dtype)


# --- classification losses ------------------------------------------------------------------


def cross_entropy(
    logits: Any,
    targets: Any,
    ignore_index: int = -100,
    reduction: str = "mean",
    mask: Any = None,
    label_smoothing: float = 0.0,
) -> tuple[float, np.ndarray]:
    """Softmax cross entropy over the last axis, and its gradient with respect to ``logits``.

    Matches ``torch.nn.functional.cross_entropy`` with class indices, except that the class axis
    is the LAST axis here (PyTorch puts it at axis 1 for inputs with more than two dimensions).

    Parameters
    ----------
    logits : array_like, float32 or float64, shape (..., V), e.g. (B, T, V) or (B, V)
    targets : array_like of int, shape (...), e.g. (B, T) or (B,)
        Class indices in [0, V), or ``ignore_index``.
    ignore_index : int
        Targets equal to it add nothing and are not counted (it may also be a real class, e.g. a
        padding id 0).
    reduction : {"mean", "sum"}
        "mean" divides by the number of counted targets (masked and ignored ones excluded).
    mask : array_like of bool, optional
        ``mask.shape == targets.shape[:mask.ndim]``, e.g. (B, T) or (B,); False marks padding.
    label_smoothing : float in [0, 1]
        Mixes the one-hot target with the uniform distribution, as PyTorch does.

    Returns
    -------
    loss : float
    grad : ndarray
        dloss/dlogits, shape (..., V) and dtype of ``logits``; zero where a target is not counted.

    Equations
    ---------
    ::

        log p_{n,v} = log_softmax(x_n)_v                    (stable: max subtracted)
        q_{n,v}     = (1 - eps) [v == y_n] + eps / V         (eps = label_smoothing)
        l_n         = -sum_v q_{n,v} log p_{n,v}
        loss        = sum_{n counted} l_n / N                 (N = counted targets; 1 for "sum")
        dloss/dx_{n,v} = (p_{n,v} - q_{n,v}) / N

    Examples
    --------
    >>> import numpy as np
    >>> loss, grad = cross_entropy(np.zeros((2, 4)), np.array([1, 3]))  # uniform: ln 4
    >>> round(loss, 6), grad.shape
    (1.386294, (2, 4))
    >>> loss, _ = cross_entropy(np.array([[1000.0, -1000.0]]), np.array([1]))  # confidently wrong
    >>> round(loss, 6)
    2000.0
    """
    _check_reduction(reduction)
    ignore_index = _check_int(ignore_index, "ignore_index")
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
        raise TypeError(f"label_smoothing must be a number in [0, 1], got {label_smoothing!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be a number in [0, 1], got {label_smoothing!r}")
    x, dtype = _as_input(logits, "logits")
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError(f"logits must have shape (..., V) with V >= 1 classes on the last axis, got shape {x.shape}")
    num_classes = x.shape[-1]
    target_index = as_index_array(targets, "targets")
    if target_index.shape != x.shape[:-1]:
        raise ValueError(
            f"targets must have shape logits.shape[:-1] = {x.shape[:-1]} (logits (..., V), targets (...)), "
            f"got targets shape {target_index.shape} for logits shape {x.shape}"
        )
    as_index_array(target_index, "targets", upper=num_classes, allowed=(ignore_index,))
    mask = _check_mask(mask, target_index.shape, "targets")

    kept = target_index != ignore_index  # (...)
    counted = kept & _counted(mask, kept.shape)  # (...)
    count = int(np.count_nonzero(counted))
    if count == 0:
        return 0.0, np.zeros(x.shape, dtype=dtype)
    scale = 1.0 / count if reduction == "mean" else 1.0
    rows = x.reshape(-1, num_classes)  # (N, V)
    total, grad = _cross_entropy_kernel().cross_entropy_rows(
        rows, np.where(counted, target_index, 0).reshape(-1), np.ascontiguousarray(counted).reshape(-1),
        float(label_smoothing), scale, dtype)
    return (total / count if reduction == "mean" else total), grad.reshape(x.shape)


def _cross_entropy_kernel():
    """This module (NumPy) or its compiled mirror :mod:`rnnkit.compiled.losses` (one pass per row
    while the row is in cache, instead of six passes over (N, V) arrays); see :mod:`rnnkit.compiled`."""
    from rnnkit import compiled

    if compiled.enabled():
        from rnnkit.compiled import losses as fused
        return fused
    return sys.modules[__name__]


def cross_entropy_rows(x: np.ndarray, index: np.ndarray, counted: np.ndarray, smoothing: float, scale: float,
                       dtype: np.dtype) -> tuple[float, np.ndarray]:
    """The rows of :func:`cross_entropy`: the sum of the counted terms and ``(p - q) * scale``.

    x (N, V) float32 or float64; index (N,) targets (any class where a row is not counted);
    counted (N,) bool. Returns the float sum of l_n over counted rows and the gradient (N, V)
    in ``dtype``, zero in rows not counted. Float64 arithmetic throughout.
    """
    log_probs = _log_softmax64(x, axis=-1)  # (N, V)
    target_dist = np.zeros_like(log_probs)  # q, (N, V)
    np.put_along_axis(target_dist, index[:, None], 1.0, axis=-1)
    terms = -np.take_along_axis(log_probs, index[:, None], axis=-1)[:, 0]  # (N,)
    if smoothing > 0.0:
        terms = (1.0 - smoothing) * terms - smoothing * np.mean(log_probs, axis=-1)
        target_dist = (1.0 - smoothing) * target_dist + smoothing / x.shape[-1]
    term_grads = np.exp(log_probs) - target_dist  # (N, V)
    grad = np.where(counted[:, None], term_grads * scale, 0.0)
    return float(np.sum(terms[counted])), grad.astype(dtype, copy=False)


def binary_cross_entropy_with_logits(
    logits: Any, targets: Any, reduction: str = "mean", mask: Any = None, pos_weight: Any = None
) -> tuple[float, np.ndarray]:
    """Sigmoid + binary cross entropy in one stable step, and its gradient with respect to ``logits``.

    Matches ``torch.nn.functional.binary_cross_entropy_with_logits``.

    Parameters
    ----------
    logits : array_like, float32 or float64, shape (...), e.g. (B, T, D) or (B,)
    targets : array_like of float in [0, 1], same shape as ``logits`` (never broadcast)
        Soft targets are allowed.
    reduction : {"mean", "sum"}
        "mean" divides by the number of counted elements.
    mask : array_like of bool, optional
        ``mask.shape == targets.shape[:mask.ndim]``, e.g. (B, T); False marks padding.
    pos_weight : array_like of float >= 0, optional
        Weight of the positive term, a scalar or an array with the trailing shape of ``targets``,
        usually (D,): one weight per label. It is the one argument spread over leading axes.

    Returns
    -------
    loss : float
    grad : ndarray
        dloss/dlogits, shape and dtype of ``logits``; zero at masked positions.

    Equations
    ---------
    ::

        w_i  = 1 + (pos_weight_i - 1) y_i                      (w_i = 1 without pos_weight)
        l_i  = -[pos_weight_i y_i log s(x_i) + (1 - y_i) log(1 - s(x_i))]
             = (1 - y_i) x_i + w_i softplus(-x_i)               (stable for |x| of 1000)
        loss = sum_{i counted} l_i / N                          (N = counted elements; 1 for "sum")
        dloss/dx_i = (w_i s(x_i) - pos_weight_i y_i) / N        (= (s(x_i) - y_i) / N without it)

    where s is the logistic sigmoid and softplus(z) = log(1 + exp(z)).

    Examples
    --------
    >>> import numpy as np
    >>> loss, grad = binary_cross_entropy_with_logits(np.array([0.0, 1000.0]), np.array([1.0, 0.0]))
    >>> round(loss, 6), grad.round(6).tolist()  # (ln 2 + 1000) / 2
    (500.346574, [-0.25, 0.5])
    """
    _check_reduction(reduction)
    x, dtype = _as_input(logits, "logits")
    y = as_float_array(targets, "targets", np.float64)
    check_same_shape(x, y, "logits", "targets")
    if y.size and (y.min() < 0.0 or y.max() > 1.0):
        raise ValueError(f"targets must lie in [0, 1], got values from {y.min()} to {y.max()}")
    mask = _check_mask(mask, y.shape, "targets")
    if pos_weight is None:
        positive_weight = 1.0
    else:
        positive_weight = as_float_array(pos_weight, "pos_weight", np.float64)
        trailing = y.shape[y.ndim - positive_weight.ndim :]
        if positive_weight.ndim > y.ndim or positive_weight.shape != trailing:
            raise ValueError(
                f"pos_weight must be a scalar or have the trailing shape of targets {y.shape} "
                f"(pos_weight.shape == targets.shape[-pos_weight.ndim:]), got {positive_weight.shape}"
            )
        if np.any(positive_weight < 0):
            raise ValueError(f"pos_weight must be >= 0, got a minimum of {positive_weight.min()}")

    weight = 1.0 + (positive_weight - 1.0) * y  # w_i, spread over leading axes
    terms = (1.0 - y) * x + weight * _softplus64(-x)
    term_grads = weight * _sigmoid64(x) - positive_weight * y
    return _reduce(terms, term_grads, _counted(mask, y.shape), reduction, dtype)


def hinge(
    scores: Any, targets: Any, margin: float = 1.0, reduction: str = "mean", mask: Any = None
) -> tuple[float, np.ndarray]:
    """Hinge loss, binary or multi-class, and its gradient with respect to ``scores``.

    The form follows the shapes:

    * binary: ``scores`` and ``targets`` have the same shape and targets are -1 or +1;
    * multi-class: ``scores`` has one more axis (V classes, last) than integer ``targets``; this
      matches ``torch.nn.functional.multi_margin_loss`` with ``p=1`` (each wrong class's margin
      violation, summed and divided by V).

    At a kink (a violation of exactly 0) the subgradient 0 is used, as PyTorch does for
    ``multi_margin_loss``.

    Parameters
    ----------
    scores : array_like, float32 or float64
        Binary: shape (...), e.g. (B, T). Multi-class: shape (..., V), e.g. (B, T, V) or (B, V).
    targets : array_like
        Binary: same shape as ``scores``, values in {-1, +1} (map 0/1 labels with ``2 * y - 1``).
        Multi-class: integers in [0, V), shape ``scores.shape[:-1]``.
    margin : float
        Required gap, >= 0 (0 gives the perceptron loss).
    reduction : {"mean", "sum"}
        "mean" divides by the number of counted elements (binary) or targets (multi-class).
    mask : array_like of bool, optional
        ``mask.shape == targets.shape[:mask.ndim]``; False marks padding.

    Returns
    -------
    loss : float
    grad : ndarray
        dloss/dscores, shape and dtype of ``scores``; zero at masked positions.

    Equations
    ---------
    ::

        binary:       l_i = max(0, margin - y_i s_i)
                      dl_i/ds_i = -y_i [margin - y_i s_i > 0]
        multi-class:  v_{n,j} = max(0, margin - s_{n,y_n} + s_{n,j})      for j != y_n
                      l_n = sum_{j != y_n} v_{n,j} / V
                      dl_n/ds_{n,j} = [v_{n,j} > 0] / V                     for j != y_n
                      dl_n/ds_{n,y_n} = -sum_{j != y_n} [v_{n,j} > 0] / V
        loss = sum_{counted} l / N      (N = counted elements or targets; 1 for "sum")

    Examples
    --------
    >>> import numpy as np
    >>> loss, grad = hinge(np.array([2.0, 0.5, -1.0]), np.array([1, 1, 1]), reduction="sum")
    >>> round(loss, 6), grad.tolist()
    (2.5, [0.0, -1.0, -1.0])
    >>> loss, grad = hinge(np.array([[1.0, 2.0, -0.5]]), np.array([0]))  # multi-class, V = 3
    >>> round(loss, 6), grad.round(6).tolist()
    (0.666667, [[-0.333333, 0.333333, 0.0]])
    """
    _check_reduction(reduction)
    margin = _check_number(margin, "margin", allow_zero=True)
    s, dtype = _as_input(scores, "scores")
    target_array = np.asarray(targets)

    if s.ndim >= 1 and target_array.shape == s.shape[:-1]:
        return _multi_class_hinge(s, target_array, margin, reduction, mask, dtype)
    if target_array.shape != s.shape:
        raise ValueError(
            f"targets must have the shape of scores {s.shape} (binary hinge, targets -1/+1) or "
            f"scores.shape[:-1] = {s.shape[:-1]} (multi-class hinge, integer targets), got {target_array.shape}"
        )

    y = as_float_array(target_array, "targets", np.float64)
    not_sign = (y != 1.0) & (y != -1.0)
    if np.any(not_sign):
        examples = np.unique(y[not_sign])[:5].tolist()
        raise ValueError(
            f"targets must be -1 or +1 for the binary hinge loss, got {examples} "
            f"(map 0/1 labels with 2 * y - 1)"
        )
    mask = _check_mask(mask, y.shape, "targets")

    violation = margin - y * s
    active = violation > 0.0
    terms = np.where(active, violation, 0.0)
    term_grads = np.where(active, -y, 0.0)
    return _reduce(terms, term_grads, _counted(mask, y.shape), reduction, dtype)


def _multi_class_hinge(
    s: np.ndarray, targets: np.ndarray, margin: float, reduction: str, mask: Any, dtype: np.dtype
) -> tuple[float, np.ndarray]:
    """The multi-class branch of :func:`hinge`: ``s`` (..., V) float64, ``targets`` (...) already shape-checked."""
    if targets.dtype == bool or not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(
            f"targets must be integer class indices for the multi-class hinge loss (scores {s.shape} "
            f"has one more axis than targets {targets.shape}), got dtype {targets.dtype}; for the "
            f"binary hinge give scores and -1/+1 targets the same shape"
        )
    num_classes = s.shape[-1]
    if num_classes == 0:
        raise ValueError(f"scores must have shape (..., V) with V >= 1 classes on the last axis, got shape {s.shape}")
    target_index = as_index_array(targets, "targets", upper=num_classes)
    mask = _check_mask(mask, target_index.shape, "targets")

    index = target_index[..., None]  # (..., 1)
    target_score = np.take_along_axis(s, index, axis=-1)  # (..., 1)
    violation = margin - target_score + s  # (..., V)
    active = violation > 0.0
    np.put_along_axis(active, index, False, axis=-1)  # the true class is not a rival
    terms = np.sum(np.where(active, violation, 0.0), axis=-1) / num_classes  # (...)
    term_grads = active / num_classes  # (..., V)
    np.put_along_axis(term_grads, index, -np.sum(active, axis=-1, keepdims=True) / num_classes, axis=-1)
    return _reduce(terms, term_grads, _counted(mask, target_index.shape), reduction, dtype)
