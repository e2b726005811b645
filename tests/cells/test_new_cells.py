"""The cell kinds PyTorch does not ship (minGRU, minLSTM, LayerNorm LSTM and GRU): gradients,
kernels, no_grad, golden values.

- float64 central differences of every parameter, the input and the initial states over the
  table of ``new_cell_cases`` (layers 1-2, bidirectional, lengths, bias off, T = 1, B = 1);
- the compiled kernels against the reference ones (float64 1e-12, float32 1e-5, relative to
  each array's largest magnitude), also past the size where the loops split across cores;
- no_grad outputs equal a normal forward's, with both kernels;
- golden values that guard without torch, extreme pre-activations, one-step cells, checkpoints.
"""

import numpy as np
import pytest

import rnnkit
from rnnkit import compiled
from rnnkit.gradcheck import check_gradients
from rnnkit.registry import cell_kind
from new_cell_cases import CASES, NEW_KINDS, NewCase, run_backward, run_case, run_forward

TOLERANCE = 1e-6
PATHS = [False] + ([True] if compiled.available() else [])
KERNEL_TOLERANCES = {np.float64: 1e-12, np.float32: 1e-5}


def relative(ours, reference):
    return float(np.max(np.abs(ours - reference)) / max(np.max(np.abs(reference)), 1e-30))


def with_kernel(use_compiled, function, *args):
    compiled.set_enabled(use_compiled)
    try:
        return function(*args)
    finally:
        compiled.set_enabled(None)


@pytest.mark.parametrize("use_compiled", PATHS, ids=lambda on: "compiled" if on else "numpy")
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_layer_gradients_match_central_differences(case: NewCase, use_compiled):
    layer = case.build(seed=2)
    for parameter in layer.parameters():
        parameter.data += np.random.default_rng(7).uniform(-0.3, 0.3, parameter.shape)
    report = with_kernel(use_compiled, check_gradients, layer, case.inputs(),
                         lambda module, inputs: run_forward(module, case, inputs),
                         lambda module, grads: run_backward(module, case, grads))
    expected = {name for name, _ in layer.named_parameters()} | {f"input {name}" for name in case.inputs()}
    assert expected <= set(report.errors)
    assert report.worst < TOLERANCE, str(report)


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_gradients_through_dropout_between_layers(kind):
    case = NewCase(kind, num_layers=3, bidirectional=True)
    layer = cell_kind(kind).layer(3, 4, num_layers=3, bidirectional=True, dropout=0.4, dtype=np.float64, seed=0)

    def forward(module, inputs):
        module.rng = np.random.default_rng(123)                 # the same masks every forward
        return run_forward(module, case, inputs)

    report = check_gradients(layer, case.inputs(), forward, lambda module, grads: run_backward(module, case, grads))
    assert report.worst < TOLERANCE, str(report)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", NEW_KINDS)
def test_cell_gradients_match_central_differences(kind, bias):
    registered = cell_kind(kind)
    cell = registered.cell(3, 4, bias=bias, dtype=np.float64, seed=0)
    rng = np.random.default_rng(2)
    inputs = {"x": rng.standard_normal((2, 3)), **{name: rng.standard_normal((2, 4)) for name in registered.state_names}}

    def forward(module, values):
        return module(values["x"], registered.from_tuple([values[name] for name in registered.state_names]))

    def backward(module, grads):
        dx, d_state = module.backward(*registered.as_tuple(grads))
        return {"x": dx, **dict(zip(registered.state_names, registered.as_tuple(d_state)))}

    report = check_gradients(cell, inputs, forward, backward)
    assert len(report.errors) == len(list(cell.named_parameters())) + len(inputs)
    assert report.worst < TOLERANCE, str(report)


KERNEL_CASES = CASES + [
    NewCase(kind, batch=3, steps=200, input_size=4, hidden_size=128, bidirectional=True, lengths=(200, 37, 150))
    for kind in NEW_KINDS                                        # T*B*H past the split: rows on several cores
] + [NewCase(kind, batch=1, steps=300, input_size=2, hidden_size=256) for kind in NEW_KINDS]   # units split


@pytest.mark.skipif(not compiled.available(), reason="compiled loops unavailable (numba missing or no BLAS symbols)")
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", KERNEL_CASES, ids=lambda case: case.id)
def test_compiled_matches_reference(case, dtype, monkeypatch):
    from rnnkit.compiled import split

    monkeypatch.setattr(split, "cores", lambda: 2)               # split even on a one-core machine
    reference = with_kernel(False, run_case, case, dtype)[-1]
    fast = with_kernel(True, run_case, case, dtype)[-1]
    assert fast.keys() == reference.keys()
    errors = {name: relative(fast[name], reference[name]) for name in reference}
    assert max(errors.values()) <= KERNEL_TOLERANCES[dtype], errors


@pytest.mark.parametrize("use_compiled", PATHS, ids=lambda on: "compiled" if on else "numpy")
@pytest.mark.parametrize("case", CASES + KERNEL_CASES[-2:], ids=lambda case: case.id)
def test_no_grad_outputs_equal_a_normal_forward(case, use_compiled):
    def outputs():
        results = []
        for dtype in (np.float64, np.float32):
            layer = case.build(dtype=dtype, seed=3)
            inputs = case.inputs(seed=4, dtype=dtype)
            y, final = run_forward(layer, case, inputs)
            with rnnkit.no_grad():
                y_free, final_free = run_forward(layer, case, inputs)
            results.append(([y, *case.registered.as_tuple(final)], [y_free, *case.registered.as_tuple(final_free)]))
        return results

    for expected, got in with_kernel(use_compiled, outputs):
        for reference, ours in zip(expected, got):
            assert ours.dtype == reference.dtype and ours.shape == reference.shape
            tolerance = (1e-12, 1e-14) if ours.dtype == np.float64 else (1e-5, 1e-6)
            np.testing.assert_allclose(ours, reference, rtol=tolerance[0], atol=tolerance[1])


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_step_cell_computes_the_layers_steps_and_shares_its_parameters(kind):
    registered = cell_kind(kind)
    layer = registered.layer(3, 4, num_layers=2, dtype=np.float64, seed=1)
    x = np.random.default_rng(3).standard_normal((2, 5, 3))
    y, _ = layer(x)
    cells = [layer.step_cell(k) for k in range(2)]
    states = [None, None]
    for t in range(5):
        inputs = x[:, t]
        for k, cell in enumerate(cells):
            states[k] = cell(inputs, states[k])
            inputs = registered.hidden(states[k])
        np.testing.assert_allclose(inputs, y[:, t], rtol=1e-12, atol=1e-12)
    for k, cell in enumerate(cells):                            # every parameter is the layer's own, none missing
        names = [name for name, _ in cell.named_parameters()]
        assert names == [name[:-3] for name, _ in layer.named_parameters() if name.endswith(f"_l{k}")]
        assert all(parameter is getattr(layer, f"{name}_l{k}") for name, parameter in cell.named_parameters())
    cells[0].backward(np.ones((2, 4)))                          # gradients land in the layer's Parameters
    assert np.abs(layer.weight_ih_l0.grad).sum() > 0


# Golden values: sine-pattern weights (every parameter, in state_dict order), printed by the
# reference kernels in float64 (which test_new_cells_torch.py matches with torch autograd to
# 1e-10); they guard the numbers where torch is absent.
def sine_pattern(shape, start):
    count = int(np.prod(shape))
    return (np.sin(np.arange(count) * 0.7 + start) * 0.5).reshape(shape)


def golden_run(kind, use_compiled):
    layer = cell_kind(kind).layer(2, 3, dtype=np.float64, seed=0)
    layer.load_state_dict({name: sine_pattern(value.shape, index)
                           for index, (name, value) in enumerate(layer.state_dict().items())})
    x = sine_pattern((2, 5, 2), 10.0) * 2.0
    y, state = with_kernel(use_compiled, layer, x)
    dx, _ = with_kernel(use_compiled, layer.backward, np.cos(np.arange(y.size)).reshape(y.shape))
    result = {"y_last": y[:, -1], "dx_first": dx[:, 0], "dW_ih_row0": layer.weight_ih_l0.grad[0]}
    if hasattr(layer, "ln_hh_weight_l0"):                       # the layer norms' gains and shifts too
        result.update({"d_ln_hh_weight_head": layer.ln_hh_weight_l0.grad[:3],
                       "d_ln_ih_bias_head": layer.ln_ih_bias_l0.grad[:3]})
    return result


GOLDEN = {
    "mingru": {
        "y_last": [[-0.10438986171090794, -0.42880777384617297, -0.46270705502909315],
                   [0.20748233860689794, -0.3402947400838066, -0.7610612964717138]],
        "dx_first": [[-0.251894398429396, -0.25027857222732747], [0.18898271720731433, 0.04790101395331571]],
        "dW_ih_row0": [0.30580241089846766, 0.0079169567476532],
    },
    "minlstm": {
        "y_last": [[-0.4026408727545834, -0.14709800746543075, -0.04365294699619297],
                   [-0.5928928398028334, 0.04156853188914447, 0.08508344535681162]],
        "dx_first": [[0.1736512259671253, 0.02254680059972206], [-0.036876485862687575, 0.0861978462073645]],
        "dW_ih_row0": [0.08536296277504686, 0.02571332408843505],
    },
    "lnlstm": {
        "y_last": [[0.027392940824818936, 0.18888436430793754, 0.1725043859804101],
                   [0.047290514556783333, 0.1209270048091125, 0.217378263442668]],
        "dx_first": [[0.08137362016202626, -0.04627850932897649], [-0.006914874624402313, 0.007289017071465072]],
        "dW_ih_row0": [0.02225351795405043, -0.014479135395039894],
        "d_ln_hh_weight_head": [0.006802411766437297, 0.31135251317644963, 0.0857232339336586],
        "d_ln_ih_bias_head": [-0.05913912143423945, -0.1258601658601337, 0.01808506532883762],
    },
    "lngru": {
        "y_last": [[-0.14488441220102424, 0.5175479682921658, 0.14047800605597532],
                   [-0.1782783812667887, 0.45125173772300875, 0.15363467346650606]],
        "dx_first": [[0.10405444485310891, -0.05916963956878697], [0.006068674008993315, -0.006392044044891426]],
        "dW_ih_row0": [0.01829277513102182, 0.07365314686762639],
        "d_ln_hh_weight_head": [-0.06422217649993125, -0.08428324380925632, 0.022937863752764097],
        "d_ln_ih_bias_head": [-0.06203767748292609, 0.07835915258686457, -0.041772483950310725],
    },
}


@pytest.mark.parametrize("use_compiled", PATHS, ids=lambda on: "compiled" if on else "numpy")
@pytest.mark.parametrize("kind", NEW_KINDS)
def test_golden_values(kind, use_compiled):
    got = golden_run(kind, use_compiled)
    for name, expected in GOLDEN[kind].items():
        np.testing.assert_allclose(got[name], expected, rtol=1e-12, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("use_compiled", PATHS, ids=lambda on: "compiled" if on else "numpy")
@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
def test_extreme_pre_activations_stay_finite(kind, use_compiled):
    """Inputs of +-300 through weights of 1: sigmoids at 0 and 1 (minLSTM's f / (f + i) with
    both f and i rounding to 0 included) give finite states and gradients in both precisions."""
    for dtype in (np.float64, np.float32):
        layer = cell_kind(kind).layer(1, 2, dtype=dtype, seed=0)
        layer.weight_ih_l0.data[...] = 1.0
        layer.bias_ih_l0.data[...] = 0.0
        x = np.array([[[300.0], [-300.0], [-300.0], [300.0]]], dtype=dtype)
        y, _ = with_kernel(use_compiled, layer, x)
        dx, dh0 = with_kernel(use_compiled, layer.backward, np.ones_like(y))
        assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx)) and np.all(np.isfinite(dh0))
        assert np.all(np.abs(y) <= 300.0)


@pytest.mark.parametrize("use_compiled", PATHS, ids=lambda on: "compiled" if on else "numpy")
@pytest.mark.parametrize("kind", ["lnlstm", "lngru"])
def test_layer_norm_kinds_stay_finite_at_extremes(kind, use_compiled):
    """Gains of 300 put the gates at +-300 (sigmoids at 0 and 1, tanh at +-1) from inputs of
    +-300; h_0 = 0 makes h W_hh^T a constant vector at the first step (variance 0: rstd is
    1/sqrt(eps), the normalised vector 0), and so does a one-unit input through equal weights."""
    for dtype in (np.float64, np.float32):
        layer = cell_kind(kind).layer(1, 2, dtype=dtype, seed=0)
        rows = layer.weight_ih_l0.shape[0]
        layer.weight_ih_l0.data[...] = np.where(np.arange(rows) % 2 == 0, 1.0, -1.0)[:, None]
        for name, parameter in layer.named_parameters():
            if name.endswith("weight_l0"):                       # every LN gain
                parameter.data[...] = 300.0
        x = np.array([[[300.0], [-300.0], [-300.0], [300.0]]], dtype=dtype)
        y, _ = with_kernel(use_compiled, layer, x)
        dx, d_state = with_kernel(use_compiled, layer.backward, np.ones_like(y))
        grads = [p.grad for p in layer.parameters()] + list(cell_kind(kind).as_tuple(d_state))
        assert np.all(np.isfinite(y)) and np.all(np.abs(y) <= 1.0) and np.all(np.isfinite(dx))
        assert all(np.all(np.isfinite(grad)) for grad in grads)
        layer.weight_ih_l0.data[...] = 1.0                       # x W_ih^T constant across units: LN_ih gives 0
        y_flat, _ = with_kernel(use_compiled, layer, x)
        assert np.all(np.isfinite(y_flat))


@pytest.mark.parametrize("kind", ["lnlstm", "lngru"])
def test_layer_norm_cells_explicit_caches_backward_in_any_order(kind):
    """``step`` hands back its cache, ``backward_step`` takes it: all forwards first, backward in
    reverse order, equals forward/backward one step at a time (a cache is not consumed)."""
    registered = cell_kind(kind)
    rng = np.random.default_rng(0)
    xs, dhs = [rng.standard_normal((3, 4)) for _ in range(3)], [rng.standard_normal((3, 5)) for _ in range(3)]

    def fresh():
        cell = registered.cell(4, 5, dtype=np.float64, seed=1)
        for parameter in cell.parameters():                     # gains and shifts away from 1 and 0
            parameter.data += rng.uniform(-0.3, 0.3, parameter.shape)
        return cell

    plain = fresh()
    explicit = registered.cell(4, 5, dtype=np.float64, seed=1)
    explicit.load_state_dict(plain.state_dict())
    state, plain_dx = None, []
    for x, dh in zip(xs, dhs):
        state = plain(x, state)
        plain_dx.append(plain.backward(*registered.as_tuple(registered.hidden_gradient(dh)))[0])
    state, caches = None, []
    for x in xs:
        state, cache = explicit.step(x, state)
        caches.append(cache)
    for t in reversed(range(3)):
        for _ in range(2):                                      # twice: the cache is still whole after one
            dx = explicit.backward_step(caches[t], *registered.as_tuple(registered.hidden_gradient(dhs[t])))[0]
        np.testing.assert_allclose(dx, plain_dx[t], rtol=1e-13, atol=1e-14)
    for (name, ours), (_, theirs) in zip(explicit.named_parameters(), plain.named_parameters()):
        np.testing.assert_allclose(ours.grad, 2 * theirs.grad, rtol=1e-12, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("use_compiled", PATHS, ids=lambda on: "compiled" if on else "numpy")
@pytest.mark.parametrize("kind", ["lnlstm", "lngru"])
def test_a_second_backward_of_one_forward_rebuilds_the_cache(kind, use_compiled):
    """Backward writes its gradients over the cache; a second backward (diagnostics do one)
    reruns the direction's forward from the cached input and initial (h, c) and gives the same."""
    layer = cell_kind(kind).layer(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    y, _ = with_kernel(use_compiled, layer, x, None, [5, 3])
    dy = np.random.default_rng(1).standard_normal(y.shape)
    first, _ = with_kernel(use_compiled, layer.backward, dy)
    once = [p.grad.copy() for p in layer.parameters()]
    second, _ = with_kernel(use_compiled, layer.backward, dy)
    np.testing.assert_array_equal(second, first)
    for (name, parameter), grad in zip(layer.named_parameters(), once):
        np.testing.assert_allclose(parameter.grad, 2 * grad, rtol=1e-13, atol=1e-14, err_msg=name)


def test_layer_norm_kinds_refuse_bad_input_with_clear_errors():
    cell = rnnkit.LayerNormLSTMCell(3, 4, bias=False, seed=0)
    assert cell.bias is None and "bias" not in dict(cell.named_parameters())
    with pytest.raises(ValueError, match=r"x must have shape .* \(B, D\), got \(2, 5\) \(axis 1: expected 3, got 5\)"):
        cell(np.ones((2, 5)))
    with pytest.raises(TypeError, match=r"LSTM state must be a tuple \(h, c\)"):
        cell(np.ones((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="bias must be None for a cell with bias=False"):
        cell.share_parameters(**{name: p for name, p in rnnkit.LayerNormLSTMCell(3, 4, seed=0).named_parameters()})
    with pytest.raises(ValueError, match=r"ln_hh_weight must be a float32 Parameter of shape \(9,\)"):
        gru_cell = rnnkit.LayerNormGRUCell(3, 3, seed=0)
        gru_cell.share_parameters(**{**dict(gru_cell.named_parameters()),
                                     "ln_hh_weight": rnnkit.Parameter(np.ones(12, dtype=np.float32))})
    layer = rnnkit.LayerNormGRU(3, 4, num_layers=2, seed=0)
    with pytest.raises(ValueError, match=r"h0 must have shape"):
        layer(np.ones((2, 5, 3)), np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, T=5\], got 6"):
        layer(np.ones((2, 5, 3)), lengths=[6, 2])
    for layer_class in (rnnkit.LayerNormLSTM, rnnkit.LayerNormGRU, rnnkit.GRU, rnnkit.RNN, rnnkit.MinGRU,
                        rnnkit.MinLSTM):                               # the kernels have no projection
        with pytest.raises(TypeError, match=r"unexpected keyword argument 'proj_size' \(only the LSTM projects h"):
            layer_class(3, 4, proj_size=2)


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_checkpoints_and_models_take_the_new_kinds(kind, tmp_path):
    from rnnkit.models import LanguageModel

    layer = cell_kind(kind).layer(3, 4, num_layers=2, bidirectional=True, seed=0)
    rnnkit.save(layer, tmp_path / "layer.safetensors")
    again = rnnkit.load(tmp_path / "layer.safetensors")
    assert type(again) is type(layer) and list(again.state_dict()) == list(layer.state_dict())
    assert all(np.array_equal(a, b) for a, b in zip(again.state_dict().values(), layer.state_dict().values()))
    model = LanguageModel(vocab_size=7, hidden_size=5, num_layers=2, cell=kind, seed=0)
    rnnkit.save(model, tmp_path / "model.safetensors")
    assert rnnkit.load(tmp_path / "model.safetensors").generate([1, 2], length=4, seed=0).tolist() == \
        model.generate([1, 2], length=4, seed=0).tolist()


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_onnx_export_refuses_the_new_kinds_with_a_reason(kind):
    pytest.importorskip("onnx", reason="onnx not installed")
    from rnnkit.onnx.layers import ExportError, layer_kind

    with pytest.raises(ExportError, match="has no ONNX export"):
        layer_kind(cell_kind(kind).layer(2, 3, seed=0))
