"""Layers: recurrent layers that own the time loop, and the feed-forward pieces around them."""

from rnnkit.layers.char_encoder import CharCNN, CharLSTM
from rnnkit.layers.crf import CRF
from rnnkit.layers.dropout import Dropout
from rnnkit.layers.embedding import Embedding
from rnnkit.layers.gru import GRU
from rnnkit.layers.linear import Linear
from rnnkit.layers.lstm import LSTM
from rnnkit.layers.recurrent import RecurrentLayer
from rnnkit.layers.rnn import RNN

__all__ = ["RNN", "LSTM", "GRU", "RecurrentLayer", "Linear", "Embedding", "Dropout", "CRF", "CharCNN", "CharLSTM"]
