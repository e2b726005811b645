"""Time-series regression: windows of past values in, the next ``horizon`` values out.

Glossary: B batch (windows), T steps per window, D input features, H hidden units,
F horizon (steps predicted), O output features.

Data flow::

    x (B, T, D) -> recurrent layer -> y (B, T, H), h_n (L, B, H)
    "many_to_one":  h_n[-1] (B, H)   -> Linear -> (B, F*O) -> predictions (B, F, O)
    "many_to_many": y (B, T, H)      -> Linear -> (B, T, F*O) -> predictions (B, T, F, O)

The horizon is predicted directly (one output layer with F*O outputs), not by feeding
predictions back in, so errors do not compound through a recursive rollout.

Train on scaled data (:class:`rnnkit.data.Scaler`) and read results in the original units with
:meth:`Forecaster.to_original_units`.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from rnnkit import losses
from rnnkit._validate import as_float_array, check_choice, check_column, check_positive_int, check_probability
from rnnkit.layers import Linear
from rnnkit.models._common import final_hidden, make_recurrent_layer, state_gradient
from rnnkit.module import Module

MODES = ("many_to_one", "many_to_many")
LOSSES = ("mse", "huber")


class Forecaster(Module):
    """A recurrent regressor that predicts the next ``horizon`` steps of a series.

    Parameters
    ----------
    input_size : int
        D, features per input step.
    output_size : int or None
        O, features predicted per future step (default D). Use 1 with a ``target_column``.
    hidden_size : int
        H.
    horizon : int
        F, future steps predicted at once.
    cell : {"lstm", "gru", "rnn"}
    num_layers : int
    mode : {"many_to_one", "many_to_many"}
        "many_to_one" forecasts once per window from its last state: (B, F, O).
        "many_to_many" forecasts after every step: (B, T, F, O), the forecast at step t
        covering steps t+1 .. t+F.
    loss : {"mse", "huber"}
        The loss :meth:`loss` uses.
    delta : float
        Huber's switch point from quadratic to linear.
    dropout : float
        Dropout between recurrent layers, in training mode.
    regularisers : dict or None
        Regulariser options of the recurrent layer by name (``locked_dropout``, ``weight_drop``,
        ``zoneout``, ``learn_initial_state`` ...: :class:`~rnnkit.layers.recurrent.RecurrentLayer`).
    dtype : numpy.float32 or numpy.float64
    seed : int, numpy.random.Generator or None

    Shapes
    ------
    ``forward(x (B, T, D))`` returns predictions (B, F, O) or (B, T, F, O);
    ``backward(d_predictions)`` returns dx (B, T, D).

    Examples
    --------
    >>> model = Forecaster(input_size=1, hidden_size=8, horizon=3, seed=0)
    >>> windows = np.sin(np.linspace(0, 6, 40)).reshape(4, 10, 1)
    >>> predictions = model(windows)
    >>> predictions.shape
    (4, 3, 1)
    >>> loss, d_predictions = model.loss(predictions, np.zeros((4, 3)))   # (B, F) is fine when O = 1
    >>> model.backward(d_predictions).shape
    (4, 10, 1)
    """

    def __init__(self, input_size: int, output_size: int | None = None, hidden_size: int = 32, horizon: int = 1,
                 cell: str = "lstm", num_layers: int = 1, mode: str = "many_to_one", loss: str = "mse",
                 delta: float = 1.0, dropout: float = 0.0, regularisers: dict[str, Any] | None = None,
                 dtype: Any = np.float32, seed: Any = None):
        super().__init__(dtype=dtype, seed=seed)
        self.input_size = check_positive_int(input_size, "input_size")
        self.output_size = self.input_size if output_size is None else check_positive_int(output_size, "output_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.horizon = check_positive_int(horizon, "horizon")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.mode = check_choice(mode, "mode", MODES)
        self.loss_name = check_choice(loss, "loss", LOSSES)
        if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not np.isfinite(delta) or delta <= 0:
            raise ValueError(f"delta must be a finite number > 0, got {delta!r}")
        self.delta = float(delta)
        dropout = check_probability(dropout, "dropout")
        self.recurrent = make_recurrent_layer(cell, self.input_size, self.hidden_size, self.num_layers, False,
                                              dropout, self.dtype, self.rng, regularisers)
        self.output = Linear(self.hidden_size, self.horizon * self.output_size, dtype=self.dtype, seed=self.rng)
        self.config = {"input_size": self.input_size, "output_size": self.output_size, "hidden_size": self.hidden_size,
                       "horizon": self.horizon, "cell": cell, "num_layers": self.num_layers, "mode": self.mode,
                       "loss": self.loss_name, "delta": self.delta, "dropout": dropout}
        if regularisers:                   # only when used: configs saved before the option stay as they were
            self.config["regularisers"] = dict(regularisers)
        self._cache: Any = None

    def forward(self, x: Any) -> np.ndarray:
        x = as_float_array(x, "x", self.dtype, (None, None, self.input_size), "(B, T, D)")
        batch, steps, _ = x.shape
        y, state = self.recurrent(x)                                         # y (B, T, H)
        if self.mode == "many_to_one":
            features = final_hidden(self.recurrent, state)[-1]               # (B, H): top layer, last step
            shape = (batch, self.horizon, self.output_size)
        else:
            features = y                                                     # (B, T, H)
            shape = (batch, steps, self.horizon, self.output_size)
        self._cache = self._keep((y.shape, shape))
        return self.output(features).reshape(shape)

    def backward(self, d_predictions: Any) -> np.ndarray:
        y_shape, shape = self._require_cache(self._cache)
        d_predictions = as_float_array(d_predictions, "d_predictions", self.dtype, shape,
                                       "(B, F, O)" if self.mode == "many_to_one" else "(B, T, F, O)")
        d_features = self.output.backward(d_predictions.reshape(shape[:-2] + (-1,)))
        if self.mode == "many_to_one":
            d_h_n = np.zeros((self.num_layers, y_shape[0], self.hidden_size), dtype=self.dtype)
            d_h_n[-1] = d_features                                           # only the top layer's state is read
            dx, _ = self.recurrent.backward(np.zeros(y_shape, dtype=self.dtype), state_gradient(self.recurrent, d_h_n))
        else:
            dx, _ = self.recurrent.backward(d_features)
        return dx

    def _as_prediction_shape(self, targets: Any, shape: tuple[int, ...]) -> np.ndarray:
        """Targets in the predictions' shape; when O = 1 the last axis may be left out."""
        targets = np.asarray(targets)
        if self.output_size == 1 and targets.shape == shape[:-1]:
            targets = targets[..., None]
        if targets.shape != shape:
            layout = "(B, F, O)" if self.mode == "many_to_one" else "(B, T, F, O)"
            raise ValueError(f"targets must have the predictions' shape {layout} = {shape}"
                             + (f" (or {shape[:-1]} when O = 1)" if self.output_size == 1 else "")
                             + f", got {targets.shape}")
        return targets

    def loss(self, predictions: Any, targets: Any, mask: Any = None) -> tuple[float, np.ndarray]:
        """The configured loss (mean over elements) and its gradient with respect to ``predictions``.

        ``targets`` has the predictions' shape; with O = 1 the last axis may be left out, e.g.
        (B, F) from :func:`rnnkit.data.sliding_windows`. ``mask`` (leading axes, e.g. (B, T))
        leaves out positions, e.g. many-to-many forecasts that run past the series' end.
        """
        predictions = np.asarray(predictions)
        targets = self._as_prediction_shape(targets, predictions.shape)
        if self.loss_name == "mse":
            return losses.mse(predictions, targets, mask=mask)
        return losses.huber(predictions, targets, delta=self.delta, mask=mask)

    def predict(self, x: Any, scaler: Any = None, target_column: int | None = None) -> np.ndarray:
        """Predictions in eval mode; in the original units when the data ``scaler`` is given.

        See :meth:`to_original_units` for ``scaler`` and ``target_column``.
        """
        with self.inference():  # eval mode and no_grad until the block ends
            predictions = self.forward(x)
        return predictions if scaler is None else self.to_original_units(predictions, scaler, target_column)

    def to_original_units(self, predictions: Any, scaler: Any, target_column: int | None = None) -> np.ndarray:
        """Undo the data scaling of ``predictions`` (..., O).

        ``scaler`` is the fitted :class:`rnnkit.data.Scaler` of the series. When the model
        predicts one column of a multi-feature series (``output_size=1`` trained on
        ``sliding_windows(..., target_column=c)``), give ``target_column=c`` so that column's
        statistics are used.

        >>> from rnnkit.data import Scaler
        >>> scaler = Scaler().fit(np.array([[0.0, 10.0], [2.0, 30.0]]))   # means 1, 20; stds 1, 10
        >>> model = Forecaster(input_size=2, output_size=1, hidden_size=2, seed=0)
        >>> model.to_original_units(np.array([[[1.0]]]), scaler, target_column=1).tolist()
        [[[30.0]]]
        """
        predictions = as_float_array(predictions, "predictions", np.float64)
        if predictions.ndim == 0:
            raise ValueError("predictions must have shape (..., O), got a scalar")
        outputs = predictions.shape[-1]
        if getattr(scaler, "center_", None) is None:
            raise ValueError("scaler must be a fitted rnnkit.data.Scaler (call fit on the training series first)")
        center, scale = np.asarray(scaler.center_, dtype=np.float64), np.asarray(scaler.scale_, dtype=np.float64)
        if target_column is not None:
            if center.ndim != 1:
                raise ValueError(f"target_column needs a scaler fitted on a 2-D series (N_steps, D); this one has "
                                 f"statistics of shape {center.shape}")
            target_column = check_column(target_column, "target_column", center.shape[0])
            center, scale = center[target_column], scale[target_column]
            if outputs != 1:
                raise ValueError(f"target_column gives the statistics of one feature, so predictions must have one "
                                 f"value on the last axis (O = 1), got O = {outputs}")
        elif center.ndim == 0 and outputs != 1:
            raise ValueError(f"the scaler was fitted on a 1-D series (one feature) but predictions have O = {outputs} "
                             f"on the last axis")
        if center.ndim == 1 and center.shape[0] != outputs:
            raise ValueError(f"the scaler has {center.shape[0]} features but predictions have {outputs} "
                             f"on the last axis; give target_column for a single predicted column")
        return predictions * scale + center


def persistence_forecast(x: Any, horizon: int, target_column: int | None = None) -> np.ndarray:
    """The naive baseline: every future step equals the window's last value.

    Parameters
    ----------
    x : array (B, T, D)
    horizon : int
        F.
    target_column : int or None
        Forecast only this feature: (B, F, 1).

    Returns
    -------
    ndarray (B, F, D) or (B, F, 1)

    >>> persistence_forecast(np.arange(6.0).reshape(2, 3, 1), horizon=2)[..., 0].tolist()
    [[2.0, 2.0], [5.0, 5.0]]
    """
    x = as_float_array(x, "x", np.float64, (None, None, None), "(B, T, D)")
    horizon = check_positive_int(horizon, "horizon")
    if target_column is not None:
        target_column = check_column(target_column, "target_column", x.shape[2])
    last = x[:, -1:, :] if target_column is None else x[:, -1:, [target_column]]        # (B, 1, D or 1)
    return np.repeat(last, horizon, axis=1)
