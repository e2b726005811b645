"""The compiled cross entropy (rnnkit.compiled.losses) computes what the NumPy reference does."""

import numpy as np
import pytest

pytest.importorskip("numba", reason="numba not installed: the compiled loops are optional")

from rnnkit import compiled, losses  # noqa: E402

if not compiled.available():
    pytest.skip(f"compiled loops unavailable: {compiled.unavailable_reason()}", allow_module_level=True)


def _both(*args, **kwargs):
    compiled.set_enabled(False)
    reference = losses.cross_entropy(*args, **kwargs)
    compiled.set_enabled(True)
    fused = losses.cross_entropy(*args, **kwargs)
    return reference, fused


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_compiled_cross_entropy_matches_reference(both_paths, dtype, smoothing, reduction):
    rng = np.random.default_rng(3)
    logits = (rng.standard_normal((4, 7, 11)) * 4).astype(dtype)              # (B, T, V)
    targets = rng.integers(0, 11, (4, 7))
    targets[0, :3] = -100                                                      # ignored
    mask = np.ones((4, 7), dtype=bool)
    mask[2, 4:] = False                                                        # padding
    (loss_ref, grad_ref), (loss_fused, grad_fused) = _both(logits, targets, mask=mask, reduction=reduction,
                                                           label_smoothing=smoothing)
    assert grad_fused.dtype == grad_ref.dtype == dtype and grad_fused.shape == logits.shape
    assert loss_fused == pytest.approx(loss_ref, rel=1e-12)
    tolerance = 1e-15 if dtype == np.float64 else 1e-7                         # one float32 rounding apart
    np.testing.assert_allclose(grad_fused, grad_ref, rtol=0, atol=tolerance * max(1.0, np.abs(grad_ref).max()))
    assert not grad_fused[0, :3].any() and not grad_fused[2, 4:].any()        # uncounted rows: zero


def test_compiled_cross_entropy_is_stable_at_extreme_logits(both_paths):
    logits = np.array([[1000.0, -1000.0, 0.0], [-1e4, -1e4, -1e4]], dtype=np.float32)
    (loss_ref, grad_ref), (loss_fused, grad_fused) = _both(logits, np.array([1, 2]))
    assert np.isfinite(loss_fused) and loss_fused == pytest.approx(loss_ref, rel=1e-12)
    assert loss_fused == pytest.approx((2000.0 + np.log(3.0)) / 2, rel=1e-9)  # confidently wrong + uniform
    np.testing.assert_allclose(grad_fused, grad_ref, atol=1e-7)


def test_compiled_cross_entropy_with_nothing_counted_is_zero(both_paths):
    logits = np.ones((2, 3, 5), dtype=np.float32)
    _, (loss, grad) = _both(logits, np.zeros((2, 3), dtype=int), mask=np.zeros((2, 3), dtype=bool))
    assert loss == 0.0 and grad.shape == logits.shape and not grad.any()


def test_compiled_exp_matches_math_exp_in_place():
    from rnnkit.compiled.losses import _exp_nonpositive

    rng = np.random.default_rng(4)
    shifted = np.concatenate([[0.0, -1e-300, -0.5 * np.log(2), -708.0, -708.5, -745.0, -1e6],
                              -rng.exponential(30.0, 5000), -rng.random(5000)])
    expected = np.exp(shifted)
    out = shifted.copy()                                        # in place, as the loss calls it
    _exp_nonpositive(out, out, np.empty(out.shape, dtype=np.int64))
    normal = shifted >= -708.0
    np.testing.assert_allclose(out[normal], expected[normal], rtol=5e-16, atol=0)
    assert out[0] == 1.0 and np.all(out[~normal] == 0.0)        # below 2^-1022: flushed to zero
