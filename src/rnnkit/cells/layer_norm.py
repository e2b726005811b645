"""Layer normalisation over the last axis (Ba, Kiros & Hinton 2016), the part the LayerNorm
LSTM and GRU share (:mod:`rnnkit.cells.lnlstm`, :mod:`rnnkit.cells.lngru`).

Glossary: W the width normalised over (4H, 3H or H); ``...`` any leading axes (B, or T and B).

Equations, for one vector ``a`` of width W::

    mean = sum(a) / W,   var = sum((a - mean)^2) / W          # the biased variance, as torch's
    rstd = 1 / sqrt(var + eps),   a^ = (a - mean) * rstd       # eps = 1e-5
    LN(a) = gain * a^ + shift                                  # gain (W,) init 1, shift (W,) init 0

Backward, from the cached a^ and rstd, with ``d = dL/dLN(a) * gain``::

    dL/da = rstd * (d - mean(d) - a^ * mean(d * a^))
    dL/dgain = sum over rows of dL/dLN(a) * a^,   dL/dshift = sum over rows of dL/dLN(a)

Here are the normalisation and its backward; the gain and shift are applied by each kind's
step, which also adds their gradients (they are sums over rows and, in a layer, steps).

>>> a = np.array([[1.0, 1.0, 3.0, 3.0], [5.0, 5.0, 5.0, 5.0]])   # a constant row has variance 0
>>> normed, rstd = np.empty_like(a), np.empty((2, 1))
>>> normalize(a, normed, rstd)
>>> np.round(normed, 4).tolist(), np.round(rstd[:, 0], 2).tolist()
([[-1.0, -1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]], [1.0, 316.23])
"""

from __future__ import annotations

import numpy as np

EPS = 1e-5      # added to the variance, as torch.nn.LayerNorm and the Haste library do


def normalize(values: np.ndarray, normed: np.ndarray, rstd: np.ndarray) -> None:
    """``normed = (values - mean) * rstd`` over the last axis and ``rstd = 1 / sqrt(var + eps)``.

    values, normed (..., W) (``normed`` may be ``values`` itself); rstd (..., 1).
    """
    width = values.shape[-1]
    mean = values.sum(axis=-1, keepdims=True) / width                          # (..., 1)
    np.subtract(values, mean, out=normed)                                       # centred
    variance = np.einsum("...w,...w->...", normed, normed)[..., None] / width   # (..., 1), two passes
    variance += EPS
    np.sqrt(variance, out=rstd)
    np.divide(1.0, rstd, out=rstd)
    normed *= rstd


def normalize_backward(d_normed: np.ndarray, normed: np.ndarray, rstd: np.ndarray, out: np.ndarray) -> None:
    """``out = dL/dvalues`` from ``d_normed = dL/d(normed)`` (the gain already applied), the
    cached ``normed`` (..., W) and ``rstd`` (..., 1). ``out`` may be ``normed`` itself (the
    cache is then consumed), not ``d_normed``."""
    width = normed.shape[-1]
    mean_d = d_normed.sum(axis=-1, keepdims=True) / width                              # (..., 1)
    mean_d_normed = np.einsum("...w,...w->...", d_normed, normed)[..., None] / width   # (..., 1)
    np.multiply(normed, mean_d_normed, out=out)                                        # a^ mean(d a^)
    np.subtract(d_normed, out, out=out)
    out -= mean_d
    out *= rstd


def affine(normed: np.ndarray, gain: np.ndarray, shift: np.ndarray, out: np.ndarray) -> None:
    """``out = gain * normed + shift`` (gain, shift (W,)); ``out`` may be ``normed``."""
    np.multiply(normed, gain, out=out)
    out += shift


def add_affine_grads(d_out: np.ndarray, normed: np.ndarray, gain, shift) -> None:
    """Add dL/dgain = sum d_out * a^ and dL/dshift = sum d_out (over every leading axis) into
    the Parameters ``gain`` and ``shift``."""
    rows = d_out.reshape(-1, d_out.shape[-1])                                  # (N, W)
    gain.grad += np.einsum("nw,nw->w", rows, normed.reshape(rows.shape))
    shift.grad += rows.sum(axis=0)


def parameter_shapes(**widths: int) -> dict[str, tuple[tuple[int, ...], float]]:
    """The gains (init 1) and shifts (init 0) of named layer norms, in the ``_parameter_shapes``
    form (name -> (shape, init)): ``ln_<name>_weight`` then ``ln_<name>_bias`` for each.

    >>> list(parameter_shapes(ih=8, c=2).items())[-1]
    ('ln_c_bias', ((2,), 0.0))
    """
    shapes = {}
    for name, width in widths.items():
        shapes[f"ln_{name}_weight"] = ((width,), 1.0)
        shapes[f"ln_{name}_bias"] = ((width,), 0.0)
    return shapes
