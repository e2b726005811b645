"""Forecaster: gradients, a sine wave learned better than persistence, units, save/load, errors."""

import numpy as np
import pytest

import rnnkit
from rnnkit import optim
from rnnkit.data import Scaler, sliding_windows, time_split
from rnnkit.gradcheck import check_gradients
from rnnkit.models import Forecaster, persistence_forecast

TOLERANCE = 1e-6


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("mode", ["many_to_one", "many_to_many"])
def test_gradients_match_central_differences(cell, mode, rng):
    model = Forecaster(input_size=2, output_size=2, hidden_size=3, horizon=2, cell=cell, num_layers=2, mode=mode,
                       dtype=np.float64, seed=0)
    x = rng.standard_normal((2, 4, 2))
    report = check_gradients(model, {"x": x},
                             forward=lambda m, inputs: m(inputs["x"]),
                             backward=lambda m, grad: {"x": m.backward(grad)})
    assert {name for name, _ in model.named_parameters()} | {"input x"} <= set(report.errors)
    assert report.worst < TOLERANCE, str(report)


@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_loss_gradient_flows_into_the_parameters(loss, rng):
    model = Forecaster(input_size=1, hidden_size=3, horizon=3, loss=loss, delta=0.5, dtype=np.float64, seed=0)
    x, target = rng.standard_normal((2, 5, 1)), 3.0 * rng.standard_normal((2, 3))

    def value():
        return model.loss(model(x), target)[0]

    model.zero_grad()
    _, d_predictions = model.loss(model(x), target)
    model.backward(d_predictions)
    weight = model.output.weight
    numeric = np.zeros_like(weight.data)
    for index in np.ndindex(weight.shape):
        original = weight.data[index]
        weight.data[index] = original + 1e-6
        plus = value()
        weight.data[index] = original - 1e-6
        minus = value()
        weight.data[index] = original
        numeric[index] = (plus - minus) / 2e-6
    np.testing.assert_allclose(weight.grad, numeric, rtol=1e-6, atol=1e-9)


def test_shapes_of_both_modes():
    x = np.zeros((4, 6, 3))
    assert Forecaster(3, horizon=2, hidden_size=4, seed=0)(x).shape == (4, 2, 3)
    assert Forecaster(3, output_size=1, horizon=5, hidden_size=4, mode="many_to_many", seed=0)(x).shape == (4, 6, 5, 1)


def test_beats_persistence_on_a_sine_wave():
    steps = np.arange(700)
    series = np.sin(2 * np.pi * steps / 25) + 0.5 * np.sin(2 * np.pi * steps / 9)
    train, _, test, scaler = time_split(series, 0.0, 0.2)
    x_train, y_train = sliding_windows(train, window=16, horizon=3)
    x_test, y_test = sliding_windows(test, window=16, horizon=3)
    model = Forecaster(input_size=1, hidden_size=16, horizon=3, cell="gru", seed=0)
    optimizer = optim.Adam(model.parameters(), lr=0.02)
    rng = np.random.default_rng(0)
    for _ in range(250):
        batch = rng.integers(0, len(x_train), size=32)
        loss, d_predictions = model.loss(model(x_train[batch]), y_train[batch])
        model.backward(d_predictions)
        optimizer.step()
        optimizer.zero_grad()
    predicted = model.predict(x_test, scaler)[..., 0]                            # original units
    truth = scaler.inverse_transform(y_test)
    baseline = scaler.inverse_transform(persistence_forecast(x_test, 3)[..., 0])
    model_error = np.mean((predicted - truth) ** 2)
    persistence_error = np.mean((baseline - truth) ** 2)
    assert model_error < 0.25 * persistence_error, (model_error, persistence_error)


def test_predictions_in_original_units(rng):
    series = rng.standard_normal((50, 2)) * [3.0, 10.0] + [5.0, -7.0]
    scaler = Scaler().fit(series)
    windows = scaler.transform(series[:40]).reshape(4, 10, 2)
    model = Forecaster(input_size=2, hidden_size=3, horizon=2, seed=0)
    np.testing.assert_allclose(model.predict(windows, scaler), scaler.inverse_transform(model.predict(windows)))
    single = Forecaster(input_size=2, output_size=1, hidden_size=3, seed=0)
    scaled = single.predict(windows)
    np.testing.assert_allclose(single.predict(windows, scaler, target_column=1), scaled * scaler.scale_[1] + scaler.center_[1])
    with pytest.raises(ValueError, match="the scaler has 2 features but predictions have 1"):
        single.predict(windows, scaler)
    with pytest.raises(ValueError, match="fitted"):
        single.predict(windows, Scaler())


def test_persistence_forecast():
    x = np.arange(12.0).reshape(2, 3, 2)
    assert persistence_forecast(x, 2).tolist() == [[[4.0, 5.0], [4.0, 5.0]], [[10.0, 11.0], [10.0, 11.0]]]
    assert persistence_forecast(x, 1, target_column=-1).tolist() == [[[5.0]], [[11.0]]]


def test_save_load_round_trip(tmp_path, rng):
    model = Forecaster(input_size=2, output_size=1, hidden_size=4, horizon=3, cell="rnn", mode="many_to_many",
                       loss="huber", delta=0.3, seed=0)
    rnnkit.save(model, tmp_path / "forecaster.safetensors")
    again = rnnkit.load(tmp_path / "forecaster.safetensors")
    x = rng.standard_normal((2, 5, 2)).astype(np.float32)
    assert again.config == model.config
    np.testing.assert_array_equal(again(x), model(x))


def test_bad_inputs_name_expected_and_given(rng):
    model = Forecaster(input_size=1, hidden_size=3, horizon=2, seed=0)
    with pytest.raises(ValueError, match=r"x must have 3 dimensions \(B, T, D\), got 2 with shape \(4, 5\)"):
        model(np.zeros((4, 5)))
    predictions = model(np.zeros((4, 5, 1)))
    with pytest.raises(ValueError, match=r"targets must have the predictions' shape \(B, F, O\) = \(4, 2, 1\) "
                                         r"\(or \(4, 2\) when O = 1\), got \(4, 3\)"):
        model.loss(predictions, np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"d_predictions must have shape \(4, 2, 1\) \(B, F, O\), got \(4, 2, 2\)"):
        model.backward(np.zeros((4, 2, 2)))
    with pytest.raises(ValueError, match="mode must be one of"):
        Forecaster(1, mode="seq2seq")
    with pytest.raises(ValueError, match="loss must be one of"):
        Forecaster(1, loss="mae")
    with pytest.raises(ValueError, match="delta must be a finite number > 0, got -1"):
        Forecaster(1, loss="huber", delta=-1)
    with pytest.raises(ValueError, match="horizon must be an int >= 1, got 0"):
        Forecaster(1, horizon=0)
