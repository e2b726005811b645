"""Parity with torch.nn.RNN / LSTM / GRU on identical weights: outputs, final states, every gradient.

Weights come from rnnkit's seeded initialisation (random, nonzero biases) and are loaded into
torch through its own ``load_state_dict``, which also checks that names and shapes agree.
"""

import numpy as np
import pytest

from recurrent_cases import CASES, Case, run_case

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need it (pip install torch==2.13.0)")
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

TORCH_DTYPES = {np.float64: torch.float64, np.float32: torch.float32}


def relative(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.max(np.abs(ours - theirs)) / max(np.max(np.abs(theirs)), 1e-30))


def torch_run(case: Case, state_dict: dict, inputs: dict, grads, dtype):
    """Run torch on the same weights and inputs; return outputs and gradients as numpy."""
    tdtype = TORCH_DTYPES[dtype]
    module = getattr(torch.nn, case.kind)(case.input_size, case.hidden_size, batch_first=True,
                                          dtype=tdtype, **case.kwargs)
    module.load_state_dict({name: torch.tensor(value) for name, value in state_dict.items()})
    leaves = {name: torch.tensor(value, requires_grad=True) for name, value in inputs.items()}
    state = (leaves["h0"], leaves["c0"]) if case.kind == "LSTM" else leaves["h0"]
    if case.lengths is not None:
        packed = pack_padded_sequence(leaves["x"], torch.tensor(case.lengths), batch_first=True, enforce_sorted=False)
        packed_out, final = module(packed, state)
        y, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=case.steps)
    else:
        y, final = module(leaves["x"], state)
    finals = list(final) if case.kind == "LSTM" else [final]
    dy, final_grads = grads[0], (list(grads[1]) if case.kind == "LSTM" else [grads[1]])
    loss = (y * torch.tensor(dy)).sum() + sum((f * torch.tensor(g)).sum() for f, g in zip(finals, final_grads))
    loss.backward()
    outputs = [y.detach().numpy()] + [f.detach().numpy() for f in finals]
    input_grads = {name: leaf.grad.numpy() for name, leaf in leaves.items()}
    param_grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    return outputs, input_grads, param_grads


def compare(case: Case, dtype) -> dict[str, float]:
    """Relative errors of every output and gradient between rnnkit and torch."""
    run = run_case(case, dtype)
    layer, y, finals, input_grads = run.layer, run.y, run.finals, run.input_grads
    t_outputs, t_input_grads, t_param_grads = torch_run(case, layer.state_dict(), run.inputs, run.grads, dtype)
    errors = {"y": relative(y, t_outputs[0])}
    for index, final_state in enumerate(finals):
        errors[f"final state {index}"] = relative(final_state, t_outputs[1 + index])
    for name, grad in input_grads.items():
        errors["d" + name] = relative(grad, t_input_grads[name])
    for name, parameter in layer.named_parameters():
        errors["d" + name] = relative(parameter.grad, t_param_grads[name])
    return errors


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_float64_parity(case):
    errors = compare(case, np.float64)
    assert max(errors.values()) < 1e-10, errors


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_float32_parity(case):
    errors = compare(case, np.float32)
    assert max(errors.values()) < 1e-5, errors


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_float32_parity_long_sequence_and_wider_layers(kind):
    case = Case(kind, num_layers=2, bidirectional=True, batch=8, steps=100, input_size=16, hidden_size=32,
                lengths=tuple(range(100, 20, -10)))
    errors = compare(case, np.float32)
    assert max(errors.values()) < 1e-5, errors


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_torch_state_dict_loads_directly(kind):
    """The documented one-liner: torch's state_dict, converted to numpy, loads as is."""
    import rnnkit
    kwargs = {"num_layers": 2, "bidirectional": True}
    if kind == "LSTM":
        kwargs["proj_size"] = 3
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(5, 6, batch_first=True, **kwargs)
    ours = getattr(rnnkit, kind)(5, 6, **kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((3, 7, 5)).astype(np.float32)
    y_theirs, _ = theirs(torch.tensor(x))
    y_ours, _ = ours(x)
    assert relative(y_ours, y_theirs.detach().numpy()) < 1e-5


def test_bidirectional_final_state_is_reverse_pass_after_step_zero():
    """PARITY.md: h_n of the reverse direction equals output[:, 0, H:], not output[:, -1, H:]."""
    import rnnkit
    gru = rnnkit.GRU(3, 4, bidirectional=True, dtype=np.float64, seed=0)
    y, h_n = gru(np.random.default_rng(0).standard_normal((2, 5, 3)), lengths=[5, 3])
    np.testing.assert_array_equal(h_n[1], y[:, 0, 4:])
    np.testing.assert_array_equal(h_n[0, 0], y[0, 4, :4])
    np.testing.assert_array_equal(h_n[0, 1], y[1, 2, :4])
    assert not np.any(y[1, 3:])
    assert not np.allclose(h_n[1], y[:, -1, 4:])


def test_cells_match_torch_cells():
    import rnnkit
    rng = np.random.default_rng(0)
    for name in ("RNNCell", "LSTMCell", "GRUCell"):
        ours = getattr(rnnkit, name)(3, 5, dtype=np.float64, seed=1)
        theirs = getattr(torch.nn, name)(3, 5, dtype=torch.float64)
        theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
        x, h, c = (rng.standard_normal(shape) for shape in ((2, 3), (2, 5), (2, 5)))
        xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
        dh_out, dc_out = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
        if name == "LSTMCell":
            h1, c1 = ours(x, (h, c))
            dx, (dh, dc) = ours.backward(dh_out, dc_out)
            th1, tc1 = theirs(xt, (ht, ct))
            ((th1 * torch.tensor(dh_out)).sum() + (tc1 * torch.tensor(dc_out)).sum()).backward()
            assert relative(c1, tc1.detach().numpy()) < 1e-12
            assert relative(dc, ct.grad.numpy()) < 1e-12
        else:
            h1 = ours(x, h)
            dx, dh = ours.backward(dh_out)
            th1 = theirs(xt, ht)
            (th1 * torch.tensor(dh_out)).sum().backward()
        assert relative(h1, th1.detach().numpy()) < 1e-12
        assert relative(dx, xt.grad.numpy()) < 1e-12
        assert relative(dh, ht.grad.numpy()) < 1e-12
        for pname, parameter in ours.named_parameters():
            assert relative(parameter.grad, getattr(theirs, pname).grad.numpy()) < 1e-12, (name, pname)
