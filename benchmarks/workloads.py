"""The timed workloads, one library per process (see :mod:`benchmarks.worker`).

Glossary: B batch, T time, D input features, H hidden units, G gates (1 RNN, 4 LSTM, 3 GRU).

Each ``make_*`` function builds its model and data and returns a zero-argument callable that
runs the workload once; building is not timed. A training step is forward, loss = sum of all
outputs, backward (parameter gradients and dx), with the gradients zeroed first.
"""

from __future__ import annotations

import numpy as np

SIZES = {               # name: (B, T, D, H)
    "S": (1, 100, 64, 128),
    "M": (32, 100, 64, 128),
    "M2": (32, 100, 256, 256),
    "L": (64, 100, 512, 512),
    "XL": (128, 50, 1024, 1024),
    "M2-2bi": (32, 100, 256, 256),      # with 2 layers, bidirectional (STACKS)
}
STACKS = {"M2-2bi": (2, True)}          # size name: (layers, bidirectional); the others: (1, False)
TINY = (1, 2, 3, 4)     # "tiny": warms the libraries up before a memory measurement
CELLS = ("RNN", "LSTM", "GRU")
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
GENERATION = {"layers": 2, "hidden": 256, "input": 256, "steps": 1000}


def dims(size: str) -> tuple[int, int, int, int]:
    """(B, T, D, H) of a size name."""
    return TINY if size == "tiny" else SIZES[size]


def stack(size: str) -> tuple[int, bool]:
    """(layers, bidirectional) of a size name."""
    return STACKS.get(size, (1, False))


def flops(cell: str, size: str, mode: str) -> float:
    """Floating-point operations of the matrix products a workload must do (2 per multiply-add):
    forward 2 B T G H (D_in + H) per layer and direction; training three times that (the forward,
    then dh_prev and dx, then dW_ih and dW_hh)."""
    batch, steps, features, hidden = dims(size)
    layers, bidirectional = stack(size)
    directions = 2 if bidirectional else 1
    total = 0.0
    for layer in range(layers):
        width = features if layer == 0 else directions * hidden
        total += directions * 2.0 * batch * steps * GATES[cell] * hidden * (width + hidden)
    return total * (3 if mode == "train" else 1)


def make_peak():
    """One large float32 product (2048 x 2048 x 2048) through NumPy's BLAS: the machine's peak
    as this BLAS reaches it, on all its threads."""
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    out = np.empty_like(a)

    def product():
        np.matmul(a, a, out=out)
    return product


def _inputs(size: str, seed: int = 0) -> np.ndarray:
    batch, steps, features, _ = dims(size)
    return np.random.default_rng(seed).standard_normal((batch, steps, features)).astype(np.float32)


# --- rnnkit ------------------------------------------------------------------------------
def make_rnnkit(cell: str, size: str, mode: str):
    import rnnkit

    _, _, features, hidden = dims(size)
    layers, bidirectional = stack(size)
    layer = getattr(rnnkit, cell)(features, hidden, num_layers=layers, bidirectional=bidirectional,
                                  dtype=np.float32, seed=0)
    x = _inputs(size)
    if mode == "infer":
        layer.eval()

        def infer():
            with rnnkit.no_grad():                  # no cache for backward, as torch.inference_mode()
                return layer(x)
        return infer

    def train():
        layer.zero_grad()
        y, _ = layer(x)
        loss = float(y.sum())                       # the loss over all outputs ...
        layer.backward(np.ones_like(y))             # ... and its gradient dL/dy = 1
        return loss
    return train


def make_floor(cell: str, size: str, mode: str):
    """Only the matrix products a step must do, NumPy (BLAS) with preallocated outputs.

    Forward: x W_ih^T for all steps, then h_{t-1} W_hh^T per step. Training adds, per step,
    dz W_hh, and after the loop dW_ih = dZ^T X, dW_hh = dZ^T H, dX = dZ W_ih. With B = 1
    the per-step products are matrix-vector products, as in the compiled loops. With B > 1
    they run in the orientation OpenBLAS is fastest at, on operands already transposed:
    (h W_hh^T)^T = W_hh h^T and (dz W_hh)^T = W_hh^T dz^T (measured 1.1x to 2.3x faster than
    h W_hh^T and dz W_hh at these sizes).
    """
    batch, steps, features, hidden = dims(size)
    rows = GATES[cell] * hidden
    rng = np.random.default_rng(0)
    x = rng.standard_normal((steps * batch, features)).astype(np.float32)
    w_ih = rng.standard_normal((rows, features)).astype(np.float32) * 0.01
    w_hh = rng.standard_normal((rows, hidden)).astype(np.float32) * 0.01
    hs = rng.standard_normal((steps, batch, hidden)).astype(np.float32)
    hs_t = np.ascontiguousarray(hs.transpose(0, 2, 1))                  # (T, H, B)
    z = np.empty((steps, batch, rows), dtype=np.float32)
    z_t = np.empty((rows, batch), dtype=np.float32)
    dz = rng.standard_normal((steps, batch, rows)).astype(np.float32)
    dz_t = np.ascontiguousarray(dz.transpose(0, 2, 1))                  # (T, G*H, B)
    dh = np.empty((batch, hidden), dtype=np.float32)
    dh_t = np.empty((hidden, batch), dtype=np.float32)
    d_w_ih, d_w_hh = np.empty_like(w_ih), np.empty_like(w_hh)
    dx = np.empty((steps * batch, features), dtype=np.float32)
    w_hh_transposed = np.ascontiguousarray(w_hh.T)                      # (H, G*H)

    def forward():
        np.matmul(x, w_ih.T, out=z.reshape(steps * batch, rows))
        for t in range(steps):
            if batch == 1:
                np.dot(w_hh, hs[t, 0], out=z[t, 0])
            else:
                np.matmul(w_hh, hs_t[t], out=z_t)

    def train():
        forward()
        for t in range(steps):
            if batch == 1:
                np.dot(dz[t, 0], w_hh, out=dh[0])
            else:
                np.matmul(w_hh_transposed, dz_t[t], out=dh_t)
        flat_dz = dz.reshape(steps * batch, rows)
        np.matmul(flat_dz.T, x, out=d_w_ih)
        np.matmul(flat_dz.T, hs.reshape(steps * batch, hidden), out=d_w_hh)
        np.matmul(flat_dz, w_ih, out=dx)

    return train if mode == "train" else forward


def make_rnnkit_generation():
    """2-layer LSTM sampling: rnnkit.LSTMCell objects loaded from an rnnkit.LSTM, B = 1."""
    import rnnkit

    config = GENERATION
    stack = rnnkit.LSTM(config["input"], config["hidden"], num_layers=config["layers"], dtype=np.float32, seed=0)
    cells = []
    for layer in range(config["layers"]):
        cell = rnnkit.LSTMCell(config["input"] if layer == 0 else config["hidden"], config["hidden"],
                               dtype=np.float32, seed=0)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).data[...] = getattr(stack, f"{name}_l{layer}").data
        cell.eval()
        cells.append(cell)
    tokens = np.random.default_rng(1).standard_normal((config["steps"], 1, config["input"])).astype(np.float32)

    def generate():
        states = [None] * len(cells)
        for x in tokens:
            for index, cell in enumerate(cells):
                states[index] = cell(x, states[index])
                x = states[index][0]
        return x
    return generate


# --- PyTorch -----------------------------------------------------------------------------
def make_torch(cell: str, size: str, mode: str):
    import torch

    _, _, features, hidden = dims(size)
    layers, bidirectional = stack(size)
    torch.manual_seed(0)
    layer = getattr(torch.nn, cell)(features, hidden, num_layers=layers, bidirectional=bidirectional, batch_first=True)
    x = torch.from_numpy(_inputs(size))
    if mode == "infer":
        layer.eval()

        def infer():
            with torch.inference_mode():
                return layer(x)
        return infer

    x.requires_grad_(True)

    def train():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        y, _ = layer(x)
        loss = y.sum()
        loss.backward()
        return float(loss.detach())
    return train


def make_torch_generation():
    """The same 2-layer LSTM stepped one token at a time through ``torch.nn.LSTM``."""
    import torch

    config = GENERATION
    torch.manual_seed(0)
    stack = torch.nn.LSTM(config["input"], config["hidden"], num_layers=config["layers"]).eval()
    tokens = torch.from_numpy(np.random.default_rng(1).standard_normal(
        (config["steps"], 1, 1, config["input"])).astype(np.float32))

    def generate():
        state = None
        with torch.inference_mode():
            for x in tokens:
                out, state = stack(x, state)
        return out
    return generate


# --- end to end: the main job's model (rnnkit train lm's defaults) ---------------------------
LM = {"vocab": 104, "embedding": 32, "hidden": 256, "batch": 32, "steps": 64}   # V as Python's docs text has


def _lm_windows(count: int = 8) -> np.ndarray:
    """``count`` windows of token ids (count, B, T + 1): inputs are [:, :, :-1], targets [:, :, 1:]."""
    config = LM
    return np.random.default_rng(2).integers(0, config["vocab"], (count, config["batch"], config["steps"] + 1))


def make_rnnkit_lm():
    """One training step of ``rnnkit train lm``'s default model: embedding, LSTM, linear head,
    cross entropy over all B*T targets, clipping at norm 1, Adam; the state carried between
    windows as truncated BPTT does."""
    import rnnkit

    config = LM
    model = rnnkit.models.LanguageModel(config["vocab"], config["hidden"], embedding_dim=config["embedding"],
                                        dtype=np.float32, seed=0)
    optimizer = rnnkit.optim.Adam(model.parameters(), lr=1e-3)
    windows, position, state = _lm_windows(), [0], [None]

    def train():
        window = windows[position[0] % len(windows)]
        position[0] += 1
        optimizer.zero_grad()
        logits, state[0] = model(window[:, :-1], state[0])
        loss, d_logits = rnnkit.losses.cross_entropy(logits, window[:, 1:])
        model.backward(d_logits)
        rnnkit.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss
    return train


def make_torch_lm():
    """The same model and step in PyTorch (nn.Embedding, nn.LSTM, nn.Linear, Adam)."""
    import torch

    config = LM
    torch.manual_seed(0)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(config["vocab"], config["embedding"])
            self.rnn = torch.nn.LSTM(config["embedding"], config["hidden"], batch_first=True)
            self.head = torch.nn.Linear(config["hidden"], config["vocab"])

        def forward(self, ids, state):
            y, state = self.rnn(self.embedding(ids), state)
            return self.head(y), state

    model = Model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    windows = torch.from_numpy(_lm_windows())
    position, state = [0], [None]

    def train():
        window = windows[position[0] % len(windows)]
        position[0] += 1
        optimizer.zero_grad(set_to_none=True)
        logits, new_state = model(window[:, :-1], state[0])
        state[0] = tuple(part.detach() for part in new_state)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, config["vocab"]), window[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return float(loss.detach())
    return train
