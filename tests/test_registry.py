"""The cell registry (rnnkit.registry) and the one-step cells a layer hands out (step_cell)."""

import numpy as np
import pytest

import rnnkit
from rnnkit.models import LanguageModel, Seq2Seq
from rnnkit.registry import CELL_KINDS, CELL_NAMES, cell_kind, kind_of


def test_every_registered_kind_pairs_its_layer_with_its_cell():
    assert CELL_NAMES == ("rnn", "lstm", "gru", "mingru", "minlstm", "lnlstm", "lngru")
    expected = {"rnn": (rnnkit.RNN, rnnkit.RNNCell, ("h",)), "lstm": (rnnkit.LSTM, rnnkit.LSTMCell, ("h", "c")),
                "gru": (rnnkit.GRU, rnnkit.GRUCell, ("h",)), "mingru": (rnnkit.MinGRU, rnnkit.MinGRUCell, ("h",)),
                "minlstm": (rnnkit.MinLSTM, rnnkit.MinLSTMCell, ("h",)),
                "lnlstm": (rnnkit.LayerNormLSTM, rnnkit.LayerNormLSTMCell, ("h", "c")),
                "lngru": (rnnkit.LayerNormGRU, rnnkit.LayerNormGRUCell, ("h",))}
    for name, (layer, cell, states) in expected.items():
        kind = CELL_KINDS[name]
        assert (kind.layer, kind.cell, kind.state_names) == (layer, cell, states)
        assert kind_of(layer(2, 3, seed=0)) is kind and kind_of(cell(2, 3, seed=0)) is kind


def test_unknown_names_and_modules_are_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"cell must be one of \['rnn', 'lstm', 'gru', 'mingru', 'minlstm', "
                                         r"'lnlstm', 'lngru'\], got 'lsmt'"):
        cell_kind("lsmt")
    with pytest.raises(TypeError, match="got Linear"):
        kind_of(rnnkit.Linear(2, 3))


def test_state_tuples_round_trip_and_a_wrong_lstm_state_is_named():
    h, c = np.zeros((1, 2, 3)), np.ones((1, 2, 3))
    lstm, gru = cell_kind("lstm"), cell_kind("gru")
    assert lstm.from_tuple(lstm.as_tuple((h, c)))[1] is c
    assert gru.from_tuple(gru.as_tuple(h)) is h
    assert lstm.hidden_gradient(h) == (h, None) and gru.hidden_gradient(h) is h
    with pytest.raises(TypeError, match=r"LSTM state must be a tuple \(h, c\), got ndarray"):
        lstm.as_tuple(h)
    with pytest.raises(ValueError, match="has 2 part"):
        lstm.from_tuple((h,))


@pytest.mark.parametrize("name", CELL_NAMES)
def test_a_step_cell_shares_the_layers_parameters_and_computes_its_steps(name):
    kind = cell_kind(name)
    layer = kind.layer(3, 4, num_layers=2, dtype=np.float64, seed=1)
    for parameter in layer.parameters():             # nonzero biases: every parameter matters
        parameter.data[...] = np.random.default_rng(2).uniform(-0.5, 0.5, parameter.shape)
    x = np.random.default_rng(3).standard_normal((2, 5, 3))
    y, _ = layer(x)
    with rnnkit.no_grad():
        cells = [layer.step_cell(k) for k in range(2)]
        states = [None, None]
        for t in range(5):
            inputs = x[:, t]
            for k, cell in enumerate(cells):
                states[k] = cell(inputs, states[k])
                inputs = kind.hidden(states[k])
            np.testing.assert_allclose(inputs, y[:, t], rtol=1e-12, atol=1e-12)
    for k, cell in enumerate(cells):                 # every parameter of a cell is the layer's own
        assert [p is getattr(layer, f"{n}_l{k}") for n, p in cell.named_parameters()] == [True] * len(cell.parameters())
    assert cells[1].weight_ih is layer.weight_ih_l1
    layer.weight_ih_l0.data *= 0.5                    # no copies: the cell sees the layer's change
    assert np.shares_memory(cells[0].weight_ih.data, layer.weight_ih_l0.data)


def test_step_cell_gradients_accumulate_into_the_layers_parameters():
    lstm = rnnkit.LSTM(3, 4, dtype=np.float64, seed=0)
    cell = lstm.step_cell(0)
    h, c = cell(np.ones((2, 3)))
    cell.backward(np.ones_like(h))
    assert np.abs(lstm.weight_ih_l0.grad).sum() > 0 and np.abs(lstm.bias_hh_l0.grad).sum() > 0


def test_step_cell_keeps_the_rnn_nonlinearity_and_refuses_what_has_no_cell():
    relu = rnnkit.RNN(2, 3, nonlinearity="relu", seed=0)
    assert relu.step_cell().nonlinearity == "relu"
    with pytest.raises(ValueError, match="proj_size=2 has no one-step cell"):
        rnnkit.LSTM(2, 4, proj_size=2, seed=0).step_cell()
    with pytest.raises(ValueError, match=r"layer must be an int in \[0, 1\), got 1"):
        relu.step_cell(1)
    with pytest.raises(ValueError, match=r"direction must be an int in \[0, 1\), got 1"):
        relu.step_cell(0, 1)
    assert rnnkit.GRU(2, 3, bidirectional=True, seed=0).step_cell(0, 1).weight_ih.shape == (9, 2)


def test_share_parameters_refuses_parameters_of_the_wrong_shape_or_bias():
    cell = rnnkit.GRUCell(2, 3, seed=0)
    other = rnnkit.GRUCell(2, 4, seed=0)
    with pytest.raises(ValueError, match=r"weight_ih must be a float32 Parameter of shape \(9, 2\), got Parameter "
                                         r"of shape \(12, 2\)"):
        cell.share_parameters(other.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    no_bias = rnnkit.GRUCell(2, 3, bias=False, seed=0)
    with pytest.raises(ValueError, match="bias_ih must be None for a cell with bias=False"):
        no_bias.share_parameters(cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    before = cell.weight_ih
    with pytest.raises(ValueError):
        cell.share_parameters(cell.weight_ih, other.weight_hh, None, None)
    assert cell.weight_ih is before                   # a refused share changes nothing


@pytest.mark.parametrize("name", CELL_NAMES)
def test_models_take_every_registered_kind(name):
    model = LanguageModel(vocab_size=7, hidden_size=5, num_layers=2, cell=name, seed=0)
    assert model.generate([1, 2], length=3, seed=0).shape == (3,)
    state = model.initial_state(2)
    assert len(cell_kind(name).as_tuple(state)) == cell_kind(name).num_states
    seq = Seq2Seq(6, 6, bos_id=1, eos_id=2, cell=name, bidirectional=True, hidden_size=4, seed=0)
    logits = seq(np.array([[3, 4, 5]]), None, np.array([[1, 3]]))
    assert logits.shape == (1, 2, 6)
    seq.backward(np.ones_like(logits))
    assert np.abs(seq.bridge.weight.grad).sum() > 0


@pytest.mark.parametrize("command", [["train", "lm"], ["train", "classify"], ["train", "tag"]])
def test_the_cli_offers_every_registered_kind(command):
    from rnnkit.cli import build_parser

    parser = build_parser()
    for name in CELL_NAMES:                              # --cell's choices are the registry's names
        assert parser.parse_args(command + ["--cell", name]).cell == name
    with pytest.raises(SystemExit):
        parser.parse_args(command + ["--cell", "lsmt"])
