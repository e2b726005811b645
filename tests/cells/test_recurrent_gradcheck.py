"""float64 central-difference checks of BPTT: every parameter, the input and the initial states."""

import numpy as np
import pytest

import rnnkit
from rnnkit.gradcheck import check_gradients
from recurrent_cases import CASES, Case, run_backward, run_forward

TOLERANCE = 1e-6   # central differences with eps = 1e-6 in float64 agree to ~1e-9 here


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_layer_gradients_match_central_differences(case: Case):
    layer = case.build()
    report = check_gradients(
        layer, case.inputs(),
        forward=lambda module, inputs: run_forward(module, case, inputs),
        backward=lambda module, grads: run_backward(module, case, grads),
    )
    expected = {name for name, _ in layer.named_parameters()} | {"input x", "input h0"}
    assert expected <= set(report.errors)
    assert report.worst < TOLERANCE, str(report)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_gradients_through_dropout_between_layers(kind):
    """Reseeding the dropout generator before each forward fixes the mask, so BPTT through
    the masked layer outputs can be checked numerically."""
    case = Case(kind, num_layers=3, bidirectional=True)
    layer = getattr(rnnkit, kind)(3, 4, num_layers=3, bidirectional=True, dropout=0.4, dtype=np.float64, seed=0)

    def forward(module, inputs):
        module.rng = np.random.default_rng(123)
        return run_forward(module, case, inputs)

    report = check_gradients(layer, case.inputs(), forward,
                             lambda module, grads: run_backward(module, case, grads))
    assert report.worst < TOLERANCE, str(report)


@pytest.mark.parametrize("cell_name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_gradients_match_central_differences(cell_name, bias):
    cell = getattr(rnnkit, cell_name)(3, 4, bias=bias, dtype=np.float64, seed=0)
    rng = np.random.default_rng(2)
    inputs = {"x": rng.standard_normal((2, 3)), "h": rng.standard_normal((2, 4))}
    if cell_name == "LSTMCell":
        inputs["c"] = rng.standard_normal((2, 4))

        def forward(module, values):
            return module(values["x"], (values["h"], values["c"]))

        def backward(module, grads):
            dx, (dh, dc) = module.backward(*grads)
            return {"x": dx, "h": dh, "c": dc}
    else:
        def forward(module, values):
            return module(values["x"], values["h"])

        def backward(module, grad):
            dx, dh = module.backward(grad)
            return {"x": dx, "h": dh}

    report = check_gradients(cell, inputs, forward, backward)
    assert len(report.errors) == len(list(cell.named_parameters())) + len(inputs)
    assert report.worst < TOLERANCE, str(report)


def test_gradient_checker_detects_a_wrong_gradient():
    """The checker itself can fail: corrupt one parameter gradient and it must notice."""
    case = Case("GRU")
    layer = case.build()

    def broken_backward(module, grads):
        result = run_backward(module, case, grads)
        module.weight_hh_l0.grad[0, 0] += 0.01
        return result

    report = check_gradients(layer, case.inputs(), lambda m, i: run_forward(m, case, i), broken_backward)
    assert report.errors["weight_hh_l0"] > 1e-4
    assert report.errors["weight_ih_l0"] < TOLERANCE
