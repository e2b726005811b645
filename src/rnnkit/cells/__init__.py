"""Single time steps: pointwise math with an explicit cache, and the cell modules."""

from rnnkit.cells.gru_cell import GRUCell
from rnnkit.cells.lstm_cell import LSTMCell
from rnnkit.cells.rnn_cell import RNNCell

__all__ = ["RNNCell", "LSTMCell", "GRUCell"]
