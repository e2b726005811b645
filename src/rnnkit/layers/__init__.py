"""Layers: the recurrent layers (their shared loop in ``recurrent.py``, each kind in
:mod:`rnnkit.cells`), and the pieces around them."""

from rnnkit.layers.recurrent import RecurrentLayer  # first: the layers of rnnkit.cells import it
from rnnkit.cells.gru.layer import GRU
from rnnkit.cells.lstm.layer import LSTM
from rnnkit.cells.rnn.layer import RNN
from rnnkit.layers.char_encoder import CharCNN, CharLSTM
from rnnkit.layers.crf import CRF
from rnnkit.layers.dropout import Dropout
from rnnkit.layers.embedding import Embedding
from rnnkit.layers.linear import Linear
from rnnkit.layers.tied_output import TiedOutput

__all__ = ["RNN", "LSTM", "GRU", "RecurrentLayer", "Linear", "Embedding", "Dropout", "CRF", "CharCNN", "CharLSTM",
           "TiedOutput"]
