"""Parity of rnnkit.CRF with pytorch-crf (``torchcrf.CRF``, batch_first=True)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.layers.crf import CRF

torch = pytest.importorskip("torch", reason="parity tests need torch (pip install -e '.[test]')")
torchcrf = pytest.importorskip("torchcrf", reason="CRF parity tests need pytorch-crf (pip install -e '.[test]')")


def paired(num_tags, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    ours = CRF(num_tags, dtype=dtype, seed=seed)
    theirs = torchcrf.CRF(num_tags, batch_first=True)
    theirs = theirs.double() if dtype == np.float64 else theirs.float()
    for name in ("start_transitions", "end_transitions", "transitions"):
        values = rng.standard_normal(getattr(ours, name).shape)
        getattr(ours, name).data[...] = values
        with torch.no_grad():
            getattr(theirs, name).copy_(torch.tensor(values))
    return ours, theirs


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("reduction", ["sum", "mean", "token_mean"])
def test_log_likelihood_gradients_and_paths_match_pytorch_crf(seed, reduction):
    rng = np.random.default_rng(seed)
    batch, steps, num_tags = int(rng.integers(1, 6)), int(rng.integers(1, 12)), int(rng.integers(2, 7))
    ours, theirs = paired(num_tags, seed)
    emissions = 3 * rng.standard_normal((batch, steps, num_tags))
    lengths = rng.integers(1, steps + 1, batch)
    lengths[0] = steps
    mask = np.arange(steps)[None, :] < lengths[:, None]
    tags = rng.integers(0, num_tags, (batch, steps))
    loss, d_emissions = ours.nll(emissions, np.where(mask, tags, -1), mask, reduction=reduction)

    emissions_t = torch.tensor(emissions, requires_grad=True)
    log_likelihood = theirs(emissions_t, torch.tensor(tags), torch.tensor(mask), reduction=reduction)
    (-log_likelihood).backward()
    assert loss == pytest.approx(-log_likelihood.item(), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(d_emissions, emissions_t.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name in ("start_transitions", "end_transitions", "transitions"):
        expected = getattr(theirs, name).grad          # None when unused (transitions at T = 1)
        expected = np.zeros(getattr(ours, name).shape) if expected is None else expected.numpy()
        np.testing.assert_allclose(getattr(ours, name).grad, expected, rtol=1e-10, atol=1e-12, err_msg=name)
    decoded = ours.decode(emissions, mask)
    expected = theirs.decode(torch.tensor(emissions), torch.tensor(mask))
    assert [row[:length].tolist() for row, length in zip(decoded, lengths)] == expected


def test_float32_parity():
    rng = np.random.default_rng(5)
    ours, theirs = paired(5, 5, dtype=np.float32)
    emissions = rng.standard_normal((8, 20, 5)).astype(np.float32)
    lengths = rng.integers(1, 21, 8)
    lengths[0] = 20
    mask = np.arange(20)[None, :] < lengths[:, None]
    tags = rng.integers(0, 5, (8, 20))
    loss, d_emissions = ours.nll(emissions, np.where(mask, tags, -1), mask, reduction="mean")
    emissions_t = torch.tensor(emissions, requires_grad=True)
    (-theirs(emissions_t, torch.tensor(tags), torch.tensor(mask), reduction="mean")).backward()
    np.testing.assert_allclose(d_emissions, emissions_t.grad.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours.transitions.grad, theirs.transitions.grad.numpy(), rtol=1e-4, atol=1e-5)
