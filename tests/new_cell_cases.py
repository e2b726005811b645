"""Configurations and call helpers for the cell kinds PyTorch does not ship (minGRU, minLSTM...).

Like ``recurrent_cases``, one table drives the gradient checks, the compiled-against-reference
checks, the no_grad checks and the torch-autograd references. A case names its kind as the
registry does (``rnnkit.registry``), which also says whether the state is h or (h, c).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.registry import cell_kind

NEW_KINDS = ("mingru", "minlstm", "lnlstm", "lngru")


@dataclass(frozen=True)
class NewCase:
    kind: str                 # a registry name: "mingru", "minlstm", ...
    num_layers: int = 1
    bidirectional: bool = False
    bias: bool = True
    lengths: tuple[int, ...] | None = None
    batch: int = 2
    steps: int = 4
    input_size: int = 3
    hidden_size: int = 4

    @property
    def id(self) -> str:
        parts = [self.kind, f"L{self.num_layers}", f"B{self.batch}T{self.steps}D{self.input_size}H{self.hidden_size}"]
        parts += ["bidir"] * self.bidirectional + ["nobias"] * (not self.bias)
        if self.lengths:
            parts.append("len" + "-".join(map(str, self.lengths)))
        return "_".join(parts)

    @property
    def registered(self):
        return cell_kind(self.kind)

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def build(self, dtype=np.float64, seed=0):
        return self.registered.layer(self.input_size, self.hidden_size, num_layers=self.num_layers, bias=self.bias,
                                     bidirectional=self.bidirectional, dtype=dtype, seed=seed)

    def inputs(self, seed=1, dtype=np.float64) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        states = self.num_layers * self.directions
        inputs = {"x": rng.standard_normal((self.batch, self.steps, self.input_size))}
        for name in self.registered.state_names:
            inputs[name + "0"] = rng.standard_normal((states, self.batch, self.hidden_size))
        return {name: value.astype(dtype) for name, value in inputs.items()}


def run_forward(layer, case: NewCase, inputs: dict[str, np.ndarray]):
    """``(y, final state)``, the state in the layer's own form (h or (h, c))."""
    state = case.registered.from_tuple([inputs[name + "0"] for name in case.registered.state_names])
    return layer(inputs["x"], state, lengths=case.lengths)


def run_backward(layer, case: NewCase, grads) -> dict[str, np.ndarray]:
    """Backward from gradients shaped like ``run_forward``'s outputs; returns the input gradients."""
    dy, d_state = grads
    dx, d_initial = layer.backward(dy, d_state)
    names = [name + "0" for name in case.registered.state_names]
    return {"x": dx, **dict(zip(names, case.registered.as_tuple(d_initial)))}


def run_case(case: NewCase, dtype):
    """Forward and backward (weights seed 3, inputs seed 4, output gradients seed 5); returns
    the layer and every output and gradient by name."""
    layer = case.build(dtype=dtype, seed=3)
    for parameter in layer.parameters():            # away from the initial values (layer norm gains 1)
        parameter.data += np.random.default_rng(6).uniform(-0.3, 0.3, parameter.shape).astype(dtype)
    inputs = case.inputs(seed=4, dtype=dtype)
    y, final = run_forward(layer, case, inputs)
    finals = case.registered.as_tuple(final)
    rng = np.random.default_rng(5)
    dy = rng.standard_normal(y.shape).astype(dtype)
    d_finals = [rng.standard_normal(f.shape).astype(dtype) for f in finals]
    input_grads = run_backward(layer, case, (dy, case.registered.from_tuple(d_finals)))
    results = {"y": y, **{f"final {name}": f for name, f in zip(case.registered.state_names, finals)}}
    results.update({f"d{name}": grad for name, grad in input_grads.items()})
    results.update({f"grad {name}": p.grad.copy() for name, p in layer.named_parameters()})
    return layer, inputs, (dy, d_finals), results


def cases_of(kind: str) -> list[NewCase]:
    return [
        NewCase(kind),
        NewCase(kind, steps=1, batch=1),
        NewCase(kind, num_layers=2, bidirectional=True, batch=3, lengths=(4, 2, 3)),
        NewCase(kind, num_layers=2, bias=False, lengths=(1, 4)),
        NewCase(kind, bidirectional=True, batch=4, steps=5, lengths=(5, 1, 3, 5), input_size=5, hidden_size=3),
    ]


CASES = [case for kind in NEW_KINDS for case in cases_of(kind)]
