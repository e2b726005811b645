"""The regularisers against the same computation written with torch autograd, at float64.

torch has no locked dropout, weight drop or zoneout, but each is a few lines on top of what it
has: the masked W_hh through ``torch.func.functional_call`` (the gradient reaches the raw
weight through the product, as in AWD-LSTM's WeightDrop), locked masks between one-layer
torch.nn layers, and zoneout as a loop over torch.nn.LSTMCell / GRUCell. rnnkit's masks are
taken from ``last_masks`` and given to torch, so both compute the same numbers.
"""

import numpy as np
import pytest

import rnnkit

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need it (pip install torch==2.13.0)")
from torch.func import functional_call  # noqa: E402

TOLERANCE = 1e-10


def assert_close(ours, theirs, name):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    scale = max(float(np.max(np.abs(theirs))), 1e-30)
    assert float(np.max(np.abs(ours - theirs))) / scale < TOLERANCE, name


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_locked_dropout_and_weight_drop_match_torch(kind):
    """Two bidirectional layers, locked dropout on the input and between the layers, weight drop
    on every W_hh: outputs, final states, dx, dh0 (dc0) and every parameter gradient."""
    batch, steps, inputs, hidden, p_in, p_between, p_weight = 3, 5, 3, 4, 0.3, 0.4, 0.5
    layer = getattr(rnnkit, kind)(inputs, hidden, num_layers=2, bidirectional=True, dtype=np.float64, seed=0,
                                  locked_input_dropout=p_in, locked_dropout=p_between, weight_drop=p_weight)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, steps, inputs))
    h0 = rng.standard_normal((4, batch, hidden))
    c0 = rng.standard_normal((4, batch, hidden))
    state = (h0, c0) if kind == "LSTM" else h0
    y, final = layer(x, state)
    finals = final if kind == "LSTM" else (final,)
    dy = rng.standard_normal(y.shape)
    d_finals = tuple(rng.standard_normal(f.shape) for f in finals)
    dx, d_initial = layer.backward(dy, d_finals if kind == "LSTM" else d_finals[0])
    d_initial = d_initial if kind == "LSTM" else (d_initial,)
    masks = layer.last_masks

    # torch: each layer a one-layer bidirectional torch.nn module called with its raw weights,
    # W_hh multiplied by the same mask inside the graph.
    leaves = {name: torch.tensor(p.data, requires_grad=True) for name, p in layer.named_parameters()}
    tx = torch.tensor(x, requires_grad=True)
    t_initial = [torch.tensor(s, requires_grad=True) for s in ((h0, c0) if kind == "LSTM" else (h0,))]
    layer_input = tx * torch.tensor(masks[("locked", 0)][:, None, :] / (1 - p_in))
    t_finals = []
    for index in range(2):
        module = getattr(torch.nn, kind)(layer_input.shape[2], hidden, batch_first=True, bidirectional=True,
                                         dtype=torch.float64)
        weights = {}
        for direction, suffix in enumerate(("", "_reverse")):
            for name in [n for n, _ in module.named_parameters() if n.endswith("_l0" + suffix)]:
                value = leaves[name.replace("_l0", f"_l{index}")]
                if name.startswith("weight_hh"):
                    mask = masks[("weight_drop", index, direction)] / (1 - p_weight)
                    value = value * torch.tensor(mask)
                weights[name] = value
        start = tuple(s[2 * index:2 * index + 2] for s in t_initial)
        output, final_state = functional_call(module, weights, (layer_input, start if kind == "LSTM" else start[0]))
        t_finals.append(final_state if kind == "LSTM" else (final_state,))
        layer_input = output if index == 1 else output * torch.tensor(masks[("locked", 1)][:, None, :] / (1 - p_between))
    t_finals = [torch.cat(parts) for parts in zip(*t_finals)]
    loss = (layer_input * torch.tensor(dy)).sum() + sum((f * torch.tensor(g)).sum() for f, g in zip(t_finals, d_finals))
    loss.backward()

    assert_close(y, layer_input, "y")
    for ours, theirs in zip(finals, t_finals):
        assert_close(ours, theirs, "final state")
    assert_close(dx, tx.grad, "dx")
    for ours, theirs in zip(d_initial, t_initial):
        assert_close(ours, theirs.grad, "d initial state")
    for name, parameter in layer.named_parameters():
        assert_close(parameter.grad, leaves[name].grad, name)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("reverse", [False, True])
def test_zoneout_matches_a_torch_cell_loop(kind, reverse):
    """One layer; bidirectional so that the reverse direction (masks in time order, run from the
    last step) is checked too; zoneout on h (and c) with rnnkit's masks in a torch cell loop."""
    batch, steps, inputs, hidden = 3, 6, 3, 4
    options = {"zoneout": 0.4, "zoneout_cell": 0.3} if kind == "LSTM" else {"zoneout": 0.4}
    layer = getattr(rnnkit, kind)(inputs, hidden, bidirectional=True, dtype=np.float64, seed=0, **options)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((batch, steps, inputs))
    h0 = rng.standard_normal((2, batch, hidden))
    c0 = rng.standard_normal((2, batch, hidden))
    y, final = layer(x, (h0, c0) if kind == "LSTM" else h0)
    finals = final if kind == "LSTM" else (final,)
    dy = rng.standard_normal(y.shape)
    d_finals = tuple(rng.standard_normal(f.shape) for f in finals)
    dx, d_initial = layer.backward(dy, d_finals if kind == "LSTM" else d_finals[0])
    d_initial = d_initial if kind == "LSTM" else (d_initial,)

    direction = 1 if reverse else 0
    suffix = "_l0_reverse" if reverse else "_l0"
    cell = getattr(torch.nn, kind + "Cell")(inputs, hidden, dtype=torch.float64)
    leaves = {name: torch.tensor(getattr(layer, name + suffix).data, requires_grad=True)
              for name, _ in cell.named_parameters()}
    tx = torch.tensor(x, requires_grad=True)
    states = [torch.tensor(s[direction], requires_grad=True) for s in ((h0, c0) if kind == "LSTM" else (h0,))]
    keep = [torch.tensor(layer.last_masks[("zoneout", 0, direction, name)].astype(np.float64))
            for name in ("h", "c")[: len(states)]]                                   # (T, B, H) time order
    state = list(states)
    outputs = [None] * steps
    for t in (reversed(range(steps)) if reverse else range(steps)):
        new = functional_call(cell, leaves, (tx[:, t], tuple(state) if kind == "LSTM" else state[0]))
        new = new if kind == "LSTM" else (new,)
        state = [k[t] * old + (1 - k[t]) * candidate for k, old, candidate in zip(keep, state, new)]
        outputs[t] = state[0]
    t_y = torch.stack(outputs, dim=1)                                                # (B, T, H)
    columns = slice(direction * hidden, (direction + 1) * hidden)
    loss = (t_y * torch.tensor(dy[:, :, columns])).sum() \
        + sum((s * torch.tensor(g[direction])).sum() for s, g in zip(state, d_finals))
    loss.backward()

    assert_close(y[:, :, columns], t_y, "y")
    for ours, theirs in zip(finals, state):
        assert_close(ours[direction], theirs, "final state")
    for ours, theirs in zip(d_initial, states):
        assert_close(ours[direction], theirs.grad, "d initial state")
    for name in leaves:
        assert_close(getattr(layer, name + suffix).grad, leaves[name].grad, name)
    # dx sums both directions; with the other direction's output gradient zeroed it is this one's.
    other = slice((1 - direction) * hidden, (2 - direction) * hidden)
    dy_one = dy.copy()
    dy_one[:, :, other] = 0
    finals_one = tuple(g.copy() for g in d_finals)
    for g in finals_one:
        g[1 - direction] = 0
    dx_one, _ = layer.backward(dy_one, finals_one if kind == "LSTM" else finals_one[0])
    assert_close(dx_one, tx.grad, "dx")
