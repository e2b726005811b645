"""LanguageModel's tied embeddings and embedding (whole-word) dropout: gradients, masks, save/load."""

import numpy as np
import pytest

import rnnkit
from rnnkit.gradcheck import check_gradients
from rnnkit.models.language_model import LanguageModel

VOCAB = 7


def _check(model, ids, fixed_rng_state=None):
    def forward(module, values):
        if fixed_rng_state is not None:                 # the same word mask at every forward
            module.rng.bit_generator.state = fixed_rng_state
        return module(ids, values["h0"])

    def backward(module, grads):
        return {"h0": module.backward(grads[0], grads[1])}

    inputs = {"h0": np.random.default_rng(5).standard_normal((1, ids.shape[0], model.hidden_size))}
    return check_gradients(model, inputs, forward, backward)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_tied_embeddings_gradients_sum_both_uses_of_the_table(cell):
    model = LanguageModel(VOCAB, 4, cell=cell, embedding_dim=4, tie_embeddings=True, dtype=np.float64, seed=0)
    ids = np.random.default_rng(1).integers(0, VOCAB, size=(2, 5))
    names = [name for name, _ in model.named_parameters()]
    assert "embedding.weight" in names and "head.bias" in names and "head.weight" not in names
    assert model.head.weight is model.embedding.weight               # one matrix, read twice
    report = _check(model, ids) if cell == "gru" else _check_lstm(model, ids)
    assert set(names) <= set(report.errors)
    assert report.worst < 1e-6, str(report)


def _check_lstm(model, ids):
    rng = np.random.default_rng(5)
    inputs = {"h0": rng.standard_normal((1, 2, 4)), "c0": rng.standard_normal((1, 2, 4))}
    return check_gradients(model, inputs, lambda m, v: m(ids, (v["h0"], v["c0"])),
                           lambda m, g: dict(zip(("h0", "c0"), m.backward(g[0], g[1]))))


def test_tied_gradient_is_the_sum_of_the_untied_gradients():
    """Untie a tied model by hand (a Linear with a copy of the table): the tied table's gradient is the
    untied embedding's plus the untied head's."""
    tied = LanguageModel(VOCAB, 4, embedding_dim=4, tie_embeddings=True, dtype=np.float64, seed=0)
    untied = LanguageModel(VOCAB, 4, embedding_dim=4, dtype=np.float64, seed=0)
    untied.load_state_dict({**tied.state_dict(), "head.weight": tied.embedding.weight.data.copy()})
    ids = np.random.default_rng(2).integers(0, VOCAB, size=(3, 6))
    d_logits = np.random.default_rng(3).standard_normal((3, 6, VOCAB))
    for model in (tied, untied):
        logits, _ = model(ids)
        model.backward(d_logits)
    np.testing.assert_allclose(tied(ids)[0], untied(ids)[0], rtol=1e-12)
    np.testing.assert_allclose(tied.embedding.weight.grad, untied.embedding.weight.grad + untied.head.weight.grad,
                               rtol=1e-10, atol=1e-12)


def test_embedding_dropout_gradients_with_a_fixed_mask():
    model = LanguageModel(VOCAB, 4, cell="gru", embedding_dim=3, embedding_dropout=0.4, dtype=np.float64, seed=0)
    ids = np.random.default_rng(1).integers(0, VOCAB, size=(2, 6))
    state = model.rng.bit_generator.state
    model(ids)
    mask = model._word_mask
    assert np.any(mask == 0) and np.any(mask > 0)                     # this seed drops some words, keeps others
    report = _check(model, ids, fixed_rng_state=state)
    assert report.worst < 1e-6, str(report)


def test_embedding_dropout_zeroes_whole_words_and_scales_the_rest():
    model = LanguageModel(VOCAB, 4, embedding_dim=3, embedding_dropout=0.5, dtype=np.float64, seed=3)
    ids = np.tile(np.arange(VOCAB), (4, 2))                           # every word at 8 places
    x = model._embed(ids)                                             # (4, 14, 3)
    mask = model._word_mask
    table = model.embedding.weight.data
    for word in range(VOCAB):
        places = x[ids == word]                                       # (8, 3): every occurrence alike
        expected = table[word] * (2.0 if mask[word] else 0.0)
        np.testing.assert_allclose(places, np.broadcast_to(expected, places.shape), rtol=1e-12)
    assert set(np.unique(mask).tolist()) <= {0.0, 2.0}
    model.eval()
    np.testing.assert_array_equal(model._embed(ids), table[ids])     # evaluation: no mask
    assert model._word_mask is None


def test_output_layer_never_sees_the_word_mask():
    model = LanguageModel(VOCAB, 4, embedding_dim=4, tie_embeddings=True, embedding_dropout=0.9, seed=0)
    before = model.embedding.weight.data.copy()
    model(np.zeros((1, 3), dtype=int))
    np.testing.assert_array_equal(model.head.weight.data, before)    # the table itself is never masked


def test_tied_model_saves_and_loads_once(tmp_path):
    model = LanguageModel(VOCAB, 4, embedding_dim=4, tie_embeddings=True, embedding_dropout=0.1, seed=0)
    rnnkit.save(model, tmp_path / "lm.safetensors")
    loaded = rnnkit.load(tmp_path / "lm.safetensors")
    assert loaded.tie_embeddings and loaded.embedding_dropout == 0.1
    assert loaded.head.weight is loaded.embedding.weight
    assert sorted(loaded.state_dict()) == sorted(model.state_dict())
    assert model.num_parameters() == VOCAB * 4 + sum(p.data.size for _, p in model.rnn.named_parameters()) + VOCAB
    ids = np.array([[1, 2, 3]])
    np.testing.assert_array_equal(loaded.generate([1, 2], 5, seed=0), model.generate([1, 2], 5, seed=0))
    with model.inference():
        expected = model(ids)[0]
    with loaded.inference():
        np.testing.assert_array_equal(loaded(ids)[0], expected)


def test_untied_model_config_is_unchanged():
    assert "tie_embeddings" not in LanguageModel(VOCAB, 4, embedding_dim=3).config


@pytest.mark.parametrize("arguments, message", [
    ({"embedding_dim": 3, "tie_embeddings": True}, "tie_embeddings needs an embedding table as wide as the hidden "
                                                   "layer .* got embedding_dim 3; give embedding_dim=4"),
    ({"tie_embeddings": True}, "got embedding_dim None"),
    ({"embedding_dropout": 0.2}, "with embedding_dim=None the model reads one-hot vectors"),
    ({"embedding_dim": 4, "embedding_dropout": 1.5}, "embedding_dropout"),
])
def test_bad_settings_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        LanguageModel(VOCAB, 4, **arguments)
