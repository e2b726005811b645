"""The compiled (Numba) time loops against the NumPy loops they replace.

Every configuration of the core tests (``recurrent_cases.CASES``: RNN tanh/relu, LSTM with and
without projection, GRU; 1-3 layers; bidirectional; lengths; bias off; T = 1, B = 1) runs
through both paths on the same weights and inputs; outputs, final states, dx, initial-state
gradients and every parameter gradient must agree: float64 to 1e-12 and float32 to 1e-6,
relative to the largest magnitude of each array.
"""

import numpy as np
import pytest

from recurrent_cases import CASES, Case, run_backward, run_case, run_forward

pytest.importorskip("numba", reason="numba not installed: the compiled loops are optional")

from rnnkit import compiled  # noqa: E402

if not compiled.available():
    pytest.skip(f"compiled loops unavailable: {compiled.unavailable_reason()}", allow_module_level=True)

TOLERANCES = {np.float64: 1e-12, np.float32: 1e-6}


def relative(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.max(np.abs(ours - reference)) / max(np.max(np.abs(reference)), 1e-30))


def run(case: Case, dtype, use_compiled: bool) -> dict[str, np.ndarray]:
    """Forward and backward of one case; every output and gradient by name."""
    compiled.set_enabled(use_compiled)
    try:
        outcome = run_case(case, dtype)
    finally:
        compiled.set_enabled(None)
    layer, y, finals, input_grads = outcome.layer, outcome.y, outcome.finals, outcome.input_grads
    results = {"y": y, **{f"final {i}": f for i, f in enumerate(finals)}}
    results.update({f"d{name}": grad for name, grad in input_grads.items()})
    results.update({f"grad {name}": p.grad.copy() for name, p in layer.named_parameters()})
    return results


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_compiled_matches_numpy(case, dtype):
    reference = run(case, dtype, use_compiled=False)
    fast = run(case, dtype, use_compiled=True)
    assert fast.keys() == reference.keys()
    errors = {name: relative(fast[name], reference[name]) for name in reference}
    assert max(errors.values()) <= TOLERANCES[dtype], errors


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_compiled_matches_numpy_batch_and_width_past_the_transpose_tiles(kind):
    """B and H that fill some 8 x 8 tiles of the recurrent product's transposes and leave a remainder."""
    case = Case(kind, batch=11, steps=6, input_size=4, hidden_size=9, bidirectional=True, lengths=(6, 2, 6, 5, 1, 6, 3, 6, 4, 6, 6))
    for dtype in (np.float64, np.float32):
        reference, fast = run(case, dtype, False), run(case, dtype, True)
        errors = {name: relative(fast[name], reference[name]) for name in reference}
        assert max(errors.values()) <= TOLERANCES[dtype], (dtype, errors)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_both_orientations_of_the_backward_product(kind, monkeypatch):
    """dz W_hh by columns (small W_hh, the tests' default) and as it is (W_hh rows past the limit)."""
    from rnnkit.compiled import products

    case = Case(kind, batch=11, steps=5, input_size=4, hidden_size=9, lengths=(5, 2, 5, 4, 1, 5, 3, 5, 4, 5, 5))
    reference = run(case, np.float64, False)
    for limit in (products.BY_COLUMNS_MAX_ROWS, 1):
        monkeypatch.setattr(products, "BY_COLUMNS_MAX_ROWS", limit)
        fast = run(case, np.float64, True)
        errors = {name: relative(fast[name], reference[name]) for name in reference}
        assert max(errors.values()) <= TOLERANCES[np.float64], (limit, errors)
    assert products.transposed(np.ones((4, 3)), 2).shape == (0, 0)          # past the limit (now 1)
    monkeypatch.setattr(products, "BY_COLUMNS_MAX_ROWS", 2048)
    assert products.transposed(np.ones((4, 3)), 2).shape == (3, 4)
    assert products.transposed(np.ones((4, 3)), 1).shape == (0, 0)          # one row: gemv on W_hh


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (8, 8), (16, 24), (11, 19), (64, 7), (9, 130), (24, 16), (45, 33)])
def test_blocked_transposes_and_the_product_by_columns(shape):
    from rnnkit.compiled.products import add_transposed, gemm_nt_by_columns, transpose_into

    rows, columns = shape
    rng = np.random.default_rng(rows * 1000 + columns)
    for dtype in (np.float64, np.float32):
        a = rng.standard_normal((rows, columns)).astype(dtype)
        out = np.full((columns, rows), np.nan, dtype=dtype)
        transpose_into(a, out)
        np.testing.assert_array_equal(out, a.T)
        base = rng.standard_normal((rows, columns)).astype(dtype)
        target = base.copy()
        add_transposed(out, target)                        # target += out^T = a
        np.testing.assert_array_equal(target, base + a)
        # Views whose rows are longer than their width (row stride > columns): tiles follow the strides.
        wide = rng.standard_normal((rows, columns + 5)).astype(dtype)
        wide_out = np.full((columns, rows + 3), np.nan, dtype=dtype)
        transpose_into(wide[:, 2:2 + columns], wide_out[:, 1:1 + rows])
        np.testing.assert_array_equal(wide_out[:, 1:1 + rows], wide[:, 2:2 + columns].T)
        assert np.isnan(wide_out[:, 0]).all() and np.isnan(wide_out[:, 1 + rows:]).all()   # nothing else written
        wide_target = np.zeros((rows, columns + 4), dtype=dtype)
        add_transposed(wide_out[:, 1:1 + rows], wide_target[:, 3:3 + columns])
        np.testing.assert_array_equal(wide_target[:, 3:3 + columns], wide[:, 2:2 + columns])
        assert not wide_target[:, :3].any() and not wide_target[:, 3 + columns:].any()

        w = rng.standard_normal((3 * columns + 1, columns)).astype(dtype)     # (n, k); a is (m, k)
        a_t, product_t = np.empty((columns, rows), dtype=dtype), np.empty((3 * columns + 1, rows), dtype=dtype)
        expected = a @ w.T
        fresh = np.full((rows, 3 * columns + 1), np.nan, dtype=dtype)   # not read without accumulate
        gemm_nt_by_columns(a, w, fresh, False, a_t, product_t, dtype(0))
        added = np.ones_like(expected)
        gemm_nt_by_columns(a, w, added, True, a_t, product_t, dtype(0))
        assert relative(fresh, expected) <= TOLERANCES[dtype]
        assert relative(added, expected + 1) <= TOLERANCES[dtype]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_compiled_matches_numpy_long_and_wide(kind):
    """Longer sequences and wider layers, where rounding differences would compound."""
    case = Case(kind, batch=5, steps=40, input_size=7, hidden_size=33, bidirectional=True, lengths=(40, 1, 17, 39, 40))
    for dtype in (np.float64, np.float32):
        reference, fast = run(case, dtype, False), run(case, dtype, True)
        errors = {name: relative(fast[name], reference[name]) for name in reference}
        assert max(errors.values()) <= 2 * TOLERANCES[dtype], (dtype, errors)


def test_switch_and_environment(monkeypatch):
    monkeypatch.setenv("RNNKIT_COMPILE", "0")
    assert not compiled.enabled()
    compiled.set_enabled(True)
    assert compiled.enabled()
    compiled.set_enabled(None)
    monkeypatch.setenv("RNNKIT_COMPILE", "1")
    assert compiled.enabled()


def test_cache_of_one_path_is_read_by_the_same_path():
    """Switching off between forward and backward still runs the compiled backward."""
    case = Case("LSTM", proj_size=2, bidirectional=True, lengths=(4, 2))
    reference = run(case, np.float64, use_compiled=False)
    layer = case.build(dtype=np.float64, seed=3)
    inputs = case.inputs(seed=4, dtype=np.float64)
    compiled.set_enabled(True)
    y, final = run_forward(layer, case, inputs)
    compiled.set_enabled(False)
    try:
        rng = np.random.default_rng(5)
        dy = rng.standard_normal(y.shape)
        final_grads = tuple(rng.standard_normal(f.shape) for f in final)
        grads = run_backward(layer, case, (dy, final_grads))
    finally:
        compiled.set_enabled(None)
    assert relative(grads["x"], reference["dx"]) <= 1e-12


def test_float32_extremes_stay_finite_and_close():
    """Pre-activations of +-300 saturate every gate in both paths alike.

    The gradients are then zero up to rounding (np.tanh(x) in float32 may stop one ulp short of
    1 where the compiled tanh reaches it), so they are compared with an absolute tolerance.
    """
    for kind in ("RNN", "LSTM", "GRU"):
        case = Case(kind, batch=3, steps=6)
        layer_results = []
        for use in (False, True):
            compiled.set_enabled(use)
            try:
                layer = case.build(dtype=np.float32, seed=0)
                x = np.full((3, 6, 3), 300.0, dtype=np.float32)
                x[1] *= -1
                y, _ = layer(x)
                dx, _ = layer.backward(np.ones_like(y))
            finally:
                compiled.set_enabled(None)
            assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
            layer_results.append((y, dx))
        (y_ref, dx_ref), (y_fast, dx_fast) = layer_results
        assert relative(y_fast, y_ref) <= 1e-6
        np.testing.assert_allclose(dx_fast, dx_ref, rtol=1e-6, atol=1e-6)


# --- backward writes over the gate cache; a second backward rebuilds it -----------------------
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_second_backward_of_one_forward_gives_the_same_gradients(kind):
    """The compiled backward reuses the gate cache for the gradients; calling backward again on
    the same forward (diagnostics do) rebuilds the cache and gives identical results."""
    case = Case(kind, batch=3, steps=5, bidirectional=True, num_layers=2, lengths=(5, 2, 4))
    compiled.set_enabled(True)
    try:
        layer = case.build(dtype=np.float64, seed=3)
        y, final = run_forward(layer, case, case.inputs(seed=4, dtype=np.float64))
        dy = np.random.default_rng(5).standard_normal(y.shape)
        grads = (dy, (None, None)) if kind == "LSTM" else (dy, None)
        first = run_backward(layer, case, grads)
        grads_first = {name: p.grad.copy() for name, p in layer.named_parameters()}
        layer.zero_grad()
        second = run_backward(layer, case, grads)
    finally:
        compiled.set_enabled(None)
    for name in first:
        np.testing.assert_array_equal(second[name], first[name], err_msg=name)
    for name, p in layer.named_parameters():
        np.testing.assert_array_equal(p.grad, grads_first[name], err_msg=name)


def test_second_backward_after_the_weights_changed_is_an_error():
    case = Case("LSTM", batch=2, steps=4)
    compiled.set_enabled(True)
    try:
        layer = case.build(dtype=np.float64, seed=3)
        y, _ = run_forward(layer, case, case.inputs(seed=4, dtype=np.float64))
        layer.backward(np.ones_like(y))
        layer.weight_hh_l0.data *= 0.5
        with pytest.raises(ValueError, match="weights changed since forward"):
            layer.backward(np.ones_like(y))
    finally:
        compiled.set_enabled(None)


# --- the single-step cells: one fused product, one compiled call -----------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", ["LSTMCell", "RNNCell"])
def test_fused_cell_step_matches_the_two_products(name, dtype):
    """Fused weights with the compiled step against separate Parameters with NumPy (the reference)."""
    import rnnkit
    from rnnkit.module import Parameter

    rng = np.random.default_rng(0)
    fused = getattr(rnnkit, name)(6, 5, dtype=dtype, seed=1)
    separate = getattr(rnnkit, name)(6, 5, dtype=dtype, seed=1)
    separate.weight_ih = Parameter(separate.weight_ih.data.copy())   # breaks the fused layout
    separate.weight_hh = Parameter(separate.weight_hh.data.copy())
    x = rng.standard_normal((3, 6)).astype(dtype)
    state_fused = state_separate = fused(x)
    for _ in range(4):
        state_fused = fused(x, state_fused)
        compiled.set_enabled(False)
        try:
            state_separate = separate(x, state_separate)
        finally:
            compiled.set_enabled(None)
    pairs = [(state_fused, state_separate)] if name == "RNNCell" else list(zip(state_fused, state_separate))
    for ours, reference in pairs:
        assert relative(ours, reference) <= 10 * TOLERANCES[dtype]
    d_out = np.ones((3, 5), dtype=dtype)
    dx_fused = fused.backward(d_out)[0]
    dx_separate = separate.backward(d_out)[0]
    assert relative(dx_fused, dx_separate) <= 10 * TOLERANCES[dtype]
    separate_params = dict(separate.named_parameters())
    for param_name, p in fused.named_parameters():
        assert relative(p.grad, separate_params[param_name].grad) <= 10 * TOLERANCES[dtype], param_name


def test_fused_cell_step_still_rejects_non_finite_inputs():
    import rnnkit

    cell = rnnkit.LSTMCell(3, 4, seed=0)
    h, c = cell(np.ones((2, 3), dtype=np.float32))
    for bad in ("x", "h", "c"):
        x, state = np.ones((2, 3), dtype=np.float32), (h.copy(), c.copy())
        target = {"x": x, "h": state[0], "c": state[1]}[bad]
        target[1, 0] = np.inf
        with pytest.raises(ValueError, match=f"{bad} contains NaN or infinite values"):
            cell(x, state)


def test_cell_weights_are_views_of_one_array_and_stay_parameters():
    import rnnkit

    cell = rnnkit.LSTMCell(3, 4, seed=0)
    assert cell.weight_ih.data.base is cell._fused and cell.weight_hh.data.base is cell._fused
    cell.weight_hh.data[...] = 0.0                        # in-place updates reach the fused array
    assert not np.any(cell._fused[:, 3:])
    assert [name for name, _ in cell.named_parameters()] == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
