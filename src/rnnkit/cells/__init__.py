"""One place per cell kind: ``rnn/``, ``lstm/``, ``gru/``, ``mingru/``, ``minlstm/``,
``lnlstm/`` and ``lngru/`` each hold the step math and reference time loops (``reference.py``),
their compiled mirror (``compiled.py``), the one-step cell (``cell.py``) and the layer
(``layer.py``). What all cells share: ``base.py`` (the one-step cells' parameters and checks),
``pointwise.py``, ``scan.py`` (the linear recurrence of minGRU and minLSTM) and
``layer_norm.py`` (the layer norm of the LayerNorm LSTM and GRU); the layers' stacking,
directions, lengths and dropout live in :mod:`rnnkit.layers.recurrent`.
"""

from rnnkit.cells.gru.cell import GRUCell
from rnnkit.cells.lngru.cell import LayerNormGRUCell
from rnnkit.cells.lnlstm.cell import LayerNormLSTMCell
from rnnkit.cells.lstm.cell import LSTMCell
from rnnkit.cells.mingru.cell import MinGRUCell
from rnnkit.cells.minlstm.cell import MinLSTMCell
from rnnkit.cells.rnn.cell import RNNCell

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "MinGRUCell", "MinLSTMCell", "LayerNormLSTMCell", "LayerNormGRUCell"]
