"""``rnnkit lab gradients``: dL/dh_t against distance, by cell and by the spectral radius of W_hh."""

from __future__ import annotations

import argparse
import os

import numpy as np

import rnnkit
from rnnkit.cli.lab.common import fmt, make_layer, markdown_table, progress, train_adding, write_report
from rnnkit.data.synthetic import adding_problem
from rnnkit.diagnostics import (
    gradient_flow,
    hidden_grad_norms,
    jacobian_products,
    recording_hidden_grads,
    recurrent_spectrum,
    set_spectral_radius,
)


def _last_step_flow(layer, head, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Relative ||dL/dh_t|| (T,) for the adding-problem MSE, a loss on the last step only."""
    outputs, _ = layer(x)
    _, d_prediction = rnnkit.losses.mse(head(outputs[:, -1]), y)
    d_outputs = np.zeros_like(outputs)
    d_outputs[:, -1] = head.backward(d_prediction)
    with recording_hidden_grads(layer):
        layer.backward(d_outputs)
    layer.zero_grad()
    head.zero_grad()
    norms = hidden_grad_norms(layer)[0][0]
    return norms / max(float(norms[-1]), 1e-300)


def run_gradients(args: argparse.Namespace) -> dict:
    length = args.lengths[0]
    rng = np.random.default_rng(args.seed)
    x, y = adding_problem(args.batch, length, seed=rng)
    cells, numbers = {}, {}
    marks = [d for d in (10, 25, 50, length - 1) if d < length]
    print(f"gradients: T = {length}, H = {args.hidden}, {args.steps} training steps per cell")
    for cell in args.cells:
        layer, head = make_layer(cell, args.hidden, rng), rnnkit.Linear(args.hidden, 1, seed=rng)
        curves = {"init": _last_step_flow(layer, head, x, y)}
        if args.steps:
            run = train_adding(cell.upper(), layer, head, length, args.steps, args.batch, rng,
                               lr=args.lr or 1e-3, max_norm=args.max_norm, eval_every=args.eval_every)
            progress(run, length, args.target)
            curves["trained"] = _last_step_flow(layer, head, x, y)
            numbers[cell] = {"val_mse_after_training": run.summary(args.target)["final_val_mse"]}
        cells[cell] = curves
        numbers.setdefault(cell, {}).update({f"{when}_at_{d}": float(curve[-1 - d])
                                             for when, curve in curves.items() for d in marks})
    radii = {}
    spectra = {}
    for radius in (0.5, 1.0, 1.5):
        rnn = rnnkit.RNN(2, args.hidden, dtype=np.float64, seed=args.seed)
        set_spectral_radius(rnn, radius)
        flow = gradient_flow(rnn, x.astype(np.float64), seed=args.seed)
        products = jacobian_products(rnn)
        radii[radius] = {"flow": flow.relative(), "jacobian": products.mean_norms}
        block = recurrent_spectrum(rnn)[0]
        spectra[radius] = {"spectral_radius": block.spectral_radius, "largest_singular_value": block.largest_singular_value,
                           "vanishing_guaranteed": block.vanishing_guaranteed,
                           **{f"flow_at_{d}": float(flow.relative()[-1 - d]) for d in marks},
                           **{f"jacobian_at_{d}": float(products.mean_norms[-1 - d]) for d in marks}}
    from rnnkit.diagnostics.plots import plot_gradient_flow
    plot_gradient_flow(cells, radii, args.steps, os.path.join(args.out, "gradients.png"))

    compare = marks[min(1, len(marks) - 1)]                 # the second distance shown (the only one when T <= 10)
    cell_rows = [[cell.upper(), when] + [fmt(numbers[cell][f"{when}_at_{d}"]) for d in marks]
                 for cell in cells for when in cells[cell]]
    radius_rows = [[f"{r:g}", f"{s['largest_singular_value']:.2f}", "yes" if s["vanishing_guaranteed"] else "no"]
                   + [f"{fmt(s[f'flow_at_{d}'])} / {fmt(s[f'jacobian_at_{d}'])}" for d in marks]
                   for r, s in spectra.items()]
    write_report(args, f"""
# Gradient flow: how far back does the training signal reach?

Setting: adding problem, T = {length}, H = {args.hidden}, batch {args.batch}, seed {args.seed}; the loss is the
MSE of the last step only, so ||dL/dh_t|| at distance T - t is how much of the signal reaches step t
(normalised by its value at the last step).

**Expected.** A tanh RNN multiplies the gradient by diag(1 - h^2) W_hh at every step: it shrinks
exponentially when the largest singular value of W_hh is below 1 (Pascanu et al. 2013) and can grow
when the spectral radius is above 1. LSTM and GRU carry state additively (c_t = f c_(t-1) + ..., h_t =
z h_(t-1) + ...) and lose far less per step, especially after training.

**Measured**, relative ||dL/dh_t|| at distance d:

{markdown_table(["cell", "when"] + [f"d = {d}" for d in marks], cell_rows)}

Plain tanh RNN (float64) with W_hh scaled to a spectral radius; each cell is gradient flow / batch-mean
||dh_T/dh_k||_2:

{markdown_table(["radius", "sigma_max", "vanishing guaranteed (sigma_max < 1)"] + [f"d = {d}" for d in marks],
                  radius_rows)}

For comparison, 0.5^{compare} = {0.5 ** compare:.2e} and 1.5^{compare} = {1.5 ** compare:.2e}.

![gradient flow](gradients.png)
""")
    return {"cells": numbers, "radii": spectra, "curves": {c: {k: v for k, v in cur.items()} for c, cur in cells.items()}}
