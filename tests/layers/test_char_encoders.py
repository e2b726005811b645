"""Character-level word encoders: finite differences, padding, any word length, torch parity (CNN)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.gradcheck import check_gradients
from rnnkit.layers.char_encoder import CHAR_SPECIALS, CharCNN, CharLSTM, character_ids, make_char_encoder

INDEX = {character: number for number, character in enumerate(CHAR_SPECIALS + tuple("abcdefgh"))}


def words_batch():
    # mixed lengths, an empty word, an unknown character and a long word
    return character_ids(["a", "bad", "", "cafe", "hedgehog", "zz", "abcdefghabcdefgh"], INDEX)


def gradient_report(encoder, chars, lengths):
    return check_gradients(encoder, {}, forward=lambda m, _: m(chars, lengths),
                           backward=lambda m, grad: (m.backward(grad), {})[1], check_inputs=())


@pytest.mark.parametrize("kernel_size", [1, 3, 4])
def test_char_cnn_gradients(kernel_size):
    chars, lengths = words_batch()
    encoder = CharCNN(len(INDEX), embedding_dim=3, num_filters=4, kernel_size=kernel_size, dtype=np.float64, seed=0)
    report = gradient_report(encoder, chars, lengths)
    assert report.worst < 1e-7, str(report)
    assert np.all(encoder.embedding.weight.grad[0] == 0)          # the padding row learns nothing


def test_char_lstm_gradients():
    chars, lengths = words_batch()
    encoder = CharLSTM(len(INDEX), embedding_dim=3, hidden_size=4, dtype=np.float64, seed=0)
    report = gradient_report(encoder, chars, lengths)
    assert report.worst < 1e-7, str(report)


@pytest.mark.parametrize("kind", ["cnn", "lstm"])
def test_a_word_does_not_depend_on_its_batch_or_padding(kind):
    encoder = make_char_encoder(kind, len(INDEX), 3, 4, np.float64, 0)
    alone, alone_lengths = character_ids(["bad"], INDEX)
    together, together_lengths = character_ids(["bad", "hedgehogs-and-cafes"], INDEX)
    np.testing.assert_allclose(encoder(alone, alone_lengths)[0], encoder(together, together_lengths)[0],
                               rtol=1e-12, atol=1e-12)
    assert encoder(together, together_lengths).shape == (2, encoder.output_size)


def test_character_ids_truncate_long_words_and_mark_unknown_characters():
    ids, lengths = character_ids(["x" * 100, "a"], INDEX, max_length=30)
    assert ids.shape == (2, 32) and lengths.tolist() == [32, 3]
    assert set(ids[0, 1:31].tolist()) == {INDEX["<unk>"]}
    assert make_char_encoder("none", 10, 3, 4, np.float64, 0) is None


def test_bad_character_input_is_a_clear_error():
    encoder = CharCNN(5, seed=0)
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, W=3\]"):
        encoder(np.zeros((2, 3), dtype=int), np.array([0, 3]))
    with pytest.raises(ValueError, match="chars"):
        encoder(np.full((1, 3), 7), np.array([3]))
    with pytest.raises(ValueError, match=r"\(N, W\)"):
        encoder(np.zeros((1, 2, 3), dtype=int), np.array([3]))


def test_char_cnn_matches_torch_conv1d_and_masked_max():
    torch = pytest.importorskip("torch", reason="parity tests need torch (pip install -e '.[test]')")
    chars, lengths = words_batch()
    encoder = CharCNN(len(INDEX), embedding_dim=3, num_filters=5, kernel_size=3, dtype=np.float64, seed=1)
    out = encoder(chars, lengths)
    rng = np.random.default_rng(0)
    d_out = rng.standard_normal(out.shape)
    encoder.backward(d_out)

    table = torch.tensor(encoder.embedding.weight.data, requires_grad=True)
    conv = torch.nn.Conv1d(3, 5, 3, padding=1).double()
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(encoder.weight.data))
        conv.bias.copy_(torch.tensor(encoder.bias.data))
    z = conv(table[torch.tensor(chars)].transpose(1, 2))                         # (N, F, W)
    invalid = torch.arange(chars.shape[1])[None, None, :] >= torch.tensor(lengths)[:, None, None]
    expected = z.masked_fill(invalid, -torch.inf).max(dim=2).values
    (expected * torch.tensor(d_out)).sum().backward()
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(encoder.weight.grad, conv.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(encoder.bias.grad, conv.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
    expected_table = table.grad.numpy().copy()
    expected_table[0] = 0                                                        # padding_idx row
    np.testing.assert_allclose(encoder.embedding.weight.grad, expected_table, rtol=1e-10, atol=1e-12)
