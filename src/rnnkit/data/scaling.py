"""Standard scaling for any finite values, as a fitted :class:`rnnkit.data.Scaler`.

:meth:`Scaler.fit <rnnkit.data.Scaler.fit>` takes the mean and standard deviation directly,
and ``(x - mean) / std`` directly; near the float64 limit (values of 1e308) those sums and
differences overflow. The training tasks (classify on series, forecast) may meet any file, so
they scale with these two functions instead: the statistics are computed on values divided by
each feature's largest magnitude (so they agree with ``Scaler.fit``'s to the last bits, not
bit for bit), and the scaling in halves; a result that still is not finite is refused with
the data named. Both keep the statistics in a ``Scaler`` (``center_``, ``scale_``), which
inverts them as usual.

>>> scaler = fit_standard(np.array([1e308, -1e308, 1e308, -1e308]), "x")
>>> float(scaler.center_), float(scaler.scale_)
(0.0, 1e+308)
>>> standardise(scaler, np.array([1e308, -5e307]), "x").tolist()
[1.0, -0.5]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.data.batching import Scaler


def fit_standard(values: Any, source: str) -> Scaler:
    """A standard :class:`Scaler` fitted on ``values`` (N,) or (N, D): mean and standard deviation per
    feature, a constant feature scaled by 1. ``source`` names the data in the error raised when the
    statistics are not finite."""
    frames = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(frames)):
        raise ValueError(f"{source}: the values hold NaN or infinity; they cannot be standardised")
    peak = np.max(np.abs(frames), axis=0)
    peak = np.where(peak > 0, peak, 1.0)
    unit = frames / peak
    mean, std = unit.mean(axis=0) * peak, unit.std(axis=0) * peak
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
        raise ValueError(f"{source}: the values are too large to standardise in float64 (their mean or standard "
                         f"deviation overflows); rescale them")
    scaler = Scaler("standard")
    scaler.center_, scaler.scale_ = np.asarray(mean), np.asarray(np.where(std > 0, std, 1.0))
    return scaler


def standardise(scaler: Scaler, values: Any, source: str) -> np.ndarray:
    """``(values - center) / scale`` in float64, computed in halves (no overflow for values near 1e308);
    refuses a result that is not finite, naming ``source``."""
    half = 0.5
    result = (np.asarray(values, dtype=np.float64) * half - scaler.center_ * half) / (scaler.scale_ * half)
    if not np.all(np.isfinite(result)):
        raise ValueError(f"{source}: values too far from the training data's range to standardise in float64 "
                         f"(largest magnitude {np.max(np.abs(values)):.3g}); rescale them")
    return result
