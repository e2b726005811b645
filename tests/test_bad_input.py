"""Bad input to the recurrent layers and cells: every refusal says what was expected and what was given.

Nothing is broadcast: a state of shape (B, H) given to a layer that wants (L*K, B, H) is an error,
not a silent broadcast. Inputs are never modified in place.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from rnnkit import GRU, LSTM, RNN, GRUCell, Linear, LSTMCell, RNNCell

B, T, D, H = 2, 5, 3, 4
LAYERS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}
CELLS = {"RNNCell": RNNCell, "LSTMCell": LSTMCell, "GRUCell": GRUCell}


def exact(text):
    return re.escape(text)


def x_ok():
    return np.random.default_rng(0).standard_normal((B, T, D))


def state_arg(name, h, c=None):
    """The state argument of a layer's forward (LSTM takes a tuple (h0, c0))."""
    if name == "LSTM":
        return (h, np.zeros((h.shape[0], B, H)) if c is None else c)
    return h


def forward(layer, name, x, h=None, lengths=None):
    if h is None:
        return layer(x, lengths=lengths)
    return layer(x, state_arg(name, h), lengths=lengths)


# --- layers: x ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("shape", [(T, D), (B, T, D, 1), (D,)], ids=["rank2", "rank4", "rank1"])
def test_layer_x_wrong_rank(name, shape):
    layer = LAYERS[name](D, H, seed=0)
    given = f"got {len(shape)} with shape {shape}"
    with pytest.raises(ValueError, match=exact(f"x must have 3 dimensions (B, T, D), {given}")):
        layer(np.zeros(shape))


@pytest.mark.parametrize("name", LAYERS)
def test_layer_x_wrong_feature_size(name):
    layer = LAYERS[name](D, H, seed=0)
    with pytest.raises(ValueError, match=exact("x must have shape ('?', '?', 3) (B, T, D), got (2, 5, 4) "
                                               "(axis 2: expected 3, got 4)")):
        layer(np.zeros((B, T, D + 1)))


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("shape", [(0, T, D), (B, 0, D)], ids=["no-batch", "no-steps"])
def test_layer_x_empty(name, shape):
    with pytest.raises(ValueError, match=exact(f"at least one sequence and one step, got shape {shape}")):
        LAYERS[name](D, H, seed=0)(np.zeros(shape))


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("value, dtype", [("a", "<U1"), (True, "bool"), (1 + 2j, "complex128")])
def test_layer_x_not_real_numbers(name, value, dtype):
    with pytest.raises(TypeError, match=exact(f"x must be a real-valued numeric array, got dtype {dtype}")):
        LAYERS[name](D, H, seed=0)(np.full((B, T, D), value))


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_layer_x_non_finite(name, bad):
    x = x_ok()
    x[1, 3, 2] = bad
    with pytest.raises(ValueError, match="x contains NaN or infinite values"):
        LAYERS[name](D, H, seed=0)(x)


# --- layers: initial state ---------------------------------------------------------------------
@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("shape, axis, expected, given", [
    ((1, B + 1, H), 1, B, B + 1),             # wrong batch
    ((1, B, H + 1), 2, H, H + 1),             # wrong width
    ((2, B, H), 0, 1, 2),                     # too many layers
], ids=["batch", "width", "layers"])
def test_layer_h0_wrong_shape(name, shape, axis, expected, given):
    layer = LAYERS[name](D, H, seed=0)
    message = (f"h0 must have shape (1, 2, 4) (num_layers * num_directions, B, H), got {shape} "
               f"(axis {axis}: expected {expected}, got {given})")
    with pytest.raises(ValueError, match=exact(message)):
        forward(layer, name, x_ok(), np.zeros(shape))


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("config, expected", [
    (dict(), (1, B, H)),
    (dict(num_layers=3), (3, B, H)),
    (dict(bidirectional=True), (2, B, H)),
], ids=["1-layer", "3-layers", "bidirectional"])
def test_layer_h0_of_shape_B_H_is_not_broadcast(name, config, expected):
    layer = LAYERS[name](D, H, seed=0, **config)
    with pytest.raises(ValueError, match=exact(f"h0 must have 3 dimensions (num_layers * num_directions, B, H), "
                                               f"got 2 with shape ({B}, {H})")):
        forward(layer, name, x_ok(), np.zeros((B, H)))
    if expected[0] > 1:                       # one layer's state for all layers is refused too
        with pytest.raises(ValueError, match=exact(f"h0 must have shape {expected}")):
            forward(layer, name, x_ok(), np.zeros((1, B, H)))
    forward(layer, name, x_ok(), np.zeros(expected))           # the right shape works


@pytest.mark.parametrize("name", LAYERS)
def test_layer_h0_non_finite(name):
    h0 = np.zeros((1, B, H))
    h0[0, 1, 1] = np.nan
    with pytest.raises(ValueError, match="h0 contains NaN or infinite values"):
        forward(LAYERS[name](D, H, seed=0), name, x_ok(), h0)


def test_lstm_c0_wrong_shape_and_non_finite():
    lstm = LSTM(D, H, seed=0)
    with pytest.raises(ValueError, match=exact("c0 must have shape (1, 2, 4) (num_layers * num_directions, B, H), "
                                               "got (1, 2, 5)")):
        lstm(x_ok(), (np.zeros((1, B, H)), np.zeros((1, B, H + 1))))
    c0 = np.zeros((1, B, H))
    c0[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="c0 contains NaN or infinite values"):
        lstm(x_ok(), (None, c0))


def test_lstm_projection_state_widths():
    lstm = LSTM(D, H, proj_size=2, seed=0)
    with pytest.raises(ValueError, match=exact("h0 must have shape (1, 2, 2)") + ".*" + exact("got (1, 2, 4)")):
        lstm(x_ok(), (np.zeros((1, B, H)), np.zeros((1, B, H))))
    with pytest.raises(ValueError, match=exact("c0 must have shape (1, 2, 4)") + ".*" + exact("got (1, 2, 2)")):
        lstm(x_ok(), (np.zeros((1, B, 2)), np.zeros((1, B, 2))))


@pytest.mark.parametrize("state, given", [
    (np.zeros((1, B, H)), "ndarray"),
    ("h0", "str"),
    (3.0, "float"),
], ids=["array", "string", "number"])
def test_lstm_state_not_a_tuple(state, given):
    with pytest.raises(TypeError, match=exact(f"LSTM state must be a tuple (h, c) or None, got {given}")):
        LSTM(D, H, seed=0)(x_ok(), state)


@pytest.mark.parametrize("length", [1, 3])
def test_lstm_state_tuple_of_wrong_length_says_its_length(length):
    # "expected a tuple (h, c), got tuple" does not tell the user what is wrong: say the length.
    state = tuple(np.zeros((1, B, H)) for _ in range(length))
    with pytest.raises(TypeError, match=rf"LSTM state must be a tuple \(h, c\).*(length|{length} element)"):
        LSTM(D, H, seed=0)(x_ok(), state)


# --- layers: lengths ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("lengths, given", [([5, 5, 5], "(3,)"), ([5], "(1,)"), (5, "()"), ([[5, 5]], "(1, 2)")],
                         ids=["too-many", "too-few", "scalar", "2-d"])
def test_lengths_wrong_count(name, lengths, given):
    with pytest.raises(ValueError, match=exact(f"lengths must have shape (2,), one per sequence in the batch, "
                                               f"got {given}")):
        LAYERS[name](D, H, seed=0)(x_ok(), lengths=lengths)


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("lengths, bad", [([0, 3], 0), ([5, 6], 6), ([-1, 2], -1), ([3, 100], 100)])
def test_lengths_out_of_range(name, lengths, bad):
    with pytest.raises(ValueError, match=exact(f"lengths must lie in [1, T=5], got {bad}")):
        LAYERS[name](D, H, seed=0)(x_ok(), lengths=lengths)


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("lengths, message", [
    ([2.5, 3], "lengths must be an integer array, got dtype float64"),
    ([2.0, 3.0], "lengths must be an integer array, got dtype float64 (cast it with .astype(int))"),
    ([True, True], "lengths must be an integer array, got dtype bool"),
    (["2", "3"], "lengths must be an integer array, got dtype <U1"),
], ids=["fractional", "integral-floats", "bool", "strings"])
def test_lengths_not_integers(name, lengths, message):
    with pytest.raises(TypeError, match=exact(message)):
        LAYERS[name](D, H, seed=0)(x_ok(), lengths=lengths)


# --- layers: backward --------------------------------------------------------------------------
@pytest.mark.parametrize("name", LAYERS)
def test_backward_before_forward(name):
    layer = LAYERS[name](D, H, seed=0)
    with pytest.raises(ValueError, match=f"{name}.backward called before forward"):
        layer.backward(np.zeros((B, T, H)))


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_dy_wrong_shape(name, bidirectional):
    layer = LAYERS[name](D, H, bidirectional=bidirectional, seed=0)
    y, _ = layer(x_ok())
    width = y.shape[-1]
    for wrong in [(B, T, width + 1), (B, T - 1, width), (B + 1, T, width), (B, T)]:
        pattern = exact(f"got {len(wrong)} with shape {wrong}") if len(wrong) != 3 else \
            exact(f"dy must have shape {(B, T, width)} (B, T, num_directions * H), the shape of y, got {wrong}")
        with pytest.raises(ValueError, match=pattern):
            layer.backward(np.zeros(wrong))


@pytest.mark.parametrize("name", LAYERS)
def test_dy_non_finite(name):
    layer = LAYERS[name](D, H, seed=0)
    y, _ = layer(x_ok())
    dy = np.ones_like(y)
    dy[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="dy contains NaN or infinite values"):
        layer.backward(dy)


@pytest.mark.parametrize("name", ["RNN", "GRU"])
@pytest.mark.parametrize("shape", [(B, H), (1, B, H + 1), (2, B, H)])
def test_dh_n_wrong_shape(name, shape):
    layer = LAYERS[name](D, H, seed=0)
    y, h_n = layer(x_ok())
    assert h_n.shape == (1, B, H)
    pattern = exact(f"dh_n must have 3 dimensions (num_layers * num_directions, B, H), got 2 with shape {shape}") \
        if len(shape) == 2 else exact(f"dh_n must have shape (1, 2, 4) (num_layers * num_directions, B, H), got {shape}")
    with pytest.raises(ValueError, match=pattern):
        layer.backward(np.ones_like(y), np.zeros(shape))


def test_lstm_d_state_wrong_shape_and_type():
    lstm = LSTM(D, H, seed=0)
    y, (h_n, c_n) = lstm(x_ok())
    with pytest.raises(ValueError, match=exact("dh_n must have 3 dimensions (num_layers * num_directions, B, H), "
                                               "got 2 with shape (2, 4)")):
        lstm.backward(np.ones_like(y), (np.zeros((B, H)), None))
    with pytest.raises(ValueError, match=exact("dc_n must have shape (1, 2, 4) (num_layers * num_directions, B, H), "
                                               "got (1, 3, 4)")):
        lstm.backward(np.ones_like(y), (None, np.zeros((1, B + 1, H))))
    with pytest.raises(TypeError, match=exact("LSTM state must be a tuple (h, c) or None, got ndarray")):
        lstm.backward(np.ones_like(y), np.zeros((1, B, H)))


# --- layers: constructor -----------------------------------------------------------------------
@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("override, error, message", [
    (dict(hidden_size=0), ValueError, "hidden_size must be an int >= 1, got 0"),
    (dict(hidden_size=2.5), ValueError, "hidden_size must be an int >= 1, got 2.5"),
    (dict(hidden_size=True), ValueError, "hidden_size must be an int >= 1, got True"),
    (dict(input_size=0), ValueError, "input_size must be an int >= 1, got 0"),
    (dict(input_size="3"), ValueError, "input_size must be an int >= 1, got '3'"),
    (dict(num_layers=0), ValueError, "num_layers must be an int >= 1, got 0"),
    (dict(dropout=1.0), ValueError, "dropout must be a number in [0, 1), got 1.0"),
    (dict(dropout=-0.1), ValueError, "dropout must be a number in [0, 1), got -0.1"),
    (dict(dropout="0.1"), ValueError, "dropout must be a number in [0, 1), got '0.1'"),
    (dict(dropout=float("nan")), ValueError, "dropout must be a number in [0, 1), got nan"),
], ids=lambda v: str(v) if not isinstance(v, dict) else "-".join(f"{k}={w}" for k, w in v.items()))
def test_bad_constructor_arguments(name, override, error, message):
    arguments = dict(input_size=D, hidden_size=H)
    arguments.update(override)
    with pytest.raises(error, match=exact(message)):
        LAYERS[name](**arguments)


@pytest.mark.parametrize("make", [lambda: RNN(D, H, nonlinearity="sigmoid"),
                                  lambda: RNNCell(D, H, nonlinearity="sigmoid")], ids=["RNN", "RNNCell"])
def test_bad_nonlinearity(make):
    with pytest.raises(ValueError, match=exact("nonlinearity must be one of ['tanh', 'relu'], got 'sigmoid'")):
        make()


@pytest.mark.parametrize("proj_size, message", [
    (4, "proj_size must be smaller than hidden_size (4), got 4"),
    (7, "proj_size must be smaller than hidden_size (4), got 7"),
    (-1, "proj_size must be an int >= 0, got -1"),
    (1.5, "proj_size must be an int >= 0, got 1.5"),
])
def test_bad_proj_size(proj_size, message):
    with pytest.raises(ValueError, match=exact(message)):
        LSTM(D, H, proj_size=proj_size)


# --- cells -------------------------------------------------------------------------------------
def cell_forward(cell, name, x, h=None):
    if name == "LSTMCell":
        return cell(x, None if h is None else (h, np.zeros((x.shape[0], H))))
    return cell(x, h)


def cell_backward(cell, name, dh, dc=None):
    if name == "LSTMCell":
        return cell.backward(dh, dc)
    return cell.backward(dh)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("shape", [(D,), (B, 1, D)], ids=["rank1", "rank3"])
def test_cell_x_wrong_rank(name, shape):
    with pytest.raises(ValueError, match=exact(f"x must have 2 dimensions (B, D), got {len(shape)} with shape {shape}")):
        cell_forward(CELLS[name](D, H, seed=0), name, np.zeros(shape))


@pytest.mark.parametrize("name", CELLS)
def test_cell_x_wrong_feature_size(name):
    with pytest.raises(ValueError, match=exact("x must have shape ('?', 3) (B, D), got (2, 5) (axis 1: expected 3, got 5)")):
        cell_forward(CELLS[name](D, H, seed=0), name, np.zeros((B, D + 2)))


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("shape, pattern", [
    ((B + 1, H), exact("h must have shape (2, 4) (B, H), got (3, 4)")),
    ((B, H - 1), exact("h must have shape (2, 4) (B, H), got (2, 3)")),
    ((1, B, H), exact("h must have 2 dimensions (B, H), got 3 with shape (1, 2, 4)")),
    ((H,), exact("h must have 2 dimensions (B, H), got 1 with shape (4,)")),
], ids=["batch", "width", "layer-shaped", "not-batched"])
def test_cell_h_wrong_shape_is_not_broadcast(name, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        cell_forward(CELLS[name](D, H, seed=0), name, np.zeros((B, D)), np.zeros(shape))


@pytest.mark.parametrize("name", CELLS)
def test_cell_non_finite(name):
    cell = CELLS[name](D, H, seed=0)
    x = np.zeros((B, D))
    x[0, 0] = np.nan
    with pytest.raises(ValueError, match="x contains NaN or infinite values"):
        cell_forward(cell, name, x)
    h = np.zeros((B, H))
    h[1, 2] = -np.inf
    with pytest.raises(ValueError, match="h contains NaN or infinite values"):
        cell_forward(cell, name, np.zeros((B, D)), h)


def test_lstm_cell_state():
    cell = LSTMCell(D, H, seed=0)
    with pytest.raises(TypeError, match=exact("LSTM state must be a tuple (h, c) or None, got ndarray")):
        cell(np.zeros((B, D)), np.zeros((B, H)))
    with pytest.raises(ValueError, match=exact("c must have shape (2, 4) (B, H), got (2, 5)")):
        cell(np.zeros((B, D)), (np.zeros((B, H)), np.zeros((B, H + 1))))
    cell(np.zeros((B, D)))
    with pytest.raises(ValueError, match=exact("dc must have shape (2, 4) (B, H), got (3, 4)")):
        cell.backward(np.zeros((B, H)), np.zeros((B + 1, H)))


@pytest.mark.parametrize("name", CELLS)
def test_cell_backward_before_forward(name):
    with pytest.raises(ValueError, match=f"{name}.backward called before forward"):
        cell_backward(CELLS[name](D, H, seed=0), name, np.zeros((B, H)))


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("shape, pattern", [
    ((B, H + 1), exact("dh must have shape (2, 4) (B, H), got (2, 5)")),
    ((B + 1, H), exact("dh must have shape (2, 4) (B, H), got (3, 4)")),
    ((1, B, H), exact("dh must have 2 dimensions (B, H), got 3 with shape (1, 2, 4)")),
])
def test_cell_dh_wrong_shape(name, shape, pattern):
    cell = CELLS[name](D, H, seed=0)
    cell_forward(cell, name, np.zeros((B, D)))
    with pytest.raises(ValueError, match=pattern):
        cell_backward(cell, name, np.zeros(shape))


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("override, message", [
    (dict(hidden_size=0), "hidden_size must be an int >= 1, got 0"),
    (dict(input_size=-2), "input_size must be an int >= 1, got -2"),
])
def test_cell_bad_constructor(name, override, message):
    arguments = dict(input_size=D, hidden_size=H)
    arguments.update(override)
    with pytest.raises(ValueError, match=exact(message)):
        CELLS[name](**arguments)


# --- Linear ------------------------------------------------------------------------------------
def test_linear_bad_input():
    layer = Linear(D, H, seed=0)
    with pytest.raises(ValueError, match=exact("x must have shape (..., 3), got (2, 4)")):
        layer(np.zeros((B, 4)))
    with pytest.raises(ValueError, match=exact("x must have shape (..., 3), got ()")):
        layer(np.float64(1.0))
    with pytest.raises(ValueError, match="Linear.backward: the last forward raised an error"):
        layer.backward(np.zeros((B, H)))
    with pytest.raises(ValueError, match="Linear.backward called before forward"):
        Linear(D, H, seed=0).backward(np.zeros((B, H)))
    layer(np.zeros((B, T, D)))
    with pytest.raises(ValueError, match=exact("dy must have 3 dimensions (..., O), the shape of y, "
                                               "got 2 with shape (2, 4)")):
        layer.backward(np.zeros((B, H)))
    with pytest.raises(ValueError, match=exact("dy must have shape (2, 5, 4) (..., O), the shape of y, got (2, 5, 3)")):
        layer.backward(np.zeros((B, T, 3)))
    with pytest.raises(ValueError, match="in_features must be an int >= 1, got 0"):
        Linear(0, 3)


# --- inputs are never modified -----------------------------------------------------------------
@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layers_do_not_modify_their_inputs(name, batch, bidirectional):
    # Regression: with B == 1 the (T, B, P) view of dy is C-contiguous, so np.ascontiguousarray in
    # RecurrentLayer._backward returned a view and the time loop accumulated into the caller's dy.
    layer = LAYERS[name](D, H, bidirectional=bidirectional, dtype=np.float64, seed=0)
    rng = np.random.default_rng(1)
    K = 2 if bidirectional else 1
    x = rng.standard_normal((batch, T, D))
    h0 = rng.standard_normal((K, batch, H))
    state = (h0, rng.standard_normal((K, batch, H))) if name == "LSTM" else h0
    copies = [x.copy(), h0.copy()]
    y, final = layer(x, state)
    dy = rng.standard_normal(y.shape)
    d_final = tuple(rng.standard_normal(f.shape) for f in final) if name == "LSTM" else rng.standard_normal(final.shape)
    dy_copy = dy.copy()
    d_final_copy = [a.copy() for a in d_final] if name == "LSTM" else [d_final.copy()]
    dx_first, _ = layer.backward(dy, d_final)
    np.testing.assert_array_equal(x, copies[0])
    np.testing.assert_array_equal(h0, copies[1])
    np.testing.assert_array_equal(dy, dy_copy, err_msg="backward modified the caller's dy")
    for given, copy in zip(d_final if name == "LSTM" else [d_final], d_final_copy):
        np.testing.assert_array_equal(given, copy)
    layer(x, state)
    dx_second, _ = layer.backward(dy, d_final)           # the same call gives the same answer
    np.testing.assert_array_equal(dx_first, dx_second)
