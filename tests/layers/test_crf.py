"""The linear-chain CRF: finite differences, brute force, constraints, extremes, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import rnnkit
from rnnkit.gradcheck import relative_error
from rnnkit.layers.crf import CRF, bio_constraints, logsumexp


def random_crf(num_tags, seed=0, dtype=np.float64, scale=1.0, **kwargs):
    crf = CRF(num_tags, dtype=dtype, seed=seed, **kwargs)
    rng = np.random.default_rng(seed + 100)
    for parameter in crf.parameters():
        parameter.data[...] = scale * rng.standard_normal(parameter.shape)
    return crf


def random_batch(batch, steps, num_tags, lengths, seed=0, scale=2.0):
    rng = np.random.default_rng(seed)
    emissions = scale * rng.standard_normal((batch, steps, num_tags))
    mask = np.arange(steps)[None, :] < np.asarray(lengths)[:, None]
    tags = np.where(mask, rng.integers(0, num_tags, (batch, steps)), -1)
    return emissions, tags, mask


def numeric_gradients(crf, emissions, tags, mask, reduction, eps=1e-6, positions=None):
    """Central differences of crf.nll with respect to the emissions (at ``positions``) and every parameter."""
    def loss():
        with rnnkit.no_grad():
            return crf.nll(emissions, tags, mask, reduction=reduction)[0]

    numeric = {}
    targets = [("emissions", emissions)] + [(name, p.data) for name, p in crf.named_parameters()]
    for name, array in targets:
        gradient = np.zeros_like(array)
        indices = positions if (name == "emissions" and positions is not None) else list(np.ndindex(array.shape))
        for index in indices:
            original = array[index]
            array[index] = original + eps
            plus = loss()
            array[index] = original - eps
            minus = loss()
            array[index] = original
            gradient[index] = (plus - minus) / (2 * eps)
        numeric[name] = gradient
    return numeric


def analytic_gradients(crf, emissions, tags, mask, reduction):
    crf.zero_grad()
    _, d_emissions = crf.nll(emissions, tags, mask, reduction=reduction)
    return {"emissions": d_emissions, **{name: p.grad.copy() for name, p in crf.named_parameters()}}


@pytest.mark.parametrize("reduction", ["mean", "sum", "token_mean"])
@pytest.mark.parametrize("lengths", [[5, 1, 3], [1, 1, 1], [5, 5, 5]])
def test_nll_gradients_match_finite_differences(reduction, lengths):
    crf = random_crf(4, seed=1)
    emissions, tags, mask = random_batch(3, 5, 4, lengths, seed=2)
    analytic = analytic_gradients(crf, emissions, tags, mask, reduction)
    numeric = numeric_gradients(crf, emissions, tags, mask, reduction)
    for name in numeric:
        assert relative_error(analytic[name], numeric[name]) < 1e-7, name
    assert np.all(analytic["emissions"][~mask] == 0)


def test_nll_gradients_with_bio_constraints():
    names = ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]
    allowed, start = bio_constraints(names)
    crf = random_crf(5, seed=3, allowed=allowed, allowed_start=start)
    emissions, _, mask = random_batch(2, 6, 5, [6, 4], seed=4)
    index = {name: i for i, name in enumerate(names)}
    tags = np.array([[index[t] for t in ["O", "B-PER", "I-PER", "O", "B-LOC", "I-LOC"]],
                     [index[t] for t in ["B-LOC", "I-LOC", "I-LOC", "O"]] + [-1, -1]])
    analytic = analytic_gradients(crf, emissions, tags, mask, "mean")
    numeric = numeric_gradients(crf, emissions, tags, mask, "mean")
    for name in numeric:
        assert relative_error(analytic[name], numeric[name]) < 1e-7, name
    # forbidden transitions never get a gradient: their probability is zero
    assert np.all(analytic["transitions"][~allowed] == 0)
    assert np.all(analytic["start_transitions"][~start] == 0)


def test_nll_gradients_long_sequence():
    crf = random_crf(3, seed=5)
    emissions, tags, mask = random_batch(2, 120, 3, [120, 77], seed=6)
    rng = np.random.default_rng(7)
    positions = [(int(b), int(t), int(k)) for b, t, k in zip(rng.integers(0, 2, 40), rng.integers(0, 120, 40),
                                                              rng.integers(0, 3, 40))]
    analytic = analytic_gradients(crf, emissions, tags, mask, "sum")
    numeric = numeric_gradients(crf, emissions, tags, mask, "sum", positions=positions)
    picked = tuple(np.array(positions).T)
    assert relative_error(analytic["emissions"][picked], numeric["emissions"][picked]) < 1e-6
    for name, _ in crf.named_parameters():
        assert relative_error(analytic[name], numeric[name]) < 1e-6, name


def brute_force(crf, emissions, length):
    """log Z and the best path of one sequence by enumerating every path."""
    start, transitions, end = crf._scores()
    scores = {}
    for path in itertools.product(range(crf.num_tags), repeat=length):
        score = start[path[0]] + end[path[-1]] + sum(emissions[t, path[t]] for t in range(length))
        score += sum(transitions[path[t - 1], path[t]] for t in range(1, length))
        scores[path] = score
    values = np.array(list(scores.values()))
    return float(logsumexp(values, axis=0)), list(max(scores, key=scores.get)), scores


@pytest.mark.parametrize("constrained", [False, True])
def test_log_likelihood_and_viterbi_against_brute_force(constrained):
    names = ["B-X", "I-X", "O"]
    kwargs = {}
    if constrained:
        allowed, start = bio_constraints(names)
        kwargs = {"allowed": allowed, "allowed_start": start}
    crf = random_crf(3, seed=8, scale=1.5, **kwargs)
    emissions, tags, mask = random_batch(4, 5, 3, [5, 4, 2, 1], seed=9)
    if constrained:                              # gold paths that BIO allows
        tags = np.where(mask, np.array([[0, 1, 1, 2, 0], [2, 0, 1, 2, -1], [0, 1, -1, -1, -1],
                                        [2, -1, -1, -1, -1]]), -1)
    decoded = crf.decode(emissions, mask)
    log_likelihood = crf.log_likelihood(emissions, tags, mask)
    for row, length in enumerate(mask.sum(axis=1)):
        log_z, best, scores = brute_force(crf, emissions[row], int(length))
        assert decoded[row, :length].tolist() == best
        assert np.all(decoded[row, length:] == -1)
        gold = tuple(int(t) for t in tags[row, :length])
        assert log_likelihood[row] == pytest.approx(scores[gold] - log_z, abs=1e-10)


def test_golden_values():
    """A two-tag, two-step case worked by hand: four paths."""
    crf = CRF(2, dtype=np.float64, seed=0)
    crf.start_transitions.data[:] = [0.5, -0.5]
    crf.end_transitions.data[:] = [0.0, 1.0]
    crf.transitions.data[:] = [[1.0, 0.0], [0.0, 2.0]]
    emissions = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    # path scores: 00: .5+1+0+1+0 = 2.5; 01: .5+1+1+0+1 = 3.5; 10: -.5+0+0+0+0 = -.5; 11: -.5+0+1+2+1 = 3.5
    log_z = np.log(np.exp(2.5) + np.exp(3.5) + np.exp(-0.5) + np.exp(3.5))
    loss, d_emissions = crf.nll(emissions, np.array([[0, 1]]), reduction="sum")
    assert loss == pytest.approx(log_z - 3.5, abs=1e-12)
    p = np.exp(np.array([2.5, 3.5, -0.5, 3.5]) - log_z)          # 00, 01, 10, 11
    expected = np.array([[p[0] + p[1] - 1, p[2] + p[3]], [p[0] + p[2], p[1] + p[3] - 1]])
    np.testing.assert_allclose(d_emissions[0], expected, atol=1e-12)
    np.testing.assert_allclose(crf.transitions.grad, [[p[0], p[1] - 1], [p[2], p[3]]], atol=1e-12)
    assert crf.decode(emissions).tolist() == [[0, 1]]             # ties go to the first path found


def test_constraints_hold_in_decoding_even_against_the_emissions():
    names = ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]
    crf = CRF.with_bio_constraints(names, dtype=np.float64, seed=0)
    allowed, start = bio_constraints(names)
    rng = np.random.default_rng(0)
    emissions = rng.standard_normal((50, 12, 5))
    emissions[:, :, 2:4] += 3.0                       # the I- tags score highest everywhere
    paths = crf.decode(emissions)
    assert np.all(start[paths[:, 0]])
    assert np.all(allowed[paths[:, :-1], paths[:, 1:]])
    unconstrained = CRF(5, dtype=np.float64, seed=0).decode(emissions)
    assert not np.all(allowed[unconstrained[:, :-1], unconstrained[:, 1:]])   # the test can fail


def test_forbidden_gold_path_is_a_clear_error():
    crf = CRF.with_bio_constraints(["B-X", "I-X", "O"], seed=0)
    with pytest.raises(ValueError, match="constraints forbid.*tag 2 followed by tag 1"):
        crf.nll(np.zeros((1, 2, 3)), np.array([[2, 1]]))
    with pytest.raises(ValueError, match="starts with tag 1"):
        crf.nll(np.zeros((1, 2, 3)), np.array([[1, 1]]))


def test_bio_constraints_refuse_tags_that_are_not_bio():
    with pytest.raises(ValueError, match="'NOUN'"):
        bio_constraints(["NOUN", "VERB"])
    allowed, start = bio_constraints(["B-A", "I-A", "B-B", "I-B", "O"])
    assert not allowed[0, 3] and not allowed[1, 3] and not allowed[4, 1] and allowed[0, 1] and allowed[3, 3]
    assert start.tolist() == [True, False, True, False, True]


def test_extreme_scores_and_long_sequences_stay_finite():
    crf = random_crf(5, seed=11, scale=300.0)
    rng = np.random.default_rng(12)
    emissions = 1e4 * rng.standard_normal((3, 3000, 5))
    lengths = np.array([3000, 1, 1700])
    mask = np.arange(3000)[None, :] < lengths[:, None]
    tags = np.where(mask, rng.integers(0, 5, (3, 3000)), -1)
    loss, d_emissions = crf.nll(emissions, tags, mask, reduction="sum")
    assert np.isfinite(loss) and loss >= 0
    assert np.all(np.isfinite(d_emissions))
    for parameter in crf.parameters():
        assert np.all(np.isfinite(parameter.grad))
    # unary marginals sum to one at every valid step: d_emissions = p - onehot sums to zero
    np.testing.assert_allclose(d_emissions.sum(axis=2)[mask], 0.0, atol=1e-6)
    # a confidently right path costs nothing and decodes to itself
    best = crf.decode(emissions, mask)
    loss_best, _ = crf.nll(emissions, best, mask, reduction="sum")
    assert loss_best <= loss and loss_best >= 0


def test_float32_in_float32_out_and_no_grad_accumulates_nothing():
    crf = CRF(3, seed=0)
    emissions, tags, mask = random_batch(2, 4, 3, [4, 2])
    loss, d_emissions = crf.nll(emissions.astype(np.float32), tags, mask)
    assert d_emissions.dtype == np.float32 and isinstance(loss, float)
    assert np.any(crf.transitions.grad != 0)
    crf.zero_grad()
    with rnnkit.no_grad():
        crf.nll(emissions, tags, mask)
    assert all(np.all(p.grad == 0) for p in crf.parameters())


def test_bad_masks_and_tags_are_clear_errors():
    crf = CRF(3, seed=0)
    emissions = np.zeros((2, 3, 3))
    with pytest.raises(ValueError, match=r"mask\[:, 0\] must be all True"):
        crf.decode(emissions, np.array([[True, True, False], [False, True, True]]))
    with pytest.raises(ValueError, match="prefix"):
        crf.decode(emissions, np.array([[True, False, True], [True, True, True]]))
    with pytest.raises(ValueError, match=r"shape \(B, T\)"):
        crf.decode(emissions, np.ones((2, 2), dtype=bool))
    with pytest.raises(ValueError, match="tags"):
        crf.nll(emissions, np.array([[0, 1, 3], [0, 0, 0]]))
    with pytest.raises(ValueError, match="reduction"):
        crf.nll(emissions, np.zeros((2, 3), dtype=int), reduction="none")
    with pytest.raises(ValueError, match=r"\(B, T, K\)"):
        crf.decode(np.zeros((2, 3, 4)))


def test_state_dict_round_trip_keeps_constraints():
    crf = CRF.with_bio_constraints(["B-X", "I-X", "O"], seed=3)
    path = rnnkit.CRF(**crf.config, seed=0)
    path.load_state_dict(crf.state_dict())
    emissions = np.random.default_rng(0).standard_normal((4, 6, 3))
    assert np.array_equal(path.decode(emissions), crf.decode(emissions))
    assert path.allowed.tolist() == crf.allowed.tolist()
