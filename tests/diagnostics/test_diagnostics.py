"""Tests of rnnkit.diagnostics: the measured quantities against independent computations."""

import numpy as np
import pytest

import rnnkit
from rnnkit import GRU, LSTM, RNN, Parameter
from rnnkit.diagnostics import (
    GradientNormHistory,
    check_gradients,
    gate_statistics,
    gradient_flow,
    hidden_grad_norms,
    jacobian_products,
    recording_hidden_grads,
    recurrent_spectrum,
    set_spectral_radius,
    step_jacobians,
)


def _layer(kind, **kwargs):
    kwargs.setdefault("dtype", np.float64)
    kwargs.setdefault("seed", 0)
    if kind == "LSTM":
        return LSTM(3, 5, **kwargs)
    if kind == "GRU":
        return GRU(3, 5, **kwargs)
    return RNN(3, 5, nonlinearity=kind, **kwargs)


# --- Jacobian products --------------------------------------------------------------------------


def test_linear_rnn_jacobian_product_is_the_matrix_power(rng):
    """relu with positive weights and inputs keeps every unit active: h_t = W h_{t-1} + ..., linear."""
    rnn = RNN(2, 4, nonlinearity="relu", dtype=np.float64, seed=0)
    weight = np.abs(rng.standard_normal((4, 4))) * 0.3
    rnn.weight_hh_l0.data[...] = weight
    rnn.weight_ih_l0.data[...] = np.abs(rnn.weight_ih_l0.data)
    rnn.bias_ih_l0.data[...] = np.abs(rnn.bias_ih_l0.data) + 0.1
    rnn(rng.random((3, 8, 2)))
    products = jacobian_products(rnn, return_matrices=True)
    for k in range(9):
        expected = np.linalg.matrix_power(weight, 8 - k)
        np.testing.assert_allclose(products.matrices[:, k], np.broadcast_to(expected, (3, 4, 4)), atol=1e-12)
        np.testing.assert_allclose(products.norms[:, k], np.linalg.norm(expected, 2), rtol=1e-10)
    assert products.distance.tolist() == list(range(8, -1, -1))


def test_tanh_step_jacobian_is_diag_one_minus_h_squared_times_w(rng):
    rnn = _layer("tanh")
    y, _ = rnn(rng.standard_normal((2, 4, 3)))
    jacobians = step_jacobians(rnn)
    w = rnn.weight_hh_l0.data
    for k in range(4):
        expected = (1 - y[:, k] ** 2)[:, :, None] * w[None]
        np.testing.assert_allclose(jacobians[k], expected, rtol=1e-12)


@pytest.mark.parametrize("kind", ["tanh", "relu", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_jacobian_products_agree_with_bptt(kind, bidirectional, rng):
    """For L = <v, h_T>, BPTT's recorded dL/dh_k must equal v^T dh_T/dh_k for every k."""
    layer = _layer(kind, bidirectional=bidirectional, num_layers=2)
    x = rng.standard_normal((3, 7, 3))
    y, _ = layer(x)
    width = layer.output_size
    for direction in range(layer.num_directions):
        products = jacobian_products(layer, layer_index=1, direction=direction, return_matrices=True)
        v = rng.standard_normal((3, width))
        dy = np.zeros_like(y)
        last = 0 if direction == 1 else -1                    # the reverse direction ends at t = 0
        dy[:, last, direction * width:(direction + 1) * width] = v
        with recording_hidden_grads(layer):
            layer.backward(dy)
        grads = layer.hidden_grads[1][direction]              # (B, T, P) time order
        processing = grads[:, ::-1] if direction == 1 else grads
        for k in range(1, 8):                                 # state k = after processing step k - 1
            expected = processing[:, k - 1]
            measured = np.einsum("bp,bpq->bq", v, products.matrices[:, k])
            np.testing.assert_allclose(measured, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["tanh", "LSTM", "GRU"])
def test_jacobians_and_gates_of_a_weight_drop_forward_use_the_masked_w_hh(kind, rng):
    """With weight drop in training the forward ran on W_hh * mask: BPTT's dL/dh_k equals the
    Jacobian product, and the replayed LSTM cell state ends where the forward's did."""
    layer = _layer(kind, weight_drop=0.5)
    x = rng.standard_normal((3, 7, 3))
    y, final = layer(x)
    v = rng.standard_normal((3, layer.output_size))
    dy = np.zeros_like(y)
    dy[:, -1] = v
    with recording_hidden_grads(layer):
        layer.backward(dy)
    products = jacobian_products(layer, return_matrices=True)
    for k in range(1, 8):
        measured = np.einsum("bp,bpq->bq", v, products.matrices[:, k])
        np.testing.assert_allclose(measured, layer.hidden_grads[0][0][:, k - 1], rtol=1e-9, atol=1e-12)
    if kind == "LSTM":
        _, final = layer(x)                                   # a new forward draws a new mask
        np.testing.assert_allclose(gate_statistics(layer).state_norm[-1], np.linalg.norm(final[1][0], axis=1).mean(),
                                   rtol=1e-12)
        with pytest.raises(ValueError, match="zoneout_cell=0.2: diagnose a layer with zoneout_cell=0"):
            zoned = _layer(kind, zoneout_cell=0.2)
            zoned(x)
            gate_statistics(zoned)


def test_jacobian_of_padded_steps_is_the_identity(rng):
    gru = _layer("GRU")
    gru(rng.standard_normal((2, 6, 3)), lengths=[6, 3])
    jacobians = step_jacobians(gru)
    np.testing.assert_array_equal(jacobians[3:, 1], np.broadcast_to(np.eye(5), (3, 5, 5)))
    assert not np.allclose(jacobians[3:, 0], np.eye(5))


def test_lstm_with_projection_jacobian_agrees_with_bptt(rng):
    lstm = LSTM(3, 6, proj_size=4, dtype=np.float64, seed=0)
    y, _ = lstm(rng.standard_normal((2, 5, 3)))
    products = jacobian_products(lstm, return_matrices=True)
    v = rng.standard_normal((2, 4))
    dy = np.zeros_like(y)
    dy[:, -1] = v
    with recording_hidden_grads(lstm):
        lstm.backward(dy)
    measured = np.einsum("bp,bpq->bq", v, products.matrices[:, 2])
    np.testing.assert_allclose(measured, lstm.hidden_grads[0][0][:, 1], rtol=1e-9)


def test_jacobian_products_need_a_forward():
    with pytest.raises(ValueError, match="call the layer on a batch first"):
        jacobian_products(RNN(1, 2))


# --- gradient flow --------------------------------------------------------------------------------


def test_radius_half_gradient_at_distance_20_is_below_the_geometric_bound():
    rnn = RNN(1, 32, dtype=np.float64, seed=3)
    set_spectral_radius(rnn, 0.5)
    x = np.random.default_rng(0).standard_normal((16, 41, 1))
    flow = gradient_flow(rnn, x)
    relative = flow.relative()
    assert flow.distance[-21] == 20
    assert relative[-21] < 10 * 0.5**20               # the constant 10 is generous: measured ~1e-2 of it
    assert relative[-21] > 0                          # it did not underflow: a real measurement


def test_spectral_radius_sets_vanishing_marginal_or_exploding_gradients():
    """Adding-problem inputs, H = 64, T = 100: the three regimes of a tanh RNN at 99 steps back."""
    from rnnkit.data.synthetic import adding_problem
    x, _ = adding_problem(16, 100, seed=0)
    back_99 = {}
    for radius in (0.5, 1.0, 1.5):
        rnn = RNN(2, 64, dtype=np.float64, seed=3)
        set_spectral_radius(rnn, radius)
        back_99[radius] = gradient_flow(rnn, x.astype(np.float64)).relative()[0]
    assert back_99[0.5] < 10 * 0.5**99                # vanished (measured ~1e-31)
    assert 1e-3 < back_99[1.0] < 10                   # roughly kept (measured ~2e-2)
    assert back_99[1.5] > 10                          # exploded (measured ~1e3)


def test_hidden_grad_norms_are_the_norms_of_the_recorded_grads(rng):
    lstm = _layer("LSTM")
    y, _ = lstm(rng.standard_normal((4, 6, 3)))
    with pytest.raises(ValueError, match="recording_hidden_grads"):
        hidden_grad_norms(lstm)
    with recording_hidden_grads(lstm):
        lstm.backward(np.ones_like(y))
    norms = hidden_grad_norms(lstm)[0][0]
    np.testing.assert_allclose(norms, np.linalg.norm(lstm.hidden_grads[0][0], axis=-1).mean(axis=0))
    assert lstm.record_hidden_grads is False


def test_gradient_flow_of_a_loss_on_the_last_step_has_unit_norm_there(rng):
    gru = _layer("GRU")
    flow = gradient_flow(gru, rng.standard_normal((5, 9, 3)))
    assert flow.norms[0][0][-1] == pytest.approx(1.0)        # random unit vectors at t = T - 1
    assert flow.distance.tolist() == list(range(8, -1, -1))


# --- spectrum -------------------------------------------------------------------------------------


def test_spectrum_blocks_and_bound():
    gru = GRU(2, 6, dtype=np.float64, seed=1)
    blocks = recurrent_spectrum(gru)
    assert [b.gate for b in blocks] == ["reset", "update", "new"]
    w = gru.weight_hh_l0.data
    for index, block in enumerate(blocks):
        part = w[index * 6:(index + 1) * 6]
        np.testing.assert_allclose(block.singular_values, np.linalg.svd(part, compute_uv=False))
        assert block.spectral_radius == pytest.approx(max(abs(np.linalg.eigvals(part))))
    assert blocks[0].bound == 4.0 and blocks[2].bound == 1.0
    gru.weight_hh_l0.data[:6] = 5 * np.eye(6)                # sigma_max 5 > 1/gamma = 4
    assert not recurrent_spectrum(gru)[0].vanishing_guaranteed


def test_set_spectral_radius_scales_only_the_chosen_block():
    lstm = LSTM(2, 5, num_layers=2, dtype=np.float64, seed=0)
    before = lstm.weight_hh_l1.data.copy()
    set_spectral_radius(lstm, 0.9, gate=1)
    for layer_index in (0, 1):
        assert recurrent_spectrum(lstm, layer_index)[1].spectral_radius == pytest.approx(0.9)
    np.testing.assert_array_equal(lstm.weight_hh_l1.data[:5], before[:5])
    with pytest.raises(ValueError, match="radius"):
        set_spectral_radius(lstm, 0.0)


# --- gate statistics ------------------------------------------------------------------------------


def test_lstm_gate_statistics_match_torch_style_reference(rng):
    lstm = _layer("LSTM")
    x = rng.standard_normal((4, 6, 3))
    lstm(x)
    stats = gate_statistics(lstm)
    # An independent loop over the equations.
    h, c = np.zeros((4, 5)), np.zeros((4, 5))
    forget, cells = [], [0.0]
    for t in range(6):
        z = x[:, t] @ lstm.weight_ih_l0.data.T + lstm.bias_ih_l0.data + h @ lstm.weight_hh_l0.data.T + lstm.bias_hh_l0.data
        i, f, g, o = 1 / (1 + np.exp(-z[:, :5])), 1 / (1 + np.exp(-z[:, 5:10])), np.tanh(z[:, 10:15]), 1 / (1 + np.exp(-z[:, 15:]))
        c = f * c + i * g
        h = o * np.tanh(c)
        forget.append(f)
        cells.append(np.linalg.norm(c, axis=1).mean())
    np.testing.assert_allclose(stats.gates["forget"].mean_over_time, [f.mean() for f in forget[0:0] + forget])
    np.testing.assert_allclose(stats.state_norm, cells)
    assert stats.gates["forget"].mean == pytest.approx(np.mean(forget))
    assert "| forget | sigmoid |" in stats.table()


def test_saturation_fraction_counts_extreme_gates(rng):
    gru = _layer("GRU")
    gru.bias_ih_l0.data[5:10] = 50.0                        # update gate pinned at 1
    gru(rng.standard_normal((3, 4, 3)))
    stats = gate_statistics(gru)
    assert stats.gates["update"].saturated == 1.0
    assert stats.gates["update"].mean == pytest.approx(1.0)
    assert stats.gates["reset"].saturated < 0.5
    assert stats.state_name == "h"


def test_gate_statistics_leave_out_padding_and_reject_rnn(rng):
    lstm = _layer("LSTM")
    lstm(rng.standard_normal((2, 5, 3)), lengths=[5, 2])
    stats = gate_statistics(lstm)
    assert np.all(np.isfinite(stats.gates["input"].mean_over_time))
    with pytest.raises(TypeError, match="no gates"):
        rnn = _layer("tanh")
        rnn(rng.standard_normal((1, 2, 3)))
        gate_statistics(rnn)


def test_gate_statistics_work_for_float32_compiled_layers(rng):
    lstm = LSTM(3, 5, seed=0)                                # float32, compiled loop when available
    y, _ = lstm(rng.standard_normal((2, 5, 3)).astype(np.float32))
    stats = gate_statistics(lstm)
    assert stats.state_norm.shape == (6,)
    products = jacobian_products(lstm)
    assert products.norms.shape == (2, 6)


# --- gradient-norm history and the gradient checker ----------------------------------------------


def test_gradient_norm_history_records_before_clipping():
    p = Parameter(np.zeros(2))
    history = GradientNormHistory(max_norm=1.0)
    for value in (3.0, 0.5, 4.0):
        p.grad[...] = [value, 0.0]
        assert history.clip([p]) == pytest.approx(value)
    assert history.norms.tolist() == [3.0, 0.5, 4.0]
    assert history.clipped.tolist() == [True, False, True]
    assert np.linalg.norm(p.grad) == pytest.approx(1.0, rel=1e-5)
    assert history.summary()["clip_fraction"] == pytest.approx(2 / 3)
    unclipped = GradientNormHistory()
    p.grad[...] = [30.0, 40.0]
    unclipped.clip([p])
    assert p.grad.tolist() == [30.0, 40.0] and unclipped.clip_fraction == 0.0


def test_check_gradients_is_the_gradcheck_one():
    assert check_gradients is rnnkit.gradcheck.check_gradients
