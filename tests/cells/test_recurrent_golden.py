"""Golden values and numerical behaviour that guard the layers without PyTorch.

Two kinds of golden values:
- a one-unit network computed here with ``math`` only (an independent reference);
- constants printed by torch 2.13 (float64) for fixed sine-pattern weights; the parity tests
  check the same code path against live torch where it is installed.
"""

import math

import numpy as np
import pytest

import rnnkit


def sine_pattern(shape, start):
    count = int(np.prod(shape))
    return (np.sin(np.arange(count) * 0.7 + start) * 0.5).reshape(shape)


def load_pattern_weights(layer):
    layer.load_state_dict({name: sine_pattern(value.shape, index)
                           for index, (name, value) in enumerate(layer.state_dict().items())})


GOLDEN = {
    "RNN": {
        "y_last": [[0.48398732503858494, 0.47145044648828643, -0.6983541171604469],
                   [0.3662824755538566, -0.11912573193382221, -0.7525503424775786]],
        "dx_first": [[0.6005767369874768, 0.6653484367129916], [0.5622161753835971, 0.5737315506515018]],
        "dW_hh_row0": [2.302154467665223, -0.09018508437924981, -3.3705676208359407],
    },
    "LSTM": {
        "y_last": [[0.28503668418532824, 0.17140843516489965, 0.1140742361007224],
                   [0.2401389802057939, 0.1354881998630479, 0.10935336969191177]],
        "dx_first": [[0.3556131942716285, 0.11590336622600322], [0.18429238798220238, 0.0012161232111701208]],
        "dW_hh_row0": [0.06953939910166812, 0.05943737461883852, 0.037331994828342915],
    },
    "GRU": {
        "y_last": [[0.45786612114502817, 0.19153971518849822, 0.5039964526362658],
                   [0.33994193283769075, 0.5210900959207011, 0.6220427904737718]],
        "dx_first": [[0.16648307813998342, -0.3345513882268768], [0.15660298006759604, -0.4280488652639517]],
        "dW_hh_row0": [0.14442996908950725, 0.22951992070594512, 0.2293963114456739],
    },
}


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_golden_values_from_torch(kind):
    layer = getattr(rnnkit, kind)(2, 3, dtype=np.float64)
    load_pattern_weights(layer)
    x = sine_pattern((2, 3, 2), 10.0)
    y, final = layer(x)
    h_n = final[0] if kind == "LSTM" else final
    d_final = (np.ones_like(h_n), None) if kind == "LSTM" else np.ones_like(h_n)
    dx, _ = layer.backward(np.ones_like(y), d_final)
    golden = GOLDEN[kind]
    np.testing.assert_allclose(y[:, -1], golden["y_last"], rtol=1e-12)
    np.testing.assert_allclose(dx[:, 0], golden["dx_first"], rtol=1e-12)
    np.testing.assert_allclose(layer.weight_hh_l0.grad[0], golden["dW_hh_row0"], rtol=1e-12)


def scalar_weights(layer, values):
    """Set every parameter of a one-unit layer from a dict of flat values."""
    layer.load_state_dict({name: np.array(values[name], dtype=float).reshape(layer.state_dict()[name].shape)
                           for name in layer.state_dict()})


def test_one_unit_rnn_against_math():
    rnn = rnnkit.RNN(1, 1, dtype=np.float64)
    scalar_weights(rnn, {"weight_ih_l0": 0.5, "weight_hh_l0": -0.8, "bias_ih_l0": 0.1, "bias_hh_l0": 0.2})
    xs = [1.0, -2.0, 0.5]
    h, expected = 0.0, []
    for x in xs:
        h = math.tanh(0.5 * x + 0.1 - 0.8 * h + 0.2)
        expected.append(h)
    y, h_n = rnn(np.array(xs).reshape(1, 3, 1))
    np.testing.assert_allclose(y.ravel(), expected, rtol=1e-14)
    # dL/dx_0 for L = h_3: chain of (1 - h_t^2) * w_hh, then w_ih at the first step.
    rnn.backward(np.zeros_like(y), np.ones_like(h_n))
    dx, _ = rnn.backward(np.zeros_like(y), np.ones_like(h_n))   # accumulates a second time
    chain = (1 - expected[2] ** 2) * -0.8 * (1 - expected[1] ** 2) * -0.8 * (1 - expected[0] ** 2) * 0.5
    assert dx.ravel()[0] == pytest.approx(chain, rel=1e-13)
    assert rnn.bias_ih_l0.grad[0] == pytest.approx(
        2 * ((1 - expected[2] ** 2) * (1 + -0.8 * (1 - expected[1] ** 2) * (1 + -0.8 * (1 - expected[0] ** 2)))),
        rel=1e-13)


def sigmoid(v):
    return 1 / (1 + math.exp(-v))


def test_one_unit_lstm_against_math():
    lstm = rnnkit.LSTM(1, 1, dtype=np.float64)
    w_ih, w_hh, b = [0.3, -0.2, 0.5, 0.7], [0.1, 0.4, -0.6, 0.2], [0.05, 1.0, -0.1, 0.0]
    scalar_weights(lstm, {"weight_ih_l0": w_ih, "weight_hh_l0": w_hh, "bias_ih_l0": b, "bias_hh_l0": [0, 0, 0, 0]})
    h = c = 0.0
    for x in [0.9, -0.4]:
        z = [w_ih[k] * x + w_hh[k] * h + b[k] for k in range(4)]
        i, f, g, o = sigmoid(z[0]), sigmoid(z[1]), math.tanh(z[2]), sigmoid(z[3])
        c = f * c + i * g
        h = o * math.tanh(c)
    _, (h_n, c_n) = lstm(np.array([0.9, -0.4]).reshape(1, 2, 1))
    assert h_n.item() == pytest.approx(h, rel=1e-14)
    assert c_n.item() == pytest.approx(c, rel=1e-14)


def test_one_unit_gru_against_math():
    gru = rnnkit.GRU(1, 1, dtype=np.float64)
    w_ih, w_hh, b_ih, b_hh = [0.3, -0.2, 0.5], [0.1, 0.4, -0.6], [0.05, 0.2, -0.1], [0.3, -0.1, 0.25]
    scalar_weights(gru, {"weight_ih_l0": w_ih, "weight_hh_l0": w_hh, "bias_ih_l0": b_ih, "bias_hh_l0": b_hh})
    h = 0.2
    for x in [0.9, -0.4, 1.5]:
        r = sigmoid(w_ih[0] * x + b_ih[0] + w_hh[0] * h + b_hh[0])
        z = sigmoid(w_ih[1] * x + b_ih[1] + w_hh[1] * h + b_hh[1])
        n = math.tanh(w_ih[2] * x + b_ih[2] + r * (w_hh[2] * h + b_hh[2]))   # b_hn inside r * (...)
        h = (1 - z) * n + z * h
    _, h_n = gru(np.array([0.9, -0.4, 1.5]).reshape(1, 3, 1), np.full((1, 1, 1), 0.2))
    assert h_n.item() == pytest.approx(h, rel=1e-14)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_pre_activations_stay_finite_and_saturate(kind, dtype):
    """Inputs of +-300 drive every gate to 0 or 1 and tanh to +-1, without NaN, inf or warnings."""
    layer = getattr(rnnkit, kind)(4, 5, num_layers=2, bidirectional=True, dtype=dtype, seed=0)
    x = np.where(np.random.default_rng(0).random((3, 6, 4)) < 0.5, -300.0, 300.0) * 10
    with np.errstate(all="raise"):
        y, final = layer(x)
        dx, _ = layer.backward(np.ones_like(y))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    assert np.all(np.abs(y) <= 1.0)
    assert all(np.all(np.isfinite(p.grad)) for p in layer.parameters())


def test_extreme_rnn_saturates_exactly():
    rnn = rnnkit.RNN(1, 1, dtype=np.float64)
    scalar_weights(rnn, {"weight_ih_l0": 1.0, "weight_hh_l0": 0.0, "bias_ih_l0": 0.0, "bias_hh_l0": 0.0})
    y, _ = rnn(np.array([300.0, -300.0]).reshape(1, 2, 1))
    assert y.ravel().tolist() == [1.0, -1.0]
    dx, _ = rnn.backward(np.ones_like(y))
    assert dx.ravel().tolist() == [0.0, 0.0]     # tanh' = 1 - 1^2 = 0, not NaN


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_long_sequence_stays_finite(kind):
    layer = getattr(rnnkit, kind)(3, 8, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 2000, 3)).astype(np.float32)
    y, _ = layer(x)
    dx, _ = layer.backward(np.ones_like(y))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_length_one_rows_and_padding(kind):
    """A row of length 1 in a long batch: outputs past step 0 are exactly 0, and no gradient
    reaches its padded inputs."""
    layer = getattr(rnnkit, kind)(3, 4, bidirectional=True, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 7, 3))
    y, _ = layer(x, lengths=[1, 7])
    assert not np.any(y[0, 1:])
    dx, _ = layer.backward(np.ones_like(y))
    assert not np.any(dx[0, 1:])
    assert np.all(dx[0, 0] != 0)
    # Changing the padded steps of row 0 changes nothing.
    x2 = x.copy()
    x2[0, 1:] = 99.0
    y2, _ = layer(x2, lengths=[1, 7])
    np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_forward_and_backward_leave_caller_arrays_untouched(kind):
    layer = getattr(rnnkit, kind)(3, 4, dtype=np.float64, seed=0)
    for batch, steps in [(1, 1), (2, 5)]:
        x = np.random.default_rng(0).standard_normal((batch, steps, 3))
        x_before = x.copy()
        y, final = layer(x)
        h_n = final[0] if kind == "LSTM" else final
        dy, dh_n = np.ones_like(y), np.ones_like(h_n)
        layer.backward(dy, (dh_n, None) if kind == "LSTM" else dh_n)
        np.testing.assert_array_equal(x, x_before)
        assert np.all(dy == 1) and np.all(dh_n == 1)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_layer_equals_stepping_the_cell(kind):
    """One layer over T steps is the cell applied T times with the same weights."""
    layer = getattr(rnnkit, kind)(3, 4, dtype=np.float64, seed=0)
    cell = getattr(rnnkit, kind + "Cell")(3, 4, dtype=np.float64)
    cell.load_state_dict({name[: -len("_l0")]: value for name, value in layer.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((2, 5, 3))
    y, _ = layer(x)
    state = None
    for t in range(5):
        state = cell(x[:, t], state)
        h = state[0] if kind == "LSTM" else state
        np.testing.assert_allclose(h, y[:, t], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recorded_hidden_grads_are_total_dl_dh(kind):
    """hidden_grads[l][d][:, t] is dL/dh_t including the recurrent path: check it by perturbing
    h_t through the initial state of a layer started at step t (a finite difference)."""
    layer = getattr(rnnkit, kind)(2, 3, dtype=np.float64, seed=0)
    layer.record_hidden_grads = True
    x = np.random.default_rng(0).standard_normal((1, 6, 2))
    weights = np.random.default_rng(1).standard_normal((1, 6, 3))
    y, _ = layer(x)
    layer.backward(weights)
    recorded = layer.hidden_grads[0][0]                          # (B, T, H)
    assert recorded.shape == (1, 6, 3)
    np.testing.assert_allclose(recorded[:, -1], weights[:, -1])   # the last step sees only dy
    t = 2                                                         # loss from step t+1 on, as a function of h_t
    _, final = layer(x[:, : t + 1])
    start = (final[0], final[1]) if kind == "LSTM" else final

    def tail_loss(h_t):
        state = (h_t, start[1]) if kind == "LSTM" else h_t
        y_tail, _ = layer(x[:, t + 1:], state)
        return float(np.sum(y_tail * weights[:, t + 1:])) + float(np.sum(h_t[0] * weights[:, t]))

    h_t = start[0] if kind == "LSTM" else start
    numeric = np.zeros(3)
    for unit in range(3):
        plus, minus = h_t.copy(), h_t.copy()
        plus[0, 0, unit] += 1e-6
        minus[0, 0, unit] -= 1e-6
        numeric[unit] = (tail_loss(plus) - tail_loss(minus)) / 2e-6
    np.testing.assert_allclose(recorded[0, t], numeric, rtol=1e-6)
    layer.record_hidden_grads = False
    layer(x)
    layer.backward(weights)
    assert layer.hidden_grads is None


def test_dropout_between_layers_only_in_training():
    lstm = rnnkit.LSTM(3, 50, num_layers=2, dropout=0.5, seed=0)
    x = np.random.default_rng(0).standard_normal((4, 5, 3)).astype(np.float32)
    y_train_a, _ = lstm(x)
    y_train_b, _ = lstm(x)
    assert not np.allclose(y_train_a, y_train_b)                 # a new mask each call
    lstm.eval()
    y_eval_a, _ = lstm(x)
    y_eval_b, _ = lstm(x)
    np.testing.assert_array_equal(y_eval_a, y_eval_b)
    mask = lstm._cache["masks"]
    assert mask[0] is None and mask[1] is None
    lstm.train()
    lstm(x)
    kept = lstm._cache["masks"][1] > 0
    assert 0.45 < kept.mean() < 0.55                             # independent per element
    np.testing.assert_allclose(lstm._cache["masks"][1][kept], 2.0)
