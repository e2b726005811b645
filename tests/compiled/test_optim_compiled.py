"""The compiled Adam update and gradient norm (rnnkit.compiled.optim) compute what the NumPy code does."""

import numpy as np
import pytest

pytest.importorskip("numba", reason="numba not installed: the compiled loops are optional")

from rnnkit import compiled  # noqa: E402
from rnnkit.clip import clip_grad_norm_  # noqa: E402
from rnnkit.module import Parameter  # noqa: E402
from rnnkit.optim import Adam, AdamW  # noqa: E402

if not compiled.available():
    pytest.skip(f"compiled loops unavailable: {compiled.unavailable_reason()}", allow_module_level=True)


def _train(use_compiled, dtype, optimiser, clip=None, **hyper):
    """Parameters (and the last gradient norm) after six steps on fixed random gradients."""
    compiled.set_enabled(use_compiled)
    rng = np.random.default_rng(5)
    shapes = [(90, 70), (7,), (3000, 3)]                       # large ones take the compiled path
    params = [Parameter(rng.standard_normal(shape).astype(dtype)) for shape in shapes]
    wide = Parameter(rng.standard_normal((80, 120)).astype(dtype))
    wide.data = wide.data[:, ::2]                              # a strided view: the NumPy path
    wide.grad = np.zeros(wide.data.shape, dtype=dtype)
    params.append(wide)
    optimiser = optimiser(params, **{"lr": 0.02, **hyper})
    norm = None
    for _ in range(6):
        for parameter in params:
            parameter.grad[...] = rng.standard_normal(parameter.data.shape) * 3
        if clip is not None:
            norm = clip_grad_norm_(params, clip)
        optimiser.step()
    state = [(optimiser.state[i]["exp_avg"], optimiser.state[i]["exp_avg_sq"]) for i in range(len(params))]
    return [parameter.data.copy() for parameter in params], state, norm


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimiser", [Adam, AdamW])
@pytest.mark.parametrize("hyper", [{}, {"betas": (0.3, 0.9)}, {"weight_decay": 0.05}, {"eps": 0.0, "lr": 1.5}])
def test_compiled_adam_is_bit_identical(both_paths, dtype, optimiser, hyper):
    reference, reference_state, _ = _train(False, dtype, optimiser, **hyper)
    fused, fused_state, _ = _train(True, dtype, optimiser, **hyper)
    for before, after in zip(reference, fused):
        assert after.dtype == dtype
        np.testing.assert_array_equal(after, before)
    for (m_ref, v_ref), (m, v) in zip(reference_state, fused_state):
        np.testing.assert_array_equal(m, m_ref)
        np.testing.assert_array_equal(v, v_ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_gradient_norm_matches_reference(both_paths, dtype):
    reference, _, norm_ref = _train(False, dtype, Adam, clip=1.0)
    fused, _, norm = _train(True, dtype, Adam, clip=1.0)
    assert norm == pytest.approx(norm_ref, rel=1e-12) and norm > 1.0                # clipping happened
    for before, after in zip(reference, fused):
        np.testing.assert_allclose(after, before, rtol=1e-5 if dtype == np.float32 else 1e-10, atol=1e-6)


def test_compiled_gradient_norm_keeps_non_finite(both_paths):
    compiled.set_enabled(True)
    grad = np.ones(10000, dtype=np.float32)
    for bad, expected in ((np.inf, np.inf), (np.nan, None)):
        parameter = Parameter(np.zeros(10000, dtype=np.float32))
        parameter.grad[...] = grad
        parameter.grad[17] = bad
        total = clip_grad_norm_([parameter], 1.0)
        assert (np.isnan(total) if expected is None else total == expected)
