"""Module and Parameter: naming, state dicts, gradient accumulation, modes, seeds, init, dtypes.

These are the contracts every layer inherits from :mod:`rnnkit.module`; they are checked here
on a tiny composite model (a Linear on top of an LSTM) and on the real layers.
"""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from rnnkit import GRU, LSTM, RNN, Dropout, Embedding, GRUCell, Linear, LSTMCell, Module, Parameter, RNNCell


class Tagger(Module):
    """A tiny composite: a parameter of its own, an LSTM encoder, dropout and a Linear head."""

    def __init__(self, dtype=np.float64, seed=0):
        super().__init__(dtype=dtype, seed=seed)
        self.scale = Parameter(np.ones(3, dtype=dtype))
        self.encoder = LSTM(4, 5, dtype=dtype, seed=self.rng)
        self.drop = Dropout(0.0, dtype=dtype)
        self.head = Linear(5, 3, dtype=dtype, seed=self.rng)

    def forward(self, x):
        hidden, _ = self.encoder(x)                         # (B, T, H)
        self._head_out = self.head(self.drop(hidden))       # (B, T, 3)
        return self._head_out * self.scale.data

    def backward(self, d_out):
        self.scale.grad += np.sum(d_out * self._head_out, axis=(0, 1))
        d_hidden = self.drop.backward(self.head.backward(d_out * self.scale.data))
        dx, _ = self.encoder.backward(d_hidden)
        return dx


def lstm_names(num_layers, bidirectional, proj):
    """PyTorch's LSTM parameter names, in PyTorch's order."""
    names = []
    for layer in range(num_layers):
        for suffix in ([""] + (["_reverse"] if bidirectional else [])):
            tail = f"_l{layer}{suffix}"
            names += ["weight_ih" + tail, "weight_hh" + tail, "bias_ih" + tail, "bias_hh" + tail]
            if proj:
                names.append("weight_hr" + tail)
    return names


# --- names and order -------------------------------------------------------------------------
def test_named_parameters_of_composite_are_dotted_and_ordered():
    model = Tagger()
    names = [name for name, _ in model.named_parameters()]
    assert names == [
        "scale",
        "encoder.weight_ih_l0", "encoder.weight_hh_l0", "encoder.bias_ih_l0", "encoder.bias_hh_l0",
        "head.weight", "head.bias",
    ]
    shapes = {name: p.shape for name, p in model.named_parameters()}
    assert shapes["encoder.weight_ih_l0"] == (20, 4)
    assert shapes["encoder.weight_hh_l0"] == (20, 5)
    assert shapes["head.weight"] == (3, 5)
    assert list(model.state_dict()) == names
    assert model.parameters()[1] is model.encoder.weight_ih_l0
    assert [name for name, _ in model.named_modules()] == ["", "encoder", "drop", "head"]
    assert model.num_parameters() == 3 + (20 * 4 + 20 * 5 + 20 + 20) + (15 + 3)


def test_lstm_names_follow_pytorch_exactly_small_case():
    lstm = LSTM(3, 5, num_layers=2, bidirectional=True, seed=0)
    assert [name for name, _ in lstm.named_parameters()] == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
        "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
        "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse",
    ]


@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("proj", [0, 2])
def test_lstm_names_order_and_shapes(num_layers, bidirectional, proj):
    D, H = 3, 5
    lstm = LSTM(D, H, num_layers=num_layers, bidirectional=bidirectional, proj_size=proj, seed=0)
    params = dict(lstm.named_parameters())
    assert list(params) == lstm_names(num_layers, bidirectional, proj)
    P = proj or H
    K = 2 if bidirectional else 1
    for name, parameter in params.items():
        layer = int(name.split("_l")[1][0])
        if name.startswith("weight_ih"):
            assert parameter.shape == (4 * H, D if layer == 0 else K * P), name
        elif name.startswith("weight_hh"):
            assert parameter.shape == (4 * H, P), name
        elif name.startswith("weight_hr"):
            assert parameter.shape == (P, H), name
        else:
            assert parameter.shape == (4 * H,), name


def test_no_bias_has_no_bias_parameters():
    assert [name for name, _ in GRU(2, 3, bias=False, seed=0).named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    assert [name for name, _ in Linear(2, 3, bias=False, seed=0).named_parameters()] == ["weight"]
    assert [name for name, _ in RNNCell(2, 3, bias=False, seed=0).named_parameters()] == ["weight_ih", "weight_hh"]


def test_reassigning_an_attribute_unregisters_it():
    model = Tagger()
    model.head = None
    assert [name for name, _ in model.named_parameters()][-1] == "encoder.bias_hh_l0"
    del model.scale
    assert "scale" not in dict(model.named_parameters())


def test_assigning_before_super_init_is_a_clear_error():
    class Broken(Module):
        def __init__(self):
            self.weight = Parameter(np.zeros(2))
            super().__init__()

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\).*'weight'"):
        Broken()


# --- state_dict / load_state_dict ------------------------------------------------------------
def test_state_dict_returns_copies():
    model = Tagger()
    state = model.state_dict()
    original = model.encoder.weight_ih_l0.data.copy()
    state["encoder.weight_ih_l0"][...] = 123.0
    state["head.bias"] += 1.0
    np.testing.assert_array_equal(model.encoder.weight_ih_l0.data, original)
    assert not np.any(model.head.bias.data == state["head.bias"])
    assert model.state_dict()["encoder.weight_ih_l0"] is not model.encoder.weight_ih_l0.data


def test_load_state_dict_round_trip_copies_values_in_place():
    source, target = Tagger(seed=1), Tagger(seed=2)
    weight_array = target.encoder.weight_hh_l0.data
    target.load_state_dict(source.state_dict())
    for (name, a), (_, b) in zip(source.named_parameters(), target.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
    assert target.encoder.weight_hh_l0.data is weight_array       # optimisers keep their references
    state = source.state_dict()
    state["head.bias"][...] = 7.0
    target.load_state_dict(state)
    state["head.bias"][...] = 8.0                                 # no aliasing of the given arrays
    np.testing.assert_array_equal(target.head.bias.data, 7.0)


def test_load_state_dict_casts_to_module_dtype():
    layer = Linear(3, 2, dtype=np.float32, seed=0)
    layer.load_state_dict({"weight": np.arange(6, dtype=np.int64).reshape(2, 3), "bias": np.zeros(2)})
    assert layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.data, [[0, 1, 2], [3, 4, 5]])


def snapshot(module):
    return {name: p.data.copy() for name, p in module.named_parameters()}


def assert_unchanged(module, before):
    for name, p in module.named_parameters():
        np.testing.assert_array_equal(p.data, before[name], err_msg=f"{name} changed by a refused load")


def bad_states():
    """(description, mutate(state), exception, regex that must appear in the message)."""

    def missing(state):
        del state["encoder.bias_hh_l0"]

    def unexpected(state):
        state["encoder.weight_ih_l9"] = np.zeros((20, 4))

    def wrong_shape(state):
        state["head.weight"] = np.zeros((5, 3))

    def nan(state):
        state["encoder.weight_hh_l0"][2, 3] = np.nan

    def inf(state):
        state["head.bias"][0] = -np.inf

    def text(state):
        state["scale"] = np.array(["a", "b", "c"])

    def objects(state):
        state["scale"] = np.array([None, 1.0, 2.0], dtype=object)

    def booleans(state):
        state["scale"] = np.array([True, False, True])

    def complex_values(state):
        state["scale"] = np.ones(3, dtype=complex)

    def ragged(state):
        state["head.weight"] = [[1.0, 2.0, 3.0, 4.0, 5.0], [1.0]]

    return [
        ("missing", missing, ValueError, r"missing keys \['encoder.bias_hh_l0'\]"),
        ("unexpected", unexpected, ValueError, r"unexpected keys \['encoder.weight_ih_l9'\]"),
        ("wrong shape", wrong_shape, ValueError, r"head.weight: expected shape \(3, 5\), got \(5, 3\)"),
        ("nan", nan, ValueError, r"encoder.weight_hh_l0: contains NaN or infinite"),
        ("inf", inf, ValueError, r"head.bias: contains NaN or infinite"),
        ("text", text, (ValueError, TypeError), r"scale: expected a real array, got dtype <U1"),
        ("object", objects, (ValueError, TypeError), r"scale: expected a real array, got dtype object"),
        ("bool", booleans, (ValueError, TypeError), r"scale: expected a real array, got dtype bool"),
        ("complex", complex_values, (ValueError, TypeError), r"scale: expected a real array, got dtype complex128"),
        ("ragged", ragged, (ValueError, TypeError), r"head.weight"),
    ]


@pytest.mark.parametrize("description, mutate, error, message", bad_states(), ids=[c[0] for c in bad_states()])
def test_refused_load_names_the_key_and_changes_nothing(description, mutate, error, message):
    model = Tagger(seed=1)
    before = snapshot(model)
    state = Tagger(seed=2).state_dict()
    mutate(state)
    with pytest.raises(error, match=message):
        model.load_state_dict(state)
    assert_unchanged(model, before)


def test_refused_load_reports_every_problem_at_once():
    model = Tagger(seed=1)
    before = snapshot(model)
    state = Tagger(seed=2).state_dict()
    del state["head.bias"]
    state["head.weight"] = np.zeros((1, 1))
    with pytest.raises(ValueError) as info:
        model.load_state_dict(state)
    assert "head.bias" in str(info.value) and "head.weight" in str(info.value)
    assert_unchanged(model, before)


def test_values_that_overflow_float32_are_refused():
    # 1e300 is finite in float64 but becomes inf in float32: loading it must not corrupt the model.
    layer = Linear(3, 2, dtype=np.float32, seed=0)
    before = snapshot(layer)
    with pytest.raises(ValueError, match="weight"):
        layer.load_state_dict({"weight": np.full((2, 3), 1e300), "bias": np.zeros(2)})
    assert_unchanged(layer, before)
    assert np.all(np.isfinite(layer.weight.data))


def test_load_state_dict_requires_a_dict():
    with pytest.raises(TypeError, match="expected a dict of name -> array, got list"):
        Linear(2, 2, seed=0).load_state_dict([np.zeros((2, 2)), np.zeros(2)])


def test_non_strict_skips_missing_and_unexpected():
    model = Tagger(seed=1)
    before = snapshot(model)
    source = Tagger(seed=2).state_dict()
    partial = {"head.weight": source["head.weight"], "not.a.parameter": np.zeros(7)}
    model.load_state_dict(partial, strict=False)
    np.testing.assert_array_equal(model.head.weight.data, source["head.weight"])
    for name, p in model.named_parameters():
        if name != "head.weight":
            np.testing.assert_array_equal(p.data, before[name], err_msg=name)


def test_non_strict_still_refuses_a_wrong_shape():
    model = Tagger(seed=1)
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"head.bias: expected shape \(3,\), got \(4,\)"):
        model.load_state_dict({"head.weight": np.zeros((3, 5)), "head.bias": np.zeros(4)}, strict=False)
    assert_unchanged(model, before)


# --- gradients ---------------------------------------------------------------------------------
def test_gradients_accumulate_exactly_and_zero_grad_resets(rng):
    model = Tagger(seed=3)
    x = rng.standard_normal((3, 6, 4))
    d_out = rng.standard_normal((3, 6, 3))
    model(x)
    dx_first = model.backward(d_out)
    first = {name: p.grad.copy() for name, p in model.named_parameters()}
    assert all(np.any(g != 0) for g in first.values()), "every parameter should receive a gradient"
    model(x)
    dx_second = model.backward(d_out)
    np.testing.assert_array_equal(dx_first, dx_second)        # input gradients do not accumulate
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.grad, 2 * first[name], err_msg=name)
    grads = [p.grad for p in model.parameters()]
    model.zero_grad()
    for name, p in model.named_parameters():
        assert not np.any(p.grad), name
    assert all(p.grad is g for p, g in zip(model.parameters(), grads))   # reset in place


@pytest.mark.parametrize("make", [
    lambda: RNN(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=0),
    lambda: GRU(3, 4, num_layers=2, dtype=np.float64, seed=0),
    lambda: LSTM(3, 4, proj_size=2, bidirectional=True, dtype=np.float64, seed=0),
], ids=["RNN", "GRU", "LSTM-proj"])
def test_recurrent_gradients_accumulate_exactly(make, rng):
    layer = make()
    x = rng.standard_normal((2, 5, 3))
    y, _ = layer(x)
    dy = rng.standard_normal(y.shape)
    layer.backward(dy)
    first = {name: p.grad.copy() for name, p in layer.named_parameters()}
    layer(x)
    layer.backward(dy)
    for name, p in layer.named_parameters():
        np.testing.assert_array_equal(p.grad, 2 * first[name], err_msg=name)
    layer.zero_grad()
    assert all(not np.any(p.grad) for p in layer.parameters())


def test_parameter_starts_with_zero_grad_of_same_shape_and_dtype():
    p = Parameter(np.ones((2, 3), dtype=np.float32))
    assert p.grad.shape == (2, 3) and p.grad.dtype == np.float32 and not np.any(p.grad)
    assert p.requires_grad and p.shape == (2, 3) and p.dtype == np.float32


# --- modes ---------------------------------------------------------------------------------
def test_train_and_eval_propagate_to_every_child():
    model = Tagger()
    assert all(m.training for _, m in model.named_modules())
    assert model.eval() is model
    assert [m.training for _, m in model.named_modules()] == [False] * 4
    assert model.train() is model
    assert [m.training for _, m in model.named_modules()] == [True] * 4
    model.train(False)
    assert not model.drop.training and not model.encoder.training


def test_eval_disables_dropout_inside_a_composite(rng):
    model = Tagger()
    model.drop = Dropout(0.9, dtype=np.float64, seed=0)
    x = rng.standard_normal((2, 3, 4))
    model.eval()
    np.testing.assert_array_equal(model(x), model(x))
    model.train()
    assert not np.array_equal(model(x), model(x))


# --- seeds -------------------------------------------------------------------------------------
ALL_PARAMETERISED = {
    "RNN": lambda **kw: RNN(3, 4, num_layers=2, **kw),
    "LSTM": lambda **kw: LSTM(3, 4, bidirectional=True, proj_size=2, **kw),
    "GRU": lambda **kw: GRU(3, 4, **kw),
    "RNNCell": lambda **kw: RNNCell(3, 4, **kw),
    "LSTMCell": lambda **kw: LSTMCell(3, 4, **kw),
    "GRUCell": lambda **kw: GRUCell(3, 4, **kw),
    "Linear": lambda **kw: Linear(3, 4, **kw),
    "Embedding": lambda **kw: Embedding(7, 4, **kw),
}


@pytest.mark.parametrize("name", list(ALL_PARAMETERISED))
def test_same_seed_same_weights_different_seed_different(name):
    make = ALL_PARAMETERISED[name]
    a, b, c = make(seed=5), make(seed=5), make(seed=6)
    for (key, pa), (_, pb), (_, pc) in zip(a.named_parameters(), b.named_parameters(), c.named_parameters()):
        np.testing.assert_array_equal(pa.data, pb.data, err_msg=key)
        assert not np.array_equal(pa.data, pc.data), key


@pytest.mark.parametrize("name", list(ALL_PARAMETERISED))
def test_generator_as_seed(name):
    make = ALL_PARAMETERISED[name]
    a = make(seed=np.random.default_rng(11))
    b = make(seed=np.random.default_rng(11))
    for (key, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.data, pb.data, err_msg=key)
    shared = np.random.default_rng(11)
    first, second = make(seed=shared), make(seed=shared)       # the generator advances
    assert not np.array_equal(first.parameters()[0].data, second.parameters()[0].data)


def test_generator_seed_is_used_as_is():
    generator = np.random.default_rng(0)
    assert Linear(2, 2, seed=generator).rng is generator


def test_no_seed_gives_fresh_weights():
    assert not np.array_equal(Linear(8, 8).weight.data, Linear(8, 8).weight.data)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed_is_refused(seed):
    with pytest.raises(TypeError, match=r"seed must be a non-negative int.*got " + repr(seed).replace(".", r"\.")):
        Linear(2, 2, seed=seed)


# --- initialisation ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", [
    lambda dtype: RNN(6, 16, num_layers=2, bidirectional=True, dtype=dtype, seed=0),
    lambda dtype: LSTM(6, 16, num_layers=2, proj_size=5, dtype=dtype, seed=0),
    lambda dtype: GRU(6, 16, num_layers=2, bidirectional=True, dtype=dtype, seed=0),
    lambda dtype: RNNCell(6, 16, dtype=dtype, seed=0),
    lambda dtype: LSTMCell(6, 16, dtype=dtype, seed=0),
    lambda dtype: GRUCell(6, 16, dtype=dtype, seed=0),
], ids=["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_recurrent_init_is_uniform_in_one_over_sqrt_hidden(make, dtype):
    module = make(dtype)
    bound = 1.0 / np.sqrt(16)                   # H, even for weight_hr and for layer 1's inputs
    for name, p in module.named_parameters():
        values = p.data.astype(np.float64)
        assert np.max(np.abs(values)) <= bound * (1 + 1e-7), name
        assert np.max(np.abs(values)) > 0.5 * bound, f"{name} is suspiciously small"
        assert values.min() < 0 < values.max(), f"{name} is not centred"


def test_recurrent_init_is_uniform_not_clustered():
    values = np.concatenate([p.data.ravel() for p in LSTM(32, 64, seed=0, dtype=np.float64).parameters()])
    bound = 1 / 8
    counts, _ = np.histogram(values, bins=4, range=(-bound, bound))
    np.testing.assert_allclose(counts / values.size, 0.25, atol=0.01)


def test_linear_init_uses_in_features():
    layer = Linear(25, 3, dtype=np.float64, seed=0)
    assert np.max(np.abs(layer.weight.data)) <= 0.2 and np.max(np.abs(layer.weight.data)) > 0.1
    assert np.max(np.abs(layer.bias.data)) <= 0.2


# --- dtypes ------------------------------------------------------------------------------------
def run_once(module, name):
    x32 = np.ones((2, 3), dtype=np.float32)
    if name in ("RNN", "LSTM", "GRU"):
        out, _ = module(np.ones((2, 4, 3)))
    elif name == "Embedding":
        out = module(np.array([1, 2]))
    elif name == "LSTMCell":
        out, _ = module(x32)
    else:
        out = module(x32)
    return out


@pytest.mark.parametrize("name", list(ALL_PARAMETERISED))
def test_float32_by_default_and_float64_on_request(name):
    make = ALL_PARAMETERISED[name]
    default, double = make(seed=0), make(seed=0, dtype=np.float64)
    assert default.dtype == np.float32 and double.dtype == np.float64
    assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in default.parameters())
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in double.parameters())
    assert run_once(default, name).dtype == np.float32
    assert run_once(double, name).dtype == np.float64


def test_dtype_accepts_strings():
    assert Linear(2, 2, dtype="float64", seed=0).weight.dtype == np.float64


@pytest.mark.parametrize("name", list(ALL_PARAMETERISED) + ["Dropout"])
@pytest.mark.parametrize("dtype, shown", [(np.float16, "float16"), (np.int32, "int32"), (int, "int64"),
                                          (np.complex64, "complex64"), ("not-a-dtype", "not-a-dtype")])
def test_unsupported_dtypes_are_refused(name, dtype, shown):
    make = ALL_PARAMETERISED.get(name, lambda **kw: Dropout(0.5, **kw))
    with pytest.raises(TypeError, match=f"dtype must be numpy.float32 or numpy.float64, got .*{shown}"):
        make(seed=0, dtype=dtype)


def test_version_and_exports():
    assert isinstance(rnnkit.__version__, str)
    for name in rnnkit.__all__:
        assert hasattr(rnnkit, name), name
