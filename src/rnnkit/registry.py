"""The one registry of recurrent cell kinds: a name (``cell="lstm"``) -> its layer, its one-step
cell and the form of its state.

Models, the CLI, the lab and checkpoints look a name up here (:func:`cell_kind`), never in a
table of their own. Adding a cell kind means writing its layer (which names its one-step cell in
``cell_class``) and adding one line to ``CELL_KINDS``.

State convention. Layers and cells take and return their state in PyTorch's form: ``h`` for the
RNN and the GRU, ``(h, c)`` for the LSTM. Code that serves every kind works on the tuple form,
``(h,)`` or ``(h, c)``, through :meth:`CellKind.as_tuple` and :meth:`CellKind.from_tuple`, so it
needs no branch on the name:

>>> kind = cell_kind("lstm")
>>> kind.state_names, kind.cell.__name__
(('h', 'c'), 'LSTMCell')
>>> h, c = np.zeros((1, 2, 3)), np.ones((1, 2, 3))
>>> kind.as_tuple((h, c))[1] is c, cell_kind("gru").as_tuple(h)[0] is h
(True, True)
>>> cell_kind("rnn").from_tuple((h,)) is h
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from rnnkit._validate import check_choice
from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.lngru.layer import LayerNormGRU
from rnnkit.cells.lnlstm.layer import LayerNormLSTM
from rnnkit.cells.mingru.layer import MinGRU
from rnnkit.cells.minlstm.layer import MinLSTM
from rnnkit.layers import GRU, LSTM, RNN
from rnnkit.layers.recurrent import RecurrentLayer


@dataclass(frozen=True)
class CellKind:
    """A recurrent cell kind: its layer class (the time loop), one-step cell class and states."""

    name: str
    layer: type[RecurrentLayer]

    @property
    def cell(self) -> type[RecurrentCell]:
        """The one-step cell that computes one time step of ``layer``."""
        return self.layer.cell_class

    @property
    def state_names(self) -> tuple[str, ...]:
        """``("h",)`` or ``("h", "c")``: the parts of a state, in order."""
        return ("h", "c")[: self.layer.num_states]

    @property
    def num_states(self) -> int:
        return self.layer.num_states

    def as_tuple(self, state: Any) -> tuple:
        """A layer's or cell's state (``h`` or ``(h, c)``) as the tuple ``(h,)`` or ``(h, c)``."""
        if self.num_states == 1:
            return (state,)
        if not isinstance(state, (tuple, list)) or len(state) != self.num_states:
            form = "(" + ", ".join(self.state_names) + ")"
            raise TypeError(f"a {self.name.upper()} state must be a tuple {form}, got {type(state).__name__}"
                            + (f" of length {len(state)}" if isinstance(state, (tuple, list)) else ""))
        return tuple(state)

    def from_tuple(self, parts: Sequence) -> Any:
        """The tuple ``(h,)`` or ``(h, c)`` in the layer's and cell's own form (``h`` or ``(h, c)``)."""
        if len(parts) != self.num_states:
            raise ValueError(f"a {self.name.upper()} state has {self.num_states} part(s) "
                             f"{self.state_names}, got {len(parts)}")
        return parts[0] if self.num_states == 1 else tuple(parts)

    def hidden(self, state: Any) -> np.ndarray:
        """h out of a state (the part the next layer and the output head read)."""
        return self.as_tuple(state)[0]

    def hidden_gradient(self, d_h: Any) -> Any:
        """A state gradient that is ``d_h`` on h and zero on every other part."""
        return self.from_tuple((d_h,) + (None,) * (self.num_states - 1))


# The registry: one line per cell kind.
CELL_KINDS: dict[str, CellKind] = {kind.name: kind for kind in (
    CellKind("rnn", RNN),
    CellKind("lstm", LSTM),
    CellKind("gru", GRU),
    CellKind("mingru", MinGRU),
    CellKind("minlstm", MinLSTM),
    CellKind("lnlstm", LayerNormLSTM),
    CellKind("lngru", LayerNormGRU),
)}

CELL_NAMES = tuple(CELL_KINDS)


def cell_kind(name: Any) -> CellKind:
    """The registered kind called ``name``; an error lists the names there are."""
    return CELL_KINDS[check_choice(name, "cell", CELL_NAMES)]


def kind_of(module: RecurrentLayer | RecurrentCell) -> CellKind:
    """The registered kind of a recurrent layer or one-step cell."""
    for kind in CELL_KINDS.values():
        if isinstance(module, (kind.layer, kind.cell)):
            return kind
    raise TypeError(f"expected a registered recurrent layer or cell ({', '.join(CELL_NAMES)}), "
                    f"got {type(module).__name__}")
