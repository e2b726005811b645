"""The forecasting task: the next ``horizon`` values of a time series from the last ``window``.

Glossary: N series length, W window, F horizon, B batch.

Input: a CSV file with a header line; ``column`` names the values (``date_column`` optionally
the dates); ``missing`` says what to do with gaps (:func:`rnnkit.data.read_time_series_csv`).

The series is split by time: the last ``test_fraction`` is the held-out test part (reported
after training), the ``val_fraction`` before it validates, the rest trains. A window belongs
to the part that holds its first target, so validation and test windows may look back into
the part before them, as a forecaster in use would. The model sees values scaled with
statistics of the training part only. ``log`` models log values; ``difference`` models the
change from one step to the next and adds it to the last known value.

Why differencing matters, and how ``difference="auto"`` (the default) decides: a recurrent
network's output is a bounded function of bounded states, so a model of levels cannot forecast
values far beyond those it trained on, and a trending series's test part lies beyond them (a
GDP series forecast with levels scored 27 times persistence's RMSE, differenced 0.8 times).
Steps of a trend stay in range. But differencing costs on a series that does not trend (the Nile:
0.80 of persistence with levels, 0.99 differenced). So "auto" differences a series that, in what
is known before the test part (training and validation), trends or leaves its range
(:func:`choose_difference`): a straight line through time explains at least half of its variance
(:data:`TREND_R2`), or validation values lie beyond the training values' range by more than
:data:`RANGE_EXIT` of its width. The test part never takes part in the choice. ``"on"`` and
``"off"`` force it; the choice and its reason are printed and kept in ``config.json`` and the
summary.

Validation reports ``loss`` (the training loss on scaled values), ``rmse`` and ``mae`` in the
original units, and the same for the persistence forecast (every future value equals the
last known one) as the baseline to beat; a run whose best validation (or test) RMSE does not
beat persistence's says so in its summary. The lowest validation loss picks
``checkpoints/best`` (or ``monitor="rmse"``).

``rnnkit evaluate`` scores the held-out tail of a file (its last ``test_fraction``, the part
the run held out when the file is its training file); ``all_windows`` scores every window,
training windows included, and is labelled so.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit import distributed
from rnnkit.data.batching import Scaler
from rnnkit.data.readers import read_time_series_csv
from rnnkit.data.scaling import fit_standard, standardise
from rnnkit.models.forecaster import LOSSES, Forecaster
from rnnkit.train.classification import column
from rnnkit.train.options import SupervisedOptions, check_common, option, regularisers, resolve_monitor
from rnnkit.train.supervised import BucketedTask, Prepared

HELP = "forecast the next values of a time series (a CSV column)"
EXPECTED = ("a CSV file with a header line and one numeric column (--column NAME or index; optionally "
            "--date-column), one time step per row in time order")
EXAMPLE = "sunspots.csv --column SUNACTIVITY --date-column YEAR --window 24"
MODEL_CLASS = Forecaster
VOCAB_FILES: tuple[str, ...] = ()
MISSING = ("error", "drop", "interpolate", "ffill")
DIFFERENCE_CHOICES = ("auto", "on", "off")
# difference="auto": a linear trend that explains this share of the known values' variance ...
TREND_R2 = 0.5
# ... or validation values beyond the training range by this share of its width mean a trending series.
RANGE_EXIT = 0.05
# Otherwise auto trains the model briefly on levels and on differences, at most this many steps each,
# and keeps the one with the lower validation RMSE.
PROBE_STEPS = 200


@dataclass
class ForecastOptions(SupervisedOptions):
    """``rnnkit train forecast``: the shared options and these."""

    column: str = option("-1", "value column: header name or index (-1: the last)")
    date_column: str = option("", "date column: header name or index (shown by predict; empty: none)")
    missing: str = option("error", "missing values: refuse, drop the rows, interpolate or carry forward", MISSING)
    window: int = option(24, "past steps each forecast reads")
    horizon: int = option(1, "future steps predicted at once")
    test_fraction: float = option(0.2, "the last part of the series held out as the test part (0: none)")
    val_fraction: float = option(0.1, "the part before the test part used for validation")
    difference: str = option("auto", "model step-to-step changes: auto (when the series trends or its validation "
                                     "part leaves the training range), on or off", DIFFERENCE_CHOICES,
                             switch=("on", "off"))
    log: bool = option(False, "model log values (positive series that grow by factors)")
    loss: str = option("mse", "training loss", LOSSES)
    batch: int = option(32, "windows per step")
    # measured across 7 series (RESULTS.md, Defaults): 10 epochs left short series (AirPassengers: 30 steps)
    # untrained; 50 with early stopping on validation won (with seed 0 it ended 6 of the 7 runs after 16-48 epochs)
    epochs: int = option(50, "passes over the training data (the time budget or --patience may stop it sooner)")
    patience: int = option(10, "stop after this many epochs without a better monitored metric (0: never)")


def check_options(options: ForecastOptions) -> None:
    check_common(options)
    if options.bidirectional:
        raise ValueError("--bidirectional is not available for forecast: a forecaster must not read the future")
    if options.window < 1 or options.horizon < 1:
        raise ValueError(f"--window and --horizon must be at least 1, got {options.window} and {options.horizon}")
    if not 0.0 <= options.test_fraction <= 0.5:
        raise ValueError(f"--test-fraction must lie in [0, 0.5], got {options.test_fraction}")
    options.difference = difference_mode(options.difference)


def difference_mode(value: Any) -> str:
    """``"auto"``, ``"on"`` or ``"off"`` from an option value; True and False (the former flag) are "on" and "off".

    >>> difference_mode(True), difference_mode("auto")
    ('on', 'auto')
    >>> difference_mode("yes")
    Traceback (most recent call last):
    ...
    ValueError: --difference must be auto, on or off, got 'yes'
    """
    if value is True or value is False:
        return "on" if value else "off"
    if value not in DIFFERENCE_CHOICES:
        raise ValueError(f"--difference must be {', '.join(DIFFERENCE_CHOICES[:-1])} or {DIFFERENCE_CHOICES[-1]}, "
                         f"got {value!r}")
    return value


def choose_difference(train: np.ndarray, validation: np.ndarray) -> tuple[bool, str]:
    """Whether ``difference="auto"`` differences a series, and why, from the values known before the test part.

    ``train`` (N_train,) and ``validation`` (N_val,) are the levels as the model would see them
    (log values with --log). Difference when a straight line through time explains at least
    :data:`TREND_R2` of the variance of train and validation together, or when validation values
    lie beyond the training range by more than :data:`RANGE_EXIT` of its width.

    >>> steps = np.arange(100.0)
    >>> choose_difference(steps[:90], steps[90:])[0]
    True
    >>> cycle = np.sin(steps / 3)
    >>> choose_difference(cycle[:90], cycle[90:])
    (False, 'no trend: a linear trend explains 0% of the variance, and validation stays within the training range')
    """
    train, validation = np.asarray(train, dtype=np.float64), np.asarray(validation, dtype=np.float64)
    known = np.concatenate([train, validation])
    peak = float(np.max(np.abs(known))) if known.size else 0.0
    if peak > 0:                            # both figures are scale-free: in units of the peak nothing overflows
        known, train, validation = known / peak, train / peak, validation / peak
    centred = known - known.mean()
    time = np.arange(len(known), dtype=np.float64)
    time -= time.mean()
    spread = float(np.sum(centred * centred))
    explained = 0.0 if spread == 0 else float(np.sum(time * centred)) ** 2 / (float(np.sum(time * time)) * spread)
    low, high = float(np.min(train)), float(np.max(train))
    width = high - low
    beyond = 0.0 if len(validation) == 0 else max(float(np.max(validation)) - high, low - float(np.min(validation)), 0.0)
    exit_share = beyond / width if width > 0 else (math.inf if beyond > 0 else 0.0)
    trend = f"a linear trend explains {explained:.0%} of the variance"
    if exit_share > RANGE_EXIT:
        return True, f"validation leaves the training range by {exit_share:.0%} of its width ({trend})"
    if explained >= TREND_R2:
        return True, f"trend: {trend}"
    return False, f"no trend: {trend}, and validation stays within the training range"


# --- the series and its windows ----------------------------------------------------------------------
def read_series(path: str | Path, options: dict[str, Any]) -> tuple[np.ndarray, list[str] | None]:
    """The values (N,) and the dates (or None) of a CSV file in the run's layout."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path}")
    date_column = column(options["date_column"]) if options["date_column"] != "" else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = read_time_series_csv(path, column(options["column"]), date_column, options["missing"],
                                          encoding=options.get("encoding") or "utf-8")
        except ValueError as error:
            message = str(error).replace("pass missing='drop', 'interpolate' or 'ffill'",
                                         "use --missing drop, interpolate or ffill")
            raise ValueError(message) from None
    for warning in caught:
        print(f"note: {warning.message}")
    values, dates = (result if date_column is not None else (result, None))
    if dates:
        check_dates_ascend(dates, path)
    if options["log"] and np.any(values <= 0):
        first = int(np.flatnonzero(values <= 0)[0])
        raise ValueError(f"{path}: --log needs positive values, but value {first + 1} is {values[first]}")
    return values, dates


def check_dates_ascend(dates: list[str], path: Path) -> None:
    """Refuse dates that go back in time (a file sorted newest first): the model would learn the series reversed.

    Dates are compared as numbers (years) or as ISO dates when every one reads as such; other
    formats are not checked.
    """
    import datetime

    for parse in (float, lambda text: datetime.datetime.fromisoformat(text)):
        try:
            parsed = [parse(text) for text in dates]
        except ValueError:
            continue
        for row in range(1, len(parsed)):
            if parsed[row] < parsed[row - 1]:
                order = "newest first" if parsed[-1] < parsed[0] else "out of order"
                raise ValueError(f"{path}: the dates go back in time ({dates[row - 1]!r} then {dates[row]!r}, data "
                                 f"rows {row} and {row + 1}): the series must run forward in time, but it is "
                                 f"{order}; sort the file by date")
        return


class SeriesTransform:
    """Original values <-> what the model reads: optional log, optional differencing, scaling."""

    def __init__(self, log: bool, difference: bool, scaler: Scaler | None = None):
        self.log, self.difference, self.scaler = log, difference, scaler

    def modelled(self, values: np.ndarray) -> np.ndarray:
        """The unscaled modelled series: (N,) or (N-1,) with differencing."""
        values = np.asarray(values, dtype=np.float64)
        if self.log and np.any(values <= 0):
            first = int(np.flatnonzero(values <= 0)[0])
            raise ValueError(f"the run models log values (--log), so every value must be positive, but value "
                             f"{first + 1} of {len(values)} is {values[first]:g}")
        levels = np.log(values) if self.log else values
        return np.diff(levels) if self.difference else levels

    def windows(self, values: np.ndarray, window: int, horizon: int):
        """Every window of a series: inputs (M, W, 1) scaled, targets (M, F) scaled, first-target indices (M,).

        The first-target index is the position in ``values`` of the first value the window predicts.
        """
        z = standardise(self.scaler, self.modelled(values), "the series")
        offset = 1 if self.difference else 0                  # z[k] describes values[k + offset]
        count = len(z) - window - horizon + 1
        if count < 1:
            raise ValueError(f"the series has {len(values)} values; --window {window} and --horizon {horizon}"
                             f"{' with --difference' if self.difference else ''} need at least "
                             f"{window + horizon + offset}")
        starts = np.arange(count)
        inputs = z[starts[:, None] + np.arange(window)][:, :, None]           # (M, W, 1)
        targets = z[starts[:, None] + window + np.arange(horizon)]            # (M, F)
        return inputs.astype(np.float32), targets.astype(np.float32), starts + window + offset

    def to_original(self, predicted: np.ndarray, values: np.ndarray, first_targets: np.ndarray) -> np.ndarray:
        """Scaled model outputs (M, F) as values in the original units."""
        z = predicted * self.scaler.scale_ + self.scaler.center_
        if not np.all(np.isfinite(z)):
            raise ValueError(f"the forecasts overflow float64 in the original units (scale {float(self.scaler.scale_):.3g});"
                             f" rescale the series")
        if self.difference:
            last = values[first_targets - 1]
            base = np.log(last) if self.log else last
            levels = base[:, None] + np.cumsum(z, axis=1)
        else:
            levels = z
        return np.exp(levels) if self.log else levels

    def state(self) -> dict[str, Any]:
        return {"log": self.log, "difference": self.difference,
                "center": float(self.scaler.center_), "scale": float(self.scaler.scale_)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "SeriesTransform":
        scaler = Scaler()
        scaler.center_, scaler.scale_ = np.asarray(state["center"]), np.asarray(state["scale"])
        return cls(state["log"], state["difference"], scaler)


def truth(values: np.ndarray, first_targets: np.ndarray, horizon: int) -> np.ndarray:
    return values[first_targets[:, None] + np.arange(horizon)]                 # (M, F)


def forecast_metrics(model: Forecaster, transform: SeriesTransform, values: np.ndarray, inputs: np.ndarray,
                     targets: np.ndarray, first_targets: np.ndarray) -> dict[str, float]:
    """Loss (scaled), RMSE and MAE in the original units, and the persistence baseline's."""
    loss, error, naive = forecast_errors(model, transform, values, inputs, targets, first_targets)
    return {"loss": loss, "rmse": 2 * _rms(error), "mae": 2 * _mean_abs(error),
            "persistence_rmse": 2 * _rms(naive), "persistence_mae": 2 * _mean_abs(naive)}


def forecast_errors(model: Forecaster, transform: SeriesTransform, values: np.ndarray, inputs: np.ndarray,
                    targets: np.ndarray, first_targets: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """The loss (scaled) and half the errors (M, F) of the forecasts and of persistence in the original units."""
    predictions = model.predict(inputs)[..., 0]                                # (M, F)
    loss, _ = model.loss(predictions, targets)
    horizon = targets.shape[1]
    actual = truth(values, first_targets, horizon)
    predicted = transform.to_original(predictions.astype(np.float64), values, first_targets)
    persistence = np.repeat(values[first_targets - 1][:, None], horizon, axis=1)
    error, naive = predicted * 0.5 - actual * 0.5, persistence * 0.5 - actual * 0.5        # halves: no overflow
    return float(loss), error, naive


def forecast_sums(model: Forecaster, transform: SeriesTransform, values: np.ndarray, inputs: np.ndarray,
                  targets: np.ndarray, first_targets: np.ndarray, rank: int = 0, size: int = 1) -> dict[str, float]:
    """What :func:`forecast_metrics` reports, as sums that add up across the ``size`` parts of the windows
    (this is part ``rank``); :func:`metrics_from_sums` turns their total into the metrics.

    ``loss`` (summed over the predicted values) and ``count`` (predicted values); for the errors
    and persistence's, each part's largest magnitude and its sums of squares and of magnitudes
    measured in units of it, under keys of this part's own (``error.peak.R``, ...; zero in the
    other parts' keys), so that the sum over the parts hands every part's figures to
    :func:`metrics_from_sums`, which rescales them to the largest peak of all (no overflow).
    """
    sums: dict[str, float] = {"loss": 0.0, "count": 0}
    for name in ("error", "naive"):
        for part in range(size):
            sums.update({f"{name}.peak.{part}": 0.0, f"{name}.squares.{part}": 0.0, f"{name}.magnitudes.{part}": 0.0})
    if len(inputs) == 0:
        return sums
    loss, error, naive = forecast_errors(model, transform, values, inputs, targets, first_targets)
    sums["loss"], sums["count"] = loss * targets.size, int(targets.size)
    for name, differences in (("error", error), ("naive", naive)):
        peak = float(np.max(np.abs(differences)))
        if peak > 0:
            sums[f"{name}.peak.{rank}"] = peak
            sums[f"{name}.squares.{rank}"] = float(np.sum((differences / peak) ** 2))
            sums[f"{name}.magnitudes.{rank}"] = float(np.sum(np.abs(differences) / peak))
    return sums


def metrics_from_sums(sums: dict[str, float]) -> dict[str, float]:
    """:func:`forecast_metrics`'s figures from :func:`forecast_sums` added up over every part of the windows."""
    count = sums["count"]
    metrics = {"loss": sums["loss"] / count}
    for name, prefix in (("error", ""), ("naive", "persistence_")):
        parts = sorted(int(key.rsplit(".", 1)[1]) for key in sums if key.startswith(f"{name}.peak."))
        peaks = [sums[f"{name}.peak.{part}"] for part in parts]
        peak = max(peaks, default=0.0)
        if peak == 0:
            metrics[f"{prefix}rmse"] = metrics[f"{prefix}mae"] = 0.0
            continue
        weights = [part_peak / peak for part_peak in peaks]                   # each part's unit in the largest's
        squares = sum(weight * weight * sums[f"{name}.squares.{part}"] for weight, part in zip(weights, parts))
        magnitudes = sum(weight * sums[f"{name}.magnitudes.{part}"] for weight, part in zip(weights, parts))
        metrics[f"{prefix}rmse"] = 2 * (peak * math.sqrt(squares / count))
        metrics[f"{prefix}mae"] = 2 * (peak * (magnitudes / count))
    return {key: metrics[key] for key in ("loss", "rmse", "mae", "persistence_rmse", "persistence_mae")}


def _rms(values: np.ndarray) -> float:
    """The root mean square, measured in units of the largest magnitude (no overflow near 1e308)."""
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    return 0.0 if peak == 0 else \
        peak * math.sqrt(float(np.mean((values / peak) ** 2)))


def _mean_abs(values: np.ndarray) -> float:
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    return 0.0 if peak == 0 else peak * float(np.mean(np.abs(values) / peak))


@dataclass
class WindowBatch:
    inputs: np.ndarray              # (B, W, 1)
    targets: np.ndarray             # (B, F)

    @property
    def num_tokens(self) -> int:
        return int(self.inputs.shape[0] * self.inputs.shape[1])


class ForecastingTask(BucketedTask):
    """What :class:`~rnnkit.train.Trainer` needs to train a :class:`Forecaster` on windows of one series."""

    def __init__(self, model: Forecaster, transform: SeriesTransform, values: np.ndarray, train: tuple,
                 val: tuple, batch_size: int, seed: int = 0):
        self.model, self.transform, self.values = model, transform, values
        self.train_inputs, self.train_targets, _ = train
        self.val = val
        super().__init__(np.full(len(self.train_inputs), self.train_inputs.shape[1]), batch_size, seed)

    def make_batch(self, indices: np.ndarray) -> WindowBatch:
        return WindowBatch(self.train_inputs[indices], self.train_targets[indices])

    def forward(self, model: Forecaster, batch: WindowBatch) -> np.ndarray:
        return model(batch.inputs)                                             # (B, F, 1)

    def loss(self, predictions: np.ndarray, batch: WindowBatch) -> tuple[float, np.ndarray]:
        return self.model.loss(predictions, batch.targets)

    def loss_count(self, batch: WindowBatch) -> int:
        """The loss is a mean over every predicted value."""
        return int(batch.targets.size)

    def backward(self, model: Forecaster, d_predictions: np.ndarray) -> None:
        model.backward(d_predictions)

    def evaluate(self, model: Forecaster) -> dict[str, float]:
        return forecast_metrics(model, self.transform, self.values, *self.val)

    def evaluate_part(self, model: Forecaster, rank: int, size: int) -> dict[str, float]:
        """This rank's share of the validation windows, as sums (:func:`forecast_sums`)."""
        chosen = distributed.part(len(self.val[0]), rank, size)
        return forecast_sums(model, self.transform, self.values, *(array[chosen] for array in self.val), rank, size)

    def metrics_from_sums(self, sums: dict[str, float]) -> dict[str, float]:
        return metrics_from_sums(sums)

    # What the Trainer calls the values its steps read ("tokens" for text tasks).
    count_name = "input values"
    chosen = ""

    def summary_extras(self, summary: dict[str, Any]) -> dict[str, Any]:
        """What the run's summary adds for a forecast: the transform chosen, and a warning for every part
        (validation at the best checkpoint, the held-out test) where the model did not beat persistence."""
        warnings = [line for line in (persistence_warning(summary.get("best") or {}, "validation"),
                                      persistence_warning(summary.get("test") or {}, "held-out test")) if line]
        return {"series": self.chosen, "warnings": warnings}


def persistence_warning(metrics: dict[str, Any], part: str) -> str | None:
    """A warning when ``metrics``' RMSE is not below persistence's (None when it is, or without the figures).

    >>> persistence_warning({"rmse": 12.0, "persistence_rmse": 10.0}, "validation")
    'the model did not beat persistence on validation: RMSE 12 against 10 for repeating the last value (x1.200)'
    >>> persistence_warning({"rmse": 9.0, "persistence_rmse": 10.0}, "validation") is None
    True
    """
    rmse, baseline = metrics.get("rmse"), metrics.get("persistence_rmse")
    if rmse is None or baseline is None or rmse < baseline:
        return None
    ratio = f" (x{rmse / baseline:.3f})" if baseline > 0 else ""
    return (f"the model did not beat persistence on {part}: RMSE {rmse:.4g} against {baseline:.4g} for repeating "
            f"the last value{ratio}")


@dataclass
class Setup:
    """A run's series cut into parts and windows for one transform: what :func:`prepare` and the probes share."""

    transform: SeriesTransform
    train: tuple                        # (inputs (M, W, 1), targets (M, F), first-target indices (M,))
    val: tuple
    test: tuple
    val_values: np.ndarray              # the series the validation windows index (the --val-data file's, or --data's)


def setup(options: ForecastOptions, values: np.ndarray, val_values: np.ndarray | None, val_start: int,
          test_start: int, difference: bool) -> Setup:
    """The transform fitted on the training part (log, ``difference``, scaling) and the windows of each part."""
    transform = SeriesTransform(options.log, difference)
    train_part = transform.modelled(values[:val_start])                       # statistics of the training part only
    if len(train_part) < options.window + options.horizon:
        raise ValueError(f"{options.data}: the training part has {val_start} values, too few for --window "
                         f"{options.window} and --horizon {options.horizon}; lower them or the held-out fractions")
    transform.scaler = fit_standard(train_part, options.data)
    inputs, targets, first = transform.windows(values, options.window, options.horizon)
    in_train = first + options.horizon - 1 < val_start
    in_val = (first >= val_start) & (first < test_start)
    in_test = first >= test_start
    train = (inputs[in_train], targets[in_train], first[in_train])
    if val_values is not None:
        val = transform.windows(val_values, options.window, options.horizon)
    else:
        val = (inputs[in_val], targets[in_val], first[in_val])
    if len(train[0]) < 1 or len(val[0]) < 1:
        raise ValueError(f"{options.data}: {len(values)} values leave {len(train[0])} training and {len(val[0])} "
                         f"validation windows of --window {options.window}; need at least one of each")
    return Setup(transform, train, val, (inputs[in_test], targets[in_test], first[in_test]),
                 values if val_values is None else val_values)


def build(options: ForecastOptions, parts: Setup) -> tuple[Forecaster, "ForecastingTask"]:
    model = Forecaster(input_size=1, output_size=1, hidden_size=options.hidden, horizon=options.horizon,
                       cell=options.cell, num_layers=options.layers, loss=options.loss, dropout=options.dropout,
                       regularisers=regularisers(options) or None, seed=options.seed)
    task = ForecastingTask(model, parts.transform, parts.val_values, parts.train, parts.val, options.batch,
                           options.seed)
    task.monitor = resolve_monitor(options.monitor, "loss", ("loss", "rmse"))
    return model, task


def probe_difference(options: ForecastOptions, values: np.ndarray, val_values: np.ndarray | None, val_start: int,
                     test_start: int) -> tuple[bool, str]:
    """Levels or differences for a series without a clear trend: train the run's model briefly on each
    (:data:`PROBE_STEPS` steps, whatever --epochs says; the run's other options and seed) and keep the
    one with the lower validation RMSE. Only steps limit the probes, never time, so the same data gives the same choice
    (which --resume relies on)."""
    import dataclasses

    from rnnkit.optim import Adam
    from rnnkit.train.runner import trainer_config
    from rnnkit.train.trainer import Trainer, TrainingDiverged

    scores = {}
    for difference in (False, True):
        parts = setup(options, values, val_values, val_start, test_start, difference)
        model, task = build(options, parts)
        # Of the run's options, only those --resume cannot change shape a probe (not --epochs, --max-minutes).
        epochs = -(-PROBE_STEPS // max(task.steps_per_epoch, 1))
        quiet = dataclasses.replace(options, epochs=epochs, max_minutes=0.0, checkpoint_every=0, patience=0,
                                    quiet=True, progress="never")
        config = trainer_config(quiet, task.steps_per_epoch, progress=False)
        config.max_steps = PROBE_STEPS
        trainer = Trainer(model, task, Adam(model.parameters(), lr=options.lr), config, log=lambda message: None)
        try:
            trainer.fit()
        except TrainingDiverged:                     # that transform lost; the run's own training will say more
            scores[difference] = math.inf
            continue
        scores[difference] = min(row["val_rmse"] for row in trainer.state["history"])
    difference = scores[True] < scores[False]
    return difference, (f"no clear trend, so both were tried for {PROBE_STEPS} steps: validation RMSE "
                        f"{scores[False]:.3g} with levels, {scores[True]:.3g} differenced")


def prepare(options: ForecastOptions) -> Prepared:
    check_options(options)
    settings = vars(options)
    values, dates = read_series(options.data, settings)
    count = len(values)
    test_start = count - int(round(count * options.test_fraction))
    val_start = test_start - max(1, int(round(count * options.val_fraction)))
    val_values = None
    if options.val_data:
        val_start = test_start
        val_values, _ = read_series(options.val_data, settings)
    known_val = val_values if options.val_data else values[val_start:test_start]
    if options.difference == "auto":       # from training and validation values only, never the test part
        difference, reason = choose_difference(SeriesTransform(options.log, False).modelled(values[:val_start]),
                                               SeriesTransform(options.log, False).modelled(known_val))
        if not difference:
            if not options.quiet:
                print(f"--difference auto: {reason}; training {PROBE_STEPS} steps on levels and {PROBE_STEPS} on "
                      f"differences to choose on the validation split", flush=True)
            difference, reason = probe_difference(options, values, val_values, val_start, test_start)
        chosen = f"{'differenced' if difference else 'levels'} (--difference auto: {reason})"
    else:
        difference = options.difference == "on"
        chosen = f"{'differenced' if difference else 'levels'} (--difference {options.difference})"
    parts = setup(options, values, val_values, val_start, test_start, difference)
    transform, train, val, test = parts.transform, parts.train, parts.val, parts.test
    model, task = build(options, parts)
    task.chosen = chosen

    def final_report(best_model: Forecaster) -> dict[str, float]:
        if len(test[0]) == 0:
            return {}
        return {**forecast_metrics(best_model, transform, values, *test), "windows": int(len(test[0]))}

    span = f" ({dates[0]} to {dates[-1]})" if dates else ""
    description = [f"data: {options.data}{span}: {count:,} values; {len(train[0]):,} training, {len(val[0]):,} "
                   f"validation and {len(test[0]):,} test windows of {options.window} steps, horizon "
                   f"{options.horizon}{', log values' if options.log else ''}",
                   f"series: {chosen}"]
    artifacts = {"transform": transform.state(), "values": count, "val_start": int(val_start),
                 "test_start": int(test_start), "last_date": dates[-1] if dates else None}
    if options.difference == "auto":           # runs of a fixed --difference keep the artifacts they always had
        artifacts["difference_auto"] = chosen
    return Prepared(model, task, artifacts, {}, description, final_report)


def evaluate_file(model: Forecaster, document: dict[str, Any], vocabs: dict, path: str,
                  all_windows: bool = False) -> dict[str, Any]:
    """RMSE / MAE (original units) and persistence's on a series file's held-out tail, or on every window.

    The tail is the windows whose first target lies in the file's last ``test_fraction`` of values
    (the run's held-out test part when the file is its training file; ``val_fraction`` for a run
    that held out no test part). ``all_windows`` scores every window instead, training windows
    included. ``part`` says which was scored; ``warning`` is there when the model does not beat
    persistence.
    """
    options = document["options"]
    values, _ = read_series(path, options)
    transform = SeriesTransform.from_state(document["artifacts"]["transform"])
    inputs, targets, first = transform.windows(values, options["window"], options["horizon"])
    if all_windows:
        part = f"all {len(inputs):,} windows of the file, training windows included (--all-windows)"
    else:
        name, fraction = ("test_fraction", options["test_fraction"]) if options.get("test_fraction") else \
            ("val_fraction", options["val_fraction"])
        tail_start = len(values) - int(round(len(values) * fraction))
        chosen = first >= tail_start
        if not np.any(chosen):
            raise ValueError(f"{path}: its last {fraction:g} of {len(values)} values (the run's --{name.replace('_', '-')}) "
                             f"hold no window of --window {options['window']} and --horizon {options['horizon']}; "
                             f"give --all-windows to score every window")
        inputs, targets, first = inputs[chosen], targets[chosen], first[chosen]
        part = (f"held-out tail: the last {fraction:.0%} of the file's values (the run's --{name.replace('_', '-')}; "
                f"values {tail_start + 1}-{len(values)}), {len(inputs):,} windows")
    metrics: dict[str, Any] = {**forecast_metrics(model, transform, values, inputs, targets, first),
                               "windows": int(len(inputs)), "part": part}
    warning = persistence_warning(metrics, "this part of the file")
    if warning:
        metrics["warning"] = warning
    return metrics


def predict(model: Forecaster, document: dict[str, Any], vocabs: dict, inputs: list[str] | None,
            file: str | None) -> list[str]:
    """The next ``horizon`` values after the given history (numbers as arguments, or a CSV --file)."""
    options = document["options"]
    if file is not None:
        values, _ = read_series(file, options)
    else:
        try:
            values = np.array([float(text) for text in inputs or []], dtype=np.float64)
        except ValueError as error:
            raise ValueError(f"the history must be numbers, one per argument ({error})") from error
        if not np.all(np.isfinite(values)):
            raise ValueError(f"the history must be finite numbers, got {values[~np.isfinite(values)][0]}")
    transform = SeriesTransform.from_state(document["artifacts"]["transform"])
    window = options["window"]
    needed = window + (1 if transform.difference else 0)
    if len(values) < needed:
        raise ValueError(f"need at least {needed} past values (--window {window}"
                         f"{' + 1 for --difference' if transform.difference else ''}), got {len(values)}")
    recent = values[-needed:]                               # what the forecast reads
    if transform.log and np.any(recent <= 0):
        first = len(values) - needed + int(np.flatnonzero(recent <= 0)[0])
        raise ValueError(f"the run models log values (--log), so the last {needed} values must be positive, but "
                         f"value {first + 1} of {len(values)} is {values[first]:g}")
    z = standardise(transform.scaler, transform.modelled(recent), "the history")
    predicted = model.predict(z[None, -window:, None].astype(np.float32))[..., 0]        # (1, F)
    extended = np.append(values, np.nan)                    # position len(values) is the first future step
    future = transform.to_original(predicted.astype(np.float64), extended, np.array([len(values)]))[0]
    return [f"t+{step + 1}\t{value:.6g}" for step, value in enumerate(future)]


OPTIONS = ForecastOptions
