"""The recurrent layers' regularisers: locked dropout, weight drop, zoneout, a learnable initial state.

Float64 central differences with fixed masks over the configuration table (tests/recurrent_cases.py),
"off means unchanged" bit for bit, each mask's structure (one per sequence, one per forward),
zoneout's evaluation expectation, the initial state's gradient and checkpoints, and the errors.
"""

import re

import numpy as np
import pytest

import rnnkit
from rnnkit.gradcheck import check_gradients
from rnnkit.layers.regularisers import REGULARISER_DEFAULTS
from recurrent_cases import Case

TOLERANCE = 1e-6
KINDS = ["RNN", "LSTM", "GRU", "MinGRU", "MinLSTM", "LayerNormLSTM", "LayerNormGRU"]
WITH_W_HH = ["RNN", "LSTM", "GRU", "LayerNormLSTM", "LayerNormGRU"]
TWO_STATES = {"LSTM", "LayerNormLSTM"}          # state (h, c)


def options_for(kind: str, which: str) -> dict:
    """Regulariser options of one named setting, those ``kind`` can take."""
    settings = {
        "locked": {"locked_input_dropout": 0.3, "locked_dropout": 0.4},
        "weight_drop": {"weight_drop": 0.4},
        "zoneout": {"zoneout": 0.3, "zoneout_cell": 0.5},
        "initial": {"learn_initial_state": True},
        "all": {"locked_input_dropout": 0.3, "locked_dropout": 0.4, "weight_drop": 0.4, "zoneout": 0.3,
                "zoneout_cell": 0.5, "learn_initial_state": True},
    }
    options = dict(settings[which])
    if kind not in WITH_W_HH:
        options.pop("weight_drop", None)
    if kind not in TWO_STATES:
        options.pop("zoneout_cell", None)
    return options


def inputs_of(case: Case) -> dict:
    """The case's x and h0, and c0 for every kind whose state is (h, c)."""
    inputs = case.inputs()
    if case.kind in TWO_STATES and "c0" not in inputs:
        inputs["c0"] = np.random.default_rng(11).standard_normal(inputs["h0"].shape[:2] + (case.hidden_size,))
    return inputs


def build(case: Case, seed=0, **options):
    return getattr(rnnkit, case.kind)(case.input_size, case.hidden_size, dtype=np.float64, seed=seed,
                                      **case.kwargs, **options)


def states_of(case: Case, inputs: dict):
    """The initial state argument from ``inputs`` (parts left out are None: the learned state)."""
    if case.kind in TWO_STATES:
        if "h0" not in inputs and "c0" not in inputs:
            return None
        return inputs.get("h0"), inputs.get("c0")
    return inputs.get("h0")


def forward(layer, case: Case, inputs: dict):
    return layer(inputs["x"], states_of(case, inputs), lengths=case.lengths)


def backward(layer, case: Case, grads) -> dict:
    dy, d_final = grads
    dx, d_initial = layer.backward(dy, d_final)
    names = ("h0", "c0") if case.kind in TWO_STATES else ("h0",)
    parts = d_initial if case.kind in TWO_STATES else (d_initial,)
    return {"x": dx, **dict(zip(names, parts))}


def fix_masks(layer, case: Case, inputs: dict) -> None:
    """Draw every mask once (a training forward) and keep them for every later forward."""
    layer.fixed_masks = None
    forward(layer, case, inputs)
    layer.fixed_masks = dict(layer.last_masks)


GRADIENT_CASES = [
    case
    for kind in KINDS
    for case in (
        Case(kind),
        Case(kind, steps=1, batch=1),
        Case(kind, num_layers=2, bidirectional=True, batch=3, lengths=(4, 2, 3)),
        Case(kind, num_layers=2, bias=False, lengths=(1, 4)),
    )
]


def gradient_report(case: Case, which: str):
    options = options_for(case.kind, which)
    layer = build(case, **options)
    inputs = inputs_of(case)
    if options.get("learn_initial_state"):
        inputs = {"x": inputs["x"]}                     # no h0 (c0): the learned ones are used
        rng = np.random.default_rng(7)
        for parameter in (layer.initial_h, getattr(layer, "initial_c", None)):
            if parameter is not None:
                parameter.data[...] = rng.standard_normal(parameter.shape)
    fix_masks(layer, case, inputs)
    report = check_gradients(layer, inputs, lambda m, values: forward(m, case, values),
                             lambda m, grads: backward(m, case, grads),
                             check_inputs=tuple(name for name in inputs))
    return layer, report


@pytest.mark.parametrize("case", GRADIENT_CASES, ids=lambda case: case.id)
def test_all_regularisers_together_match_central_differences(case):
    layer, report = gradient_report(case, "all")
    expected = {name for name, _ in layer.named_parameters()} | {"input x"}
    assert "initial_h" in expected and expected <= set(report.errors)
    assert report.worst < TOLERANCE, str(report)


@pytest.mark.parametrize("which", ["locked", "weight_drop", "zoneout", "initial"])
@pytest.mark.parametrize("kind", KINDS)
def test_each_regulariser_matches_central_differences(kind, which):
    if which == "weight_drop" and kind not in WITH_W_HH:
        pytest.skip("no W_hh (refusal tested below)")
    case = Case(kind, num_layers=2, bidirectional=True, batch=3, lengths=(4, 2, 3))
    _, report = gradient_report(case, which)
    assert report.worst < TOLERANCE, str(report)


# --- off changes nothing -------------------------------------------------------------------
def run(layer, case, inputs, seed=5):
    y, final = forward(layer, case, inputs)
    rng = np.random.default_rng(seed)
    finals = final if case.kind in TWO_STATES else (final,)
    d_finals = tuple(rng.standard_normal(f.shape) for f in finals)
    dy = rng.standard_normal(y.shape)
    input_grads = backward(layer, case, (dy, d_finals if case.kind in TWO_STATES else d_finals[0]))
    return y, finals, input_grads, {name: p.grad.copy() for name, p in layer.named_parameters()}


def assert_runs_equal(a, b, exact=True):
    compare = np.testing.assert_array_equal if exact else \
        (lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-13))
    compare(a[0], b[0])
    for u, v in zip(a[1], b[1]):
        compare(u, v)
    assert a[2].keys() == b[2].keys()
    for name in a[2]:
        compare(a[2][name], b[2][name])
    assert a[3].keys() == b[3].keys()
    for name in a[3]:
        compare(a[3][name], b[3][name])


@pytest.mark.parametrize("kind", KINDS)
def test_options_off_give_the_plain_layer_bit_for_bit(kind):
    """Every option at its off value, given explicitly, with ``dropout`` on (so the generator's
    draws must be the same too): outputs, gradients and config exactly the plain layer's."""
    case = Case(kind, num_layers=2, bidirectional=True, batch=3, lengths=(4, 2, 3))
    plain = build(case, dropout=0.3)
    off = build(case, dropout=0.3, **REGULARISER_DEFAULTS)
    assert off.config == plain.config and "zoneout" not in off.config
    inputs = inputs_of(case)
    assert_runs_equal(run(plain, case, inputs), run(off, case, inputs))
    assert off.last_masks == {}


@pytest.mark.parametrize("kind", WITH_W_HH)
def test_locked_dropout_and_weight_drop_are_off_in_eval_mode(kind):
    case = Case(kind, num_layers=2, bidirectional=True, batch=3, lengths=(4, 2, 3))
    plain = build(case).eval()
    regularised = build(case, **options_for(kind, "locked"), weight_drop=0.5).eval()
    inputs = inputs_of(case)
    assert_runs_equal(run(plain, case, inputs), run(regularised, case, inputs))
    with rnnkit.no_grad():
        np.testing.assert_array_equal(forward(plain, case, inputs)[0], forward(regularised, case, inputs)[0])


@pytest.mark.parametrize("kind", KINDS)
def test_zoneout_that_never_zones_out_is_the_kernel_path(kind):
    """With every zoneout mask 0 the step loop must compute what the kernels compute (float64,
    to rounding): the generic loop over the cells agrees with every kind's own time loop."""
    case = Case(kind, num_layers=2, bidirectional=True, batch=3, lengths=(4, 2, 3))
    options = options_for(kind, "zoneout")
    zoned = build(case, **options)
    inputs = inputs_of(case)
    forward(zoned, case, inputs)
    zoned.fixed_masks = {key: np.zeros_like(mask) for key, mask in zoned.last_masks.items()}
    zoned.zero_grad()
    plain = build(case)
    plain.record_hidden_grads = zoned.record_hidden_grads = True       # dL/dh_t, as the diagnostics read it
    assert_runs_equal(run(plain, case, inputs), run(zoned, case, inputs), exact=False)
    for plain_layer, zoned_layer in zip(plain.hidden_grads, zoned.hidden_grads):
        for a, b in zip(plain_layer, zoned_layer):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-13)


# --- masks ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_locked_dropout_uses_one_mask_per_sequence_for_every_step(kind):
    case = Case(kind, num_layers=2, batch=3, steps=6)
    p_input, p_between = 0.5, 0.4
    layer = build(case, locked_input_dropout=p_input, locked_dropout=p_between)
    inputs = {"x": inputs_of(case)["x"]}
    y, _ = forward(layer, case, inputs)
    input_mask = layer.last_masks[("locked", 0)]                    # (B, D)
    between_mask = layer.last_masks[("locked", 1)]                  # (B, H)
    assert input_mask.shape == (3, case.input_size) and between_mask.shape == (3, case.hidden_size)
    assert set(layer.last_masks) == {("locked", 0), ("locked", 1)}
    # The same computation by hand: two one-layer layers with the layer's weights, each input
    # multiplied by its (B, 1, W) mask, the same at every step.
    first, second = build(Case(kind), seed=0), build(Case(kind, input_size=case.hidden_size), seed=0)
    for target, layer_index in ((first, 0), (second, 1)):
        for name, parameter in target.named_parameters():
            parameter.data[...] = getattr(layer, name.replace("_l0", f"_l{layer_index}")).data
    middle, _ = first(inputs["x"] * input_mask[:, None, :] / (1 - p_input))
    expected, _ = second(middle * between_mask[:, None, :] / (1 - p_between))
    np.testing.assert_allclose(y, expected, rtol=1e-13, atol=1e-14)
    # A dropped input feature gets no gradient at any step.
    dx, _ = layer.backward(np.ones_like(y))
    dropped = ~input_mask                                           # (B, D)
    assert dropped.any()
    assert np.all(dx.transpose(1, 0, 2)[:, dropped] == 0)
    assert np.all(dx.transpose(1, 0, 2)[:, ~dropped] != 0)


def test_masks_come_from_the_seed_and_change_between_forwards():
    case = Case("LSTM", num_layers=2, bidirectional=True)
    options = options_for("LSTM", "all")
    inputs = {"x": inputs_of(case)["x"]}
    a, b = build(case, seed=3, **options), build(case, seed=3, **options)
    ya, yb = forward(a, case, inputs)[0], forward(b, case, inputs)[0]
    np.testing.assert_array_equal(ya, yb)
    first = dict(a.last_masks)
    assert first.keys() == b.last_masks.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], b.last_masks[key])
    forward(a, case, inputs)
    assert any(not np.array_equal(first[key], a.last_masks[key]) for key in first)


@pytest.mark.parametrize("kind", WITH_W_HH)
def test_weight_drop_is_one_mask_on_w_hh_per_forward(kind):
    """The regularised layer equals the plain layer whose W_hh is W_hh * mask / (1 - p) (so one
    mask serves every step and row), and dL/dW_hh is the plain one's times that mask."""
    p = 0.5
    case = Case(kind, num_layers=2, bidirectional=True, batch=3, lengths=(4, 2, 3))
    dropped = build(case, weight_drop=p)
    plain = build(case)
    inputs = inputs_of(case)
    got = run(dropped, case, inputs)
    masks = {}
    for layer in range(2):
        for direction, suffix in enumerate(("", "_reverse")):
            name = f"weight_hh_l{layer}{suffix}"
            masks[name] = dropped.last_masks[("weight_drop", layer, direction)] / (1 - p)      # (G*H, H)
            assert masks[name].shape == getattr(plain, name).shape
            getattr(plain, name).data[...] *= masks[name]
    want = run(plain, case, inputs)
    for name in masks:
        want[3][name] = want[3][name] * masks[name]
    assert_runs_equal(got, want, exact=False)
    np.testing.assert_array_equal(dropped.weight_hh_l0.data, build(case).weight_hh_l0.data)   # untouched


def test_weight_drop_gradients_survive_a_second_backward():
    """Diagnostics call backward twice on one forward: the gradients then double, as without weight drop."""
    case = Case("LSTM", num_layers=2, batch=2)
    layer = build(case, weight_drop=0.5)
    y, _ = forward(layer, case, {"x": inputs_of(case)["x"]})
    layer.backward(np.ones_like(y))
    once = {name: p.grad.copy() for name, p in layer.named_parameters()}
    layer.backward(np.ones_like(y))
    for name, parameter in layer.named_parameters():
        np.testing.assert_allclose(parameter.grad, 2 * once[name], rtol=1e-13, atol=1e-15)


def test_fixed_masks_are_checked():
    layer = rnnkit.GRU(3, 4, locked_input_dropout=0.5, seed=0)
    layer.fixed_masks = {("locked", 0): np.ones((5, 3))}
    with pytest.raises(ValueError, match=r"fixed_masks\[\('locked', 0\)\] must have shape \(2, 3\), got \(5, 3\)"):
        layer(np.ones((2, 4, 3)))
    layer.fixed_masks = {("locked", 0): np.full((2, 3), 0.5)}
    with pytest.raises(ValueError, match="only 0 and 1"):
        layer(np.ones((2, 4, 3)))


# --- zoneout -------------------------------------------------------------------------------
def zoneout_by_hand(layer, x, keep_h, keep_c=None):
    """h_t = k_t h_{t-1} + (1 - k_t) h~_t (and c) with the layer's one-step cell, one layer,
    one direction, zero initial state; k (T, B, W) masks or constants."""
    cell = layer.step_cell(0)
    batch, steps, _ = x.shape
    h = np.zeros((batch, layer.hidden_size))
    c = np.zeros((batch, layer.hidden_size))
    outputs = []
    for t in range(steps):
        if keep_c is None:
            candidate = cell(x[:, t], h)
        else:
            candidate, c_candidate = cell(x[:, t], (h, c))
            c = keep_c[t] * c + (1 - keep_c[t]) * c_candidate
        h = keep_h[t] * h + (1 - keep_h[t]) * candidate
        outputs.append(h)
    return np.stack(outputs, axis=1)                                   # (B, T, H)


@pytest.mark.parametrize("kind", KINDS)
def test_zoneout_training_keeps_the_previous_value_where_the_mask_says(kind):
    case = Case(kind, batch=3, steps=5)
    layer = build(case, **options_for(kind, "zoneout"))
    x = inputs_of(case)["x"]
    y, _ = forward(layer, case, {"x": x})
    keep_h = layer.last_masks[("zoneout", 0, 0, "h")].astype(float)   # (T, B, H)
    assert keep_h.shape == (5, 3, 4) and 0 < keep_h.mean() < 1
    keep_c = layer.last_masks[("zoneout", 0, 0, "c")].astype(float) if kind in TWO_STATES else None
    np.testing.assert_allclose(y, zoneout_by_hand(layer, x, keep_h, keep_c), rtol=1e-13, atol=1e-14)
    zoned = np.nonzero(keep_h[1:])                                   # h_t = h_{t-1} exactly there
    np.testing.assert_array_equal(y.transpose(1, 0, 2)[1:][zoned], y.transpose(1, 0, 2)[:-1][zoned])


@pytest.mark.parametrize("kind", KINDS)
def test_zoneout_evaluation_is_the_expectation(kind):
    case = Case(kind, batch=3, steps=5)
    options = options_for(kind, "zoneout")
    layer = build(case, **options).eval()
    x = inputs_of(case)["x"]
    y, _ = forward(layer, case, {"x": x})
    assert layer.last_masks == {}
    keep_h = np.full((5, 3, 4), options["zoneout"])
    keep_c = np.full((5, 3, 4), options["zoneout_cell"]) if kind in TWO_STATES else None
    np.testing.assert_allclose(y, zoneout_by_hand(layer, x, keep_h, keep_c), rtol=1e-13, atol=1e-14)
    with rnnkit.no_grad():                                           # batch-major inference: the same
        np.testing.assert_allclose(forward(layer, case, {"x": x})[0], y, rtol=1e-14, atol=1e-15)


def test_zoneout_respects_lengths_like_the_plain_layer():
    """Past a sequence's length the state is kept, so h_n is the state at its last step."""
    case = Case("GRU", bidirectional=True, batch=3, steps=5, lengths=(5, 2, 3))
    layer = build(case, zoneout=0.3).eval()
    x = inputs_of(case)["x"]
    y, h_n = forward(layer, case, {"x": x})
    assert np.all(y[1, 2:] == 0) and np.all(y[2, 3:] == 0)
    for row, length in enumerate(case.lengths):
        alone, h_alone = layer(x[row:row + 1, :length])
        np.testing.assert_allclose(y[row:row + 1, :length], alone, rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(h_n[:, row], h_alone[:, 0], rtol=1e-13, atol=1e-14)


# --- learnable initial state ---------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_learned_initial_state_gradient_is_the_batch_sum_of_d_h0(kind):
    case = Case(kind, num_layers=2, bidirectional=True, batch=3, lengths=(4, 2, 3))
    learned = build(case, learn_initial_state=True)
    names = ["initial_h", "initial_c"][: 2 if kind in TWO_STATES else 1]
    rng = np.random.default_rng(9)
    for name in names:
        parameter = getattr(learned, name)
        assert parameter.shape == (4, case.state_width) and np.all(parameter.data == 0)
        parameter.data[...] = rng.standard_normal(parameter.shape)
    plain = build(case)
    x = inputs_of(case)["x"]
    given = {name.replace("initial_", "") + "0": np.repeat(getattr(learned, name).data[:, None, :], 3, axis=1)
             for name in names}
    got = run(learned, case, {"x": x})
    want = run(plain, case, {"x": x, **given})
    np.testing.assert_array_equal(got[0], want[0])
    for name in names:
        part = name.replace("initial_", "") + "0"
        np.testing.assert_array_equal(got[2][part], want[2][part])
        np.testing.assert_allclose(got[3][name], want[2][part].sum(axis=1), rtol=1e-14, atol=1e-15)
    assert [n for n, _ in learned.named_parameters()][-len(names):] == names


def test_a_given_initial_state_replaces_the_learned_one():
    layer = rnnkit.LSTM(3, 4, learn_initial_state=True, dtype=np.float64, seed=0)
    layer.initial_h.data[...] = 1.0
    x = np.ones((2, 3, 3))
    h0 = np.zeros((1, 2, 4))
    y, _ = layer(x, (h0, None))                                      # h given, c learned (zeros)
    np.testing.assert_array_equal(y, rnnkit.LSTM(3, 4, dtype=np.float64, seed=0)(x)[0])
    layer.backward(np.ones_like(y))
    assert np.all(layer.initial_h.grad == 0) and np.any(layer.initial_c.grad != 0)


def test_learned_initial_state_round_trips_through_a_checkpoint(tmp_path):
    layer = rnnkit.GRU(3, 4, num_layers=2, learn_initial_state=True, zoneout=0.2, seed=0)
    layer.initial_h.data[...] = np.arange(8, dtype=np.float32).reshape(2, 4)
    assert "initial_h" in layer.state_dict()
    assert layer.config["learn_initial_state"] is True and layer.config["zoneout"] == 0.2
    rnnkit.save(layer, tmp_path / "gru.safetensors")
    loaded = rnnkit.load(tmp_path / "gru.safetensors")
    assert type(loaded) is rnnkit.GRU and loaded.config == layer.config
    np.testing.assert_array_equal(loaded.initial_h.data, layer.initial_h.data)
    x = np.ones((2, 3, 3), dtype=np.float32)
    np.testing.assert_array_equal(loaded.eval()(x)[0], layer.eval()(x)[0])


# --- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("option", ["locked_input_dropout", "locked_dropout", "weight_drop", "zoneout"])
@pytest.mark.parametrize("value", [1.0, -0.1, 1.5, float("nan"), "0.5", True])
def test_probabilities_outside_zero_to_one_are_refused(option, value):
    with pytest.raises(ValueError, match=re.escape(f"{option} must be a number in [0, 1), got {value!r}")):
        rnnkit.LSTM(3, 4, **{option: value})


def test_zoneout_cell_probability_is_checked():
    with pytest.raises(ValueError, match=r"zoneout_cell must be a number in \[0, 1\), got 1"):
        rnnkit.LSTM(3, 4, zoneout_cell=1)


@pytest.mark.parametrize("kind", ["MinGRU", "MinLSTM"])
def test_weight_drop_is_refused_without_w_hh(kind):
    with pytest.raises(ValueError, match=rf"weight_drop=0.5 drops entries of W_hh, and {kind} has no W_hh"):
        getattr(rnnkit, kind)(3, 4, weight_drop=0.5)
    getattr(rnnkit, kind)(3, 4, weight_drop=0.0)                      # off is fine


@pytest.mark.parametrize("kind", ["RNN", "GRU", "MinGRU", "MinLSTM"])
def test_zoneout_cell_is_refused_without_a_cell_state(kind):
    with pytest.raises(ValueError, match=rf"zoneout_cell=0.3 zones out an LSTM's cell state c, and {kind} has no c"):
        getattr(rnnkit, kind)(3, 4, zoneout_cell=0.3)


def test_zoneout_is_refused_with_a_projection():
    with pytest.raises(ValueError, match="proj_size=2 has none"):
        rnnkit.LSTM(3, 4, proj_size=2, zoneout=0.1)


def test_other_options_are_checked():
    with pytest.raises(ValueError, match="learn_initial_state must be True or False, got 'yes'"):
        rnnkit.GRU(3, 4, learn_initial_state="yes")
    with pytest.raises(TypeError, match="dropconnect"):
        rnnkit.GRU(3, 4, dropconnect=0.5)


# --- models pass the options through -------------------------------------------------------
def test_models_pass_regularisers_to_their_recurrent_layer(tmp_path):
    from rnnkit.models import Forecaster, SequenceClassifier as Classifier, SequenceTagger as Tagger
    options = {"locked_dropout": 0.25, "weight_drop": 0.5, "zoneout": 0.1, "learn_initial_state": True}
    models = [Classifier(3, vocab_size=10, hidden_size=4, num_layers=2, regularisers=options, seed=0),
              Tagger(3, vocab_size=10, hidden_size=4, num_layers=2, regularisers=options, seed=0),
              Forecaster(2, hidden_size=4, num_layers=2, regularisers=options, seed=0)]
    for model in models:
        layer = model.recurrent
        assert (layer.locked_dropout, layer.weight_drop, layer.zoneout, layer.learn_initial_state) == \
            (0.25, 0.5, 0.1, True)
        assert model.config["regularisers"] == options
        path = tmp_path / f"{type(model).__name__}.safetensors"
        rnnkit.save(model, path)
        loaded = rnnkit.load(path)
        assert loaded.config == model.config and "recurrent.initial_h" in loaded.state_dict()
    plain = Classifier(3, vocab_size=10, hidden_size=4, seed=0)
    assert "regularisers" not in plain.config
    with pytest.raises(ValueError, match="regularisers may name .*; got 'dropconnect'"):
        Classifier(3, vocab_size=10, regularisers={"dropconnect": 0.5})
    with pytest.raises(ValueError, match="weight_drop=0.5 drops entries of W_hh, and MinGRU has no W_hh"):
        Forecaster(2, cell="mingru", regularisers={"weight_drop": 0.5})


# --- stepping the cells yourself (generation) ----------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_cells_stepped_by_hand_with_the_layer_helpers_reproduce_evaluation(kind):
    """``initial_state`` and ``zoneout_expectation`` let a generation loop over ``step_cell``s
    compute what the layer computes in evaluation mode."""
    options = {"zoneout": 0.3, "learn_initial_state": True, **({"zoneout_cell": 0.2} if kind in TWO_STATES else {})}
    layer = getattr(rnnkit, kind)(3, 4, num_layers=2, dtype=np.float64, seed=0, **options).eval()
    rng = np.random.default_rng(3)
    for parameter in layer._initial_parameters():
        parameter.data[...] = rng.standard_normal(parameter.shape)
    x = rng.standard_normal((2, 5, 3))
    y, final = layer(x)
    start = layer.initial_state(2)
    parts = start if kind in TWO_STATES else (start,)
    states = [tuple(part[k] for part in parts) for k in range(2)]
    states = [state if kind in TWO_STATES else state[0] for state in states]
    cells = [layer.step_cell(k) for k in range(2)]
    outputs = []
    for t in range(5):
        inputs = x[:, t]
        for k, cell in enumerate(cells):
            states[k] = layer.zoneout_expectation(states[k], cell(inputs, states[k]))
            inputs = states[k][0] if kind in TWO_STATES else states[k]
        outputs.append(inputs)
    np.testing.assert_allclose(np.stack(outputs, axis=1), y, rtol=1e-12, atol=1e-13)
    h_n = final[0] if kind in TWO_STATES else final
    np.testing.assert_allclose(h_n[1], outputs[-1], rtol=1e-12, atol=1e-13)


def test_gate_diagnostics_replay_a_zoneout_lstm():
    """The diagnostics recompute an LSTM's gates and cells from its cache; with zoneout on h
    only, the cells they recompute are the ones the step loop kept."""
    from rnnkit.diagnostics import gate_statistics
    from rnnkit.diagnostics._replay import replay
    layer = rnnkit.LSTM(3, 4, zoneout=0.3, learn_initial_state=True, dtype=np.float64, seed=0)
    layer.initial_c.data[...] = 0.5
    layer(np.random.default_rng(0).standard_normal((2, 5, 3)))
    assert list(gate_statistics(layer).gates) == ["input", "forget", "cell", "output"]
    kept = layer._cache["caches"][0][0].extra[0]                     # (T+1, B, H)
    assert np.all(kept[0] == 0.5)
    np.testing.assert_allclose(replay(layer).cells, kept, rtol=1e-13, atol=1e-14)
