"""The new cell kinds (minGRU, minLSTM, the LayerNorm LSTM and GRU) against references written
here with torch autograd (a plain loop over steps, layers and directions, lengths as PyTorch's
packed sequences treat them; the layer norms are torch.nn.functional.layer_norm): forward and
every gradient at float64 within 1e-10, with both kernels. PyTorch ships none of these cells,
so the reference is the paper's equations, written once more in torch.
"""

import numpy as np
import pytest

from rnnkit import compiled
from new_cell_cases import CASES, NewCase, run_case

torch = pytest.importorskip("torch", reason="torch not installed: the autograd references need it")

PATHS = [False] + ([True] if compiled.available() else [])


def mingru_step(parameters, x, state):
    (h,) = state
    gates = x @ parameters["weight_ih"].T + parameters.get("bias_ih", 0.0)
    hidden = h.shape[1]
    z, candidate = torch.sigmoid(gates[:, :hidden]), gates[:, hidden:]
    return ((1 - z) * h + z * candidate,)


def minlstm_step(parameters, x, state):
    (h,) = state
    gates = x @ parameters["weight_ih"].T + parameters.get("bias_ih", 0.0)
    hidden = h.shape[1]
    forget, input_gate = torch.sigmoid(gates[:, :hidden]), torch.sigmoid(gates[:, hidden:2 * hidden])
    candidate = gates[:, 2 * hidden:]
    return ((forget * h + input_gate * candidate) / (forget + input_gate),)


def layer_norm(parameters, name, values):
    """LN_<name> over the whole vector (torch.nn.functional.layer_norm), its own gain and shift, eps 1e-5."""
    return torch.nn.functional.layer_norm(values, (values.shape[1],), parameters[f"ln_{name}_weight"],
                                          parameters[f"ln_{name}_bias"], eps=1e-5)


def lnlstm_step(parameters, x, state):
    h, c = state
    gates = (layer_norm(parameters, "ih", x @ parameters["weight_ih"].T)
             + layer_norm(parameters, "hh", h @ parameters["weight_hh"].T) + parameters.get("bias", 0.0))
    i, f, g, o = gates.chunk(4, dim=1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(layer_norm(parameters, "c", c_new)), c_new


def lngru_step(parameters, x, state):
    (h,) = state
    gi = layer_norm(parameters, "ih", x @ parameters["weight_ih"].T) + parameters.get("bias_ih", 0.0)
    gh = layer_norm(parameters, "hh", h @ parameters["weight_hh"].T) + parameters.get("bias_hh", 0.0)
    i_r, i_z, i_n = gi.chunk(3, dim=1)
    h_r, h_z, h_n = gh.chunk(3, dim=1)
    reset, update = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    candidate = torch.tanh(i_n + reset * h_n)             # the reset gate scales gh_n with its bias
    return ((1 - update) * candidate + update * h,)


STEPS = {"mingru": mingru_step, "minlstm": minlstm_step, "lnlstm": lnlstm_step, "lngru": lngru_step}


def torch_layer(case: NewCase, parameters: dict, x, initial: list):
    """y (B, T, K*H) and the final states, each (L*K, B, H), of the case's layer."""
    batch, steps, _ = x.shape
    lengths = torch.tensor(case.lengths if case.lengths else [steps] * batch)
    layer_input, finals = x, [[] for _ in initial]
    for layer in range(case.num_layers):
        outputs = []
        for direction in range(case.directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            own = {name[:-len(suffix)]: value for name, value in parameters.items() if name.endswith(suffix)}
            index = layer * case.directions + direction
            state = tuple(part[index] for part in initial)
            out = [None] * steps
            for k in range(steps):
                t = steps - 1 - k if direction else k
                valid = (t < lengths)[:, None]                                   # (B, 1)
                new = STEPS[case.kind](own, layer_input[:, t], state)
                state = tuple(torch.where(valid, n, s) for n, s in zip(new, state))
                out[t] = torch.where(valid, state[0], torch.zeros_like(state[0]))
            outputs.append(torch.stack(out, dim=1))
            for target, part in zip(finals, state):
                target.append(part)
        layer_input = torch.cat(outputs, dim=2)
    return layer_input, [torch.stack(parts) for parts in finals]


@pytest.mark.parametrize("use_compiled", PATHS, ids=lambda on: "compiled" if on else "numpy")
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_forward_and_every_gradient_match_torch_autograd(case, use_compiled):
    compiled.set_enabled(use_compiled)
    try:
        layer, inputs, (dy, d_finals), ours = run_case(case, np.float64)
    finally:
        compiled.set_enabled(None)
    parameters = {name: torch.tensor(p.data, requires_grad=True) for name, p in layer.named_parameters()}
    tensors = {name: torch.tensor(value, requires_grad=True) for name, value in inputs.items()}
    names = [name + "0" for name in case.registered.state_names]
    y, finals = torch_layer(case, parameters, tensors["x"], [tensors[name] for name in names])
    loss = (y * torch.tensor(dy)).sum() + sum((f * torch.tensor(d)).sum() for f, d in zip(finals, d_finals))
    loss.backward()
    theirs = {"y": y.detach().numpy()}
    theirs.update({f"final {name}": f.detach().numpy() for name, f in zip(case.registered.state_names, finals)})
    theirs.update({f"d{name}": t.grad.numpy() for name, t in tensors.items()})
    theirs.update({f"grad {name}": t.grad.numpy() for name, t in parameters.items()})
    assert theirs.keys() == ours.keys()
    for name in theirs:
        scale = max(np.max(np.abs(theirs[name])), 1.0)
        assert np.max(np.abs(ours[name] - theirs[name])) <= 1e-10 * scale, name
