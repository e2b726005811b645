"""LanguageModel: shapes, float64 gradient check, cells vs layer, generation, save/load."""

import numpy as np
import pytest

import rnnkit
from rnnkit.gradcheck import check_gradients
from rnnkit.models.language_model import LanguageModel, sample_token

VOCAB = 7


def ids_batch(rng, batch=2, steps=5):
    return rng.integers(0, VOCAB, size=(batch, steps))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("embedding_dim", [None, 3])
def test_forward_shapes_and_state(cell, embedding_dim, rng):
    model = LanguageModel(VOCAB, 4, num_layers=2, cell=cell, embedding_dim=embedding_dim, seed=0)
    logits, state = model(ids_batch(rng))
    assert logits.shape == (2, 5, VOCAB) and logits.dtype == np.float32
    h_n = state[0] if cell == "lstm" else state
    assert h_n.shape == (2, 2, 4)
    d_state = model.backward(np.ones_like(logits))
    assert (d_state[0] if cell == "lstm" else d_state).shape == (2, 2, 4)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("embedding_dim", [None, 3])
def test_gradients_match_central_differences(cell, embedding_dim, rng):
    """Every parameter (embedding, stacked layers, head) and the initial state, in float64."""
    model = LanguageModel(VOCAB, 4, num_layers=2, cell=cell, embedding_dim=embedding_dim,
                          dtype=np.float64, seed=0)
    ids = ids_batch(rng, batch=2, steps=4)
    inputs = {"h0": rng.standard_normal((2, 2, 4))}
    if cell == "lstm":
        inputs["c0"] = rng.standard_normal((2, 2, 4))

    def forward(module, values):
        state = (values["h0"], values["c0"]) if cell == "lstm" else values["h0"]
        return module(ids, state)

    def backward(module, grads):
        d_logits, d_final = grads
        d_initial = module.backward(d_logits, d_final)
        if cell == "lstm":
            return {"h0": d_initial[0], "c0": d_initial[1]}
        return {"h0": d_initial}

    report = check_gradients(model, inputs, forward, backward)
    assert {name for name, _ in model.named_parameters()} <= set(report.errors)
    assert report.worst < 1e-6, str(report)


def test_gradients_with_dropout_fixed_mask(rng):
    model = LanguageModel(VOCAB, 4, num_layers=2, dropout=0.3, dtype=np.float64, seed=0)
    ids = ids_batch(rng)

    def forward(module, values):
        module.rng.bit_generator.state = np.random.default_rng(5).bit_generator.state   # same masks each call
        return module(ids)[0]

    report = check_gradients(model, {}, forward, lambda module, grad: (module.backward(grad), {})[1])
    assert report.worst < 1e-6, str(report)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_cells_stepped_one_token_at_a_time_match_the_layer(cell, rng):
    model = LanguageModel(VOCAB, 5, num_layers=2, cell=cell, embedding_dim=3, dtype=np.float64, seed=1)
    ids = ids_batch(rng, batch=3, steps=6)
    expected, _ = model(ids)
    cells, states, stepped = model.step_cells(), [None, None], []
    for t in range(ids.shape[1]):
        logits, states = model.step(cells, ids[:, t], states)
        stepped.append(logits)
    np.testing.assert_allclose(np.stack(stepped, axis=1), expected, rtol=1e-12, atol=1e-12)
    assert cells[1].weight_hh is model.rnn.weight_hh_l1      # the cells share the layer's parameters


def test_generation_is_deterministic_with_a_seed():
    model = LanguageModel(VOCAB, 8, seed=0)
    first = model.generate([1, 2, 3], length=20, temperature=1.0, seed=7)
    second = model.generate([1, 2, 3], length=20, temperature=1.0, seed=7)
    other = model.generate([1, 2, 3], length=20, temperature=1.0, seed=8)
    assert first.shape == (20,) and first.dtype == np.int64
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)
    assert np.all((first >= 0) & (first < VOCAB))
    greedy = model.generate([1], length=10, temperature=0.0)
    np.testing.assert_array_equal(greedy, model.generate([1], length=10, temperature=0.0, seed=123))


def test_generation_refuses_a_batch_of_primes():
    with pytest.raises(ValueError, match=r"prime must be a 1-D sequence of token ids, got shape \(2, 2\)"):
        LanguageModel(VOCAB, 8, seed=0).generate(np.array([[1, 2], [3, 4]]), length=3)


def test_generation_carries_the_state_and_leaves_training_mode():
    model = LanguageModel(VOCAB, 8, dropout=0.5, seed=0)
    assert model.training
    model.generate([0], length=3, seed=0)
    assert model.training
    # Greedy continuation of a prime equals the layer's argmax chain (state carried token to token).
    generated = model.generate([2, 4], length=5, temperature=0.0)
    model.eval()
    sequence = [2, 4]
    for _ in range(5):
        logits, _ = model(np.array([sequence]))
        sequence.append(int(np.argmax(logits[0, -1])))
    np.testing.assert_array_equal(generated, sequence[2:])


def test_top_k_and_top_p_restrict_the_choice():
    rng = np.random.default_rng(0)
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    top_k = {sample_token(logits, 1.0, 2, None, rng) for _ in range(200)}
    assert top_k == {0, 1}
    top_p = {sample_token(logits, 1.0, None, 0.8, rng) for _ in range(200)}
    assert top_p == {0, 1}
    assert {sample_token(logits, 1.0, None, 0.01, rng) for _ in range(50)} == {0}


@pytest.mark.parametrize("bad", [{"temperature": -1.0}, {"top_k": 0}, {"top_p": 0.0}, {"top_p": 1.5}])
def test_bad_sampling_options_are_refused(bad):
    model = LanguageModel(VOCAB, 4, seed=0)
    with pytest.raises(ValueError):
        model.generate([1], length=3, **bad)


def test_bad_constructor_arguments_are_refused():
    with pytest.raises(ValueError, match="cell"):
        LanguageModel(VOCAB, 4, cell="transformer")
    with pytest.raises(ValueError, match="vocab_size"):
        LanguageModel(0, 4)
    with pytest.raises(ValueError, match="ids must lie"):
        LanguageModel(VOCAB, 4)(np.array([[VOCAB]]))


def test_save_and_load_rebuild_the_model(tmp_path, rng):
    model = LanguageModel(VOCAB, 6, num_layers=2, cell="gru", embedding_dim=3, dropout=0.1, seed=0)
    path = tmp_path / "lm.safetensors"
    rnnkit.save(model, path)
    again = rnnkit.load(path)
    assert isinstance(again, LanguageModel) and again.config == model.config
    assert "rnn.weight_ih_l1" in dict(again.named_parameters())
    model.eval(), again.eval()
    ids = ids_batch(rng)
    np.testing.assert_array_equal(model(ids)[0], again(ids)[0])
