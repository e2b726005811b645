"""Configurations and call helpers shared by the recurrent-layer tests.

Each case builds a layer of rnnkit (and, in the parity tests, the matching torch.nn one) and
runs it with random inputs, random initial states and, where listed, variable lengths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import rnnkit


@dataclass(frozen=True)
class Case:
    kind: str                 # "RNN", "LSTM" or "GRU"
    num_layers: int = 1
    bidirectional: bool = False
    bias: bool = True
    proj_size: int = 0
    nonlinearity: str = "tanh"
    lengths: tuple[int, ...] | None = None
    batch: int = 2
    steps: int = 4
    input_size: int = 3
    hidden_size: int = 4

    @property
    def id(self) -> str:
        parts = [self.kind, f"L{self.num_layers}", f"B{self.batch}T{self.steps}D{self.input_size}H{self.hidden_size}"]
        if self.kind == "RNN":
            parts.append(self.nonlinearity)
        if self.bidirectional:
            parts.append("bidir")
        if not self.bias:
            parts.append("nobias")
        if self.proj_size:
            parts.append(f"proj{self.proj_size}")
        if self.lengths:
            parts.append("len" + "-".join(map(str, self.lengths)))
        return "_".join(parts)

    @property
    def kwargs(self) -> dict:
        kwargs = {"num_layers": self.num_layers, "bias": self.bias, "bidirectional": self.bidirectional}
        if self.kind == "LSTM":
            kwargs["proj_size"] = self.proj_size
        if self.kind == "RNN":
            kwargs["nonlinearity"] = self.nonlinearity
        return kwargs

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def state_width(self) -> int:
        return self.proj_size or self.hidden_size

    def build(self, dtype=np.float64, seed=0):
        return getattr(rnnkit, self.kind)(self.input_size, self.hidden_size, dtype=dtype, seed=seed, **self.kwargs)

    def inputs(self, seed=1, dtype=np.float64) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        states = self.num_layers * self.directions
        inputs = {
            "x": rng.standard_normal((self.batch, self.steps, self.input_size)),
            "h0": rng.standard_normal((states, self.batch, self.state_width)),
        }
        if self.kind == "LSTM":
            inputs["c0"] = rng.standard_normal((states, self.batch, self.hidden_size))
        return {name: value.astype(dtype) for name, value in inputs.items()}


def run_forward(layer, case: Case, inputs: dict[str, np.ndarray]):
    """``(y, h_n)`` or ``(y, (h_n, c_n))``."""
    if case.kind == "LSTM":
        return layer(inputs["x"], (inputs["h0"], inputs["c0"]), lengths=case.lengths)
    return layer(inputs["x"], inputs["h0"], lengths=case.lengths)


def run_backward(layer, case: Case, grads) -> dict[str, np.ndarray]:
    """Backward from gradients shaped like ``run_forward``'s outputs; returns input grads."""
    if case.kind == "LSTM":
        dy, (dh_n, dc_n) = grads
        dx, (dh0, dc0) = layer.backward(dy, (dh_n, dc_n))
        return {"x": dx, "h0": dh0, "c0": dc0}
    dy, dh_n = grads
    dx, dh0 = layer.backward(dy, dh_n)
    return {"x": dx, "h0": dh0}


CASES = [
    case
    for kind in ("RNN", "LSTM", "GRU")
    for case in (
        Case(kind),
        Case(kind, steps=1, batch=1),
        Case(kind, num_layers=2, bidirectional=True, batch=3, lengths=(4, 2, 3)),
        Case(kind, num_layers=3, input_size=5, hidden_size=3),
        Case(kind, num_layers=2, bias=False, lengths=(1, 4)),
        Case(kind, bidirectional=True, batch=4, steps=5, lengths=(5, 1, 3, 5)),
    )
] + [
    Case("RNN", nonlinearity="relu"),
    Case("RNN", nonlinearity="relu", num_layers=2, bidirectional=True, batch=3, lengths=(3, 4, 1)),
    Case("LSTM", proj_size=2),
    Case("LSTM", proj_size=3, num_layers=2, bidirectional=True, batch=3, lengths=(4, 1, 2), hidden_size=5),
    Case("LSTM", proj_size=1, bias=False, steps=1, batch=1),
]


@dataclass
class CaseRun:
    """One forward and backward of a case with random gradients for every output."""

    layer: object
    inputs: dict[str, np.ndarray]
    y: np.ndarray
    finals: list[np.ndarray]          # [h_n] or [h_n, c_n]
    grads: tuple                      # what was passed to backward, shaped like the outputs
    input_grads: dict[str, np.ndarray]


def run_case(case: Case, dtype) -> CaseRun:
    """Build the case's layer (seed 3), run it on its inputs (seed 4), backward from random
    output gradients (seed 5); the same numbers every call."""
    layer = case.build(dtype=dtype, seed=3)
    inputs = case.inputs(seed=4, dtype=dtype)
    y, final = run_forward(layer, case, inputs)
    finals = list(final) if case.kind == "LSTM" else [final]
    rng = np.random.default_rng(5)
    dy = rng.standard_normal(y.shape).astype(dtype)
    final_grads = [rng.standard_normal(f.shape).astype(dtype) for f in finals]
    grads = (dy, tuple(final_grads)) if case.kind == "LSTM" else (dy, final_grads[0])
    input_grads = run_backward(layer, case, grads)
    return CaseRun(layer, inputs, y, finals, grads, input_grads)
